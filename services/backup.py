"""Säkerhetskopiering: a consistent copy of the database, the file area and the task queue,
taken while the app runs, and bringing one back into a fresh (or emptied) instance.

SQLite: the database is copied with SQLite's online backup API (`sqlite3.Connection.backup`)
in one step, that is in one read transaction: a snapshot of one moment, taken while the app
keeps working (with the write-ahead log, writers do not wait for it). Every table of the copy
gets its row count and a SHA-256 of its rows in the manifest, and a restore checks them before
it writes anything. The task queue's SQLite file (QUEUE_FILE, when the queue is not on Redis)
is copied the same way.

PostgreSQL: pg_dump in its custom format (one snapshot of the whole database), restored with
pg_restore; both get the connection from the database URL, the password in PGPASSWORD, never
on a command line. Without pg_dump the error names the exact command to run.

The file area (UPLOAD_DIR: attachments and import files) is copied after the database: a file
is stored before its row is committed and removed only when its row is purged, so every file
the copied database names is there to copy; files stored since are copied too (harmless). The
manifest lists any file the database names that was not found.

The erasure ledger (ERASURE_LEDGER, services.erasure_ledger) is copied after the database too, so
it holds every erasure the copied database does (a line is written before its erasure commits).
A restore never puts that copy in the instance's ledger's place: a backup made before an erasure
would take the erasure's line away. It adds the copy's lines the instance's ledger does not hold
(and those of another ledger named by the restore, a lost host's), so the ledger keeps every
erasure ever recorded; the restore command then erases those people again (services.privacy_reapply).

A backup is a directory, or that directory packed as one `.tar.gz` file:

    manifest.json      what is in it (see Manifest)
    database.sqlite    SQLite; or database.pgdump for PostgreSQL
    queue.sqlite       the task queue, when it is a SQLite file
    files/             the file area, as stored
    erasures.jsonl     the erasure ledger, as it stood (ids and times, no personal data)

Not in a backup: the instance's secret key (a secret; without it, logins start afresh).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
from contextlib import closing, contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import create_engine, inspect
from sqlalchemy.engine import URL, make_url

from services import erasure_ledger

FORMAT = 1
MANIFEST = "manifest.json"
SQLITE_FILE = "database.sqlite"
PG_FILE = "database.pgdump"
QUEUE_FILE = "queue.sqlite"
LEDGER_FILE = "erasures.jsonl"
FILES_DIR = "files"
#: Tables naming a stored file, and the column holding its key.
FILE_KEYS = (("attachment", "storage_key"), ("import_job", "storage_key"))
#: A file being written by LocalStorage (not yet a stored file).
PARTIAL_SUFFIX = ".part"


class BackupError(Exception):
    """A backup or restore that cannot be made; the message says why and what to do."""


@dataclass
class Manifest:
    """What a backup holds: when, of which database, and how to check it."""

    format: int
    created_at: str
    database: str  # "sqlite" or "postgresql"
    revision: str | None  # the Alembic revision of the schema
    tables: dict[str, dict] = field(default_factory=dict)  # name → {"rows": n, "sha256": hex} (SQLite)
    files: int = 0
    file_bytes: int = 0
    missing_files: list[str] = field(default_factory=list)
    queue: bool = False
    erasures: int = 0  # the erasure ledger's entries

    @classmethod
    def read(cls, folder: Path) -> Manifest:
        try:
            data = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise BackupError(f"{folder} is not a backup of Kundregister (no readable {MANIFEST}).") from exc
        if data.get("format") != FORMAT:
            raise BackupError(f"{folder}: unknown backup format {data.get('format')!r}.")
        return cls(**data)

    def write(self, folder: Path) -> None:
        (folder / MANIFEST).write_text(json.dumps(asdict(self), indent=2, ensure_ascii=False), encoding="utf-8")


# --- checking a SQLite database -----------------------------------------------------------


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def table_digests(connection: sqlite3.Connection) -> dict[str, dict]:
    """Every table's row count and a SHA-256 of its rows (in the order of all their columns), so two
    databases with the same rows give the same digests whatever their pages look like. A virtual
    table (the FTS5 search index) is checked through the tables that hold its data."""
    names = [
        name
        for (name,) in connection.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            " AND sql NOT LIKE 'CREATE VIRTUAL TABLE%' ORDER BY name"
        )
    ]
    digests = {}
    for name in names:
        width = len(connection.execute(f"SELECT * FROM {_quoted(name)} LIMIT 0").description)
        order = ", ".join(str(n) for n in range(1, width + 1))
        digest, rows = hashlib.sha256(), 0
        for row in connection.execute(f"SELECT * FROM {_quoted(name)} ORDER BY {order}"):
            digest.update(repr(tuple(row)).encode())
            digest.update(b"\n")
            rows += 1
        digests[name] = {"rows": rows, "sha256": digest.hexdigest()}
    return digests


def _revision(connection: sqlite3.Connection) -> str | None:
    try:
        row = connection.execute("SELECT version_num FROM alembic_version").fetchone()
    except sqlite3.Error:
        return None
    return row[0] if row else None


def _file_keys(connection: sqlite3.Connection) -> set[str]:
    keys: set[str] = set()
    for table, column in FILE_KEYS:
        try:
            keys.update(k for (k,) in connection.execute(f"SELECT {column} FROM {table} WHERE {column} IS NOT NULL"))
        except sqlite3.Error:
            continue  # an older schema without that table
    return keys


def _online_copy(source: Path, target: Path) -> None:
    """Copy the SQLite database `source` to the new file `target` with the online backup API, in one
    step (one read transaction: a consistent snapshot while others write)."""
    if not source.is_file():
        raise BackupError(f"There is no SQLite database at {source}.")
    with closing(sqlite3.connect(source, timeout=30)) as src, closing(sqlite3.connect(target)) as dst:
        src.execute("PRAGMA busy_timeout=30000")
        src.backup(dst, pages=-1)
        dst.execute("PRAGMA journal_mode=DELETE")  # one self-contained file, no -wal beside it


def sqlite_path(url: str) -> Path | None:
    """The file of a SQLite database URL, else None."""
    parsed = make_url(url)
    return Path(parsed.database) if parsed.get_backend_name() == "sqlite" and parsed.database else None


def _sqlite_file(url: str) -> Path:
    path = sqlite_path(url)
    if path is None:
        raise BackupError("The SQLite database is in memory: there is no file to back up or restore.")
    return path


# --- PostgreSQL: pg_dump and pg_restore ---------------------------------------------------------


def pg_command(url: str, tool: str, *args: str) -> tuple[list[str], dict[str, str]]:
    """(argv, extra environment) running `tool` against the database of `url`: the connection as a
    libpq URI without the password, which goes in PGPASSWORD."""
    parsed = make_url(url)
    libpq = URL.create(
        "postgresql", parsed.username, None, parsed.host, parsed.port, parsed.database, parsed.query
    ).render_as_string(hide_password=False)
    env = {"PGPASSWORD": parsed.password} if parsed.password else {}
    return [tool, *args, f"--dbname={libpq}"], env


def shown(argv: list[str], env: dict[str, str]) -> str:
    """A command as one shell line, the password left out."""
    import shlex

    prefix = "PGPASSWORD=… " if env else ""
    return prefix + " ".join(shlex.quote(a) for a in argv)


def _run(argv: list[str], env: dict[str, str]) -> None:
    if shutil.which(argv[0]) is None:
        raise BackupError(
            f"{argv[0]} was not found. Install the PostgreSQL client tools (the same major version as the "
            f"server), or run yourself:\n  {shown(argv, env)}"
        )
    done = subprocess.run(argv, env={**os.environ, **env}, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise BackupError(f"{argv[0]} failed ({done.returncode}): {done.stderr.strip()}\n  {shown(argv, env)}")


def _pg_revision(url: str) -> str | None:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            if not inspect(conn).has_table("alembic_version"):
                return None
            return conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()
    finally:
        engine.dispose()


# --- the file area ------------------------------------------------------------------------------


def _copy_files(source: Path, target: Path) -> tuple[int, int]:
    """Copy the stored files (not files still being written); (count, bytes)."""
    count = size = 0
    target.mkdir(parents=True, exist_ok=True)
    if not source.is_dir():
        return 0, 0
    for path in sorted(source.rglob("*")):
        if not path.is_file() or path.name.endswith(PARTIAL_SUFFIX):
            continue
        destination = target / path.relative_to(source)
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, destination)
        count, size = count + 1, size + path.stat().st_size
    return count, size


def _stored(files: Path, key: str) -> bool:
    return key.isalnum() and (files / key[:2] / key).is_file()  # services.storage.LocalStorage's layout


# --- backup ---------------------------------------------------------------------------------------


def _is_archive(path: Path) -> bool:
    return path.name.endswith((".tar.gz", ".tgz"))


def backup(config, target: Path, *, now: datetime | None = None) -> Manifest:
    """Back up the database of `config` (SQLALCHEMY_DATABASE_URI), its file area (UPLOAD_DIR) and its
    SQLite task queue into `target`: a new (or empty) directory, or a `.tar.gz` file."""
    target = Path(target)
    archive = _is_archive(target)
    if archive and target.exists():
        raise BackupError(f"{target} already exists; choose a new name.")
    if not archive and target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise BackupError(f"{target} already exists and is not an empty directory; choose a new one.")
    url = config["SQLALCHEMY_DATABASE_URI"]
    kind = make_url(url).get_backend_name()
    if kind not in ("sqlite", "postgresql"):
        raise BackupError(f"Backups of {kind} databases are not supported.")
    created = (now or datetime.now(UTC)).isoformat(timespec="seconds")
    with _workdir(target, archive) as work:
        manifest = Manifest(format=FORMAT, created_at=created, database=kind, revision=None)
        if kind == "sqlite":
            _online_copy(_sqlite_file(url), work / SQLITE_FILE)
            with closing(sqlite3.connect(work / SQLITE_FILE)) as copy:
                manifest.tables, manifest.revision = table_digests(copy), _revision(copy)
                keys = _file_keys(copy)
        else:
            argv, env = pg_command(url, "pg_dump", "--format=custom", "--no-owner", f"--file={work / PG_FILE}")
            _run(argv, env)
            manifest.revision, keys = _pg_revision(url), set()
        queue = config.get("QUEUE_FILE")
        if not config.get("REDIS_URL") and queue and Path(queue).is_file():
            _online_copy(Path(queue), work / QUEUE_FILE)
            manifest.queue = True
        manifest.files, manifest.file_bytes = _copy_files(Path(config["UPLOAD_DIR"]), work / FILES_DIR)
        manifest.missing_files = sorted(k for k in keys if not _stored(work / FILES_DIR, k))
        manifest.erasures = erasure_ledger.copy(erasure_ledger.path_of(config), work / LEDGER_FILE)
        manifest.write(work)
        if archive:
            _pack(work, target)
    return manifest


@contextmanager
def _workdir(target: Path, archive: bool):
    """Where the backup is put together: the target directory itself, or (for an archive) a
    temporary directory beside it, removed afterwards. A failed backup leaves nothing behind."""
    if archive:
        target.parent.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    else:
        target.mkdir(parents=True, exist_ok=True)
        work = target
    try:
        yield work
    except BaseException:
        if archive:
            shutil.rmtree(work, ignore_errors=True)
        else:
            for child in work.iterdir():
                shutil.rmtree(child) if child.is_dir() else child.unlink()
        raise
    if archive:
        shutil.rmtree(work, ignore_errors=True)


def _pack(work: Path, target: Path) -> None:
    partial = target.with_name(target.name + PARTIAL_SUFFIX)
    with tarfile.open(partial, "w:gz") as tar:
        for child in sorted(work.iterdir()):
            tar.add(child, arcname=child.name)
    partial.replace(target)


# --- restore --------------------------------------------------------------------------------------


@contextmanager
def _opened(source: Path):
    """The backup's directory (an archive unpacked into a temporary one)."""
    source = Path(source)
    if source.is_dir():
        yield source
        return
    if not source.is_file():
        raise BackupError(f"There is no backup at {source}.")
    with tempfile.TemporaryDirectory(prefix=".restore.", dir=source.parent) as folder:
        try:
            with tarfile.open(source, "r:*") as tar:
                tar.extractall(folder, filter="data")
        except (tarfile.TarError, OSError) as exc:
            raise BackupError(f"{source} cannot be unpacked: {exc}") from exc
        yield Path(folder)


