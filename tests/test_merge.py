"""services.merge: nothing attached to a merged record is lost, the merge is audited and undone."""

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from extensions import db
from models import (
    Activity,
    Attachment,
    AuditEvent,
    CallList,
    CallListEntry,
    Category,
    Company,
    CompanyContact,
    Contact,
    CustomFieldDefinition,
    CustomFieldValue,
    CustomTab,
    EmailMessage,
    Invoice,
    Lead,
    MergeRecord,
    Opportunity,
    Project,
    ProjectParticipant,
    SalesOrder,
    SalesStage,
)
from services import card, merge
from services.validation import InvalidValue


def test_merge_knows_every_foreign_key_to_companies_and_contacts():
    """A new foreign key to company or contact fails here until services.merge says how it moves."""
    found = {
        kind: {
            (table.name, fk.parent.name)
            for table in db.metadata.tables.values()
            for fk in table.foreign_keys
            if fk.column.table.name == kind
        }
        for kind in merge.MODELS
    }
    for kind in merge.MODELS:
        assert found[kind] == set(merge.FOREIGN_KEYS[kind]), kind


def related_counts(session, kind: str, record_id: int) -> dict[str, int]:
    """Rows pointing at the record, per foreign key, counted by query."""
    counts = {}
    for table_name, column in merge.FOREIGN_KEYS[kind]:
        table = db.metadata.tables[table_name]
        counts[f"{table_name}.{column}"] = session.scalar(
            select(func.count()).select_from(table).where(table.c[column] == record_id)
        )
    return counts


def attach_everything(session, company: Company, *, shared_contact, shared_category, field, tag: str, stage):
    """One row of every kind attached to `company` (and a link to what both companies share)."""
    own_contact = Contact(first_name="Egen", last_name=f"Kontakt {tag}")
    project = Project(name=f"Projekt {tag}")
    call_list = CallList(name=f"Ringlista {tag}")
    session.add_all([own_contact, project, call_list])
    company.categories.extend([shared_category, Category(name=f"Kategori {tag}")])
    number = 1 if tag == "A" else 2
    with session.no_autoflush:
        rows = [
            CompanyContact(company=company, contact=own_contact, role="VD"),
            CompanyContact(company=company, contact=shared_contact, role=f"Roll {tag}"),
            ProjectParticipant(project=project, company=company, role="Kund"),
            CustomFieldValue(field_id=field.id, company_id=company.id, value_text=f"Värde {tag}"),
            Activity(subject=f"Möte {tag}", kind="meeting", company_id=company.id),
            EmailMessage(company_id=company.id, sender="a@example.se", recipients="b@example.se", subject=tag),
            Attachment(
                company_id=company.id, filename=f"{tag}.pdf", content_type="application/pdf", size=3, storage_key=tag
            ),
            Opportunity(title=f"Affär {tag}", company_id=company.id, stage_id=stage.id, amount=Decimal("1000")),
            SalesOrder(number=number, order_date=date(2026, 1, number), company_id=company.id),
            Invoice(
                number=100 + number,
                status="sent",
                ocr=f"10{number}",
                invoice_date=date(2026, 2, 1),
                company_id=company.id,
                total=Decimal("1250.00"),
            ),
            Lead(company_name=company.name, company_id=company.id, status="converted"),
            CallListEntry(call_list=call_list, company_id=company.id, outcome="call_back"),
        ]
    session.add_all(rows)
    session.flush()


@pytest.fixture
def two_companies(session, employees, make_company):
    stage = SalesStage(name="Offert", probability=50)
    tab = CustomTab(name="Avtal", applies_to="company")
    field = CustomFieldDefinition(tab=tab, label="Avtalsnummer")
    shared_contact = Contact(first_name="Åsa", last_name="Öberg")
    shared_category = Category(name="Kampanj")
    session.add_all([stage, tab, field, shared_contact, shared_category])
    session.flush()
    keep = make_company(name="Svensson Bygg AB", org_number="5560360793", phone="+4681234567", note="Gammal kund")
    other = make_company(
        name="Svenssons Bygg Aktiebolag", email="info@svenssonbygg.se", website="svenssonbygg.se", note="Ring före 9"
    )
    for company, tag in ((keep, "A"), (other, "B")):
        attach_everything(
            session,
            company,
            shared_contact=shared_contact,
            shared_category=shared_category,
            field=field,
            tag=tag,
            stage=stage,
        )
    other.name = "Svenssons Bygg AB"  # a change in the merged record's history
    session.commit()
    return keep, other


