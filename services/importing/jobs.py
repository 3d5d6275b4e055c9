"""Import jobs: uploaded, mapped, checked by a dry run, run, cancelled, undone.

The job's state lives in its ImportJob row, so every gunicorn worker and a
reloaded page see the same progress. A pass (dry run or write) runs in a
thread started by the request; the thread claims the job with a conditional
UPDATE (only one thread can move it from "queued" to "running"), works in its
own app context and database session, writes its progress through a second
session after every batch, and reads the cancel flag between batches.

Without "all or nothing" every batch is committed as it is written and bad
rows are skipped (and listed). With it, the write is one transaction that is
rolled back at the first bad row, at a cancel or at a failure. (On SQLite no
other connection can write while that transaction is open, so there its
progress, heartbeat and cancel go through services.importing.sidecar.)
"""

from __future__ import annotations

import logging
import threading
from dataclasses import asdict, dataclass
from datetime import date, datetime
from decimal import Decimal

from flask import Flask, current_app
from flask_babel import gettext as _
from sqlalchemy import delete, insert, select, text, update
from sqlalchemy.orm import Session

from extensions import db
from models import AuditEvent, Category, Employee, ImportJob, ImportMapping, ImportRowError, utcnow
from services.audit import plain, record_bulk
from services.importing import engine, parallel, sidecar
from services.importing.engine import CATEGORY_LINKS, Cancelled, Counts, RowError
from services.importing.fields import ENTITIES, MODES
from services.importing.reader import FileProblem, open_table
from services.storage import Storage, TooLarge

log = logging.getLogger(__name__)

#: Jobs in these states are being worked on by a thread (or waiting for one).
ACTIVE = ("queued", "running")
#: A running job whose thread has not reported for this long is taken as dead.
STALLED_AFTER_SECONDS = 300
SAMPLE_ROWS = 3
#: SQLite page cache of the import's connection while it runs (KiB).
SQLITE_CACHE_KB = 64 * 1024


class ImportProblem(ValueError):
    """The request cannot be done on this job now; the message is for the user."""


class NotPermitted(PermissionError):
    """The employee lacks the permission for this import operation."""


class _AllOrNothingFailed(Exception):
    pass


# --- upload and mapping -------------------------------------------------------------


def create_job(
    session: Session, storage: Storage, *, entity: str, filename: str, stream, actor: Employee, max_bytes: int
) -> ImportJob:
    """Store the uploaded file and make a job for it, with the columns mapped automatically.

    Raises FileProblem (nothing kept) when the file is too large or unreadable.
    """
    if entity not in ENTITIES:
        raise ImportProblem(_("Choose what the file contains."))
    try:
        key, size = storage.save(stream, max_bytes=max_bytes)
    except TooLarge:
        raise FileProblem(
            _(
                "The file is larger than %(mb)s MB. Split it into smaller files and import them one by one.",
                mb=max_bytes // (1024 * 1024),
            )
        ) from None
    try:
        with open_table(lambda: storage.open(key)) as table:
            headers = table.headers
    except Exception:
        storage.delete(key)
        raise
    spec = ENTITIES[entity]
    job = ImportJob(
        entity=entity,
        filename=(filename or "import")[:255],
        storage_key=key,
        file_size=size,
        status="uploaded",
        mode="create",
        match_key=next(iter(spec.match_keys)),
        mapping=spec.auto_map(headers),
        created_by_id=actor.id,
    )
    session.add(job)
    session.flush()
    return job


def preview(storage: Storage, job: ImportJob) -> tuple[list[str], list[list[str]]]:
    """The file's headers and its first rows, for the mapping page."""
    with open_table(lambda: storage.open(job.storage_key)) as table:
        rows = []
        for _number, cells in table.rows:
            rows.append(cells)
            if len(rows) >= SAMPLE_ROWS:
                break
        return table.headers, rows


