"""CRM – Dubbletter: likely duplicate pairs, the side-by-side merge page, "inte dubbletter", undo.

The rules live in services.duplicates (finding and scoring), services.merge (merging and undoing)
and services.duplicate_tasks (the background scan).
"""

from flask import abort, flash, redirect, request, url_for
from flask_admin import expose
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import func, select

from admin_views import params
from admin_views.base import SecurePage, require
from admin_views.labels import field_label, field_value
from admin_views.listing import read_page
from admin_views.records import record_url
from extensions import db
from models import MergeRecord, utcnow
from services import custom_fields, duplicate_tasks, duplicates, formatting, merge
from services.permissions import LOGGED_IN
from services.validation import InvalidValue


def summary(kind: str, record) -> list[str]:
    """What tells a record apart at a glance: numbers, e-mail, phone, city."""
    if kind == "company":
        values = [
            formatting.org_number(record.org_number),
            record.email,
            formatting.phone(record.phone),
            record.postal_city,
        ]
        values.insert(0, _("Customer no. %(number)s", number=record.customer_number))
    elif kind == "contact":
        values = [record.email, formatting.phone(record.mobile or record.phone), record.postal_city]
        if record.customer_number:
            values.insert(0, _("Customer no. %(number)s", number=record.customer_number))
    else:
        values = [
            formatting.org_number(record.org_number),
            record.contact_email,
            formatting.phone(record.contact_phone),
        ]
    return [v for v in values if v]


