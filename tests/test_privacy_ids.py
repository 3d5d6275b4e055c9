"""An erased person's id is never another person's (migration 0043). The privacy log and the erasure
ledger name an erased contact or lead by its id; SQLite gave the highest id again once its row was
gone, so a contact (or lead) erased, purged from the trash and followed by a new one made the new one
"erased": read-only, its actions hidden, refused, and erased again by a re-applied erasure. Ids of
`contact` and `lead` are AUTOINCREMENT on SQLite (PostgreSQL's sequences never give an id twice), and
a batch that takes its ids itself (an import, services.bulk) continues from the sequence too.

Each way a user makes a record is tried: the form, an import, the API; then the re-applied erasure
of a restore, with the new record imported with a "Skapad" date before the erasure (a creation time
cannot tell the two apart); and the migration on a demo register made at the revision before it."""

from contextlib import contextmanager
from datetime import date

import pytest
from sqlalchemy import func, select, text

from extensions import db
from helpers import flashes, fresh, sv
from helpers import text as page_text
from models import Contact, Employee, Lead, PrivacyEvent
from services import privacy, storage, trash
from tests.test_api import as_role, keys, openapi  # noqa: F401  (the API's fixtures)
from tests.test_import_service import actor, make_job, run  # noqa: F401  (the import's fixtures)
from tests.test_privacy_erased import erase

TODAY = date(2026, 12, 5)
READ_ONLY = (
    "This person's data has been erased (GDPR). The anonymised record can no longer be changed, "
    "so that no personal data is put back into it."
)


@pytest.fixture
def store(app, ledger):
    return storage.from_config(app.config)


@pytest.fixture
def purged_contact(session, employees, make_contact, store) -> int:
    """The id of the register's newest contact, erased, put in the trash and purged from it."""
    make_contact(first_name="Ada", last_name="Äldre")
    gone = make_contact(first_name="Greta", last_name="Gallrad", email="greta@example.se")
    gone_id = gone.id
    assert gone_id == session.scalar(select(func.max(Contact.id)))
    erase(session, store, employees["admin"], "contact", gone_id)
    trash.delete(session, employees["admin"], Contact, [gone_id])
    session.commit()
    trash.purge(session, store, employees["admin"], Contact, [gone_id])
    session.commit()
    assert session.get(Contact, gone_id) is None
    return gone_id


@pytest.fixture
def purged_lead(session, employees, store) -> int:
    """The id of the register's newest lead, erased and deleted."""
    session.add(Lead(company_name="Första AB"))
    lead = Lead(company_name="Gallrad AB", contact_first_name="Greta", contact_last_name="Gallrad")
    session.add(lead)
    session.commit()
    gone_id = lead.id
    erase(session, store, employees["admin"], "lead", gone_id)
    session.delete(fresh(session, Lead, gone_id))
    session.commit()
    return gone_id


@pytest.fixture
def imported(session, make_job, run):  # noqa: F811  (the import's fixtures)
    """`imported(content, kind)`: the rows of a CSV file imported (dry run, then write) as new records."""

    def _import(content: str, kind: str = "contact") -> None:
        done = run(run(make_job(content, entity=kind, mode="create"), write=False), write=True)
        assert (done.status, done.error_count) == ("done", 0)

    return _import


@pytest.fixture
def created(login, as_role, imported, session):  # noqa: F811  (the API's fixtures)
    """`created(how, kind)`: the id of a new contact or lead named Nora Ny, made `how` a user makes one."""
    return lambda how, kind: _created(how, kind, login=login, api=as_role, imported=imported, session=session)


def _created(how: str, kind: str, *, login, api, imported, session) -> int:
    if how == "form":
        if kind == "contact":
            data = {"first_name": "Nora", "last_name": "Ny", "email": "nora@example.se", "phone": "", "mobile": ""}
        else:
            data = {"company_name": "Ny AB", "contact_first_name": "Nora", "contact_last_name": "Ny", "status": "new"}
        response = login("admin").post(f"/admin/{kind}/new/", {**data, "save_anyway": "y"})
        assert response.status_code == 302, page_text(response)
    elif how == "import":
        content = (
            "Förnamn;Efternamn;E-post\nNora;Ny;nora@example.se\n"
            if kind == "contact"
            else "Företag;Förnamn;Efternamn\nNy AB;Nora;Ny\n"
        )
        imported(content, kind)
    else:
        body = (
            {"first_name": "Nora", "last_name": "Ny", "email": "nora@example.se"}
            if kind == "contact"
            else {"company_name": "Ny AB", "contact_first_name": "Nora", "contact_last_name": "Ny"}
        )
        created = api("admin").post(f"/api/v1/{kind}s", body)
        assert created.status_code == 201, created.get_json()
    model = Contact if kind == "contact" else Lead
    first_name = model.first_name if kind == "contact" else model.contact_first_name
    session.expire_all()
    return session.scalars(select(model.id).where(first_name == "Nora")).one()


