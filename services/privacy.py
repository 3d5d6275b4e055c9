"""Dataskydd (GDPR): where a person's data lives, the register extract (art. 15 and 20) and erasure
(art. 17) that keeps what Bokföringslagen requires.

`PLACES` is the one declared map of the person's own rows; `MENTIONS` the texts and logs elsewhere
that may name them. An extract reads the map; an erasure empties the person's record, deletes or
scrubs every place, and scrubs the mentions of the person's identifiers (full name, e-mail, phone,
personnummer). Where a text still holds only a first or last name it is not certain it means the
person: the row is flagged for review. Issued invoices keep the buyer's name and address until the
end of the seventh year after the invoice year (Bokföringslagen 7 kap. 2 §); `expire_retained`
(run by the task queue) anonymises them then.

Erasure writes with Core statements, not the ORM, so the audit trail and the webhooks do not copy
the erased values into new rows; the quick-search index follows the rows (SQLite: FTS5 triggers;
PostgreSQL: the generated `search_text` column). Exports are streamed, none is kept on the server.
After the erasure the anonymised record is read-only (`ErasedRecord`): nothing may put personal data
back into it. The person's records include the duplicates merged into them (`find_subjects`), which
are extracted and erased with them.
"""

from __future__ import annotations

import bisect
import functools
import io
import json
import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, cast
from urllib.parse import parse_qsl, urlencode

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import (
    Select,
    String,
    Table,
    bindparam,
    delete,
    false,
    func,
    inspect,
    or_,
    select,
    true,
    union,
    update,
)
from sqlalchemy import cast as sql_cast
from sqlalchemy.engine import CursorResult
from sqlalchemy.event import listens_for
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.selectable import CTE

from models import (
    Activity,
    Attachment,
    AuditEvent,
    CallListEntry,
    Company,
    CompanyContact,
    Contact,
    CustomFieldValue,
    DuplicatePair,
    EmailMessage,
    Employee,
    ImportJob,
    ImportRowError,
    Invoice,
    InvoiceLine,
    Lead,
    MassMessage,
    MassUpdate,
    MergeRecord,
    Opportunity,
    OrderLine,
    PrivacyEvent,
    Project,
    ReportDefinition,
    SalesOrder,
    SavedSearch,
    WebhookDelivery,
    contact_categories,
    table_of,
    utcnow,
)
from services import audit, bulk, email_lock, erasure_ledger, formatting, visibility
from services.fields import LABELS as FIELD_LABELS
from services.importing.reader import FileProblem
from services.importing.redact import redact
from services.storage import Storage, delete_at_commit, save_in_transaction
from services.validation import InvalidValue

#: What replaces an identifier of the erased person in a text.
ERASED = "[raderat]"
#: The name an erased contact keeps (the record stays, for invoices and numbers).
ANONYMOUS_FIRST_NAME, ANONYMOUS_LAST_NAME = "Anonymiserad", "person"
ANONYMOUS_NAME = f"{ANONYMOUS_FIRST_NAME} {ANONYMOUS_LAST_NAME}"
#: Bokföringslagen 7 kap. 2 §: accounting records are kept until the end of the seventh year after
#: the calendar year in which the financial year ended.
RETENTION_YEARS = 7

#: The register records a person can be: a contact (or private customer) or a lead.
KINDS: dict[str, type] = {"contact": Contact, "lead": Lead}

ERASURES = {
    "anonymise": _l("Personal fields are emptied; the record stays as «Anonymiserad person»."),
    "delete": _l("Deleted."),
    "scrub": _l("Kept, with the person's name, e-mail, phone and personal identity no. removed from its texts."),
    "retain": _l(
        "Issued invoices are kept with the buyer's name and address under the Swedish Bookkeeping Act "
        "(Bokföringslagen) until the end of the seventh year after the invoice year, then anonymised. "
        "Drafts are scrubbed."
    ),
    "erase_values": _l("The events stay (who changed what, when); their old and new values are erased."),
}


@dataclass(frozen=True)
class Subject:
    """The person: their record and the rows that are theirs too (a contact's leads, its companies, and
    the duplicates merged into any of these records: `merged`, as (kind, id))."""

    kind: str
    record: Any
    contact_ids: tuple[int, ...]
    lead_ids: tuple[int, ...]
    company_ids: tuple[int, ...]
    merged: tuple[tuple[str, int], ...] = ()

    @property
    def name(self) -> str:
        return person_name(self.kind, self.record)

    @property
    def ids(self) -> tuple[tuple[str, tuple[int, ...]], ...]:
        """The person's records as (kind, ids): their contacts, their leads."""
        return (("contact", self.contact_ids), ("lead", self.lead_ids))


def person_name(kind: str, record) -> str:
    """The person a contact or lead record names (a lead without a contact name: its company's)."""
    return record.name if kind == "contact" else record.contact_name or str(record)


@dataclass(frozen=True)
class Place:
    """Where the person's data lives: which rows, what an extract shows, what an erasure does."""

    key: str
    label: Any
    model: type
    rows: Callable[[Subject], ColumnElement[bool]]
    fields: tuple[str, ...]
    erasure: str
    #: The text columns an erasure scrubs ("scrub", "retain").
    texts: tuple[str, ...] = ()
    #: Extra values of a row for the extract (names of related rows).
    extra: Callable[[Any], dict] = field(default=lambda row: {})


def _in(column, ids) -> ColumnElement[bool]:
    return column.in_(ids) if ids else false()


def _naming(s: Subject, kind_column, *id_columns) -> ColumnElement[bool]:
    """Rows whose `kind_column` and one of `id_columns` name one of the person's records."""
    return or_(*((kind_column == kind) & or_(*(_in(c, ids) for c in id_columns)) for kind, ids in s.ids))


def _audit_rows(s: Subject) -> ColumnElement[bool]:
    return _naming(s, AuditEvent.entity_type, AuditEvent.entity_id)


def _documents_history(s: Subject) -> ColumnElement[bool]:
    """The audit events of the person's own activities, opportunities, orders and invoices."""
    places = [p for p in PLACES if p.model in (Activity, Opportunity, SalesOrder, Invoice)]
    return or_(
        *(
            (AuditEvent.entity_type == table_of(p.model).name)
            & AuditEvent.entity_id.in_(select(p.model.id).where(p.rows(s)))  # type: ignore[attr-defined]
            for p in places
        )
    )


