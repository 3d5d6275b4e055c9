""" "Ändra flera" on the lists of companies, suppliers, contacts, private customers and leads: the ticked rows
(Fler åtgärder – Ändra flera…) or every match of the current search (Ändra alla träffar…). The rules are
services.mass_update's."""

from urllib.parse import urlencode

from flask import abort, flash, redirect, request, url_for
from flask_admin import expose
from flask_admin.actions import action
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from flask_login import current_user
from sqlalchemy import select, true
from werkzeug.datastructures import MultiDict

from admin_views.base import can, require
from admin_views.card import CURRENCIES, INVOICE_LANGUAGES
from admin_views.labels import field_label, field_value
from extensions import db
from models import COMPANY_STATUSES_CHOSEN, Category, Industry, Lead, MassUpdate
from services import custom_fields, employees, mass_update
from services.validation import InvalidValue, is_id

#: The most rows one "Ändra alla träffar" changes.
MAX_ROWS = 100_000


class MassUpdateMixin:
    """A list whose rows can be changed many at once."""

    @action("mass_update", _l("Change many…"))
    def action_mass_update(self, ids):
        return self._mass_update_form(ids=[int(i) for i in ids if is_id(i)], query="")

    def is_action_allowed(self, name):
        if name == "mass_update":
            return can(f"{self.permission_area}.edit")
        return super().is_action_allowed(name)

    @property
    def can_mass_update(self) -> bool:
        return can(f"{self.permission_area}.edit")

    @expose("/mass-update/")
    @require("{area}.edit")
    def mass_update_matches(self):
        """The form for every row the list's search and search options find (nothing is changed by a GET)."""
        query = urlencode(list(request.args.items(multi=True)))
        return self._mass_update_form(ids=None, query=query)

    @expose("/mass-update/", methods=("POST",))
    @require("{area}.edit")
    def mass_update_apply(self):
        """Change the posted rows (or the posted search's matches) as the form says; then the result page."""
        query = request.form.get("query", "")
        ids = self._target_ids(None, query) if query else [int(i) for i in request.form.getlist("rowid") if is_id(i)]
        changes = {
            field: request.form.get(field, "")
            for field in (*mass_update.COLUMNS[self.permission_area], "add_category", "remove_category")
        }
        if request.form.get("custom_field_id"):
            changes["custom_field"] = [request.form["custom_field_id"], request.form.get("custom_field_value", "")]
        try:
            job = mass_update.start(db.session, current_user, self.permission_area, ids, changes)
        except InvalidValue as exc:
            db.session.rollback()
            return self._mass_update_form(ids=None if query else ids, query=query, error=str(exc)), 400
        except mass_update.NotPermitted:
            db.session.rollback()
            abort(403)
        return redirect(url_for(".mass_update_status", job_id=job.id))

    @expose("/mass-update/<int:job_id>")
    @require("{area}.edit")
    def mass_update_status(self, job_id):
        """What a mass update did (or how far it is), with its undo, and how many records it left out."""
        job = self._job_or_404(job_id)
        return self.render(
            "admin/mass_update_status.html",
            job=job,
            changes=self._describe(job.changes),
            statuses=MassUpdate.STATUSES,
            left_out=left_out(job),
        )

    @expose("/mass-update/<int:job_id>/undo", methods=("POST",))
    @require("{area}.edit")
    def mass_update_undo(self, job_id):
        """Undo the whole mass update as one step."""
        job = self._job_or_404(job_id)
        try:
            restored = mass_update.undo(db.session, current_user, job.id)
        except InvalidValue as exc:
            db.session.rollback()
            flash(str(exc), "error")
            return redirect(url_for(".mass_update_status", job_id=job_id))
        except mass_update.NotPermitted:
            db.session.rollback()
            abort(403)
        db.session.commit()
        flash(
            ngettext("The change is undone on %(num)s record.", "The change is undone on %(num)s records.", restored),
            "success",
        )
        return redirect(url_for(".mass_update_status", job_id=job_id))

    # --- helpers ---------------------------------------------------------------------------------

    def _job_or_404(self, job_id: int) -> MassUpdate:
        job = db.session.get(MassUpdate, job_id)
        if job is None or job.entity_type != self.permission_area:
            abort(404)
        return job

    def _target_ids(self, ids, query: str) -> list[int]:
        return ids if ids is not None else matching_ids(self, query)

    def _mass_update_form(self, *, ids, query: str, error: str | None = None):
        kind = self.permission_area
        count = len(ids) if ids is not None else len(self._target_ids(None, query))
        scope = "contact" if kind == "contact" else "company"
        categories = db.session.scalars(
            select(Category)
            .where(Category.applies_to.in_((scope, "both")) if kind != "lead" else true())
            .order_by(Category.name)
        ).all()
        statuses = []
        if kind == "company":
            statuses = list(COMPANY_STATUSES_CHOSEN.items())
        elif kind == "lead":
            statuses = list(Lead.STATUSES_CHOSEN.items())
        return self.render(
            "admin/mass_update.html",
            kind=kind,
            ids=ids or [],
            query=query,
            count=count,
            error=error,
            columns=mass_update.COLUMNS[kind],
            employees=employees.active(db.session),
            statuses=statuses,
            categories=categories,
            industries=db.session.scalars(select(Industry).order_by(Industry.name)).all() if kind == "company" else [],
            languages=INVOICE_LANGUAGES,
            currencies=CURRENCIES,
            show_invoice=can("tab.settings") and kind != "lead",
            custom=custom_fields.active_fields(db.session, kind) if kind != "lead" and can("tab.custom") else [],
            list_url=url_for(".index_view") + (f"?{query}" if query else ""),
            form=request.form,
        )

    def _describe(self, changes: dict) -> list[tuple[str, str]]:
        """The changes as the result page names them."""
        described = []
        for field, value in changes.items():
            if field in ("add_category", "remove_category"):
                label = _("Add category") if field == "add_category" else _("Remove category")
                described.append((label, str(db.session.get(Category, value) or value)))
            elif field == "custom_field":
                from models import CustomFieldDefinition

                definition = db.session.get(CustomFieldDefinition, value[0])
                described.append((str(definition), "" if value[1] is None else str(value[1])))
            else:
                described.append((field_label(field), field_value(self.permission_area, field, value)))
        return described


def left_out(job: MassUpdate) -> str | None:
    """Why some of the selected records were left unchanged (erased persons' records, counted by
    services.mass_update whether the change ran at once or on the task queue), or None."""
    if not job.erased_count:
        return None
    return ngettext(
        "%(num)s of the records was left unchanged: an erased person's record is read-only (GDPR).",
        "%(num)s of the records were left unchanged: erased persons' records are read-only (GDPR).",
        job.erased_count,
    )


def matching_ids(view, query: str, limit: int = MAX_ROWS) -> list[int]:
    """Ids of the rows the list `view` shows for the query string `query` (its search and search
    options), in the list's order, at most `limit`."""
    from urllib.parse import parse_qsl

    matching = view.matching_query(MultiDict(parse_qsl(query, keep_blank_values=False)).items(multi=True))
    return [row_id for (row_id,) in matching.with_entities(view.model.id).limit(limit)]
