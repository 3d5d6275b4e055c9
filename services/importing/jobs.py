"""Import jobs: uploaded, mapped, checked by a dry run, run, cancelled, tried again, undone.

A pass (dry run, write or undo) runs in a queue worker (services.tasks;
the tasks are in services.importing.tasks), never in a web process. The job's
truth is its ImportJob row:

- A worker claims a waiting job with a conditional UPDATE that sets a new
  claim token; exactly one worker wins. Every later write of the job's row
  names that token, so a worker taken for dead that wakes up again writes
  nothing (its batch is rolled back).
- Each batch of rows is committed together with the job's counts, its row
  errors, its heartbeat and its number (`batches_done`): what the job says
  it wrote is exactly what it wrote, and nothing else is.
- A job whose worker has not reported for JOB_STALLED_SECONDS is queued again
  by a periodic task (take_over_stalled); the next worker reads the file
  again, skips the committed batches (only remembering their keys, for
  duplicates inside the file) and goes on.
- Cancel works in any state: a waiting job is cancelled at once, a running
  one stops after its batch, a stalled one is ended by the request itself.

Without "all or nothing" bad rows are skipped (and listed) and the committed
batches stay when a pass is cancelled or fails. With it, the dry run must be
clean; the write is committed batch by batch too (so nobody's save waits
behind it, on SQLite either), and a row that fails at write time, a cancel
or a failure removes everything the write had committed (`_discard`), so the
job ends with nothing imported and says so. A worker that dies in the middle
of such a write is replaced and the write goes on to the end.
"""

from __future__ import annotations

import logging
import socket
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import BinaryIO, cast

from flask_babel import gettext as _
from flask_babel import ngettext
from sqlalchemy import and_, case, delete, func, insert, or_, select, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.event import listens_for
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.orm import Session
from sqlalchemy.pool import Pool

from config import SQLITE_PAGE_CACHE_KIB
from models import (
    AuditEvent,
    Category,
    CompanyContact,
    Employee,
    ImportJob,
    ImportMapping,
    ImportRowError,
    table_of,
    utcnow,
)
from services import duplicates, search, visibility, write_turns
from services.audit import plain, record_bulk, unplain
from services.importing import engine, parallel
from services.importing.engine import CATEGORY_LINKS, Cancelled, Counts, RowError
from services.importing.fields import ENTITIES, MODES
from services.importing.reader import FileProblem, count_rows, open_table, sheet_names
from services.storage import Storage, TooLarge, save_in_transaction
from services.tasks import describe_worker

log = logging.getLogger(__name__)

#: Jobs in these states are being worked on by a worker (or waiting for one).
ACTIVE = ("queued", "running", "undoing")
SAMPLE_ROWS = 3
#: A write of at least this many records has PostgreSQL ANALYZE the register at its end.
ANALYZE_AFTER_ROWS = 1000
#: Records an undo (or the removal of a failed all-or-nothing write) handles per transaction.
UNDO_BATCH = 1000
#: A pass that writes no batch for a while (reading its committed batches again) reports this often (s).
HEARTBEAT_SECONDS = 5
#: SQLite page cache of the import's connection while it runs (KiB): 8 MB instead of SQLite's 2 MB (and of the
#: 32 MB a screen's connection has, config.SQLITE_PAGE_CACHE_KIB). 64 MB cost the queue worker 60 MB more
#: at its peak for the same rows per CPU-second (50,000 companies: 12.5 against 12.6 CPU-seconds); the
#: operating system keeps the file's pages anyway.
SQLITE_CACHE_KB = 8 * 1024


_PAGE_CACHE = "import_sqlite_page_cache_kb"
_PASS_SETTINGS = "import_pass_settings_set"


@listens_for(Session, "after_begin")
def _pass_settings(session: Session, transaction, connection) -> None:
    """Each transaction of a running pass (it commits batch by batch, and each transaction may get another
    of the pool's connections) commits without waiting for the disk: a batch is committed with the job's
    count of committed batches, so a commit lost to a power cut (SQLite) or a database crash (PostgreSQL)
    loses the batch and its count together, and the pass resumes before it (a killed process loses
    nothing either way). The wait was one flush of the disk (about 5 ms here) for each batch and each
    heartbeat. On SQLite the pass also has SQLITE_CACHE_KB of page cache."""
    size = session.info.get(_PAGE_CACHE)
    if not size:
        return
    if connection.dialect.name == "sqlite":
        connection.exec_driver_sql(f"PRAGMA cache_size = -{size}")
        # NORMAL: with the write-ahead log only a checkpoint flushes the disk, and the database stays whole
        connection.exec_driver_sql("PRAGMA synchronous = NORMAL")
        connection.connection.info[_PASS_SETTINGS] = True
    elif connection.dialect.name == "postgresql":
        connection.exec_driver_sql("SET LOCAL synchronous_commit = off")  # this transaction only


@listens_for(Pool, "checkin")
def _default_settings(dbapi_connection, connection_record) -> None:
    """A SQLite connection given back to the pool has the app's page cache (config.SQLITE_PAGE_CACHE_KIB)
    and SQLite's full flush at each commit again, whoever uses it next."""
    if connection_record.info.pop(_PASS_SETTINGS, False) and dbapi_connection is not None:
        dbapi_connection.execute(f"PRAGMA cache_size = -{SQLITE_PAGE_CACHE_KIB}")
        dbapi_connection.execute("PRAGMA synchronous = FULL")


