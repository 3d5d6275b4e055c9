""" "Skicka e-post" and "Skicka SMS" to many (Massutskick) from the lists of contacts, private
customers and leads: the ticked rows (Fler åtgärder) or every match of the current search. The
employee writes the message, sees it as it goes out with how many get it and who is left out and
why, confirms, and follows the sending on the task queue. The rules are services.mass_messages'."""

from functools import partial
from urllib.parse import urlencode

from flask import abort, current_app, flash, redirect, request, url_for
from flask_admin import expose
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from flask_login import current_user

from admin_views.base import permitted_action, require
from admin_views.listing import Pager, read_page
from admin_views.mass_update import matching_ids
from extensions import db
from models import MassMessage
from services import mail, mass_messages, sms
from services.validation import InvalidValue, is_id


class MassMessageMixin:
    """A list of people who can be sent one e-mail or SMS together."""

    @permitted_action("mass_email", _l("Send e-mail"), mass_messages.PERMISSION)
    def action_mass_email(self, ids):
        return self._mass_message_page("email", ids=[int(i) for i in ids if is_id(i)], query="")

    @permitted_action("mass_sms", _l("Send SMS"), mass_messages.PERMISSION)
    def action_mass_sms(self, ids):
        return self._mass_message_page("sms", ids=[int(i) for i in ids if is_id(i)], query="")

    @expose("/mass-message/")
    @require("{area}.view", mass_messages.PERMISSION)
    def mass_message_matches(self):
        """The message form for every match of the list's search (`channel`: email or sms); a GET sends nothing."""
        channel = _channel(request.args.get("channel"))
        query = urlencode([(k, v) for k, v in request.args.items(multi=True) if k != "channel"])
        if not query:  # the list offers "all matches" only for a search or filter: no whole register by URL
            flash(_("Search or filter the list first: the message goes to every record it then shows."), "warning")
            return redirect(url_for(".index_view"))
        return self._mass_message_page(channel, ids=None, query=query)

    @expose("/mass-message/", methods=("POST",))
    @require("{area}.view", mass_messages.PERMISSION)
    def mass_message_post(self):
        """`step` preview: the message as it goes out, with who gets it; edit: back to the form; send:
        record the send and queue it, then its page."""
        form = request.form
        channel, query = _channel(form.get("channel")), form.get("query", "")
        ids = None if query else [int(i) for i in form.getlist("rowid") if is_id(i)]
        step = form.get("step")
        if step == "edit":
            return self._mass_message_page(channel, ids=ids, query=query)
        try:
            if step != "send":
                mass_messages.check_text(channel, form.get("subject"), _body(channel, form))
                return self._mass_message_page(channel, ids=ids, query=query, confirm=True)
            if ids is None:
                ids = self._search_matches(query)
                mass_messages.check_unchanged(ids, form.get("previewed"))
            job = mass_messages.start(
                db.session,
                current_user,
                self.permission_area,
                ids,
                channel,
                subject=form.get("subject"),
                body=_body(channel, form),
                set_up=_set_up(channel),
            )
        except InvalidValue as exc:
            db.session.rollback()
            return self._mass_message_page(channel, ids=None if query else ids, query=query, error=str(exc)), 400
        except mass_messages.NotPermitted:
            db.session.rollback()
            abort(403)
        flash(
            ngettext(
                "The message is being sent to %(num)s recipient.",
                "The message is being sent to %(num)s recipients.",
                len(job.target_ids),
            ),
            "success",
        )
        return redirect(url_for(".mass_message_status", job_id=job.id))

    @expose("/mass-message/<int:job_id>")
    @require("{area}.view", mass_messages.PERMISSION)
    def mass_message_status(self, job_id):
        """How far a mass send has come: sent, left out and why, failed."""
        job = db.session.get(MassMessage, job_id)
        if job is None or job.entity_type != self.permission_area:
            abort(404)
        model = mass_messages.MODELS[job.entity_type]
        failed_ids = [failure[0] for failure in job.failures or []]
        names = {row.id: str(row) for row in db.session.scalars(db.select(model).where(model.id.in_(failed_ids)))}
        return self.render(
            "admin/mass_message_status.html",
            job=job,
            channel_name=mass_messages.CHANNELS[job.channel],
            statuses=MassMessage.STATUSES,
            skipped=mass_messages.skipped_reasons(job.skipped or {}, job.channel),
            failures=[(names.get(record_id, record_id), why) for record_id, why in job.failures or []],
        )

    @expose("/mass-message/history/")
    @require("{area}.view", mass_messages.PERMISSION)
    def mass_message_history(self):
        """Tidigare utskick: the mass sends to this register, newest first, paged by key."""
        stmt = mass_messages.sent_from(self.permission_area)
        page = read_page(mass_messages.HISTORY_ORDER, stmt, request.args, per_page=50)
        return self.render(
            "admin/mass_message_history.html",
            page=page,
            pager=Pager(page, partial(url_for, ".mass_message_history")),
            channels=mass_messages.CHANNELS,
            statuses=MassMessage.STATUSES,
        )

    # --- helpers ---------------------------------------------------------------------------------

    def _search_matches(self, query: str) -> list[int]:
        """Every record the list's search (`query`) matches; InvalidValue past what a send may reach."""
        return mass_messages.search_matches(matching_ids(self, query, mass_messages.MAX_RECIPIENTS + 1))

    def _mass_message_page(self, channel, *, ids, query, confirm=False, error=None):
        """The form (or, `confirm`, the preview to confirm) with who gets the message and who not."""
        if ids is None:
            try:
                targets = self._search_matches(query)
            except InvalidValue as exc:
                targets, error = [], error or str(exc)
        else:
            targets = ids
        selection = mass_messages.select_recipients(db.session, self.permission_area, targets, channel)
        unavailable = None if _set_up(channel) else mass_messages.not_set_up_message(channel, current_user)
        return self.render(
            "admin/mass_message.html",
            channel=channel,
            channel_name=mass_messages.CHANNELS[channel],
            ids=ids or [],
            query=query,
            selection=selection,
            first_address=mass_messages.address(selection.first, channel) if selection.first else None,
            confirm=confirm and not error and not unavailable and bool(selection.included),
            error=error,
            unavailable=unavailable,
            previewed=mass_messages.fingerprint(targets) if ids is None else None,
            subject=request.form.get("subject", ""),
            body=_body(channel, request.form),
            sms_parts=sms.parts(_body(channel, request.form)) if channel == "sms" else None,
            list_url=url_for(".index_view") + (f"?{query}" if query else ""),
        )


def _channel(value) -> str:
    if value not in mass_messages.CHANNELS:
        abort(404)
    return value


def _body(channel: str, form) -> str:
    """The message text: the e-mail's body, or the SMS (named `message`, as on the card's SMS page)."""
    return form.get("body" if channel == "email" else "message", "")


def _set_up(channel: str) -> bool:
    if channel == "email":
        return mail.SmtpSettings.from_config(current_app.config) is not None
    return sms.Gateway.from_config(current_app.config) is not None
