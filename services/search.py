"""Quick search, implemented once for every list, look-up, people search and report condition.

What a user gets, on SQLite and PostgreSQL alike:

- every word of the query must be found (`svea stockholm`); a quoted phrase is one word
  (`"kaffe ab"`); a run of numbers typed with spaces is one number (`070-123 45 67`);
- a word of three or more characters is found anywhere inside the record's search text: its
  name, numbers, e-mail, phone, city … (`SEARCHED`), without regard to case and to accents
  other than the Swedish letters: `göteborg` finds Göteborg, `cafe` finds Café, but `a` and
  `o` never find å, ä or ö (`fold`);
- numbers are found as they are stored: organisationsnummer as ten digits, phones in E.164
  (`08-123 456 78` finds +46812345678), customer, order and invoice numbers;
- a word of one or two characters finds records with a word of the name (`Searched.prefix`)
  beginning with it: `sv` finds Svea Kaffe AB, and so does `kaffe ab`;
- rows in the trash are never shown (`live`).

Both databases answer from an index, never by scanning a table:

- PostgreSQL: a pg_trgm GIN index on one expression per table, `crm_fold(<the columns joined
  by newlines>)`, searched with `LIKE '%word%'`; and one on `crm_fold(<name column>)` for a
  one- or two-character word (`LIKE 'ab%' OR LIKE '% ab%'`: pg_trgm indexes the beginning of
  every word). The expression below must
  stay exactly the one the migration indexed (tests/test_search_index.py checks the plan).
- SQLite: an FTS5 table `<table>_search` with the trigram tokenizer (case-folding, diacritics
  kept), without content of its own, kept by triggers on the table: whatever writes the table
  (the ORM, services.bulk's executemany, an import's UPDATE, a restore, a purge) keeps the
  index. The indexed text is the same joined columns, then the name columns again with each
  word led by two \\x01 characters (so a one- or two-character prefix is a trigram too), accents
  folded by `replace()`.

Both are created by migration 0011 from the same table (`SEARCHED`, frozen there). Changing
the searched columns needs a migration that rebuilds the index.

A live list of companies sorted by name (and the Rapportgenerator's text condition) reads a search of letters
from a third index, the words index (services.word_index): the matches' names and ids in name order, so a
page costs what it shows, not what the term matches (SQLite: once the entries of the last changes are written).

No planner walks the whole name index looking for a rare term: on SQLite, `search()` and the
lists take the matching ids from the index first and sort and page only those, and a term too
common for that (more than `CANDIDATE_LIMIT` rows) is paged along the name index instead, where
its matches are dense; PostgreSQL makes the same choice itself from the statistics it keeps on
the indexed expression.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import (
    Boolean,
    Select,
    String,
    and_,
    case,
    column,
    false,
    func,
    literal,
    literal_column,
    not_,
    or_,
    select,
    table,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql import operators
from sqlalchemy.sql.elements import BinaryExpression, ColumnElement
from sqlalchemy.sql.visitors import ExternallyTraversible, replacement_traverse

from models import (
    Activity,
    Category,
    Company,
    Contact,
    Employee,
    EmployeeGroup,
    Industry,
    Invoice,
    Lead,
    Opportunity,
    Product,
    SalesOrder,
)
from services import name_keys, paging, personal_numbers


@dataclass(frozen=True)
class Searched:
    """How one table is searched: the text columns, the number columns found as stored, and the
    name columns a one- or two-character word is the beginning of."""

    fields: tuple[str, ...]
    numbers: tuple[str, ...] = ()
    prefix: tuple[str, ...] = ()


SEARCHED: dict[type, Searched] = {
    Company: Searched(
        ("name", "org_number", "email", "phone", "postal_city", "visit_city", "vat_number"),
        numbers=("customer_number",),
        prefix=("name",),
    ),
    Contact: Searched(
        ("first_name", "last_name", "email", "phone", "mobile", "postal_city", "title"),
        numbers=("customer_number",),
        prefix=("first_name", "last_name"),
    ),
    Employee: Searched(("name", "email", "phone", "title"), prefix=("name",)),
    EmployeeGroup: Searched(("name",), prefix=("name",)),
    Category: Searched(("name", "description"), prefix=("name",)),
    Industry: Searched(("name", "sni_code"), prefix=("name",)),
    Lead: Searched(
        ("company_name", "org_number", "contact_first_name", "contact_last_name", "contact_email", "contact_phone"),
        prefix=("company_name", "contact_last_name"),
    ),
    Opportunity: Searched(("title",), prefix=("title",)),
    Activity: Searched(("subject", "description"), prefix=("subject",)),
    Product: Searched(("name", "number"), prefix=("name", "number")),
    SalesOrder: Searched(("note",), numbers=("number",)),
    Invoice: Searched(("ocr", "note"), numbers=("number",)),
}

#: The text columns each searchable model is searched on (the lists' search placeholder names them).
SEARCH_FIELDS = {model: spec.fields for model, spec in SEARCHED.items()}

#: Relations whose rows are searched too (an opportunity is found by its customer).
SEARCH_RELATIONS = {
    Opportunity: ("company", "contact"),
    SalesOrder: ("company", "contact"),
    Invoice: ("company", "contact"),
}

#: Accented letters folded to their base letter (services.name_keys, where an import's parsing processes
#: find them without the models).
FOLD_FROM, FOLD_TO = name_keys.FOLD_FROM, name_keys.FOLD_TO

#: Where a one- or two-character word is looked for on SQLite: the start of a word of a name column.
PREFIX_MARK = "\x01\x01"
#: The longest word looked up as a prefix; longer words are found anywhere.
PREFIX_LENGTH = 2
#: Ids found first and then sorted, at most; a term with more matches is paged along the sort index.
CANDIDATE_LIMIT = 5000
#: PostgreSQL: the matches found first and then sorted, at most by its estimate (`few_matches`).
#: Measured at 1,000,000 companies on a quiet machine: finding and sorting 44,043 matches of
#: "kalmar" takes 206 ms, so 20,000 take about 100 ms at worst; walking the name index instead
#: costs what lies in front of the matches ("svensson", 4,627 matches all under S: 2,176 ms).
FEW_ROWS = 20_000


#: `text` as the index holds it: lower case, accents folded (not å, ä, ö).
fold = name_keys.search_fold


# --- the query text -----------------------------------------------------------------------


_NUMBERISH = re.compile(r"[\d\-+()/.]*\d[\d\-+()/.]*")
#: What a word of a name never holds: the index marks a word's beginning only after a space.
_WORD_BREAK = re.compile(r"\s")


#: The longest search text kept: the API's `q` and a saved search's text and each of its options
#: (a saved search of 100,000 characters made a 64 KB redirect and a 114 KB page of saved searches).
MAX_SEARCH_LENGTH = 500

#: Words of a search that are used; the rest are ignored. Each word adds a condition per search field,
#: and about 2,000 words made SQLite refuse the query ("Expression tree is too large": a 500).
MAX_WORDS = 10
#: Characters of a word that are used (no name, number or address is longer).
MAX_WORD_LENGTH = 100


def words(text: str | None) -> list[str]:
    """Split a search text into words; a quoted phrase stays one word, and numbers typed in groups
    (`070-123 45 67`, `556036 0793`) are one number. Only the first MAX_WORDS words are kept, each
    cut to MAX_WORD_LENGTH characters."""
    if not text:
        return []
    result: list[str] = []
    numeric_run = False
    for quoted, plain in re.findall(r'"([^"]+)"|(\S+)', text.replace("\x00", " ").strip()):  # PostgreSQL refuses NUL
        word = quoted or plain
        numeric = bool(plain) and _NUMBERISH.fullmatch(plain) is not None
        if numeric and numeric_run:
            result[-1] += " " + word
        else:
            result.append(word)
        numeric_run = numeric
    return [w[:MAX_WORD_LENGTH] for w in (w.strip() for w in result) if w][:MAX_WORDS]


def _alternatives(word: str) -> list[str]:
    """What `word` may be found as (folded): itself, and a number as it is stored — digits only,
    and a Swedish phone number without its leading 0 (E.164 holds +46 and the rest)."""
    found = [fold(word)]
    digits = re.sub(r"[\s\-+()/.]", "", word)
    if digits.isdigit():
        found.append(digits)
        if digits.startswith("0"):
            found.append(digits[1:])
    unique = []
    for candidate in found:
        if len(candidate) > PREFIX_LENGTH and candidate not in unique:
            unique.append(candidate)
    return unique


# --- the conditions -------------------------------------------------------------------------


def _dialect(session: Session) -> str:
    return session.get_bind().dialect.name


def _search_table(model):
    return table(f"{model.__tablename__}_search", column("rowid"), column("words"))


def _fts_phrase(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


def _fts_query(terms: list[str]) -> str:
    """The FTS5 query for `terms` (each required): phrases of folded text, prefix words as a
    phrase starting at a name column's mark."""
    parts = []
    for word in terms:
        if len(word) <= PREFIX_LENGTH:
            parts.append(_fts_phrase(PREFIX_MARK[: 3 - len(word)] + fold(word)))
        else:
            parts.append("(" + " OR ".join(_fts_phrase(a) for a in _alternatives(word)) + ")")
    return " AND ".join(parts)


