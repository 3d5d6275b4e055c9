"""Kontakter and Privatkunder, and the people search (contacts beside employees)."""

from flask import flash, jsonify, request, url_for
from flask_admin import expose
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from flask_login import current_user
from markupsafe import Markup
from sqlalchemy import select
from sqlalchemy.orm import selectinload
from wtforms import StringField, ValidationError

from admin_views import consent as consent_form
from admin_views import params
from admin_views.base import (
    CustomerPartsMixin,
    SecurePage,
    SoftDeleteModelView,
    can,
    employee_picker,
    fmt_email,
    fmt_phone,
    normalised,
    payment_terms,
    permitted_action,
    require,
)
from admin_views.calllist_actions import AddToCallListMixin
from admin_views.company import FormOnlyBooleanField
from admin_views.duplicate_warning import DuplicateWarningMixin, form_values
from admin_views.filters import CategoryFilter, EmployeeFilter
from admin_views.labels import FIELD_LABELS
from admin_views.mass_messages import MassMessageMixin
from admin_views.mass_update import MassUpdateMixin
from admin_views.urls import id_url
from extensions import db
from models import Category, Company, CompanyContact, Contact
from services import export as exporting
from services import fields, formatting, numbering, personal_numbers, register, search, validation


class NoPopulateField(StringField):
    """A form-only field (e.g. the role at the company a new contact is created for)."""

    def populate_obj(self, obj, name):
        pass


class PersonalNumberField(StringField):
    """Personnummer in a form, shown as the employee may read it (services.personal_numbers): the
    page never holds a number the employee may not read, and the masked value posted back keeps the
    stored number, so the other fields can be edited without wiping it."""

    def _value(self):
        return personal_numbers.shown_to(self.data, current_user)

    def pre_validate(self, form):
        try:
            self.data = personal_numbers.unless_unchanged(self.data, self.object_data)[1]
        except validation.InvalidValue as exc:
            raise ValidationError(str(exc)) from None


def fmt_personal_number(view, context, model, name):
    return personal_numbers.shown_to(model.personal_number, current_user)


def fmt_companies(view, context, model, name):
    return Markup(", ").join(
        Markup('<a href="{}">{}</a>').format(id_url("company_card.index", c.id), c.name) for c in model.companies
    )


def unsaved_contact(form) -> Contact:
    """The contact the form would save, to compare with the register (services.duplicates)."""
    return Contact(**form_values(form, "first_name", "last_name", "email", "phone", "mobile", "postal_city"))


