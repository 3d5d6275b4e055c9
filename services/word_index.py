"""The company search's words index (migrations 0046 and 0047): a search's matches in name order, from an index.

The company list and the Rapportgenerator sort a search's matches by name. The trigram index finds the
matches in no order, so each match's row was read to sort them: the medium term of issue 13's bench,
"svensson", is 4,629 rows on as many pages at 1,000,000 companies, against 53 for a thousand companies'
"kiruna", and the page grew with the register. The words index holds each live company's words with its
name, `(word, name, id)`, kept by the database's triggers; a search word is looked up among the distinct
words (their own trigram index: "svensson" is inside "svensson", "svenssons", "karlsvensson" …), and the
matches' names and ids are read from the entries of those words, sorted and counted there; only the page's
rows are read from the table (services.paging reads them by id).

It answers exactly what the trigram index answers, for the searches it serves (`served`): every word of
the search three characters or more and made only of the letters a–z and non-ASCII characters (after
folding: "göteborg", "café"). Such a word is found inside a record's search text exactly when it is found
inside one of the text's words as split here (`SEPARATORS`: any other ASCII character, digits included,
ends a word). Other searches (numbers, e-mail addresses, "a-b", one or two characters), a word found
inside more than `MAX_WORDS` distinct words ("son"), and a search of several words whose words have more than
`MAX_ENTRIES` entries (too many to intersect) keep to the trigram index as before. A search of one word is
served however many companies it matches: a page reads the first rows of each containing word's entries, in
name order, and the count reads a bounded number of entries (`_counted`). The entries hold live
companies only: the condition is for live lists.

SQLite keeps the same entries, written after the commit that changed a company (`catch_up`, migration 0047:
written by the writer, they made an import a third slower); while a change is not yet written, the index does
not answer and the search keeps to its FTS5 index.
"""

from __future__ import annotations

import json
import re
from contextlib import contextmanager
from typing import Any

from sqlalchemy import (
    ARRAY,
    Boolean,
    Connection,
    Engine,
    Text,
    and_,
    any_,
    bindparam,
    column,
    event,
    false,
    func,
    intersect,
    literal,
    or_,
    select,
    table,
    text,
    true,
    union_all,
)
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from models import Company, company_word_entries, company_words
from services import paging
from services.paging import InvalidCursor

#: The models with a words index, and the name column its entries are sorted by.
WORD_INDEXED: dict[type, Any] = {Company: Company.name}
#: What separates words: every ASCII character other than a–z (the text is folded to lower case).
SEPARATORS = re.compile(r"[\x00-\x60\x7b-\x7f]+")
#: A word of a search the index serves is at least this long (shorter ones are prefixes of a name).
SHORTEST = 3
#: The distinct words one search word may be found inside; more ("son") and the trigram index answers.
MAX_WORDS = 100
#: The entries the words of a search of several words may have together (about two a company: "svensson" in
#: a name and in an e-mail address), all read to intersect them; more, and the list is paged along the name
#: index as before (search.FEW_ROWS: sorting 20,000 matches costs about what walking to them does).
MAX_ENTRIES = 20_000
#: SQLite: the noted companies (migration 0047) whose entries one transaction of `catch_up` writes; 2,000 take
#: about 0.1 s, so nobody's save waits long behind it.
CATCH_UP_BATCH = 2_000
#: SQLite: a commit that leaves no more than this many companies noted writes their entries at once (a form's
#: save); more (an import's batch) are left to the queue's periodic task, which writes them after the import's
#: commits instead of inside them.
CATCH_UP_AT_COMMIT = 100
#: SQLite: how long a commit's catch-up waits for the write lock (milliseconds); a save is not kept waiting
#: behind an import's batch for its words.
AT_COMMIT_WAIT_MS = 200


#: SQLite: the FTS5 trigram index of the distinct words (migration 0047).
_WORDS_SEARCH = table("company_word_search", column("rowid"), column("word"))


def words_of(folded: str) -> set[str]:
    """The words of a folded search text as the index keeps them (migration 0046 splits the same way in SQL)."""
    return {word for word in SEPARATORS.split(folded) if len(word) >= SHORTEST}


def served(model, terms: list[str]) -> list[str] | None:
    """The folded words of a search the index answers exactly, or None (see the module docstring)."""
    from services.search import fold

    if model not in WORD_INDEXED or not terms:
        return None
    folded = [fold(term) for term in terms]
    if any(len(word) < SHORTEST or SEPARATORS.search(word) for word in folded):
        return None
    return list(dict.fromkeys(folded))


