"""Fakturarapport: a customer's invoices in a period, the products sold, totals per month.

Counts issued invoices (sent, paid, credited: those with a number) dated in
the period; credit invoices count negatively, so a credited sale nets to
zero. Drafts and cancelled drafts are not sales. Amounts are net (excl. VAT)
except the invoice list's total to pay. One currency at a time (the
customer's own unless another is asked for): kronor and euro are never added.
"""

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from sqlalchemy import extract, func, select
from sqlalchemy.orm import Session, joinedload

from models import Company, Invoice, InvoiceLine, Product
from services.invoicing import ISSUED


@dataclass
class ProductRow:
    number: str
    name: str
    unit: str
    quantity: Decimal
    amount: Decimal


@dataclass
class MonthRow:
    year: int
    month: int
    count: int
    net: Decimal
    total: Decimal


@dataclass
class Report:
    date_from: date
    date_to: date
    currency: str
    #: Other currencies the customer was invoiced in during the period (each a report of its own).
    other_currencies: list[str] = field(default_factory=list)
    invoices: list[Invoice] = field(default_factory=list)
    products: list[ProductRow] = field(default_factory=list)
    months: list[MonthRow] = field(default_factory=list)
    net: Decimal = Decimal("0")
    vat: Decimal = Decimal("0")
    total: Decimal = Decimal("0")

    @property
    def years(self) -> list[tuple[int, Decimal, Decimal]]:
        """(year, net, total) summed from the months."""
        sums: dict[int, tuple[Decimal, Decimal]] = {}
        for row in self.months:
            net, total = sums.get(row.year, (Decimal("0"), Decimal("0")))
            sums[row.year] = (net + row.net, total + row.total)
        return [(year, net, total) for year, (net, total) in sorted(sums.items())]


def _customer_condition(customer):
    return Invoice.company_id == customer.id if isinstance(customer, Company) else Invoice.contact_id == customer.id


def _where(customer, date_from: date, date_to: date, currency: str | None = None) -> tuple:
    return (
        _customer_condition(customer),
        Invoice.status.in_(ISSUED),
        Invoice.invoice_date >= date_from,
        Invoice.invoice_date <= date_to,
        Invoice.currency == (currency or customer.currency),
    )


def lines(customer, date_from: date, date_to: date, currency: str | None = None):
    """The invoice lines behind the report, in invoice order (for the detailed export)."""
    return (
        select(InvoiceLine)
        .join(Invoice, InvoiceLine.invoice_id == Invoice.id)
        .where(*_where(customer, date_from, date_to, currency))
        .options(joinedload(InvoiceLine.invoice), joinedload(InvoiceLine.product))
        .order_by(Invoice.invoice_date, Invoice.number, InvoiceLine.position)
    )


def build(session: Session, customer, date_from: date, date_to: date, currency: str | None = None) -> Report:
    """The report for `customer` between the two dates (both included), in one currency."""
    currency = currency or customer.currency
    where = _where(customer, date_from, date_to, currency)
    report = Report(date_from, date_to, currency)
    report.other_currencies = list(
        session.scalars(
            select(Invoice.currency)
            .distinct()
            .where(*_where(customer, date_from, date_to)[:-1], Invoice.currency != currency)
            .order_by(Invoice.currency)
        )
    )
    report.invoices = list(
        session.scalars(select(Invoice).where(*where).order_by(Invoice.invoice_date, Invoice.number))
    )
    report.net = sum((i.net_amount for i in report.invoices), Decimal("0"))
    report.vat = sum((i.vat_amount for i in report.invoices), Decimal("0"))
    report.total = sum((i.total for i in report.invoices), Decimal("0"))

    # Per product; free-text lines are grouped by their text.
    key_number = func.coalesce(Product.number, "")
    key_name = func.coalesce(Product.name, InvoiceLine.description)
    rows = session.execute(
        select(
            key_number,
            key_name,
            func.max(func.coalesce(InvoiceLine.unit, "")),
            func.sum(InvoiceLine.quantity),
            func.sum(InvoiceLine.amount),
        )
        .select_from(InvoiceLine)
        .join(Invoice, InvoiceLine.invoice_id == Invoice.id)
        .outerjoin(Product, InvoiceLine.product_id == Product.id)
        .where(*where)
        .group_by(key_number, key_name)
        .order_by(func.sum(InvoiceLine.amount).desc(), key_name)
    ).all()
    report.products = [ProductRow(n, name, unit, Decimal(q), Decimal(a)) for n, name, unit, q, a in rows]

    year, month = extract("year", Invoice.invoice_date), extract("month", Invoice.invoice_date)
    months = session.execute(
        select(year, month, func.count(), func.sum(Invoice.net_amount), func.sum(Invoice.total))
        .where(*where)
        .group_by(year, month)
        .order_by(year, month)
    ).all()
    report.months = [MonthRow(int(y), int(m), n, Decimal(net), Decimal(total)) for y, m, n, net, total in months]
    return report
