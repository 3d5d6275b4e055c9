"""The records /api/v1/ serves, declared once each, and the endpoints beyond list/get/create/
update/delete: natural keys, a company's e-mail (the lock honoured), moving an opportunity to a
stage, draft orders and invoices, custom field values."""

from __future__ import annotations

import marshmallow as ma
from flask import abort
from flask_babel import gettext as _
from flask_login import current_user
from flask_smorest import Blueprint
from sqlalchemy import select
from sqlalchemy.orm import selectinload
from sqlalchemy.orm.exc import StaleDataError

from api import schemas as s
from api.core import rate_limit, rate_limit_key, requires
from api.problems import ProblemSchema, problem
from api.resources import Resource, Sort, blueprint, conflict, get_live, write
from extensions import db, limiter
from models import (
    COMPANY_STATUS_LABELS,
    Activity,
    Category,
    Company,
    Contact,
    CustomFieldDefinition,
    Employee,
    Industry,
    Invoice,
    Lead,
    Opportunity,
    Product,
    SalesOrder,
    SalesStage,
)
from services import categories as category_rules
from services import (
    custom_fields,
    duplicates,
    email_lock,
    invoicing,
    numbering,
    records,
    register,
    sales,
    search,
    validation,
)
from services import leads as lead_rules
from services.validation import InvalidValue

PROBLEM = {"schema": ProblemSchema, "content_type": "application/problem+json"}


def _filter(field, condition):
    return (field, condition)


def _id_field(description: str | None = None):
    return ma.fields.Integer(
        validate=ma.validate.Range(1, 2**31 - 1), metadata={"description": description} if description else {}
    )


def _id_filter(column, description: str | None = None):
    """`?name=<id or number>`: the column equals it."""
    return _filter(_id_field(description), lambda v: column == v)


def _category_filter(relation):
    return _filter(_id_field("In this category"), lambda v: relation.any(Category.id == v))


def _choice_filter(column, choices):
    """`?name=<one of choices>` (a status, a kind)."""
    return _filter(ma.fields.String(validate=ma.validate.OneOf(list(choices))), lambda v: column == v)


def _flag_filter(column):
    """`?name=true|false`."""
    return _filter(ma.fields.Boolean(), lambda v: column.is_(v))


def _email_filter(condition, description: str):
    return _filter(
        ma.fields.String(validate=ma.validate.Length(max=254), metadata={"description": description}), condition
    )


def _customer_filters(model) -> dict:
    """An order's or invoice's customer and status."""
    return {
        "company_id": _id_filter(model.company_id, "Customer (company)"),
        "contact_id": _id_filter(model.contact_id, "Customer (private customer)"),
        "status": _choice_filter(model.status, model.STATUSES),
    }


def _normalised_org_number(value: str) -> str:
    try:
        return validation.org_number(value) or ""
    except InvalidValue:
        return value.strip()


def _normalised_email(value: str) -> str:
    """An e-mail address as the register stores it (services.validation), to find it by its index."""
    try:
        return validation.email(value) or ""
    except InvalidValue:
        return value.strip()


def _new(model, *, owned: bool = False):
    """Create a `model` from the request's data; `owned`: the key's employee is its owner (kundansvarig)."""

    def create(session, actor, data):
        record = model(owner_id=actor.id) if owned else model()
        records.apply(session, record, data)
        session.add(record)
        return record

    return create


def _plain_update(session, actor, record, data):
    records.apply(session, record, data)
    session.flush()


def _plain_delete(session, actor, record):
    """Delete a row; one that other rows still point at is refused by the database (409, in use)."""
    session.delete(record)
    session.flush()


# --- companies --------------------------------------------------------------------------------


