"""Customer numbers (services.numbering): one sequence for companies and private
customers, assigned on first save, unique, increasing, never reused, and safe
when many transactions create customers at the same time."""

import threading
from decimal import Decimal

import pytest
from sqlalchemy import select

from extensions import db
from models import Company, Contact, NumberSequence
from services import numbering, trash

FIRST = numbering.FIRST_CUSTOMER_NUMBER


def counter(session) -> int | None:
    return numbering.current_value(session, numbering.CUSTOMER_SEQUENCE)


def test_company_gets_a_customer_number_on_first_save(session):
    company = Company(name="Första AB", discount_percent=Decimal("0"))
    assert company.customer_number is None
    session.add(company)
    session.commit()
    assert company.customer_number == FIRST
    assert counter(session) == FIRST


def test_customer_number_is_kept_on_later_saves(session, make_company):
    company = make_company()
    number = company.customer_number
    company.name = "Omdöpt AB"
    session.commit()
    session.expire_all()
    assert session.get(Company, company.id).customer_number == number
    assert counter(session) == number


def test_numbers_are_unique_and_increasing(make_company):
    numbers = [make_company().customer_number for _ in range(5)]
    assert numbers == list(range(FIRST, FIRST + 5))


def test_one_sequence_is_shared_by_companies_and_private_customers(session, make_company, make_contact):
    first = make_company().customer_number
    person = make_contact()
    assert person.customer_number is None  # a plain contact has no number
    private = numbering.make_private_customer(session, person)
    session.commit()
    second = make_company().customer_number
    assert (first, private, second) == (FIRST, FIRST + 1, FIRST + 2)
    assert session.get(Contact, person.id).customer_number == FIRST + 1


def test_make_private_customer_is_idempotent(session, make_contact):
    person = make_contact()
    number = numbering.make_private_customer(session, person)
    session.commit()
    assert numbering.make_private_customer(session, person) == number
    session.commit()
    assert session.get(Contact, person.id).customer_number == number
    assert counter(session) == number  # the counter did not move the second time


def test_contact_created_without_number_does_not_use_the_sequence(session, make_contact, make_company):
    make_contact()
    make_contact()
    assert counter(session) is None
    assert make_company().customer_number == FIRST


def test_numbers_are_never_reused_after_delete_or_purge(storage, session, employees, make_company, make_contact):
    admin = employees["admin"]
    deleted = make_company()
    purged = make_company()
    person = make_contact()
    numbering.make_private_customer(session, person)
    session.commit()
    used = {deleted.customer_number, purged.customer_number, person.customer_number}

    trash.delete(session, admin, Company, [deleted.id, purged.id])
    trash.delete(session, admin, Contact, [person.id])
    session.commit()
    trash.purge(session, storage, admin, Company, [purged.id])
    trash.purge(session, storage, admin, Contact, [person.id])
    session.commit()
    assert session.get(Company, purged.id) is None

    newer = [make_company().customer_number for _ in range(3)]
    assert not used & set(newer)
    assert min(newer) > max(used)


def test_numbers_are_never_reused_even_when_the_highest_customer_is_purged(storage, session, employees, make_company):
    admin = employees["admin"]
    last = make_company()
    trash.delete(session, admin, Company, [last.id])
    trash.purge(session, storage, admin, Company, [last.id])
    session.commit()
    assert make_company().customer_number == last.customer_number + 1


def test_explicit_customer_number_is_kept(session):
    """An imported customer keeps the number it had; the sequence is not consumed."""
    company = Company(name="Importerad AB", customer_number=55, discount_percent=Decimal("0"))
    session.add(company)
    session.commit()
    assert company.customer_number == 55
    assert counter(session) is None


def test_a_rolled_back_creation_does_not_advance_the_counter(session, make_company):
    make_company()
    session.add(Company(name="Ångrat AB", discount_percent=Decimal("0")))
    session.flush()
    session.rollback()
    assert counter(session) == FIRST
    assert make_company().customer_number == FIRST + 1


def test_next_number_creates_a_named_counter_from_its_first_value(session):
    assert numbering.next_number(session, "test_counter", first=500) == 500
    assert numbering.next_number(session, "test_counter", first=500) == 501
    session.commit()
    assert session.get(NumberSequence, "test_counter").last_value == 501


# --- concurrency -------------------------------------------------------------------


def _create_concurrently(app, workers: int, rollback_every: int = 0) -> tuple[list[int], list[BaseException]]:
    """`workers` threads, each with its own app context and session, create one
    company each at the same moment; every `rollback_every`-th thread flushes (so it
    takes a number) and then rolls back. Returns the committed numbers and errors."""
    barrier = threading.Barrier(workers)
    committed: list[int] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def work(index: int) -> None:
        try:
            with app.app_context():
                company = Company(name=f"Samtidig {index} AB", discount_percent=Decimal("0"))
                db.session.add(company)
                barrier.wait(timeout=60)
                if rollback_every and index % rollback_every == 0:
                    db.session.flush()
                    db.session.rollback()
                    return
                db.session.commit()
                with lock:
                    committed.append(company.customer_number)
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            with lock:
                errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads), "a worker hung"
    return committed, errors


def _assert_distinct_without_gaps(session, committed: list[int], start: int) -> None:
    assert len(committed) == len(set(committed)), f"duplicate customer numbers: {sorted(committed)}"
    assert sorted(committed) == list(range(start, start + len(committed)))
    session.expire_all()
    stored = session.scalars(select(Company.customer_number).order_by(Company.customer_number)).all()
    assert stored[-len(committed) :] == sorted(committed)
    assert counter(session) == start + len(committed) - 1


def _concurrency_cases():
    return [pytest.param(12, 0, id="all-commit"), pytest.param(12, 3, id="some-roll-back")]


@pytest.mark.postgres
@pytest.mark.parametrize("workers, rollback_every", _concurrency_cases())
def test_concurrent_creation_on_postgresql(app, session, make_company, workers, rollback_every):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("needs PostgreSQL: set CRM_TEST_DATABASE_URL=postgresql+psycopg://… to run it")
    make_company()  # the counter row exists; also test the first-ever row below
    session.commit()
    committed, errors = _create_concurrently(app, workers, rollback_every)
    assert not errors, errors
    expected = workers - (len(range(0, workers, rollback_every)) if rollback_every else 0)
    assert len(committed) == expected
    _assert_distinct_without_gaps(session, committed, FIRST + 1)


def test_concurrent_creation_of_the_very_first_customers(app, session):
    """No counter row yet: the racing transactions must agree on creating one, and
    every company is really saved (on PostgreSQL the losers of that race used to
    have their pending company silently dropped)."""
    assert counter(session) is None
    session.commit()
    committed, errors = _create_concurrently(app, 8)
    assert not errors, errors
    assert len(committed) == 8
    _assert_distinct_without_gaps(session, committed, FIRST)


@pytest.mark.parametrize("workers, rollback_every", _concurrency_cases())
def test_concurrent_creation_on_sqlite(app, session, make_company, workers, rollback_every):
    """SQLite serialises writers; with busy_timeout the waiting ones get their turn."""
    if db.engine.dialect.name != "sqlite":
        pytest.skip("the SQLite variant; PostgreSQL has its own test")
    make_company()
    session.commit()
    committed, errors = _create_concurrently(app, workers, rollback_every)
    assert not errors, errors
    expected = workers - (len(range(0, workers, rollback_every)) if rollback_every else 0)
    assert len(committed) == expected
    _assert_distinct_without_gaps(session, committed, FIRST + 1)
