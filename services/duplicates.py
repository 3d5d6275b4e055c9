"""Dubbletter: finding likely duplicate companies, contacts and leads, scored and explained.

Two records are compared on what identifies them (organisationsnummer,
personnummer, e-mail, phone) and on their names, matched with RapidFuzz after
a normalisation that knows Swedish company names: legal forms (AB,
Aktiebolag, HB, Ek. för. …) and a trailing "i Stockholm" are dropped, "&",
"+" and "and" read "och", and å/ä/ö read a/a/o, as they are spelt in e-mail
addresses. `score` gives 0–100 and the reasons; pairs scoring THRESHOLD or more
are listed.

The scan of a whole register (`scan`) never compares every pair: it groups
records by blocking keys (the same organisationsnummer, e-mail, phone or
personnummer) and compares names only between neighbours when the register is
sorted by its normalised names (sorted neighbourhood, two orders), so a million
companies cost a few comparisons each. The background task
(services.duplicate_tasks) stores the pairs in DuplicatePair; `check` looks up
one record's likely duplicates by query, for the entry forms and for records
changed since the last scan.
"""

from __future__ import annotations

import time
from collections import OrderedDict, defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from flask_babel import lazy_gettext as _l
from rapidfuzz import fuzz, process
from sqlalchemy import String, and_, any_, bindparam, cast, func, or_, select, text, union
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session, aliased

from models import Company, CompanyContact, Contact, DuplicatePair, Lead, table_of, utcnow
from services import bulk, paging
from services.name_keys import (  # noqa: F401 (what callers know from here)
    FREE_MAIL,
    Entry,
    _entry_of_row,
    _share,
    company_name_key,
    digits,
    email_domain,
    email_key,
    entry_of_values,
    fold,
    person_name_key,
    telling_words,
)

#: A pair scoring this much or more is listed and warned about.
THRESHOLD = 80
#: Names are compared between this many neighbours in each sorted order.
WINDOW = 6
#: A blocking key shared by more records than this (a switchboard, info@ of a group) compares none of them.
MAX_BLOCK = 50

REASONS = {
    "same_org_number": _l("same organisation number"),
    "same_personal_number": _l("same personal identity number"),
    "same_email": _l("same e-mail"),
    "same_phone": _l("same phone"),
    "similar_name_same_city": _l("similar name + same city"),
    "similar_name_same_company": _l("similar name + same company"),
    "similar_name_same_domain": _l("similar name + same e-mail domain"),
    "similar_name": _l("similar name"),
}

KINDS: dict[str, type[Any]] = {"company": Company, "contact": Contact, "lead": Lead}
#: A record of each kind, as a sentence names it ("already in the register as a customer …").
RECORD_LABELS = {"company": _l("customer"), "contact": _l("contact"), "lead": _l("lead")}
KIND_LABELS = {"company": _l("Companies"), "contact": _l("Contacts and private customers"), "lead": _l("Leads")}

#: What seeing a register's pairs and merges needs ("{kind}": company, contact — private customers too — or lead).
VIEW = ("{kind}.view",)
#: What acting on them needs: merging, undoing a merge, "Inte dubbletter", a scan of the register. The
#: Dubbletter page declares these (admin_views.base.require fills in "{kind}" from the URL) and shows a
#: button only where `may` says yes; the services ask `permitted`.
ACT = ("duplicate.merge", "{kind}.view", "{kind}.edit")


def permitted(actor, kind: str, needed: tuple[str, ...] = ACT) -> bool:
    """Whether `actor` has every one of the `needed` permissions for the register `kind`."""
    return kind in KINDS and all(actor.has_permission(p.format(kind=kind)) for p in needed)


def viewable_kinds(actor) -> list[str]:
    """The registers whose pairs and merges `actor` may see, in the page's order."""
    return [kind for kind in KINDS if permitted(actor, kind, VIEW)]


class NotPermitted(PermissionError):
    """The employee may not act on this register's duplicates."""


def columns(kind: str) -> list:
    """The columns an Entry of `kind` is made from."""
    if kind == "company":
        return [
            Company.id,
            Company.name,
            Company.org_number,
            Company.email,
            Company.phone,
            Company.postal_city,
            Company.visit_city,
        ]
    if kind == "contact":
        return [
            Contact.id,
            Contact.first_name,
            Contact.last_name,
            Contact.personal_number,
            Contact.email,
            Contact.phone,
            Contact.mobile,
            Contact.postal_city,
        ]
    return [Lead.id, Lead.company_name, Lead.org_number, Lead.contact_email, Lead.contact_phone]