def configure(
    session: Session,
    job: ImportJob,
    *,
    mapping: dict[str, str],
    mode: str,
    match_key: str | None,
    all_or_nothing: bool,
    headers: list[str],
) -> None:
    """Set the mapping and options of a job that is not running; a new dry run is needed after."""
    _not_active(job)
    if job.status in ("done", "undone") or (job.status in ("failed", "cancelled") and not job.dry_run):
        raise ImportProblem(_("This import has already run; upload the file again to import it once more."))
    spec = ENTITIES[job.entity]
    if mode not in MODES:
        raise ImportProblem(_("Choose how existing records are handled."))
    if match_key not in spec.match_keys:
        raise ImportProblem(_("Choose the field that identifies existing records."))
    fields = {f.key for f in spec.fields}
    clean, taken = {}, set()
    for index, key in mapping.items():
        if not key:
            continue
        if key not in fields or not str(index).isdigit() or int(index) >= len(headers):
            raise ImportProblem(_("The column mapping is not valid."))
        if key in taken:
            raise ImportProblem(_("The field %(field)s is chosen for two columns.", field=spec.field(key).label))
        taken.add(key)
        clean[str(index)] = key
    job.mapping, job.mode, job.match_key, job.all_or_nothing = clean, mode, match_key, all_or_nothing
    job.status = "uploaded"


def save_mapping(session: Session, job: ImportJob, name: str, headers: list[str], actor: Employee) -> ImportMapping:
    """Keep the job's mapping under `name` (header text → field), replacing one of the same name."""
    name = name.strip()[:100]
    by_header = {headers[int(i)]: key for i, key in (job.mapping or {}).items() if int(i) < len(headers)}
    saved = session.scalar(select(ImportMapping).where(ImportMapping.name == name, ImportMapping.entity == job.entity))
    if saved is None:
        saved = ImportMapping(name=name, entity=job.entity, created_by_id=actor.id, mapping=by_header)
        session.add(saved)
    else:
        saved.mapping = by_header
    session.flush()
    return saved


def apply_mapping(job: ImportJob, saved: ImportMapping, headers: list[str]) -> None:
    """Use a saved mapping on this job's file; only one saved for the job's kind of record."""
    _not_active(job)
    if saved.entity != job.entity:
        raise ImportProblem(_("The saved column mapping %(name)s is for another kind of import.", name=saved.name))
    job.mapping = ENTITIES[job.entity].apply_saved(headers, saved.mapping)
    job.status = "uploaded"


def mappings_for(session: Session, entity: str) -> list[ImportMapping]:
    return list(
        session.scalars(select(ImportMapping).where(ImportMapping.entity == entity).order_by(ImportMapping.name))
    )


def unmapped_columns(job: ImportJob, headers: list[str]) -> list[str]:
    """Columns of the file that no field takes (they are not imported)."""
    used = {int(i) for i in (job.mapping or {})}
    return [h or f"#{i + 1}" for i, h in enumerate(headers) if i not in used]


# --- starting, running, cancelling ------------------------------------------------------


def _not_active(job: ImportJob) -> None:
    if job.status in ACTIVE:
        raise ImportProblem(_("The import is running; wait for it or cancel it first."))


def queue(session: Session, job: ImportJob, *, write: bool) -> None:
    """Put the job in the queue for a dry run or (after a dry run) the write."""
    _not_active(job)
    if write:
        if job.status != "checked":
            raise ImportProblem(_("Make a dry run first: it shows what the import will do."))
        if job.all_or_nothing and job.error_count:
            raise ImportProblem(
                _(
                    "The dry run found errors and \u201call or nothing\u201d is chosen: correct the file "
                    "or let the import skip the bad rows."
                )
            )
    elif job.status not in ("uploaded", "checked", "failed", "cancelled") or (
        job.status in ("failed", "cancelled") and not job.dry_run
    ):
        raise ImportProblem(_("This import has already run; upload the file again to import it once more."))
    job.status, job.dry_run, job.cancel_requested = "queued", not write, False
    if side := _holds_the_write_lock(session, job):
        side.forget(job.id)  # e.g. a cancel that came after the end of an earlier run
    job.rows_done = job.created_count = job.updated_count = job.unchanged_count = job.error_count = 0
    job.error_summary, job.started_at, job.finished_at = None, None, None
    session.flush()


def start_thread(app: Flask, job_id: int, storage: Storage) -> threading.Thread:
    """Run the queued job in a background thread of this process."""
    thread = threading.Thread(target=run_queued, args=(app, job_id, storage), name=f"import-{job_id}", daemon=True)
    thread.start()
    return thread


def _holds_the_write_lock(session: Session, job: ImportJob) -> sidecar.Sidecar | None:
    """The side file through which the job reports, when it is an all-or-nothing write on SQLite."""
    return sidecar.for_engine(session.get_bind()) if job.all_or_nothing and not job.dry_run else None


