"""Säkerhetskopiering (issue 12): `flask --app app backup PATH` while the app writes, and
`flask --app app restore PATH` into a fresh instance that finds every record and every file.

The commands run as a user runs them, in their own processes, on instances of their own in
temporary folders (SQLite; PostgreSQL too when CRM_TEST_DATABASE_URL names a server), so the
test's own database is not involved.
"""

import hashlib
import json
import os
import sqlite3
import subprocess
import sys
import threading
from contextlib import closing
from pathlib import Path

import pytest

from services import backup, erasure_ledger

ROOT = Path(__file__).resolve().parent.parent
TEST_DATABASE_URL = os.environ.get("CRM_TEST_DATABASE_URL")
#: The writer's rows: two audit events a transaction, told apart by this entity type.
WRITER = "backup-test"


def flask(instance: Path, *args: str, database_url: str | None = None, check: bool = True):
    """Run `flask --app app ARGS` for the instance in `instance` (its own database, files and queue)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CRM_")}
    env["CRM_INSTANCE_DIR"] = str(instance)
    if database_url:
        env["CRM_DATABASE_URL"] = database_url
    done = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "app", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if check:
        assert done.returncode == 0, done.stdout + done.stderr
    return done


def stored_files(folder: Path) -> dict[str, str]:
    """Every file under `folder`: relative path → SHA-256 of its bytes."""
    return {
        str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def digests(path: Path, *, without_writer: bool = False) -> dict[str, dict]:
    """Row counts and checksums per table (services.backup.table_digests), optionally leaving out
    the writer's rows."""
    with closing(sqlite3.connect(path)) as conn:
        found = backup.table_digests(conn)
        if without_writer:
            rows = conn.execute("SELECT * FROM audit_event WHERE entity_type != ? ORDER BY id", (WRITER,)).fetchall()
            found["audit_event"] = {"rows": len(rows), "sha256": hashlib.sha256(repr(rows).encode()).hexdigest()}
        return found


def writer_transactions(path: Path) -> dict[int, set[str]]:
    """The writer's transactions found in a database: number → the actions of its rows."""
    with closing(sqlite3.connect(path)) as conn:
        found: dict[int, set[str]] = {}
        for number, action in conn.execute(
            "SELECT entity_id, action FROM audit_event WHERE entity_type = ?", (WRITER,)
        ):
            found.setdefault(number, set()).add(action)
        return found


class Writer(threading.Thread):
    """Another connection writing while the backup runs: one transaction after another, each two
    rows, counting those committed."""

    def __init__(self, database: Path):
        super().__init__(daemon=True)
        self.database, self.committed, self.stop, self.error = database, 0, threading.Event(), None

    def run(self):
        try:
            with closing(sqlite3.connect(self.database, timeout=30, isolation_level=None)) as conn:
                conn.execute("PRAGMA busy_timeout=30000")
                while not self.stop.is_set():
                    number = self.committed + 1
                    conn.execute("BEGIN IMMEDIATE")
                    for action in ("created", "updated"):
                        conn.execute(
                            "INSERT INTO audit_event (at, entity_type, entity_id, action) "
                            "VALUES (CURRENT_TIMESTAMP, ?, ?, ?)",
                            (WRITER, number, action),
                        )
                    conn.execute("COMMIT")
                    self.committed = number
        except Exception as exc:  # reported by the test
            self.error = exc

    def wait_for(self, transactions: int):
        while self.committed < transactions and self.is_alive():
            self.stop.wait(0.01)


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    """An instance with the demo register (its files too) on SQLite."""
    instance = tmp_path_factory.mktemp("source")
    flask(instance, "db", "upgrade")
    flask(instance, "seed")
    return instance


