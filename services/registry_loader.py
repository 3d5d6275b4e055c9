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
from stdnum import luhn

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


def _part(field: str, index: int = 0) -> str:
    parts = field.split("$")
    return parts[index].strip() if index < len(parts) else ""


def _date(value: str, line: int, header: str) -> date | None:
    value = value.strip()[:10]
    if not value:
        return None
    try:
        if not _DATE.fullmatch(value):
            raise ValueError
        return date.fromisoformat(value)
    except ValueError:
        raise LoadError(f"Rad {line}: {header} är inget datum (ÅÅÅÅ-MM-DD): {value!r}.") from None


def org_number(value: str, line: int) -> str:
    """The organisationsnummer as ten digits; a sole trader's personnummer (12 digits) as its last ten."""
    digits = _part(value).replace("-", "")
    if len(digits) == 12 and digits.isdigit():
        digits = digits[2:]
    if len(digits) != 10 or not digits.isdigit() or not luhn.is_valid(digits):
        raise LoadError(f"Rad {line}: ogiltigt organisationsnummer {_part(value)!r}.")
    return digits


def _checked_text(line: int, fields: list[str]) -> None:
    for field in fields:
        if _UTF8_AS_LATIN1.search(field):
            raise LoadError(
                f"Rad {line}: texten ser ut att vara UTF-8, men filen ska vara latin-1 ({field[:40]!r}). "
                "Ange --encoding utf-8 om filen verkligen är UTF-8."
            )
        if _C1_CONTROLS.search(field):
            raise LoadError(f"Rad {line}: tecken som inte hör hemma i en latin-1-text ({field[:40]!r}).")