def live_condition(kind: str, model=None):
    """The records of `kind` that are compared and listed: not in the trash; leads still worked (not Lead.CLOSED).
    `model` may be an alias of the kind's model."""
    model = KINDS[kind] if model is None else model
    if kind == "lead":
        return model.status.not_in(Lead.CLOSED) & model.deleted_at.is_(None)
    return model.deleted_at.is_(None)


def entry_of(kind: str, record, companies: Iterable[int] = ()) -> Entry:
    """An Entry of a record (saved or not)."""
    return entry_of_values(kind, {c.key: getattr(record, c.key) for c in columns(kind)}, companies)


# --- scoring --------------------------------------------------------------------------------------


def score(kind: str, a: Entry, b: Entry) -> tuple[int, list[str]]:
    """How likely `a` and `b` are the same (0–100), and why (REASONS keys, strongest first)."""
    same_id = _share(a.ids, b.ids)
    if a.ids and b.ids and not same_id:
        return 0, []  # two different organisationsnummer (personnummer): two different ones
    found: list[tuple[float, str]] = []
    if same_id:
        found.append((100, "same_org_number" if kind != "contact" else "same_personal_number"))
    if _share(a.emails, b.emails):
        found.append((95, "same_email"))
    if kind == "contact":
        similarity = person_similarity(a, b)
    else:
        similarity = fuzz.token_sort_ratio(a.name, b.name) if len(a.name) > 2 and len(b.name) > 2 else 0
    if _share(a.phones, b.phones):
        # one switchboard serves a group's companies, one landline a family: the names must agree too
        found.append((92 if similarity >= 75 else 70, "same_phone"))
    if similarity >= 85:
        if _share(a.companies, b.companies):
            found.append((min(100, similarity), "similar_name_same_company"))
        if a.domain and a.domain == b.domain:
            found.append((min(100, similarity), "similar_name_same_domain"))
        if a.city and a.city == b.city:
            # a person's name is shared by many in one town; a company's is not
            found.append((similarity - (25 if kind == "contact" else 0), "similar_name_same_city"))
        elif kind == "lead" or (kind == "company" and not (a.city and b.city)):
            found.append((similarity - 12, "similar_name"))
    if not found:
        return 0, []
    found.sort(reverse=True)
    best = found[0][0] + 3 * (len(found) - 1)  # each further sign adds a little
    reasons = list(dict.fromkeys(reason for _score, reason in found))
    return min(100, round(best)), reasons


def person_similarity(a: Entry, b: Entry) -> float:
    """How alike two people's names are: both the first and the last name must agree (Lena and Linnéa
    Pettersson are two people, so are Björn Larsson and Björn Nilsson); an initial agrees with a name."""
    if not (a.last and b.last):
        return fuzz.token_sort_ratio(a.name, b.name)
    first_a, first_b = (a.first.split() or [""])[0], (b.first.split() or [""])[0]
    if (len(first_a) == 1 or len(first_b) == 1) and first_a[:1] == first_b[:1]:
        first = 90.0
    else:
        first = fuzz.ratio(first_a, first_b)
    last = fuzz.token_sort_ratio(a.last, b.last)
    if first < 70 or last < 85:
        return min(60.0, (first + last) / 2)
    return (first + last) / 2


# --- the scan of a whole register -------------------------------------------------------------------


def read_entries(session: Session, kind: str, *, batch: int = 20_000) -> Iterator[Entry]:
    """Every live record of `kind` as an Entry, read in batches; contacts with their companies."""
    stmt = select(*columns(kind)).where(live_condition(kind)).execution_options(yield_per=batch)
    links: dict[int, set[int]] = defaultdict(set)
    if kind == "contact":
        for contact_id, company_id in session.execute(
            select(CompanyContact.contact_id, CompanyContact.company_id).execution_options(yield_per=batch)
        ):
            links[contact_id].add(company_id)
    for row in session.execute(stmt):
        entry = _entry_of_row(kind, row)
        if kind == "contact":
            entry.companies = tuple(links.get(entry.id, ()))
        yield entry