class DuplicatesView(SecurePage):
    """Likely duplicates of one register (`?kind=company|contact|lead`), best score first.

    Each register's pairs and merges are shown to those who may view it (services.duplicates.VIEW);
    acting on them needs services.duplicates.ACT of that register, declared on each endpoint with the
    register's kind in its URL, so `may('.undo', kind=...)` in the templates asks what the server checks."""

    per_page = 50
    url_values = {"kind": tuple(duplicates.KINDS)}

    def is_accessible(self) -> bool:
        return current_user.is_authenticated and bool(duplicates.viewable_kinds(current_user))

    def _handle_view(self, name, **kwargs):
        if "kind" in kwargs and kwargs["kind"] not in duplicates.KINDS:
            abort(404)
        refused = super()._handle_view(name, **kwargs)
        if refused is None and not self.is_accessible():
            abort(403)
        return refused

    @expose("/")
    @require(LOGGED_IN)  # and some register's view (is_accessible); the kind asked for is checked below
    def index(self):
        """The pairs not marked "not duplicates" whose both records are still live, with score and reasons."""
        kinds = duplicates.viewable_kinds(current_user)
        kind = request.args.get("kind") or kinds[0]
        if kind not in duplicates.KINDS:
            abort(404)
        if kind not in kinds:
            abort(403)
        model = duplicates.KINDS[kind]
        page = read_page(duplicates.PAIR_ORDER, duplicates.listed_pairs(kind), request.args, per_page=self.per_page)
        ids = {i for p in page.items for i in (p.low_id, p.high_id)}
        records = {r.id: r for r in db.session.scalars(select(model).where(model.id.in_(ids)))} if ids else {}
        pairs = [
            {
                "pair": p,
                "a": records[p.low_id],
                "b": records[p.high_id],
                "reasons": [str(duplicates.REASONS.get(r, r)) for r in p.reasons],
            }
            for p in page.items
        ]
        merges = merge.recent(db.session, kind)
        return self.render(
            "admin/duplicates.html",
            kind=kind,
            kinds=[(k, duplicates.KIND_LABELS[k]) for k in kinds],
            pairs=pairs,
            page=page,
            scan=duplicate_tasks.state(db.session, kind),
            merges=merges,
            merged_records=merge.records(db.session, kind, {i for m in merges for i in (m.merged_id, m.survivor_id)}),
            identity=merge.identity,
            summary=summary,
            record_url=record_url,
        )

    @expose("/scan/<kind>", methods=("POST",))
    @require(*duplicates.ACT)
    def scan(self, kind):
        """Queue a scan of the whole register in the background."""
        if duplicate_tasks.request_scan(db.session, kind):
            flash(_("The search for duplicates has started; the list is updated when it is done."), "success")
        else:
            flash(_("A search for duplicates is already under way."), "info")
        return redirect(url_for(".index", kind=kind))

    @expose("/dismiss/<kind>/<int:pair_id>", methods=("POST",))
    @require(*duplicates.ACT)
    def dismiss(self, kind, pair_id):
        """ "Inte dubbletter": the pair is never listed again."""
        try:
            pair = duplicates.dismiss(db.session, current_user, kind, pair_id) or abort(404)
        except duplicates.NotPermitted:
            db.session.rollback()
            abort(403)
        db.session.commit()
        flash(_("The pair is marked as not duplicates and will not be shown again."), "success")
        return redirect(url_for(".index", kind=pair.entity_type))

    @expose("/merge/<kind>/<int:first>/<int:second>")
    @require(*duplicates.ACT)
    def merge_page(self, kind, first, second):
        """The two records side by side: which to keep, and per field whose value wins."""
        model = merge.MODELS[kind]
        a, b = db.session.get(model, first), db.session.get(model, second)
        if a is None or b is None or not merge.is_live(a) or not merge.is_live(b) or a.id == b.id:
            flash(_("One of the records is no longer in the register (it may have been merged already)."), "error")
            return redirect(url_for(".index", kind=kind))
        keep_id = params.id_param("keep") or (
            a.id if (a.updated_at or utcnow()) <= (b.updated_at or utcnow()) else b.id
        )
        keep_id = keep_id if keep_id in (a.id, b.id) else a.id
        keep, other = (a, b) if keep_id == a.id else (b, a)
        defaults = merge.default_choices(kind, keep, other)
        newer = other.id if merge.newer_is_merged(keep, other) else keep.id
        winner = {
            f: (keep.id if c == merge.KEEP else other.id if c == merge.MERGED else "both") for f, c in defaults.items()
        }
        differing = merge.differing_fields(kind, a, b)
        custom = merge.custom_conflicts(db.session, kind, a, b)
        winner.update(dict.fromkeys((key for key, *_values in custom), newer))
        return self.render(
            "admin/duplicates_merge.html",
            kind=kind,
            a=a,
            b=b,
            keep=keep,
            fields=[
                (f, field_label(f), field_value(kind, f, getattr(a, f)), field_value(kind, f, getattr(b, f)))
                for f in merge.FIELDS[kind]
            ]
            + [
                (key, definition.label, custom_fields.display(definition, va), custom_fields.display(definition, vb))
                for key, definition, va, vb in custom
            ],
            differing={*differing, *(key for key, *_values in custom)},
            winner=winner,
            joinable=merge.JOINABLE,
            summary=summary,
            record_url=record_url,
            related={r.id: self._related_counts(kind, r.id) for r in (a, b)},
        )

    @expose("/merge/<kind>", methods=("POST",))
    @require(*duplicates.ACT)
    def merge(self, kind):
        """Merge the posted pair as chosen; back to the kept record's card."""
        first, second = params.id_param("first", request.form), params.id_param("second", request.form)
        keep_id = params.id_param("keep", request.form)
        if not first or not second or keep_id not in (first, second):
            flash(_("Choose which record to keep."), "error")
            return redirect(url_for(".index", kind=kind))
        other_id = second if keep_id == first else first
        choices = {}
        custom = [name.removeprefix("field_") for name in request.form if name.startswith(f"field_{merge.CUSTOM}")]
        for field in [*merge.FIELDS[kind], *custom]:
            posted = request.form.get(f"field_{field}", "")
            if posted == "both":
                choices[field] = merge.BOTH
            elif posted == str(other_id):
                choices[field] = merge.MERGED
            elif posted == str(keep_id):
                choices[field] = merge.KEEP
        try:
            record = merge.merge(db.session, current_user, kind, keep_id, other_id, choices)
        except InvalidValue as exc:
            db.session.rollback()
            flash(str(exc), "error")
            return redirect(url_for(".merge_page", kind=kind, first=first, second=second))
        except merge.NotPermitted:
            db.session.rollback()
            abort(403)
        db.session.commit()
        merged_name, kept_name = merge.names(db.session, record)
        if merged_name is None:
            message = _(
                "The merged record was merged into %(kept)s. Everything attached to it is now here; "
                "the merge can be undone under CRM – Duplicates.",
                kept=kept_name,
            )
        else:
            message = _(
                "%(merged)s was merged into %(kept)s. Everything attached to it is now here; "
                "the merge can be undone under CRM – Duplicates.",
                merged=merged_name,
                kept=kept_name,
            )
        flash(message, "success")
        return redirect(record_url(kind, keep_id))

    @expose("/undo/<kind>/<int:record_id>", methods=("POST",))
    @require(*duplicates.ACT)
    def undo(self, kind, record_id):
        """Undo a merge: the merged record back from the trash with everything that was moved."""
        record = db.session.get(MergeRecord, record_id)
        if record is None or record.entity_type != kind:
            abort(404)
        try:
            merge.undo(db.session, current_user, record_id)
        except InvalidValue as exc:
            db.session.rollback()
            flash(str(exc), "error")
            return redirect(url_for(".index", kind=kind))
        except merge.NotPermitted:
            db.session.rollback()
            abort(403)
        db.session.commit()
        flash(_("The merge is undone: %(name)s is back with what it had.", name=record.merged_label), "success")
        return redirect(record_url(kind, record.merged_id))

    @staticmethod
    def _related_counts(kind: str, record_id: int) -> int:
        """How many rows point at the record (shown so nobody wonders whether anything is lost)."""
        total = 0
        for table_name, column in merge.FOREIGN_KEYS[kind]:
            table = db.metadata.tables[table_name]
            total += db.session.scalar(select(func.count()).select_from(table).where(table.c[column] == record_id))
        return total
