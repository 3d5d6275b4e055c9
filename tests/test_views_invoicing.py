"""Orders, invoices and products over HTTP: created from the customer card,
sent, paid and credited by those allowed, printed in the customer's language,
the card's tab and the Fakturarapport with its CSV/XLSX export."""

import io
import re
from csv import reader as csv_reader
from datetime import date, timedelta
from decimal import Decimal

import pytest
from openpyxl import load_workbook
from sqlalchemy import event, select

from extensions import db
from models import Company, CompanyContact, Invoice, Product, SalesOrder
from services import invoicing, numbering
from services.formatting import money
from services.invoicing import LineInput
from tests.helpers import at_once, count, field_errors, flashes, fresh, sv, text

D = Decimal


@pytest.fixture
def customer(make_company):
    return make_company(
        name="Kortkund AB",
        discount_percent=D("10"),
        payment_terms_days=20,
        invoice_street="Box 12",
        invoice_postcode="11122",
        invoice_city="Stockholm",
    )


def lines_form(*rows, start=0):
    """Editor rows as posted: lines-N-field."""
    data = {}
    for n, row in enumerate(rows, start):
        for key, value in row.items():
            data[f"lines-{n}-{key}"] = value
    return data


def sent_invoice(session, employees, customer, products, **fields):
    invoice = invoicing.new_invoice(session, employees["finance"], customer)
    for key, value in fields.items():
        setattr(invoice, key, value)
    invoicing.set_lines(
        invoice, [LineInput(product=products["100"], quantity="2"), LineInput(product=products["200"], quantity="1")]
    )
    invoicing.send(session, invoice)
    session.commit()
    return invoice


# --- creating from the card -----------------------------------------------------------------------


def test_new_invoice_from_the_card_is_prefilled_with_the_customer(login, customer, products):
    page = text(login("seller").client.get(f"/admin/invoice/new/?company_id={customer.id}"))
    assert "Kortkund AB" in page and str(customer.customer_number) in page
    assert 'name="payment_terms_days"' in page and 'value="20"' in page
    # the customer's discount is on the new lines
    assert re.search(r'name="lines-0-discount_percent" value="10"', page)


def test_creating_an_invoice_with_lines_from_the_card(login, customer, products, employees):
    seller = login("seller")
    response = seller.post(
        f"/admin/invoice/new/?company_id={customer.id}",
        {
            "invoice_date": "2026-11-02",
            "payment_terms_days": "20",
            "currency": "SEK",
            "language": "sv",
            "their_reference": "__None",
            "our_reference": str(employees["seller"].id),
            "note": "Tack för beställningen",
            **lines_form(
                {"product": "100 Konsulttimme", "quantity": "2", "discount_percent": "10"},
                {"product": "200", "quantity": "3", "discount_percent": "0"},
                {
                    "description": "Frakt",
                    "quantity": "1",
                    "unit_price": "99,00",
                    "vat_rate": "25",
                    "discount_percent": "",
                },
                {"product": "", "description": "", "quantity": "1", "discount_percent": "10"},
            ),
        },
    )
    assert response.status_code == 302, flashes(response)
    invoice = db.session.scalars(select(Invoice)).one()
    assert response.headers["Location"].endswith(f"/admin/invoice/show/{invoice.id}")
    assert invoice.company_id == customer.id and invoice.status == "draft" and invoice.number is None
    assert invoice.our_reference_id == employees["seller"].id and invoice.due_date.isoformat() == "2026-11-22"
    assert [(line.description, line.amount) for line in invoice.lines] == [
        ("Konsulttimme", D("1710.00")),
        ("Kokbok", D("747.00")),
        ("Frakt", D("89.10")),
    ]
    assert invoice.total == D("3041.00")
    page = text(seller.client.get(f"/admin/invoice/show/{invoice.id}"))
    assert money(D("3041")) in page and "Utkast" in page
    assert 'id="send-invoice"' not in page  # a seller makes drafts; Ekonomi sends


def test_unparseable_price_is_refused_with_a_swedish_message_and_nothing_saved(login, customer):
    response = login("seller").post(
        f"/admin/invoice/new/?company_id={customer.id}",
        {
            "invoice_date": "2026-11-02",
            "payment_terms_days": "20",
            "currency": "SEK",
            "language": "sv",
            "their_reference": "__None",
            **lines_form({"description": "Något", "quantity": "1", "unit_price": "tio kronor", "vat_rate": "25"}),
        },
    )
    assert response.status_code == 200
    assert ("danger", sv("Line %(n)s: the price is not an amount.", n=1)) in flashes(response)
    assert "tio kronor" in text(response)  # what was typed is kept
    assert count(db.session, Invoice) == 0


def test_after_a_refusal_the_editor_shows_the_lines_as_numbered_in_the_message(login, customer, products):
    """Wholly empty rows are left out both when the lines are read and when they are shown again,
    so "Rad 2" of a message is the second row on the page, and blank rows do not pile up."""
    blank = {"product": "", "description": "", "quantity": "1", "unit_price": "", "vat_rate": "25"}
    response = login("seller").post(
        f"/admin/invoice/new/?company_id={customer.id}",
        {
            "invoice_date": "2026-11-02",
            "payment_terms_days": "20",
            "currency": "SEK",
            "language": "sv",
            "their_reference": "__None",
            **lines_form(
                {"product": "100", "quantity": "1"},
                blank,
                {"description": "Resa", "quantity": "x", "unit_price": "1"},
                blank,
                blank,
            ),
        },
    )
    assert ("danger", sv("Line %(n)s: the quantity is not a number.", n=2)) in flashes(response)
    page = response.get_data(as_text=True)
    shown = re.findall(r'name="lines-(\d+)-description" value="([^"]*)"', page)
    assert shown == [("0", ""), ("1", "Resa"), ("2", ""), ("3", ""), ("4", "")]  # the two lines, then the blank rows
    assert count(db.session, Invoice) == 0


def test_the_editor_shows_saved_lines_with_a_decimal_comma(login, session, employees, customer, products):
    """As the Flask-Admin forms do (formatting.decimal_input): the editor reads them back with money.parse."""
    invoice = invoicing.new_invoice(session, employees["seller"], customer)
    invoicing.set_lines(
        invoice, [LineInput(product=products["100"], quantity="2,5", unit_price="1 250,5", discount_percent="12,5")]
    )
    session.commit()
    page = login("seller").client.get(f"/admin/invoice/edit/?id={invoice.id}").get_data(as_text=True)
    shown = {
        f: re.search(rf'name="lines-0-{f}" value="([^"]*)"', page).group(1)
        for f in ("quantity", "unit_price", "discount_percent")
    }
    assert shown == {"quantity": "2,5", "unit_price": "1\u00a0250,50", "discount_percent": "12,5"}
    assert 'name="lines-3-discount_percent" value="10"' in page  # a blank row: the customer's discount


