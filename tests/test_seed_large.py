"""`flask --app app seed --large N`: the large synthetic register, tested at a small N."""

import phonenumbers
import pytest
from sqlalchemy import func, select, text
from stdnum.se import orgnr

from config import SQLITE_PAGE_CACHE_KIB
from extensions import db
from models import Activity, AuditEvent, Company, CompanyContact, Contact, Employee, company_categories
from seed.large import org_number, seed_large
from services import numbering, validation
from tests.helpers import count

N = 200
#: Small batches: many of them, written by the writer threads while the next are made, and on SQLite
#: ids and customer numbers allocated more than once (`AHEAD_SQLITE` batches at a time).
BATCH = 16


@pytest.fixture
def generated(app):
    made = seed_large(db.session, N, batch_size=BATCH)
    return made


def test_the_counts_are_in_proportion(generated):
    assert count(db.session, Company) == N == generated["companies"]
    contacts, activities = count(db.session, Contact), count(db.session, Activity)
    assert contacts == generated["contacts"] and 1.8 * N <= contacts <= 3.2 * N
    assert activities == generated["activities"] and 0.2 * N <= activities <= 0.8 * N
    events = db.session.scalars(select(AuditEvent).where(AuditEvent.entity_type == "company")).all()
    assert len(events) == N and {e.action for e in events} == {"create"}
    assert {e.entity_id for e in events} == set(db.session.scalars(select(Company.id)))


def test_organisation_numbers_are_valid_and_distinct(generated):
    numbers = db.session.scalars(select(Company.org_number)).all()
    assert len(set(numbers)) == N
    assert all(orgnr.is_valid(n) and validation.org_number(n) == n for n in numbers)
    assert all(int(n[2]) >= 2 for n in numbers)  # a legal entity's "month" digits are 20 or more
    assert org_number("5", 0) != org_number("5", 1) and orgnr.is_valid(org_number("9", 31_999_999))


def test_customer_numbers_come_from_the_shared_sequence(generated):
    companies = db.session.scalars(select(Company.customer_number)).all()
    private = db.session.scalars(select(Contact.customer_number).where(Contact.customer_number.is_not(None))).all()
    numbers = companies + private
    assert len(set(numbers)) == len(numbers)
    assert numbering.current_value(db.session, numbering.CUSTOMER_SEQUENCE) == max(numbers)
    assert min(numbers) == numbering.FIRST_CUSTOMER_NUMBER
    # Allocated ahead in blocks, the numbers not used given back: none skipped.
    assert sorted(numbers) == list(
        range(numbering.FIRST_CUSTOMER_NUMBER, numbering.FIRST_CUSTOMER_NUMBER + len(numbers))
    )
    # The next customer made in the UI gets the next number, no clash.
    later = Company(name="Efter generatorn AB")
    db.session.add(later)
    db.session.commit()
    assert later.customer_number == max(numbers) + 1


def test_rows_look_swedish_and_valid(generated):
    companies = db.session.scalars(select(Company)).all()
    assert all(c.name.endswith((" AB", " HB", " KB", " Aktiebolag")) for c in companies)
    assert all(c.version == 1 and c.deleted_at is None for c in companies)
    for phone in [c.phone for c in companies] + [c.mobile for c in db.session.scalars(select(Contact)) if c.mobile]:
        parsed = phonenumbers.parse(phone)
        assert phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164) == phone
        assert parsed.country_code == 46 and phonenumbers.is_possible_number(parsed), phone
    assert all(validation.email(c.email) == c.email for c in companies)
    assert len({c.postal_city for c in companies}) > 10
    owners = {c.owner_id for c in companies}
    assert 10 <= len(owners) <= 40 and count(db.session, Employee) >= len(owners)
    assert db.session.scalar(select(func.count()).select_from(company_categories)) > 0


def test_a_few_customers_are_very_large(generated):
    sizes = db.session.execute(
        select(CompanyContact.company_id, func.count())
        .group_by(CompanyContact.company_id)
        .order_by(func.count().desc())
    ).all()
    assert sizes[0][1] >= 10 > sizes[-1][1]


