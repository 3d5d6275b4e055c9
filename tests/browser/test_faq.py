"""The users' FAQ (kundhantering-faq.sv.txt) as an acceptance suite in Chromium.

One test per question the product answers today, named after the question,
doing the FAQ's steps through the UI with the Swedish labels the FAQ names,
and checking what the user sees. Sellers do the daily work, the
administrator the settings and the restoring. Tests that change data make
their own records (unique names), so they do not depend on each other or on
their order. tests/FAQ.md maps every question to its test.
"""

import re

import pytest

import crm_ui as ui
from browser_env import DEMO_PASSWORD, DEMO_USERS
from crm_ui import expect

pytestmark = pytest.mark.browser

CONTACT_BLUE = "#1f6fd1"
EMPLOYEE_RED = "#c62828"


def _surname(prefix: str) -> str:
    """A unique surname without spaces, e.g. "Privatsson3f9a1c"."""
    return ui.unique(prefix).replace(" ", "")


def _jacket_colour(row) -> str:
    """Fill colour of the jacket in the person icon of a row (blue contact, red employee)."""
    return row.locator(".person-icon svg path").first.get_attribute("fill").lower()


def _assert_top_left(page, button) -> None:
    """The button is in the list's toolbar, at the left, above the list (where the FAQ says)."""
    box, table = button.bounding_box(), page.locator("table.model-list").bounding_box()
    width = page.viewport_size["width"]
    assert box["x"] < width * 0.25, f"expected at the left, found at x={box['x']:.0f} of {width}"
    assert box["y"] + box["height"] <= table["y"], "expected above the list"


def test_vad_ar_skillnaden_mellan_privatkund_kund_och_kontakt(login_as):
    """A customer is a company and has a kundnummer; a contact has none until it is
    made a private customer (list action), then it has one and is under Privatkunder."""
    page = login_as("seller")

    company = ui.unique("Kundbolaget") + " AB"
    ui.create_company(page, company)
    expect(page.get_by_text(re.compile(r"Kundn(r|ummer)")).first).to_be_visible()
    expect(page.locator("#customer-number")).to_have_text(re.compile(r"^\d+$"))

    last = _surname("Privatsson")
    ui.create_standalone_contact(page, "Petra", last)
    expect(page.locator("#customer-number")).to_have_count(0)

    ui.menu(page, "CRM", "Kontakter")
    ui.quick_search(page, last)
    expect(ui.list_row(page, last)).to_have_count(1)
    assert ui.column_values(page, "Kundnr") == [""], "a contact has no customer number"
    ui.tick(ui.list_row(page, last))
    ui.toolbar(page).get_by_role("button", name="Fler åtgärder").click()
    page.get_by_role("link", name=re.compile("Ge kundnummer")).click()
    expect(ui.flash(page)).to_contain_text("privatkund")

    ui.menu(page, "CRM", "Privatkunder")
    ui.quick_search(page, last)
    expect(ui.list_row(page, last)).to_have_count(1)
    number = ui.column_values(page, "Kundnr")[0]
    assert re.fullmatch(r"\d+", number), f"a private customer has a customer number, got {number!r}"

    ui.list_row(page, last).get_by_role("link", name=last).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Privatkund")
    expect(page.locator("#customer-number")).to_have_text(number)


def test_hur_skapar_jag_en_ny_kontakt(login_as):
    """From the customer: Kontakter – "Skapa ny företagskontakt". Without a customer:
    "Ny kontakt" top left in the contact list. Type, Spara."""
    page = login_as("seller")

    # 1. A contact for a customer: find the customer, lower menu Kontakter.
    company = ui.unique("Kontaktbolaget") + " AB"
    ui.create_company(page, company)
    ui.find_customer_from_start_page(page, company)
    ui.card_tab(page, "Kontakter")
    page.get_by_role("link", name="Skapa ny företagskontakt").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(company)
    company_contact = _surname("Företagsson")
    page.get_by_label("Förnamn").fill("Frida")
    page.get_by_label("Efternamn").fill(company_contact)
    page.get_by_label("Roll på företaget").fill("Inköpschef")
    ui.save(page)
    expect(page.get_by_role("heading", level=1)).to_contain_text(company)
    contacts = ui.card_tab(page, "Kontakter").locator("#company-contacts")
    row = contacts.locator("tr").filter(has_text=company_contact)
    expect(row).to_contain_text("Frida")
    expect(row).to_contain_text("Inköpschef")

    # 2. A contact that belongs to no customer: "Ny kontakt" top left in the contact list.
    ui.menu(page, "CRM", "Kontakter")
    new_contact = ui.toolbar(page).get_by_role("link", name=ui.exact("Ny kontakt"))
    _assert_top_left(page, new_contact)
    new_contact.click()
    standalone = _surname("Ensamsson")
    page.get_by_label("Förnamn").fill("Sven")
    page.get_by_label("Efternamn").fill(standalone)
    page.get_by_label("E-post", exact=True).fill(f"{standalone.lower()}@example.org")
    ui.save(page)
    expect(page.get_by_role("heading", level=1)).to_contain_text(f"Sven {standalone}")

    ui.menu(page, "CRM", "Kontakter")
    ui.quick_search(page, standalone)
    expect(ui.list_row(page, standalone)).to_contain_text(f"{standalone.lower()}@example.org")
    assert ui.column_values(page, "Företag") == [""], "a standalone contact belongs to no company"