class ImportProblem(ValueError):
    """The request cannot be done on this job now; the message is for the user."""


class NotPermitted(PermissionError):
    """The employee lacks the permission for this import operation."""


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
        key, size = save_in_transaction(session, storage, stream, max_bytes=max_bytes)
    except TooLarge:
        raise FileProblem(
            _(
                "The file is larger than %(mb)s MB. Split it into smaller files and import them one by one.",
                mb=max_bytes // (1024 * 1024),
            )
        ) from None
    total = None
    try:
        with open_table(lambda: storage.open(key)) as table:
            headers = table.headers
            if table.kind == "csv":  # read it all now: a bad line anywhere refuses the file at upload
                total = count_rows(table)
                if not total:
                    raise FileProblem(_("The file has no rows."))
            elif next(table.rows, None) is None and len(sheet_names(lambda: storage.open(key))) < 2:
                raise FileProblem(_("The file has no rows."))
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
        mapping=_settable(spec.auto_map(headers), entity, actor),
        total_rows=total,
        created_by_id=actor.id,
    )
    session.add(job)
    session.flush()
    return job


def _opener(storage: Storage, job: ImportJob) -> Callable[[], BinaryIO]:
    """Opens the job's uploaded file (a FileProblem once the file is no longer kept)."""

    def open_file() -> BinaryIO:
        if job.storage_key is None:
            raise FileProblem(_("The import's file is no longer kept."))
        try:
            return storage.open(job.storage_key)
        except FileNotFoundError:  # kept by the web host, but this worker's host does not share its upload folder
            raise FileProblem(
                _(
                    "The import's file cannot be found on %(host)s. Every host that runs workers needs the web "
                    "server's upload folder (CRM_UPLOAD_DIR). Try again once it is shared.",
                    host=socket.gethostname(),
                )
            ) from None

    return open_file


def preview(storage: Storage, job: ImportJob) -> tuple[list[str], list[list[str]]]:
    """The file's headers and its first rows (of the chosen sheet), for the mapping page."""
    with open_table(_opener(storage, job), sheet=job.sheet, check=False) as table:
        rows = []
        for _number, cells in table.rows:
            rows.append(cells)
            if len(rows) >= SAMPLE_ROWS:
                break
        return table.headers, rows


def settable_fields(entity: str, employee: Employee | None) -> list:
    """The fields of `entity` an import by `employee` may set: a customer's invoice settings only
    by who may see them (services.visibility, the Inställningar tab), as in the forms."""
    return [f for f in ENTITIES[entity].fields if visibility.may_see_field(employee, f.key)]


def _settable(mapping: dict[str, str], entity: str, employee: Employee | None) -> dict[str, str]:
    keys = {f.key for f in settable_fields(entity, employee)}
    return {index: key for index, key in mapping.items() if key in keys}


def configure(
    session: Session,
    job: ImportJob,
    *,
    actor: Employee,
    mapping: dict[str, str],
    mode: str,
    match_key: str | None,
    all_or_nothing: bool,
    headers: list[str],
) -> None:
    """Set the mapping and options of a job that is not running; a new dry run is needed after."""
    _not_active(job)
    _not_undone(job)
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
        if not visibility.may_see_field(actor, key):
            raise ImportProblem(
                _(
                    "You may not set %(field)s: it belongs to the customers' invoice settings.",
                    field=spec.field(key).label,
                )
            )
        if key in taken:
            raise ImportProblem(_("The field %(field)s is chosen for two columns.", field=spec.field(key).label))
        taken.add(key)
        clean[str(index)] = key
    job.mapping, job.mode, job.match_key, job.all_or_nothing = clean, mode, match_key, all_or_nothing
    job.status = "uploaded"


def sheets(storage: Storage, job: ImportJob) -> list[str]:
    """The sheets of the job's XLSX file (empty for CSV)."""
    return sheet_names(_opener(storage, job))


def choose_sheet(storage: Storage, job: ImportJob, name: str) -> None:
    """Import another sheet of the XLSX file: its columns are mapped afresh."""
    _not_active(job)
    if job.status not in ("uploaded", "checked") and not (job.dry_run and job.status in ("failed", "cancelled")):
        raise ImportProblem(_("This import has already run; upload the file again to import it once more."))
    if name not in sheets(storage, job):
        raise ImportProblem(_("The Excel file has no sheet %(name)s.", name=name))
    job.sheet = name
    with open_table(_opener(storage, job), sheet=name, check=False) as table:
        job.mapping = _settable(ENTITIES[job.entity].auto_map(table.headers), job.entity, job.created_by)
    job.status, job.total_rows = "uploaded", None


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
    job.mapping = _settable(ENTITIES[job.entity].apply_saved(headers, saved.mapping), job.entity, job.created_by)
    job.status = "uploaded"


def mappings_for(session: Session, entity: str) -> list[ImportMapping]:
    return list(
        session.scalars(select(ImportMapping).where(ImportMapping.entity == entity).order_by(ImportMapping.name))
    )


