"""Massutskick: one e-mail or SMS to many contacts, private customers or leads, chosen on a list
(the ticked rows or every match of its search), sent on the task queue.

Who gets it (`select`): each record is checked in turn and left out, counted by reason, when it is
in the trash, erased or anonymised (services.privacy), a converted or merged lead, without an
address for the channel (an e-mail address; a mobile number for SMS), without consent to marketing
on the channel where its lawful basis needs one (services.consent, the one rule), or when an
earlier record has the same address (it gets the message once).

`start` records a MassMessage (the text and the ids of who gets it; addresses are read from the
records when each message goes out) and queues it; `run`, in a worker, claims it and sends one
message at a time through services.mail / services.sms, which keep each message where a single
message from the card is kept (the E-post tab; an "SMS" activity), audits it on the record, and
commits the progress with the message. A record whose consent or address changed since the
confirmation is checked again and skipped. A worker that dies is taken over (`take_over_stalled`,
a periodic task): the next worker goes on after the last committed message, so at most the one
message a worker was sending when it died can go out twice.
"""

from __future__ import annotations

import contextlib
import hashlib
import uuid
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, cast

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from sqlalchemy import select, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.orm import Session, joinedload

from models import Contact, Employee, Lead, MassMessage, utcnow
from services import audit, consent, formatting, mail, paging, privacy, sms, tasks, validation
from services.validation import InvalidValue

#: The register each list sends from (Privatkunder are contacts).
MODELS: dict[str, type[Any]] = {"contact": Contact, "lead": Lead}
CHANNELS = {channel: consent.CHANNELS[channel] for channel in ("email", "sms")}
PERMISSION = "message.bulk"
#: The most records one mass send goes to.
MAX_RECIPIENTS = 100_000
#: Records read per statement when choosing who gets it.
BATCH = 500
#: Failures kept on the job to show (the count has them all).
FAILURES_KEPT = 50

DELETED, CLOSED, NO_ADDRESS, DUPLICATE = "deleted", "closed", "no_address", "duplicate"
ERASED = consent.ERASED
REASONS: dict[str, Any] = {
    DELETED: _l("in the trash"),
    ERASED: consent.REASONS[consent.ERASED],
    CLOSED: _l("converted or merged lead"),
    consent.DECLINED: consent.REASONS[consent.DECLINED],
    consent.NO_CONSENT: consent.REASONS[consent.NO_CONSENT],
    DUPLICATE: _l("same address as another recipient (gets it once)"),
}
NO_ADDRESS_REASONS = {"email": _l("no e-mail address"), "sms": _l("no mobile number")}
#: The order reasons are shown in.
REASON_ORDER = (DELETED, ERASED, CLOSED, NO_ADDRESS, consent.DECLINED, consent.NO_CONSENT, DUPLICATE)


def reason_label(reason: str, channel: str) -> str:
    return str(NO_ADDRESS_REASONS[channel] if reason == NO_ADDRESS else REASONS[reason])


def address(record, channel: str) -> str | None:
    """Where the message goes: the e-mail address, or a mobile number (E.164) for SMS."""
    if channel == "email":
        return (record.email if isinstance(record, Contact) else record.contact_email) or None
    numbers = (record.mobile, record.phone) if isinstance(record, Contact) else (record.contact_phone,)
    return next((n for n in numbers if n and validation.is_mobile(n)), None)


def exclusion(record, channel: str, erased: set[int]) -> str | None:
    """Why `record` may not get a mass send on `channel` now (a key of REASON_ORDER), or None."""
    if record is None or getattr(record, "is_deleted", False):
        return DELETED
    if record.id in erased:
        return ERASED
    if isinstance(record, Lead) and record.status in Lead.SET_BY_SYSTEM:
        return CLOSED
    if address(record, channel) is None:
        return NO_ADDRESS
    return consent.exclusion(record, channel)


