"""Swedish labels of register fields and audit actions, shared by lists, forms and history."""

from flask_babel import lazy_gettext as _l
from flask_login import current_user

from services import consent, fields, personal_numbers

FIELD_LABELS = fields.LABELS  # the one registry (services/fields.py), by the name views know it

AUDIT_ACTIONS = {
    "create": _l("Created"),
    "update": _l("Changed"),
    "delete": _l("Deleted (to the trash)"),
    "restore": _l("Restored"),
    "purge": _l("Permanently deleted"),
    "link": _l("Contact linked"),
    "unlink": _l("Contact unlinked"),
    "linked_to": _l("Linked to a company"),
    "unlinked_from": _l("Unlinked from a company"),
    "merge": _l("Merged with a duplicate"),
    "merged_into": _l("Merged into another record"),
    "unmerge": _l("Merge undone"),
    "extract": _l("Register extract produced"),
    "erase": _l("Personal data erased (GDPR)"),
    "mass_email": _l("E-mail sent (mass send)"),
    "mass_sms": _l("SMS sent (mass send)"),
    "login": _l("Logged in"),
    "login_failed": _l("Failed login"),
    "lockout": _l("Login locked after too many failures"),
    "unlock": _l("Login unlocked"),
    "sessions_ended": _l("Sessions ended"),
    "password_changed": _l("Password changed"),
    "two_factor_enabled": _l("Two-factor login switched on"),
    "two_factor_disabled": _l("Two-factor login switched off"),
    "two_factor_reset": _l("Two-factor login reset"),
    "recovery_code_used": _l("Recovery code used"),
}


def field_label(name: str) -> str:
    return str(fields.label(name))


def audit_action(action: str) -> str:
    return str(AUDIT_ACTIONS.get(action, action))


def change_value(value, event, field: str) -> str:
    """An old or new value in Historik as people read it: see `stored_value` (the event's record's column)."""
    return stored_value(event.entity_type, field, value)


#: The fields whose stored codes a model names in a map of its own (`Invoice.STATUSES` …).
_CHOICE_MAPS = {"status": "STATUSES", "kind": "KINDS", "outcome": "OUTCOMES", "direction": "DIRECTIONS"}
_PHONES = ("phone", "mobile", "contact_phone")


def _model_of(table: str):
    from extensions import db

    mappers = db.Model.registry.mappers
    return next((m.class_ for m in mappers if getattr(m.class_, "__tablename__", None) == table), None)


def stored_value(table: str, field: str, value) -> str:
    """A stored value of `table`'s column `field` as the screens show it, in one place for Historik and the
    register extract: a personnummer as the employee may read it, codes by their Swedish label (status, kind,
    e-mail direction, call outcome, invoice language, lawful basis), kundansvarig and bransch by name, phone
    numbers and organisationsnummer formatted, times in the user's time zone to the minute, Ja/Nej and Swedish
    numbers by the column's type. `value` may be the column's value or its audited (JSON) form."""
    from sqlalchemy import Boolean, DateTime, Integer, Numeric

    from extensions import db
    from models import COMPANY_STATUS_LABELS
    from services import audit, formatting

    value = personal_numbers.audit_value(field, value, personal_numbers.reveal(current_user))
    if value is None or value == "":
        return ""
    if field == "lawful_basis" and value in consent.BASES:
        return str(consent.BASES[value])
    if field == "invoice_language":
        return str(dict(fields.INVOICE_LANGUAGES).get(value, value))
    if field in ("owner_id", "industry_id") or field in _PHONES or field == "org_number":
        return field_value(table, field, value)
    if field in _CHOICE_MAPS:
        model = _model_of(table)
        choices = COMPANY_STATUS_LABELS if table == "company" and field == "status" else None
        choices = choices or getattr(model, _CHOICE_MAPS[field], None) or {}
        if isinstance(value, str) and value in choices:
            return str(choices[value])
    table_ = db.metadata.tables.get(table)
    column = table_.columns.get(field) if table_ is not None else None
    if column is None:
        return formatting.display(value)
    if column.foreign_keys and isinstance(value, int) and not isinstance(value, bool):
        (key,) = column.foreign_keys
        related = _model_of(key.column.table.name)
        return str(db.session.get(related, value) or value) if related is not None else str(value)
    if isinstance(column.type, DateTime):
        try:
            return formatting.iso_date(audit.unplain(column, value) if isinstance(value, str) else value)
        except ValueError:
            return str(value)
    if isinstance(column.type, Boolean):
        return formatting.display(value, "bool")
    if isinstance(column.type, Numeric):
        return formatting.display(value, "number", column.type.scale)
    if isinstance(column.type, Integer):
        return formatting.display(value, "integer")
    return formatting.display(value)