def test_hur_kopplar_jag_en_existerande_kontakt_mot_ett_foretag(login_as):
    """Customer card – Kontakter – "Koppla existerande kontakt till företaget":
    search the contact, tick it, "Lägg till"."""
    page = login_as("seller")
    last = _surname("Befintligsson")
    ui.create_standalone_contact(page, "Klara", last)
    company = ui.unique("Kopplingsbolaget") + " AB"
    ui.create_company(page, company)

    ui.find_customer_from_start_page(page, company)
    contacts = ui.card_tab(page, "Kontakter").locator("#company-contacts")
    expect(contacts).to_be_visible()
    expect(contacts).not_to_contain_text(last)
    page.get_by_role("button", name="Koppla existerande kontakt till företaget").click()
    page.get_by_label("Sök kontakt").fill(last)
    hit = page.locator("#contact-results").get_by_label(re.compile(f"Klara {last}"))
    expect(hit).to_be_visible()
    hit.check()
    page.get_by_role("button", name=ui.exact("Lägg till")).click()

    expect(ui.flash(page)).to_contain_text(company)
    contacts = ui.card_tab(page, "Kontakter").locator("#company-contacts")
    expect(contacts).to_contain_text(f"Klara {last}")
    # The contact card now lists the company too.
    contacts.get_by_role("link", name=f"Klara {last}").click()
    expect(ui.card_tab(page, "Företag").get_by_role("link", name=company)).to_be_visible()


def test_vad_ar_skillnaden_mellan_en_anstalld_och_en_kontakt(login_as):
    """Employees are under Administration – Anställda. Searching people shows contacts
    in a blue jacket and employees in a red one, each with its label."""
    page = login_as("seller")

    ui.menu(page, "Administration", "Anställda")
    employees = ui.column_values(page, "Namn")
    assert {name for _email, name in DEMO_USERS.values()} <= set(employees)

    last = _surname("Lindqvistsson")  # shares "Lindqvist" with the employee Anna Lindqvist
    ui.create_standalone_contact(page, "Lisa", last)

    ui.menu(page, "CRM", "Sök personer")
    page.get_by_role("searchbox").fill("Lindqvist")
    page.get_by_role("button", name=ui.exact("Sök")).click()
    results = page.locator("#people-results tbody tr")

    employee = results.filter(has_text="Anna Lindqvist")
    expect(employee).to_have_count(1)
    expect(employee.locator("td").nth(1)).to_have_text("Anställd")
    expect(employee.locator(".person-icon")).to_have_attribute("title", "Anställd")
    assert _jacket_colour(employee) == EMPLOYEE_RED

    contact = results.filter(has_text=f"Lisa {last}")
    expect(contact).to_have_count(1)
    expect(contact.locator("td").nth(1)).to_have_text("Kontakt")
    expect(contact.locator(".person-icon")).to_have_attribute("title", "Kontakt")
    assert _jacket_colour(contact) == CONTACT_BLUE

    # The legend above the hits explains the two jackets.
    legend = page.locator("p").filter(has=page.locator(".person-icon"))
    expect(legend).to_contain_text("Kontakt")
    expect(legend).to_contain_text("Anställd")


def test_hur_raderar_jag_en_kund(login_as):
    """Find the customer, tick it in the list, "Radera" top left, confirm."""
    page = login_as("seller")
    company = ui.unique("Raderingsbolaget") + " AB"
    ui.create_company(page, company)

    ui.menu(page, "CRM", "Företag")
    ui.quick_search(page, company)
    ui.tick(ui.list_row(page, company))
    delete = ui.toolbar(page).get_by_role("button", name=ui.exact("Radera"))
    _assert_top_left(page, delete)
    messages = []
    page.once("dialog", lambda dialog: (messages.append(dialog.message), dialog.accept()))
    delete.click()
    page.wait_for_load_state("load")

    assert messages and messages[0].strip(), "the deletion is confirmed first"
    expect(ui.flash(page)).to_be_visible()
    ui.quick_search(page, company)
    expect(ui.list_row(page, company)).to_have_count(0)


def test_kan_jag_aterstalla_kunder_som_blivit_raderade(login_as):
    """Administration – Inställningar – CRM – Återställa kunder: tick, "Återställa kunder"."""
    seller = login_as("seller")
    company = ui.unique("Återställningsbolaget") + " AB"
    ui.create_company(seller, company)
    number = seller.locator("#customer-number").inner_text()
    ui.menu(seller, "CRM", "Företag")
    ui.quick_search(seller, company)
    ui.tick(ui.list_row(seller, company))
    seller.once("dialog", lambda dialog: dialog.accept())
    ui.toolbar(seller).get_by_role("button", name=ui.exact("Radera")).click()
    expect(ui.flash(seller)).to_be_visible()

    admin = login_as("admin")
    ui.settings_menu(admin, "Återställa kunder")
    row = admin.locator("#trash-table-company tbody tr").filter(has_text=company)
    expect(row).to_contain_text(number)
    expect(row).to_contain_text(DEMO_USERS["seller"][1])  # who deleted it
    row.get_by_role("checkbox").check()
    admin.get_by_role("button", name=ui.exact("Återställa kunder")).click()
    expect(ui.flash(admin)).to_be_visible()
    expect(admin.locator("#trash-table-company")).not_to_contain_text(company)

    # The seller finds the customer again, with the same customer number.
    ui.menu(seller, "CRM", "Företag")
    ui.quick_search(seller, company)
    expect(ui.list_row(seller, company)).to_contain_text(number)


