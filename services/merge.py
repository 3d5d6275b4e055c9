"""Sammanslagning: merge duplicate companies, contacts or leads into one kept record, and undo a merge.

The employee picks the record to keep and, field by field, whose value wins
(`default_choices`: the non-empty one, else the most recently changed). Every
row that points at the merged record (every foreign key to its table, listed in
`FOREIGN_KEYS`; a test fails when a new one is not) is moved to the kept
record; a link the kept record already has (the same contact, category, project
or custom field) stays with the merged record, so nothing is lost and an undo
finds it where it was. The merged record goes to the trash (a company with
status "sammanslagen"; a lead, which has no trash, gets the status "sammanslagen"
and leaves the lists of live leads), its history is shown under the kept record
(services.card.history), and a MergeRecord keeps what changed and which rows
moved, so `undo` puts everything back. One transaction; the caller commits.
An erased person's record (read-only: services.privacy) is merged with none,
nor is a merge with it undone: either would move its rows and values to or
from another record.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from models import Company, Contact, CustomFieldDefinition, CustomFieldValue, Employee, Lead, MergeRecord, utcnow
from services import audit, custom_fields, duplicates, leads, privacy, visibility
from services.audit import acting_as
from services.validation import InvalidValue

#: The permission that merging and undoing a merge need (administrators by default), with the register's
#: view and edit permissions (services.duplicates.ACT).
PERMISSION = "duplicate.merge"

MODELS: dict[str, type[Any]] = {"company": Company, "contact": Contact, "lead": Lead}
#: The status a merged lead gets (leads have no trash).
LEAD_MERGED = leads.MERGED

#: Every foreign key to a mergeable table: (table, column) → the columns that make a row unique
#: together with it (a link table's other side), or () when any number of rows may point at a record.
FOREIGN_KEYS: dict[str, dict[tuple[str, str], tuple[str, ...]]] = {
    "company": {
        ("company_contact", "company_id"): ("contact_id",),
        ("company_category", "company_id"): ("category_id",),
        ("project_participant", "company_id"): ("project_id",),
        ("custom_field_value", "company_id"): ("field_id",),
        ("activity", "company_id"): (),
        ("email_message", "company_id"): (),
        ("attachment", "company_id"): (),
        ("opportunity", "company_id"): (),
        ("sales_order", "company_id"): (),
        ("invoice", "company_id"): (),
        ("lead", "company_id"): (),
        ("call_list_entry", "company_id"): (),
    },
    "contact": {
        ("company_contact", "contact_id"): ("company_id",),
        ("contact_category", "contact_id"): ("category_id",),
        ("custom_field_value", "contact_id"): ("field_id",),
        ("activity", "contact_id"): (),
        ("email_message", "contact_id"): (),
        ("attachment", "contact_id"): (),
        ("opportunity", "contact_id"): (),
        ("sales_order", "contact_id"): (),
        ("sales_order", "their_reference_id"): (),
        ("invoice", "contact_id"): (),
        ("invoice", "their_reference_id"): (),
        ("lead", "contact_id"): (),
        ("call_list_entry", "contact_id"): (),
    },
    "lead": {
        ("lead_category", "lead_id"): ("category_id",),
        ("activity", "lead_id"): (),
        ("email_message", "lead_id"): (),
        ("call_list_entry", "lead_id"): (),
    },
}

_ADDRESS = ("postal_street", "postal_postcode", "postal_city")
#: The invoice settings (the card's Inställningar tab).
_INVOICE_DEFAULTS = tuple(f for f, part in visibility.FIELD_PARTS.items() if part is visibility.Part.SETTINGS)

#: The fields whose value the employee chooses, in the order the merge page shows them.
FIELDS: dict[str, tuple[str, ...]] = {
    "company": (
        "name",
        "org_number",
        "country",
        "vat_number",
        "status",
        "industry_id",
        "owner_id",
        "is_supplier",
        "phone",
        "email",
        "website",
        *_ADDRESS,
        "visit_street",
        "visit_postcode",
        "visit_city",
        "invoice_street",
        "invoice_postcode",
        "invoice_city",
        *_INVOICE_DEFAULTS,
        "email_locked",
        "note",
    ),
    "contact": (
        "first_name",
        "last_name",
        "title",
        "email",
        "phone",
        "mobile",
        "personal_number",
        "customer_number",
        "owner_id",
        *_ADDRESS,
        *_INVOICE_DEFAULTS,
        "note",
    ),
    "lead": (
        "company_name",
        "org_number",
        "contact_first_name",
        "contact_last_name",
        "contact_title",
        "contact_phone",
        "contact_email",
        "source",
        "status",
        "owner_id",
        "note",
    ),
}

#: A field whose two values can both be kept ("both": joined, the kept record's first).
JOINABLE = ("note",)
#: Unique columns: the value moves from the merged record to the kept one (the merged one gets none).
UNIQUE_FIELDS = ("customer_number",)

KEEP, MERGED, BOTH = "keep", "merged", "both"
#: The choice key of a custom field both records have a value in: CUSTOM + the definition's id.
CUSTOM = "cf"


NotPermitted = duplicates.NotPermitted


def _check(actor: Employee, kind: str) -> None:
    if not duplicates.permitted(actor, kind):
        raise NotPermitted(kind)


def model_of(kind: str):
    if kind not in MODELS:
        raise InvalidValue(_("Only companies, contacts and leads can be merged."))
    return MODELS[kind]


def is_live(record) -> bool:
    """Whether a record can be merged: not in the trash; a lead still worked (not converted, disqualified or
    merged) and not in the trash."""
    if isinstance(record, Lead):
        return record.status not in Lead.CLOSED and not record.is_deleted
    return not record.is_deleted


def _empty(value) -> bool:
    return value is None or value is False or (isinstance(value, str) and not value.strip())


def _label(record) -> str:
    return str(record)[:200]


def default_choices(kind: str, keep, merged) -> dict[str, str]:
    """Whose value wins per field when the employee changes nothing: the non-empty one; of two different
    non-empty values the most recently changed record's; two notes are both kept."""
    merged_is_newer = newer_is_merged(keep, merged)
    choices = {}
    for field in FIELDS[kind]:
        mine, theirs = getattr(keep, field), getattr(merged, field)
        if _empty(theirs) or audit.plain(mine) == audit.plain(theirs):
            choices[field] = KEEP
        elif _empty(mine):
            choices[field] = MERGED
        elif field in JOINABLE:
            choices[field] = BOTH
        else:
            choices[field] = MERGED if merged_is_newer else KEEP
    return choices