@pytest.mark.parametrize("name", ["backup", "backup.tar.gz"])
def test_backup_while_writing_restores_every_record_and_file(source, tmp_path, name):
    database, uploads = source / "crm.sqlite", source / "uploads"
    assert stored_files(uploads), "the demo register stores files"
    with closing(sqlite3.connect(database)) as conn, conn:  # the source is shared: the previous writer's rows go
        conn.execute("DELETE FROM audit_event WHERE entity_type = ?", (WRITER,))
    writer = Writer(database)
    writer.start()
    writer.wait_for(20)
    before = writer.committed  # committed before the backup started: all of them must be in it
    made = flask(source, "backup", str(tmp_path / name))
    during = writer.committed
    writer.stop.set()
    writer.join()
    assert writer.error is None, writer.error
    # Whether the writer got a commit in while the backup ran depends on the machine's load (on a
    # loaded CI machine the copy can finish between two of its commits); what the backup holds is
    # checked below either way: every transaction whole, and everything committed before it began.
    assert during >= before
    assert "Backed up to" in made.stdout

    restored = tmp_path / "restored"
    flask(restored, "restore", str(tmp_path / name))
    restored_db = restored / "crm.sqlite"

    # consistent: the writer's transactions up to one moment, each whole, none after a gap
    found = writer_transactions(restored_db)
    assert set(found) == set(range(1, len(found) + 1))
    assert all(actions == {"created", "updated"} for actions in found.values())
    assert before <= len(found) <= writer.committed
    # every other record as in the source, table by table
    assert digests(restored_db, without_writer=True) == digests(database, without_writer=True)
    # and exactly what the backup's manifest counted
    folder = tmp_path / name if (tmp_path / name).is_dir() else None
    if folder is not None:
        manifest = json.loads((folder / "manifest.json").read_text())
        assert manifest["tables"] == digests(restored_db)
        assert manifest["missing_files"] == []
    # every stored file, byte for byte, and every file a record names
    assert stored_files(restored / "uploads") == stored_files(uploads)
    with closing(sqlite3.connect(restored_db)) as conn:
        keys = [k for (k,) in conn.execute("SELECT storage_key FROM attachment")]
    assert keys and all((restored / "uploads" / k[:2] / k).is_file() for k in keys)
    # the restored instance works: its data is there for the app
    assert "already has data" in flask(restored, "seed", "--if-empty").stdout


def test_restore_refuses_a_database_with_data_unless_forced(source, tmp_path):
    flask(source, "backup", str(tmp_path / "first"))
    target = tmp_path / "target"
    flask(target, "restore", str(tmp_path / "first"))
    refused = flask(target, "restore", str(tmp_path / "first"), check=False)
    assert refused.returncode != 0 and "already holds data" in refused.stderr
    flask(target, "restore", "--force", str(tmp_path / "first"))
    kept = list(target.glob("crm.sqlite.before-restore-*"))
    assert len(kept) == 1 and digests(kept[0]) == digests(target / "crm.sqlite")


def test_damaged_backup_is_refused_and_nothing_is_restored(source, tmp_path):
    flask(source, "backup", str(tmp_path / "copy"))
    with closing(sqlite3.connect(tmp_path / "copy" / "database.sqlite")) as conn:
        conn.execute("DELETE FROM company WHERE id = (SELECT max(id) FROM company)")
        conn.commit()
    target = tmp_path / "target"
    refused = flask(target, "restore", str(tmp_path / "copy"), check=False)
    assert refused.returncode != 0 and "does not hold the rows its manifest lists" in refused.stderr
    assert not (target / "crm.sqlite").exists() or not backup._holds_data(f"sqlite:///{target / 'crm.sqlite'}")


def test_backup_refuses_a_directory_in_use(source, tmp_path):
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "something").write_text("x")
    refused = flask(source, "backup", str(tmp_path / "full"), check=False)
    assert refused.returncode != 0 and "not an empty directory" in refused.stderr