companies = Resource(
    name="companies",
    model=Company,
    schema=s.CompanySchema,
    area="company",
    description="Företag (customers and suppliers). Natural keys: customer number, organisationsnummer.",
    sorts={
        "name": Sort(lambda: [Company.name]),
        "customer_number": Sort(lambda: [Company.customer_number]),
        "org_number": Sort(lambda: [Company.org_number], nullable=True),
        "postal_city": Sort(lambda: [Company.postal_city], nullable=True),
    },
    default_sort="name",
    filters={
        "status": _choice_filter(Company.status, COMPANY_STATUS_LABELS),
        "owner_id": _id_filter(Company.owner_id, "Kundansvarig"),
        "industry_id": _id_filter(Company.industry_id, "Bransch"),
        "category_id": _category_filter(Company.categories),
        "is_supplier": _flag_filter(Company.is_supplier),
        "customer_number": _id_filter(Company.customer_number),
        "org_number": _filter(
            ma.fields.String(validate=ma.validate.Length(max=20), metadata={"description": "Any way of writing it"}),
            lambda v: Company.org_number == _normalised_org_number(v),
        ),
    },
    create_schema=s.CompanyInput,
    update_schema=s.CompanyPatch,
    create=_new(Company, owned=True),
    update=_plain_update,
    delete="trash",
    options=lambda: (selectinload(Company.categories),),
)


# --- contacts ---------------------------------------------------------------------------------


def _contact_extras(session, contact, data):
    company_ids = data.pop("company_ids", None)
    role = data.pop("company_role", None)
    private = data.pop("private_customer", None)
    return company_ids, role, private


def _link(session, contact, company_ids, role, private):
    errors = {}
    if company_ids:
        found = list(session.scalars(select(Company).where(Company.id.in_(company_ids), Company.deleted_at.is_(None))))
        missing = sorted(set(company_ids) - {c.id for c in found})
        if missing:
            errors["company_ids"] = [_("No record with id %(id)s.", id=", ".join(map(str, missing)))]
        else:
            session.flush()
            for company in found:
                register.link_contacts(session, company, [contact], role or None)
    if errors:
        raise records.FieldErrors(errors)
    if private:
        numbering.make_private_customer(session, contact)


def _create_contact(session, actor, data):
    company_ids, role, private = _contact_extras(session, None, data)
    contact = _new(Contact, owned=True)(session, actor, data)
    _link(session, contact, company_ids, role, private)
    return contact


def _update_contact(session, actor, contact, data):
    company_ids, role, private = _contact_extras(session, contact, data)
    records.apply(session, contact, data)
    _link(session, contact, company_ids, role, private)
    session.flush()


contacts = Resource(
    name="contacts",
    model=Contact,
    schema=s.ContactSchema,
    area="contact",
    description="Kontakter and Privatkunder (a contact with a customer number). Natural keys: e-mail, customer number.",
    sorts={
        "last_name": Sort(lambda: [Contact.last_name, Contact.first_name]),
        "first_name": Sort(lambda: [Contact.first_name]),
        "customer_number": Sort(lambda: [Contact.customer_number], nullable=True),
    },
    default_sort="last_name",
    filters={
        # Any case, as a lead's conversion and duplicates compare it (PostgreSQL: ix_contact_email_lower).
        "email": _email_filter(
            lambda v: duplicates.same_email(db.session, Contact.email, _normalised_email(v)), "Exactly (any case)"
        ),
        "customer_number": _id_filter(Contact.customer_number),
        "private_customer": _filter(
            ma.fields.Boolean(metadata={"description": "Only private customers (true) or only others (false)"}),
            lambda v: Contact.customer_number.is_not(None) if v else Contact.customer_number.is_(None),
        ),
        "company_id": _filter(_id_field("Linked to"), lambda v: Contact.company_links.any(company_id=v)),
        "owner_id": _id_filter(Contact.owner_id, "Kundansvarig"),
        "category_id": _category_filter(Contact.categories),
    },
    create_schema=s.ContactInput,
    update_schema=s.ContactPatch,
    create=_create_contact,
    update=_update_contact,
    delete="trash",
    options=lambda: (selectinload(Contact.categories), selectinload(Contact.company_links)),
)


