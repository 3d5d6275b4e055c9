"""Invoicing from the customer card in a real browser (issue 6): the FAQ's
"Hur får jag en snabb översikt över fakturor med produkter som sålts till mina
kunder?" (right-click the card – Rapporter – Fakturarapport), and creating,
sending and printing an invoice without leaving the card. On the demo data."""

import io
import re

import pytest
from openpyxl import load_workbook

import crm_ui as ui
from crm_ui import expect

pytestmark = pytest.mark.browser


def open_invoiced_customer(page) -> str:
    """Försäljning – Fakturor, open the customer of a paid invoice: returns its name."""
    ui.menu(page, "Försäljning", "Fakturor")
    row = ui.list_rows(page).filter(has_text="Betald").first
    link = row.locator("td.col-customer a")
    name = link.inner_text().strip()
    link.click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(name)
    page.wait_for_load_state("load")  # the card's menus listen only once their scripts have run
    return name


def test_hur_far_jag_en_snabb_oversikt_over_fakturor_med_produkter(login_as):
    """ "Sök upp kunden i CRM, högerklicka på kundkortet och välj Rapporter – Fakturarapport."""
    page = login_as("finance")
    name = open_invoiced_customer(page)
    page.locator("#card-header h1").click(button="right")
    menu = page.locator("#card-context-menu")
    expect(menu).to_be_visible()
    menu.get_by_role("menuitem", name=re.compile(r"^\s*Rapporter")).click()
    menu.get_by_role("menuitem", name=ui.exact("Fakturarapport")).click()
    page.wait_for_load_state("load")
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Fakturarapport: {name}")

    # a whole period shows the products sold, per month and in total
    page.get_by_label("Från").fill("2020-01-01")
    page.get_by_role("button", name=ui.exact("Visa")).click()
    page.wait_for_load_state("load")
    products = page.locator("#report-products tbody tr")
    expect(products.first).to_contain_text(re.compile(r"\d+,\d\d\s*kr"))
    assert products.count() >= 1
    expect(page.locator("#report-months tfoot")).to_contain_text("År")
    expect(page.locator("#report-invoices tbody tr").first).to_contain_text(re.compile(r"\d{4}-\d\d-\d\d"))
    with page.expect_download() as download:
        page.locator("#export-products-xlsx").click()
    assert download.value.suggested_filename.startswith("Fakturarapport")
    sheet = load_workbook(io.BytesIO(open(download.value.path(), "rb").read())).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:2] == ("Produktnr", "Produkt") and len(rows) - 1 == products.count()
    assert all(isinstance(row[4], (int, float)) for row in rows[1:]), rows


def test_fakturarapport_from_the_keyboard(login_as):
    """The same entries without a mouse: the context menu opened with Shift+F10, arrows, → into Rapporter."""
    page = login_as("seller")
    name = open_invoiced_customer(page)
    page.locator("#card-actions-button").focus()
    page.keyboard.press("Shift+F10")
    menu = page.locator("#card-context-menu")
    expect(menu).to_be_visible()
    reports = menu.get_by_role("menuitem", name=re.compile(r"^\s*Rapporter"))
    for _ in range(menu.locator(".dropdown-item").count()):
        if reports.evaluate("el => el === document.activeElement"):
            break
        page.keyboard.press("ArrowDown")
    expect(reports).to_be_focused()
    page.keyboard.press("ArrowRight")
    report = menu.get_by_role("menuitem", name=ui.exact("Fakturarapport"))
    expect(report).to_be_focused()
    with page.expect_navigation():
        page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Fakturarapport: {name}")


def test_creating_an_invoice_from_the_card(login_as):
    """ "Man behöver inte gå till fakturamodulen för att skapa en faktura, utan det kan göras
    direkt från kundkortet": Ny faktura on the card, a product line, Spara, Skicka, Skriv ut."""
    page = login_as("finance")
    name = open_invoiced_customer(page)
    panel = ui.card_tab(page, "Ordrar och fakturor")
    panel.get_by_role("link", name=ui.exact("Ny faktura")).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Ny faktura för {name}")
    page.wait_for_load_state("load")  # the line script listens only once it has run

    product = page.get_by_role("combobox", name="Produkt 1")
    with page.expect_response(re.compile(r"/admin/product/lookup\.json")):
        product.fill("1001")
    page.get_by_label("Antal 1", exact=True).fill("3")  # leaving the product field fills text, unit, price and VAT
    expect(page.get_by_label("Text 1", exact=True)).to_have_value("Konsulttimme")
    expect(page.get_by_label("À-pris 1", exact=True)).to_have_value("950,00")
    page.get_by_role("button", name="Lägg till rad").click()
    new_line = page.locator("#document-lines tbody tr").count()  # the added row is the last
    page.get_by_label(f"Text {new_line}", exact=True).fill("Resa till kunden")
    page.get_by_label(f"À-pris {new_line}", exact=True).fill("450")
    page.get_by_role("button", name=ui.exact("Spara")).click()
    page.wait_for_load_state("load")
    expect(page.locator("#document-status")).to_have_text("Utkast")
    expect(page.locator("#document-lines")).to_contain_text("Konsulttimme")
    expect(page.locator("#document-lines")).to_contain_text("Resa till kunden")

    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Skicka faktura").click()
    page.wait_for_load_state("load")
    expect(page.locator("#document-status")).to_have_text("Skickad")
    number = re.search(r"Faktura (\d+)", page.locator("#document-title").inner_text()).group(1)
    expect(page.locator("#document-details")).to_contain_text("OCR-nummer")
    expect(page.get_by_role("link", name=ui.exact("Redigera"))).to_have_count(0)  # never edited once sent

    with page.context.expect_page() as printed:
        page.get_by_role("link", name=ui.exact("Skriv ut")).click()
    sheet = printed.value
    sheet.wait_for_load_state("load")
    expect(sheet.locator("#print-number")).to_have_text(number)
    expect(sheet.locator("#print-totals")).to_contain_text("Att betala")
    expect(sheet.locator("#print-vat")).to_contain_text("Momsspecifikation")
    sheet.close()

    page.get_by_role("link", name=name).click()
    panel = ui.card_tab(page, "Ordrar och fakturor")
    expect(panel.locator("#invoice-list")).to_contain_text(number)


def test_a_contact_without_customer_number_cannot_be_invoiced(login_as):
    """ "För att kunna fakturera en kontaktperson måste denna ha ett kundnummer i CRM."""
    page = login_as("seller")
    first, last = "Ofakturerad", ui.unique("Kontakt").split()[1]
    ui.create_standalone_contact(page, first, last)
    panel = ui.card_tab(page, "Ordrar och fakturor")
    expect(panel).to_contain_text("måste denna ha ett kundnummer i CRM")
    expect(panel.get_by_role("link", name=ui.exact("Ny faktura"))).to_have_count(0)
    page.get_by_role("button", name=ui.exact("Åtgärder")).click()
    page.get_by_role("button", name=ui.exact("Ge kundnummer")).first.click()
    page.wait_for_load_state("load")
    panel = ui.card_tab(page, "Ordrar och fakturor")
    expect(panel.get_by_role("link", name=ui.exact("Ny faktura"))).to_be_visible()
