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
- a word of one or two characters finds records whose name (`Searched.prefix`) begins with it;
- rows in the trash are never shown (`live`).

Both databases answer from an index, never by scanning a table:

- PostgreSQL: a pg_trgm GIN index on one expression per table, `crm_fold(<the columns joined
  by newlines>)`, searched with `LIKE '%word%'`; and a b-tree (`text_pattern_ops`) on
  `crm_fold(<name column>)` for the one- and two-character prefix. The expression below must
  stay exactly the one the migration indexed (tests/test_search_index.py checks the plan).
- SQLite: an FTS5 table `<table>_search` with the trigram tokenizer (case-folding, diacritics
  kept), without content of its own, kept by triggers on the table: whatever writes the table
  (the ORM, services.bulk's executemany, an import's UPDATE, a restore, a purge) keeps the
  index. The indexed text is the same joined columns, accents folded by `replace()` and each
  name column led by two \\x01 characters, so a one- or two-character prefix is a trigram too.

Both are created by migration 0011 from the same table (`SEARCHED`, frozen there). Changing
the searched columns needs a migration that rebuilds the index.

`search()` finds ids first and sorts and pages only those, so no planner walks the whole name
index looking for a rare term; a term too common for that (more than `CANDIDATE_LIMIT` rows)
is paged along the name index instead, where its matches are dense.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import Boolean, String, Text, and_, cast, column, false, func, literal_column, or_, select, table
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

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

#: Accented letters folded to their base letter, as a Swedish reader sees them: é is an e and
#: ü a u, ø and æ are the Danish and Norwegian ö and ä; å, ä and ö stay letters of their own.
#: The letters met in Swedish registers, not every accent: SQLite folds them with one replace()
#: each, nested, and its parser takes about 28 levels.
FOLD_FROM = "éèêëáàüíçñøæÉÈÊËÁÀÜÍÇÑØÆ"
FOLD_TO = "eeeeaauicnöäeeeeaauicnöä"
_FOLD = str.maketrans(FOLD_FROM, FOLD_TO)

#: Where a one- or two-character word is looked for on SQLite: the start of a name column.
PREFIX_MARK = "\x01\x01"
#: The longest word looked up as a prefix; longer words are found anywhere.
PREFIX_LENGTH = 2
#: Ids found first and then sorted, at most; a term with more matches is paged along the sort index.
CANDIDATE_LIMIT = 5000


def fold(text: str) -> str:
    """`text` as the index holds it: lower case, accents folded (not å, ä, ö)."""
    return text.lower().translate(_FOLD)


# --- the query text -----------------------------------------------------------------------


_NUMBERISH = re.compile(r"[\d\-+()/.]*\d[\d\-+()/.]*")


def words(text: str | None) -> list[str]:
    """Split a search text into words; a quoted phrase stays one word, and numbers typed in groups
    (`070-123 45 67`, `556036 0793`) are one number."""
    if not text:
        return []
    result: list[str] = []
    numeric_run = False
    for quoted, plain in re.findall(r'"([^"]+)"|(\S+)', text.strip()):
        word = quoted or plain
        numeric = bool(plain) and _NUMBERISH.fullmatch(plain) is not None
        if numeric and numeric_run:
            result[-1] += " " + word
        else:
            result.append(word)
        numeric_run = numeric
    return [w for w in (w.strip() for w in result) if w]


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
    """PostgreSQL: the indexed expression of `model`, exactly as migration 0011 created it."""
    spec = SEARCHED[model]
    empty, newline = literal_column("''"), literal_column("E'\\n'")
    parts = [func.coalesce(getattr(model, name), empty) for name in spec.fields]
    parts += [func.coalesce(cast(getattr(model, name), Text), empty) for name in spec.numbers]
    joined = parts[0]
    for part in parts[1:]:
        joined = joined.op("||")(newline).op("||")(part)
    return func.crm_fold(joined, type_=String)