def test_generating_again_adds_more_without_clashes(generated):
    seed_large(db.session, 50, rng_seed=14)
    numbers = db.session.scalars(select(Company.org_number)).all()
    assert len(numbers) == N + 50 == len(set(numbers))


def test_the_command_reports_what_it_made(app):
    result = app.test_cli_runner().invoke(args=["seed", "--large", "30"])
    assert result.exit_code == 0, result.output
    assert "Generated 30 companies" in result.output
    assert count(db.session, Company) >= 30
    bad = app.test_cli_runner().invoke(args=["seed", "--large", "0"])
    assert bad.exit_code != 0


def test_the_quick_search_finds_generated_rows(generated):
    from services import formatting, search

    for company in db.session.scalars(select(Company).order_by(Company.id).limit(5)):
        org = f"{company.org_number[:6]}-{company.org_number[6:]}"
        assert company in search.search(db.session, Company, org)
        assert company in search.search(db.session, Company, f'"{company.name}"', limit=50)
        assert company in search.search(db.session, Company, formatting.phone(company.phone), limit=50)
        assert company in search.search(db.session, Company, str(company.customer_number))
    contact = db.session.scalars(select(Contact).where(Contact.mobile.is_not(None)).limit(1)).one()
    assert contact in search.search(db.session, Contact, f"{contact.first_name} {contact.last_name} {contact.email}")
    assert contact in search.search(db.session, Contact, formatting.phone(contact.mobile))


@pytest.mark.parametrize("writers", [1, 2])
def test_every_batch_is_written_whole_by_any_number_of_writers(app, writers):
    made = seed_large(db.session, 120, batch_size=10, writers=writers, cpu=(cpu := {}))
    assert count(db.session, Company) == 120 == made["companies"]
    assert count(db.session, Contact) == made["contacts"] and count(db.session, Activity) == made["activities"]
    linked = db.session.scalar(select(func.count()).select_from(CompanyContact))
    private = db.session.scalar(select(func.count()).where(Contact.customer_number.is_not(None)))
    assert linked + private == made["contacts"]  # every contact is a company's or a private customer
    ids = db.session.scalars(select(Contact.id)).all()
    assert len(set(ids)) == len(ids)
    assert set(cpu) == {"maker"} | {f"writer {n}" for n in range(1, writers + 1)}


def test_a_failing_write_stops_the_run_with_its_error(app, monkeypatch):
    from seed import large

    def failing(session, prepared):
        if prepared.table.name == "contact":
            raise RuntimeError("disk full")
        return original(session, prepared)

    original = large.bulk.insert_prepared
    monkeypatch.setattr(large.bulk, "insert_prepared", failing)
    with pytest.raises(RuntimeError, match="disk full"):
        seed_large(db.session, 100, batch_size=10)
    assert count(db.session, Contact) == 0
    assert count(db.session, Company) == 0  # the batch's companies went with it: one transaction


def test_the_writers_page_cache_is_not_left_on_the_pool(generated):
    if db.engine.dialect.name != "sqlite":
        pytest.skip("a SQLite setting (the writer's page cache); this run is on PostgreSQL")
    with db.engine.connect() as connection:  # every pooled connection has the app's page cache
        assert connection.exec_driver_sql("PRAGMA cache_size").scalar() == -SQLITE_PAGE_CACHE_KIB


def test_the_quick_search_index_is_merged_after_the_run(app):
    """SQLite: FTS5 keeps each transaction's rows as a segment of its own, and every search reads every
    segment; after the run each quick-search index is one segment (services.search.merge_index)."""
    if db.engine.dialect.name != "sqlite":
        pytest.skip("FTS5 segments are SQLite's")
    seed_large(db.session, 120, batch_size=4)
    for table in ("company_search", "contact_search", "activity_search"):
        segments = db.session.scalar(text(f"SELECT count(DISTINCT segid) FROM {table}_idx"))
        assert segments == 1, (table, segments)
    assert count(db.session, Company) == 120
