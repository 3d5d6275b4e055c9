"""Säljmöjligheter (CRM) and Säljsteg (Administration – Inställningar – CRM).

Declarative views; the rules (default probability, rejection reason, the
customer, the history, which stages may be deleted) live in services.sales.
"""

from functools import partial

from flask import abort, flash, jsonify, request, url_for
from flask_admin import expose
from flask_admin.contrib.sqla.filters import BaseSQLAFilter
from flask_admin.form import rules
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from markupsafe import Markup
from sqlalchemy import or_, select
from wtforms.validators import NumberRange, Optional

from admin_views import params, redirects
from admin_views.base import (
    HiddenRule,
    SearchAjaxLoader,
    SecureModelView,
    employee_picker,
    fmt_bool,
    fmt_choice,
    require,
)
from admin_views.card import ActivityForm
from admin_views.filters import DynamicOptions, EmployeeFilter, IsFilter
from admin_views.listing import Pager, read_page
from admin_views.page_activities import PageActivitiesMixin
from admin_views.settings import SETTINGS_VERBS
from extensions import db
from models import Activity, Company, Contact, EmployeeGroup, Opportunity, SalesStage, utcnow
from services import card, employees, fields, formatting, sales, search
from services.validation import InvalidValue
from services.visibility import Part, may_see

PERCENT = [NumberRange(0, 100, _l("The probability must be between 0 and 100 percent."))]


def customer_lookups() -> dict:
    """AJAX look-ups of the customer: a company, or a private customer (a contact with a customer number)."""
    return {
        "company": SearchAjaxLoader("company", Company),
        "contact": SearchAjaxLoader("contact", Contact, extra=Contact.customer_number.is_not(None)),
    }


def fmt_money(view, context, model, name):
    return formatting.money(getattr(model, name))


def fmt_percent(view, context, model, name):
    return formatting.percent(getattr(model, name))


def fmt_iso_date(view, context, model, name):
    return formatting.iso_date(getattr(model, name))


def customer_link(customer) -> Markup:
    """A link to the customer card of a company or a private customer."""
    if customer is None:
        return Markup("")
    endpoint = "company_card.index" if isinstance(customer, Company) else "privatecustomer_card.index"
    return Markup('<a href="{}">{}</a>').format(url_for(endpoint, id=customer.id), customer.name)


class SalesStageView(SecureModelView):
    """Säljsteg: the steps of the sales process; a stage in use is deactivated, not deleted."""

    delete_rule = staticmethod(sales.delete_stage)
    permission_area = "settings"
    endpoint_verbs = SETTINGS_VERBS
    create_label = _l("New sales stage")
    column_list = ["sort_order", "name", "probability", "is_won", "is_lost", "active"]
    column_default_sort = "sort_order"
    column_sortable_list = ["sort_order", "name"]  # indexed (name is unique)
    column_labels = {
        "sort_order": _l("Order"),
        "name": fields.label("name"),
        "probability": fields.label("probability"),
        "is_won": _l("Won"),
        "is_lost": _l("Lost"),
        "active": _l("Active"),
    }
    column_formatters = {"is_won": fmt_bool, "is_lost": fmt_bool, "active": fmt_bool, "probability": fmt_percent}
    form_columns = ["name", "sort_order", "probability", "is_won", "is_lost", "active"]
    form_args = {
        "probability": {"validators": PERCENT, "description": _l("Default probability of opportunities in this stage.")}
    }

    def search_placeholder(self) -> str:
        return ""  # a handful of rows: no quick search

    def on_model_change(self, form, model, is_created):
        sales.check_stage(model)


class StageFilter(DynamicOptions, IsFilter):
    options_query = select(SalesStage.id, SalesStage.name).order_by(SalesStage.sort_order, SalesStage.id)


class CustomerFilter(BaseSQLAFilter):
    """Opportunities whose customer (company or private customer) has a name containing the text."""

    def apply(self, query, value, alias=None):
        like = f"%{value.strip()}%"
        return query.filter(
            or_(
                Opportunity.company.has(Company.name.ilike(like)),
                Opportunity.contact.has(or_(Contact.first_name.ilike(like), Contact.last_name.ilike(like))),
            )
        )

    def operation(self):
        return _l("contains")