@pytest.mark.parametrize("how", ["form", "import", "api"])
def test_a_contact_made_after_the_erased_newest_one_was_purged_is_not_erased(
    how, login, created, session, purged_contact
):
    new_id = created(how, "contact")
    assert new_id > purged_contact
    assert privacy.erased_ids(session, "contact", [new_id]) == set()
    admin = login("admin")
    card = page_text(admin.client.get(f"/admin/contact/card/{new_id}"))
    assert sv(READ_ONLY) not in card and f"/admin/contact/edit/?id={new_id}" in card
    contact = fresh(session, Contact, new_id)
    data = {"first_name": "Nora", "last_name": "Nyberg", "email": "nora@example.se", "version": str(contact.version)}
    response = admin.post(f"/admin/contact/edit/?id={new_id}", data, follow_redirects=True)
    assert sv(READ_ONLY) not in [m for _c, m in flashes(response)]
    assert fresh(session, Contact, new_id).last_name == "Nyberg"


@pytest.mark.parametrize("how", ["form", "import", "api"])
def test_a_lead_made_after_the_erased_newest_one_was_deleted_is_not_erased(how, login, created, session, purged_lead):
    new_id = created(how, "lead")
    assert new_id > purged_lead
    assert privacy.erased_ids(session, "lead", [new_id]) == set()
    admin = login("admin")
    shown = page_text(admin.client.get(f"/admin/lead/show/{new_id}"))
    assert sv(READ_ONLY) not in shown and 'id="lead-edit"' in shown and 'id="convert-lead"' in shown
    lead = fresh(session, Lead, new_id)
    data = {
        "company_name": "Ny AB",
        "contact_first_name": "Nora",
        "contact_last_name": "Nyberg",
        "status": "contacted",
        "version": str(lead.version),
    }
    response = admin.post(f"/admin/lead/edit/?id={new_id}", data, follow_redirects=True)
    assert sv(READ_ONLY) not in [m for _c, m in flashes(response)]
    assert fresh(session, Lead, new_id).contact_last_name == "Nyberg"


def test_a_restore_s_reapplied_erasure_leaves_a_later_record_alone(
    app, session, ledger, purged_contact, imported, tmp_path
):
    """A backup restored re-applies the ledger and the privacy log (services.privacy_reapply); here the
    same command on the instance, with the ledger named as another host's (`--erasures`). The contact
    imported after the purge says it was made ("Skapad") years before the erasure: only its id tells it
    from the erased person, and that id is its own."""
    imported("Förnamn;Efternamn;E-post;Skapad\nNora;Ny;nora@example.se;2020-01-15\n")
    nora = session.scalars(select(Contact).where(Contact.first_name == "Nora")).one()
    assert nora.id != purged_contact and nora.created_at.date() == date(2020, 1, 15)
    elsewhere = tmp_path / "old-host.jsonl"
    elsewhere.write_bytes(ledger.read_bytes())
    result = app.test_cli_runner().invoke(args=["privacy", "reapply-erasures", "--erasures", str(elsewhere)])
    assert result.exit_code == 0, result.output
    assert "0 made again" in result.output
    nora = fresh(session, Contact, nora.id)
    assert (nora.first_name, nora.last_name, nora.email) == ("Nora", "Ny", "nora@example.se")
    assert privacy.erased_ids(session, "contact", [nora.id]) == set()
    erasures = session.scalars(select(PrivacyEvent.subject_id).where(PrivacyEvent.action == "erase")).all()
    assert erasures == [purged_contact]


def set_sequence_back(session, table: str, value: int) -> None:
    """The id sequence of `table` as a backup made when `value` was the last id given brings it back."""
    if session.get_bind().dialect.name == "postgresql":
        sequence = session.scalar(text("SELECT pg_get_serial_sequence(:t, 'id')"), {"t": table})
        session.execute(text("SELECT setval(CAST(:s AS regclass), :v)"), {"s": sequence, "v": value})
    else:
        session.execute(text("UPDATE sqlite_sequence SET seq = :v WHERE name = :t"), {"t": table, "v": value})


def test_after_a_restore_no_erased_person_s_id_is_given_again(app, session, employees, store, ledger, imported):
    """A backup made before Greta was imported, restored after she was erased and purged: its privacy log
    does not know her erasure and its id sequence is behind her id; the ledger knows her. The re-applied
    erasure of the restore moves the sequence past every id the ledger names, so Nora, imported later with
    the same "Skapad" date (the creation time the ledger records is the same), is not given Greta's id,
    and is not erased by the next re-applied erasure."""

    def imported_as(name: str) -> int:
        imported(f"Förnamn;Efternamn;Skapad\n{name};Gran;2020-01-15\n")
        return session.scalars(select(Contact.id).where(Contact.first_name == name)).one()

    def reapply() -> str:
        result = app.test_cli_runner().invoke(args=["privacy", "reapply-erasures"])
        assert result.exit_code == 0, result.output
        return result.output

    first = imported_as("Ada")  # the backup is made here
    greta = imported_as("Greta")
    erase(session, store, employees["admin"], "contact", greta)
    trash.delete(session, employees["admin"], Contact, [greta])
    session.commit()
    trash.purge(session, store, employees["admin"], Contact, [greta])
    session.commit()
    # restored: the log and the sequence as the backup had them; the ledger outside the database keeps Greta
    session.execute(text("DELETE FROM privacy_event"))
    set_sequence_back(session, "contact", first)
    session.commit()
    assert "1 recorded records not in the database" in reapply()

    nora = imported_as("Nora")
    assert nora > greta
    assert "0 made again" in reapply()
    assert fresh(session, Contact, nora).first_name == "Nora"
    assert privacy.erased_ids(session, "contact", [nora]) == set()


