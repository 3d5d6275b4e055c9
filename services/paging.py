"""Keyset pagination and capped counts: page 500,000 costs what page 1 costs.

A list is read in a fixed order of sort keys ending in a unique one (the id).
A page is the next `per_page` rows after (or before) the keys of a row the
user has seen, which the database finds in an index, instead of an OFFSET
that builds and throws away every row in front of the page. The keys of a
page's first and last row travel in the URL as an opaque token, so every page
has a bookmarkable address.

Two shapes of order:

- `ListOrder`: one sort column plus the id, both in the same direction, for
  the registers' lists. The bound on the sort column is written so the
  database walks the (column, id) index from the cursor on; rows whose sort
  column is empty form a segment of their own (after the others on
  PostgreSQL, before them on SQLite, as each database sorts NULL by
  default; or first, on both and in either direction, with `empty_first`:
  the drafts of the invoice list, which have no number yet), read from the
  same index with `column IS NULL ORDER BY id`.
  "Go to" (`seek`) starts a page at the first row whose sort column reaches a
  value: a letter, a number, a date.
- `MixedOrder`: any keys, any directions (open activities first, then by due
  date, newest first …), for lists bounded by one customer, such as the
  tabs of the customer card.

`capped_count` counts at most `COUNT_CAP + 1` rows: the exact number when it
is cheap, otherwise "more than 10,000"; `quick_count` does not count at all on
PostgreSQL when the planner's estimate is far above the cap.

Plain SQLAlchemy: no Flask, no request; callers pass the session and a
`select()` of the entity (a legacy Query's `.statement` will do).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, cast

from sqlalchemy import BigInteger, Select, and_, bindparam, false, func, literal, or_, select, text, true, tuple_
from sqlalchemy.orm import InstrumentedAttribute, Session
from sqlalchemy.sql import operators
from sqlalchemy.sql.elements import BinaryExpression, BooleanClauseList, ColumnElement
from sqlalchemy.sql.visitors import replacement_traverse

#: A count stops here: above it a list says "more than 10,000".
COUNT_CAP = 10_000


class InvalidCursor(ValueError):
    """A page token or a "go to" value that does not fit the list's order."""


# --- counting -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Count:
    """A number of rows: exact; or, when counting stopped at the cap, at least `value`; or the
    database's own `estimate` of a whole table (PostgreSQL's statistics)."""

    value: int
    exact: bool = True
    estimate: bool = False


def capped_count(session: Session, stmt: Select, cap: int | None = None) -> Count:
    """How many rows `stmt` returns, reading no more than `cap` + 1 of them."""
    cap = COUNT_CAP if cap is None else cap
    limited = _counted(stmt).limit(cap + 1)
    n = session.scalar(select(func.count()).select_from(limited.subquery())) or 0
    return Count(cap, exact=False) if n > cap else Count(n)


def _counted(stmt: Select) -> Select:
    return stmt.order_by(None).with_only_columns(literal(1), maintain_column_froms=True)


#: PostgreSQL: a count is not read at all when the planner estimates the rows at this many times
#: the cap or more; the list then says "more than 10,000" at once. Counting to the cap reads 10,001
#: rows scattered over the table (a Kundansvarig's 28,000 of 1,000,000 companies lie on as many
#: heap pages: that list took 66 ms where list page 1 took 43, on a quiet machine); planning the
#: statement for EXPLAIN costs about a millisecond. The margin keeps the estimate's error out of
#: sight: an equality on a column is estimated from its most common values within a few per cent,
#: and a search term's matches (1,000 histogram entries on the search text, migration 0024) to
#: about 1,000 rows at 1,000,000.
ESTIMATE_MARGIN = 2.5


