"""Issue 16 in a real browser: Swedish date pickers, the favicon, the menu bar, at 1366 and 375 px."""

import re

import pytest

import crm_ui as ui
from browser_env import DEMO_USERS, DESKTOP, PHONE
from crm_ui import expect

pytestmark = pytest.mark.browser

SIZES = pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["1366px", "375px"])


def weekdays(picker) -> list[str]:
    """The day names over the open calendar's columns."""
    return [d.strip() for d in picker.locator("thead tr").last.locator("th").all_inner_texts() if d.strip()][:7]


@SIZES
def test_the_date_picker_is_swedish_starts_on_monday_and_writes_iso_dates(pages, viewport):
    """Säljmöjlighet, Förväntat avslutsdatum: Swedish day and month names, Monday first, YYYY-MM-DD."""
    page = pages.login("seller", viewport=viewport)
    page.goto("/admin/opportunity/new/")
    field = page.get_by_label("Förväntat avslutsdatum")
    field.click()
    picker = page.locator(".daterangepicker").filter(has=page.locator("td.available")).first
    expect(picker).to_be_visible()
    days = weekdays(picker)
    assert days == ["må", "ti", "on", "to", "fr", "lö", "sö"], days
    months = picker.locator("select.monthselect option").all_inner_texts()
    assert "dec" in months and "maj" in months and "Dec" not in months, months
    picker.locator("td.available:not(.off)", has_text=re.compile(r"^15$")).first.click()
    expect(field).to_have_value(re.compile(r"^\d{4}-\d{2}-15$"))


def test_the_sales_report_dates_have_the_same_picker(login_as):
    page = login_as("admin")
    page.goto("/admin/reports/sales")
    page.get_by_label("Förväntat avslut från").click()
    picker = page.locator(".daterangepicker").filter(has=page.locator("td.available")).first
    expect(picker).to_be_visible()
    assert weekdays(picker) == ["må", "ti", "on", "to", "fr", "lö", "sö"]


@SIZES
def test_mina_kunder_kundansvarig_starts_on_myself(pages, viewport):
    """FAQ 22: "Fler sökalternativ" – Kundansvarig starts on "Mig själv"; Sök lists my customers only."""
    page = pages.login("seller", viewport=viewport)
    me = DEMO_USERS["seller"][1]
    page.goto("/admin/company/")
    ui.toolbar(page).get_by_role("button", name="Fler sökalternativ").click()
    page.locator(".field-filters").get_by_role("link", name=ui.exact("Kundansvarig")).click()
    expect(page.locator("table.filters tr").last.locator(".select2-container").last).to_contain_text("Mig själv")
    ui.toolbar(page).get_by_role("button", name=ui.exact("Sök")).click()
    page.wait_for_load_state("load")
    owners = ui.column_values(page, "Kundansvarig")
    assert owners and set(owners) == {me}, owners


@SIZES
def test_no_request_fails_and_the_page_has_a_favicon(pages, viewport):
    """Every page names its icon (no /favicon.ico 404 logged on every page), and nothing it loads is missing."""
    page = pages.login("admin", viewport=viewport)
    failed = []
    page.on("response", lambda r: failed.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    for url in ("/admin/", "/admin/company/", "/admin/opportunity/new/", "/admin/reports/sales"):
        page.goto(url)
        page.wait_for_load_state("networkidle")
        icon = page.locator('link[rel="icon"]')
        expect(icon).to_have_count(1)
        answer = page.request.get(icon.get_attribute("href"))
        assert answer.status == 200 and "image/svg+xml" in answer.headers["content-type"]
    assert failed == []


@SIZES
def test_the_menu_bar_reaches_both_edges(pages, viewport):
    page = pages.login("admin", viewport=viewport)
    bar = page.locator("nav.navbar").first.bounding_box()
    width = page.evaluate("document.documentElement.clientWidth")
    assert bar["x"] == 0 and abs(bar["x"] + bar["width"] - width) < 1, (bar, width)


def boxes_overlap(a, b) -> bool:
    return (
        a["x"] < b["x"] + b["width"]
        and b["x"] < a["x"] + a["width"]
        and a["y"] < b["y"] + b["height"]
        and (b["y"] < a["y"] + a["height"])
    )


@SIZES
def test_the_settings_submenu_does_not_cover_other_items(pages, viewport):
    """Administration – Inställningar – CRM opens beside (wide) or below in place (narrow), on top of nothing."""
    page = pages.login("admin", viewport=viewport)
    nav = ui.open_menu(page, "Administration")
    nav.get_by_role("link", name=ui.exact("Inställningar – CRM")).click()
    submenu = nav.locator(".dropdown-menu.show")
    expect(submenu.get_by_role("link", name=ui.exact("Branscher"))).to_be_visible()
    sub_box = submenu.bounding_box()
    width = page.evaluate("document.documentElement.clientWidth")
    assert sub_box["x"] >= 0 and sub_box["x"] + sub_box["width"] <= width
    for name in ("Anställda", "Säljgrupper", "Import"):
        item = nav.get_by_role("link", name=ui.exact(name)).first
        expect(item).to_be_visible()
        assert not boxes_overlap(sub_box, item.bounding_box()), name