def test_contact_and_lead_ids_are_never_given_twice(app, session):
    """Every kind of record the privacy log and the ledger name (privacy.KINDS) is declared AUTOINCREMENT, and
    on either database the newest record deleted leaves its id unused: the next one gets a higher id. On SQLite
    the migrated table says so too (Alembic's comparison of schema and models does not look at AUTOINCREMENT)."""
    made = {"contact": lambda: Contact(first_name="Ny", last_name="Person"), "lead": lambda: Lead(company_name="Ny AB")}
    for kind, model in privacy.KINDS.items():
        assert model.__table__.kwargs.get("sqlite_autoincrement") is True, model
        newest = made[kind]()
        session.add(newest)
        session.commit()
        gone = newest.id
        session.delete(newest)
        session.commit()
        again = made[kind]()
        session.add(again)
        session.commit()
        assert again.id > gone, kind
        if db.engine.dialect.name == "sqlite":
            sql = session.scalar(text("SELECT sql FROM sqlite_master WHERE name = :t"), {"t": model.__tablename__})
            assert "PRIMARY KEY AUTOINCREMENT" in sql, sql


# --- the migration on a register made before it ---------------------------------------------------


def indexed(session) -> dict[str, int]:
    """How many contacts and leads the quick-search index holds (each id once)."""
    return {t: session.scalar(text(f"SELECT count(*) FROM {t}_search_words")) for t in ("contact", "lead")}


@contextmanager
def demo_register(tmp_path):
    """A demo register (`flask --app app seed`) in a SQLite file of its own, whichever database the suite runs
    on (on PostgreSQL the id migrations do nothing), seeded at the head revision (the demo is written by
    today's models); inside, its app's context, to take it down and up again with flask_migrate."""
    from flask_migrate import upgrade

    from app import create_app

    instance = tmp_path / "instance"
    old = create_app(
        {
            "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'demo.sqlite'}",
            "INSTANCE_DIR": str(instance),
            "UPLOAD_DIR": str(instance / "uploads"),
        }
    )
    with old.app_context():
        upgrade()
        seeded = old.test_cli_runner().invoke(args=["seed"])
        assert seeded.exit_code == 0, seeded.output
        try:
            yield old
        finally:
            db.session.remove()


def test_the_migration_keeps_the_quick_search_and_gives_no_erased_id_again(tmp_path):
    """A demo register at head, its newest contact and lead erased and purged (SQLite would give their ids
    again), is taken down to revision 0042 and up again: the new contact and lead get ids above the erased
    ones and are not erased; the quick search finds a contact made, changed, and no longer one deleted (the
    FTS5 triggers were made again with the tables)."""
    from flask_migrate import downgrade, upgrade

    from services import search

    with demo_register(tmp_path) as old:
        session = db.session
        admin = session.scalars(select(Employee).where(Employee.role == "admin")).first()
        store = storage.from_config(old.config)
        newest = {}
        for kind, model in privacy.KINDS.items():
            newest[kind] = session.scalar(select(func.max(model.id)))
            erase(session, store, admin, kind, newest[kind])
        trash.delete(session, admin, Contact, [newest["contact"]])
        session.commit()
        trash.purge(session, store, admin, Contact, [newest["contact"]])
        session.delete(session.get(Lead, newest["lead"]))
        session.commit()
        before = indexed(session)

        downgrade(revision="0042")
        upgrade()
        session.remove()
        session = db.session
        assert indexed(session) == before
        assert session.execute(text("PRAGMA foreign_key_check")).all() == []
        assert session.scalar(text("PRAGMA integrity_check")) == "ok"

        contact = Contact(first_name="Zelmira", last_name="Quoravik", email="zelmira@example.se")
        lead = Lead(company_name="Quoravik Konsult AB")
        session.add_all([contact, lead])
        session.commit()
        assert contact.id > newest["contact"] and lead.id > newest["lead"]
        assert privacy.erased_ids(session, "contact", [contact.id]) == set()
        assert privacy.erased_ids(session, "lead", [lead.id]) == set()
        assert search.candidate_ids(session, Contact, "Quoravik") == [contact.id]
        assert search.candidate_ids(session, Lead, "Quoravik") == [lead.id]
        contact.last_name = "Xylander"
        session.commit()
        assert search.candidate_ids(session, Contact, "Quoravik") == []
        assert search.candidate_ids(session, Contact, "Xylander") == [contact.id]
        existing = session.scalars(select(Contact).where(Contact.id != contact.id).limit(1)).one()
        assert existing.id in search.candidate_ids(session, Contact, existing.last_name)
        session.delete(contact)
        session.commit()
        assert search.candidate_ids(session, Contact, "Xylander") == []
