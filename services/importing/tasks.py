"""The import's background tasks on the queue (services.tasks): a pass of a job (dry run, write or
undo), and the periodic take-over of jobs whose worker died."""

from __future__ import annotations

from sqlalchemy.orm import Session

from models import ImportJob
from services import storage as storage_module
from services import tasks, word_index
from services.importing import jobs


def submit(session: Session, job: ImportJob) -> str:
    """Commit the job as it is (queued) and put its pass in the queue; the task's id."""
    call = run_job.s(job.id)
    job.task_id = call.id
    session.commit()
    return tasks.submit(call)


@tasks.task()
def run_job(job_id: int) -> None:
    """Claim the job and run its pass; a job handed back by a stopping worker goes in the queue again."""
    session = tasks.session()
    config = tasks.app().config
    outcome = jobs.run(
        session,
        job_id,
        storage=storage_module.from_config(config),
        worker=tasks.worker_name(),
        stopping=tasks.stopping,
        parse_workers=config.get("IMPORT_WORKERS"),
    )
    if outcome == jobs.HANDED_BACK:
        submit(session, session.get(ImportJob, job_id))
    else:  # SQLite: the words index of the companies written, after the import rather than inside it
        word_index.catch_up(session.get_bind().engine)


def _take_over() -> float | None:
    session = tasks.session()
    taken, next_check = jobs.take_over_stalled(
        session, stalled_seconds=tasks.app().config["JOB_STALLED_SECONDS"], waiting_task_ids=tasks.pending_ids
    )
    for job_id in taken:
        submit(session, session.get(ImportJob, job_id))
    return next_check


@tasks.periodic(tasks.crontab())
def take_over_stalled_jobs() -> None:
    """Every minute, in every worker: jobs whose worker stopped reporting go back to the queue. When a
    running job would count as stalled before the next minute, look again just then."""
    next_check = _take_over()
    if next_check is not None and next_check < 60:
        tasks.schedule(check_stalled_jobs.s(), max(next_check, 1))


@tasks.task()
def check_stalled_jobs() -> None:
    """The periodic task's follow-up within the minute (it schedules no further follow-up)."""
    _take_over()