def parse_row(fields: list[str], line: int, row_id: int, *, check_text: bool = True) -> tuple:
    """One line of the file as a row of COLUMNS."""
    if len(fields) != len(HEADERS):
        raise LoadError(
            f"Rad {line} har {len(fields)} fält, men filen ska ha {len(HEADERS)} (är filen avkortad eller trasig?)."
        )
    if check_text:
        _checked_text(line, fields)

    def field(header: str) -> str:
        return fields[_INDEX[header]]

    name = _part(field("organisationsnamn"))
    if not name:
        raise LoadError(f"Rad {line}: organisationsnamn saknas.")
    address = field("postadress")
    return (
        row_id,
        org_number(field("organisationsidentitet"), line),
        fold(name)[:250],
        name[:250],
        _part(field("organisationsform")).split("-")[0][:10] or None,
        _date(field("registreringsdatum"), line, "registreringsdatum"),
        _date(field("avregistreringsdatum"), line, "avregistreringsdatum"),
        _part(field("avregistreringsorsak"))[:100] or None,
        field("verksamhetsbeskrivning").strip() or None,
        _part(address, 1)[:200] or None,
        _part(address, 0)[:200] or None,
        _part(address, 2).replace(" ", "")[:10] or None,
        _part(address, 3)[:100] or None,
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


def _create_next(conn, dialect: str) -> None:
    _drop_next(conn)
    if dialect == "sqlite":
        table = table_of(RegistryCompany).to_metadata(MetaData(), name=NEXT)
        table.indexes.clear()
        table.create(conn)
        conn.exec_driver_sql(SQLITE_SEARCH_TABLE.format(table=f"{NEXT}_search"))
    else:
        # No indexes (built after the rows, several times faster), no primary key yet.
        conn.exec_driver_sql(f"CREATE TABLE {NEXT} (LIKE {TABLE} INCLUDING DEFAULTS)")


def _write(conn, dialect: str, batch: list[tuple]) -> None:
    if dialect == "postgresql":
        cursor = conn.connection.driver_connection.cursor()
        with cursor, cursor.copy(f"COPY {NEXT} ({', '.join(COLUMNS)}) FROM STDIN") as copy:
            for row in batch:
                copy.write_row(row)
    else:
        placeholders = ", ".join("?" * len(COLUMNS))
        rows = [tuple(v.isoformat() if isinstance(v, date) else v for v in row) for row in batch]
        cursor = conn.connection.driver_connection.cursor()
        try:
            cursor.executemany(f"INSERT INTO {NEXT} ({', '.join(COLUMNS)}) VALUES ({placeholders})", rows)
            cursor.executemany(f"INSERT INTO {NEXT}_search(rowid, words) VALUES (?, ?)", [(r[0], r[2]) for r in rows])
        finally:
            cursor.close()


def _prepare_switch(conn, dialect: str) -> None:
    """Indexes on the new table (PostgreSQL: under names of their own until the switch)."""
    if dialect == "postgresql":
        conn.exec_driver_sql("SET LOCAL maintenance_work_mem = '256MB'")
        conn.exec_driver_sql(f"ALTER TABLE {NEXT} ADD CONSTRAINT pk_{NEXT} PRIMARY KEY (id)")
        for name, statement in INDEXES["postgresql"]:
            conn.exec_driver_sql(statement.format(name=f"{name}_next", table=NEXT))
        conn.exec_driver_sql(f"ANALYZE {NEXT}")


def _switch(conn, dialect: str) -> None:
    """The new table in the old one's place, in the caller's transaction."""
    conn.exec_driver_sql(f"DROP TABLE {TABLE}")
    conn.exec_driver_sql(f"ALTER TABLE {NEXT} RENAME TO {TABLE}")
    if dialect == "postgresql":
        conn.exec_driver_sql(f"ALTER TABLE {TABLE} RENAME CONSTRAINT pk_{NEXT} TO pk_{TABLE}")
        for name, _statement in INDEXES["postgresql"]:
            conn.exec_driver_sql(f"ALTER INDEX {name}_next RENAME TO {name}")
    else:
        conn.exec_driver_sql(f"DROP TABLE IF EXISTS {SEARCH}")
        conn.exec_driver_sql(f"ALTER TABLE {NEXT}_search RENAME TO {SEARCH}")
        # SQLite cannot rename an index: they are built here, where readers still see the old table.
        for name, statement in INDEXES["sqlite"]:
            conn.exec_driver_sql(statement.format(name=name, table=TABLE))


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

    Each batch is a transaction of its own (on SQLite, other writers wait for one batch at most),
    and so is the switch at the end."""
    started = utcnow()
    bulk = open_bulk_file(path, encoding=encoding)
    dialect = engine.dialect.name
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
    count = active = 0
    check_text = encoding.lower().replace("_", "-") in ("latin-1", "latin1", "iso-8859-1")
    try:
        with engine.begin() as conn:
            _create_next(conn, dialect)
        for batch in _batches(read_rows(bulk, check_text=check_text)):
            with engine.begin() as conn:
                _write(conn, dialect, batch)
            count += len(batch)
            active += sum(1 for row in batch if row[6] is None)
            if progress:
                progress(count)
        if count == 0:
            raise LoadError("Filen har inga rader utöver rubrikraden.")
        with engine.begin() as conn:
            _prepare_switch(conn, dialect)
        with engine.begin() as conn:
            if dialect == "postgresql":
                # Look-ups wait for this lock only for the switch itself (milliseconds).
                conn.exec_driver_sql(f"LOCK TABLE {TABLE} IN ACCESS EXCLUSIVE MODE")
            _switch(conn, dialect)
            conn.execute(update(loads).where(loads.c.status == "active").values(status="replaced"))
            conn.execute(
                update(loads)
                .where(loads.c.id == load_id)
                .values(status="active", row_count=count, active_count=active, finished_at=utcnow())
            )
    except BaseException:
        with engine.begin() as conn:
            _drop_next(conn)
            conn.execute(update(loads).where(loads.c.id == load_id).values(status="failed", finished_at=utcnow()))
        raise
    finally:
        bulk.close()
    with engine.connect() as conn:
        loaded_date = conn.execute(select(loads.c.data_date).where(loads.c.id == load_id)).scalar_one()
    return LoadResult(load_id, count, active, loaded_date, (utcnow() - started).total_seconds())


def _drop_next(conn) -> None:
    conn.exec_driver_sql(f"DROP TABLE IF EXISTS {NEXT}")
    conn.exec_driver_sql(f"DROP TABLE IF EXISTS {NEXT}_search")


def sqlite_search_objects() -> set[str]:
    """SQLite: the FTS5 table of the names and the shadow tables FTS5 keeps beside it."""
    return {f"{SEARCH}{shadow}" for shadow in ("", "_data", "_idx", "_config")}


def index_objects() -> set[str]:
    """The objects models.py cannot express (expression and trigram indexes, the FTS5 table)."""
    return sqlite_search_objects() | {name for name, _s in INDEXES["postgresql"]} | {"ix_registry_company_search_name"}