def test_merging_companies_moves_every_related_row_and_loses_nothing(session, employees, two_companies):
    keep, other = two_companies
    keep_id, other_id = keep.id, other.id
    before_keep = related_counts(session, "company", keep_id)
    before_other = related_counts(session, "company", other_id)
    assert all(before_other.values()), before_other  # every kind of row is there to move

    record = merge.merge(session, employees["admin"], "company", keep_id, other_id)
    session.commit()

    after_keep = related_counts(session, "company", keep_id)
    after_other = related_counts(session, "company", other_id)
    for key in before_keep:
        assert after_keep[key] + after_other[key] == before_keep[key] + before_other[key], key
    # what the kept company already had (the shared contact and category, the custom field) stays behind
    left = {k: v for k, v in after_other.items() if v}
    assert left == {
        "company_contact.company_id": 1,
        "company_category.company_id": 1,
        "custom_field_value.company_id": 1,
    }
    kept = session.get(Company, keep_id)
    merged = session.get(Company, other_id)
    assert merged.is_deleted and merged.status == "merged"
    assert {c.last_name for c in kept.contacts} == {"Kontakt A", "Kontakt B", "Öberg"}
    assert {c.name for c in kept.categories} == {"Kampanj", "Kategori A", "Kategori B"}
    # values: the non-empty one wins, two notes are both kept, the kept company's number stays
    assert kept.email == "info@svenssonbygg.se" and kept.website == "svenssonbygg.se"
    assert kept.org_number == "5560360793" and kept.phone == "+4681234567"
    assert kept.note == "Gammal kund\n\nRing före 9"
    # sent invoices keep their numbers, now on the kept customer
    assert sorted(session.scalars(select(Invoice.number).where(Invoice.company_id == keep_id))) == [101, 102]
    assert record.moved["invoice.company_id"] and record.merged_label == "Svenssons Bygg AB"
    # audited, and the merged company's own history is readable on the kept company's card
    actions = set(
        session.scalars(
            select(AuditEvent.action).where(AuditEvent.entity_type == "company", AuditEvent.entity_id == keep_id)
        )
    )
    assert "merge" in actions
    history = session.scalars(card.history(kept)).all()
    assert any(e.entity_id == other_id and e.action == "update" for e in history)
    assert merge.merged_into(session, "company", other_id).survivor_id == keep_id


def test_undo_puts_every_row_and_value_back(session, employees, two_companies):
    keep, other = two_companies
    keep_id, other_id = keep.id, other.id
    before = {i: related_counts(session, "company", i) for i in (keep_id, other_id)}
    [(key, definition, mine, theirs)] = merge.custom_conflicts(session, "company", keep, other)
    assert (definition.label, mine, theirs) == ("Avtalsnummer", "Värde A", "Värde B")
    record = merge.merge(session, employees["admin"], "company", keep_id, other_id, {"name": merge.MERGED})
    session.commit()
    assert session.get(Company, keep_id).name == "Svenssons Bygg AB"
    # the custom field both had: the merged company's value (it was changed last) on the kept one
    assert custom_value(session, keep_id, definition) == "Värde B"
    assert custom_value(session, other_id, definition) == "Värde A"

    merge.undo(session, employees["admin"], record.id)
    session.commit()
    assert custom_value(session, keep_id, definition) == "Värde A"
    assert custom_value(session, other_id, definition) == "Värde B"

    assert {i: related_counts(session, "company", i) for i in (keep_id, other_id)} == before
    kept, restored = session.get(Company, keep_id), session.get(Company, other_id)
    assert not restored.is_deleted and restored.status == "active"
    assert kept.name == "Svensson Bygg AB" and kept.email is None and kept.note == "Gammal kund"
    assert session.get(MergeRecord, record.id).undone_at is not None
    with pytest.raises(InvalidValue):
        merge.undo(session, employees["admin"], record.id)


