"""services.invoicing and services.invoice_report: customers, defaults, lines,
sending with gap-free numbers (also under concurrency), crediting, orders."""

import re
import threading
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import select
from stdnum import luhn

from extensions import db
from models import Invoice
from services import invoice_report, invoicing, money, numbering
from services.invoicing import LineInput
from services.validation import InvalidValue
from tests.helpers import sv

D = Decimal
TODAY = date(2026, 11, 2)


@pytest.fixture
def customer(make_company):
    return make_company(
        name="Fakturakund AB", discount_percent=D("10"), payment_terms_days=20, currency="SEK", invoice_language="en"
    )


def draft(session, employees, customer, products, *rows):
    invoice = invoicing.new_invoice(session, employees["finance"], customer, today=TODAY)
    invoicing.set_lines(invoice, list(rows) or [LineInput(product=products["100"], quantity="2")])
    session.commit()
    return invoice


# --- the customer ---------------------------------------------------------------------------


def test_a_contact_without_customer_number_cannot_be_invoiced(session, employees, make_contact):
    person = make_contact()
    with pytest.raises(InvalidValue) as refused:
        invoicing.new_invoice(session, employees["finance"], person)
    assert str(refused.value) == sv("To invoice a contact person, he or she must have a customer number in the CRM.")
    assert "kundnummer" in str(refused.value)
    with pytest.raises(InvalidValue):
        invoicing.new_order(session, employees["seller"], person)
    session.rollback()
    assert session.scalar(select(db.func.count()).select_from(Invoice)) == 0


def test_a_private_customer_can_be_invoiced(session, employees, make_contact):
    person = make_contact(payment_terms_days=10, currency="SEK", invoice_language="sv")
    numbering.make_private_customer(session, person)
    invoice = invoicing.new_invoice(session, employees["finance"], person, today=TODAY)
    session.commit()
    assert invoice.contact is person and invoice.company is None
    assert invoice.due_date == date(2026, 11, 12)


def test_a_new_invoice_takes_the_customers_defaults(session, employees, customer):
    invoice = invoicing.new_invoice(session, employees["finance"], customer, today=TODAY)
    assert (invoice.currency, invoice.language, invoice.payment_terms_days) == ("SEK", "en", 20)
    assert invoice.invoice_date == TODAY and invoice.due_date == date(2026, 11, 22)
    assert invoice.number is None and invoice.status == "draft"
    assert invoice.our_reference is employees["finance"]


def test_both_or_no_customer_is_refused(make_company, make_contact):
    with pytest.raises(InvalidValue):
        invoicing.check_customer(None, None)
    with pytest.raises(InvalidValue):
        invoicing.check_customer(make_company(), make_contact(customer_number=77))


# --- lines -------------------------------------------------------------------------------


def test_lines_take_product_values_and_the_customers_discount(session, employees, customer, products):
    invoice = draft(
        session,
        employees,
        customer,
        products,
        LineInput(product=products["100"], quantity="2"),
        LineInput(product=products["200"], quantity="3", discount_percent="0"),
        LineInput(description="Frakt", quantity="1", unit_price="99", vat_rate="25"),
    )
    first, book, freight = invoice.lines
    assert (first.description, first.unit, first.unit_price, first.vat_rate, first.discount_percent) == (
        "Konsulttimme",
        "tim",
        D("950.00"),
        D("25"),
        D("10"),
    )
    assert first.amount == D("1710.00")
    assert book.discount_percent == D("0") and book.amount == D("747.00")
    assert freight.product is None and freight.discount_percent == D("10") and freight.amount == D("89.10")
    # 1799.10 at 25 % → 449.78; 747.00 at 6 % → 44.82; total 2990.70 → 2991
    assert (invoice.net_amount, invoice.vat_amount, invoice.rounding, invoice.total) == (
        D("2546.10"),
        D("494.60"),
        D("0.30"),
        D("3041.00"),
    )


