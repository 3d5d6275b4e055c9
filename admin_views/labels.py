"""Swedish labels of register fields and audit actions, shared by lists, forms and history."""

from flask_babel import lazy_gettext as _l

FIELD_LABELS = {
    "customer_number": _l("Customer no."),
    "name": _l("Name"),
    "org_number": _l("Org. no."),
    "country": _l("Country"),
    "vat_number": _l("VAT no."),
    "legal_form": _l("Form of organisation"),
    "status": _l("Status"),
    "industry": _l("Industry"),
    "industry_id": _l("Industry"),
    "categories": _l("Categories"),
    "owner": _l("Customer owner"),
    "owner_id": _l("Customer owner"),
    "is_supplier": _l("Show as supplier"),
    "phone": _l("Phone"),
    "mobile": _l("Mobile"),
    "email": _l("E-mail"),
    "website": _l("Website"),
    "first_name": _l("First name"),
    "last_name": _l("Last name"),
    "title": _l("Title"),
    "personal_number": _l("Personal identity no."),
    "companies": _l("Companies"),
    "company_role": _l("Role at the company"),
    "postal_street": _l("Postal address"),
    "postal_postcode": _l("Postcode"),
    "postal_city": _l("City"),
    "visit_street": _l("Visiting address"),
    "visit_postcode": _l("Visiting postcode"),
    "visit_city": _l("Visiting city"),
    "invoice_street": _l("Invoice address"),
    "invoice_postcode": _l("Invoice postcode"),
    "invoice_city": _l("Invoice city"),
    "note": _l("Note"),
    "invoice_language": _l("Invoice language"),
    "discount_percent": _l("Discount %"),
    "payment_terms_days": _l("Payment terms (days)"),
    "currency": _l("Currency"),
    "email_locked": _l("E-mail tab locked"),
    "deleted_at": _l("Deleted"),
    "deleted_by_id": _l("Deleted by"),
    "contact": _l("Contact"),
    "role": _l("Role"),
    "description": _l("Description"),
    "sni_code": _l("SNI code"),
    # the register extract (Dataskydd) shows every place a person's data lives
    "created_at": _l("Created"),
    "updated_at": _l("Last changed"),
    "company_name": _l("Company name"),
    "contact_first_name": _l("Contact's first name"),
    "contact_last_name": _l("Contact's last name"),
    "contact_title": _l("Contact's title"),
    "contact_phone": _l("Contact's phone"),
    "contact_email": _l("Contact's e-mail"),
    "source": _l("Source"),
    "converted_at": _l("Converted"),
    "value_text": _l("Value"),
    "value_number": _l("Value (number)"),
    "value_date": _l("Value (date)"),
    "value_bool": _l("Value (yes/no)"),
    "field": _l("Field"),
    "company": _l("Company"),
    "kind": _l("Type"),
    "subject": _l("Subject"),
    "due_at": _l("Due"),
    "done": _l("Done"),
    "direction": _l("Direction"),
    "sender": _l("From"),
    "recipients": _l("To"),
    "body": _l("Message"),
    "sent_at": _l("Sent"),
    "filename": _l("File name"),
    "content_type": _l("File type"),
    "size": _l("Size (bytes)"),
    "uploaded_at": _l("Uploaded"),
    "outcome": _l("Outcome"),
    "callback_at": _l("Call back"),
    "called_at": _l("Called"),
    "call_list": _l("Call list"),
    "amount": _l("Amount"),
    "probability": _l("Probability %"),
    "close_date": _l("Expected close date"),
    "lost_reason": _l("Reason lost"),
    "stage": _l("Sales stage"),
    "number": _l("Number"),
    "order_date": _l("Order date"),
    "total": _l("Total"),
    "lines": _l("Lines"),
    "invoice_date": _l("Invoice date"),
    "due_date": _l("Due date"),
    "retained_until": _l("Kept until"),
    "at": _l("When"),
    "action": _l("What"),
    "changes": _l("Changes"),
    "by": _l("By"),
}

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
    return str(FIELD_LABELS.get(name, name))


def audit_action(action: str) -> str:
    return str(AUDIT_ACTIONS.get(action, action))


def change_value(value, event, field: str) -> str:
    """An old or new value in Historik as people read it (Ja/Nej, Swedish numbers), by the column's type."""
    from sqlalchemy import Boolean, Integer, Numeric

    from extensions import db
    from services import formatting

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


def audit_subject(event) -> str:
    """Who or what an audit event is about (a linked contact for link events)."""
    if event.action in ("link", "unlink"):
        return " ".join(str(v) for v in (event.changes or {}).get("contact", []) if v)
    return event.entity_label or ""
