"""Import files found wanting when tried as a new user would, each with a real crafted file:
an XLSX "zip bomb", an XLSX whose declared dimension is smaller than its data, a header-only file,
a 10 MB line, an XLSX with several sheets, and the card's Historik naming the import."""

from __future__ import annotations

import io
import os
import re
import tracemalloc
import zipfile
from xml.sax.saxutils import escape

import pytest
from sqlalchemy import select

from models import Company, ImportJob
from services.importing import jobs, reader
from services.importing.reader import FileProblem
from tests.helpers import count, flashes, sv, text
from tests.test_import_views import mapping_form, upload

CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>{sheets}</Types>'
)
SHEET_TYPE = (
    '<Override PartName="/xl/worksheets/sheet{n}.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
)
ROOT_RELS = (
    '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/'
    'relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
    'relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>'
)
NS = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
REL_NS = 'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"'


def _cell(column: int, row: int, value: str) -> str:
    return f'<c r="{chr(65 + column)}{row}" t="inlineStr"><is><t>{escape(value)}</t></is></c>'


def _rows_xml(rows) -> str:
    return "".join(
        f'<row r="{r}">' + "".join(_cell(c, r, v) for c, v in enumerate(cells)) + "</row>"
        for r, cells in enumerate(rows, start=1)
    )


