"""Issue 16, layout: the screens are readable at 1366 px and on a 375 px phone.

- the sales-activity chart (Chart.js) fills its box, names every series in its legend and
  its table holds the database's figures;
"""

from __future__ import annotations

from urllib.parse import urlencode

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from browser_env import DESKTOP, PHONE
from crm_ui import expect

pytestmark = pytest.mark.browser

VIEWPORTS = pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["1366px", "375px"])
KIND_LABELS = {"call": "Samtal", "note": "Anteckning", "sms": "SMS", "task": "Uppgift", "meeting": "Möte"}


def stored_activity_counts(engine) -> tuple[dict[str, dict[str, int]], dict[str, int]]:
    """Seller name → activity kind → how many of that seller's activities the database holds
    (customer not in the trash), counted here with SQL of its own; and the sellers' ids."""
    from models import Activity, Employee
    from services.search import customer_live

    counts: dict[str, dict[str, int]] = {}
    with Session(engine) as session:
        stmt = (
            select(Employee.name, Activity.kind, func.count())
            .join(Activity, Activity.assignee_id == Employee.id)
            .where(customer_live(Activity))
            .group_by(Employee.name, Activity.kind)
        )
        for name, kind, count in session.execute(stmt):
            counts.setdefault(name, {})[kind] = count
        sellers = dict(session.execute(select(Employee.name, Employee.id).where(Employee.name.in_(list(counts)))).all())
    return counts, sellers


@VIEWPORTS
def test_activity_chart_fills_its_box_names_every_series_and_its_table_matches_the_database(
    pages, live_database, viewport
):
    """FAQ 28: the chart is as wide as its box, every activity kind is in the legend, and the
    table under it has the stored figures per seller."""
    counts, sellers = stored_activity_counts(live_database)
    assert counts, "the demo data has activities"
    page = pages.login("admin", viewport=viewport)
    query = [("axis", "sellers"), ("start", "2000-01-01"), ("end", "2099-12-31")]
    query += [("seller", str(sellers[name])) for name in sorted(counts)]
    page.goto("/admin/reports/activities?" + urlencode(query))
    canvas = page.locator("#activity-chart canvas")
    expect(canvas).to_have_attribute("data-drawn", "1")

    sizes = page.evaluate(
        """() => {
        const canvas = document.querySelector('#activity-chart canvas');
        const box = document.querySelector('#activity-chart');
        return {canvas: canvas.getBoundingClientRect().width, box: box.clientWidth,
                page: document.documentElement.clientWidth, scroll: document.documentElement.scrollWidth};
    }"""
    )
    assert sizes["canvas"] >= sizes["box"] - 2, sizes
    assert sizes["box"] >= sizes["page"] * 0.85, sizes
    assert sizes["scroll"] <= sizes["page"], f"the page scrolls sideways: {sizes}"

    legend = page.evaluate(
        """() => Chart.getChart(document.querySelector('#activity-chart canvas'))
            .legend.legendItems.map((item) => item.text)"""
    )
    assert sorted(legend) == sorted(KIND_LABELS.values())
    # the value axis reaches above the highest bar: its total is drawn inside the chart
    top = page.evaluate(
        """() => { const chart = Chart.getChart(document.querySelector('#activity-chart canvas'));
            const axis = chart.options.indexAxis === 'y' ? chart.scales.x : chart.scales.y;
            return axis.max; }"""
    )
    assert top > max(sum(kinds.values()) for kinds in counts.values())
    expect(canvas).to_have_attribute("role", "img")
    expect(page.get_by_role("img", name="Aktiviteter per säljare")).to_be_visible()

    headers = page.locator("#activity-table thead th").all_inner_texts()
    shown = {}
    for row in page.locator("#activity-table tbody tr").all():
        cells = row.locator("td").all_inner_texts()
        shown[cells[0].strip()] = {
            kind: int(cells[headers.index(label)].replace("\u00a0", "").replace(" ", ""))
            for kind, label in KIND_LABELS.items()
        }
    expected = {name: {kind: kinds.get(kind, 0) for kind in KIND_LABELS} for name, kinds in counts.items()}
    assert shown == expected
