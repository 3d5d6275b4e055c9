"""A purged company's id is never another company's (migration 0045). The audit trail and the merge records
name a company by id; SQLite gave the highest id again once its row was gone, so the newest company purged
from the trash and followed by a new one gave the new company the purged one's history (the card's Historik).
`company` is AUTOINCREMENT on SQLite (PostgreSQL's sequences never give an id twice), and a batch that takes
its ids itself (an import, services.bulk) continues from the sequence too, as for contacts and leads (0043).

Each way a user makes a company is tried (the form, an import, the API), on either database; then the
migration, down to 0044 and up again, on a demo register in a SQLite file of its own."""

import pytest
from flask_migrate import downgrade, upgrade
from sqlalchemy import func, select, text

from extensions import db
from helpers import text as page_text
from models import AuditEvent, Company, Employee
from services import card, search, storage, trash
from tests.test_api import as_role, keys, openapi  # noqa: F401  (the API's fixtures)
from tests.test_import_service import actor, make_job, run  # noqa: F401  (the import's fixtures)
from tests.test_privacy_ids import demo_register, imported  # noqa: F401  (the import, CSV in, as new records)
from tests.test_views_company import COMPANY_FORM


def purge_newest(session, admin, store, name: str = "Gallrad Verkstad AB") -> int:
    """A new company, the register's newest, with a history (made, changed), put in the trash and purged."""
    gone = Company(name=name, note="Gallrad anteckning")
    session.add(gone)
    session.commit()
    gone.phone = "+46812345678"
    session.commit()
    gone_id = gone.id
    assert gone_id == session.scalar(select(func.max(Company.id)))
    trash.delete(session, admin, Company, [gone_id])
    session.commit()
    trash.purge(session, store, admin, Company, [gone_id])
    session.commit()
    assert session.get(Company, gone_id) is None
    events = select(func.count()).where(AuditEvent.entity_type == "company", AuditEvent.entity_id == gone_id)
    assert session.scalar(events)  # its history stays: the audit trail is kept
    return gone_id


@pytest.fixture
def purged_company(app, session, employees, make_company) -> int:
    """The id of the register's newest company, purged from the trash (its audit events are kept)."""
    make_company(name="Äldre Bolaget AB")
    return purge_newest(session, employees["admin"], storage.from_config(app.config))


@pytest.fixture
def made(login, as_role, imported, session):  # noqa: F811  (the API's and the import's fixtures)
    """`made(how)`: the id of a new company named Nyare Handel AB, made `how` a user makes one."""
    return lambda how: _made(how, login=login, api=as_role, import_csv=imported, session=session)


def _made(how: str, *, login, api, import_csv, session) -> int:
    if how == "form":
        data = {**COMPANY_FORM, "name": "Nyare Handel AB", "org_number": "", "save_anyway": "y"}
        response = login("admin").post("/admin/company/new/", data)
        assert response.status_code == 302, page_text(response)
    elif how == "import":
        import_csv("Företagsnamn;Ort\nNyare Handel AB;Luleå\n", "company")
    else:
        response = api("admin").post("/api/v1/companies", {"name": "Nyare Handel AB"})
        assert response.status_code == 201, response.get_json()
    session.expire_all()
    return session.scalars(select(Company.id).where(Company.name == "Nyare Handel AB")).one()


@pytest.mark.parametrize("how", ["form", "import", "api"])
def test_a_company_made_after_the_newest_one_was_purged_has_an_id_and_a_history_of_its_own(
    how, login, made, purged_company
):
    new_id = made(how)
    assert new_id > purged_company
    history = page_text(login("admin").client.get(f"/admin/company/card/{new_id}/tab/history"))
    assert "Nyare Handel AB" in history or "Luleå" in history  # its own creation
    assert "Gallrad" not in history and "12 345 678" not in history


def test_the_company_table_is_declared_never_to_give_an_id_twice(app, session):
    """Alembic's comparison of the schema and the models does not look at AUTOINCREMENT: the model declares
    it, and on SQLite the migrated table has it."""
    assert Company.__table__.kwargs.get("sqlite_autoincrement") is True
    if db.engine.dialect.name == "sqlite":
        sql = session.scalar(text("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'company'"))
        assert "PRIMARY KEY AUTOINCREMENT" in sql, sql


# --- the migration on a register made before it ---------------------------------------------------


def company_objects(session) -> list[tuple]:
    """Every index, trigger and view on the company table or naming it, with its SQL, in the order made."""
    rows = session.execute(
        text(
            "SELECT type, name, sql FROM sqlite_master WHERE type IN ('index', 'trigger', 'view') "
            "AND (tbl_name = 'company' OR name LIKE 'company%') ORDER BY name"
        )
    )
    return [tuple(row) for row in rows]


def test_the_migration_keeps_every_index_trigger_and_view_and_gives_no_purged_id_again(tmp_path):
    """A demo register taken down to 0044, where SQLite gives a purged newest company's id again, and its
    newest company purged there; upgraded to the head: the table is AUTOINCREMENT with every index (the
    trash's partial one, the NOCASE e-mail one, the name key's …), trigger and view it had, the next company
    gets an id above the purged one and none of its history, and the quick search and the picker's name
    key keep up with companies made, renamed and deleted (their triggers were made again). Down and up
    once more at the end: the migration can be run again."""
    with demo_register(tmp_path) as register:
        session = db.session
        admin = session.scalars(select(Employee).where(Employee.role == "admin")).first()
        before = company_objects(session)
        assert any(sql and " WHERE " in sql for _t, _n, sql in before)  # a partial index among them

        downgrade(revision="0044")
        session.remove()
        session = db.session
        assert "AUTOINCREMENT" not in session.scalar(text("SELECT sql FROM sqlite_master WHERE name = 'company'"))
        # less the words index's triggers, made after 0044 (migration 0047)
        assert company_objects(session) == [o for o in before if not o[1].startswith("company_word")]
        gone = purge_newest(session, admin, storage.from_config(register.config))
        upgrade()
        session.remove()
        session = db.session
        assert company_objects(session) == before
        assert "PRIMARY KEY AUTOINCREMENT" in session.scalar(
            text("SELECT sql FROM sqlite_master WHERE name = 'company'")
        )
        assert session.execute(text("PRAGMA foreign_key_check")).all() == []
        assert session.scalar(text("PRAGMA integrity_check")) == "ok"

        company = Company(name="Quoravik Konsult AB")
        session.add(company)
        session.commit()
        assert company.id > gone
        assert {e.entity_id for e in session.scalars(card.history(company))} == {company.id}
        assert search.candidate_ids(session, Company, "Quoravik") == [company.id]
        key = text("SELECT name_key FROM company WHERE id = :id")
        assert "quoravik" in session.scalar(key, {"id": company.id})
        company.name = "Xylander Konsult AB"
        session.commit()
        assert search.candidate_ids(session, Company, "Quoravik") == []
        assert search.candidate_ids(session, Company, "Xylander") == [company.id]
        assert "xylander" in session.scalar(key, {"id": company.id})
        existing = session.scalars(select(Company).where(Company.id != company.id).limit(1)).one()
        assert existing.id in search.candidate_ids(session, Company, existing.name.split()[0])
        session.delete(company)
        session.commit()
        assert search.candidate_ids(session, Company, "Xylander") == []

        downgrade(revision="0044")
        upgrade()
        session.remove()
        assert company_objects(db.session) == before