PLACES: tuple[Place, ...] = (
    Place(
        "record",
        _l("Contact"),
        Contact,
        lambda s: _in(Contact.id, s.contact_ids),
        (
            "customer_number",
            "first_name",
            "last_name",
            "title",
            "email",
            "phone",
            "mobile",
            "personal_number",
            "postal_street",
            "postal_postcode",
            "postal_city",
            "note",
            "created_at",
            "updated_at",
            "deleted_at",
        ),
        "anonymise",
        extra=lambda row: {"categories": [str(c) for c in row.categories], "owner": str(row.owner or "")},
    ),
    Place(
        "leads",
        _l("Leads"),
        Lead,
        lambda s: _in(Lead.id, s.lead_ids),
        (
            "company_name",
            "org_number",
            "contact_first_name",
            "contact_last_name",
            "contact_title",
            "contact_phone",
            "contact_email",
            "source",
            "status",
            "note",
            "created_at",
            "converted_at",
        ),
        "anonymise",
        texts=("company_name",),
    ),
    Place(
        "custom_fields",
        _l("Custom fields"),
        CustomFieldValue,
        lambda s: _in(CustomFieldValue.contact_id, s.contact_ids),
        ("value_text", "value_number", "value_date", "value_bool"),
        "delete",
        extra=lambda row: {"field": row.field.label},
    ),
    Place(
        "company_links",
        _l("Companies and roles"),
        CompanyContact,
        lambda s: _in(CompanyContact.contact_id, s.contact_ids),
        ("role", "created_at"),
        "delete",
        extra=lambda row: {"company": row.company.name},
    ),
    Place(
        "activities",
        _l("Activities and SMS"),
        Activity,
        lambda s: or_(_in(Activity.contact_id, s.contact_ids), _in(Activity.lead_id, s.lead_ids)),
        ("kind", "subject", "description", "due_at", "done", "created_at"),
        "scrub",
        texts=("subject", "description"),
    ),
    Place(
        "emails",
        _l("E-mail"),
        EmailMessage,
        lambda s: or_(_in(EmailMessage.contact_id, s.contact_ids), _in(EmailMessage.lead_id, s.lead_ids)),
        ("direction", "sender", "recipients", "subject", "body", "sent_at"),
        "scrub",
        texts=("sender", "recipients", "subject", "body"),
    ),
    Place(
        "files",
        _l("Files"),
        Attachment,
        lambda s: _in(Attachment.contact_id, s.contact_ids),
        ("filename", "content_type", "size", "uploaded_at", "deleted_at"),
        "delete",
    ),
    Place(
        "call_lists",
        _l("Call lists and call outcomes"),
        CallListEntry,
        lambda s: or_(_in(CallListEntry.contact_id, s.contact_ids), _in(CallListEntry.lead_id, s.lead_ids)),
        ("outcome", "note", "callback_at", "called_at"),
        "delete",
        extra=lambda row: {"call_list": row.call_list.name},
    ),
    Place(
        "opportunities",
        _l("Sales opportunities"),
        Opportunity,
        lambda s: _in(Opportunity.contact_id, s.contact_ids),
        ("title", "amount", "probability", "close_date", "description", "lost_reason", "created_at"),
        "scrub",
        texts=("title", "description", "lost_reason"),
        extra=lambda row: {"stage": row.stage.name},
    ),
    Place(
        "orders",
        _l("Orders"),
        SalesOrder,
        lambda s: or_(_in(SalesOrder.contact_id, s.contact_ids), _in(SalesOrder.their_reference_id, s.contact_ids)),
        ("number", "order_date", "status", "total", "currency", "note"),
        "scrub",
        texts=("note",),
        extra=lambda row: {"lines": [line.description for line in row.lines]},
    ),
    Place(
        "invoices",
        _l("Invoices"),
        Invoice,
        lambda s: or_(_in(Invoice.contact_id, s.contact_ids), _in(Invoice.their_reference_id, s.contact_ids)),
        ("number", "invoice_date", "due_date", "status", "total", "currency", "note", "retained_until"),
        "retain",
        texts=("note",),
        extra=lambda row: {"lines": [line.description for line in row.lines]},
    ),
    Place(
        "history",
        _l("History (audit trail)"),
        AuditEvent,
        _audit_rows,
        ("at", "entity_type", "action", "changes"),
        "erase_values",
        extra=lambda row: {"by": str(row.actor or "")},
    ),
    Place(
        "documents_history",
        _l("History of their activities, sales opportunities, orders and invoices"),
        AuditEvent,
        _documents_history,
        ("at", "entity_type", "entity_label", "action", "changes"),
        "scrub",
        texts=("entity_label", "changes"),
        extra=lambda row: {"by": str(row.actor or "")},
    ),
)
_EMAILS = next(place for place in PLACES if place.model is EmailMessage)
_FILES = next(place for place in PLACES if place.model is Attachment)

#: Where the person may be named outside their own rows, and what an erasure does there.
MENTIONS: dict[str, Any] = {
    "company_texts": _l(
        "Notes, activities, e-mail, sales opportunities, call outcomes, orders, invoice notes, projects and "
        "custom fields of any record, and those of the person's companies: the person's identifiers are removed; "
        "a text still naming only a first or last name is flagged for review."
    ),
    "audit_trail": _l("Old and new values and labels in the audit trail of any record."),
    "import": _l(
        "Stored import files that wrote the person: their rows are taken out and their identifiers removed "
        "from the other rows, which stay for the import (a file with no other rows is deleted); "
        "the person's import row errors are deleted."
    ),
    "webhooks": _l("Webhook delivery logs."),
    "merges": _l(
        "Merges of the person's records (the values saved to undo them are erased: such a merge can no longer be "
        "undone); other merge, mass-update and mass-send records (their saved old values and failures); duplicate "
        "pairs."
    ),
    "saved": _l("Saved searches and saved reports whose name or conditions hold the person's identifiers."),
    "search_index": _l("The quick-search index follows the records at once."),
    "exports": _l("Exports are not kept on the server: nothing to erase."),
}


def consents(session: Session, subject: Subject) -> list[dict]:
    """The lawful basis and the marketing consent of each channel of the person's records
    (services.consent): when and how each consent was recorded."""
    from services import consent

    records = [session.get(Contact, i) for i in subject.contact_ids] + [session.get(Lead, i) for i in subject.lead_ids]
    return [
        {
            "name": str(record),
            "lawful_basis": str(consent.BASES.get(record.lawful_basis or "", "")),
            "field": str(label),
            "consent": str(consent.STATES[getattr(record, consent.column(channel))]),
            "at": _value(getattr(record, consent.column(channel) + "_at")),
            "source": str(consent.SOURCES.get(getattr(record, consent.column(channel) + "_source") or "", "")),
        }
        for record in records
        if record is not None
        for channel, label in consent.CHANNELS.items()
    ]


# --- the person ---------------------------------------------------------------------------------


def find_subject(session: Session, kind: str, record_id: int) -> Subject | None:
    """The person behind a contact or lead id (None: no such record). A lead converted into a
    contact is that contact's person: its extract and erasure cover the contact and its leads. The
    records merged into the person's (`_merge_tree`) are theirs too: a duplicate in the trash still
    holds their data, and restoring it or undoing its merge would bring that back."""
    found = find_subjects(session, kind, [record_id])
    return found[0] if found else None


