"""Secure, Swedish Flask-Admin building blocks shared by every view.

Permissions are checked on the server for every request in `_handle_view`:
each exposed endpoint maps to a verb of the view's `permission_area`
(`company.view`, `company.edit` …), custom endpoints declare theirs with
`@require`, and an endpoint that declares nothing is refused (secure by
default). `can_create/can_edit/can_delete/can_export` are computed per
request from the same map.
"""

from collections.abc import Callable, Iterable, Mapping
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, NamedTuple

from flask import abort, current_app, flash, g, redirect, request, url_for
from flask_admin import AdminIndexView, BaseView, expose
from flask_admin.actions import action
from flask_admin.contrib.sqla import ModelView
from flask_admin.contrib.sqla.ajax import QueryAjaxModelLoader
from flask_admin.contrib.sqla.fields import QuerySelectField, QuerySelectMultipleField
from flask_admin.contrib.sqla.form import AdminModelConverter
from flask_admin.form import rules
from flask_admin.form.widgets import DatePickerWidget
from flask_admin.model.fields import AjaxSelectField, AjaxSelectMultipleField
from flask_admin.model.form import converts
from flask_admin.model.widgets import XEditableWidget
from flask_babel import get_locale, ngettext, to_user_timezone, to_utc
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from markupsafe import Markup
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError
from wtforms import DateTimeLocalField, DecimalField, Field, HiddenField, ValidationError
from wtforms.validators import StopValidation
from wtforms.widgets import TextInput

from admin_views import downloads, flask_admin_adapter, params, redirects
from admin_views.columns import ColumnChoiceMixin
from admin_views.listing import KeysetListMixin
from extensions import db
from models import Activity, Employee
from models import utcnow as models_utcnow
from services import dates, employees, formatting, money, paging, privacy, search, trash, validation, visibility
from services import export as exporting
from services.permissions import LOGGED_IN  # re-exported for the views
from services.validation import InvalidValue, is_id

#: Flask-Admin's own endpoints and the verb each needs.
MODEL_ENDPOINT_VERBS = {
    "index_view": "view",
    "details_view": "view",
    "ajax_lookup": "view",
    "action_view": "view",  # each action checks its own permission as well
    "create_view": "create",
    "edit_view": "edit",
    "ajax_update": "edit",
    "delete_view": "delete",
    "export": "export",
    "choose_columns": "view",  # the employee's own columns of a list they may see
}


def require(*permissions: str):
    """Declare the permissions a custom exposed endpoint needs (all of them).

    "{area}" stands for the view's permission_area, so a mixin serves several
    views; another "{name}" for the endpoint's URL value `name` (e.g. "{kind}.edit" with
    /merge/<kind>), the view's `url_values` saying which values are valid; LOGGED_IN lets in any
    logged-in employee.
    """

    def mark(fn):
        fn._permission = permissions
        return fn

    return mark


def permitted_action(name, text, permission, confirmation=None):
    """A Flask-Admin list action that also needs `permission`."""

    def wrap(fn):
        fn = action(name, text, confirmation)(fn)
        fn._permission = permission
        return fn

    return wrap


def can(*permissions: str) -> bool:
    """True when the logged-in employee has every one of `permissions`."""
    return (
        current_user.is_authenticated
        and bool(permissions)
        and all(p == LOGGED_IN or current_user.has_permission(p) for p in permissions)
    )


def sees(part: str) -> bool:
    """True when the logged-in employee may see `part` of customers (services.visibility); for templates."""
    return current_user.is_authenticated and visibility.may_see(current_user, visibility.Part(part))


def read_only_reason(record) -> str | None:
    """Why `record` offers no changes: an erased person's contact or lead (services.privacy), None for
    any other; for templates (asked once a request per record)."""
    memo = g.setdefault("read_only_reasons", {})
    key = (type(record).__name__, record.id)
    if key not in memo:
        memo[key] = str(privacy.ERASED_READ_ONLY) if privacy.is_erased(db.session, record) else None
    return memo[key]


def may(endpoint: str, **values) -> bool:
    """True when the logged-in employee may use `endpoint` ("view.method", or ".method" on the
    current view) with the URL `values` (those its declared permissions name, e.g. kind="lead"):
    the permissions that endpoint declares and the server checks, asked from templates so a link
    is shown exactly when following it is allowed."""
    view_endpoint, _, method = endpoint.rpartition(".")
    view = find_view(view_endpoint or request.blueprint or "")
    permissions = view.permission_for(method, values) if isinstance(view, PermissionMixin) else None
    return bool(permissions) and can(*permissions)