def estimated_rows(session: Session, stmt: Select) -> float | None:
    """PostgreSQL's own estimate of the rows `stmt` returns (EXPLAIN: planned, not run); None on
    a database that gives none (SQLite)."""
    if session.get_bind().dialect.name != "postgresql":
        return None
    compiled = stmt.compile(dialect=session.get_bind().dialect)
    plan = session.connection().exec_driver_sql("EXPLAIN (FORMAT JSON) " + str(compiled), compiled.params).scalar()
    return float(plan[0]["Plan"]["Plan Rows"]) if plan else 0.0


def quick_count(session: Session, stmt: Select, cap: int | None = None) -> Count:
    """`capped_count` for a screen: on PostgreSQL, when the planner estimates `stmt` at
    ESTIMATE_MARGIN times the cap or more, "more than `cap`" without reading a row (one EXPLAIN
    instead of reading 10,001 rows); else the rows counted up to the cap. A list whose first page
    holds every row says how many from the page itself (`ListState`)."""
    cap = COUNT_CAP if cap is None else cap
    estimate = estimated_rows(session, _counted(stmt))
    if estimate is not None and estimate >= ESTIMATE_MARGIN * cap:
        return Count(cap, exact=False)
    return capped_count(session, stmt, cap)


def beside_trash(session: Session, every: Select, trash: Select, cap: int | None = None) -> Count | None:
    """How many of the rows `every` selects the ids of are live, counted to `cap` with `trash` (the ids
    of every row of the table in the trash) as the margin: "more than `cap`" when `every` has more than
    `cap` rows beyond all of the trash's, for at least `cap` + 1 of them are live; else `every`'s rows
    less those of them in the trash. None when the trash has more than `cap` rows (count the live rows).

    `every` is read without looking at a row for its deleted_at: SQLite counts it from an index alone
    (or a search term's FTS5 index), where counting the live rows read a row per entry. One statement;
    a second, when the trash holds some, reads the trash's rows among at most `cap` + the trash's.
    At 1,000,000 companies and 2,550,785 contacts (1,002 in the trash), SQLite in process under load
    8: the start page's suppliers 49 → 2 ms, a Kundansvarig's customers 33 → 2 ms, private customers
    101 → 1 ms (a scan of the contacts), the list's count of "aktiebolag" (166,857 matches) 710 → 15 ms."""
    cap = COUNT_CAP if cap is None else cap
    trashed = select(func.count()).select_from(_counted(trash).limit(cap + 1).subquery()).scalar_subquery()
    rows = select(func.count()).select_from(_counted(every).limit(trashed + cap + 1).subquery()).scalar_subquery()
    n_trashed, n_rows = session.execute(select(trashed, rows)).one()
    return live_beside_trash(session, n_rows, n_trashed, every, trash, cap)


def live_beside_trash(
    session: Session, n_rows: int, n_trashed: int, every: Select, trash: Select, cap: int
) -> Count | None:
    """`beside_trash` from `every`'s rows counted to the trash's rows + `cap` + 1 (`n_rows`) and the trash's
    rows counted to `cap` + 1 (`n_trashed`), counted by the caller; None when the trash has more than `cap`."""
    if n_trashed > cap:
        return None
    if n_rows > cap + n_trashed:
        return Count(cap, exact=False)
    if n_trashed:  # `id + 0`: SQLite reads the trash's index, not each of `every`'s rows by its id
        n_rows -= capped_count(session, trash.where((trash.selected_columns[0] + 0).in_(every)), cap).value
    return Count(n_rows) if n_rows <= cap else Count(cap, exact=False)


def table_count(session: Session, stmt: Select, table_name: str, cap: int | None = None) -> Count:
    """`capped_count` of a statement reading (nearly) a whole table; on PostgreSQL, a table its
    statistics put above the cap is not counted: the figure is their estimate of its rows, read
    first (no row is read), and "about" says so."""
    cap = COUNT_CAP if cap is None else cap
    rows = None
    if session.get_bind().dialect.name == "postgresql":
        rows = session.scalar(
            text("SELECT reltuples FROM pg_class WHERE oid = to_regclass(:name)"), {"name": table_name}
        )
        if rows is not None and rows >= ESTIMATE_MARGIN * cap:
            return Count(int(rows), exact=False, estimate=True)
    count = capped_count(session, stmt, cap)
    if count.exact or not rows or rows <= cap:
        return count
    return Count(int(rows), exact=False, estimate=True)