def find_subjects(session: Session, kind: str, record_ids) -> list[Subject]:
    """`find_subject` for many ids at once, in their order (each person once, unknown ids left out),
    in at most four statements whatever their number."""
    model: Any = KINDS.get(kind)
    ids = list(dict.fromkeys(record_ids))
    if model is None or not ids:
        return []
    tree = _merge_tree(kind, select(model.id, model.id).where(model.id.in_(ids)))
    members: dict[int, dict[int, Any]] = {}  # the asked id → its record and those merged into it, by id
    for record, owner in session.execute(select(model, tree.c.owner).join(tree, model.id == tree.c.id)):
        members.setdefault(owner, {})[record.id] = record
    if kind == "lead":
        converted = {m[i].contact_id for i, m in members.items() if m[i].contact_id is not None}
        contacts = {s.record.id: s for s in find_subjects(session, "contact", converted)}
        found: list[Subject | None] = []
        for i in (i for i in ids if i in members):
            lead, merged = members[i][i], [j for j in members[i] if j != i]
            if lead.contact_id is not None:
                found.append(contacts.get(lead.contact_id))
                continue
            companies = {r.company_id: None for r in members[i].values() if r.company_id}
            found.append(Subject(kind, lead, (), (i, *merged), tuple(companies), tuple(("lead", j) for j in merged)))
    else:
        person = {j: i for i, m in members.items() for j in m}  # each contact id → the asked id
        leads: dict[int, dict[int, bool]] = {}  # the asked id → its leads, each with whether it was merged in
        lead_tree = _merge_tree("lead", select(Lead.contact_id, Lead.id).where(Lead.contact_id.in_(person)))
        for contact_id, lead_id, merged_in in session.execute(select(lead_tree)):
            theirs = leads.setdefault(person[contact_id], {})
            theirs[lead_id] = theirs.get(lead_id, True) and bool(merged_in)
        companies_of: dict[int, dict[int, None]] = {}
        for company_id, contact_id in session.execute(
            select(CompanyContact.company_id, CompanyContact.contact_id).where(CompanyContact.contact_id.in_(person))
        ):
            companies_of.setdefault(person[contact_id], {})[company_id] = None
        found = []
        for i in (i for i in ids if i in members):
            merged, own_leads = [j for j in members[i] if j != i], leads.get(i, {})
            also = (*(("contact", j) for j in merged), *(("lead", j) for j, m in own_leads.items() if m))
            found.append(
                Subject(kind, members[i][i], (i, *merged), tuple(own_leads), tuple(companies_of.get(i, {})), also)
            )
    unique = {(s.kind, s.record.id): s for s in found if s is not None}
    return list(unique.values())


def _merge_tree(kind: str, base: Select, *, up: bool = False) -> CTE:
    """`base`'s rows (owner, id) with `merged` false, and with `merged` true the records merged into each
    id, transitively (A into B into C: C's are B and A); `up`: the records each id was merged into.

    The one rule of which records are one person's: a merge undone is not followed (the record it gave
    back is a record of its own again, and another person's). One statement (a recursive query)
    whatever the depth; UNION, not UNION ALL: a duplicate restored from the trash (its merge not
    undone) and merged the other way round makes a cycle, which it ends."""
    owner, record = base.selected_columns
    tree = base.with_only_columns(owner.label("owner"), record.label("id"), false().label("merged")).cte(recursive=True)
    follow, on = (
        (MergeRecord.survivor_id, MergeRecord.merged_id) if up else (MergeRecord.merged_id, MergeRecord.survivor_id)
    )
    stands = (MergeRecord.entity_type == kind) & MergeRecord.undone_at.is_(None) & (on == tree.c.id)
    return tree.union(select(tree.c.owner, follow, true()).join(MergeRecord, stands))


def erased_ids(session: Session, kind: str | None, ids) -> set[int]:
    """Which of these contact or lead ids were erased: erased themselves, or merged into a record that was
    (a record of the person, `find_subjects`), or (a lead) converted into a contact that was; none of another
    `kind` (a company is no person). One statement."""
    ids = {i for i in ids if i is not None}
    if not ids or kind not in KINDS:
        return set()
    model: Any = KINDS[kind]
    into = _merge_tree(kind, select(model.id, model.id).where(bulk.one_of(session, model.id, ids)), up=True)
    trees = [(kind, into)]
    if kind == "lead":  # the contact it became (or a lead it was merged into did), and those it was merged into
        became = select(into.c.owner, Lead.contact_id).join(Lead, Lead.id == into.c.id)
        trees.append(("contact", _merge_tree("contact", became.where(Lead.contact_id.is_not(None)), up=True)))
    erase = PrivacyEvent.action == "erase"
    erased = (  # each record looked up by its key in the log (ix_privacy_event_subject), not the log read
        select(tree.c.owner).where(
            select(PrivacyEvent.id)
            .where(erase, PrivacyEvent.subject_type == of, PrivacyEvent.subject_id == tree.c.id)
            .exists()
        )
        for of, tree in trees
    )
    return set(session.scalars(union(*erased)))


# --- an erased person's record is read-only ------------------------------------------------------

#: Why an erased person's record cannot be changed: the refusal on every path, and the notice on its card.
ERASED_READ_ONLY = _l(
    "This person's data has been erased (GDPR). The anonymised record can no longer be changed, "
    "so that no personal data is put back into it."
)


class ErasedRecord(InvalidValue):
    """A change to an erased person's contact or lead record, refused for everyone, administrators too:
    personal data written back would undo the erasure unnoticed. `kind` and `record_id` name the record.

    Refused: any column of the record but the trash's, anything added to its categories or company
    links, a custom field value of it, by `_refuse_writes_to_erased`, which every ORM write meets (the
    forms, the card, the API, a lead's conversion); and where a writer asks `erased_ids` itself: an
    import row updating it (services.importing.engine), Ändra flera (services.mass_update leaves it
    out), a merge or its undo with it on either side (services.merge).

    Also refused: a new activity, e-mail, file, sales opportunity or call list entry of it (new data about
    the person; `_POINTING`).

    Still allowed: moving it to the trash, restoring and purging it; removing links to it (a company
    unlinked or purged, a category removed); erasing it again and the retention of its invoice data;
    and the rows that point at it, which keep working: invoices and orders (bookkeeping: a credit note
    of its invoice too), activities, e-mail, sales opportunities and its history."""

    def __init__(self, kind: str, record_id: int):
        super().__init__(str(ERASED_READ_ONLY))
        self.kind, self.record_id = kind, record_id


def kind_of(model) -> str | None:
    """The KINDS key of a model ("contact", "lead"), None for a model that is no person's record."""
    return next((kind for kind, person in KINDS.items() if issubclass(model, person)), None)


def is_erased(session: Session, record) -> bool:
    """Whether `record` (any model's) is an erased person's contact or lead."""
    return bool(erased_ids(session, kind_of(type(record)), [record.id]))


def refuse_erased(session: Session, kind: str | None, ids) -> None:
    """Raise ErasedRecord when one of these contact or lead ids is an erased person's record."""
    erased = erased_ids(session, kind, ids)
    if erased:
        raise ErasedRecord(cast(str, kind), min(erased))


#: What may still change on an erased record: the trash's columns, and the version and time they move.
_STILL_WRITABLE = frozenset({"deleted_at", "deleted_by_id", "deleted_by", "updated_at", "version"})


def _writes(obj) -> bool:
    """Whether the flush writes on `obj` more than _STILL_WRITABLE: a column, a reference, or a row added
    to one of its lists (a row removed from them is not refused)."""
    state = inspect(obj)
    for prop in state.mapper.attrs:
        if prop.key in _STILL_WRITABLE or getattr(prop, "viewonly", False):
            continue
        history = state.attrs[prop.key].history
        if history.added if getattr(prop, "uselist", False) else history.has_changes():
            return True
    return False


#: Rows about a person that are not added to an erased person's contact or lead (their contact_id, lead_id).
_POINTING = (Activity, EmailMessage, Attachment, Opportunity, CallListEntry)


def _pointed_at(obj, kind: str) -> int | None:
    """The id of the contact or lead (`kind`) a new row points at, by its column or its relationship."""
    record_id = getattr(obj, f"{kind}_id", None)
    if record_id is None and (record := getattr(obj, kind, None)) is not None:
        record_id = record.id
    return record_id


