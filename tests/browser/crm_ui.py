"""What a user does in the Kundregister UI, in the words the FAQ uses.

Steps go through the page only (menus, buttons, labels, typing); nothing
here reads or writes the database. Labels are the Swedish ones of the UI.
"""

from __future__ import annotations

import os
import re
import uuid

import pytest

try:
    from playwright.sync_api import Page, expect
except ImportError as exc:  # a test module importing these steps is skipped; CRM_REQUIRE_BROWSER=1 (CI): an error
    if os.environ.get("CRM_REQUIRE_BROWSER") == "1":
        raise
    pytest.skip(
        f"Playwright for Python is not installed ({exc}); CRM_REQUIRE_BROWSER=1 makes this an error",
        allow_module_level=True,
    )


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
    page.wait_for_load_state("load")  # the card's menus listen only once their scripts have run


def card_tab_names(page: Page) -> list[str]:
    """The customer card's tabs in the lower menu, in the order shown."""
    expect(page.locator("#card-tabs")).to_be_visible()
    return [t.strip() for t in page.locator("#card-tabs").get_by_role("tab").all_inner_texts()]


def key_figure(page: Page, label: str) -> int:
    """A number of the Översikt tab's key figures ("Kontakter", "E-post" …)."""
    overview = page.locator("#overview")
    box = overview.locator(".card").filter(has=page.get_by_text(exact(label)))
    return int(box.locator(".h4").inner_text())


def actions_menu_with_keyboard(page: Page, item: str) -> None:
    """The card's "Åtgärder" menu without a mouse: focus it, Enter, arrow down to
    `item`, Enter."""
    button = page.get_by_role("button", name=exact("Åtgärder"))
    button.focus()
    page.keyboard.press("Enter")
    dropdown = page.locator("#card-actions .dropdown-menu")
    expect(dropdown).to_be_visible()
    target = dropdown.get_by_role("link", name=exact(item))
    expect(target).to_be_visible()
    for _ in range(dropdown.locator(".dropdown-item").count()):
        page.keyboard.press("ArrowDown")
        if target.evaluate("el => el === document.activeElement"):
            break
    expect(target).to_be_focused()
    with page.expect_navigation():  # the items are links to other pages
        page.keyboard.press("Enter")


# --- employees and Behörigheter ----------------------------------------------------------------


def create_employee(page: Page, name: str, email: str, role: str, password: str) -> None:
    """Administration – Anställda – "Ny anställd": name, e-mail, role, password, Spara."""
    menu(page, "Administration", "Anställda")
    toolbar(page).get_by_role("link", name=exact("Ny anställd")).click()
    page.get_by_label("Namn").fill(name)
    page.get_by_label("E-post").fill(email)
    page.get_by_label("Roll").select_option(label=role)
    page.get_by_label("Nytt lösenord").fill(password)
    save(page)
    expect(flash(page).first).to_be_visible()


def search_people(page: Page, text: str):
    """CRM – Sök personer, type `text`, Sök: returns the hit rows."""
    menu(page, "CRM", "Sök personer")
    page.get_by_role("searchbox").fill(text)
    page.get_by_role("button", name=exact("Sök")).click()
    page.wait_for_load_state("load")
    return page.locator("#people-results tbody tr")


def find_myself(page: Page, name: str):
    """ "Sök upp dig själv i CRM": search your name among people, open yourself (the
    employee), tab Behörigheter. Returns the tab's panel."""
    me = search_people(page, name).filter(has_text=name)
    expect(me.locator("td").nth(1)).to_have_text("Anställd")
    me.get_by_role("link", name=name).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(name)
    return card_tab(page, "Behörigheter")


def my_permissions(page: Page, name: str):
    """The user menu (your name top right) – "Mina behörigheter": the Behörigheter tab."""
    open_menu(page, name).get_by_role("link", name=exact("Mina behörigheter")).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(name)
    return card_tab(page, "Behörigheter")