def test_unknown_product_number_is_refused(login, customer):
    response = login("seller").post(
        f"/admin/invoice/new/?company_id={customer.id}",
        {
            "invoice_date": "2026-11-02",
            "payment_terms_days": "20",
            "currency": "SEK",
            "language": "sv",
            "their_reference": "__None",
            **lines_form({"product": "4711", "quantity": "1"}),
        },
    )
    assert ("danger", sv("There is no product with number %(number)s.", number="4711")) in flashes(response)
    assert count(db.session, Invoice) == 0


def test_an_inactive_product_number_is_refused_on_a_new_line_but_kept_on_a_saved_one(
    login, session, employees, customer, products
):
    header = {
        "invoice_date": "2026-11-02",
        "payment_terms_days": "20",
        "currency": "SEK",
        "language": "sv",
        "their_reference": "__None",
    }
    response = login("seller").post(
        f"/admin/invoice/new/?company_id={customer.id}",
        {
            **header,
            **lines_form({"product": "100", "quantity": "1"}, {"product": "900 Utgången vara", "quantity": "1"}),
        },
    )
    assert (
        "danger",
        sv(
            "Line %(n)s: product %(number)s %(name)s is inactive and cannot be put on new lines.",
            n=2,
            number="900",
            name="Utgången vara",
        ),
    ) in flashes(response)
    assert count(db.session, Invoice) == 0
    old = products["900"]
    old.active = True
    invoice = invoicing.new_invoice(session, employees["seller"], customer)
    invoicing.set_lines(invoice, [LineInput(product=old, quantity="1")])
    old.active = False
    session.commit()
    response = login("seller").post(
        f"/admin/invoice/edit/?id={invoice.id}",
        {**header, "version": str(invoice.version), **lines_form({"product": "900", "quantity": "4"})},
    )
    assert response.status_code == 302
    assert [(line.product.number, line.quantity) for line in fresh(session, Invoice, invoice.id).lines] == [
        ("900", D("4"))
    ]


def test_a_contact_without_customer_number_is_refused_with_the_faqs_reason(login, make_contact):
    person = make_contact(first_name="Ingen", last_name="Kundnummer")
    seller = login("seller")
    reason = sv("To invoice a contact person, he or she must have a customer number in the CRM.")
    response = seller.client.get(f"/admin/invoice/new/?contact_id={person.id}", follow_redirects=True)
    assert ("danger", reason) in flashes(response)
    response = seller.post(
        f"/admin/order/new/?contact_id={person.id}", {"order_date": "2026-11-02"}, follow_redirects=True
    )
    assert ("danger", reason) in flashes(response)
    tab = text(seller.client.get(f"/admin/contact/card/{person.id}/tab/invoices"))
    assert reason in tab and 'id="new-invoice"' not in tab
    assert count(db.session, Invoice) == 0 and count(db.session, SalesOrder) == 0


def test_a_private_customer_is_invoiced_from_its_card(login, make_contact, products):
    person = make_contact(first_name="Per", last_name="Privat", invoice_language="en")
    numbering.make_private_customer(db.session, person)
    db.session.commit()
    seller = login("seller")
    tab = text(seller.client.get(f"/admin/contact/card/{person.id}/tab/invoices"))
    assert 'id="new-invoice"' in tab and 'id="new-order"' in tab
    response = seller.post(
        f"/admin/order/new/?contact_id={person.id}",
        {
            "order_date": "2026-11-02",
            "currency": "SEK",
            "language": "en",
            "their_reference": "__None",
            **lines_form({"product": "100", "quantity": "1"}),
        },
    )
    assert response.status_code == 302, flashes(response)
    order = db.session.scalars(select(SalesOrder)).one()
    assert order.contact_id == person.id and order.language == "en" and order.total == D("1188.00")


def test_new_company_can_go_straight_to_its_first_order(login):
    response = login("seller").post(
        "/admin/company/new/",
        {
            "name": "Nystartat AB",
            "country": "SE",
            "status": "active",
            "invoice_language": "sv",
            "discount_percent": "0",
            "payment_terms_days": "30",
            "currency": "SEK",
            "then_new_order": "y",
        },
    )
    company = db.session.scalars(select(Company).where(Company.name == "Nystartat AB")).one()
    assert response.status_code == 302
    assert f"/admin/order/new/?company_id={company.id}" in response.headers["Location"]


# --- sending, paying, crediting: who may -----------------------------------------------------------


def test_seller_cannot_send_but_finance_can(login, session, employees, customer, products):
    invoice = invoicing.new_invoice(session, employees["seller"], customer)
    invoicing.set_lines(invoice, [LineInput(product=products["100"], quantity="1")])
    session.commit()
    assert login("seller").post(f"/admin/invoice/show/{invoice.id}/send").status_code == 403
    assert login("readonly").post(f"/admin/invoice/show/{invoice.id}/send").status_code == 403
    finance = login("finance")
    response = finance.post(f"/admin/invoice/show/{invoice.id}/send", follow_redirects=True)
    assert ("success", sv("%(document)s was sent.", document=sv("Invoice %(number)s", number=1001))) in flashes(
        response
    )
    invoice = fresh(session, Invoice, invoice.id)
    assert invoice.number == 1001 and invoice.status == "sent" and invoice.ocr == invoicing.ocr_reference(1001)
    from models import AuditEvent

    sent = session.scalars(
        select(AuditEvent).where(AuditEvent.entity_type == "invoice", AuditEvent.action == "update")
    ).all()
    assert [(e.actor_id, e.changes["status"], e.changes["number"]) for e in sent] == [
        (employees["finance"].id, ["draft", "sent"], [None, 1001])
    ]


def test_a_sent_invoice_cannot_be_edited_over_http(login, session, employees, customer, products):
    invoice = sent_invoice(session, employees, customer, products)
    finance = login("finance")
    response = finance.client.get(f"/admin/invoice/edit/?id={invoice.id}", follow_redirects=True)
    assert ("danger", sv("A sent invoice cannot be changed; credit it instead.")) in flashes(response)
    finance.post(
        f"/admin/invoice/edit/?id={invoice.id}",
        {
            "invoice_date": "2026-11-02",
            "payment_terms_days": "20",
            "currency": "SEK",
            "language": "sv",
            "their_reference": "__None",
            "version": str(invoice.version),
            **lines_form({"description": "Ändrad", "quantity": "1", "unit_price": "1", "vat_rate": "25"}),
        },
    )
    assert [line.description for line in fresh(session, Invoice, invoice.id).lines] == ["Konsulttimme", "Kokbok"]
    response = finance.post("/admin/invoice/delete/", {"id": str(invoice.id)}, follow_redirects=True)
    assert ("danger", sv("A sent invoice cannot be deleted; credit it instead.")) in flashes(response)
    assert fresh(session, Invoice, invoice.id) is not None