def _fts_ids(model, terms: list[str]):
    search_table = _search_table(model)
    return select(search_table.c.rowid).where(search_table.c.words.op("MATCH")(_fts_query(terms)))


def search_text(model) -> ColumnElement[str]:
    """PostgreSQL: the row's folded search text, stored in its column `search_text` (migration 0024:
    the expression of migration 0011, GENERATED … STORED, with the trigram index on it). The column
    is not in the model: the database writes it, and the ORM never reads it."""
    return literal_column(f'"{model.__tablename__}".search_text', type_=String)


def _like_escaped(text: str) -> str:
    """`text` literally in a LIKE pattern with PostgreSQL's default escape character (an explicit
    ESCAPE clause would hide the pattern from the index)."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _pg_word(model, word: str) -> ColumnElement[bool]:
    if len(word) <= PREFIX_LENGTH:  # a word of a name column begins with it
        start = _like_escaped(fold(word)) + "%"
        names = [func.crm_fold(getattr(model, name), type_=String) for name in SEARCHED[model].prefix]
        return or_(*(c.like(start) for c in names), *(c.like("% " + start) for c in names))
    expression = search_text(model)
    return or_(*(expression.like(f"%{_like_escaped(a)}%") for a in _alternatives(word)))


@functools.cache
def _sqlite_folded(model, name: str | None = None) -> ColumnElement[str]:
    """SQLite: what the index holds for a row (or one column of it), computed from the row itself:
    lower() is the app's Unicode lower (app.py), then the accents folded as the triggers fold them.
    Built once per table and column (an expression is immutable): building it took 2–6 ms of a
    dense term's list page ("aktiebolag" at 1,000,000 companies, cProfile)."""
    spec = SEARCHED[model]
    text: ColumnElement[Any]
    if name is not None:
        text = func.coalesce(getattr(model, name), "")
    else:
        empty: ColumnElement[str] = literal_column("''")
        newline: ColumnElement[str] = literal_column("char(10)")
        parts = [func.coalesce(getattr(model, n), empty) for n in spec.fields]
        parts += [func.coalesce(getattr(model, n), empty) for n in spec.numbers]
        text = parts[0]
        for part in parts[1:]:
            text = text.op("||")(newline).op("||")(part)
    text = func.lower(text, type_=String)
    for accented, plain in zip(FOLD_FROM, FOLD_TO, strict=True):
        if accented.islower():
            text = func.replace(text, accented, plain, type_=String)
    return text