def find_pairs(kind: str, entries: list[Entry], *, threshold: int = THRESHOLD) -> dict[tuple[int, int], tuple]:
    """{(low id, high id): (score, reasons)} of every pair scoring `threshold` or more, by blocking."""
    found: dict[tuple[int, int], tuple] = {}

    def compare(a: Entry, b: Entry) -> None:
        pair = (a.id, b.id) if a.id < b.id else (b.id, a.id)
        if pair[0] == pair[1] or pair in found:
            return
        value, reasons = score(kind, a, b)
        if value >= threshold:
            found[pair] = (value, reasons)

    for keys_of in (lambda e: e.ids, lambda e: e.emails, lambda e: e.phones):  # one kind of key at a time
        blocks: dict[str, list[Entry]] = defaultdict(list)
        for entry in entries:
            for key in keys_of(entry):
                blocks[key].append(entry)
        for members in blocks.values():
            if 1 < len(members) <= MAX_BLOCK:
                for i, a in enumerate(members):
                    for b in members[i + 1 :]:
                        compare(a, b)
        del blocks
    cutoff = 85
    # two orders, each with the town next: of many equal names, those in one town are neighbours
    for key in (lambda e: (e.name, e.city), lambda e: (" ".join(sorted(e.name.split())), e.city)):
        ordered = sorted((e for e in entries if len(e.name) > 2), key=key)
        for i, a in enumerate(ordered):
            for b in ordered[i + 1 : i + 1 + WINDOW]:
                # the names alone first (one call into RapidFuzz): most neighbours stop here
                if fuzz.token_sort_ratio(a.name, b.name, score_cutoff=cutoff):
                    compare(a, b)
    return found


def scan(session: Session, kind: str, *, timings: dict | None = None) -> tuple[int, int]:
    """Find every likely duplicate pair of the register `kind` and store them (pairs marked "not duplicates"
    stay marked); returns (records, pairs). The caller commits. `timings` gets each stage's seconds."""
    timings = {} if timings is None else timings
    started, clock = utcnow(), time.perf_counter()
    entries = list(read_entries(session, kind))
    timings["read"], clock = time.perf_counter() - clock, time.perf_counter()
    pairs = find_pairs(kind, entries)
    timings["match"], clock = time.perf_counter() - clock, time.perf_counter()
    dismissed = {
        (low, high)
        for low, high in session.execute(
            select(DuplicatePair.low_id, DuplicatePair.high_id).where(
                DuplicatePair.entity_type == kind, DuplicatePair.dismissed_at.is_not(None)
            )
        )
    }
    session.execute(
        table_of(DuplicatePair).delete().where(DuplicatePair.entity_type == kind, DuplicatePair.dismissed_at.is_(None))
    )
    rows = [
        {
            "entity_type": kind,
            "low_id": low,
            "high_id": high,
            "score": value,
            "reasons": reasons,
            "found_at": started,
        }
        for (low, high), (value, reasons) in pairs.items()
        if (low, high) not in dismissed
    ]
    bulk.insert_rows(session, table_of(DuplicatePair), rows)
    timings["write"] = time.perf_counter() - clock
    return len(entries), len(rows)


# --- many new records against the register: an import's dry run ---------------------------------------


#: A name word shared by more records than this finds no candidates (a rarer word of the name does).
MAX_WORD_BLOCK = 200
#: Name words' records (ids) a RegisterLookup remembers from one batch to the next, at most, counting each word as
#: one more: the words of the batches' rows in least recently used order, so a common trade or surname met batch
#: after batch stays and a word of one row (a number) goes. 100,000 held 7 MB of words never met again in a dry run
#: of 30,000 companies against the register they were imported into (each row's number a word of its own).
WORD_CACHE = 40_000
#: Normalised names of the records of rows' rarest words a RegisterLookup remembers, at most (about 3 MB).
NAME_CACHE = 20_000

#: (score, reasons, id) of a likely duplicate.
Found = tuple[int, list[str], int]


def alike(entry: Entry, members: Iterable[tuple[int, str]]) -> list[int]:
    """The ids of `members` ((id, normalised name) of the records sharing a name word with `entry`) whose name
    RapidFuzz finds alike (one call each: most stop here, before a record is read whole)."""
    members = list(members)
    return [members[i][0] for i in alike_indexes(entry, [name for _i, name in members])]


def alike_indexes(entry: Entry, names: list[str]) -> list[int]:
    """The indexes of `names` (normalised) that `alike` finds alike `entry`'s, in order: RapidFuzz's own loop
    (one call for all, the entry's words sorted once), as one call per name would score them."""
    found = process.extract(entry.name, names, scorer=fuzz.token_sort_ratio, score_cutoff=85, limit=None)
    return sorted(index for _name, _score, index in found)


