"""The import itself: a dry run and a write that classify every row the same way.

Rows are read from the file and handled in batches of BATCH_SIZE (SQLITE_BATCH_SIZE
on SQLite, DRY_RUN_BATCH_SIZE in a dry run): parsed and validated cell by cell (in
worker processes for a large file, see services.importing.parallel), resolved against
the database (kundansvarig, bransch, categories, the company a contact belongs to), matched on the natural key the
user chose with one query per batch, and classified as new, updated, unchanged
or error. The dry run stops there. The write inserts the batch's new records
with one executemany (customer numbers allocated as a block), updates the
changed ones with one executemany per set of changed columns, links categories
and companies, and writes the audit events set-based, marked with the job, and the webhook
deliveries of the records created and updated (services.webhooks.record_written).

Memory stays flat in the file's size: the file is streamed, and the keys seen
so far (for duplicates inside the file) live in a temporary SQLite file.
"""

from __future__ import annotations

import bisect
import gc
import hashlib
import json
import marshal
import os
import pickle
import sqlite3
import stat
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from itertools import islice
from operator import attrgetter
from typing import IO

from flask_babel import gettext as _
from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.orm import Session

from models import (
    Category,
    Company,
    CompanyContact,
    ConsentMixin,
    Contact,
    Employee,
    ImportJob,
    Industry,
    Lead,
    company_categories,
    contact_categories,
    lead_categories,
    table_of,
    utcnow,
)
from services import (
    bulk,
    consent,
    duplicates,
    employees,
    fields,
    name_keys,
    numbering,
    privacy,
    register,
    webhooks,
)
from services.audit import plain, record_bulk
from services.importing import parallel
from services.importing.fields import ENTITIES, Entity, RowError, RowParser
from services.importing.reader import FileProblem, Table
from services.validation import InvalidValue

BATCH_SIZE = 1000
#: On SQLite a write batch holds the database's only write lock from its first write to its commit,
#: and every other user's save waits for it: half the rows there (at 6,000 rows/s under a tenth of a
#: second's wait), and other users' saves get in between two batches. Each batch and its commit cost
#: the same again whatever its size (the statements, the job's row, the pages of 14 indexes and the
#: search index written to the log): 30,000 companies in-process, side by side, 5,550 rows per
#: CPU-second with 250 rows a batch, 6,250 with 500, 6,480 with 1,000. PostgreSQL has no such lock,
#: and there the larger batch costs fewer round trips.
SQLITE_BATCH_SIZE = 500
#: A dry run writes nothing, so it reads batches of this size on either database: on PostgreSQL batches of
#: 1,000 made the queue worker 8 MB larger in a dry run of 100,000 companies (161 against 153 MB at its
#: peak, 16.7 against 16.0 CPU-seconds). The write reads the dry run's rows in its own batches.
DRY_RUN_BATCH_SIZE = 250
#: Errors kept per job for the preview and the error file (all are counted).
MAX_STORED_ERRORS = 10_000
#: Fields set only when a record is created, never changed by an update.
CREATE_ONLY = {"created_at", "customer_number"}
#: Fields parsed first: others depend on them (the country decides how orgnr, postcode and phone are read).
FIRST = ("country",)

CATEGORY_LINKS = {
    "company": company_categories,
    "contact": contact_categories,
    "privatecustomer": contact_categories,
    "lead": lead_categories,
}
CATEGORY_SCOPE = {"company": "company", "contact": "contact", "privatecustomer": "contact", "lead": "company"}
#: The registers (services.duplicates kinds) a dry run compares an entity's new rows with: a customer's
#: organisationsnummer is pointed out when it is a lead's, and the reverse.
DUPLICATE_REGISTERS = {
    "company": ("company", "lead"),
    "lead": ("lead", "company"),
    "contact": ("contact",),
    "privatecustomer": ("contact",),
}
#: Likely duplicates pointed out per row, at most.
NOTICES_PER_ROW = 3


class Cancelled(Exception):
    """The user cancelled the job; raised by the batch hook between batches."""


@dataclass
class Counts:
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: int = 0
    notices: int = 0


@dataclass
class Row:
    number: int
    values: dict
    errors: list[RowError] = field(default_factory=list)
    key: object = None
    existing_id: int | None = None
    changes: dict = field(default_factory=dict)
    new_categories: list = field(default_factory=list)
    outcome: str = ""
    notices: list[RowError] = field(default_factory=list)
    #: What the row is compared on for likely duplicates, made while it was parsed (a dry run's rows without
    #: errors: services.name_keys.entry_fields), or None.
    entry: tuple | None = None
    #: The Kundansvarig cell as the file has it (an employee's name or e-mail), for its row error.
    owner_cell: str | None = None


#: A list of values given as one parameter (a JSON array) to the temporary files' `IN`: one statement text
#: whatever the list's length. With a "?" for each value (500 at a time) the last piece's length varied, so
#: each query had up to 500 texts, and the connection's cache of 128 prepared statements (some 60 KB each)
#: held 8 MB more in a dry run of 100,000 companies; the same CPU per look-up (500 keys: 0.49 ms both ways).
_LISTED = "(SELECT value FROM json_each(?))"


#: The temporary files' SQLite page cache (KB; SQLite's default is 2,000). The operating system caches the
#: files anyway: 200 KB each made the queue worker 3 MB smaller in a dry run of 100,000 companies, at the
#: same CPU (23.6 CPU-seconds both, side by side, validated in the worker).
TEMP_CACHE_KB = 200


def _temporary_db(path: str) -> sqlite3.Connection:
    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode=OFF")
    db.execute("PRAGMA synchronous=OFF")
    db.execute(f"PRAGMA cache_size = -{TEMP_CACHE_KB}")
    return db


class SeenKeys:
    """The natural keys met so far in the file, with their row: a temporary SQLite file, not memory."""

    def __init__(self):
        handle, self.path = tempfile.mkstemp(prefix="crm-import-", suffix=".sqlite")
        os.close(handle)
        self.db = _temporary_db(self.path)
        self.db.execute("CREATE TABLE seen (key TEXT PRIMARY KEY, row INTEGER) WITHOUT ROWID")
        self.db.commit()
        os.unlink(self.path)  # open, it lives on; a worker killed mid-pass leaves no file behind

    def earlier_rows(self, keys: list[str]) -> dict[str, int]:
        return dict(self.db.execute(f"SELECT key, row FROM seen WHERE key IN {_LISTED}", [json.dumps(keys)]))

    def add(self, pairs: list[tuple[str, int]]) -> None:
        self.db.executemany("INSERT OR IGNORE INTO seen VALUES (?, ?)", pairs)

    def close(self) -> None:
        self.db.close()


