"""Background work: the product's one task queue (Huey), its workers and its periodic tasks.

Everything slow or long runs here, in worker processes started by
`flask --app app:worker_app worker`, never in a web process: import dry runs and writes,
undo, mass e-mail/SMS, and (by later work) large exports, webhooks, the
duplicate scan, GDPR retention. The queue is Huey's: a SQLite file under
instance/ by default (no server needed), Redis when CRM_REDIS_URL is set (any
number of web processes and workers on any number of hosts share it).

The queue only carries "run job 12" messages. A job's truth stays in the
database (its own row, e.g. ImportJob): a message may be lost with a dying
worker or a web process killed between its commit and its enqueue, so every
kind of job also has a periodic task that finds jobs whose worker stopped
reporting and puts them in the queue again. A task therefore takes ids, never
objects, and must be safe to run twice (claim the job with a conditional
UPDATE first).

Adding work:

    from services import tasks

    @tasks.task()
    def send_bulk_email(campaign_id: int) -> None:
        session = tasks.session()          # this task's own database session
        ...

    tasks.submit(send_bulk_email.s(campaign.id))   # after committing the row it reads

    @tasks.periodic(tasks.crontab(minute="0", hour="2"))
    def gdpr_retention() -> None: ...

and name the module in TASK_MODULES, so every worker knows the task.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import re
import socket
import sys
import threading
from collections.abc import Callable, Iterator

from extensions import db


@contextlib.contextmanager
def _not_importable(*names: str) -> Iterator[None]:
    """Inside, `import` of the modules `names` fails as if they were not installed; after, they import as before."""
    saved = {name: sys.modules.get(name) for name in names}
    sys.modules.update(dict.fromkeys(names))  # type: ignore[arg-type]  # None: the import raises ImportError
    try:
        yield
    finally:
        for name, module in saved.items():
            if module is None:
                del sys.modules[name]
            else:
                sys.modules[name] = module


# huey.storage imports redis and psycopg at its top, whichever storage is used: 15.5 MB of every web process and
# queue worker of a deployment that uses neither (an app process on SQLite: 125.4 MB with them, 109.9 without).
# The queue uses no PostgresHuey, and Redis only with REDIS_URL (`_redis_storage` then hands huey.storage the
# names its own import would have bound).
with _not_importable("redis", "psycopg"):
    from huey import Huey
    from huey import crontab as crontab
    from huey import storage as huey_storage
    from huey.consumer import Consumer
    from huey.storage import MemoryStorage, RedisStorage, SqliteStorage

log = logging.getLogger(__name__)

#: Modules whose tasks every worker must know (imported by `init_app`).
TASK_MODULES = (
    "services.importing.tasks",
    "services.duplicate_tasks",
    "services.mass_update",
    "services.webhook_tasks",
    "services.privacy_tasks",
    "services.mass_messages",
    "services.word_index_tasks",
)
#: The longest a worker waits before it looks at an idle SQLite queue again (seconds).
MAX_POLL_SECONDS = 1.0
#: How long a stopping worker waits for its running tasks to hand their work back (seconds).
SHUTDOWN_SECONDS = 20

#: The queue. Its storage is set from the app's configuration by `init_app`.
queue = Huey("kundregister", results=False, storage_class=MemoryStorage, utc=True)
#: Set when the worker is stopping: long tasks hand their job back between batches.
stopping = threading.Event()
_app = None


def create_storage(config: dict):
    """Redis storage when REDIS_URL is set, else a SQLite file (QUEUE_FILE)."""
    name = config["QUEUE_NAME"]
    if config.get("REDIS_URL"):
        return _redis_storage(name, config["REDIS_URL"])
    return SqliteStorage(name, filename=config["QUEUE_FILE"], timeout=30)


def _redis_storage(name: str, url: str) -> RedisStorage:
    """Huey's Redis storage, with the redis names huey.storage did not import (above) bound as its import does."""
    import redis

    if huey_storage.Redis is None:
        huey_storage.Redis = RedisStorage.redis_client = redis.Redis
        huey_storage.ConnectionPool = redis.ConnectionPool
        huey_storage.ConnectionError = redis.exceptions.ConnectionError
        huey_storage.TimeoutError = redis.exceptions.TimeoutError
    return RedisStorage(name, url=url)


def init_app(app) -> None:
    """Point the queue at the app's storage; tasks run in this app's context in a worker."""
    global _app
    _app = app
    queue.name = app.config["QUEUE_NAME"]
    queue.storage = create_storage(app.config)
    app.extensions["tasks"] = queue
    for module in TASK_MODULES:
        __import__(module)