class ContactView(
    DuplicateWarningMixin,
    MassUpdateMixin,
    MassMessageMixin,
    AddToCallListMixin,
    CustomerPartsMixin,
    SoftDeleteModelView,
):
    """Kontakter: people, standalone or linked to one or many companies."""

    permission_area = "contact"
    duplicate_checks = (("contact", unsaved_contact),)

    def _apply_search(self, query, count_query, joins, count_joins, text):
        """A whole personnummer finds its person, for who may read personnummer (services.personal_numbers)."""
        by_number = personal_numbers.search_condition(Contact, text, current_user)
        if by_number is None:
            return super()._apply_search(query, count_query, joins, count_joins, text)
        count_query = count_query.filter(by_number) if count_query is not None else None
        return query.filter(by_number), count_query, joins, count_joins

    def duplicate_companies(self) -> list[int]:
        company = self._company_from_request()
        return [company.id] if company is not None else []

    column_list = ["last_name", "first_name", "companies", "title", "phone", "mobile", "email", "customer_number"]
    #: Indexed columns only (models.KEYSET_INDEXES); the last name sorts by first name within it.
    column_sortable_list = [("last_name", ("last_name", "first_name")), "first_name", "customer_number"]
    column_default_sort = [("last_name", False), ("first_name", False)]
    column_labels = FIELD_LABELS
    create_label = _l("New contact")
    column_formatters = {
        "phone": fmt_phone,
        "mobile": fmt_phone,
        "email": fmt_email,
        "companies": fmt_companies,
        # The name opens the contact card, as the company name does in Företag.
        "last_name": lambda v, c, m, n: Markup('<a href="{}">{}</a>').format(
            id_url("contact_card.index", m.id), m.last_name
        ),
        "first_name": lambda v, c, m, n: Markup('<a href="{}">{}</a>').format(
            id_url("contact_card.index", m.id), m.first_name
        ),
    }
    column_filters = [
        EmployeeFilter(Contact.owner_id, fields.label("owner_id")),
        CategoryFilter(Contact.categories, _l("Category")),
    ]
    column_export_list = [
        "customer_number",
        "first_name",
        "last_name",
        "companies",
        "title",
        "email",
        "phone",
        "mobile",
        "postal_street",
        "postal_postcode",
        "postal_city",
        "owner",
    ]

    #: The companies column: every contact's links and companies in one statement per page.
    list_load_options = (selectinload(Contact.company_links).joinedload(CompanyContact.company),)

    def export_query(self):
        """Companies of each contact fetched per batch, not per row."""
        return super().export_query().options(selectinload(Contact.company_links).joinedload(CompanyContact.company))

    form_columns = [
        "first_name",
        "last_name",
        "title",
        "email",
        "phone",
        "mobile",
        "owner",
        "categories",
        "postal_street",
        "postal_postcode",
        "postal_city",
        *consent_form.FIELDS,
        "note",
    ]
    form_overrides = consent_form.FORM_OVERRIDES
    form_choices = consent_form.FORM_CHOICES
    form_args = {
        "email": {"validators": [normalised(validation.email)]},
        "phone": {"validators": [normalised(validation.phone)]},
        "mobile": {"validators": [normalised(validation.phone)]},
        "postal_postcode": {"validators": [normalised(validation.postcode)]},
        "categories": {
            "query_factory": lambda: Category.query.filter(Category.applies_to != "company").order_by(Category.name)
        },
    }
    form_widget_args = {"note": {"rows": 4}}
    form_ajax_refs = {"owner": employee_picker("owner")}

    def scaffold_form(self):
        form_class = super().scaffold_form()
        form_class.company_role = NoPopulateField(self.column_labels["company_role"])
        return form_class

    def _company_from_request(self) -> Company | None:
        company_id = params.id_param("company_id")
        company = db.session.get(Company, company_id) if company_id else None
        return None if company is None or company.is_deleted else company

    def create_form(self, obj=None):
        form = super().create_form(obj)
        if self._company_from_request() is None:
            del form.company_role
        return form

    def get_create_form(self):
        class CreateForm(super().get_create_form()):
            not_the_employee = FormOnlyBooleanField(_l("Save as a contact anyway: it is not the employee"))

        return CreateForm

    def validate_form(self, form):
        """A new contact that is an employee (same e-mail, or name and phone) is not saved until the
        user says it is someone else; the warning links to the employee."""
        valid = super().validate_form(form)
        if "not_the_employee" not in form:
            return valid
        found = []
        if valid and not form.not_the_employee.data:
            found = register.employees_matching(
                db.session,
                email=form.email.data,
                first_name=form.first_name.data,
                last_name=form.last_name.data,
                phones=(form.phone.data, form.mobile.data),
            )
        if not found:
            del form.not_the_employee  # offered only beside the warning
            return valid
        links = [
            Markup('<a href="{}" class="alert-link">{}</a>').format(url_for("employee.card", id=e.id), e.name)
            if can("employee.view")
            else Markup("{}").format(e.name)
            for e in found
        ]
        flash(
            Markup("{} {} {}").format(
                _("This person is an employee:"),
                Markup(", ").join(links),
                _(
                    "Employees are not entered as contacts. Open the employee instead, or tick "
                    '"Save as a contact anyway" if this is someone else.'
                ),
            ),
            "warning",
        )
        return False

    def edit_form(self, obj=None):
        form = super().edit_form(obj)
        del form.company_role
        return form

    def create_heading(self):
        """Title of the create page: "Skapa ny företagskontakt" when made from a company."""
        company = self._company_from_request()
        if company is not None:
            return _("New contact for %(company)s", company=company.name)
        return _("New contact")

    def on_model_change(self, form, model, is_created):
        company = self._company_from_request() if is_created else None
        if company is not None:
            role = form.company_role.data if "company_role" in form else None
            db.session.flush()
            register.link_contacts(db.session, company, [model], role or None)

    def get_save_return_url(self, model, is_created=False):
        company = self._company_from_request()
        if company is not None:
            return url_for("company_card.index", id=company.id) + "#contacts"  # the Kontakter tab
        return url_for("contact_card.index", id=model.id)

    @permitted_action("make_private_customer", _l("Give customer number (make private customer)"), "contact.edit")
    def action_make_private_customer(self, ids):
        rows = db.session.scalars(
            select(Contact).where(Contact.id.in_([int(i) for i in ids]), Contact.deleted_at.is_(None))
        ).all()
        for contact in rows:
            numbering.make_private_customer(db.session, contact)
        db.session.commit()
        flash(
            ngettext(
                "%(num)s contact is now a private customer.", "%(num)s contacts are now private customers.", len(rows)
            ),
            "success",
        )

    @expose("/search.json")
    @require("contact.view")
    def search_json(self):
        """Contacts matching `q`, for "Koppla existerande kontakt till företaget"."""
        companies = selectinload(Contact.company_links).joinedload(CompanyContact.company)
        rows = search.search(
            db.session, Contact, request.args.get("q", ""), limit=25, options=[companies], reader=current_user
        )
        return jsonify(
            [
                {
                    "id": c.id,
                    "name": c.name,
                    "email": c.email or "",
                    "phone": formatting.phone(c.phone or c.mobile),
                    "companies": ", ".join(co.name for co in c.companies),
                }
                for c in rows
            ]
        )