def field_value(kind: str, field: str, value) -> str:
    """A value of a company's, contact's or lead's field (`kind`) as a page names it: kundansvarig and bransch by
    name, status by its label, Ja/Nej, organisationsnummer and phone formatted, a personnummer as the logged-in
    employee may read it, the country and invoice language by name, the discount as a percentage, numbers the
    Swedish way (the merge page, Ändra flera's result)."""
    from extensions import db
    from models import COMPANY_STATUS_LABELS, Employee, Industry, Lead
    from services import formatting

    if value is None or value == "":
        return ""
    if field == "owner_id":
        return str(db.session.get(Employee, value) or value)
    if field == "industry_id":
        return str(db.session.get(Industry, value) or value)
    if field == "status":
        return str((Lead.STATUSES if kind == "lead" else COMPANY_STATUS_LABELS).get(value, value))
    if field == "org_number":
        return formatting.org_number(value)
    if field == personal_numbers.FIELD:
        return personal_number(value)
    if field in ("phone", "mobile", "contact_phone"):
        return formatting.phone(value)
    if field == "country":
        return formatting.country(value)
    if field == "invoice_language":
        return str(dict(fields.INVOICE_LANGUAGES).get(value, value))
    if field == "discount_percent":
        return formatting.percent(value, 2)
    return formatting.display(value)


def personal_number(value: str | None) -> str:
    """A personnummer as the logged-in employee may read it (services.personal_numbers)."""
    return personal_numbers.shown_to(value, current_user)


def audit_subject(event) -> str:
    """Who or what an audit event is about (a linked contact for link events)."""
    if event.action in ("link", "unlink"):
        return " ".join(str(v) for v in (event.changes or {}).get("contact", []) if v)
    return event.entity_label or ""


#: The other records whose history is the person's (their activities, opportunities, orders and invoices).
_RECORDS = {
    "activity": _l("Activity"),
    "opportunity": _l("Sales opportunity"),
    "sales_order": _l("Sales order"),
    "invoice": _l("Invoice"),
}


def extract_value(table: str | None, field: str, value, row: dict) -> str:
    """A value of the register extract (Dataskydd) as the screens show it: a column of `table` (the place's
    table) by `stored_value`, a history event's changes as Historik shows them (`change_value`'s rules), and
    what the record kind and the audit action are called."""
    from admin_views.records import TITLES

    if field == "action":
        return audit_action(value)
    if field == "entity_type":
        return str(TITLES.get(value) or _RECORDS.get(value, value))
    if field == "changes":
        return "; ".join(
            f"{field_label(name)}: {_change(row['entity_type'], row['action'], name, change)}"
            for name, change in (value or {}).items()
        )
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value)
    return stored_value(table or "", field, value)


def _change(table: str, action: str, field: str, change) -> str:
    """One field of an audit event: `old → new` of a change, the value of a created record."""

    def one(value) -> str:
        if isinstance(value, list):  # categories
            return ", ".join(str(v) for v in value)
        return stored_value(table, field, value)

    if action != "create" and isinstance(change, list) and len(change) == 2:
        return f"{one(change[0]) or '–'} → {one(change[1]) or '–'}"
    return one(change)