class WordMatch(ColumnElement):
    """Live rows of `model` with, for each searched word, a word containing it (`found`: per searched word,
    the index's words containing it). Compiled as the rows' ids from the entries; a list sorted by name reads
    its pages from the entries alone (`ordered`)."""

    type = Boolean()
    inherit_cache = False
    #: services.paging reads a page's rows by their ids without this condition (it holds for every id found)
    lists_ids = True

    def __init__(self, model, found: tuple[tuple[str, ...], ...]):
        self.model, self.found = model, found

    def self_group(self, against=None):
        return self


class _OneOf(ColumnElement):
    """`column` is one of `words`, given as one parameter: an array on PostgreSQL, JSON on SQLite."""

    type = Boolean()
    inherit_cache = False

    def __init__(self, column, words: tuple[str, ...]):
        self.column, self.words = column, words

    def self_group(self, against=None):
        return self


@compiles(_OneOf, "postgresql")
def _compile_one_of_postgresql(element: _OneOf, compiler, **kw) -> str:
    return compiler.process(element.column == any_(bindparam(None, list(element.words), type_=ARRAY(Text))), **kw)


@compiles(_OneOf)
def _compile_one_of(element: _OneOf, compiler, **kw) -> str:
    words = func.json_each(json.dumps(element.words)).table_valued("value")
    return "(" + compiler.process(element.column.in_(select(words.c.value)), **kw) + ")"


def _matches(match: WordMatch):
    """The (name, id) of every match, each once: the entries of the words containing each searched word, and
    for several searched words the companies found for all of them."""
    entry = company_word_entries.c
    parts = [select(entry.name, entry.id).where(_OneOf(entry.word, words)) for words in match.found]
    if len(parts) == 1:
        return parts[0].distinct().subquery()
    return intersect(*parts).subquery()


@compiles(WordMatch)
def _compile_word_match(element: WordMatch, compiler, **kw) -> str:
    found = _matches(element)
    return "(" + compiler.process(element.model.id.in_(select(found.c.id)), **kw) + ")"


def _dialect(session: Session) -> str:
    return session.get_bind().dialect.name


def match(session: Session, model, terms: list[str]) -> ColumnElement[bool] | None:
    """The condition for live rows of `model` matching `terms` (search.words) from the words index: a
    WordMatch, false() when a searched word is inside no word at all, or None when the index does not serve
    the search (see the module docstring) and the caller keeps to the trigram index."""

    folded = served(model, terms)
    if folded is None or (_dialect(session) == "sqlite" and _behind(session)):
        return None
    found = _containing(session, folded, MAX_ENTRIES if len(folded) > 1 else None)
    if found is None:
        return None
    if not all(found):
        return false()
    return WordMatch(model, tuple(tuple(words) for words in found))


def _containing(session: Session, folded: list[str], limit: int | None) -> list[list[str]] | None:
    """For each searched word, the index's words containing it, in one statement; None when one is inside more
    than MAX_WORDS words, or (with a `limit`) when those words have more than `limit` entries together (each
    word's entries counted to `limit` + 1)."""
    from services.search import _fts_phrase, _like_escaped

    entry = company_word_entries.c
    parts = []
    for index, word in enumerate(folded):
        if _dialect(session) == "postgresql":
            words: Any = company_words.c
            inside = words.word.like(f"%{_like_escaped(word)}%")
        else:  # the FTS5 trigram index of the words (migration 0047)
            words = _WORDS_SEARCH.c
            inside = words.word.op("MATCH")(_fts_phrase(word))
        part = select(literal(index).label("term"), words.word).where(inside)
        parts.append(part.limit(MAX_WORDS + 1).subquery())
    words_ = [select(p.c.term, p.c.word) for p in parts]
    every = union_all(*words_).subquery() if len(words_) > 1 else words_[0].subquery()
    entries: Any = literal(0)
    if limit is not None:
        of_word = select(literal(1)).where(entry.word == every.c.word).correlate(every).limit(limit + 1).subquery()
        entries = select(func.count()).select_from(of_word).correlate(every).scalar_subquery()
    found: list[list[str]] = [[] for _word in folded]
    read = 0
    for index, word, n in session.execute(select(every.c.term, every.c.word, entries)):
        found[index].append(word)
        read += n
    if any(len(words) > MAX_WORDS for words in found) or (limit is not None and read > limit):
        return None
    return found


