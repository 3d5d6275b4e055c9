"""The import reader and cell parsers: CSV as Swedish users have it, XLSX, and bad files."""

import codecs
import io

import pytest
from openpyxl import Workbook

from services.importing import fields
from services.importing.reader import MAX_COLUMNS, FileProblem, detect_encoding, open_table
from services.validation import InvalidValue
from tests.helpers import sv


def write(tmp_path, content, name="f.csv"):
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    return path


def read_all(path):
    with open_table(path) as table:
        return table.headers, list(table.rows), table


def test_semicolon_utf8_with_bom_keeps_leading_zeros_and_swedish_letters(tmp_path):
    path = write(
        tmp_path,
        codecs.BOM_UTF8
        + "Företagsnamn;Org.nr;Postnummer;Telefon\nÅkesson & Öberg AB;0123456789;01234;0701234567\n".encode(),
    )
    headers, rows, table = read_all(path)
    assert headers == ["Företagsnamn", "Org.nr", "Postnummer", "Telefon"]
    assert rows == [(2, ["Åkesson & Öberg AB", "0123456789", "01234", "0701234567"])]
    assert table.delimiter == ";" and table.encoding == "utf-8-sig"


def test_comma_separated_without_bom(tmp_path):
    headers, rows, table = read_all(write(tmp_path, "Name,City\nAcme AB,Malmö\n"))
    assert table.delimiter == "," and rows == [(2, ["Acme AB", "Malmö"])]


def test_tab_separated_utf16_as_excel_unicode_text(tmp_path):
    path = write(tmp_path, "Namn\tOrt\nÅsa AB\tGävle\n".encode("utf-16"))
    headers, rows, table = read_all(path)
    assert table.encoding == "utf-16" and table.delimiter == "\t"
    assert rows == [(2, ["Åsa AB", "Gävle"])]


def test_windows_1252_is_detected(tmp_path):
    path = write(tmp_path, "Företagsnamn;Ort\nBröderna Åström AB;Örebro\n".encode("cp1252"))
    headers, rows, table = read_all(path)
    assert table.encoding == "cp1252"
    assert headers[0] == "Företagsnamn" and rows[0][1] == ["Bröderna Åström AB", "Örebro"]


def test_quoted_fields_with_line_breaks_and_delimiters_count_as_one_row(tmp_path):
    content = 'Namn;Anteckning;Ort\n"Alfa; AB";"rad ett\nrad två";Luleå\nBeta AB;"sa ""hej""";Kiruna\n\n'
    headers, rows, _table = read_all(write(tmp_path, content))
    assert rows == [(2, ["Alfa; AB", "rad ett\nrad två", "Luleå"]), (3, ["Beta AB", 'sa "hej"', "Kiruna"])]


def test_delimiter_inside_quoted_header_does_not_decide(tmp_path):
    _headers, rows, table = read_all(write(tmp_path, '"Namn, fullständigt";Ort\nA;B\n'))
    assert table.delimiter == ";" and rows == [(2, ["A", "B"])]


def test_blank_lines_are_skipped_but_row_numbers_follow_the_file(tmp_path):
    _headers, rows, _table = read_all(write(tmp_path, "Namn\nA\n;\nB\n"))
    assert [number for number, _cells in rows] == [2, 4]


def test_xlsx_first_sheet_as_text(tmp_path):
    from datetime import datetime

    book = Workbook()
    sheet = book.active
    sheet.append(["Företagsnamn", "Postnummer", "Org.nr", "Skapad", "Rabatt"])
    sheet.append(["Alfa AB", "01234", 5560360793, datetime(2024, 3, 5), 2.5])
    sheet.append([None, None, None, None, None])
    sheet.append(["Beta AB", 11122, None, None, 3.0])
    path = tmp_path / "f.xlsx"
    book.save(path)
    headers, rows, table = read_all(path)
    assert table.kind == "xlsx"
    assert headers == ["Företagsnamn", "Postnummer", "Org.nr", "Skapad", "Rabatt"]
    assert rows == [
        (2, ["Alfa AB", "01234", "5560360793", "2024-03-05", "2.5"]),
        (4, ["Beta AB", "11122", "", "", "3"]),
    ]


@pytest.mark.parametrize("content", [b"", b"\xef\xbb\xbf", b"\r\n\r\n", b"   "])
def test_empty_file(tmp_path, content):
    with pytest.raises(FileProblem) as exc:
        open_table(write(tmp_path, content))
    assert str(exc.value) == sv("The file is empty.")


def test_binary_file_named_csv(tmp_path):
    with pytest.raises(FileProblem) as exc:
        open_table(write(tmp_path, bytes(range(256)) * 10))
    assert str(exc.value) == sv("The file is not a text file (CSV) or an Excel file (XLSX).")


