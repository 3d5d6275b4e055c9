"""Företag and Leverantörer: list, form, filters ("Fler sökalternativ"); their card: admin_views.card."""

import phonenumbers
from babel import Locale
from flask import flash, request, url_for
from flask_admin.form import rules
from flask_babel import get_locale, ngettext
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from markupsafe import Markup
from sqlalchemy import select
from wtforms import BooleanField, SelectField

from admin_views import params
from admin_views.base import (
    CustomerPartsMixin,
    HiddenRule,
    PartFieldSet,
    SoftDeleteModelView,
    can,
    employee_picker,
    fmt_bool,
    fmt_choice,
    fmt_email,
    fmt_org_number,
    fmt_phone,
    normalised,
    payment_terms,
    permitted_action,
)
from admin_views.calllist_actions import AddToCallListMixin
from admin_views.card import CURRENCIES, INVOICE_LANGUAGES
from admin_views.duplicate_warning import DuplicateWarningMixin, OptionalField, form_values
from admin_views.filters import CategoryFilter, EmployeeFilter, IndustryFilter, IsFilter, YesNoFilter
from admin_views.labels import FIELD_LABELS
from admin_views.mass_update import MassUpdateMixin
from admin_views.registry import existing_links
from admin_views.urls import id_url
from extensions import db
from models import (
    COMPANY_STATUS_LABELS,
    COMPANY_STATUSES_CHOSEN,
    Category,
    Company,
)
from services import fields, register, validation
from services.visibility import Part


def country_choices():
    """Countries (ISO codes phonenumbers knows) named in the user's language, Sweden first."""
    names = Locale.parse(str(get_locale() or "sv")).territories
    codes = sorted((c for c in phonenumbers.SUPPORTED_REGIONS if c in names), key=lambda c: names[c])
    return [("SE", names["SE"])] + [(c, names[c]) for c in codes if c != "SE"]


class FormOnlyBooleanField(BooleanField):
    """A choice on the form that is not a column of the company."""

    def populate_obj(self, obj, name):
        pass


def unsaved_company(form) -> Company:
    """The company the form would save, to compare with the register (services.duplicates)."""
    return Company(**form_values(form, "name", "org_number", "email", "phone", "postal_city", "visit_city"))


