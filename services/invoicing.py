"""Orders and invoices: the rules, in one place.

- Only a customer can be invoiced or sold to: a company, or a private
  customer (a contact with a customer number). The FAQ's reason is given
  when a contact without one is tried.
- A new order or invoice takes the customer's defaults (currency, invoice
  language, payment terms); a new line takes the customer's discount.
  An inactive product is not put on new lines; lines that have it keep it.
- Lines and totals are computed by services.money and stored, so lists and
  sums are plain SQL. A line's amount and a document's net, VAT and total
  are each below money.LARGEST (one limit, checked by `recalculate` for
  every writer: the editor, the API, order to invoice, send, credit).
- An invoice gets its number when it is sent, from the gap-free
  "invoice_number" sequence (the counter is advanced in the same
  transaction, so a rolled-back send gives its number back), together with
  its OCR reference and due date. A sent invoice is never edited: it is
  paid, or credited by a credit invoice with the negative lines — always,
  even when its customer was trashed since: the customer checks are for new
  documents.
- Drafts are deleted or cancelled (makulerad); they have no number.
- An order is numbered when created ("order_number"): the number is its reference from the first
  save on (its page, the card, the search, the API, where it is never null). Order numbers need not
  be gap-free, as invoice numbers must: a draft order deleted or never confirmed leaves a gap.
- Sending asks for a date near today (`check_invoice_date`), not before the
  latest issued invoice's (numbers follow dates: `_issue`) and, for a normal
  invoice, a total that is not negative (`check_payable`): money owed back
  is a credit invoice.
- A status change asked for twice (a double click, two users at once) is
  refused the second time with what became of the document ("already
  sent"): each change checks the status it starts from, and the caller runs
  a change that lost the race (its version was stale) again on what the
  first one saved (admin_views.invoicing's `_transition`).
"""

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from flask_babel import gettext as _
from sqlalchemy import case, func, select
from sqlalchemy.orm import Session, joinedload
from stdnum import luhn

from models import (
    VAT_RATES,
    Company,
    Contact,
    Employee,
    Invoice,
    InvoiceLine,
    OrderLine,
    Product,
    SalesOrder,
    utcnow,
)
from services import formatting, money, validation
from services.numbering import next_number
from services.paging import CustomerOrder, SortKey
from services.validation import InvalidValue

INVOICE_SEQUENCE = "invoice_number"
FIRST_INVOICE_NUMBER = 1001
ORDER_SEQUENCE = "order_number"
FIRST_ORDER_NUMBER = 5001

#: Invoice states that have a number (issued); drafts and cancelled drafts have none.
ISSUED = ("sent", "paid", "credited")
#: Orders that can still be changed and invoiced.
OPEN_ORDER = ("draft", "confirmed")


def not_invoiceable_message() -> str:
    """The FAQ's reason, for a contact without a customer number."""
    return _("To invoice a contact person, he or she must have a customer number in the CRM.")


# --- the customer ----------------------------------------------------------------------


def check_customer(company: Company | None, contact: Contact | None) -> Company | Contact:
    """The customer of an order or invoice: one company, or one private customer."""
    if company is not None and contact is not None:
        raise InvalidValue(_("Choose either a company or a private customer, not both."))
    customer = company or contact
    if customer is None:
        raise InvalidValue(_("Choose the customer: a company or a private customer."))
    if customer.is_deleted:
        raise InvalidValue(_("%(name)s is in the trash and cannot be invoiced.", name=customer.name))
    if isinstance(customer, Contact) and customer.customer_number is None:
        raise InvalidValue(not_invoiceable_message())
    return customer


def _customer_fields(customer) -> dict:
    if isinstance(customer, Company):
        return {"company": customer, "contact": None}
    return {"company": None, "contact": customer}


DEFAULT_PAYMENT_TERMS_DAYS = 30