def custom_value(session, company_id, definition):
    session.expire_all()
    return session.scalar(
        select(CustomFieldValue.value_text).where(
            CustomFieldValue.company_id == company_id, CustomFieldValue.field_id == definition.id
        )
    )


def test_the_kept_custom_field_value_is_chosen_like_any_field(session, employees, two_companies):
    keep, other = two_companies
    [(key, definition, _mine, _theirs)] = merge.custom_conflicts(session, "company", keep, other)
    with pytest.raises(InvalidValue, match="inte giltigt"):  # a custom field the two do not both have is no choice
        merge.merge(session, employees["admin"], "company", keep.id, other.id, {f"{merge.CUSTOM}999": merge.KEEP})
    session.rollback()
    merge.merge(session, employees["admin"], "company", keep.id, other.id, {key: merge.KEEP})
    session.commit()
    assert custom_value(session, keep.id, definition) == "Värde A"


def test_undo_leaves_a_field_changed_since_the_merge(session, employees, two_companies):
    keep, other = two_companies
    record = merge.merge(session, employees["admin"], "company", keep.id, other.id)
    session.commit()
    kept = session.get(Company, keep.id)
    kept.email = "ny@svenssonbygg.se"
    session.commit()
    merge.undo(session, employees["admin"], record.id)
    session.commit()
    assert session.get(Company, keep.id).email == "ny@svenssonbygg.se"


def test_merging_contacts_moves_the_private_customer_number(session, employees, make_company, make_contact):
    company = make_company(name="Ett AB")
    keep = make_contact(first_name="Asa", last_name="Oberg", email="asa.oberg@example.se", companies=[company])
    other = make_contact(first_name="Åsa", last_name="Öberg", customer_number=5001, mobile="+46701234567")
    session.add(Invoice(status="draft", contact_id=other.id, their_reference_id=other.id))
    session.add(Activity(subject="Samtal", kind="call", contact_id=other.id))
    session.commit()
    before = [related_counts(session, "contact", i) for i in (keep.id, other.id)]

    record = merge.merge(
        session,
        employees["admin"],
        "contact",
        keep.id,
        other.id,
        {"first_name": merge.MERGED, "last_name": merge.MERGED},
    )
    session.commit()
    kept = session.get(Contact, keep.id)
    assert (kept.name, kept.customer_number, kept.mobile) == ("Åsa Öberg", 5001, "+46701234567")
    assert session.get(Contact, other.id).customer_number is None
    assert related_counts(session, "contact", other.id) == dict.fromkeys(before[0], 0)
    assert session.scalar(select(Invoice.their_reference_id)) == keep.id

    merge.undo(session, employees["admin"], record.id)
    session.commit()
    assert [related_counts(session, "contact", i) for i in (keep.id, other.id)] == before
    assert session.get(Contact, other.id).customer_number == 5001
    assert session.get(Contact, keep.id).customer_number is None


@pytest.mark.parametrize("role", ["seller", "finance", "readonly"])
def test_only_those_with_the_merge_permission_merge(session, employees, make_company, role):
    a, b = make_company(name="A AB"), make_company(name="A Aktiebolag")
    with pytest.raises(merge.NotPermitted):
        merge.merge(session, employees[role], "company", a.id, b.id)
    session.rollback()
    assert not session.get(Company, b.id).is_deleted


def test_a_record_in_the_trash_or_itself_is_not_merged(session, employees, make_company):
    a, b = make_company(name="A AB"), make_company(name="B AB")
    with pytest.raises(InvalidValue):
        merge.merge(session, employees["admin"], "company", a.id, a.id)
    merge.merge(session, employees["admin"], "company", a.id, b.id)
    session.commit()
    with pytest.raises(InvalidValue):
        merge.merge(session, employees["admin"], "company", a.id, b.id)


def test_bad_choices_change_nothing(session, employees, make_company):
    a, b = make_company(name="A AB"), make_company(name="B AB")
    for choices in ({"customer_number": merge.MERGED}, {"name": "both"}, {"name": "x"}):
        with pytest.raises(InvalidValue):
            merge.merge(session, employees["admin"], "company", a.id, b.id, choices)
        session.rollback()
    assert not session.get(Company, b.id).is_deleted
    assert session.scalar(select(func.count()).select_from(MergeRecord)) == 0


