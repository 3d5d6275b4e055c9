"""The one place for each register field's Swedish label and for the choices of a field with a
fixed set of values: lists, forms, the card, Historik, the Rapportgenerator, the import's mapping
and the exports all read them from here (a test holds that no label is written twice).

Labels are keyed by the field's name as stored (`org_number`), with a few names of their own
for what is not a column (`company_customer_number` in an import of contacts); an entity whose
field reads differently says so in `ENTITY_LABELS` (a company's `name` is "Företagsnamn")."""

from __future__ import annotations

from services.i18n import lazy_gettext as _l

LABELS = {
    "customer_number": _l("Customer no."),
    "name": _l("Name"),
    "company_name": _l("Company name"),
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
    "supplier": _l("Supplier"),
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
    "company_customer_number": _l("Company's customer no."),
    "company_org_number": _l("Company's org. no."),
    "contact_first_name": _l("Contact's first name"),
    "contact_last_name": _l("Contact's last name"),
    "contact_name": _l("Contact person"),
    "contact_title": _l("Contact's title"),
    "contact_phone": _l("Contact's phone"),
    "contact_email": _l("Contact's e-mail"),
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
    "created_at": _l("Created"),
    "deleted_at": _l("Deleted"),
    "deleted_by_id": _l("Deleted by"),
    "contact": _l("Contact"),
    "customer": _l("Customer"),
    "role": _l("Role"),
    "description": _l("Description"),
    "sni_code": _l("SNI code"),
    "source": _l("Source"),
    "kind": _l("Type"),
    "stage": _l("Stage"),
    "amount": _l("Expected amount (SEK)"),
    "probability": _l("Probability %"),
    "weighted": _l("Weighted value (SEK)"),
    "close_date": _l("Expected close date"),
    "subject": _l("Subject"),
    "assignee": _l("Responsible"),
    "due_at": _l("Due"),
    "start_at": _l("Starts"),
    "done": _l("Done"),
    # Samtycke och rättslig grund (services.consent)
    "lawful_basis": _l("Lawful basis"),
    "consent": _l("Consent"),
    "consent_email": _l("Consent to marketing by e-mail"),
    "consent_sms": _l("Consent to marketing by SMS"),
    "consent_phone": _l("Consent to marketing by phone"),
    # what else a register extract (Dataskydd) shows of the places a person's data lives
    "updated_at": _l("Last changed"),
    "converted_at": _l("Converted"),
    "value_text": _l("Value"),
    "value_number": _l("Value (number)"),
    "value_date": _l("Value (date)"),
    "value_bool": _l("Value (yes/no)"),
    "field": _l("Field"),
    "company": _l("Company"),
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
    "lost_reason": _l("Reason for loss"),
    "number": _l("Order or invoice no."),
    "order_date": _l("Order date"),
    "total": _l("Total"),
    "lines": _l("Lines"),
    "invoice_date": _l("Invoice date"),
    "due_date": _l("Due date"),
    "retained_until": _l("Kept until"),
    "at": _l("When"),
    "entity_type": _l("Record"),
    "entity_label": _l("Name"),
    # the history of their activities, opportunities, orders and invoices (a record named by its id)
    "contact_id": _l("Contact"),
    "company_id": _l("Company"),
    "lead_id": _l("Lead"),
    "stage_id": _l("Stage"),
    "our_reference_id": _l("Our reference"),
    "their_reference_id": _l("Their reference"),
    "created_by_id": _l("Created by"),
    "language": _l("Language"),
    "net_amount": _l("Amount excl. VAT"),
    "vat_amount": _l("VAT"),
    "rounding": _l("Rounding"),
    "ocr": _l("OCR reference"),
    "paid_at": _l("Paid"),
    "action": _l("What"),
    "changes": _l("Changes"),
    "by": _l("By"),
}

#: Where a field of one entity reads differently from the same name elsewhere.
ENTITY_LABELS = {
    "company": {"name": LABELS["company_name"]},
    "supplier": {"name": LABELS["company_name"]},
}

INVOICE_LANGUAGES = [("sv", _l("Swedish")), ("en", _l("English"))]
CURRENCIES = ("SEK", "EUR", "NOK", "DKK", "USD", "GBP")


def label(name: str, entity: str | None = None):
    """The field's label (lazy: translated when shown); the name itself when it has none."""
    own = ENTITY_LABELS.get(entity or "", {})
    return own.get(name) or LABELS.get(name, name)


def labels(entity: str | None = None) -> dict:
    """Every label, as `entity` reads them (for a view's column_labels)."""
    return {**LABELS, **ENTITY_LABELS.get(entity or "", {})}