@dataclass
class Selection:
    """Who of the chosen records gets the message, and how many are left out and why."""

    channel: str
    kind: str
    chosen: int = 0
    included: list[int] = field(default_factory=list)
    skipped: Counter = field(default_factory=Counter)
    #: The first recipient, to show the message as it goes out.
    first: Any = None

    @property
    def skipped_total(self) -> int:
        return sum(self.skipped.values())

    def reasons(self) -> list[tuple[str, int]]:
        """(label, count) of each reason someone is left out, in REASON_ORDER."""
        return skipped_reasons(self.skipped, self.channel)


def skipped_reasons(skipped: dict, channel: str) -> list[tuple[str, int]]:
    return [(reason_label(r, channel), skipped[r]) for r in REASON_ORDER if skipped.get(r)]


def explanation(skipped: dict, channel: str) -> str:
    """`3 left out: 1 no e-mail address, 2 declined or withdrew consent.` (empty when none)."""
    total = sum(skipped.values())
    if not total:
        return ""
    reasons = ", ".join(f"{count} {label}" for label, count in skipped_reasons(skipped, channel))
    return ngettext("%(num)s left out: %(reasons)s.", "%(num)s left out: %(reasons)s.", total, reasons=reasons)


def select_recipients(session: Session, kind: str, ids: Iterable[int], channel: str) -> Selection:
    """Who of the records `ids` (in order, at most MAX_RECIPIENTS) a send on `channel` reaches."""
    if kind not in MODELS or channel not in CHANNELS:
        raise InvalidValue(_("This list cannot send e-mail or SMS."))
    model = MODELS[kind]
    ids = list(dict.fromkeys(int(i) for i in ids))[:MAX_RECIPIENTS]
    selection = Selection(channel, kind, chosen=len(ids))
    erased = privacy.erased_ids(session, kind, ids)
    seen: set[str] = set()
    for start_at in range(0, len(ids), BATCH):
        batch = ids[start_at : start_at + BATCH]
        rows = {row.id: row for row in session.scalars(select(model).where(model.id.in_(batch)))}
        for record_id in batch:
            record = rows.get(record_id)
            reason = exclusion(record, channel, erased)
            if reason is None:
                key = cast(str, address(record, channel)).lower()
                reason = DUPLICATE if key in seen else None
                seen.add(key)
            if reason is None:
                selection.included.append(record_id)
                selection.first = selection.first or record
            else:
                selection.skipped[reason] += 1
    return selection


def sent_from(kind: str):
    """The mass sends to the register `kind` ("Tidigare utskick"), with who sent them; see HISTORY_ORDER."""
    return select(MassMessage).where(MassMessage.entity_type == kind).options(joinedload(MassMessage.actor))


#: The newest send first.
HISTORY_ORDER = paging.ListOrder(MassMessage.at, MassMessage.id, descending=True)


def check_text(channel: str, subject: str | None, body: str | None) -> tuple[str | None, str]:
    """The subject (e-mail only) and text as they go out; InvalidValue with a Swedish message."""
    if channel == "email":
        return mail.clean_text(subject, body)
    return None, sms.clean_message(body)


def not_set_up_message(channel: str, actor: Employee) -> str:
    return mail.not_set_up_message(actor) if channel == "email" else sms.not_set_up_message(actor)


class NotPermitted(PermissionError):
    """The employee may not send to many from this list."""


def check_permission(actor: Employee, kind: str) -> None:
    if not (actor.has_permission(PERMISSION) and actor.has_permission(f"{kind}.view")):
        raise NotPermitted(kind)


def search_matches(ids: list[int]) -> list[int]:
    """The records a search matched (read with at most MAX_RECIPIENTS + 1), or InvalidValue when it
    matched more than a send may reach: the employee narrows the search rather than some being left
    out unsaid."""
    if len(ids) > MAX_RECIPIENTS:
        raise InvalidValue(
            _(
                "The search matches more than %(num)s records; narrow it down before sending.",
                num=formatting.number(MAX_RECIPIENTS),
            )
        )
    return ids


def fingerprint(ids: Iterable[int]) -> str:
    """What a preview was made for: a send whose records differ from it (the search matches other
    records now) is shown again instead of going to people the employee did not confirm."""
    return hashlib.sha256(",".join(str(i) for i in sorted(set(ids))).encode()).hexdigest()[:32]


