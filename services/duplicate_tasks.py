"""The duplicate scan on the task queue (services.tasks): a whole register scanned in a worker, records
changed since then checked every few minutes, and every register scanned again each night.

The scan's state is its DuplicateScan row: a scan is claimed with a conditional UPDATE (queued →
running), so two workers never scan one register at once, and a scan whose message was lost or
whose worker died is queued again by the periodic task.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import cast

from sqlalchemy import select, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.orm import Session, selectinload

from models import Contact, DuplicateScan, utcnow
from services import duplicates, tasks

log = logging.getLogger(__name__)

#: A running scan that has not finished in this long is taken to have died with its worker.
STALLED = timedelta(hours=2)
#: Changed records checked one by one per run of the periodic task, at most (the rest wait for the next).
CHANGED_PER_RUN = 2000


def state(session: Session, kind: str) -> DuplicateScan:
    """The scan row of `kind` (made when missing)."""
    row = session.get(DuplicateScan, kind)
    if row is None:
        row = DuplicateScan(entity_type=kind, status="idle", records=0, pairs=0)
        session.add(row)
        session.flush()
    return row


def request_scan(session: Session, kind: str) -> bool:
    """Queue a scan of register `kind` unless one is queued or running; commits. False when one already is."""
    row = state(session, kind)
    if row.status in ("queued", "running"):
        session.commit()
        return False
    row.status, row.requested_at, row.error = "queued", utcnow(), None
    session.commit()
    tasks.submit(run_scan.s(kind))
    return True


def run(session: Session, kind: str) -> bool:
    """Claim the queued scan of `kind` and run it; False when there was none to claim."""
    state(session, kind)
    session.commit()
    started = utcnow()
    claimed = cast(
        CursorResult,
        session.execute(
            update(DuplicateScan)
            .where(DuplicateScan.entity_type == kind, DuplicateScan.status == "queued")
            .values(status="running", started_at=started)
        ),
    ).rowcount
    session.commit()
    if not claimed:
        return False
    try:
        records, pairs = duplicates.scan(session, kind)
    except Exception as exc:
        session.rollback()
        log.exception("duplicate scan of %s failed", kind)
        session.execute(
            update(DuplicateScan)
            .where(DuplicateScan.entity_type == kind)
            .values(status="failed", finished_at=utcnow(), error=str(exc)[:500])
        )
        session.commit()
        return True
    session.execute(
        update(DuplicateScan)
        .where(DuplicateScan.entity_type == kind)
        .values(status="done", finished_at=utcnow(), checked_until=started, records=records, pairs=pairs)
    )
    session.commit()
    return True


def check_changed(session: Session, kind: str) -> int:
    """Check the records of `kind` changed since the last scan or check against the register; new pairs."""
    row = state(session, kind)
    if row.checked_until is None or row.status in ("queued", "running"):
        session.commit()
        return 0
    model = duplicates.KINDS[kind]
    now = utcnow()
    live = duplicates.live_condition(kind)
    loads = [selectinload(Contact.company_links)] if kind == "contact" else []
    changed = list(
        session.scalars(
            select(model)
            .where(model.updated_at > row.checked_until, live)
            .options(*loads)
            .order_by(model.updated_at, model.id)
            .limit(CHANGED_PER_RUN)
        )
    )
    if len(changed) == CHANGED_PER_RUN:  # the rest of the last instant too (an import batch shares one)
        last = changed[-1]
        changed += session.scalars(
            select(model)
            .where(model.updated_at == last.updated_at, model.id > last.id, live)
            .options(*loads)
            .order_by(model.id)
        )
    # Every record is checked (reads) before any pair is stored: on SQLite the first write takes the database's
    # only write lock until the commit, and 2,000 checks behind it kept other users' saves waiting for seconds.
    found = [
        (record.id, duplicates.check(session, kind, record, companies=_companies_of(record, kind)))
        for record in changed
    ]
    added = sum(duplicates.record_pairs(session, kind, record_id, matches) for record_id, matches in found)
    row.checked_until = changed[-1].updated_at if len(changed) >= CHANGED_PER_RUN else now
    session.commit()
    return added


def _companies_of(record, kind: str) -> list[int]:
    return [link.company_id for link in record.company_links] if kind == "contact" else []


def requeue_lost(session: Session) -> list[str]:
    """Scans queued long ago (a lost message) or running too long (a dead worker) go in the queue again."""
    now = utcnow()
    lost = session.scalars(
        select(DuplicateScan).where(
            ((DuplicateScan.status == "queued") & (DuplicateScan.requested_at < now - timedelta(minutes=10)))
            | ((DuplicateScan.status == "running") & (DuplicateScan.started_at < now - STALLED))
        )
    ).all()
    kinds = []
    for row in lost:
        row.status, row.requested_at = "queued", now
        kinds.append(row.entity_type)
    session.commit()
    for kind in kinds:
        tasks.submit(run_scan.s(kind))
    return kinds


@tasks.task()
def run_scan(kind: str) -> None:
    """Scan one register (queued by `request_scan`)."""
    run(tasks.session(), kind)


@tasks.periodic(tasks.crontab(minute="*/5"))
def check_changed_records() -> None:
    """Every five minutes: records changed since the last look are checked, lost scans queued again."""
    session = tasks.session()
    requeue_lost(session)
    for kind in duplicates.KINDS:
        check_changed(session, kind)


@tasks.periodic(tasks.crontab(minute="30", hour="2"))
def nightly_scan() -> None:
    """Every night at 02:30 (UTC): every register scanned afresh."""
    session = tasks.session()
    for kind in duplicates.KINDS:
        request_scan(session, kind)
