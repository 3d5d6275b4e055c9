"""An erasure and an extract cover the duplicates merged into the person's records (services.privacy,
`_merge_tree`): a contact merged into theirs, in the trash, still holds their name, e-mail, phone,
personnummer and note under its own id, as a lead merged into their lead does. Erased, such a record
holds the anonymised values and is read-only: restoring it from the trash, through the service or the
trash page, gives back only the anonymised record, and its merge is not undone. A merge undone before
the erasure gave its record back: another person, left as it is."""

import re
from datetime import date

import pytest
from sqlalchemy import select

from helpers import flashes, fresh, sv, text
from models import Contact, Lead, MergeRecord
from services import merge, privacy, storage, trash
from tests.test_privacy import _traces
from tests.test_privacy_erased import ANONYMISED, READ_ONLY, anonymised
from tests.test_search_index import StatementCounter

TODAY = date(2026, 12, 5)
#: The person, as their own record, their two duplicates and their two leads write them.
WILMA = {"first_name": "Wilma", "last_name": "Zebrowska", "email": "wilma@zebrowska.se", "mobile": "+46701234567"}
DUPLICATE = {
    "first_name": "Wilma",
    "last_name": "Zebrowska",
    "email": "wilma.z@gammal.se",
    "phone": "+46812345678",
    "personal_number": "19121212-1212",
    "title": "Inköpare",
    "postal_street": "Zebragatan 7",
    "note": "Ring på fredagar",
}
OLDEST = {"first_name": "Wilma", "last_name": "Zebrowska", "email": "wz@aldre.se", "note": "Flyttat från Zebragatan"}
LEAD = {"contact_first_name": "Wilma", "contact_last_name": "Zebrowska", "contact_email": "wilma@lead.se"}
LEAD_DUPLICATE = {**LEAD, "contact_email": "wilma.lead@gammal.se", "contact_phone": "+46731112233"}
#: Every trace of the person those records hold (searched in every text of the database, any case).
TRACES = (
    "Zebrowska",
    "wilma@zebrowska.se",
    "wilma.z@gammal.se",
    "wz@aldre.se",
    "wilma@lead.se",
    "wilma.lead@gammal.se",
    "46701234567",
    "46812345678",
    "46731112233",
    "1212121212",
    "Inköpare",
    "Zebragatan",
    "fredagar",
)
#: Someone else, merged into the person's record by mistake and given back by an undo.
VERA = {"first_name": "Vera", "last_name": "Lind", "email": "vera@lind.se", "note": "Vill ha katalogen"}


@pytest.fixture
def store(app):
    return storage.from_config(app.config)


@pytest.fixture
def wilma(session, employees, make_contact) -> dict:
    """Wilma's contact, with a chain of duplicates merged into it (the oldest into the duplicate, the
    duplicate into hers), her lead that became it with a duplicate lead merged into it, and Vera's
    record, merged into hers and the merge undone. Ids and merge records by name."""
    admin = employees["admin"]
    keep, duplicate, oldest, vera = (make_contact(**fields) for fields in (WILMA, DUPLICATE, OLDEST, VERA))
    lead, lead_duplicate = Lead(company_name="Nyföretag AB", **LEAD), Lead(company_name="Nyföretag", **LEAD_DUPLICATE)
    session.add_all([lead, lead_duplicate])
    session.commit()
    undone = merge.merge(session, admin, "contact", keep.id, vera.id)
    session.commit()
    merge.undo(session, admin, undone.id)
    session.commit()
    own = {"email": merge.KEEP, "note": merge.KEEP, "contact_email": merge.KEEP}  # the rest: the kept one's empties
    contact_own, lead_own = ({k: v for k, v in own.items() if k in merge.FIELDS[kind]} for kind in ("contact", "lead"))
    merges = {
        "oldest": merge.merge(session, admin, "contact", duplicate.id, oldest.id, contact_own),
        "duplicate": merge.merge(session, admin, "contact", keep.id, duplicate.id, contact_own),
        "lead": merge.merge(session, admin, "lead", lead.id, lead_duplicate.id, lead_own),
        "undone": undone,
    }
    session.commit()
    converted = fresh(session, Lead, lead.id)
    converted.contact_id, converted.status = keep.id, "converted"  # the lead became her contact
    session.commit()
    ids = {"keep": keep.id, "duplicate": duplicate.id, "oldest": oldest.id, "vera": vera.id}
    ids |= {"lead": lead.id, "lead_duplicate": lead_duplicate.id}
    return {"admin": admin, **ids, "merges": {name: record.id for name, record in merges.items()}}


