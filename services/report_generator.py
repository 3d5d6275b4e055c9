"""CRM – Rapportgenerator: a report on one kind of record, with conditions,
chosen columns in a chosen order, and a sort — built as one SQL query.

FAQ 22: "Om du vill ta ut en rapport på alla dina kunder, så kan detta göras
genom att använda modulen CRM – Rapportgenerator": Företag with the condition
Kundansvarig = mig själv.

A report is described by a `Spec` (parsed from the query string or from a
saved ReportDefinition). Every kind of record names the permission needed to
see it; `query()` refuses a spec the employee may not run, so a report never
shows what the employee's list would not. "Mig själv" is stored as "me" and
means whoever runs the report.

Egna fält (FAQ 23): the active custom fields of the record kind's card are
columns too ("cf<id>"), with conditions ("cf<id>", or "cf<id>_from" and
"cf<id>_to" for numbers and dates) and a sort; services.custom_fields knows
how each type is stored, compared and shown. They are columns and conditions
only for who may see custom fields (services.visibility): for anyone else a
report leaves their columns and sort out (and says so), and refuses a
condition on them, since leaving it out would show other rows.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from dataclasses import fields as dataclass_fields
from datetime import date, datetime, time, timedelta
from functools import partial
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, joinedload, selectinload

from models import (
    COMPANY_STATUS_LABELS,
    Activity,
    Category,
    Company,
    CompanyContact,
    Contact,
    Industry,
    Lead,
    Opportunity,
    ReportDefinition,
    SalesStage,
)
from services import custom_fields, dates, fields, personal_numbers, search, visibility, word_index
from services.paging import COUNT_CAP, Count, MixedOrder, Page, SortKey
from services.sales import weighted_amount
from services.validation import InvalidValue, is_id

PAGE_SIZE = 50
ME = "me"


@dataclass(frozen=True)
class Field:
    """A column a report can show: its label, value and (when sortable) SQL sort expression.

    A custom field's column names its definition, and how its value is shown."""

    label: Any
    value: Callable[[Any], Any]
    sort: Any = None
    definition: Any = None
    display: Callable[[Any], str] | None = None
    #: Exported as shown (a phone number as Swedes write it), not as stored.
    exported_as_shown: bool = False

    def export_value(self, row) -> Any:
        value = self.value(row)
        return self.display(value) if self.exported_as_shown and self.display is not None else value


def _attr(name):
    return lambda row: getattr(row, name)


def _names(name):
    return lambda row: ", ".join(str(item) for item in getattr(row, name))


def _label(name, labels):
    return lambda row: str(labels.get(getattr(row, name), getattr(row, name) or ""))


def _phone(value) -> str:
    from services.formatting import phone

    return phone(value)


def _phone_field(label: str, name: str) -> Field:
    """A phone number's column: shown and exported as Swedes write it (08-123 456 78), not as stored (E.164)."""
    return Field(fields.label(label), _attr(name), display=_phone, exported_as_shown=True)


def _org(row):
    from services.formatting import org_number

    return org_number(row.org_number)


def _company_fields(model) -> dict[str, Field]:
    return {
        "customer_number": Field(fields.label("customer_number"), _attr("customer_number"), model.customer_number),
        "name": Field(fields.label("company_name"), _attr("name"), model.name),
        "org_number": Field(fields.label("org_number"), _org, model.org_number),
        "status": Field(fields.label("status"), _label("status", COMPANY_STATUS_LABELS), model.status),
        "industry": Field(fields.label("industry"), _attr("industry")),
        "categories": Field(fields.label("categories"), _names("categories")),
        "owner": Field(fields.label("owner"), _attr("owner")),
        "phone": _phone_field("phone", "phone"),
        "email": Field(fields.label("email"), _attr("email"), model.email),
        "website": Field(fields.label("website"), _attr("website")),
        "postal_street": Field(fields.label("postal_street"), _attr("postal_street")),
        "postal_postcode": Field(fields.label("postal_postcode"), _attr("postal_postcode"), model.postal_postcode),
        "postal_city": Field(fields.label("postal_city"), _attr("postal_city"), model.postal_city),
        "visit_city": Field(fields.label("visit_city"), _attr("visit_city"), model.visit_city),
        "is_supplier": Field(fields.label("supplier"), _attr("is_supplier")),
        "created_at": Field(fields.label("created_at"), _attr("created_at"), model.created_at),
    }


