"""The JSON of each kind of record (marshmallow): what the API returns, and what it accepts to
create (`…Input`) and to change (`…Patch`: any of the fields, and the `version` read)."""

from __future__ import annotations

from datetime import UTC

import marshmallow as ma
from flask_babel import gettext as _
from flask_login import current_user
from marshmallow import fields as f
from marshmallow import validate as v

from models import COMPANY_STATUSES_CHOSEN, VAT_RATES, Activity, Category, Lead
from services import consent, fields, personal_numbers, visibility
from services.money import LARGEST_AMOUNT
from services.validation import MAX_INTEGER, PAYMENT_TERMS_DAYS

CURRENCIES = fields.CURRENCIES
LANGUAGES = tuple(code for code, _label in fields.INVOICE_LANGUAGES)


def text(max_length: int, **kwargs):
    return f.String(validate=v.Length(max=max_length), allow_none=True, **kwargs)


def not_blank(value: str) -> None:
    """A required text is more than spaces (it is stored stripped: "  " would be an empty name)."""
    if not value.strip():
        raise ma.ValidationError(_("This field may not be empty."))


def required_text(max_length: int, **kwargs):
    return f.String(required=True, validate=[v.Length(min=1, max=max_length), not_blank], **kwargs)


def ident(**kwargs):
    """A record's id: a whole number an id column holds (a larger one never reaches the database)."""
    return f.Integer(allow_none=True, validate=v.Range(1, MAX_INTEGER), **kwargs)


def required_ident(**kwargs):
    return f.Integer(required=True, validate=v.Range(1, MAX_INTEGER), **kwargs)


def idents(**kwargs):
    """A list of record ids."""
    return f.List(f.Integer(validate=v.Range(1, MAX_INTEGER)), **kwargs)


class DecimalString(f.Decimal):
    """A decimal number sent and returned as text ("1234.50"), exact; documented as a string."""

    def __init__(self, **kwargs):
        kwargs.setdefault("allow_nan", False)
        super().__init__(as_string=True, **kwargs)