def _sharing_or_without_ids(ids: tuple[str, ...], others: list[str], *, several: bool) -> list[int]:
    """The indexes of `others` (rows' ids, space-separated; "" for none) that have no id or share one of `ids`;
    `several`: whether any of `others` may hold more than one. A row has one id (or none) and mostly shares none:
    that is seen by two searches of the list in C, not a Python step a row."""
    if len(ids) == 1 and not several:
        if "" not in others and ids[0] not in others:
            return []
        return [i for i, v in enumerate(others) if not v or v == ids[0]]
    same = set(ids)
    return [i for i, v in enumerate(others) if not v or not same.isdisjoint(v.split())]


class FileEntries:
    """The file's new rows met so far, as services.duplicates Entries (id: the row's number), in a temporary
    SQLite file, not memory: a new row is compared with the earlier rows sharing a key or its rarest name word,
    blocked and scored as the register is (services.duplicates.blocked_matches), never with every row."""

    def __init__(self):
        handle, path = tempfile.mkstemp(prefix="crm-import-rows-", suffix=".sqlite")
        os.close(handle)
        self.db = _temporary_db(path)
        self.db.execute("CREATE TABLE entry (row INTEGER PRIMARY KEY, data TEXT)")
        self.db.execute("CREATE TABLE key (key TEXT, row INTEGER, PRIMARY KEY (key, row)) WITHOUT ROWID")
        # ids: the row's organisationsnummer or personnummer (Entry.ids, space-separated), to leave out before its
        # name is compared a row that `score` would give 0 for a different one
        self.db.execute(
            "CREATE TABLE word (word TEXT, row INTEGER, name TEXT, ids TEXT, PRIMARY KEY (word, row)) WITHOUT ROWID"
        )
        # how many rows have each word, kept as they are added (counting a common word's rows each batch grew
        # with the file)
        self.db.execute("CREATE TABLE word_count (word TEXT PRIMARY KEY, rows INTEGER) WITHOUT ROWID")
        self.db.commit()
        os.unlink(path)  # open, it lives on
        #: The rows ([row …], [normalised name …], [ids …], in row order) of the words looked up lately that have at
        #: most MAX_WORD_BLOCK rows, kept up to date as rows are added, at most WORD_CACHE rows in all: a word of a
        #: common trade is looked up by batch after batch, and reading its rows from the file again each time
        #: was most of the cost.
        self.word_rows: dict[str, tuple[list[int], list[str], list[str]]] = {}
        self.word_rows_held = 0
        #: Whether a row added had more than one id (Entry.ids; made with one at most).
        self.several_ids = False

    #: Rows the word cache holds at most (about 8 MB).
    WORD_CACHE = 50_000

    #: What an Entry is kept with (its name words are looked up in the word table).
    FIELDS = ("id", "name", "ids", "emails", "phones", "city", "domain", "companies", "first", "last")

    _kept = staticmethod(attrgetter(*FIELDS))

    def add(self, entries: list[duplicates.Entry]) -> None:
        self.db.executemany(
            "INSERT OR IGNORE INTO entry VALUES (?, ?)",
            [(e.id, marshal.dumps(self._kept(e))) for e in entries],
        )
        self.db.executemany(
            "INSERT OR IGNORE INTO key VALUES (?, ?)",
            [(k, e.id) for e in entries for k in (*e.ids, *e.emails, *e.phones)],
        )
        self.several_ids = self.several_ids or any(len(e.ids) > 1 for e in entries)
        words = [
            (w, e.id, e.name, " ".join(e.ids)) for e in entries for w in dict.fromkeys(duplicates.telling_words(e.name))
        ]
        self.db.executemany("INSERT OR IGNORE INTO word VALUES (?, ?, ?, ?)", words)
        for word, row, name, ids in words:
            cached = self.word_rows.get(word)
            if cached is None:
                continue
            rows, names, row_ids = cached
            if len(rows) >= duplicates.MAX_WORD_BLOCK:  # too common to be chosen again (counts only grow)
                self.word_rows_held -= len(self.word_rows.pop(word)[0])
            elif not rows or rows[-1] < row:  # a resumed pass adds the same rows again: kept once
                rows.append(row)
                names.append(name)
                row_ids.append(ids)
                self.word_rows_held += 1
        self.db.executemany(
            "INSERT INTO word_count VALUES (?, 1) ON CONFLICT (word) DO UPDATE SET rows = rows + 1",
            [(w,) for w, _row, _name, _ids in words],
        )

    def _select(self, sql: str, values) -> list[tuple]:
        """`sql` with "(?)" standing for the values (given as one JSON array, see _LISTED)."""
        return self.db.execute(sql.replace("(?)", _LISTED), [json.dumps(list(values))]).fetchall()

    def matches_many(self, kind: str, entries: list[duplicates.Entry]) -> list[list[duplicates.Found]]:
        """For each of `entries` (added already), (score, reasons, row) of the earlier rows it is likely a
        duplicate of, best first."""
        keys = {k for e in entries for k in (*e.ids, *e.emails, *e.phones)}
        key_rows: dict[str, list[int]] = defaultdict(list)
        for key, row in self._select("SELECT key, row FROM key WHERE key IN (?)", keys):
            key_rows[key].append(row)
        names = {e.id: duplicates.telling_words(e.name) for e in entries}
        words = {w for found in names.values() for w in found}
        counts = dict(self._select("SELECT word, rows FROM word_count WHERE word IN (?)", words))
        chosen = {}
        for entry in entries:
            counted = [(counts[w], w) for w in names[entry.id] if 1 < counts.get(w, 0) <= duplicates.MAX_WORD_BLOCK]
            if counted:
                chosen[entry.id] = min(counted)[1]
        word_rows = self._word_rows(set(chosen.values()))
        named = {}
        for e in entries:
            if e.id in chosen:
                rows, row_names, row_ids = word_rows[chosen[e.id]]
                earlier = bisect.bisect_left(rows, e.id)  # only the rows before this one
                if e.ids:
                    # an earlier row with another organisationsnummer (personnummer) scores 0 (`score`): not compared
                    # (in a file of distinct companies with look-alike names, reading and scoring them was a tenth
                    # of the dry run's CPU)
                    kept = _sharing_or_without_ids(e.ids, row_ids[:earlier], several=self.several_ids)
                    alike = duplicates.alike_indexes(e, [row_names[i] for i in kept]) if kept else []
                    named[e.id] = [rows[kept[i]] for i in alike]
                else:
                    named[e.id] = [rows[i] for i in duplicates.alike_indexes(e, row_names[:earlier])]
        # the first MAX_BLOCK rows of a key (a switchboard) are compared; a key of one row (most are: the row's
        # own) has no earlier row to compare
        shared = {key: sorted(rows)[: duplicates.MAX_BLOCK] for key, rows in key_rows.items() if len(rows) > 1}
        # the batch's own rows are at hand (most keys find only their own row): only earlier batches' are read
        known = {e.id: e for e in entries}
        wanted = {r for rows in (*shared.values(), *named.values()) for r in rows} - known.keys()
        for row, data in self._select("SELECT row, data FROM entry WHERE row IN (?)", wanted):
            known[row] = duplicates.Entry(*marshal.loads(data))
        found: list[list[duplicates.Found]] = []
        for entry in entries:
            key_blocks = {
                k: [known[r] for r in shared[k] if r < entry.id]
                for k in (*entry.ids, *entry.emails, *entry.phones)
                if k in shared
            }
            named_entries = [known[r] for r in named.get(entry.id, ())]
            # most rows have no earlier row to compare: no call
            found.append(
                duplicates.blocked_matches(kind, entry, key_blocks, named_entries)
                if named_entries or any(key_blocks.values())
                else []
            )
        return found

    def _word_rows(self, words: set[str]) -> dict[str, tuple[list[int], list[str], list[str]]]:
        """{word: ([row …], [normalised name …], [ids …]) in row order} of `words`, from the cache or the file."""
        missing = words - self.word_rows.keys()
        found = {w: self.word_rows[w] for w in words - missing}
        if missing:
            read: dict[str, tuple[list[int], list[str], list[str]]] = {w: ([], [], []) for w in missing}
            for word, row, name, ids in self._select(
                "SELECT word, row, name, ids FROM word WHERE word IN (?) ORDER BY word, row", missing
            ):
                read[word][0].append(row)
                read[word][1].append(name)
                read[word][2].append(ids)
            found |= read
            held = sum(len(rows) for rows, _names, _ids in read.values())
            if self.word_rows_held + held > self.WORD_CACHE:
                self.word_rows, self.word_rows_held = {}, 0
            if held <= self.WORD_CACHE:
                self.word_rows |= read
                self.word_rows_held += held
        return found

    def close(self) -> None:
        self.db.close()