def _contact_fields() -> dict[str, Field]:
    return {
        "customer_number": Field(fields.label("customer_number"), _attr("customer_number"), Contact.customer_number),
        "first_name": Field(fields.label("first_name"), _attr("first_name"), Contact.first_name),
        # Shown in full only to who may read personnummer (Spec.fields masks it otherwise); no sort,
        # which would tell the hidden digits' order.
        personal_numbers.FIELD: Field(fields.label(personal_numbers.FIELD), _attr(personal_numbers.FIELD)),
        "last_name": Field(fields.label("last_name"), _attr("last_name"), Contact.last_name),
        "companies": Field(fields.label("companies"), _names("companies")),
        "title": Field(fields.label("title"), _attr("title"), Contact.title),
        "email": Field(fields.label("email"), _attr("email"), Contact.email),
        "phone": _phone_field("phone", "phone"),
        "mobile": _phone_field("mobile", "mobile"),
        "postal_street": Field(fields.label("postal_street"), _attr("postal_street")),
        "postal_postcode": Field(fields.label("postal_postcode"), _attr("postal_postcode"), Contact.postal_postcode),
        "postal_city": Field(fields.label("postal_city"), _attr("postal_city"), Contact.postal_city),
        "categories": Field(fields.label("categories"), _names("categories")),
        "owner": Field(fields.label("owner"), _attr("owner")),
        "created_at": Field(fields.label("created_at"), _attr("created_at"), Contact.created_at),
    }


@dataclass(frozen=True)
class Entity:
    """A kind of record the generator reports on."""

    label: Any
    model: Any
    permission: str
    fields: dict[str, Field]
    default_columns: tuple[str, ...]
    default_sort: str
    owner_column: Any
    where: Callable[[], Any] | None = None
    category_relation: Any = None
    has_industry: bool = False
    city_column: Any = None
    statuses: Callable[[Session | None], list[tuple[str, str]]] | None = None
    status_condition: Callable[[str], Any] | None = None
    loader_options: Callable[[], list] = lambda: []
    #: The card whose custom fields are columns too ("company" or "contact").
    custom_kind: str | None = None


def _company_statuses(session):
    return [(k, str(v)) for k, v in COMPANY_STATUS_LABELS.items()]


def _stages(session):
    return [
        (str(s.id), s.name) for s in session.scalars(select(SalesStage).order_by(SalesStage.sort_order, SalesStage.id))
    ]


def _activity_states(session):
    return [("open", _("Not done")), ("done", _("Done"))]


def _company_entity(label, supplier: bool) -> Entity:
    return Entity(
        label,
        Company,
        "company.view",
        _company_fields(Company),
        ("customer_number", "name", "org_number", "postal_city", "phone", "email", "owner"),
        "name",
        Company.owner_id,
        where=(lambda: Company.is_supplier.is_(True)) if supplier else None,
        category_relation=Company.categories,
        has_industry=True,
        city_column=Company.postal_city,
        statuses=_company_statuses,
        status_condition=lambda value: Company.status == value,
        loader_options=lambda: [
            joinedload(Company.owner),
            joinedload(Company.industry),
            selectinload(Company.categories),
        ],
        custom_kind="company",
    )


def _contact_options():
    return [
        joinedload(Contact.owner),
        selectinload(Contact.categories),
        selectinload(Contact.company_links).joinedload(CompanyContact.company),
    ]


