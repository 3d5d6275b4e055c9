"""File storage behind a small interface (local directory by default).

Keys are opaque, generated here, never taken from user input, so a file name
can never reach outside the storage root.
"""

import os
import secrets
from pathlib import Path
from typing import BinaryIO, Protocol


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


__all__ = ["LocalStorage", "Storage", "TooLarge", "from_config"]