@pytest.mark.parametrize(
    "row, message",
    [
        (
            LineInput(description="", quantity="1", unit_price="1", vat_rate="25"),
            "Line %(n)s: choose a product or write a text.",
        ),
        (
            LineInput(description="X", quantity="0", unit_price="1", vat_rate="25"),
            "Line %(n)s: the quantity cannot be zero.",
        ),
        (
            LineInput(description="X", quantity="abc", unit_price="1", vat_rate="25"),
            "Line %(n)s: the quantity is not a number.",
        ),
        (
            LineInput(description="X", quantity="1", unit_price="1", vat_rate="20"),
            "Line %(n)s: the VAT rate must be 25, 12, 6 or 0 percent.",
        ),
        (
            LineInput(description="X", quantity="1", unit_price="1", vat_rate="25", discount_percent="120"),
            "Line %(n)s: the discount must be between 0 and 100 percent.",
        ),
    ],
)
def test_bad_lines_are_refused_with_a_swedish_message(session, employees, customer, row, message):
    invoice = invoicing.new_invoice(session, employees["finance"], customer, today=TODAY)
    with pytest.raises(InvalidValue) as refused:
        invoicing.set_lines(invoice, [row])
    assert str(refused.value) == sv(message, n=1)
    assert str(refused.value).startswith("Rad 1: ")


# --- sending, numbers, OCR ---------------------------------------------------------------------


def test_sending_numbers_the_invoice_with_ocr(session, employees, customer, products):
    invoice = draft(session, employees, customer, products)
    number = invoicing.send(session, invoice, today=TODAY)
    session.commit()
    assert number == invoicing.FIRST_INVOICE_NUMBER
    assert invoice.status == "sent" and invoice.sent_at is not None
    assert invoice.ocr.startswith(str(number)) and luhn.is_valid(invoice.ocr)
    assert invoice.ocr == "100164"  # 1001, length digit 6, Luhn check digit 4
    second = draft(session, employees, customer, products)
    assert invoicing.send(session, second) == number + 1


def test_a_sent_invoice_is_never_edited(session, employees, customer, products):
    invoice = draft(session, employees, customer, products)
    invoicing.send(session, invoice, today=TODAY)
    with pytest.raises(InvalidValue) as refused:
        invoicing.set_lines(invoice, [LineInput(description="Mer", quantity="1", unit_price="1", vat_rate="25")])
    assert "kreditera" in str(refused.value)
    with pytest.raises(InvalidValue):
        invoicing.send(session, invoice)
    with pytest.raises(InvalidValue):
        invoicing.cancel(invoice)
    with pytest.raises(InvalidValue):
        invoicing.delete_draft(session, invoice)


def test_an_invoice_without_lines_is_not_sent(session, employees, customer):
    invoice = invoicing.new_invoice(session, employees["finance"], customer)
    with pytest.raises(InvalidValue):
        invoicing.send(session, invoice)


def test_a_rolled_back_send_gives_its_number_back(session, employees, customer, products):
    invoice = draft(session, employees, customer, products)
    invoice_id = invoice.id
    invoicing.send(session, invoice)
    session.flush()
    session.rollback()
    again = session.get(Invoice, invoice_id)
    assert again.number is None and again.status == "draft"
    assert invoicing.send(session, again) == invoicing.FIRST_INVOICE_NUMBER


def test_drafts_are_cancelled_or_deleted_without_using_a_number(session, employees, customer, products):
    cancelled = draft(session, employees, customer, products)
    invoicing.cancel(cancelled)
    deleted = draft(session, employees, customer, products)
    invoicing.delete_draft(session, deleted)
    session.commit()
    assert cancelled.status == "cancelled" and cancelled.number is None
    assert numbering.current_value(session, invoicing.INVOICE_SEQUENCE) is None


def test_paid_and_credit(session, employees, customer, products):
    invoice = draft(session, employees, customer, products)
    invoicing.send(session, invoice, today=TODAY)
    invoicing.mark_paid(invoice, paid_on=date(2026, 11, 20))
    assert invoice.status == "paid" and invoice.paid_at == date(2026, 11, 20)
    credit_note = invoicing.credit(session, employees["finance"], invoice, today=TODAY)
    session.commit()
    assert credit_note.credited_invoice is invoice and credit_note.number == invoice.number + 1
    assert (invoice.status, credit_note.status) == ("credited", "credited")
    assert credit_note.total == -invoice.total and credit_note.vat_amount == -invoice.vat_amount
    assert [line.quantity for line in credit_note.lines] == [-line.quantity for line in invoice.lines]
    with pytest.raises(InvalidValue):
        invoicing.credit(session, employees["finance"], invoice)
    with pytest.raises(InvalidValue):
        invoicing.credit(session, employees["finance"], credit_note)