def test_hur_lagger_jag_in_leverantorer(login_as):
    """Suppliers are entered the same way and in the same place as customers: save
    the customer, then on its card, tab Inställningar, tick "Visa som leverantör"."""
    page = login_as("seller")
    supplier = ui.unique("Leverantörsbolaget") + " AB"
    ui.create_company(page, supplier)

    settings = ui.card_tab(page, "Inställningar")
    settings.get_by_label("Visa som leverantör").check()
    settings.get_by_role("button", name=ui.exact("Spara")).click()
    expect(ui.flash(page)).to_be_visible()
    expect(page.locator("h1 .badge")).to_have_text("Leverantör")

    ui.menu(page, "CRM", "Leverantörer")
    ui.quick_search(page, supplier)
    expect(ui.list_row(page, supplier)).to_have_count(1)


def test_hur_registrerar_jag_ett_foretag_som_en_leverantor_i_crm(login_as):
    """Find the customer, tab Inställningar, under Leverantörsinställningar tick
    "Visa som leverantör", and remember to save."""
    page = login_as("seller2")
    company = ui.unique("Blivande leverantör") + " AB"
    ui.create_company(page, company)
    ui.menu(page, "CRM", "Leverantörer")
    ui.quick_search(page, company)
    expect(ui.list_row(page, company)).to_have_count(0)

    ui.find_customer_from_start_page(page, company)
    settings = ui.card_tab(page, "Inställningar")
    expect(settings.get_by_text(re.compile("Leverantörs?inställningar"))).to_be_visible()
    box = settings.get_by_label("Visa som leverantör")
    expect(box).not_to_be_checked()
    box.check()
    settings.get_by_role("button", name=ui.exact("Spara")).click()
    expect(ui.flash(page)).to_be_visible()

    ui.menu(page, "CRM", "Leverantörer")
    ui.quick_search(page, company)
    expect(ui.list_row(page, company)).to_have_count(1)
    ui.list_row(page, company).get_by_role("link", name=company).click()
    settings = ui.card_tab(page, "Inställningar")
    expect(settings.get_by_label("Visa som leverantör")).to_be_checked()


def test_hur_hamtar_jag_upp_en_lista_over_kunder_och_leverantorer_som_jag_star_som_kundansvarig_for(login_as):
    """ "Fler sökalternativ" – Kundansvarig – yourself – Sök: your customers and suppliers, no one else's."""
    page = login_as("seller")
    me = DEMO_USERS["seller"][1]
    my_customer = ui.unique("Min kund") + " AB"
    my_supplier = ui.unique("Min leverantör") + " AB"
    ui.create_company(page, my_customer)  # whoever creates a customer is its Kundansvarig
    ui.create_company(page, my_supplier, supplier=True)
    others = ui.unique("Annans kund") + " AB"
    ui.create_company(login_as("seller2"), others)

    ui.menu(page, "CRM", "Företag")
    assert len(set(ui.column_values(page, "Kundansvarig"))) > 1, "the register has customers of several owners"

    ui.toolbar(page).get_by_role("button", name="Fler sökalternativ").click()
    page.locator(".field-filters").get_by_role("link", name=ui.exact("Kundansvarig")).click()
    choose_in_filter(page, me)
    ui.toolbar(page).get_by_role("button", name=ui.exact("Sök")).click()
    page.wait_for_load_state("load")

    owners = ui.column_values(page, "Kundansvarig")
    assert owners and set(owners) == {me}, f"only customers with {me} as Kundansvarig, got {sorted(set(owners))}"
    expect(ui.list_row(page, my_customer)).to_have_count(1)
    expect(ui.list_row(page, my_supplier)).to_contain_text("Ja")
    expect(ui.list_row(page, others)).to_have_count(0)
    expect(ui.toolbar(page)).to_contain_text(re.compile(rf"\b{len(owners)} poster"))

    # The start page's "Mina kunder" leads to the same list.
    page.goto("/admin/")
    page.get_by_role("link", name=re.compile("Mina kunder")).click()
    page.wait_for_load_state("load")
    assert sorted(ui.column_values(page, "Kundansvarig")) == sorted(owners)


def choose_in_filter(page, option: str) -> None:
    """Choose `option` as the value of the search option just added under the toolbar."""
    ui.pick(page, page.locator("table.filters tr").last.locator(".select2-container").last, option)


