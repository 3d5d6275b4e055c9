"""Ringlistor (CRM): the lists, and working one call by call.

Filling and working a list (outcomes, call activities) lives in services.calllists.
"""

from flask import abort, flash, g, redirect, request, url_for
from flask_admin import expose
from flask_admin.form import BaseForm
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from markupsafe import Markup
from wtforms import SelectField, TextAreaField
from wtforms.validators import Optional

from admin_views import calllist_actions, params
from admin_views.base import LocalDateTimeField, SecureModelView, employee_picker, require
from admin_views.filters import EmployeeFilter
from extensions import db
from models import CallList, CallListEntry
from services import calllists, fields, saved_searches
from services.validation import InvalidValue


class OutcomeForm(BaseForm):
    outcome = SelectField(_l("Outcome"), choices=list(CallListEntry.OUTCOMES.items()))
    callback_at = LocalDateTimeField(_l("Call back at"), validators=[Optional()])
    note = TextAreaField(_l("Note"), validators=[Optional()])


class CallListView(SecureModelView):
    """Ringlistor: who to call, in order, and how far the owner has come."""

    permission_area = "calllist"
    create_label = _l("New call list")
    column_list = ["name", "owner", "progress", "created_at"]
    #: Indexed columns only (models.KEYSET_INDEXES); the owner is a filter.
    column_sortable_list = ["name", "created_at"]
    column_select_related_list = [CallList.owner]
    column_default_sort = ("created_at", True)
    column_labels = {
        "name": fields.label("name"),
        "owner": _l("Owner"),
        "progress": _l("Called / total"),
        "created_at": fields.label("created_at"),
        "description": fields.label("description"),
    }
    column_formatters = {
        "name": lambda v, c, m, n: Markup('<a href="{}">{}</a>').format(url_for("calllist.work", id=m.id), m.name),
        "progress": lambda v, c, m, n: "{} / {}".format(*v.progress(m)),
        "created_at": lambda v, c, m, n: m.created_at.date().isoformat() if m.created_at else "",
    }
    column_filters = [EmployeeFilter(CallList.owner_id, _l("Owner"))]
    column_export_list = ["name", "owner", "created_at"]
    form_columns = ["name", "owner", "description"]
    form_ajax_refs = {"owner": employee_picker("owner")}

    def search_placeholder(self) -> str:
        return ""

    def prefetch_list(self, rows):
        """Called / total of every list on the page, in one statement."""
        g.calllist_progress = calllists.progress_of(db.session, [row.id for row in rows])

    def progress(self, call_list) -> tuple[int, int]:
        known = g.get("calllist_progress") or {}
        return known[call_list.id] if call_list.id in known else calllists.progress(db.session, call_list)

    def on_model_change(self, form, model, is_created):
        if is_created and model.owner is None:
            model.owner = current_user._get_current_object()

    def get_save_return_url(self, model, is_created=False):
        return url_for("calllist.work", id=model.id)

    @expose("/add", methods=("GET", "POST"))
    @require("calllist.edit")
    def add(self):
        """ "Lägg till i ringlista" for every match of a saved search (GET), and the chooser's POST."""
        if request.method == "POST":
            return calllist_actions.add_from_request()
        saved = saved_searches.get_visible(db.session, current_user, params.id_param("saved_search") or 0)
        if saved is None:
            abort(404)
        return calllist_actions.render_chooser(calllist_actions.source_view(saved.view), saved=saved)

    def _render_work(self, call_list, form=None):
        entry = calllists.next_entry(db.session, call_list)
        called, total = calllists.progress(db.session, call_list)
        return self.render(
            "admin/calllist_work.html",
            call_list=call_list,
            entry=entry,
            called=called,
            total=total,
            phones=calllists.phones(entry) if entry else [],
            not_to_call=calllists.not_to_call(entry) if entry else None,
            form=form or OutcomeForm(),
            outcomes=CallListEntry.OUTCOMES,
            entries=calllists.entries(db.session, call_list),
            in_trash=calllists.in_trash,
        )

    @expose("/work/<int:id>")
    @require("calllist.view")
    def work(self, id):
        """Work the list: the next entry with its numbers, the outcome form, and the progress."""
        return self._render_work(db.session.get(CallList, id) or abort(404))

    @expose("/work/<int:id>/<int:entry_id>", methods=("POST",))
    @require("calllist.edit", "activity.edit")
    def record(self, id, entry_id):
        """Record the outcome of calling an entry; "interested" offers a new sales opportunity."""
        call_list = db.session.get(CallList, id) or abort(404)
        entry = db.session.get(CallListEntry, entry_id)
        if entry is None or entry.call_list_id != call_list.id:
            abort(404)
        form = OutcomeForm(request.form)
        if not form.validate():
            flash(_("The call was not saved: correct the marked fields."), "error")
            return self._render_work(call_list, form)
        try:
            calllists.record_outcome(
                db.session,
                current_user,
                entry,
                form.outcome.data,
                note=form.note.data,
                callback_at=form.callback_at.data,
            )
            db.session.commit()
        except InvalidValue as exc:
            db.session.rollback()
            flash(str(exc), "error")
            return self._render_work(call_list, form)
        flash(_("The call was saved."), "success")
        customer = (
            entry.company
            or (entry.contact if entry.contact and entry.contact.is_private_customer else None)
            or (entry.lead.company if entry.lead else None)
        )
        if (
            form.outcome.data == "interested"
            and customer is not None
            and current_user.has_permission("opportunity.create")
        ):
            key = "contact_id" if customer is entry.contact else "company_id"
            return redirect(url_for("opportunity.create_view", url=url_for(".work", id=id), **{key: customer.id}))
        return redirect(url_for(".work", id=id))