def check_unchanged(ids: Iterable[int], previewed: str | None) -> None:
    if previewed != fingerprint(ids):
        raise InvalidValue(
            _("The records matching the search have changed since the preview; check the new counts and send again.")
        )


def start(
    session: Session,
    actor: Employee,
    kind: str,
    ids: Iterable[int],
    channel: str,
    *,
    subject: str | None,
    body: str | None,
    set_up: bool,
) -> MassMessage:
    """Record the send to who of `ids` may get it, commit and queue it; InvalidValue when there is
    nothing to send (or it cannot be sent: `set_up` False when the channel has no server)."""
    check_permission(actor, kind)
    if not set_up:
        raise InvalidValue(not_set_up_message(channel, actor))
    subject, body = check_text(channel, subject, body)
    selection = select_recipients(session, kind, ids, channel)
    if not selection.included:
        raise InvalidValue(_("Nobody of those chosen can get it.") + " " + explanation(selection.skipped, channel))
    job = MassMessage(
        channel=channel,
        entity_type=kind,
        actor_id=actor.id,
        subject=subject,
        body=body,
        target_ids=selection.included,
        skipped=dict(selection.skipped),
        status="queued",
        queued_at=utcnow(),
    )
    session.add(job)
    submit(session, job)
    return job


def submit(session: Session, job: MassMessage) -> str:
    """Commit the job (queued) and put its sending in the task queue."""
    session.flush()  # a new job gets its id
    call = send_mass_message.s(job.id)
    job.task_id = call.id
    session.commit()
    return tasks.submit(call)


# --- sending, in a worker ---------------------------------------------------------------------

#: What `run` returns when the worker was stopping and the job went back to the queue.
HANDED_BACK = "handed back"


def claim(session: Session, job_id: int) -> str | None:
    """Take a waiting job (one conditional UPDATE: exactly one worker wins); its token."""
    token = uuid.uuid4().hex
    taken = cast(
        CursorResult,
        session.execute(
            update(MassMessage)
            .where(MassMessage.id == job_id, MassMessage.status == "queued", MassMessage.claim.is_(None))
            .values(status="running", claim=token, heartbeat_at=utcnow())
        ),
    ).rowcount
    session.commit()
    return token if taken == 1 else None


def run(session: Session, job_id: int, *, settings, gateway, stopping=None) -> str | None:
    """Claim the job and send its messages from where it stands; what it came to ("done", "failed",
    HANDED_BACK), or None when there was nothing to claim or another worker took it over."""
    token = claim(session, job_id)
    if token is None:
        return None
    job = session.get_one(MassMessage, job_id)
    actor = session.get(Employee, job.actor_id) if job.actor_id is not None else None
    try:
        if actor is None:
            raise InvalidValue(_("The employee who sent it no longer exists."))
        check_permission(actor, job.entity_type)
        if (settings if job.channel == "email" else gateway) is None:
            raise InvalidValue(not_set_up_message(job.channel, actor))
    except (InvalidValue, NotPermitted) as exc:
        message = str(exc) if isinstance(exc, InvalidValue) else _("The employee may no longer send to many.")
        _write(session, job_id, token, status="failed", error=message, claim=None, finished_at=utcnow())
        return "failed"
    model, channel, targets = MODELS[job.entity_type], job.channel, list(job.target_ids)
    text = {"subject": job.subject or "", "body": job.body}
    erased = privacy.erased_ids(session, job.entity_type, targets)
    position, sent, failed = job.position, job.sent_count, job.failed_count
    skipped, failures = Counter(job.skipped or {}), list(job.failures or [])
    # One session with the mail server for the whole send (SMS go one request each).
    with mail.Connection(settings) if channel == "email" else contextlib.nullcontext(gateway) as through:
        while position < len(targets):
            if stopping is not None and stopping.is_set():
                _write(session, job_id, token, status="queued", claim=None, queued_at=utcnow())
                return HANDED_BACK
            record = session.get(model, targets[position])
            reason = exclusion(record, channel, erased)
            if reason is not None:
                skipped[reason] += 1
            else:
                try:
                    _send_one(session, channel, actor, record, through, **text)
                    sent += 1
                except (InvalidValue, mail.SendFailed, sms.SendFailed) as exc:
                    session.rollback()
                    failed += 1
                    if len(failures) < FAILURES_KEPT:
                        failures.append([targets[position], str(exc)[:300]])
            position += 1
            progress = {"position": position, "sent_count": sent, "failed_count": failed}
            if not _write(session, job_id, token, **progress, skipped=dict(skipped), failures=failures or None):
                return None
    _write(session, job_id, token, status="done", claim=None, finished_at=utcnow())
    return "done"