# --- leads, activities, opportunities -------------------------------------------------------------


#: The lead's field (as the API names it) that services.leads.duplicates compared.
_LEAD_FIELDS = {"org_number": "org_number", "email": "contact_email"}


def _lead_warnings(session, lead) -> list[dict]:
    """What the lead form says after saving one (services.leads.duplicates): the live customers, contacts and
    leads with the new lead's organisationsnummer or e-mail, each of a kind the key's employee may view."""
    return [
        {
            "code": "possible_duplicate",
            "field": _LEAD_FIELDS[found.field],
            "record": {"type": found.kind, "id": found.record.id},
            "message": found.message,
        }
        for found in lead_rules.duplicates(session, lead)
        if current_user.has_permission(f"{found.kind}.view")
    ]


leads = Resource(
    name="leads",
    model=Lead,
    schema=s.LeadSchema,
    area="lead",
    description="Leads: potential customers.",
    sorts={
        "created_at": Sort(lambda: [Lead.created_at]),
        "company_name": Sort(lambda: [Lead.company_name]),
        "org_number": Sort(lambda: [Lead.org_number], nullable=True),
    },
    default_sort="-created_at",
    filters={
        "status": _choice_filter(Lead.status, Lead.STATUSES),
        "owner_id": _id_filter(Lead.owner_id, "Owner"),
        "source": _filter(ma.fields.String(validate=ma.validate.Length(max=100)), lambda v: Lead.source == v),
        "email": _email_filter(lambda v: Lead.contact_email == _normalised_email(v), "The contact's e-mail"),
    },
    create_schema=s.LeadInput,
    created_schema=s.LeadCreatedSchema,
    warnings=_lead_warnings,  # a lead is created with a customer's organisationsnummer, and told so
    update_schema=s.LeadPatch,
    create=_new(Lead, owned=True),
    update=_plain_update,
    delete="trash",  # to the trash with its call-list entries and activities; POST …/restore brings it back
    permissions={"restore": ("lead.restore",)},
    options=lambda: (selectinload(Lead.categories),),
)


def _create_activity(session, actor, data):
    return records.new_activity(session, actor, data)


activities_resource = Resource(
    name="activities",
    model=Activity,
    schema=s.ActivitySchema,
    area="activity",
    description="Aktiviteter: tasks, meetings, calls and notes on a customer, lead or opportunity.",
    permissions={  # as the card's Aktiviteter tab
        "view": ("company.view", "tab.activities"),
        "create": ("activity.edit", "tab.activities"),
        "edit": ("activity.edit", "tab.activities"),
        "delete": ("activity.edit", "tab.activities"),
    },
    sorts={"due_at": Sort(lambda: [Activity.due_at], nullable=True), "created_at": Sort(lambda: [Activity.created_at])},
    default_sort="-created_at",
    filters={
        "company_id": _id_filter(Activity.company_id, "About this company"),
        "contact_id": _id_filter(Activity.contact_id, "About this contact"),
        "opportunity_id": _id_filter(Activity.opportunity_id, "About this opportunity"),
        "lead_id": _id_filter(Activity.lead_id, "About this lead"),
        "assignee_id": _id_filter(Activity.assignee_id, "Assigned to"),
        "done": _flag_filter(Activity.done),
        "kind": _choice_filter(Activity.kind, Activity.KINDS),
    },
    create_schema=s.ActivityInput,
    update_schema=s.ActivityPatch,
    create=_create_activity,
    update=lambda session, actor, activity, data: records.update_activity(session, activity, data),
    delete=_plain_delete,
    base=lambda: search.customer_live(Activity),  # hidden with its customer in the trash, as on the card
)


