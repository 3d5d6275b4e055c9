"""Dataskydd as a new back-office user and a hostile employee would try it (issue 20 review): an
erasure touches only what names the person, personnummer stay behind their permission, and
Gallring is bounded."""

from datetime import date

import pytest
from sqlalchemy import select

from models import AuditEvent, Company, Contact, Employee
from services import audit, privacy, storage

TODAY = date(2026, 12, 5)


@pytest.fixture
def store(app):
    return storage.from_config(app.config)


def _labels(session, entity_type):
    return set(session.scalars(select(AuditEvent.entity_label).where(AuditEvent.entity_type == entity_type)))


def test_an_erasure_does_not_cut_a_short_name_out_of_other_words(session, employees, make_company, store):
    """«Li Wu» erased: the history of «Kalli Wulff AB» and the note «Ali Wuori ringer» are not theirs."""
    admin = employees["admin"]
    with audit.acting_as(session, admin.id):
        other = make_company(name="Kalli Wulff AB", note="Ali Wuori ringer; mejla kalli@wu.se")
        person = Contact(first_name="Li", last_name="Wu", email="li@wu.se")
        session.add(person)
        session.commit()
        other.note += " – Li Wu var här om Li Wus offert"
        session.commit()
    subject = privacy.find_subject(session, "contact", person.id)
    privacy.erase(session, store, admin, subject, TODAY)
    session.commit()
    session.expire_all()
    assert _labels(session, "company") == {"Kalli Wulff AB"}
    assert session.get(Company, other.id).name == "Kalli Wulff AB"
    events = session.scalars(select(AuditEvent).where(AuditEvent.entity_type == "company")).all()
    notes = [str(e.changes) for e in events if e.changes and "note" in e.changes]
    assert notes and all("Ali Wuori ringer; mejla kalli@wu.se" in n for n in notes)
    assert all("Li Wu" not in n for n in notes)  # the person's own mention is gone, genitive too
    assert any("[raderat] var här om [raderat] offert" in n for n in notes)
    assert session.get(Contact, person.id).email is None