def request_cancel(session: Session, job: ImportJob) -> None:
    if job.status not in ACTIVE:
        raise ImportProblem(_("The import is not running."))
    if side := _holds_the_write_lock(session, job):
        side.cancel(job.id)  # the job's row cannot be written until the import's transaction ends
    else:
        session.execute(update(ImportJob).where(ImportJob.id == job.id).values(cancel_requested=True))


def _claim(session: Session, job_id: int) -> bool:
    """queued → running, for exactly one thread (a conditional UPDATE)."""
    now = utcnow()
    claimed = session.execute(
        update(ImportJob)
        .where(ImportJob.id == job_id, ImportJob.status == "queued")
        .values(status="running", started_at=now, heartbeat_at=now)
    ).rowcount
    session.commit()
    return claimed == 1


class _Progress:
    """Writes a job's progress and errors through its own session, and reads the cancel flag."""

    def __init__(self, session: Session, job_id: int, *, deferred: sidecar.Sidecar | None):
        self.session, self.job_id, self.deferred = session, job_id, deferred
        self.stored_errors = 0
        self.pending_errors: list[dict] = []
        self.counts = Counts()
        session.execute(delete(ImportRowError).where(ImportRowError.job_id == job_id))
        session.commit()

    def add_errors(self, errors: list[RowError]) -> None:
        room = engine.MAX_STORED_ERRORS - self.stored_errors
        if room > 0 and errors:
            self.pending_errors += [{"job_id": self.job_id, **e.as_dict()} for e in errors[:room]]
            self.stored_errors += min(room, len(errors))

    def batch(self, counts: Counts, errors: list[RowError]) -> None:
        self.counts = counts
        self.add_errors(errors)
        if self.deferred:
            self.deferred.report(self.job_id, asdict(counts))
            cancel = self.deferred.read(self.job_id).cancel
        else:
            self.save(status=None)
            cancel = self.session.scalar(select(ImportJob.cancel_requested).where(ImportJob.id == self.job_id))
            self.session.rollback()
        if cancel:
            raise Cancelled()

    def save(self, status: str | None, **values) -> None:
        if self.pending_errors:
            self.session.execute(insert(ImportRowError), self.pending_errors)
            self.pending_errors = []
        c = self.counts
        values.update(
            rows_done=c.rows,
            created_count=c.created,
            updated_count=c.updated,
            unchanged_count=c.unchanged,
            error_count=c.errors,
            heartbeat_at=utcnow(),
        )
        if status:
            values.update(status=status, finished_at=utcnow())
        self.session.execute(update(ImportJob).where(ImportJob.id == self.job_id).values(**values))
        self.session.commit()
        if status and self.deferred:
            self.deferred.forget(self.job_id)


def run_queued(app: Flask, job_id: int, storage: Storage) -> str | None:
    """Claim and run one queued job to its end; returns its final status (None if another thread had it)."""
    with app.app_context():
        progress_session = Session(db.engine)
        work = db.session
        try:
            if not _claim(progress_session, job_id):
                return None
            job = work.get(ImportJob, job_id)
            sqlite = work.get_bind().dialect.name == "sqlite"
            if sqlite:  # a large register's indexes stay in memory: 64 MB instead of SQLite's 2 MB
                work.execute(text(f"PRAGMA cache_size = -{SQLITE_CACHE_KB}"))
            try:
                return _run(work, progress_session, job, storage)
            finally:
                if sqlite:
                    work.rollback()
                    work.execute(text("PRAGMA cache_size = -2000"))
        finally:
            work.rollback()
            db.session.remove()
            progress_session.close()