def _counted(match_: WordMatch, cap: int):
    """(entries read, distinct companies among them) for the count of the matches: of one searched word, the
    first `cap` + 1 of its entries (`_total` tells from them; a word's entries are distinct companies, but a
    company may have several of the words: "svensson" 9,258 entries of 4,629 companies at 1,000,000), so the
    count of a word matching the whole register reads no more than one matching a hundredth of it; of several,
    the companies found for all (few: `match`)."""
    entry = company_word_entries.c
    parts = [select(entry.id).where(_OneOf(entry.word, words)) for words in match_.found]
    ids = (parts[0].limit(cap + 1) if len(parts) == 1 else intersect(*parts)).subquery()
    return select(func.count(), func.count(ids.c.id.distinct()))


def _total(counted: tuple[int, int], cap: int) -> int | None:
    """The matches from `_counted`'s figures: exact, or cap + 1 for "more than `cap`"; None when they cannot
    tell (the entries read to the cap, and no more than the cap of them distinct)."""
    read, distinct = counted
    if distinct > cap:
        return cap + 1
    return distinct if read <= cap else None


def _beyond(name, ident, after: tuple[str, int], name_descending: bool, id_descending: bool):
    past_name = name < after[0] if name_descending else name > after[0]
    past_id = ident < after[1] if id_descending else ident > after[1]
    return or_(past_name, and_(name == after[0], past_id))


def _page_of_one_word(match_: WordMatch, after, name_descending: bool, id_descending: bool, limit: int, dialect: str):
    """One searched word: the page's (name, id) from each containing word's entries in the index's
    order, `limit` of each at most, then sorted. Sorting all of a term's entries at once cost more than the rest
    of the page: "svensson" at 1,000,000 companies, 9,258 entries of 77 words sorted by name in the database's
    collation, 31 ms under load 14, the words' first 52 entries each 7 ms (a UNION ALL of the 77 words, merged
    in order, took 23 ms to plan on PostgreSQL; SQLite, which has no LATERAL, reads them so: `_sqlite_firsts`)."""
    if dialect != "postgresql":
        return _sqlite_firsts(match_.found[0], after, name_descending, id_descending, limit)
    entry = company_word_entries.c
    words = func.unnest(bindparam(None, list(match_.found[0]), type_=ARRAY(Text))).table_valued("word").render_derived()
    each = select(entry.name, entry.id).where(entry.word == words.c.word)
    if after is not None:
        each = each.where(_beyond(entry.name, entry.id, after, name_descending, id_descending))
    order = [entry.name.desc() if name_descending else entry.name.asc()]
    order.append(entry.id.desc() if id_descending else entry.id.asc())
    first = each.order_by(*order).limit(limit).lateral()
    return select(first.c.name, first.c.id).select_from(words).join(first, true()).distinct().subquery()


def _sqlite_firsts(words: tuple[str, ...], after, name_descending: bool, id_descending: bool, limit: int):
    """SQLite: `_page_of_one_word`, each word's first rows a statement of its own in a UNION ALL, written out
    here: built from SQLAlchemy's constructs, the 77 words of "svensson" took 15 ms to compile, more than the
    page's other work."""
    name_order, id_order = ("DESC" if name_descending else "ASC"), ("DESC" if id_descending else "ASC")
    values: dict[str, Any] = {f"word_{n}": word for n, word in enumerate(words)} | {"each": limit}
    beyond = ""
    if after is not None:
        past_name, past_id = ("<" if name_descending else ">"), ("<" if id_descending else ">")
        beyond = f" AND (name {past_name} :after_name OR (name = :after_name AND id {past_id} :after_id))"
        values |= {"after_name": after[0], "after_id": after[1]}
    firsts = " UNION ALL ".join(
        f"SELECT * FROM (SELECT name, id FROM company_word_entry WHERE word = :word_{n}{beyond} "
        f"ORDER BY name {name_order}, id {id_order} LIMIT :each)"
        for n in range(len(words))
    )
    entry = company_word_entries.c
    stmt = text(f"SELECT DISTINCT name, id FROM ({firsts})").bindparams(**values)
    return stmt.columns(entry.name, entry.id).subquery()


