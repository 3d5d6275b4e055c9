"""Administration – Inställningar – CRM – Återställa kunder (the trash)."""

from functools import partial

from flask import abort, current_app, flash, redirect, request, url_for
from flask_admin import expose
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user

from admin_views.base import SecurePage, can, require
from admin_views.listing import Pager, count_text, read_page
from extensions import db
from models import Company, Contact, Lead
from services import merge, paging, storage, trash
from services.validation import is_id

KINDS = {"company": Company, "contact": Contact, "lead": Lead}
#: What restoring each kind needs beyond the page's company.restore (services.trash checks it again).
RESTORE_NEEDS = {"lead": "lead.restore"}


def shown_kinds() -> dict:
    """The kinds of the trash this employee may restore, each a section of the page."""
    return {kind: model for kind, model in KINDS.items() if can(RESTORE_NEEDS.get(kind, "company.restore"))}


def _selection() -> dict:
    """Ticked rows from the form, as {model: [ids]} (`company:12`, `contact:7`, `lead:3`)."""
    chosen: dict = {}
    for value in request.form.getlist("rowid"):
        kind, _sep, ident = value.partition(":")
        if kind in KINDS and is_id(ident):
            chosen.setdefault(KINDS[kind], []).append(int(ident))
    return chosen


def _in_trash(selection: dict) -> list:
    """The customers of `selection` ({model: ids}) that are in the trash."""
    return [
        row
        for model, ids in selection.items()
        for row in db.session.scalars(db.select(model).where(model.id.in_(ids), model.deleted_at.is_not(None)))
    ]


class TrashView(SecurePage):
    """Deleted customers and leads, who deleted them and when; restore or purge the ticked ones."""

    #: Rows per page of each section (companies, contacts).
    per_page = 50

    @expose("/")
    @require("company.restore")
    def index(self):
        """Deleted companies, deleted contacts and private customers, and deleted leads: each a list of its own,
        paged by key (`?company_after=…`, `?contact_last=1` …), newest deletion first."""
        sections = {}
        for kind, model in shown_kinds().items():
            stmt = trash.in_trash(model)
            page = read_page(trash.trash_order(model), stmt, request.args, per_page=self.per_page, prefix=f"{kind}_")
            others = {k: v for k, v in request.args.items() if not k.startswith(f"{kind}_")}
            sections[kind] = {
                "page": page,
                "pager": Pager(page, partial(url_for, ".index", **others), prefix=f"{kind}_"),
                "count": count_text(paging.capped_count(db.session, stmt)),
                # a lead merged into another is not in the trash (its status says so: services.merge)
                "merged_into": merge.kept_records(db.session, kind, [row.id for row in page.items])
                if kind != "lead"
                else {},
            }
        return self.render("admin/trash.html", sections=sections)

    @expose("/restore", methods=("POST",))
    @require("company.restore")
    def restore(self):
        try:
            counts = {model: trash.restore(db.session, current_user, model, ids) for model, ids in _selection().items()}
        except trash.NotPermitted:
            db.session.rollback()
            abort(403)
        db.session.commit()
        customers, leads = sum(n for model, n in counts.items() if model is not Lead), counts.get(Lead, 0)
        if customers:
            flash(ngettext("%(num)s customer was restored.", "%(num)s customers were restored.", customers), "success")
        if leads:
            flash(ngettext("%(num)s lead was restored.", "%(num)s leads were restored.", leads), "success")
        if not customers and not leads:
            flash(_("Tick the customers you want to restore."), "warning")
        return redirect(url_for(".index"))

    @expose("/purge", methods=("POST",))
    @require("company.purge")
    def purge(self):
        """Second step of a purge: the ticked customers are shown for confirmation."""
        selection = _selection()
        if any(not current_user.has_permission(trash.permission("purge", model)) for model in selection):
            abort(403)
        if not _in_trash(selection):
            flash(_("Tick the customers you want to delete permanently."), "warning")
            return redirect(url_for(".index"))
        reasons: dict = {}
        for model, ids in selection.items():
            reasons.update(trash.purge_blockers(db.session, model, ids))
        return self._confirm_page(selection, reasons)

    def _confirm_page(self, selection: dict, reasons: dict, *, refused: bool = False):
        """The confirmation: the customers that would go, and those that must be kept and why
        (`reasons`, from services.trash); only the former are carried to the confirming POST."""
        rows = [row for row in _in_trash(selection) if (type(row), row.id) not in reasons]
        return self.render("admin/trash_purge.html", rows=rows, kept=list(reasons.values()), refused=refused)

    @expose("/purge/confirm", methods=("POST",))
    @require("company.purge")
    def purge_confirm(self):
        if request.form.get("confirm") != "yes":
            flash(_("Nothing was deleted: the permanent deletion was not confirmed."), "warning")
            return redirect(url_for(".index"))
        files = storage.from_config(current_app.config)
        selection = _selection()
        try:
            counts = trash.purge_all(db.session, files, current_user, selection)
        except trash.CannotPurge as refused:
            db.session.rollback()
            return self._confirm_page(selection, refused.reasons, refused=True)
        except trash.NotPermitted:
            db.session.rollback()
            abort(403)
        db.session.commit()
        leads = counts.pop(Lead, 0)
        if leads:
            flash(
                ngettext("%(num)s lead was permanently deleted.", "%(num)s leads were permanently deleted.", leads),
                "success",
            )
        if sum(counts.values()) or not leads:
            flash(
                ngettext(
                    "%(num)s customer was permanently deleted.",
                    "%(num)s customers were permanently deleted.",
                    sum(counts.values()),
                ),
                "success",
            )
        return redirect(url_for(".index"))
