"""CRM – Sparade sökningar: save a list's search under a name, run it again, delete it."""

from flask import abort, flash, redirect, request, url_for
from flask_admin import expose
from flask_babel import gettext as _
from flask_login import current_user

from admin_views.base import LOGGED_IN, SecurePage, can, find_view, require
from extensions import db
from services import saved_searches
from services.validation import InvalidValue


def searchable_view(endpoint: str):
    """The list view of `endpoint` if its search can be saved and the employee may read it."""
    view = find_view(endpoint)
    return view if getattr(view, "can_save_search", False) and can(f"{view.permission_area}.view") else None


def searchable_view_or_abort(endpoint: str):
    """As searchable_view, but 404 for a list without saved searches and 403 for one the employee may not read."""
    view = find_view(endpoint)
    if not getattr(view, "can_save_search", False):
        abort(404)
    return searchable_view(endpoint) or abort(403)


def list_url(saved) -> str:
    return url_for(f"{saved.view}.index_view") + "?" + saved.query


class SavedSearchView(SecurePage):
    """The employee's saved searches and those colleagues share."""

    @expose("/")
    @require(LOGGED_IN)
    def index(self):
        rows = [
            (s, view)
            for s in saved_searches.visible(db.session, current_user)
            if (view := searchable_view(s.view)) is not None
        ]
        return self.render(
            "admin/saved_searches.html",
            rows=rows,
            list_url=list_url,
            may_delete=lambda saved: saved_searches.may_delete(current_user, saved),
        )

    @expose("/save", methods=("POST",))
    @require(LOGGED_IN)
    def save(self):
        """ "Spara sökning" from a list's toolbar: the list's current search under a name."""
        view = searchable_view_or_abort(request.form.get("view", ""))
        args = [(k, v) for k, v in request.form.items(multi=True) if k not in ("view", "name", "shared", "csrf_token")]
        try:
            saved = saved_searches.save(
                db.session,
                current_user,
                view.endpoint,
                request.form.get("name", ""),
                args,
                shared=request.form.get("shared") == "y",
            )
        except saved_searches.NotPermitted:
            abort(403)
        except InvalidValue as exc:
            flash(_("The search was not saved: %(reason)s", reason=str(exc)), "error")
            return redirect(url_for(f"{view.endpoint}.index_view", **dict(saved_searches.args_to_return_to(args))))
        db.session.commit()
        flash(_("The search %(name)s was saved.", name=saved.name), "success")
        return redirect(list_url(saved))

    @expose("/<int:id>/delete", methods=("POST",))
    @require(LOGGED_IN)
    def delete(self, id):
        saved = saved_searches.get_visible(db.session, current_user, id) or abort(404)
        try:
            saved_searches.delete(db.session, current_user, saved)
        except PermissionError:
            abort(403)
        db.session.commit()
        flash(_("The search %(name)s was deleted.", name=saved.name), "success")
        return redirect(url_for(".index"))