# --- tokens and typed values -------------------------------------------------------------------


def _dump(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, Decimal):
        return {"n": str(value)}
    if isinstance(value, datetime):
        return {"t": value.isoformat()}
    if isinstance(value, date):
        return {"d": value.isoformat()}
    raise TypeError(f"cannot put {type(value).__name__} in a page token")


def _load(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, dict) and len(value) == 1:
        ((tag, text),) = value.items()
        if isinstance(text, str):
            try:
                if tag == "n":
                    return Decimal(text)
                if tag == "t":
                    return datetime.fromisoformat(text)
                if tag == "d":
                    return date.fromisoformat(text)
            except (ValueError, InvalidOperation):
                pass
    raise InvalidCursor("bad value in token")


def encode_cursor(values: Sequence[Any], scope: str | None = None) -> str:
    """An opaque, URL-safe token for the position of a row (its key values); with a `scope` (the
    API's sort, `-name`), the token names it, and only a list in that scope takes it back."""
    keys = [_dump(v) for v in values]
    raw = json.dumps(
        keys if scope is None else {"sort": scope, "keys": keys}, separators=(",", ":"), ensure_ascii=False
    )
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(token: str, scope: str | None = None) -> list[Any]:
    """The key values in a token; InvalidCursor when it is not one of ours, or of another scope:
    a cursor of `sort=name` used with `sort=postal_city` would seek a city after a name."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        values = json.loads(raw.decode())
    except (binascii.Error, ValueError, TypeError, UnicodeDecodeError, RecursionError):
        raise InvalidCursor("bad token") from None
    if scope is not None:
        if not isinstance(values, dict) or values.keys() != {"sort", "keys"} or values["sort"] != scope:
            raise InvalidCursor("token of another sort")
        values = values["keys"]
    if not isinstance(values, list):
        raise InvalidCursor("bad token")
    return [_load(v) for v in values]


def python_type(expr) -> type | None:
    """The Python type of an SQL expression's values, when SQLAlchemy knows it."""
    try:
        return expr.type.python_type
    except (NotImplementedError, AttributeError):
        return None


def _fits(value: Any, expr) -> bool:
    """Whether `value` may be compared with `expr` (a value of the wrong type is an SQL error)."""
    if value is None:
        return True
    expected = python_type(expr)
    if expected is None:
        return True
    if expected is bool:
        return isinstance(value, bool)
    if isinstance(value, bool):
        return False
    if expected is int:
        # A bound value is cast to the column's type: PostgreSQL refuses one out of its range.
        limit = 2**63 if isinstance(getattr(expr, "type", None), BigInteger) else 2**31
        return isinstance(value, int) and -limit <= value < limit
    if expected is str:
        return isinstance(value, str) and "\x00" not in value  # PostgreSQL cannot take a NUL
    if expected is Decimal:
        return isinstance(value, (Decimal, int))
    if expected is datetime:
        return isinstance(value, datetime)
    if expected is date:
        return isinstance(value, date) and not isinstance(value, datetime)
    return isinstance(value, expected)


def seek_kind(expr) -> str:
    """What "go to" asks for on a sort column: "letter", "number", "date", or "" (cannot seek)."""
    expected = python_type(expr)
    if expected in (int, Decimal):
        return "number"
    if expected in (date, datetime):
        return "date"
    if expected is str:
        return "letter"
    return ""


