"""Administration – Import over HTTP: upload, mapping, dry run, run in a thread, progress, errors, undo."""

import csv
import io
import re
import time

from openpyxl import load_workbook
from sqlalchemy import select

from models import Company, ImportJob, ImportMapping
from services.importing import jobs
from tests.helpers import count, flashes, sv, text

CONTENT = (
    "Företagsnamn;Org.nr;Postnummer;Kategori;Övrigt\nAlfa AB;556036-0793;11122;Importerad;x\nBeta AB;123;41101;;y\n"
).encode("cp1252")


def wait_for(session, job_id, timeout=30):
    """The job as the database has it once its worker thread has finished."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        session.expire_all()
        job = session.get(ImportJob, job_id)
        if job.status not in jobs.ACTIVE:
            return job
        time.sleep(0.05)
    raise AssertionError(f"import job {job_id} did not finish")


def upload(actions, content=CONTENT, entity="company", filename="kunder.csv"):
    return actions.post(
        "/admin/import/upload",
        data={"entity": entity, "file": (io.BytesIO(content), filename)},
        content_type="multipart/form-data",
    )


def mapping_form(page_text, **overrides):
    """The mapping form as the page fills it in (selected options), with overrides."""
    form = {
        name: value
        for name, value in re.findall(
            r'<select[^>]*name="(column-\d+)"[^>]*>.*?(?:<option value="([^"]*)" selected>|</select>)', page_text, re.S
        )
    }
    form.update({"mode": "create", "match_key": "org_number"})
    form.update(overrides)
    return form


def test_the_whole_flow_upload_map_check_run_undo(login, session, worker):
    """Through the web process and a real queue worker (nothing runs in the web process)."""
    admin = login("admin")
    response = upload(admin)
    assert response.status_code == 302
    job = session.scalar(select(ImportJob))
    assert response.headers["Location"].endswith(f"/admin/import/job/{job.id}/mapping")

    page = admin.client.get(f"/admin/import/job/{job.id}/mapping")
    body = text(page)
    assert page.status_code == 200 and "Alfa AB" in body
    assert re.search(r'name="column-0".*?<option value="name" selected>', body, re.S)
    assert sv("Not imported: %(columns)s", columns="Övrigt") in body

    response = admin.post(f"/admin/import/job/{job.id}/mapping", data=mapping_form(body, save_as="Gamla systemet"))
    assert response.headers["Location"].endswith(f"/admin/import/job/{job.id}")
    job = wait_for(session, job.id)
    assert (job.status, job.created_count, job.error_count) == ("checked", 1, 1)
    assert count(session, Company) == 0
    assert session.scalar(select(ImportMapping.name)) == "Gamla systemet"

    page = text(admin.client.get(f"/admin/import/job/{job.id}"))
    assert sv("What the import will do") in page and "Importerad" in page
    assert "123" in page and "Org.nr" in page
    errors_csv = admin.client.get(f"/admin/import/job/{job.id}/errors?format=csv")
    assert errors_csv.status_code == 200 and errors_csv.mimetype == "text/csv"
    lines = errors_csv.get_data(as_text=True).lstrip("\ufeff").splitlines()
    assert lines[0] == ";".join(
        [sv("Row"), sv("Column"), sv("Value"), sv("Reason"), sv("Type"), sv("Already in the register")]
    )
    assert lines[1].startswith("3;Org.nr;123;") and lines[1].endswith(f";{sv('Error')};")
    sheet = load_workbook(io.BytesIO(admin.client.get(f"/admin/import/job/{job.id}/errors?format=xlsx").data)).active
    as_xlsx = [[("" if v is None else str(v)) for v in row] for row in sheet.iter_rows(values_only=True)]
    assert as_xlsx == list(csv.reader(io.StringIO("\n".join(lines)), delimiter=";"))

    response = admin.post(f"/admin/import/job/{job.id}/run")
    assert response.status_code == 302
    job = wait_for(session, job.id)
    assert (job.status, job.created_count, job.error_count) == ("done", 1, 1)
    state = admin.client.get(f"/admin/import/job/{job.id}/progress.json").get_json()
    assert (state["status"], state["rows_done"], state["total"], state["percent"]) == ("done", 2, 2, 100)
    assert count(session, Company, Company.name == "Alfa AB") == 1

    response = admin.post(f"/admin/import/job/{job.id}/undo", follow_redirects=True)
    assert ("info", sv("The import is being undone in the background.")) in flashes(response)
    job = wait_for(session, job.id)
    assert job.status == "undone" and job.undo_result["removed"] == 1
    assert count(session, Company, Company.deleted_at.is_(None)) == 0
    page = text(admin.client.get(f"/admin/import/job/{job.id}"))
    assert (
        sv(
            "Undone: %(removed)s new records removed (to the trash), %(reverted)s updates reverted.",
            removed=1,
            reverted=0,
        )
        in page
    )


def test_the_run_needs_a_dry_run_first(login, session):
    admin = login("admin")
    upload(admin)
    job = session.scalar(select(ImportJob))
    response = admin.post(f"/admin/import/job/{job.id}/run", follow_redirects=True)
    assert ("danger", sv("Make a dry run first: it shows what the import will do.")) in flashes(response)
    assert count(session, Company) == 0


def test_progress_page_polls_json_and_offers_cancel_while_running(login, session):
    admin = login("admin")
    upload(admin)
    job = session.scalar(select(ImportJob))
    job.status, job.dry_run, job.rows_done, job.total_rows = "running", False, 400, 1000
    from models import utcnow

    job.started_at = job.heartbeat_at = utcnow()
    session.commit()
    page = text(admin.client.get(f"/admin/import/job/{job.id}"))
    assert 'id="import-progress"' in page and sv("Cancel the import") in page
    state = admin.client.get(f"/admin/import/job/{job.id}/progress.json").get_json()
    assert (state["active"], state["rows_done"], state["total"], state["percent"]) == (True, 400, 1000, 40)
    assert state["rate"] > 0 and state["seconds_left"] is not None
    response = admin.post(f"/admin/import/job/{job.id}/cancel", follow_redirects=True)
    assert response.status_code == 200
    session.expire_all()
    assert session.get(ImportJob, job.id).cancel_requested


def test_bad_uploads_get_a_swedish_message_and_nothing_is_kept(login, session, app):
    admin = login("admin")
    upload(admin, b"")
    page = admin.client.get("/admin/import/")
    assert any(sv("The file is empty.") in message for _category, message in flashes(page))
    upload(admin, bytes(range(256)) * 4, filename="binär.csv")
    page = admin.client.get("/admin/import/")
    assert any(
        sv("The file is not a text file (CSV) or an Excel file (XLSX).") in message
        for _category, message in flashes(page)
    )
    response = admin.post("/admin/import/upload", data={"entity": "company"}, follow_redirects=True)
    assert ("danger", sv("Choose a file to import.")) in flashes(response)
    old = app.config["IMPORT_MAX_BYTES"]
    app.config["IMPORT_MAX_BYTES"] = 1024 * 1024
    try:
        response = upload(admin, b"Namn\n" + b"x" * (3 * 1024 * 1024))
        assert response.status_code == 413
        assert sv("The file is larger than %(mb)s MB and was not uploaded.", mb=1) in text(response)
    finally:
        app.config["IMPORT_MAX_BYTES"] = old
    assert count(session, ImportJob) == 0


def test_an_import_file_may_be_larger_than_other_uploads(login, session, app):
    admin = login("admin")
    big = "Företagsnamn\n".encode() + b"Ett bolag AB\n" * (30 * 1024 * 1024 // 13)
    assert len(big) > app.config["MAX_CONTENT_LENGTH"]
    assert upload(admin, big, filename="stor.csv").status_code == 302
    assert session.scalar(select(ImportJob.file_size)) == len(big)


def test_templates_have_the_swedish_column_names(login):
    admin = login("admin")
    response = admin.client.get("/admin/import/template/company?format=csv")
    header = response.get_data(as_text=True).lstrip("\ufeff").splitlines()[0].split(";")
    assert response.status_code == 200 and header[:3] == [sv("Customer no."), sv("Name"), sv("Org. no.")]
    sheet = load_workbook(io.BytesIO(admin.client.get("/admin/import/template/lead?format=xlsx").data)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert len(rows) == 1 and rows[0][:2] == ("Företagsnamn", "Org.nr") and sv("Customer no.") not in rows[0]


def test_index_lists_imports_and_is_under_administration(login, session):
    admin = login("admin")
    upload(admin)
    page = text(admin.client.get("/admin/import/"))
    assert "kunder.csv" in page and sv("Templates") in page
    start = text(admin.client.get("/admin/"))
    assert 'href="/admin/import/"' in start


def test_only_import_permission_reaches_import_and_only_undo_permission_undoes(login, session, employees):
    seller = login("seller")
    assert seller.client.get("/admin/import/").status_code == 403
    assert upload(seller).status_code == 403
    admin = login("admin")
    upload(admin)
    job = session.scalar(select(ImportJob))
    assert seller.client.get(f"/admin/import/job/{job.id}/progress.json").status_code == 403
    assert seller.post(f"/admin/import/job/{job.id}/undo").status_code == 403


def test_a_value_from_the_file_cannot_become_a_formula_in_the_error_report(app):
    from models import ImportRowError
    from services import export
    from services.importing import downloads

    bad = ImportRowError(row=2, column="E-post", value='=HYPERLINK("http://x")', message="Ogiltig e-postadress.")
    with app.test_request_context():
        body = b"".join(export.chunks("csv", downloads.error_columns(), [bad])).decode("utf-8-sig")
    assert body.splitlines()[1] == '2;E-post;"\'=HYPERLINK(""http://x"")";Ogiltig e-postadress.;Fel'


def test_a_saved_mapping_of_another_kind_is_not_applied(login, session):
    """A column mapping saved for contacts is refused on a companies job, with the reason shown."""
    admin = login("admin")
    upload(admin)
    job = session.scalar(select(ImportJob))
    contacts = ImportMapping(name="Kontaktlistan", entity="contact", mapping={"Företagsnamn": "first_name"})
    session.add(contacts)
    session.commit()
    response = admin.post(
        f"/admin/import/job/{job.id}/mapping", data={"saved": str(contacts.id)}, follow_redirects=True
    )
    assert (
        "danger",
        sv("The saved column mapping %(name)s is for another kind of import.", name="Kontaktlistan"),
    ) in flashes(response)
    session.expire_all()
    assert session.get(ImportJob, job.id).mapping.get("0") == "name"


def test_the_dry_run_page_and_its_file_point_out_rows_already_in_the_register(login, session, worker, make_company):
    """Issues 17/18: a row with a customer's e-mail address is listed with a link to the customer, on the
    result page and in the downloaded file (type Obs, the customer's address). (A customer's organisationsnummer
    is an error naming the customer: one company per number.)"""
    customer = make_company(name="Alfa Bygg AB", org_number="5560360793", email="info@alfabygg.se")
    admin = login("admin")
    upload(admin, "Företagsnamn;Org.nr;E-post\nAlfa AB;;info@alfabygg.se\nBeta AB;123;\n".encode())
    job = session.scalar(select(ImportJob))
    body = text(admin.client.get(f"/admin/import/job/{job.id}/mapping"))
    admin.post(f"/admin/import/job/{job.id}/mapping", data=mapping_form(body, match_key="customer_number"))
    job = wait_for(session, job.id)
    assert (job.status, job.created_count, job.error_count, job.notice_count) == ("checked", 1, 1, 1)

    page = admin.client.get(f"/admin/import/job/{job.id}")
    notices = page.get_data(as_text=True).split('id="import-notices"')[1].split("</table>")[0]
    assert sv("same e-mail") in text(page) and "Alfa Bygg AB" in notices
    assert f'href="/admin/company/card/{customer.id}"' in notices
    assert sv("Likely duplicates") in text(page)

    rows = list(
        csv.reader(
            io.StringIO(
                admin.client.get(f"/admin/import/job/{job.id}/errors?format=csv")
                .get_data(as_text=True)
                .lstrip("\ufeff")
            ),
            delimiter=";",
        )
    )
    assert [(r[0], r[4]) for r in rows[1:]] == [("3", sv("Error")), ("2", sv("Notice"))]
    assert "Alfa Bygg AB" in rows[2][3] and rows[2][5].endswith(f"/admin/company/card/{customer.id}")
    assert rows[2][5].startswith("http")


def test_rows_alike_inside_the_file_are_pointed_out_on_the_page_and_in_its_file(login, session, worker):
    """Issue 18: a new row like an earlier row of the same file is listed with that row's number, on the result
    page and in the downloaded file (type Obs, no record to link to)."""
    content = (
        "Företagsnamn;Ort;E-post\n"
        "Nordisk Rörteknik AB;Göteborg;per@rorteknik.se\n"
        "Helt Annat Företag AB;Umeå;\n"
        "Nordisk Rörteknik Aktiebolag;Göteborg;PER@rorteknik.se\n"
    ).encode()
    admin = login("admin")
    upload(admin, content)
    job = session.scalar(select(ImportJob))
    body = text(admin.client.get(f"/admin/import/job/{job.id}/mapping"))
    admin.post(f"/admin/import/job/{job.id}/mapping", data=mapping_form(body))
    job = wait_for(session, job.id)
    assert (job.status, job.created_count, job.error_count, job.notice_count) == ("checked", 3, 0, 1)
    reasons = ("similar name + same e-mail domain", "similar name + same city", "same e-mail")
    message = sv(
        "Likely the same as row %(row)s of the file (%(reasons)s).", row=2, reasons=", ".join(sv(r) for r in reasons)
    )
    page = admin.client.get(f"/admin/import/job/{job.id}")
    notices = page.get_data(as_text=True).split('id="import-notices"')[1].split("</table>")[0]
    assert [text_of_cells for text_of_cells in re.findall(r"<td>(\d+)</td><td>([^<]*)</td>", notices)] == [
        ("4", message)
    ]
    download = admin.client.get(f"/admin/import/job/{job.id}/errors?format=csv").get_data(as_text=True)
    rows = list(csv.reader(io.StringIO(download.lstrip("\ufeff")), delimiter=";"))
    assert [(r[0], r[3], r[4], r[5]) for r in rows[1:]] == [("4", message, sv("Notice"), "")]


def _job_as(session, **values) -> ImportJob:
    job = session.scalar(select(ImportJob))
    for name, value in values.items():
        setattr(job, name, value)
    session.commit()
    return job


def test_the_job_page_says_where_it_ran_in_words_a_user_reads(login, session):
    """Not "Kördes av vm pid 5217 Worker-1": the background worker's number and its server, no process id."""
    admin = login("admin")
    upload(admin)
    job = _job_as(session, status="done", dry_run=False, worker="vm pid 5217 Worker-1", created_count=1)
    where = text(admin.client.get(f"/admin/import/job/{job.id}")).split('id="job-where"')[1].split("</p>")[0]
    worker = sv("worker %(number)s on the server %(host)s", number="1", host="vm")
    assert sv("Ran in the background (%(worker)s).", worker=worker) in where
    assert "Kördes av" in where and "pid" not in where and "5217" not in where


