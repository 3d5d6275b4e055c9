"""No N+1: every list page, the customer and contact cards and each of their tabs, the start page,
the trash and every picker run the same number of SQL statements whether they show two rows or a
full page of them, and whether the register holds two rows or many pages.

Each screen is fetched on a tiny register (two rows of everything) and on a large one (more than
a page of everything, the largest customer with more than a page in every tab), and the
statements each request sends are counted with an SQLAlchemy event listener.
"""

from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import event, select

from extensions import db
from models import (
    Activity,
    Attachment,
    AuditEvent,
    CallList,
    CallListEntry,
    Category,
    Company,
    CompanyContact,
    Contact,
    CustomFieldDefinition,
    CustomTab,
    EmailMessage,
    Employee,
    EmployeeGroup,
    Industry,
    Invoice,
    Lead,
    Opportunity,
    Product,
    Project,
    ProjectParticipant,
    SalesOrder,
    SalesStage,
    company_categories,
)
from services import numbering, trash

#: Rows of each kind in the large register: more than a page of a list (50) and of a card tab (25).
LARGE = 52
TINY = 2


def build_register(session, employees, n: int) -> dict:
    """`n` rows of every kind the lists show, and one customer ("Störst AB", and its contact) with
    `n` rows in every tab of its card. Returns the ids the screens are opened with."""
    admin = employees["admin"]
    now = datetime(2026, 6, 1, 12, 0)
    stages = [SalesStage(name=f"Steg {i}", sort_order=i, probability=10) for i in range(max(2, n // 10))]
    categories = [Category(name=f"Kategori {i}", applies_to="both") for i in range(n)]
    industries = [Industry(name=f"Bransch {i}") for i in range(n)]
    session.add_all(stages + categories + industries)
    staff = [
        Employee(name=f"Säljare {i}", email=f"saljare{i}@example.se", role="seller", active=True) for i in range(n)
    ]
    groups = [EmployeeGroup(name=f"Grupp {i}", kind="sales", members=staff[i : i + 3]) for i in range(n)]
    session.add_all(staff + groups)
    session.flush()
    companies = [
        Company(
            name=f"Företag {i:03d} AB",
            customer_number=numbering.next_customer_number(session),
            owner=staff[i % len(staff)],
            industry=industries[i % len(industries)],
            categories=[categories[i % len(categories)]],
            postal_city="Malmö",
            is_supplier=i % 2 == 0,
        )
        for i in range(n)
    ]
    biggest = Company(name="Störst AB", customer_number=numbering.next_customer_number(session), owner=admin)
    session.add_all([*companies, biggest])
    session.flush()
    contacts = [
        Contact(
            first_name="Kontakt", last_name=f"Nummer {i:03d}", owner=staff[i % len(staff)], categories=[categories[i]]
        )
        for i in range(n)
    ]
    private = [
        Contact(first_name="Privat", last_name=f"Kund {i:03d}", customer_number=numbering.next_customer_number(session))
        for i in range(n)
    ]
    session.add_all(contacts + private)
    session.flush()
    # every contact at two companies (the list shows them), and at the biggest customer
    session.add_all(CompanyContact(company=companies[i], contact=c, role="VD") for i, c in enumerate(contacts))
    session.add_all(CompanyContact(company=companies[(i + 1) % n], contact=c) for i, c in enumerate(contacts))
    session.add_all(CompanyContact(company=biggest, contact=c, role="Inköp") for c in contacts)
    person = contacts[0]  # the contact card opened below: a private customer at n companies
    person.customer_number = numbering.next_customer_number(session)
    session.add_all(CompanyContact(company=c, contact=person) for c in companies[2:])

    for customer in (biggest, person):
        key = "company_id" if customer is biggest else "contact_id"
        session.add_all(
            Activity(
                kind="task",
                subject=f"Uppgift {i}",
                assignee=admin,
                due_at=now + timedelta(days=i),
                **{key: customer.id},
            )
            for i in range(n)
        )
        session.add_all(
            EmailMessage(
                sender="a@example.se",
                recipients="b@example.se",
                subject=f"Brev {i}",
                created_by=admin,
                sent_at=now - timedelta(hours=i),
                **{key: customer.id},
            )
            for i in range(n)
        )
        session.add_all(
            Attachment(
                filename=f"fil{i}.pdf",
                content_type="application/pdf",
                size=10,
                storage_key=f"{key}-{i}",
                uploaded_by=admin,
                **{key: customer.id},
            )
            for i in range(n)
        )
        session.add_all(
            Opportunity(
                title=f"Affär {i}",
                stage=stages[i % len(stages)],
                owner=staff[i % len(staff)],
                amount=Decimal(1000 + i),
                close_date=date(2026, 7, 1) + timedelta(days=i),
                **{key: customer.id},
            )
            for i in range(n)
        )
        session.add_all(
            SalesOrder(
                number=numbering.next_number(session, "order", 1000),
                order_date=date(2026, 1, 1) + timedelta(days=i),
                our_reference=staff[i % len(staff)],
                **{key: customer.id},
            )
            for i in range(n)
        )
        session.add_all(
            Invoice(
                number=None if i % 3 == 0 else 5000 + i + (0 if customer is biggest else 500),
                status="draft" if i % 3 == 0 else "sent",
                invoice_date=date(2026, 2, 1) + timedelta(days=i),
                due_date=date(2026, 3, 1) + timedelta(days=i),
                our_reference=staff[i % len(staff)],
                **{key: customer.id},
            )
            for i in range(n)
        )
        session.add_all(
            AuditEvent(
                actor=staff[i % len(staff)],
                entity_type="company" if customer is biggest else "contact",
                entity_id=customer.id,
                action="update",
                changes={"note": [str(i), str(i + 1)]},
            )
            for i in range(n)
        )
    projects = [
        Project(name=f"Projekt {i}", owner=staff[i % len(staff)], start_date=date(2026, 1, 1)) for i in range(n)
    ]
    session.add_all(projects)
    session.flush()
    session.add_all(ProjectParticipant(project=p, company_id=biggest.id, role="Part") for p in projects)

    leads = [
        Lead(company_name=f"Lead {i} AB", owner=staff[i % len(staff)], categories=[categories[i]]) for i in range(n)
    ]
    # the lead whose page has more than a page of activities (calls, notes), and n leads in the trash
    worked = Lead(company_name="Störst lead AB", owner=admin)
    trashed_leads = [Lead(company_name=f"Raderad lead {i} AB") for i in range(n)]
    session.add_all([*leads, worked, *trashed_leads])
    session.flush()
    session.add_all(
        Activity(kind="call", subject=f"Samtal {i}", lead_id=worked.id, assignee=staff[i % len(staff)])
        for i in range(n)
    )
    lists = [CallList(name=f"Ringlista {i}", owner=staff[i % len(staff)]) for i in range(n)]
    session.add_all(lists)
    session.flush()
    session.add_all(
        CallListEntry(call_list=cl, position=j, lead=leads[j], called_at=now if j % 2 else None)
        for cl in lists
        for j in range(TINY)
    )
    session.add_all(
        Product(number=f"{100 + i}", name=f"Produkt {i}", price=Decimal("10.00"), vat_rate=Decimal("25"))
        for i in range(n)
    )
    tabs = [CustomTab(name=f"Flik {i}", applies_to="company", sort_order=i) for i in range(TINY)]
    session.add_all(tabs)
    session.flush()
    session.add_all(
        CustomFieldDefinition(tab=tabs[i % len(tabs)], label=f"Fält {i}", field_type="text", sort_order=i)
        for i in range(n)
    )
    session.commit()
    # the trash: n companies and n contacts deleted
    deleted = [
        Company(name=f"Borttaget {i} AB", customer_number=numbering.next_customer_number(session)) for i in range(n)
    ]
    gone = [Contact(first_name="Borta", last_name=f"Person {i}") for i in range(n)]
    session.add_all(deleted + gone)
    session.commit()
    trash.delete(session, admin, Company, [c.id for c in deleted])
    trash.delete(session, admin, Contact, [c.id for c in gone])
    trash.delete(session, admin, Lead, [lead.id for lead in trashed_leads])
    # the call list opened below also holds n companies and n contacts, live and in the trash, and its
    # next call is the biggest customer with its n contacts to call
    session.add(CallListEntry(call_list=lists[0], position=-1, company=biggest))
    session.add_all(
        CallListEntry(call_list=lists[0], position=TINY + i, **{key: row})
        for i, (key, row) in enumerate(
            [("company", c) for c in companies + deleted]
            + [("contact", c) for c in contacts + gone]
            + [("lead", lead) for lead in trashed_leads]
        )
    )
    session.commit()
    assert session.scalar(select(db.func.count()).select_from(company_categories)) >= n
    return {
        "biggest": biggest.id,
        "person": person.id,
        "private": private[0].id,
        "opportunity": session.scalar(select(Opportunity.id).where(Opportunity.company_id == biggest.id).limit(1)),
        "calllist": lists[0].id,
        "lead": worked.id,
    }


def statements(client, url) -> tuple[int, list[str]]:
    """How many SQL statements one GET of `url` sends (after asserting it answers 200)."""
    sent: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany):
        sent.append(statement)

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        response = client.get(url)
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    assert response.status_code == 200, (url, response.status_code)
    return len(sent), sent


LISTS = [
    "/admin/company/",
    "/admin/company/?sort=1",  # by name
    "/admin/company/?sort=3&desc=1",  # by city, NULLs in their own segment
    "/admin/company/?flt0_0={owner}",  # Kundansvarig
    "/admin/company/?flt1_1={category}",  # kategori
    "/admin/company/?search=företag",
    "/admin/company/?goto=F",
    "/admin/company/?last=1",
    "/admin/supplier/",
    "/admin/contact/",
    "/admin/contact/?search=kontakt",
    "/admin/privatecustomer/",
    "/admin/lead/",
    "/admin/calllist/",
    "/admin/opportunity/",
    "/admin/order/",
    "/admin/invoice/",
    "/admin/product/",
    "/admin/employee/",
    "/admin/employeegroup/",
    "/admin/category/",
    "/admin/industry/",
    "/admin/salesstage/",
    "/admin/customtab/",
    "/admin/customfield/",
    "/admin/trash/",
    "/admin/",
]

COMPANY_TABS = [
    *("overview", "contacts", "activities", "email", "files", "projects", "opportunities", "invoices", "history")
]
CONTACT_TABS = ["overview", "companies", "activities", "email", "opportunities", "invoices", "history"]

PICKERS = [
    "/admin/opportunity/ajax/lookup/?name=company&query=f%C3%B6retag",
    "/admin/opportunity/ajax/lookup/?name=contact&query=privat",
    "/admin/opportunity/ajax/lookup/?name=owner&query=s%C3%A4ljare",
    "/admin/invoice/ajax/lookup/?name=company&query=f%C3%B6retag",
    "/admin/order/ajax/lookup/?name=our_reference&query=s%C3%A4ljare",
    "/admin/company/ajax/lookup/?name=owner&query=s%C3%A4ljare",
    "/admin/contact/search.json?q=kontakt",
    "/admin/product/lookup.json?q=produkt",
    "/admin/people/?q=kontakt",
]


def _screens(ids: dict, owner: int, category: int) -> dict[str, str]:
    """{name of the screen: its URL in this register}."""
    urls = {u: u.format(owner=owner, category=category) for u in LISTS}
    urls["company card"] = f"/admin/company/card/{ids['biggest']}"
    urls |= {f"company tab {tab}": f"/admin/company/card/{ids['biggest']}/tab/{tab}" for tab in COMPANY_TABS}
    urls["contact card"] = f"/admin/contact/card/{ids['person']}"
    urls |= {f"contact tab {tab}": f"/admin/contact/card/{ids['person']}/tab/{tab}" for tab in CONTACT_TABS}
    urls["private customer card"] = f"/admin/privatecustomer/card/{ids['private']}"
    urls["opportunity"] = f"/admin/opportunity/show/{ids['opportunity']}"
    urls["call list"] = f"/admin/calllist/work/{ids['calllist']}"
    urls["lead page"] = f"/admin/lead/show/{ids['lead']}"
    return urls | {u: u for u in PICKERS}


def _measure(session, employees, login, n: int) -> dict[str, int]:
    ids = build_register(session, employees, n)
    owner = session.scalar(select(Employee.id).where(Employee.name == "Säljare 0"))
    category = session.scalar(select(Category.id).where(Category.name == "Kategori 0"))
    admin = login("admin")
    return {name: statements(admin.client, url)[0] for name, url in _screens(ids, owner, category).items()}


@pytest.fixture
def tiny_counts(app, session, employees, login):
    return _measure(session, employees, login, TINY)


def test_every_screen_costs_the_same_statements_with_two_rows_as_with_many_pages(
    app, session, employees, login, tiny_counts
):

    tiny = dict(tiny_counts)
    # empty the register (keep the employees who log in) and build the large one
    with db.engine.begin() as conn:
        for table in reversed(db.metadata.sorted_tables):
            if table.name != "employee":
                conn.execute(table.delete())
        conn.execute(Employee.__table__.delete().where(Employee.email.like("saljare%")))
    session.expire_all()
    large = _measure(session, employees, login, LARGE)
    # A list may ask once more when its first segment (rows with a value in the sort column) does not
    # fill the page; so the large register may cost less, never more.
    grown = {url: (tiny[url], large[url]) for url in tiny if large[url] > tiny[url]}
    assert not grown, f"statements per request grew with the data (tiny, large): {grown}"
    assert max(large.values()) <= 12, large


def test_a_deep_page_costs_one_statement_more_than_the_first(app, session, employees, login):
    """Page 2 and beyond ask once more (is there a page in front?), never more, however deep."""
    build_register(session, employees, LARGE)
    admin = login("admin")
    first, _sql = statements(admin.client, "/admin/company/?sort=1")
    page = admin.client.get("/admin/company/?sort=1").get_data(as_text=True)
    import re

    after = re.search(r'id="page-next" rel="next" href="([^"]+)"', page).group(1).replace("&amp;", "&")
    second, _sql = statements(admin.client, after)
    last, _sql = statements(admin.client, "/admin/company/?sort=1&last=1")
    assert second == first + 1
    assert last == first