def _sqlite_row_check(model, terms: list[str]) -> ColumnElement[bool]:
    """SQLite: each row's own text checked for `terms`, as the index would answer. For terms matching a
    large share of the table, paged along the name index: a page costs the rows it walks (50 matches
    at 1 % density: 5,000 rows, about 15 ms), where the index would first collect every match."""
    conditions = []
    whole = _sqlite_folded(model)
    for word in terms:
        if len(word) <= PREFIX_LENGTH:
            folded = fold(word)
            names = [_sqlite_folded(model, n) for n in SEARCHED[model].prefix]
            conditions.append(
                or_(
                    *(func.substr(c, 1, len(folded)) == folded for c in names),
                    *(func.instr(c, " " + folded) > 0 for c in names),
                )
            )
        else:
            conditions.append(or_(*(func.instr(whole, a) > 0 for a in _alternatives(word))))
    return and_(*conditions)


@dataclass(frozen=True)
class _Counted:
    """A search term's matches in its index (trash included), read to `cap` + the trash's rows + 1, and the rows
    in the trash, read to `cap` + 1: what `live_count` counts the term's list from (`paging.live_beside_trash`),
    read with the candidates (`_candidates`)."""

    rows: int
    trashed: int
    cap: int


class _IndexMatch(ColumnElement):
    """Rows of one table matching every one of `terms`, from that table's search index; compiled
    for the database it runs on (see the module docstring). `dense`: the terms match a large share
    of the table; on SQLite each row the query walks is then checked by itself (`_sqlite_row_check`)
    instead of collecting every match from the index first."""

    type = Boolean()
    inherit_cache = False

    def __init__(self, model, terms: list[str], *, dense: bool = False, counted: _Counted | None = None):
        self.model, self.terms, self.dense = model, terms, dense
        #: the matches as counted when the condition was chosen (`_candidates`), for `live_count`
        self.search_counted = counted

    def self_group(self, against=None):
        """Already a condition in parentheses. SQLAlchemy's default grouping of a Boolean expression
        among conditions wraps it as `(…) = 1` on SQLite, which keeps SQLite from reading the rows by
        the ids the index gives (a Rapportgenerator text condition at 1,000,000 companies scanned them
        all: 1,850 ms instead of a few)."""
        return self


# Each compiles in parentheses: the statement around it sees one condition, and an OR inside must
# not swallow the conditions next to it (`deleted_at IS NULL AND a OR b` would show the trash).


@compiles(_IndexMatch, "postgresql")
def _compile_postgresql(element: _IndexMatch, compiler, **kw) -> str:
    return "(" + compiler.process(and_(*(_pg_word(element.model, w) for w in element.terms)), **kw) + ")"


@compiles(_IndexMatch)
def _compile_sqlite(element: _IndexMatch, compiler, **kw) -> str:
    if element.dense:
        return "(" + compiler.process(_sqlite_row_check(element.model, element.terms), **kw) + ")"
    return "(" + compiler.process(element.model.id.in_(_fts_ids(element.model, element.terms)), **kw) + ")"


def _own(model, terms: list[str], *, dense: bool = False, counted: _Counted | None = None) -> ColumnElement[bool]:
    if not SEARCHED[model].prefix and any(len(w) <= PREFIX_LENGTH for w in terms):
        return false()  # nothing to begin with: orders and invoices have no name
    return _IndexMatch(model, terms, dense=dense, counted=counted)


def _word_condition(model, word: str) -> ColumnElement[bool]:
    conditions = [_own(model, [word])]
    for relation in SEARCH_RELATIONS.get(model, ()):
        attribute = getattr(model, relation)
        conditions.append(attribute.has(_word_condition(attribute.property.mapper.class_, word)))
    return or_(*conditions)


def matches(model, text: str | None) -> ColumnElement[bool]:
    """Condition for rows of `model` matching every word of `text`, answered from the search index."""
    terms = words(text)
    if not terms:
        return and_(True)
    if model not in SEARCHED:
        return false()
    if model in SEARCH_RELATIONS:
        return and_(*(_word_condition(model, w) for w in terms))
    return _own(model, terms)


def candidate_ids(session: Session, model, text: str | None, *, limit: int | None = None) -> list[int] | None:
    """Ids of the rows of `model` matching `text` (trash included), or None when there are more
    than `limit` (CANDIDATE_LIMIT; or the model is searched through its relations): from the index
    alone, unsorted, so a rare term costs what its few matches cost."""
    limit = CANDIDATE_LIMIT if limit is None else limit
    terms = words(text)
    if model not in SEARCHED or model in SEARCH_RELATIONS or not terms:
        return None
    if _dialect(session) == "postgresql":
        stmt = select(model.id).where(_own(model, terms))
    elif not SEARCHED[model].prefix and any(len(w) <= PREFIX_LENGTH for w in terms):
        return []
    else:
        stmt = _fts_ids(model, terms)
    ids = list(session.scalars(stmt.limit(limit + 1)))
    return None if len(ids) > limit else ids


def word_candidates(session: Session, model, words_: set[str], *, limit: int) -> dict[str, list[int] | None]:
    """For each of many words (an import's dry run looks up every name word of a batch), the ids of the rows of
    `model` (trash included) with a word of a name column (`Searched.prefix`) beginning with it, or None when
    more than `limit` have one: from the name part of the quick search index (where a one- or two-character
    word is searched), not from the whole search text, whose organisation numbers, phones and e-mail
    addresses made a word of digits ("Bygg 2000 AB", the "48213" of a generated name) a block of hundreds of
    unrelated records, or none at all (more than `limit`).

    SQLite: one prepared statement run per word on the driver's cursor (built by SQLAlchemy per word, the
    statements cost several times the index's own work: 20,000 rows' 40,636 words, 49 CPU-s in all, 17 of them
    building statements). PostgreSQL: every word in one statement (`_pg_name_words`)."""
    names = SEARCHED[model].prefix
    plain = {text: fold(text) for text in words_}
    found: dict[str, list[int] | None] = {
        text: [] for text, word in plain.items() if not names or not word or _WORD_BREAK.search(word)
    }  # not one plain word: no word of a name begins with it
    wanted = {text: word for text, word in plain.items() if text not in found}
    if not wanted:
        return found
    connection: Any = session.connection().connection.driver_connection
    cursor = connection.cursor()
    try:
        if _dialect(session) == "postgresql":
            ids_of = _pg_name_words(cursor, model.__tablename__, names, list(dict.fromkeys(wanted.values())), limit)
            for text, word in wanted.items():
                ids = ids_of.get(word, [])
                found[text] = None if len(ids) > limit else ids
            return found
        table = model.__tablename__
        sql = f"SELECT rowid FROM {table}_search WHERE {table}_search MATCH ? LIMIT ?"
        for text, word in wanted.items():
            cursor.execute(sql, (_fts_phrase(PREFIX_MARK[: max(1, 3 - len(word))] + word), limit + 1))
            ids = [row[0] for row in cursor.fetchall()]
            found[text] = None if len(ids) > limit else ids
    finally:
        cursor.close()
    return found