ENTITIES: dict[str, Entity] = {
    "company": _company_entity(_l("Companies"), supplier=False),
    "contact": Entity(
        _l("Contacts"),
        Contact,
        "contact.view",
        _contact_fields(),
        ("last_name", "first_name", "companies", "title", "phone", "email"),
        "last_name",
        Contact.owner_id,
        category_relation=Contact.categories,
        city_column=Contact.postal_city,
        loader_options=_contact_options,
        custom_kind="contact",
    ),
    "privatecustomer": Entity(
        _l("Private customers"),
        Contact,
        "contact.view",
        _contact_fields(),
        ("customer_number", "last_name", "first_name", "phone", "email", "postal_city"),
        "customer_number",
        Contact.owner_id,
        where=lambda: Contact.customer_number.is_not(None),
        category_relation=Contact.categories,
        city_column=Contact.postal_city,
        loader_options=_contact_options,
        custom_kind="contact",
    ),
    "supplier": _company_entity(_l("Suppliers"), supplier=True),
    "lead": Entity(
        _l("Leads"),
        Lead,
        "lead.view",
        {
            "company_name": Field(fields.label("company_name"), _attr("company_name"), Lead.company_name),
            "org_number": Field(fields.label("org_number"), _org, Lead.org_number),
            "contact_name": Field(fields.label("contact_name"), _attr("contact_name"), Lead.contact_last_name),
            "contact_title": Field(fields.label("title"), _attr("contact_title")),
            "contact_phone": _phone_field("phone", "contact_phone"),
            "contact_email": Field(fields.label("email"), _attr("contact_email"), Lead.contact_email),
            "source": Field(fields.label("source"), _attr("source"), Lead.source),
            "status": Field(fields.label("status"), _label("status", Lead.STATUSES), Lead.status),
            "categories": Field(fields.label("categories"), _names("categories")),
            "owner": Field(fields.label("owner"), _attr("owner")),
            "created_at": Field(fields.label("created_at"), _attr("created_at"), Lead.created_at),
        },
        ("company_name", "contact_name", "contact_phone", "contact_email", "status", "owner"),
        "company_name",
        Lead.owner_id,
        category_relation=Lead.categories,
        statuses=lambda session: [(k, str(v)) for k, v in Lead.STATUSES.items()],
        status_condition=lambda value: Lead.status == value,
        loader_options=lambda: [joinedload(Lead.owner), selectinload(Lead.categories)],
    ),
    "opportunity": Entity(
        _l("Sales opportunities"),
        Opportunity,
        "opportunity.view",
        {
            "title": Field(fields.label("title"), _attr("title"), Opportunity.title),
            "customer": Field(fields.label("customer"), lambda o: o.customer.name if o.customer else None),
            "stage": Field(fields.label("stage"), _attr("stage")),
            "amount": Field(fields.label("amount"), _attr("amount"), Opportunity.amount),
            "probability": Field(fields.label("probability"), _attr("probability"), Opportunity.probability),
            "weighted": Field(fields.label("weighted"), weighted_amount),
            "close_date": Field(fields.label("close_date"), _attr("close_date"), Opportunity.close_date),
            "owner": Field(fields.label("owner"), _attr("owner")),
            "kind": Field(fields.label("kind"), _label("kind", Opportunity.KINDS)),
            "source": Field(fields.label("source"), _attr("source"), Opportunity.source),
            "created_at": Field(fields.label("created_at"), _attr("created_at"), Opportunity.created_at),
        },
        ("title", "customer", "stage", "amount", "probability", "close_date", "owner"),
        "close_date",
        Opportunity.owner_id,
        where=lambda: search.customer_live(Opportunity),
        statuses=_stages,
        status_condition=lambda value: Opportunity.stage_id == int(value),
        loader_options=lambda: [
            joinedload(Opportunity.company),
            joinedload(Opportunity.contact),
            joinedload(Opportunity.owner),
            joinedload(Opportunity.stage),
        ],
    ),
    "activity": Entity(
        _l("Activities"),
        Activity,
        visibility.permission(visibility.Part.ACTIVITIES),
        {
            "kind": Field(fields.label("kind"), _label("kind", Activity.KINDS), Activity.kind),
            "subject": Field(fields.label("subject"), _attr("subject"), Activity.subject),
            "customer": Field(
                fields.label("customer"), lambda a: (a.company or a.contact).name if (a.company or a.contact) else None
            ),
            "assignee": Field(fields.label("assignee"), _attr("assignee")),
            "due_at": Field(fields.label("due_at"), _attr("due_at"), Activity.due_at),
            "start_at": Field(fields.label("start_at"), _attr("start_at"), Activity.start_at),
            "done": Field(fields.label("done"), _attr("done"), Activity.done),
            "created_at": Field(fields.label("created_at"), _attr("created_at"), Activity.created_at),
        },
        ("kind", "subject", "customer", "assignee", "due_at", "done"),
        "due_at",
        Activity.assignee_id,
        where=lambda: search.customer_live(Activity),
        statuses=_activity_states,
        status_condition=lambda value: Activity.done.is_(value == "done"),
        loader_options=lambda: [
            joinedload(Activity.company),
            joinedload(Activity.contact),
            joinedload(Activity.assignee),
        ],
    ),
}