def blocked_matches(
    kind: str,
    entry: Entry,
    key_blocks: dict[str, list[Entry]],
    named: Iterable[Entry],
    *,
    threshold: int = THRESHOLD,
    exclude: int | None = None,
) -> list[Found]:
    """(score, reasons, id) of the records `entry` is likely a duplicate of, best first: scored (`score`, as
    the scan scores) against the records sharing an organisationsnummer, e-mail or phone with it (`key_blocks`,
    at most MAX_BLOCK per key), and against those `named`: of its rarest name word (shared by at most
    MAX_WORD_BLOCK records), those whose name is `alike`; never against a whole register. An import's dry run
    compares its rows so with the register (RegisterLookup) and with the file's earlier rows
    (services.importing.engine.FileEntries)."""
    candidates: dict[int, Entry] = {}
    for key in (*entry.ids, *entry.emails, *entry.phones):
        for other in key_blocks.get(key, [])[:MAX_BLOCK]:
            candidates[other.id] = other
    for other in named:
        candidates.setdefault(other.id, other)
    found = []
    for other in candidates.values():
        if other.id == exclude:
            continue
        value, reasons = score(kind, entry, other)
        if value >= threshold:
            found.append((value, reasons, other.id))
    found.sort(key=lambda f: (-f[0], f[2]))
    return found


def name_words(entry: Entry) -> list[str]:
    """The words of `entry`'s name a word block is looked up by: as the quick search index holds them (å, ä, ö
    kept; `Entry.words`) when known, else as the normalised name has them."""
    return list(entry.words) or telling_words(entry.name)