def keys(
    session: Session,
    match_: WordMatch,
    *,
    after: tuple[str, int] | None,
    name_descending: bool,
    id_descending: bool,
    limit: int,
    counted: bool,
) -> list[tuple]:
    """The (name, id) of the next `limit` matches after `after` in this order, from the entries alone;
    `counted`: each row led by the count of every match."""
    if len(match_.found) == 1:
        found = _page_of_one_word(match_, after, name_descending, id_descending, limit, _dialect(session))
        after = None
    else:
        found = _matches(match_)
    name, ident = found.c.name, found.c.id
    stmt = select(name, ident)
    if counted:  # the count's figures read in the same statement (one row, joined to every row of the page)
        counts = _counted(match_, paging.COUNT_CAP).subquery()
        stmt = select(*counts.c, name, ident).select_from(found).join(counts, true())
    if after is not None:
        stmt = stmt.where(_beyond(name, ident, after, name_descending, id_descending))
    order = [name.desc() if name_descending else name.asc(), ident.desc() if id_descending else ident.asc()]
    rows = [tuple(row) for row in session.execute(stmt.order_by(*order).limit(limit))]
    if not counted or not rows:
        return rows
    total = _total(rows[0][:2], paging.COUNT_CAP)
    if total is None:
        total = count(session, match_, paging.COUNT_CAP).value
    return [(total, *row[2:]) for row in rows]


def count(session: Session, match_: WordMatch, cap: int) -> paging.Count:
    """The matches, counted to `cap` from the entries alone (`_counted`)."""
    total = _total(tuple(session.execute(_counted(match_, cap)).one()), cap)
    if total is None:  # many entries for few companies: every entry read (rare: a cap's worth of companies)
        entry = company_word_entries.c
        ids = select(entry.id).where(_OneOf(entry.word, match_.found[0])).group_by(entry.id).limit(cap + 1)
        total = session.scalar(select(func.count()).select_from(ids.subquery())) or 0
    return paging.Count(total) if total <= cap else paging.Count(cap, False)


class WordOrder(paging._Order):
    """A list's or report's order by name (and id), read from the words index: `order`'s keys are kept (its
    page tokens are this order's), each page's keys come from the entries (`keys`), and the rows by id."""

    always_narrow = True
    one_statement = True

    def __init__(self, order: paging._Order, match_: WordMatch, name_at: int):
        self.keys, self.scope, self.id_column = order.keys, order.scope, order.id_column
        self.match, self.name_at = match_, name_at

    def fetch(self, session, stmt, position, backward, limit):
        counted = len(stmt.selected_columns) > len(self.keys)
        after = None
        if position is not None:
            if position.inclusive or any(position.values[: self.name_at]):
                raise InvalidCursor("this order cannot go to a value")
            after = (position.values[self.name_at], position.values[-1])
        rows = keys(
            session,
            self.match,
            after=after,
            name_descending=self.keys[self.name_at].descending != backward,
            id_descending=self.keys[-1].descending != backward,
            limit=limit,
            counted=counted,
        )
        lead = (False,) * self.name_at  # `name IS NULL` of the report's order: never, a name is required
        return [(*row[:-2], *lead, *row[-2:]) for row in rows]

    def count(self, session: Session) -> paging.Count:
        return count(session, self.match, paging.COUNT_CAP)


def ordered(order: paging._Order, stmt) -> WordOrder | None:
    """`order` read from the words index, when `stmt` is only a WordMatch on live rows (nothing else: no
    filter, no join) and `order` is by the name, then the id (a report's order may lead with `name IS NULL`)."""
    conditions = paging.conjuncts(stmt.whereclause)
    found = [c for c in conditions if isinstance(c, WordMatch)]
    if len(found) != 1 or stmt._setup_joins or stmt._from_obj:
        return None
    model = found[0].model
    if any(c is not found[0] and not c.compare(model.deleted_at.is_(None)) for c in conditions):
        return None
    name = WORD_INDEXED[model]
    exprs = [key.expr for key in order.keys]
    if len(exprs) < 2 or exprs[-1] is not model.id or not any(e is name for e in exprs):
        return None
    name_at = next(i for i, e in enumerate(exprs) if e is name)
    if name_at != len(exprs) - 2 or any(not e.compare(name.is_(None)) for e in exprs[:name_at]):
        return None
    return WordOrder(order, found[0], name_at)


