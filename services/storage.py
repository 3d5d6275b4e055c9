"""File storage behind a small interface (local directory by default).

Keys are opaque, generated here, never taken from user input, so a file name
can never reach outside the storage root.
"""

import os
import secrets
from collections.abc import Iterable
from pathlib import Path
from typing import BinaryIO, Protocol

from sqlalchemy import event
from sqlalchemy.orm import Session


class Storage(Protocol):
    def save(self, stream: BinaryIO, *, max_bytes: int) -> tuple[str, int]:
        """Store the stream; return (key, size). Raises TooLarge past max_bytes."""

    def open(self, key: str) -> BinaryIO: ...

    def delete(self, key: str) -> None: ...


class TooLarge(ValueError):
    """The upload is larger than allowed; nothing was kept."""


class LocalStorage:
    """Files in a directory, two levels of fan-out by key prefix."""

    CHUNK = 1024 * 1024

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)

    def _path(self, key: str) -> Path:
        if not key.isalnum():
            raise KeyError(key)
        return self.root / key[:2] / key

    def save(self, stream: BinaryIO, *, max_bytes: int) -> tuple[str, int]:
        key = secrets.token_hex(16)
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        size = 0
        partial = path.with_suffix(".part")
        try:
            with open(partial, "wb") as out:
                while chunk := stream.read(self.CHUNK):
                    size += len(chunk)
                    if size > max_bytes:
                        raise TooLarge(size)
                    out.write(chunk)
            partial.replace(path)
        finally:
            partial.unlink(missing_ok=True)
        return key, size

    def open(self, key: str) -> BinaryIO:
        return open(self._path(key), "rb")

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)


def from_config(config) -> Storage:
    return LocalStorage(config["UPLOAD_DIR"])


# Files follow the database transaction that refers to them: a file the transaction stops referring
# to goes when it commits (a rollback still needs it), a file it stored goes if it rolls back (nothing
# refers to it then). A savepoint's end decides nothing: the outer transaction does.
_GONE_AT_COMMIT = "storage_gone_at_commit"
_GONE_AT_ROLLBACK = "storage_gone_at_rollback"


def delete_at_commit(session: Session, storage: Storage, keys: Iterable[str]) -> None:
    """Delete the stored files `keys` once `session`'s transaction commits; keep them if it rolls back."""
    session.info.setdefault(_GONE_AT_COMMIT, []).extend((storage, key) for key in keys)


def save_in_transaction(session: Session, storage: Storage, stream: BinaryIO, *, max_bytes: int) -> tuple[str, int]:
    """`storage.save`, undone if `session`'s transaction rolls back."""
    key, size = storage.save(stream, max_bytes=max_bytes)
    session.info.setdefault(_GONE_AT_ROLLBACK, []).append((storage, key))
    return key, size


def _delete(pending) -> None:
    for storage, key in pending or ():
        storage.delete(key)


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    if session.in_nested_transaction():
        return
    session.info.pop(_GONE_AT_ROLLBACK, None)
    _delete(session.info.pop(_GONE_AT_COMMIT, None))


@event.listens_for(Session, "after_rollback")
def _after_rollback(session: Session) -> None:
    if session.in_nested_transaction():
        return
    session.info.pop(_GONE_AT_COMMIT, None)
    _delete(session.info.pop(_GONE_AT_ROLLBACK, None))


__all__ = ["LocalStorage", "Storage", "TooLarge", "delete_at_commit", "from_config", "save_in_transaction"]