def find_view(endpoint: str):
    """The registered admin view with this endpoint, or None."""
    views = flask_admin_adapter.registered_views(current_app.extensions["admin"][0])
    return next((v for v in views if v.endpoint == endpoint), None)


def login_redirect():
    target = request.full_path if request.query_string else request.path
    return redirect(url_for("auth.login", next=target))


class PermissionMixin:
    """Server-side permission check for every endpoint of a view."""

    permission_area: str | None = None
    endpoint_verbs: dict[str, str] = {}

    #: The values a URL value named in a declared permission may take ({"kind": (...)}); others: refused.
    url_values: dict[str, tuple[str, ...]] = {}

    def permission_for(self, endpoint_name: str, values: Mapping[str, Any] | None = None) -> tuple[str, ...] | None:
        """The permissions an endpoint needs with the URL `values`, or None when it declares none or
        names a URL value not given or not valid (refused)."""
        fn = getattr(type(self), endpoint_name, None)
        declared = getattr(fn, "_permission", None)
        if declared:
            if isinstance(declared, str):
                declared = (declared,)
            given = {k: str(v) for k, v in (values or {}).items() if str(v) in self.url_values.get(k, ())}
            try:
                return tuple(p.format(**given, area=self.permission_area) for p in declared)
            except KeyError:
                return None
        verb = self.endpoint_verbs.get(endpoint_name)
        return (f"{self.permission_area}.{verb}",) if verb and self.permission_area else None

    def is_accessible(self) -> bool:
        return can(*(self.permission_for("index") or self.permission_for("index_view") or ()))

    def _handle_view(self, name, **kwargs):
        if not current_user.is_authenticated:
            return login_redirect()
        permissions = self.permission_for(name, kwargs)
        if not permissions or not can(*permissions):
            abort(403)
        return None


def check_flask_admin_parameters() -> None:
    """Flask-Admin's own numbers, parsed by admin_views.params before Flask-Admin reads them:
    list page, page size, sort column and direction, look-up offset and limit (400 when bad);
    the record id of a form or a list action (404 when it is no id)."""
    for name, minimum in (("page", 0), ("page_size", 0), ("sort", 0), ("desc", 0), ("offset", 0), ("limit", 1)):
        params.int_param(name, minimum=minimum)
    params.id_param("id")
    if request.method == "POST":
        params.id_param("id", request.form)
        params.id_param("list_form_pk", request.form)
        params.id_list_param("rowid", request.form)
    redirects.check_return_url("url")


class SecureIndexView(PermissionMixin, AdminIndexView):
    """Start page: any logged-in employee."""

    def is_visible(self) -> bool:
        return True

    @expose("/")
    @require(LOGGED_IN)
    def index(self):
        from services import activities

        return self.render(
            "admin/start.html",
            # an employee who may not see customers' activities does not see them here either
            my_activities=activities.mine(db.session, current_user)
            if visibility.may_see(current_user, visibility.Part.ACTIVITIES)
            else None,
            now=models_utcnow(),
            kinds=Activity.KINDS,
        )

    def key_figures(self):
        """(label, figure, url) for the registers this employee may see: each count reads at most
        10,001 rows, and on PostgreSQL none when the statistics put it far above that
        (services.paging.quick_count, table_count), on SQLite from an index alone when the trash
        cannot bring it under (services.search.live_count), so the start page costs the same at any size."""
        from admin_views.listing import figure_text
        from models import Company, Contact

        figures = []
        live_companies = db.select(Company.id).where(search.live(Company))
        live_contacts = db.select(Contact.id).where(search.live(Contact))
        private_customers = live_contacts.where(Contact.customer_number.is_not(None))

        def companies(condition):
            return figure_text(search.live_count(db.session, Company, live_companies.where(condition)))

        if can("company.view"):
            figures.append(
                (
                    _("Companies"),
                    figure_text(paging.table_count(db.session, live_companies, "company")),
                    url_for("company.index_view"),
                )
            )
            figures.append(
                (
                    _("Suppliers"),
                    companies(Company.is_supplier.is_(True)),
                    url_for("supplier.index_view"),
                )
            )
            figures.append(
                (
                    _("My customers"),
                    companies(Company.owner_id == current_user.id),
                    # flt0_0: CompanyView's first filter, Kundansvarig
                    url_for("company.index_view", flt0_0=current_user.id),
                )
            )
        if can("contact.view"):
            figures.append(
                (
                    _("Contacts"),
                    figure_text(paging.table_count(db.session, live_contacts, "contact")),
                    url_for("contact.index_view"),
                )
            )
            figures.append(
                (
                    _("Private customers"),
                    figure_text(search.live_count(db.session, Contact, private_customers)),
                    url_for("privatecustomer.index_view"),
                )
            )
        return figures