def seek_value(expr, text: str | None) -> Any:
    """What a user typed into "go to", as a value of the sort column; InvalidCursor if it is none."""
    text = (text or "").strip()
    kind = seek_kind(expr)
    if not text or not kind:
        raise InvalidCursor("nothing to go to")
    expected = python_type(expr)
    compact = text.replace(" ", "").replace("\u00a0", "")
    try:
        if expected is int:
            return int(compact.replace("-", ""))
        if expected is Decimal:
            return Decimal(compact.replace(",", "."))
        if expected is datetime:
            return datetime.combine(date.fromisoformat(text), datetime.min.time())
        if expected is date:
            return date.fromisoformat(text)
    except (ValueError, InvalidOperation):
        raise InvalidCursor("not a value of the column") from None
    return text


# --- pages -----------------------------------------------------------------------------------


@dataclass
class Page:
    """One page of rows and the tokens that lead to its neighbours."""

    items: list
    #: token for ?before= (the page in front of this one); None on the first page
    previous: str | None = None
    #: token for ?after= (the page behind this one); None on the last page
    next: str | None = None
    #: the other values selected per row beside the entity, in the order of `items`
    extras: list = field(default_factory=list)
    #: every row of the list, counted by the statement that read the first page (`total=True`)
    total: int | None = None

    @property
    def whole(self) -> bool:
        """Whether this page holds every row there is (none in front of it, none behind)."""
        return self.previous is None and self.next is None

    @property
    def has_previous(self) -> bool:
        return self.previous is not None

    @property
    def has_next(self) -> bool:
        return self.next is not None


@dataclass(frozen=True)
class SortKey:
    """One key of an order: an SQL expression, its direction, whether it may be NULL."""

    expr: ColumnElement[Any] | InstrumentedAttribute[Any]
    descending: bool = False
    nullable: bool = False


@dataclass(frozen=True)
class Position:
    """Where a page starts: just after (or, `inclusive`, at) these key values.
    A "go to" position names only the first key (the others are None)."""

    values: tuple
    inclusive: bool = False


def _nulls_last(session: Session, descending: bool) -> bool:
    """Whether NULL comes after the values when the database sorts in this direction by
    default (PostgreSQL: NULL is larger than any value; SQLite: smaller)."""
    null_is_largest = session.get_bind().dialect.name != "sqlite"
    return null_is_largest != descending


def _bound(expr, value):
    """`value` as a parameter of `expr`'s type (SQLAlchemy refuses `done > True` otherwise)."""
    return bindparam(None, value, type_=expr.type)


def _beyond(expr, value, descending: bool) -> ColumnElement[bool]:
    return expr < value if descending else expr > value


def _reaching(expr, value, descending: bool) -> ColumnElement[bool]:
    return expr <= value if descending else expr >= value


def _ordered(expr, descending: bool):
    return expr.desc() if descending else expr.asc()


def conjuncts(where) -> list:
    """The conditions a WHERE clause ANDs together."""
    if where is None:
        return []
    if isinstance(where, BooleanClauseList) and where.operator is operators.and_:
        return [c for clause in where.clauses for c in conjuncts(clause)]
    return [where]


def _without_id_lists(stmt: Select, id_column) -> Select:
    """`stmt` less its conditions that the id is one of a list: they hold for every id `stmt` found. Reading a
    page's rows by their ids, SQLite took a search term's list (a subquery, which it reckons at 25 rows) for
    shorter than the page's 51 ids and read all its rows: 4,635 companies at 1,000,000 for a page of 51."""
    column = id_column.__clause_element__() if hasattr(id_column, "__clause_element__") else id_column
    lists = {
        id(c)
        for c in conjuncts(stmt.whereclause)
        if (isinstance(c, BinaryExpression) and c.operator is operators.in_op and c.left.compare(column))
        or getattr(c, "lists_ids", False)  # services.word_index.WordMatch
    }
    if not lists:
        return stmt
    return cast(Select, replacement_traverse(stmt, {}, lambda element, **kw: true() if id(element) in lists else None))


def _rows(session: Session, stmt: Select) -> list[tuple]:
    """Rows of (entity, extras…, keys…); unique() as eagerly joined collections require."""
    return [tuple(row) for row in session.execute(stmt).unique()]


