"""Reading an import file as Swedish users have them, without holding it in memory.

CSV: semicolon, comma or tab (detected from the header line), UTF-8 with or
without BOM, UTF-16 with BOM, or Windows-1252 (detected by scanning the whole
file once), quoted fields with line breaks. XLSX: the chosen sheet (the first
by default), streamed with openpyxl's read-only mode, every row whatever the
sheet's declared dimension says; before openpyxl reads anything the archive is
checked (`check_xlsx`): its unpacked size and packing ratio, and the length of
every cell's text, so a "zip bomb" is refused without being unpacked into
memory. Every cell is given as text exactly as written, so leading zeros
survive. Anything else raises `FileProblem` with a Swedish message for the
whole file.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from typing import BinaryIO

from flask_babel import gettext as _

#: The longest cell accepted (characters); a longer one refuses the file.
MAX_FIELD_CHARS = 100_000
#: The most columns a row may have.
MAX_COLUMNS = 300
#: An XLSX file may unpack to at most this much in all (bytes).
MAX_XLSX_UNPACKED = 1024**3
#: A part of an XLSX file packed tighter than this (and larger than MAX_RATIO_FROM unpacked) is refused:
#: real sheets pack 5-30 times, a "zip bomb" a thousand times.
MAX_XLSX_RATIO = 100
MAX_RATIO_FROM = 10 * 1024 * 1024
#: Text between two XML tags longer than this (bytes; a cell's text, escaped UTF-8) refuses an XLSX file.
MAX_XML_TEXT_BYTES = MAX_FIELD_CHARS * 6
_SCAN_CHUNK = 1024 * 1024
_DELIMITERS = (";", ",", "\t", "|")
#: UTF-8 encodings of non-ASCII letters: proof that a part of the file is UTF-8.
_UTF8_LETTER = re.compile(rb"[\xc2-\xdf][\x80-\xbf]")


class FileProblem(ValueError):
    """The file as a whole cannot be read; the message is for the user (Swedish)."""


@dataclass
class Table:
    """An open import file: its header and an iterator of (row number, cells)."""

    kind: str
    headers: list[str]
    rows: Iterator[tuple[int, list[str]]]
    encoding: str | None = None
    delimiter: str | None = None
    _close: list = field(default_factory=list)

    def close(self) -> None:
        for close in self._close:
            close()

    def __enter__(self) -> Table:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


Source = str | Path | Callable[[], BinaryIO]


def _opener(source: Source) -> Callable[[], BinaryIO]:
    """A function opening the file afresh (a path, or e.g. a storage key's `open`)."""
    if callable(source):
        return source
    return lambda: open(source, "rb")


def _is_xlsx(opener) -> bool:
    with opener() as f:
        head = f.read(8)
    if not head.strip(b"\xef\xbb\xbf \r\n\t"):
        raise FileProblem(_("The file is empty."))
    return head.startswith(b"PK\x03\x04")


def open_table(source: Source, *, sheet: str | None = None, check: bool = True) -> Table:
    """Open an import file by its content (not its name) as a Table; `sheet` names an XLSX file's sheet.

    `check=False` skips the XLSX archive check, for a stored file checked when it was uploaded.
    """
    opener = _opener(source)
    if _is_xlsx(opener):
        if check:
            check_xlsx(opener)
        return _open_xlsx(opener, sheet)
    with opener() as f:
        head = f.read(8)
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        raise FileProblem(_("Old Excel files (.xls) cannot be read. Save the file as .xlsx or CSV and try again."))
    return _open_csv(opener, detect_encoding(opener))


def detect_encoding(source: Source) -> str:
    """utf-8-sig, utf-16 or cp1252, from the whole file; mixed or binary files refused."""
    opener = _opener(source)
    with opener() as f:
        first = f.read(4)
        if first.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            return "utf-16"
        f.seek(0)
        decoder = codecs.getincrementaldecoder("utf-8")()
        utf8_ok, saw_utf8_letter, line = True, False, 1
        while chunk := f.read(_SCAN_CHUNK):
            if b"\x00" in chunk:
                raise FileProblem(_("The file is not a text file (CSV) or an Excel file (XLSX)."))
            if not saw_utf8_letter and _UTF8_LETTER.search(chunk):
                saw_utf8_letter = True
            if utf8_ok:
                try:
                    decoder.decode(chunk)
                    line += chunk.count(b"\n")
                except UnicodeDecodeError as exc:
                    utf8_ok = False
                    failed_line = line + chunk[: exc.start].count(b"\n")
                    if saw_utf8_letter:
                        raise FileProblem(_mixed(failed_line)) from None
        if utf8_ok:
            try:
                decoder.decode(b"", final=True)
                return "utf-8-sig"
            except UnicodeDecodeError:
                utf8_ok = False
                failed_line = line
        if saw_utf8_letter:
            raise FileProblem(_mixed(failed_line))
    # Windows-1252 leaves five bytes undefined; a file with them is not text we know.
    with opener() as f:
        cp1252 = codecs.getincrementaldecoder("cp1252")()
        while chunk := f.read(_SCAN_CHUNK):
            try:
                cp1252.decode(chunk)
            except UnicodeDecodeError:
                raise FileProblem(
                    _("The file's character encoding is not recognised. Save it as CSV UTF-8 and try again.")
                ) from None
    return "cp1252"


def _mixed(line: int) -> str:
    return _(
        "The file mixes character encodings (UTF-8 and another one, from line %(line)s). "
        "Save it again as CSV UTF-8 and try again.",
        line=line,
    )


def _sniff_delimiter(header_line: str) -> str:
    """The delimiter of the header line: the candidate that occurs most (outside quotes)."""
    unquoted = re.sub(r'"[^"]*"', "", header_line)
    counts = {d: unquoted.count(d) for d in _DELIMITERS}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ";"


def _open_csv(opener, encoding: str) -> Table:
    with io.TextIOWrapper(opener(), encoding=encoding, newline="") as f:
        sample = f.readline(MAX_FIELD_CHARS)
        while sample and not sample.strip():
            sample = f.readline(MAX_FIELD_CHARS)
    delimiter = _sniff_delimiter(sample)
    f = io.TextIOWrapper(opener(), encoding=encoding, newline="")
    try:
        csv.field_size_limit(MAX_FIELD_CHARS)
        reader = csv.reader(f, delimiter=delimiter, quotechar='"', doublequote=True, strict=False)
        records = _csv_records(reader)
        header = next(records, None)
        if header is None or not any(cell.strip() for cell in header[1]):
            raise FileProblem(_("The file is empty."))
    except Exception:
        f.close()
        raise
    return Table("csv", [h.strip() for h in header[1]], records, encoding, delimiter, [f.close])


def _csv_records(reader) -> Iterator[tuple[int, list[str]]]:
    """(row number, cells) of the non-empty records; row 1 is the header, as in Excel."""
    number = 0
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            row = number + 1
            if "field larger" in str(exc):
                raise FileProblem(
                    _(
                        "Row %(row)s has a value longer than %(max)s characters; is it really a CSV file?",
                        row=row,
                        max=MAX_FIELD_CHARS,
                    )
                ) from None
            raise FileProblem(_("Row %(row)s cannot be read as CSV.", row=row)) from None
        number += 1
        if any("\x00" in cell for cell in cells):
            raise FileProblem(_("The file is not a text file (CSV) or an Excel file (XLSX)."))
        if len(cells) > MAX_COLUMNS:
            raise FileProblem(
                _("Row %(row)s has more than %(max)s columns; is it really a CSV file?", row=number, max=MAX_COLUMNS)
            )
        if any(cell.strip() for cell in cells):
            yield number, cells


def cell_text(value) -> str:
    """An Excel cell as the text the user sees (numbers without '.0', dates as YYYY-MM-DD)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == time(0) else value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


class _XlsxProblem(Exception):
    pass


def check_xlsx(source: Source) -> None:
    """Refuse an XLSX file that would unpack to too much, before anything reads it: by the sizes its
    archive declares, and by streaming its sheets and shared strings (never more than a MB in memory)
    in search of a cell text longer than MAX_FIELD_CHARS."""
    opener = _opener(source)
    too_much = _("The Excel file unpacks to far more than it holds (a \u201czip bomb\u201d?); it is not read.")
    with opener() as f:
        try:
            archive = zipfile.ZipFile(f)
            members = archive.infolist()
        except (zipfile.BadZipFile, OSError, ValueError):
            raise FileProblem(_("The file is not a readable Excel file (XLSX).")) from None
        if sum(m.file_size for m in members) > MAX_XLSX_UNPACKED:
            raise FileProblem(too_much)
        for member in members:
            ratio = member.file_size / max(member.compress_size, 1)
            if member.file_size > MAX_RATIO_FROM and ratio > MAX_XLSX_RATIO:
                raise FileProblem(too_much)
        long_text = re.compile(rb"[^<>]{%d,}" % MAX_XML_TEXT_BYTES)
        for member in members:
            name = member.filename.lower()
            if not (name.startswith("xl/worksheets/") or name == "xl/sharedstrings.xml"):
                continue
            try:
                with archive.open(member) as part:
                    _longest_text_within(part, long_text)
            except _XlsxProblem:
                raise FileProblem(
                    _(
                        "A cell of the Excel file is longer than %(max)s characters; the file is not read.",
                        max=MAX_FIELD_CHARS,
                    )
                ) from None
            except (zipfile.BadZipFile, OSError, EOFError, zlib.error):
                raise FileProblem(_("The Excel file is damaged and cannot be read to the end.")) from None


def _longest_text_within(part, long_text) -> None:
    """Raise _XlsxProblem when a run of bytes without '<' or '>' is longer than MAX_XML_TEXT_BYTES."""
    run = 0  # bytes of the run reaching the end of the previous chunk
    while chunk := part.read(_SCAN_CHUNK):
        first = min((i for i in (chunk.find(b"<"), chunk.find(b">")) if i >= 0), default=-1)
        if first < 0:
            run += len(chunk)
            if run > MAX_XML_TEXT_BYTES:
                raise _XlsxProblem()
            continue
        if run + first > MAX_XML_TEXT_BYTES or long_text.search(chunk):
            raise _XlsxProblem()
        run = len(chunk) - 1 - max(chunk.rfind(b"<"), chunk.rfind(b">"))


def sheet_names(source: Source) -> list[str]:
    """The sheets of an XLSX file, in order (empty for a CSV file)."""
    opener = _opener(source)
    if not _is_xlsx(opener):
        return []
    from openpyxl import load_workbook

    with opener() as stream:
        try:
            workbook = load_workbook(stream, read_only=True, data_only=True)
        except (zipfile.BadZipFile, KeyError, OSError, ValueError, TypeError):
            raise FileProblem(_("The file is not a readable Excel file (XLSX).")) from None
        try:
            return list(workbook.sheetnames)
        finally:
            workbook.close()


def count_rows(table: Table) -> int:
    """Read every row once (a problem anywhere in the file raises FileProblem now); the number of rows."""
    return sum(1 for _row in table.rows)


def _open_xlsx(opener, sheet_name: str | None = None) -> Table:
    from openpyxl import load_workbook

    stream = opener()
    try:
        workbook = load_workbook(stream, read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError, TypeError):
        stream.close()
        raise FileProblem(_("The file is not a readable Excel file (XLSX).")) from None
    try:
        if sheet_name is not None and sheet_name not in workbook.sheetnames:
            raise FileProblem(_("The Excel file has no sheet %(name)s.", name=sheet_name))
        sheet = workbook[sheet_name] if sheet_name is not None else workbook.worksheets[0]
        sheet.reset_dimensions()  # read every row, not only those the file's declared dimension admits
        rows = _xlsx_records(sheet)
        header = next(rows, None)
    except Exception:
        workbook.close()
        stream.close()
        raise
    if header is None:
        workbook.close()
        stream.close()
        raise FileProblem(_("The file is empty."))
    headers = [h.strip() for h in header[1]]
    while headers and not headers[-1]:
        headers.pop()
    return Table("xlsx", headers, rows, _close=[workbook.close, stream.close])


def _xlsx_records(sheet) -> Iterator[tuple[int, list[str]]]:
    try:
        for number, values in enumerate(sheet.iter_rows(values_only=True), start=1):
            cells = [cell_text(v).replace("\x00", "") for v in values[:MAX_COLUMNS]]
            if any(len(c) > MAX_FIELD_CHARS for c in cells):
                raise FileProblem(
                    _("Row %(row)s has a value longer than %(max)s characters.", row=number, max=MAX_FIELD_CHARS)
                )
            if any(c.strip() for c in cells):
                yield number, cells
    except (zipfile.BadZipFile, KeyError, ValueError, TypeError) as exc:
        raise FileProblem(_("The Excel file is damaged and cannot be read to the end.")) from exc