# --- the specification of a report -------------------------------------------------------------


@dataclass
class Spec:
    """What to report on, which rows, which columns in which order, and the sort."""

    entity: str = "company"
    owner: str = ""  # "", "me" or an employee id
    category: int | None = None
    industry: int | None = None
    city: str = ""
    created_from: date | None = None
    created_to: date | None = None
    status: str = ""
    text: str = ""
    columns: list[str] = field(default_factory=list)
    sort: str = ""
    desc: bool = False
    #: Conditions on custom fields, as typed: "cf<id>" (or "cf<id>_from"/"cf<id>_to") → text.
    custom: dict[str, str] = field(default_factory=dict)
    #: The custom fields' columns (not saved: read from the definitions when the spec is parsed).
    extra_fields: dict[str, Field] = field(default_factory=dict, repr=False, metadata={"saved": False})
    #: Columns (and the sort) on custom fields left out: the employee may not see custom fields.
    left_out: int = field(default=0, metadata={"saved": False})
    #: Whether the employee running the report may read personnummer in full (else masked).
    reveal_personal_numbers: bool = field(default=False, metadata={"saved": False})

    @property
    def kind(self) -> Entity:
        return ENTITIES[self.entity]

    @property
    def fields(self) -> dict[str, Field]:
        """Every column the report can show: the kind's own, then its custom fields; a personnummer
        as the employee running the report may read it."""
        fields = {**self.kind.fields, **self.extra_fields}
        own = fields.get(personal_numbers.FIELD)
        if own is not None and not self.reveal_personal_numbers:
            fields[personal_numbers.FIELD] = Field(
                own.label, lambda row: personal_numbers.masked(getattr(row, personal_numbers.FIELD))
            )
        return fields

    def to_json(self) -> dict:
        data = {f.name: getattr(self, f.name) for f in dataclass_fields(self) if f.metadata.get("saved", True)}
        for key in ("created_from", "created_to"):
            data[key] = data[key].isoformat() if data[key] else None
        data["columns"], data["custom"] = list(self.columns), dict(self.custom)
        return data

    def to_args(self) -> dict:
        """The spec as query-string arguments (for links, export and rerunning)."""
        data = self.to_json()
        custom = data.pop("custom")
        args = {k: v for k, v in data.items() if v not in (None, "", False, [])}
        if "columns" in args:
            args["col"] = args.pop("columns")
        if self.desc:
            args["desc"] = "1"
        return {**args, **custom}


class NotPermitted(Exception):
    """The employee may not see the records (or the fields) the report is about."""


def _date(value: str | None, label) -> date | None:
    try:
        return dates.parse_date(value)
    except InvalidValue as exc:
        raise InvalidValue(_("%(field)s: %(error)s", field=label, error=str(exc))) from None


def _int(value: str | None) -> int | None:
    return int(value) if value and is_id(value) else None


def custom_columns(session: Session | None, entity: str, employee=None) -> dict[str, Field]:
    """The columns of the active custom fields of the entity's card ({} without a session, and for an
    `employee` who may not see custom fields)."""
    kind = ENTITIES.get(entity)
    if session is None or kind is None or kind.custom_kind is None:
        return {}
    if employee is not None and not visibility.may_see(employee, visibility.Part.CUSTOM):
        return {}
    return {
        f"cf{d.id}": Field(
            d.label,
            custom_fields.report_value(d),
            custom_fields.sort_expression(d, kind.model),
            definition=d,
            display=partial(custom_fields.display, d),
        )
        for d in custom_fields.active_fields(session, kind.custom_kind)
    }


def all_columns(session: Session | None, entity: str, employee=None) -> dict[str, Field]:
    kind = ENTITIES.get(entity)
    return {**kind.fields, **custom_columns(session, entity, employee)} if kind else {}