def _by_customer_number(session, data: dict) -> dict:
    """`customer_number` (a natural key the other system has) as the company_id or contact_id it names."""
    number = data.pop("customer_number", None)
    if number is None:
        return data
    company_id = session.scalar(
        select(Company.id).where(Company.customer_number == number, Company.deleted_at.is_(None))
    )
    contact_id = session.scalar(
        select(Contact.id).where(Contact.customer_number == number, Contact.deleted_at.is_(None))
    )
    if company_id is None and contact_id is None:
        raise records.FieldErrors({"customer_number": [_("No customer has the customer number %(n)s.", n=number)]})
    return {**data, "company_id": company_id, "contact_id": contact_id}


def _check_opportunity(session, opportunity):
    session.flush()
    sales.check(opportunity)


def _create_opportunity(session, actor, data):
    opportunity = _new(Opportunity, owned=True)(session, actor, _by_customer_number(session, data))
    _check_opportunity(session, opportunity)
    return opportunity


def _update_opportunity(session, actor, opportunity, data):
    records.apply(session, opportunity, data)
    _check_opportunity(session, opportunity)


opportunities = Resource(
    name="opportunities",
    model=Opportunity,
    schema=s.OpportunitySchema,
    area="opportunity",
    description="Säljmöjligheter. Move one to another stage with POST …/{id}/move.",
    sorts={
        "close_date": Sort(lambda: [Opportunity.close_date], nullable=True),
        "title": Sort(lambda: [Opportunity.title]),
        "amount": Sort(lambda: [Opportunity.amount], nullable=True),
    },
    default_sort="close_date",
    filters={
        "company_id": _id_filter(Opportunity.company_id, "Customer (company)"),
        "contact_id": _id_filter(Opportunity.contact_id, "Customer (private customer)"),
        "owner_id": _id_filter(Opportunity.owner_id, "Owner"),
        "stage_id": _id_filter(Opportunity.stage_id, "Stage"),
    },
    create_schema=s.OpportunityInput,
    update_schema=s.OpportunityPatch,
    create=_create_opportunity,
    update=_update_opportunity,
    delete=_plain_delete,
    base=lambda: search.customer_live(Opportunity),  # it is in the trash with its customer
)


# --- settings, employees, products -------------------------------------------------------------

SETTINGS = {
    "view": ("company.view",),
    "create": ("settings.manage",),
    "edit": ("settings.manage",),
    "delete": ("settings.manage",),
}


def _settings_resource(name, model, schema, fields_schema, sorts, default_sort, description, searchable=True):
    input_schema = type(f"{model.__name__}Input", (fields_schema,), {})
    return Resource(
        name=name,
        model=model,
        schema=schema,
        area="settings",
        permissions=SETTINGS,
        sorts=sorts,
        default_sort=default_sort,
        create_schema=input_schema,
        update_schema=s.patch_schema(input_schema, f"{model.__name__}Patch"),
        create=_new(model),
        update=_plain_update,
        delete=_plain_delete,
        searchable=searchable,
        description=description,
    )


categories = _settings_resource(
    "categories",
    Category,
    s.CategorySchema,
    s.CategoryFields,
    {"name": Sort(lambda: [Category.name])},
    "name",
    "Kategorier of companies and contacts.",
)
industries = _settings_resource(
    "industries",
    Industry,
    s.IndustrySchema,
    s.IndustryFields,
    {"name": Sort(lambda: [Industry.name])},
    "name",
    "Branscher.",
)
stages = _settings_resource(
    "sales-stages",
    SalesStage,
    s.SalesStageSchema,
    s.SalesStageFields,
    {"sort_order": Sort(lambda: [SalesStage.sort_order])},
    "sort_order",
    "Säljsteg, in the order of the sales process.",
    searchable=False,
)
stages.permissions = {**SETTINGS, "view": ("opportunity.view",)}


def _create_stage(session, actor, data):
    stage = _new(SalesStage)(session, actor, data)
    sales.check_stage(stage)
    return stage


def _update_stage(session, actor, stage, data):
    records.apply(session, stage, data)
    sales.check_stage(stage)
    session.flush()


def _delete_stage(session, actor, stage):
    sales.delete_stage(session, stage)
    session.flush()