def app():
    """The app a worker runs its tasks in."""
    if _app is None:
        raise RuntimeError("services.tasks.init_app(app) has not been called")
    return _app


def session():
    """The running task's database session (removed when the task returns)."""
    return db.session


def _in_app_context(fn: Callable) -> Callable:
    @functools.wraps(fn)
    def run(*args, **kwargs):
        with app().app_context():
            try:
                return fn(*args, **kwargs)
            finally:
                db.session.remove()

    return run


def task(**options):
    """Register a background task (Huey's options: retries, retry_delay, priority …)."""

    def decorator(fn: Callable):
        return queue.task(**options)(_in_app_context(fn))

    return decorator


def periodic(when, **options):
    """Register a periodic task: `when` is a `crontab(...)` (Huey checks it once a minute in every worker)."""

    def decorator(fn: Callable):
        return queue.periodic_task(when, **options)(_in_app_context(fn))

    return decorator


def submit(call) -> str:
    """Put a prepared call (`some_task.s(args)`) in the queue; returns its id.

    Commit whatever the task reads first, then submit: a task that ran before
    the commit would not see its job.
    """
    queue.enqueue(call)
    return call.id


def schedule(call, delay: float) -> str:
    """Run a prepared call in `delay` seconds (at the earliest)."""
    from huey.utils import normalize_time

    call.eta = normalize_time(delay=delay, utc=queue.utc)
    queue.add_schedule(call)
    return call.id


def pending_ids(limit: int = 1000) -> list[str]:
    """Ids of the tasks waiting in the queue, the next one first."""
    return [t.id for t in queue.pending(limit)]


def place_in_queue(task_id: str | None, limit: int = 1000) -> int | None:
    """1 for the next task to be taken, 2 for the one after … None if not waiting (or beyond `limit`)."""
    if not task_id:
        return None
    try:
        ids = pending_ids(limit)
    except Exception:  # the queue's storage is down: the page still shows the job's own state
        log.exception("reading the queue failed")
        return None
    return ids.index(task_id) + 1 if task_id in ids else None


def worker_name() -> str:
    """This worker thread, as a job records it: host, process id, thread (`describe_worker` says it to people)."""
    return f"{socket.gethostname()} pid {os.getpid()} {threading.current_thread().name}"


_WORKER_NAME = re.compile(r"^(?P<host>\S+) pid \d+ (?:Worker-(?P<number>\d+)|\S+)$")


def describe_worker(name: str | None) -> str:
    """A worker's recorded name (`worker_name`) as a back-office user reads it: "arbetare 1 på servern app-2"
    (the process id means nothing to them; the server tells an administrator with several where to look).
    A name of another form is given as it is."""
    from flask_babel import gettext as _

    match = _WORKER_NAME.match(name or "")
    if match is None:
        return name or ""
    if match["number"]:
        return _("worker %(number)s on the server %(host)s", number=match["number"], host=match["host"])
    return _("a worker on the server %(host)s", host=match["host"])


class Worker(Consumer):
    """Huey's consumer. A stop (Ctrl-C, SIGTERM from honcho or systemd) first sets `stopping`, so a
    running job hands its work back to the queue after its current batch (it goes on from there on
    the next start), then waits up to SHUTDOWN_SECONDS for the worker threads."""

    def __init__(self, huey, *, handle_signals: bool = True, **options):
        self.handle_signals = handle_signals
        options.setdefault("shutdown_timeout", SHUTDOWN_SECONDS)
        super().__init__(huey, **options)

    def start(self):
        stopping.clear()
        super().start()

    def stop(self, graceful=False):
        stopping.set()
        super().stop(graceful=True)

    def _set_signal_handlers(self):
        if self.handle_signals:
            super()._set_signal_handlers()


def create_worker(workers: int = 1, *, periodic_tasks: bool = True, handle_signals: bool = True) -> Worker:
    """A consumer with `workers` threads on the configured queue (call `.run()` or `.start()`/`.stop()`)."""
    return Worker(
        queue,
        workers=workers,
        worker_type="thread",
        periodic=periodic_tasks,
        initial_delay=0.1,
        backoff=1.15,
        max_delay=MAX_POLL_SECONDS,
        scheduler_interval=1,
        check_worker_health=True,
        handle_signals=handle_signals,
    )