def test_nul_characters_in_a_utf16_file_are_refused(tmp_path):
    with open_table(write(tmp_path, "Namn;Ort\nA\x00;B\n".encode("utf-16"))) as table:
        with pytest.raises(FileProblem) as exc:
            list(table.rows)
    assert str(exc.value) == sv("The file is not a text file (CSV) or an Excel file (XLSX).")


def test_old_xls_and_broken_xlsx(tmp_path):
    with pytest.raises(FileProblem, match="xlsx"):
        open_table(write(tmp_path, b"\xd0\xcf\x11\xe0" + b"x" * 100))
    with pytest.raises(FileProblem) as exc:
        open_table(write(tmp_path, b"PK\x03\x04" + b"garbage" * 20, "f.xlsx"))
    assert str(exc.value) == sv("The file is not a readable Excel file (XLSX).")


def test_mixed_encodings_are_refused_whichever_comes_first(tmp_path):
    utf8_first = "Namn\nÅsa\n".encode() + "Örjan\n".encode("cp1252")
    with pytest.raises(FileProblem) as exc:
        detect_encoding(write(tmp_path, utf8_first))
    assert str(exc.value) == sv(
        "The file mixes character encodings (UTF-8 and another one, from line %(line)s). "
        "Save it again as CSV UTF-8 and try again.",
        line=3,
    )
    cp1252_first = "Namn\nÖrjan\n".encode("cp1252") + "Åsa\n".encode()
    with pytest.raises(FileProblem, match="UTF-8"):
        detect_encoding(write(tmp_path, cp1252_first))


def test_a_ten_megabyte_line_is_refused_clearly(tmp_path):
    path = write(tmp_path, "Namn;Ort\n" + "x" * (10 * 1024 * 1024) + ";Ort\n")
    with open_table(path) as table:
        with pytest.raises(FileProblem) as exc:
            list(table.rows)
    assert "2" in str(exc.value) and "100000" in str(exc.value).replace(" ", "").replace("\u00a0", "")


def test_too_many_columns_is_refused(tmp_path):
    path = write(tmp_path, "Namn\n" + ";" * (MAX_COLUMNS + 5) + "x\n")
    with open_table(path) as table:
        with pytest.raises(FileProblem):
            list(table.rows)


def test_reads_from_a_stream_opener(tmp_path):
    data = b"Namn;Ort\nA;B\n"
    with open_table(lambda: io.BytesIO(data)) as table:
        assert list(table.rows) == [(2, ["A", "B"])]


# --- cell parsers -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, expected",
    [
        ("2024-03-05", (2024, 3, 5)),
        ("05.03.2024", (2024, 3, 5)),
        ("5.3.2024", (2024, 3, 5)),
        ("20240305", (2024, 3, 5)),
        ("2024-03-05 00:00:00", (2024, 3, 5)),
    ],
)
def test_dates(text, expected):
    value = fields.parse_date(text)
    assert (value.year, value.month, value.day) == expected


@pytest.mark.parametrize("text", ["2024-02-30", "31.31.2024", "igår", "03/05/2024"])
def test_bad_dates(text):
    with pytest.raises(InvalidValue) as exc:
        fields.parse_date(text)
    assert str(exc.value) == sv("Not a date; write YYYY-MM-DD or DD.MM.YYYY.")


@pytest.mark.parametrize(
    "text, expected",
    [
        ("12,5", "12.5"),
        ("1 234,50", "1234.50"),
        ("1.234,50", "1234.50"),
        ("7", "7"),
        ("3.5", "3.5"),
        ("10 %", "10"),
        ("1,250.50", "1250.50"),
    ],
)
def test_decimal_comma(text, expected):
    from decimal import Decimal

    assert fields.parse_decimal(text) == Decimal(expected)


@pytest.mark.parametrize("text", ["tolv", "1,2,3", "NaN", "Infinity", "1e400"])
def test_bad_numbers(text):
    with pytest.raises(InvalidValue):
        fields.parse_decimal(text)


def test_booleans_and_choices():
    assert fields.boolean("Ja", {}) is True and fields.boolean("nej", {}) is False and fields.boolean("x", {}) is True
    with pytest.raises(InvalidValue):
        fields.boolean("kanske", {})
    status = fields.choice("COMPANY_STATUS_LABELS")  # the options are named, loaded on first use
    assert status("active", {}) == "active" and status("Bankrupt", {}) == "bankrupt"
    with pytest.raises(InvalidValue):
        status("okänd", {})


def test_validation_is_the_registers_own():
    assert fields.org_number("556036-0793", {}) == "5560360793"
    assert fields.org_number("12345", {"country": "NO"}) == "12345"
    assert fields.postcode("11122", {}) == "111 22"
    assert fields.phone("08-123 456 78", {}) == "+46812345678"
    with pytest.raises(InvalidValue) as exc:
        fields.email("inte en adress", {})
    assert str(exc.value) == sv("This is not a valid e-mail address.")


def test_categories_split_on_comma_semicolon_or_bar():
    assert fields.names("A-kund, Mässa 2026|A-kund; ", {}) == ["A-kund", "Mässa 2026"]
