"""Set-based work for imports: new ids for a batch, finding a batch's keys, and inserting many rows at once.

PostgreSQL: ids come from the table's own sequence (`nextval`, safe with
concurrent writers) and rows go in with COPY, which is several times cheaper
than INSERT for the client and the server. SQLite: the batch first takes the
database's single write lock, ids continue from the largest one (nobody else
can insert until the commit), and rows go in with one executemany on the
driver's cursor. A table declared AUTOINCREMENT (a company's, a contact's, a lead's: models.Company)
continues from its sequence when that is larger (the largest id ever given, its row since deleted); the
rows inserted with their ids move the sequence on, as any insert does.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from contextlib import contextmanager
from itertools import chain
from operator import itemgetter
from typing import Any, NamedTuple, cast

from sqlalchemy import ARRAY, JSON, Table, any_, bindparam, false, func, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Session

from services.search import PICKED, SEARCHED, fold

#: Tables with a quick-search index; on SQLite a batch adds its rows to it in one statement.
_SEARCHED_TABLES = {model.__tablename__ for model in cast(dict[Any, Any], SEARCHED)}
#: SQLite: {table: its name column} of the tables whose folded name key a batch writes with its rows
#: (migration 0038's insert trigger, which otherwise rewrites each new row to set it, stands aside): the
#: trigger cost an import of 30,000 companies a quarter of its CPU (5,576 → 4,155 rows per CPU-second).
_KEYED_NAMES = {cast(Any, model).__tablename__: name for model, name in PICKED.items()}


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
    if table.kwargs.get("sqlite_autoincrement"):  # never an id given before, not even a deleted row's
        given = session.scalar(text("SELECT seq FROM sqlite_sequence WHERE name = :table"), {"table": table.name})
        start = max(start, given or 0)
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


class PreparedRows(NamedTuple):
    """Rows made ready for `insert_prepared` (`prepare_rows`): on SQLite already converted by the
    columns' types, so a thread that only writes (seed/large.py) has only the database's work left."""

    table: Table
    columns: list[str]
    values: list[Any]  # SQLite: a tuple per row; PostgreSQL: the rows' values, JSON columns dumped
    ids: str | None  # SQLite, a searched table: the rows' ids as JSON, to add them to the search index


def insert_rows(session: Session, table: Table, rows: Iterable[dict]) -> None:
    """Insert `rows` (dicts with the same keys) in one go: COPY on PostgreSQL, one executemany on SQLite.

    Only the given columns are written: columns left out get the database's default, not a Python-side one.
    On PostgreSQL the rows are sent as they come: given a generator, PostgreSQL inserts (and indexes) the
    first rows while the caller still makes the next ones.
    """
    if _dialect(session) == "sqlite":
        rows = list(rows)
        if rows:
            insert_prepared(session, prepare_rows(session.get_bind().dialect, table, rows))
        return
    rows = iter(rows)
    first = next(rows, None)
    if first is None:
        return
    columns = list(first)
    values_of = _copy_values(table, columns)
    with _copy(session, table, columns) as copy:
        for row in chain((first,), rows):
            copy.write_row(values_of(row))


def _copy_values(table: Table, columns: list[str]) -> Callable[[dict], list]:
    """PostgreSQL: a row's values of `columns` as COPY writes them (JSON columns dumped)."""
    getter = itemgetter(*columns) if len(columns) > 1 else (lambda row: (row[columns[0]],))
    dumped = [i for i, c in enumerate(columns) if isinstance(table.c[c].type, JSON)]

    def values_of(row: dict) -> list:
        values = list(getter(row))
        for at in dumped:
            if values[at] is not None:
                values[at] = json.dumps(values[at])
        return values

    return values_of


@contextmanager
def _copy(session: Session, table: Table, columns: list[str]):
    """PostgreSQL: a COPY of `columns` into `table` on the session's connection."""
    quote = session.get_bind().dialect.identifier_preparer.quote
    connection: Any = session.connection().connection.driver_connection
    statement = f"COPY {quote(table.name)} ({', '.join(quote(c) for c in columns)}) FROM STDIN"
    with connection.cursor() as cursor, cursor.copy(statement) as copy:
        yield copy


def prepare_rows(dialect: Dialect, table: Table, rows: list[dict]) -> PreparedRows:
    """`rows` (dicts with the same keys, at least one) as `insert_prepared` writes them in `dialect`."""
    columns = list(rows[0])
    if dialect.name != "sqlite":
        values_of = _copy_values(table, columns)
        return PreparedRows(table, columns, [values_of(row) for row in rows], None)
    by_column = []
    for c in columns:
        values = [row[c] for row in rows]
        process = table.c[c].type.dialect_impl(dialect).bind_processor(dialect)
        by_column.append(values if process is None else _converted(process, values))
    name = _KEYED_NAMES.get(table.name)
    if name in columns:
        columns.append(f"{name}_key")
        by_column.append([None if row[name] is None else fold(row[name]) for row in rows])
    indexed_here = "id" in columns and table.name in _SEARCHED_TABLES
    ids = json.dumps([row["id"] for row in rows]) if indexed_here else None
    return PreparedRows(table, columns, list(zip(*by_column, strict=True)), ids)


def insert_prepared(session: Session, prepared: PreparedRows) -> None:
    """Insert rows made ready by `prepare_rows` for this session's database."""
    if _dialect(session) == "sqlite":
        quote = session.get_bind().dialect.identifier_preparer.quote
        _sqlite_executemany(session.connection().connection.driver_connection, quote, prepared)
        return
    with _copy(session, prepared.table, prepared.columns) as copy:
        for values in prepared.values:
            copy.write_row(values)


def _sqlite_executemany(connection: Any, quote, prepared: PreparedRows) -> None:
    """One executemany on the driver's cursor, values converted by the columns' own SQLAlchemy types.

    The rows SQLAlchemy's executemany would insert, without its per-row
    bookkeeping, which costs more than SQLite's insert itself.
    """
    table, columns = prepared.table, prepared.columns
    statement = (
        f"INSERT INTO {quote(table.name)} ({', '.join(quote(c) for c in columns)}) "
        f"VALUES ({', '.join('?' * len(columns))})"
    )
    cursor = connection.cursor()
    indexed_here = prepared.ids is not None
    try:
        if indexed_here:  # the quick-search index gets the batch in one statement (migration 0035)
            cursor.execute("INSERT INTO search_deferred (name) VALUES (?)", (table.name,))
        cursor.executemany(statement, prepared.values)
        if indexed_here:
            cursor.execute(
                f"INSERT INTO {table.name}_search (rowid, words) SELECT id, words FROM {table.name}_search_words "
                "WHERE id IN (SELECT value FROM json_each(?))",
                (prepared.ids,),
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
