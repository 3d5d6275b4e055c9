"""The erasure ledger (services.erasure_ledger): every erasure writes a line of ids and times, no personal
data, to a file outside the database as its transaction commits, none when it rolls back."""

import json
from datetime import date

import pytest
from sqlalchemy import select

from helpers import fresh
from models import Contact, Lead, PrivacyEvent
from services import merge, privacy, storage

TODAY = date(2026, 12, 5)
VENDELA = {"first_name": "Vendela", "last_name": "Quist", "email": "vendela@quist.se", "phone": "+46701234567"}
DUPLICATE = {"first_name": "Vendela", "last_name": "Quist", "email": "vq@gammal.se", "mobile": "+46731112233"}
#: What of the person must never be in the ledger.
TRACES = ("Vendela", "Quist", "quist.se", "gammal.se", "701234567", "731112233")


@pytest.fixture
def ledger(app, tmp_path, monkeypatch):
    """The app's erasure ledger, a file of this test's own."""
    path = tmp_path / "erasures.jsonl"
    monkeypatch.setitem(app.config, "ERASURE_LEDGER", str(path))
    return path


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
