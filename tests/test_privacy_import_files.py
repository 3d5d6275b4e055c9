"""Erasure and stored import files (services.privacy, services.importing.redact): the person's rows
leave the file, and their row errors go, while the other people's rows stay, so the import can be
tried again; CSV and XLSX."""

import io
from datetime import date

import pytest
from openpyxl import Workbook
from sqlalchemy import select

from models import Contact, ImportJob, ImportRowError
from services import audit, privacy, storage
from services.importing import jobs, reader

FIRST, LAST = "Wilma", "Zebrowska"
EMAIL = "wilma.zebrowska@example.se"
MOBILE = "+46701234567"
PNR = "19121212-1212"
#: How the person is written in the file, and the traces none of which may be left in it.
THEIR_ROW = [FIRST, LAST, EMAIL.upper(), "070-123 45 67", "121212-1212", "Ny kund"]
TRACES = (FIRST, LAST, EMAIL, "070-123 45 67", "0701234567", "701234567", "1212121212", "121212-1212")
HEADER = ["Förnamn", "Efternamn", "E-post", "Mobil", "Personnummer", "Anteckning"]
OTHERS = [
    ["Åke", "Öst", "ake@example.se", "070-765 43 21", "", "Första"],
    ["Örjan", "Åberg", "orjan@example.se", "", "", f"Tipsad av {FIRST} {LAST}"],
    ["Ärla", "Ek", "arla@example.se", "", "", "Sista"],
]
MAPPING = {"0": "first_name", "1": "last_name", "2": "email", "3": "mobile", "4": "personal_number", "5": "note"}


def _csv(rows) -> bytes:
    return "\r\n".join(";".join(row) for row in rows).encode("cp1252")


def _xlsx(rows) -> bytes:
    book = Workbook()
    sheet = book.active
    sheet.title = "Kunder"
    for row in rows:
        sheet.append(row)
    book.create_sheet("Annat").append(["Namn", f"{FIRST} {LAST}"])  # another sheet naming them
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _all_text(store, key, kind) -> str:
    with store.open(key) as f:
        content = f.read()
    if kind == "csv":
        return content.decode("cp1252")
    from openpyxl import load_workbook

    book = load_workbook(io.BytesIO(content), read_only=True)
    return "\n".join(
        ";".join("" if v is None else str(v) for v in row)
        for sheet in book.worksheets
        for row in sheet.iter_rows(values_only=True)
    )


def _person_in_a_stored_import(store, session, admin, kind):
    """A contact, and a failed import whose stored file names them (row 3) and whose errors do."""
    contact = Contact(first_name=FIRST, last_name=LAST, email=EMAIL, mobile=MOBILE, personal_number=PNR)
    session.add(contact)
    session.commit()
    rows = [HEADER, OTHERS[0], THEIR_ROW, OTHERS[1], OTHERS[2]]  # the person is row 3
    key, size = store.save(io.BytesIO(_csv(rows) if kind == "csv" else _xlsx(rows)), max_bytes=1_000_000)
    job = ImportJob(
        entity="contact",
        filename=f"kunder.{kind}",
        storage_key=key,
        file_size=size,
        mapping=MAPPING,
        total_rows=4,
        status="failed",
        dry_run=False,
        created_by_id=admin.id,
    )
    session.add(job)
    session.flush()
    session.add_all(
        [
            ImportRowError(job_id=job.id, row=2, column="Mobil", value="070-765 43 21", message="Fel A"),
            ImportRowError(job_id=job.id, row=3, column="Anteckning", value="Ny kund", message="Fel B"),
            ImportRowError(job_id=job.id, row=5, column="E-post", value="arla@example.se", message="Fel C"),
            ImportRowError(job_id=job.id, row=4, column="E-post", value=EMAIL, message=f"Finns redan: {EMAIL}"),
        ]
    )
    audit.record_bulk(
        session,
        [{"entity_type": "contact", "entity_id": contact.id, "entity_label": contact.name, "action": "create"}],
        actor_id=admin.id,
        import_job_id=job.id,
    )
    session.commit()
    return contact, job, key


@pytest.mark.parametrize("kind", ["csv", "xlsx"])
def test_only_the_person_s_rows_and_errors_leave_a_stored_import_file(app, session, employees, kind):
    store = storage.from_config(app.config)
    admin = employees["admin"]
    contact, job, key = _person_in_a_stored_import(store, session, admin, kind)
    subject = privacy.find_subject(session, "contact", contact.id)
    preview = privacy.preview(session, subject, date(2026, 12, 5))
    assert "personens rader tas bort" in str(preview.mentions["import"])  # the preview says what happens
    privacy.erase(session, store, admin, subject, date(2026, 12, 5))
    session.commit()
    session.expire_all()

    job = session.get(ImportJob, job.id)
    assert job.storage_key not in (None, key), "the file is kept, written again under a new key"
    with pytest.raises(FileNotFoundError):
        store.open(key)
    stored = _all_text(store, job.storage_key, kind)
    left = [trace for trace in TRACES if trace.casefold() in stored.casefold()]
    assert left == [], f"traces of the person left in the stored file: {left}"
    assert "[raderat]" in stored  # named in another row (and on another sheet): scrubbed there

    with reader.open_table(lambda: store.open(job.storage_key), sheet=job.sheet) as table:
        assert table.headers == HEADER
        data = [cells for _number, cells in table.rows]
    assert [r[:3] for r in data] == [r[:3] for r in OTHERS], "the other people's rows stay, in order"
    assert data[1][5] == "Tipsad av [raderat]"
    assert (job.total_rows, job.file_size) == (3, len(store.open(job.storage_key).read()))

    errors = session.execute(select(ImportRowError.row, ImportRowError.message).order_by(ImportRowError.row)).all()
    assert [tuple(e) for e in errors] == [(2, "Fel A"), (4, "Fel C")], "theirs go, later rows move up"
    jobs.retry(session, job)  # "Försök igen" on the file as it is now
    assert job.status == "queued"


def test_an_erasure_rolled_back_leaves_the_stored_file_as_it_was(app, session, employees):
    """The file is rewritten with the transaction: until it commits the job's file is the old one, and a
    rollback (a later step failed) keeps it and removes the rewritten copy."""
    store = storage.from_config(app.config)
    admin = employees["admin"]
    contact, job, key = _person_in_a_stored_import(store, session, admin, "csv")
    with store.open(key) as f:
        before = f.read()
    privacy.erase(session, store, admin, privacy.find_subject(session, "contact", contact.id), date(2026, 12, 5))
    session.flush()
    rewritten = session.get(ImportJob, job.id).storage_key
    assert rewritten != key
    with store.open(key) as f:
        assert f.read() == before, "the old file stays until the erasure commits"
    session.rollback()
    session.expire_all()

    assert session.get(ImportJob, job.id).storage_key == key
    with store.open(key) as f:
        assert f.read() == before
    with pytest.raises(FileNotFoundError):
        store.open(rewritten)
