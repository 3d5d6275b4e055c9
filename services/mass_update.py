"""Ändra flera (mass update): set Kundansvarig, status, a category, industry, the supplier flag, invoice settings
or a custom field on many companies, contacts or leads at once, audited per record and undone as one step.

Who may: the register's edit permission (`company.edit` …); invoice settings also need the card's
Inställningar tab (`tab.settings`) and a custom field its tabs (`tab.custom`), as on the card. A
MassUpdate row keeps what was set and each changed row's old values, so `undo` puts them back (a
value somebody changed since is left as it is). Large selections run on the task queue
(services.tasks): `start` runs a small one at once and queues a large one.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, cast

from flask_babel import gettext as _
from sqlalchemy import select, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.orm import Session, selectinload

from models import (
    COMPANY_STATUSES_CHOSEN,
    Category,
    Company,
    Contact,
    CustomFieldDefinition,
    CustomFieldValue,
    Employee,
    Industry,
    Lead,
    MassUpdate,
    utcnow,
)
from services import audit, custom_fields, employees, fields, money, privacy, records, tasks, validation, visibility
from services.audit import acting_as
from services.validation import InvalidValue

MODELS: dict[str, type[Any]] = {"company": Company, "contact": Contact, "lead": Lead}
#: The columns each register's mass update may set.
COLUMNS = {
    "company": (
        "owner_id",
        "status",
        "industry_id",
        "is_supplier",
        "invoice_language",
        "currency",
        "payment_terms_days",
        "discount_percent",
    ),
    "contact": ("owner_id", "invoice_language", "currency", "payment_terms_days", "discount_percent"),
    "lead": ("owner_id", "status"),
}
LANGUAGES = ("sv", "en")
#: Selections up to this size are changed in the request; larger ones on the task queue.
INLINE_LIMIT = 500
#: Rows changed per flush (and per batch of audit events).
BATCH = 500


class NotPermitted(PermissionError):
    """The employee may not change these fields of this register."""


def required_permissions(kind: str, changes: dict) -> set[str]:
    """What the changes need: the register's edit permission, and the card tab of what they touch."""
    needed = {f"{kind}.edit"}
    needed |= {visibility.permission(visibility.FIELD_PARTS[f]) for f in changes if f in visibility.FIELD_PARTS}
    if "custom_field" in changes:
        needed.add(visibility.permission(visibility.Part.CUSTOM))
    return needed


def check_permission(actor: Employee, kind: str, changes: dict) -> None:
    if not all(actor.has_permission(p) for p in required_permissions(kind, changes)):
        raise NotPermitted(kind)


def validate(session: Session, kind: str, changes: dict) -> dict:
    """The changes as they will be stored (JSON-safe); InvalidValue with a Swedish message when one is not valid."""
    if kind not in MODELS:
        raise InvalidValue(_("This register cannot be changed many at once."))
    allowed = {*COLUMNS[kind], "add_category", "remove_category"} | ({"custom_field"} if kind != "lead" else set())
    clean: dict[str, Any] = {}
    for field, value in changes.items():
        if value in (None, ""):
            continue
        if field not in allowed:
            raise InvalidValue(_("This field cannot be changed many at once."))
        if field == "owner_id":
            employee = session.get(Employee, _int(value))
            if employee is None or not employees.is_choosable(employee):
                raise InvalidValue(_("Choose an active employee as customer owner."))
            clean[field] = employee.id
        elif field == "status":
            if value not in (COMPANY_STATUSES_CHOSEN if kind == "company" else Lead.STATUSES_CHOSEN):
                raise InvalidValue(_("Choose one of the listed statuses."))
            clean[field] = value
        elif field == "industry_id":
            if session.get(Industry, _int(value)) is None:
                raise InvalidValue(_("Choose one of the listed industries."))
            clean[field] = _int(value)
        elif field == "is_supplier":
            clean[field] = value in (True, "1", "true", "yes")
        elif field == "invoice_language":
            if value not in LANGUAGES:
                raise InvalidValue(_("Choose Swedish or English."))
            clean[field] = value
        elif field == "currency":
            if value not in fields.CURRENCIES:
                raise InvalidValue(_("Choose one of the listed currencies."))
            clean[field] = value
        elif field == "payment_terms_days":
            clean[field] = validation.payment_terms(value)
        elif field == "discount_percent":
            try:
                percent = money.parse(value)
            except (ValueError, ArithmeticError):
                raise InvalidValue(_("The discount is a number from 0 to 100.")) from None
            if not Decimal(0) <= percent <= Decimal(100):
                raise InvalidValue(_("The discount is a number from 0 to 100."))
            clean[field] = str(percent.quantize(Decimal("0.01")))
        elif field in ("add_category", "remove_category"):
            category = session.get(Category, _int(value))
            if category is None or category.applies_to not in records.CATEGORY_SCOPES[MODELS[kind]]:
                raise InvalidValue(_("Choose one of the listed categories."))
            clean[field] = category.id
        elif field == "custom_field":
            field_id, raw = value
            definition = session.get(CustomFieldDefinition, _int(field_id))
            if definition is None or not definition.active or definition.applies_to != kind:
                raise InvalidValue(_("Choose one of the listed custom fields."))
            parsed = custom_fields.parse_value(definition, raw)
            clean[field] = [definition.id, audit.plain(parsed)]
    if not clean:
        raise InvalidValue(_("Choose at least one thing to change."))
    if clean.get("add_category") and clean.get("add_category") == clean.get("remove_category"):
        raise InvalidValue(_("A category cannot be added and removed at once."))
    return clean