class CompanyView(DuplicateWarningMixin, MassUpdateMixin, AddToCallListMixin, CustomerPartsMixin, SoftDeleteModelView):
    """Företag: the customer register."""

    permission_area = "company"
    duplicate_checks = (("company", unsaved_company),)
    registry_lookup = True
    column_list = [
        "customer_number",
        "name",
        "org_number",
        "postal_city",
        "phone",
        "email",
        "owner",
        "status",
        "is_supplier",
        "industry",
        "vat_number",
    ]
    #: What fits 1366 px; Bransch and Momsreg.nr are chosen under "Kolumner".
    column_default_shown = column_list[:-2]
    #: Indexed columns only (models.KEYSET_INDEXES); Kundansvarig and status are filters.
    column_sortable_list = ["customer_number", "name", "org_number", "postal_city"]
    column_default_sort = "name"
    column_select_related_list = [Company.owner, Company.industry]
    column_labels = {**fields.labels("company"), "is_supplier": fields.label("supplier")}
    create_label = _l("New company")
    column_formatters = {
        "org_number": fmt_org_number,
        "phone": fmt_phone,
        "email": fmt_email,
        "status": fmt_choice(COMPANY_STATUS_LABELS),
        "is_supplier": fmt_bool,
        "name": lambda v, c, m, n: Markup('<a href="{}">{}</a>').format(id_url("company_card.index", m.id), m.name),
    }
    column_filters = [
        EmployeeFilter(Company.owner_id, fields.label("owner_id")),
        CategoryFilter(Company.categories, _l("Category")),
        IndustryFilter(Company.industry_id, fields.label("industry_id")),
        IsFilter(Company.status, fields.label("status"), options=list(COMPANY_STATUS_LABELS.items())),
        YesNoFilter(Company.is_supplier, fields.label("supplier")),
        IsFilter(Company.postal_city, fields.label("postal_city")),
    ]
    #: The invoice settings (the card's Inställningar tab) only to who may see them: CustomerPartsMixin.
    column_export_list = [
        "customer_number",
        "name",
        "org_number",
        "vat_number",
        "status",
        "industry",
        "owner",
        "is_supplier",
        "phone",
        "email",
        "website",
        "postal_street",
        "postal_postcode",
        "postal_city",
        "discount_percent",
        "payment_terms_days",
        "currency",
    ]
    column_formatters_export = {
        "status": fmt_choice(COMPANY_STATUS_LABELS),
        "org_number": fmt_org_number,
    }
    form_columns = [
        "name",
        "org_number",
        "country",
        "legal_form",
        "vat_number",
        "status",
        "industry",
        "categories",
        "owner",
        "is_supplier",
        "phone",
        "email",
        "website",
        "postal_street",
        "postal_postcode",
        "postal_city",
        "visit_street",
        "visit_postcode",
        "visit_city",
        "invoice_street",
        "invoice_postcode",
        "invoice_city",
        "invoice_language",
        "discount_percent",
        "payment_terms_days",
        "currency",
        "note",
    ]
    form_rules = [
        rules.FieldSet(
            (
                rules.Row("name", "org_number"),
                rules.Row("country", "legal_form", "vat_number", "status"),
                rules.Row("industry", "owner"),
                "categories",
            ),
            _l("Company"),
        ),
        rules.FieldSet((rules.Row("phone", "email", "website"),), _l("Phone and e-mail")),
        rules.FieldSet(
            (
                rules.Row("postal_street", "postal_postcode", "postal_city"),
                rules.Row("visit_street", "visit_postcode", "visit_city"),
                rules.Row("invoice_street", "invoice_postcode", "invoice_city"),
            ),
            _l("Addresses"),
        ),
        PartFieldSet(
            Part.SETTINGS,
            (rules.Row("invoice_language", "discount_percent", "payment_terms_days", "currency"),),
            _l("Invoice settings"),
        ),
        rules.FieldSet(("is_supplier",), _l("Supplier settings")),
        rules.FieldSet(("note", HiddenRule("version")), _l("Note")),
    ]
    # FAQ: "När man upprättar en ny kund så kan man samtidigt välja att skapa en ny säljmöjlighet".
    form_create_rules = [
        OptionalField("save_anyway"),
        *form_rules,
        rules.FieldSet(("then_new_opportunity", "then_new_order"), _l("After saving")),
    ]
    form_edit_rules = form_rules
    form_choices = {
        "status": list(COMPANY_STATUSES_CHOSEN.items()),
        "invoice_language": INVOICE_LANGUAGES,
        "currency": CURRENCIES,
    }
    form_args = {
        "is_supplier": {"label": FIELD_LABELS["is_supplier"]},
        "payment_terms_days": {"validators": [payment_terms]},
        "org_number": {
            "validators": [normalised(validation.org_number, "country")],
            "description": _l("NNNNNN-NNNN. May be left empty for foreign companies."),
        },
        "vat_number": {"validators": [normalised(validation.vat_number)]},
        "phone": {"validators": [normalised(validation.phone, "country")]},
        "email": {"validators": [normalised(validation.email)]},
        "website": {"validators": [normalised(validation.website)]},
        "postal_postcode": {"validators": [normalised(validation.postcode, "country")]},
        "visit_postcode": {"validators": [normalised(validation.postcode, "country")]},
        "invoice_postcode": {"validators": [normalised(validation.postcode, "country")]},
        "categories": {
            "query_factory": lambda: Category.query.filter(Category.applies_to != "contact").order_by(Category.name)
        },
        # WTForms 3.3 shows an empty option label as its value, "__None"; a space keeps "no industry" blank.
        "industry": {"blank_text": " "},
    }
    form_widget_args = {"note": {"rows": 4}}
    form_ajax_refs = {"owner": employee_picker("owner")}

    def get_create_form(self):
        class CreateForm(super().get_create_form()):
            then_new_opportunity = FormOnlyBooleanField(_l("Create a sales opportunity for the new customer"))
            then_new_order = FormOnlyBooleanField(_l("Create an order for the new customer"))

        return CreateForm

    def scaffold_form(self):
        form_class = super().scaffold_form()
        form_class.country = SelectField(FIELD_LABELS["country"], choices=country_choices, default="SE")
        return form_class

    new_is_supplier = False

    def create_form(self, obj=None):
        form = super().create_form(obj)
        if request.method == "GET" and self.new_is_supplier:
            form.is_supplier.data = True
        return form

    def validate_register_rules(self, form) -> bool:
        """One company per organisationsnummer, checked when it is set or changed (services.register)."""
        if "org_number" in form:
            existing = register.org_number_taken(
                db.session,
                form.org_number.data,
                company_id=params.id_param("id"),
                current=form.org_number.object_data,
            )
            if existing is not None:
                form.org_number.errors = [*form.org_number.errors, self.duplicate_message(existing)]
                return False
        return True

    @staticmethod
    def duplicate_message(existing: Company) -> Markup:
        if existing.is_deleted:
            return Markup(
                _(
                    "%(name)s (customer no. %(number)s) already has this organisation number "
                    "and is in the trash: restore it under Administration – Restore customers.",
                    name=Markup.escape(existing.name),
                    number=existing.customer_number,
                )
            )
        link = Markup('<a href="{}">{}</a>').format(url_for("company_card.index", id=existing.id), existing.name)
        return Markup(
            _(
                "%(link)s (customer no. %(number)s) already has this organisation number.",
                link=link,
                number=existing.customer_number,
            )
        )

    @permitted_action("show_as_supplier", _l("Show as supplier"), "company.edit")
    def action_show_as_supplier(self, ids):
        self._set_supplier(ids, True)

    @permitted_action("hide_as_supplier", _l("Do not show as supplier"), "company.edit")
    def action_hide_as_supplier(self, ids):
        self._set_supplier(ids, False)

    def _set_supplier(self, ids, value: bool):
        rows = db.session.scalars(
            select(Company).where(Company.id.in_([int(i) for i in ids]), Company.deleted_at.is_(None))
        ).all()
        for company in rows:
            company.is_supplier = value
        db.session.commit()
        flash(ngettext("%(num)s company updated.", "%(num)s companies updated.", len(rows)), "success")

    def on_model_change(self, form, model, is_created):
        if is_created:
            model.owner = model.owner or current_user._get_current_object()

    def after_model_change(self, form, model, is_created):
        """A lead with the same organisationsnummer is pointed out (the company is saved), once: when the
        company is created or its organisationsnummer changes, not on every later save."""
        org_field = getattr(form, "org_number", None)
        if not is_created and org_field is not None and org_field.object_data == model.org_number:
            return
        found = existing_links([model.org_number], exclude=("company", model.id)).get(model.org_number or "", [])
        leads = [e for e in found if e["kind"] == "lead"]
        if leads:
            flash(
                Markup(_("A lead already has this organisation number:"))
                + " "
                + Markup("; ").join(Markup('<a href="{}">{}</a>').format(e["url"], e["name"]) for e in leads),
                "warning",
            )

    def get_save_return_url(self, model, is_created=False):
        if is_created and request.form.get("then_new_opportunity") and can("opportunity.create"):
            return url_for(
                "opportunity.create_view",
                company_id=model.id,
                url=url_for("company_card.index", id=model.id, tab="opportunities"),
            )
        if is_created and request.form.get("then_new_order") and can("order.create"):
            return url_for(
                "order.create_view", company_id=model.id, url=url_for("company_card.index", id=model.id, tab="invoices")
            )
        return url_for("company_card.index", id=model.id)


class SupplierView(CompanyView):
    """Leverantörer: companies shown as suppliers (same register, same place)."""

    new_is_supplier = True
    create_label = _l("New supplier")

    def get_query(self):
        return super().get_query().filter(Company.is_supplier.is_(True))

    def get_count_query(self):
        return super().get_count_query().filter(Company.is_supplier.is_(True))