def _private(folder: str) -> bool:
    """True when `folder` is a real directory of this process's user that nobody else may enter."""
    info = os.lstat(folder)
    return stat.S_ISDIR(info.st_mode) and info.st_uid == os.getuid() and not info.st_mode & 0o077


class ParsedRows:
    """The dry run's parsed and validated rows, kept in a private local file for the write of the same job.

    Parsing is a pure function of the file and the mapping, so the write need
    not validate every cell again; when the write runs on another server (or
    the file is gone) it parses the file itself. Only this process's user can
    read the file, and it is removed when the write has read it.
    """

    def __init__(self, job: ImportJob):
        digest = hashlib.sha256(
            json.dumps([job.storage_key, job.sheet, job.entity, job.mapping], sort_keys=True).encode()
        ).hexdigest()
        folder = os.path.join(tempfile.gettempdir(), f"crm-import-{os.getuid()}")
        os.makedirs(folder, mode=0o700, exist_ok=True)
        if not _private(folder):  # someone else made it first: a folder of our own, never read back by the write
            folder = tempfile.mkdtemp(prefix="crm-import-")
        self.path = os.path.join(folder, f"job-{job.id}-{digest[:24]}.pickle")
        self._out: IO[bytes] | None = None

    @property
    def available(self) -> bool:
        return os.path.exists(self.path)

    #: Kept at most this long for a write that never came (seconds).
    MAX_AGE = 24 * 3600

    def start(self) -> None:
        self._remove_stale()
        self._out = open(self.path + ".part", "wb")

    def _remove_stale(self) -> None:
        folder, limit = os.path.dirname(self.path), time.time() - self.MAX_AGE
        for name in os.listdir(folder):
            path = os.path.join(folder, name)
            try:
                if os.path.getmtime(path) < limit:
                    os.unlink(path)
            except FileNotFoundError:  # removed by another worker meanwhile
                pass

    def _file(self) -> IO[bytes]:
        if self._out is None:
            raise RuntimeError("the row cache is written between start() and finish()")
        return self._out

    def add(self, rows: list[Row]) -> None:
        pickle.dump([(r.number, r.values, r.errors) for r in rows], self._file(), protocol=pickle.HIGHEST_PROTOCOL)

    def finish(self) -> None:
        self._file().close()
        os.replace(self.path + ".part", self.path)

    def abandon(self) -> None:
        if self._out:
            self._out.close()
        for path in (self.path + ".part", self.path):
            if os.path.exists(path):
                os.unlink(path)

    def batches(self, size: int):
        """The kept rows in batches of `size` (the dry run kept them in its own batches)."""
        rows: list[Row] = []
        with open(self.path, "rb") as f:
            while True:
                try:
                    kept = pickle.load(f)
                except EOFError:
                    break
                rows += [Row(number, values, errors) for number, values, errors in kept]
                while len(rows) >= size:
                    yield rows[:size]
                    rows = rows[size:]
        if rows:
            yield rows


@dataclass
class Resume:
    """Where a pass taken over from a worker that died goes on: after its committed batches."""

    batches_done: int = 0
    counts: Counts = field(default_factory=Counts)
    categories_created: list[str] = field(default_factory=list)


@dataclass
class Result:
    counts: Counts
    new_categories: list[str]


BatchHook = Callable[[Counts, list[RowError], list[str]], None]