def permission_group(page: Page, title: str):
    """One part of Behörigheter ("Moduler i menyn", "Flikar på kundkortet (…)"): its form."""
    return page.locator("form.layout-group").filter(has=page.get_by_role("heading", name=exact(title)))


def group_rows(group) -> list[str]:
    """The labels of a Behörigheter part, in their order."""
    return [label.strip() for label in group.locator(".layout-item label").all_inner_texts()]


def group_shown(group) -> list[str]:
    """The ticked (shown) rows of a Behörigheter part, in their order."""
    rows = group.locator(".layout-item").filter(has=group.page.locator("input[type=checkbox]:checked"))
    return [label.strip() for label in rows.locator("label").all_inner_texts()]


def submit(page: Page, button) -> None:
    """Click a button that sends a form, and wait for the page that answers."""
    with page.expect_navigation():
        button.click()


def save_group(page: Page, group) -> None:
    """Press the part's own "Spara"."""
    submit(page, group.get_by_role("button", name=exact("Spara")))
    expect(flash(page)).to_contain_text("Dina val har sparats.")


def choose_order_by_right_click(page: Page, group, row: str):
    """Right-click a row of the part and choose "Välj ordningsföljd i undermenyn": the dialog."""
    group.locator(".layout-item").filter(has_text=row).click(button="right")
    page.get_by_role("menuitem", name=exact("Välj ordningsföljd i undermenyn")).click()
    return ordering_dialog(page)


def choose_order_by_button(page: Page, group):
    """The part's visible "Välj ordningsföljd i undermenyn" button: the dialog."""
    group.get_by_role("button", name=exact("Välj ordningsföljd i undermenyn")).click()
    return ordering_dialog(page)


def ordering_dialog(page: Page):
    """The open "Välj ordningsföljd i undermenyn" dialog."""
    dialog = page.get_by_role("dialog", name="Välj ordningsföljd i undermenyn")
    expect(dialog).to_be_visible()
    # Bootstrap slides the dialog in; a drag started meanwhile aims at rows that are still moving.
    page.wait_for_function(
        "() => getComputedStyle(document.querySelector('#ordering-dialog .modal-dialog')).transform === 'none'"
    )
    return dialog


def ordering_rows(dialog) -> list[str]:
    """The rows of the ordering dialog, top to bottom."""
    return [text.strip() for text in dialog.locator("#ordering-list li > span.mr-auto").all_inner_texts()]


def drag_row(dialog, row: str, onto: str) -> None:
    """Drag `row` and drop it on the upper half of `onto`: it lands just above it."""
    rows = dialog.locator("#ordering-list li")
    rows.filter(has_text=exact_row(row)).drag_to(
        rows.filter(has_text=exact_row(onto)), target_position={"x": 30, "y": 4}
    )


def exact_row(label: str) -> re.Pattern:
    """A dialog row whose label is `label` (besides it, only its ↑ ↓ buttons)."""
    return re.compile(rf"^\s*{re.escape(label)}\s*[↑↓\s]*$")


def move_with_keyboard(page: Page, dialog, row: str, direction: str) -> None:
    """Focus the row's arrow button ("Flytta upp"/"Flytta ned") and press Enter."""
    name = {"up": "Flytta upp", "down": "Flytta ned"}[direction]
    dialog.get_by_role("button", name=f"{name}: {row}", exact=True).focus()
    page.keyboard.press("Enter")


def save_order(page: Page, dialog) -> None:
    """Press "Spara ordning" in the dialog."""
    submit(page, dialog.get_by_role("button", name=exact("Spara ordning")))
    expect(flash(page)).to_contain_text("Dina val har sparats.")


def menu_items(page: Page, top: str) -> list[str]:
    """The entries of the top menu `top` as the logged-in employee sees them, in order."""
    dropdown = open_menu(page, top)
    items = [t.strip() for t in dropdown.locator("a.dropdown-item").all_inner_texts()]
    page.locator("nav.navbar").get_by_role("link", name=exact(top)).click()  # closes it again
    expect(dropdown).to_be_hidden()
    return items