def test_hur_lagger_jag_till_andrar_jag_pa_branscher(login_as):
    """Administration – Inställningar – CRM – Branscher: add one, then change it."""
    page = login_as("admin")
    ui.settings_menu(page, "Branscher")
    expect(page.get_by_role("heading", level=4)).to_contain_text("Branscher")
    industry = ui.unique("Testbransch")
    ui.toolbar(page).get_by_role("link", name=re.compile(r"^\s*Ny\b")).click()
    page.get_by_label("Namn").fill(industry)
    page.get_by_label("SNI-kod").fill("99.9")
    ui.save(page)
    ui.quick_search(page, industry)
    expect(ui.list_row(page, industry)).to_contain_text("99.9")

    renamed = industry + " ändrad"
    edit_first_row(page, industry)
    page.get_by_label("Namn").fill(renamed)
    ui.save(page)
    ui.quick_search(page, industry)
    expect(ui.list_row(page, renamed)).to_have_count(1)

    # The new industry can be chosen for a customer.
    ui.menu(page, "CRM", "Företag")
    ui.toolbar(page).get_by_role("link", name=ui.exact("Nytt företag")).click()
    ui.choose(page, "Bransch", renamed)


def edit_first_row(page, text: str) -> None:
    """Open the edit form of the list row with `text` (its pencil)."""
    ui.list_row(page, text).locator("a.icon[href*='/edit/']").click()
    page.wait_for_load_state("load")


def test_hur_lagger_jag_till_andrar_jag_kategorier(login_as):
    """Administration – Inställningar – CRM – Kategorier: add one, then change it."""
    page = login_as("admin")
    ui.settings_menu(page, "Kategorier")
    expect(page.get_by_role("heading", level=4)).to_contain_text("Kategorier")
    category = ui.unique("Testkategori")
    ui.toolbar(page).get_by_role("link", name=re.compile(r"^\s*Ny\b")).click()
    page.get_by_label("Namn").fill(category)
    ui.choose(page, "Gäller för", "Företag")
    ui.save(page)
    ui.quick_search(page, category)
    expect(ui.list_row(page, category)).to_contain_text("Företag")

    renamed = category + " ändrad"
    edit_first_row(page, category)
    page.get_by_label("Namn").fill(renamed)
    ui.save(page)
    ui.quick_search(page, category)
    expect(ui.list_row(page, renamed)).to_have_count(1)

    # The category is offered when searching customers ("Fler sökalternativ" – Kategori).
    ui.menu(page, "CRM", "Företag")
    ui.toolbar(page).get_by_role("button", name="Fler sökalternativ").click()
    page.locator(".field-filters").get_by_role("link", name=ui.exact("Kategori")).click()
    choose_in_filter(page, renamed)


# --- Behörigheter, the customer card and its E-post tab -------------------------------------

#: The demo's first customer (seed/demo.py): contacts, e-mail, a file, and a part in this project.
DEMO_CUSTOMER = "Norrlands Bygg AB"
DEMO_PROJECT = "Ombyggnad kontor Göteborg"

COMPANY_TABS = "Flikar på kundkortet (CRM – Kundhantering – Företag)"
MODULES = "Moduler i menyn"
#: The card's tabs and the CRM modules the FAQ knows, in their default order (others may come).
CARD_TABS = ["Översikt", "Kontakter", "Aktiviteter", "E-post", "Filer", "Projekt", "Inställningar", "Historik"]
CRM_MODULES = ["Företag", "Kontakter", "Privatkunder", "Leverantörer", "Sök personer"]


@pytest.fixture
def own_seller(login_as, pages):
    """(page, name) of a seller of the test's own, made by the administrator under
    Administration – Anställda and logged in through the login form. What the test
    hides, reorders or revokes stays with that employee: the demo sellers and the
    other tests see the product as it was."""
    last = _surname("Säljsson")
    name, email = f"Sam {last}", f"sam.{last[-6:]}@example.se"
    ui.create_employee(login_as("admin"), name, email, "Säljare", DEMO_PASSWORD)
    page = pages.new_page()
    pages.login_through_form(page, email)
    return page, name


def _in_order(shown: list[str], expected: list[str]) -> list[str]:
    """`shown` without the entries `expected` does not name (tabs or modules added later)."""
    return [entry for entry in shown if entry in expected]


