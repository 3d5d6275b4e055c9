"""The company search's words index on PostgreSQL (migration 0046): a search's matches in name order, from an index.

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

SQLite keeps no words index (migration 0046 says why): its search keeps to its FTS5 index.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import (
    ARRAY,
    Boolean,
    Text,
    and_,
    any_,
    bindparam,
    false,
    func,
    intersect,
    literal,
    or_,
    select,
    true,
    union_all,
)
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


def _one_of(column, words: tuple[str, ...]) -> ColumnElement[bool]:
    """`column` is one of `words`, given as one parameter (an array)."""
    return column == any_(bindparam(None, list(words), type_=ARRAY(Text)))


def _matches(match: WordMatch):
    """The (name, id) of every match, each once: the entries of the words containing each searched word, and
    for several searched words the companies found for all of them."""
    entry = company_word_entries.c
    parts = [select(entry.name, entry.id).where(_one_of(entry.word, words)) for words in match.found]
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
    if folded is None or _dialect(session) != "postgresql":  # SQLite keeps no words index (migration 0046)
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
    from services.search import _like_escaped

    entry = company_word_entries.c
    parts = []
    for index, word in enumerate(folded):
        inside = company_words.c.word.like(f"%{_like_escaped(word)}%")
        part = select(literal(index).label("term"), company_words.c.word).where(inside)
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
    parts = [select(entry.id).where(_one_of(entry.word, words)) for words in match_.found]
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


def _page_of_one_word(match_: WordMatch, after, name_descending: bool, id_descending: bool, limit: int):
    """One searched word: the page's (name, id) from each containing word's entries in the index's
    order, `limit` of each at most, then sorted. Sorting all of a term's entries at once cost more than the rest
    of the page: "svensson" at 1,000,000 companies, 9,258 entries of 77 words sorted by name in the database's
    collation, 31 ms under load 14, the words' first 52 entries each 7 ms (a UNION ALL of the 77 words, merged
    in order, took 23 ms to plan)."""
    entry = company_word_entries.c
    words = func.unnest(bindparam(None, list(match_.found[0]), type_=ARRAY(Text))).table_valued("word").render_derived()
    each = select(entry.name, entry.id).where(entry.word == words.c.word)
    if after is not None:
        each = each.where(_beyond(entry.name, entry.id, after, name_descending, id_descending))
    order = [entry.name.desc() if name_descending else entry.name.asc()]
    order.append(entry.id.desc() if id_descending else entry.id.asc())
    first = each.order_by(*order).limit(limit).lateral()
    return select(first.c.name, first.c.id).select_from(words).join(first, true()).distinct().subquery()


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
        found = _page_of_one_word(match_, after, name_descending, id_descending, limit)
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
        ids = select(entry.id).where(_one_of(entry.word, match_.found[0])).group_by(entry.id).limit(cap + 1)
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
