"""Gallring: administrators' rules that erase people the register no longer needs.

A rule selects leads not converted and untouched for N months, or contacts of customers inactive
for N months (no change, activity, order or invoice). The preview lists who would go; the run
(nightly on the task queue, or at once) erases each with services.privacy, exactly as a manual
erasure, and logs how many went. Running twice erases nobody twice: an erased person no longer
matches (their personal fields are empty).

A run is bounded: it erases at most `RUN_LIMIT` people (each erasure reads the whole audit trail for
the person's identifiers), committing each as it goes when given `commit` (the task queue does), and
the log says how many were left for the next run. Each person is checked again just before their
erasure, so one touched since the run began, or erased by a run of the same rule in another worker,
is left alone. The preview counts everyone the rule selects (`count`, up to `COUNT_CAP`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from flask_babel import gettext as _
from sqlalchemy import Select, and_, exists, func, not_, or_, select
from sqlalchemy.orm import Session, aliased

from models import (
    Activity,
    CallListEntry,
    Company,
    CompanyContact,
    Contact,
    Employee,
    Invoice,
    Lead,
    PrivacyEvent,
    RetentionRule,
    SalesOrder,
)
from services import privacy
from services.storage import Storage
from services.validation import InvalidValue

logger = logging.getLogger(__name__)

MIN_MONTHS, MAX_MONTHS = 1, 600
#: The most people one run of a rule erases; the others go in the next runs (every night).
RUN_LIMIT = 500
#: The preview counts up to this many (a rule selecting more says «more than»).
COUNT_CAP = 100_000


def months_before(now: datetime, months: int) -> datetime:
    """The same moment `months` calendar months earlier (the last day of a shorter month)."""
    years, month = divmod(now.month - 1 - months, 12)
    year, month = now.year + years, month + 1
    last_day = (datetime(year + month // 12, month % 12 + 1, 1) - datetime(year, month, 1)).days
    return now.replace(year=year, month=month, day=min(now.day, last_day))


def _check(actor: Employee) -> None:
    """Setting a rule needs `privacy.erase` too: a rule erases people every night."""
    for permission in ("privacy.retention", "privacy.erase"):
        if not actor.has_permission(permission):
            raise PermissionError(permission)


def create_rule(session: Session, actor: Employee, *, kind: str, months: str | int) -> RetentionRule:
    """A new rule; a bad kind or number of months is refused with a Swedish message."""
    _check(actor)
    if kind not in RetentionRule.KINDS:
        raise InvalidValue(_("Choose what the rule applies to."))
    try:
        number = int(str(months).strip())
    except ValueError:
        number = 0
    if not MIN_MONTHS <= number <= MAX_MONTHS:
        raise InvalidValue(
            _("Give the number of months as a whole number from %(low)s to %(high)s.", low=MIN_MONTHS, high=MAX_MONTHS)
        )
    rule = RetentionRule(kind=kind, months=number, created_by_id=actor.id)
    session.add(rule)
    return rule


def delete_rule(session: Session, actor: Employee, rule: RetentionRule) -> None:
    _check(actor)
    session.delete(rule)


def _lead_candidates(cut: datetime) -> Select:
    personal = or_(
        Lead.contact_first_name.is_not(None),
        Lead.contact_last_name.is_not(None),
        Lead.contact_email.is_not(None),
        Lead.contact_phone.is_not(None),
    )
    touched = or_(
        exists().where(Activity.lead_id == Lead.id, Activity.updated_at >= cut),
        exists().where(CallListEntry.lead_id == Lead.id, CallListEntry.called_at >= cut),
    )
    return select(Lead.id).where(
        Lead.company_id.is_(None), Lead.status != "converted", Lead.updated_at < cut, personal, not_(touched)
    )


def _contact_candidates(cut: datetime) -> Select:
    company = aliased(Company)
    active_company = or_(
        company.updated_at >= cut,
        exists().where(Activity.company_id == company.id, Activity.updated_at >= cut),
        exists().where(Invoice.company_id == company.id, Invoice.invoice_date >= cut.date()),
        exists().where(SalesOrder.company_id == company.id, SalesOrder.order_date >= cut.date()),
    )
    link = aliased(CompanyContact)
    personal = or_(
        Contact.first_name != privacy.ANONYMOUS_FIRST_NAME,
        Contact.last_name != privacy.ANONYMOUS_LAST_NAME,
        Contact.email.is_not(None),
        Contact.phone.is_not(None),
        Contact.mobile.is_not(None),
    )
    return select(Contact.id).where(
        Contact.customer_number.is_(None),  # a private customer is a customer, not a customer's contact
        Contact.updated_at < cut,
        personal,
        exists().where(CompanyContact.contact_id == Contact.id),
        not_(
            exists()
            .where(link.contact_id == Contact.id)
            .where(exists().where(and_(company.id == link.company_id, active_company)))
        ),
        not_(exists().where(Activity.contact_id == Contact.id, Activity.updated_at >= cut)),
    )


def candidates(rule: RetentionRule, now: datetime) -> Select:
    """The ids of the people `rule` would erase now."""
    cut = months_before(now, rule.months)
    return _lead_candidates(cut) if rule.kind == "lead_untouched" else _contact_candidates(cut)


def subject_kind(rule: RetentionRule) -> str:
    return "lead" if rule.kind == "lead_untouched" else "contact"


def preview(session: Session, rule: RetentionRule, now: datetime, *, limit: int = 200) -> list[privacy.Subject]:
    """Who the rule would erase now (at most `limit`)."""
    ids = session.scalars(candidates(rule, now).limit(limit)).all()
    return privacy.find_subjects(session, subject_kind(rule), ids)


def count(session: Session, rule: RetentionRule, now: datetime) -> int:
    """How many people the rule selects now (at most COUNT_CAP + 1: «more than COUNT_CAP»)."""
    return session.scalar(select(func.count()).select_from(candidates(rule, now).limit(COUNT_CAP + 1).subquery())) or 0


def _still_selected(session: Session, rule: RetentionRule, now: datetime, record_id: int) -> bool:
    model = Lead if rule.kind == "lead_untouched" else Contact
    return session.scalar(candidates(rule, now).where(model.id == record_id)) is not None


def run(
    session: Session,
    storage: Storage,
    rule: RetentionRule,
    now: datetime,
    *,
    commit: Callable[[], object] | None = None,
) -> int:
    """Erase up to RUN_LIMIT of the people the rule selects and log the run; returns how many.
    `commit` is called after each erasure (the task queue's run); the caller commits the log. Committing
    as it goes, an erasure that fails is rolled back alone (its files kept: services.storage), logged and
    counted, and the run goes on with the next person; the failed one is tried again in the next run."""
    erased = failed = 0
    for record_id in session.scalars(candidates(rule, now).limit(RUN_LIMIT)).all():
        try:
            if not _still_selected(session, rule, now, record_id):
                continue
            subject = privacy.find_subject(session, subject_kind(rule), record_id)
            if subject is None:
                continue
            privacy.erase_by(session, storage, None, subject, now.date(), retention_rule=rule.id)
            if commit is not None:
                commit()
            erased += 1
        except Exception:
            if commit is None:
                raise
            session.rollback()
            failed += 1
            logger.exception("Gallring: rule %s could not erase %s %s", rule.id, subject_kind(rule), record_id)
    rule.last_run_at = now
    session.add(
        PrivacyEvent(
            actor_id=rule.created_by_id,
            action="retention_rule",
            subject_type="rule",
            subject_id=rule.id,
            summary={
                "erased": erased,
                "failed": failed,
                "left": count(session, rule, now),
                "kind": rule.kind,
                "months": rule.months,
            },
        )
    )
    return erased


def rules(session: Session) -> list[RetentionRule]:
    return list(session.scalars(select(RetentionRule).order_by(RetentionRule.id)))