def stale_message() -> str:
    """What a form saved over someone else's newer change is told (nothing was saved)."""
    return _(
        "Someone else has saved changes to this record while you were editing it. "
        "Your changes have not been saved: open the record again to see the latest "
        "version, then make your changes again."
    )


def payment_terms(form, field) -> None:
    """WTForms validator: services.validation's rule for payment terms (0–365 days), on every form
    that sets them (company, private customer, the card's Inställningar, the invoice)."""
    if field.data is None:
        return  # empty: InputRequired says so where it is required
    try:
        validation.payment_terms(field.data)
    except InvalidValue as exc:
        raise ValidationError(str(exc)) from None


def live_or_404(model, id: int):
    """The live row of `model` with this id, or a 404 page (also for rows in the trash)."""
    row = db.session.get(model, id)
    if row is None or row.is_deleted:
        abort(404)
    return row


class SecurePage(PermissionMixin, BaseView):
    """A custom page; every exposed method carries `@require`."""


class VersionField(HiddenField):
    """The version the user started editing from; never written to the model."""

    def populate_obj(self, obj, name):
        pass


class LocalDateTimeField(DateTimeLocalField):
    """Date and time as the employee types and reads it (Europe/Stockholm), stored in UTC."""

    def __init__(self, label=None, validators=None, **kwargs):
        super().__init__(label, validators, format="%Y-%m-%dT%H:%M", **kwargs)

    def process_formdata(self, valuelist):
        super().process_formdata(valuelist)
        if self.data is not None:
            self.data = to_utc(self.data)

    def _value(self):
        if self.raw_data:
            return " ".join(self.raw_data)
        return to_user_timezone(self.data).strftime(self.format[0]) if self.data else ""


def number_text(value, places: int | None = None) -> str:
    """A number as a form shows it for editing, in the user's language (formatting.decimal_input)."""
    return formatting.decimal_input(value, places, str(get_locale() or "sv"))


class SwedishDecimalField(DecimalField):
    """A decimal number as Swedes read and type it: shown `1 250,50`; typed with a comma or a dot,
    spaces between the thousands (services.money.parse, the one rule for typed numbers), rounded
    half up to `places`. Anything else, NaN and Infinity too, is refused with a Swedish message."""

    widget = TextInput()  # not type="number": browsers refuse a decimal comma there

    def __init__(self, label=None, validators=None, places=None, **kwargs):
        kwargs.setdefault("render_kw", {}).setdefault("inputmode", "decimal")
        super().__init__(label, validators, places=places, rounding=ROUND_HALF_UP, **kwargs)

    def process_formdata(self, valuelist):
        self.data = None
        if valuelist and valuelist[0].strip():
            try:
                value = money.parse(valuelist[0])
            except (ValueError, TypeError):
                raise ValueError(_("Not a number; write for example 12,5.")) from None
            self.data = value if self.places is None else value.quantize(Decimal(1).scaleb(-self.places), self.rounding)

    def pre_validate(self, form):
        if self.process_errors:  # not a number: that message alone, not the range's as well
            raise StopValidation()

    def _value(self):
        if self.raw_data is not None:
            return self.raw_data[0] if self.raw_data else ""
        return number_text(self.data, self.places)


class SwedishDateField(Field):
    """A date as Swedes type it (services.dates: 2026-12-05, 20261205, 5/12, idag), shown as ISO
    YYYY-MM-DD, with the date picker (static/js/dates.js: Swedish names, weeks from Monday)."""

    widget = DatePickerWidget()

    def __init__(self, label=None, validators=None, **kwargs):
        kwargs.setdefault("render_kw", {}).setdefault("autocomplete", "off")
        super().__init__(label, validators, **kwargs)

    def process_formdata(self, valuelist):
        self.data = None
        if valuelist:
            try:
                self.data = dates.parse_date(valuelist[0])
            except InvalidValue as exc:
                raise ValueError(str(exc)) from None

    def pre_validate(self, form):
        if self.process_errors:
            raise StopValidation()

    def _value(self):
        if self.raw_data:
            return self.raw_data[0]
        return self.data.isoformat() if self.data else ""


