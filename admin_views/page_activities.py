"""A record's own page with its activities (an opportunity's, a lead's): a task, meeting, call or note added
there, and one marked done, as on the customer card (services.activities)."""

from flask import abort, flash, redirect, request, url_for
from flask_admin import expose
from flask_babel import gettext as _
from sqlalchemy import select

from admin_views.base import require
from admin_views.card import ActivityForm, create_activity
from extensions import db
from models import Activity
from services import activities
from services.validation import InvalidValue
from services.visibility import Part, permission


class PageActivitiesMixin:
    """The view has a `.page` endpoint showing one record with its activities. It names the Activity column that
    points at its records (`activity_column`) and gives `_page_record_or_404(id)`, `_render_page(record, form)`
    and `_activity_links(record)`: the ids a new activity is linked to besides the record (its customer)."""

    activity_column: str

    @expose("/show/<int:id>/activities", methods=("POST",))
    @require("{area}.view", "activity.edit", permission(Part.ACTIVITIES))
    def add_activity(self, id):
        """A task, meeting, call or note on the record (and on its customer's card)."""
        record = self._page_record_or_404(id)
        form = ActivityForm(request.form)
        if not form.validate():
            flash(_("The activity was not saved: correct the marked fields."), "error")
            return self._render_page(record, form)
        try:
            create_activity(form, **{self.activity_column: record.id}, **self._activity_links(record))
            db.session.commit()
        except InvalidValue as exc:
            db.session.rollback()
            flash(str(exc), "error")
            return self._render_page(record, form)
        flash(_("The activity was saved."), "success")
        return redirect(url_for(".page", id=record.id) + "#activities")

    @expose("/show/<int:id>/activities/<int:activity_id>/done", methods=("POST",))
    @require("{area}.view", "activity.edit", permission(Part.ACTIVITIES))
    def activity_done(self, id, activity_id):
        """Mark one of the record's tasks, meetings or calls done (or reopen it)."""
        record = self._page_record_or_404(id)
        activity = db.session.scalar(
            select(Activity).where(Activity.id == activity_id, getattr(Activity, self.activity_column) == record.id)
        ) or abort(404)
        activities.set_done(activity, request.form.get("done") != "0")
        db.session.commit()
        return redirect(url_for(".page", id=record.id) + "#activities")