def unmapped_columns(job: ImportJob, headers: list[str]) -> list[str]:
    """Columns of the file that no field takes (they are not imported)."""
    used = {int(i) for i in (job.mapping or {})}
    return [h or f"#{i + 1}" for i, h in enumerate(headers) if i not in used]


# --- queueing, cancelling, trying again ------------------------------------------------------


def _not_active(job: ImportJob) -> None:
    if job.status in ACTIVE:
        raise ImportProblem(_("The import is running; wait for it or cancel it first."))


def _not_undone(job: ImportJob) -> None:
    """An undone import is finished with: neither run, tried again nor undone once more (say so, not why another
    state would be needed)."""
    if job.status == "undone":
        raise ImportProblem(_("The import has already been undone."))


def _start_afresh(job: ImportJob, *, dry_run: bool) -> None:
    """A new pass: nothing done yet."""
    job.dry_run, job.cancel_requested = dry_run, False
    job.rows_done = job.created_count = job.updated_count = job.unchanged_count = job.error_count = 0
    job.notice_count = 0
    job.batches_done = job.resumed_count = 0
    job.error_summary = job.started_at = job.finished_at = job.resumed_at = job.worker = None
    if not dry_run:
        job.new_categories = None


def _to_queue(job: ImportJob) -> None:
    job.status, job.queued_at, job.claim, job.task_id = "queued", utcnow(), None, None


def queue(session: Session, job: ImportJob, *, write: bool) -> None:
    """Make the job ready for a dry run or (after a clean enough dry run) the write; the caller
    commits and then puts it in the task queue (services.importing.tasks.submit)."""
    _not_active(job)
    _not_undone(job)
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
    _start_afresh(job, dry_run=not write)
    _to_queue(job)
    session.flush()


def can_retry(job: ImportJob) -> bool:
    """ "Försök igen" for a failed or cancelled job, unless its column mapping made it fail: the same mapping
    would fail the same way, and the page offers the mapping instead."""
    return job.status in ("failed", "cancelled") and not (job.status == "failed" and engine.mapping_problem(job))


def retry(session: Session, job: ImportJob) -> None:
    """ "Försök igen": the same file and mapping again. A write that keeps its batches goes on after
    the last one committed; a dry run and an all-or-nothing write (which kept nothing) start over."""
    _not_undone(job)
    if job.status == "failed" and engine.mapping_problem(job):
        raise ImportProblem(_("The column mapping would make the import fail again: change the column mapping first."))
    if not can_retry(job):
        raise ImportProblem(_("Only a failed or cancelled import can be tried again."))
    if job.dry_run or job.all_or_nothing:
        _start_afresh(job, dry_run=job.dry_run)
    else:
        job.cancel_requested, job.error_summary, job.finished_at = False, None, None
    _to_queue(job)
    session.flush()


def is_stalled(job: ImportJob, stalled_seconds: int, now: datetime | None = None) -> bool:
    """A claimed job whose worker has not reported for `stalled_seconds` (computed, never written)."""
    if job.status not in ("running", "undoing") or not job.claim:
        return False
    beat = job.heartbeat_at or job.started_at or job.updated_at
    return beat < (now or utcnow()) - timedelta(seconds=stalled_seconds)


def _waiting(job: ImportJob) -> bool:
    return job.status == "queued" or (job.status == "undoing" and not job.claim)


def request_cancel(session: Session, job: ImportJob, *, stalled_seconds: int) -> str:
    """Cancel in any state. Returns "cancelled" (done now), "requested" (the worker stops after its
    batch) or "resubmit" (its worker died and a worker must remove what it wrote: submit it)."""
    now = utcnow()
    if _waiting(job):
        values = (
            {"status": "cancelled", "error_summary": _("The import was cancelled before it started.")}
            if job.status == "queued"
            else {"status": (job.undo_result or {}).get("from", "done")}
        )
        done = cast(
            CursorResult,
            session.execute(
                update(ImportJob)
                .where(ImportJob.id == job.id, ImportJob.status == job.status, ImportJob.claim.is_(None))
                .values(finished_at=now, task_id=None, **values)
            ),
        ).rowcount
        if done:
            return "cancelled"
        session.refresh(job)  # a worker took it meanwhile
    if job.status not in ("running", "undoing"):
        raise ImportProblem(_("The import is not running."))
    session.execute(update(ImportJob).where(ImportJob.id == job.id).values(cancel_requested=True))
    if not is_stalled(job, stalled_seconds, now):
        return "requested"
    dead = (
        ImportJob.id == job.id,
        ImportJob.claim == job.claim,
        ImportJob.heartbeat_at < now - timedelta(seconds=stalled_seconds),
    )
    leaves_work = job.status == "undoing" or (not job.dry_run and job.all_or_nothing and job.batches_done)
    if leaves_work:  # what it wrote must go (all or nothing) or its undo must stop cleanly: a worker does it
        session.execute(update(ImportJob).where(*dead).values(status=_requeued_status(job), claim=None, queued_at=now))
        return "resubmit"
    session.execute(
        update(ImportJob)
        .where(*dead)
        .values(status="cancelled", claim=None, finished_at=now, error_summary=_cancel_summary(job))
    )
    return "cancelled"


def _requeued_status(job: ImportJob) -> str:
    return "undoing" if job.status == "undoing" else "queued"