def customer_payment_terms(customer) -> int:
    """The customer's payment terms for a new invoice: its setting, kept within the rule
    (services.validation.payment_terms; a value saved before it, e.g. -1, gives 0: never a due date
    before the invoice date)."""
    days = customer.payment_terms_days
    if days is None:
        return DEFAULT_PAYMENT_TERMS_DAYS
    low, high = validation.PAYMENT_TERMS_DAYS
    return min(max(days, low), high)


def due_date(invoice_date: date | None, terms_days: int) -> date | None:
    return None if invoice_date is None else invoice_date + timedelta(days=terms_days)


def new_order(session: Session, actor: Employee | None, customer, *, today: date | None = None) -> SalesOrder:
    """A draft order for `customer` with its defaults and the next order number."""
    check_customer(*((customer, None) if isinstance(customer, Company) else (None, customer)))
    order = SalesOrder(
        **_customer_fields(customer),
        number=next_number(session, ORDER_SEQUENCE, FIRST_ORDER_NUMBER),
        order_date=today or date.today(),
        status="draft",
        currency=customer.currency or "SEK",
        language=customer.invoice_language or "sv",
        our_reference=actor,
        created_by=actor if isinstance(actor, Employee) else None,
    )
    session.add(order)
    return order


def new_invoice(session: Session, actor: Employee | None, customer, *, today: date | None = None) -> Invoice:
    """A draft invoice (no number yet) for `customer` with its defaults."""
    check_customer(*((customer, None) if isinstance(customer, Company) else (None, customer)))
    invoice_date = today or date.today()
    invoice = Invoice(
        **_customer_fields(customer),
        status="draft",
        currency=customer.currency or "SEK",
        language=customer.invoice_language or "sv",
        payment_terms_days=customer_payment_terms(customer),
        invoice_date=invoice_date,
        our_reference=actor,
    )
    invoice.due_date = due_date(invoice_date, invoice.payment_terms_days)
    invoice.created_by = actor
    session.add(invoice)
    return invoice


# --- lines and totals --------------------------------------------------------------------


def is_editable(document) -> bool:
    """Drafts (and confirmed orders) can be changed; sent invoices never."""
    if isinstance(document, Invoice):
        return document.status == "draft"
    return document.status in OPEN_ORDER


def ensure_editable(document) -> None:
    if not is_editable(document):
        if isinstance(document, Invoice):
            raise InvalidValue(_("A sent invoice cannot be changed; credit it instead."))
        raise InvalidValue(_("An invoiced or cancelled order cannot be changed."))


@dataclass
class LineInput:
    """One line as typed: a product or free text."""

    description: str | None = None
    quantity: object = "1"
    unit: str | None = None
    unit_price: object = None
    discount_percent: object = None
    vat_rate: object = None
    product: Product | None = None


def _amount(value, message: str) -> Decimal:
    try:
        return money.parse(value if value not in (None, "") else "0")
    except (ValueError, TypeError, InvalidOperation):
        raise InvalidValue(message) from None


#: The precision of a line's stored quantity and discount (the columns').
QUANTITY_STEP, PERCENT_STEP = Decimal("0.001"), Decimal("0.01")


def build_line(line_class, row: LineInput, *, customer_discount: Decimal, position: int):
    """A validated line; what is left empty comes from the product, the discount from the customer."""
    product = row.product
    description = (row.description or "").strip() or (product.name if product else "")
    n = position + 1
    if not description:
        raise InvalidValue(_("Line %(n)s: choose a product or write a text.", n=n))
    quantity = _amount(row.quantity, _("Line %(n)s: the quantity is not a number.", n=n)).quantize(
        QUANTITY_STEP, rounding=ROUND_HALF_UP
    )  # as stored, so the amount is computed from what is kept
    if quantity == 0:
        raise InvalidValue(_("Line %(n)s: the quantity cannot be zero.", n=n))
    unit_price = (
        product.price
        if product is not None and row.unit_price in (None, "")
        else _amount(row.unit_price, _("Line %(n)s: the price is not an amount.", n=n))
    )
    discount = (
        customer_discount
        if row.discount_percent in (None, "")
        else _amount(row.discount_percent, _("Line %(n)s: the discount is not a number.", n=n))
    )
    discount = discount.quantize(PERCENT_STEP, rounding=ROUND_HALF_UP)
    if not Decimal("0") <= discount <= Decimal("100"):
        raise InvalidValue(_("Line %(n)s: the discount must be between 0 and 100 percent.", n=n))
    vat_rate = (
        product.vat_rate
        if product is not None and row.vat_rate in (None, "")
        else _amount(row.vat_rate, _("Line %(n)s: choose a VAT rate.", n=n))
    )
    if vat_rate not in VAT_RATES:
        raise InvalidValue(_("Line %(n)s: the VAT rate must be 25, 12, 6 or 0 percent.", n=n))
    unit = (row.unit or "").strip() or (product.unit if product else None)
    return line_class(
        position=position,
        product=product,
        description=description[:300],
        quantity=quantity,
        unit=(unit or None) and unit[:10],
        unit_price=money.round_ore(unit_price),
        discount_percent=discount,
        vat_rate=vat_rate,
    )


