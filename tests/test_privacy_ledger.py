"""The erasure ledger (services.erasure_ledger) and erasures made again (services.privacy_reapply,
`flask --app app privacy reapply-erasures`). Every erasure writes a line of ids and times, no personal
data, to a file outside the database as its transaction commits, none when it rolls back; the command
erases again the people recorded erased whose records still hold data, here the duplicate merged into
a person that an erasure made before such duplicates were erased with the person left as it was, and
then finds nothing more to do. Restoring a backup (which re-applies the ledger) is in test_backup.py."""

import json
from datetime import date

import pytest
from sqlalchemy import select, text

from helpers import fresh
from models import Contact, Invoice, Lead, PrivacyEvent
from services import erasure_ledger, merge, privacy, storage

TODAY = date(2026, 12, 5)
VENDELA = {"first_name": "Vendela", "last_name": "Quist", "email": "vendela@quist.se", "phone": "+46701234567"}
DUPLICATE = {"first_name": "Vendela", "last_name": "Quist", "email": "vq@gammal.se", "mobile": "+46731112233"}
#: What of the person must never be in the ledger.
TRACES = ("Vendela", "Quist", "quist.se", "gammal.se", "701234567", "731112233")


@pytest.fixture
def store(app):
    return storage.from_config(app.config)


@pytest.fixture
def vendela(session, employees, make_contact) -> dict:
    """Vendela's contact with her duplicate merged into it, and her lead converted into it; ids by name."""
    keep, duplicate = make_contact(**VENDELA), make_contact(**DUPLICATE)
    names = {"contact_first_name": "Vendela", "contact_last_name": "Quist"}
    lead = Lead(company_name="Quist Design", contact_id=keep.id, **names)
    session.add(lead)
    session.commit()
    merge.merge(session, employees["admin"], "contact", keep.id, duplicate.id, {"email": merge.KEEP})
    session.commit()
    return {"admin": employees["admin"], "keep": keep.id, "duplicate": duplicate.id, "lead": lead.id}


def erase(session, store, person) -> None:
    subject = privacy.find_subject(session, "contact", person["keep"])
    privacy.erase(session, store, person["admin"], subject, TODAY)