def _cancel_summary(job: ImportJob) -> str:
    kept = (
        _(" Rows written before the cancel are kept; undo the import to remove them.")
        if not job.dry_run and not job.all_or_nothing and job.created_count + job.updated_count
        else ""
    )
    return _("The import was cancelled.") + kept


# --- taking over from workers that died ----------------------------------------------------


def take_over_stalled(session: Session, *, stalled_seconds: int, waiting_task_ids) -> tuple[list[int], float | None]:
    """Jobs whose worker stopped reporting go back to the queue (a write goes on after its last
    committed batch), and queued jobs whose queue message is gone (`waiting_task_ids()` does not
    have it) are queued again. Returns the ids to submit, and in how many seconds the next running
    job would count as stalled (None: none running)."""
    now = utcnow()
    limit = now - timedelta(seconds=stalled_seconds)
    taken: list[int] = []
    for job in session.scalars(
        select(ImportJob).where(ImportJob.status.in_(("running", "undoing")), ImportJob.claim.is_not(None))
    ):
        if not is_stalled(job, stalled_seconds, now):
            continue
        moved = cast(
            CursorResult,
            session.execute(
                update(ImportJob)
                .where(ImportJob.id == job.id, ImportJob.claim == job.claim, ImportJob.heartbeat_at < limit)
                .values(
                    status=_requeued_status(job),
                    claim=None,
                    queued_at=now,
                    resumed_count=ImportJob.resumed_count + 1,
                    resumed_at=now,
                )
            ),
        ).rowcount
        if moved:
            log.warning("import job %s: its worker (%s) stopped reporting; queued again", job.id, job.worker)
            taken.append(job.id)
    session.commit()
    waiting = session.scalars(
        select(ImportJob).where(
            or_(ImportJob.status == "queued", and_(ImportJob.status == "undoing", ImportJob.claim.is_(None))),
            ImportJob.queued_at < limit,
            ImportJob.id.not_in(taken or [0]),
        )
    ).all()
    if waiting:
        pending = set(waiting_task_ids())
        taken += [job.id for job in waiting if job.task_id not in pending]
    beats = session.scalars(
        select(ImportJob.heartbeat_at).where(ImportJob.status.in_(("running", "undoing")), ImportJob.claim.is_not(None))
    ).all()
    next_check = min((b - limit).total_seconds() for b in beats if b) + 1 if any(beats) else None
    session.rollback()
    return taken, next_check


# --- running a pass in a worker ---------------------------------------------------------------

#: What `run` returns when the worker was stopping and the job went back to the queue.
HANDED_BACK = "handed back"


class _LostClaim(Exception):
    """Another worker took the job over (this one was taken for dead): stop without writing."""


class _HandBack(Exception):
    """The worker is stopping: the job goes back to the queue after the committed batches."""


class _AllOrNothingFailed(Exception):
    pass


def claim(session: Session, job_id: int, worker: str) -> str | None:
    """Take a waiting job for this worker (one conditional UPDATE: exactly one worker wins); its token."""
    token, now = uuid.uuid4().hex, utcnow()
    taken = cast(
        CursorResult,
        session.execute(
            update(ImportJob)
            .where(
                ImportJob.id == job_id,
                ImportJob.claim.is_(None),
                ImportJob.status.in_(("queued", "undoing")),
            )
            .values(
                status=case((ImportJob.status == "queued", "running"), else_=ImportJob.status),
                claim=token,
                worker=worker[:200],
                heartbeat_at=now,
                started_at=func.coalesce(ImportJob.started_at, now),
            )
        ),
    ).rowcount
    session.commit()
    return token if taken == 1 else None


def run(
    session: Session,
    job_id: int,
    *,
    storage: Storage,
    worker: str,
    stopping=None,
    parse_workers: int | None = None,
) -> str | None:
    """Claim a waiting job and run its pass (dry run, write or undo) to its end; its final status,
    HANDED_BACK, or None when there was nothing to claim or the job was taken over meanwhile."""
    token = claim(session, job_id, worker)
    if token is None:
        return None
    job = session.get_one(ImportJob, job_id)  # the claim just took it: it is there
    session.info[_PAGE_CACHE] = SQLITE_CACHE_KB
    session.info[write_turns.NO_TOKEN] = True  # it gives way after each batch instead
    try:
        runner = _Pass(session, job, token, storage, stopping, parse_workers)
        return runner.undo() if job.status == "undoing" else runner.run()
    except _LostClaim:
        session.rollback()
        log.warning("import job %s was taken over by another worker; this one stops", job_id)
        return None
    except _HandBack:
        session.rollback()
        handed = cast(
            CursorResult,
            session.execute(
                update(ImportJob)
                .where(ImportJob.id == job_id, ImportJob.claim == token)
                .values(status=_requeued_status(job), claim=None, queued_at=utcnow())
            ),
        ).rowcount
        session.commit()
        return HANDED_BACK if handed else None
    except (OperationalError, InterfaceError):
        # The database went away (restarted, network): the job keeps its committed batches, and
        # once its heartbeat is old another worker takes it over (take_over_stalled).
        log.exception("import job %s: the database connection failed; it will be taken over", job_id)
        session.rollback()
        return None
    finally:
        session.rollback()
        session.info.pop(_PAGE_CACHE, None)
        session.info.pop(write_turns.NO_TOKEN, None)