def test_a_stale_edit_of_a_draft_is_refused(login, session, employees, customer, products):
    invoice = invoicing.new_invoice(session, employees["seller"], customer)
    invoicing.set_lines(invoice, [LineInput(product=products["100"], quantity="1")])
    session.commit()
    stale = invoice.version
    invoice.note = "Någon annan hann före"
    session.commit()
    response = login("seller").post(
        f"/admin/invoice/edit/?id={invoice.id}",
        {
            "invoice_date": "2026-11-02",
            "payment_terms_days": "20",
            "currency": "SEK",
            "language": "sv",
            "their_reference": "__None",
            "version": str(stale),
            **lines_form({"product": "200", "quantity": "9"}),
        },
    )
    assert response.status_code == 200
    assert [line.description for line in fresh(session, Invoice, invoice.id).lines] == ["Konsulttimme"]


def test_paid_and_credit_over_http(login, session, employees, customer, products):
    invoice = sent_invoice(session, employees, customer, products)
    finance = login("finance")
    paid = finance.post(f"/admin/invoice/show/{invoice.id}/paid")
    assert paid.headers["Location"].endswith(f"/admin/invoice/show/{invoice.id}")
    assert fresh(session, Invoice, invoice.id).status == "paid"
    response = finance.post(f"/admin/invoice/show/{invoice.id}/credit")
    credit = session.scalars(select(Invoice).where(Invoice.credited_invoice_id == invoice.id)).one()
    assert response.headers["Location"].endswith(f"/admin/invoice/show/{credit.id}")
    assert credit.total == -invoice.total and credit.number == invoice.number + 1
    page = text(finance.client.get(f"/admin/invoice/show/{credit.id}"))
    assert sv("Credit invoice %(number)s", number=credit.number) in page
    original = text(finance.client.get(f"/admin/invoice/show/{invoice.id}"))
    assert sv("Credited by") in original and f"/admin/invoice/show/{credit.id}" in original
    assert 'id="credit-invoice"' not in original and 'id="mark-paid"' not in original
    again = finance.post(f"/admin/invoice/show/{invoice.id}/credit", follow_redirects=True)
    assert ("danger", sv("The invoice has already been credited.")) in flashes(again)


def test_order_confirmed_and_converted_to_an_invoice(login, session, employees, customer, products):
    order = invoicing.new_order(session, employees["seller"], customer)
    invoicing.set_lines(order, [LineInput(product=products["200"], quantity="4")])
    session.commit()
    seller = login("seller")
    response = seller.post(f"/admin/order/show/{order.id}/confirm")
    assert response.headers["Location"].endswith(f"/admin/order/show/{order.id}")
    assert fresh(session, SalesOrder, order.id).status == "confirmed"
    response = seller.post(f"/admin/order/show/{order.id}/invoice")
    invoice = session.scalars(select(Invoice)).one()
    assert response.headers["Location"].endswith(f"/admin/invoice/show/{invoice.id}")
    assert fresh(session, SalesOrder, order.id).status == "invoiced"
    assert invoice.order_id == order.id and invoice.total == order.total and invoice.status == "draft"
    assert login("readonly").post(f"/admin/order/show/{order.id}/invoice").status_code == 403


# --- printing ---------------------------------------------------------------------------------------


def test_printable_invoice_in_swedish(login, session, employees, customer, products):
    invoice = sent_invoice(session, employees, customer, products)
    page = text(login("readonly").client.get(f"/admin/invoice/show/{invoice.id}/print"))
    for expected in (
        "Faktura",
        "Förfallodatum",
        "OCR-nummer",
        "Att betala",
        "Öresavrundning",
        "Momsspecifikation",
        invoice.ocr,
        str(customer.customer_number),
        "Box 12",
        "Kundregister Demo AB",
        "Godkänd för F-skatt",
        invoice.due_date.isoformat(),
        money(invoice.total),
        money(D("2375")),
    ):
        assert expected in page, expected
    assert 'lang="sv"' in page and "invoice_print.css" in page


def test_printable_invoice_in_the_customers_language_english(login, session, employees, make_company, products):
    foreign = make_company(name="Nordic Partner AS", invoice_language="en", currency="NOK", discount_percent=D("0"))
    invoice = sent_invoice(session, employees, foreign, products)
    page = text(login("finance").client.get(f"/admin/invoice/show/{invoice.id}/print"))
    for expected in ("Invoice", "Due date", "OCR reference", "Amount to pay", "VAT summary", "Customer no.", "NOK"):
        assert expected in page, expected
    for swedish in ("Förfallodatum", "Att betala", "Fakturadatum"):
        assert swedish not in page
    assert 'lang="en"' in page
    # the employee's own pages stay Swedish
    assert "Fakturadatum" in text(login("finance").client.get(f"/admin/invoice/show/{invoice.id}"))


# --- the card's tab --------------------------------------------------------------------------------------


def test_card_tab_lists_orders_and_invoices_with_sums(login, session, employees, customer, products):
    from datetime import date, timedelta

    overdue = sent_invoice(session, employees, customer, products, invoice_date=date.today() - timedelta(days=60))
    sent_invoice(session, employees, customer, products)
    order = invoicing.new_order(session, employees["seller"], customer)
    invoicing.set_lines(order, [LineInput(product=products["100"], quantity="1")])
    session.commit()
    tab = text(login("readonly").client.get(f"/admin/company/card/{customer.id}/tab/invoices"))
    assert str(overdue.number) in tab and str(order.number) in tab
    assert sv("Past due, unpaid") in tab and sv("Outstanding, not yet due") in tab
    assert re.search(r'data-status="overdue">.*?' + re.escape(money(overdue.total)), tab, re.S)
    assert 'id="new-invoice"' not in tab  # read-only