class Picked(NamedTuple):
    """What a picker's posted values name (`pick`)."""

    rows: list
    #: Why they cannot be saved (a Swedish message), or None.
    refusal: str | None


def pick(values: Iterable, find: Callable[[list[int]], Mapping[int, Any]], *, check=None, kept=()) -> Picked:
    """The one rule for the values a picker posts, whether it picks one record (Kundansvarig) or several
    (categories, contacts): every value must be an id naming a record the picker offers — `find(ids)` gives
    {id: record} of those it does — or the save is refused, never a value silently dropped; and a record
    `check` refuses (services.employees.check_chosen: an inactive employee) is refused with its reason,
    unless the record already has it (`kept`: kept unchanged)."""
    posted = list(dict.fromkeys(str(v).strip() for v in values if v is not None and str(v).strip()))
    found = find([int(v) for v in posted if is_id(v)]) if any(is_id(v) for v in posted) else {}
    rows = [found[int(v)] for v in posted if is_id(v) and int(v) in found]
    unknown = [v[:20] for v in posted if not is_id(v) or int(v) not in found]
    if unknown:
        return Picked(rows, _("No record with id %(id)s.", id=", ".join(unknown)))
    reasons = []
    for row in rows if check is not None else ():
        try:
            check(row, kept=kept)
        except InvalidValue as exc:
            reasons.append(str(exc))
    return Picked(rows, " ".join(reasons) or None)


def _loader_finds(loader) -> Callable[[list[int]], dict[int, Any]]:
    """`pick`'s `find` for an AJAX look-up: the records with these ids (their look-up's `get_one`)."""

    def find(ids: list[int]) -> dict[int, Any]:
        rows = {i: loader.get_one(i) for i in ids}
        return {i: row for i, row in rows.items() if row is not None}

    return find


def _kept(object_data) -> list:
    """The records a field's record has now (its object data: one, several or none)."""
    if object_data is None:
        return []
    return list(object_data) if isinstance(object_data, (list, tuple, set)) else [object_data]


class RefusedPick:
    """A picker field that refuses what `pick` refused (`refusal`), next to the field."""

    refusal: str | None = None

    def pre_validate(self, form):
        if self.refusal is not None:
            raise ValidationError(self.refusal)
        super().pre_validate(form)  # the field class it is mixed into


class CheckedAjaxSelectField(RefusedPick, AjaxSelectField):
    """A record chosen with an AJAX look-up (form_ajax_refs). Flask-Admin took an id naming no record
    (a deleted one, `owner=99999`, `owner=abc`) as nothing chosen, so an opportunity silently went to
    whoever saved it; and it took any record, an inactive employee too: here both are refused next to
    the field (`pick`, with the look-up's `check`)."""

    def process_formdata(self, valuelist):
        super().process_formdata(valuelist)
        self.refusal = None
        posted = self._formdata
        if posted is not None and posted != "":
            loader = self.loader
            chosen = pick(
                [posted], _loader_finds(loader), check=getattr(loader, "check", None), kept=_kept(self.object_data)
            )
            self.refusal = chosen.refusal
            self._set_data(chosen.rows[0] if chosen.rows else None)  # a refused record stays shown with its reason


class CheckedAjaxSelectMultipleField(RefusedPick, AjaxSelectMultipleField):
    """Several records chosen with an AJAX look-up: Flask-Admin dropped an id naming no record silently;
    here the save is refused next to the field (`pick`), as for one record."""

    def process_formdata(self, valuelist):
        loader = self.loader
        values = [v for field in valuelist for v in str(field).split(self.separator)]
        chosen = pick(values, _loader_finds(loader), check=getattr(loader, "check", None), kept=_kept(self.object_data))
        self.refusal = chosen.refusal
        self._set_data(chosen.rows)


class OfferedRecords:
    """The records a select of records offers (its query), and what the record already has (its object data):
    that stays a choice, shown and saved unchanged, even when the query no longer offers it."""

    def _get_object_list(self):
        if self._object_list is None:
            listed = super()._get_object_list()  # the field class it is mixed into
            offered = {obj for _pk, obj in listed}
            self._object_list = listed + [
                (str(self.get_pk(obj)), obj) for obj in _kept(self.object_data) if obj not in offered
            ]
        return self._object_list

    def _offered(self, ids: list[int]) -> dict[int, Any]:
        """`pick`'s `find`: the offered records with these ids."""
        wanted = {str(i) for i in ids}
        return {int(pk): obj for pk, obj in self._get_object_list() if pk in wanted}