def test_om_jag_inte_anvander_alla_flikarna_i_kundhanteringen_kan_jag_da_dolja_eller_andra_sorteringsordning_pa_flikarna(  # noqa: E501
    own_seller,
):
    """Find yourself in CRM, tab Behörigheter, "Flikar på kundkortet (CRM – Kundhantering –
    Företag)": untick a tab and Spara; right-click a row, "Välj ordningsföljd i undermenyn",
    reorder by drag and drop and by the keyboard, "Spara ordning". The customer card then
    leaves the tab out and shows the others in that order."""
    page, me = own_seller
    ui.find_myself(page, me)
    tabs = ui.permission_group(page, COMPANY_TABS)
    assert _in_order(ui.group_rows(tabs), CARD_TABS) == CARD_TABS

    tabs.get_by_label("Projekt").uncheck()
    ui.save_group(page, tabs)
    tabs = ui.permission_group(page, COMPANY_TABS)
    expect(tabs.get_by_label("Projekt")).not_to_be_checked()  # still listed, to be shown again later
    expect(tabs.get_by_label("Filer")).to_be_checked()

    dialog = ui.choose_order_by_right_click(page, tabs, "Filer")
    before = ui.ordering_rows(dialog)
    assert before == ui.group_rows(tabs)
    ui.drag_row(dialog, "Historik", onto=before[0])
    expected = ["Historik"] + [row for row in before if row != "Historik"]
    assert ui.ordering_rows(dialog) == expected
    ui.move_with_keyboard(page, dialog, "E-post", "up")  # Enter on "Flytta upp: E-post"
    page.keyboard.press("Alt+ArrowUp")  # the focus stays on the moved row
    page.keyboard.press("Alt+ArrowDown")
    page.keyboard.press("Alt+ArrowUp")
    at = expected.index("E-post")
    expected[at - 2 : at + 1] = ["E-post", *expected[at - 2 : at]]
    assert ui.ordering_rows(dialog) == expected
    assert _in_order(expected, CARD_TABS)[:4] == ["Historik", "Översikt", "E-post", "Kontakter"]
    ui.save_order(page, dialog)
    tabs = ui.permission_group(page, COMPANY_TABS)
    assert ui.group_rows(tabs) == expected
    shown = ui.group_shown(tabs)
    assert "Projekt" not in shown and "Historik" in shown

    ui.menu(page, "CRM", "Företag")
    ui.list_rows(page).first.locator("td.col-name a").click()
    assert ui.card_tab_names(page) == shown
    expect(page.locator("#card-tabs").get_by_role("tab", name="Historik")).to_have_attribute("aria-selected", "true")
    expect(page.locator("#history")).to_be_visible()  # the first tab is the one opened
    ui.card_tab(page, "E-post")


def test_hur_tar_jag_bort_behorigheter_jag_inte_behover_och_hur_andrar_jag_ordningsfoljden_pa_flikar_och_moduler(
    own_seller, login_as
):
    """Behörigheter – "Moduler i menyn": untick a module and reorder the modules ("Välj
    ordningsföljd i undermenyn"); the CRM menu follows. Hiding is a preference (the module
    still opens); an administrator's revocation under "Behörigheter utöver rollen" forbids."""
    page, me = own_seller
    ui.my_permissions(page, me)
    crm = ui.menu_items(page, "CRM")
    assert _in_order(crm, CRM_MODULES) == CRM_MODULES

    modules = ui.permission_group(page, MODULES)
    modules.get_by_label("CRM – Leverantörer").uncheck()
    ui.save_group(page, modules)
    assert ui.menu_items(page, "CRM") == [entry for entry in crm if entry != "Leverantörer"]

    dialog = ui.choose_order_by_button(page, ui.permission_group(page, MODULES))
    ui.drag_row(dialog, "CRM – Sök personer", onto="CRM – Företag")
    ui.move_with_keyboard(page, dialog, "CRM – Kontakter", "down")  # below Privatkunder
    assert _in_order(ui.ordering_rows(dialog), [f"CRM – {m}" for m in CRM_MODULES]) == [
        "CRM – Sök personer",
        "CRM – Företag",
        "CRM – Privatkunder",
        "CRM – Kontakter",
        "CRM – Leverantörer",
    ]
    ui.save_order(page, dialog)
    modules = ui.permission_group(page, MODULES)
    expect(modules.get_by_label("CRM – Leverantörer")).not_to_be_checked()
    crm = ui.menu_items(page, "CRM")
    assert crm == [row.removeprefix("CRM – ") for row in ui.group_shown(modules) if row.startswith("CRM – ")]
    assert _in_order(crm, CRM_MODULES) == ["Sök personer", "Företag", "Privatkunder", "Kontakter"]

    # Hidden is not forbidden: Leverantörer still opens.
    response = page.goto("/admin/supplier/")
    assert response.status == 200
    expect(page.get_by_role("heading", level=4)).to_contain_text("Leverantörer")

    ui.menu(page, "CRM", "Kontakter")
    contacts_url = page.url
    expect(ui.list_rows(page).first).to_be_visible()

    # The administrator revokes "Visa kontakter och privatkunder" for this employee ...
    admin = login_as("admin")
    ui.menu(admin, "Administration", "Anställda")
    ui.quick_search(admin, me)
    ui.list_row(admin, me).get_by_role("link", name=me).click()
    overrides = ui.card_tab(admin, "Behörigheter").locator("#permission-overrides")
    expect(overrides).to_contain_text("Behörigheter utöver rollen")

    def set_permission(state: str) -> None:
        overrides.get_by_label("Visa kontakter och privatkunder").select_option(label=state)
        ui.submit(admin, overrides.get_by_role("button", name=ui.exact("Spara behörigheter")))
        expect(ui.flash(admin)).to_contain_text(f"Behörigheterna för {me} har sparats.")

    set_permission("Återkalla")
    try:
        # ... who is then refused, and no longer offered those modules in the menu.
        response = page.goto(contacts_url)
        assert response.status == 403
        expect(page.get_by_text("Du har inte behörighet att se den här sidan.")).to_be_visible()
        page.goto("/admin/")
        crm = ui.menu_items(page, "CRM")
        assert "Företag" in crm
        assert not {"Kontakter", "Privatkunder", "Sök personer"} & set(crm)  # Sök personer needs it too
    finally:
        set_permission("Enligt rollen")  # reversible: as the role again
    response = page.goto(contacts_url)
    assert response.status == 200
    expect(ui.list_rows(page).first).to_be_visible()


