"""Loading Bolagsverket's bulk file of registered organisations into the company register.

The file: a weekly ZIP (`bolagsverket_bulkfil.zip`) holding one text file, or that text file itself;
latin-1, one organisation a line, fields separated by `;` and quoted with `"` (a `""` inside is a
quote), a header line naming the columns. A field may hold several parts separated by `$`. The
layout is declared once, in `FILE_COLUMNS` (what each column is and how it is read), and the loader
is strict about it: a file whose header is not exactly these columns is refused with a message that
names them, and so is a line with another number of fields, an invalid organisationsnummer, a date
that is no date, or text that is not latin-1 (UTF-8 read as latin-1, or C1 control characters).

Streamed and batched, so memory stays flat whatever the file's size: rows go into a new table beside
the one look-ups read (`registry_company_next`: COPY on PostgreSQL, executemany on SQLite), its
indexes are built, and then one short transaction drops the old table and renames the new one in its
place. Look-ups keep answering from the previous load until that commit; a failed load leaves the
previous one as it was.
"""

from __future__ import annotations

import csv
import io
import os
import re
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from sqlalchemy import MetaData, select, update
from sqlalchemy.engine import Engine

from models import RegistryCompany, RegistryLoad, table_of, utcnow
from services.search import fold

#: The table look-ups read, and the one a load fills before switching.
TABLE = RegistryCompany.__tablename__
NEXT = f"{TABLE}_next"
#: SQLite: the FTS5 trigram index of the names (rowid = id), beside each table.
SEARCH = f"{TABLE}_search"
#: Rows written at once.
BATCH = 10_000


class LoadError(Exception):
    """The file cannot be loaded; the message says why, in words for the administrator."""


@dataclass(frozen=True)
class FileColumn:
    header: str
    meaning: str


#: The bulk file's columns in order, as its header names them. A `$` separates the parts of a field.
FILE_COLUMNS: tuple[FileColumn, ...] = (
    FileColumn("organisationsidentitet", "organisationsnummer (10 digits; a sole trader's 12-digit personnummer)$type"),
    FileColumn("namnskyddslopnummer", "the name's number for a sole trader with several names (else empty)"),
    FileColumn("registreringsland", "country of registration, e.g. SE-LAND"),
    FileColumn("organisationsnamn", "names separated by $: the first is the current name"),
    FileColumn("organisationsform", "form of organisation as code-ORGFO, e.g. AB-ORGFO"),
    FileColumn("avregistreringsdatum", "YYYY-MM-DD when deregistered, else empty"),
    FileColumn("avregistreringsorsak", "why it was deregistered (code)"),
    FileColumn("pagandeAvvecklingsEllerOmstruktureringsforfarande", "ongoing liquidation or reconstruction"),
    FileColumn("registreringsdatum", "YYYY-MM-DD"),
    FileColumn("verksamhetsbeskrivning", "business description (free text)"),
    FileColumn("postadress", "utdelningsadress$coAdress$postnummer$postort$land"),
)
HEADERS = tuple(c.header for c in FILE_COLUMNS)
_INDEX = {h: i for i, h in enumerate(HEADERS)}
#: The file's text encoding.
ENCODING = "latin-1"
#: UTF-8's two-byte letters (å, ä, ö, é …) read as latin-1: Ã followed by a continuation byte.
_UTF8_AS_LATIN1 = re.compile("[\u00c2\u00c3][\u0080-\u00bf]")
_C1_CONTROLS = re.compile("[\u0080-\u009f]")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")

#: Column order of the rows written (RegistryCompany's columns).
COLUMNS = (
    "id",
    "org_number",
    "search_name",
    "name",
    "legal_form",
    "registered_on",
    "deregistered_on",
    "deregistration_reason",
    "business_description",
    "postal_co",
    "postal_street",
    "postal_postcode",
    "postal_city",
)