class RegisterLookup:
    """The live records of one register that a batch of new records (an import's rows) are likely duplicates
    of, looked up by query a batch at a time: memory is flat in the register's size.

    Per batch: one statement for the records sharing a key (organisationsnummer or personnummer, e-mail, phone)
    with a row of the batch, each kind of key by its index; the name words not met in an earlier batch looked up
    among the register's names (the records with a word of the name beginning with each, or "more than
    MAX_WORD_BLOCK": services.search.word_candidates; not its phones, numbers or towns), and one statement for
    which of those records are live (with their names); then, of each row's rarest word, the records whose name
    is `alike` are read whole (one statement) and each row is scored as `blocked_matches` says. A name is
    normalised only when its record is in a row's rarest word (most records of a batch's words are in none),
    once: the words' live records (ids) and the normalised names are remembered from batch to batch, at most
    WORD_CACHE and NAME_CACHE. On PostgreSQL the register's statistics are seen to first, once (`analyze_if_stale`).

    A word of digits ("Bygg 2000 AB", the import bench's "… 48213 AB") is looked up as any other: among the names
    it is most often a block of one. Looking it up only for rows whose other words are no block was tried, and
    made the look-up slower (SQLite, 10,000 rows against 30,000 companies: 4,355 → 2,929 rows/CPU-s): each row
    then had its trade's block of about 75 to normalise and compare instead."""

    def __init__(self, session: Session, kind: str):
        self.session, self.kind, self.model = session, kind, KINDS[kind]
        self.words: OrderedDict[str, tuple[int, ...] | None] = OrderedDict()
        self.cached = 0
        #: Normalised names of records of the words (by id), at most NAME_CACHE (and those of one batch).
        self.names: dict[int, str] = {}
        #: The name columns of the records the last look-up of words found live (by id), not normalised yet.
        self.found_names: dict[int, tuple] = {}
        #: Whether the register's statistics were seen to (`analyze_if_stale`, once a pass).
        self.analyzed = False
        #: Whether the register was found to hold a record (asked each batch until it does).
        self.filled = False
        #: {company name: normalised} known already, of the batch being looked up (`matches_many`).
        self.known_names: dict[str, str] | None = None

    def matches_many(
        self, entries: list[Entry], *, threshold: int = THRESHOLD, names: dict[str, str] | None = None
    ) -> list[list[Found]]:
        """For each of `entries`, (score, reasons, id) of the records it is likely a duplicate of, best first.
        `names`: {company name: its `company_name_key`} known already (the entries' own, of an import's rows): a
        record found by a key is most often the row's company, named as in the file, and its name is not
        normalised again (7 % of a dry run's CPU against a register holding the file's 30,000 companies)."""
        self.known_names = names if self.kind != "contact" else None
        if not self.filled:  # once it has a record, it is taken to have one for the rest of the pass
            self.filled = self.session.execute(select(self.model.id).limit(1)).first() is not None
            if not self.filled:
                return [[] for _entry in entries]  # an empty register (often the leads') asks nothing more
        if not self.analyzed:
            self.analyzed = True
            analyze_if_stale(self.session, self.model)
        by_key: dict[str, list[Entry]] = defaultdict(list)
        read = {other.id: other for other in self._key_entries(entries)}
        for other in read.values():
            for key in (*other.ids, *other.emails, *other.phones):
                by_key[key].append(other)
        self._look_up_words({w for entry in entries for w in name_words(entry)})
        rarest: list[tuple[int, ...]] = []
        for entry in entries:
            blocks: list[tuple[int, ...]] = [m for w in name_words(entry) if (m := self._members(w))]
            rarest.append(min(blocks, key=len) if blocks else ())
        normalised = self._names({i for block in rarest for i in block}, read)
        named = [
            alike(entry, [(i, normalised[i]) for i in block if i in normalised])
            for entry, block in zip(entries, rarest, strict=True)
        ]
        wanted = {i for ids in named for i in ids} - read.keys()  # those found by a key are read already
        by_id = {e.id: e for e in self._entries(any_of(self.session, self.model.id, wanted))} if wanted else {}
        by_id |= read
        return [
            blocked_matches(self.kind, entry, by_key, [by_id[i] for i in ids if i in by_id], threshold=threshold)
            for entry, ids in zip(entries, named, strict=True)
        ]

    def _members(self, word: str) -> tuple[int, ...] | None:
        members = self.words.get(word)
        if members is not None:
            self.words.move_to_end(word)
        return members

    def _normalised(self, row: tuple) -> str:
        return person_name_key(row[0], row[1]) if self.kind == "contact" else company_name_key(row[0])

    def _name_rows(self, condition):
        cols = columns(self.kind)
        name_cols = cols[1:3] if self.kind == "contact" else cols[1:2]
        return self.session.execute(select(cols[0], *name_cols).where(condition))

    def _names(self, ids: set[int], read: dict[int, Entry]) -> dict[int, str]:
        """{id: normalised name} of `ids` (remembered ones, those of the records `read` by a key, the last
        look-up's, the rest read: a record of a word remembered from an earlier batch whose name was let go).
        Of a row already in the register, the record of its rarest word is most often the one its key found:
        its name is normalised once (twice was 6 % of a dry run's CPU against a register holding the file)."""
        missing = ids - self.names.keys()
        if len(self.names) + len(missing) > NAME_CACHE:
            self.names = {i: self.names[i] for i in ids - missing}
        rest = []
        for i in missing:
            if i in read:
                self.names[i] = read[i].name
            elif i in self.found_names:
                self.names[i] = self._normalised(self.found_names[i])
            else:
                rest.append(i)
        if rest:
            for row in self._name_rows(any_of(self.session, self.model.id, rest)):
                self.names[row[0]] = self._normalised(row[1:])
        return self.names

    def _look_up_words(self, words: set[str]) -> None:
        """Remember, for each of `words` not known yet, the live records (ids) whose searched text has it, or None
        when more than MAX_WORD_BLOCK records have it."""
        from services import search

        # the batch's remembered words are the most recently used now (not `words - set(self.words)`: a set of
        # every remembered word each batch was 7 % of a dry run's CPU against a filled register)
        new = set()
        for word in words:
            if word in self.words:
                self.words.move_to_end(word)
            else:
                new.add(word)
        ids_of = search.word_candidates(self.session, self.model, new, limit=MAX_WORD_BLOCK)
        wanted = {i for ids in ids_of.values() if ids for i in ids}
        self.found_names = {}
        if wanted:
            condition = and_(live_condition(self.kind), any_of(self.session, self.model.id, wanted))
            self.found_names = {row[0]: tuple(row[1:]) for row in self._name_rows(condition)}
        for word, ids in ids_of.items():
            members = None if ids is None else tuple(i for i in ids if i in self.found_names)
            self.words[word] = members
            self.cached += len(members or ()) + 1
        while self.cached > WORD_CACHE and self.words:
            oldest = next(iter(self.words))
            if oldest in words:
                break  # the batch's own words (all from here on) stay: one let go would read as "too common"
            self.cached -= len(self.words.pop(oldest) or ()) + 1

    def _key_entries(self, entries: list[Entry]) -> list[Entry]:
        """The live records sharing a key with one of `entries`, in one statement: the rows found through each key
        column's own index, united (as one OR, a column without a usable index made SQLite read the whole table
        for every batch; as the ids united and then their rows read by id, PostgreSQL joined them with the whole
        table read for each batch, a cost growing with the register: at 100,000 companies, batches of 1,000 rows,
        163 → 132 ms a batch, SQLite unchanged). An e-mail found in another case than lower()
        (`email_condition`) shares no key with the entries and is never compared."""
        ids = {v for e in entries for k in e.ids for v in stored_ids(self.kind, k)}
        emails = {k for e in entries for k in e.emails}
        phones = {p for e in entries for k in e.phones for p in ("+" + k, k)}
        found = []
        for column, values in KEY_COLUMNS[self.kind]:
            wanted = {"id": ids, "email": emails, "phone": phones}[values]
            if wanted:
                condition = (
                    email_condition(self.session, column, wanted)
                    if values == "email"
                    else any_of(self.session, column, wanted)
                )
                found.append(select(*columns(self.kind)).where(live_condition(self.kind), condition))
        if not found:
            return []
        return self._entries_of(self.session.execute(union(*found) if len(found) > 1 else found[0]).all())

    def _entries(self, condition) -> list[Entry]:
        """The live records meeting `condition` as Entries (contacts with their companies)."""
        if condition is None:
            return []
        return self._entries_of(
            self.session.execute(select(*columns(self.kind)).where(live_condition(self.kind), condition)).all()
        )

    def _entries_of(self, rows) -> list[Entry]:
        """Entries of rows of `columns` (contacts with their companies)."""
        entries = [_entry_of_row(self.kind, row, self.known_names) for row in rows]
        if self.kind == "contact" and entries:
            links: dict[int, list[int]] = defaultdict(list)
            for contact_id, company_id in self.session.execute(
                select(CompanyContact.contact_id, CompanyContact.company_id).where(
                    any_of(self.session, CompanyContact.contact_id, [e.id for e in entries])
                )
            ):
                links[contact_id].append(company_id)
            for entry in entries:
                entry.companies = tuple(links.get(entry.id, ()))
        return entries