def erase(session, store, wilma) -> None:
    subject = privacy.find_subject(session, "contact", wilma["keep"])
    privacy.erase(session, store, wilma["admin"], subject, TODAY)
    session.commit()


def test_the_person_is_their_record_and_every_record_merged_into_it(session, wilma):
    """Transitively, contacts and leads; not the record an undone merge gave back. A merged-away record
    asked for itself is that record and those merged into it (it names no one it was merged into)."""
    subject = privacy.find_subject(session, "contact", wilma["keep"])
    assert subject.record.id == wilma["keep"]
    assert set(subject.contact_ids) == {wilma["keep"], wilma["duplicate"], wilma["oldest"]}
    assert set(subject.lead_ids) == {wilma["lead"], wilma["lead_duplicate"]}
    assert set(subject.merged) == {
        ("contact", wilma["duplicate"]),
        ("contact", wilma["oldest"]),
        ("lead", wilma["lead_duplicate"]),
    }
    assert privacy.find_subject(session, "lead", wilma["lead_duplicate"]).lead_ids == (wilma["lead_duplicate"],)
    duplicate = privacy.find_subject(session, "contact", wilma["duplicate"])
    assert set(duplicate.contact_ids) == {wilma["duplicate"], wilma["oldest"]}
    assert privacy.find_subject(session, "contact", wilma["vera"]).contact_ids == (wilma["vera"],)


def test_finding_people_takes_the_same_statements_however_many_merges(session, make_contact):
    """The records merged into each person's are found in one statement, however long the chains."""

    def people(count: int, depth: int) -> list[int]:
        kept = []
        for _n in range(count):
            chain = [make_contact() for _d in range(depth + 1)]
            session.add_all(
                MergeRecord(
                    entity_type="contact",
                    survivor_id=survivor.id,
                    merged_id=merged.id,
                    merged_label="Dubblett",
                    fields={},
                    merged_fields={},
                    moved={},
                )
                for survivor, merged in zip(chain, chain[1:], strict=False)
            )
            kept.append(chain[0].id)
        session.commit()
        return kept

    counts = []
    for count, depth in ((1, 1), (8, 4)):
        ids = people(count, depth)
        session.expire_all()
        with StatementCounter() as counter:
            found = privacy.find_subjects(session, "contact", ids)
        assert [len(s.contact_ids) for s in found] == [depth + 1] * count
        counts.append(len(counter.statements))
    assert counts[0] == counts[1] <= 3, counts


def test_the_extract_holds_what_the_merged_away_records_hold(session, wilma):
    document = privacy.extract(session, wilma["admin"], privacy.find_subject(session, "contact", wilma["keep"]))
    rows = {place["key"]: place["rows"] for place in document["places"]}
    assert {r["email"] for r in rows["record"]} == {WILMA["email"], DUPLICATE["email"], OLDEST["email"]}
    assert {r["note"] for r in rows["record"]} >= {DUPLICATE["note"], OLDEST["note"]}
    assert {r["contact_email"] for r in rows["leads"]} == {LEAD["contact_email"], LEAD_DUPLICATE["contact_email"]}
    assert VERA["email"] not in {r["email"] for r in rows["record"]}  # given back by the undo: not hers


