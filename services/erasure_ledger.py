"""The erasure ledger: every GDPR erasure recorded outside the database, so that a backup made before
an erasure, restored, does not bring the person back (services.privacy_reapply erases them again).

One JSON line per erasure in a file of the instance (config ERASURE_LEDGER, default
`<instance>/erasures.jsonl`), holding no personal data: the erased record (`kind`, `id`), when (`at`),
the privacy log's event (`event`), and every record the erasure covered (`records`: the person's
contacts and leads, the duplicates merged into them) as kind, id and the record's creation time. An id
is never given twice (SQLite AUTOINCREMENT, migration 0043; after a restore the sequences are moved past
the ledger's ids, services.privacy_reapply.keep_ids_ahead); the creation time is a second check, that
tells the erased record from another given the same id before that was so: an erasure is never
re-applied to someone else.

When the line is written: in the erasure's transaction, just before it commits (Session
`before_commit`), appended under a lock, flushed and fsynced, for the erasures whose privacy event is
still in the transaction (not one rolled back to a savepoint). Written after the commit, a crash
between the two would lose the line without a trace, and a restore would bring the person back.
Written before, a crash or a failed COMMIT between the two leaves a line for an erasure that was not
made: that person was to be erased (an administrator confirmed it, or a retention rule selected
them), and re-applying the line completes it; a line whose record is not found is skipped. A line
that cannot be written fails the commit: the erasure is rolled back rather than made without its line.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from sqlalchemy import event, select
from sqlalchemy.orm import Session, SessionTransaction

#: The default file name, in the instance directory.
FILE_NAME = "erasures.jsonl"
_PENDING = "erasure_ledger_pending"


@dataclass(frozen=True)
class Entry:
    """One erasure: the record erased, when, its privacy event, and the records it covered as
    (kind, id, creation time in ISO 8601)."""

    kind: str
    id: int
    at: str
    event: int | None
    records: tuple[tuple[str, int, str], ...]

    def line(self) -> str:
        """The entry as its line in the ledger (the same entry, the same line)."""
        data = {"kind": self.kind, "id": self.id, "at": self.at, "event": self.event, "records": self.records}
        return json.dumps(data, sort_keys=True, separators=(",", ":")) + "\n"

    @classmethod
    def parse(cls, line: str) -> Entry:
        """An entry from its line; ValueError when it is not one."""
        try:
            data = json.loads(line)
            records = tuple((str(k), int(i), str(c)) for k, i, c in data["records"])
            entry = cls(str(data["kind"]), int(data["id"]), str(data["at"]), data.get("event"), records)
        except (TypeError, KeyError, ValueError) as exc:
            raise ValueError(f"not a ledger line: {exc}") from None
        if entry.event is not None and not isinstance(entry.event, int):
            raise ValueError("not a ledger line: event")
        return entry


def stamp(value: datetime) -> str:
    """A stored time as the ledger writes it (a record's creation time compares by this text)."""
    return value.isoformat()


def path_of(config) -> Path:
    """The ledger of an instance's config."""
    return Path(config.get("ERASURE_LEDGER") or Path(config["INSTANCE_DIR"]) / FILE_NAME)


def of_app() -> Path:
    """The ledger of the running app (every erasure is made in an app context: a screen, a task, a
    command), so no caller can erase without it."""
    from flask import current_app

    return path_of(current_app.config)


# --- the file -------------------------------------------------------------------------------------


@contextmanager
def _locked(path: Path) -> Iterator[int]:
    """The ledger opened for reading and appending, under an exclusive lock (several processes append:
    web workers, queue workers, commands)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    new = not path.exists()
    fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o640)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield fd
    finally:
        os.close(fd)  # releases the lock
    if new:  # the new file's name is durable too
        directory = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)


def _write(fd: int, entries: Iterable[Entry]) -> int:
    data = "".join(entry.line() for entry in entries).encode()
    if not data:
        return 0
    size = os.fstat(fd).st_size
    if size and os.pread(fd, 1, size - 1) != b"\n":  # a line cut short by a crash ends here, not glued to ours
        data = b"\n" + data
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]
    os.fsync(fd)
    return data.count(b"\n")


def append(path: Path, entries: Iterable[Entry]) -> None:
    """Append the entries' lines, flushed to the disk (fsync) before it returns."""
    entries = list(entries)
    if entries:
        with _locked(path) as fd:
            _write(fd, entries)


@dataclass
class Read:
    """A ledger's entries, in order, and the numbers of the lines that are not entries (a line cut
    short by a crash, or damage)."""

    entries: list[Entry] = field(default_factory=list)
    unreadable: list[int] = field(default_factory=list)


def _parse(data: bytes) -> Read:
    read = Read()
    for number, raw in enumerate(data.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            read.entries.append(Entry.parse(raw.decode()))
        except (UnicodeDecodeError, ValueError):
            read.unreadable.append(number)
    return read


def read(path: Path) -> Read:
    """The ledger's entries (none when there is no file); OSError when it cannot be read."""
    if not path.exists():
        return Read()
    with open(path, "rb") as stream:
        fcntl.flock(stream.fileno(), fcntl.LOCK_SH)
        return _parse(stream.read())


def merge(path: Path, entries: Iterable[Entry]) -> int:
    """Append the entries the ledger does not hold yet (the same line); how many were added."""
    with _locked(path) as fd:
        size = os.fstat(fd).st_size
        held = {entry.line() for entry in _parse(os.pread(fd, size, 0)).entries}
        new = [entry for entry in dict.fromkeys(entries) if entry.line() not in held]
        _write(fd, new)
    return len(new)


def copy(path: Path, target: Path) -> int:
    """Copy the ledger (as it stands: no line half written) to the new file `target`; its entries."""
    if not path.exists():
        return 0
    with open(path, "rb") as stream:
        fcntl.flock(stream.fileno(), fcntl.LOCK_SH)
        data = stream.read()
    target.write_bytes(data)
    return len(_parse(data).entries)


# --- written with the erasure's transaction ------------------------------------------------------


def write_at_commit(session: Session, path: Path, entry: Entry) -> None:
    """Write `entry` to the ledger at `path` when `session`'s transaction commits, just before its
    COMMIT (see the module's docstring); nothing when it rolls back."""
    session.info.setdefault(_PENDING, []).append((path, entry))


@event.listens_for(Session, "before_commit")
def _before_commit(session: Session) -> None:
    if session.in_nested_transaction():
        return
    pending: list[tuple[Path, Entry]] = session.info.get(_PENDING) or []
    if not pending:
        return
    from models import PrivacyEvent

    events = {entry.event for _path, entry in pending}
    columns = (PrivacyEvent.id, PrivacyEvent.subject_type, PrivacyEvent.subject_id)
    standing = {tuple(row) for row in session.execute(select(*columns).where(PrivacyEvent.id.in_(events)))}
    latest = {entry.event: (path, entry) for path, entry in pending}  # SQLite may give a rolled-back id again
    by_path: dict[Path, list[Entry]] = {}
    for path, entry in latest.values():
        if (entry.event, entry.kind, entry.id) in standing:  # not rolled back to a savepoint
            by_path.setdefault(path, []).append(entry)
    for path, entries in by_path.items():
        append(path, entries)
    session.info.pop(_PENDING)  # not before: a commit that failed here and is tried again writes them then


@event.listens_for(Session, "after_transaction_end")
def _after_transaction_end(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:  # rolled back or closed: its erasures were not made
        session.info.pop(_PENDING, None)