def any_of(session: Session, column, values: Iterable[int | str]):
    """`column IN values` as services.bulk.one_of, with PostgreSQL's array given as one text cast to the column's
    array type (services.search.pg_array: faster than psycopg's dumping of a list)."""
    if session.get_bind().dialect.name != "postgresql":
        return bulk.one_of(session, column, values)
    from services import search

    literal = search.pg_array(values)
    return column == any_(cast(bindparam(None, literal, type_=String), ARRAY(column.type)))


def analyze_if_stale(session: Session, model) -> bool:
    """PostgreSQL: ANALYZE the table of `model` when its statistics are older than autovacuum would let them be
    (never analyzed, or more rows changed since than 50 + 10 % of those it knew: autovacuum's own threshold); True
    when it did. A dry run just after an import of many rows found the planner taking the register for the
    empty table it had been and reading it whole for every batch's keys (30,000 companies, a batch of 1,000 rows:
    three sequential scans, 90 ms, instead of three index look-ups); autovacuum runs a minute later at the
    earliest, or never where it is off. Run on a connection of its own, committed at once, so the table's
    ANALYZE lock is not held through the caller's transaction; a user who does not own the table is only warned
    by PostgreSQL, and the plans stay as they were."""
    if session.get_bind().dialect.name != "postgresql":
        return False
    table = model.__tablename__
    stale = session.execute(
        text(
            "SELECT c.reltuples < 0 OR s.n_mod_since_analyze > 50 + 0.1 * c.reltuples FROM pg_class c "
            "JOIN pg_stat_user_tables s ON s.relid = c.oid WHERE c.oid = to_regclass(:table)"
        ),
        {"table": f'"{table}"'},
    ).scalar()
    if not stale:
        return False
    analyze(session, model)
    return True


def analyze(session: Session, model) -> None:
    """PostgreSQL: ANALYZE the table of `model` now, on a connection of its own (see `analyze_if_stale`)."""
    if session.get_bind().dialect.name != "postgresql":
        return
    with session.get_bind().engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.exec_driver_sql(f'ANALYZE "{model.__tablename__}"')


def stored_ids(kind: str, key: str) -> tuple[str, ...]:
    """An Entry's organisationsnummer or personnummer (digits) as the register may store it: a personnummer
    as `YYYYMMDD-NNNN` (services.validation), an organisationsnummer as its ten digits."""
    if kind == "contact" and len(key) == 12:
        return (key, f"{key[:8]}-{key[8:]}")
    return (key,)