class UtcDateTime(f.DateTime):
    """A time in UTC with its offset ("2026-12-05T09:00:00+00:00"); one sent without an offset is UTC."""

    def _serialize(self, value, attr, obj, **kwargs):
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return super()._serialize(value, attr, obj, **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        parsed = super()._deserialize(value, attr, data, **kwargs)
        try:
            return parsed.astimezone(UTC).replace(tzinfo=None) if parsed.tzinfo is not None else parsed
        except OverflowError:  # 0001-01-01T00:00+14:00 and the like: no such time in UTC
            raise self.make_error("invalid", input=value, obj_type=self.OBJ_TYPE) from None


def money(**kwargs):
    return DecimalString(places=2, **kwargs)


def between(low, high):
    """A range check for amounts sent as text (a Range validator would put numbers into the
    OpenAPI document where the type is a string)."""

    def check(value):
        if not low <= value <= high:
            raise ma.ValidationError(f"Must be between {low} and {high}.")

    return check


def is_vat_rate(value):
    if value not in VAT_RATES:
        raise ma.ValidationError("Must be one of: 25, 12, 6, 0.")


class PersonalNumber(f.String):
    """A personnummer: written out in full only to a key whose employee may read personnummer, else
    YYYYMMDD-XXXX (services.personal_numbers); sending that masked value back leaves it unchanged."""

    def _serialize(self, value, attr, obj, **kwargs):
        return personal_numbers.shown_to(value, current_user) or None


class Output(ma.Schema):
    """Records out: every field is read only."""

    id = f.Integer(dump_only=True, required=True)


class Patchable:
    """A …Patch schema: any field of the input, with the version the change is made from."""

    version = required_ident(metadata={"description": "The version read: a newer one on the server gives 409"})


def patch_schema(input_schema: type[ma.Schema], name: str) -> ma.Schema:
    """`input_schema` with every field optional, plus the required `version`."""
    schema_class = type(name, (input_schema,), {"version": Patchable.version})
    return schema_class(partial=tuple(n for n in input_schema._declared_fields))


# --- companies and contacts ----------------------------------------------------------------


class CustomerParts(ma.Schema):
    """A customer's fields that belong to a part of the card (services.visibility: the invoice
    settings are the Inställningar tab) reach only a key whose employee may see that part: left
    out of what is returned, refused (422) when sent, as the forms leave them out."""

    @ma.post_dump
    def _leave_out_hidden(self, data, **kwargs):
        for name in visibility.hidden_fields(current_user, list(data)):
            del data[name]
        return data

    @ma.validates_schema
    def _refuse_hidden(self, data, **kwargs):
        hidden = visibility.hidden_fields(current_user, list(data))
        if hidden:
            raise ma.ValidationError(
                {
                    name: [
                        _(
                            "You may not set %(field)s: it belongs to the customers' invoice settings.",
                            field=fields.label(name),
                        )
                    ]
                    for name in hidden
                }
            )


class CompanyFields(CustomerParts):
    name = required_text(200)
    country = f.String(validate=v.Regexp(r"^[A-Z]{2}$"), metadata={"description": "ISO country code, SE"})
    org_number = text(20, metadata={"description": "Organisationsnummer (NNNNNN-NNNN); stored as ten digits"})
    legal_form = text(60, metadata={"description": "Företagsform (Aktiebolag, Handelsbolag …)"})
    vat_number = text(20)
    status = f.String(validate=v.OneOf(list(COMPANY_STATUSES_CHOSEN)))
    industry_id = ident()
    owner_id = ident(metadata={"description": "Kundansvarig (an employee)"})
    is_supplier = f.Boolean()
    phone = text(32, metadata={"description": "Any way of writing it; stored as E.164"})
    email = text(254)
    website = text(200)
    postal_street = text(200)
    postal_postcode = text(10)
    postal_city = text(100)
    visit_street = text(200)
    visit_postcode = text(10)
    visit_city = text(100)
    invoice_street = text(200)
    invoice_postcode = text(10)
    invoice_city = text(100)
    note = f.String(allow_none=True, validate=v.Length(max=20000))
    invoice_language = f.String(validate=v.OneOf(LANGUAGES))
    discount_percent = DecimalString(places=2, validate=between(0, 100))
    payment_terms_days = f.Integer(validate=v.Range(*PAYMENT_TERMS_DAYS))
    currency = f.String(validate=v.OneOf(CURRENCIES))
    category_ids = idents(metadata={"description": "Kategorier (for companies or both)"})


class CompanyInput(CompanyFields):
    pass


CompanyPatch = patch_schema(CompanyInput, "CompanyPatch")


class CompanySchema(Output, CompanyFields):
    customer_number = f.Integer(dump_only=True, required=True)
    category_ids = f.Pluck("CategorySchema", "id", many=True, attribute="categories", dump_only=True)
    email_locked = f.Boolean(dump_only=True)
    version = f.Integer(dump_only=True, required=True)
    created_at = UtcDateTime(dump_only=True)
    updated_at = UtcDateTime(dump_only=True)
    deleted_at = UtcDateTime(dump_only=True, allow_none=True)


class ConsentFields(ma.Schema):
    """Samtycke och rättslig grund (services.consent), on contacts and leads."""

    lawful_basis = f.String(
        allow_none=True,
        validate=v.OneOf(list(consent.BASES)),
        metadata={"description": "Rättslig grund: " + ", ".join(consent.BASES)},
    )
    consent_email = f.Boolean(allow_none=True, metadata={"description": "Marketing by e-mail: null not asked"})
    consent_sms = f.Boolean(allow_none=True, metadata={"description": "Marketing by SMS: null not asked"})
    consent_phone = f.Boolean(allow_none=True, metadata={"description": "Marketing by phone: null not asked"})


class ConsentStamps(ma.Schema):
    """When and how each consent was recorded (source: form, import, api or demo)."""

    consent_email_at = UtcDateTime(dump_only=True, allow_none=True)
    consent_email_source = f.String(dump_only=True, allow_none=True)
    consent_sms_at = UtcDateTime(dump_only=True, allow_none=True)
    consent_sms_source = f.String(dump_only=True, allow_none=True)
    consent_phone_at = UtcDateTime(dump_only=True, allow_none=True)
    consent_phone_source = f.String(dump_only=True, allow_none=True)


class ContactFields(CustomerParts, ConsentFields):
    first_name = required_text(100)
    last_name = required_text(100)
    title = text(100)
    email = text(254)
    phone = text(32)
    mobile = text(32)
    personal_number = PersonalNumber(
        validate=v.Length(max=13),
        allow_none=True,
        metadata={
            "description": "Personnummer (private customers): YYYYMMDD-XXXX unless the key's employee may read "
            "personnummer; the masked value sent back leaves the stored number unchanged"
        },
    )
    owner_id = ident()
    postal_street = text(200)
    postal_postcode = text(10)
    postal_city = text(100)
    note = f.String(allow_none=True, validate=v.Length(max=20000))
    invoice_language = f.String(validate=v.OneOf(LANGUAGES))
    payment_terms_days = f.Integer(validate=v.Range(*PAYMENT_TERMS_DAYS))
    currency = f.String(validate=v.OneOf(CURRENCIES))
    category_ids = idents()


class ContactInput(ContactFields):
    company_ids = idents(load_only=True, metadata={"description": "Link to these companies"})
    company_role = text(100, load_only=True, metadata={"description": "The contact's role at those companies"})
    private_customer = f.Boolean(
        load_only=True, metadata={"description": "Give a customer number: a private customer (Privatkund)"}
    )


ContactPatch = patch_schema(ContactInput, "ContactPatch")


class CompanyLinkSchema(ma.Schema):
    company_id = f.Integer(required=True)
    role = f.String(allow_none=True)


class ContactSchema(Output, ContactFields, ConsentStamps):
    customer_number = f.Integer(dump_only=True, allow_none=True, metadata={"description": "Set: a private customer"})
    category_ids = f.Pluck("CategorySchema", "id", many=True, attribute="categories", dump_only=True)
    companies = f.List(f.Nested(CompanyLinkSchema), attribute="company_links", dump_only=True)
    version = f.Integer(dump_only=True, required=True)
    created_at = UtcDateTime(dump_only=True)
    updated_at = UtcDateTime(dump_only=True)
    deleted_at = UtcDateTime(dump_only=True, allow_none=True)


class EmailMessageSchema(Output):
    direction = f.String()
    sender = f.String()
    recipients = f.String()
    subject = f.String()
    body = f.String(allow_none=True)
    sent_at = UtcDateTime()
    contact_id = f.Integer(allow_none=True)


class EmailListSchema(ma.Schema):
    email_locked = f.Boolean(required=True)
    items = f.List(f.Nested(EmailMessageSchema), required=True)


# --- leads, activities, opportunities ----------------------------------------------------------


class LeadFields(ConsentFields):
    company_name = required_text(200)
    org_number = text(20)
    contact_first_name = text(100)
    contact_last_name = text(100)
    contact_title = text(100)
    contact_phone = text(32)
    contact_email = text(254)
    source = text(100)
    status = f.String(validate=v.OneOf(list(Lead.STATUSES_CHOSEN)))
    owner_id = ident()
    note = f.String(allow_none=True, validate=v.Length(max=20000))
    category_ids = idents()


class LeadInput(LeadFields):
    pass


LeadPatch = patch_schema(LeadInput, "LeadPatch")


class LeadSchema(Output, LeadFields, ConsentStamps):
    status = f.String()
    category_ids = f.Pluck("CategorySchema", "id", many=True, attribute="categories", dump_only=True)
    company_id = f.Integer(dump_only=True, allow_none=True, metadata={"description": "The customer it became"})
    contact_id = f.Integer(dump_only=True, allow_none=True)
    converted_at = UtcDateTime(dump_only=True, allow_none=True)
    deleted_at = UtcDateTime(dump_only=True, allow_none=True)
    version = f.Integer(dump_only=True, required=True)
    created_at = UtcDateTime(dump_only=True)
    updated_at = UtcDateTime(dump_only=True)


class RecordRefSchema(ma.Schema):
    """Another record of the register, named as the webhooks name one (its type and id)."""

    type = f.String(
        required=True,
        validate=v.OneOf(["company", "contact", "lead"]),
        metadata={"description": "company (a customer or supplier: /companies), contact (/contacts) or lead"},
    )
    id = f.Integer(required=True)


#: The codes of the warnings a 201 may carry.
WARNING_CODES = ("possible_duplicate",)


class WarningSchema(ma.Schema):
    """Something to check about a record that was created all the same (the screens' yellow notice)."""

    code = f.String(
        required=True,
        validate=v.OneOf(WARNING_CODES),
        metadata={
            "description": "possible_duplicate: another record has the same value in `field` (a lead: the "
            "organisationsnummer or the contact's e-mail of a customer, a contact or another lead)"
        },
    )
    message = f.String(
        required=True,
        metadata={"description": "The same in a sentence, in Swedish (English with Accept-Language: en)"},
    )
    field = f.String(metadata={"description": "possible_duplicate: the field of the new record it is about"})
    record = f.Nested(RecordRefSchema, metadata={"description": "possible_duplicate: the other record"})


class LeadCreatedSchema(LeadSchema):
    """The new lead, and what the lead form says after saving one: the customers, contacts and leads with its
    organisationsnummer or e-mail (each of a kind the key's employee may view)."""

    warnings = f.List(
        f.Nested(WarningSchema),
        required=True,
        dump_only=True,
        metadata={"description": "Empty when there is nothing to check; the lead was created either way"},
    )


class ActivityFields(ma.Schema):
    kind = f.String(required=True, validate=v.OneOf(list(Activity.PLANNED_KINDS)))
    subject = required_text(200)
    description = f.String(allow_none=True, validate=v.Length(max=20000))
    due_at = UtcDateTime(allow_none=True)
    start_at = UtcDateTime(allow_none=True)
    end_at = UtcDateTime(allow_none=True)
    assignee_id = ident()
    company_id = ident()
    contact_id = ident()
    opportunity_id = ident()
    lead_id = ident()


class ActivityInput(ActivityFields):
    pass


class ActivityPatchFields(ActivityInput):
    done = f.Boolean(metadata={"description": "Completed (a note stays done)"})


ActivityPatch = patch_schema(ActivityPatchFields, "ActivityPatch")


class ActivitySchema(Output, ActivityFields):
    kind = f.String()
    done = f.Boolean()
    version = f.Integer(dump_only=True, required=True)
    done_at = UtcDateTime(allow_none=True)
    created_by_id = f.Integer(allow_none=True)
    created_at = UtcDateTime(dump_only=True)


class OpportunityFields(ma.Schema):
    title = required_text(200)
    company_id = ident()
    contact_id = ident(metadata={"description": "A private customer (a contact with a customer number)"})
    owner_id = ident()
    stage_id = required_ident()
    amount = money(allow_none=True, validate=between(0, 10**12))
    probability = f.Integer(allow_none=True, validate=v.Range(0, 100))
    close_date = f.Date(allow_none=True)
    source = text(100)
    kind = f.String(allow_none=True, validate=v.OneOf(["new", "existing", "renewal"]))
    lost_reason = f.String(allow_none=True, validate=v.Length(max=5000))
    description = f.String(allow_none=True, validate=v.Length(max=20000))


CUSTOMER_NUMBER = f.Integer(
    load_only=True,
    validate=v.Range(1, 2**31 - 1),
    metadata={"description": "The customer by its customer number (a company or a private customer), instead of an id"},
)


class OpportunityInput(OpportunityFields):
    customer_number = CUSTOMER_NUMBER


OpportunityPatch = patch_schema(OpportunityInput, "OpportunityPatch")


class OpportunitySchema(Output, OpportunityFields):
    version = f.Integer(dump_only=True, required=True)
    created_at = UtcDateTime(dump_only=True)
    updated_at = UtcDateTime(dump_only=True)


class MoveStageInput(ma.Schema):
    stage_id = required_ident()
    version = Patchable.version
    lost_reason = f.String(allow_none=True, validate=v.Length(max=5000))


# --- settings, employees, products ---------------------------------------------------------


class SalesStageFields(ma.Schema):
    name = required_text(100)
    sort_order = f.Integer(validate=v.Range(0, 10**6))
    probability = f.Integer(validate=v.Range(0, 100))
    is_won = f.Boolean()
    is_lost = f.Boolean()
    active = f.Boolean()


class SalesStageSchema(Output, SalesStageFields):
    version = f.Integer(dump_only=True, required=True)


class CategoryFields(ma.Schema):
    name = required_text(100)
    applies_to = f.String(validate=v.OneOf(list(Category.SCOPES)))
    description = f.String(allow_none=True, validate=v.Length(max=5000))


class CategorySchema(Output, CategoryFields):
    version = f.Integer(dump_only=True, required=True)


class IndustryFields(ma.Schema):
    name = required_text(150)
    sni_code = text(10)


class IndustrySchema(Output, IndustryFields):
    version = f.Integer(dump_only=True, required=True)


class EmployeeSchema(Output):
    name = f.String()
    email = f.String()
    phone = f.String(allow_none=True)
    title = f.String(allow_none=True)
    role = f.String()
    active = f.Boolean()


class ProductFields(ma.Schema):
    number = required_text(30)
    name = required_text(200)
    unit = f.String(validate=v.Length(min=1, max=10))
    price = money(validate=between(0, LARGEST_AMOUNT))
    vat_rate = DecimalString(places=2, validate=is_vat_rate)
    active = f.Boolean()


class ProductInput(ProductFields):
    pass


class ProductSchema(Output, ProductFields):
    version = f.Integer(dump_only=True, required=True)


# --- orders and invoices --------------------------------------------------------------------


class LineFields(ma.Schema):
    product_id = ident()
    description = f.String(allow_none=True, validate=v.Length(max=300))
    quantity = DecimalString(places=3, validate=between(-(10**8), 10**8))
    unit = text(10)
    unit_price = DecimalString(places=2, allow_none=True, validate=between(-LARGEST_AMOUNT, LARGEST_AMOUNT))
    discount_percent = DecimalString(places=2, allow_none=True, validate=between(0, 100))
    vat_rate = DecimalString(places=2, allow_none=True, validate=is_vat_rate)


class LineSchema(LineFields):
    position = f.Integer()
    amount = money()


class DocumentSchema(Output):
    company_id = f.Integer(allow_none=True)
    contact_id = f.Integer(allow_none=True)
    our_reference_id = f.Integer(allow_none=True)
    their_reference_id = f.Integer(allow_none=True)
    status = f.String()
    currency = f.String()
    language = f.String()
    note = f.String(allow_none=True)
    net_amount = money()
    vat_amount = money()
    rounding = money()
    total = money()
    lines = f.List(f.Nested(LineSchema))
    version = f.Integer(required=True)
    created_at = UtcDateTime()


class OrderSchema(DocumentSchema):
    number = f.Integer()
    order_date = f.Date()
    delivery_date = f.Date(allow_none=True)


class InvoiceSchema(DocumentSchema):
    number = f.Integer(allow_none=True, metadata={"description": "Given when the invoice is sent; null on a draft"})
    ocr = f.String(allow_none=True)
    invoice_date = f.Date(allow_none=True)
    due_date = f.Date(allow_none=True)
    payment_terms_days = f.Integer()
    sent_at = UtcDateTime(allow_none=True)
    paid_at = f.Date(allow_none=True)
    order_id = f.Integer(allow_none=True)
    credited_invoice_id = f.Integer(allow_none=True)


#: Lines a draft sent through the API may have.
MAX_LINES = 500


def _at_most_lines(rows) -> None:
    if len(rows) > MAX_LINES:
        raise ma.ValidationError(_("At most %(max)s lines.", max=MAX_LINES))


class DraftInput(ma.Schema):
    """A draft order or invoice for a customer (a company, or a private customer)."""

    company_id = ident()
    contact_id = ident()
    customer_number = CUSTOMER_NUMBER
    note = f.String(allow_none=True, validate=v.Length(max=5000))
    lines = f.List(f.Nested(LineFields), load_default=list, validate=_at_most_lines)


# --- custom fields --------------------------------------------------------------------------


class CustomFieldValueSchema(ma.Schema):
    field_id = f.Integer(required=True)
    label = f.String(required=True)
    tab = f.String(required=True)
    type = f.String(required=True)
    value = f.Raw(allow_none=True, metadata={"description": "Text, number (as text), date, yes/no, or null"})


class CustomFieldValuesSchema(ma.Schema):
    items = f.List(f.Nested(CustomFieldValueSchema), required=True)


class CustomFieldValuesInput(ma.Schema):
    values = f.Dict(
        keys=f.String(),
        values=f.Raw(allow_none=True),
        required=True,
        metadata={"description": "field id → value as typed (text; empty or null clears it)"},
    )
