"""The FAQ's Internet Explorer questions, answered for today's browsers.

"När jag försöker gå in under CRM – Kundhantering får jag upp ett meddelande
om att sidan inte kan visas" and "Varför får jag bara upp CRM Lite": the
product needs no compatibility mode and has no "lite" version. Every main
screen works in a standard browser at a desktop width (1366×768) and on a
phone (375×667): the page itself never scrolls sideways, nothing is cut off
at the right edge, and the whole menu is reachable (on the phone behind the
navbar toggler) with every item clickable.

Set CRM_BROWSER_SCREENSHOTS=<folder> to keep a full-page screenshot of every
screen at both widths, for a person to look at.
"""

import os
import re
from pathlib import Path

import pytest

import crm_ui as ui
from browser_env import DESKTOP, PHONE
from crm_ui import expect

pytestmark = pytest.mark.browser

VIEWPORTS = {"desktop": DESKTOP, "phone": PHONE}


def _open_company_card(page):
    page.goto("/admin/company/")
    page.locator("table.model-list tbody tr").first.locator("td.col-name a").click()
    expect(page).to_have_url(re.compile(r"/admin/company/card/\d+"))


def _open_invoice(page):
    page.goto("/admin/invoice/")
    page.locator("table.model-list tbody tr").first.locator("td.col-number a").click()
    expect(page).to_have_url(re.compile(r"/admin/invoice/show/\d+"))


def _open_invoice_report(page):
    _open_invoice(page)
    page.locator("#document-title + div a").first.click()  # the customer
    page.goto(page.url.split("#")[0].split("?")[0] + "/invoice-report?from=2020-01-01")
    expect(page.locator("#report-products")).to_be_visible()


#: Screen name → how to get there (as the administrator, who sees every menu).
SCREENS = {
    "start": lambda page: page.goto("/admin/"),
    "company-list": lambda page: page.goto("/admin/company/"),
    "company-card": _open_company_card,
    "contact-list": lambda page: page.goto("/admin/contact/"),
    "create-form": lambda page: page.goto("/admin/company/new/"),
    "trash": lambda page: page.goto("/admin/trash/"),
    "invoice-list": lambda page: page.goto("/admin/invoice/"),
    "invoice-page": _open_invoice,
    "invoice-editor": lambda page: page.goto("/admin/invoice/new/"),
    "invoice-report": _open_invoice_report,
}

#: Visible elements that reach past the right edge of the window without being
#: inside something that scrolls sideways (such as .table-responsive): content a
#: user could neither see nor scroll to, even when `overflow-x: hidden` hides the
#: page's scroll bar.
CUT_OFF_ELEMENTS = """
() => {
  const width = window.innerWidth;
  const scrolls = (el) => {
    for (let p = el.parentElement; p && p !== document.body; p = p.parentElement) {
      const style = getComputedStyle(p);
      if (/(auto|scroll)/.test(style.overflowX)) return true;
    }
    return false;
  };
  const describe = (el) => el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') +
    (typeof el.className === 'string' && el.className.trim() ? '.' + el.className.trim().split(/\\s+/).join('.') : '') +
    ' "' + (el.innerText || el.value || '').trim().slice(0, 30) + '"';
  const found = [];
  for (const el of document.body.querySelectorAll('*')) {
    const rect = el.getBoundingClientRect();
    if (rect.width === 0 || rect.height === 0 || rect.right <= width + 1) continue;
    const style = getComputedStyle(el);
    if (style.visibility === 'hidden' || style.position === 'fixed') continue;
    if (el.closest('.sr-only, .select2-offscreen, .select2-drop, .d-none')) continue;
    if (scrolls(el)) continue;
    found.push(describe(el) + ' right=' + Math.round(rect.right));
  }
  return found.slice(0, 8);
}
"""


def _screenshot_for_review(page, screen: str, viewport_name: str) -> None:
    folder = os.environ.get("CRM_BROWSER_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"{screen}-{viewport_name}.png"), full_page=True)


def _check_menu(page, viewport_name: str) -> None:
    """Every top menu and every item in it can be reached and clicked; one is followed."""
    toggler = page.locator("nav.navbar .navbar-toggler")
    if viewport_name == "phone":
        expect(toggler).to_be_visible()
        expect(page.locator("nav.navbar").get_by_role("link", name=ui.exact("CRM"))).to_be_hidden()
    else:
        expect(toggler).to_be_hidden()
    ui.open_navbar(page)

    top_menus = page.locator("#admin-navbar-collapse > ul.navbar-nav.mr-auto > li > a")
    names = [name.strip() for name in top_menus.all_inner_texts()]
    assert {"Start", "CRM", "Administration"} <= set(names), names
    for name in names:
        link = page.locator("nav.navbar").get_by_role("link", name=ui.exact(name))
        link.click(trial=True)  # visible, inside the window, not covered by anything
        if link.get_attribute("data-toggle") != "dropdown":
            continue
        link.click()
        dropdown = link.locator("xpath=following-sibling::*[contains(@class, 'dropdown-menu')]")
        expect(dropdown).to_be_visible()
        items = dropdown.get_by_role("link")
        assert items.count() > 0, f"the menu {name} is empty"
        for index in range(items.count()):
            item = items.nth(index)
            item.scroll_into_view_if_needed()
            item.click(trial=True)
            box = item.bounding_box()
            assert box["x"] >= 0 and box["x"] + box["width"] <= page.viewport_size["width"] + 1, (
                f"{name} – {item.inner_text().strip()} reaches outside the window"
            )
        link.click()  # close it again
        expect(dropdown).to_be_hidden()

    ui.menu(page, "CRM", "Kontakter")
    expect(page).to_have_url(re.compile(r"/admin/contact/"))
    expect(page.get_by_role("heading", name="Kontakter")).to_be_visible()


@pytest.mark.parametrize("viewport_name", VIEWPORTS)
@pytest.mark.parametrize("screen", SCREENS)
def test_main_screens_work_without_compatibility_view(pages, screen, viewport_name):
    """Answers "sidan kan inte visas" / "CRM Lite": every main screen, desktop and phone."""
    page = pages.login("admin", viewport=VIEWPORTS[viewport_name])
    SCREENS[screen](page)
    page.wait_for_load_state("load")
    expect(page.locator("nav.navbar")).to_be_visible()
    _screenshot_for_review(page, screen, viewport_name)

    scroll_width, window_width = page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
    assert scroll_width <= window_width, f"the page scrolls sideways at {window_width}px: it is {scroll_width}px wide"
    assert page.evaluate(CUT_OFF_ELEMENTS) == [], "content is cut off at the right edge"

    _check_menu(page, viewport_name)