def _open_card_with_unlocked_email(page) -> str:
    """As the administrator: the first customer (CRM – Företag, by name) whose E-post tab
    lists messages and is not locked; ends on that tab. Returns the customer's name."""
    ui.menu(page, "CRM", "Företag")
    list_url = page.url
    for name in [n.strip() for n in page.locator("table.model-list tbody td.col-name").all_inner_texts()[:15]]:
        ui.list_row(page, name).get_by_role("link", name=name, exact=True).click()
        if ui.key_figure(page, "E-post") > 0:
            email = ui.card_tab(page, "E-post")
            expect(email.locator("form, #email-list").first).to_be_visible()
            if email.get_by_role("button", name=ui.exact("Spärra tillgång")).count():
                return name
        page.goto(list_url)
    pytest.fail("no customer among the first in CRM – Företag has e-mail that is not locked")


def test_jag_ar_administrator_och_vill_inte_att_ovriga_anvandare_ska_se_fliken_e_post_pa_alla_kundkort(login_as):
    """E-post tab – "Spärra tillgång" (administrators only): other users see no e-mail of
    that customer, not even by a message's address; "Lås upp tillgång" undoes it."""
    admin = login_as("admin")
    company = _open_card_with_unlocked_email(admin)
    email = ui.card_tab(admin, "E-post")
    message = email.locator("#email-list tbody a").first
    subject, message_url = message.inner_text().strip(), message.get_attribute("href")

    seller = login_as("seller")
    ui.find_customer_from_start_page(seller, company)
    expect(ui.card_tab(seller, "E-post").locator("#email-list")).to_contain_text(subject)
    expect(seller.get_by_role("button", name=ui.exact("Spärra tillgång"))).to_have_count(0)  # administrators only

    ui.submit(admin, email.get_by_role("button", name=ui.exact("Spärra tillgång")))
    try:
        expect(ui.flash(admin)).to_contain_text(f"Tillgången till e-posten för {company} är nu spärrad.")
        email = ui.card_tab(admin, "E-post")
        expect(email).to_contain_text("Spärrad: bara administratörer ser denna e-post")
        expect(email.locator("#email-list")).to_contain_text(subject)  # the administrator still reads it

        seller.reload()
        email_of_seller = ui.card_tab(seller, "E-post")
        expect(email_of_seller.locator("#email-locked-notice")).to_have_text(
            "En administratör har spärrat tillgången till e-posten för den här kunden."
        )
        expect(email_of_seller.locator("#email-list")).to_have_count(0)
        expect(email_of_seller).not_to_contain_text(subject)
        expect(seller.get_by_role("button", name=ui.exact("Lås upp tillgång"))).to_have_count(0)
        assert ui.key_figure(seller, "E-post") == 0
        response = seller.goto(message_url)
        assert response.status == 404
        expect(seller.get_by_text("Sidan eller posten finns inte")).to_be_visible()
    finally:
        ui.submit(admin, ui.card_tab(admin, "E-post").get_by_role("button", name=ui.exact("Lås upp tillgång")))
    expect(ui.flash(admin)).to_contain_text(f"Tillgången till e-posten för {company} är upplåst.")
    expect(ui.card_tab(admin, "E-post").get_by_role("button", name=ui.exact("Spärra tillgång"))).to_be_visible()

    response = seller.goto(message_url)
    assert response.status == 200
    expect(seller.get_by_role("heading", level=1)).to_have_text(subject)