def xlsx(sheets: dict[str, list[list[str]]], *, dimension: str | None = None, huge_cell: int = 0) -> bytes:
    """A real XLSX file written part by part (as Excel lays it out), with inline strings.

    `dimension` declares a sheet dimension (e.g. smaller than the data); `huge_cell` adds a second row
    to the first sheet whose first cell holds that many characters, streamed into the archive.
    """
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        names = list(sheets)
        archive.writestr(
            "[Content_Types].xml",
            CONTENT_TYPES.format(sheets="".join(SHEET_TYPE.format(n=n + 1) for n in range(len(names)))),
        )
        archive.writestr("_rels/.rels", ROOT_RELS)
        archive.writestr(
            "xl/workbook.xml",
            f"<workbook {NS} {REL_NS}><sheets>"
            + "".join(
                f'<sheet name="{escape(name)}" sheetId="{n + 1}" r:id="rId{n + 1}"/>' for n, name in enumerate(names)
            )
            + "</sheets></workbook>",
        )
        archive.writestr(
            "xl/_rels/workbook.xml.rels",
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            + "".join(
                f'<Relationship Id="rId{n + 1}" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
                f'relationships/worksheet" Target="worksheets/sheet{n + 1}.xml"/>'
                for n in range(len(names))
            )
            + "</Relationships>",
        )
        for n, name in enumerate(names):
            with archive.open(f"xl/worksheets/sheet{n + 1}.xml", "w") as part:
                part.write(f"<worksheet {NS}>".encode())
                if dimension:
                    part.write(f'<dimension ref="{dimension}"/>'.encode())
                part.write(b"<sheetData>" + _rows_xml(sheets[name]).encode())
                if huge_cell and n == 0:
                    row = len(sheets[name]) + 1
                    part.write(f'<row r="{row}"><c r="A{row}" t="inlineStr"><is><t>'.encode())
                    chunk = b"a" * (1024 * 1024)
                    for _ in range(huge_cell // len(chunk)):
                        part.write(chunk)
                    part.write(b"a" * (huge_cell % len(chunk)) + b"</t></is></c></row>")
                part.write(b"</sheetData></worksheet>")
    return buffer.getvalue()


def stored_files(app) -> int:
    return sum(len(files) for _dir, _dirs, files in os.walk(app.config["UPLOAD_DIR"]))


def create(session, storage, employees, data: bytes, filename="kunder.xlsx") -> ImportJob:
    return jobs.create_job(
        session,
        storage,
        entity="company",
        filename=filename,
        stream=io.BytesIO(data),
        actor=employees["admin"],
        max_bytes=10**8,
    )


def dry_run(app, session, storage, job) -> ImportJob:
    from extensions import db

    jobs.queue(session, job, write=False)
    session.commit()
    with app.app_context():
        jobs.run(db.session, job.id, storage=storage, worker="test")
        db.session.remove()
    session.expire_all()
    return session.get(ImportJob, job.id)


def test_an_xlsx_zip_bomb_is_refused_by_its_unpacked_size_before_it_is_read(app, session, storage, employees):
    bomb = xlsx({"Kunder": [["Företagsnamn"]]}, huge_cell=60 * 1024 * 1024)
    assert len(bomb) < 200 * 1024  # 60 MB of text in under 200 KB
    before = stored_files(app)
    tracemalloc.start()
    try:
        with pytest.raises(FileProblem) as refused:
            create(session, storage, employees, bomb)
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert str(refused.value) == sv(
        "The Excel file unpacks to far more than it holds (a \u201czip bomb\u201d?); it is not read."
    )
    assert peak < 20 * 1024 * 1024  # nothing was unpacked into memory
    assert stored_files(app) == before and count(session, ImportJob) == 0


def test_an_xlsx_cell_longer_than_allowed_is_refused_before_openpyxl_reads_it(app, session, storage, employees):
    long_cell = xlsx({"Kunder": [["Företagsnamn"]]}, huge_cell=3 * 1024 * 1024)  # packs ~1000x but is small
    with pytest.raises(FileProblem) as refused:
        create(session, storage, employees, long_cell)
    assert str(refused.value) == sv(
        "A cell of the Excel file is longer than %(max)s characters; the file is not read.", max=reader.MAX_FIELD_CHARS
    )
    text_cell = xlsx({"Kunder": [["Företagsnamn"], ["x" * (reader.MAX_FIELD_CHARS + 1)]]})
    with pytest.raises(FileProblem):  # just over the limit: openpyxl may read it, the reader refuses it
        with reader.open_table(lambda: io.BytesIO(text_cell), check=False) as table:
            list(table.rows)
    assert count(session, ImportJob) == 0


def test_an_xlsx_whose_declared_dimension_is_too_small_is_read_to_its_last_row(app, session, storage, employees):
    rows = [["Företagsnamn", "Ort"]] + [[f"Bolag {n} AB", "Lund"] for n in range(3000)]
    data = xlsx({"Kunder": rows}, dimension="A1:B2")
    job = dry_run(app, session, storage, create(session, storage, employees, data))
    assert (job.status, job.rows_done, job.created_count) == ("checked", 3000, 3000)


@pytest.mark.parametrize(
    "data, filename",
    [("Företagsnamn;Ort\r\n".encode(), "tom.csv"), (xlsx({"Kunder": [["Företagsnamn", "Ort"]]}), "tom.xlsx")],
)
def test_a_header_only_file_says_it_has_no_rows(login, session, app, data, filename):
    before = stored_files(app)
    admin = login("admin")
    upload(admin, data, filename=filename)
    messages = [message for _category, message in flashes(admin.client.get("/admin/import/"))]
    assert any(sv("The file has no rows.") in message for message in messages), messages
    assert sv("The file has no rows.") == "Filen innehåller inga rader."
    assert count(session, ImportJob) == 0 and stored_files(app) == before


def test_a_10_mb_line_is_refused_at_upload_and_nothing_is_kept(login, session, app):
    data = "Företagsnamn;Ort\r\nAlfa AB;Lund\r\n".encode() + b"Beta AB;" + b"x" * (10 * 1024 * 1024) + b"\r\n"
    before = stored_files(app)
    admin = login("admin")
    response = upload(admin, data, filename="lang.csv")
    assert response.status_code == 302 and response.headers["Location"].endswith("/admin/import/")
    messages = [message for _category, message in flashes(admin.client.get("/admin/import/"))]
    expected = sv(
        "Row %(row)s has a value longer than %(max)s characters; is it really a CSV file?",
        row=3,
        max=reader.MAX_FIELD_CHARS,
    )
    assert any(expected in message for message in messages), messages
    assert count(session, ImportJob) == 0 and stored_files(app) == before


def test_an_xlsx_with_several_sheets_lets_the_user_choose_the_sheet(login, session, app, worker):
    data = xlsx(
        {
            "Instruktioner": [["Läs detta först"], ["Kunderna finns på nästa blad."]],
            "Kunder": [["Företagsnamn", "Ort"], ["Alfa AB", "Lund"], ["Beta AB", "Malmö"]],
        }
    )
    admin = login("admin")
    upload(admin, data, filename="kunder.xlsx")
    job = session.scalar(select(ImportJob))
    page = text(admin.client.get(f"/admin/import/job/{job.id}/mapping"))
    assert sv("Sheet to import") in page and "Läs detta först" in page
    assert re.search(r'<option value="Instruktioner" selected>', page)
    response = admin.post(f"/admin/import/job/{job.id}/mapping", data={"sheet": "Kunder"})
    assert response.status_code == 302
    page = text(admin.client.get(f"/admin/import/job/{job.id}/mapping"))
    assert "Alfa AB" in page and re.search(r'<option value="Kunder" selected>', page)
    admin.post(f"/admin/import/job/{job.id}/mapping", data=mapping_form(page))
    from tests.test_import_views import wait_for

    job = wait_for(session, job.id)
    assert (job.status, job.sheet, job.created_count) == ("checked", "Kunder", 2)
    assert admin.post(f"/admin/import/job/{job.id}/mapping", data={"sheet": "Finns inte"}).status_code == 302
    session.expire_all()
    assert session.get(ImportJob, job.id).sheet == "Kunder"


def test_the_cards_history_names_the_import_job_and_file(login, session, app, worker):
    admin = login("admin")
    upload(admin, "Företagsnamn;Ort\r\nHistorikbolaget AB;Lund\r\n".encode(), filename="mässlistan.csv")
    job = session.scalar(select(ImportJob))
    admin.post(
        f"/admin/import/job/{job.id}/mapping",
        data=mapping_form(text(admin.client.get(f"/admin/import/job/{job.id}/mapping"))),
    )
    from tests.test_import_views import wait_for

    wait_for(session, job.id)
    admin.post(f"/admin/import/job/{job.id}/run")
    assert wait_for(session, job.id).status == "done"
    company = session.scalar(select(Company).where(Company.name == "Historikbolaget AB"))
    history = text(admin.client.get(f"/admin/company/card/{company.id}/tab/history"))
    assert sv("Import: %(file)s (job %(id)s)", file="mässlistan.csv", id=job.id) in history