@listens_for(Session, "before_flush")
def _refuse_writes_to_erased(session: Session, flush_context, instances) -> None:
    """The one guard of every ORM write: a flush that writes on an erased person's contact or lead, adds a
    company link or a custom field value to such a contact, or adds a row about them (`_POINTING`), raises
    ErasedRecord (nothing is written). A statement per kind, and none when the flush touches no person."""
    wanted: dict[str, set[int | None]] = {kind: set() for kind in KINDS}
    for obj in session.dirty:
        if isinstance(obj, (Contact, Lead)) and _writes(obj):
            wanted[cast(str, kind_of(type(obj)))].add(obj.id)
    for obj in session.new:
        if isinstance(obj, _POINTING):
            for kind in KINDS:
                wanted[kind].add(_pointed_at(obj, kind))
    for obj in (*session.new, *session.dirty):
        if isinstance(obj, (CompanyContact, CustomFieldValue)):
            contact = obj.contact_id
            if contact is None and isinstance(obj, CompanyContact) and obj.contact is not None:
                contact = obj.contact.id
            wanted["contact"].add(contact)
    for kind, ids in wanted.items():
        refuse_erased(session, kind, ids)


class NumberNotSearched(PermissionError):
    """A search by personnummer by someone who may not read them (the reason, in Swedish)."""


def search(session: Session, text: str | None, *, reader, limit: int = 30) -> list[Subject]:
    """Contacts and leads whose personnummer, e-mail or name matches `text` (Administration – Dataskydd),
    one entry per person: a record merged into another person found (`Subject.merged`) is theirs.
    A whole personnummer is searched only for a `reader` who may read them in full (NumberNotSearched
    otherwise, whether or not it is someone's: a guessed number is never confirmed)."""
    from services import personal_numbers, validation
    from services import search as quick_search

    text = (text or "").strip()
    if not text:
        return []
    try:
        number = validation.personal_number(text) if re.fullmatch(r"[\d\s+\-–—]{10,18}", text) else None
    except validation.InvalidValue:
        number = None
    if number and not personal_numbers.reveal(reader):
        raise NumberNotSearched(
            _(
                "Searching by personal identity number needs the permission to read them in full "
                "(Visa personnummer). Search by name or e-mail address instead."
            )
        )
    if number:
        contacts = list(session.scalars(select(Contact).where(Contact.personal_number == number).limit(limit)))
        leads: list[Lead] = []
    else:
        try:  # stored as validation.email normalises it (the domain in lower case), as typed or all lower
            address = validation.email(text) if "@" in text else None
        except validation.InvalidValue:
            address = None
        forms = {address, address.lower()} if address else set()
        contacts = list(session.scalars(select(Contact).where(Contact.email.in_(forms)).limit(limit))) or (
            quick_search.search(session, Contact, text, limit=limit)
        )
        leads = list(session.scalars(select(Lead).where(Lead.contact_email.in_(forms)).limit(limit))) or (
            quick_search.search(session, Lead, text, limit=limit)
        )
    found = [find_subject(session, "contact", c.id) for c in contacts]
    seen = {c.id for c in contacts}  # a lead converted into one of them is that person already
    found += [find_subject(session, "lead", lead.id) for lead in leads if lead.contact_id not in seen]
    people = {(s.kind, s.record.id): s for s in found if s is not None}
    folded: set[tuple[str, int]] = set()  # each found person's merged-away records (a cycle: the first kept)
    for key, subject in people.items():
        if key not in folded:
            folded.update(subject.merged)
    return [subject for key, subject in people.items() if key not in folded][:limit]


def _phones(number: str | None) -> set[str]:
    """A stored phone number as it may be written: E.164, Swedish style, digits."""
    if not number:
        return set()
    shown = formatting.phone(number)
    forms = {number, shown, re.sub(r"\D", "", shown)}
    if number.startswith("+"):
        forms.add(number[1:])
    return {f for f in forms if len(re.sub(r"\D", "", f)) >= 6}


def _personal_numbers(number: str | None) -> set[str]:
    """A personnummer (YYYYMMDD-NNNN) with and without century and hyphen."""
    if not number:
        return set()
    digits = re.sub(r"\D", "", number)
    return {number, digits, f"{digits[2:8]}-{digits[8:]}", digits[2:]}


def _people(session: Session, subject: Subject) -> tuple[list[Contact], list[Lead]]:
    contacts = list(session.scalars(select(Contact).where(_in(Contact.id, subject.contact_ids))))
    leads = list(session.scalars(select(Lead).where(_in(Lead.id, subject.lead_ids))))
    return contacts, leads


def identifiers(session: Session, subject: Subject) -> tuple[set[str], set[str]]:
    """(certain, uncertain): what certainly names the person (full name, e-mail, phone,
    personnummer), and what may (a first or last name alone)."""
    certain: set[str] = set()
    names: set[str] = set()
    contacts, leads = _people(session, subject)
    for c in contacts:
        certain |= {c.name, f"{c.last_name} {c.first_name}", c.email or ""}
        certain |= _phones(c.phone) | _phones(c.mobile) | _personal_numbers(c.personal_number)
        names |= {c.first_name, c.last_name}
    for lead in leads:
        full = lead.contact_name
        certain |= {full if " " in full else "", lead.contact_email or ""} | _phones(lead.contact_phone)
        names |= {lead.contact_first_name or "", lead.contact_last_name or ""}
    anonymous = {ANONYMOUS_NAME, f"{ANONYMOUS_LAST_NAME} {ANONYMOUS_FIRST_NAME}"}
    certain = {c.strip() for c in certain if len(c.strip()) >= 3} - anonymous  # erased before: not their name
    names = {n.strip() for n in names if len(n.strip()) >= 3} - {ANONYMOUS_FIRST_NAME, ANONYMOUS_LAST_NAME}
    return certain, names


class _Scrubber:
    """Removes the person's identifiers from texts and JSON values; notes what may still name them."""

    def __init__(self, certain: set[str], names: set[str]):
        self.certain = _pattern(certain)
        self.names = _pattern(names, words=True)
        #: LIKE patterns that find candidate rows (also as JSON escapes them).
        self.likes = sorted({f"%{n}%" for n in certain} | {f"%{json.dumps(n)[1:-1]}%" for n in certain})

    def text(self, value):
        if isinstance(value, str):
            return self.certain.sub(ERASED, value) if self.certain else value
        if isinstance(value, list):
            return [self.text(v) for v in value]
        if isinstance(value, dict):
            return {k: self.text(v) for k, v in value.items()}
        return value

    def still_names(self, value) -> bool:
        return bool(self.names and self.names.search(json.dumps(value, ensure_ascii=False, default=str)))

    def candidates(self, *columns) -> ColumnElement[bool]:
        """Rows whose `columns` contain an identifier (a prefilter; `text` decides)."""
        conditions = [sql_cast(c, String).ilike(p) for c in columns for p in self.likes]
        return or_(*conditions) if conditions else false()


def _pattern(needles: set[str], *, words: bool = False) -> re.Pattern | None:
    """The needles as whole words: «Li Wu» is not cut out of «Kalli Wulff AB», nor «li@wu.se» out of
    «kalli@wu.se» (an erasure must not scrub other people's texts); a Swedish genitive («Li Wus», «Li
    Wu:s») goes with the name (`words` False: the scrubber's pattern; True: the review's)."""
    if not needles:
        return None
    body = "|".join(re.escape(n) for n in sorted(needles, key=len, reverse=True))
    if words:
        return re.compile(rf"\b(?:{body})\b", re.IGNORECASE)
    return re.compile(rf"(?<![\w.+-])(?:{body})(?::?s)?(?!\w)", re.IGNORECASE)


