"""Leads (CRM): the list, the form with its duplicate warning, and "Konvertera till kund".

The conversion and the duplicate rules live in services.leads.
"""

from functools import partial
from types import SimpleNamespace

from flask import flash, redirect, request, url_for
from flask_admin import expose
from flask_admin.form import rules
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from flask_login import current_user
from markupsafe import Markup
from sqlalchemy import select

from admin_views import consent as consent_form
from admin_views.base import (
    HiddenRule,
    SoftDeleteModelView,
    employee_picker,
    fmt_choice,
    fmt_email,
    fmt_org_number,
    fmt_phone,
    normalised,
    permitted_action,
    require,
)
from admin_views.calllist_actions import AddToCallListMixin
from admin_views.card import ActivityForm
from admin_views.duplicate_warning import DuplicateWarningMixin, OptionalField, form_values
from admin_views.filters import CategoryFilter, EmployeeFilter, IsFilter
from admin_views.listing import Pager, read_page
from admin_views.mass_messages import MassMessageMixin
from admin_views.mass_update import MassUpdateMixin
from admin_views.page_activities import PageActivitiesMixin
from admin_views.records import TITLES, record_url
from extensions import db
from models import Activity, Category, Company, Lead, utcnow
from services import card, fields, leads, merge, validation
from services.validation import InvalidValue
from services.visibility import Part, may_see

#: Audit events shown on a lead's page (newest first).
HISTORY_SHOWN = 50
#: New customers named in the message of a conversion of many leads, when their leads' owners are inactive.
NAMED = 10


def duplicate_link(duplicate: leads.Duplicate) -> Markup:
    record = duplicate.record
    return Markup('{}: <a href="{}">{}</a>').format(
        TITLES[duplicate.kind],
        record_url(duplicate.kind, record.id),
        str(record) if duplicate.kind != "contact" else record.name,
    )


def unsaved_lead(form) -> Lead:
    """The lead the form would save, to compare with other leads (services.duplicates)."""
    return Lead(
        **form_values(form, "company_name", "org_number", "contact_email", "contact_phone"),
        status="new",
    )


def unsaved_lead_as_company(form) -> Company:
    """The lead's company, to compare with the customers: a lead for a customer already in the register."""
    values = form_values(form, "company_name", "org_number", "contact_email", "contact_phone")
    return Company(
        name=values.get("company_name"),
        org_number=values.get("org_number"),
        email=values.get("contact_email"),
        phone=values.get("contact_phone"),
    )