def test_vilka_mojligheter_har_jag_i_kundhanteringen_vilka_typer_av_information_om_en_kund_kan_jag_se_fran_crm(
    login_as,
):
    """The customer card: customer details at the top, then Översikt (key figures),
    Kontakter, Aktiviteter (add one, mark it done), E-post, Filer (upload, download),
    Projekt, Inställningar and Historik (the changes just made); the "Åtgärder" menu,
    by keyboard, creates a company contact and links an existing one."""
    page = login_as("seller")
    last = _surname("Kopplasson")
    ui.create_standalone_contact(page, "Kim", last)
    ui.find_customer_from_start_page(page, DEMO_CUSTOMER)

    header = page.locator("#card-header")
    expect(header).to_contain_text(re.compile(r"Kundnr\.? \d+"))
    expect(header).to_contain_text(re.compile(r"Org\.? ?nr\.? \d{6}-\d{4}"))
    expect(header.locator("a[href^='tel:']")).to_be_visible()
    expect(header).to_contain_text("Postadress")
    assert _in_order(ui.card_tab_names(page), CARD_TABS) == CARD_TABS

    figures = {
        label: ui.key_figure(page, label) for label in ("Kontakter", "Öppna aktiviteter", "E-post", "Filer", "Projekt")
    }
    assert figures["E-post"] > 0 and figures["Projekt"] > 0, figures
    expect(ui.card_tab(page, "Kontakter").locator("#company-contacts tbody tr")).to_have_count(figures["Kontakter"])

    # Aktiviteter: add one, then mark it done.
    subject = ui.unique("Ring om offerten")
    activities = ui.card_tab(page, "Aktiviteter")
    activities.get_by_label("Typ").select_option(label="Samtal")
    activities.get_by_label("Ämne").fill(subject)
    activities.get_by_label("Datum och tid").fill("2030-01-15T10:00")
    ui.submit(page, activities.get_by_role("button", name=ui.exact("Lägg till aktivitet")))
    expect(ui.flash(page)).to_contain_text("Aktiviteten har sparats.")
    assert ui.key_figure(page, "Öppna aktiviteter") == figures["Öppna aktiviteter"] + 1
    row = ui.card_tab(page, "Aktiviteter").locator("#activity-list tbody tr").filter(has_text=subject)
    expect(row).to_contain_text("2030-01-15 10:00")
    ui.submit(page, row.get_by_role("button", name=ui.exact("Markera som klar")))
    row = ui.card_tab(page, "Aktiviteter").locator("#activity-list tbody tr").filter(has_text=subject)
    expect(row.get_by_role("button", name=ui.exact("Öppna igen"))).to_have_attribute("aria-pressed", "true")
    assert ui.key_figure(page, "Öppna aktiviteter") == figures["Öppna aktiviteter"]

    # E-post: the messages linked to the customer, each readable.
    messages = ui.card_tab(page, "E-post").locator("#email-list tbody tr")
    expect(messages).to_have_count(figures["E-post"])
    first = messages.first.get_by_role("link")
    message_subject = first.inner_text().strip()
    first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text(message_subject)
    expect(page.get_by_text("Från")).to_be_visible()
    page.get_by_role("link", name=re.compile(re.escape(DEMO_CUSTOMER))).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(DEMO_CUSTOMER)

    # Filer: the customer's own file area.
    filename = _surname("Offert") + ".txt"
    content = f"Offert till {DEMO_CUSTOMER}\n".encode()
    files = ui.card_tab(page, "Filer")
    files.get_by_label("Ladda upp en fil").set_input_files(
        {"name": filename, "mimeType": "text/plain", "buffer": content}
    )
    ui.submit(page, files.get_by_role("button", name=ui.exact("Ladda upp")))
    expect(ui.flash(page)).to_contain_text(f"{filename} har laddats upp.")
    assert ui.key_figure(page, "Filer") == figures["Filer"] + 1
    link = ui.card_tab(page, "Filer").get_by_role("link", name=filename)
    with page.expect_download() as download:
        link.click()
    assert download.value.suggested_filename == filename
    with open(download.value.path(), "rb") as fh:
        assert fh.read() == content

    # Projekt: the projects the customer takes part in.
    projects = ui.card_tab(page, "Projekt").locator("#project-list tbody tr")
    expect(projects).to_have_count(figures["Projekt"])
    expect(projects.filter(has_text=DEMO_PROJECT)).to_have_count(1)

    # Inställningar: the customer's defaults, from invoice language to discount.
    settings = ui.card_tab(page, "Inställningar")
    for default in ("Fakturaspråk", "Rabatt %", "Valuta"):
        expect(settings.get_by_label(default)).to_be_visible()
    terms = settings.get_by_label("Betalningsvillkor (dagar)")
    old_terms = terms.input_value()
    new_terms = "45" if old_terms != "45" else "15"
    terms.fill(new_terms)
    ui.submit(page, settings.get_by_role("button", name=ui.exact("Spara")))
    expect(ui.flash(page)).to_contain_text("Inställningarna har sparats.")

    # Åtgärder, by keyboard: a new company contact, and an existing contact linked.
    ui.actions_menu_with_keyboard(page, "Skapa ny företagskontakt")
    new_last = _surname("Nysson")
    page.get_by_label("Förnamn").fill("Nora")
    page.get_by_label("Efternamn").fill(new_last)
    ui.save(page)
    expect(page.get_by_role("heading", level=1)).to_contain_text(DEMO_CUSTOMER)
    expect(ui.card_tab(page, "Kontakter").locator("#company-contacts")).to_contain_text(f"Nora {new_last}")

    ui.actions_menu_with_keyboard(page, "Koppla existerande kontakt till företaget")
    search = page.get_by_label("Sök kontakt")
    expect(search).to_be_visible()
    search.fill(last)
    hit = page.locator("#contact-results").get_by_label(re.compile(f"Kim {last}"))
    hit.check()
    ui.submit(page, page.get_by_role("button", name=ui.exact("Lägg till")))
    expect(ui.card_tab(page, "Kontakter").locator("#company-contacts")).to_contain_text(f"Kim {last}")
    assert ui.key_figure(page, "Kontakter") == figures["Kontakter"] + 2

    # Historik: who changed what, newest first.
    history = ui.card_tab(page, "Historik").locator("#history-list tbody tr")
    me = DEMO_USERS["seller"][1]
    expect(history.nth(0)).to_contain_text("Kontakt kopplad")
    expect(history.nth(0)).to_contain_text(f"Kim {last}")
    expect(history.filter(has_text=f"Nora {new_last}").first).to_contain_text(me)
    changed = history.filter(has_text="Betalningsvillkor (dagar)").first
    expect(changed).to_contain_text(me)
    expect(changed).to_contain_text("Ändrad")
    expect(changed).to_contain_text(f"{old_terms} → {new_terms}")
    for row in history.all()[:4]:
        expect(row).to_contain_text(me)