def test_erasure_anonymises_the_merged_away_records_and_leaves_no_trace(session, wilma, store):
    """By query: the duplicates hold what the person's record holds, their merges keep no values, and no
    text of the database holds a trace of the person. Vera, given back by an undo, is left as she is."""
    assert {table for table, _column, _key in _traces(session, TRACES)} >= {
        "contact",
        "lead",
        "merge_record",
        "audit_event",
    }
    erase(session, store, wilma)

    for name in ("keep", "duplicate", "oldest"):
        assert anonymised(session, wilma[name]) == ANONYMISED, name
    assert fresh(session, Contact, wilma["duplicate"]).is_deleted  # still in the trash
    for name in ("lead", "lead_duplicate"):
        lead = fresh(session, Lead, wilma[name])
        assert (lead.contact_first_name, lead.contact_email, lead.contact_phone) == (None, None, None), name
    assert _traces(session, TRACES) == set()

    records = {r.id: r for r in session.scalars(select(MergeRecord))}
    for name in ("oldest", "duplicate", "lead"):
        record = records[wilma["merges"][name]]
        assert record.merged_label == "Anonymiserad person", name
        values = [v for changes in (record.fields, record.merged_fields) for pair in changes.values() for v in pair]
        assert values and set(values) == {privacy.ERASED}, name
    assert records[wilma["merges"]["undone"]].merged_label == "Vera Lind"

    vera = fresh(session, Contact, wilma["vera"])
    assert (vera.first_name, vera.last_name, vera.email, vera.note, vera.is_deleted) == (*VERA.values(), False)
    ids = [wilma[name] for name in ("keep", "duplicate", "oldest", "vera")]
    assert privacy.erased_ids(session, "contact", ids) == set(ids[:3])
    assert privacy.erased_ids(session, "lead", [wilma["lead"], wilma["lead_duplicate"]]) == {
        wilma["lead"],
        wilma["lead_duplicate"],
    }


def test_a_merged_away_record_restored_from_the_trash_is_the_anonymised_one(session, wilma, store):
    """Restored, it is read-only like the person's record: no personal data is put back into it."""
    erase(session, store, wilma)
    assert trash.restore(session, wilma["admin"], Contact, [wilma["duplicate"], wilma["oldest"]]) == 2
    session.commit()
    for name in ("duplicate", "oldest"):
        assert not fresh(session, Contact, wilma[name]).is_deleted and anonymised(session, wilma[name]) == ANONYMISED
    fresh(session, Contact, wilma["duplicate"]).email = DUPLICATE["email"]
    with pytest.raises(privacy.ErasedRecord, match=re.escape(sv(READ_ONLY))):
        session.commit()
    session.rollback()
    assert anonymised(session, wilma["duplicate"]) == ANONYMISED


def test_the_trash_page_restores_a_merged_away_record_anonymised(login, session, wilma, store):
    erase(session, store, wilma)
    admin = login("admin")
    trash_page = text(admin.client.get("/admin/trash/"))
    assert "Anonymiserad person" in trash_page and "Zebrowska" not in trash_page
    response = admin.post("/admin/trash/restore", {"rowid": [f"contact:{wilma['oldest']}"]})
    assert response.status_code == 302
    contact = fresh(session, Contact, wilma["oldest"])
    assert not contact.is_deleted and anonymised(session, wilma["oldest"]) == ANONYMISED
    assert "Zebrowska" not in text(admin.client.get(f"/admin/contact/card/{wilma['oldest']}"))


def test_no_merge_of_the_person_s_records_is_undone(login, session, wilma, store):
    """Undone, a merge would take the duplicate out of the trash with the rows and values it had: refused,
    with the Swedish reason, in the service and on the Dubbletter page."""
    erase(session, store, wilma)
    for name in ("oldest", "duplicate", "lead"):
        with pytest.raises(privacy.ErasedRecord, match=re.escape(sv(READ_ONLY))):
            merge.undo(session, wilma["admin"], wilma["merges"][name])
        session.rollback()
    response = login("admin").post(
        f"/admin/duplicates/undo/contact/{wilma['merges']['oldest']}", {}, follow_redirects=True
    )
    assert sv(READ_ONLY) in [message for _category, message in flashes(response)]
    assert session.get(MergeRecord, wilma["merges"]["oldest"]).undone_at is None
    assert fresh(session, Contact, wilma["oldest"]).is_deleted and anonymised(session, wilma["oldest"]) == ANONYMISED