# --- the register extract ----------------------------------------------------------------------


def _value(value):
    """A stored value for the extract: times as UTC (the register stores them naive, in UTC), so the
    document shows them in the reader's time zone and the JSON with its zone; the rest as audited."""
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value
    return audit.plain(value) if not isinstance(value, (dict, list)) else value


def _json_value(value):
    """The JSON (art. 20) form of what `json` cannot write itself: times ISO 8601 with their zone."""
    return value.isoformat() if isinstance(value, datetime) else str(value)


class Refused(PermissionError):
    """The extract, which must be whole, holds what the actor may not read (the reason, in Swedish)."""


class LockedEmail(Refused):
    """The person has e-mail the actor may not read."""


class HiddenParts(Refused):
    """The person has activities, e-mail, files, custom fields or history the actor may not see."""


#: The places that are a part of a customer not every employee sees (services.visibility).
_PARTS = {
    "activities": visibility.Part.ACTIVITIES,
    "emails": visibility.Part.EMAIL,
    "files": visibility.Part.FILES,
    "custom_fields": visibility.Part.CUSTOM,
    "history": visibility.Part.HISTORY,
    "documents_history": visibility.Part.HISTORY,
}


class HiddenPersonalNumber(Refused):
    """The person has a personnummer (or had one, in their history) the actor may not read in full."""


def _has_personal_number(session: Session, subject: Subject) -> bool:
    """A personnummer on the person's contact record, or one in the history of their records."""
    if session.scalar(
        select(func.count()).where(_in(Contact.id, subject.contact_ids), Contact.personal_number.is_not(None))
    ):
        return True
    return any(
        isinstance(changes, dict) and "personal_number" in changes
        for changes in session.scalars(select(AuditEvent.changes).where(_audit_rows(subject)))
    )


def extract(session: Session, actor: Employee, subject: Subject) -> dict:
    """Everything stored about the person, place by place (the HTML document and the JSON read it),
    and the extract recorded: who extracted whom, when (without the data). Refused (LockedEmail,
    with the Swedish reason) when some of the person's e-mail is locked away from `actor`: an
    extract leaves nothing out, and the e-mail lock holds in every export. Refused likewise when the
    person has activities, e-mail, files, custom fields or history `actor` may not see (HiddenParts,
    services.visibility), and when the person has a personnummer and `actor` may not read them in
    full (HiddenPersonalNumber)."""
    from services import personal_numbers

    hidden = [
        str(place.label)
        for place in PLACES
        if place.key in _PARTS
        and not visibility.may_see(actor, _PARTS[place.key])
        and session.scalar(select(func.count()).select_from(place.model).where(place.rows(subject)))
    ]
    if hidden:
        raise HiddenParts(
            _(
                "%(name)s has data you may not see (%(parts)s). A register extract must be complete, so only "
                "someone who may see all of it can make it: ask an administrator.",
                name=subject.name,
                parts=", ".join(hidden),
            )
        )
    if not personal_numbers.reveal(actor) and _has_personal_number(session, subject):
        raise HiddenPersonalNumber(
            _(
                "%(name)s has a personal identity number, which you may not read in full. A register extract "
                "must be complete, so only someone with the permission Visa personnummer can make it: ask an "
                "administrator.",
                name=subject.name,
            )
        )
    if email_lock.hides_any(session, actor, _EMAILS.rows(subject)):
        raise LockedEmail(
            _(
                "%(name)s has e-mail that is locked (Spärra tillgång on a company's E-mail tab). A register "
                "extract must be complete, so only someone who may read locked e-mail can make it: ask an "
                "administrator.",
                name=subject.name,
            )
        )
    # recorded first, so that the extract's history holds this extract as the erasure's preview counts it
    event = _log(session, actor.id, "extract", subject, {})
    session.flush()
    places = []
    for place in PLACES:
        in_order = table_of(place.model).primary_key.columns
        rows: Any = session.scalars(select(place.model).where(place.rows(subject)).order_by(*in_order))
        found = [{**{f: _value(getattr(row, f)) for f in place.fields}, **place.extra(row)} for row in rows]
        places.append({"key": place.key, "label": str(place.label), "fields": place.fields, "rows": found})
    consent_fields = ("name", "lawful_basis", "field", "consent", "at", "source")
    places.append(
        {"key": "consents", "label": _("Consents"), "fields": consent_fields, "rows": consents(session, subject)}
    )
    document = {
        "kind": subject.kind,
        "id": subject.record.id,
        "name": subject.name,
        "generated_at": _value(event.at),
        "places": places,
    }
    event.summary = {p["key"]: len(p["rows"]) for p in places}
    return document


def extract_zip(session: Session, storage: Storage, subject: Subject, document: dict) -> bytes:
    """The extract as a ZIP (art. 20): `registerutdrag.json` and the person's files under `filer/` (the
    files of the extract's place)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("registerutdrag.json", json.dumps(document, ensure_ascii=False, indent=2, default=_json_value))
        for attachment in session.scalars(select(Attachment).where(_FILES.rows(subject))):
            try:
                with storage.open(attachment.storage_key) as stream:
                    archive.writestr(f"filer/{attachment.id}-{attachment.filename}", stream.read())
            except FileNotFoundError:
                continue
    return buffer.getvalue()


def _log(session: Session, actor_id: int | None, action: str, subject: Subject, summary: dict, **extra) -> PrivacyEvent:
    event = PrivacyEvent(
        actor_id=actor_id,
        action=action,
        subject_type=subject.kind,
        subject_id=subject.record.id,
        summary=summary,
        **extra,
    )
    session.add(event)
    with audit.acting_as(session, actor_id):
        audit.record(session, subject.record, action)
    return event


# --- erasure -----------------------------------------------------------------------------------


def retained_until(invoice_date: date | None, today: date) -> date:
    """The last day an issued invoice of `invoice_date` must be kept (Bokföringslagen)."""
    year = (invoice_date or today).year
    return date(year + RETENTION_YEARS, 12, 31)


@dataclass
class Preview:
    """What an erasure will do, for the administrator to read before confirming."""

    subject: Subject
    places: list[dict]
    retained_invoices: list[Invoice]
    retained_until: date | None
    #: The duplicates merged into the person's records, as (kind, the name they hold): anonymised with them.
    merged: list[tuple[str, str]] = field(default_factory=list)
    mentions: dict[str, Any] = field(default_factory=lambda: MENTIONS)


def preview(session: Session, subject: Subject, today: date) -> Preview:
    """Each place with how many rows it holds and what erasure does there; issued invoices kept and until
    when; the duplicates merged into the person's records (counted with their places too)."""
    places = []
    for place in PLACES:
        count = session.scalar(select(func.count()).select_from(place.model).where(place.rows(subject)))
        places.append({"label": place.label, "count": count, "erasure": ERASURES[place.erasure]})
    issued = _issued_invoices(session, subject)
    until = max((retained_until(i.invoice_date, today) for i in issued), default=None)
    contacts, leads = _people(session, subject) if subject.merged else ([], [])
    records: list[tuple[str, Any]] = [("contact", c) for c in contacts] + [("lead", lead) for lead in leads]
    merged = [(kind, person_name(kind, r)) for kind, r in records if (kind, r.id) in subject.merged]
    return Preview(subject, places, issued, until, merged)


