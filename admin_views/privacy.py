"""Administration – Dataskydd: register extracts (GDPR art. 15 and 20) and erasure (art. 17).

The rules and the map of where a person's data lives are in services.privacy; here the search,
the person's page, the extract as a printable document or a ZIP, and the erasure's preview and
confirmation (POST, CSRF, `privacy.erase`).
"""

from datetime import date

from flask import Response, abort, current_app, flash, redirect, request, url_for
from flask_admin import expose
from flask_babel import gettext as _
from flask_login import current_user

from admin_views.base import SecurePage, can, require
from admin_views.downloads import content_disposition
from admin_views.labels import extract_value, field_label
from admin_views.records import TITLES, record_url
from extensions import db
from models import PrivacyEvent, RetentionRule, utcnow
from services import privacy, privacy_reapply, privacy_tasks, retention, storage, tasks
from services.validation import InvalidValue

#: Texts to review shown per erasure in the log (the rest counted).
REVIEW_SHOWN = 20


def _subject_or_404(kind: str, id: int) -> privacy.Subject:
    subject = privacy.find_subject(db.session, kind, id)
    if subject is None:
        abort(404)
    return subject


class PrivacyView(SecurePage):
    """Search a person, see their page, produce an extract, erase them."""

    def is_accessible(self) -> bool:
        return can("privacy.extract")

    @expose("/")
    @require("privacy.extract")
    def index(self):
        """Search by personnummer, e-mail or name; the latest extracts and erasures."""
        query = request.args.get("q", "").strip()[:200]
        try:
            found, refused = privacy.search(db.session, query, reader=current_user), None
        except privacy.NumberNotSearched as error:
            found, refused = [], str(error)
        log = privacy.log(db.session)
        return self.render(
            "admin/privacy/index.html",
            query=query,
            found=found,
            refused=refused,
            log=log,
            reviews={e.id: privacy.review_items(db.session, e.review[:REVIEW_SHOWN]) for e in log if e.review},
            review_shown=REVIEW_SHOWN,
            record_url=record_url,
            record_titles=TITLES,
            actions=PrivacyEvent.ACTIONS,
            reapplied=privacy_reapply.REASONS,
            rules=retention.rules(db.session) if can("privacy.retention") else [],
            rule_kinds=RetentionRule.KINDS,
        )

    @expose("/<kind>/<int:id>")
    @require("privacy.extract")
    def subject(self, kind, id):
        """The person: what can be done (extract, erase)."""
        subject = _subject_or_404(kind, id)
        return self.render(
            "admin/privacy/subject.html", subject=subject, record_url=record_url(subject.kind, subject.record.id)
        )

    @expose("/<kind>/<int:id>/extract", methods=("POST",))
    @require("privacy.extract")
    def extract(self, kind, id):
        """The register extract: a printable Swedish document, or (`format=zip`) JSON and files in a ZIP."""
        subject = _subject_or_404(kind, id)
        try:
            document = privacy.extract(db.session, current_user, subject)
        except privacy.Refused as refused:
            flash(str(refused), "error")
            return redirect(url_for(".subject", kind=kind, id=id))
        if request.form.get("format") == "zip":
            body = privacy.extract_zip(db.session, storage.from_config(current_app.config), subject, document)
            db.session.commit()
            response = Response(body, content_type="application/zip")
            response.headers["Content-Disposition"] = content_disposition(f"registerutdrag-{kind}-{id}.zip")
            return response
        db.session.commit()
        return self.render(
            "admin/privacy/extract.html",
            document=document,
            label=field_label,
            value_of=extract_value,
            tables={place.key: place.model.__tablename__ for place in privacy.PLACES},
        )

    @expose("/<kind>/<int:id>/erase")
    @require("privacy.erase")
    def erase(self, kind, id):
        """What erasing the person will do, for the administrator to read before confirming."""
        subject = _subject_or_404(kind, id)
        preview = privacy.preview(db.session, subject, date.today())
        return self.render(
            "admin/privacy/erase.html",
            preview=preview,
            record_url=record_url(subject.kind, subject.record.id),
            record_titles=TITLES,
        )

    @expose("/<kind>/<int:id>/erase", methods=("POST",))
    @require("privacy.erase")
    def erase_confirm(self, kind, id):
        subject = _subject_or_404(kind, id)
        if request.form.get("confirm") != "yes":
            flash(_("Nothing was erased: the erasure was not confirmed."), "warning")
            return redirect(url_for(".erase", kind=kind, id=id))
        result = privacy.erase(db.session, storage.from_config(current_app.config), current_user, subject, date.today())
        db.session.commit()
        flash(_("The person's personal data was erased."), "success")
        if result.retained_until:
            flash(
                _(
                    "Issued invoices keep the buyer's name and address under the Bookkeeping Act until %(date)s.",
                    date=result.retained_until.isoformat(),
                ),
                "info",
            )
        if result.review:
            flash(
                _("%(num)s texts may still name the person: check them (listed in the log).", num=len(result.review)),
                "warning",
            )
        return redirect(url_for(".index"))

    # --- Gallring: retention rules ---------------------------------------------------------------

    def _rule_or_404(self, rule_id: int) -> RetentionRule:
        return db.session.get(RetentionRule, rule_id) or abort(404)

    @expose("/rules", methods=("POST",))
    @require("privacy.retention", "privacy.erase")  # a rule erases people every night
    def create_rule(self):
        try:
            retention.create_rule(
                db.session, current_user, kind=request.form.get("kind", ""), months=request.form.get("months", "")
            )
        except InvalidValue as error:
            db.session.rollback()
            flash(str(error), "error")
        else:
            db.session.commit()
            flash(_("The retention rule was saved. Check its preview before it runs tonight."), "success")
        return redirect(url_for(".index"))

    @expose("/rules/<int:rule_id>")
    @require("privacy.retention")
    def rule(self, rule_id):
        """Who the rule would erase now."""
        rule = self._rule_or_404(rule_id)
        now = utcnow()
        return self.render(
            "admin/privacy/rule.html",
            rule=rule,
            found=retention.preview(db.session, rule, now),
            total=retention.count(db.session, rule, now),
            cap=retention.COUNT_CAP,
            run_limit=retention.RUN_LIMIT,
            kinds=RetentionRule.KINDS,
        )

    @expose("/rules/<int:rule_id>/run", methods=("POST",))
    @require("privacy.retention", "privacy.erase")
    def run_rule(self, rule_id):
        rule = self._rule_or_404(rule_id)
        if request.form.get("confirm") != "yes":
            flash(_("Nothing was erased: the erasure was not confirmed."), "warning")
            return redirect(url_for(".rule", rule_id=rule.id))
        tasks.submit(privacy_tasks.run_retention_rule.s(rule.id))
        flash(_("The retention rule runs in the background; the log shows what was done."), "success")
        return redirect(url_for(".index"))

    @expose("/rules/<int:rule_id>/delete", methods=("POST",))
    @require("privacy.retention", "privacy.erase")
    def delete_rule(self, rule_id):
        retention.delete_rule(db.session, current_user, self._rule_or_404(rule_id))
        db.session.commit()
        flash(_("The retention rule was deleted."), "success")
        return redirect(url_for(".index"))
