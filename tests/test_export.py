"""services.export: CSV and XLSX files (format, injection rule, streaming, download headers)."""

import csv
import io
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

import pytest
from openpyxl import load_workbook

from admin_views import downloads
from services import export, formulas
from services.export import Column


@dataclass
class Owner:
    name: str


@dataclass
class Row:
    name: str
    amount: Decimal | None
    count: int
    closes: date | None
    created: datetime
    active: bool
    owner: Owner | None


COLUMNS = [
    Column("name", "Namn"),
    Column("amount", "Belopp", number_format="#,##0.00"),
    Column("count", "Antal"),
    Column("closes", "Stängs"),
    Column("created", "Skapad"),
    Column("active", "Aktiv"),
    Column("owner.name", "Kundansvarig"),
    Column("shout", "Versaler", getter=lambda row: row.name.upper()),
]


def rows():
    return [
        Row(
            "Åkesson & Söner; AB",
            Decimal("-12.50"),
            -3,
            date(2026, 12, 1),
            datetime(2026, 11, 27, 13, 5),
            True,
            Owner("Örjan"),
        ),
        Row('=HYPERLINK("http://evil")', None, 0, None, datetime(2026, 1, 2, 23, 30), False, None),
    ]


def parse_csv(data: bytes) -> list[list[str]]:
    assert data.startswith(b"\xef\xbb\xbf"), "UTF-8 BOM first"
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline=""), delimiter=";"))


# --- the injection rule --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("=1+1", "'=1+1"),
        ("+46 8 123", "'+46 8 123"),
        ("-12,50", "'-12,50"),  # text that looks like a number is still text
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tcmd", "'\tcmd"),
        ("\rcmd", "'\rcmd"),
        ("Anna = Berit", "Anna = Berit"),
        ("", ""),
        ("Åhléns", "Åhléns"),
    ],
)
def test_text_starting_like_a_formula_gets_an_apostrophe(text, expected):
    assert formulas.neutralise(text) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (Decimal("-12.50"), "-12,50"),
        (Decimal("1234567.891"), "1234567,891"),
        (Decimal("1E+3"), "1000"),
        (-3, "-3"),
        (0, "0"),
        (2.5, "2,5"),
        (None, ""),
        (date(2026, 2, 3), "2026-02-03"),
        ("-5", "'-5"),
    ],
)
def test_csv_cell_writes_numbers_as_numbers_and_dates_iso(app, value, expected):
    assert export.csv_cell(value) == expected


def test_csv_cell_booleans_are_swedish_words(app):
    with app.test_request_context():
        assert (export.csv_cell(True), export.csv_cell(False)) == ("Ja", "Nej")


def test_csv_cell_datetime_is_iso_in_the_users_time_zone(app):
    with app.test_request_context():  # stored UTC, shown Stockholm time (UTC+1 in November)
        assert export.csv_cell(datetime(2026, 11, 27, 13, 5)) == "2026-11-27 14:05"


# --- CSV --------------------------------------------------------------------------------------


def test_csv_has_bom_semicolons_crlf_header_and_rows(app):
    with app.test_request_context():
        data = b"".join(export.csv_chunks(COLUMNS, rows()))
    assert data.count(b"\r\n") == 3 and b"\n" not in data.replace(b"\r\n", b"")
    table = parse_csv(data)
    assert table[0] == ["Namn", "Belopp", "Antal", "Stängs", "Skapad", "Aktiv", "Kundansvarig", "Versaler"]
    assert table[1] == [
        "Åkesson & Söner; AB",
        "-12,50",
        "-3",
        "2026-12-01",
        "2026-11-27 14:05",
        "Ja",
        "Örjan",
        "ÅKESSON & SÖNER; AB",
    ]
    assert table[2] == [
        '\'=HYPERLINK("http://evil")',
        "",
        "0",
        "",
        "2026-01-03 00:30",
        "Nej",
        "",
        '\'=HYPERLINK("HTTP://EVIL")',
    ]
    assert b'"\xc3\x85kesson & S\xc3\xb6ner; AB"' in data, "a field with the separator is quoted"


def test_csv_streams_in_chunks_without_reading_all_rows_first(app):
    consumed = []

    def lazy_rows():
        for n in range(7):
            consumed.append(n)
            yield {"n": n}

    chunks = export.csv_chunks([Column("n", "Nummer")], lazy_rows(), rows_per_chunk=3)
    first = next(chunks)
    assert consumed == [0, 1, 2], "the first chunk is sent after three rows, not after all seven"
    assert first.decode("utf-8-sig") == "Nummer\r\n0\r\n1\r\n2\r\n"
    rest = list(chunks)
    assert [c.decode() for c in rest] == ["3\r\n4\r\n5\r\n", "6\r\n"]