def _issued_invoices(session: Session, subject: Subject) -> list[Invoice]:
    return list(
        session.scalars(
            select(Invoice)
            .where(_in(Invoice.contact_id, subject.contact_ids), Invoice.number.is_not(None))
            .order_by(Invoice.number)
        )
    )


def _bump(table: Table) -> dict:
    """The optimistic-lock version moves on, so a form opened before the erasure cannot save over it."""
    values: dict[str, Any] = {}
    if "version" in table.c:
        values["version"] = table.c.version + 1
    if "updated_at" in table.c:
        values["updated_at"] = utcnow()
    return values


def _scrub_rows(
    session: Session, table: Table, where: ColumnElement[bool], columns: tuple[str, ...], scrubber: _Scrubber
) -> tuple[int, list[int]]:
    """Remove the identifiers from `columns` of the rows `where` selects: (rows changed, ids to review)."""
    key = table.c.id
    changed, review = 0, []
    for row in session.execute(select(key, *(table.c[c] for c in columns)).where(where)).all():
        old = dict(zip(columns, row[1:], strict=True))
        new = {c: scrubber.text(v) for c, v in old.items()}
        if new != old:
            session.execute(update(table).where(key == row.id).values(**new, **_bump(table)))
            changed += 1
        if scrubber.still_names(new):
            review.append(row.id)
    return changed, review


@dataclass
class Result:
    """What an erasure did: rows per place, rows flagged for review, the retention date."""

    counts: dict[str, int] = field(default_factory=dict)
    review: list[list] = field(default_factory=list)
    retained_until: date | None = None

    def add(self, key: str, count: int) -> None:
        if count:
            self.counts[key] = self.counts.get(key, 0) + count


def erase(session: Session, storage: Storage, actor: Employee, subject: Subject, today: date) -> Result:
    """Erase the person everywhere (see the module's docstring); the caller commits. Not undoable."""
    if not actor.has_permission("privacy.erase"):
        raise PermissionError("privacy.erase")
    return erase_by(session, storage, actor.id, subject, today)


def erase_by(session: Session, storage: Storage, actor_id: int | None, subject: Subject, today: date, **log) -> Result:
    """`erase` on behalf of `actor_id` (None: the retention job, whose rule was set by an administrator, or
    an erasure re-applied: services.privacy_reapply); `log` adds to the logged summary (the retention rule,
    the reason for re-applying). Every erasure is written to the erasure ledger as it commits
    (services.erasure_ledger), wherever it is made."""
    ledger = erasure_ledger.of_app()
    certain, names = identifiers(session, subject)
    #: In the person's own rows and in rows naming them for certain, a first or last name is theirs too;
    #: elsewhere only the certain identifiers are removed, and a remaining name is flagged for review.
    own, mention = _Scrubber(certain | names, set()), _Scrubber(certain, names)
    result = Result()
    _retain_invoices(session, subject, today, result)
    _erase_places(session, storage, subject, own, result)
    _erase_mentions(session, storage, subject, own, mention, result)
    _erase_record(session, subject, result)
    event = _log(
        session,
        actor_id,
        "erase",
        subject,
        {**result.counts, **log},
        review=result.review or None,
        retained_until=result.retained_until,
    )
    session.flush()
    erasure_ledger.write_at_commit(session, ledger, _ledger_entry(session, subject, event))
    return result


def _ledger_entry(session: Session, subject: Subject, event: PrivacyEvent) -> erasure_ledger.Entry:
    """The erasure as the ledger records it: ids and times, no personal data."""
    records = []
    for kind, ids in subject.ids:
        model: Any = KINDS[kind]
        rows = session.execute(select(model.id, model.created_at).where(_in(model.id, ids)))
        records += [(kind, i, erasure_ledger.stamp(created)) for i, created in rows]
    first = (subject.kind, subject.record.id)
    records.sort(key=lambda r: (r[:2] != first, r[0], r[1]))  # the erased record first
    at = event.at.isoformat(timespec="seconds") + "Z"
    return erasure_ledger.Entry(subject.kind, subject.record.id, at, event.id, tuple(records))


def _retain_invoices(session: Session, subject: Subject, today: date, result: Result) -> None:
    """Issued invoices keep the buyer's name and address; those an earlier erasure of the person retained
    (or whose buyer it anonymised) keep what it left, when they are erased again (services.privacy_reapply)."""
    contacts = {c.id: c for c in _people(session, subject)[0]}
    anonymised = holding_data(session, "contact", contacts) ^ set(contacts)
    for invoice in _issued_invoices(session, subject):
        if invoice.retained_until is not None or invoice.contact_id in anonymised:
            continue
        person = contacts[cast(int, invoice.contact_id)]
        city = " ".join(p for p in (person.postal_postcode, person.postal_city) if p)
        until = retained_until(invoice.invoice_date, today)
        session.execute(
            update(table_of(Invoice))
            .where(Invoice.id == invoice.id)
            .values(
                retained_name=person.name,
                retained_address=", ".join(p for p in (person.postal_street, city) if p) or None,
                retained_until=until,
            )
        )
        result.add("invoices_retained", 1)
        result.retained_until = max(filter(None, (result.retained_until, until)))


def _erase_places(session: Session, storage: Storage, subject: Subject, scrubber: _Scrubber, result: Result) -> None:
    for place in PLACES:
        table, where = table_of(place.model), place.rows(subject)
        if place.erasure == "delete":
            if place.model is Attachment:
                delete_at_commit(session, storage, session.scalars(select(Attachment.storage_key).where(where)))
            if place.model is Contact:  # pragma: no cover - the record is anonymised, never deleted
                raise AssertionError
            done = cast(CursorResult, session.execute(delete(table).where(where))).rowcount
            result.add(place.key, done)
        elif place.texts:
            changed, review = _scrub_rows(session, table, where, place.texts, scrubber)
            result.add(place.key, changed)
            if place.erasure == "scrub":
                result.review += [[table.name, i] for i in review]
    for model, column in ((OrderLine, OrderLine.order_id), (InvoiceLine, InvoiceLine.invoice_id)):
        parent = SalesOrder if model is OrderLine else Invoice
        owned = select(parent.id).where(_in(parent.contact_id, subject.contact_ids))
        if model is InvoiceLine:  # the lines of an issued invoice are bookkeeping records
            owned = owned.where(Invoice.number.is_(None))
        result.add("lines", _scrub_rows(session, table_of(model), column.in_(owned), ("description",), scrubber)[0])
    session.execute(delete(contact_categories).where(_in(contact_categories.c.contact_id, subject.contact_ids)))
    events = session.scalars(select(AuditEvent).where(_audit_rows(subject))).all()
    for event in events:
        session.execute(
            update(table_of(AuditEvent))
            .where(AuditEvent.id == event.id)
            .values(entity_label=ANONYMOUS_NAME, changes=_erased_values(event.changes))
        )
    result.add("history", len(events))


def _erased_values(changes):
    """The same fields, every value erased (Historik still says what was changed, when and by whom)."""
    if not isinstance(changes, dict):
        return None
    return {k: [ERASED, ERASED] if isinstance(v, list) and len(v) == 2 else ERASED for k, v in changes.items()}