def set_lines(document, rows: list[LineInput], *, today: date | None = None) -> None:
    """Replace the lines of an editable order or invoice, and its totals. An inactive product
    is refused unless the document already has a line with it (those lines stay valid); so is
    an invoice date far from `today` (check_invoice_date)."""
    ensure_editable(document)
    kept = {line.product_id for line in document.lines}
    for n, row in enumerate(rows, 1):
        product = row.product
        if product is not None and not product.active and product.id not in kept:
            raise InvalidValue(
                _(
                    "Line %(n)s: product %(number)s %(name)s is inactive and cannot be put on new lines.",
                    n=n,
                    number=product.number,
                    name=product.name,
                )
            )
    if isinstance(document, Invoice):
        check_invoice_date(document.invoice_date, today)
        validation.payment_terms(document.payment_terms_days)
    line_class = InvoiceLine if isinstance(document, Invoice) else OrderLine
    customer = document.customer
    discount = Decimal(customer.discount_percent or 0) if customer is not None else Decimal("0")
    lines = [build_line(line_class, row, customer_discount=discount, position=i) for i, row in enumerate(rows)]
    document.lines = lines
    recalculate(document)


def recalculate(document) -> money.Totals:
    """Store each line's amount and the document's totals (services.money); InvalidValue when a line's
    amount or the document's net, VAT or total is larger than an invoice may hold (money.within_limit)."""
    largest = formatting.money(money.LARGEST_AMOUNT, document.currency)
    for n, line in enumerate(sorted(document.lines, key=lambda line: line.position), 1):
        amount = money.line_amount(line.quantity, line.unit_price, line.discount_percent)
        if not money.within_limit(amount):
            raise InvalidValue(_("Line %(n)s: the amount is too large (at most %(largest)s).", n=n, largest=largest))
        line.amount = amount
    result = money.totals(document.lines, document.currency)
    if not all(money.within_limit(value) for value in (result.net, result.vat, result.total)):
        raise InvalidValue(
            _(
                "The total is too large (at most %(largest)s): divide the lines among several invoices or orders.",
                largest=largest,
            )
        )
    document.net_amount, document.vat_amount = result.net, result.vat
    document.rounding, document.total = result.rounding, result.total
    if isinstance(document, Invoice):
        document.due_date = due_date(document.invoice_date, document.payment_terms_days)
    return result


def totals(document) -> money.Totals:
    return money.totals(document.lines, document.currency)


# --- invoices: send, pay, credit, cancel ---------------------------------------------------


def ocr_reference(number: int) -> str:
    """OCR number: the invoice number, a length digit and a Luhn check digit."""
    digits = str(number)
    body = digits + str((len(digits) + 2) % 10)
    return body + luhn.calc_check_digit(body)


#: How far from today an invoice may be dated: a year back (a forgotten draft is dated anew, not
#: booked in last year's books), a month ahead (a later date holds up every invoice after it: see
#: `_issue`).
DAYS_BACK, DAYS_AHEAD = 365, 30


