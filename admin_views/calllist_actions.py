"""The list action "Lägg till i ringlista", shared by the Leads, Företag and Kontakter lists."""

from flask import flash, redirect, url_for
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from flask_login import current_user
from sqlalchemy import select

from admin_views.base import permitted_action
from extensions import db
from services import calllists


class AddToCallListMixin:
    """Put the selected rows on a new call list of the employee and open it."""

    @permitted_action("add_to_call_list", _l("Add to call list"), "calllist.create")
    def action_add_to_call_list(self, ids):
        rows = db.session.scalars(select(self.model).where(self.model.id.in_([int(i) for i in ids])).order_by(self.model.id)).all()
        call_list = calllists.new_list(db.session, current_user, [r for r in rows if not getattr(r, "is_deleted", False)])
        db.session.commit()
        flash(ngettext("%(num)s entry was put on the call list %(name)s.", "%(num)s entries were put on the call list %(name)s.",
                       len(call_list.entries), name=call_list.name), "success")
        return redirect(url_for("calllist.work", id=call_list.id))