class _Pass:
    """One claimed run of a job's pass; every write of the job's row checks the claim."""

    def __init__(self, session: Session, job: ImportJob, token: str, storage: Storage, stopping, parse_workers):
        self.session, self.job, self.token = session, job, token
        self.storage, self.stopping, self.parse_workers = storage, stopping, parse_workers
        self.write = not job.dry_run
        self.atomic = self.write and job.all_or_nothing
        self.last_beat = time.monotonic()

    # --- the job's row ---

    def _save(self, **values) -> None:
        """Update the job's row in the current transaction, if this worker still holds it."""
        values.setdefault("heartbeat_at", utcnow())
        saved = cast(
            CursorResult,
            self.session.execute(
                update(ImportJob).where(ImportJob.id == self.job.id, ImportJob.claim == self.token).values(**values)
            ),
        ).rowcount
        if saved != 1:
            raise _LostClaim()

    def _finish(self, status: str, **values) -> str:
        self._save(status=status, claim=None, finished_at=utcnow(), **values)
        self.session.commit()
        return status

    def _alive(self) -> None:
        """While a resumed pass reads its committed batches again: a heartbeat every few seconds."""
        now = time.monotonic()
        if now - self.last_beat >= HEARTBEAT_SECONDS:
            self._save()
            self.session.commit()
            self.last_beat = now
            self._between_batches()

    def _heartbeat(self) -> None:
        """A heartbeat every few seconds (the job's row only: no cancel asked for here)."""
        now = time.monotonic()
        if now - self.last_beat >= HEARTBEAT_SECONDS:
            self._save()
            self.session.commit()
            self.last_beat = now

    def _merged_step(self) -> None:
        write_turns.give_way(self.session)
        self._heartbeat()

    def _between_batches(self) -> None:
        self.session.expire(self.job, ["cancel_requested"])
        if self.job.cancel_requested:
            raise Cancelled()
        if self.stopping is not None and self.stopping.is_set():
            raise _HandBack()

    # --- dry run and write ---

    def run(self) -> str:
        job, session = self.job, self.session
        if job.cancel_requested:  # cancelled (or failed all or nothing) while its worker was gone
            return self._cancelled()
        if job.batches_done == 0:
            session.execute(delete(ImportRowError).where(ImportRowError.job_id == job.id))
            session.commit()
        self.stored_errors = session.execute(
            select(func.count()).select_from(ImportRowError).where(ImportRowError.job_id == job.id)
        ).scalar_one()
        self.batches = job.batches_done
        resume = engine.Resume(
            batches_done=job.batches_done,
            counts=Counts(
                job.rows_done,
                job.created_count,
                job.updated_count,
                job.unchanged_count,
                job.error_count,
                job.notice_count,
            ),
            categories_created=list(job.new_categories or []) if self.write else [],
        )
        # a resumed dry run's rows are parsed again anyway; keep no partial cache
        cache = None if not self.write and job.batches_done else engine.ParsedRows(job)
        try:
            with open_table(_opener(self.storage, job), sheet=job.sheet) as table:
                workers = parallel.worker_count(self.parse_workers, job.file_size)
                result = engine.run(
                    session,
                    job,
                    table,
                    write=self.write,
                    after_batch=self._after_batch,
                    cache=cache,
                    workers=workers,
                    resume=resume,
                    skipped_batch=self._alive,
                )
        except Cancelled:
            session.rollback()
            return self._cancelled()
        except _AllOrNothingFailed as exc:
            session.rollback()
            first = exc.args[0]
            where = _(" (first on row %(row)s: %(message)s)", row=first.row, message=first.message) if first else ""
            summary = _("A row had errors, so nothing was imported (all or nothing)") + where + "."
            self._save(cancel_requested=True, error_summary=summary)  # remembered if this worker dies now
            session.commit()
            return self._cancelled()
        except FileProblem as exc:
            session.rollback()
            return self._failed(str(exc))
        except (_LostClaim, _HandBack, OperationalError, InterfaceError):
            raise
        except Exception:
            log.exception("import job %s failed", job.id)
            session.rollback()
            return self._failed(
                _("The import stopped because of an unexpected error; nothing was written.")
                if self.atomic or not self.write
                else _(
                    "The import stopped because of an unexpected error; the rows written before it are kept "
                    "and can be undone."
                )
            )
        finally:
            if self.write and cache is not None:
                cache.abandon()
        if self.write and result.counts.created + result.counts.updated >= ANALYZE_AFTER_ROWS:
            # Where autovacuum is late or off, the planner would take the register for what it was before the
            # import: the lists' estimated counts and the next dry run's look-ups (services.duplicates).
            duplicates.analyze(session, ENTITIES[job.entity].model)
            # SQLite: the quick-search index of a large import's rows in one b-tree, so the next dry run's look-ups
            # read one segment, not the import's many (services.search.merge_after_write)
            search.merge_after_write(
                session, ENTITIES[job.entity].model, result.counts.created + result.counts.updated, self._merged_step
            )
        c = result.counts
        return self._finish(
            "done" if self.write else "checked",
            rows_done=c.rows,
            created_count=c.created,
            updated_count=c.updated,
            unchanged_count=c.unchanged,
            error_count=c.errors,
            notice_count=c.notices,
            total_rows=c.rows,
            new_categories=result.new_categories or None,
        )

    def _after_batch(self, counts: Counts, errors: list[RowError], categories_created: list[str]) -> None:
        """After each batch: its errors, the counts and the batch number, committed with the batch's rows."""
        if self.atomic and counts.errors:
            raise _AllOrNothingFailed(errors[0] if errors else None)
        room = engine.MAX_STORED_ERRORS - self.stored_errors
        if room > 0 and errors:
            # NULLs rendered, not left out: rows with and without a column were otherwise separate INSERTs (a dry
            # run against a filled register, its notices alternating in-file and in-register: 1,258 statements)
            self.session.execute(
                insert(ImportRowError),
                [{"job_id": self.job.id, **e.as_dict()} for e in errors[:room]],
                execution_options={"render_nulls": True},
            )
            self.stored_errors += min(room, len(errors))
        self.batches += 1
        values: dict[str, object] = {
            "rows_done": counts.rows,
            "created_count": counts.created,
            "updated_count": counts.updated,
            "unchanged_count": counts.unchanged,
            "error_count": counts.errors,
            "notice_count": counts.notices,
            "batches_done": self.batches,
        }
        if self.write:
            values["new_categories"] = sorted(categories_created, key=str.lower) or None
        self._save(**values)
        self.session.commit()
        if self.write:
            write_turns.give_way(self.session)
        self._between_batches()

    def _failed(self, summary: str) -> str:
        if self.atomic and self.job.batches_done:
            self._save(cancel_requested=True, error_summary=summary)
            self.session.commit()
            return self._cancelled()
        return self._finish("failed", error_summary=summary)

    def _cancelled(self) -> str:
        """End a cancelled pass; an all-or-nothing write first removes everything it wrote."""
        self.session.refresh(self.job)
        summary = self.job.error_summary
        if self.atomic:
            _discard(self.session, self.job, self._save)
            zero: dict[str, object] = {"rows_done": 0, "created_count": 0, "updated_count": 0, "unchanged_count": 0}
            zero |= {"batches_done": 0, "new_categories": None}
            if summary:  # a row failed: nothing was imported
                return self._finish("failed", **zero)
            return self._finish("cancelled", error_summary=_("The import was cancelled.") + " " + _NOTHING(), **zero)
        return self._finish("cancelled", error_summary=summary or _cancel_summary(self.job))

    # --- undo ---

    def undo(self) -> str:
        job, session = self.job, self.session
        progress = dict(job.undo_result or {})
        actor = session.get(Employee, progress.get("by")) if progress.get("by") else None
        if actor is None or not actor.has_permission("import.undo"):
            return self._finish(progress.get("from", "done"), undo_result={**progress, "refused": True})
        if "last_event" not in progress:
            progress["last_event"] = session.scalar(
                select(func.max(AuditEvent.id)).where(AuditEvent.import_job_id == job.id)
            )
        result = UndoResult(progress.get("removed", 0), progress.get("reverted", 0), progress.get("conflicts", 0))
        done = progress.get("batches", 0)
        for number, (kind, ids) in enumerate(_undo_batches(session, job, progress["last_event"])):
            if number < done:
                continue
            _undo_batch(session, job, actor, kind, ids, result)
            progress.update(vars(result), batches=number + 1)
            self._save(undo_result=dict(progress))
            session.commit()
            write_turns.give_way(session)
            try:
                self._between_batches()
            except Cancelled:
                return self._finish(progress.get("from", "done"), cancel_requested=False)
        return self._finish(
            "undone", undone_at=utcnow(), undone_by_id=actor.id, undo_result=dict(progress), cancel_requested=False
        )


