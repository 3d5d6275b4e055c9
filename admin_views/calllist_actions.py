""" "Lägg till i ringlista": the ticked rows of a list, or every match of a saved search,
put on a new call list or one that exists. Shared by the Leads, Företag and Kontakter lists."""

from flask import abort, flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from flask_login import current_user
from sqlalchemy import case, select

from admin_views import params
from admin_views.base import can, find_view, permitted_action
from extensions import db
from models import CallList
from services import calllists, saved_searches
from services.validation import InvalidValue, is_id


class AddToCallListMixin:
    """A list whose rows can be put on a call list."""

    can_save_search = True

    @permitted_action("add_to_call_list", _l("Add to call list"), "calllist.edit")
    def action_add_to_call_list(self, ids):
        return render_chooser(self, ids=[int(i) for i in ids])

    def call_list_targets(self, *, ids=None, args=None) -> list:
        """The live rows of this list: the ticked `ids`, or every match of the search `args`."""
        query = self.matching_query(args) if args is not None else self.get_query().filter(self.model.id.in_(ids))
        return [row for row in query if not getattr(row, "is_deleted", False)]


def source_view(endpoint: str):
    """The list view a call list is filled from, if the employee may read it; else 403/404."""
    view = find_view(endpoint)
    if not isinstance(view, AddToCallListMixin):
        abort(404)
    if not can(f"{view.permission_area}.view"):
        abort(403)
    return view


def open_call_lists() -> list[CallList]:
    """The lists to add to: the employee's own first, then the others', by name."""
    mine_first = case((CallList.owner_id == current_user.id, 0), else_=1)
    return list(db.session.scalars(select(CallList).order_by(mine_first, CallList.name)))


def render_chooser(view, *, ids=None, saved=None, error=None):
    """The page where the employee picks a list (or names a new one) for the rows, told beforehand
    how many will be left out for consent or an erasure (services.calllists.reachable)."""
    targets = view.call_list_targets(ids=ids) if ids is not None else None
    if targets is None:
        targets = view.call_list_targets(args=saved_searches.args_of(saved))
    count = len(ids) if ids is not None else len(targets)
    return view.render(
        "admin/calllist_add.html",
        source=view.endpoint,
        source_name=view.name,
        ids=ids or [],
        saved=saved,
        count=count,
        consent_note=calllists.reachable(db.session, targets).explanation(),
        call_lists=open_call_lists(),
        default_name=calllists.default_name(),
        error=error,
        can_create=can("calllist.create"),
    )


def add_from_request():
    """POST of the chooser: add the rows to the chosen list (or a new one) and open it."""
    view = source_view(request.form.get("source", ""))
    saved = None
    if request.form.get("saved_search"):
        saved = saved_searches.get_visible(
            db.session, current_user, params.id_param("saved_search", request.form)
        ) or abort(404)
        if saved.view != view.endpoint:  # a search of another list means other filters
            abort(404)
        targets = view.call_list_targets(args=saved_searches.args_of(saved))
    else:
        ids = [int(i) for i in request.form.getlist("rowid") if is_id(i)]
        targets = view.call_list_targets(ids=ids)
    chosen = request.form.get("call_list", "")
    try:
        if chosen == "new":
            if not can("calllist.create"):
                abort(403)
            call_list = calllists.new_list(db.session, current_user, [], name=request.form.get("name"))
        else:
            call_list = db.session.get(CallList, int(chosen)) if is_id(chosen) else None
            if call_list is None:
                raise InvalidValue(_("Choose a call list or create a new one."))
        result = calllists.add_entries(db.session, call_list, targets)
    except InvalidValue as exc:
        db.session.rollback()
        ids = None if saved else [t.id for t in targets]
        return render_chooser(view, ids=ids, saved=saved, error=str(exc)), 400
    db.session.commit()
    flash(
        ngettext(
            "%(num)s entry was put on the call list %(name)s.",
            "%(num)s entries were put on the call list %(name)s.",
            result.added,
            name=call_list.name,
        ),
        "success",
    )
    if result.already:
        flash(
            ngettext("%(num)s was already on the list.", "%(num)s were already on the list.", result.already),
            "info",
        )
    if result.selection.skipped_total:
        flash(result.selection.explanation(), "warning")
    return redirect(url_for("calllist.work", id=call_list.id))
