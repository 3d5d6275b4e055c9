"""Set-based work for imports: new ids for a batch, finding a batch's keys, and inserting many rows at once.

PostgreSQL: ids come from the table's own sequence (`nextval`, safe with
concurrent writers) and rows go in with COPY, which is several times cheaper
than INSERT for the client and the server. SQLite: the batch first takes the
database's single write lock, ids continue from the largest one (nobody else
can insert until the commit), and rows go in with one executemany on the
driver's cursor.
"""

from __future__ import annotations

import json
from typing import Any, cast

from sqlalchemy import ARRAY, JSON, Table, any_, bindparam, false, func, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from services.search import SEARCHED

#: Tables with a quick-search index; on SQLite a batch adds its rows to it in one statement.
_SEARCHED_TABLES = {model.__tablename__ for model in cast(dict[Any, Any], SEARCHED)}


def _dialect(session: Session) -> str:
    return session.get_bind().dialect.name


def upsert(session: Session, table: Table | type[Any]) -> Any:
    """INSERT with `on_conflict_do_…` in the session's dialect (SQLite and PostgreSQL both have it)."""
    if _dialect(session) == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


def new_ids(session: Session, table: Table, count: int) -> list[int]:
    """`count` unused primary keys of `table`, to insert with."""
    if count < 1:
        return []
    if _dialect(session) == "postgresql":
        sequence = session.scalar(text("SELECT pg_get_serial_sequence(:table, 'id')"), {"table": table.name})
        return list(
            session.scalars(
                text("SELECT nextval(:sequence) FROM generate_series(1, :count)"),
                {"sequence": sequence, "count": count},
            )
        )
    session.execute(update(table).where(false()).values(id=table.c.id))  # takes the write lock, changes nothing
    start = session.scalar(select(func.max(table.c.id))) or 0
    return list(range(start + 1, start + 1 + count))


def one_of(session: Session, column, values):
    """`column IN values` for a batch's many values, given as one parameter: an array on PostgreSQL, JSON on SQLite.

    A placeholder per value costs SQLAlchemy and the driver more than the query itself.
    """
    values = list(values)
    if _dialect(session) == "postgresql":
        return column == any_(bindparam(None, values, type_=ARRAY(column.type)))
    each = func.json_each(json.dumps(values)).table_valued("value")
    return column.in_(select(each.c.value))


def insert_rows(session: Session, table: Table, rows: list[dict]) -> None:
    """Insert `rows` (dicts with the same keys) in one go: COPY on PostgreSQL, one executemany on SQLite.

    Only the given columns are written: columns left out get the database's default, not a Python-side one.
    """
    if not rows:
        return
    columns = list(rows[0])
    if _dialect(session) == "sqlite":
        _sqlite_executemany(session, table, columns, rows)
        return
    as_json = {c for c in columns if isinstance(table.c[c].type, JSON)}
    quote = session.get_bind().dialect.identifier_preparer.quote
    statement = f"COPY {quote(table.name)} ({', '.join(quote(c) for c in columns)}) FROM STDIN"
    connection: Any = session.connection().connection.driver_connection
    with connection.cursor() as cursor, cursor.copy(statement) as copy:
        for row in rows:
            copy.write_row([json.dumps(row[c]) if c in as_json and row[c] is not None else row[c] for c in columns])


def _sqlite_executemany(session: Session, table: Table, columns: list[str], rows: list[dict]) -> None:
    """One executemany on the driver's cursor, values converted by the columns' own SQLAlchemy types.

    The rows SQLAlchemy's executemany would insert, without its per-row
    bookkeeping, which costs more than SQLite's insert itself.
    """
    dialect = session.get_bind().dialect
    quote = dialect.identifier_preparer.quote
    statement = (
        f"INSERT INTO {quote(table.name)} ({', '.join(quote(c) for c in columns)}) "
        f"VALUES ({', '.join('?' * len(columns))})"
    )
    by_column = []
    for c in columns:
        values = [row[c] for row in rows]
        process = table.c[c].type.dialect_impl(dialect).bind_processor(dialect)
        by_column.append(values if process is None else _converted(process, values))
    connection: Any = session.connection().connection.driver_connection
    cursor = connection.cursor()
    indexed_here = "id" in columns and table.name in _SEARCHED_TABLES
    try:
        if indexed_here:  # the quick-search index gets the batch in one statement (migration 0035)
            cursor.execute("INSERT INTO search_deferred (name) VALUES (?)", (table.name,))
        cursor.executemany(statement, list(zip(*by_column, strict=True)))
        if indexed_here:
            cursor.execute(
                f"INSERT INTO {table.name}_search (rowid, words) SELECT id, words FROM {table.name}_search_words "
                "WHERE id IN (SELECT value FROM json_each(?))",
                (json.dumps([row["id"] for row in rows]),),
            )
    finally:
        if indexed_here:
            cursor.execute("DELETE FROM search_deferred WHERE name = ?", (table.name,))
        cursor.close()


def _converted(process, values: list) -> list:
    """`process` applied to each value, once per distinct value (a batch's timestamps are mostly one)."""
    try:
        distinct = {value: process(value) for value in set(values)}
    except TypeError:  # unhashable values (JSON)
        return [process(value) for value in values]
    return [distinct[value] for value in values]