class LeadView(
    DuplicateWarningMixin,
    MassUpdateMixin,
    MassMessageMixin,
    AddToCallListMixin,
    PageActivitiesMixin,
    SoftDeleteModelView,
):
    """Leads: potential customers, worked by sellers and converted to customers. "Radera" moves a lead to the
    trash with its call-list entries and activities (services.trash), from where it is restored or purged."""

    permission_area = "lead"
    duplicate_checks = (("lead", unsaved_lead), ("company", unsaved_lead_as_company))
    registry_lookup = True
    create_label = _l("New lead")
    edit_template = "admin/lead_edit.html"
    column_list = [
        "company_name",
        "org_number",
        "contact_name",
        "contact_phone",
        "contact_email",
        "source",
        "status",
        "owner",
    ]
    #: Indexed columns only (models.KEYSET_INDEXES); status, source and owner are filters.
    column_sortable_list = ["company_name", "org_number"]
    column_default_sort = ("created_at", True)
    column_select_related_list = [Lead.owner]
    column_labels = {
        "company_name": fields.label("company_name"),
        "org_number": fields.label("org_number"),
        "contact_name": fields.label("contact_name"),
        "contact_first_name": _l("First name"),
        "contact_last_name": _l("Last name"),
        "contact_title": _l("Title"),
        "contact_phone": _l("Phone"),
        "contact_email": _l("E-mail"),
        "source": fields.label("source"),
        "status": fields.label("status"),
        "owner": fields.label("owner"),
        "categories": fields.label("categories"),
        "note": fields.label("note"),
        **{name: fields.label(name) for name in consent_form.FIELDS},
    }
    column_formatters = {
        "company_name": lambda v, c, m, n: Markup('<a href="{}">{}</a>').format(
            url_for("lead.page", id=m.id), m.company_name
        ),
        "org_number": fmt_org_number,
        "contact_phone": fmt_phone,
        "contact_email": fmt_email,
        "status": fmt_choice(Lead.STATUSES),
    }
    column_filters = [
        EmployeeFilter(Lead.owner_id, fields.label("owner_id")),
        IsFilter(Lead.status, fields.label("status"), options=list(Lead.STATUSES.items())),
        CategoryFilter(Lead.categories, _l("Category")),
        IsFilter(Lead.source, fields.label("source")),
    ]
    column_export_list = [
        "company_name",
        "org_number",
        "contact_name",
        "contact_title",
        "contact_phone",
        "contact_email",
        "source",
        "status",
        "owner",
    ]
    column_formatters_export = {"status": fmt_choice(Lead.STATUSES), "org_number": fmt_org_number}
    form_columns = [
        "company_name",
        "org_number",
        "contact_first_name",
        "contact_last_name",
        "contact_title",
        "contact_phone",
        "contact_email",
        "source",
        "status",
        "owner",
        "categories",
        *consent_form.FIELDS,
        "note",
    ]
    form_rules = [
        rules.FieldSet((rules.Row("company_name", "org_number"),), _l("Company")),
        rules.FieldSet(
            (
                rules.Row("contact_first_name", "contact_last_name", "contact_title"),
                rules.Row("contact_phone", "contact_email"),
            ),
            _l("Contact person"),
        ),
        rules.FieldSet((rules.Row("source", "status", "owner"), "categories"), _l("Lead")),
        rules.FieldSet((*consent_form.FIELDS,), _l("Consent and lawful basis")),
        rules.FieldSet(("note", HiddenRule("version")), _l("Note")),
    ]
    form_create_rules = [OptionalField("save_anyway"), *form_rules]
    form_edit_rules = form_rules
    form_choices = {"status": list(Lead.STATUSES_CHOSEN.items())} | consent_form.FORM_CHOICES
    form_overrides = consent_form.FORM_OVERRIDES
    form_args = {
        "org_number": {
            "validators": [normalised(validation.org_number)],
            "description": _l("NNNNNN-NNNN. May be left empty for foreign companies."),
        },
        "contact_phone": {"validators": [normalised(validation.phone)]},
        "contact_email": {"validators": [normalised(validation.email)]},
        "categories": {"query_factory": lambda: db.session.scalars(select(Category).order_by(Category.name)).all()},
    }
    form_widget_args = {"note": {"rows": 4}}
    form_ajax_refs = {"owner": employee_picker("owner")}

    def search_placeholder(self) -> str:
        return _("Company name, contact person, e-mail")

    def edit_form(self, obj=None):
        """A converted or merged lead keeps its status (it is not offered in the list of choices)."""
        form = super().edit_form(obj)
        if obj is not None and obj.status in Lead.SET_BY_SYSTEM:
            form.status.choices = [(obj.status, Lead.STATUSES[obj.status])]
        return form

    def on_model_change(self, form, model, is_created):
        if is_created and model.owner is None:
            model.owner = current_user._get_current_object()

    def after_model_change(self, form, model, is_created):
        """The duplicate warning: the lead is saved, the seller is told what it resembles."""
        found = leads.duplicates(db.session, model)
        if found:
            flash(
                Markup(
                    _("Possible duplicate: the same organisation number or e-mail is already in the register.")
                    + " "
                    + "; ".join(duplicate_link(d) for d in found)
                ),
                "warning",
            )

    def render(self, template, **kwargs):
        if template == self.edit_template and kwargs.get("model") is not None:
            kwargs["duplicates"] = [duplicate_link(d) for d in leads.duplicates(db.session, kwargs["model"])]
        return super().render(template, **kwargs)

    def get_save_return_url(self, model, is_created=False):
        return url_for("lead.page", id=model.id)

    def _render_page(self, lead: Lead, form=None):
        """The lead's page; its activities only for who may see customers' activities (services.visibility)."""
        merged = merge.merged_into(db.session, "lead", lead.id) if lead.status == merge.LEAD_MERGED else None
        page = pager = None
        if may_see(current_user, Part.ACTIVITIES):
            page = read_page(leads.ACTIVITIES_ORDER, leads.activities(lead), request.args, per_page=card.PAGE_SIZE)
            others = {k: v for k, v in request.args.items() if k not in ("after", "before", "last")}
            pager = Pager(page, partial(url_for, ".page", id=lead.id, _anchor="activities", **others))
        return self.render(
            "admin/lead.html",
            lead=lead,
            status=Lead.STATUSES.get(lead.status, lead.status),
            duplicates=[duplicate_link(d) for d in leads.duplicates(db.session, lead)],
            merged_into=db.session.get(Lead, merged.survivor_id) if merged else None,
            history=SimpleNamespace(items=card.latest(db.session, card.history(lead), HISTORY_SHOWN)),
            page=page,
            pager=pager,
            form=form or ActivityForm(),
            kinds=Activity.KINDS,
            now=utcnow(),
        )

    @expose("/show/<int:id>")
    @require("lead.view")
    def page(self, id):
        """The lead's page: its details, duplicates, activities and history, and the way to edit or convert it
        (a lead in the trash has none: restore it first)."""
        return self._render_page(self.live_or_404(id))

    activity_column = "lead_id"

    def _page_record_or_404(self, id: int) -> Lead:
        return self.live_or_404(id)

    def _activity_links(self, lead: Lead) -> dict:
        return {"company_id": lead.company_id, "contact_id": lead.contact_id}

    # --- Konvertera till kund -----------------------------------------------------

    @expose("/convert/<int:id>", methods=("POST",))
    @require("lead.convert")
    def convert(self, id):
        """Convert one lead to a customer and open the new customer card (not one in the trash)."""
        lead = self.live_or_404(id)
        try:
            company = leads.convert(db.session, current_user, lead)
            left = leads.inactive_owner(lead)
            db.session.commit()
        except InvalidValue as exc:
            db.session.rollback()
            flash(str(exc), "error")
            return redirect(url_for(".page", id=id))
        if left is None:
            message = _(
                "%(name)s is now a customer with customer no. %(number)s.",
                name=company.name,
                number=company.customer_number,
            )
        else:
            message = _(
                "%(name)s is now a customer with customer no. %(number)s. You are its customer owner, "
                "as the lead's owner %(owner)s is no longer active.",
                name=company.name,
                number=company.customer_number,
                owner=left.name,
            )
        flash(message, "success")
        return redirect(url_for("company_card.index", id=company.id))

    @permitted_action(
        "convert", _l("Convert to customer"), "lead.convert", _l("Convert the selected leads to customers?")
    )
    def action_convert(self, ids):
        rows = db.session.scalars(
            select(Lead).where(Lead.id.in_([int(i) for i in ids]), Lead.deleted_at.is_(None)).order_by(Lead.id)
        ).all()
        try:
            converted, refused, taken_over = leads.convert_many(db.session, current_user, list(rows))
            names = ", ".join(f"{lead.company_name} ({left.name})" for lead, left in taken_over[:NAMED])
            db.session.commit()
        except InvalidValue as exc:
            db.session.rollback()
            flash(str(exc), "error")
            return
        if converted:
            flash(
                ngettext(
                    "%(num)s lead was converted to a customer.",
                    "%(num)s leads were converted to customers.",
                    len(converted),
                ),
                "success",
            )
        if taken_over:
            if len(taken_over) > NAMED:
                names += " " + _("and %(num)s more", num=len(taken_over) - NAMED)
            flash(
                ngettext(
                    "You are the customer owner of %(num)s new customer, as the owner of its lead is no longer "
                    "active: %(names)s.",
                    "You are the customer owner of %(num)s new customers, as the owners of their leads are no "
                    "longer active: %(names)s.",
                    len(taken_over),
                    names=names,
                ),
                "info",
            )
        for reason in refused:
            flash(reason, "warning")