#: Per register, the indexed columns its records' keys are looked up in: (column, "id" | "email" | "phone"); an
#: e-mail column through `email_condition`.
KEY_COLUMNS: dict[str, list[tuple[Any, str]]] = {
    "company": [
        (Company.org_number, "id"),
        (Company.email, "email"),
        (Company.phone, "phone"),
    ],
    "contact": [
        (Contact.personal_number, "id"),
        (Contact.email, "email"),
        (Contact.phone, "phone"),
        (Contact.mobile, "phone"),
    ],
    "lead": [
        (Lead.org_number, "id"),
        (Lead.contact_email, "email"),
        (Lead.contact_phone, "phone"),
    ],
}

#: Letters other than A–Z an address may hold in either case that `email_condition` asks for both ways, at most
#: (2 ** this variants); an address with more is compared through lower() without an index.
MAX_CASED_LETTERS = 4


def email_condition(session: Session, column, emails: Iterable[str]):
    """The records whose e-mail `column` is one of `emails` (in lower case) in any case, by an index: on
    PostgreSQL `lower(column)` (migration 0032); on SQLite, whose lower() is the app's own function and must not
    be indexed, `column COLLATE NOCASE` (migration 0037), which folds only A–Z, so each address is asked for
    with its other letters (å, ä, ö, é …) in each case too. The rows found may differ from `emails` in case
    only: the caller compares them in lower case (`email_key`)."""
    emails = sorted(set(emails))
    if session.get_bind().dialect.name == "postgresql":
        return any_of(session, func.lower(column, type_=String), emails)
    variants: list[str] = []
    unindexed: list[str] = []
    for email in emails:
        if email.isascii():
            variants.append(email)
            continue
        cased = [i for i, c in enumerate(email) if not c.isascii() and c.upper() != c and len(c.upper()) == 1]
        # a letter whose upper case is two (ß, ligatures) or that a capital lowers to with a mark (İ → i̇)
        odd = any(not c.isascii() and (len(c.upper()) != 1 or c == "\u0307") for c in email)
        if len(cased) > MAX_CASED_LETTERS or odd:
            unindexed.append(email)
            continue
        for mask in range(2 ** len(cased)):
            letters = list(email)
            for bit, i in enumerate(cased):
                if mask >> bit & 1:
                    letters[i] = letters[i].upper()
            variants.append("".join(letters))
    condition = bulk.one_of(session, column.collate("NOCASE"), variants)
    if unindexed:
        return or_(condition, bulk.one_of(session, func.lower(column, type_=String), unindexed))
    return condition


def same_email(session: Session, column, email: str):
    """The records whose e-mail `column` is `email` in any case, found by `email_condition`'s index."""
    email = email.lower()
    return and_(email_condition(session, column, [email]), func.lower(column, type_=String) == email)


# --- one record: the entry forms and the records changed since the scan -------------------------------


def _candidates(session: Session, kind: str, entry: Entry, exclude_id: int | None, limit: int = 50) -> list:
    """Live records sharing a blocking key with `entry`, or whose name shares its most telling word."""
    model = KINDS[kind]
    cols = columns(kind)
    conditions = []
    if kind == "company":
        if entry.ids:
            conditions.append(Company.org_number.in_(entry.ids))
        if entry.emails:
            conditions.append(email_condition(session, Company.email, entry.emails))
        if entry.phones:
            conditions.append(Company.phone.in_({"+" + p for p in entry.phones} | set(entry.phones)))
    elif kind == "contact":
        if entry.ids:
            conditions.append(Contact.personal_number.in_([v for k in entry.ids for v in stored_ids(kind, k)]))
        if entry.emails:
            conditions.append(email_condition(session, Contact.email, entry.emails))
        if entry.phones:
            phones = {"+" + p for p in entry.phones} | set(entry.phones)
            conditions += [Contact.phone.in_(phones), Contact.mobile.in_(phones)]
    else:
        if entry.ids:
            conditions.append(Lead.org_number.in_(entry.ids))
        if entry.emails:
            conditions.append(email_condition(session, Lead.contact_email, entry.emails))
        if entry.phones:
            conditions.append(Lead.contact_phone.in_({"+" + p for p in entry.phones} | set(entry.phones)))
    rows: list[Any] = []
    if conditions:
        stmt = select(*cols).where(live_condition(kind), or_(*conditions)).limit(limit)
        rows += session.execute(stmt).all()
    word = entry.word or max(telling_words(entry.name), key=len, default="")
    if word:
        from services import search

        found = search.search(session, model, word[:4] if len(word) > 4 else word, limit=limit)
        ids = [r.id for r in found]
        if ids:
            rows += session.execute(select(*cols).where(model.id.in_(ids))).all()
    seen, result = set(), []
    for row in rows:
        if row[0] != exclude_id and row[0] not in seen:
            seen.add(row[0])
            result.append(row)
    return result