@pytest.mark.parametrize("change", ["trashed", "lost its customer number"])
def test_a_sent_invoice_is_credited_whatever_became_of_its_customer(session, employees, make_contact, products, change):
    """The customer checks are for new documents: a sent invoice can always be credited."""
    from services import trash

    person = make_contact(first_name="Kredit", last_name="Kund")
    numbering.make_private_customer(session, person)
    invoice = draft(session, employees, person, products)
    invoicing.send(session, invoice, today=TODAY)
    session.commit()
    if change == "trashed":
        trash.delete(session, employees["admin"], type(person), [person.id])
    else:
        person.customer_number = None
    session.commit()
    credit_note = invoicing.credit(session, employees["finance"], invoice, today=TODAY)
    session.commit()
    assert credit_note.contact is person and credit_note.number == invoice.number + 1
    assert credit_note.total == -invoice.total and invoice.status == "credited"
    with pytest.raises(InvalidValue):  # a new invoice for that customer is still refused
        invoicing.new_invoice(session, employees["finance"], person)


def test_an_inactive_product_is_refused_on_new_lines_but_kept_on_existing_ones(session, employees, customer, products):
    old = products["900"]
    old.active = True
    invoice = draft(session, employees, customer, products, LineInput(product=old, quantity="1"))
    old.active = False
    session.commit()
    # the saved line keeps its product, and the draft can still be saved with it (and sent, credited)
    invoicing.set_lines(invoice, [LineInput(product=old, quantity="3"), LineInput(product=products["100"])])
    assert [line.product for line in invoice.lines] == [old, products["100"]]
    other = invoicing.new_invoice(session, employees["finance"], customer, today=TODAY)
    with pytest.raises(InvalidValue) as refused:
        invoicing.set_lines(other, [LineInput(product=products["100"]), LineInput(product=old)])
    assert str(refused.value) == sv(
        "Line %(n)s: product %(number)s %(name)s is inactive and cannot be put on new lines.",
        n=2,
        number="900",
        name="Utgången vara",
    )
    order = invoicing.new_order(session, employees["seller"], customer)
    with pytest.raises(InvalidValue):
        invoicing.set_lines(order, [LineInput(product=old)])


# --- orders ---------------------------------------------------------------------------------------


def test_order_to_invoice(session, employees, customer, products):
    order = invoicing.new_order(session, employees["seller"], customer, today=TODAY)
    invoicing.set_lines(order, [LineInput(product=products["300"], quantity="4")])
    invoicing.confirm_order(order)
    session.commit()
    assert order.number == invoicing.FIRST_ORDER_NUMBER and order.status == "confirmed"
    invoice = invoicing.order_to_invoice(session, employees["finance"], order, today=TODAY)
    session.commit()
    assert order.status == "invoiced" and invoice.order is order and invoice.status == "draft"
    assert [(line.description, line.quantity, line.discount_percent) for line in invoice.lines] == [
        ("Lunch", D("4.000"), D("10.00"))
    ]
    assert invoice.total == order.total and invoice.our_reference is employees["seller"]
    with pytest.raises(InvalidValue):
        invoicing.order_to_invoice(session, employees["finance"], order)
    with pytest.raises(InvalidValue):
        invoicing.set_lines(order, [])


# --- the card's sums and the report ---------------------------------------------------------------


def test_status_sums_tell_overdue_from_outstanding(session, employees, customer, products):
    overdue = draft(session, employees, customer, products)
    overdue.invoice_date = date(2026, 1, 10)
    invoicing.send(session, overdue, today=date(2026, 1, 10))
    outstanding = draft(session, employees, customer, products)
    invoicing.send(session, outstanding, today=TODAY)
    draft(session, employees, customer, products)
    session.commit()
    sums = {s.key: (s.count, s.total) for s in invoicing.status_sums(session, customer, today=TODAY)}
    assert sums == {"draft": (1, D("2138.00")), "sent": (1, D("2138.00")), "overdue": (1, D("2138.00"))}