def _send_one(session: Session, channel: str, actor: Employee, record, through, *, subject, body) -> None:
    """One message through the card's own sending (kept on the record), audited on the record;
    `through`: the mail server's connection or the SMS gateway."""
    to = cast(str, address(record, channel))
    with audit.acting_as(session, actor.id):
        if channel == "email":
            mail.send(session, through.settings, actor, record, to=to, subject=subject, body=body, connection=through)
        else:
            sms.send(session, through, actor, record, to=to, message=body)
        audit.record(session, record, f"mass_{channel}")


def _write(session: Session, job_id: int, token: str, **values) -> bool:
    """Write the job's progress (with what the session holds) if this worker still holds it; commit."""
    written = cast(
        CursorResult,
        session.execute(
            update(MassMessage)
            .where(MassMessage.id == job_id, MassMessage.claim == token)
            .values(heartbeat_at=utcnow(), **values)
        ),
    ).rowcount
    if not written:  # taken over: another worker goes on, nothing of this one is kept
        session.rollback()
        return False
    session.commit()
    return True


def take_over_stalled(session: Session, *, stalled_seconds: int, waiting_task_ids) -> list[int]:
    """Sending jobs whose worker stopped reporting, and queued jobs whose queue message is gone, go
    back to the queue; their ids (to submit)."""
    limit = utcnow() - timedelta(seconds=stalled_seconds)
    stalled = session.scalars(
        select(MassMessage.id).where(MassMessage.status == "running", MassMessage.heartbeat_at < limit)
    ).all()
    taken = [
        job_id
        for job_id in stalled
        if cast(
            CursorResult,
            session.execute(
                update(MassMessage)
                .where(MassMessage.id == job_id, MassMessage.status == "running", MassMessage.heartbeat_at < limit)
                .values(status="queued", claim=None, queued_at=utcnow())
            ),
        ).rowcount
    ]
    session.commit()
    waiting = session.execute(
        select(MassMessage.id, MassMessage.task_id).where(
            MassMessage.status == "queued", MassMessage.queued_at < limit, MassMessage.id.not_in(taken or [0])
        )
    ).all()
    if waiting:
        pending = set(waiting_task_ids())
        taken += [job_id for job_id, task_id in waiting if task_id not in pending]
    return taken


@tasks.task()
def send_mass_message(job_id: int) -> None:
    """Send a mass e-mail or SMS, in a worker; handed back to the queue when the worker stops."""
    session = tasks.session()
    config = tasks.app().config
    outcome = run(
        session,
        job_id,
        settings=mail.SmtpSettings.from_config(config),
        gateway=sms.Gateway.from_config(config),
        stopping=tasks.stopping,
    )
    if outcome == HANDED_BACK:
        submit(session, session.get_one(MassMessage, job_id))


@tasks.periodic(tasks.crontab())
def take_over_stalled_mass_messages() -> None:
    """Every minute, in every worker: a send whose worker died goes on in another."""
    session = tasks.session()
    stalled = tasks.app().config["JOB_STALLED_SECONDS"]
    for job_id in take_over_stalled(session, stalled_seconds=stalled, waiting_task_ids=tasks.pending_ids):
        submit(session, session.get_one(MassMessage, job_id))