@dataclass
class Match:
    """A likely duplicate of a record: the record, its score and the reasons."""

    kind: str
    record: Any
    score: int
    reasons: list[str]

    @property
    def reason_labels(self) -> list[str]:
        return [str(REASONS[r]) for r in self.reasons]


def check(
    session: Session, kind: str, record, *, threshold: int = THRESHOLD, companies: Iterable[int] = ()
) -> list[Match]:
    """The live records that `record` (saved or not) is likely a duplicate of, best first."""
    return check_entry(session, kind, entry_of(kind, record, companies), getattr(record, "id", None), threshold)


def check_entry(
    session: Session, kind: str, entry: Entry, exclude_id: int | None = None, threshold: int = THRESHOLD
) -> list[Match]:
    """The live records of the register `kind` that `entry` is likely a duplicate of, best first, by query."""
    rows = _candidates(session, kind, entry, exclude_id)
    links: dict[int, set[int]] = defaultdict(set)
    if kind == "contact" and rows:
        for contact_id, company_id in session.execute(
            select(CompanyContact.contact_id, CompanyContact.company_id).where(
                CompanyContact.contact_id.in_([r[0] for r in rows])
            )
        ):
            links[contact_id].add(company_id)
    scored = []
    for row in rows:
        other = _entry_of_row(kind, row)
        other.companies = tuple(links.get(other.id, ()))
        value, reasons = score(kind, entry, other)
        if value >= threshold:
            scored.append((value, reasons, other.id))
    scored.sort(key=lambda s: (-s[0], s[2]))
    model = KINDS[kind]
    records = {r.id: r for r in session.scalars(select(model).where(model.id.in_([s[2] for s in scored])))}
    return [Match(kind, records[i], value, reasons) for value, reasons, i in scored]


# --- the list of pairs -------------------------------------------------------------------------------


#: The order of the listed pairs: best score first (paged by key).
PAIR_ORDER = paging.ListOrder([DuplicatePair.score], DuplicatePair.id, descending=True)


def listed_pairs(kind: str):
    """The pairs of the register `kind` the Dubbletter page lists: not marked "not duplicates", scoring
    THRESHOLD or more, both records still live (a statement to page by key)."""
    model = KINDS[kind]
    low, high = aliased(model), aliased(model)
    return (
        select(DuplicatePair)
        .join(low, low.id == DuplicatePair.low_id)
        .join(high, high.id == DuplicatePair.high_id)
        .where(
            DuplicatePair.entity_type == kind,
            DuplicatePair.dismissed_at.is_(None),
            DuplicatePair.score >= THRESHOLD,
            live_condition(kind, low),
            live_condition(kind, high),
        )
    )


def dismiss(session: Session, actor, kind: str, pair_id: int) -> DuplicatePair | None:
    """ "Inte dubbletter": the pair of the register `kind` is never listed again (a later scan keeps it
    marked); None when there is no such pair. The caller commits."""
    if not permitted(actor, kind):
        raise NotPermitted(kind)
    pair = session.get(DuplicatePair, pair_id)
    if pair is None or pair.entity_type != kind:
        return None
    if pair.dismissed_at is None:
        pair.dismissed_at, pair.dismissed_by_id = utcnow(), actor.id
    session.flush()
    return pair


def record_pairs(session: Session, kind: str, record_id: int, matches: list[Match]) -> int:
    """Store the pairs a record makes with its `matches` (not those already known); returns how many are new."""
    added = 0
    for match in matches:
        low, high = sorted((record_id, match.record.id))
        existing = session.scalar(
            select(DuplicatePair).where(
                DuplicatePair.entity_type == kind, DuplicatePair.low_id == low, DuplicatePair.high_id == high
            )
        )
        if existing is None:
            session.add(
                DuplicatePair(entity_type=kind, low_id=low, high_id=high, score=match.score, reasons=match.reasons)
            )
            added += 1
        elif existing.dismissed_at is None:
            existing.score, existing.reasons = match.score, match.reasons
    session.flush()
    return added
