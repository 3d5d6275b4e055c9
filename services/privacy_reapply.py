"""Recorded erasures made again (GDPR art. 17): a backup made before an erasure, restored, holds the
person's data again; and erasures made before the duplicates merged into a person's records were
erased with them left those duplicates' data.

`reapply` takes every person recorded erased, in the erasure ledger (services.erasure_ledger) and in
the privacy log, and erases them again, as any erasure (services.privacy.erase_by, no actor, the
reason in the log's summary), when their record is not erased in this database or one of their
records (theirs, and those merged into them) still holds personal data. The others are left as they
are: a second run finds nothing to do. A ledger record is matched by its id and its creation time,
a logged one by its id and a creation before the erasure; an id now another record's is skipped.

First, `keep_ids_ahead`: a backup restored brings back its id sequences as they were when it was made
(SQLite's sqlite_sequence, PostgreSQL's sequences), below the ids given since, some of them to people
erased since. The sequences are moved past every id the ledger and the privacy log name, so that no
new contact or lead is given an erased person's id (migration 0043: ids are never given twice).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, cast

from flask_babel import lazy_gettext as _l
from sqlalchemy import CursorResult, func, select, text
from sqlalchemy.orm import Session

from models import PrivacyEvent
from services import bulk, erasure_ledger, privacy
from services.storage import Storage

#: Why an erasure was made again (the privacy log's `reapplied`), as the log shows it.
REASONS = {
    "restore": _l("Erased again after a backup was restored"),
    "reapply": _l("Erased again (privacy reapply-erasures)"),
}
#: Records looked at a statement.
BATCH = 500

logger = logging.getLogger(__name__)


@dataclass
class Reapplied:
    """What `reapply` did: erasures made again, people recorded erased with nothing left to erase,
    recorded records not in the database, recorded ids that are another record's now, and the people
    whose erasure failed (kind, id). A person's records that are not merged in this database (a
    backup made before the merge) are erased each on its own."""

    erased: int = 0
    already: int = 0
    missing: int = 0
    other: int = 0
    failed: list[tuple[str, int]] = field(default_factory=list)


def _batches(items: list, size: int = BATCH) -> Iterator[list]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _recorded(session: Session, entries: Iterable[erasure_ledger.Entry], result: Reapplied) -> dict[str, list[int]]:
    """The records recorded erased that are those records in this database, by kind, in the ledger's
    order and then the log's. A ledger record must have the creation time it had; a logged one must
    have been created before its first erasure."""
    created: dict[tuple[str, int], set[str]] = {}
    for entry in entries:
        for kind, record_id, stamp in entry.records:
            if kind in privacy.KINDS:
                created.setdefault((kind, record_id), set()).add(stamp)
    logged: dict[tuple[str, int], datetime] = {
        (kind, record_id): at
        for kind, record_id, at in session.execute(
            select(PrivacyEvent.subject_type, PrivacyEvent.subject_id, func.min(PrivacyEvent.at))
            .where(PrivacyEvent.action == "erase", PrivacyEvent.subject_type.in_(privacy.KINDS))
            .group_by(PrivacyEvent.subject_type, PrivacyEvent.subject_id)
        )
    }
    found: dict[str, list[int]] = {kind: [] for kind in privacy.KINDS}
    keys = list(dict.fromkeys([*created, *logged]))
    model: Any
    for kind, model in privacy.KINDS.items():
        ids = [i for k, i in keys if k == kind]
        for batch in _batches(ids):
            rows = select(model.id, model.created_at).where(bulk.one_of(session, model.id, batch))
            stored: dict[int, datetime] = dict(session.execute(rows).all())
            for record_id in batch:
                at = stored.get(record_id)
                if at is None:
                    result.missing += 1
                elif erasure_ledger.stamp(at) in created.get((kind, record_id), ()) or (
                    (kind, record_id) in logged and at <= logged[(kind, record_id)]
                ):
                    found[kind].append(record_id)
                else:
                    result.other += 1
    return found


def _needing(session: Session, subjects: list[privacy.Subject]) -> list[privacy.Subject]:
    """The people whose record is not erased, or one of whose records holds personal data."""
    erased = {
        kind: privacy.erased_ids(session, kind, [s.record.id for s in subjects if s.kind == kind])
        for kind in privacy.KINDS
    }
    holding = {
        kind: privacy.holding_data(session, kind, {i for s in subjects for i in dict(s.ids)[kind]})
        for kind in privacy.KINDS
    }
    return [
        s
        for s in subjects
        if s.record.id not in erased[s.kind] or any(i in holding[kind] for kind, ids in s.ids for i in ids)
    ]


def reapply(
    session: Session,
    storage: Storage,
    entries: Iterable[erasure_ledger.Entry],
    *,
    today: date,
    reason: str,
    commit: Callable[[], object],
) -> Reapplied:
    """Erase again each person of the ledger's `entries` and of the privacy log who needs it (see the
    module's docstring), logged with `reason` (a REASONS key) and committed one at a time (`commit`);
    one that fails is rolled back alone, counted in `failed`, and the others go on."""
    entries = list(entries)
    keep_ids_ahead(session, entries)
    commit()
    result = Reapplied()
    seen: set[tuple[str, int]] = set()  # the records of the people looked at
    for kind, ids in _recorded(session, entries, result).items():
        for batch in _batches(ids):
            subjects = []
            for subject in privacy.find_subjects(session, kind, batch):  # each person once
                if (subject.kind, subject.record.id) not in seen:
                    subjects.append(subject)
                    seen.update((k, i) for k, records in subject.ids for i in records)
            needing = _needing(session, subjects)
            result.already += len(subjects) - len(needing)
            for kind_, record_id in [(s.kind, s.record.id) for s in needing]:
                try:  # checked again just before: the erasure of someone before may have covered them
                    fresh = privacy.find_subject(session, kind_, record_id)
                    if fresh is None or not _needing(session, [fresh]):
                        result.already += 1
                        continue
                    privacy.erase_by(session, storage, None, fresh, today, reapplied=reason)
                    commit()
                    result.erased += 1
                except Exception:
                    session.rollback()
                    result.failed.append((kind_, record_id))
                    logger.exception("Could not erase %s %s again", kind_, record_id)
    return result


def _named_ids(session: Session, entries: Iterable[erasure_ledger.Entry]) -> dict[str, int]:
    """The largest id of each kind (privacy.KINDS) the ledger's `entries` and the privacy log name."""
    largest = dict.fromkeys(privacy.KINDS, 0)
    for entry in entries:
        for kind, record_id in [(entry.kind, entry.id), *((k, i) for k, i, _created in entry.records)]:
            if kind in largest:
                largest[kind] = max(largest[kind], record_id)
    logged = select(PrivacyEvent.subject_type, func.max(PrivacyEvent.subject_id)).where(
        PrivacyEvent.subject_type.in_(privacy.KINDS)
    )
    for kind, record_id in session.execute(logged.group_by(PrivacyEvent.subject_type)):
        largest[kind] = max(largest[kind], record_id or 0)
    return largest