def test_csv_of_no_rows_is_just_the_header(app):
    assert b"".join(export.csv_chunks([Column("n", "Nummer")], [])) == "\ufeffNummer\r\n".encode()


def test_dict_rows_and_missing_relations_give_empty_cells(app):
    data = b"".join(
        export.csv_chunks([Column("a.b", "AB"), Column("c", "C")], [{"a": None, "c": "x"}, {"a": {"b": 1}}])
    )
    assert parse_csv(data)[1:] == [["", "x"], ["1", ""]]


# --- XLSX ------------------------------------------------------------------------------------


def test_xlsx_keeps_types_bold_header_and_neutralises_text(app):
    with app.test_request_context():
        data = export.xlsx_bytes(COLUMNS, rows(), sheet_title="Företag")
    book = load_workbook(io.BytesIO(data))
    sheet = book["Företag"]
    header = [cell for cell in sheet[1]]
    assert [c.value for c in header][:3] == ["Namn", "Belopp", "Antal"]
    assert all(c.font.bold for c in header)
    assert sheet.freeze_panes == "A2"
    first = [c.value for c in sheet[2]]
    assert first[0] == "Åkesson & Söner; AB"
    assert isinstance(first[1], (int, float)) and first[1] == -12.5
    assert sheet.cell(2, 2).number_format == "#,##0.00"
    assert first[2] == -3
    assert first[3] == datetime(2026, 12, 1) and sheet.cell(2, 4).is_date
    assert first[4] == datetime(2026, 11, 27, 14, 5) and sheet.cell(2, 5).is_date
    assert first[5] == "Ja"
    second = [c.value for c in sheet[3]]
    assert second[0] == '\'=HYPERLINK("http://evil")'
    assert sheet.cell(3, 1).data_type == "s", "never a formula"
    assert second[1] is None
    widths = {letter: dim.width for letter, dim in sheet.column_dimensions.items()}
    assert widths["A"] >= 20 and widths["C"] < widths["A"]


def test_xlsx_of_no_rows_has_the_header(app):
    sheet = load_workbook(io.BytesIO(export.xlsx_bytes([Column("n", "Nummer")], []))).active
    assert [[c.value for c in row] for row in sheet.iter_rows()] == [["Nummer"]]


def test_xlsx_sheet_title_drops_characters_excel_refuses(app):
    data = export.xlsx_bytes([Column("n", "N")], [{"n": 1}], sheet_title="Kunder: 2026/11 [alla] och ännu fler tecken")
    assert load_workbook(io.BytesIO(data)).sheetnames == ["Kunder  2026 11  alla  och ännu"]


# --- HTTP --------------------------------------------------------------------------------------


def test_content_disposition_has_ascii_fallback_and_utf8_name():
    header = downloads.content_disposition('Företag "mina" ../kunder.csv')
    assert header == (
        "attachment; filename=\"Foretag _mina_ .._kunder.csv\"; filename*=UTF-8''F%C3%B6retag%20_mina_%20.._kunder.csv"
    )


def test_a_download_streams_the_file(app):
    """admin_views.downloads: headers of an attachment; the body is written after the request has ended."""

    def view(fmt):
        rows = downloads.rows_given({"n": n} for n in range(3))
        return downloads.download(fmt, "Säljmöjligheter", [Column("n", "Nummer")], rows)

    with app.test_request_context():
        as_csv, as_xlsx = view("csv"), view("xlsx")
    assert as_csv.is_streamed
    assert as_csv.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert "filename*=UTF-8''S%C3%A4ljm%C3%B6jligheter.csv" in as_csv.headers["Content-Disposition"]
    assert b"".join(as_csv.response) == "\ufeffNummer\r\n0\r\n1\r\n2\r\n".encode()
    assert as_xlsx.headers["Content-Type"].startswith("application/vnd.openxmlformats")
    assert load_workbook(io.BytesIO(b"".join(as_xlsx.response))).active.max_row == 4


def test_unknown_format_is_refused():
    with pytest.raises(export.UnknownFormat):
        list(export.chunks("pdf", [], []))


def test_control_characters_from_imported_text_do_not_break_an_xlsx_file():
    import io

    from openpyxl import load_workbook

    data = export.xlsx_bytes([export.Column("note", "Anteckning")], [{"note": "rad\x0bett\x01två\tflik"}])
    sheet = load_workbook(io.BytesIO(data)).active
    assert sheet["A2"].value == "radetttvå\tflik"