def test_invoice_report_products_and_months(session, employees, customer, products, make_company):
    other = make_company()
    sales = [
        (
            date(2026, 3, 5),
            [LineInput(product=products["100"], quantity="2"), LineInput(product=products["200"], quantity="1")],
        ),
        (date(2026, 3, 20), [LineInput(product=products["100"], quantity="1")]),
        (
            date(2026, 5, 1),
            [LineInput(description="Frakt", quantity="1", unit_price="100", vat_rate="25", discount_percent="0")],
        ),
    ]
    elsewhere = invoicing.new_invoice(session, employees["finance"], other, today=date(2026, 3, 5))
    invoicing.set_lines(elsewhere, [LineInput(product=products["100"], quantity="9")])
    invoicing.send(session, elsewhere, today=date(2026, 3, 5))
    issued = []
    for day, rows in sales:  # in date order, as they are numbered
        invoice = invoicing.new_invoice(session, employees["finance"], customer, today=day)
        invoicing.set_lines(invoice, rows)
        invoicing.send(session, invoice, today=day)
        issued.append(invoice)
        if day == date(2026, 3, 20):
            credited = invoicing.credit(session, employees["finance"], invoice, today=date(2026, 3, 25))
    draft(session, employees, customer, products)  # a draft is no sale
    session.commit()

    report = invoice_report.build(session, customer, date(2026, 1, 1), date(2026, 12, 31))
    assert [i.number for i in report.invoices] == [
        issued[0].number,
        issued[1].number,
        credited.number,
        issued[2].number,
    ]
    rows = {r.name: (r.number, r.quantity, r.amount) for r in report.products}
    # 2 + 1 − 1 hours at 950 less 10 %
    assert rows == {
        "Konsulttimme": ("100", D("2"), D("1710.00")),
        "Kokbok": ("200", D("1"), D("224.10")),
        "Frakt": ("", D("1"), D("100.00")),
    }
    assert [(m.year, m.month, m.count, m.net) for m in report.months] == [
        (2026, 3, 3, D("1934.10")),
        (2026, 5, 1, D("100.00")),
    ]
    assert report.net == D("2034.10")
    assert report.years == [(2026, D("2034.10"), report.total)]
    march = invoice_report.build(session, customer, date(2026, 3, 1), date(2026, 3, 31))
    assert len(march.invoices) == 3 and {r.name for r in march.products} == {"Konsulttimme", "Kokbok"}


# --- numbering under concurrency -------------------------------------------------------------------


def _send_concurrently(app, invoice_ids, rollback_every=0):
    barrier = threading.Barrier(len(invoice_ids))
    numbers, errors, lock = [], [], threading.Lock()

    def work(index, invoice_id):
        try:
            with app.app_context():
                invoice = db.session.get(Invoice, invoice_id)
                _ = invoice.lines
                barrier.wait(timeout=60)
                number = invoicing.send(db.session, invoice)
                db.session.flush()
                if rollback_every and index % rollback_every == 0:
                    db.session.rollback()
                    return
                db.session.commit()
                with lock:
                    numbers.append(number)
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            with lock:
                errors.append(exc)

    threads = [threading.Thread(target=work, args=(i, invoice_id)) for i, invoice_id in enumerate(invoice_ids)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads), "a worker hung"
    return numbers, errors


@pytest.mark.parametrize("rollback_every", [0, 3], ids=["all-commit", "some-roll-back"])
def test_concurrent_sending_gives_gap_free_numbers(app, session, employees, customer, products, rollback_every):
    """Ten invoices sent at the same moment (PostgreSQL: row lock; SQLite: write lock)
    get distinct numbers without gaps, also when some sends are rolled back."""
    ids = [draft(session, employees, customer, products).id for _ in range(10)]
    first = draft(session, employees, customer, products)
    invoicing.send(session, first)  # the counter row exists
    session.commit()
    numbers, errors = _send_concurrently(app, ids, rollback_every)
    assert not errors, errors
    expected = 10 - (len(range(0, 10, rollback_every)) if rollback_every else 0)
    assert sorted(numbers) == list(range(first.number + 1, first.number + 1 + expected))
    session.expire_all()
    stored = session.scalars(select(Invoice.number).where(Invoice.number.is_not(None)).order_by(Invoice.number)).all()
    assert stored == list(range(first.number, first.number + 1 + expected))
    assert numbering.current_value(session, invoicing.INVOICE_SEQUENCE) == stored[-1]


