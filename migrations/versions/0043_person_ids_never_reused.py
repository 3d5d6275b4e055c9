"""SQLite: a contact's or a lead's id is never given again (AUTOINCREMENT)

Without AUTOINCREMENT SQLite gives a new row the largest id + 1, so when the row with the largest id
is deleted its id comes back. The privacy log (`privacy_event.subject_id`) and the erasure ledger
(`instance/erasures.jsonl`) name an erased person by their record's kind and id: a contact or lead
erased, purged, and followed by a new one got that id, and the new record was taken for the erased
person (read-only, its actions hidden, refused as erased; and open to a re-applied erasure after a
restore). The audit trail and merge records name records by id as well.

So `contact` and `lead`, the tables whose ids the privacy log and the ledger name (services.privacy
KINDS), are rebuilt with `INTEGER PRIMARY KEY AUTOINCREMENT` (batch mode, recreate), and their
sequence (`sqlite_sequence`) starts above every id already used: the table's largest, and the largest
the privacy log, the ledger, the audit trail and the merge records name, so an id of a record already
purged is not handed out either.

SQLite drops a table's indexes and triggers with it, and will not rename a table while a view names
one that is missing: every index, trigger and view on the two tables (the quick-search triggers of
migrations 0011 and 0035 and the view `<table>_search_words`, the NOCASE e-mail index of 0037 …) is
read from sqlite_master first and made again afterwards from its own SQL text, in its old order, so
each is exactly what it was. The rows keep their ids, so the FTS5 index (keyed by id) stays valid.

PostgreSQL: a sequence never gives a value twice; nothing to do.

Revision ID: 0043
Revises: 0042
Create Date: 2026-12-06 14:30:00

"""

import json
import re
from pathlib import Path

from alembic import op
from sqlalchemy import text

revision = "0043"
down_revision = "0042"
branch_labels = None
depends_on = None

#: The tables whose ids the privacy log and the erasure ledger name (services.privacy.KINDS, frozen here).
TABLES = ("contact", "lead")
#: The constraint names of the tables' primary keys without AUTOINCREMENT (the app's naming convention).
NAMING_CONVENTION = {"pk": "pk_%(table_name)s"}


def _dependents(conn, table: str) -> list[tuple[str, str, str]]:
    """(type, name, sql) of every index, trigger and view on `table` or naming it, in sqlite_master's
    order (the order they were made: a view on a view comes after it). Indexes SQLite makes itself
    (a UNIQUE constraint's) have no SQL and come back with the table."""
    rows = conn.exec_driver_sql(
        "SELECT type, name, tbl_name, sql FROM sqlite_master "
        "WHERE type IN ('index', 'trigger', 'view') AND sql IS NOT NULL ORDER BY rowid"
    ).fetchall()
    names = re.compile(rf'(?<![\w."]){re.escape(table)}(?![\w"])|"{re.escape(table)}"', re.IGNORECASE)
    return [
        (kind, name, sql)
        for kind, name, tbl_name, sql in rows
        if tbl_name == table or (kind == "view" and names.search(sql))
    ]


def _shape(conn, table: str) -> tuple:
    """What the rebuild must keep of `table`: its columns (name, type, NOT NULL, default, key), foreign
    keys, indexes (with those of its UNIQUE constraints) and CHECK constraints (counted in its SQL)."""
    pragma = conn.exec_driver_sql
    columns = pragma(f'PRAGMA table_info("{table}")').fetchall()
    keys = sorted(tuple(row[2:]) for row in pragma(f'PRAGMA foreign_key_list("{table}")'))
    indexes = sorted(
        ("(unique constraint)" if row[1].startswith("sqlite_autoindex_") else row[1], *row[2:])
        for row in pragma(f'PRAGMA index_list("{table}")')
    )
    sql = pragma("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)).scalar()
    return [tuple(c) for c in columns], keys, indexes, len(re.findall(r"\bCHECK\b", sql, re.IGNORECASE))


def _rebuild(table: str, *, autoincrement: bool) -> None:
    conn = op.get_bind()
    before = _shape(conn, table)
    dependents = _dependents(conn, table)
    for kind, name, _sql in reversed(dependents):
        op.execute(f'DROP {kind.upper()} IF EXISTS "{name}"')
    # Every index is gone, so the batch makes none of its own (it would not make the expression and
    # partial ones as they were); the table's columns, keys, UNIQUE and named CHECK constraints it copies
    # (`_shape` checks that it did).
    with op.batch_alter_table(
        table,
        recreate="always",
        table_kwargs={"sqlite_autoincrement": autoincrement},
        naming_convention=NAMING_CONVENTION,
    ):
        pass
    for _kind, _name, sql in dependents:
        op.execute(sql)
    after = _shape(conn, table)
    if after != before:  # Alembic leaves out an unnamed CHECK constraint, say: stop rather than lose it
        raise RuntimeError(f"rebuilding {table} would change it: {before} became {after}")


def _ledger_ids() -> dict[str, int]:
    """The largest id of each kind the instance's erasure ledger names (0 without a ledger)."""
    from flask import current_app

    config = current_app.config
    path = Path(config.get("ERASURE_LEDGER") or Path(config["INSTANCE_DIR"]) / "erasures.jsonl")
    largest = dict.fromkeys(TABLES, 0)
    if not path.exists():
        return largest
    for line in path.read_bytes().splitlines():
        try:
            entry = json.loads(line)
            named = [(entry["kind"], entry["id"]), *((kind, i) for kind, i, _created in entry["records"])]
        except (ValueError, TypeError, KeyError):
            continue  # a line cut short by a crash: services.erasure_ledger skips it too
        for kind, record_id in named:
            if kind in largest and isinstance(record_id, int):
                largest[kind] = max(largest[kind], record_id)
    return largest


def _used(conn, table: str, ledger: int) -> int:
    """The largest id of `table` the database or the ledger has ever named."""
    named = [
        f'SELECT max(id) FROM "{table}"',
        "SELECT max(subject_id) FROM privacy_event WHERE subject_type = :kind",
        "SELECT max(entity_id) FROM audit_event WHERE entity_type = :kind",
        "SELECT max(max(survivor_id, merged_id)) FROM merge_record WHERE entity_type = :kind",
    ]
    values = [conn.execute(text(sql), {"kind": table}).scalar() for sql in named]
    return max([ledger, *(v for v in values if v is not None)])


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    conn = op.get_bind()
    ledger = _ledger_ids()
    for table in TABLES:
        _rebuild(table, autoincrement=True)
        used = _used(conn, table, ledger[table])
        # the copy of the rows set the sequence to the largest id; the rename kept it under the new name
        named = {"table": table, "seq": used}
        conn.execute(text("DELETE FROM sqlite_sequence WHERE name = :table"), named)
        conn.execute(text("INSERT INTO sqlite_sequence (name, seq) VALUES (:table, :seq)"), named)


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for table in TABLES:
        _rebuild(table, autoincrement=False)
        op.execute(f"DELETE FROM sqlite_sequence WHERE name = '{table}'")
