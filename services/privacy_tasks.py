"""Dataskydd on the task queue: invoice data kept under Bokföringslagen is anonymised when its time is
up, and the retention rules (Gallring) run every night, or at once when an administrator asks."""

from datetime import date

from models import RetentionRule, utcnow
from services import privacy, retention, storage, tasks


@tasks.periodic(tasks.crontab(minute="20", hour="3"))
def expire_retained_invoice_data() -> None:
    """Every night: the buyer kept on issued invoices past their retention date is anonymised."""
    session = tasks.session()
    privacy.expire_retained(session, date.today())
    session.commit()


@tasks.task()
def run_retention_rule(rule_id: int) -> None:
    """One rule, now (safe to run twice: an erased person no longer matches), each erasure committed
    as it is made; at most retention.RUN_LIMIT people, the others in the next runs."""
    session = tasks.session()
    rule = session.get(RetentionRule, rule_id)
    if rule is not None:
        retention.run(session, storage.from_config(tasks.app().config), rule, utcnow(), commit=session.commit)
        session.commit()


@tasks.periodic(tasks.crontab(minute="40", hour="3"))
def run_retention_rules() -> None:
    """Every night: each active rule, committed one rule at a time."""
    session = tasks.session()
    for rule in retention.rules(session):
        if rule.active:
            retention.run(session, storage.from_config(tasks.app().config), rule, utcnow(), commit=session.commit)
            session.commit()