class PrivateCustomerView(ContactView):
    """Privatkunder: contacts with a customer number, who can be invoiced."""

    column_list = [
        "customer_number",
        "last_name",
        "first_name",
        "personal_number",
        "phone",
        "mobile",
        "email",
        "postal_city",
    ]
    column_formatters = ContactView.column_formatters | {"personal_number": fmt_personal_number}
    column_default_sort = "customer_number"
    list_load_options = ()  # no companies column
    form_columns = [
        "first_name",
        "last_name",
        "personal_number",
        "email",
        "phone",
        "mobile",
        "owner",
        "categories",
        "postal_street",
        "postal_postcode",
        "postal_city",
        "invoice_language",
        "discount_percent",
        "payment_terms_days",
        "currency",
        *consent_form.FIELDS,
        "note",
    ]
    form_choices = {"invoice_language": fields.INVOICE_LANGUAGES} | consent_form.FORM_CHOICES
    form_overrides = {"personal_number": PersonalNumberField} | consent_form.FORM_OVERRIDES
    form_args = ContactView.form_args | {"payment_terms_days": {"validators": [payment_terms]}}
    create_label = _l("New private customer")
    column_export_list = [
        "customer_number",
        "first_name",
        "last_name",
        "personal_number",
        "email",
        "phone",
        "mobile",
        "postal_street",
        "postal_postcode",
        "postal_city",
        "owner",
        "discount_percent",
        "payment_terms_days",
        "currency",
    ]

    def export_columns(self) -> list[exporting.Column]:
        """The personnummer column as the exporting employee may read it (decided now: the rows are
        written after the request)."""
        may_read = personal_numbers.reveal(current_user)
        return [
            exporting.Column(c.key, c.label, getter=lambda m: personal_numbers.shown(m.personal_number, may_read))
            if c.key == personal_numbers.FIELD
            else c
            for c in super().export_columns()
        ]

    def is_action_allowed(self, name):
        return name != "make_private_customer" and super().is_action_allowed(name)

    def get_query(self):
        return super().get_query().filter(Contact.customer_number.is_not(None))

    def get_count_query(self):
        return super().get_count_query().filter(Contact.customer_number.is_not(None))

    def get_create_form(self):
        class CreateForm(super().get_create_form()):
            then_new_order = FormOnlyBooleanField(_l("Create an order for the new customer"))

        return CreateForm

    def on_model_change(self, form, model, is_created):
        numbering.make_private_customer(db.session, model)

    def get_save_return_url(self, model, is_created=False):
        if is_created and request.form.get("then_new_order") and can("order.create"):
            return url_for(
                "order.create_view", contact_id=model.id, url=url_for("contact_card.index", id=model.id, tab="invoices")
            )
        return url_for("contact_card.index", id=model.id)


class PeopleSearchView(SecurePage):
    """Contacts and employees searched together, told apart by icon and label."""

    @expose("/")
    @require("contact.view")
    def index(self):
        text = request.args.get("q", "")
        people = search.people(db.session, text, reader=current_user) if text.strip() else []
        return self.render("admin/people.html", q=text, people=people)
