"""Progress, heartbeat and cancel of an all-or-nothing import on SQLite.

Such an import is one transaction, and SQLite lets one connection write at a
time: while it runs, nobody can write the job's row, not even its own
progress session or the cancel button. Its progress and the cancel request
then go through a small SQLite file beside the database, which every process
on the host can write; the job's row gets the final state when the
transaction ends, and the file's row is removed then.
"""

from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import dataclass

from sqlalchemy import Engine


@dataclass
class Report:
    counts: dict | None  # services.importing.engine.Counts as a dict
    heartbeat: float | None  # Unix time
    cancel: bool


class Sidecar:
    """The side file of one database (see the module's docstring)."""

    def __init__(self, path: str):
        self.path = path

    def _connect(self) -> sqlite3.Connection:
        connection = sqlite3.connect(self.path, timeout=10, isolation_level=None)
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute(
            "CREATE TABLE IF NOT EXISTS job (id INTEGER PRIMARY KEY, counts TEXT, "
            "heartbeat REAL, cancel INTEGER NOT NULL DEFAULT 0)"
        )
        return connection

    def _run(self, sql: str, *params):
        connection = self._connect()
        try:
            return connection.execute(sql, params).fetchone()
        finally:
            connection.close()

    def report(self, job_id: int, counts: dict) -> None:
        """The job's counts so far, and that it is alive."""
        self._run(
            "INSERT INTO job (id, counts, heartbeat) VALUES (?, ?, ?) ON CONFLICT (id) DO UPDATE "
            "SET counts = excluded.counts, heartbeat = excluded.heartbeat",
            job_id,
            json.dumps(counts),
            time.time(),
        )

    def read(self, job_id: int) -> Report | None:
        """What the job last reported, and whether it was asked to stop; None if nothing."""
        row = self._run("SELECT counts, heartbeat, cancel FROM job WHERE id = ?", job_id)
        return Report(json.loads(row[0]) if row[0] else None, row[1], bool(row[2])) if row else None

    def cancel(self, job_id: int) -> None:
        self._run("INSERT INTO job (id, cancel) VALUES (?, 1) ON CONFLICT (id) DO UPDATE SET cancel = 1", job_id)

    def forget(self, job_id: int) -> None:
        self._run("DELETE FROM job WHERE id = ?", job_id)


def for_engine(engine: Engine) -> Sidecar | None:
    """The side file of a SQLite database file; None for PostgreSQL (any session can write the job's row there)."""
    url = engine.url
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return None
    return Sidecar(url.database + "-import-jobs")
