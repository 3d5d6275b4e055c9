"""SQLite: a running import gives a waiting save its turn to write.

SQLite has one writer at a time. An import writes batch after batch, each in a short transaction,
and takes the write lock again soon after each commit; a save waiting for that lock finds it free
only if SQLite's busy handler happens to look in a gap (it looks every 100 ms after its first 0.3 s).
Under load, saves during an import waited 1-2.8 s (tests/test_background_jobs.py's concurrency test
beside six busy processes on two cores; 0.05-0.7 s for the same saves without the import).

So a session about to write says so with a token file beside the database (one per transaction,
removed when the transaction ends), and the import, after each committed batch, waits while a
fresh token is there: the save writes in the gap. PostgreSQL locks rows, not the database, and
needs none of this. One host only, as SQLite is: the tokens are files in the database's folder.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

from sqlalchemy import event
from sqlalchemy.orm import Session

#: A token older than this is from a process that died holding it (SQLite's own wait ends at 30 s).
STALE_SECONDS = 30
#: The longest an import waits for the saves after one batch: a save that has waited less than
#: SQLite's 100 ms between looks gets the lock within it; a long save does not stop the import.
GIVE_WAY_SECONDS = 0.5
_POLL_SECONDS = 0.005
_TOKEN = "write_turns_token"
#: Sessions that write batch after batch (an import's pass) and give way instead of asking.
NO_TOKEN = "write_turns_no_token"


def _folder(session: Session) -> Path | None:
    """The token folder of a SQLite database on disk, else None."""
    url = session.get_bind().engine.url
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return None
    return Path(url.database + "-writers")


def _fresh_tokens(folder: Path) -> bool:
    now = time.time()
    try:
        entries = list(os.scandir(folder))
    except FileNotFoundError:
        return False
    for entry in entries:
        try:
            if now - entry.stat().st_mtime < STALE_SECONDS:
                return True
            os.unlink(entry.path)
        except FileNotFoundError:
            pass
    return False


def give_way(session: Session) -> float:
    """After a committed batch: wait while another session is waiting to write (at most
    GIVE_WAY_SECONDS). Returns the seconds waited."""
    folder = _folder(session)
    if folder is None:
        return 0.0
    started = time.monotonic()
    while _fresh_tokens(folder) and time.monotonic() - started < GIVE_WAY_SECONDS:
        time.sleep(_POLL_SECONDS)
    return time.monotonic() - started


@event.listens_for(Session, "before_flush")
def _about_to_write(session: Session, flush_context, instances) -> None:
    if _TOKEN in session.info or session.info.get(NO_TOKEN):
        return
    folder = _folder(session)
    if folder is None:
        return
    folder.mkdir(exist_ok=True)
    token = folder / f"{os.getpid()}-{threading.get_ident()}-{id(session)}"
    token.touch()
    session.info[_TOKEN] = token


@event.listens_for(Session, "after_transaction_end")
def _written(session: Session, transaction) -> None:
    if transaction.parent is not None:  # a savepoint or a nested transaction: the write goes on
        return
    token = session.info.pop(_TOKEN, None)
    if token is not None:
        token.unlink(missing_ok=True)