def test_without_pg_dump_the_exact_command_is_given_without_the_password(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # no pg_dump to be found
    config = {
        "SQLALCHEMY_DATABASE_URI": "postgresql+psycopg://kund:hemligt@db.example:5433/crm?sslmode=require",
        "UPLOAD_DIR": str(tmp_path / "uploads"),
        "REDIS_URL": "redis://localhost",
    }
    with pytest.raises(backup.BackupError) as refused:
        backup.backup(config, tmp_path / "pg")
    message = str(refused.value)
    assert "pg_dump was not found" in message and "hemligt" not in message
    assert "PGPASSWORD=… pg_dump --format=custom --no-owner" in message
    assert "--dbname=postgresql://kund@db.example:5433/crm?sslmode=require" in message
    assert not any((tmp_path / "pg").iterdir())  # nothing half made


@pytest.mark.skipif(not TEST_DATABASE_URL, reason="CRM_TEST_DATABASE_URL names no PostgreSQL server")
def test_postgresql_backup_with_pg_dump_restores_into_a_fresh_database(tmp_path):
    import psycopg
    from sqlalchemy.engine import make_url

    from databases import fresh_postgres_database, worker_suffix

    source_url, drop_source = fresh_postgres_database(TEST_DATABASE_URL, f"_backup_src{worker_suffix()}")
    target_url, drop_target = fresh_postgres_database(TEST_DATABASE_URL, f"_backup_dst{worker_suffix()}")

    def checksums(url: str) -> dict[str, tuple[int, str]]:
        libpq = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
        with psycopg.connect(libpq) as conn:
            tables = [
                t
                for (t,) in conn.execute(
                    "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename"
                )
            ]
            return {
                t: conn.execute(
                    f"SELECT count(*), md5(coalesce(string_agg(r::text, '|' ORDER BY r::text), '')) FROM \"{t}\" r"
                ).fetchone()
                for t in tables
            }

    try:
        source, restored = tmp_path / "source", tmp_path / "restored"
        flask(source, "db", "upgrade", database_url=source_url)
        flask(source, "seed", database_url=source_url)
        made = flask(source, "backup", str(tmp_path / "pg"), database_url=source_url)
        assert "pg_dump" in made.stderr and (tmp_path / "pg" / "database.pgdump").stat().st_size > 0
        flask(restored, "restore", str(tmp_path / "pg"), database_url=target_url)
        expected = checksums(source_url)
        assert expected["company"][0] > 0
        assert checksums(target_url) == expected
        assert stored_files(restored / "uploads") == stored_files(source / "uploads") != {}
        refused = flask(restored, "restore", str(tmp_path / "pg"), database_url=target_url, check=False)
        assert refused.returncode != 0 and "already holds data" in refused.stderr
    finally:
        drop_source()
        drop_target()


# --- erasures made after the backup (services.erasure_ledger, services.privacy_reapply) ---------------

#: The person, her duplicate (merged into her record after the backup, then she is erased) and a note
#: about her; made in the source instance, which has nobody else.
SETUP = """
from models import Activity, Contact
from services import accounts

admin = accounts.create_employee(db.session, email="admin@example.se", name="Admin", role="admin", password=None)
person = Contact(first_name="Vendela", last_name="Quist", email="vendela@quist.se", phone="+46701234567")
duplicate = Contact(first_name="Vendela", last_name="Quist", email="vq@gammal.se", mobile="+46731112233")
db.session.add_all([person, duplicate])
db.session.flush()
db.session.add(Activity(kind="note", subject="Ringde Vendela Quist", contact_id=person.id))
db.session.commit()
print(admin.id, person.id, duplicate.id)
"""
ERASE = """
from datetime import date

from models import Employee
from services import merge, privacy, storage

admin = db.session.get(Employee, {admin})
merge.merge(db.session, admin, "contact", {person}, {duplicate})
db.session.commit()
subject = privacy.find_subject(db.session, "contact", {person})
privacy.erase(db.session, storage.from_config(app.config), admin, subject, date.today())
db.session.commit()
"""
#: Every trace of her in those records.
TRACES = ("Vendela", "Quist", "quist.se", "gammal.se", "701234567", "731112233")


class Instance:
    """An instance in a folder of its own, on its own SQLite file or PostgreSQL database (`url`)."""

    def __init__(self, folder: Path, url: str | None):
        self.folder, self.url = folder, url
        self.ledger = folder / "erasures.jsonl"

    def flask(self, *args: str, check: bool = True):
        return flask(self.folder, *args, database_url=self.url, check=check)

    def python(self, code: str) -> str:
        """Run `code` in the instance's app (its context pushed; `app` and `db` at hand); what it printed."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("CRM_")}
        env["CRM_INSTANCE_DIR"] = str(self.folder)
        if self.url:
            env["CRM_DATABASE_URL"] = self.url
        prelude = "from app import create_app\nfrom extensions import db\n"
        prelude += "app = create_app()\napp.app_context().push()\n"
        done = subprocess.run(
            [sys.executable, "-c", prelude + code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
        )
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    def rows(self, sql: str) -> list[tuple]:
        if self.url is None:
            with closing(sqlite3.connect(self.folder / "crm.sqlite")) as conn:
                return conn.execute(sql).fetchall()
        import psycopg
        from sqlalchemy.engine import make_url

        libpq = make_url(self.url).set(drivername="postgresql").render_as_string(hide_password=False)
        with psycopg.connect(libpq) as conn:
            return conn.execute(sql).fetchall()

    def text(self) -> str:
        """Every row of every table (SQLite: not the search index's virtual table, whose rows are its
        tables'), as text."""
        if self.url is None:
            sql = "SELECT name FROM sqlite_master WHERE type = 'table' AND sql NOT LIKE 'CREATE VIRTUAL TABLE%'"
        else:
            sql = "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
        return "\n".join(repr(self.rows(f'SELECT * FROM "{table}"')) for (table,) in self.rows(sql))

    def summaries(self) -> list[dict]:
        """The summaries of the erasures in the privacy log."""
        found = self.rows("SELECT summary FROM privacy_event WHERE action = 'erase' ORDER BY id")
        return [json.loads(s) if isinstance(s, str) else s for (s,) in found]


@pytest.fixture(params=["sqlite", "postgresql"])
def databases(request):
    """`new(name)`: the database URL of a new instance (None: SQLite in its folder; PostgreSQL: a new
    database, dropped at the end, when CRM_TEST_DATABASE_URL names a server)."""
    if request.param == "sqlite":
        yield lambda name: None
        return
    if not TEST_DATABASE_URL:
        pytest.skip("CRM_TEST_DATABASE_URL names no PostgreSQL server")
    from databases import fresh_postgres_database, worker_suffix

    drops = []

    def new(name: str) -> str:
        url, drop = fresh_postgres_database(TEST_DATABASE_URL, f"_{name}{worker_suffix()}")
        drops.append(drop)
        return url

    yield new
    for drop in drops:
        drop()


@pytest.fixture
def erased_after_backup(tmp_path, databases):
    """The source instance, backed up (`before`), and then the person's duplicate merged into her record
    and the person erased; (instance, the backup, the ids)."""
    source = Instance(tmp_path / "source", databases("ledger_src"))
    source.flask("db", "upgrade")
    admin, person, duplicate = map(int, source.python(SETUP).split())
    source.flask("backup", str(tmp_path / "before"))
    source.python(ERASE.format(admin=admin, person=person, duplicate=duplicate))
    assert person_of(source, person) == ("Anonymiserad", "person", None, None)
    return source, tmp_path / "before", {"person": person, "duplicate": duplicate}


def person_of(instance: Instance, contact_id: int) -> tuple:
    return instance.rows(f"SELECT first_name, last_name, email, phone FROM contact WHERE id = {contact_id}")[0]


def assert_erased_again(instance: Instance, ids: dict) -> None:
    """Her record and her duplicate anonymised, no trace of her anywhere in the database, and the privacy
    log saying the two were erased again after the restore."""
    assert person_of(instance, ids["person"]) == ("Anonymiserad", "person", None, None)
    assert person_of(instance, ids["duplicate"]) == ("Anonymiserad", "person", None, None)
    everything = instance.text().lower()
    assert not [trace for trace in TRACES if trace.lower() in everything]
    assert [s.get("reapplied") for s in instance.summaries()] == ["restore", "restore"]


def test_restore_erases_again_the_person_erased_after_the_backup(erased_after_backup):
    """Restored over the instance (--force), the backup holds her data again: the restore finds her in the
    instance's erasure ledger and erases her again, with the duplicate not yet merged in the backup. The
    ledger holds no personal data."""
    source, before, ids = erased_after_backup
    assert source.ledger.is_file()
    assert not [trace for trace in TRACES if trace.lower() in source.ledger.read_text().lower()]
    restored = source.flask("restore", "--force", str(before))
    assert "Erasures re-applied (1 in the ledger" in restored.stdout
    assert "2 made again, 0 already in place" in restored.stdout  # her record and the duplicate, not merged there
    assert_erased_again(source, ids)


def test_restore_onto_a_new_host_re_applies_the_ledger_it_is_given(erased_after_backup, tmp_path, databases):
    """A new instance has a ledger of its own (empty): --erasures names the lost host's. A line whose record
    is not in the database (made after the backup, say) is skipped. The new ledger keeps every line given."""
    source, before, ids = erased_after_backup
    missing = erasure_ledger.Entry("contact", 99_999, "2026-12-06T10:00:00Z", 99, (("contact", 99_999, "2026-12-06"),))
    erasure_ledger.append(source.ledger, [missing])
    new_host = Instance(tmp_path / "new-host", databases("ledger_dst"))
    restored = new_host.flask("restore", str(before), "--erasures", str(source.ledger))
    assert "2 made again, 0 already in place; 1 recorded records not in the database" in restored.stdout
    assert_erased_again(new_host, ids)
    kept = new_host.ledger.read_text().splitlines()
    assert set(source.ledger.read_text().splitlines()) <= set(kept) and len(kept) == 4  # and the 2 made again


def test_a_backup_carries_the_ledger_and_a_restore_adds_it_to_the_instances(erased_after_backup, tmp_path, databases):
    """A backup made after the erasure holds the ledger as it stood; restored into a new instance, its lines
    are added to that instance's ledger (for a later restore of an older backup). She is erased in it
    already: nothing to do."""
    source, _before, ids = erased_after_backup
    source.flask("backup", str(tmp_path / "after"))
    assert (tmp_path / "after" / "erasures.jsonl").read_text() == source.ledger.read_text()
    assert json.loads((tmp_path / "after" / "manifest.json").read_text())["erasures"] == 1
    new_host = Instance(tmp_path / "new-host", databases("ledger_dst"))
    restored = new_host.flask("restore", str(tmp_path / "after"))
    assert "0 made again, 1 already in place" in restored.stdout
    assert new_host.ledger.read_text() == source.ledger.read_text()
    assert person_of(new_host, ids["duplicate"]) == ("Anonymiserad", "person", None, None)