def _check_sqlite_copy(folder: Path, manifest: Manifest) -> None:
    """The backup's database is whole and holds exactly the rows its manifest counted."""
    path = folder / SQLITE_FILE
    if not path.is_file():
        raise BackupError(f"{folder} has no {SQLITE_FILE}.")
    with closing(sqlite3.connect(path)) as copy:
        if copy.execute("PRAGMA integrity_check").fetchone()[0] != "ok":
            raise BackupError(f"{path} is damaged (SQLite's integrity check fails); nothing was restored.")
        if table_digests(copy) != manifest.tables:
            raise BackupError(f"{path} does not hold the rows its manifest lists; nothing was restored.")


def _holds_data(url: str) -> bool:
    path = sqlite_path(url)
    if path is not None and not path.exists():
        return False
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return bool(inspect(conn).get_table_names())
    finally:
        engine.dispose()


def _is_empty(path: Path) -> bool:
    """True for a SQLite file none of whose tables holds a row (a new instance's task queue)."""
    with closing(sqlite3.connect(path)) as conn:
        tables = [n for (n,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        return not any(conn.execute(f"SELECT 1 FROM {_quoted(n)} LIMIT 1").fetchone() for n in tables)


def _set_aside(path: Path, stamp: str) -> Path | None:
    """Move a SQLite file (with its -wal and -shm) out of the way, or remove it when it holds no
    rows; the name it is kept under, or None."""
    if not path.exists():
        return None
    if _is_empty(path):
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        return None
    kept = path.with_name(f"{path.name}.before-restore-{stamp}")
    for suffix in ("", "-wal", "-shm"):
        old = Path(f"{path}{suffix}")
        if old.exists():
            old.replace(Path(f"{kept}{suffix}"))
    return kept


def _ledger(path: Path) -> list[erasure_ledger.Entry]:
    try:
        return erasure_ledger.read(path).entries
    except OSError as exc:
        raise BackupError(f"The erasure ledger {path} cannot be read: {exc}") from exc


def restore(
    config, source: Path, *, force: bool = False, erasures: Path | None = None, now: datetime | None = None
) -> Manifest:
    """Bring the backup at `source` back into the database, file area and queue of `config`.

    The database must be new or empty; with `force` a SQLite database that holds data is kept
    beside it (`<name>.before-restore-<time>`) and a PostgreSQL one has its tables replaced. The
    stored files are added to the file area. The erasure ledger of `config` gets the lines of the
    backup's copy and of the ledger `erasures` (another instance's) it does not hold; erasing those
    people again is the caller's (services.privacy_reapply). Stop the app and its workers first."""
    url = config["SQLALCHEMY_DATABASE_URI"]
    kind = make_url(url).get_backend_name()
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%S")
    other = _ledger(Path(erasures)) if erasures else []  # read before anything is replaced
    with _opened(source) as folder:
        manifest = Manifest.read(folder)
        if manifest.database != kind:
            raise BackupError(f"The backup is of a {manifest.database} database; this instance uses {kind}.")
        if _holds_data(url) and not force:
            raise BackupError(
                "The database already holds data. Restore into a new instance, or stop the app and its "
                "workers and restore with --force (a SQLite database is kept beside the restored one)."
            )
        if kind == "sqlite":
            _check_sqlite_copy(folder, manifest)
            database = _sqlite_file(url)
            database.parent.mkdir(parents=True, exist_ok=True)
            _set_aside(database, stamp)
            _online_copy(folder / SQLITE_FILE, database)
            with closing(sqlite3.connect(database)) as restored:
                restored.execute("PRAGMA journal_mode=WAL")
        else:
            if not (folder / PG_FILE).is_file():
                raise BackupError(f"{folder} has no {PG_FILE}.")
            argv, env = pg_command(
                url,
                "pg_restore",
                "--clean",
                "--if-exists",
                "--no-owner",
                "--no-privileges",
                "--single-transaction",
                "--exit-on-error",
                str(folder / PG_FILE),
            )
            _run(argv, env)
        queue = config.get("QUEUE_FILE")
        if manifest.queue and queue and not config.get("REDIS_URL"):
            _set_aside(Path(queue), stamp)
            Path(queue).parent.mkdir(parents=True, exist_ok=True)
            _online_copy(folder / QUEUE_FILE, Path(queue))
        _copy_files(folder / FILES_DIR, Path(config["UPLOAD_DIR"]))
        copied = _ledger(folder / LEDGER_FILE)
        ledger = erasure_ledger.path_of(config)
        try:
            erasure_ledger.merge(ledger, [*copied, *other])
        except OSError as exc:
            raise BackupError(f"The erasure ledger {ledger} cannot be written: {exc}") from exc
    return manifest