#: The indexes of the register's table, each (name, statement) with {name} and {table} to fill.
#: Migration 0019 created the same ones; a load builds them on the new table before switching.
INDEXES = {
    "postgresql": (
        ("ix_registry_company_org_number", "CREATE INDEX {name} ON {table} (org_number)"),
        # A prefix, in the order of the name: bytewise, whatever the database's collation.
        ("ix_registry_company_search_name", 'CREATE INDEX {name} ON {table} ((search_name COLLATE "C"))'),
        ("ix_registry_company_search_name_trgm", "CREATE INDEX {name} ON {table} USING gin (search_name gin_trgm_ops)"),
    ),
    "sqlite": (
        ("ix_registry_company_org_number", "CREATE INDEX {name} ON {table} (org_number)"),
        ("ix_registry_company_search_name", "CREATE INDEX {name} ON {table} (search_name)"),
    ),
}
SQLITE_SEARCH_TABLE = (
    "CREATE VIRTUAL TABLE {table} USING fts5(words, content='', columnsize=0, tokenize='trigram case_sensitive 0')"
)


# --- reading the file -------------------------------------------------------------------------


def _first(field: str) -> str:
    """The first of a field's `$`-separated parts."""
    return field.split("$", 1)[0].strip()


def _date(value: str, line: int, header: str) -> str | None:
    """A YYYY-MM-DD date, checked and kept as that text (both databases read it as a date)."""
    value = value.strip()[:10]
    if not value:
        return None
    try:
        if not _DATE.fullmatch(value):
            raise ValueError
        date.fromisoformat(value)
    except ValueError:
        raise LoadError(f"Rad {line}: {header} är inget datum (ÅÅÅÅ-MM-DD): {value!r}.") from None
    return value