class CheckedQuerySelectField(RefusedPick, OfferedRecords, QuerySelectField):
    """One record chosen in a plain select (Bransch, a sales stage, an Egna fält tab, Er referens). Flask-Admin
    took an id outside its choices as nothing chosen where the field may be empty, so a company posted with a
    deleted or forged industry was saved without one: here it is refused next to the field (`pick`), as in the
    other pickers. The posted id is looked up when the data is first read (pre_validate at the latest), so a
    view may still set the field's `query` after the form is made, as with Flask-Admin's own field."""

    #: What a select posts for "nothing chosen" (an empty option, Flask-Admin's blank choice).
    BLANK = ("", "__None")

    def process_formdata(self, valuelist):
        self.refusal = None
        if valuelist and valuelist[0] in self.BLANK:
            self._set_data(None)  # a required field says so in pre_validate, as before
        elif valuelist:
            self._data = None
            self._formdata = valuelist[0]

    def _get_data(self):
        if self._formdata is not None:
            chosen = pick([self._formdata], self._offered)
            self.refusal = chosen.refusal
            self._set_data(chosen.rows[0] if chosen.rows else None)
        return self._data

    data = property(_get_data, QuerySelectField._set_data)

    def pre_validate(self, form):
        self._get_data()  # the refusal is known once the posted id is looked up
        super().pre_validate(form)


class CheckedQuerySelectMultipleField(RefusedPick, OfferedRecords, QuerySelectMultipleField):
    """Several records chosen in a Select2 multi-select (categories, group members). Flask-Admin dropped an
    id outside its choices silently (one naming no record, a category of another kind): here the save is
    refused next to the field (`pick`). What the record already has stays a choice (OfferedRecords)."""

    def process_formdata(self, valuelist):
        chosen = pick(valuelist, self._offered)
        self.refusal = chosen.refusal
        self._set_data(chosen.rows)


class SwedishModelConverter(AdminModelConverter):
    """Flask-Admin's form scaffolding, with Numeric columns as SwedishDecimalField (their scale as places)
    and Date columns as SwedishDateField; records picked, by AJAX or in a select of one or several, are checked
    (CheckedAjaxSelectField, CheckedAjaxSelectMultipleField, CheckedQuerySelectField,
    CheckedQuerySelectMultipleField)."""

    def _model_select_field(self, prop, multiple, remote_model, **kwargs):
        loader = getattr(self.view, "_form_ajax_refs", {}).get(prop.key)
        if loader:
            return (CheckedAjaxSelectMultipleField if multiple else CheckedAjaxSelectField)(loader, **kwargs)
        field = super()._model_select_field(prop, multiple, remote_model, **kwargs)  # unbound: class and arguments
        checked = {QuerySelectField: CheckedQuerySelectField, QuerySelectMultipleField: CheckedQuerySelectMultipleField}
        return checked[field.field_class](*field.args, **field.kwargs)

    @converts("Numeric")
    def handle_decimal_types(self, column, field_args, **extra):
        field_args.setdefault("places", getattr(column.type, "scale", None))
        return SwedishDecimalField(**field_args)

    @converts("Date")
    def convert_date(self, field_args, **extra):
        return SwedishDateField(**field_args)


class SwedishXEditableWidget(XEditableWidget):
    """Inline list editing; a SwedishDecimalField is edited as text (`1 250,50`), not in a number box."""

    def get_kwargs(self, field, kwargs):
        if isinstance(field, SwedishDecimalField):
            kwargs["data-type"] = "text"
            kwargs["data-value"] = field._value()
            return kwargs
        return super().get_kwargs(field, kwargs)


class HiddenRule(rules.BaseRule):
    """Form rule rendering a hidden field (e.g. the edit version) without a label."""

    def __init__(self, field_name: str):
        super().__init__()
        self.field_name = field_name

    @property
    def visible_fields(self):
        return [self.field_name]

    def __call__(self, form, form_opts=None, field_args=None):
        return form[self.field_name]() if self.field_name in form else ""


def normalised(rule, *rule_args):
    """WTForms validator running a `services.validation` rule and keeping its result."""

    def validator(form, field):
        try:
            field.data = rule(field.data, *[form[a].data if a in form else a for a in rule_args])
        except InvalidValue as exc:
            raise ValidationError(str(exc)) from None

    return validator