def test_a_cancelled_import_reads_avbruten_not_the_invoices_makulerad(login, session):
    admin = login("admin")
    upload(admin)
    job = _job_as(session, status="cancelled", dry_run=False)
    status = text(admin.client.get(f"/admin/import/job/{job.id}")).split('id="job-status"')[1].split("</span>")[0]
    assert "Avbruten" in status and "Makulerad" not in status
    assert "Avbruten" in text(admin.client.get("/admin/import/"))


def test_an_undone_import_says_it_is_undone_and_offers_no_run_undo_or_retry(login, session):
    admin = login("admin")
    upload(admin)
    job = _job_as(session, status="undone", dry_run=False, created_count=1)
    page = admin.client.get(f"/admin/import/job/{job.id}").get_data(as_text=True)
    for button in ("run-button", "undo-button", "retry-button", "change-mapping"):
        assert f'id="{button}"' not in page, button
    for action in ("undo", "run", "retry"):
        response = admin.post(f"/admin/import/job/{job.id}/{action}", follow_redirects=True)
        assert ("danger", sv("The import has already been undone.")) in flashes(response), action
    assert session.get(ImportJob, job.id).status == "undone"


def test_a_dry_run_its_mapping_failed_offers_the_mapping_not_try_again(login, session):
    """The same mapping would fail the same way: "Ändra kolumnkopplingen", not "Försök igen"."""
    admin = login("admin")
    upload(admin)
    missing = sv(
        "Required columns are missing: %(columns)s. Add them to the file or map them to a column.",
        columns=sv("Company name"),
    )
    job = _job_as(session, status="failed", dry_run=True, mapping={"1": "org_number"}, error_summary=missing)
    page = admin.client.get(f"/admin/import/job/{job.id}").get_data(as_text=True)
    assert 'id="change-mapping"' in page and 'id="retry-button"' not in page
    response = admin.post(f"/admin/import/job/{job.id}/retry", follow_redirects=True)
    assert (
        "danger",
        sv("The column mapping would make the import fail again: change the column mapping first."),
    ) in flashes(response)
    assert session.get(ImportJob, job.id).status == "failed"
    # a dry run that failed for another reason (its worker, the database) is offered again as it was
    _job_as(session, mapping={"0": "name", "1": "org_number"}, error_summary="Oväntat fel")
    assert 'id="retry-button"' in admin.client.get(f"/admin/import/job/{job.id}").get_data(as_text=True)


def test_a_template_that_does_not_exist_is_not_found(login):
    """A mistyped template address is a Swedish 404, not the import page as if nothing were wrong."""
    response = login("admin").client.get("/admin/import/template/company.csv")
    assert response.status_code == 404
    assert sv("The page or record does not exist (it may have been deleted).") in text(response)
