"""Dataskydd (services.privacy): a person with every kind of data, extracted and erased.

After an erasure every text column of every table in the database (read from the database itself,
so a new table or PostgreSQL's generated search_text is searched too) and the SQLite quick-search
index are searched for the person's name, e-mail, phones and personnummer: the only hits allowed
are the buyer kept on the issued invoice under Bokföringslagen.
"""

import io
import json
import zipfile
from datetime import date
from decimal import Decimal
from urllib.parse import parse_qsl, urlencode

import pytest
from sqlalchemy import inspect, select, text

from models import (
    Activity,
    Attachment,
    AuditEvent,
    CallList,
    CallListEntry,
    CompanyContact,
    Contact,
    CustomFieldDefinition,
    CustomFieldValue,
    CustomTab,
    DuplicatePair,
    EmailMessage,
    ImportJob,
    ImportRowError,
    Invoice,
    InvoiceLine,
    Lead,
    MassUpdate,
    MergeRecord,
    Opportunity,
    OrderLine,
    PrivacyEvent,
    ReportDefinition,
    SalesOrder,
    SalesStage,
    SavedSearch,
    WebhookSubscription,
)
from services import audit, files, privacy, register, storage

FIRST, LAST = "Wilma", "Zebrowska"
EMAIL = "wilma.zebrowska@example.se"
MOBILE, PHONE = "+46701234567", "+46812345678"
PNR = "19121212-1212"
#: Every way the person may be written (searched without regard to case).
TRACES = (
    f"{FIRST} {LAST}",
    FIRST,
    LAST,
    EMAIL,
    MOBILE,
    "070-123 45 67",
    "0701234567",
    PHONE,
    "08-123 456 78",
    PNR,
    "1212121212",
    "121212-1212",
)
TODAY = date(2026, 12, 5)
ISSUED_ON = date(2024, 3, 1)


@pytest.fixture
def store(app):
    return storage.from_config(app.config)