stages.create, stages.update, stages.delete = _create_stage, _update_stage, _delete_stage


def _in_use_refused(rule):
    """A settings row deleted through `rule` (services.categories): one in use is refused with its count."""

    def delete(session, actor, row):
        rule(session, row)
        session.flush()

    return delete


categories.delete = _in_use_refused(category_rules.delete_category)
industries.delete = _in_use_refused(category_rules.delete_industry)

employees = Resource(
    name="employees",
    model=Employee,
    schema=s.EmployeeSchema,
    area="employee",
    description="Anställda (read only).",
    sorts={"name": Sort(lambda: [Employee.name])},
    default_sort="name",
    filters={"active": _flag_filter(Employee.active)},
)

products = Resource(
    name="products",
    model=Product,
    schema=s.ProductSchema,
    area="product",
    permissions={
        "view": ("product.view",),
        "create": ("product.manage",),
        "edit": ("product.manage",),
        "delete": ("product.manage",),
    },
    description="Produkter for order and invoice lines.",
    sorts={
        "number": Sort(lambda: [Product.number]),
        "name": Sort(lambda: [Product.name]),
        "price": Sort(lambda: [Product.price]),
    },
    default_sort="number",
    filters={"active": _flag_filter(Product.active)},
    create_schema=s.ProductInput,
    update_schema=s.patch_schema(s.ProductInput, "ProductPatch"),
    create=_new(Product),
    update=_plain_update,
    delete=_plain_delete,
)


# --- orders and invoices ----------------------------------------------------------------------

orders = Resource(
    name="orders",
    model=SalesOrder,
    schema=s.OrderSchema,
    area="order",
    description="Ordrar (read; POST creates a draft).",
    sorts={
        "order_date": Sort(lambda: [SalesOrder.order_date]),
        "number": Sort(lambda: [SalesOrder.number]),
        "total": Sort(lambda: [SalesOrder.total]),
    },
    default_sort="-order_date",
    filters=_customer_filters(SalesOrder),
    create_schema=s.DraftInput,
    create=lambda session, actor, data: _draft(session, actor, data, invoicing.new_order),
    options=lambda: (selectinload(SalesOrder.lines),),
)

invoices = Resource(
    name="invoices",
    model=Invoice,
    schema=s.InvoiceSchema,
    area="invoice",
    description="Fakturor (read; POST creates a draft: it gets its number when it is sent, in the program).",
    sorts={
        "invoice_date": Sort(lambda: [Invoice.invoice_date], nullable=True),
        "due_date": Sort(lambda: [Invoice.due_date], nullable=True),
        "number": Sort(lambda: [Invoice.number], nullable=True),
        "total": Sort(lambda: [Invoice.total]),
    },
    default_sort="-invoice_date",
    filters=_customer_filters(Invoice),
    create_schema=s.DraftInput,
    create=lambda session, actor, data: _draft(session, actor, data, invoicing.new_invoice),
    options=lambda: (selectinload(Invoice.lines),),
)


def _draft(session, actor, data, new_document):
    """A draft order or invoice for the customer named, with its lines (services.invoicing's rules)."""
    data = _by_customer_number(session, data)
    company_id, contact_id = data.get("company_id"), data.get("contact_id")
    company = session.get(Company, company_id) if company_id else None
    contact = session.get(Contact, contact_id) if contact_id else None
    errors = {}
    if company_id and (company is None or company.is_deleted):
        errors["company_id"] = [_("No record with id %(id)s.", id=company_id)]
    if contact_id and (contact is None or contact.is_deleted):
        errors["contact_id"] = [_("No record with id %(id)s.", id=contact_id)]
    if errors:
        raise records.FieldErrors(errors)
    invoicing.check_customer(company, contact)
    document = new_document(session, actor, company or contact)
    document.note = data.get("note")
    rows = []
    for n, line in enumerate(data.get("lines") or (), 1):
        product = session.get(Product, line["product_id"]) if line.get("product_id") else None
        if line.get("product_id") and product is None:
            raise records.FieldErrors(
                {f"lines.{n - 1}.product_id": [_("No record with id %(id)s.", id=line["product_id"])]}
            )
        rows.append(
            invoicing.LineInput(
                description=line.get("description"),
                quantity=line.get("quantity", "1"),
                unit=line.get("unit"),
                unit_price=line.get("unit_price"),
                discount_percent=line.get("discount_percent"),
                vat_rate=line.get("vat_rate"),
                product=product,
            )
        )
    invoicing.set_lines(document, rows)
    return document