def test_the_erasure_page_counts_and_lists_the_merged_duplicates(login, session, wilma):
    page = text(login("admin").client.get(f"/admin/privacy/contact/{wilma['keep']}/erase"))
    assert sv("Duplicates merged into the person's records") in page
    listed = re.search(r'<ul id="erase-merged">(.*?)</ul>', page, re.S).group(1)
    assert listed.count("<li>") == 3 and listed.count("Wilma Zebrowska") == 3 and "Vera" not in listed
    contacts = re.search(r"<tr><td>Kontakt</td><td[^>]*>(\d+)</td>", page)
    assert contacts and contacts.group(1) == "3"


def test_a_lead_s_merged_duplicate_is_erased_with_it(session, employees, store):
    """A lead not converted: the lead merged into it is theirs too, anonymised and its merge not undone."""
    admin = employees["admin"]
    lead, duplicate = Lead(company_name="Nyföretag AB", **LEAD), Lead(company_name="Nyföretag", **LEAD_DUPLICATE)
    session.add_all([lead, duplicate])
    session.commit()
    record = merge.merge(session, admin, "lead", lead.id, duplicate.id)
    session.commit()
    lead_id, duplicate_id, record_id = lead.id, duplicate.id, record.id
    subject = privacy.find_subject(session, "lead", lead_id)
    assert (subject.lead_ids, subject.merged) == ((lead_id, duplicate_id), (("lead", duplicate_id),))
    privacy.erase(session, store, admin, subject, TODAY)
    session.commit()
    gone = fresh(session, Lead, duplicate_id)
    assert (gone.contact_last_name, gone.contact_email, gone.contact_phone) == (None, None, None)
    assert privacy.erased_ids(session, "lead", [duplicate_id]) == {duplicate_id}
    with pytest.raises(privacy.ErasedRecord):
        merge.undo(session, admin, record_id)
    session.rollback()
    assert _traces(session, TRACES) == set()


def test_a_duplicate_restored_and_merged_the_other_way_round_is_found_once(session, employees, make_contact):
    """Restored from the trash (its merge not undone), then the person's record merged into it: the merges
    make a cycle, which the search of the person's records ends; each record is theirs once."""
    admin = employees["admin"]
    keep, duplicate = make_contact(**WILMA), make_contact(**DUPLICATE)
    merge.merge(session, admin, "contact", keep.id, duplicate.id)
    trash.restore(session, admin, Contact, [duplicate.id])
    merge.merge(session, admin, "contact", duplicate.id, keep.id)
    session.commit()
    for record_id, other_id in ((keep.id, duplicate.id), (duplicate.id, keep.id)):
        subject = privacy.find_subject(session, "contact", record_id)
        assert (subject.contact_ids, subject.merged) == ((record_id, other_id), (("contact", other_id),))
        assert privacy.erased_ids(session, "contact", [record_id]) == set()


def test_the_search_lists_a_person_and_the_duplicates_merged_into_them_once(session, employees, make_contact):
    """Found by an e-mail address they share, the person's record and the duplicate merged into it (in the
    trash, or a merged lead) are one entry, the person's; the erasure and the extract cover both. Merged
    the other way round as well (a cycle): still one entry."""
    admin = employees["admin"]
    keep, duplicate = make_contact(**WILMA), make_contact(**{**DUPLICATE, "email": WILMA["email"]})
    lead, lead_duplicate = Lead(company_name="Nyföretag AB", **LEAD), Lead(company_name="Nyföretag", **LEAD)
    session.add_all([lead, lead_duplicate])
    session.commit()
    merge.merge(session, admin, "contact", keep.id, duplicate.id)
    merge.merge(session, admin, "lead", lead.id, lead_duplicate.id)
    session.commit()
    found = privacy.search(session, WILMA["email"], reader=admin)
    assert [(s.kind, s.record.id, s.merged) for s in found] == [("contact", keep.id, (("contact", duplicate.id),))]
    found = privacy.search(session, LEAD["contact_email"], reader=admin)
    assert [(s.kind, s.record.id, s.merged) for s in found] == [("lead", lead.id, (("lead", lead_duplicate.id),))]
    trash.restore(session, admin, Contact, [duplicate.id])
    merge.merge(session, admin, "contact", duplicate.id, keep.id)
    session.commit()
    [person] = privacy.search(session, WILMA["email"], reader=admin)
    assert sorted(person.contact_ids) == sorted((keep.id, duplicate.id))