def _run(work: Session, progress_session: Session, job: ImportJob, storage: Storage) -> str:
    write = not job.dry_run
    atomic = write and job.all_or_nothing
    progress = _Progress(progress_session, job.id, deferred=_holds_the_write_lock(work, job))

    def after_batch(counts: Counts, errors: list[RowError]) -> None:
        if atomic and counts.errors:
            progress.counts = counts
            progress.add_errors(errors)
            raise _AllOrNothingFailed(errors[0] if errors else None)
        if write and not atomic:
            work.commit()
        progress.batch(counts, errors)

    cache = engine.ParsedRows(job)
    try:
        with open_table(lambda: storage.open(job.storage_key)) as table:
            workers = parallel.worker_count(current_app.config.get("IMPORT_WORKERS"), job.file_size)
            result = engine.run(work, job, table, write=write, after_batch=after_batch, cache=cache, workers=workers)
        work.commit()
    except Cancelled:
        work.rollback()
        if atomic:
            progress.counts = Counts(rows=progress.counts.rows, errors=progress.counts.errors)
        kept = (
            ""
            if atomic or not write
            else _(" Rows written before the cancel are kept; undo the import to remove them.")
        )
        progress.save("cancelled", error_summary=_("The import was cancelled.") + kept)
        return "cancelled"
    except _AllOrNothingFailed as exc:
        work.rollback()
        first = exc.args[0]
        where = _(" (first on row %(row)s: %(message)s)", row=first.row, message=first.message) if first else ""
        progress.counts = Counts(rows=progress.counts.rows, errors=progress.counts.errors)
        progress.save(
            "failed", error_summary=_("A row had errors, so nothing was imported (all or nothing)") + where + "."
        )
        return "failed"
    except FileProblem as exc:
        work.rollback()
        progress.save("failed", error_summary=str(exc))
        return "failed"
    except Exception:
        log.exception("import job %s failed", job.id)
        work.rollback()
        summary = (
            _("The import stopped because of an unexpected error; nothing was written.")
            if atomic or not write
            else _(
                "The import stopped because of an unexpected error; the rows written before it are kept "
                "and can be undone."
            )
        )
        try:
            progress.save("failed", error_summary=summary)
        except Exception:  # e.g. the errors themselves could not be stored: keep the state at least
            log.exception("import job %s: saving its errors failed", job.id)
            progress.session.rollback()
            progress.pending_errors = []
            progress.save("failed", error_summary=summary)
        return "failed"
    finally:
        if write:
            cache.abandon()
    status = "done" if write else "checked"
    progress.counts = result.counts
    progress.save(status, new_categories=result.new_categories or None, total_rows=result.counts.rows)
    return status


def stalled(session: Session) -> list[ImportJob]:
    """Active jobs whose thread died (process restarted): no report for STALLED_AFTER_SECONDS. Reads only."""
    limit = utcnow().timestamp() - STALLED_AFTER_SECONDS
    return [
        job
        for job in session.scalars(select(ImportJob).where(ImportJob.status.in_(ACTIVE)))
        if _heartbeat(session, job) < limit
    ]


def _interrupted() -> str:
    return _("The import was interrupted (the server restarted). Start it again.")


def mark_stalled(session: Session) -> int:
    """Stalled jobs are marked failed so they can be started again (on a POST: a GET writes nothing)."""
    jobs = stalled(session)
    for job in jobs:
        job.status, job.finished_at, job.error_summary = "failed", utcnow(), _interrupted()
    return len(jobs)


def _side_report(session: Session, job: ImportJob) -> sidecar.Report | None:
    """What a running all-or-nothing write on SQLite has reported through the side file."""
    side = _holds_the_write_lock(session, job) if job.status == "running" else None
    return side.read(job.id) if side else None


def _heartbeat(session: Session, job: ImportJob) -> float:
    """When the job last reported (Unix time)."""
    beat = (job.heartbeat_at or job.updated_at).timestamp()
    report = _side_report(session, job)
    return max(beat, report.heartbeat) if report and report.heartbeat else beat


def state(session: Session, job: ImportJob) -> dict:
    """What the progress page shows: status, rows done of total, rate and time left.
    A stalled job is shown as failed (interrupted), without writing that."""
    if job.status in ACTIVE and job in stalled(session):
        return {**_state(session, job), "status": "failed", "active": False, "summary": _interrupted(),
                "status_label": str(ImportJob.STATUSES["failed"])}  # fmt: skip
    return _state(session, job)


def _state(session: Session, job: ImportJob) -> dict:
    counts = Counts(job.rows_done, job.created_count, job.updated_count, job.unchanged_count, job.error_count)
    report = _side_report(session, job)
    if report and report.counts:
        counts = Counts(**report.counts)
    elapsed = ((job.finished_at or utcnow()) - job.started_at).total_seconds() if job.started_at else 0
    rate = counts.rows / elapsed if elapsed > 0 else 0
    total = job.total_rows if not job.dry_run else None
    left = (total - counts.rows) / rate if total and rate and job.status == "running" else None
    return {
        "id": job.id,
        "status": job.status,
        "status_label": str(ImportJob.STATUSES.get(job.status, job.status)),
        "dry_run": job.dry_run,
        "active": job.status in ACTIVE,
        "rows_done": counts.rows,
        "total": total,
        "percent": round(100 * counts.rows / total) if total else None,
        "rate": round(rate),
        "seconds_left": round(left) if left is not None else None,
        "created": counts.created,
        "updated": counts.updated,
        "unchanged": counts.unchanged,
        "errors": counts.errors,
        "cancel_requested": job.cancel_requested or bool(report and report.cancel),
        "summary": job.error_summary,
    }