def _like_escaped(text: str) -> str:
    """`text` literally in a LIKE pattern with PostgreSQL's default escape character (an explicit
    ESCAPE clause would hide the pattern from the index)."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _pg_word(model, word: str) -> ColumnElement[bool]:
    if len(word) <= PREFIX_LENGTH:
        pattern = _like_escaped(fold(word)) + "%"
        names = SEARCHED[model].prefix
        return or_(*(func.crm_fold(getattr(model, name), type_=String).like(pattern) for name in names))
    expression = search_text(model)
    return or_(*(expression.like(f"%{_like_escaped(a)}%") for a in _alternatives(word)))


class _IndexMatch(ColumnElement):
    """Rows of one table matching every one of `terms`, from that table's search index; compiled
    for the database it runs on (see the module docstring). `correlated`: on SQLite, ask the index
    about each row the query reaches (an EXISTS per row, for terms matching a large share of the
    table, paged along another index) instead of collecting every matching id first."""

    type = Boolean()
    inherit_cache = False

    def __init__(self, model, terms: list[str], *, correlated: bool = False):
        self.model, self.terms, self.correlated = model, terms, correlated


@compiles(_IndexMatch, "postgresql")
def _compile_postgresql(element: _IndexMatch, compiler, **kw) -> str:
    return compiler.process(and_(*(_pg_word(element.model, w) for w in element.terms)), **kw)


@compiles(_IndexMatch)
def _compile_sqlite(element: _IndexMatch, compiler, **kw) -> str:
    model = element.model
    if element.correlated:
        search_table = _search_table(model)
        each = select(literal_column("1")).where(
            search_table.c.rowid == model.id, search_table.c.words.op("MATCH")(_fts_query(element.terms))
        )
        return compiler.process(each.exists(), **kw)
    return compiler.process(model.id.in_(_fts_ids(model, element.terms)), **kw)


def _own(model, terms: list[str], *, correlated: bool = False) -> ColumnElement[bool]:
    if not SEARCHED[model].prefix and any(len(w) <= PREFIX_LENGTH for w in terms):
        return false()  # nothing to begin with: orders and invoices have no name
    return _IndexMatch(model, terms, correlated=correlated)


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


def candidate_ids(session: Session, model, text: str | None, *, limit: int = CANDIDATE_LIMIT) -> list[int] | None:
    """Ids of the rows of `model` matching `text` (trash included), or None when there are more
    than `limit` (or the model is searched through its relations): from the index alone, unsorted,
    so a rare term costs what its few matches cost."""
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


def condition(session: Session, model, text: str | None) -> ColumnElement[bool]:
    """`matches`, as the fastest form for this term: the matching ids when there are few (the list
    then sorts and pages a handful of rows, never walking the name index for a rare term), else
    the index condition asked row by row along the list's order, where matches are dense."""
    from services import bulk

    ids = candidate_ids(session, model, text)
    if ids is not None:
        return bulk.one_of(session, model.id, ids) if ids else false()
    terms = words(text)
    if terms and model in SEARCHED and model not in SEARCH_RELATIONS:
        return _own(model, terms, correlated=True)
    return matches(model, text)


def live(model):
    """Rows not in the trash (models without soft delete: all rows)."""
    if hasattr(model, "deleted_at"):
        return model.deleted_at.is_(None)
    return and_(True)


def customer_live(model):
    """Rows of a model with a customer (company_id/contact_id: opportunities, activities…) whose
    customer is not in the trash; rows with no customer at all count as live."""
    return or_(
        model.company.has(live(Company)),
        model.contact.has(live(Contact)),
        model.company_id.is_(None) & model.contact_id.is_(None),
    )


def _order(model):
    if model is Contact:
        return (Contact.last_name, Contact.first_name, Contact.id)
    return (getattr(model, SEARCH_FIELDS[model][0]), model.id)


def search(session, model, text: str | None, *, limit: int = 20, extra=None):
    """Live rows of `model` matching `text`, in name order: two statements at most, whatever
    the size of the table (the matching ids, then the page of rows)."""
    stmt = select(model).where(live(model), condition(session, model, text))
    if extra is not None:
        stmt = stmt.where(extra)
    return list(session.scalars(stmt.order_by(*_order(model)).limit(limit)))


def people(session, text: str | None, *, limit: int = 30) -> list[dict]:
    """Contacts and employees together, each tagged with its kind."""
    result = [
        {"kind": "contact", "obj": c, "name": c.name, "email": c.email, "phone": c.phone or c.mobile}
        for c in search(session, Contact, text, limit=limit)
    ]
    result += [
        {"kind": "employee", "obj": e, "name": e.name, "email": e.email, "phone": e.phone}
        for e in search(session, Employee, text, limit=limit)
    ]
    return sorted(result, key=lambda row: row["name"].lower())[:limit]