def _custom_conditions(args: Mapping, columns: dict[str, Field]) -> dict[str, str]:
    """The conditions on custom fields that are in use; a value that cannot be compared is refused."""
    nested = args.get("custom")
    source = nested if isinstance(nested, Mapping) else args
    conditions = {}
    for key, value in source.items():
        match = custom_fields.REPORT_ARG.fullmatch(str(key))
        text = str(value or "").strip()
        column = columns.get(f"cf{match[1]}") if match else None
        if column is None or not text:
            continue  # not a custom condition, left empty, or a field no longer in use
        try:
            custom_fields.parse_value(column.definition, text, current=text)
        except InvalidValue as exc:
            raise InvalidValue(f"{column.label}: {exc}") from None
        conditions[key] = text
    return conditions


def _has_conditions_on(args: Mapping, columns: dict[str, Field]) -> bool:
    """True when `args` hold a condition (not left empty) on one of the custom field `columns`."""
    nested = args.get("custom")
    source = nested if isinstance(nested, Mapping) else args
    for key, value in source.items():
        match = custom_fields.REPORT_ARG.fullmatch(str(key))
        if match and f"cf{match[1]}" in columns and str(value or "").strip():
            return True
    return False


def parse(
    args: Mapping,
    getlist: Callable[[str], list[str]] | None = None,
    session: Session | None = None,
    employee=None,
) -> Spec:
    """A Spec from query-string arguments (or a saved definition's JSON);
    InvalidValue with a Swedish message for input that cannot be used.
    With a session, the entity's custom fields are columns and conditions too — for an `employee`
    who may not see them, their columns and sort are left out (counted in `left_out`) and a
    condition on one raises NotPermitted with a Swedish message."""
    entity = args.get("entity") or "company"
    if entity not in ENTITIES:
        raise InvalidValue(_("Choose what to report on."))
    kind = ENTITIES[entity]
    custom = custom_columns(session, entity)
    may_see_custom = employee is None or visibility.may_see(employee, visibility.Part.CUSTOM)
    hidden = {} if may_see_custom else custom
    if hidden and _has_conditions_on(args, hidden):
        raise NotPermitted(_("The report has conditions on custom fields, which you do not have permission to see."))
    custom = {k: v for k, v in custom.items() if k not in hidden}
    known = {**kind.fields, **custom}
    columns = getlist("col") if getlist else list(args.get("columns") or args.get("col") or [])
    left_out = [c for c in columns if c in hidden] + ([args.get("sort")] if args.get("sort") in hidden else [])
    columns = [c for c in columns if c not in hidden]
    unknown = [c for c in columns if c not in known]
    if unknown:
        raise InvalidValue(_("Unknown column: %(name)s.", name=", ".join(unknown)))
    sort = args.get("sort")
    owner = str(args.get("owner") or "")
    if owner not in ("", ME) and not is_id(owner):
        raise InvalidValue(_("Choose the customer owner from the list."))
    spec = Spec(
        entity=entity,
        owner=owner,
        category=_int(args.get("category")),
        industry=_int(args.get("industry")),
        city=(args.get("city") or "").strip(),
        created_from=_date(args.get("created_from"), _("Created from")),
        created_to=_date(args.get("created_to"), _("Created to")),
        status=str(args.get("status") or ""),
        text=(args.get("text") or "").strip(),
        columns=list(dict.fromkeys(columns)) or list(kind.default_columns),
        sort=sort if isinstance(sort, str) and sort in known and known[sort].sort is not None else kind.default_sort,
        desc=str(args.get("desc") or "") in ("1", "true", "True", "on"),
        custom=_custom_conditions(args, custom),
        extra_fields=custom,
        left_out=len(set(left_out)),
        reveal_personal_numbers=personal_numbers.reveal(employee),
    )
    if session is not None:
        _check_named_rows_exist(session, spec)
    if spec.created_from and spec.created_to and spec.created_from > spec.created_to:
        raise InvalidValue(_("The period ends before it starts."))
    statuses = kind.statuses
    if spec.status and statuses is None:
        spec.status = ""
    if spec.status and entity == "opportunity" and not is_id(spec.status):
        raise InvalidValue(_("Choose the stage from the list."))
    # the statuses of the other entities are fixed lists (only the stages are rows)
    if spec.status and statuses and entity != "opportunity" and spec.status not in dict(statuses(None)):
        raise InvalidValue(_("Choose the status from the list."))
    return spec