def test_faq_md_maps_every_question():
    """tests/FAQ.md has a row for every FAQ question, and every test it names exists."""
    from pathlib import Path

    here = Path(__file__).parent
    table = (here.parent / "FAQ.md").read_text(encoding="utf-8")
    for module, name in re.findall(r"`(test_\w+\.py)::(test_\w+)`", table):
        assert f"def {name}(" in (here / module).read_text(encoding="utf-8"), (
            f"{module}::{name} is in FAQ.md but not a test"
        )
    faq = here.parents[2] / "shared" / "kundhantering-faq.sv.txt"
    if not faq.exists():
        pytest.skip(f"the FAQ is not at {faq}")
    questions = [line.strip() for line in faq.read_text(encoding="utf-8").splitlines() if line.strip().endswith("?")]
    assert questions
    missing = [q for q in questions if f"| {q} |" not in table]
    assert not missing, f"questions without a row in tests/FAQ.md: {missing}"


def test_kan_man_skicka_mail_fran_ett_kundkort_i_crm(login_as, outbox):
    """The arrow to the right of the e-mail field – "Skapa e-post"; or right-click a contact in
    the lower half of the card. The e-mail goes out through the SMTP server and stays on the card."""
    from email import message_from_bytes, policy

    page = login_as("seller")
    ui.find_customer_from_start_page(page, DEMO_CUSTOMER)
    page.locator("#card-header").get_by_role("button", name=re.compile("Val för e-post till")).click()
    page.locator("#card-header").get_by_role("link", name="Skapa e-post").click()
    subject = ui.unique("Offert på takarbete")
    page.get_by_label("Ämne").fill(subject)
    page.get_by_label("Meddelande").fill("Hej!\n\nHär kommer offerten vi talade om.\n\nVänliga hälsningar")
    page.get_by_role("button", name="Skicka").click()
    expect(ui.flash(page)).to_contain_text("E-postmeddelandet har skickats till")
    expect(ui.card_tab(page, "E-post")).to_contain_text(subject)
    sent = [message_from_bytes(e.content, policy=policy.default) for e in outbox.mail]
    assert subject in [m["Subject"] for m in sent]

    # The other way: right-click a contact under Kontakter.
    contacts = ui.card_tab(page, "Kontakter")
    row = contacts.locator("tr.crm-row-menu").first
    address = row.locator("a[href^='mailto:']").first.inner_text().strip()
    row.locator("td").nth(1).click(button="right")
    row.get_by_role("link", name="Skapa e-post").click()
    expect(page.get_by_label("Till")).to_have_value(address)


def test_kan_man_skicka_sms_fran_24sevenoffice(login_as, outbox):
    """Right-click a contact in the lower half of the card – "Skicka sms"; or the arrow to the right
    of the mobile number on the contact's card. The SMS goes to the SMS service and is kept as an activity."""
    page = login_as("seller")
    ui.find_customer_from_start_page(page, DEMO_CUSTOMER)
    row = ui.card_tab(page, "Kontakter").locator("tr.crm-row-menu").first
    row.locator("td").nth(1).click(button="right")
    row.get_by_role("link", name="Skicka sms").click()
    text = ui.unique("Hej! Vi kommer på tisdag kl. 9 – välkommen")
    page.get_by_label("Meddelande").fill(text)
    expect(page.locator("#sms-count")).to_contain_text(f"{len(text)} tecken, 1 sms")
    page.get_by_role("button", name="Skicka sms").click()
    expect(ui.flash(page)).to_contain_text("Sms:et har skickats.")
    expect(ui.card_tab(page, "Aktiviteter")).to_contain_text(text)
    assert text in [s["message"] for s in outbox.sms]

    # From the contact's own card: the arrow beside the mobile number (a contact who has one: other
    # tests add contacts to this customer, and the tab lists them by name).
    with_mobile = ui.card_tab(page, "Kontakter").locator("tr.crm-row-menu").filter(has_text=re.compile(r"\b07\d"))
    with_mobile.first.locator("td").first.get_by_role("link").click()
    page.wait_for_load_state("load")  # the arrow's menu opens only once Bootstrap's script has run
    page.locator("#card-header").get_by_role("button", name=re.compile(r"Val för 07")).first.click()
    page.locator("#card-header").get_by_role("link", name="Skicka sms").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Skicka sms")


def test_jag_ser_att_det_finns_en_telefon_ikon_kan_man_ringa_direkt_fran_kundkorten(login_as):
    """Every phone number on the card is a tel: link in international form, with the phone icon beside it:
    a click hands it to the computer's or phone's calling program (softphone, Teams, the phone's dialer)."""
    page = login_as("seller")
    ui.find_customer_from_start_page(page, DEMO_CUSTOMER)
    header_phone = page.locator("#card-header a[href^='tel:']").first
    expect(header_phone.locator(".fa-phone")).to_have_count(1)
    assert re.fullmatch(r"tel:\+46\d{6,10}", header_phone.get_attribute("href"))
    row = ui.card_tab(page, "Kontakter").locator("tr.crm-row-menu").first
    mobile = row.locator("a[href^='tel:+467']").first
    row.get_by_role("button", name=re.compile("Val för 07")).first.click()
    call = row.get_by_role("link", name="Ring", exact=True).first
    expect(call).to_have_attribute("href", mobile.get_attribute("href"))
