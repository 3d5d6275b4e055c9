"""Demo invoicing: products, orders and invoices in every status for several customers.

Everything goes through services.invoicing (numbers, totals, credits), dated
relative to today so some invoices are overdue and the Fakturarapport has a
year of sales to show.
"""

import random
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy.orm import Session

from models import Product
from services import invoicing
from services.invoicing import LineInput

PRODUCTS = [
    ("1001", "Konsulttimme", "tim", "950.00", "25"),
    ("1002", "Projektledning", "tim", "1150.00", "25"),
    ("1003", "Installation på plats", "st", "2400.00", "25"),
    ("2001", "Supportavtal, månad", "mån", "1495.00", "25"),
    ("2002", "Licens CRM-användare", "st", "349.00", "25"),
    ("3001", "Utbildningsdag", "dag", "6500.00", "25"),
    ("4001", "Handbok (tryckt)", "st", "249.00", "6"),
    ("5001", "Lunch vid utbildning", "st", "125.00", "12"),
    ("6001", "Frakt", "st", "149.00", "25"),
    ("9001", "Gammal licensmodell", "st", "199.00", "25"),
]


def _lines(rng: random.Random, products: list[Product]) -> list[LineInput]:
    chosen = rng.sample(products, k=rng.randint(1, 4))
    rows = [LineInput(product=p, quantity=str(rng.choice([1, 1, 2, 3, 5, 8, 10]))) for p in chosen]
    if rng.random() < 0.3:
        rows.append(
            LineInput(
                description="Resekostnad enligt överenskommelse",
                quantity="1",
                unit_price=str(rng.choice([350, 780, 1200])),
                vat_rate="25",
            )
        )
    return rows


def seed_invoicing(session: Session, rng: random.Random, companies, private_customers, employees) -> None:
    """Products, then a year of orders and invoices for fifteen companies and two private customers."""
    admin, sellers, finance = employees[0], employees[1:3], employees[3]
    products = [
        Product(number=n, name=name, unit=unit, price=Decimal(price), vat_rate=Decimal(vat), active=n != "9001")
        for n, name, unit, price, vat in PRODUCTS
    ]
    session.add_all(products)
    session.flush()
    sellable = [p for p in products if p.active]
    today = date.today()
    # Most active Swedish customers, the German one (English invoices in EUR) and two private customers.
    active = [c for c in companies if c.status == "active" and not c.is_deleted]
    customers = [c for c in active if c.country == "SE"][:14] + [c for c in active if c.country == "DE"][:1]
    customers += list(private_customers[:2])

    # Issued invoices in date order, so numbers follow the dates as they would have.
    issued = []
    for customer in customers:
        for _ in range(rng.randint(2, 5)):
            issued.append((today - timedelta(days=rng.randint(5, 400)), customer))
    issued.sort(key=lambda item: item[0])
    invoices = []
    for day, customer in issued:
        invoice = invoicing.new_invoice(session, rng.choice([admin, finance, *sellers]), customer, today=day)
        invoicing.set_lines(invoice, _lines(rng, sellable), today=day)
        invoicing.send(session, invoice, today=day)
        if invoice.due_date < today - timedelta(days=10) and rng.random() < 0.85:
            invoicing.mark_paid(invoice, paid_on=min(invoice.due_date, today))
        invoices.append(invoice)
    session.flush()
    # One credited invoice (a paid one, refunded by a credit invoice), and the rest as they fell:
    # sent ones whose due date has passed are overdue.
    paid = [i for i in invoices if i.status == "paid"]
    if paid:
        invoicing.credit(
            session, finance, paid[len(paid) // 2], today=paid[len(paid) // 2].invoice_date + timedelta(days=14)
        )

    for customer in customers[:4]:
        draft = invoicing.new_invoice(session, rng.choice(sellers), customer, today=today)
        invoicing.set_lines(draft, _lines(rng, sellable))
    cancelled = invoicing.new_invoice(session, sellers[0], customers[0], today=today - timedelta(days=3))
    invoicing.set_lines(cancelled, _lines(rng, sellable))
    invoicing.cancel(cancelled)

    # Orders: drafts, confirmed, one invoiced (its invoice a draft), one cancelled.
    for index, customer in enumerate(customers[:6]):
        order = invoicing.new_order(
            session, rng.choice(sellers), customer, today=today - timedelta(days=rng.randint(0, 30))
        )
        invoicing.set_lines(order, _lines(rng, sellable))
        if index % 3 == 1:
            invoicing.confirm_order(order)
        elif index == 2:
            invoicing.order_to_invoice(session, finance, order, today=today)
        elif index == 3:
            invoicing.cancel_order(order)
    session.flush()