def _erase_mentions(
    session: Session, storage: Storage, subject: Subject, own: _Scrubber, mention: _Scrubber, result: Result
) -> None:
    companies = subject.company_ids
    for model, texts in _MENTION_TEXTS:
        table = table_of(model)
        # any row naming the person for certain (a company they left, a colleague's note, an e-mail
        # to their address on another card); and every row of their companies, where a first or
        # last name alone is flagged for review
        where = mention.candidates(*(table.c[t] for t in texts))
        if model in (Company, Activity, EmailMessage, Opportunity):
            where = or_(where, _in(model.id if model is Company else model.company_id, companies))
        if model is Contact:  # their own records are emptied by _erase_record
            where = where & ~_in(Contact.id, subject.contact_ids)
        if model is Lead:
            where = where & ~_in(Lead.id, subject.lead_ids)
        changed, review = _scrub_rows(session, table, where, texts, mention)
        result.add("company_texts", changed)
        result.review += [[model.__tablename__, i] for i in review]
    logs: tuple[tuple[str, Any, tuple[str, ...]], ...] = (
        ("audit_trail", AuditEvent, ("entity_label", "changes")),
        ("webhooks", WebhookDelivery, ("payload",)),
        ("merges", MergeRecord, ("merged_label", "fields", "merged_fields")),
        ("merges", MassUpdate, ("previous",)),
        ("merges", MassMessage, ("failures",)),
    )
    for key, model, columns in logs:
        table = table_of(model)
        where = mention.candidates(*(table.c[c] for c in columns))
        if model is AuditEvent:
            where = or_(where, _documents_history(subject))
        result.add(key, _scrub_rows(session, table, where, columns, own)[0])
    theirs = or_(
        *(
            sql_cast(WebhookDelivery.payload, String).like(f'%"type": "{kind}", "id": {i},%')
            for kind, ids in subject.ids
            for i in ids
        ),
        false(),
    )
    for delivery in session.scalars(select(WebhookDelivery).where(theirs)):
        data = {k: delivery.payload["data"][k] for k in ("type", "id")}
        session.execute(
            update(table_of(WebhookDelivery))
            .where(WebhookDelivery.id == delivery.id)
            .values(payload={**delivery.payload, "data": {**data, "erased": True}})
        )
        result.add("webhooks", 1)
    _erase_imports(session, storage, subject, mention, result)
    _scrub_saved(session, own, result)
    _erase_merges(session, subject, result)


def _erase_merges(session: Session, subject: Subject, result: Result) -> None:
    """The merges of the person's records keep none of the values saved to undo them (their undo is
    refused once the person is erased: services.merge), nor the merged record's name where that record
    was the person's (one of their records, or merged into one and not given back by an undo); the
    person's duplicate pairs are deleted."""
    theirs = _naming(subject, MergeRecord.entity_type, MergeRecord.survivor_id, MergeRecord.merged_id)
    own = dict(subject.ids)
    columns = ("id", "entity_type", "merged_id", "undone_at", "fields", "merged_fields")
    rows = session.execute(select(*(getattr(MergeRecord, c) for c in columns)).where(theirs)).all()
    for row in rows:
        values = {"fields": _erased_values(row.fields), "merged_fields": _erased_values(row.merged_fields)}
        if row.undone_at is None or row.merged_id in own[row.entity_type]:
            values["merged_label"] = ANONYMOUS_NAME
        session.execute(update(table_of(MergeRecord)).where(MergeRecord.id == row.id).values(**values))
    result.add("merges", len(rows))
    pairs = _naming(subject, DuplicatePair.entity_type, DuplicatePair.low_id, DuplicatePair.high_id)
    result.add("merges", cast(CursorResult, session.execute(delete(table_of(DuplicatePair)).where(pairs))).rowcount)


#: The free texts of any record that may name the person (their own rows are PLACES').
_MENTION_TEXTS: tuple[tuple[Any, tuple[str, ...]], ...] = (
    (Company, ("note",)),
    (Contact, ("note",)),
    (Lead, ("note",)),
    (Activity, ("subject", "description")),
    (EmailMessage, ("sender", "recipients", "subject", "body")),
    (Opportunity, ("title", "description", "lost_reason")),
    (CallListEntry, ("note",)),
    (SalesOrder, ("note",)),
    (Invoice, ("note",)),
    (Project, ("description",)),
    (CustomFieldValue, ("value_text",)),
)


#: What a text flagged for review is, by its table (the Dataskydd log names it so).
REVIEW_LABELS = {
    "company": _l("Customer"),
    "contact": FIELD_LABELS["contact"],
    "lead": _l("Lead"),
    "activity": _l("Activity"),
    "email_message": _l("E-mail"),
    "opportunity": _l("Sales opportunity"),
    "call_list_entry": _l("Call outcome"),
    "sales_order": _l("Order"),
    "invoice": _l("Invoice"),
    "project": _l("Project"),
    "custom_field_value": _l("Custom field"),
}
_OWNERS: dict[str, Any] = {"company": Company, "contact": Contact, "lead": Lead}


def review_items(session: Session, review) -> list[dict]:
    """Each text of an erasure's `review` ([table, id] pairs) as the log shows it: what it is
    (`label`), and the card it is on (`kind` and `id` of a company, contact or lead, with its `name`;
    None for a project, or a row deleted since)."""
    models = {m.__tablename__: m for m, _texts in _MENTION_TEXTS}
    items = []
    for table_name, row_id in review or []:
        model = models.get(table_name)
        row = session.get(model, row_id) if model is not None else None
        owner_kind, owner = None, None
        if row is not None and table_name in _OWNERS:
            owner_kind, owner = table_name, row
        elif row is not None:
            owner_kind = next((k for k in _OWNERS if getattr(row, f"{k}_id", None) is not None), None)
            owner = session.get(_OWNERS[owner_kind], getattr(row, f"{owner_kind}_id")) if owner_kind else None
        items.append(
            {
                "label": str(REVIEW_LABELS.get(table_name, table_name)),
                "kind": owner_kind if owner is not None else None,
                "id": owner.id if owner is not None else None,
                "name": str(owner) if owner is not None else "",
            }
        )
    return items


def _scrub_saved(session: Session, scrubber: _Scrubber, result: Result) -> None:
    """Saved searches (their query string decoded: a name is stored as `Vilgot+Xanderstr%C3%B6m`)
    and saved reports (their definition's text conditions). Few rows: each is read and checked."""
    for saved in session.execute(select(SavedSearch.id, SavedSearch.name, SavedSearch.query)).all():
        pairs = parse_qsl(saved.query, keep_blank_values=True)
        scrubbed = [(key, scrubber.text(value)) for key, value in pairs]
        name = scrubber.text(saved.name)
        if scrubbed != pairs or name != saved.name:
            values = {"name": name, "query": urlencode(scrubbed)}
            session.execute(update(table_of(SavedSearch)).where(SavedSearch.id == saved.id).values(**values))
            result.add("saved", 1)
    table = table_of(ReportDefinition)
    result.add(
        "saved",
        _scrub_rows(
            session, table, scrubber.candidates(table.c.name, table.c.definition), ("name", "definition"), scrubber
        )[0],
    )