class _Order:
    """What both orders share: pages forward, backward and from the end, their tokens."""

    keys: tuple[SortKey, ...] = ()
    #: whether a page from the start is read by one statement (`page(total=True)` counts in it)
    one_statement: bool = True
    #: the unique last key's column (the id), by which a page's rows are read after their keys
    #: (`page(total=True)`, `page(narrow=True)`); None: neither is done
    id_column: Any = None
    #: whether every page is read narrow (see `page`)
    always_narrow: bool = False
    #: what the tokens are tied to (the API's sort, `-name`): a token of another scope is invalid
    scope: str | None = None

    def fetch(self, session: Session, stmt: Select, position: Position | None, backward: bool, limit: int):
        raise NotImplementedError

    def fetch_offset(self, session: Session, stmt: Select, offset: int, limit: int):
        order = [_ordered(k.expr, k.descending) for k in self.keys]
        return _rows(session, stmt.order_by(*order).offset(offset).limit(limit))

    def seek_position(self, session: Session, value: Any) -> Position:
        raise InvalidCursor("this order cannot go to a value")

    def position(self, token: str) -> Position:
        """The position a page token names, checked against this order's keys."""
        values = decode_cursor(token, self.scope)
        if len(values) != len(self.keys) or not all(_fits(v, k.expr) for v, k in zip(values, self.keys, strict=True)):
            raise InvalidCursor("token of another order")
        if values[-1] is None:  # the unique last key is never empty
            raise InvalidCursor("token of another order")
        return Position(tuple(values))

    def _key_values(self, row: tuple) -> tuple:
        return tuple(row[len(row) - len(self.keys) :])

    def _narrow(self, keyed: Select) -> Select:
        """`keyed` (rows, then their keys) selecting only the keys."""
        return keyed.with_only_columns(*keyed.selected_columns[-len(self.keys) :], maintain_column_froms=True)

    def _fetch_narrow(self, session: Session, keyed: Select, position: Position | None, backward: bool, limit: int):
        """`fetch`, the page's keys first from narrow rows, then the page's rows by their id, in the same order.
        Sorting whole rows, and what they load with them, to keep one page of them costs their width: the
        contacts tab of a customer with 4,000 contacts sorted 835 bytes a row against 40; a search term's
        4,635 matches at 1,000,000 companies on SQLite, each joined with its owner and industry, 7.0 CPU-ms
        against 3.4 for their keys and 0.7 for the page's rows."""
        found = self.fetch(session, self._narrow(keyed), position, backward, limit)
        return self._rows_by_id(session, keyed, [row[-1] for row in found])

    def _rows_by_id(self, session: Session, keyed: Select, ids: list) -> list[tuple]:
        """The rows of `keyed` with these ids, in their order."""
        if not ids:
            return []
        by_id = {
            row[-1]: row
            for row in _rows(session, _without_id_lists(keyed, self.id_column).where(self.id_column.in_(ids)))
        }
        return [by_id[i] for i in ids if i in by_id]

    def page(
        self,
        session: Session,
        stmt: Select,
        *,
        per_page: int,
        after: str | None = None,
        before: str | None = None,
        last: bool = False,
        seek: Any = None,
        offset: int = 0,
        clamp: bool = True,
        total: bool = False,
        narrow: bool = False,
    ) -> Page:
        """The page after the `after` token, before the `before` token, the last page, the page
        that starts where the first key reaches `seek` ("go to"), the page at row `offset` (for
        old page-number addresses; callers keep it small), or else the first page.

        A position beyond the last row gives the last page; one in front of the first row the
        first page — unless not `clamp` (the API: a client following cursors must not read rows
        again when the rows it was to read next were deleted), when it gives an empty page without
        cursors (the client has read every row there is in that direction). Walking back from the
        end, the page at the start may be short. Raises InvalidCursor for a token or value that does
        not fit the order.

        `total`: the first page also counts every row (`Page.total`), with `count(*) OVER ()` in
        the statement that finds the page's keys, for a list whose rows are all found before they
        are sorted (a rare search term, `ListOrder.of_few_rows`, a report): one pass over the
        matches instead of two. Other pages, and orders read in segments, leave it None.

        `narrow`: the rows are all found before they are sorted (a search term's matching ids, a report):
        the page's keys are found from narrow rows, then the page's rows by their id (`_fetch_narrow`)."""
        stmt = stmt.order_by(None)
        n_extras = len(stmt.selected_columns) - 1
        keyed = stmt.add_columns(*(k.expr for k in self.keys))
        first_page = after is None and before is None and not last and seek is None and not offset
        if total and first_page and self.one_statement and self.id_column is not None:
            return self._counted_first_page(session, keyed, n_extras, per_page)
        fetch = self._fetch_narrow if (narrow or self.always_narrow) and self.id_column is not None else self.fetch
        if before is not None or last:
            position = self.position(before) if before is not None else None
            rows = fetch(session, keyed, position, True, per_page + 1)
            if position is not None and not rows:
                if not clamp:
                    return Page(items=[])
                # nothing further back: the first page
                return self.page(session, stmt, per_page=per_page, narrow=narrow)
            # A short page at the start is kept short: the rows behind it are on the page the
            # user came from, and every row is shown once.
            more_before = len(rows) > per_page
            rows = list(reversed(rows[:per_page]))
            return self._page(rows, n_extras, has_previous=more_before, has_next=position is not None)
        if after is not None:
            position = self.position(after)
        elif seek is not None:
            position = self.seek_position(session, seek)
        else:
            position = None
        if offset:
            rows = self.fetch_offset(session, keyed, offset, per_page + 1)
        else:
            rows = fetch(session, keyed, position, False, per_page + 1)
        if not rows and (position is not None or offset):
            if not clamp and after is not None:
                return Page(items=[])
            return self.page(session, stmt, per_page=per_page, last=True, narrow=narrow)  # past the end: the last page
        has_next = len(rows) > per_page
        rows = rows[:per_page]
        has_previous = False
        if rows and (position is not None or offset):
            first = Position(self._key_values(rows[0]))
            has_previous = bool(self.fetch(session, self._narrow(keyed), first, True, 1))
        return self._page(rows, n_extras, has_previous=has_previous, has_next=has_next)

    def _counted_first_page(self, session: Session, keyed: Select, n_extras: int, per_page: int) -> Page:
        """The first page and the count of every row, in two statements: the keys of the page's
        rows and `count(*) OVER ()` over the keys of every row (narrow rows: a window over whole
        rows would be written to disk past work_mem), then the page's rows by their ids.
        At 1,000,000 companies, "svensson" (4,627 matches), by EXPLAIN ANALYZE under load 5: 28 ms,
        where the page took 40 ms and then a count found the matches again (48 ms)."""
        narrow = self._narrow(keyed)
        counted = narrow.with_only_columns(func.count().over(), *narrow.selected_columns, maintain_column_froms=True)
        found = self.fetch(session, counted, None, False, per_page + 1)
        rows = self._rows_by_id(session, keyed, [row[-1] for row in found[:per_page]])
        page = self._page(rows, n_extras, has_previous=False, has_next=len(found) > per_page)
        page.total = found[0][0] if found else 0
        return page

    def _page(self, rows: list[tuple], n_extras: int, *, has_previous: bool, has_next: bool) -> Page:
        return Page(
            items=[r[0] for r in rows],
            previous=encode_cursor(self._key_values(rows[0]), self.scope) if rows and has_previous else None,
            next=encode_cursor(self._key_values(rows[-1]), self.scope) if rows and has_next else None,
            extras=[tuple(r[1 : 1 + n_extras]) for r in rows] if n_extras else [],
        )