class SearchAjaxLoader(QueryAjaxModelLoader):
    """AJAX look-up through the one search service (`search.pick`: the names that begin with the typed
    text first); trash and inactive rows excluded. `extra`: the condition a row it offers meets; `check`:
    the same rule for a posted record (`pick`), `check(row, kept=…)` raising InvalidValue."""

    def __init__(self, name, model, *, extra=None, check=None, **options):
        options.setdefault("fields", ["id"])
        options.setdefault("placeholder", _l("Search…"))
        super().__init__(name, db.session, model, **options)
        self.extra = extra
        self.check = check

    def get_list(self, term, offset=0, limit=20):
        return search.pick(db.session, self.model, term, limit=min(limit or 20, 100), extra=self.extra)


def employee_picker(name: str) -> SearchAjaxLoader:
    """The look-up of an employee to choose (Kundansvarig, an owner, Vår referens): it offers the active ones,
    and an inactive one posted is refused unless the record has it already (services.employees)."""
    return SearchAjaxLoader(name, Employee, extra=employees.choosable(), check=employees.check_chosen)


class PartFieldSet(rules.FieldSet):
    """A form's field set that belongs to a part of the customer (services.visibility): shown only
    to an employee who may see that part (its fields are then left out of the form as well)."""

    def __init__(self, part, rules_, header=None):
        super().__init__(rules_, header)
        self.part = part

    def __call__(self, form, form_opts=None, field_args=None):
        if not visibility.may_see(current_user, self.part):
            return ""
        return super().__call__(form, form_opts, field_args)


class CustomerPartsMixin:
    """A customer's form and export hold only the fields the employee may see (services.visibility):
    a field of a part the employee may not see is neither shown, nor saved when posted, nor exported."""

    def create_form(self, obj=None):
        return self._without_hidden_fields(super().create_form(obj))

    def edit_form(self, obj=None):
        return self._without_hidden_fields(super().edit_form(obj))

    @staticmethod
    def _without_hidden_fields(form):
        for name in visibility.hidden_fields(current_user, [field.name for field in form]):
            del form[name]
        return form

    def export_columns(self) -> list[exporting.Column]:
        return [c for c in super().export_columns() if visibility.may_see_field(current_user, c.key)]