@pytest.fixture
def person(session, employees, make_company, store):
    """Wilma Zebrowska, a private customer, with data in every place the register keeps a person's data."""
    admin = employees["admin"]
    session.add(
        WebhookSubscription(
            name="Hook",
            url="https://example.com/hook",
            events=["contact.created", "contact.updated", "lead.created", "company.updated"],
            secret="s" * 32,
        )
    )
    session.commit()
    with audit.acting_as(session, admin.id):
        company = make_company(name="Zeta Bygg AB", note=f"Kontakta {FIRST} {LAST} om avtalet.")
        contact = Contact(
            first_name=FIRST,
            last_name=LAST,
            email="gammal@example.se",
            phone=PHONE,
            mobile=MOBILE,
            personal_number=PNR,
            customer_number=5001,
            postal_street="Zebragatan 7",
            postal_postcode="123 45",
            postal_city="Ystad",
            note=f"{FIRST} föredrar e-post.",
        )
        session.add(contact)
        session.commit()
        contact.email = EMAIL  # an update: the old and new values go to the audit trail
        register.link_contacts(session, company, [contact], role="Inköpare")
        tab = CustomTab(applies_to="contact", name="Extra")
        definition = CustomFieldDefinition(tab=tab, label="Önskemål", field_type="text")
        session.add_all([tab, definition])
        session.flush()
        session.add(CustomFieldValue(field_id=definition.id, contact_id=contact.id, value_text=f"{LAST} vill ha ek"))
        lead = Lead(
            company_name=f"{LAST} Konsult",
            contact_first_name=FIRST,
            contact_last_name=LAST,
            contact_email=EMAIL,
            contact_phone=MOBILE,
            status="converted",
            contact_id=contact.id,
            note=f"Tips från {FIRST}s granne",
        )
        session.add(lead)
        session.flush()
        stage = SalesStage(name="Offert", probability=50)
        session.add(stage)
        session.flush()
        session.add_all(
            [
                Activity(
                    kind="note",
                    subject=f"Möte med {FIRST} {LAST}",
                    description="Ring 070-123 45 67",
                    contact_id=contact.id,
                ),
                Activity(
                    kind="sms", subject="SMS till 070-123 45 67", description=f"Hej {FIRST}!", contact_id=contact.id
                ),
                Activity(kind="call", subject=f"Samtal om {LAST} Konsult", lead_id=lead.id),
                Activity(kind="note", subject=f"{FIRST} {LAST} ringde företaget", company_id=company.id),
                EmailMessage(
                    contact_id=contact.id,
                    sender="salj@zeta.se",
                    recipients=EMAIL,
                    subject=f"Offert till {FIRST} {LAST}",
                    body=f"Hej {FIRST}, ring oss på 08-123 456 78. Ditt personnummer {PNR} är noterat.",
                ),
                EmailMessage(
                    company_id=company.id, sender=EMAIL, recipients="salj@zeta.se", subject="Fråga", body="Mvh W.Z."
                ),
                Opportunity(
                    title=f"Kök åt {FIRST} {LAST}", contact_id=contact.id, stage_id=stage.id, amount=Decimal(5)
                ),
            ]
        )
        call_list = CallList(name="Vårkampanj")
        session.add(call_list)
        session.flush()
        session.add_all(
            [
                CallListEntry(
                    call_list_id=call_list.id,
                    contact_id=contact.id,
                    outcome="call_back",
                    note=f"{FIRST} vill bli uppringd",
                ),
                CallListEntry(call_list_id=call_list.id, lead_id=lead.id, note="070-123 45 67"),
            ]
        )
        order = SalesOrder(number=1, order_date=ISSUED_ON, contact_id=contact.id, note=f"{FIRST} {LAST} hämtar själv")
        order.lines.append(OrderLine(description=f"Montering hos {LAST}", amount=Decimal(1)))
        issued = Invoice(
            number=1001, invoice_date=ISSUED_ON, status="sent", contact_id=contact.id, note=f"Tack {FIRST} {LAST}!"
        )
        issued.lines.append(InvoiceLine(description="Konsulttimme", amount=Decimal(950)))
        draft = Invoice(status="draft", contact_id=contact.id, note=f"Utkast åt {LAST}")
        draft.lines.append(InvoiceLine(description=f"Resa till {FIRST}", amount=Decimal(1)))
        session.add_all([order, issued, draft])
        session.commit()
        company.note = f"Kontakta {FIRST} {LAST} om avtalet. {EMAIL}"  # the old value names them too
        session.commit()
    attachment = files.upload(
        session,
        store,
        actor=admin,
        stream=io.BytesIO(f"CV {FIRST} {LAST}".encode()),
        filename="cv.pdf",
        contact_id=contact.id,
    )
    import_key, _size = store.save(io.BytesIO(f"namn;e-post\n{FIRST} {LAST};{EMAIL}\n".encode()), max_bytes=10_000)
    job = ImportJob(entity="contact", filename="kontakter.csv", storage_key=import_key, created_by_id=admin.id)
    session.add(job)
    session.flush()
    session.add(ImportRowError(job_id=job.id, row=3, column="E-post", value=EMAIL, message=f"Finns redan: {EMAIL}"))
    audit.record_bulk(
        session,
        [
            {
                "entity_type": "contact",
                "entity_id": contact.id,
                "entity_label": contact.name,
                "action": "update",
                "changes": {"title": [None, "Chef"]},
            }
        ],
        actor_id=admin.id,
        import_job_id=job.id,
    )
    session.add_all(
        [
            MergeRecord(
                entity_type="contact",
                survivor_id=contact.id,
                merged_id=contact.id + 1000,
                merged_label=f"{FIRST} {LAST}",
                fields={"email": [None, EMAIL], "first_name": [FIRST, FIRST]},
                merged_fields={},
                moved={},
            ),
            MassUpdate(
                entity_type="contact",
                target_ids=[contact.id],
                changes={"title": "Chef"},
                previous={str(contact.id): {"title": None, "email": EMAIL}},
            ),
            DuplicatePair(
                entity_type="contact", low_id=contact.id, high_id=contact.id + 1000, score=90, reasons=["email"]
            ),
            SavedSearch(
                name=f"Ring {FIRST} {LAST}",
                view="contact",
                query=urlencode({"search": f"{FIRST} {LAST}", "sort": "1"}),
                owner_id=admin.id,
            ),
            ReportDefinition(
                name="Privatkunder i Ystad",
                owner_id=admin.id,
                entity="privatecustomer",
                definition={"entity": "privatecustomer", "text": EMAIL, "columns": ["name"]},
            ),
        ]
    )
    session.commit()
    return {
        "admin": admin,
        "contact": contact,
        "company": company,
        "lead": lead,
        "issued": issued,
        "attachment_key": attachment.storage_key,
        "import_key": import_key,
    }