@pytest.fixture
def two_leads(session, employees):
    """Two leads for one company, each with an activity, an e-mail (a mass send), categories (one shared)
    and a call-list entry."""
    shared = Category(name="Mässa 2026")
    call_list = CallList(name="Höstens ringlista")
    keep = Lead(company_name="Nordisk Rörteknik", org_number="5560360793", status="contacted", note="Ring VD")
    other = Lead(
        company_name="Nordisk Rörteknik AB",
        contact_first_name="Per",
        contact_last_name="Ek",
        contact_email="per@rorteknik.se",
        status="qualified",
        note="Vill ha offert",
        owner_id=employees["seller"].id,
    )
    session.add_all([shared, call_list, keep, other])
    session.flush()
    for lead, tag in ((keep, "A"), (other, "B")):
        lead.categories.extend([shared, Category(name=f"Kategori {tag}")])
        session.add(Activity(subject=f"Samtal {tag}", kind="call", lead_id=lead.id))
        session.add(
            EmailMessage(lead_id=lead.id, sender="s@example.se", recipients="r@example.se", subject=f"Erbjudande {tag}")
        )
        session.add(CallListEntry(call_list=call_list, lead_id=lead.id, outcome="call_back"))
    session.commit()
    other.source = "Webben"  # a change in the merged lead's own history
    session.commit()
    return keep, other


def test_merging_leads_moves_every_related_row_and_undo_puts_it_back(session, employees, two_leads):
    """Issue 18: leads merge as companies and contacts do: values chosen, rows moved, the other lead marked
    merged (out of the worked leads), its history under the kept one, audited, undone."""
    from services import duplicates

    keep, other = two_leads
    keep_id, other_id = keep.id, other.id
    before = {i: related_counts(session, "lead", i) for i in (keep_id, other_id)}
    assert all(before[other_id].values()), before

    record = merge.merge(session, employees["admin"], "lead", keep_id, other_id, {"company_name": merge.MERGED})
    session.commit()

    after = {i: related_counts(session, "lead", i) for i in (keep_id, other_id)}
    for key in before[keep_id]:
        assert after[keep_id][key] + after[other_id][key] == before[keep_id][key] + before[other_id][key], key
    # the category both had stays with the merged lead (for the undo); everything else moved
    assert {k: v for k, v in after[other_id].items() if v} == {"lead_category.lead_id": 1}
    kept, merged = session.get(Lead, keep_id), session.get(Lead, other_id)
    assert merged.status == "merged" and not merge.is_live(merged)
    assert {c.name for c in kept.categories} == {"Mässa 2026", "Kategori A", "Kategori B"}
    assert kept.company_name == "Nordisk Rörteknik AB" and kept.org_number == "5560360793"
    assert (kept.contact_email, kept.owner_id, kept.note) == (
        "per@rorteknik.se",
        employees["seller"].id,
        "Ring VD\n\nVill ha offert",
    )
    assert session.scalar(select(func.count()).select_from(Lead).where(duplicates.live_condition("lead"))) == 1
    history = session.scalars(card.history(kept)).all()
    assert {(e.entity_id, e.action) for e in history} >= {(keep_id, "merge"), (other_id, "update")}
    assert merge.merged_into(session, "lead", other_id).survivor_id == keep_id

    merge.undo(session, employees["admin"], record.id)
    session.commit()
    assert {i: related_counts(session, "lead", i) for i in (keep_id, other_id)} == before
    kept, restored = session.get(Lead, keep_id), session.get(Lead, other_id)
    assert restored.status == "qualified" and kept.company_name == "Nordisk Rörteknik" and kept.note == "Ring VD"
    assert kept.contact_email is None


def test_a_merged_or_converted_lead_is_not_merged_again_nor_converted(session, employees, two_leads):
    from services import leads

    keep, other = two_leads
    merge.merge(session, employees["admin"], "lead", keep.id, other.id)
    session.commit()
    with pytest.raises(InvalidValue):
        merge.merge(session, employees["admin"], "lead", keep.id, other.id)
    session.rollback()
    with pytest.raises(InvalidValue):
        leads.convert(session, employees["admin"], session.get(Lead, other.id))
    with pytest.raises(merge.NotPermitted):
        merge.merge(session, employees["seller"], "lead", other.id, keep.id)