class ListOrder(_Order):
    """A register's list: its sort columns and the id, all in one direction.

    The rows fall into segments: rows with a value in the first sort column and, when it may
    be empty, rows without one, which the database sorts after (PostgreSQL) or before (SQLite)
    the others in ascending order (or which come first, `empty_first`). Each segment is read
    from the index on (columns…, id) from a row-value bound the index can use,
    `(name, id) > ('Ab', 7)`; a page that reaches the end of one segment goes on into the
    next. The other sort columns are never empty.
    """

    def __init__(
        self,
        columns,
        id_column,
        *,
        descending: bool = False,
        nullable: bool = False,
        empty_first: bool = False,
        scope: str | None = None,
    ):
        self.scope = scope
        columns = [c for c in (columns if isinstance(columns, (list, tuple)) else [columns]) if c is not id_column]
        self.columns, self.id_column = columns, id_column
        self.descending, self.nullable = descending, nullable and bool(columns)
        #: the rows without a value in the first sort column come first, on either database and in either
        #: direction (else where the database sorts NULL: `_nulls_last`)
        self.empty_first = empty_first
        self.one_statement = not self.nullable  # else each segment is read by a statement of its own
        self.keys = tuple(SortKey(c, descending, self.nullable and i == 0) for i, c in enumerate(columns)) + (
            SortKey(id_column, descending),
        )

    def of_few_rows(self) -> ListOrder:
        """The same order for a list whose rows are few (a rare search term): the rows are found
        first and sorted, instead of walked to along the sort index (`unindexed`)."""
        few = ListOrder(
            self.columns,
            self.id_column,
            descending=self.descending,
            nullable=self.nullable,
            empty_first=self.empty_first,
            scope=self.scope,
        )
        few.keys = tuple(unindexed(key) for key in self.keys)
        return few

    def position(self, token: str) -> Position:
        position = super().position(token)
        if any(v is None for v in position.values[1:]) or (position.values[0] is None and not self.nullable):
            raise InvalidCursor("token of another order")
        return position

    def _segments(self, session: Session, backward: bool) -> list[str]:
        if not self.nullable:
            return ["values"]
        nulls_last = not self.empty_first and _nulls_last(session, self.descending)
        forward = ["values", "nulls"] if nulls_last else ["nulls", "values"]
        return list(reversed(forward)) if backward else forward

    def _segment(self, stmt: Select, name: str, position: Position | None, desc: bool) -> Select:
        exprs = [k.expr for k in self.keys]
        values = list(position.values) if position is not None else None
        if name == "nulls":
            stmt = stmt.where(exprs[0].is_(None))
            exprs = exprs[1:]
            values = values[1:] if values is not None else None
        elif self.nullable:
            stmt = stmt.where(exprs[0].is_not(None))
        if values is not None:
            first = values[0]
            if position is not None and position.inclusive:
                stmt = stmt.where(_reaching(exprs[0], first, desc))
            elif values[-1] is None:  # "go to" past a value
                stmt = stmt.where(_beyond(exprs[0], first, desc))
            elif len(exprs) == 1:
                stmt = stmt.where(_beyond(exprs[0], first, desc))
            else:
                # The bound on the first column lets every database start the index scan at the
                # cursor; the row value drops the rows in front of it that share that value.
                row = tuple_(*(_bound(e, v) for e, v in zip(exprs, values, strict=True)))
                stmt = stmt.where(_reaching(exprs[0], first, desc), _beyond(tuple_(*exprs), row, desc))
        return stmt.order_by(*(_ordered(e, desc) for e in exprs))

    def fetch(self, session, stmt, position, backward, limit):
        desc = self.descending != backward
        segments = self._segments(session, backward)
        start = 0
        if position is not None and self.nullable:
            start = segments.index("nulls" if position.values[0] is None else "values")
        rows: list[tuple] = []
        for index in range(start, len(segments)):
            part = self._segment(stmt, segments[index], position if index == start else None, desc)
            rows += _rows(session, part.limit(limit - len(rows)))
            if len(rows) >= limit:
                break
        return rows

    def fetch_offset(self, session, stmt, offset, limit):
        rows: list[tuple] = []
        for name in self._segments(session, False):
            part = self._segment(stmt, name, None, self.descending)
            if offset:
                in_segment = capped_count(session, part, offset)
                if in_segment.exact and in_segment.value <= offset:
                    offset -= in_segment.value
                    continue
            rows += _rows(session, part.offset(offset).limit(limit - len(rows)))
            offset = 0
            if len(rows) >= limit:
                break
        return rows

    def seek_position(self, session, value):
        """The first row whose first sort column reaches `value`; for text in descending order,
        the first row at or below every text that starts with `value`."""
        first = self.keys[0].expr
        if value is None or not _fits(value, first):
            raise InvalidCursor("not a value of the column")
        blanks = (None,) * (len(self.keys) - 1)
        if isinstance(value, str) and self.descending:
            return Position((value[:-1] + chr(ord(value[-1]) + 1), *blanks))
        return Position((value, *blanks), inclusive=True)