def _NOTHING() -> str:
    return _("Nothing was imported.")


def request_undo(session: Session, job: ImportJob, actor: Employee) -> None:
    """Queue the undo of a finished import (the caller commits and submits it)."""
    if not actor.has_permission("import.undo"):
        raise NotPermitted("import.undo")
    _not_undone(job)
    if job.dry_run or job.status not in ("done", "cancelled", "failed") or not job.created_count + job.updated_count:
        raise ImportProblem(_("Only an import that has written records can be undone."))
    previous = job.undo_result or {}
    keep = previous if previous.get("from") == job.status and not previous.get("refused") else {}
    job.undo_result = {**keep, "from": job.status, "by": actor.id}
    job.status, job.queued_at, job.claim, job.task_id, job.cancel_requested = "undoing", utcnow(), None, None, False
    session.flush()


# --- what the pages show (computed; nothing is written) -----------------------------------------


def state(session: Session, job: ImportJob, *, stalled_seconds: int, place: int | None = None) -> dict:
    """What the progress page shows: status, where it runs, rows done of total, rate, time left."""
    counts = Counts(job.rows_done, job.created_count, job.updated_count, job.unchanged_count, job.error_count)
    now = utcnow()
    stalled = is_stalled(job, stalled_seconds, now)
    elapsed = ((job.finished_at or now) - job.started_at).total_seconds() if job.started_at else 0
    rate = counts.rows / elapsed if elapsed > 0 and job.status != "undoing" else 0
    total = job.total_rows
    if job.status == "undoing":  # the bar follows the undo: records handled of those the import wrote
        done = sum((job.undo_result or {}).get(k, 0) for k in ("removed", "reverted", "conflicts"))
        counts = Counts(done, job.created_count, job.updated_count, job.unchanged_count, job.error_count)
        total = job.created_count + job.updated_count
    running = job.status == "running" and not stalled
    left = (total - counts.rows) / rate if total and rate and running and total > counts.rows else None
    if _waiting(job):
        where = _("Waiting in the queue (place %(place)s).", place=place) if place else _("Waiting in the queue.")
    elif stalled:
        seconds = int((now - (job.heartbeat_at or now)).total_seconds())
        where = _(
            "The background worker (%(worker)s) has not reported for %(seconds)s s; another worker takes the job "
            "over and goes on after the last saved batch.",
            worker=describe_worker(job.worker),
            seconds=seconds,
        )
    elif job.status in ("running", "undoing"):
        where = _("Running in the background (%(worker)s).", worker=describe_worker(job.worker))
    else:
        where = _("Ran in the background (%(worker)s).", worker=describe_worker(job.worker)) if job.worker else ""
    resumed = (
        ngettext(
            "Resumed after an interruption (once).",
            "Resumed after an interruption (%(num)s times).",
            job.resumed_count,
        )
        if job.resumed_count
        else ""
    )
    undo = job.undo_result or {}
    return {
        "id": job.id,
        "status": job.status,
        "status_label": str(ImportJob.STATUSES.get(job.status, job.status)),
        "dry_run": job.dry_run,
        "active": job.status in ACTIVE,
        "stalled": stalled,
        "place": place if _waiting(job) else None,
        "where": str(where),
        "resumed": str(resumed),
        "rows_done": counts.rows,
        "total": total,
        "percent": min(100, round(100 * counts.rows / total)) if total else None,
        "rate": round(rate),
        "seconds_left": round(left) if left is not None else None,
        "created": counts.created,
        "updated": counts.updated,
        "unchanged": counts.unchanged,
        "errors": counts.errors,
        "cancel_requested": job.cancel_requested,
        "summary": job.error_summary,
        "undo": {k: undo.get(k, 0) for k in ("removed", "reverted", "conflicts")} if undo.get("batches") else None,
        "can_retry": can_retry(job),
        "can_undo": can_undo(job),
    }