def errors(session: Session, job: ImportJob, limit: int | None = None) -> list[ImportRowError]:
    query = select(ImportRowError).where(ImportRowError.job_id == job.id).order_by(ImportRowError.id)
    return list(session.scalars(query.limit(limit) if limit else query))


# --- undo ----------------------------------------------------------------------------


@dataclass
class UndoResult:
    removed: int = 0
    reverted: int = 0
    conflicts: int = 0


def _unplain(column, value):
    """An audited (JSON-safe) value back as the column's Python value."""
    if value is None:
        return None
    kind = column.type.python_type
    if kind is Decimal:
        return Decimal(str(value))
    if kind is datetime:
        return datetime.fromisoformat(value)
    if kind is date:
        return date.fromisoformat(value)
    return value


def undo(session: Session, job: ImportJob, actor: Employee) -> UndoResult:
    """Undo a finished import: its new records to the trash, its updates reverted from the audit trail.

    A record changed again after the import keeps that later change (counted as a conflict).
    """
    if not actor.has_permission("import.undo"):
        raise NotPermitted("import.undo")
    if job.dry_run or job.status not in ("done", "cancelled", "failed"):
        raise ImportProblem(_("Only an import that has written records can be undone."))
    model = ENTITIES[job.entity].model
    table = model.__table__
    result, events, now = UndoResult(), [], utcnow()
    of_job = (AuditEvent.import_job_id == job.id, AuditEvent.entity_type == table.name)
    created = list(session.scalars(select(AuditEvent.entity_id).where(*of_job, AuditEvent.action == "create")))
    soft = "deleted_at" in table.c
    for start in range(0, len(created), 1000):
        chunk = created[start : start + 1000]
        if soft:
            live = (
                session.execute(select(table.c.id).where(table.c.id.in_(chunk), table.c.deleted_at.is_(None)))
                .scalars()
                .all()
            )
            session.execute(
                update(table)
                .where(table.c.id.in_(live))
                .values(deleted_at=now, deleted_by_id=actor.id, version=table.c.version + 1)
            )
            events += [
                {
                    "entity_type": table.name,
                    "entity_id": i,
                    "entity_label": None,
                    "action": "delete",
                    "changes": {"deleted_at": [None, plain(now)]},
                }
                for i in live
            ]
        else:
            live = session.execute(select(table.c.id).where(table.c.id.in_(chunk))).scalars().all()
            session.execute(delete(table).where(table.c.id.in_(live)))
            events += [
                {"entity_type": table.name, "entity_id": i, "entity_label": None, "action": "purge", "changes": None}
                for i in live
            ]
        result.removed += len(live)
    categories = {name: ident for ident, name in session.execute(select(Category.id, Category.name))}
    link = CATEGORY_LINKS[job.entity]
    owner_col = [c for c in link.c if c.name != "category_id"][0]
    updates = session.scalars(
        select(AuditEvent).where(*of_job, AuditEvent.action == "update").order_by(AuditEvent.id.desc())
    )
    for event in updates:
        columns = {k: v for k, v in event.changes.items() if k in table.c}
        current = (
            session.execute(select(*(table.c[k] for k in columns)).where(table.c.id == event.entity_id))
            .mappings()
            .first()
        )
        if current is None or any(plain(current[k]) != new for k, (_old, new) in columns.items()):
            result.conflicts += 1
            continue
        if columns:
            values = {k: _unplain(table.c[k], old) for k, (old, _new) in columns.items()}
            session.execute(
                update(table)
                .where(table.c.id == event.entity_id)
                .values(values | {"version": table.c.version + 1, "updated_at": now})
            )
        if "categories" in event.changes:
            old, new = event.changes["categories"]
            added = [categories[n] for n in set(new) - set(old) if n in categories]
            if added:
                session.execute(delete(link).where(owner_col == event.entity_id, link.c.category_id.in_(added)))
        events.append(
            {
                "entity_type": table.name,
                "entity_id": event.entity_id,
                "entity_label": event.entity_label,
                "action": "update",
                "changes": {k: [new, old] for k, (old, new) in event.changes.items()},
            }
        )
        result.reverted += 1
    record_bulk(session, events, actor_id=actor.id, import_job_id=job.id)
    job.status, job.undone_at, job.undone_by_id = "undone", now, actor.id
    session.flush()
    return result