def keep_ids_ahead(session: Session, entries: Iterable[erasure_ledger.Entry]) -> dict[str, int]:
    """Move the id sequence of each kind of person's record past the largest id the ledger's `entries`
    and the privacy log name (never back); the caller commits. Returns those ids by kind."""
    largest = _named_ids(session, entries)
    dialect = session.get_bind().dialect.name
    model: Any
    for kind, record_id in largest.items():
        model = privacy.KINDS[kind]
        table = model.__tablename__
        if not record_id:
            continue
        if dialect == "postgresql":
            # inserts wait (they take ROW EXCLUSIVE), so no value is handed out between reading and setting
            session.execute(text(f'LOCK TABLE "{table}" IN SHARE ROW EXCLUSIVE MODE'))
            sequence = session.scalar(text("SELECT pg_get_serial_sequence(:table, 'id')"), {"table": table})
            given = session.scalar(text("SELECT pg_sequence_last_value(CAST(:s AS regclass))"), {"s": sequence})
            if record_id > (given or 0):
                session.execute(text("SELECT setval(CAST(:s AS regclass), :id)"), {"s": sequence, "id": record_id})
        else:  # the UPDATE takes the database's write lock first
            moved = session.execute(
                text("UPDATE sqlite_sequence SET seq = max(seq, :id) WHERE name = :table"),
                {"id": record_id, "table": table},
            )
            if not cast(CursorResult, moved).rowcount:
                session.execute(
                    text("INSERT INTO sqlite_sequence (name, seq) VALUES (:table, :id)"),
                    {"id": record_id, "table": table},
                )
    return largest