def test_invoice_report_never_adds_currencies_together(session, employees, customer, products):
    kronor = invoicing.new_invoice(session, employees["finance"], customer, today=date(2026, 3, 5))
    invoicing.set_lines(kronor, [LineInput(product=products["100"], quantity="1")])
    invoicing.send(session, kronor, today=date(2026, 3, 5))
    euro = invoicing.new_invoice(session, employees["finance"], customer, today=date(2026, 4, 5))
    euro.currency = "EUR"
    invoicing.set_lines(
        euro, [LineInput(description="Workshop", quantity="1", unit_price="500", vat_rate="0", discount_percent="0")]
    )
    invoicing.send(session, euro, today=date(2026, 4, 5))
    session.commit()

    in_kronor = invoice_report.build(session, customer, date(2026, 1, 1), date(2026, 12, 31))
    assert (in_kronor.currency, in_kronor.other_currencies) == (customer.currency, ["EUR"])
    assert [i.number for i in in_kronor.invoices] == [kronor.number] and in_kronor.net == kronor.net_amount
    in_euro = invoice_report.build(session, customer, date(2026, 1, 1), date(2026, 12, 31), "EUR")
    assert [i.number for i in in_euro.invoices] == [euro.number] and in_euro.net == D("500.00")
    assert [r.name for r in in_euro.products] == ["Workshop"] and in_euro.other_currencies == [customer.currency]


# --- the largest amounts (services.money.LARGEST) -----------------------------------------------------


def test_amounts_an_invoice_cannot_hold_are_refused_by_every_writer(session, employees, customer, products):
    """A line's amount and the total are below money.LARGEST, whoever writes the lines (set_lines) and
    when a draft kept before the rule is sent or an order invoiced (recalculate)."""
    invoice = invoicing.new_invoice(session, employees["finance"], customer, today=TODAY)
    too_large = sv(
        "Line %(n)s: the amount is too large (at most %(largest)s).", n=1, largest="999\u00a0999\u00a0999,99\u00a0kr"
    )
    with pytest.raises(InvalidValue, match=f"^{re.escape(too_large)}$"):
        invoicing.set_lines(
            invoice,
            [
                LineInput(
                    description="Stort", quantity="1000", unit_price="999999999", vat_rate="25", discount_percent="0"
                )
            ],
        )
    session.rollback()
    largest_line = LineInput(
        description="Nästan", quantity="1", unit_price="999999999.49", vat_rate="0", discount_percent="0"
    )
    invoice = invoicing.new_invoice(session, employees["finance"], customer, today=TODAY)
    invoicing.set_lines(invoice, [largest_line])  # the largest amount itself is allowed
    assert invoice.total == D("999999999.00") and not money.within_limit(D("999999999.99") + D("0.01"))
    with pytest.raises(InvalidValue):
        invoicing.set_lines(invoice, [largest_line, largest_line])
    with pytest.raises(InvalidValue):  # 800 000 000 + 25 % VAT
        invoicing.set_lines(
            invoice,
            [LineInput(description="Moms", quantity="1", unit_price="800000000", vat_rate="25", discount_percent="0")],
        )
    session.rollback()
    kept = invoicing.new_invoice(session, employees["finance"], customer, today=TODAY)
    invoicing.set_lines(kept, [LineInput(product=products["100"], quantity="1")])
    session.flush()
    kept.lines[0].quantity = D("1000")
    kept.lines[0].unit_price = D("999999999")  # as SQLite kept it before the rule
    with pytest.raises(InvalidValue):
        invoicing.send(session, kept, today=TODAY)
    session.rollback()
    assert numbering.current_value(session, invoicing.INVOICE_SEQUENCE) is None