#: Pages of the FTS5 index one step of `merge_index` writes at most (one short transaction: 30,000 companies'
#: index took 13 steps of at most 45 ms).
MERGE_PAGES = 200


def merge_after_write(session: Session, model, written: int, between: Callable[[], None] | None = None) -> bool:
    """SQLite: after a write of `written` rows of `model`'s table (an import), `merge_index` when those rows are
    at least a quarter of the table; True when it did.

    Each batch of an import adds a segment of its own to the index, and FTS5's automerge leaves up to three at each
    level: 30,000 companies just imported left 8, and a name word's look-up (the dry run of the same file against
    the register, services.search.word_candidates) reads every segment: 51 µs of CPU a word, 27 µs merged (load
    average 5). The merge rewrites the whole index (0.15 CPU-s at 30,000 companies, 3 % of the import's CPU), so
    it is left to automerge after a write that is a small part of the table."""
    if _dialect(session) != "sqlite" or model not in SEARCHED:
        return False
    rows = session.execute(select(func.count()).select_from(model)).scalar_one()
    if written * 4 < rows:
        return False
    merge_index(session, model, between)
    return True


def merge_index(session: Session, model, between: Callable[[], None] | None = None) -> None:
    """SQLite: merge `model`'s quick-search index (FTS5) into one b-tree, in steps of MERGE_PAGES pages, each its
    own short transaction (committed), so nobody's save waits behind it as behind an FTS5 'optimize' of the whole
    index in one; `between` is called after each step (a heartbeat). A search reads every segment of every
    trigram of its words: the large generator at 1,000,000 companies left 12 segments in company_search and 16
    in contact_search; merged, the index's own time for an organisationsnummer fell from 4.7 to 3.2 CPU-ms,
    "svensson" (4,635 matches) from 10.2 to 8.8. PostgreSQL's GIN index has no segments (its pending list:
    `_pg_name_words`)."""
    if _dialect(session) != "sqlite":
        return
    fts = f"{model.__tablename__}_search"
    session.commit()
    merge = f"INSERT INTO {fts}({fts}, rank) VALUES ('merge', -{MERGE_PAGES})"
    # Other users' saves add small segments between the steps (write_turns gives them their turn there): the
    # steps are bounded by the index's size, or a busy office would keep the merge going as long as it saves.
    connection: Any = session.connection().connection.driver_connection
    (pages,) = connection.execute(f"SELECT count(*) FROM {fts}_data").fetchone()
    for _step in range(3 * pages // MERGE_PAGES + 3):
        connection = session.connection().connection.driver_connection
        before = connection.total_changes
        connection.execute(merge)
        worked = connection.total_changes - before >= 2  # FTS5's own sign that a step had something to merge
        session.commit()
        if not worked:
            return
        if between is not None:
            between()


#: The planner's settings `_pg_name_words` runs its statement with (SET LOCAL, set back afterwards): each word
#: through its bitmap of the name index, never a table read whole (see there); no JIT compilation.
PG_NAME_WORD_SETTINGS = (("enable_seqscan", "off"), ("enable_indexscan", "off"), ("jit", "off"))


def _pg_name_words(cursor, table: str, names: tuple[str, ...], words_: list[str], limit: int) -> dict[str, list[int]]:
    """PostgreSQL: {word: the ids of at most `limit` + 1 rows with a word of a name column beginning with it}, all
    `words_` in one statement: each word's rows through a bitmap of the name columns' pg_trgm indexes (the
    trigrams of a word's beginning, "  4" and " 48" of "48213", which only names hold), parameterized by the
    word, so the plan does not hang on the statistics of a table just filled. First (a statement of its own),
    the indexes' pending lists are merged into them (`gin_clean_pending_list`).

    Measured at 30,000 companies just imported (the import bench's dry run against the register), one statement
    per word as before: the statistics were still the empty table's (autovacuum lags, or is off), and the
    planner read the whole table for a rare word (41 ms) or the rows before a common word's 201st; and GIN's
    fast update had left the import's last entries unsorted in a pending list (up to 4 MB) that every scan of
    the index reads whole until a VACUUM: 345 pages of the search text's index, 11 ms a word, 0.1 ms merged
    (139 pages of the names' index, 1–2 ms a word). The merge needs the index's owner (the app's own user, who
    ran the migrations) and a primary; elsewhere it is left to autovacuum.

    The statement runs with PG_NAME_WORD_SETTINGS, set back afterwards. Each word's rows are a parameterized
    bitmap of the name index, but for a table of a few thousand rows the planner took a sequential scan per word
    for cheaper (3,000 companies: 12 ms a word), and a full scan of another index where sequential scans were
    off: only bitmaps are left to it. And no JIT compilation: the statement's estimate, a limit of rows for each
    of a thousand words, is far above `jit_above_cost`, and compiling took 200 ms of a batch's 300–500 for a
    statement that runs once (45 ms without)."""
    settings = [name for name, _value in PG_NAME_WORD_SETTINGS]
    cursor.execute(
        "SELECT (SELECT array_agg(current_setting(n)) FROM unnest(%s::text[]) n), "
        "(SELECT count(gin_clean_pending_list(c.oid)) FROM pg_class c "
        "WHERE c.oid IN (SELECT to_regclass(i) FROM unnest(%s::text[]) i) "
        "AND pg_has_role(c.relowner, 'USAGE') AND NOT pg_is_in_recovery())",
        (settings, [f"ix_{table}_{name}_prefix" for name in names]),
    )
    saved = cursor.fetchone()[0]
    set_all = "SELECT set_config(n, v, true) FROM unnest(%s::text[], %s::text[]) s(n, v)"
    cursor.execute(set_all, (settings, [value for _name, value in PG_NAME_WORD_SETTINGS]))
    starts = pg_array([_word_start_regex(w) for w in words_])
    cursor.execute(_pg_name_words_sql(table, names), (pg_array(words_), starts, limit + 1))
    found: dict[str, list[int]] = {}
    for word, ident in cursor.fetchall():
        found.setdefault(word, []).append(ident)
    cursor.execute(set_all, (settings, saved))
    return found


def _pg_array_element(value: int | str) -> str:
    if isinstance(value, int):
        return str(value)
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def pg_array(values: Iterable[int | str]) -> str:
    """PostgreSQL: `values` (ints or texts) as the text of an array (`{1,2}`, `{"a","b"}`), given as one parameter
    and cast: psycopg dumps a list element by element in Python, about 1 µs each (1,000 ids: 1.0 ms; joined here
    0.2 ms), and a dry run against a filled register hands it some 330,000 ids, words, e-mail addresses and phones
    (30,000 companies: about 7 % of the queue worker's CPU on PostgreSQL)."""
    return "{" + ",".join([_pg_array_element(v) for v in values]) + "}"


def _pg_name_words_sql(table: str, names: tuple[str, ...]) -> str:
    """`_pg_name_words`' statement; its parameters: the words, their regular expressions (`_word_start_regex`),
    the limit."""
    pattern = " OR ".join(f"crm_fold({name}) ~ w.start" for name in names)
    return (
        "SELECT w.word, r.id FROM unnest(%s::text[], %s::text[]) AS w(word, start) "
        f'CROSS JOIN LATERAL (SELECT id FROM "{table}" WHERE {pattern} LIMIT %s) r'
    )


def _word_start_regex(word: str) -> str:
    """PostgreSQL: a regular expression for a text with a word beginning with `word` — at its start or after a
    space, as `LIKE 'word%' OR LIKE '% word%'` (`_pg_word`) says — with each ASCII character other than a letter
    or digit escaped (a backslash before any other character is that character in PostgreSQL's regular
    expressions; before a letter or digit it would be an escape such as \\m). pg_trgm takes the same trigrams of
    the word from it as from either LIKE pattern ("  4", " 48", "482" … of "48213"), so the name index is read
    once a word, not twice (a batch of 250 number words against 30,000 companies: 27–54 ms as the two LIKEs, 11–25
    ms as one expression, the same rows)."""
    return "(^| )" + "".join("\\" + c if c.isascii() and not c.isalnum() else c for c in word)


def _candidates(session: Session, model, terms: list[str], *, counted: bool) -> tuple[str | None, _Counted | None]:
    """SQLite: (`candidate_ids` as the JSON array `bulk.one_of` would pass, built by SQLite itself, or None
    when there are more than CANDIDATE_LIMIT; the matches counted for `live_count`), in one statement that
    reads the index once.

    The JSON: "svensson" at 1,000,000 companies, 4,627 ids, in process under load 4: 9.3 ms as a list of ints
    dumped to JSON, 5.9 ms. The count: a dense term's list read its index twice, to CANDIDATE_LIMIT + 1 here
    and to the trash's rows + COUNT_CAP + 1 for its count ("aktiebolag" at 1,000,000 companies, 1,000 in the
    trash: 5,001 and 11,001 matches; 6.1 CPU-ms), and a rare term's count read the matches again beside the
    trash; now the index is read once, to the larger of the two (4.5 CPU-ms), and the count starts from it.
    (Read once into a MATERIALIZED common table expression for the trash among the matches too, it cost more
    than it saved: "kiruna", 11,001 matches, 2.7 → 4.4 CPU-ms; "svensson" 5.5 + 1.4 for the trash → 7.0.)

    Not `counted` (a picker, the API: nothing is counted), the index is read to CANDIDATE_LIMIT + 1 only."""
    cap = paging.COUNT_CAP
    trashed: ColumnElement[int] = literal(0)
    if counted and hasattr(model, "deleted_at"):
        trash = select(literal(1)).where(model.deleted_at.is_not(None)).limit(cap + 1).subquery()
        trashed = select(func.count()).select_from(trash).scalar_subquery()
    limit = func.max(trashed + cap, CANDIDATE_LIMIT) + 1 if counted else CANDIDATE_LIMIT + 1
    ids = _fts_ids(model, terms).limit(limit).subquery()
    n = func.count()
    found, rows, n_trashed = session.execute(
        select(case((n <= CANDIDATE_LIMIT, func.json_group_array(ids.c[0]))), n, trashed).select_from(ids)
    ).one()
    return found, (_Counted(rows, n_trashed, cap) if counted else None)


def few_matches(session: Session, model, text: str | None) -> bool:
    """True on PostgreSQL when `text` matches at most about FEW_ROWS rows of `model`: a list then
    sorts the matches after finding them (services.paging `unindexed`).

    PostgreSQL estimates a term's matches well from the statistics on the stored search text, but
    takes them for spread evenly over the name order: for "svensson" (1,392 of 300,000
    companies, estimated 1,502) it walked the name index through 241,695 rows to the S's for a
    picker's first 10 (2,260 ms; found first and sorted: 20 ms). SQLite, given the matching ids
    (`condition`), reads those and sorts by itself; its whole rows sorted are the cheaper form there
    ("svensson" at 1,000,000 companies, 4,627 ids, in process under load 4: 8 ms, against 15–18 ms
    for `count(*) OVER ()` over narrow rows and the page's rows by id)."""
    terms = words(text)
    if _dialect(session) != "postgresql" or not terms or model not in SEARCHED or model in SEARCH_RELATIONS:
        return False
    return (paging.estimated_rows(session, select(model.id).where(_own(model, terms))) or 0) <= FEW_ROWS


def condition(
    session: Session, model, text: str | None, *, counted: bool = False, live_only: bool = False
) -> ColumnElement[bool]:
    """`matches`, as the fastest form for this term: the matching ids when there are few (the list
    then sorts and pages a handful of rows, never walking the name index for a rare term), else
    a condition for a term whose matches are dense, checked along the list's order. `counted`: the
    caller counts the rows with `live_count`, which then starts from what was read here. `live_only`:
    the caller reads live rows only, so the words index may answer (services.word_index)."""
    return _condition(session, model, text, counted=counted, live_only=live_only)[0]


def sorted_condition(session: Session, model, text: str | None) -> ColumnElement[bool]:
    """`condition` for live rows in a statement sorted on something no index serves (the Rapportgenerator's
    chosen column, an export): the matching ids when there are few, as the lists have them, else
    the index's own matches (`matches`), never the row-by-row check a list pages along its name
    index with. The Rapportgenerator asked the FTS5 index three times (`matches` as a subquery in
    its page, its count, and the trash among them) where the list asks it once."""
    found, dense = _condition(session, model, text, counted=True, live_only=True)
    return matches(model, text) if dense else found


def _condition(
    session: Session, model, text: str | None, *, counted: bool = False, live_only: bool = False
) -> tuple[ColumnElement[bool], bool]:
    """(the condition, whether it is the dense form)."""
    from services import bulk, word_index

    if live_only:
        by_words = word_index.match(session, model, words(text))
        if by_words is not None:
            return by_words, False
    if _dialect(session) == "postgresql":
        # PostgreSQL keeps statistics on the indexed expression itself (ANALYZE, autovacuum), so it
        # estimates how many rows a term matches and chooses well by itself: the trigram index for
        # a rare term, the name index for a common one. Measured at 1,000,000 companies: a rare
        # term 44 ms through the trigram index, "info" (every company) 0.7 ms along the name index;
        # a probe for ids first only added its own cost (0.5–0.8 s for common terms).
        return matches(model, text), False
    terms = words(text)
    if (
        terms
        and model in SEARCHED
        and model not in SEARCH_RELATIONS
        and not (not SEARCHED[model].prefix and any(len(w) <= PREFIX_LENGTH for w in terms))
    ):
        found, known = _candidates(session, model, terms, counted=counted)
        if found is not None:
            if found == "[]":
                return false(), False
            by_ids = model.id.in_(select(func.json_each(found).table_valued("value").c.value))
            by_ids.search_counted = known  # for `live_count` (a clone keeps it)
            return by_ids, False
        return _own(model, terms, dense=True, counted=known), True
    else:
        ids = candidate_ids(session, model, text)
        if ids is not None:
            return (bulk.one_of(session, model.id, ids) if ids else false()), False
    if terms and model in SEARCHED and model not in SEARCH_RELATIONS:
        return _own(model, terms, dense=True), True
    return matches(model, text), False


def live(model):
    """Rows not in the trash (models without soft delete: all rows)."""
    if hasattr(model, "deleted_at"):
        return model.deleted_at.is_(None)
    return and_(True)


def in_trash(model):
    """Rows in the trash (the trash's partial index on `deleted_at` answers it)."""
    return model.deleted_at.is_not(None)


def customer_live(model):
    """Rows of a model with a customer (company_id/contact_id: opportunities, activities…) whose
    customer is not in the trash; rows with no customer at all count as live, unless they belong to a lead in
    the trash (an activity: it is there with its lead)."""
    no_customer = model.company_id.is_(None) & model.contact_id.is_(None)
    if hasattr(model, "lead_id"):
        no_customer = no_customer & ~model.lead.has(in_trash(Lead))
    return or_(model.company.has(live(Company)), model.contact.has(live(Contact)), no_customer)


class _WithIds(ColumnElement):
    """`condition`, whose rows' ids `ids` selects from an index alone (`with_ids`)."""

    type = Boolean()
    inherit_cache = False

    def __init__(self, condition: ColumnElement[bool], ids: Select):
        self.condition, self.ids = condition, ids

    def self_group(self, against=None):
        return self


@compiles(_WithIds)
def _compile_with_ids(element: _WithIds, compiler, **kw) -> str:
    return "(" + compiler.process(element.condition, **kw) + ")"


def with_ids(condition: ColumnElement[bool], ids: Select) -> ColumnElement[bool]:
    """`condition` as it is, and for `live_count` the select of its rows' ids (trash included) from an
    index alone, such as a link table's rows: "companies in a category" is an EXISTS per company, and
    SQLite counted it by looking at the companies one by one (at 1,000,000 companies, 90,120 in the
    category, 234 ms under load 7; the link table's index: 1 ms in the sqlite3 shell)."""
    return _WithIds(condition, ids)


def _by_ids(model, condition) -> bool:
    """Whether `condition` is `model.id IN (…)` (a rare term's ids, `bulk.one_of`)."""
    left = getattr(condition, "left", None)
    return (
        isinstance(condition, BinaryExpression)
        and condition.operator is operators.in_op
        and getattr(left, "table", None) is model.__table__
        and getattr(left, "key", None) == "id"
    )


def found_first(model, stmt: Select) -> bool:
    """Whether `stmt`'s rows are all found before they are sorted: a search term's matching ids (`condition`),
    so that a page is best read narrow (services.paging `_Order.page`)."""
    return any(_by_ids(model, c) for c in paging.conjuncts(stmt.whereclause))


def _from_index(stmt: Select) -> Select:
    """`stmt` with each term whose matches are dense as the ids its index gives."""

    def replace(element: ExternallyTraversible, **kw: Any) -> ExternallyTraversible | None:
        if isinstance(element, _IndexMatch) and element.dense:
            return _IndexMatch(element.model, element.terms)
        return None

    opts: dict[str, Any] = {}
    return cast(Select, replacement_traverse(cast(ExternallyTraversible, stmt), opts, replace))


def live_count(session: Session, model, stmt: Select, cap: int | None = None) -> paging.Count:
    """`paging.quick_count` of a list of `model`'s live rows (`stmt`: the list's statement, searched,
    filtered or not).

    SQLite: the list's other conditions are counted first without `live`, from an index alone, with
    the whole trash as the margin (`paging.beside_trash`), and a search term (the only condition) from
    its FTS5 index alone. A term whose matches are dense is checked row by row along the list's order
    (`_sqlite_row_check`), and so was its count, reading each row's text until 10,001 matched:
    "aktiebolag" at 1,000,000 companies, 710 ms of a list page's 1,311; counted with other conditions,
    it is the ids its index gives."""
    if _dialect(session) != "sqlite":
        return paging.quick_count(session, stmt, cap)
    conjuncts = paging.conjuncts(stmt.whereclause)
    rest = [c for c in conjuncts if not c.compare(live(model))]
    trashed = hasattr(model, "deleted_at") and len(rest) < len(conjuncts)
    # with other conditions, the ids' rows are read one by one either way; alone, they are counted
    # as given less the trash's among them: "svensson" at 1,000,000 companies (4,627 ids), 25 runs
    # alternated in process under load 4, the list's page and count 20 ms → 10 ms (median)
    by_ids = len(rest) > 1 and any(_by_ids(model, c) for c in rest)
    # only the table (a joined filter's rows are counted as they come; eager loads are not counted):
    # read from the statement's joins, not get_final_froms(), which compiles it (a dense term's row
    # check: 6 ms of a list page at 1,000,000 companies)
    alone = not stmt._setup_joins and not stmt._from_obj
    if trashed and not by_ids and alone:
        if len(rest) == 1 and _by_ids(model, rest[0]):
            every = cast(Select, rest[0].right.element)  # bulk.one_of's select of the ids
        elif len(rest) == 1 and isinstance(rest[0], _IndexMatch):
            every = _fts_ids(model, rest[0].terms)  # the index's own entries, no row read
        elif len(rest) == 1 and isinstance(rest[0], _WithIds):
            every = rest[0].ids
        else:
            every = _from_index(select(model.id).where(*rest))
        trash = select(model.id).where(model.deleted_at.is_not(None))
        known = getattr(rest[0], "search_counted", None) if len(rest) == 1 else None
        if known is not None and known.cap == (paging.COUNT_CAP if cap is None else cap):
            counted = paging.live_beside_trash(session, known.rows, known.trashed, every, trash, known.cap)
        else:
            counted = paging.beside_trash(session, every, trash, cap)
        if counted is not None:
            return counted
    return paging.capped_count(session, _from_index(stmt), cap)


def _order(session: Session, model, text: str | None) -> list:
    if model is Contact:
        keys = [Contact.last_name, Contact.first_name, Contact.id]
    else:
        keys = [getattr(model, SEARCH_FIELDS[model][0]), model.id]
    if few_matches(session, model, text):
        return [func.coalesce(key, key) for key in keys]  # see few_matches
    return keys


def live_matching(session, model, text: str | None):
    """Live rows of `model` matching `text`: the condition `search` uses, for a caller that orders
    and pages by itself (the API's lists)."""
    found, dense = _condition(session, model, text)
    alive = live(model)
    if dense and hasattr(model, "deleted_at") and _dialect(session) == "sqlite":
        alive = func.coalesce(model.deleted_at, None).is_(None)  # see `search`
    return and_(alive, found)


def search(session, model, text: str | None, *, limit: int = 20, extra=None, options=(), reader=None):
    """Live rows of `model` matching `text`, in name order: at most two statements whatever the size
    of the table (SQLite: the matching ids, then the page of rows), and one more per loader in `options`.
    A whole personnummer finds its contact when the `reader` may read personnummer."""
    by_number = personal_numbers.search_condition(model, text, reader)
    found, dense = (by_number, False) if by_number is not None else _condition(session, model, text)
    alive = live(model)
    if dense and hasattr(model, "deleted_at") and _dialect(session) == "sqlite":
        # Along the name index: without ANALYZE statistics SQLite takes `deleted_at IS NULL` for
        # a selective index and would check every live row, then sort. coalesce() hides that index.
        alive = func.coalesce(model.deleted_at, None).is_(None)
    stmt = select(model).where(alive, found).options(*options)
    if extra is not None:
        stmt = stmt.where(extra)
    return list(session.scalars(stmt.order_by(*_order(session, model, text)).limit(limit)))


# --- pickers: the names that begin with what was typed first --------------------------------

#: The models a picker ranks in tiers (`pick`), and the name column whose folded key migration 0038
#: indexes: PostgreSQL `crm_fold(name) COLLATE "C"`, SQLite the column `<name>_key` kept by triggers.
PICKED: dict[type, str] = {Company: "name", Employee: "name", Product: "name"}


def name_key(session: Session, model) -> ColumnElement[str]:
    """The folded name of a `PICKED` model as its btree holds it (migration 0038): sorted byte-wise (code
    points), so the names beginning with a text are one range of it."""
    name = PICKED[model]
    if _dialect(session) == "postgresql":
        return func.crm_fold(getattr(model, name), type_=String).collate("C")
    return literal_column(f'"{model.__tablename__}".{name}_key', type_=String)


def _begins(key: ColumnElement[str], prefix: str) -> ColumnElement[bool]:
    """`key` begins with `prefix`, as a range of its index (exact: code point order; no LIKE, whose
    escaping and, on SQLite, case rules are not the key's)."""
    last = ord(prefix[-1])
    if last >= 0x10FFFF:
        return key >= prefix
    return and_(key >= prefix, key < prefix[:-1] + chr(last + 1))


def _word_begins(session: Session, model, prefix: str) -> ColumnElement[bool]:
    """A word of the name begins with `prefix` (the name itself or a word after a space). PostgreSQL:
    the name's pg_trgm index of migration 0011 (`ix_<table>_<name>_prefix`, the expression `_pg_word`
    uses); SQLite: the stored key itself, a row at a time (see `pick` for when)."""
    if _dialect(session) == "postgresql":
        folded = func.crm_fold(getattr(model, PICKED[model]), type_=String)
        start = _like_escaped(prefix) + "%"
        return or_(folded.like(start), folded.like("% " + start))
    return func.instr(literal_column("' '").op("||")(name_key(session, model)), " " + prefix) > 0


def _sqlite_word_ids(session: Session, model, prefix: str) -> str | None:
    """SQLite: the ids (JSON) of the rows with a word of the name beginning with `prefix`, from the FTS5
    index's marked name words (`PREFIX_MARK`, migration 0011), or None when more than CANDIDATE_LIMIT."""
    phrase = PREFIX_MARK + prefix.replace(" ", " " + PREFIX_MARK)
    search_table = _search_table(model)
    ids = (
        select(search_table.c.rowid)
        .where(search_table.c.words.op("MATCH")(_fts_phrase(phrase)))
        .limit(CANDIDATE_LIMIT + 1)
        .subquery()
    )
    found, n = session.execute(select(func.json_group_array(ids.c[0]), func.count()).select_from(ids)).one()
    return None if n > CANDIDATE_LIMIT else found


def pick(session, model, text: str | None, *, limit: int = 20, extra=None, options=(), reader=None) -> list:
    """A picker's look-up: the live rows of `model` matching `text` as `search` finds them, in three tiers,
    each in the order of the folded name: (1) names that begin with the typed text, (2) names with a word
    that begins with it, (3) the other matches (a later word, the org number, e-mail, city …). The typed
    text is the query's words folded and joined by a space, so `svea ka` puts "Svea Kaffe AB" first.

    Tier 1 is a range of the name key's btree (migration 0038), read until `limit` rows: one statement
    that costs the same at 1,000 or 1,000,000 rows; a later tier runs only when the ones before left the
    list short. A name that begins with the typed text (or has a word that does) holds every word of it,
    so tiers 1 and 2 match the query without the search index. Tiers 2 and 3 are then answered like
    `search`: when the matches are few (SQLite: at most CANDIDATE_LIMIT ids from the index; PostgreSQL:
    `few_matches`) one statement sorts them by tier and name; when they are many, each tier walks the
    key's index in order (a word's beginning looked up first, so that a rare one is not walked for).
    At most five statements (tier 1; the matches' ids or estimate; a word's ids or estimate; tier 2;
    tier 3), one when tier 1 fills the list.

    Only pickers rank so: `search` keeps name order for its other callers (the people search merges
    contacts and employees by name, the duplicate and privacy look-ups want the matches, not a ranking,
    and contacts have no single name to begin with). Models outside `PICKED` and a personnummer are
    looked up by `search`."""
    terms = words(text)
    if model not in PICKED or not terms or personal_numbers.search_condition(model, text, reader) is not None:
        return search(session, model, text, limit=limit, extra=extra, options=options, reader=reader)
    prefix = fold(" ".join(terms))
    key = name_key(session, model)
    sqlite = _dialect(session) == "sqlite"
    # SQLite without ANALYZE statistics takes `deleted_at IS NULL` for a selective index (see `search`)
    trashed = hasattr(model, "deleted_at")
    alive = func.coalesce(model.deleted_at, None).is_(None) if sqlite and trashed else live(model)
    kept = [alive] if extra is None else [alive, extra]
    order = [key, model.id]

    def rows(*conditions, order_by=order, left: int) -> list:
        stmt = select(model).where(*kept, *conditions).options(*options).order_by(*order_by).limit(left)
        return list(session.scalars(stmt))

    begins = _begins(key, prefix)
    found = rows(begins, left=limit)
    if len(found) >= limit:
        return found
    matching, dense = _condition(session, model, text)
    word = _word_begins(session, model, prefix)
    if not dense and (sqlite or few_matches(session, model, text)):
        # few matches (what `search` sorts today): tiers 2 and 3 in one statement, sorted by tier
        tier = case((word, 0), else_=1)
        return found + rows(matching, not_(begins), order_by=[tier, *order], left=limit - len(found))
    if sqlite:
        ids = _sqlite_word_ids(session, model, prefix)
        if ids is not None:  # few names with such a word: by their ids, sorted
            listed = model.id.in_(select(func.json_each(ids).table_valued("value").c.value))
            found += rows(listed, not_(begins), left=limit - len(found))
        else:
            found += rows(word, not_(begins), left=limit - len(found))
    else:
        many = (paging.estimated_rows(session, select(model.id).where(word)) or 0) > FEW_ROWS
        # few: found first and sorted (coalesce() keeps the planner off the key's index, see few_matches)
        walked = order if many else [func.coalesce(key, key), model.id]
        found += rows(word, not_(begins), order_by=walked, left=limit - len(found))
    if len(found) >= limit:
        return found
    return found + rows(matching, not_(word), left=limit - len(found))


def people(session, text: str | None, *, limit: int = 30, reader=None) -> list[dict]:
    """Contacts and employees together, each tagged with its kind."""
    result = [
        {"kind": "contact", "obj": c, "name": c.name, "email": c.email, "phone": c.phone or c.mobile}
        for c in search(session, Contact, text, limit=limit, reader=reader)
    ]
    result += [
        {"kind": "employee", "obj": e, "name": e.name, "email": e.email, "phone": e.phone}
        for e in search(session, Employee, text, limit=limit)
    ]
    return sorted(result, key=lambda row: row["name"].lower())[:limit]