def _count_queries(client, url) -> int:
    statements = []

    def counter(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", counter)
    try:
        assert client.get(url).status_code == 200
    finally:
        event.remove(db.engine, "before_cursor_execute", counter)
    return len(statements)


def test_card_tab_queries_do_not_grow_with_the_customer(login, session, employees, make_company, products):
    small, big = make_company(name="Liten AB"), make_company(name="Stor AB")
    for customer, n in ((small, 1), (big, 60)):
        for _ in range(n):
            invoice = invoicing.new_invoice(session, employees["finance"], customer)
            invoicing.set_lines(invoice, [LineInput(product=products["100"], quantity="1")])
            invoicing.send(session, invoice)
            order = invoicing.new_order(session, employees["finance"], customer)
            invoicing.set_lines(order, [LineInput(product=products["200"], quantity="1")])
    session.commit()
    admin = login("admin")
    url = "/admin/company/card/{}/tab/invoices"
    few, many = _count_queries(admin.client, url.format(small.id)), _count_queries(admin.client, url.format(big.id))
    assert many <= few and many <= 12, (few, many)


# --- Fakturarapport --------------------------------------------------------------------------------------


def test_invoice_report_on_the_card_and_its_export(login, session, employees, customer, products):
    from datetime import date

    sent_invoice(session, employees, customer, products, invoice_date=date(2026, 2, 3))
    sent_invoice(session, employees, customer, products, invoice_date=date(2026, 4, 9))
    finance = login("finance")
    page = text(finance.client.get(f"/admin/company/card/{customer.id}/invoice-report?from=2026-01-01&to=2026-12-31"))
    products_table = page.split('id="report-products"')[1].split("</table>")[0]
    assert "Konsulttimme" in products_table and money(D("3420")) in products_table  # 4 h at 950 less 10 %
    assert "Kokbok" in products_table
    assert "2026-02" in page and "2026-04" in page and sv("Year %(year)s", year=2026) in page
    csv = finance.client.get(
        f"/admin/company/card/{customer.id}/invoice-report/export/csv?from=2026-01-01&to=2026-12-31"
    )
    assert csv.status_code == 200 and "attachment" in csv.headers["Content-Disposition"]
    rows = list(csv_reader(io.StringIO(csv.get_data(as_text=True).lstrip("\ufeff")), delimiter=";"))
    assert rows[0] == [sv("Product no."), sv("Product"), sv("Quantity"), sv("Unit"), sv("Amount excl. VAT")]
    by_product = {row[1]: row for row in rows[1:]}
    assert set(by_product) == {"Konsulttimme", "Kokbok"} and by_product["Konsulttimme"][4] == "3420,00"
    xlsx = finance.client.get(
        f"/admin/company/card/{customer.id}/invoice-report/export/xlsx?table=lines&from=2026-01-01&to=2026-12-31"
    )
    sheet = load_workbook(io.BytesIO(xlsx.get_data())).active
    rows = list(sheet.iter_rows(values_only=True))
    assert len(rows) == 1 + 4 and {r[4] for r in rows[1:]} == {"Konsulttimme", "Kokbok"}
    # the seller reads the report but exports nothing (invoice.export)
    seller = login("seller")
    assert seller.client.get(f"/admin/company/card/{customer.id}/invoice-report").status_code == 200
    assert seller.client.get(f"/admin/company/card/{customer.id}/invoice-report/export/csv").status_code == 403


def test_product_lookup_offers_active_products(login, products):
    rows = login("seller").client.get("/admin/product/lookup.json?q=kons").get_json()
    assert [(r["number"], r["price"], r["vat_rate"], r["unit"]) for r in rows] == [("100", "950,00", "25", "tim")]
    assert login("seller").client.get("/admin/product/lookup.json?q=Utgången").get_json() == []


def test_only_finance_and_admin_manage_products(login):
    data = {"number": "777", "name": "Ny produkt", "unit": "st", "price": "1 250,50", "vat_rate": "12", "active": "y"}
    assert login("seller").post("/admin/product/new/", data).status_code == 403
    assert login("finance").post("/admin/product/new/", data).status_code == 302
    product = db.session.scalars(select(Product)).one()
    assert (product.price, product.vat_rate) == (D("1250.50"), D("12"))


def test_demo_invoicing_pages_render(login, demo):
    admin = login("admin")
    for url in ("/admin/invoice/", "/admin/order/", "/admin/product/", "/admin/invoice/new/", "/admin/order/new/"):
        assert admin.client.get(url).status_code == 200, url
    today = date.today()
    company = demo.scalars(
        select(Company).join(Invoice, Invoice.company_id == Company.id).where(invoicing.overdue_condition(today))
    ).first()
    tab = text(admin.client.get(f"/admin/company/card/{company.id}/tab/invoices"))
    assert 'data-status="overdue"' in tab and "table-danger" in tab
    for invoice in demo.scalars(select(Invoice)).all()[:10]:
        assert admin.client.get(f"/admin/invoice/show/{invoice.id}").status_code == 200
        assert admin.client.get(f"/admin/invoice/show/{invoice.id}/print").status_code == 200
    statuses = set(demo.scalars(select(Invoice.status)).all())
    assert statuses == {"draft", "sent", "paid", "credited", "cancelled"}
    assert (
        demo.scalar(select(db.func.count()).select_from(Invoice).where(Invoice.credited_invoice_id.is_not(None))) == 1
    )


def test_new_private_customer_can_go_straight_to_its_first_order(login):
    from models import Contact

    response = login("seller").post(
        "/admin/privatecustomer/new/",
        {
            "first_name": "Ny",
            "last_name": "Privatkund",
            "invoice_language": "sv",
            "discount_percent": "0",
            "payment_terms_days": "10",
            "currency": "SEK",
            "then_new_order": "y",
        },
    )
    person = db.session.scalars(select(Contact).where(Contact.last_name == "Privatkund")).one()
    assert person.customer_number is not None
    assert f"/admin/order/new/?contact_id={person.id}" in response.headers["Location"]


def test_invoice_list_filters_overdue_and_status(login, session, employees, customer, products):
    from datetime import timedelta

    late = sent_invoice(session, employees, customer, products, invoice_date=date.today() - timedelta(days=90))
    fresh_one = sent_invoice(session, employees, customer, products)
    admin = login("admin")

    def numbers(query):  # the Fakturanr column of the list
        page = admin.client.get(f"/admin/invoice/?{query}").get_data(as_text=True)
        return {
            int(n)
            for n in re.findall(
                r'<td class="col-number[^"]*"[^>]*>\s*<a href="/admin/invoice/show/\d+">(\d+)</a>', page
            )
        }

    assert numbers("") == {late.number, fresh_one.number}
    assert numbers("flt0_1=1") == {late.number}  # Fler sökalternativ – Förfallen: Ja (filter 1)
    assert numbers("flt0_1=0") == {fresh_one.number}
    assert numbers("flt0_0=paid") == set()  # Status (filter 0)


def test_the_invoice_list_shows_the_drafts_then_the_highest_number_first(login, session, employees, customer, products):
    """Fakturor opens with the drafts (no number yet: work in progress), newest first, then the newest invoices:
    the highest number first, which is the latest invoice date too (numbers follow dates). The list was by id,
    so an invoice drafted early and sent late stood below those sent before it. Sorted by number ascending, the
    drafts are still on top, on both databases (SQLite sorts an empty value last in descending order)."""
    early = _draft_invoice(session, employees, customer, products)
    first_sent = sent_invoice(session, employees, customer, products)
    invoicing.send(session, fresh(session, Invoice, early.id))
    session.commit()
    last_sent = sent_invoice(session, employees, customer, products)
    _draft_invoice(session, employees, customer, products)
    cancelled = _draft_invoice(session, employees, customer, products)
    invoicing.cancel(fresh(session, Invoice, cancelled.id))
    session.commit()
    early = fresh(session, Invoice, early.id)
    assert (first_sent.number, early.number, last_sent.number) == (1001, 1002, 1003)
    admin = login("finance")

    def shown(query=""):  # (Fakturanr, Status) of each row, top to bottom
        page = admin.client.get(f"/admin/invoice/?{query}").get_data(as_text=True)
        numbers = re.findall(r'<td class="col-number[^"]*"[^>]*>\s*<a href="/admin/invoice/show/\d+">([^<]+)</a>', page)
        statuses = re.findall(r'<td class="col-status[^"]*"[^>]*>\s*([^<]+?)\s*<', page)
        return list(zip(numbers, statuses, strict=True))

    drafts = [("Utkast", "Makulerad"), ("Utkast", "Utkast")]
    assert shown() == [*drafts, ("1003", "Skickad"), ("1002", "Skickad"), ("1001", "Skickad")]
    assert shown("sort=0&desc=1") == shown()
    assert shown("sort=0") == [*drafts[::-1], ("1001", "Skickad"), ("1002", "Skickad"), ("1003", "Skickad")]
    exported = list(
        csv_reader(io.StringIO(admin.client.get("/admin/invoice/export/csv/").data.decode("utf-8-sig")), delimiter=";")
    )
    assert [row[0] for row in exported[1:]] == ["", "", "1003", "1002", "1001"]  # the list's order


def test_new_invoice_from_the_list_takes_the_chosen_customers_settings(login, customer, products):
    finance = login("finance")
    page = text(finance.client.get("/admin/invoice/new/"))
    assert sv("The customer's setting") in page
    response = finance.post(
        "/admin/invoice/new/",
        {
            "company": str(customer.id),
            "contact": "",
            "invoice_date": "2026-11-02",
            "payment_terms_days": "",
            "currency": "",
            "language": "",
            **lines_form({"product": "100", "quantity": "1"}),
        },
    )
    assert response.status_code == 302, flashes(response)
    invoice = db.session.scalars(select(Invoice)).one()
    assert (invoice.company_id, invoice.payment_terms_days, invoice.currency) == (customer.id, 20, "SEK")
    assert invoice.due_date.isoformat() == "2026-11-22" and invoice.lines[0].discount_percent == D("10")


def test_new_invoice_from_the_list_needs_a_customer(login):
    response = login("finance").post(
        "/admin/invoice/new/",
        {
            "company": "",
            "contact": "",
            "invoice_date": "2026-11-02",
            "currency": "",
            "language": "",
            **lines_form({"description": "X", "unit_price": "1"}),
        },
    )
    assert ("danger", sv("Choose the customer: a company or a private customer.")) in flashes(response)
    assert count(db.session, Invoice) == 0


def test_their_reference_is_one_of_the_customers_contacts(login, customer, make_contact, products):
    theirs = make_contact(companies=[customer], first_name="Karin", last_name="Köpare")
    stranger = make_contact(first_name="Annan", last_name="Person")
    seller = login("seller")
    page = text(seller.client.get(f"/admin/order/new/?company_id={customer.id}"))
    assert "Karin Köpare" in page and "Annan Person" not in page
    form = {
        "order_date": "2026-11-02",
        "currency": "SEK",
        "language": "sv",
        **lines_form({"product": "100", "quantity": "1"}),
    }
    saved = seller.post(f"/admin/order/new/?company_id={customer.id}", {**form, "their_reference": str(theirs.id)})
    assert saved.status_code == 302, flashes(saved)
    # someone not among the customer's contacts (or no one at all) is refused next to the field, not dropped
    for forged in (str(stranger.id), "99999"):
        refused = seller.post(f"/admin/order/new/?company_id={customer.id}", {**form, "their_reference": forged})
        assert refused.status_code == 200, forged
        assert field_errors(refused, "their_reference") == [sv("No record with id %(id)s.", id=forged)]
        assert ("danger", sv("Nothing was saved: correct the marked fields.")) in flashes(refused)
    orders = db.session.scalars(select(SalesOrder).order_by(SalesOrder.number)).all()
    assert [o.their_reference_id for o in orders] == [theirs.id]


def test_their_reference_no_longer_a_contact_of_the_customer_is_kept(login, customer, make_contact, products):
    """The order's Er referens stays its choice after the person left the company: shown and saved unchanged."""
    theirs = make_contact(companies=[customer], first_name="Karin", last_name="Köpare")
    seller = login("seller")
    form = {
        "order_date": "2026-11-02",
        "currency": "SEK",
        "language": "sv",
        **lines_form({"product": "100", "quantity": "1"}),
    }
    seller.post(f"/admin/order/new/?company_id={customer.id}", {**form, "their_reference": str(theirs.id)})
    order = db.session.scalars(select(SalesOrder)).one()
    db.session.execute(db.delete(CompanyContact).where(CompanyContact.contact_id == theirs.id))
    db.session.commit()
    page = text(seller.client.get(f"/admin/order/edit/?id={order.id}"))
    assert "Karin Köpare" in page
    saved = seller.post(
        f"/admin/order/edit/?id={order.id}",
        {**form, "their_reference": str(theirs.id), "note": "Leverans fredag", "version": str(order.version)},
    )
    assert saved.status_code == 302, flashes(saved)
    kept = fresh(db.session, SalesOrder, order.id)
    assert (kept.note, kept.their_reference_id) == ("Leverans fredag", theirs.id)


def test_invoice_report_refuses_a_malformed_period(login, customer):
    finance = login("finance")
    for url in ("invoice-report?from=32/11/2026", "invoice-report/export/csv?to=förrgår"):
        response = finance.client.get(f"/admin/company/card/{customer.id}/{url}", follow_redirects=True)
        assert response.status_code == 200
        assert ("danger", sv("Not a date; write for example 2026-12-05, 20261205, 5/12 or idag.")) in flashes(response)


def test_the_editor_returns_only_to_addresses_of_this_site(login, customer):
    seller = login("seller").client
    for target in ("javascript:alert(1)", "https://evil.example/"):
        response = seller.get(f"/admin/invoice/new/?company_id={customer.id}&url={target}")
        page = text(response)
        assert response.status_code == 400 and f'href="{target}"' not in page
        assert sv("The return address leads to another site and is not followed.") in page
    page = text(seller.get(f"/admin/invoice/new/?company_id={customer.id}&url=/admin/invoice/"))
    assert 'href="/admin/invoice/">' in page  # Avbryt goes back where the user came from


# --- the largest amounts an invoice holds (services.money.LARGEST) ------------------------------------


def flat(message: str) -> str:
    """A message as `flashes` reads it off the page (every run of spaces, non-breaking too, one space)."""
    return " ".join(message.split())


def header(kind: str) -> dict:
    """The editor's header fields of a new invoice or order, as posted."""
    dated = {"invoice_date": date.today().isoformat(), "payment_terms_days": "20"}
    return {
        **(dated if kind == "invoice" else {"order_date": date.today().isoformat()}),
        "currency": "SEK",
        "language": "sv",
        "their_reference": "__None",
    }


@pytest.mark.parametrize(
    ("kind", "quantity", "price"), [("invoice", "1000", "999999999"), ("order", "5000", "250000000")]
)
def test_a_line_amount_too_large_to_keep_is_refused_on_the_line(login, customer, kind, quantity, price):
    """Quantity and price are each allowed, their product is not: a Swedish message on the line naming
    the limit, nothing saved (PostgreSQL answered 500 NumericValueOutOfRange; SQLite lost the last digits)."""
    response = login("seller").post(
        f"/admin/{kind}/new/?company_id={customer.id}",
        {
            **header(kind),
            **lines_form(
                {"description": "Rimligt", "quantity": "1", "unit_price": "100", "vat_rate": "25"},
                {"description": "Orimligt", "quantity": quantity, "unit_price": price, "vat_rate": "25"},
            ),
        },
    )
    assert response.status_code == 200
    largest = money(Decimal("999999999.99"))
    message = sv("Line %(n)s: the amount is too large (at most %(largest)s).", n=2, largest=largest)
    assert ("danger", flat(message)) in flashes(response)
    assert largest == "999\u00a0999\u00a0999,99\u00a0kr"
    assert count(db.session, Invoice) == 0 and count(db.session, SalesOrder) == 0


def test_a_total_too_large_to_keep_is_refused(login, customer):
    """Each line is allowed, their sum with VAT is not."""
    response = login("seller").post(
        f"/admin/invoice/new/?company_id={customer.id}",
        {
            **header("invoice"),
            **lines_form(
                *[
                    {"description": f"Del {n}", "quantity": "1", "unit_price": "900000000", "vat_rate": "0"}
                    for n in (1, 2)
                ]
            ),
        },
    )
    assert response.status_code == 200
    message = sv(
        "The total is too large (at most %(largest)s): divide the lines among several invoices or orders.",
        largest=money(Decimal("999999999.99")),
    )
    assert ("danger", flat(message)) in flashes(response)
    assert count(db.session, Invoice) == 0


def test_the_api_keeps_the_same_limit(app, customer, employees, session):
    """POST /api/v1/invoices and /orders go through the same rule: 422 with the message, nothing saved;
    a product's price too."""
    from services import api_keys
    from tests.api_client import ApiClient

    secret = api_keys.create(session, None, employee=employees["admin"], name="Gränser").secret
    session.commit()
    api = ApiClient(app.test_client(), None, secret)
    for url in ("/api/v1/invoices", "/api/v1/orders"):
        response = api.post(
            url,
            {
                "company_id": customer.id,
                "lines": [{"description": "Orimligt", "quantity": "1000", "unit_price": "999999999", "vat_rate": "25"}],
            },
            validate=False,
        )
        assert response.status_code == 422, response.get_json()
        largest = money(Decimal("999999999.99"))
        assert response.get_json()["detail"] == sv(
            "Line %(n)s: the amount is too large (at most %(largest)s).", n=1, largest=largest
        )
    product = api.post("/api/v1/products", {"number": "X1", "name": "Ö", "price": "5000000000.00"}, validate=False)
    assert product.status_code == 422
    assert count(session, Invoice) == 0 and count(session, SalesOrder) == 0 and count(session, Product) == 0


# --- the same change sent twice at once (a double click, two users) -----------------------------------


def _at_once(clients, url):
    """POST `url` from each client at the same moment; their answers, redirects followed: (status, flashes)."""

    def post(client):
        try:
            response = client.post(url, follow_redirects=True)
        except Exception as exc:  # noqa: BLE001 - the testing app lets a 500's exception through: reported
            return (500, [("exception", repr(exc))], url)
        return (response.status_code, flashes(response), response.request.path)

    return at_once(post, [(client,) for client in clients])


def _draft_invoice(session, employees, customer, products):
    invoice = invoicing.new_invoice(session, employees["finance"], customer)
    invoicing.set_lines(invoice, [LineInput(product=products["100"], quantity="1")])
    session.commit()
    return invoice


def _order(session, employees, customer, products, status="draft"):
    order = invoicing.new_order(session, employees["seller"], customer)
    invoicing.set_lines(order, [LineInput(product=products["100"], quantity="1")])
    order.status = status
    session.commit()
    return order


@pytest.mark.parametrize(
    ("area", "action", "make", "refusal", "status"),
    [
        ("invoice", "send", _draft_invoice, "The invoice has already been sent.", "sent"),
        ("invoice", "paid", sent_invoice, "The invoice has already been marked as paid.", "paid"),
        ("invoice", "credit", sent_invoice, "The invoice has already been credited.", "credited"),
        ("invoice", "cancel", _draft_invoice, "The invoice has already been cancelled.", "cancelled"),
        ("order", "confirm", _order, "The order has already been confirmed.", "confirmed"),
        ("order", "cancel", _order, "The order has already been cancelled.", "cancelled"),
        ("order", "invoice", _order, "The order has already been invoiced.", "invoiced"),
    ],
)
def test_a_status_change_sent_four_times_at_once_is_made_once(
    login, session, employees, customer, products, area, action, make, refusal, status
):
    """Four at once: one is made, the other three are told why not (they answered 500 StaleDataError) and
    land on the document; the invoice numbers stay gap-free (a losing send gives its number back)."""
    document = make(session, employees, customer, products)
    model = Invoice if area == "invoice" else SalesOrder
    numbered_before = numbering.current_value(session, invoicing.INVOICE_SEQUENCE)  # sent_invoice sends one
    role = "finance" if area == "invoice" else "seller"
    answers = _at_once([login(role) for _ in range(4)], f"/admin/{area}/show/{document.id}/{action}")
    assert sorted(status for status, _flashes, _path in answers) == [200] * 4, answers
    said = sorted(category for _status, shown, _path in answers for category, _text in shown)
    assert said == ["danger"] * 3 + ["success"], answers
    assert [shown for _s, shown, _p in answers].count([("danger", sv(refusal))]) == 3, answers
    assert all(path == f"/admin/{area}/show/{document.id}" for _s, shown, path in answers if shown[0][0] == "danger")
    assert fresh(session, model, document.id).status == status
    issued = session.scalars(select(Invoice.number).where(Invoice.number.is_not(None)).order_by(Invoice.number)).all()
    if issued:  # one number per invoice issued, none lost
        assert issued == list(range(issued[0], issued[0] + len(issued)))
        assert numbering.current_value(session, invoicing.INVOICE_SEQUENCE) == issued[-1]
    assert len(issued) == (numbered_before is not None) + (action in ("send", "credit"))
    if action == "credit":
        assert count(session, Invoice, Invoice.credited_invoice_id == document.id) == 1
    if action == "invoice":
        assert count(session, Invoice, Invoice.order_id == document.id) == 1


# --- what may be sent: a payable total, a date in number order ---------------------------------------


def _draft_with(session, employees, customer, rows, invoice_date=None):
    invoice = invoicing.new_invoice(session, employees["finance"], customer)
    if invoice_date is not None:
        invoice.invoice_date = invoice_date
    invoicing.set_lines(invoice, rows, today=invoice_date)
    session.commit()
    return invoice


def free_line(price: str, vat: str = "25") -> LineInput:
    return LineInput(description="Rad", quantity="1", unit_price=price, vat_rate=vat, discount_percent="0")


def test_a_negative_invoice_is_not_sent_but_a_discount_line_is_fine(login, session, employees, customer):
    """A normal invoice with a negative total would ask the customer to pay a negative amount (with an
    OCR): refused, pointing to Kreditera; negative lines that lower a positive total are fine."""
    negative = _draft_with(session, employees, customer, [free_line("500"), free_line("-1000")])
    finance = login("finance")
    response = finance.post(f"/admin/invoice/show/{negative.id}/send", follow_redirects=True)
    message = sv(
        "The invoice's total is negative (%(total)s): an invoice cannot ask the customer to pay a "
        "negative amount. To pay money back to the customer, credit the invoice it concerns "
        "(Credit, on that invoice).",
        total=money(D("-625.00")),
    )
    assert ("danger", flat(message)) in flashes(response) and "Kreditera" in message
    assert response.request.path == f"/admin/invoice/show/{negative.id}"
    refused = fresh(session, Invoice, negative.id)
    assert (refused.status, refused.number, refused.ocr) == ("draft", None, None)
    assert numbering.current_value(session, invoicing.INVOICE_SEQUENCE) is None
    discounted = _draft_with(session, employees, customer, [free_line("1000"), free_line("-200")])
    response = finance.post(f"/admin/invoice/show/{discounted.id}/send", follow_redirects=True)
    assert [c for c, _t in flashes(response)] == ["success"]
    assert fresh(session, Invoice, discounted.id).total == D("1000.00")


def test_a_negative_invoice_sent_before_the_rule_is_not_marked_paid(login, session, employees, customer):
    invoice = _draft_with(session, employees, customer, [free_line("-100")])
    invoicing.recalculate(invoice)
    invoicing._issue(session, invoice, today=date.today())  # as it could be sent before
    session.commit()
    response = login("finance").post(f"/admin/invoice/show/{invoice.id}/paid", follow_redirects=True)
    assert [c for c, _t in flashes(response)] == ["danger"]
    assert fresh(session, Invoice, invoice.id).status == "sent"


def test_an_invoice_dated_before_the_latest_sent_one_is_not_sent(login, session, employees, customer):
    """Invoices are numbered in date order: a draft dated before the latest sent invoice is refused with
    what to do; dated that day or later it is sent and numbered after it."""
    today = date.today()
    later = _draft_with(session, employees, customer, [free_line("100")], today - timedelta(days=3))
    invoicing.send(session, later)
    session.commit()
    early = _draft_with(session, employees, customer, [free_line("100")], today - timedelta(days=10))
    finance = login("finance")
    response = finance.post(f"/admin/invoice/show/{early.id}/send", follow_redirects=True)
    message = sv(
        "The invoice date %(date)s is before %(latest)s, the date of invoice %(number)s: invoices are numbered "
        "in date order. Change the invoice date to %(latest)s or later (Edit) and send it again.",
        date=(today - timedelta(days=10)).isoformat(),
        latest=(today - timedelta(days=3)).isoformat(),
        number=later.number,
    )
    assert ("danger", flat(message)) in flashes(response)
    assert fresh(session, Invoice, early.id).number is None
    assert numbering.current_value(session, invoicing.INVOICE_SEQUENCE) == later.number  # no number lost
    early = fresh(session, Invoice, early.id)
    early.invoice_date = today - timedelta(days=3)
    session.commit()
    response = finance.post(f"/admin/invoice/show/{early.id}/send", follow_redirects=True)
    assert [c for c, _t in flashes(response)] == ["success"]
    assert fresh(session, Invoice, early.id).number == later.number + 1


@pytest.mark.parametrize(
    ("days", "msgid"),
    [
        (-366, "The invoice date %(date)s is more than a year back: change it (for example to today, %(today)s)."),
        (
            31,
            "The invoice date %(date)s is more than %(days)s days ahead: change it to a date at most "
            "%(days)s days from today (%(today)s).",
        ),
    ],
)
def test_an_invoice_date_far_from_today_is_refused_on_save_and_on_send(
    login, session, employees, customer, days, msgid
):
    """A year back or a month ahead: the editor refuses it (nothing saved), and so does sending a draft
    kept with it (0001-01-01 was accepted and sent, numbered after later-dated invoices and overdue at once)."""
    today = date.today()
    wrong = today + timedelta(days=days)
    message = flat(sv(msgid, date=wrong.isoformat(), today=today.isoformat(), days=30))
    finance = login("finance")
    response = finance.post(
        f"/admin/invoice/new/?company_id={customer.id}",
        {
            **header("invoice"),
            "invoice_date": wrong.isoformat(),
            **lines_form({"description": "Rad", "quantity": "1", "unit_price": "100", "vat_rate": "25"}),
        },
    )
    assert response.status_code == 200 and ("danger", message) in flashes(response)
    assert count(db.session, Invoice) == 0
    kept = _draft_with(session, employees, customer, [free_line("100")], wrong)  # a draft from before the rule
    response = finance.post(f"/admin/invoice/show/{kept.id}/send", follow_redirects=True)
    assert ("danger", message) in flashes(response)
    assert fresh(session, Invoice, kept.id).status == "draft"
    for edge in (today - timedelta(days=365), today + timedelta(days=30)):
        invoicing.check_invoice_date(edge, today)  # the limits themselves are allowed


def test_the_year_one_is_refused(login, customer):
    response = login("finance").post(
        f"/admin/invoice/new/?company_id={customer.id}",
        {
            **header("invoice"),
            "invoice_date": "0001-01-01",
            **lines_form({"description": "Rad", "quantity": "1", "unit_price": "100", "vat_rate": "25"}),
        },
    )
    message = sv(
        "The invoice date %(date)s is more than a year back: change it (for example to today, %(today)s).",
        date="0001-01-01",
        today=date.today().isoformat(),
    )
    assert response.status_code == 200 and flashes(response) == [("danger", flat(message))]
    assert count(db.session, Invoice) == 0


def test_a_credit_invoice_follows_a_later_dated_invoice(session, employees, customer, products):
    """Crediting today while an invoice dated later is already issued: the credit invoice takes that
    date, so numbers still follow dates."""
    today = date.today()
    first = _draft_with(session, employees, customer, [free_line("100")], today)
    invoicing.send(session, first)
    ahead = _draft_with(session, employees, customer, [free_line("100")], today + timedelta(days=5))
    invoicing.send(session, ahead, today=today)
    session.commit()
    credit_note = invoicing.credit(session, employees["finance"], first, today=today)
    session.commit()
    assert credit_note.invoice_date == today + timedelta(days=5) and credit_note.number == ahead.number + 1


# --- payment terms: one rule, 0–365 days (services.validation.payment_terms) ------------------------


def private_customer_form(terms: str) -> dict:
    return {
        "first_name": "Villkor",
        "last_name": "Privatkund",
        "invoice_language": "sv",
        "discount_percent": "0",
        "payment_terms_days": terms,
        "currency": "SEK",
    }


@pytest.mark.parametrize("terms", ["-1", "9999"])
def test_a_private_customers_payment_terms_are_0_to_365_days(login, terms):
    from models import Contact

    response = login("seller").post("/admin/privatecustomer/new/", private_customer_form(terms))
    assert response.status_code == 200
    assert field_errors(response, "payment_terms_days") == [sv("Payment terms must be between 0 and 365 days.")]
    assert count(db.session, Contact) == 0
    assert login("seller").post("/admin/privatecustomer/new/", private_customer_form("365")).status_code == 302


def test_a_companys_payment_terms_are_0_to_365_days_in_its_form_too(login, customer):
    """The company form (not only the card's Inställningar) keeps the rule."""
    response = login("admin").post(
        "/admin/company/new/",
        {
            "name": "Negativa villkor AB",
            "country": "SE",
            "status": "active",
            "invoice_language": "sv",
            "discount_percent": "0",
            "payment_terms_days": "-30",
            "currency": "SEK",
        },
    )
    assert response.status_code == 200
    assert field_errors(response, "payment_terms_days") == [sv("Payment terms must be between 0 and 365 days.")]
    assert count(db.session, Company, Company.name == "Negativa villkor AB") == 0


def test_the_customers_setting_never_gives_a_due_date_before_the_invoice_date(login, make_contact, products):
    """A private customer saved with -1 before the rule: "Kundens inställning" (left empty) and the
    card's prefilled invoice take 0 days, never a due date before the invoice date."""
    person = make_contact(first_name="Gammal", last_name="Kund", customer_number=777, payment_terms_days=-1)
    finance = login("finance")
    page = text(finance.client.get(f"/admin/invoice/new/?contact_id={person.id}"))
    assert re.search(r'name="payment_terms_days"[^>]*value="0"', page)
    response = finance.post(
        "/admin/invoice/new/",
        {
            "company": "",
            "contact": str(person.id),
            "invoice_date": date.today().isoformat(),
            "payment_terms_days": "",
            "currency": "",
            "language": "",
            **lines_form({"product": "100", "quantity": "1"}),
        },
    )
    assert response.status_code == 302, flashes(response)
    invoice = db.session.scalars(select(Invoice)).one()
    assert invoice.payment_terms_days == 0 and invoice.due_date == invoice.invoice_date


# --- the card's tab and its sums ------------------------------------------------------------------------


def _listed_invoices(tab: str) -> list[str]:
    """The invoice numbers (or "Utkast") in the order the card's invoice list shows them."""
    table = tab[tab.index('id="invoice-list"') : tab.index("</table>", tab.index('id="invoice-list"'))]
    return re.findall(r'href="/admin/invoice/show/\d+">([^<]+)</a>', table)


def test_the_cards_invoices_are_newest_first_by_date_then_number(login, session, employees, customer, products):
    """Drafts made in one order and sent in another: the list follows the numbers (it followed the ids:
    1073, 1069, 1072 …); a draft on top, an earlier-dated invoice last."""
    today = date.today()
    earlier = _draft_with(session, employees, customer, [free_line("100")], today - timedelta(days=7))
    invoicing.send(session, earlier)
    first, second, third = (_draft_with(session, employees, customer, [free_line("100")], today) for _ in range(3))
    for invoice in (third, first, second):
        invoicing.send(session, invoice)
    session.commit()
    _draft_with(session, employees, customer, [free_line("100")], today)
    tab = text(login("readonly").client.get(f"/admin/company/card/{customer.id}/tab/invoices"))
    assert _listed_invoices(tab) == [sv("Draft")] + [
        str(n) for n in (second.number, first.number, third.number, earlier.number)
    ]
    assert second.number > first.number > third.number > earlier.number


def test_a_paid_invoice_credited_shows_as_money_owed_back_not_as_zero(login, session, employees, customer, products):
    """Crediting a paid invoice made the pair "Krediterad 2 0,00 kr": the card's sums now count the
    credited invoice by its own total, apart when it had been paid (a refund is owed), and not its
    credit invoice; the lists mark it as paid."""
    paid = sent_invoice(session, employees, customer, products)
    invoicing.mark_paid(paid)
    unpaid = sent_invoice(session, employees, customer, products)
    session.commit()
    finance = login("finance")
    for invoice in (paid, unpaid):
        assert finance.post(f"/admin/invoice/show/{invoice.id}/credit").status_code == 302
    tab = text(finance.client.get(f"/admin/company/card/{customer.id}/tab/invoices"))
    sums = dict(re.findall(r'data-status="(\w+)"><td>[^<]*</td>\s*<td class="text-right">(\d+)</td>', tab))
    assert sums == {"credited_paid": "1", "credited": "1"}
    row = re.search(r'data-status="credited_paid">(.*?)</tr>', tab, re.S).group(1)
    assert sv("Credited after payment (refund to the customer)") in row and money(paid.total) in row
    assert money(D("0")) not in row
    assert sv("Paid %(date)s", date=date.today().isoformat()) in tab
    report = text(finance.client.get(f"/admin/company/card/{customer.id}/invoice-report"))
    assert sv("Paid %(date)s", date=date.today().isoformat()) in report