def can_undo(job: ImportJob) -> bool:
    """Offered only for a write that kept records (an all-or-nothing import that failed kept none)."""
    return (
        not job.dry_run
        and job.status in ("done", "cancelled", "failed")
        and bool(job.created_count or job.updated_count)
    )


def errors(
    session: Session, job: ImportJob, limit: int | None = None, kind: str | None = "error"
) -> list[ImportRowError]:
    """The job's stored errors (`kind` "error"), notices ("notice") or both (None: errors first), in row order."""
    query = select(ImportRowError).where(ImportRowError.job_id == job.id)
    if kind is not None:
        query = query.where(ImportRowError.kind == kind)
    query = query.order_by(ImportRowError.kind, ImportRowError.id)
    return list(session.scalars(query.limit(limit) if limit else query))


# --- undo, and removing what a failed all-or-nothing write wrote ----------------------------------


@dataclass
class UndoResult:
    removed: int = 0
    reverted: int = 0
    conflicts: int = 0


def _of_job(job: ImportJob, table, last_event: int | None):
    conditions = [AuditEvent.import_job_id == job.id, AuditEvent.entity_type == table.name]
    if last_event is not None:
        conditions.append(AuditEvent.id <= last_event)
    return conditions


def _undo_batches(session: Session, job: ImportJob, last_event: int | None):
    """The undo's work in batches, always in the same order (a resumed undo skips those committed):
    the created records, then the update events, newest first. Only the import's own events (up to
    `last_event`) count, not those the undo writes."""
    table = table_of(ENTITIES[job.entity].model)
    of_job = _of_job(job, table, last_event)
    created = list(
        session.scalars(
            select(AuditEvent.entity_id).where(*of_job, AuditEvent.action == "create").order_by(AuditEvent.id)
        )
    )
    updates = list(
        session.scalars(
            select(AuditEvent.id).where(*of_job, AuditEvent.action == "update").order_by(AuditEvent.id.desc())
        )
    )
    for start in range(0, len(created), UNDO_BATCH):
        yield "create", created[start : start + UNDO_BATCH]
    for start in range(0, len(updates), UNDO_BATCH):
        yield "update", updates[start : start + UNDO_BATCH]


def _undo_batch(session: Session, job: ImportJob, actor: Employee, kind: str, ids: list[int], result: UndoResult):
    """Undo one batch: created records to the trash (leads too: they have one), update events reverted."""
    model = ENTITIES[job.entity].model
    table = table_of(model)
    events, now = [], utcnow()
    if kind == "create":
        if "deleted_at" in table.c:
            live = session.scalars(select(table.c.id).where(table.c.id.in_(ids), table.c.deleted_at.is_(None))).all()
            session.execute(
                update(table)
                .where(table.c.id.in_(live))
                .values(deleted_at=now, deleted_by_id=actor.id, version=table.c.version + 1)
            )
            action, changes = "delete", {"deleted_at": [None, plain(now)]}
        else:
            live = session.scalars(select(table.c.id).where(table.c.id.in_(ids))).all()
            session.execute(delete(table).where(table.c.id.in_(live)))
            action, changes = "purge", None
        events = [
            {"entity_type": table.name, "entity_id": i, "entity_label": None, "action": action, "changes": changes}
            for i in live
        ]
        result.removed += len(live)
    else:
        categories = {name: ident for ident, name in session.execute(select(Category.id, Category.name))}
        link = CATEGORY_LINKS[job.entity]
        owner_col = [c for c in link.c if c.name != "category_id"][0]
        for event in session.scalars(select(AuditEvent).where(AuditEvent.id.in_(ids)).order_by(AuditEvent.id.desc())):
            reverted = _revert(session, table, link, owner_col, categories, event, now)
            if reverted is None:
                result.conflicts += 1
                continue
            events.append(reverted)
            result.reverted += 1
    record_bulk(session, events, actor_id=actor.id, import_job_id=job.id)


