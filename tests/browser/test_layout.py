"""Issue 16, layout: the screens are readable at 1366 px and on a 375 px phone.

- the sales-activity chart (Chart.js) fills its box, names every series in its legend and
  its table holds the database's figures;
- no list is wider than its box, at 1366 px and at 375 px (where a row is a card);
- an employee's own columns ("Kolumner") survive a reload, and "Standardkolumner" resets them;
- at 375 px every tab of the card is in sight, phone numbers are never broken over lines,
  e-mail addresses are not cut off, and the list's buttons leave the results on the first screen.
"""

from __future__ import annotations

from urllib.parse import urlencode

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

import crm_ui as ui
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


LISTS = [
    "/admin/company/",
    "/admin/supplier/",
    "/admin/contact/",
    "/admin/privatecustomer/",
    "/admin/lead/",
    "/admin/calllist/",
    "/admin/opportunity/",
    "/admin/order/",
    "/admin/invoice/",
    "/admin/product/",
    "/admin/employee/",
    "/admin/category/",
    "/admin/industry/",
    "/admin/salesstage/",
    "/admin/trash/",
    "/admin/customfield/",
]

#: The widths of a page's list table, of the box around it and of the page (scrolling sideways).
WIDTHS = """() => {
    const table = document.querySelector('table.model-list') || document.querySelector('.container-fluid table');
    return {table: table.getBoundingClientRect().width, box: table.parentElement.clientWidth,
            page: document.documentElement.clientWidth, scroll: document.documentElement.scrollWidth};
}"""


@VIEWPORTS
def test_no_list_is_wider_than_its_box(pages, viewport):
    page = pages.login("admin", viewport=viewport)
    too_wide = {}
    for url in LISTS:
        page.goto(url)
        widths = page.evaluate(WIDTHS)
        if widths["table"] > widths["box"] + 1 or widths["scroll"] > widths["page"]:
            too_wide[url] = widths
    assert not too_wide, too_wide


def header_texts(page) -> list[str]:
    return [t.strip() for t in page.locator("table.model-list thead th.column-header").all_inner_texts()]


@VIEWPORTS
def test_an_employee_s_own_columns_survive_a_reload_and_reset(pages, viewport):
    """Företag – Kolumner: tick Bransch, untick E-post, Spara; reload; Standardkolumner."""
    page = pages.login("seller2", viewport=viewport)
    ui.menu(page, "CRM", "Företag")
    assert "Bransch" not in header_texts(page) and "E-post" in header_texts(page)
    try:
        ui.toolbar(page).get_by_role("button", name="Kolumner").click()
        chooser = page.locator(".crm-columns")
        chooser.get_by_label("Bransch").check()
        chooser.get_by_label("E-post").uncheck()
        chooser.get_by_role("button", name=ui.exact("Spara")).click()
        page.wait_for_load_state("load")
        expect(ui.flash(page)).to_contain_text("Listans kolumner sparades.")
        page.reload()
        headers = (
            header_texts(page)
            if viewport is DESKTOP
            else page.locator("table.model-list tbody tr")
            .first.locator("td[data-label]")
            .evaluate_all("cells => cells.map(c => c.dataset.label)")
        )
        assert "Bransch" in headers and "E-post" not in headers, headers
        widths = page.evaluate(WIDTHS)
        assert widths["table"] <= widths["box"] + 1, widths
    finally:
        ui.toolbar(page).get_by_role("button", name="Kolumner").click()
        page.locator(".crm-columns").get_by_role("button", name="Standardkolumner").click()
        page.wait_for_load_state("load")
    expect(ui.flash(page)).to_contain_text("Listan visar sina standardkolumner igen.")
    page.reload()
    assert "Bransch" not in header_texts(page) and "E-post" in header_texts(page)


def test_on_a_phone_the_card_the_list_and_its_buttons_are_readable(pages):
    page = pages.login("seller", viewport=PHONE)
    page.goto("/admin/company/")
    ui.quick_search(page, "Norrlands Bygg")
    width = page.evaluate("() => window.innerWidth")

    # the buttons above the results leave the first result on the first screen
    toolbar = ui.toolbar(page).bounding_box()
    first_row = ui.list_rows(page).first.bounding_box()
    assert toolbar["height"] < PHONE["height"] * 0.4, toolbar
    assert first_row["y"] < PHONE["height"] * 0.6, first_row
    # a row is a card: each value under its column's name
    cell = ui.list_rows(page).first.locator("td.col-postal_city")
    label = cell.evaluate("td => getComputedStyle(td, '::before').content")
    assert label == '"Ort"'
    assert ui.list_rows(page).first.bounding_box()["width"] <= width

    def lines_of(selector: str) -> dict[str, int]:
        """Text of each link matching the selector → how many lines it takes, and its right edge."""
        return page.locator(selector).evaluate_all(
            "links => links.map(a => [a.innerText, a.getClientRects().length,"
            " Math.max(...[...a.getClientRects()].map(r => r.right))])"
        )

    phones = lines_of('table.model-list a[href^="tel:"]')
    assert phones and all(lines == 1 and right <= width for _text, lines, right in phones), phones
    mails = lines_of('table.model-list a[href^="mailto:"]')
    assert mails and all(right <= width for _text, _lines, right in mails), mails

    ui.list_rows(page).first.get_by_role("link", name="Norrlands Bygg AB").click()
    page.wait_for_load_state("load")
    tabs = page.locator("#card-tabs").get_by_role("tab")
    assert tabs.count() >= 8
    for tab in tabs.all():
        box = tab.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= width, (tab.inner_text(), box)
    phones = lines_of('a[href^="tel:"]')
    assert phones and all(lines == 1 and right <= width for _text, lines, right in phones), phones
    mails = lines_of('a[href^="mailto:"]:visible')
    assert mails and all(right <= width for _text, _lines, right in mails), mails
    ui.card_tab(page, "Historik")  # the last tab is reached with a tap, no scrolling sideways