def _database_text(session) -> list[tuple[str, str, object, str]]:
    """(table, column, row key, text) of every text or JSON value in every table of the database."""
    found = []
    inspector = inspect(session.connection())
    for table in inspector.get_table_names():
        if table.endswith(("_search", "_search_data", "_search_idx", "_search_docsize", "_search_config")):
            continue  # SQLite's FTS5 tables: searched through the index below
        columns = [c["name"] for c in inspector.get_columns(table)]
        for row in session.execute(text(f'SELECT * FROM "{table}"')).mappings():
            key = row.get("id", tuple(row.values())[:2])
            for column in columns:
                value = row[column]
                if isinstance(value, (dict, list)):
                    value = json.dumps(value, ensure_ascii=False)
                elif isinstance(value, str) and value[:1] in "{[":
                    try:
                        value = json.dumps(json.loads(value), ensure_ascii=False)
                    except ValueError:
                        pass
                if isinstance(value, str):
                    found.append((table, column, key, value))
    return found


def _traces(session, traces=TRACES) -> set[tuple[str, str, object]]:
    """Where any trace of the person is left: (table, column, row key)."""
    return {
        (table, column, key)
        for table, column, key, value in _database_text(session)
        if any(trace.lower() in value.lower() for trace in traces)
    }


def _index_traces(session) -> list[tuple[str, str]]:
    """SQLite: the (FTS5 table, trace) the quick-search index still finds. PostgreSQL keeps its index
    text in the generated column search_text, which `_traces` reads."""
    if session.get_bind().dialect.name != "sqlite":
        return []
    tables = session.scalars(
        text("SELECT name FROM sqlite_master WHERE type='table' AND sql LIKE 'CREATE VIRTUAL TABLE%fts5%'")
    ).all()
    assert "contact_search" in tables
    return [
        (table, trace)
        for table in tables
        for trace in TRACES
        if session.execute(
            text(f'SELECT rowid FROM "{table}" WHERE "{table}" MATCH :q'), {"q": json.dumps(trace.lower())}
        ).first()
    ]


def test_the_fixture_puts_the_person_everywhere(session, person):
    """The test below can fail: before the erasure the person is in every place of the map, and indexed."""
    tables = {table for table, _column, _key in _traces(session)}
    assert {
        "contact",
        "lead",
        "custom_field_value",
        "activity",
        "email_message",
        "call_list_entry",
        "opportunity",
        "sales_order",
        "order_line",
        "invoice",
        "invoice_line",
        "audit_event",
        "import_row_error",
        "webhook_delivery",
        "merge_record",
        "mass_update",
        "company",
    } <= tables
    if session.get_bind().dialect.name == "sqlite":
        assert ("contact_search", LAST) in _index_traces(session)