def check_invoice_date(invoice_date: date | None, today: date | None = None) -> None:
    """An invoice date at most DAYS_BACK before and DAYS_AHEAD after today (when saved and when sent)."""
    today = today or date.today()
    if invoice_date is None:
        return
    if invoice_date < today - timedelta(days=DAYS_BACK):
        raise InvalidValue(
            _(
                "The invoice date %(date)s is more than a year back: change it (for example to today, %(today)s).",
                date=invoice_date.isoformat(),
                today=today.isoformat(),
            )
        )
    if invoice_date > today + timedelta(days=DAYS_AHEAD):
        raise InvalidValue(
            _(
                "The invoice date %(date)s is more than %(days)s days ahead: change it to a date at most "
                "%(days)s days from today (%(today)s).",
                date=invoice_date.isoformat(),
                days=DAYS_AHEAD,
                today=today.isoformat(),
            )
        )


def check_payable(invoice: Invoice) -> None:
    """A normal invoice asks the customer for money: its total is not negative. Negative lines that
    lower a positive total (a discount) are fine; money owed back is a credit invoice's."""
    if not invoice.is_credit and invoice.total < 0:
        raise InvalidValue(
            _(
                "The invoice's total is negative (%(total)s): an invoice cannot ask the customer to pay a "
                "negative amount. To pay money back to the customer, credit the invoice it concerns "
                "(Credit, on that invoice).",
                total=formatting.money(invoice.total, invoice.currency),
            )
        )


def send(session: Session, invoice: Invoice, *, today: date | None = None) -> int:
    """Finalise a draft: number, OCR, invoice and due date; from now on it is never edited."""
    if invoice.status in ISSUED:
        raise InvalidValue(_("The invoice has already been sent."))
    if invoice.status != "draft":
        raise InvalidValue(_("Only a draft invoice can be sent."))
    check_customer(invoice.company, invoice.contact)
    if not invoice.lines:
        raise InvalidValue(_("The invoice has no lines."))
    today = today or date.today()
    invoice.invoice_date = invoice.invoice_date or today
    check_invoice_date(invoice.invoice_date, today)
    recalculate(invoice)
    check_payable(invoice)
    return _issue(session, invoice, today=today)


def latest_issued(session: Session, but: Invoice | None = None):
    """(invoice_date, number) of the issued invoice dated last (the highest number of that day), or None."""
    stmt = select(Invoice.invoice_date, Invoice.number).where(Invoice.number.is_not(None))
    if but is not None and but.id is not None:
        stmt = stmt.where(Invoice.id != but.id)
    return session.execute(stmt.order_by(Invoice.invoice_date.desc(), Invoice.number.desc()).limit(1)).first()


def _issue(session: Session, invoice: Invoice, *, today: date | None, move_forward: bool = False) -> int:
    """Number and date an invoice and mark it sent (send's and credit's last step).

    Invoices are numbered in date order (Mervärdesskattelagen's löpnummer, in the order they are
    issued): an invoice dated before the latest issued one is refused (or, `move_forward`, a credit
    invoice dated today, moved to that date). Checked after the number is taken, under the
    sequence's lock, so two sends at once cannot pass it both."""
    invoice.invoice_date = invoice.invoice_date or today or date.today()
    recalculate(invoice)
    number = next_number(session, INVOICE_SEQUENCE, FIRST_INVOICE_NUMBER)
    latest = latest_issued(session, but=invoice)
    if latest is not None and latest.invoice_date is not None and invoice.invoice_date < latest.invoice_date:
        if not move_forward:
            raise InvalidValue(
                _(
                    "The invoice date %(date)s is before %(latest)s, the date of invoice %(number)s: invoices "
                    "are numbered in date order. Change the invoice date to %(latest)s or later (Edit) and "
                    "send it again.",
                    date=invoice.invoice_date.isoformat(),
                    latest=latest.invoice_date.isoformat(),
                    number=latest.number,
                )
            )
        invoice.invoice_date = latest.invoice_date
        recalculate(invoice)
    invoice.number = number
    invoice.ocr = ocr_reference(invoice.number)
    invoice.status = "sent"
    invoice.sent_at = utcnow()
    return invoice.number


