"""SQLite: a table whose ids are never given twice (AUTOINCREMENT), for the migrations that make one so

Not a revision (Alembic reads only versions/, and the folder is not a package): migrations 0043 (contact,
lead) and 0045 (company) load it by its path and call `never_reused` on upgrade, `reusable` on downgrade.

Without AUTOINCREMENT SQLite gives a new row the largest id + 1, so when the row with the largest id is
deleted its id comes back, and whatever names rows by id (the audit trail, the merge records, the
privacy log and the erasure ledger) takes the new row for the old one. A table cannot be altered to
AUTOINCREMENT: `rebuild` copies it into a new one (Alembic's batch mode, recreate). SQLite drops a
table's indexes and triggers with it, and will not rename a table while a view names one that is
missing: every index, trigger and view on the table (the quick-search triggers of migrations 0011 and
0035 and the view `<table>_search_words`, the name-key triggers and index of 0038, the partial and
NOCASE indexes …) is read from sqlite_master first and made again afterwards from its own SQL text,
in its old order, so each is exactly what it was; and the table's shape (columns, keys, indexes, CHECK
constraints) is compared before and after, and the migration stops rather than lose any of it. The rows
keep their ids, so an FTS5 index keyed by id stays valid.

Speed (a register of a million companies): the indexes are dropped before the rows are copied and made
afterwards, each from one sorted pass, instead of being kept up row by row during the copy.

PostgreSQL: a sequence never gives a value twice; the migrations do nothing there.
"""

from __future__ import annotations

import re

from alembic import op
from sqlalchemy import text

#: The constraint names of the tables' primary keys without AUTOINCREMENT (the app's naming convention).
NAMING_CONVENTION = {"pk": "pk_%(table_name)s"}


def dependents(conn, table: str) -> list[tuple[str, str, str]]:
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


def shape(conn, table: str) -> tuple:
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


def rebuild(table: str, *, autoincrement: bool) -> None:
    """`table` copied into one declared with (or without) AUTOINCREMENT, with everything it had."""
    conn = op.get_bind()
    before = shape(conn, table)
    made_again = dependents(conn, table)
    for kind, name, _sql in reversed(made_again):
        op.execute(f'DROP {kind.upper()} IF EXISTS "{name}"')
    # Every index is gone, so the batch makes none of its own (it would not make the expression and
    # partial ones as they were); the table's columns, keys, UNIQUE and named CHECK constraints it copies
    # (`shape` checks that it did).
    with op.batch_alter_table(
        table,
        recreate="always",
        table_kwargs={"sqlite_autoincrement": autoincrement},
        naming_convention=NAMING_CONVENTION,
    ):
        pass
    for _kind, _name, sql in made_again:
        op.execute(sql)
    after = shape(conn, table)
    if after != before:  # Alembic leaves out an unnamed CHECK constraint, say: stop rather than lose it
        raise RuntimeError(f"rebuilding {table} would change it: {before} became {after}")


def largest_named(conn, table: str, at_least: int = 0) -> int:
    """The largest id of `table` the database has ever named: the table's own, and those the privacy
    log, the audit trail and the merge records name for its kind (a record purged since); `at_least`
    for what names ids outside the database (the erasure ledger)."""
    named = [
        f'SELECT max(id) FROM "{table}"',
        "SELECT max(subject_id) FROM privacy_event WHERE subject_type = :kind",
        "SELECT max(entity_id) FROM audit_event WHERE entity_type = :kind",
        "SELECT max(max(survivor_id, merged_id)) FROM merge_record WHERE entity_type = :kind",
    ]
    values = [conn.execute(text(sql), {"kind": table}).scalar() for sql in named]
    return max([at_least, *(v for v in values if v is not None)])


def never_reused(table: str, *, at_least: int = 0) -> None:
    """SQLite: `table` made AUTOINCREMENT, its sequence (sqlite_sequence) above every id ever named
    (`largest_named`), so not even the id of a row purged before this migration is given again."""
    if op.get_bind().dialect.name != "sqlite":
        return
    conn = op.get_bind()
    rebuild(table, autoincrement=True)
    # the copy of the rows set the sequence to the largest id; the rename kept it under the new name
    named = {"table": table, "seq": largest_named(conn, table, at_least)}
    conn.execute(text("DELETE FROM sqlite_sequence WHERE name = :table"), named)
    conn.execute(text("INSERT INTO sqlite_sequence (name, seq) VALUES (:table, :seq)"), named)


def reusable(table: str) -> None:
    """SQLite: `table` as it was before `never_reused` (no AUTOINCREMENT, no sequence)."""
    if op.get_bind().dialect.name != "sqlite":
        return
    rebuild(table, autoincrement=False)
    op.get_bind().execute(text("DELETE FROM sqlite_sequence WHERE name = :table"), {"table": table})
