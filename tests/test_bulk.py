"""Set-based writes (services.bulk) store exactly what the ORM would, on SQLite and PostgreSQL;
and SQLite runs with a write-ahead log."""

from datetime import datetime
from decimal import Decimal

import pytest
from sqlalchemy import select, text

from extensions import db
from models import AuditEvent, Company
from services import bulk

AT = datetime(2026, 11, 27, 13, 45, 7, 123456)


def test_inserted_rows_read_back_as_given(session):
    company_ids = bulk.new_ids(session, Company.__table__, 2)
    bulk.insert_rows(
        session,
        Company.__table__,
        [
            {
                "id": ident,
                "customer_number": 20000 + ident,
                "name": name,
                "org_number": org,
                "country": "SE",
                "status": "active",
                "is_supplier": supplier,
                "email_locked": False,
                "invoice_language": "sv",
                "discount_percent": discount,
                "payment_terms_days": 30,
                "currency": "SEK",
                "version": 1,
                "created_at": AT,
                "updated_at": AT,
                "owner_id": None,
            }
            for ident, name, org, supplier, discount in zip(
                company_ids,
                ("Åkeri Öst AB", "Bygg & Co"),
                ("5560360793", None),
                (True, False),
                (Decimal("12.50"), Decimal("0")),
                strict=True,
            )
        ],
    )
    bulk.insert_rows(
        session,
        AuditEvent.__table__,
        [
            {
                "actor_id": None,
                "entity_type": "company",
                "entity_id": company_ids[0],
                "entity_label": "Åkeri Öst AB",
                "action": "create",
                "changes": {"name": "Åkeri Öst AB", "categories": ["A-kund"]},
                "import_job_id": None,
                "at": AT,
            },
            {
                "actor_id": None,
                "entity_type": "company",
                "entity_id": company_ids[1],
                "entity_label": None,
                "action": "create",
                "changes": None,
                "import_job_id": None,
                "at": AT,
            },
        ],
    )
    session.commit()
    session.expire_all()
    first, second = (session.get(Company, ident) for ident in company_ids)
    assert (first.name, first.org_number, first.is_supplier, first.discount_percent) == (
        "Åkeri Öst AB",
        "5560360793",
        True,
        Decimal("12.50"),
    )
    assert (second.org_number, second.is_supplier, second.discount_percent) == (None, False, Decimal("0"))
    assert first.created_at == AT and second.updated_at == AT
    events = session.scalars(select(AuditEvent).order_by(AuditEvent.entity_id)).all()
    assert [e.changes for e in events] == [{"name": "Åkeri Öst AB", "categories": ["A-kund"]}, None]
    assert [e.at for e in events] == [AT, AT]


def test_sqlite_uses_a_write_ahead_log(app):
    if db.engine.dialect.name != "sqlite":
        pytest.skip("a SQLite setting; this run is on PostgreSQL")
    with db.engine.connect() as conn:
        assert conn.scalar(text("PRAGMA journal_mode")) == "wal"
        assert conn.scalar(text("PRAGMA synchronous")) == 2  # FULL: every commit is durable


def test_rows_given_as_they_are_made_are_all_inserted(session):
    """A generator of rows (PostgreSQL streams it into COPY as it is made) inserts each row once, in order;
    an empty one inserts nothing."""
    ids = bulk.new_ids(session, Company.__table__, 3)
    made = []

    def rows():
        for n, ident in enumerate(ids):
            made.append(ident)
            yield {
                "id": ident,
                "customer_number": 30000 + ident,
                "name": f"Ström {n} AB",
                "country": "SE",
                "status": "active",
                "is_supplier": False,
                "email_locked": False,
                "invoice_language": "sv",
                "discount_percent": Decimal("0"),
                "payment_terms_days": 30,
                "currency": "SEK",
                "version": 1,
                "created_at": AT,
                "updated_at": AT,
            }

    bulk.insert_rows(session, Company.__table__, rows())
    bulk.insert_rows(session, AuditEvent.__table__, iter([]))
    session.commit()
    found = session.execute(select(Company.id, Company.name).where(Company.id.in_(ids)).order_by(Company.id)).all()
    assert [tuple(r) for r in found] == [(i, f"Ström {n} AB") for n, i in enumerate(ids)]
    assert made == ids
    assert session.scalar(select(AuditEvent.id).limit(1)) is None