def lines(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_an_erasure_writes_its_line_as_it_commits_with_no_personal_data(session, store, vendela, ledger):
    """Ids, kinds and times: the record erased, its privacy event, and every record the erasure covered
    (the duplicate merged into it, the lead converted into it), each with its creation time."""
    erase(session, store, vendela)
    assert lines(ledger) == []  # written as the erasure commits, not before
    session.commit()
    event = session.scalars(select(PrivacyEvent).where(PrivacyEvent.action == "erase")).one()
    created = {
        (kind, record.id): record.created_at.isoformat()
        for kind, record in [
            ("contact", fresh(session, Contact, vendela["keep"])),
            ("contact", fresh(session, Contact, vendela["duplicate"])),
            ("lead", fresh(session, Lead, vendela["lead"])),
        ]
    }
    [line] = lines(ledger)
    assert (line["kind"], line["id"], line["event"]) == ("contact", vendela["keep"], event.id)
    assert line["at"] == event.at.isoformat(timespec="seconds") + "Z"
    assert line["records"][0] == ["contact", vendela["keep"], created["contact", vendela["keep"]]]
    assert {(k, i): c for k, i, c in line["records"]} == created
    written = ledger.read_text()
    assert not [trace for trace in TRACES if trace.lower() in written.lower()]


def test_an_erasure_rolled_back_writes_no_line(session, store, vendela, ledger):
    """Rolled back, or rolled back to a savepoint of a transaction that commits: no line. The erasure made
    after them in that transaction has its line, once."""
    erase(session, store, vendela)
    session.rollback()
    savepoint = session.begin_nested()
    erase(session, store, vendela)
    savepoint.rollback()
    assert fresh(session, Contact, vendela["keep"]).email == VENDELA["email"]
    erase(session, store, vendela)
    session.commit()
    event = session.scalars(select(PrivacyEvent).where(PrivacyEvent.action == "erase")).one()
    assert [line["event"] for line in lines(ledger)] == [event.id]


def test_no_erasure_is_made_again_on_a_schema_this_version_does_not_know(app, session, ledger):
    """A backup of an older version, restored: its schema must be upgraded first (the command says how)."""
    head = session.scalar(text("SELECT version_num FROM alembic_version"))
    session.execute(text("UPDATE alembic_version SET version_num = '0001'"))
    session.commit()
    try:
        done = app.test_cli_runner().invoke(args=["privacy", "reapply-erasures"])
    finally:
        session.execute(text("UPDATE alembic_version SET version_num = :head"), {"head": head})
        session.commit()
    assert done.exit_code == 1
    assert "no erasure was re-applied" in done.output and "flask --app app db upgrade" in done.output


def reapply(app, *args):
    done = app.test_cli_runner().invoke(args=["privacy", "reapply-erasures", *args])
    assert done.exit_code == 0, done.output
    return done.output


def test_reapply_erases_the_merged_duplicate_an_old_erasure_left_and_then_nothing(
    app, session, store, vendela, ledger, login
):
    """An erasure made before merged duplicates were erased with the person: the person's record
    anonymised, the duplicate merged into it still holding its name, e-mail and mobile (put back here
    with plain SQL), and no line in the ledger (it did not exist). The privacy log records the erasure:
    the command finds the duplicate through the merge and erases the person again; a second run erases
    no one and logs nothing. Her issued invoice keeps the name the first erasure retained for it."""
    session.add(Invoice(number=1001, invoice_date=date(2026, 1, 10), status="sent", contact_id=vendela["keep"]))
    session.commit()
    erase(session, store, vendela)
    session.commit()
    retained = ("Vendela Quist", date(2033, 12, 31))
    invoice = session.scalars(select(Invoice)).one()
    assert (invoice.retained_name, invoice.retained_until) == retained
    ledger.unlink()
    session.execute(
        text("UPDATE contact SET first_name = :f, last_name = :l, email = :e, mobile = :m WHERE id = :id"),
        {"f": "Vendela", "l": "Quist", "e": DUPLICATE["email"], "m": DUPLICATE["mobile"], "id": vendela["duplicate"]},
    )
    session.commit()

    output = reapply(app)
    assert "1 made again, 0 already in place" in output
    duplicate = fresh(session, Contact, vendela["duplicate"])
    assert (duplicate.first_name, duplicate.last_name) == (privacy.ANONYMOUS_FIRST_NAME, privacy.ANONYMOUS_LAST_NAME)
    assert (duplicate.email, duplicate.mobile) == (None, None)
    session.refresh(invoice)
    assert (invoice.retained_name, invoice.retained_until) == retained
    events = session.scalars(select(PrivacyEvent).where(PrivacyEvent.action == "erase").order_by(PrivacyEvent.id))
    first, again = events.all()
    assert (again.subject_type, again.subject_id, again.actor_id) == ("contact", vendela["keep"], None)
    assert again.summary["reapplied"] == "reapply" and again.summary["record"] >= 1
    assert [line["event"] for line in lines(ledger)] == [again.id]  # the erasure made again is recorded
    page = login("admin").client.get("/admin/privacy/").get_data(as_text=True)
    assert "Raderad igen (privacy reapply-erasures)" in page

    assert "0 made again, 1 already in place" in reapply(app)
    assert session.scalar(select(PrivacyEvent.id).order_by(PrivacyEvent.id.desc()).limit(1)) == again.id
    assert len(lines(ledger)) == 1


def test_reapply_skips_ledger_records_not_in_the_database_or_now_another_record(
    app, session, store, vendela, ledger, make_contact, tmp_path
):
    """Another host's ledger (--erasures) is added to the instance's. Its line whose record is not in the
    database (erased after the backup, say) is skipped; so is the one whose id is now another record's (its
    creation time differs): that person was never erased and keeps their data. A line a crash cut short is
    skipped and said so, and the next line written starts on a line of its own."""
    someone = make_contact(first_name="Ulla", last_name="Berg", email="ulla@berg.se")
    old_host = tmp_path / "old-host.jsonl"
    erasure_ledger.append(
        old_host,
        [
            erasure_ledger.Entry("contact", 99_999, "2026-12-01T10:00:00Z", 41, (("contact", 99_999, "2026-11-01"),)),
            erasure_ledger.Entry(
                "contact", someone.id, "2026-12-01T10:00:00Z", 42, (("contact", someone.id, "2020-01-01T00:00:00"),)
            ),
        ],
    )
    old_host.write_text(old_host.read_text() + '{"kind": "contact", "id": 7')
    output = reapply(app, "--erasures", str(old_host))
    assert f"2 erasures of {old_host} added to this instance's ledger (1 lines that are not entries skipped)" in output
    assert "0 made again, 0 already in place; 1 recorded records not in the database, 1 ids now" in output
    assert fresh(session, Contact, someone.id).email == "ulla@berg.se"
    assert session.scalar(select(PrivacyEvent.id)) is None
    assert ledger.read_text() == "".join(old_host.read_text().splitlines(keepends=True)[:2])
    ledger.write_text(ledger.read_text() + '{"kind": "contact", "id": 7')
    assert "1 line(s) of the erasure ledger" in reapply(app)
    erase(session, store, vendela)
    session.commit()
    assert len(ledger.read_text().splitlines()) == 4
    assert json.loads(ledger.read_text().splitlines()[-1])["id"] == vendela["keep"]