def _int(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _live(model):
    if model is Lead:  # a converted or merged lead is the system's, and one in the trash is restored first
        return model.deleted_at.is_(None) & model.status.not_in(Lead.SET_BY_SYSTEM)
    return model.deleted_at.is_(None)


def start(session: Session, actor: Employee, kind: str, ids: list[int], changes: dict) -> MassUpdate:
    """Record the mass update and run it now (small) or queue it (large); the caller has nothing left to commit.
    An erased person's record is read-only (services.privacy): `_apply` leaves it out and counts it (the
    job's `erased_count`), and when every one is such a record, the change is refused (ErasedRecord)."""
    clean = validate(session, kind, changes)
    check_permission(actor, kind, clean)
    model = MODELS[kind]
    ids = sorted({int(i) for i in ids})
    if not ids:
        raise InvalidValue(_("Tick the records to change."))
    erased = privacy.erased_ids(session, kind, ids)
    if len(erased) == len(ids):
        raise privacy.ErasedRecord(kind, min(erased))
    job = MassUpdate(entity_type=kind, actor_id=actor.id, target_ids=ids, changes=clean, status="queued")
    session.add(job)
    session.flush()
    if len(ids) <= INLINE_LIMIT:
        _apply(session, actor, job, model)
        session.commit()
    else:
        session.commit()
        tasks.submit(run_mass_update.s(job.id))
    return job


def run(session: Session, job_id: int) -> bool:
    """Claim a queued mass update (queued → running) and apply it; False when there was none to claim."""
    claimed = cast(
        CursorResult,
        session.execute(
            update(MassUpdate).where(MassUpdate.id == job_id, MassUpdate.status == "queued").values(status="running")
        ),
    ).rowcount
    session.commit()
    if not claimed:
        return False
    job = session.get_one(MassUpdate, job_id)
    actor = session.get(Employee, job.actor_id) if job.actor_id is not None else None
    try:
        if actor is None:
            raise InvalidValue(_("The employee who asked for the change no longer exists."))
        check_permission(actor, job.entity_type, job.changes)
        _apply(session, actor, job, MODELS[job.entity_type])
        session.commit()
    except Exception as exc:
        session.rollback()
        session.execute(update(MassUpdate).where(MassUpdate.id == job_id).values(status="failed", error=str(exc)[:500]))
        session.commit()
    return True


def _apply(session: Session, actor: Employee, job: MassUpdate, model) -> None:
    """Change every live target row; each row's changed values first kept in `job.previous`. An erased
    person's record (by the time the change runs: a queued one may wait) is left as it is and counted in
    `job.erased_count`."""
    changes, kind = job.changes, job.entity_type
    columns = {f: audit.unplain(model.__table__.c[f], v) for f, v in changes.items() if f in COLUMNS[kind]}
    add = session.get(Category, changes["add_category"]) if "add_category" in changes else None
    remove = session.get(Category, changes["remove_category"]) if "remove_category" in changes else None
    definition, custom_value = None, None
    if "custom_field" in changes:
        definition = session.get_one(CustomFieldDefinition, changes["custom_field"][0])
        custom_value = custom_fields.parse_value(definition, changes["custom_field"][1])
    previous: dict[str, dict] = {}
    erased_count = 0
    with acting_as(session, actor.id):
        for start_at in range(0, len(job.target_ids), BATCH):
            batch = job.target_ids[start_at : start_at + BATCH]
            rows_now = (
                select(model)
                .where(model.id.in_(batch), _live(model))
                .order_by(model.id)
                .options(selectinload(model.categories))
            )
            if kind in privacy.KINDS:  # an erasure under way commits first, so `erased_ids` sees it
                rows_now = rows_now.with_for_update(of=model)
            rows = session.scalars(rows_now).all()
            erased = privacy.erased_ids(session, kind, batch)
            erased_count += len(erased)
            for row in rows:
                if row.id in erased:
                    continue
                old = {}
                for field, value in columns.items():
                    if audit.plain(getattr(row, field)) != audit.plain(value):
                        old[field] = audit.plain(getattr(row, field))
                        setattr(row, field, value)
                if add is not None and add not in row.categories:
                    row.categories.append(add)
                    old["add_category"] = add.id
                if remove is not None and remove in row.categories:
                    row.categories.remove(remove)
                    old["remove_category"] = remove.id
                if definition is not None:
                    with session.no_autoflush:  # one flush, so one audit event, per record
                        changed = _set_custom(session, row, definition, custom_value)
                    if changed is not False:
                        old["custom_field"] = changed
                if old:
                    previous[str(row.id)] = old
                    if set(old) - set(columns) - {"add_category", "remove_category"}:
                        row.updated_at = utcnow()  # only a custom value changed: still a new version
            session.flush()
    job.previous = previous
    job.row_count = len(previous)
    job.erased_count = erased_count
    job.status = "done"
    job.finished_at = utcnow()


def _set_custom(session: Session, row, definition: CustomFieldDefinition, value):
    """Set one custom field of `row`; returns the old value (JSON-safe), or False when it was already so."""
    owner = custom_fields.owner_column(type(row))
    stored = session.scalar(select(CustomFieldValue).where(CustomFieldValue.field_id == definition.id, owner == row.id))
    column = custom_fields.VALUE_COLUMNS[definition.field_type]
    old = getattr(stored, column) if stored is not None else None
    if audit.plain(old) == audit.plain(value):
        return False
    if value is None:
        session.delete(stored)
    else:
        if stored is None:
            stored = CustomFieldValue(field_id=definition.id, **{owner.key: row.id})
            session.add(stored)
        setattr(stored, column, value)
    audit.record(
        session,
        row,
        "update",
        {
            definition.label: [
                custom_fields.display(definition, old) or None,
                custom_fields.display(definition, value) or None,
            ]
        },
    )
    return audit.plain(old)


def undo(session: Session, actor: Employee, job_id: int) -> int:
    """Put back what the mass update changed, as one step; returns how many rows were put back.
    A value somebody changed since the mass update is left as it is, and an erased person's record
    (read-only: services.privacy) as it is."""
    job = session.scalars(
        select(MassUpdate).where(MassUpdate.id == job_id).with_for_update().execution_options(populate_existing=True)
    ).first()
    if job is None:
        raise InvalidValue(_("There is no such change."))
    check_permission(actor, job.entity_type, job.changes)
    if job.status != "done":
        raise InvalidValue(_("Only a finished change can be undone."))
    model = MODELS[job.entity_type]
    changes = job.changes
    restored = 0
    definition = session.get(CustomFieldDefinition, changes["custom_field"][0]) if "custom_field" in changes else None
    with acting_as(session, actor.id):
        previous = job.previous or {}
        ids = [int(i) for i in previous]
        for start_at in range(0, len(ids), BATCH):
            rows = session.scalars(select(model).where(model.id.in_(ids[start_at : start_at + BATCH]))).all()
            erased = privacy.erased_ids(session, job.entity_type, [row.id for row in rows])
            for row in rows:
                if row.id in erased:
                    continue
                old = previous[str(row.id)]
                for field, value in old.items():
                    if field in COLUMNS[job.entity_type]:
                        if audit.plain(getattr(row, field)) == changes[field]:
                            setattr(row, field, audit.unplain(model.__table__.c[field], value))
                    elif field == "add_category":
                        row.categories[:] = [c for c in row.categories if c.id != value]
                    elif field == "remove_category":
                        category = session.get(Category, value)
                        if category is not None and category not in row.categories:
                            row.categories.append(category)
                    elif field == "custom_field" and definition is not None:
                        typed = _typed_custom(definition, value)
                        _set_custom(session, row, definition, typed)
                restored += 1
            session.flush()
        job.status, job.undone_at, job.undone_by_id = "undone", utcnow(), actor.id
    return restored


def _typed_custom(definition: CustomFieldDefinition, value):
    """A custom value as `audit.plain` kept it, back as the value column's type."""
    if value is None:
        return None
    column = custom_fields.VALUE_COLUMNS[definition.field_type]
    return audit.unplain(CustomFieldValue.__table__.c[column], value)


@tasks.task()
def run_mass_update(job_id: int) -> None:
    """A large mass update, in a worker."""
    run(tasks.session(), job_id)