def mapping_problem(job: ImportJob) -> str | None:
    """What the job's column mapping lacks for a pass to run (required columns; the column matched on when
    existing records are updated), in Swedish; None when it lacks nothing. The same file and mapping would fail
    the same way, so the job page offers the mapping rather than "Försök igen" (services.importing.jobs)."""
    spec = ENTITIES[job.entity]
    mapped = set((job.mapping or {}).values())
    missing = [] if job.mode == "update" else [f for f in spec.required if f.key not in mapped]
    if missing:  # (an update needs only the key; the rest keeps its values)
        return _(
            "Required columns are missing: %(columns)s. Add them to the file or map them to a column.",
            columns=", ".join(str(f.label) for f in missing),
        )
    if job.mode != "create" and job.match_key not in mapped:
        label = fields.label(job.match_key or "")
        return _("To update existing records, map a column to the field you match on (%(field)s).", field=label)
    return None


class Importer:
    """One pass over a file for one job: `write=False` is the dry run."""

    def __init__(
        self,
        session: Session,
        job: ImportJob,
        *,
        write: bool,
        after_batch: BatchHook | None = None,
        workers: int = 0,
        resume: Resume | None = None,
        skipped_batch: Callable[[], None] | None = None,
    ):
        self.session = session
        self.workers = workers
        self.job = job
        self.entity: Entity = ENTITIES[job.entity]
        self.write = write
        self.after_batch = after_batch or (lambda counts, errors, categories: None)
        self.mapping = {int(i): k for i, k in (job.mapping or {}).items() if k}
        self.model = self.entity.model
        self.table = table_of(self.model)
        #: The register records consents (contacts, leads): their dates and sources are written with them.
        self.consented = issubclass(self.model, ConsentMixin)
        self.resume = resume or Resume()
        self.skipped_batch = skipped_batch or (lambda: None)
        self.counts = Counts(**vars(self.resume.counts))
        self.category_names_created: list[str] = list(self.resume.categories_created)
        self.actor_id = job.created_by_id
        #: The registers new rows are compared with (looked up a batch at a time).
        self.registers = [duplicates.RegisterLookup(session, kind) for kind in DUPLICATE_REGISTERS[self.entity.key]]

    # --- set-up -----------------------------------------------------------------

    def _check_columns(self, headers: list[str]) -> None:
        problem = mapping_problem(self.job)
        if problem:
            raise FileProblem(problem)
        self.headers = headers
        order = sorted(self.mapping.items(), key=lambda item: item[1] not in FIRST)
        self.columns = [
            (index, self.entity.field(key), headers[index] if index < len(headers) else str(index + 1))
            for index, key in order
        ]
        # a dry run that may find new rows has each row's Entry made where it is parsed (`_new_entries`)
        entry_kind = self._row_kind if not self.write and self.job.mode != "update" else None
        self.parser = RowParser(
            self.entity.key, [(index, fld.key, header) for index, fld, header in self.columns], entry_kind
        )

    def _load_references(self) -> None:
        s = self.session
        self.employees: dict[str, int | None] = {}
        #: The employees who may not be chosen for anything new (services.employees.choosable: the inactive).
        self.unchoosable: set[int] = set()
        for ident, email, name, choosable in s.execute(
            select(Employee.id, Employee.email, Employee.name, employees.choosable())
        ):
            self.employees[email.lower()] = ident
            # the same name twice is ambiguous: None
            self.employees[name.lower()] = None if name.lower() in self.employees else ident
            if not choosable:
                self.unchoosable.add(ident)
        self.industries = {}
        for ident, name, sni in s.execute(select(Industry.id, Industry.name, Industry.sni_code)):
            self.industries[name.lower()] = ident
            if sni:
                self.industries.setdefault(sni.lower(), ident)
        self.category_names = dict(s.execute(select(Category.id, Category.name)).all())
        self.categories = {name.lower(): ident for ident, name in self.category_names.items()}

    # --- the pass ---------------------------------------------------------------

    def _batch_size(self) -> int:
        size = BATCH_SIZE
        if self.session.get_bind().dialect.name == "sqlite":
            size = min(size, SQLITE_BATCH_SIZE)
        return size if self.write else min(size, DRY_RUN_BATCH_SIZE)

    def _parsed_batches(self, table: Table):
        size = self._batch_size()
        batches = iter(lambda: list(islice(table.rows, size)), [])
        for parsed in parallel.parsed_batches(self.parser, batches, self.workers):
            yield [Row(row[0], row[1], row[2], entry=row[3] if len(row) > 3 else None) for row in parsed]

    def run(self, table: Table, cache: ParsedRows | None = None) -> Result:
        """One pass; the dry run fills `cache`, a write reads it when it is there."""
        self._check_columns(table.headers)
        self._load_references()
        self.seen = SeenKeys()
        self.org_numbers_seen = SeenKeys() if self._checks_org_numbers else None
        self.file_entries = FileEntries() if not self.write else None
        self.pending_categories: dict[str, str] = {}
        from_cache = bool(cache and self.write and cache.available)
        keep = cache if cache and not self.write else None
        if keep:
            keep.start()
        # what is alive when the pass begins (the app, its modules, SQLAlchemy's mappers) is left out of the pass's
        # full garbage collections, which traversed it again and again: in a dry run against a register holding the
        # file's 30,000 companies the collections were 13 % of the pass's CPU (one process, cProfile), 3 % frozen;
        # the queue worker's own rows per CPU-second of it rose 3–18 % (bench/import_bench.py, SQLite and PostgreSQL)
        gc.freeze()
        try:
            batches = (
                cache.batches(self._batch_size()) if cache is not None and from_cache else self._parsed_batches(table)
            )
            for number, rows in enumerate(batches):
                if keep:
                    keep.add(rows)
                self._resolve(rows)
                if number < self.resume.batches_done:
                    # written (and counted) by an earlier run of this pass: only remember its keys (and, in a
                    # dry run, its new rows, for the later rows' likely duplicates in the file)
                    if self.file_entries:
                        self._match(rows)
                        self._check_org_numbers(rows)
                        self.file_entries.add([e for _row, e in self._new_entries(rows)])
                    else:
                        self._find_duplicates(rows)
                    self.skipped_batch()
                    continue
                self._match(rows)
                self._check_org_numbers(rows)
                if self.write:
                    self._write(rows)
                else:
                    self._point_out_duplicates(rows)
                errors = [e for r in rows for e in r.errors] + [n for r in rows for n in r.notices]
                self.counts.rows += len(rows)
                self.counts.notices += sum(1 for r in rows if r.notices)
                for r in rows:
                    setattr(self.counts, r.outcome, getattr(self.counts, r.outcome) + 1)
                self.after_batch(self.counts, errors, self.category_names_created)
            if keep:
                keep.finish()
        except BaseException:
            if keep:
                keep.abandon()
            raise
        finally:
            gc.unfreeze()
            self.seen.close()
            if self.org_numbers_seen:
                self.org_numbers_seen.close()
            if self.file_entries:
                self.file_entries.close()
        if not self.counts.rows:
            raise FileProblem(_("The file has no rows."))
        names = sorted(set(self.pending_categories.values()) | set(self.category_names_created), key=str.lower)
        return Result(self.counts, names)

    def _error(self, row: Row, key: str | None, message: str) -> None:
        header, raw = None, None
        if key:
            for _index, fld, head in self.columns:
                if fld.key == key:
                    header, raw = head, plain(row.values.get(key))
        row.errors.append(RowError(row.number, header, None if raw is None else str(raw), message))

    def _resolve(self, rows: list[Row]) -> None:
        """References by name: kundansvarig, bransch, categories, the company of a contact."""
        for row in rows:
            v = row.values
            if "owner" in v:
                owner = v.pop("owner")
                ident = self.employees.get(owner.lower())
                if ident is None:
                    if owner.lower() in self.employees:  # two employees share the name
                        reason = _("Several employees are called %(name)s: give the employee's e-mail.", name=owner)
                    else:
                        reason = _(
                            "No employee is called %(name)s (kundansvarig: an employee's name or e-mail).", name=owner
                        )
                    row.errors.append(RowError(row.number, self._header("owner"), owner, reason))
                else:
                    v["owner_id"] = ident
                    row.owner_cell = owner
            if "industry" in v:
                name = v.pop("industry")
                ident = self.industries.get(name.lower())
                if ident is None:
                    row.errors.append(
                        RowError(
                            row.number,
                            self._header("industry"),
                            name,
                            _("There is no industry %(name)s; add it under Administration first.", name=name),
                        )
                    )
                else:
                    v["industry_id"] = ident
            if "categories" in v:
                names = v.pop("categories")
                ids = []
                for name in names:
                    ident = self.categories.get(name.lower())
                    if ident is None:
                        row.new_categories.append(name)
                        self.pending_categories.setdefault(name.lower(), name)
                    else:
                        ids.append(ident)
                v["category_ids"] = ids
        if self.entity.key == "contact":
            self._resolve_companies(rows)

    def _header(self, key: str) -> str | None:
        return next((head for _i, fld, head in self.columns if fld.key == key), None)

    def _resolve_companies(self, rows: list[Row]) -> None:
        for key, column in (
            ("company_customer_number", Company.customer_number),
            ("company_org_number", Company.org_number),
        ):
            wanted = {r.values[key] for r in rows if key in r.values}
            if not wanted:
                continue
            found: dict = defaultdict(list)
            for ident, value, deleted_at in self.session.execute(  # the trash is left out here, see _scope_columns
                select(Company.id, column, Company.deleted_at).where(bulk.one_of(self.session, column, wanted))
            ):
                if deleted_at is None:
                    found[value].append(ident)
            for row in rows:
                if key not in row.values:
                    continue
                value = row.values.pop(key)
                ids = found.get(value, [])
                if len(ids) == 1:
                    row.values["company_id"] = ids[0]
                elif not ids:
                    row.errors.append(
                        RowError(row.number, self._header(key), str(value), _("No company has this number."))
                    )
                else:
                    row.errors.append(
                        RowError(
                            row.number,
                            self._header(key),
                            str(value),
                            _("Several companies have this number; use the customer number."),
                        )
                    )

    # --- matching ------------------------------------------------------------------

    def _scope_columns(self) -> list:
        """What tells whether a record found by its key is one this import may touch (see `_in_scope`).

        It is checked on the rows found, not in the query: as conditions there,
        SQLite without statistics chose their index (every live contact) over
        the key's, and each batch read the whole table.
        """
        columns = [self.table.c.deleted_at.label("_deleted_at")] if "deleted_at" in self.table.c else []
        if self.entity.key in ("contact", "privatecustomer"):
            columns.append(self.table.c.customer_number.label("_customer_number"))
        return columns

    def _in_scope(self, found) -> bool:
        """A live record of this entity (a contact import never touches private customers, nor the reverse)."""
        if found.get("_deleted_at") is not None:
            return False
        if self.entity.key == "contact":
            return found["_customer_number"] is None
        if self.entity.key == "privatecustomer":
            return found["_customer_number"] is not None
        return True

    def _compared_columns(self) -> list[str]:
        keys = {f.db_column for _i, f, _h in self.columns if f.db_column} - CREATE_ONLY
        mapped = {f.key for _i, f, _h in self.columns}
        if "owner" in mapped:
            keys.add("owner_id")
        if "industry" in mapped:
            keys.add("industry_id")
        return sorted(keys)

    def _find_duplicates(self, rows: list[Row]) -> list[Row]:
        """Rows without errors that have a key, less those whose key an earlier row of the file had
        (they get an error); the keys are remembered for later batches."""
        job, key = self.job, self.job.match_key
        key_label = str(fields.label(key)) if key else ""
        keyed = []
        for row in rows:
            if row.errors:
                continue
            row.key = row.values.get(key) if key else None
            if row.key is None:
                if job.mode == "update":
                    self._error(row, None, _("The value to match on (%(field)s) is empty.", field=key_label))
                continue
            keyed.append(row)
        # duplicates inside the file
        seen_now: dict[str, int] = {}
        text_keys = [str(r.key) for r in keyed]
        earlier = self.seen.earlier_rows(list(set(text_keys)))
        for row, text_key in zip(keyed, text_keys, strict=True):
            first = earlier.get(text_key) or seen_now.get(text_key)
            if first:
                self._error(
                    row,
                    key,
                    _(
                        "The same %(field)s as row %(row)s: the row is a duplicate in the file.",
                        field=key_label,
                        row=first,
                    ),
                )
            else:
                seen_now[text_key] = row.number
        self.seen.add(list(seen_now.items()))
        return [r for r in keyed if not r.errors]

    def _match(self, rows: list[Row]) -> None:
        job, key = self.job, self.job.match_key
        key_label = str(fields.label(key)) if key else ""
        keyed = self._find_duplicates(rows)
        # existing records, one query per batch
        existing: dict = defaultdict(list)
        current: dict[int, dict] = {}
        compared = self._compared_columns()
        if keyed and key:
            key_col = self.table.c[key]
            cols = [self.table.c.id, key_col] + [self.table.c[c] for c in compared if c != key]
            for found in self.session.execute(
                select(*cols, *self._scope_columns()).where(bulk.one_of(self.session, key_col, {r.key for r in keyed}))
            ).mappings():
                if self._in_scope(found):
                    existing[found[key]].append(found["id"])
                    current[found["id"]] = dict(found)
            current_categories = (
                self._current_categories(list(current)) if "categories" in self.mapping.values() else {}
            )
        erased = privacy.erased_ids(self.session, self._row_kind, current)
        for row in rows:
            if row.errors:
                row.outcome = "errors"
                continue
            ids = existing.get(row.key, []) if row.key is not None else []
            if len(ids) > 1:
                self._error(
                    row,
                    key,
                    _(
                        "%(count)s records have this %(field)s; it cannot say which one to update.",
                        count=len(ids),
                        field=key_label,
                    ),
                )
            elif ids and job.mode == "create":
                self._error(
                    row,
                    key,
                    _("A record with this %(field)s already exists (the mode is create only).", field=key_label),
                )
            elif ids:
                row.existing_id = ids[0]
                row.changes = self._changes(row, current[ids[0]], compared, current_categories.get(ids[0], set()))
                row.outcome = "updated" if row.changes else "unchanged"
                if row.changes and ids[0] in erased:  # an erased person's record is read-only
                    self._error(row, key, str(privacy.ERASED_READ_ONLY))
                self._check_owner(row, current[ids[0]].get("owner_id"))
            elif job.mode == "update" or (key == "customer_number" and row.key is not None):
                self._error(row, key, _("No record has this %(field)s.", field=key_label))
            else:
                missing = [f for f in self.entity.required if f.key not in row.values]
                for f in missing:
                    row.errors.append(
                        RowError(row.number, self._header(f.key), "", _("%(field)s must be filled in.", field=f.label))
                    )
                self._check_owner(row, None)
                row.outcome = "created"
            if row.errors:
                row.outcome = "errors"

    def _check_owner(self, row: Row, current: int | None) -> None:
        """A row error when the row names an inactive employee as Kundansvarig of a new record, or of one whose
        owner is someone else now; a record whose owner is that employee already keeps them
        (services.employees.check_chosen, the forms' and the API's rule)."""
        owner_id = row.values.get("owner_id")
        if owner_id not in self.unchoosable:
            return
        person = self.session.get_one(Employee, owner_id)
        try:
            employees.check_chosen(person, kept=[current])
        except InvalidValue:
            row.errors.append(
                RowError(
                    row.number,
                    self._header("owner"),
                    row.owner_cell,
                    _(
                        "%(name)s is no longer active: name an active employee as kundansvarig "
                        "(an employee's name or e-mail).",
                        name=person.name,
                    ),
                )
            )

    @property
    def _checks_org_numbers(self) -> bool:
        """Whether rows are held to the register's rule of one company per organisationsnummer
        (services.register.org_number_taken), as the form and the API are: a company import. (Matched on the
        organisationsnummer, a row that updates keeps its company's number; one that creates a company has
        no live match, but a company in the trash may have the number.)"""
        return self.entity.key == "company"

    def _check_org_numbers(self, rows: list[Row]) -> None:
        """A row that would give a company an organisationsnummer (a new company, or a changed number) that a
        company in the register already has, or an earlier row of the file gives, is an error naming it, as
        the form refuses it. The register is asked once per batch (services.register.org_number_holders),
        under the numbers' lock when the batch is written; the file's numbers are kept as its keys are."""
        if self.org_numbers_seen is None:
            return
        giving = [
            row
            for row in rows
            if (row.outcome == "created" and row.values.get("org_number"))
            or (row.outcome == "updated" and "org_number" in row.changes and row.values.get("org_number"))
        ]
        if not giving:
            return
        numbers = list({row.values["org_number"] for row in giving})
        holders = register.org_number_holders(self.session, numbers, lock=self.write)
        earlier = self.org_numbers_seen.earlier_rows(numbers)
        seen_now: dict[str, int] = {}
        field_label = str(fields.label("org_number"))
        for row in giving:
            number = row.values["org_number"]
            first = earlier.get(number) or seen_now.get(number)
            holder = next((h for h in holders.get(number, []) if h.id != row.existing_id), None)
            if first:
                message = _(
                    "The same %(field)s as row %(row)s: the row is a duplicate in the file.",
                    field=field_label,
                    row=first,
                )
            elif holder is not None:
                message = register.org_number_taken_message(holder)
            else:
                seen_now[number] = row.number
                continue
            self._error(row, "org_number", message)
            row.outcome = "errors"
        self.org_numbers_seen.add(list(seen_now.items()))

    # --- likely duplicates (dry run) ---------------------------------------------------

    def _new_entries(self, rows: list[Row]) -> list[tuple[Row, duplicates.Entry]]:
        """The rows that would be new records, each with what it is compared on (id: the row's number)."""
        found = []
        for row in rows:
            if row.outcome == "created":
                company = row.values.get("company_id")
                if row.entry is not None:
                    entry = name_keys.entry_from_fields(row.number, row.entry, (company,) if company else ())
                else:
                    entry = duplicates.entry_of_values(self._row_kind, row.values, [company] if company else [])
                    entry.id = row.number
                found.append((row, entry))
        return found

    @property
    def _row_kind(self) -> str:
        return "contact" if self.entity.key == "privatecustomer" else self.entity.key

    def _point_out_duplicates(self, rows: list[Row]) -> None:
        """A notice on each new row that is likely a record already in the register (a customer, contact or
        lead: the same organisationsnummer, e-mail, phone or a similar name) or an earlier new row of the file,
        scored as the duplicate scan scores; the register is asked a batch at a time
        (services.duplicates.RegisterLookup), the file's earlier rows are kept in FileEntries."""
        new = self._new_entries(rows)
        if not new:
            return
        entries = [entry for _row, entry in new]
        matches: list[list[tuple[int, list[str], str | None, int]]] = [[] for _entry in entries]
        # the rows' company names normalised already (a record found by a row's key is most often named alike)
        column = name_keys.COLUMN_KEYS[self._row_kind][1]
        known = (
            {row.values[column]: e.name for row, e in new if column in row.values} if column != "first_name" else None
        )
        for lookup in self.registers:
            for found, per_row in zip(lookup.matches_many(entries, names=known), matches, strict=True):
                per_row += [(value, reasons, lookup.kind, ident) for value, reasons, ident in found]
        assert self.file_entries is not None
        self.file_entries.add(entries)
        for found, per_row in zip(self.file_entries.matches_many(self._row_kind, entries), matches, strict=True):
            per_row += [(value, reasons, None, ident) for value, reasons, ident in found]
        best = []
        for (row, _entry), per_row in zip(new, matches, strict=True):
            per_row.sort(key=lambda m: -m[0])
            best += [(row, kind, ident, reasons) for _value, reasons, kind, ident in per_row[:NOTICES_PER_ROW]]
        names = self._record_names([m for m in best if m[1] is not None])
        # each text translated once per batch and filled in as Flask-Babel's gettext fills it in (its look-up
        # per notice was a third of the dry run's CPU against a filled register)
        in_file = _("Likely the same as row %(row)s of the file (%(reasons)s).")
        in_register = _("Likely already in the register as %(what)s %(name)s (%(reasons)s).")
        labels = {kind: str(label) for kind, label in duplicates.RECORD_LABELS.items()}
        reason_labels = {reason: str(label) for reason, label in duplicates.REASONS.items()}
        for row, kind, ident, reasons in best:
            because = ", ".join(reason_labels[r] for r in reasons)
            if kind is None:
                message = in_file % {"row": ident, "reasons": because}
            else:
                message = in_register % {"what": labels[kind], "name": names[kind].get(ident, ""), "reasons": because}
            row.notices.append(
                RowError(
                    row.number,
                    None,
                    None,
                    message,
                    kind="notice",
                    record_kind=kind,
                    record_id=ident if kind else None,
                )
            )

    def _record_names(self, found: list[tuple[Row, str | None, int, list[str]]]) -> dict[str, dict[int, str]]:
        """{kind: {id: name}} of the records the notices name, one query per register."""
        names: dict[str, dict[int, str]] = {kind: {} for kind in duplicates.KINDS}
        for kind, model in duplicates.KINDS.items():
            ids = {ident for _row, k, ident, _reasons in found if k == kind}
            if ids:
                # the columns str(record) reads, not whole records (a notice on every row loaded 20,000 objects)
                shown = [model.company_name] if model is Lead else [model.name] if model is Company else []
                if model is Contact:
                    shown = [model.first_name, model.last_name]
                stmt = select(model.id, *shown).where(duplicates.any_of(self.session, model.id, ids))
                names[kind] = {
                    row[0]: f"{row[1]} {row[2]}".strip() if model is Contact else row[1]
                    for row in self.session.execute(stmt)
                }
        return names

    def _current_categories(self, ids: list[int]) -> dict[int, set[int]]:
        if not ids:
            return {}
        link = CATEGORY_LINKS[self.entity.key]
        owner_col = [c for c in link.c if c.name != "category_id"][0]
        result: dict[int, set[int]] = defaultdict(set)
        for owner, category in self.session.execute(
            select(owner_col, link.c.category_id).where(bulk.one_of(self.session, owner_col, ids))
        ):
            result[owner].add(category)
        return result

    def _changes(self, row: Row, current: dict, compared: list[str], categories: set[int]) -> dict:
        changes = {}
        for column in compared:
            if column in row.values and row.values[column] != current[column]:
                changes[column] = [current[column], row.values[column]]
        added = [i for i in row.values.get("category_ids", []) if i not in categories]
        if added or row.new_categories:
            changes["categories"] = [sorted(categories), sorted(set(categories) | set(added))]
        return changes

    # --- writing -------------------------------------------------------------------

    def _write(self, rows: list[Row]) -> None:
        self._create_categories(rows)
        created = [r for r in rows if r.outcome == "created"]
        updated = [r for r in rows if r.outcome == "updated"]
        now = utcnow()
        events = []
        if created:
            events += self._insert(created, now)
        if updated:
            events += self._update(updated, now)
        self._link_categories(created + updated)
        if self.entity.key == "contact":
            self._link_companies(created + updated, now)
        record_bulk(self.session, events, actor_id=self.actor_id, import_job_id=self.job.id)
        webhooks.record_written(self.session, self.model, events)

    def _create_categories(self, rows: list[Row]) -> None:
        wanted: dict[str, str] = {}
        for row in rows:
            if row.outcome in ("created", "updated"):
                for name in row.new_categories:
                    if name.lower() not in self.categories:
                        wanted.setdefault(name.lower(), name)
        if not wanted:
            self._attach_new_categories(rows)
            return
        scope = CATEGORY_SCOPE[self.entity.key]
        for name in wanted.values():
            ident = self.session.execute(
                insert(Category).values(name=name, applies_to=scope).returning(Category.id)
            ).scalar_one()
            self.categories[name.lower()] = ident
            self.category_names[ident] = name
            self.category_names_created.append(name)
            self.pending_categories.pop(name.lower(), None)
        self._attach_new_categories(rows)

    def _attach_new_categories(self, rows: list[Row]) -> None:
        for row in rows:
            if row.new_categories:
                ids = row.values.setdefault("category_ids", [])
                ids.extend(self.categories[n.lower()] for n in row.new_categories if n.lower() in self.categories)
                if row.outcome == "updated":
                    row.changes["categories"][1] = sorted(set(row.changes["categories"][1]) | set(ids))

    def _record_template(self) -> tuple[dict, list[tuple[str, str, object]]]:
        """The columns every new record gets (the same keys for the whole executemany)."""
        if not hasattr(self, "_template"):
            fixed = dict(self.entity.fixed) | {"owner_id": None, "version": 1}
            if "industry_id" in self.table.c:
                fixed["industry_id"] = None
            columns = [
                (fld.key, fld.db_column, fld.default)
                for fld in self.entity.fields
                if fld.db_column and fld.db_column in self.table.c
            ]
            self._template = fixed, columns
        return self._template

    def _new_record(self, row: Row, now: datetime) -> dict:
        fixed, columns = self._record_template()
        values = row.values
        record = dict(fixed)
        for key, column, default in columns:
            record[column] = values.get(key, default)
        for ref in ("owner_id", "industry_id"):
            if ref in values:
                record[ref] = values[ref]
        if "first_name" in record and record["first_name"] is None:
            record["first_name"] = ""
        record["created_at"] = record.get("created_at") or now
        record["updated_at"] = now
        if self.consented:
            record |= consent.stamps(record, now, "import")
        return record

    def _label(self, values: dict) -> str:
        if self.model is Lead:
            return str(values.get("company_name") or "")[:200]
        if self.model is Contact:
            return f"{values.get('first_name') or ''} {values.get('last_name') or ''}".strip()[:200]
        return str(values.get("name") or "")[:200]

    def _insert(self, rows: list[Row], now: datetime) -> list[dict]:
        """Insert the batch's new records at once (services.bulk); their audit events.

        Each record and its event are made as the insert takes it: on PostgreSQL the database inserts
        the first records (and indexes them, the most of a write's time there) while the next are made.
        """
        ids = bulk.new_ids(self.session, self.table, len(rows))
        numbers = (
            numbering.allocate_customer_numbers(self.session, len(rows))
            if self.entity.key in ("company", "privatecustomer")
            else None
        )
        events: list[dict] = []
        simple = (str, int, bool)
        # a set made once (a tuple built in the condition was made again for every column of every row)
        unlogged = {"id", "created_at", "updated_at", "version", *ConsentMixin.consent_stamps}

        def records():
            for at, (row, ident) in enumerate(zip(rows, ids, strict=True)):
                record = self._new_record(row, now)
                record["id"] = row.existing_id = ident
                if numbers is not None:
                    record["customer_number"] = numbers[at]
                changes = {
                    k: v if type(v) in simple else plain(v)
                    for k, v in record.items()
                    if v is not None and v != "" and k not in unlogged
                }
                if row.values.get("category_ids"):
                    changes["categories"] = self._category_names(row.values["category_ids"])
                events.append(
                    {
                        "entity_type": self.table.name,
                        "entity_id": ident,
                        "entity_label": self._label(record),
                        "action": "create",
                        "changes": changes,
                    }
                )
                yield record

        bulk.insert_rows(self.session, self.table, records())
        return events

    def _category_names(self, ids) -> list[str]:
        return sorted(self.category_names[i] for i in ids)

    def _update(self, rows: list[Row], now: datetime) -> list[dict]:
        groups: dict[tuple, list[Row]] = defaultdict(list)
        for row in rows:
            answers = {column: new for column, (_old, new) in row.changes.items()}
            row.changes |= {k: [None, v] for k, v in consent.stamps(answers, now, "import").items()}
            groups[tuple(sorted(c for c in row.changes if c != "categories"))].append(row)
        t = self.table
        for columns, group in groups.items():
            if not columns:
                continue
            stmt = (
                update(t)
                .where(t.c.id == bindparam("_id"))
                .values(
                    {c: bindparam(f"_v_{c}") for c in columns}
                    | {"version": t.c.version + 1, "updated_at": bindparam("_now")}
                )
            )
            params = [
                {"_id": r.existing_id, "_now": now, **{f"_v_{c}": r.changes[c][1] for c in columns}} for r in group
            ]
            self.session.connection().execute(stmt, params)
        events = []
        for row in rows:
            changes = {}
            for column, (old, new) in row.changes.items():
                if column in ConsentMixin.consent_stamps:
                    continue  # written with the consent, audited as it
                if column == "categories":
                    changes[column] = [self._category_names(old), self._category_names(new)]
                else:
                    changes[column] = [plain(old), plain(new)]
            events.append(
                {
                    "entity_type": t.name,
                    "entity_id": row.existing_id,
                    "entity_label": self._label(row.values) or None,
                    "action": "update",
                    "changes": changes,
                }
            )
        return events

    def _link_categories(self, rows: list[Row]) -> None:
        link = CATEGORY_LINKS[self.entity.key]
        owner = [c for c in link.c if c.name != "category_id"][0].name

        def pairs():  # made as the insert takes them (see _insert)
            for row in rows:
                if row.outcome == "created":
                    wanted = set(row.values.get("category_ids", []))
                else:
                    old, new = row.changes.get("categories", [[], []])
                    wanted = set(new) - set(old)
                for category in sorted(wanted):
                    yield {owner: row.existing_id, "category_id": category}

        bulk.insert_rows(self.session, link, pairs())

    def _link_companies(self, rows: list[Row], now: datetime) -> None:
        wanted = {
            (r.values["company_id"], r.existing_id): r.values.get("title") for r in rows if "company_id" in r.values
        }
        if not wanted:
            return
        updated = {r.existing_id for r in rows if r.outcome == "updated" and "company_id" in r.values}
        existing = (
            set(
                self.session.execute(
                    select(CompanyContact.company_id, CompanyContact.contact_id).where(
                        bulk.one_of(self.session, CompanyContact.contact_id, updated)
                    )
                ).all()
            )
            if updated
            else set()
        )  # a contact created just now has no links yet
        new = [
            {"company_id": company, "contact_id": contact, "role": role, "created_at": now}
            for (company, contact), role in wanted.items()
            if (company, contact) not in existing
        ]
        if new:
            bulk.insert_rows(self.session, table_of(CompanyContact), new)


def run(
    session: Session,
    job: ImportJob,
    table: Table,
    *,
    write: bool,
    after_batch: BatchHook | None = None,
    cache: ParsedRows | None = None,
    workers: int = 0,
    resume: Resume | None = None,
    skipped_batch: Callable[[], None] | None = None,
) -> Result:
    """One pass (dry run or write) of `job` over an open file; `after_batch` commits each batch.

    With `workers` > 1 the rows are parsed in that many processes (services.importing.parallel).
    With `resume`, the batches an earlier run committed are read again only for their keys
    (`skipped_batch` is called after each, e.g. to report that the pass is alive).
    """
    importer = Importer(
        session, job, write=write, after_batch=after_batch, workers=workers, resume=resume, skipped_batch=skipped_batch
    )
    return importer.run(table, cache)
