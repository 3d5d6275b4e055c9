"""Samtycke och rättslig grund: the lawful basis a person is kept on, their marketing consent by
channel, and the one rule of who may be reached by a marketing send.

Each contact (private customers too) and lead has a lawful basis (`BASES`) and, per channel
(`CHANNELS`: e-post, sms, telefon), a consent that is not asked (None), given (True) or declined or
withdrawn (False). Whenever a consent changes, whatever wrote it, `_stamp` (a ``before_flush``
listener) records when and how (`SOURCES`: the form, an import, the API, demo data); the change
itself is in the audit trail with who made it.

The rule for a marketing send on a channel (call lists, mass e-mail and SMS: `reachable`):

- a declined or withdrawn consent for the channel always excludes the person;
- a given consent includes them;
- with no answer recorded, the basis decides: under avtal (an existing customer relationship:
  marknadsföringslagen's exception) or berättigat intresse (a business contact, marketed to on an
  opt-out basis, GDPR art. 6.1 f and 21) the person is included; under samtycke (consent is the
  basis, but none was given for this channel), rättslig förpliktelse (kept only because the law
  requires it) or with no basis recorded, the person is excluded.

Companies are not people: a company itself is always reachable (its contacts are checked one by one).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime

from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from sqlalchemy import event, inspect
from sqlalchemy.orm import Session

from models import ConsentMixin, utcnow
from services import audit, fields

BASES = ConsentMixin.BASES
#: Bases under which marketing needs no consent of its own (the person may still decline).
OPT_OUT_BASES = ("contract", "legitimate_interest")
CHANNELS = {"email": fields.label("email"), "sms": _l("SMS"), "phone": fields.label("phone")}
SOURCES = {
    "form": _l("Form"),
    "import": _l("Import"),
    "api": _l("API"),
    "demo": _l("Demo data"),
}
#: A channel's consent: not asked, given, declined or withdrawn.
STATES = {None: _l("Not asked"), True: _l("Consent given"), False: _l("Declined / withdrawn")}
#: Why a person is left out of a send or a call list (an erased person: services.privacy).
DECLINED, NO_CONSENT, ERASED = "declined", "no_consent", "erased"
REASONS = {
    DECLINED: _l("declined or withdrew consent"),
    NO_CONSENT: _l("no consent, and the lawful basis needs one"),
    ERASED: _l("erased or anonymised (GDPR)"),
}
SOURCE_KEY = "consent_source"


def column(channel: str) -> str:
    return f"consent_{channel}"


def state(person, channel: str) -> bool | None:
    return getattr(person, column(channel))


def exclusion(person, channel: str) -> str | None:
    """Why `person` may not get marketing on `channel` (a reason of `REASONS`), or None when they may."""
    if channel not in CHANNELS:
        raise KeyError(channel)
    if not isinstance(person, ConsentMixin):
        return None  # a company
    given = state(person, channel)
    if given is False:
        return DECLINED
    if given or person.lawful_basis in OPT_OUT_BASES:
        return None
    return NO_CONSENT


@dataclass
class Selection:
    """The people a send may go to, and how many were left out and why."""

    channel: str
    included: list = field(default_factory=list)
    skipped: Counter = field(default_factory=Counter)

    @property
    def skipped_total(self) -> int:
        return sum(self.skipped.values())

    def explanation(self) -> str:
        """`2 skipped for SMS: 1 declined or withdrew consent, 1 no consent, …`, and those erased (GDPR) in a
        sentence of their own (empty when none)."""
        without = {reason: count for reason, count in self.skipped.items() if reason != ERASED}
        sentences = []
        if without:
            reasons = ", ".join(f"{count} {REASONS[reason]}" for reason, count in sorted(without.items()))
            sentences.append(
                ngettext(
                    "%(num)s left out, without consent to marketing by %(channel)s: %(reasons)s.",
                    "%(num)s left out, without consent to marketing by %(channel)s: %(reasons)s.",
                    sum(without.values()),
                    channel=str(CHANNELS[self.channel]).lower(),
                    reasons=reasons,
                )
            )
        if self.skipped[ERASED]:
            sentences.append(
                ngettext(
                    "%(num)s left out: the person's data has been erased (GDPR).",
                    "%(num)s left out: the persons' data has been erased (GDPR).",
                    self.skipped[ERASED],
                )
            )
        return " ".join(sentences)


def reachable(targets: Iterable, channel: str) -> Selection:
    """The `targets` a marketing send on `channel` may reach, in order, and the others counted by reason."""
    selection = Selection(channel)
    for target in targets:
        reason = exclusion(target, channel)
        if reason is None:
            selection.included.append(target)
        else:
            selection.skipped[reason] += 1
    return selection


def carried_over(person) -> dict:
    """The basis and consents (with their dates and sources) of `person`, for the record it becomes
    (a lead converted to a contact keeps what the lead agreed to)."""
    names = ["lawful_basis", *(column(channel) for channel in CHANNELS), *ConsentMixin.consent_stamps]
    return {name: getattr(person, name) for name in names}


@contextmanager
def recorded_by(session: Session, source: str):
    """Consents written inside the block are recorded as coming from `source` (a key of `SOURCES`)."""
    previous = session.info.get(SOURCE_KEY)
    session.info[SOURCE_KEY] = source
    try:
        yield
    finally:
        session.info[SOURCE_KEY] = previous


def _source(session: Session) -> str:
    if session.info.get(SOURCE_KEY):
        return session.info[SOURCE_KEY]
    return "api" if session.info.get(audit.API_KEY_KEY) else "form"


def stamps(values: Mapping, now: datetime, source: str) -> dict:
    """The date and source columns of the consents in `values` (column → new answer): when and how
    each was recorded, or nothing for one no longer answered. Set-based writers (services.importing)
    write them with the consents; the ORM gets them from `_stamp`."""
    result: dict[str, object] = {}
    for channel in CHANNELS:
        name = column(channel)
        if name in values:
            given = values[name] is not None
            result[f"{name}_at"] = now if given else None
            result[f"{name}_source"] = source if given else None
    return result


@event.listens_for(Session, "before_flush")
def _stamp(session: Session, flush_context, instances) -> None:
    """A consent that changed gets its date and source, unless the writer gave them."""
    for obj in (*session.new, *session.dirty):
        if not isinstance(obj, ConsentMixin):
            continue
        attrs = inspect(obj).attrs
        changed = {
            column(c): getattr(obj, column(c))
            for c in CHANNELS
            if attrs[column(c)].history.has_changes() and not attrs[f"{column(c)}_at"].history.has_changes()
        }
        for name, value in stamps(changed, utcnow(), _source(session)).items():
            setattr(obj, name, value)
