"""Writing register records from data that did not come through a form (the REST API).

The same rules as the forms: each value is normalised by the same `services.validation` function
the form field runs (organisationsnummer, VAT number, phone, e-mail, postcode, web address), a
reference must name a live record, a category must apply to the kind of record, and a company's
organisationsnummer must be new to the register. Every problem is collected, per field, and
nothing is written when there is one (`FieldErrors`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from models import (
    Activity,
    Category,
    Company,
    Contact,
    Employee,
    Industry,
    Lead,
    Opportunity,
    Product,
    SalesStage,
)
from services import employees, personal_numbers, register, validation
from services.validation import InvalidValue


class FieldErrors(InvalidValue):
    """Values that cannot be stored: {field: [Swedish messages]}."""

    def __init__(self, errors: dict[str, list[str]]):
        super().__init__("; ".join(f"{k}: {' '.join(v)}" for k, v in errors.items()))
        self.errors = errors


#: Field → (services.validation rule, whether it takes the record's country).
NORMALISERS: dict[type, dict[str, tuple]] = {
    Company: {
        "org_number": (validation.org_number, True),
        "vat_number": (validation.vat_number, False),
        "phone": (validation.phone, True),
        "email": (validation.email, False),
        "website": (validation.website, False),
        "postal_postcode": (validation.postcode, True),
        "visit_postcode": (validation.postcode, True),
        "invoice_postcode": (validation.postcode, True),
    },
    Contact: {
        "email": (validation.email, False),
        "phone": (validation.phone, False),
        "mobile": (validation.phone, False),
        "postal_postcode": (validation.postcode, False),
        "personal_number": (validation.personal_number, False),
    },
    Lead: {
        "org_number": (validation.org_number, False),
        "contact_phone": (validation.phone, False),
        "contact_email": (validation.email, False),
    },
}

#: Reference columns → the model they name; customers must be live, employees active (services.employees:
#: one the record has already is kept).
REFERENCES: dict[str, type] = {
    "owner_id": Employee,
    "assignee_id": Employee,
    "industry_id": Industry,
    "stage_id": SalesStage,
    "company_id": Company,
    "contact_id": Contact,
    "lead_id": Lead,
    "opportunity_id": Opportunity,
    "product_id": Product,
}

#: A column no two rows may share → the Swedish message when a value is taken.
UNIQUE: dict[type, tuple[str, Callable[[], str]]] = {
    Product: ("number", lambda: _("Another product has this number.")),
    Category: ("name", lambda: _("The name is already in use: choose another.")),
    Industry: ("name", lambda: _("The name is already in use: choose another.")),
    SalesStage: ("name", lambda: _("The name is already in use: choose another.")),
}

#: The category scopes a kind of record may have (Category.applies_to).
CATEGORY_SCOPES = {Company: ("company", "both"), Contact: ("contact", "both"), Lead: ("company", "both")}


def _reference_error(session: Session, column: str, value, current) -> str | None:
    """Why `value` cannot be stored in the reference `column` whose value is `current` now, or None."""
    model = REFERENCES[column]
    row = session.get(model, value)
    if row is None or getattr(row, "is_deleted", False):
        return _("No record with id %(id)s.", id=value)
    if model is Employee:
        try:
            employees.check_chosen(row, kept=[current])
        except InvalidValue as exc:
            return str(exc)
    return None


def _categories(session: Session, model, ids, errors: dict) -> list[Category]:
    ids = list(dict.fromkeys(ids or ()))
    rows = list(session.scalars(select(Category).where(Category.id.in_(ids)))) if ids else []
    found = {c.id for c in rows}
    missing = [str(i) for i in ids if i not in found]
    scopes = CATEGORY_SCOPES.get(model, ("both",))
    wrong = [c.name for c in rows if c.applies_to not in scopes]
    if missing:
        errors.setdefault("category_ids", []).append(_("No category with id %(ids)s.", ids=", ".join(missing)))
    if wrong:
        errors.setdefault("category_ids", []).append(
            _("These categories do not apply to this kind of record: %(names)s.", names=", ".join(wrong))
        )
    return rows


def apply(session: Session, record, data: Mapping) -> None:
    """Check `data` (field → value, only the fields to change) and write it onto `record`;
    FieldErrors, and nothing written, when a value is wrong."""
    model = type(record)
    values = personal_numbers.drop_unchanged(record, dict(data))
    errors: dict[str, list[str]] = {}
    country = values.get("country") or getattr(record, "country", None) or "SE"
    for name, (rule, with_country) in NORMALISERS.get(model, {}).items():
        if name in values:
            try:
                values[name] = rule(values[name], country) if with_country else rule(values[name])
            except InvalidValue as exc:
                errors.setdefault(name, []).append(str(exc))
    for name, value in values.items():
        if name in REFERENCES and value is not None:
            message = _reference_error(session, name, value, getattr(record, name, None))
            if message:
                errors.setdefault(name, []).append(message)
    categories = _categories(session, model, values.pop("category_ids"), errors) if "category_ids" in values else None
    if model is Company and "org_number" in values and "org_number" not in errors:
        existing = register.org_number_taken(
            session, values["org_number"], company_id=record.id, current=record.org_number
        )
        if existing is not None:
            errors.setdefault("org_number", []).append(register.org_number_taken_message(existing))
    unique = UNIQUE.get(model)
    if unique is not None and unique[0] in values:
        column, taken_message = unique
        taken = session.scalar(
            select(model.id).where(getattr(model, column) == values[column].strip(), model.id != record.id)
        )
        if taken is not None:
            errors.setdefault(column, []).append(taken_message())
    if errors:
        raise FieldErrors(errors)
    for name, value in values.items():
        setattr(record, name, value.strip() if isinstance(value, str) else value)
    if categories is not None:
        record.categories = categories


def new_activity(session: Session, actor: Employee, data: Mapping) -> Activity:
    """An activity from `data`, checked like `apply` (a note is done when it is written)."""
    from services import activities

    probe = Activity()
    apply(session, probe, {k: v for k, v in data.items() if k not in ("kind", "subject")})
    fields = {k: v for k, v in data.items() if k not in ("kind", "subject")}
    return activities.create(session, actor, kind=data["kind"], subject=data["subject"], **fields)


def update_activity(session: Session, activity: Activity, data: Mapping) -> None:
    """Change an activity from `data`, checked like `apply` (a customer in the trash is refused there);
    `done` completes or reopens it, but a note or a sent SMS records something done and stays done."""
    from services import activities

    fields = dict(data)
    done = fields.pop("done", None)
    apply(session, activity, fields)
    if done is not None and activity.kind not in Activity.RECORD_KINDS:
        activities.set_done(activity, done)