class SecureModelView(PermissionMixin, ColumnChoiceMixin, KeysetListMixin, ModelView):
    """Model view with permissions, CSRF (global), Swedish formats and edit versions."""

    endpoint_verbs = MODEL_ENDPOINT_VERBS
    model_form_converter = SwedishModelConverter
    page_size = 50
    #: whether the list shows live rows only (its search may then be answered by services.word_index)
    lists_live_rows = False
    can_view_details = False
    list_template = "admin/crm_list.html"
    create_template = "admin/crm_create.html"
    edit_template = "admin/crm_edit.html"

    def _handle_view(self, name, **kwargs):
        refused = super()._handle_view(name, **kwargs)
        if refused is None:
            check_flask_admin_parameters()
            if name == "edit_view":  # an erased person's record has no form: it is read-only
                privacy.refuse_erased(db.session, privacy.kind_of(self.model), [params.id_param("id")])
        return refused

    @property
    def can_create(self):
        return self._can_endpoint("create_view")

    @property
    def can_edit(self):
        return self._can_endpoint("edit_view")

    @property
    def can_delete(self):
        return self._can_endpoint("delete_view")

    @property
    def can_export(self):
        return self._can_endpoint("export")

    create_label = _l("New")
    #: The list's search can be saved under a name ("Spara sökning") and run again.
    can_save_search = False
    #: How a row is deleted: a service function (session, row) that may refuse with InvalidValue, which the
    #: list then shows (e.g. a row in use is deactivated instead); None: Flask-Admin's own delete.
    delete_rule = None

    def delete_model(self, model):
        if self.delete_rule is None:
            return super().delete_model(model)
        try:
            self.delete_rule(db.session, model)
            db.session.commit()
        except Exception as exc:
            db.session.rollback()
            if not self.handle_view_exception(exc):
                raise
            return False
        return True

    def saved_searches(self) -> list:
        """The saved searches of this list the employee may run (own and shared)."""
        from services import saved_searches

        return saved_searches.visible(db.session, current_user, self.endpoint) if self.can_save_search else []

    def matching_query(self, args):
        """Every row the list shows for these query-string pairs (search, filters, sort), unpaginated:
        the list's own search and filters, so an export or a saved search finds what the list shows."""
        return flask_admin_adapter.filtered_query(self, args)

    # --- export (services.export; replaces Flask-Admin's own CSV export) ---------

    export_types = list(exporting.FORMATS)
    #: Plain-text export formatters `(view, context, model, name)`; never the HTML list formatters.
    column_formatters_export: dict = {}

    @expose("/export/<export_type>/")
    def export(self, export_type):
        """The list as CSV or XLSX: the list's search, filters and sort applied,
        streamed row by row; `<area>.export` is checked in `_handle_view`."""
        if export_type not in exporting.FORMATS:
            abort(404)
        filename = f"{self.name} {formatting.iso_date(models_utcnow().date())}"
        return downloads.download(
            export_type,
            filename,
            self.export_columns(),
            downloads.rows_of_query(self.export_query()),
            title=str(self.name),
        )

    def export_columns(self) -> list[exporting.Column]:
        """The export columns with their (Swedish) labels (a customer's: CustomerPartsMixin)."""
        return [
            exporting.Column(name, str(label), getter=self.export_getter(name))
            for name, label in self.get_export_columns()
        ]

    def export_query(self):
        """The list's query as the request's search, filters and sort make it, without paging."""
        return self.matching_query(request.args.items(multi=True))

    def export_getter(self, name: str):
        """The cell value of column `name`: the export formatter's text, else the
        attribute (numbers and dates kept), related rows by their name."""
        formatter = self.column_formatters_export.get(name)
        if formatter is not None:
            return lambda model: formatter(self, None, model, name)
        shown = self.form_display_formats.get(name)
        if shown is not None:
            return lambda model: shown(getattr(model, name, None))
        parts = name.split(".")
        if len(parts) == 1:  # a column of the row itself: the common case, kept short

            def own_value(model):
                value = getattr(model, name, None)
                if isinstance(value, (list, tuple, set)):
                    return ", ".join(str(item) for item in value)
                if hasattr(value, "__table__"):
                    return str(value)
                return value

            return own_value

        def value_of(model):
            value = model
            for part in parts:
                value = getattr(value, part, None) if value is not None else None
            if isinstance(value, (list, tuple, set)):
                return ", ".join(str(item) for item in value)
            if hasattr(value, "__table__"):
                return str(value)
            return value

        return value_of

    def create_heading(self) -> str:
        return str(self.create_label)

    #: "Sök i företagsregistret" above the create form (companies, suppliers, leads).
    registry_lookup = False

    def shows_registry_lookup(self) -> bool:
        return self.registry_lookup and can("registry.lookup")

    def init_search(self) -> bool:
        """Search is on for every model services.search knows."""
        flask_admin_adapter.clear_search_fields(self)
        return self.model in search.SEARCH_FIELDS

    def search_placeholder(self) -> str:
        from admin_views.labels import field_label

        fields = [f for f in search.SEARCH_FIELDS[self.model] if not f.startswith("visit_")]
        if hasattr(self.model, "customer_number"):
            fields.append("customer_number")
        labels = [field_label(f) for f in fields]
        return ", ".join([labels[0]] + [label[:1].lower() + label[1:] for label in labels[1:]])

    def _can_endpoint(self, endpoint_name: str) -> bool:
        """May the employee use this view's `endpoint_name`; asked once a request (a list page asks
        `can_edit` for every row)."""
        memo = g.setdefault("can_endpoint", {})
        key = (self.endpoint, endpoint_name)
        if key not in memo:
            memo[key] = can(*(self.permission_for(endpoint_name) or ()))
        return memo[key]

    def _apply_search(self, query, count_query, joins, count_joins, text):
        """Every list searches through services.search (one implementation)."""
        # the list counts its rows; a list of live rows may be answered by the words index
        condition = search.condition(db.session, self.model, text, counted=True, live_only=self.lists_live_rows)
        query = query.filter(condition)
        if count_query is not None:
            count_query = count_query.filter(condition)
        return query, count_query, joins, count_joins

    @expose("/ajax/update/", methods=("POST",))
    def ajax_update(self):
        """Inline list edit; edit permission is checked in `_handle_view` like every endpoint."""
        if not request.form.get("list_form_pk"):
            return _("The record to change is missing."), 400
        return super().ajax_update()

    def get_empty_list_message(self):
        return _("No records to show.")

    @action("delete", _l("Delete"), _l("Delete the selected records?"))
    def action_delete(self, ids):
        # Posted ids are strings; PostgreSQL refuses integer = varchar (SQLAlchemy 2.1 binds them as such).
        return super().action_delete([int(i) if is_id(i) else i for i in ids])

    def _get_filter_groups(self):
        """Options of database-backed filters are read per request, not once at start-up."""
        groups = super()._get_filter_groups()
        for items in (groups or {}).values():
            for item in items:
                flt = flask_admin_adapter.list_filter(self, item["index"])
                if getattr(flt, "dynamic_options", False):
                    item["options"] = [(k, str(v)) for k, v in flt.get_options(self) or []]
        return groups

    def is_action_allowed(self, name):
        if name == "delete":
            return self.can_delete
        handler = flask_admin_adapter.action_handler(self, name)
        permission = getattr(getattr(handler[0], "__func__", None), "_permission", None) if handler else None
        return bool(permission) and can(permission)

    def scaffold_list_form(self, widget=None, validators=None):
        return super().scaffold_list_form(widget or SwedishXEditableWidget(), validators)

    # --- optimistic locking -------------------------------------------------

    def scaffold_form(self):
        form_class = super().scaffold_form()
        if hasattr(self.model, "version"):
            form_class.version = VersionField()
        return form_class

    #: Stored value → how the form and the export show it (org numbers with dash, phones Swedish style).
    form_display_formats = {
        "org_number": formatting.org_number,
        "phone": formatting.phone,
        "mobile": formatting.phone,
        "contact_phone": formatting.phone,
    }

    def on_form_prefill(self, form, id):
        for name, display in self.form_display_formats.items():
            if name in form and form[name].data:
                form[name].data = display(form[name].data)

    def create_model(self, form):
        model = super().create_model(form)
        if model:
            g.saved_record_name = str(model)  # named in our "… was created." (admin_views.messages)
        return model

    def update_model(self, form, model):
        # The version as posted: a missing one must not fall back to the record's own.
        if "version" in form and request.form.get("version", "") != str(model.version):
            flash(self.stale_message(), "error")
            return False
        saved = super().update_model(form, model)
        if saved:
            g.saved_record_name = str(model)
        return saved

    stale_message = staticmethod(stale_message)

    def handle_view_exception(self, exc):
        """A failed save or delete as a message on the page. The session is rolled back first: after a
        failed flush (an IntegrityError) it refuses every read, and the message's own gettext reads the
        employee's language (current_user.locale), which failed a second time with a 500."""
        db.session.rollback()
        if isinstance(exc, StaleDataError):
            flash(self.stale_message(), "error")
            return True
        if isinstance(exc, (InvalidValue, trash.NotPermitted)):
            flash(str(exc) if isinstance(exc, InvalidValue) else _("You do not have permission to do that."), "error")
            return True
        if isinstance(exc, IntegrityError):
            duplicate = "unique" in str(exc.orig).lower()
            flash(
                _("The name is already in use: choose another.")
                if duplicate
                else _("The record is in use by other records and cannot be deleted."),
                "error",
            )
            return True
        return super().handle_view_exception(exc)