def _erase_imports(session: Session, storage: Storage, subject: Subject, scrubber: _Scrubber, result: Result) -> None:
    """The person's rows go from the stored files of imports that wrote them or whose errors named
    them, and the rest of each file stays (for "Försök igen"), the identifiers scrubbed from its other
    cells; a file left with no rows is deleted. The person's row errors go; the others are renumbered
    to the rows as they now stand."""
    wrote = select(AuditEvent.import_job_id).where(_audit_rows(subject), AuditEvent.import_job_id.is_not(None))
    naming = scrubber.candidates(ImportRowError.value, ImportRowError.message)
    named = select(ImportRowError.job_id).where(naming)
    jobs = session.scalars(select(ImportJob).where(or_(ImportJob.id.in_(wrote), ImportJob.id.in_(named)))).all()
    theirs = _ImportRows(session, subject)
    for job in jobs:
        if job.storage_key is None:
            continue
        key = job.storage_key
        try:
            redacted = redact(
                functools.partial(storage.open, key), drop=theirs.of(job), scrub=scrubber.text, sheet=job.sheet
            )
        except (FileNotFoundError, FileProblem):
            redacted = None
        if redacted is not None and not redacted.changed:
            continue
        values: dict[str, Any] = {"storage_key": None}
        if redacted is not None and redacted.remaining:
            values["storage_key"], values["file_size"] = save_in_transaction(
                session, storage, io.BytesIO(redacted.content), max_bytes=len(redacted.content) + 1
            )
            if job.total_rows is not None:
                values["total_rows"] = job.total_rows - len(redacted.removed)
        delete_at_commit(session, storage, [key])
        session.execute(update(table_of(ImportJob)).where(ImportJob.id == job.id).values(**values))
        result.add("import_files", 1)
        if redacted is not None and redacted.removed:
            _renumber_errors(session, job.id, redacted.removed, result)
    errors = table_of(ImportRowError)
    for error in session.execute(select(errors.c.id, errors.c.value, errors.c.message).where(naming)).all():
        if scrubber.text([error.value, error.message]) != [error.value, error.message]:
            session.execute(delete(errors).where(errors.c.id == error.id))
            result.add("import", 1)


def _renumber_errors(session: Session, job_id: int, removed: list[int], result: Result) -> None:
    """Row errors of the removed rows go; those of later rows move up as their rows did."""
    errors = table_of(ImportRowError)
    gone = cast(
        CursorResult,
        session.execute(delete(errors).where(errors.c.job_id == job_id, errors.c.row.in_(removed))),
    ).rowcount
    result.add("import", gone)
    moved = [
        {"b_id": error_id, "b_row": row - bisect.bisect_left(removed, row)}
        for error_id, row in session.execute(
            select(errors.c.id, errors.c.row).where(errors.c.job_id == job_id, errors.c.row > removed[0])
        )
    ]
    if moved:
        session.execute(update(errors).where(errors.c.id == bindparam("b_id")).values(row=bindparam("b_row")), moved)


class _ImportRows:
    """Which rows of an import file are the person's: a cell that is one of their identifiers (full
    name, e-mail, phone or personnummer in any of its usual forms), or the first and last name
    columns of the import's mapping that make their name."""

    NAME_FIELDS = (("first_name", "last_name"), ("contact_first_name", "contact_last_name"))

    def __init__(self, session: Session, subject: Subject):
        certain, _names = identifiers(session, subject)
        self.exact = {c.casefold() for c in certain}
        self.digits = {d for d in (re.sub(r"\D", "", c) for c in certain) if len(d) >= 7}
        contacts, leads = _people(session, subject)
        pairs: list[tuple[str | None, str | None]] = [(c.first_name, c.last_name) for c in contacts]
        pairs += [(lead.contact_first_name, lead.contact_last_name) for lead in leads]
        self.names = {(f.casefold(), last.casefold()) for f, last in pairs if f and last}

    def of(self, job: ImportJob) -> Callable[[list[str]], bool]:
        """`drop` for the rows of `job`'s file (its mapping says where the names are)."""
        column = {key: int(index) for index, key in (job.mapping or {}).items()}
        name_columns = [(column[f], column[la]) for f, la in self.NAME_FIELDS if f in column and la in column]

        def drop(cells: list[str]) -> bool:
            values = [c.strip().casefold() for c in cells]
            if any(v in self.exact for v in values):
                return True
            if any(v and not re.search(r"[^\d\s+()-]", v) and re.sub(r"\D", "", v) in self.digits for v in values):
                return True
            return any(max(f, la) < len(values) and (values[f], values[la]) in self.names for f, la in name_columns)

        return drop


#: What an erasure writes on the person's own records (the rest of them stays).
_CONTACT_ERASED = {
    "first_name": ANONYMOUS_FIRST_NAME,
    "last_name": ANONYMOUS_LAST_NAME,
    **dict.fromkeys(
        ("title", "email", "phone", "mobile", "personal_number", "note", "postal_street", "postal_postcode")
    ),
    "postal_city": None,
}
_LEAD_ERASED = dict.fromkeys(
    ("contact_first_name", "contact_last_name", "contact_title", "contact_phone", "contact_email", "note")
)


def holding_data(session: Session, kind: str, ids) -> set[int]:
    """Which of these contact or lead ids hold personal data in their record: a field an erasure empties
    (`_CONTACT_ERASED`, `_LEAD_ERASED`) that is not as it leaves it. One statement."""
    model: Any = KINDS[kind]
    ids = set(ids)
    if not ids:
        return set()
    erased = _CONTACT_ERASED if kind == "contact" else _LEAD_ERASED
    table = table_of(model)
    holds = or_(
        *(table.c[name].is_not(None) if value is None else table.c[name] != value for name, value in erased.items())
    )
    return set(session.scalars(select(table.c.id).where(bulk.one_of(session, table.c.id, ids), holds)))


def _erase_record(session: Session, subject: Subject, result: Result) -> None:
    """The person's records are anonymised, and webhook subscribers of contact.updated and
    lead.updated hear of it (GDPR art. 19) with the anonymised record: the changes name the erased
    fields, their old values «[raderat]»."""
    from services import webhooks

    for model, ids, values, key in (
        (Contact, subject.contact_ids, _CONTACT_ERASED, "record"),
        (Lead, subject.lead_ids, _LEAD_ERASED, "leads"),
    ):
        table = table_of(model)
        done = session.execute(update(table).where(_in(table.c.id, ids)).values(**values, **_bump(table)))
        result.add(key, cast(CursorResult, done).rowcount)
        changes = {name: [ERASED, value] for name, value in values.items()}
        webhooks.record_written(session, model, [{"entity_id": i, "action": "update", "changes": changes} for i in ids])
    session.expire_all()


# --- retention of invoice data -----------------------------------------------------------------


def expire_retained(session: Session, today: date) -> int:
    """Anonymise the buyer kept on issued invoices whose retention date has passed; the caller commits."""
    table = table_of(Invoice)
    ids = list(session.scalars(select(Invoice.id).where(Invoice.retained_until < today)))
    if not ids:
        return 0
    session.execute(
        update(table).where(table.c.id.in_(ids)).values(retained_name=None, retained_address=None, retained_until=None)
    )
    session.add(PrivacyEvent(action="retention", subject_type="invoice", subject_id=0, summary={"invoices": len(ids)}))
    return len(ids)


def log(session: Session, *, limit: int = 50) -> list[PrivacyEvent]:
    """The latest extracts, erasures and retention runs, newest first."""
    return list(session.scalars(select(PrivacyEvent).order_by(PrivacyEvent.id.desc()).limit(limit)))
