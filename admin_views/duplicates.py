"""CRM – Dubbletter: likely duplicate pairs, the side-by-side merge page, "inte dubbletter", undo.

The rules live in services.duplicates (finding and scoring), services.merge (merging and undoing)
and services.duplicate_tasks (the background scan).
"""

from flask import abort, flash, redirect, request, url_for
from flask_admin import expose
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import func, select
from sqlalchemy.orm import aliased

from admin_views import params
from admin_views.base import SecurePage, can, require
from admin_views.labels import field_label
from admin_views.listing import read_page
from extensions import db
from models import COMPANY_STATUS_LABELS, DuplicatePair, Employee, Industry, Lead, MergeRecord, utcnow
from services import custom_fields, duplicate_tasks, duplicates, formatting, merge, paging, personal_numbers
from services.validation import InvalidValue

PAIR_ORDER = paging.ListOrder([DuplicatePair.score], DuplicatePair.id, descending=True)


def record_url(kind: str, record_id: int) -> str:
    """The card of a company or contact, the page of a lead."""
    if kind == "lead":
        return url_for("lead.page", id=record_id)
    return url_for(f"{kind}_card.index", id=record_id)


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


def display(record, field: str) -> str:
    """A field's value as the merge page shows it."""
    value = getattr(record, field)
    if value is None or value == "":
        return ""
    if field == "owner_id":
        return str(db.session.get(Employee, value) or value)
    if field == "industry_id":
        return str(db.session.get(Industry, value) or value)
    if field == "status":
        return str((Lead.STATUSES if isinstance(record, Lead) else COMPANY_STATUS_LABELS).get(value, value))
    if field == "org_number":
        return formatting.org_number(value)
    if field == personal_numbers.FIELD:
        return personal_numbers.shown_to(value, current_user)
    if field in ("phone", "mobile"):
        return formatting.phone(value)
    if isinstance(value, bool):
        return _("Yes") if value else _("No")
    return str(value)


def _kind_or_404(kind: str) -> str:
    if kind not in duplicates.KINDS:
        abort(404)
    if not can(f"{kind}.view"):
        abort(403)
    return kind


class DuplicatesView(SecurePage):
    """Likely duplicates of one register (`?kind=company|contact|lead`), best score first."""

    per_page = 50

    def is_accessible(self) -> bool:
        return can("company.view")

    @expose("/")
    @require("company.view")
    def index(self):
        """The pairs not marked "not duplicates" whose both records are still live, with score and reasons."""
        kind = _kind_or_404(request.args.get("kind", "company"))
        model = duplicates.KINDS[kind]
        low, high = aliased(model), aliased(model)
        stmt = (
            select(DuplicatePair)
            .join(low, low.id == DuplicatePair.low_id)
            .join(high, high.id == DuplicatePair.high_id)
            .where(
                DuplicatePair.entity_type == kind,
                DuplicatePair.dismissed_at.is_(None),
                DuplicatePair.score >= duplicates.THRESHOLD,
                duplicates.live_condition(kind, low),
                duplicates.live_condition(kind, high),
            )
        )
        page = read_page(PAIR_ORDER, stmt, request.args, per_page=self.per_page)
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
        return self.render(
            "admin/duplicates.html",
            kind=kind,
            kinds=[(k, label) for k, label in duplicates.KIND_LABELS.items() if can(f"{k}.view")],
            pairs=pairs,
            page=page,
            scan=duplicate_tasks.state(db.session, kind),
            can_merge=can(merge.PERMISSION),
            mergeable=kind in merge.MODELS and can(merge.PERMISSION, f"{kind}.edit"),
            merges=merge.recent(db.session) if can(merge.PERMISSION) else [],
            summary=summary,
            record_url=record_url,
        )

    @expose("/scan", methods=("POST",))
    @require("duplicate.merge")
    def scan(self):
        """Queue a scan of the whole register in the background."""
        kind = _kind_or_404(request.form.get("kind", ""))
        if duplicate_tasks.request_scan(db.session, kind):
            flash(_("The search for duplicates has started; the list is updated when it is done."), "success")
        else:
            flash(_("A search for duplicates is already under way."), "info")
        return redirect(url_for(".index", kind=kind))

    @expose("/dismiss/<int:pair_id>", methods=("POST",))
    @require("duplicate.merge")
    def dismiss(self, pair_id):
        """ "Inte dubbletter": the pair is never listed again."""
        pair = db.session.get(DuplicatePair, pair_id) or abort(404)
        _kind_or_404(pair.entity_type)
        pair.dismissed_at, pair.dismissed_by_id = utcnow(), current_user.id
        db.session.commit()
        flash(_("The pair is marked as not duplicates and will not be shown again."), "success")
        return redirect(url_for(".index", kind=pair.entity_type))

    @expose("/merge/<kind>/<int:first>/<int:second>")
    @require("duplicate.merge")
    def merge_page(self, kind, first, second):
        """The two records side by side: which to keep, and per field whose value wins."""
        kind = self._mergeable(kind)
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
            fields=[(f, field_label(f), display(a, f), display(b, f)) for f in merge.FIELDS[kind]]
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
    @require("duplicate.merge")
    def merge(self, kind):
        """Merge the posted pair as chosen; back to the kept record's card."""
        kind = self._mergeable(kind)
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
        flash(
            _(
                "%(merged)s was merged into %(kept)s. Everything attached to it is now here; "
                "the merge can be undone under CRM – Duplicates.",
                merged=record.merged_label,
                kept=str(db.session.get(merge.MODELS[kind], keep_id)),
            ),
            "success",
        )
        return redirect(record_url(kind, keep_id))

    @expose("/undo/<int:record_id>", methods=("POST",))
    @require("duplicate.merge")
    def undo(self, record_id):
        """Undo a merge: the merged record back from the trash with everything that was moved."""
        record = db.session.get(MergeRecord, record_id) or abort(404)
        kind = self._mergeable(record.entity_type)
        try:
            merge.undo(db.session, current_user, record_id)
        except InvalidValue as exc:
            db.session.rollback()
            flash(str(exc), "error")
            return redirect(url_for(".index", kind=kind))
        db.session.commit()
        flash(_("The merge is undone: %(name)s is back with what it had.", name=record.merged_label), "success")
        return redirect(record_url(kind, record.merged_id))

    def _mergeable(self, kind: str) -> str:
        if kind not in merge.MODELS:
            abort(404)
        if not can(f"{kind}.edit"):
            abort(403)
        return kind

    @staticmethod
    def _related_counts(kind: str, record_id: int) -> int:
        """How many rows point at the record (shown so nobody wonders whether anything is lost)."""
        total = 0
        for table_name, column in merge.FOREIGN_KEYS[kind]:
            table = db.metadata.tables[table_name]
            total += db.session.scalar(select(func.count()).select_from(table).where(table.c[column] == record_id))
        return total