class MixedOrder(_Order):
    """Any keys in any directions (the Rapportgenerator's chosen column, and `CustomerOrder`).

    "After this row" is spelt out key by key (a > x, or a = x and b > y, …), which is right for
    every mix of directions and NULLs.
    """

    def __init__(self, *keys: SortKey):
        self.keys = tuple(keys)
        last = self.keys[-1].expr if self.keys else None
        self.id_column = last if isinstance(last, InstrumentedAttribute) else None

    def clauses(self) -> list:
        """The ORDER BY of this order (for the same statement read without pages)."""
        return [_ordered(k.expr, k.descending) for k in self.keys]

    def fetch(self, session, stmt, position, backward, limit):
        if position is not None:
            stmt = stmt.where(self._after(session, position.values, backward))
        order = [_ordered(k.expr, k.descending != backward) for k in self.keys]
        return _rows(session, stmt.order_by(*order).limit(limit))

    def _after(self, session: Session, values: Sequence[Any], backward: bool) -> ColumnElement[bool]:
        alternatives: list = []
        equal_so_far: list = []
        for key, value in zip(self.keys, values, strict=True):
            desc = key.descending != backward
            nulls_last = _nulls_last(session, desc)
            beyond: ColumnElement[bool]
            if value is None:
                beyond = false() if nulls_last else key.expr.is_not(None)
                equal = key.expr.is_(None)
            else:
                beyond = _beyond(key.expr, _bound(key.expr, value), desc)
                if key.nullable and nulls_last:
                    beyond = or_(beyond, key.expr.is_(None))
                equal = key.expr == _bound(key.expr, value)
            alternatives.append(and_(*equal_so_far, beyond))
            equal_so_far.append(equal)
        return or_(*alternatives)


def unindexed(key: SortKey) -> SortKey:
    """The same key, sorted as coalesce(key, key): the same values, in a form no index serves, so
    the database finds the rows first and sorts only those (see `CustomerOrder`)."""
    return replace(key, expr=func.coalesce(key.expr, key.expr))


class CustomerOrder(MixedOrder):
    """A MixedOrder for the rows of one customer (the card's tabs, an opportunity's activities):
    the database finds the customer's rows first and sorts only those.

    Each key is sorted as coalesce(key, key), the same value in a form no index serves. Left to
    itself, PostgreSQL walked the whole register's index in the sort order and probed each row for
    the customer: at 300,000 companies the contacts tab of a customer with 1,500 contacts read
    27,000 contacts to find 26 (1,429 ms, against 34 ms for its own rows sorted; one run under
    load 10)."""

    always_narrow = True  # whole rows sorted: what the contacts tab of a large customer spent its time on

    def __init__(self, *keys: SortKey):
        super().__init__(*(unindexed(key) for key in keys))
        last = keys[-1].expr if keys else None
        #: the last key as it is (unique among one customer's rows), for reading a page's rows by it
        self.id_column = last if isinstance(last, InstrumentedAttribute) else None