# --- running a report ------------------------------------------------------------------------------


def _check_named_rows_exist(session: Session, spec: Spec) -> None:
    """A condition naming a category, an industry or a sales stage that has since been deleted (a saved
    report, an old link) is said, not run as a report of nothing (the list showed «Alla» and 0 rows)."""
    if spec.category and session.get(Category, spec.category) is None:
        raise InvalidValue(
            _("The category the report is limited to no longer exists (it was deleted): choose another.")
        )
    if spec.industry and session.get(Industry, spec.industry) is None:
        raise InvalidValue(
            _("The industry the report is limited to no longer exists (it was deleted): choose another.")
        )
    if spec.entity == "opportunity" and is_id(spec.status) and session.get(SalesStage, int(spec.status)) is None:
        raise InvalidValue(
            _("The sales stage the report is limited to no longer exists (it was deleted): choose another.")
        )


def may_run(employee, spec: Spec) -> bool:
    """The employee may see the records, and their custom fields if the report shows, sorts or filters on them."""
    uses_custom_fields = bool(spec.custom) or any(key in spec.extra_fields for key in (*spec.columns, spec.sort))
    return (
        employee.has_permission("report.view")
        and employee.has_permission(spec.kind.permission)
        and (not uses_custom_fields or visibility.may_see(employee, visibility.Part.CUSTOM))
    )


def query(spec: Spec, employee, session: Session | None = None):
    """The SELECT of the report's rows, conditions and sort applied (no paging). With `session`, a
    text condition is the matching ids when there are few (`search.sorted_condition`, read once),
    else a condition answered from the index in the statement."""
    if not may_run(employee, spec):
        raise NotPermitted(spec.entity)
    kind, model = spec.kind, spec.kind.model
    stmt = select(model).where(search.live(model))
    if kind.where is not None:
        stmt = stmt.where(kind.where())
    if model is Activity:  # a lead's or an opportunity's activities only for who may see leads or opportunities
        for permission, column in (("lead.view", Activity.lead_id), ("opportunity.view", Activity.opportunity_id)):
            if not employee.has_permission(permission):
                stmt = stmt.where(column.is_(None))
    if spec.owner == ME:
        stmt = stmt.where(kind.owner_column == employee.id)
    elif spec.owner:
        stmt = stmt.where(kind.owner_column == int(spec.owner))
    if spec.category and kind.category_relation is not None:
        stmt = stmt.where(kind.category_relation.any(Category.id == spec.category))
    if spec.industry and kind.has_industry:
        stmt = stmt.where(model.industry_id == spec.industry)
    if spec.city and kind.city_column is not None:
        stmt = stmt.where(func.lower(kind.city_column) == spec.city.lower())
    if spec.created_from:
        stmt = stmt.where(model.created_at >= datetime.combine(spec.created_from, time.min))
    if spec.created_to:
        stmt = stmt.where(model.created_at < datetime.combine(spec.created_to + timedelta(days=1), time.min))
    if spec.status and kind.status_condition is not None:
        stmt = stmt.where(kind.status_condition(spec.status))
    if spec.text:
        found = personal_numbers.search_condition(model, spec.text, employee)
        if found is None and session is not None:
            found = search.sorted_condition(session, model, spec.text)
        stmt = stmt.where(found if found is not None else search.matches(model, spec.text))
    for key, text in spec.custom.items():
        match = custom_fields.REPORT_ARG.fullmatch(key)
        if match is None:  # _custom_conditions kept only keys of this form
            continue
        stmt = stmt.where(custom_fields.condition(spec.fields[f"cf{match[1]}"].definition, model, match[2], text))
    options = kind.loader_options()
    if any(key in spec.extra_fields for key in spec.columns):
        options.append(selectinload(model.custom_values))
    return stmt.options(*options).order_by(*order(spec).clauses())