def test_erasure_leaves_no_trace_but_the_retained_invoice(session, person, store, app):
    subject = privacy.find_subject(session, "contact", person["contact"].id)
    result = privacy.erase(session, store, person["admin"], subject, TODAY)
    session.commit()

    issued = session.get(Invoice, person["issued"].id)
    assert _traces(session) == {("invoice", "retained_name", issued.id)}
    assert issued.retained_name == f"{FIRST} {LAST}"
    assert issued.retained_address == "Zebragatan 7, 123 45 Ystad"
    assert issued.retained_until == date(2031, 12, 31)
    assert _index_traces(session) == []

    contact = session.get(Contact, person["contact"].id)
    assert (contact.first_name, contact.last_name, contact.customer_number) == ("Anonymiserad", "person", 5001)
    assert session.scalars(select(Attachment)).all() == []
    with pytest.raises(FileNotFoundError):
        store.open(person["attachment_key"])
    with pytest.raises(FileNotFoundError):
        store.open(person["import_key"])
    assert session.scalar(select(ImportJob.storage_key)) is None
    for model in (CustomFieldValue, CompanyContact, CallListEntry, DuplicatePair):
        assert session.scalars(select(model)).all() == []
    saved = session.scalars(select(SavedSearch)).one()  # its query is URL-encoded: read it decoded
    assert (saved.name, dict(parse_qsl(saved.query))) == ("Ring [raderat]", {"search": "[raderat]", "sort": "1"})
    assert session.scalars(select(ReportDefinition)).one().definition["text"] == "[raderat]"
    # kept, without the person: their activities, e-mail, opportunity, order, the company's history
    assert len(session.scalars(select(Activity)).all()) == 4
    assert session.scalar(select(Opportunity.title)) == "Kök åt [raderat]"
    assert session.scalar(select(SalesOrder.note)) == "[raderat] hämtar själv"
    # the erasure is logged without the person's data
    event = session.scalars(select(PrivacyEvent).where(PrivacyEvent.action == "erase")).one()
    assert (event.actor_id, event.subject_type, event.subject_id) == (person["admin"].id, "contact", contact.id)
    assert event.retained_until == date(2031, 12, 31) == result.retained_until
    assert event.summary["invoices_retained"] == 1 and event.summary["files"] == 1
    assert session.scalars(select(AuditEvent).where(AuditEvent.action == "erase")).one().entity_id == contact.id


def test_a_name_alone_in_the_company_texts_is_flagged_for_review(session, person, store):
    note = Activity(kind="note", subject=f"{LAST} vill ha offert", company_id=person["company"].id)
    session.add(note)
    session.commit()
    subject = privacy.find_subject(session, "contact", person["contact"].id)
    result = privacy.erase(session, store, person["admin"], subject, TODAY)
    session.commit()
    assert result.review == [["activity", note.id]]
    assert session.get(Activity, note.id).subject == f"{LAST} vill ha offert"
    assert session.scalars(select(PrivacyEvent.review)).one() == [["activity", note.id]]


def test_retained_invoice_data_is_anonymised_after_its_date(session, person, store):
    subject = privacy.find_subject(session, "contact", person["contact"].id)
    privacy.erase(session, store, person["admin"], subject, TODAY)
    session.commit()
    assert privacy.expire_retained(session, date(2031, 12, 31)) == 0
    assert privacy.expire_retained(session, date(2032, 1, 1)) == 1
    session.commit()
    assert _traces(session) == set()
    invoice = session.get(Invoice, person["issued"].id)
    assert (invoice.number, invoice.total, invoice.retained_name) == (1001, invoice.total, None)


def test_the_retention_task_is_a_periodic_task_of_the_queue(session, person, store):
    from services import privacy_tasks, tasks

    assert "services.privacy_tasks" in tasks.TASK_MODULES
    subject = privacy.find_subject(session, "contact", person["contact"].id)
    privacy.erase(session, store, person["admin"], subject, TODAY)
    session.get(Invoice, person["issued"].id).retained_until = date(2020, 12, 31)  # as if kept since 2013
    session.commit()
    privacy_tasks.expire_retained_invoice_data.call_local()
    session.expire_all()
    assert session.scalar(select(Invoice.retained_name).where(Invoice.id == person["issued"].id)) is None