def mark_paid(invoice: Invoice, *, paid_on: date | None = None) -> None:
    if invoice.status == "paid":
        raise InvalidValue(_("The invoice has already been marked as paid."))
    if invoice.status != "sent" or invoice.is_credit:
        raise InvalidValue(_("Only a sent invoice can be marked as paid."))
    check_payable(invoice)
    invoice.status = "paid"
    invoice.paid_at = paid_on or date.today()


def credit(session: Session, actor: Employee | None, invoice: Invoice, *, today: date | None = None) -> Invoice:
    """A credit invoice with the negative lines, sent at once; both are then "credited"."""
    if invoice.status == "credited" and not invoice.is_credit:
        raise InvalidValue(_("The invoice has already been credited."))
    if invoice.status not in ("sent", "paid") or invoice.is_credit:
        raise InvalidValue(_("Only a sent or paid invoice can be credited."))
    today = today or date.today()
    credit_note = Invoice(
        company=invoice.company,
        contact=invoice.contact,
        our_reference=invoice.our_reference,
        their_reference=invoice.their_reference,
        status="draft",
        currency=invoice.currency,
        language=invoice.language,
        payment_terms_days=0,
        invoice_date=today,
        credited_invoice=invoice,
        order=invoice.order,
        created_by=actor,
        lines=[
            InvoiceLine(
                position=line.position,
                product=line.product,
                description=line.description,
                quantity=-line.quantity,
                unit=line.unit,
                unit_price=line.unit_price,
                discount_percent=line.discount_percent,
                vat_rate=line.vat_rate,
            )
            for line in invoice.lines
        ],
    )
    session.add(credit_note)
    # not send(): whatever became of the customer (trashed, no customer number), a sent invoice is credited;
    # dated today, or the date of a later-dated invoice already issued (numbers follow dates)
    _issue(session, credit_note, today=today, move_forward=True)
    credit_note.status = invoice.status = "credited"
    return credit_note


def credit_notes(invoice: Invoice):
    """The credit invoices that credit `invoice`."""
    return select(Invoice).where(Invoice.credited_invoice_id == invoice.id).order_by(Invoice.number)


def cancel(invoice: Invoice) -> None:
    """Makulera a draft (it has no number, so the sequence keeps no gap)."""
    if invoice.status == "cancelled":
        raise InvalidValue(_("The invoice has already been cancelled."))
    if invoice.status != "draft":
        raise InvalidValue(_("Only a draft invoice can be cancelled; credit a sent invoice instead."))
    invoice.status = "cancelled"


def delete_draft(session: Session, invoice: Invoice) -> None:
    if invoice.status not in ("draft", "cancelled") or invoice.number is not None:
        raise InvalidValue(_("A sent invoice cannot be deleted; credit it instead."))
    session.delete(invoice)


# --- orders ------------------------------------------------------------------------------------


def confirm_order(order: SalesOrder) -> None:
    if order.status == "confirmed":
        raise InvalidValue(_("The order has already been confirmed."))
    if order.status != "draft":
        raise InvalidValue(_("Only a draft order can be confirmed."))
    if not order.lines:
        raise InvalidValue(_("The order has no lines."))
    order.status = "confirmed"


def cancel_order(order: SalesOrder) -> None:
    if order.status == "cancelled":
        raise InvalidValue(_("The order has already been cancelled."))
    if order.status not in OPEN_ORDER:
        raise InvalidValue(_("An invoiced order cannot be cancelled; credit its invoice instead."))
    order.status = "cancelled"


