"""Customer numbers: one sequence shared by companies and private customers."""

from sqlalchemy import event, select, update
from sqlalchemy.orm import Session

from models import Company, Contact, NumberSequence
from services import bulk

CUSTOMER_SEQUENCE = "customer_number"
FIRST_CUSTOMER_NUMBER = 10000


def next_number(session: Session, name: str, first: int = 1) -> int:
    """Advance the counter `name` atomically and return the new value."""
    return allocate_block(session, name, 1, first).start


def allocate_block(session: Session, name: str, count: int, first: int = 1) -> range:
    """Reserve `count` consecutive values of the counter `name` at once (set-based imports).

    A single ``UPDATE … RETURNING`` takes the row lock (PostgreSQL) or the
    write lock (SQLite), so concurrent transactions never get the same value;
    values are never handed out again because the counter only grows.
    """
    if count < 1:
        return range(0)
    stmt = (
        update(NumberSequence)
        .where(NumberSequence.name == name)
        .values(last_value=NumberSequence.last_value + count)
        .returning(NumberSequence.last_value)
    )
    value = session.execute(stmt).scalar_one_or_none()
    if value is not None:
        return range(value - count + 1, value + 1)
    # First use: create the counter unless a concurrent transaction just did
    # (ON CONFLICT DO NOTHING waits for it), then advance it like any other time.
    # No SAVEPOINT here: rolling one back inside a flush would expunge the
    # pending objects being saved (they would silently not be written).
    session.execute(_insert_if_missing(session, name, first - 1))
    value = session.execute(stmt).scalar_one()
    return range(value - count + 1, value + 1)


def _insert_if_missing(session: Session, name: str, last_value: int):
    return bulk.upsert(session, NumberSequence).values(name=name, last_value=last_value).on_conflict_do_nothing()


def next_customer_number(session: Session) -> int:
    return next_number(session, CUSTOMER_SEQUENCE, FIRST_CUSTOMER_NUMBER)


def allocate_customer_numbers(session: Session, count: int) -> range:
    """`count` consecutive customer numbers for companies or private customers created in bulk."""
    return allocate_block(session, CUSTOMER_SEQUENCE, count, FIRST_CUSTOMER_NUMBER)


def current_value(session: Session, name: str) -> int | None:
    return session.scalar(select(NumberSequence.last_value).where(NumberSequence.name == name))


@event.listens_for(Session, "before_flush")
def _number_new_companies(session: Session, flush_context, instances) -> None:
    """Every company gets its customer number when first saved, wherever it is created."""
    for obj in session.new:
        if isinstance(obj, Company) and obj.customer_number is None:
            obj.customer_number = next_customer_number(session)


def make_private_customer(session: Session, contact: Contact) -> int:
    """Give a contact a customer number (it becomes a private customer); idempotent."""
    if contact.customer_number is None:
        contact.customer_number = next_customer_number(session)
    return contact.customer_number
