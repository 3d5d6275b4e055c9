"""How the customer card reads a large customer's contacts (issue 13: flat in the register's size).

At 1,000,000 companies the card of a customer with 4,000 contacts counted them by joining each
link to its contact (4,000 probes of the contact table's index, where at 1,000 the small table is
hashed), and PostgreSQL ran that join, and the contacts tab's sorting statement, in parallel with
two workers. The count now reads the links alone, less those whose contact is in the trash; the
link table is never scanned in parallel (migration 0039).
"""

import re

import pytest
from sqlalchemy import text

from app import create_app
from extensions import db
from models import Contact
from services import card, trash
from tests.test_search_plans import sql_of
from tests.test_statement_counts import statements


@pytest.fixture
def customer(session, employees, make_company, make_contact):
    """A company with four contacts, one of them in the trash, and a contact of another company."""
    company = make_company(name="Stora Kunden AB")
    other = make_company(name="Annan Kund AB")
    people = [make_contact(companies=[company], last_name=f"Person {n}") for n in range(4)]
    make_contact(companies=[other], last_name="Annans")
    make_contact(companies=[company, other], last_name="Delad")  # at both: counted at each
    trash.delete(session, employees["admin"], Contact, [people[0].id])
    session.commit()
    return company


def test_the_overviews_contact_count_leaves_out_the_trash(session, employees, customer):
    figures = card.key_figures(session, employees["admin"], customer)
    assert figures["contacts"] == 4  # three of its own live ones and the shared one


def test_the_overviews_contact_count_reads_the_links_alone(session, employees, customer):
    """The figures' statement counts the company's links less those the trash holds: it joins no
    contact row to a link (the trash is asked through its own index, `deleted_at IS NOT NULL`)."""
    session.refresh(customer)
    sent = sql_of(lambda: card.key_figures(session, employees["admin"], customer))
    (figures,) = [sql for sql in sent if "AS contacts" in sql]
    contacts = re.search(r"\(SELECT count\(\*\)[^()]*FROM company_contact.*?AS contacts", figures, re.S)
    assert contacts, figures
    assert "JOIN contact" not in contacts.group(0), contacts.group(0)
    assert "contact.deleted_at IS NOT NULL" in contacts.group(0), contacts.group(0)


def test_the_card_shows_the_same_count_as_the_contacts_tab_lists(login, customer):
    client = login("admin").client
    page = client.get(f"/admin/company/card/{customer.id}").get_data(as_text=True)
    figure = re.search(r'id="figure-contacts">\s*<span class="h4 mb-0">(\d+)</span>', page)
    assert figure and figure.group(1) == "4", page
    tab = client.get(f"/admin/company/card/{customer.id}/tab/contacts").get_data(as_text=True)
    assert set(re.findall(r"Person \d", tab)) == {"Person 1", "Person 2", "Person 3"} and "Delad" in tab


def test_the_overview_costs_the_same_statements_with_contacts_in_the_trash(session, employees, login, customer):
    """The figures stay one statement (all of them, the contacts' count with them) whether none or
    many of the customer's contacts are in the trash."""
    client = login("admin").client
    url = f"/admin/company/card/{customer.id}/tab/overview"
    before, sent = statements(client, url)
    assert sum("AS contacts" in sql for sql in sent) == 1
    links = [link.contact_id for link in customer.contact_links]
    trash.delete(session, employees["admin"], Contact, links)
    session.commit()
    after, sent = statements(client, url)
    assert after == before and sum("AS contacts" in sql for sql in sent) == 1
    assert 'id="figure-contacts">\n        <span class="h4 mb-0">0</span>' in client.get(url).get_data(as_text=True)


def _plan(sql: str) -> str:
    return "\n".join(row[0] for row in db.session.execute(text("EXPLAIN " + sql)))


def test_postgresql_never_plans_a_parallel_scan_of_the_links(session, customer):
    """With parallel plans made free, PostgreSQL would scan any table in parallel; the links'
    table (parallel_workers = 0) it scans in one process, the contacts' in parallel (the control)."""
    if db.engine.dialect.name != "postgresql":
        pytest.skip("SQLite has no parallel plans")
    for setting in (
        "parallel_setup_cost = 0",
        "parallel_tuple_cost = 0",
        "min_parallel_table_scan_size = 0",
        "min_parallel_index_scan_size = 0",
        "max_parallel_workers_per_gather = 2",
    ):
        session.execute(text(f"SET LOCAL {setting}"))
    assert "Parallel" in _plan("SELECT count(*) FROM contact"), "the control: parallel plans are on"
    links = _plan("SELECT count(*) FROM company_contact")
    assert "Parallel" not in links and "Gather" not in links, links
    tab = _plan(
        "SELECT contact.last_name, contact.first_name, company_contact.contact_id FROM company_contact"
        f" JOIN contact ON contact.id = company_contact.contact_id WHERE company_contact.company_id = {customer.id}"
        " AND contact.deleted_at IS NULL ORDER BY 1, 2, 3 LIMIT 26"
    )
    assert "Parallel Seq Scan on company_contact" not in tab and "Parallel Bitmap" not in tab, tab
    session.rollback()


def test_postgresql_plans_every_statement_of_the_screens_for_its_own_values(app, session):
    """psycopg prepares a statement run five times; a generic plan kept for it probed the audit index
    once per contact of a large customer (config.SCREENS_POSTGRESQL_OPTIONS). The queue worker's
    connections leave the choice to PostgreSQL (an import's batches)."""
    if db.engine.dialect.name != "postgresql":
        pytest.skip("SQLite plans each statement as it comes")
    assert session.execute(text("SHOW plan_cache_mode")).scalar() == "force_custom_plan"
    same = {key: app.config[key] for key in ("SQLALCHEMY_DATABASE_URI", "INSTANCE_DIR", "UPLOAD_DIR")}
    worker = create_app(same, web=False)
    with worker.app_context():
        assert db.session.execute(text("SHOW plan_cache_mode")).scalar() == "auto"
        db.session.remove()
        db.engine.dispose()
