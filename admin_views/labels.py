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
    """An old or new value in Historik as people read it (Ja/Nej, Swedish numbers), by the column's type."""
    from sqlalchemy import Boolean, Integer, Numeric

    from extensions import db
    from services import formatting

    value = personal_numbers.audit_value(field, value, personal_numbers.reveal(current_user))
    if field == "lawful_basis" and value in consent.BASES:
        return str(consent.BASES[value])
    table = db.metadata.tables.get(event.entity_type)
    column = table.columns.get(field) if table is not None else None
    if column is None or value is None or value == "":
        return formatting.display(value)
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