def order(spec: Spec) -> MixedOrder:
    """The report's order: the chosen column (empty values last, either way), then the id; the
    screen reads it a page at a time by key (services.paging)."""
    sort = spec.fields[spec.sort].sort
    return MixedOrder(
        SortKey(sort.is_(None)), SortKey(sort, descending=spec.desc, nullable=True), SortKey(spec.kind.model.id)
    )


def page(session: Session, spec: Spec, employee, **position) -> tuple[Count, Page]:
    """(row count, capped at paging.COUNT_CAP; one page of rows) for the screen; `position` is
    paging's after=/before=/last= (raises paging.InvalidCursor for a token not of this report)."""
    stmt = query(spec, employee, session)
    # The report is sorted after its rows are found (no index serves its order), so a page's keys are
    # found first from narrow rows; a text condition that matches few rows has them all found first,
    # so the first page counts them as it goes. Sorted by name, the words index may give them in order.
    sorted_by = order(spec)
    by_words = word_index.ordered(sorted_by, stmt) if spec.text else None
    few = by_words is not None or (bool(spec.text) and search.few_matches(session, spec.kind.model, spec.text))
    rows = (by_words or sorted_by).page(session, stmt, per_page=PAGE_SIZE, total=few, narrow=True, **position)
    if rows.total is not None:
        return (Count(rows.total) if rows.total <= COUNT_CAP else Count(COUNT_CAP, exact=False)), rows
    if by_words is not None:
        return by_words.count(session), rows
    count = search.live_count(session, spec.kind.model, stmt)
    if rows.whole and not count.exact:  # an estimate's error: every row is on this page
        count = Count(len(rows.items))
    return count, rows


def columns(spec: Spec):
    """The export columns of the report (services.export), in the chosen order."""
    from services.export import Column

    return [Column(key, str(spec.fields[key].label), getter=spec.fields[key].export_value) for key in spec.columns]


# --- saved definitions -----------------------------------------------------------------------------


def visible_definitions(session: Session, employee) -> list[ReportDefinition]:
    """The employee's own saved reports and those others share, whose records the employee may see."""
    rows = session.scalars(
        select(ReportDefinition)
        .where(or_(ReportDefinition.owner_id == employee.id, ReportDefinition.shared.is_(True)))
        .options(joinedload(ReportDefinition.owner))
        .order_by(func.lower(ReportDefinition.name))
    ).all()
    visible = [d for d in rows if d.entity in ENTITIES and employee.has_permission(ENTITIES[d.entity].permission)]
    for d in visible:
        d.entity_label = str(ENTITIES[d.entity].label)
    return visible


def save(session: Session, employee, name: str, spec: Spec, *, shared: bool) -> tuple[ReportDefinition, bool]:
    """Save the spec under `name` (the employee's report of that name is replaced).
    Sharing it with every colleague needs `saved.share`. Returns (definition, created)."""
    if shared and not employee.has_permission("saved.share"):
        raise NotPermitted("saved.share")
    name = (name or "").strip()
    if not name:
        raise InvalidValue(_("Give the report a name."))
    if len(name) > 200:
        raise InvalidValue(_("The name can be at most 200 characters."))
    existing = session.scalar(
        select(ReportDefinition).where(ReportDefinition.owner_id == employee.id, ReportDefinition.name == name)
    )
    definition = existing or ReportDefinition(name=name, owner_id=employee.id)
    created = existing is None
    if created:
        session.add(definition)
    definition.entity, definition.definition, definition.shared = spec.entity, spec.to_json(), shared
    return definition, created


def load(definition: ReportDefinition, session: Session | None = None, employee=None) -> Spec:
    """The Spec of a saved report (columns no longer known, e.g. of a deactivated custom field, are
    dropped), as `employee` may run it (see parse)."""
    data = dict(definition.definition or {})
    data["entity"] = definition.entity
    known = all_columns(session, definition.entity)
    if known:
        data["columns"] = [c for c in data.get("columns") or [] if c in known]
    return parse(data, session=session, employee=employee)


def readable(employee, definition: ReportDefinition) -> bool:
    return definition.owner_id == employee.id or definition.shared


def delete(session: Session, employee, definition: ReportDefinition) -> None:
    """Only the owner deletes a saved report."""
    if definition.owner_id != employee.id:
        raise NotPermitted(definition.name)
    session.delete(definition)