# --- SQLite: the entries written after the commit (migration 0047) ---------------------------------------------


def _behind(session: Session) -> bool:
    """SQLite: whether a company's change is noted and its entries not yet written (`catch_up`)."""
    return session.execute(text("SELECT 1 FROM company_word_pending LIMIT 1")).first() is not None


def _entries(rows) -> list[tuple[str, str, int]]:
    """The entries of companies given as (id, name, *the searched columns), sorted as the index keeps them."""
    from services.search import fold

    entries = set()
    for ident, name, *columns in rows:
        joined = "\n".join("" if value is None else str(value) for value in columns)
        entries |= {(word, name, ident) for word in words_of(fold(joined))}
    return sorted(entries)


def _catch_up_batch(connection: Connection) -> int:
    """Write the entries of the companies of the first CATCH_UP_BATCH notes and forget those; how many they were.

    Read before the write starts, as every statement of SQLite's driver outside a write: a company changed after
    these reads is noted again, later than the last note forgotten here, and written by the next batch."""
    from services.search import SEARCHED

    last = connection.scalar(
        text("SELECT max(seq) FROM (SELECT seq FROM company_word_pending ORDER BY seq LIMIT :n)"),
        {"n": CATCH_UP_BATCH},
    )
    if last is None:
        return 0
    noted_ids = connection.scalars(
        text("SELECT DISTINCT id FROM company_word_pending WHERE seq <= :last"), {"last": last}
    ).all()
    spec = SEARCHED[Company]
    columns = [Company.id, Company.name, *(getattr(Company, c) for c in (*spec.fields, *spec.numbers))]
    noted = select(func.json_each(json.dumps(noted_ids)).table_valued("value").c.value)
    entries = _entries(connection.execute(select(*columns).where(Company.id.in_(noted), Company.deleted_at.is_(None))))
    entry = company_word_entries.c
    connection.execute(company_word_entries.delete().where(entry.id.in_(noted)))
    if entries:
        words = sorted({word for word, _name, _id in entries})
        connection.execute(company_words.insert().prefix_with("OR IGNORE"), [{"word": word} for word in words])
        connection.execute(company_word_entries.insert(), [{"word": w, "name": n, "id": i} for w, n, i in entries])
    return connection.execute(text("DELETE FROM company_word_pending WHERE seq <= :last"), {"last": last}).rowcount


@contextmanager
def _waiting(connection: Connection, ms: int | None):
    """SQLite: the connection waits at most `ms` for the write lock meanwhile (None: its own busy timeout)."""
    if ms is None:
        yield
        return
    own = connection.exec_driver_sql("PRAGMA busy_timeout").scalar_one()
    connection.exec_driver_sql(f"PRAGMA busy_timeout = {int(ms)}")
    try:
        yield
    finally:
        connection.exec_driver_sql(f"PRAGMA busy_timeout = {int(own)}")


def catch_up(engine: Engine, at_most: int | None = None) -> int:
    """SQLite: write the entries of every noted company (migration 0047), CATCH_UP_BATCH at a time, each batch its
    own transaction; how many notes were written (a company noted twice, twice). `at_most`: nothing when there
    are more notes than that, and nothing either when the database is locked beyond AT_COMMIT_WAIT_MS (an import's
    batch) or has no notes yet (a schema before 0047): the queue's task writes them then."""
    if engine.dialect.name != "sqlite":
        return 0
    written = 0
    try:
        if at_most is not None:
            with engine.connect() as connection:
                noted = connection.scalar(
                    text("SELECT count(*) FROM (SELECT 1 FROM company_word_pending LIMIT :n)"), {"n": at_most + 1}
                )
            if not noted or noted > at_most:
                return 0
        while True:
            with engine.begin() as connection, _waiting(connection, None if at_most is None else AT_COMMIT_WAIT_MS):
                batch = _catch_up_batch(connection)
            if not batch:
                return written
            written += batch
    except OperationalError:
        if at_most is None:
            raise
        return written


@event.listens_for(Session, "after_commit")
def _catch_up_after_commit(session: Session) -> None:
    """SQLite: a commit that noted a few companies (a form's save, a restore) writes their entries at once, so
    the next search reads them from the index (CATCH_UP_AT_COMMIT)."""
    bind = session.get_bind()
    if bind.dialect.name == "sqlite":
        catch_up(bind.engine, at_most=CATCH_UP_AT_COMMIT)