def test_extract_holds_every_kind_of_data(session, person, store):
    subject = privacy.find_subject(session, "contact", person["contact"].id)
    document = privacy.extract(session, person["admin"], subject)
    session.commit()
    rows = {place["key"]: place["rows"] for place in document["places"]}
    assert {key for key, found in rows.items() if found} == {p.key for p in privacy.PLACES} | {"consents"}
    channels = {row["field"]: row for row in rows["consents"] if row["name"] == str(person["contact"])}
    assert set(channels) == {"E-post", "SMS", "Telefon"}
    assert {row["lawful_basis"] for row in channels.values()} == {"Berättigat intresse"}
    assert rows["record"][0]["personal_number"] == PNR and rows["record"][0]["email"] == EMAIL
    assert rows["company_links"] == [
        {"role": "Inköpare", "created_at": rows["company_links"][0]["created_at"], "company": "Zeta Bygg AB"}
    ]
    assert {r["kind"] for r in rows["activities"]} == {"note", "sms", "call"}
    assert rows["emails"][0]["body"].startswith(f"Hej {FIRST}")
    assert rows["files"][0]["filename"] == "cv.pdf"
    assert rows["call_lists"][0]["call_list"] == "Vårkampanj"
    assert {r["number"] for r in rows["invoices"]} == {1001, None}
    assert rows["orders"][0]["lines"] == [f"Montering hos {LAST}"]
    assert any(r["action"] == "update" and "email" in r["changes"] for r in rows["history"])
    assert rows["leads"][0]["contact_email"] == EMAIL
    # audited: who extracted whom, without the data
    event = session.scalars(select(PrivacyEvent)).one()
    assert (event.action, event.subject_id, event.summary["activities"]) == ("extract", person["contact"].id, 3)
    assert EMAIL not in json.dumps(event.summary)

    archive = zipfile.ZipFile(io.BytesIO(privacy.extract_zip(session, store, subject, document)))
    assert json.loads(archive.read("registerutdrag.json"))["places"][0]["rows"][0]["last_name"] == LAST
    attachment_name = next(n for n in archive.namelist() if n.startswith("filer/"))
    assert archive.read(attachment_name) == f"CV {FIRST} {LAST}".encode()


def test_a_lead_is_extracted_and_erased(session, employees, store):
    lead = Lead(
        company_name="Nyföretag AB", contact_first_name="Ivar", contact_last_name="Qvist", contact_email="ivar@qvist.se"
    )
    session.add(lead)
    session.commit()
    session.add(Activity(kind="call", subject="Ring Ivar Qvist", lead_id=lead.id))
    session.commit()
    subject = privacy.find_subject(session, "lead", lead.id)
    assert privacy.extract(session, employees["admin"], subject)["places"][1]["rows"][0]["contact_last_name"] == "Qvist"
    privacy.erase(session, store, employees["admin"], subject, TODAY)
    session.commit()
    assert not [t for t in _database_text(session) if "qvist" in t[3].lower()]
    assert session.get(Lead, lead.id).company_name == "Nyföretag AB"


def test_a_converted_leads_person_is_the_contact_it_became(session, person):
    """From the converted lead, the extract and the erasure cover the contact too (the same person)."""
    subject = privacy.find_subject(session, "lead", person["lead"].id)
    assert (subject.kind, subject.record.id) == ("contact", person["contact"].id)
    assert person["lead"].id in subject.lead_ids


def test_search_finds_by_personnummer_email_and_name(session, person):
    def search(text):
        return privacy.search(session, text, reader=person["admin"])

    assert [s.record.id for s in search(PNR.replace("-", ""))] == [person["contact"].id]
    # the lead with the same e-mail was converted into the contact: one person
    assert [(s.kind, s.record.id) for s in search(EMAIL.upper())] == [("contact", person["contact"].id)]
    assert "contact" in [s.kind for s in search(LAST)]
    assert search("") == []
    person["contact"].email = "Wilma.Zebrowska@example.se"  # as validation.email stores it: the domain in lower case
    session.commit()
    assert [s.record.id for s in search("Wilma.Zebrowska@example.se")] == [person["contact"].id]


def test_erasure_needs_its_permission(session, person, store, employees):
    subject = privacy.find_subject(session, "contact", person["contact"].id)
    with pytest.raises(PermissionError):
        privacy.erase(session, store, employees["seller"], subject, TODAY)


def test_retention_date_follows_bokforingslagen():
    assert privacy.retained_until(date(2024, 3, 1), TODAY) == date(2031, 12, 31)
    assert privacy.retained_until(date(2024, 12, 31), TODAY) == date(2031, 12, 31)
    assert privacy.retained_until(None, TODAY) == date(2033, 12, 31)