class OpportunityView(PageActivitiesMixin, SecureModelView):
    """Säljmöjligheter: the plain list with filters, the form and the opportunity's own page."""

    can_save_search = True

    permission_area = "opportunity"
    create_label = _l("New sales opportunity")

    def get_query(self):  # a customer in the trash takes its opportunities with it, until it is restored
        return super().get_query().filter(search.customer_live(Opportunity))

    def get_count_query(self):
        return super().get_count_query().filter(search.customer_live(Opportunity))

    list_template = "admin/opportunity_list.html"
    column_list = ["title", "customer", "stage", "amount", "probability", "close_date", "owner"]
    #: Indexed columns only (models.KEYSET_INDEXES); stage and owner are filters (and the board).
    column_sortable_list = ["title", "amount", "close_date"]
    column_default_sort = ("close_date", False)
    column_select_related_list = [Opportunity.company, Opportunity.contact, Opportunity.owner, Opportunity.stage]
    column_labels = {
        "title": fields.label("title"),
        "customer": fields.label("customer"),
        "company": fields.label("company"),
        "contact": _l("Private customer"),
        "owner": fields.label("owner"),
        "stage": fields.label("stage"),
        "amount": fields.label("amount"),
        "probability": fields.label("probability"),
        "close_date": fields.label("close_date"),
        "source": fields.label("source"),
        "kind": fields.label("kind"),
        "lost_reason": fields.label("lost_reason"),
        "description": fields.label("description"),
    }
    column_formatters = {
        "title": lambda v, c, m, n: Markup('<a href="{}">{}</a>').format(url_for("opportunity.page", id=m.id), m.title),
        "customer": lambda v, c, m, n: customer_link(m.customer),
        "amount": fmt_money,
        "probability": fmt_percent,
        "close_date": fmt_iso_date,
        "kind": fmt_choice(Opportunity.KINDS),
    }
    column_filters = [
        EmployeeFilter(Opportunity.owner_id, fields.label("owner_id")),
        StageFilter(Opportunity.stage_id, _l("Stage")),
        CustomerFilter(Opportunity.id, _l("Customer")),
    ]
    column_export_list = [
        "title",
        "customer",
        "stage",
        "amount",
        "probability",
        "close_date",
        "owner",
        "source",
        "kind",
    ]
    column_formatters_export = {
        "customer": lambda v, c, m, n: m.customer.name if m.customer else "",
        "kind": fmt_choice(Opportunity.KINDS),
    }
    form_columns = [
        "title",
        "company",
        "contact",
        "owner",
        "stage",
        "amount",
        "probability",
        "close_date",
        "source",
        "kind",
        "lost_reason",
        "description",
    ]
    form_rules = [
        rules.FieldSet(("title", rules.Row("company", "contact"), "owner"), _l("Sales opportunity")),
        rules.FieldSet(
            (
                rules.Row("stage", "probability"),
                rules.Row("amount", "close_date"),
                rules.Row("source", "kind"),
                "lost_reason",
            ),
            _l("Sales process"),
        ),
        rules.FieldSet(("description", HiddenRule("version")), _l("Description")),
    ]
    form_choices = {"kind": list(Opportunity.KINDS.items())}
    form_args = {
        "stage": {  # the active stages; one deactivated since stays the choice of those in it (OfferedRecords)
            "query_factory": lambda: db.session.scalars(
                select(SalesStage).where(SalesStage.active).order_by(SalesStage.sort_order, SalesStage.id)
            ).all()
        },
        "probability": {
            "validators": [Optional(), *PERCENT],
            "description": _l("Leave empty to use the stage's probability."),
        },
        "amount": {
            "validators": [Optional(), NumberRange(min=0, message=_l("The expected amount cannot be negative."))]
        },
        "company": {"description": _l("A company, or else a private customer below.")},
        "lost_reason": {"description": _l("Required when the stage is lost.")},
    }
    form_widget_args = {"description": {"rows": 4}, "lost_reason": {"rows": 2}}
    form_ajax_refs = {
        **customer_lookups(),
        "owner": employee_picker("owner"),
    }

    def search_placeholder(self) -> str:
        return _("Title")

    def create_form(self, obj=None):
        """From a customer card: ?company_id= or ?contact_id= chooses the customer."""
        form = super().create_form(obj)
        if request.method == "GET":
            company = db.session.get(Company, params.id_param("company_id") or 0)
            contact = db.session.get(Contact, params.id_param("contact_id") or 0)
            if company is not None and not company.is_deleted:
                form.company.data = company
            if contact is not None and not contact.is_deleted and contact.is_private_customer:
                form.contact.data = contact
            if form.owner.data is None:
                # the customer's owner, unless they left: an inactive one is no new choice (services.employees)
                owner = company.owner if company is not None else None
                form.owner.data = owner if employees.is_choosable(owner) else current_user._get_current_object()
        return form

    def on_model_change(self, form, model, is_created):
        if is_created and model.owner is None:
            model.owner = current_user._get_current_object()

    def get_save_return_url(self, model, is_created=False):
        return url_for("opportunity.page", id=model.id)

    # --- the opportunity's page: details, history, linked activities ---------------

    def get_one(self, id):
        """Edit, details, inline edit and delete: not an opportunity of a customer in the trash."""
        row = super().get_one(id)
        return row if row is not None and sales.live_opportunity(db.session, row.id) is not None else None

    def _opportunity_or_404(self, id: int) -> Opportunity:
        return sales.live_opportunity(db.session, id) or abort(404)

    activity_column = "opportunity_id"
    _page_record_or_404 = _opportunity_or_404

    def _activity_links(self, opportunity: Opportunity) -> dict:
        return {"company_id": opportunity.company_id, "contact_id": opportunity.contact_id}

    def _render_page(self, opportunity: Opportunity, form=None):
        """The page; its activities only for who may see customers' activities (services.visibility)."""
        page = pager = None
        if may_see(current_user, Part.ACTIVITIES):
            page = read_page(
                sales.ACTIVITIES_ORDER, sales.activities(opportunity), request.args, per_page=card.PAGE_SIZE
            )
            others = {k: v for k, v in request.args.items() if k not in ("after", "before", "last")}
            pager = Pager(page, partial(url_for, ".page", id=opportunity.id, _anchor="activities", **others))
        return self.render(
            "admin/opportunity.html",
            opportunity=opportunity,
            customer_link=customer_link(opportunity.customer),
            weighted=sales.weighted_amount(opportunity),
            changes=db.session.scalars(sales.history(opportunity)).all(),
            page=page,
            pager=pager,
            form=form or ActivityForm(),
            kinds=Activity.KINDS,
            field_labels=sales.HISTORY_LABELS,
            opportunity_kind=Opportunity.KINDS.get(opportunity.kind, opportunity.kind or ""),
            now=utcnow(),
        )

    @expose("/show/<int:id>")
    @require("opportunity.view")
    def page(self, id):
        """The opportunity with its history and its tasks, meetings and notes."""
        return self._render_page(self._opportunity_or_404(id))

    # --- the pipeline board ---------------------------------------------------------

    @expose("/board")
    @require("opportunity.view")
    def board(self):
        """Säljtavla: a column per stage; cards are dragged (or moved with their menu) between stages."""
        owner_id = params.id_param("owner")
        group_id = params.id_param("group")
        return self.render(
            "admin/pipeline.html",
            columns=sales.board(db.session, owner_id=owner_id, group_id=group_id),
            owners=employees.active(db.session),
            groups=db.session.scalars(select(EmployeeGroup).order_by(EmployeeGroup.name)).all(),
            owner_id=owner_id,
            group_id=group_id,
            stages=sales.active_stages(db.session),
        )

    @expose("/board/move", methods=("POST",))
    @require("opportunity.edit")
    def move(self):
        """Move an opportunity to another stage (the drag on the board); the history records it."""
        wants_json = request.headers.get("X-Requested-With") == "fetch"
        opportunity = sales.live_opportunity(db.session, params.id_param("id", request.form) or 0)
        stage = db.session.get(SalesStage, params.id_param("stage", request.form) or 0)
        if opportunity is None or stage is None or not stage.active:
            abort(404)
        try:
            sales.move_to_stage(opportunity, stage, lost_reason=request.form.get("lost_reason"))
            db.session.commit()
        except InvalidValue as exc:
            db.session.rollback()
            if wants_json:
                return jsonify(ok=False, message=str(exc)), 400
            flash(str(exc), "error")
        else:
            message = _("%(title)s was moved to %(stage)s.", title=opportunity.title, stage=stage.name)
            if wants_json:
                return jsonify(ok=True, message=message, probability=opportunity.probability)
            flash(message, "success")
        return redirects.redirect_to(request.form.get("next"), url_for(".board"))