def newer_is_merged(keep, merged) -> bool:
    """Whether the merged record was changed more recently than the kept one (its values win by default)."""
    return (merged.updated_at or datetime.min) > (keep.updated_at or datetime.min)


def custom_conflicts(session: Session, kind: str, keep, merged) -> list[tuple[str, Any, Any, Any]]:
    """The custom fields both records have different values in, as (choice key, definition, the kept record's
    value, the merged record's value); a custom field only one of them has moves with the rows."""
    if kind not in ("company", "contact"):
        return []
    fields = custom_fields.active_fields(session, kind)
    mine, theirs = (custom_fields.values_of(session, r, fields) for r in (keep, merged))
    return [
        (f"{CUSTOM}{f.id}", f, mine[f.id], theirs[f.id])
        for f in fields
        if f.id in mine and f.id in theirs and audit.plain(mine[f.id]) != audit.plain(theirs[f.id])
    ]


def differing_fields(kind: str, keep, merged) -> list[str]:
    """The fields on which the two records differ (the ones worth a choice on the merge page)."""
    return [f for f in FIELDS[kind] if audit.plain(getattr(keep, f)) != audit.plain(getattr(merged, f))]


def _lock(session: Session, model, ids: list[int]) -> dict[int, Any]:
    """The records re-read under a row lock (PostgreSQL), live ones only."""
    rows = session.scalars(
        select(model)
        .where(model.id.in_(ids))
        .order_by(model.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).all()
    return {row.id: row for row in rows if is_live(row)}


def merge(
    session: Session, actor: Employee, kind: str, keep_id: int, merged_id: int, choices: dict[str, str] | None = None
) -> MergeRecord:
    """Merge record `merged_id` into `keep_id` (both of `kind`): fields as `choices` say (KEEP, MERGED or BOTH
    per field; missing fields take `default_choices`), every related row moved, the merged record to the trash."""
    model = model_of(kind)
    _check(actor, kind)
    if keep_id == merged_id:
        raise InvalidValue(_("Choose two different records to merge."))
    privacy.refuse_erased(session, kind, [keep_id, merged_id])
    rows = _lock(session, model, [keep_id, merged_id])
    if keep_id not in rows or merged_id not in rows:
        raise InvalidValue(_("One of the records is no longer in the register (it may have been merged already)."))
    keep, merged = rows[keep_id], rows[merged_id]
    conflicts = {key: (definition, a, b) for key, definition, a, b in custom_conflicts(session, kind, keep, merged)}
    newer = MERGED if newer_is_merged(keep, merged) else KEEP
    chosen = {**default_choices(kind, keep, merged), **dict.fromkeys(conflicts, newer), **(choices or {})}
    unknown = set(chosen) - set(FIELDS[kind]) - set(conflicts)
    if unknown or any(v not in (KEEP, MERGED, BOTH) for v in chosen.values()):
        raise InvalidValue(_("The choice of values is not valid; open the merge page again."))
    if any(v == BOTH and f not in JOINABLE for f, v in chosen.items()):
        raise InvalidValue(_("The choice of values is not valid; open the merge page again."))

    with acting_as(session, actor.id):
        fields, merged_fields = _take_values(session, kind, keep, merged, chosen)
        for key, (definition, _mine, _theirs) in conflicts.items():
            if chosen[key] == MERGED:
                fields[key] = _swap_custom_value(session, kind, definition.id, keep.id, merged.id)
        merged_fields.update(_set_aside(kind, merged, actor))
        session.flush()
        moved = _move_rows(session, kind, merged.id, keep.id)
        record = MergeRecord(
            entity_type=kind,
            survivor_id=keep.id,
            merged_id=merged.id,
            merged_label=_label(merged),
            actor_id=actor.id,
            fields=fields,
            merged_fields=merged_fields,
            moved=moved,
        )
        session.add(record)
        session.flush()
        counts = {key: len(keys) for key, keys in moved.items() if keys}
        audit.record(session, keep, "merge", {"merged": _label(merged), "moved": counts, "merge_id": record.id})
        audit.record(session, merged, "merged_into", {"kept": _label(keep)})
        session.flush()
    session.expire_all()  # the moved rows changed under the ORM's loaded objects
    return record


def _swap_custom_value(session: Session, kind: str, field_id: int, keep_id: int, merged_id: int) -> list:
    """Give the kept record the merged one's value of a custom field both have, and the merged one the kept
    one's (so the undo swaps them back); returns [the kept record's old value, its new value] as plain."""
    owner = custom_fields.owner_column(MODELS[kind])
    rows = {
        getattr(row, owner.key): row
        for row in session.scalars(
            select(CustomFieldValue).where(CustomFieldValue.field_id == field_id, owner.in_([keep_id, merged_id]))
        )
    }
    column = custom_fields.VALUE_COLUMNS[rows[keep_id].field.field_type]
    mine, theirs = getattr(rows[keep_id], column), getattr(rows[merged_id], column)
    setattr(rows[keep_id], column, theirs)
    setattr(rows[merged_id], column, mine)
    return [audit.plain(mine), audit.plain(theirs)]


def _set_aside(kind: str, merged, actor: Employee) -> dict:
    """Take the merged record out of the register; returns its changes ({field: [old, new]}) for the undo."""
    changes = {}
    if kind == "lead":
        changes["status"] = [merged.status, LEAD_MERGED]
        merged.status = LEAD_MERGED
        return changes
    now = utcnow()
    changes["deleted_at"] = [None, audit.plain(now)]
    merged.deleted_at, merged.deleted_by_id = now, actor.id
    if kind == "company":
        changes["status"] = [merged.status, "merged"]
        merged.status = "merged"
    return changes


def _take_values(session: Session, kind: str, keep, merged, chosen: dict[str, str]) -> tuple[dict, dict]:
    """Set the kept record's fields as chosen; returns ({field: [old, new]} of the kept, and of the merged)."""
    fields, merged_fields = {}, {}
    for field in FIELDS[kind]:
        choice = chosen[field]
        old, theirs = getattr(keep, field), getattr(merged, field)
        if choice == KEEP:
            continue
        new = f"{old}\n\n{theirs}" if choice == BOTH and not _empty(old) else theirs
        if audit.plain(new) == audit.plain(old):
            continue
        if field in UNIQUE_FIELDS and new is not None:
            merged_fields[field] = [audit.plain(theirs), None]
            setattr(merged, field, None)
            session.flush()  # the value leaves the merged record before the kept one takes it
        fields[field] = [audit.plain(old), audit.plain(new)]
        setattr(keep, field, new)
    return fields, merged_fields


def _move_rows(session: Session, kind: str, from_id: int, to_id: int) -> dict[str, list]:
    """Point every related row of record `from_id` at `to_id`; returns the moved rows' keys per "table.column"."""
    moved = {}
    for (table_name, column), partners in FOREIGN_KEYS[kind].items():
        table = Company.metadata.tables[table_name]
        target = table.c[column]
        key = _row_key(table, column)
        condition = target == from_id
        for partner in partners:  # a link the kept record already has stays where it is
            condition = condition & table.c[partner].not_in(select(table.c[partner]).where(target == to_id))
        keys = list(session.scalars(select(key).where(condition)))
        if keys:
            session.execute(update(table).where(target == from_id, key.in_(keys)).values({column: to_id}))
        moved[f"{table_name}.{column}"] = keys
    return moved


def _row_key(table, column: str):
    """The column that names a row of `table` once `column` has changed: its id, or a link table's other side."""
    others = [c for c in table.primary_key.columns if c.name != column]
    if len(others) != 1:
        raise RuntimeError(f"{table.name}: no single-column key besides {column}")
    return others[0]


# --- undo -----------------------------------------------------------------------------------------


def undo(session: Session, actor: Employee, record_id: int) -> MergeRecord:
    """Undo a merge: the merged record back from the trash with its own values, its rows moved back, the kept
    record's fields back where nobody has changed them since (those changed since are left as they are)."""
    record = session.scalars(
        select(MergeRecord)
        .where(MergeRecord.id == record_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).first()
    if record is None:
        raise InvalidValue(_("There is no such merge."))
    _check(actor, record.entity_type)
    if record.undone_at is not None:
        raise InvalidValue(_("This merge has already been undone."))
    privacy.refuse_erased(session, record.entity_type, [record.survivor_id, record.merged_id])
    model = model_of(record.entity_type)
    keep = session.get(model, record.survivor_id, with_for_update=True, populate_existing=True)
    merged = session.get(model, record.merged_id, with_for_update=True, populate_existing=True)
    if keep is None or merged is None:
        raise InvalidValue(_("The merge cannot be undone: one of the records has been permanently deleted."))
    if is_live(merged):
        raise InvalidValue(_("The merge cannot be undone: the merged record has been restored already."))
    later = session.scalar(
        select(MergeRecord.id).where(
            MergeRecord.entity_type == record.entity_type,
            MergeRecord.merged_id == record.survivor_id,
            MergeRecord.undone_at.is_(None),
        )
    )
    if later is not None:
        raise InvalidValue(_("The kept record has since been merged into another one: undo that merge first."))
    with acting_as(session, actor.id):
        for (table_name, column), _partners in FOREIGN_KEYS[record.entity_type].items():
            keys = record.moved.get(f"{table_name}.{column}") or []
            if not keys:
                continue
            table = Company.metadata.tables[table_name]
            key = _row_key(table, column)
            session.execute(update(table).where(table.c[column] == keep.id, key.in_(keys)).values({column: merged.id}))
        left_alone = []
        for field, (old, new) in record.fields.items():
            if field.startswith(CUSTOM):
                current = custom_fields.values_of(session, keep, [_definition(session, field)])
                if audit.plain(next(iter(current.values()), None)) == new:
                    _swap_custom_value(session, record.entity_type, int(field[len(CUSTOM) :]), keep.id, merged.id)
                else:
                    left_alone.append(field)
            elif audit.plain(getattr(keep, field)) == new:
                setattr(keep, field, audit.unplain(model.__table__.c[field], old))
            else:
                left_alone.append(field)
        session.flush()  # a unique value leaves the kept record before the merged one takes it back
        for field, (old, _new) in record.merged_fields.items():
            setattr(merged, field, audit.unplain(model.__table__.c[field], old))
        if hasattr(merged, "deleted_by_id"):
            merged.deleted_by_id = None
        record.undone_at = utcnow()
        record.undone_by_id = actor.id
        audit.record(session, keep, "unmerge", {"restored": _label(merged), "unchanged_fields": left_alone})
        session.flush()
    session.expire_all()
    return record


def _definition(session: Session, key: str) -> CustomFieldDefinition | None:
    return session.get(CustomFieldDefinition, int(key[len(CUSTOM) :]))


def merged_into(session: Session, kind: str, record_id: int) -> MergeRecord | None:
    """The merge (not undone) that put this record in the trash, if any."""
    return session.scalars(
        select(MergeRecord)
        .where(MergeRecord.entity_type == kind, MergeRecord.merged_id == record_id, MergeRecord.undone_at.is_(None))
        .order_by(MergeRecord.id.desc())
    ).first()


def identity(record) -> str:
    """A record as a message about a merge names it: its name and, when it has one, its customer number (after a
    merge the kept record may carry the merged one's name, so the name alone does not tell them apart)."""
    number = getattr(record, "customer_number", None)
    return _("%(name)s (customer no. %(number)s)", name=record, number=number) if number else str(record)


def names(session: Session, merge_record: MergeRecord) -> tuple[str | None, str]:
    """How a merge's merged and kept records are named to people: each by `identity` (the merged one by the name
    it had when it is gone); None for the merged one when that would read exactly as the kept one (two leads of
    one name), so that the message calls it "the merged record" instead."""
    model = model_of(merge_record.entity_type)
    merged, kept = session.get(model, merge_record.merged_id), session.get(model, merge_record.survivor_id)
    kept_name = identity(kept) if kept is not None else ""
    merged_name = identity(merged) if merged is not None else merge_record.merged_label
    return (None if merged_name == kept_name else merged_name), kept_name


def records(session: Session, kind: str, ids) -> dict[int, object]:
    """{id: record} of `kind` for `ids` (those still stored, live or in the trash)."""
    ids = set(ids)
    if not ids:
        return {}
    model = model_of(kind)
    return {r.id: r for r in session.scalars(select(model).where(model.id.in_(ids)))}


def kept_records(session: Session, kind: str, merged_ids) -> dict[int, object]:
    """{merged id: the record it was merged into} for those of `merged_ids` that were merged (not undone)."""
    ids = list(merged_ids)
    if not ids:
        return {}
    model = model_of(kind)
    pairs = session.execute(
        select(MergeRecord.merged_id, MergeRecord.survivor_id).where(
            MergeRecord.entity_type == kind, MergeRecord.merged_id.in_(ids), MergeRecord.undone_at.is_(None)
        )
    ).all()
    kept = {r.id: r for r in session.scalars(select(model).where(model.id.in_({s for _m, s in pairs})))}
    return {merged: kept[survivor] for merged, survivor in pairs if survivor in kept}


def recent(session: Session, kind: str, limit: int = 20) -> list[MergeRecord]:
    """The latest merges of the register `kind`, newest first (for the Dubbletter page's undo list)."""
    return list(
        session.scalars(
            select(MergeRecord).where(MergeRecord.entity_type == kind).order_by(MergeRecord.id.desc()).limit(limit)
        )
    )
