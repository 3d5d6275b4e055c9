"""Taking rows out of a stored import file (an erasure, services.privacy), keeping the rest usable.

The file is written again in its own format: a CSV file in its encoding and with its delimiter, every
record but the removed ones as they were (quoted where needed); an XLSX file sheet by sheet with the
cells' own values (numbers and dates stay numbers and dates), streamed by openpyxl's read-only reader
and write-only writer. Row numbers are counted as services.importing.reader counts them (the header
is row 1), so the import's row errors can be renumbered to match.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass
from typing import BinaryIO

from services.importing import reader


@dataclass
class Redacted:
    """The file written again: its bytes, the rows taken out of the sheet the import reads (numbers
    as they were), the data rows left there, and whether any cell was changed at all."""

    content: bytes
    removed: list[int]
    remaining: int
    changed: bool


def redact(
    opener: Callable[[], BinaryIO],
    *,
    drop: Callable[[list[str]], bool],
    scrub: Callable[[str], str],
    sheet: str | None = None,
) -> Redacted:
    """The file without the data rows `drop` says are to go (it gets each row's cells as text), with
    `scrub` applied to the text of every cell left."""
    table = reader.open_table(opener, sheet=sheet, check=False)
    kind, encoding, delimiter = table.kind, table.encoding, table.delimiter
    table.close()
    if kind == "xlsx":
        return _xlsx(opener, drop, scrub, sheet)
    return _csv(opener, drop, scrub, encoding or "utf-8-sig", delimiter or ";")


def _csv(opener, drop, scrub, encoding: str, delimiter: str) -> Redacted:
    out = io.StringIO(newline="")
    writer = csv.writer(out, delimiter=delimiter, quotechar='"', lineterminator="\r\n")
    removed, remaining, changed = [], 0, False
    csv.field_size_limit(reader.MAX_FIELD_CHARS)
    with io.TextIOWrapper(opener(), encoding=encoding, newline="") as f:
        header_seen = False
        for number, cells in enumerate(csv.reader(f, delimiter=delimiter, quotechar='"', strict=False), start=1):
            empty = not any(cell.strip() for cell in cells)
            if header_seen and not empty and drop(cells):
                removed.append(number)
                continue
            scrubbed = [scrub(cell) for cell in cells]
            changed |= scrubbed != cells
            remaining += header_seen and not empty
            header_seen = header_seen or not empty
            writer.writerow(scrubbed)
    return Redacted(out.getvalue().encode(encoding), removed, remaining, changed or bool(removed))


def _xlsx(opener, drop, scrub, sheet_name: str | None) -> Redacted:
    from openpyxl import Workbook, load_workbook

    target = Workbook(write_only=True)
    removed, remaining, changed = [], 0, False
    with opener() as stream:
        source = load_workbook(stream, read_only=True, data_only=True)
        try:
            read_sheet = sheet_name if sheet_name is not None else source.sheetnames[0]
            for sheet in source.worksheets:
                sheet.reset_dimensions()
                out = target.create_sheet(sheet.title)
                header_seen = False
                for number, values in enumerate(sheet.iter_rows(values_only=True), start=1):
                    cells = [reader.cell_text(v) for v in values]
                    empty = not any(c.strip() for c in cells)
                    if header_seen and not empty and drop(cells):
                        if sheet.title == read_sheet:
                            removed.append(number)
                        changed = True
                        continue
                    scrubbed = [scrub(v) if isinstance(v, str) else v for v in values]
                    changed |= scrubbed != list(values)
                    remaining += header_seen and not empty and sheet.title == read_sheet
                    header_seen = header_seen or not empty
                    out.append(scrubbed)
        finally:
            source.close()
    buffer = io.BytesIO()
    target.save(buffer)
    return Redacted(buffer.getvalue(), removed, remaining, changed)