def _revert(session: Session, table, link, owner_col, categories: dict, event: AuditEvent, now) -> dict | None:
    """Put back what one update event changed, unless the record changed again since (None)."""
    changes = event.changes or {}
    columns = {k: v for k, v in changes.items() if k in table.c}
    current = (
        session.execute(select(*(table.c[k] for k in columns)).where(table.c.id == event.entity_id)).mappings().first()
    )
    if current is None or any(plain(current[k]) != new for k, (_old, new) in columns.items()):
        return None
    if columns:
        values = {k: unplain(table.c[k], old) for k, (old, _new) in columns.items()}
        session.execute(
            update(table)
            .where(table.c.id == event.entity_id)
            .values(values | {"version": table.c.version + 1, "updated_at": now})
        )
    if "categories" in changes:
        old, new = changes["categories"]
        added = [categories[n] for n in set(new) - set(old) if n in categories]
        if added:
            session.execute(delete(link).where(owner_col == event.entity_id, link.c.category_id.in_(added)))
    return {
        "entity_type": table.name,
        "entity_id": event.entity_id,
        "entity_label": event.entity_label,
        "action": "update",
        "changes": {k: [new, old] for k, (old, new) in changes.items()},
    }


def undo(session: Session, job: ImportJob, actor: Employee) -> UndoResult:
    """Undo a finished import at once, in this session (the caller commits): its new records to the
    trash, its updates reverted from the audit trail. A record changed again after the import keeps
    that later change (counted as a conflict). The web runs undo in a worker (request_undo)."""
    if not actor.has_permission("import.undo"):
        raise NotPermitted("import.undo")
    _not_undone(job)
    if job.dry_run or job.status not in ("done", "cancelled", "failed"):
        raise ImportProblem(_("Only an import that has written records can be undone."))
    result = UndoResult()
    last = session.scalar(select(func.max(AuditEvent.id)).where(AuditEvent.import_job_id == job.id))
    for kind, ids in list(_undo_batches(session, job, last)):
        _undo_batch(session, job, actor, kind, ids, result)
    job.status, job.undone_at, job.undone_by_id = "undone", utcnow(), actor.id
    job.undo_result = {"from": "done", "by": actor.id, "batches": -1, **vars(result)}
    session.flush()
    return result


def _discard(session: Session, job: ImportJob, save) -> None:
    """Remove everything an all-or-nothing write committed (it failed or was cancelled), batch by batch:
    its new records and their links and audit events are deleted, its updates reverted and their
    events deleted, the categories it created (and nothing uses) deleted. Safe to run again after a
    crash: each batch is committed with the job's heartbeat (`save`) and what is gone stays gone."""
    table = table_of(ENTITIES[job.entity].model)
    link = CATEGORY_LINKS[job.entity]
    owner_col = [c for c in link.c if c.name != "category_id"][0]
    of_job = (AuditEvent.import_job_id == job.id, AuditEvent.entity_type == table.name)
    while created := session.scalars(
        select(AuditEvent.entity_id).where(*of_job, AuditEvent.action == "create").limit(UNDO_BATCH)
    ).all():
        session.execute(delete(link).where(owner_col.in_(created)))
        if job.entity in ("contact", "privatecustomer"):
            session.execute(delete(CompanyContact).where(CompanyContact.contact_id.in_(created)))
        session.execute(delete(table).where(table.c.id.in_(created)))
        session.execute(delete(AuditEvent).where(*of_job, AuditEvent.entity_id.in_(created)))
        save()
        session.commit()
    categories = {name: ident for ident, name in session.execute(select(Category.id, Category.name))}
    now = utcnow()
    while events := session.scalars(
        select(AuditEvent)
        .where(*of_job, AuditEvent.action == "update")
        .order_by(AuditEvent.id.desc())
        .limit(UNDO_BATCH)
    ).all():
        for event in events:
            _revert(session, table, link, owner_col, categories, event, now)
        session.execute(delete(AuditEvent).where(AuditEvent.id.in_([e.id for e in events])))
        save()
        session.commit()
    names = set(job.new_categories or [])
    unused = [
        ident
        for name, ident in categories.items()
        if name in names
        and not any(
            session.scalar(select(1).select_from(t).where(t.c.category_id == ident).limit(1))
            for t in set(CATEGORY_LINKS.values())
        )
    ]
    if unused:
        session.execute(delete(Category).where(Category.id.in_(unused)))
    save()
    session.commit()