RESOURCES = [
    companies,
    contacts,
    leads,
    activities_resource,
    opportunities,
    stages,
    categories,
    industries,
    employees,
    products,
    orders,
    invoices,
]


# --- endpoints beyond the standard ones ------------------------------------------------------------


def _company_by(condition):
    company = db.session.scalar(select(Company).where(condition, Company.deleted_at.is_(None)))
    if company is None:
        abort(404)
    return company


def extra_endpoints(blueprints: dict[str, Blueprint]) -> None:
    """Add the natural-key look-ups, the e-mail list, moving an opportunity and custom fields."""
    company_blp, contact_blp, opportunity_blp = (
        blueprints["companies"],
        blueprints["contacts"],
        blueprints["opportunities"],
    )

    @company_blp.route("/by-customer-number/<int:number>", methods=["GET"])
    @company_blp.response(200, s.CompanySchema)
    @company_blp.alt_response(404, **PROBLEM)
    @requires("company.view")
    def company_by_customer_number(number):
        """The company with this customer number."""
        return _company_by(Company.customer_number == number)

    @company_blp.route("/by-org-number/<org_number>", methods=["GET"])
    @company_blp.response(200, s.CompanySchema)
    @company_blp.alt_response(404, **PROBLEM)
    @requires("company.view")
    def company_by_org_number(org_number):
        """The company with this organisationsnummer (NNNNNN-NNNN or ten digits)."""
        return _company_by(Company.org_number == _normalised_org_number(org_number))

    @company_blp.route("/<int:id>/emails", methods=["GET"])
    @company_blp.response(200, s.EmailListSchema)
    @company_blp.alt_response(404, **PROBLEM)
    @requires("company.view", "tab.email")
    def company_emails(id):
        """The e-mail filed on the company; empty when its E-mail tab is locked and the key's employee
        may not read locked e-mail."""
        from models import EmailMessage

        company = get_live(companies, id)
        stmt = email_lock.readable_messages(current_user).where(EmailMessage.company_id == company.id)
        items = list(db.session.scalars(stmt.order_by(EmailMessage.sent_at.desc()).limit(200)))
        return {"email_locked": company.email_locked, "items": items}

    @contact_blp.route("/by-customer-number/<int:number>", methods=["GET"])
    @contact_blp.response(200, s.ContactSchema)
    @contact_blp.alt_response(404, **PROBLEM)
    @requires("contact.view")
    def contact_by_customer_number(number):
        """The private customer with this customer number."""
        contact = db.session.scalar(
            select(Contact).where(Contact.customer_number == number, Contact.deleted_at.is_(None))
        )
        if contact is None:
            abort(404)
        return contact

    @opportunity_blp.route("/<int:id>/move", methods=["POST"])
    @opportunity_blp.arguments(s.MoveStageInput)
    @opportunity_blp.response(200, s.OpportunitySchema)
    @opportunity_blp.alt_response(409, **PROBLEM)
    @opportunity_blp.alt_response(422, **PROBLEM)
    @requires("opportunity.edit")
    def move_opportunity(data, id):
        """Move the opportunity to a stage (its probability follows the stage; a lost stage needs a reason)."""
        opportunity = get_live(opportunities, id)
        if opportunity.version != data["version"]:
            return conflict(opportunities, opportunity)
        stage = db.session.get(SalesStage, data["stage_id"])
        if stage is None or not stage.active:
            return problem(422, errors={"stage_id": [_("No active sales stage with id %(id)s.", id=data["stage_id"])]})

        def move():
            sales.move_to_stage(opportunity, stage, lost_reason=data.get("lost_reason"))
            _check_opportunity(db.session, opportunity)

        try:
            result = write(move)
        except StaleDataError:
            return conflict(opportunities, opportunity)
        return result if result is not None else opportunity

    for blp, resource, kind in ((company_blp, companies, "company"), (contact_blp, contacts, "contact")):
        _custom_field_endpoints(blp, resource, kind)


