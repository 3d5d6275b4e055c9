"""What a user does in the Kundregister UI, in the words the FAQ uses.

Steps go through the page only (menus, buttons, labels, typing); nothing
here reads or writes the database. Labels are the Swedish ones of the UI.
"""

from __future__ import annotations

import re
import uuid

from playwright.sync_api import Page, expect


def unique(prefix: str) -> str:
    """A name no other test (or earlier run) uses, e.g. "Testbolag 3f9a1c"."""
    return f"{prefix} {uuid.uuid4().hex[:6]}"


def exact(text: str) -> re.Pattern:
    """Accessible name equal to `text`, ignoring surrounding white space."""
    return re.compile(rf"^\s*{re.escape(text)}\s*$")


# --- the top menu ---------------------------------------------------------------------


def open_navbar(page: Page) -> None:
    """On a narrow screen the menu sits behind the navbar toggler: open it."""
    page.wait_for_load_state("load")  # the menu works once Bootstrap's script has run
    toggler = page.locator("nav.navbar .navbar-toggler")
    if toggler.is_visible() and toggler.get_attribute("aria-expanded") != "true":
        toggler.click()
        expect(page.locator("#admin-navbar-collapse")).to_have_class(re.compile(r"\bshow\b"))


def open_menu(page: Page, top: str):
    """Open the top menu `top` ("CRM", "Administration" …); returns its dropdown."""
    open_navbar(page)
    nav = page.locator("nav.navbar")
    nav.get_by_role("link", name=exact(top)).click()
    dropdown = nav.locator(".dropdown-menu.show").first
    expect(dropdown).to_be_visible()
    return dropdown


def menu(page: Page, top: str, item: str) -> None:
    """Click `top` – `item` in the top menu, e.g. menu(page, "CRM", "Företag")."""
    open_menu(page, top).get_by_role("link", name=exact(item)).click()
    page.wait_for_load_state("load")


def settings_menu(page: Page, item: str) -> None:
    """Administration – Inställningar – CRM – `item`, the path the FAQ gives."""
    dropdown = open_menu(page, "Administration")
    dropdown.get_by_role("link", name=exact("Inställningar – CRM")).click()
    submenu = dropdown.locator(".dropdown-menu.show")
    expect(submenu).to_be_visible()
    submenu.get_by_role("link", name=exact(item)).click()
    page.wait_for_load_state("load")


# --- lists ----------------------------------------------------------------------------------


def toolbar(page: Page):
    return page.locator(".crm-toolbar")


def quick_search(page: Page, text: str) -> None:
    """Type into the list's search box and press "Sök"."""
    bar = toolbar(page)
    bar.get_by_role("searchbox").fill(text)
    bar.get_by_role("button", name=exact("Sök")).click()
    page.wait_for_load_state("load")


def list_rows(page: Page):
    return page.locator("table.model-list tbody tr")


def list_row(page: Page, text: str):
    """The list row containing `text` (e.g. a unique company name)."""
    return list_rows(page).filter(has_text=text)


def tick(row) -> None:
    """Tick the row's checkbox (the list's "kryssa för")."""
    row.locator("input[type=checkbox]").check()


def flash(page: Page):
    """The message shown at the top of the page after an action."""
    return page.locator(".alert")


def column_values(page: Page, header: str) -> list[str]:
    """Texts of one list column, found by its (Swedish) header."""
    headers = [h.strip() for h in page.locator("table.model-list thead th").all_inner_texts()]
    index = headers.index(header)
    return [t.strip() for t in list_rows(page).locator(f"td:nth-child({index + 1})").all_inner_texts()]


# --- forms and cards --------------------------------------------------------------------------


def save(page: Page) -> None:
    """Press "Spara" (not "Spara och lägg till en ny")."""
    page.get_by_role("button", name=exact("Spara")).click()
    page.wait_for_load_state("load")


def pick(page: Page, box, option: str) -> None:
    """Open a select box (Flask-Admin's select2) and click `option` in its list."""
    box.locator(".select2-choice, .select2-choices").first.click()
    page.locator(".select2-drop-active .select2-result-label").filter(has_text=exact(option)).first.click()
    expect(box).to_contain_text(option)


def choose(page: Page, label: str, option: str) -> None:
    """Choose `option` in the form's select box labelled `label` ("Bransch", "Gäller för" …)."""
    group = page.locator(".form-group").filter(has=page.locator("label", has_text=exact(label)))
    pick(page, group.locator(".select2-container").first, option)


def card_tab(page: Page, name: str):
    """Open the customer card's tab `name` ("Kontakter", "Inställningar" …) in the
    lower menu; returns its panel (its content may arrive a moment later)."""
    page.wait_for_load_state("load")
    tab = page.locator("#card-tabs").get_by_role("tab", name=re.compile(rf"^\s*{re.escape(name)}\b"))
    tab.click()
    expect(tab).to_have_attribute("aria-selected", "true")
    panel = page.locator(f"#{tab.get_attribute('aria-controls')}")
    expect(panel).to_be_visible()
    return panel


def create_company(page: Page, name: str, *, supplier: bool = False) -> None:
    """CRM – Företag – "Nytt företag", type the name (tick "Visa som leverantör" for
    a supplier), Spara: ends on the new customer card."""
    menu(page, "CRM", "Företag")
    toolbar(page).get_by_role("link", name=exact("Nytt företag")).click()
    page.get_by_label("Företagsnamn").fill(name)
    if supplier:
        page.get_by_label("Visa som leverantör").check()
    save(page)
    expect(page.get_by_role("heading", level=1)).to_contain_text(name)


def create_standalone_contact(page: Page, first: str, last: str) -> None:
    """CRM – Kontakter – "Ny kontakt", type the name, Spara: ends on the contact card."""
    menu(page, "CRM", "Kontakter")
    toolbar(page).get_by_role("link", name=exact("Ny kontakt")).click()
    page.get_by_label("Förnamn").fill(first)
    page.get_by_label("Efternamn").fill(last)
    save(page)
    expect(page.get_by_role("heading", level=1)).to_contain_text(f"{first} {last}")


def find_customer_from_start_page(page: Page, name: str) -> None:
    """Start – "Sök kunder" – open the customer card from the hit list."""
    page.goto("/admin/")
    page.get_by_role("searchbox").first.fill(name)
    page.get_by_role("button", name=exact("Sök kunder")).click()
    list_row(page, name).get_by_role("link", name=name).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(name)