class SoftDeleteModelView(SecureModelView):
    """Lists only live rows; "Radera" moves rows to the trash via services.trash."""

    lists_live_rows = True

    def get_query(self):
        return super().get_query().filter(search.live(self.model))

    def get_count_query(self):
        return super().get_count_query().filter(search.live(self.model))

    def get_one(self, id):
        row = super().get_one(id)
        return None if row is None or row.is_deleted else row

    def live_or_404(self, id: int):
        return live_or_404(self.model, id)

    @action("delete", _l("Delete"), _l("Move the selected records to the trash?"))
    def action_delete(self, ids):
        try:
            count = trash.delete(db.session, current_user, self.model, ids)
            db.session.commit()
        except trash.NotPermitted:
            db.session.rollback()
            abort(403)
        flash(
            ngettext("%(num)s record was moved to the trash.", "%(num)s records were moved to the trash.", count),
            "success",
        )

    def delete_rule(self, session, model):
        trash.delete(session, current_user, self.model, [model.id])


# --- column formatters -----------------------------------------------------------


def fmt_org_number(view, context, model, name):
    return formatting.org_number(getattr(model, name))


def fmt_phone(view, context, model, name):
    value = getattr(model, name)
    if not value:
        return ""
    return Markup('<a href="tel:{}">{}</a>').format(value, formatting.phone(value))


def fmt_email(view, context, model, name):
    value = getattr(model, name)
    return Markup('<a href="mailto:{0}">{0}</a>').format(value) if value else ""


def fmt_choice(labels):
    """The label of a stored choice; lazily translated, so an export translates each label once."""

    def formatter(view, context, model, name):
        value = getattr(model, name)
        return labels.get(value, value or "")

    return formatter


def fmt_bool(view, context, model, name):
    return _("Yes") if getattr(model, name) else ""