def _custom_values(resource, kind, record):
    fields = custom_fields.active_fields(db.session, kind)
    stored = custom_fields.values_of(db.session, record, fields)
    return {
        "items": [
            {
                "field_id": d.id,
                "label": d.label,
                "tab": d.tab.name,
                "type": d.field_type,
                "value": _json_value(stored.get(d.id)),
            }
            for d in fields
        ]
    }


def _json_value(value):
    from datetime import date
    from decimal import Decimal

    if isinstance(value, Decimal):
        return str(custom_fields.plain_number(value))
    if isinstance(value, date):
        return value.isoformat()
    return value


def _field_id(key: str) -> int | None:
    """A custom field's id as a key of `values` names it, None for a key that is no id."""
    return int(key) if key.isascii() and key.isdigit() and 0 < int(key) < 2**31 else None


def _custom_field_endpoints(blp: Blueprint, resource: Resource, kind: str) -> None:
    area = resource.area

    @blp.route("/<int:id>/custom-fields", methods=["GET"], endpoint="custom_fields")
    @blp.response(200, s.CustomFieldValuesSchema)
    @blp.alt_response(404, **PROBLEM)
    @requires(f"{area}.view", "tab.custom")
    def get_custom_fields(id):
        """The values of the custom fields (Egna fält) of the record."""
        return _custom_values(resource, kind, get_live(resource, id))

    @blp.route("/<int:id>/custom-fields", methods=["PATCH"], endpoint="save_custom_fields")
    @blp.arguments(s.CustomFieldValuesInput)
    @blp.response(200, s.CustomFieldValuesSchema)
    @blp.alt_response(422, **PROBLEM)
    @requires(f"{area}.edit", "tab.custom")
    def save_custom_fields(data, id):
        """Set custom field values: {"values": {"<field id>": "value"}}; the other fields keep theirs."""
        record = get_live(resource, id)
        by_tab: dict = {}
        errors = {}
        wanted = {key: _field_id(key) for key in data["values"]}
        definitions = {  # one statement for all the keys
            d.id: d
            for d in db.session.scalars(
                select(CustomFieldDefinition).where(CustomFieldDefinition.id.in_({i for i in wanted.values() if i}))
            )
        }
        for key, value in data["values"].items():
            definition = definitions.get(wanted[key])
            if definition is None or not definition.active or definition.applies_to != kind:
                errors[f"values.{key}"] = [_("No custom field with id %(id)s here.", id=key)]
                continue
            by_tab.setdefault(definition.tab, {})[definition.id] = value
        if errors:
            return problem(422, errors=errors)

        def save():
            for tab, values in by_tab.items():
                posted = {f"field-{k}": v for k, v in values.items()}
                try:
                    custom_fields.save_tab(db.session, record, tab, posted, partial=True)
                except custom_fields.InvalidValues as exc:
                    raise records.FieldErrors({f"values.{k}": [m] for k, m in exc.errors.items()}) from None

        result = write(save)
        return result if result is not None else _custom_values(resource, kind, record)


def register_all(api) -> None:
    made = {}
    for resource in RESOURCES:
        made[resource.name] = blueprint(resource)
    extra_endpoints(made)
    for blp in made.values():
        api.register_blueprint(blp)


__all__ = ["RESOURCES", "register_all", "rate_limit", "rate_limit_key", "limiter"]