def order_to_invoice(
    session: Session, actor: Employee | None, order: SalesOrder, *, today: date | None = None
) -> Invoice:
    """A draft invoice with the order's customer, references and lines; the order is then invoiced."""
    if order.status == "invoiced":
        raise InvalidValue(_("The order has already been invoiced."))
    if order.status not in OPEN_ORDER:
        raise InvalidValue(_("Only a draft or confirmed order can be invoiced."))
    if not order.lines:
        raise InvalidValue(_("The order has no lines."))
    customer = check_customer(order.company, order.contact)
    invoice = new_invoice(session, actor, customer, today=today)
    invoice.order = order
    invoice.our_reference = order.our_reference or actor
    invoice.their_reference = order.their_reference
    invoice.currency, invoice.language, invoice.note = order.currency, order.language, order.note
    invoice.lines = [
        InvoiceLine(
            position=line.position,
            product=line.product,
            description=line.description,
            quantity=line.quantity,
            unit=line.unit,
            unit_price=line.unit_price,
            discount_percent=line.discount_percent,
            vat_rate=line.vat_rate,
        )
        for line in order.lines
    ]
    recalculate(invoice)
    order.status = "invoiced"
    return invoice


def delete_order(session: Session, order: SalesOrder) -> None:
    if order.status == "invoiced":
        raise InvalidValue(_("An invoiced order cannot be deleted."))
    session.delete(order)


# --- what the customer card shows -------------------------------------------------------------


def _owned_by(model, customer):
    return model.company_id == customer.id if isinstance(customer, Company) else model.contact_id == customer.id


#: Drafts (no number yet) on top, then newest invoice date first and, within a day, the highest number
#: first (not the id: a draft made earlier may be sent later, and gets the later number).
INVOICES_ORDER = CustomerOrder(
    SortKey(Invoice.number.is_(None), descending=True),
    SortKey(Invoice.invoice_date, descending=True, nullable=True),
    SortKey(Invoice.number, descending=True, nullable=True),
    SortKey(Invoice.id, descending=True),
)
ORDERS_ORDER = CustomerOrder(
    SortKey(SalesOrder.order_date, descending=True),
    SortKey(SalesOrder.number, descending=True),
    SortKey(SalesOrder.id, descending=True),
)


def invoices_for(customer):
    """The customer's invoices, newest first by date, then number (drafts, which have no number yet, on top)."""
    return (
        select(Invoice)
        .where(_owned_by(Invoice, customer))
        .options(joinedload(Invoice.our_reference))
        .order_by(*INVOICES_ORDER.clauses())
    )


def orders_for(customer):
    """The customer's orders, newest first by order date, then number."""
    return (
        select(SalesOrder)
        .where(_owned_by(SalesOrder, customer))
        .options(joinedload(SalesOrder.our_reference))
        .order_by(*ORDERS_ORDER.clauses())
    )


def overdue_condition(today: date):
    return (Invoice.status == "sent") & (Invoice.due_date < today)


def is_overdue(invoice: Invoice, today: date | None = None) -> bool:
    return invoice.status == "sent" and invoice.due_date is not None and invoice.due_date < (today or date.today())


@dataclass
class StatusSum:
    key: str
    currency: str
    count: int
    total: Decimal


def status_sums(session: Session, customer, today: date | None = None) -> list[StatusSum]:
    """Invoice sums per status and currency, in one query: "overdue" (sent, past due) apart from
    "sent", and "credited_paid" (credited after it was paid: money owed back to the customer) apart
    from "credited". A credited invoice counts with its own total (what was credited) and its credit
    invoice not at all: the pair added up to 0,00 kr, hiding a paid invoice's refund."""
    today = today or date.today()
    key = case(
        (overdue_condition(today), "overdue"),
        ((Invoice.status == "credited") & Invoice.paid_at.is_not(None), "credited_paid"),
        else_=Invoice.status,
    )
    rows = session.execute(
        select(key.label("key"), Invoice.currency, func.count(), func.coalesce(func.sum(Invoice.total), 0))
        .where(_owned_by(Invoice, customer), Invoice.status != "cancelled", Invoice.credited_invoice_id.is_(None))
        .group_by(key, Invoice.currency)
    ).all()
    order = {k: n for n, k in enumerate(("draft", "sent", "overdue", "paid", "credited_paid", "credited"))}
    sums = [StatusSum(k, c, n, Decimal(t)) for k, c, n, t in rows]
    return sorted(sums, key=lambda s: (order.get(s.key, 99), s.currency))