#: Luhn over two digits at a time: the first of each pair (an even place from the right in ten digits)
#: doubled and its digits summed, plus the second.
_LUHN_PAIRS = {f"{a}{b}": (2 * a) // 10 + (2 * a) % 10 + b for a in range(10) for b in range(10)}


def _luhn_valid(digits: str) -> bool:
    """stdnum's `luhn.is_valid` for exactly ten ASCII digits, eight times faster (two million a load;
    tests/test_registry_loader.py holds the two equal)."""
    pairs = _LUHN_PAIRS
    total = pairs[digits[0:2]] + pairs[digits[2:4]] + pairs[digits[4:6]] + pairs[digits[6:8]] + pairs[digits[8:10]]
    return total % 10 == 0


def org_number(value: str, line: int) -> str:
    """The organisationsnummer as ten digits; a sole trader's personnummer (12 digits) as its last ten."""
    typed = _first(value)
    digits = typed.replace("-", "")
    if len(digits) == 12 and digits.isdigit():
        digits = digits[2:]
    if len(digits) != 10 or not digits.isascii() or not digits.isdigit() or not _luhn_valid(digits):
        raise LoadError(f"Rad {line}: ogiltigt organisationsnummer {typed!r}.")
    return digits


def _checked_text(line: int, fields: list[str]) -> None:
    text = "\x00".join(fields)  # one search per line, not per field; the field is found on the rare error
    if _UTF8_AS_LATIN1.search(text):
        field = next(f for f in fields if _UTF8_AS_LATIN1.search(f))
        raise LoadError(
            f"Rad {line}: texten ser ut att vara UTF-8, men filen ska vara latin-1 ({field[:40]!r}). "
            "Ange --encoding utf-8 om filen verkligen är UTF-8."
        )
    if _C1_CONTROLS.search(text):
        field = next(f for f in fields if _C1_CONTROLS.search(f))
        raise LoadError(f"Rad {line}: tecken som inte hör hemma i en latin-1-text ({field[:40]!r}).")


_ORG, _NAME, _FORM, _DEREGISTERED, _REASON, _REGISTERED, _DESCRIPTION, _ADDRESS = (
    _INDEX[h]
    for h in (
        "organisationsidentitet",
        "organisationsnamn",
        "organisationsform",
        "avregistreringsdatum",
        "avregistreringsorsak",
        "registreringsdatum",
        "verksamhetsbeskrivning",
        "postadress",
    )
)


def parse_row(fields: list[str], line: int, row_id: int, *, check_text: bool = True) -> tuple:
    """One line of the file as a row of COLUMNS (dates as YYYY-MM-DD text). Two million of these make
    a load, so each field is split once and read by its place."""
    if len(fields) != len(HEADERS):
        raise LoadError(
            f"Rad {line} har {len(fields)} fält, men filen ska ha {len(HEADERS)} (är filen avkortad eller trasig?)."
        )
    if check_text:
        _checked_text(line, fields)
    name = _first(fields[_NAME])
    if not name:
        raise LoadError(f"Rad {line}: organisationsnamn saknas.")
    street, co, postcode, city = (fields[_ADDRESS].split("$", 4) + ["", "", "", ""])[:4]
    return (
        row_id,
        org_number(fields[_ORG], line),
        fold(name)[:250],
        name[:250],
        _first(fields[_FORM]).split("-")[0][:10] or None,
        _date(fields[_REGISTERED], line, "registreringsdatum"),
        _date(fields[_DEREGISTERED], line, "avregistreringsdatum"),
        _first(fields[_REASON])[:100] or None,
        fields[_DESCRIPTION].strip() or None,
        co.strip()[:200] or None,
        street.strip()[:200] or None,
        postcode.strip().replace(" ", "")[:10] or None,
        city.strip()[:100] or None,
    )


@dataclass
class BulkFile:
    """An opened bulk file: its lines as text, and the date of its data."""

    lines: Iterator[str]
    data_date: date
    close: Callable[[], None]


def open_bulk_file(path: str | Path, *, encoding: str = ENCODING) -> BulkFile:
    """Open a ZIP holding the text file, or the text file itself, for streaming."""
    path = Path(path)
    if not path.is_file():
        raise LoadError(f"Filen {path} finns inte.")
    if zipfile.is_zipfile(path):
        try:
            archive = zipfile.ZipFile(path)
            members = [m for m in archive.infolist() if not m.is_dir()]
        except (zipfile.BadZipFile, OSError) as exc:
            raise LoadError(f"ZIP-filen {path.name} är trasig: {exc}.") from None
        if len(members) != 1:
            archive.close()
            raise LoadError(f"ZIP-filen ska innehålla en textfil, men innehåller {len(members)} filer.")
        member = members[0]
        raw = archive.open(member)
        zipped = io.TextIOWrapper(raw, encoding=encoding, newline="")

        def close() -> None:
            zipped.close()
            archive.close()

        return BulkFile(zipped, date(*member.date_time[:3]), close)
    with path.open("rb") as head:
        if head.read(4) == b"PK\x03\x04":
            raise LoadError(f"ZIP-filen {path.name} är trasig eller avkortad.")
    text_stream = path.open(encoding=encoding, newline="")
    return BulkFile(text_stream, datetime.fromtimestamp(os.path.getmtime(path)).date(), text_stream.close)


def read_rows(bulk: BulkFile, *, check_text: bool = True) -> Iterator[tuple]:
    """The file's rows (COLUMNS), after checking its header; LoadError on the first bad line."""
    reader = csv.reader(bulk.lines, delimiter=";", quotechar='"', strict=True)
    try:
        header = next(reader, None)
        if header is None:
            raise LoadError("Filen är tom.")
        found = [h.strip().lstrip("\ufeff") for h in header]
        if [h.lower() for h in found] != [h.lower() for h in HEADERS]:
            raise LoadError(
                "Filen har inte Bolagsverkets kolumner. Förväntade kolumner: "
                + ";".join(HEADERS)
                + ". Filen har: "
                + ";".join(found)
                + "."
            )
        for number, fields in enumerate(reader, start=1):
            if not fields:
                continue
            yield parse_row(fields, reader.line_num, number, check_text=check_text)
    except csv.Error as exc:
        raise LoadError(f"Rad {reader.line_num}: filen går inte att läsa som CSV ({exc}).") from None
    except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
        raise LoadError(f"ZIP-filen är trasig eller avkortad ({exc}).") from None
    except UnicodeDecodeError as exc:
        raise LoadError(
            f"Filen är inte kodad som {ENCODING_NAMES.get(exc.encoding, exc.encoding)} ({exc.reason})."
        ) from None


ENCODING_NAMES = {"latin-1": "latin-1", "iso8859-1": "latin-1", "utf-8": "UTF-8"}


def _batches(rows: Iterator[tuple], size: int = BATCH) -> Iterator[list[tuple]]:
    batch = []
    for row in rows:
        batch.append(row)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


# --- writing the table --------------------------------------------------------------------------


@dataclass
class _Progress:
    rows: int = 0
    active: int = 0
    report: Callable[[int], None] | None = None

    def batch_written(self, batch: list[tuple]) -> None:
        self.rows += len(batch)
        self.active += sum(1 for row in batch if row[6] is None)
        if self.report:
            self.report(self.rows)

    def check_some(self) -> None:
        if self.rows == 0:
            raise LoadError("Filen har inga rader utöver rubrikraden.")


def _load_postgresql(conn, batches: Iterator[list[tuple]], progress: _Progress, finish: Callable) -> None:
    """One transaction: a new table, one COPY of every row, then its primary key and indexes (built
    once over the rows: several times faster than keeping them up row by row), and the switch.

    COPY … FREEZE writes the rows already frozen, which it may because the table was created in this
    transaction: the first reads and VACUUM do not rewrite every page to mark the rows visible. The
    table is logged (not UNLOGGED): `ALTER TABLE … SET LOGGED` would write it and its indexes to the
    WAL all over again, and an unlogged register would be empty after a crash and on replicas.
    Look-ups read the old table throughout; they wait only for the switch's lock (milliseconds)."""
    with conn.begin():
        conn.exec_driver_sql("SET LOCAL maintenance_work_mem = '256MB'")
        conn.exec_driver_sql(f"DROP TABLE IF EXISTS {NEXT}")
        # No indexes (built after the rows), no primary key yet.
        conn.exec_driver_sql(f"CREATE TABLE {NEXT} (LIKE {TABLE} INCLUDING DEFAULTS)")
        cursor = conn.connection.driver_connection.cursor()
        with cursor, cursor.copy(f"COPY {NEXT} ({', '.join(COLUMNS)}) FROM STDIN (FREEZE)") as copy:
            for batch in batches:
                for row in batch:
                    copy.write_row(row)
                progress.batch_written(batch)
        progress.check_some()
        conn.exec_driver_sql(f"ALTER TABLE {NEXT} ADD CONSTRAINT pk_{NEXT} PRIMARY KEY (id)")
        for name, statement in INDEXES["postgresql"]:
            conn.exec_driver_sql(statement.format(name=f"{name}_next", table=NEXT))
        conn.exec_driver_sql(f"ANALYZE {NEXT}")
        conn.exec_driver_sql(f"LOCK TABLE {TABLE} IN ACCESS EXCLUSIVE MODE")
        conn.exec_driver_sql(f"DROP TABLE {TABLE}")
        conn.exec_driver_sql(f"ALTER TABLE {NEXT} RENAME TO {TABLE}")
        conn.exec_driver_sql(f"ALTER TABLE {TABLE} RENAME CONSTRAINT pk_{NEXT} TO pk_{TABLE}")
        for name, _statement in INDEXES["postgresql"]:
            conn.exec_driver_sql(f"ALTER INDEX {name}_next RENAME TO {name}")
        finish(conn)


def _load_sqlite(conn, batches: Iterator[list[tuple]], progress: _Progress, finish: Callable) -> None:
    """A transaction per batch (SQLite has one writer: the others wait for one batch at most) into a
    new table and its FTS5 index, then one that builds the table's indexes and switches.

    The batches' commits do not wait for the disk (synchronous NORMAL: with the write-ahead log a
    power cut may lose the last of them, never corrupt the file, and a load cut short is thrown away
    anyway); the switch's commit does (FULL, the app's setting), and takes the batches with it."""
    raw = conn.connection.driver_connection
    raw.execute("PRAGMA synchronous = NORMAL")
    try:
        with conn.begin():
            _drop_next(conn)
            table = table_of(RegistryCompany).to_metadata(MetaData(), name=NEXT)
            table.indexes.clear()
            table.create(conn)
            conn.exec_driver_sql(SQLITE_SEARCH_TABLE.format(table=f"{NEXT}_search"))
        insert = f"INSERT INTO {NEXT} ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})"
        for batch in batches:
            with conn.begin():
                cursor = raw.cursor()
                try:
                    cursor.executemany(insert, batch)
                    names = [(row[0], row[2]) for row in batch]  # id, search_name
                    cursor.executemany(f"INSERT INTO {NEXT}_search(rowid, words) VALUES (?, ?)", names)
                finally:
                    cursor.close()
            progress.batch_written(batch)
        progress.check_some()
        raw.execute("PRAGMA synchronous = FULL")
        with conn.begin():
            conn.exec_driver_sql(f"DROP TABLE {TABLE}")
            conn.exec_driver_sql(f"ALTER TABLE {NEXT} RENAME TO {TABLE}")
            conn.exec_driver_sql(f"DROP TABLE IF EXISTS {SEARCH}")
            conn.exec_driver_sql(f"ALTER TABLE {NEXT}_search RENAME TO {SEARCH}")
            # SQLite cannot rename an index: they are built here, where readers still see the old table.
            for name, statement in INDEXES["sqlite"]:
                conn.exec_driver_sql(statement.format(name=name, table=TABLE))
            finish(conn)
    finally:
        try:
            raw.execute("PRAGMA synchronous = FULL")
        except Exception:  # a broken connection does not go back to the pool with the load's settings
            conn.invalidate()


@dataclass
class LoadResult:
    load_id: int
    rows: int
    active: int
    data_date: date
    seconds: float


def load(
    engine: Engine,
    path: str | Path,
    *,
    data_date: date | None = None,
    encoding: str = ENCODING,
    progress: Callable[[int], None] | None = None,
) -> LoadResult:
    """Load the bulk file at `path` and make it the register look-ups read. LoadError if the file is
    not a valid bulk file: nothing of it is then used, and the previous load stays.

    The file is read as a stream in batches of BATCH rows, on one connection of its own
    (`_load_postgresql`, `_load_sqlite`); `progress` is told the rows written after each batch."""
    started = utcnow()
    bulk = open_bulk_file(path, encoding=encoding)
    loads = table_of(RegistryLoad)
    with engine.begin() as conn:
        load_id = conn.execute(
            loads.insert().values(
                source=Path(path).name[:255],
                data_date=data_date or bulk.data_date,
                status="loading",
                started_at=started,
            )
        ).inserted_primary_key
        assert load_id is not None, "an INSERT of one row has its key"
        load_id = load_id[0]
    written = _Progress(report=progress)
    check_text = encoding.lower().replace("_", "-") in ("latin-1", "latin1", "iso-8859-1")

    def finish(conn) -> None:
        conn.execute(update(loads).where(loads.c.status == "active").values(status="replaced"))
        conn.execute(
            update(loads)
            .where(loads.c.id == load_id)
            .values(status="active", row_count=written.rows, active_count=written.active, finished_at=utcnow())
        )

    fill = _load_postgresql if engine.dialect.name == "postgresql" else _load_sqlite
    try:
        with engine.connect() as conn:
            fill(conn, _batches(read_rows(bulk, check_text=check_text)), written, finish)
    except BaseException:
        with engine.begin() as conn:
            _drop_next(conn)
            conn.execute(update(loads).where(loads.c.id == load_id).values(status="failed", finished_at=utcnow()))
        raise
    finally:
        bulk.close()
    with engine.connect() as conn:
        loaded_date = conn.execute(select(loads.c.data_date).where(loads.c.id == load_id)).scalar_one()
    return LoadResult(load_id, written.rows, written.active, loaded_date, (utcnow() - started).total_seconds())


def _drop_next(conn) -> None:
    conn.exec_driver_sql(f"DROP TABLE IF EXISTS {NEXT}")
    conn.exec_driver_sql(f"DROP TABLE IF EXISTS {NEXT}_search")


def sqlite_search_objects() -> set[str]:
    """SQLite: the FTS5 table of the names and the shadow tables FTS5 keeps beside it."""
    return {f"{SEARCH}{shadow}" for shadow in ("", "_data", "_idx", "_config")}


def index_objects() -> set[str]:
    """The objects models.py cannot express (expression and trigram indexes, the FTS5 table)."""
    return sqlite_search_objects() | {name for name, _s in INDEXES["postgresql"]} | {"ix_registry_company_search_name"}
