"""The import service: dry run and write, natural keys, modes, audit, undo, jobs, bad input."""

import io
import multiprocessing
import os
import socket
import subprocess
import sys
import threading
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session
from stdnum import luhn

from config import SQLITE_PAGE_CACHE_KIB
from extensions import db
from models import (
    AuditEvent,
    Category,
    Company,
    CompanyContact,
    Contact,
    ImportJob,
    ImportRowError,
    Industry,
    Lead,
)
from services import accounts, numbering, search
from services.importing import engine, jobs, parallel
from services.importing.fields import RowParser
from services.importing.reader import FileProblem
from tests.helpers import count, sv, svn

REPO = Path(__file__).resolve().parents[1]

COMPANIES = (
    "Företagsnamn;Org.nr;Postnummer;Ort;Telefon;Kundansvarig;Kategori;Bransch;Rabatt %;Leverantör\n"
    "Alfa AB;556036-0793;11122;Stockholm;08-123 456 78;Test Admin;A-kund, Mässa 2026;Bygg;2,5;Ja\n"
    "Beta AB;5564994589;41101;Göteborg;;;A-kund;;;\n"
)


@pytest.fixture
def actor(employees):
    return employees["admin"]


@pytest.fixture
def make_job(session, storage, actor):
    def _make(
        content, entity="company", mode="create", match_key=None, all_or_nothing=False, encoding="utf-8", mapping=None
    ):
        data = content if isinstance(content, bytes) else content.encode(encoding)
        job = jobs.create_job(
            session,
            storage,
            entity=entity,
            filename="import.csv",
            stream=io.BytesIO(data),
            actor=actor,
            max_bytes=10**7,
        )
        job.mode, job.all_or_nothing = mode, all_or_nothing
        job.match_key = match_key or job.match_key
        if mapping is not None:
            job.mapping = mapping
        session.commit()
        return job

    return _make


def run_pass(app, job_id, storage):
    """One pass of a queued job, as the queue worker's task runs it (in its own session)."""
    with app.app_context():
        try:
            return jobs.run(
                db.session, job_id, storage=storage, worker="test", parse_workers=app.config["IMPORT_WORKERS"]
            )
        finally:
            db.session.remove()


@pytest.fixture
def run(app, session, storage):
    """Queue one pass of a job and run it here, as the worker's task does; returns the fresh job."""

    def _run(job, *, write):
        jobs.queue(session, job, write=write)
        session.commit()
        run_pass(app, job.id, storage)
        session.expire_all()
        return session.get(ImportJob, job.id)

    return _run


@pytest.fixture
def industry(session):
    row = Industry(name="Bygg")
    session.add(row)
    session.commit()
    return row


def error_messages(session, job):
    session.expire_all()
    return [(e.row, e.column, e.value, e.message) for e in jobs.errors(session, job)]


# --- dry run and write ------------------------------------------------------------------------


def test_dry_run_writes_nothing_and_predicts_the_write(session, make_job, run, industry, actor):
    job = make_job(COMPANIES, mode="upsert", match_key="org_number")
    checked = run(job, write=False)
    assert checked.status == "checked"
    assert (checked.created_count, checked.updated_count, checked.unchanged_count, checked.error_count) == (2, 0, 0, 0)
    assert checked.new_categories == ["A-kund", "Mässa 2026"]
    assert count(session, Company) == 0 and count(session, Category) == 0
    assert session.scalars(select(AuditEvent.entity_type)).all() == ["industry"]  # the fixture's Bygg

    done = run(checked, write=True)
    assert done.status == "done"
    assert (done.created_count, done.updated_count, done.error_count) == (2, 0, 0)
    alfa = session.scalar(select(Company).where(Company.name == "Alfa AB"))
    assert alfa.org_number == "5560360793" and alfa.postal_postcode == "111 22" and alfa.phone == "+46812345678"
    assert alfa.owner == actor and alfa.industry == industry and alfa.is_supplier
    assert alfa.discount_percent == Decimal("2.50") and alfa.currency == "SEK" and alfa.payment_terms_days == 30
    assert sorted(c.name for c in alfa.categories) == ["A-kund", "Mässa 2026"]
    beta = session.scalar(select(Company).where(Company.name == "Beta AB"))
    assert [c.name for c in beta.categories] == ["A-kund"] and not beta.is_supplier
    assert {alfa.customer_number, beta.customer_number} == {10000, 10001}
    assert numbering.current_value(session, numbering.CUSTOMER_SEQUENCE) == 10001
    assert session.scalar(select(Category.applies_to).where(Category.name == "A-kund")) == "company"


def test_every_imported_change_is_audited_as_made_by_the_job_and_its_user(
    session, make_job, run, actor, make_company, industry
):
    existing = make_company(name="Gamla namnet AB", org_number="5560360793")
    job = run(run(make_job(COMPANIES, mode="upsert", match_key="org_number"), write=False), write=True)
    events = session.scalars(select(AuditEvent).where(AuditEvent.import_job_id == job.id)).all()
    assert {(e.entity_type, e.action) for e in events} == {("company", "create"), ("company", "update")}
    assert all(e.actor_id == actor.id for e in events)
    update = next(e for e in events if e.action == "update")
    assert update.entity_id == existing.id
    assert update.changes["name"] == ["Gamla namnet AB", "Alfa AB"]
    assert update.changes["categories"] == [[], ["A-kund", "Mässa 2026"]]
    create = next(e for e in events if e.action == "create")
    assert create.changes["name"] == "Beta AB" and create.changes["categories"] == ["A-kund"]
    assert session.get(Company, existing.id).version == 2


def test_update_by_natural_key_counts_updated_and_unchanged(session, make_job, run, make_company):
    alfa = make_company(name="Alfa AB", org_number="5560360793", postal_city="Stockholm")
    beta = make_company(name="Beta AB", org_number="5564994589", postal_city="Lund")
    content = "Org.nr;Ort\n556036-0793;Stockholm\n556499-4589;Göteborg\n"
    checked = run(make_job(content, mode="update", match_key="org_number"), write=False)
    assert (checked.created_count, checked.updated_count, checked.unchanged_count) == (0, 1, 1)
    done = run(checked, write=True)
    assert (done.updated_count, done.unchanged_count) == (1, 1)
    session.expire_all()
    assert session.get(Company, beta.id).postal_city == "Göteborg"
    assert session.get(Company, alfa.id).version == 1  # unchanged: not touched
    assert session.get(Company, beta.id).name == "Beta AB"  # an update keeps what the file does not name


def test_update_by_customer_number_and_by_email(session, make_job, run, make_company):
    company = make_company(name="Alfa AB", email="info@alfa.se")
    by_number = run(
        run(
            make_job(
                f"Kundnummer;Telefon\n{company.customer_number};08-123 456 78\n99999;08-123 456 79\n",
                mode="update",
                match_key="customer_number",
            ),
            write=False,
        ),
        write=True,
    )
    assert (by_number.updated_count, by_number.error_count) == (1, 1)
    assert error_messages(session, by_number)[0][:3] == (3, "Kundnummer", "99999")
    by_email = run(
        run(make_job("E-post;Webb\nINFO@alfa.se;www.alfa.se\n", mode="update", match_key="email"), write=False),
        write=True,
    )
    assert by_email.updated_count == 1
    assert session.get(Company, company.id).website == "https://www.alfa.se"


def test_modes_create_only_and_update_only(session, make_job, run, make_company, industry):
    make_company(name="Alfa AB", org_number="5560360793")
    create_only = run(make_job(COMPANIES, mode="create", match_key="org_number"), write=False)
    assert (create_only.created_count, create_only.error_count) == (1, 1)
    assert error_messages(session, create_only)[0][0] == 2
    update_only = run(make_job(COMPANIES, mode="update", match_key="org_number"), write=False)
    assert (update_only.updated_count, update_only.error_count) == (1, 1)


def test_duplicates_inside_the_file_are_reported(session, make_job, run, monkeypatch):
    monkeypatch.setattr(engine, "BATCH_SIZE", 2)  # the first copy in an earlier batch than the second
    content = "Företagsnamn;Org.nr\nA;5560360793\nB;5564994589\nC;556036-0793\nD;\nE;\n"
    checked = run(make_job(content, match_key="org_number"), write=False)
    assert (checked.created_count, checked.error_count) == (4, 1)
    [(row, column, value, message)] = error_messages(session, checked)
    assert (row, column, value) == (4, "Org.nr", "5560360793")
    assert message == sv(
        "The same %(field)s as row %(row)s: the row is a duplicate in the file.", field=sv("Org. no."), row=2
    )


def test_row_errors_name_row_column_value_and_reason_in_swedish(session, make_job, run, industry):
    content = (
        "Företagsnamn;Org.nr;E-post;Telefon;Kundansvarig;Skapad;Rabatt %\n"
        "Gamma AB;123;inte-en-adress;abc;Okänd Person;31.02.2024;tolv\n"
        ";5560360793;;;;;\n"
    )
    checked = run(make_job(content), write=False)
    assert checked.error_count == 2 and checked.created_count == 0
    errors = error_messages(session, checked)
    by_column = {column: (row, value, message) for row, column, value, message in errors}
    assert by_column["Org.nr"][:2] == (2, "123")
    assert by_column["E-post"] == (2, "inte-en-adress", sv("This is not a valid e-mail address."))
    assert by_column["Telefon"][2] == sv("This is not a phone number.")
    assert by_column["Kundansvarig"][2] == sv(
        "No employee is called %(name)s (kundansvarig: an employee's name or e-mail).", name="Okänd Person"
    )
    assert by_column["Skapad"][2] == sv("Not a date; write YYYY-MM-DD or DD.MM.YYYY.")
    assert by_column["Rabatt %"][2] == sv("Not a number; write for example 12,5.")
    assert by_column["Företagsnamn"] == (3, "", sv("%(field)s must be filled in.", field=sv("Name")))


def test_a_name_two_employees_share_asks_for_the_e_mail(session, make_job, run, employees):
    """Two employees with one name (an active and a former one, say): the name is no Kundansvarig, and the row
    says why and what to write instead; the e-mail finds her."""
    namesake = accounts.create_employee(
        session, email="anna.tva@example.se", name="Test Seller", role="seller", password=None
    )
    session.commit()
    content = "Företagsnamn;Kundansvarig\nNamne AB;Test Seller\nEpost AB;anna.tva@example.se\n"
    checked = run(make_job(content), write=False)
    assert (checked.created_count, checked.error_count) == (1, 1)
    [(row, column, value, message)] = error_messages(session, checked)
    assert (row, column, value) == (2, "Kundansvarig", "Test Seller")
    assert message == sv("Several employees are called %(name)s: give the employee's e-mail.", name="Test Seller")
    job = run(checked, write=True)
    assert session.scalar(select(Company.owner_id).where(Company.name == "Epost AB")) == namesake.id
    assert job.created_count == 1


def test_skip_mode_writes_the_good_rows_and_lists_the_bad(session, make_job, run):
    content = "Företagsnamn;Org.nr\nGod AB;5560360793\nDålig AB;123\n"
    job = run(run(make_job(content), write=False), write=True)
    assert (job.status, job.created_count, job.error_count) == ("done", 1, 1)
    assert count(session, Company) == 1 and count(session, ImportRowError, ImportRowError.job_id == job.id) == 1


def test_all_or_nothing_refuses_to_start_with_errors_and_writes_nothing_on_a_late_error(
    session, make_job, run, monkeypatch
):
    content = "Företagsnamn;Org.nr\nGod AB;5560360793\nDålig AB;123\n"
    checked = run(make_job(content, all_or_nothing=True), write=False)
    with pytest.raises(jobs.ImportProblem):
        jobs.queue(session, checked, write=True)
    session.rollback()
    # The data changes between the dry run and the write: the second batch now fails.
    monkeypatch.setattr(engine, "BATCH_SIZE", 1)
    job = run(
        make_job("Företagsnamn;Kundansvarig\nEtt AB;Test Admin\nTvå AB;Test Seller\n", all_or_nothing=True), write=False
    )
    assert job.error_count == 0
    from models import Employee

    session.execute(db.update(Employee).where(Employee.name == "Test Seller").values(name="Någon annan"))
    session.commit()
    failed = run(job, write=True)
    assert failed.status == "failed" and failed.created_count == 0
    assert sv("A row had errors, so nothing was imported (all or nothing)") in failed.error_summary
    assert count(session, Company) == 0 and count(session, AuditEvent, AuditEvent.import_job_id == job.id) == 0
    # the first batch was written and then removed: its customer number is spent, never given again
    assert numbering.current_value(session, numbering.CUSTOMER_SEQUENCE) == 10000


def test_contacts_are_linked_to_companies_by_customer_number_or_orgnr(session, make_job, run, make_company):
    alfa = make_company(name="Alfa AB", org_number="5560360793")
    beta = make_company(name="Beta AB")
    content = (
        "Förnamn;Efternamn;Titel;E-post;Företagets kundnummer;Företagets orgnr;Kategori\n"
        f"Anna;Andersson;VD;anna@alfa.se;;556036-0793;Nyhetsbrev\n"
        f"Bo;Berg;Inköpare;bo@beta.se;{beta.customer_number};;\n"
        "Cecilia;Carlsson;;cecilia@example.se;;;\n"
        "Dan;Dahl;;dan@example.se;123456;;\n"
    )
    job = run(run(make_job(content, entity="contact", mode="upsert"), write=False), write=True)
    assert (job.created_count, job.error_count) == (3, 1)
    assert error_messages(session, job)[0][1:] == ("Företagets kundnummer", "123456", sv("No company has this number."))
    anna = session.scalar(select(Contact).where(Contact.email == "anna@alfa.se"))
    assert anna.companies == [alfa] and anna.company_links[0].role == "VD" and not anna.is_private_customer
    assert [c.name for c in anna.categories] == ["Nyhetsbrev"]
    assert session.scalar(select(Category.applies_to).where(Category.name == "Nyhetsbrev")) == "contact"
    assert session.scalar(select(Contact).where(Contact.email == "bo@beta.se")).companies == [beta]
    assert session.scalar(select(Contact).where(Contact.email == "cecilia@example.se")).companies == []
    # Importing the same file again updates nothing and links nothing twice.
    again = run(run(make_job(content, entity="contact", mode="upsert"), write=False), write=True)
    assert (again.created_count, again.unchanged_count) == (0, 3)
    assert count(session, CompanyContact) == 2


def test_records_in_the_trash_and_of_the_other_kind_are_never_matched(
    session, make_job, run, make_company, make_contact, employees
):
    from services import trash

    trashed = make_company(name="Gamla AB", org_number="5560360793")
    trash.delete(session, employees["admin"], Company, [trashed.id])
    private = make_contact(first_name="Eva", last_name="Ek", email="eva@example.se", customer_number=90001)
    session.commit()
    companies = run(
        make_job("Företagsnamn;Org.nr\nNya AB;5560360793\n", mode="upsert", match_key="org_number"), write=False
    )
    # not matched, and no second company with its number either: restored, as the form says
    assert (companies.created_count, companies.updated_count, companies.error_count) == (0, 0, 1)
    assert "Administration" in error_messages(session, companies)[0][3]
    contacts = run(
        make_job(
            "Förnamn;Efternamn;E-post;Företagets orgnr\nEva;Ek;eva@example.se;5560360793\n",
            entity="contact",
            mode="upsert",
        ),
        write=False,
    )
    assert (contacts.created_count, contacts.updated_count, contacts.error_count) == (0, 0, 1)
    assert error_messages(session, contacts)[0][3] == sv("No company has this number.")  # not the trashed one
    contacts = run(
        make_job("Förnamn;Efternamn;E-post\nEva;Ek;eva@example.se\n", entity="contact", mode="upsert"), write=False
    )
    assert contacts.created_count == 1  # a contact, not the private customer with that e-mail
    private_customers = run(
        make_job(
            "Förnamn;Efternamn;E-post\nEva;Ek;eva@example.se\n",
            entity="privatecustomer",
            mode="upsert",
            match_key="email",
        ),
        write=False,
    )
    assert private_customers.unchanged_count == 1 and private.id


def test_private_customers_get_customer_numbers_from_the_shared_sequence(session, make_job, run, make_company):
    company = make_company()
    content = "Förnamn;Efternamn;Personnummer;E-post\nEva;Ek;19811218-9876;eva@example.se\nOla;Ås;;ola@example.se\n"
    job = run(run(make_job(content, entity="privatecustomer", match_key="personal_number"), write=False), write=True)
    assert job.created_count == 2
    people = session.scalars(select(Contact).order_by(Contact.customer_number)).all()
    assert [p.customer_number for p in people] == [company.customer_number + 1, company.customer_number + 2]
    assert all(p.is_private_customer for p in people) and people[0].personal_number == "19811218-9876"


def test_leads_are_imported_with_status_source_and_owner(session, make_job, run, actor):
    content = (
        "Företag;Förnamn;Efternamn;E-post;Källa;Leadstatus;Kundansvarig\n"
        "Nya AB;Per;Ek;per@nya.se;Mässa;Ny;admin@example.se\n"
    )
    job = run(run(make_job(content, entity="lead", match_key="contact_email"), write=False), write=True)
    assert job.created_count == 1
    lead = session.scalar(select(Lead))
    assert (lead.company_name, lead.contact_email, lead.source, lead.status, lead.owner) == (
        "Nya AB",
        "per@nya.se",
        "Mässa",
        "new",
        actor,
    )


def test_cp1252_file_and_xlsx_import_the_same(session, make_job, run, tmp_path):
    from openpyxl import Workbook

    job = run(run(make_job("Företagsnamn;Ort\nÅkerö AB;Växjö\n", encoding="cp1252"), write=False), write=True)
    assert session.scalar(select(Company.postal_city).where(Company.name == "Åkerö AB")) == "Växjö"
    book = Workbook()
    book.active.append(["Företagsnamn", "Ort"])
    book.active.append(["Örby AB", "Ödeshög"])
    buffer = io.BytesIO()
    book.save(buffer)
    job = run(run(make_job(buffer.getvalue()), write=False), write=True)
    assert job.created_count == 1 and count(session, Company) == 2


def test_missing_required_column_fails_the_dry_run_with_a_clear_message(session, make_job, run):
    job = run(make_job("Org.nr;Ort\n5560360793;Lund\n"), write=False)
    assert job.status == "failed"
    assert job.error_summary == sv(
        "Required columns are missing: %(columns)s. Add them to the file or map them to a column.", columns=sv("Name")
    )
    with pytest.raises(jobs.ImportProblem):
        jobs.queue(session, job, write=True)


def test_a_worker_whose_host_lacks_the_uploaded_file_says_so_and_the_job_can_be_retried(
    session, make_job, run, storage, app
):
    job = make_job(COMPANIES)
    kept = storage._path(job.storage_key)
    moved = kept.rename(kept.with_name("elsewhere"))  # as if uploaded on another host than the worker's
    job = run(job, write=False)
    assert job.status == "failed"
    assert job.error_summary == sv(
        "The import's file cannot be found on %(host)s. Every host that runs workers needs the web server's "
        "upload folder (CRM_UPLOAD_DIR). Try again once it is shared.",
        host=socket.gethostname(),
    )
    moved.rename(kept)  # shared now: "Försök igen"
    jobs.retry(session, job)
    session.commit()
    run_pass(app, job.id, storage)
    session.expire_all()
    assert session.get(ImportJob, job.id).status == "checked"


def test_unreadable_uploads_are_refused_and_not_kept(session, storage, actor, app):
    import os

    def stored_files():
        root = app.config["UPLOAD_DIR"]
        return sum(len(files) for _dir, _dirs, files in os.walk(root))

    before = stored_files()
    for content, message in (
        (b"", "The file is empty."),
        (bytes(range(256)), "The file is not a text file (CSV) or an Excel file (XLSX)."),
    ):
        with pytest.raises(FileProblem) as exc:
            jobs.create_job(
                session,
                storage,
                entity="company",
                filename="x.csv",
                stream=io.BytesIO(content),
                actor=actor,
                max_bytes=10**6,
            )
        assert str(exc.value) == sv(message)
    with pytest.raises(FileProblem, match="MB"):
        jobs.create_job(
            session,
            storage,
            entity="company",
            filename="big.csv",
            stream=io.BytesIO(b"a" * 3_000_000),
            actor=actor,
            max_bytes=2 * 1024 * 1024,
        )
    assert count(session, ImportJob) == 0 and stored_files() == before


# --- progress, cancel, undo ---------------------------------------------------------------------


STALL = 30


def cancel_after_first_batch(monkeypatch, job_id):
    """The cancel button is pressed (another session) right after the pass committed its first batch."""
    between = jobs._Pass._between_batches

    def cancel_then_look(self):
        if not getattr(self, "_cancelled_once", False):
            self._cancelled_once = True
            with Session(db.engine) as other:
                assert jobs.request_cancel(other, other.get(ImportJob, job_id), stalled_seconds=STALL) == "requested"
                other.commit()
        between(self)

    monkeypatch.setattr(jobs._Pass, "_between_batches", cancel_then_look)


def test_progress_counts_rows_and_total(session, make_job, run, monkeypatch):
    monkeypatch.setattr(engine, "BATCH_SIZE", 2)
    content = "Företagsnamn\n" + "".join(f"Företag {n} AB\n" for n in range(5))
    job = run(run(make_job(content), write=False), write=True)
    state = jobs.state(session, job, stalled_seconds=STALL)
    assert (state["rows_done"], state["total"], state["percent"], state["active"]) == (5, 5, 100, False)
    assert (
        state["status"] == "done"
        and state["created"] == 5
        and state["where"] == sv("Ran in the background (%(worker)s).", worker="test")
    )
    assert job.batches_done == 3 and job.claim is None


def test_cancel_between_batches_keeps_the_written_batches(session, make_job, run, storage, app, monkeypatch):
    monkeypatch.setattr(engine, "BATCH_SIZE", 2)
    content = "Företagsnamn\n" + "".join(f"Företag {n} AB\n" for n in range(6))
    job = run(make_job(content), write=False)
    cancel_after_first_batch(monkeypatch, job.id)
    job = run(job, write=True)
    assert job.status == "cancelled" and job.rows_done == 2 and job.created_count == 2
    assert count(session, Company) == 2 and jobs.can_undo(job) and jobs.can_retry(job)


def test_cancel_of_an_all_or_nothing_write_removes_what_it_wrote(session, make_job, run, monkeypatch):
    monkeypatch.setattr(engine, "BATCH_SIZE", 2)
    content = "Företagsnamn;Kategori\n" + "".join(f"Företag {n} AB;Ny kategori\n" for n in range(6))
    job = run(make_job(content, all_or_nothing=True), write=False)
    cancel_after_first_batch(monkeypatch, job.id)
    job = run(job, write=True)
    assert job.status == "cancelled" and sv("Nothing was imported.") in job.error_summary
    assert (job.rows_done, job.created_count, job.updated_count) == (0, 0, 0)
    assert not jobs.can_undo(job) and jobs.can_retry(job)
    assert count(session, Company) == 0 and count(session, AuditEvent, AuditEvent.import_job_id == job.id) == 0
    assert count(session, Category) == 0  # the category it created is gone too


def test_while_an_all_or_nothing_write_runs_others_see_its_progress_and_can_write(
    session, make_job, run, monkeypatch, make_company
):
    """Every batch is its own short transaction, on SQLite too: between batches other sessions read the
    job's true progress and save their own changes (they never wait for the whole import)."""
    monkeypatch.setattr(engine, "BATCH_SIZE", 2)
    other_company = make_company(name="Någon annans AB")
    content = "Företagsnamn\n" + "".join(f"Företag {n} AB\n" for n in range(6))
    job = run(make_job(content, all_or_nothing=True), write=False)
    seen = []
    after = jobs._Pass._after_batch

    def after_then_look(self, counts, errors, categories):
        after(self, counts, errors, categories)
        if not seen:
            with Session(db.engine) as other:
                seen.append(jobs.state(other, other.get(ImportJob, job.id), stalled_seconds=STALL))
                other.get(Company, other_company.id).name = "Ändrat under importen AB"
                other.commit()

    monkeypatch.setattr(jobs._Pass, "_after_batch", after_then_look)
    job = run(job, write=True)
    assert (seen[0]["status"], seen[0]["rows_done"], seen[0]["created"], seen[0]["percent"]) == ("running", 2, 2, 33)
    assert job.status == "done" and count(session, Company) == 7
    session.expire_all()
    assert session.get(Company, other_company.id).name == "Ändrat under importen AB"


def test_a_job_is_claimed_by_one_worker_only(session, make_job, app, storage):
    job = make_job("Företagsnamn\nA AB\n")
    jobs.queue(session, job, write=False)
    session.commit()
    assert run_pass(app, job.id, storage) == "checked"
    assert run_pass(app, job.id, storage) is None  # no longer waiting: nothing to claim


class WorkerDied(BaseException):
    """Stands for SIGKILL in these in-process tests: nothing of the pass's own clean-up runs a query."""


def die_after_batch(monkeypatch, number):
    after = jobs._Pass._after_batch

    def after_then_die(self, counts, errors, categories):
        after(self, counts, errors, categories)
        if self.batches == number:
            raise WorkerDied()

    monkeypatch.setattr(jobs._Pass, "_after_batch", after_then_die)


def age_heartbeat(session, job_id, seconds=STALL + 5):
    from datetime import timedelta

    from models import utcnow

    session.execute(
        db.update(ImportJob).where(ImportJob.id == job_id).values(heartbeat_at=utcnow() - timedelta(seconds=seconds))
    )
    session.commit()


@pytest.mark.parametrize("all_or_nothing", [False, True])
def test_a_job_whose_worker_died_is_taken_over_and_goes_on_after_its_last_committed_batch(
    session, make_job, run, app, storage, monkeypatch, all_or_nothing
):
    monkeypatch.setattr(engine, "BATCH_SIZE", 2)
    content = "Företagsnamn;Org.nr;Kategori\n" + "".join(
        f"Företag {n} AB;{org};{'Mässa' if n % 2 else ''}\n"
        for n, org in enumerate(["5560360793", "5564994589", "5560360793", "", "", "", "", ""])
    )  # row 4 repeats row 2's orgnr: a duplicate found across the resume
    job = run(make_job(content, all_or_nothing=False, match_key="org_number", mode="upsert"), write=False)
    assert (job.created_count, job.error_count) == (7, 1)
    if all_or_nothing:
        content = content.replace("Företag 2 AB;5560360793", "Företag 2 AB;")
        job = run(make_job(content, all_or_nothing=True, match_key="org_number", mode="upsert"), write=False)
    jobs.queue(session, job, write=True)
    session.commit()
    die_after_batch(monkeypatch, 2)
    with pytest.raises(WorkerDied):
        run_pass(app, job.id, storage)
    session.expire_all()
    job = session.get(ImportJob, job.id)
    assert (job.status, job.batches_done, job.rows_done, job.created_count) == (
        "running",
        2,
        4,
        4 if all_or_nothing else 3,
    )
    state = jobs.state(session, job, stalled_seconds=STALL)
    assert not state["stalled"] and state["where"] == sv("Running in the background (%(worker)s).", worker="test")
    taken, next_check = jobs.take_over_stalled(session, stalled_seconds=STALL, waiting_task_ids=list)
    assert taken == [] and 0 < next_check <= STALL + 1  # alive until proven otherwise
    age_heartbeat(session, job.id)
    session.expire_all()
    assert jobs.state(session, session.get(ImportJob, job.id), stalled_seconds=STALL)["stalled"]
    taken, _next = jobs.take_over_stalled(session, stalled_seconds=STALL, waiting_task_ids=list)
    assert taken == [job.id]
    monkeypatch.undo()
    monkeypatch.setattr(engine, "BATCH_SIZE", 2)
    assert run_pass(app, job.id, storage) == "done"
    session.expire_all()
    job = session.get(ImportJob, job.id)
    expected = (8, 0) if all_or_nothing else (7, 1)
    assert (job.created_count, job.error_count, job.resumed_count) == (*expected, 1)
    assert count(session, Company) == expected[0]
    names = session.scalars(select(Company.name)).all()
    assert len(names) == len(set(names))  # none twice
    assert count(session, AuditEvent, AuditEvent.import_job_id == job.id) == expected[0]
    assert job.new_categories == ["Mässa"] and count(session, Category) == 1
    if not all_or_nothing:
        assert [e.row for e in jobs.errors(session, job)] == [4]
    resumed = jobs.state(session, job, stalled_seconds=STALL)["resumed"]
    assert resumed == svn("Resumed after an interruption (once).", "Resumed after an interruption (%(num)s times).", 1)
    assert resumed == "Återupptogs efter ett avbrott (en gång)."


def test_a_worker_taken_for_dead_that_wakes_up_writes_nothing(session, make_job, run, app, storage, monkeypatch):
    monkeypatch.setattr(engine, "BATCH_SIZE", 2)
    content = "Företagsnamn\n" + "".join(f"Företag {n} AB\n" for n in range(6))
    job = run(make_job(content), write=False)
    jobs.queue(session, job, write=True)
    session.commit()
    after = jobs._Pass._after_batch

    between = jobs._Pass._between_batches

    def taken_over_meanwhile(self):
        if self.batches == 1:  # this worker was slow: another took the job over before its second batch
            with Session(db.engine) as other:
                age_heartbeat(other, job.id)
                assert jobs.take_over_stalled(other, stalled_seconds=STALL, waiting_task_ids=list)[0] == [job.id]
        between(self)

    monkeypatch.setattr(jobs._Pass, "_between_batches", taken_over_meanwhile)
    del after
    assert run_pass(app, job.id, storage) is None
    session.expire_all()
    job = session.get(ImportJob, job.id)
    assert (job.status, job.batches_done, count(session, Company)) == ("queued", 1, 2)  # batch 2 rolled back
    monkeypatch.undo()
    monkeypatch.setattr(engine, "BATCH_SIZE", 2)
    assert run_pass(app, job.id, storage) == "done"
    assert count(session, Company) == 6


def test_cancel_works_in_every_state(session, make_job, run, app, storage, monkeypatch):
    monkeypatch.setattr(engine, "BATCH_SIZE", 2)
    content = "Företagsnamn\n" + "".join(f"Företag {n} AB\n" for n in range(6))
    waiting = make_job(content)
    jobs.queue(session, waiting, write=False)
    session.commit()
    assert jobs.request_cancel(session, waiting, stalled_seconds=STALL) == "cancelled"
    session.commit()
    assert run_pass(app, waiting.id, storage) is None and session.get(ImportJob, waiting.id).status == "cancelled"
    # a running write whose worker died: ended by the request itself, its committed batches kept
    job = run(make_job(content), write=False)
    jobs.queue(session, job, write=True)
    session.commit()
    die_after_batch(monkeypatch, 1)
    with pytest.raises(WorkerDied):
        run_pass(app, job.id, storage)
    age_heartbeat(session, job.id)
    session.expire_all()
    job = session.get(ImportJob, job.id)
    assert jobs.request_cancel(session, job, stalled_seconds=STALL) == "cancelled"
    session.commit()
    session.expire_all()
    job = session.get(ImportJob, job.id)
    assert (job.status, job.created_count, count(session, Company)) == ("cancelled", 2, 2)
    # "Försök igen" goes on after the kept batches
    jobs.retry(session, job)
    session.commit()
    monkeypatch.undo()
    monkeypatch.setattr(engine, "BATCH_SIZE", 2)
    assert run_pass(app, job.id, storage) == "done"
    session.expire_all()
    assert session.get(ImportJob, job.id).created_count == 6 and count(session, Company) == 6
    # an all-or-nothing write whose worker died: a worker must remove what it wrote
    aon = run(make_job(content.replace("Företag ", "Bolag "), all_or_nothing=True), write=False)
    jobs.queue(session, aon, write=True)
    session.commit()
    die_after_batch(monkeypatch, 2)
    with pytest.raises(WorkerDied):
        run_pass(app, aon.id, storage)
    age_heartbeat(session, aon.id)
    session.expire_all()
    aon = session.get(ImportJob, aon.id)
    assert jobs.request_cancel(session, aon, stalled_seconds=STALL) == "resubmit"
    session.commit()
    monkeypatch.undo()
    assert run_pass(app, aon.id, storage) == "cancelled"
    session.expire_all()
    aon = session.get(ImportJob, aon.id)
    assert (aon.created_count, count(session, Company, Company.name.like("Bolag%"))) == (0, 0)


def test_a_queued_job_whose_queue_message_was_lost_is_queued_again(session, make_job):
    job = make_job("Företagsnamn\nA AB\n")
    jobs.queue(session, job, write=False)
    job.task_id = "lost"
    session.commit()
    assert jobs.take_over_stalled(session, stalled_seconds=STALL, waiting_task_ids=list)[0] == []  # not old yet
    job.queued_at -= timedelta(minutes=5)
    session.commit()
    assert jobs.take_over_stalled(session, stalled_seconds=STALL, waiting_task_ids=lambda: ["lost"])[0] == []
    assert jobs.take_over_stalled(session, stalled_seconds=STALL, waiting_task_ids=list)[0] == [job.id]


def test_undo_in_the_worker_goes_batch_by_batch(session, make_job, run, app, storage, employees, monkeypatch):
    monkeypatch.setattr(jobs, "UNDO_BATCH", 2)
    content = "Företagsnamn\n" + "".join(f"Företag {n} AB\n" for n in range(5))
    job = run(run(make_job(content), write=False), write=True)
    jobs.request_undo(session, job, employees["admin"])
    session.commit()
    assert jobs.state(session, job, stalled_seconds=STALL)["active"]
    assert run_pass(app, job.id, storage) == "undone"
    session.expire_all()
    job = session.get(ImportJob, job.id)
    assert job.undo_result["removed"] == 5 and job.undo_result["batches"] == 3
    assert count(session, Company, Company.deleted_at.is_(None)) == 0
    with pytest.raises(jobs.NotPermitted):
        jobs.request_undo(session, job, employees["seller"])


def test_undo_trashes_created_records_and_reverts_updates(session, make_job, run, employees, make_company):
    existing = make_company(name="Alfa Gamla AB", org_number="5560360793", postal_city="Lund")
    changed_later = make_company(name="Gamma AB", org_number="5564994589")
    content = (
        "Företagsnamn;Org.nr;Ort;Kategori\nAlfa AB;5560360793;Stockholm;A-kund\n"
        "Gamma Nya AB;5564994589;;\nNy AB;;Malmö;\n"
    )
    job = run(run(make_job(content, mode="upsert", match_key="org_number"), write=False), write=True)
    assert (job.created_count, job.updated_count) == (1, 2)
    session.get(Company, changed_later.id).name = "Gamma Ändrad AB"  # someone edits it after the import
    session.commit()

    with pytest.raises(jobs.NotPermitted):
        jobs.undo(session, job, employees["seller"])
    result = jobs.undo(session, job, employees["admin"])
    session.commit()
    assert (result.removed, result.reverted, result.conflicts) == (1, 1, 1)
    session.expire_all()
    alfa = session.get(Company, existing.id)
    assert (alfa.name, alfa.postal_city, alfa.categories) == ("Alfa Gamla AB", "Lund", [])
    assert session.get(Company, changed_later.id).name == "Gamma Ändrad AB"
    new = session.scalar(select(Company).where(Company.name == "Ny AB"))
    assert new.is_deleted and new.deleted_by == employees["admin"]
    assert job.status == "undone"
    undo_events = session.scalars(
        select(AuditEvent).where(
            AuditEvent.import_job_id == job.id,
            AuditEvent.actor_id == employees["admin"].id,
            AuditEvent.action == "delete",
        )
    ).all()
    assert [e.entity_id for e in undo_events] == [new.id]
    with pytest.raises(jobs.ImportProblem):
        jobs.undo(session, job, employees["admin"])


def test_undo_of_leads_moves_them_to_the_trash(session, make_job, run, employees):
    """As an import's new customers: nothing a user undoes is destroyed without the trash's purge."""
    job = run(run(make_job("Företag\nNya AB\n", entity="lead"), write=False), write=True)
    assert count(session, Lead) == 1
    jobs.undo(session, job, employees["admin"])
    session.commit()
    assert count(session, Lead, Lead.deleted_at.is_(None)) == 0
    assert count(session, Lead, Lead.deleted_at.is_not(None)) == 1


def test_allocate_block_reserves_consecutive_numbers_without_overlap(session):
    first = numbering.allocate_customer_numbers(session, 3)
    assert list(first) == [10000, 10001, 10002]
    assert numbering.next_customer_number(session) == 10003
    assert list(numbering.allocate_customer_numbers(session, 2)) == [10004, 10005]
    assert list(numbering.allocate_block(session, numbering.CUSTOMER_SEQUENCE, 0)) == []


# --- parsing in worker processes -----------------------------------------------------------------

MIXED = "Företagsnamn;Org.nr;E-post;Telefon;Skapad\n" + "".join(
    f"Företag {n} AB;{org};{mail};{phone};{day}\n"
    for n, (org, mail, phone, day) in enumerate(
        [("5560360793", "info@alfa.se", "08-123 456 78", "2024-01-31")] * 1
        + [("123", "inte-en-adress", "abc", "31.02.2024")]
        + [("5564994589", "", "070-123 45 67", "")]
        + [("556036-0793", "dubbel@alfa.se", "", "")]  # the same orgnr as row 2, in a later batch
        + [
            (f"55{n:07d}{luhn.calc_check_digit(f'55{n:07d}')}", f"kontakt{n}@foretag.se", "031-12 34 56", "01.12.2023")
            for n in range(100, 108)
        ]
    )
)


class ParsedWhere:
    """A parser (for a worker) that tells which process parsed each row."""

    def parse_batch(self, batch):
        return [(number, os.getpid()) for number, _cells in batch]


@pytest.fixture
def in_workers(app, monkeypatch):
    """Parse even the smallest file in two worker processes."""
    monkeypatch.setattr(parallel, "MIN_FILE_BYTES", 0)
    monkeypatch.setitem(app.config, "IMPORT_WORKERS", 2)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _threads() -> set[str]:
    return {t.name for t in threading.enumerate()}


def test_worker_processes_parse_the_batches_in_file_order(app):
    batches = [[(n, [])] for n in range(7)]
    threads = _threads()
    with app.app_context():
        parsed = [row for batch in parallel.parsed_batches(ParsedWhere(), batches, workers=2) for row in batch]
    assert [number for number, _pid in parsed] == list(range(7))
    pids = {pid for _number, pid in parsed}
    assert len(pids) == 2 and os.getpid() not in pids
    assert not any(_alive(pid) for pid in pids)  # the processes are gone (and waited for) when the file is done
    assert _threads() == threads
    assert not multiprocessing.active_children()


def test_batches_parsed_in_pieces_come_back_whole_and_in_order(app, monkeypatch):
    """A batch larger than a parsing process is given at once goes in pieces, to both processes."""
    monkeypatch.setattr(parallel, "PIECE_ROWS", 2)
    batches = [[(n * 10 + i, []) for i in range(5)] for n in range(6)]
    with app.app_context():
        parsed = list(parallel.parsed_batches(ParsedWhere(), batches, workers=2))
    assert [[number for number, _pid in batch] for batch in parsed] == [[n for n, _c in b] for b in batches]
    assert len({pid for batch in parsed for _number, pid in batch}) == 2


def test_a_consumer_that_stops_early_leaves_no_worker_behind(app):
    threads = _threads()
    with app.app_context():
        batches = parallel.parsed_batches(ParsedWhere(), ([(n, [])] for n in range(1000)), workers=2)
        pid = next(batches)[0][1]
        batches.close()  # what a cancel or an all-or-nothing failure does
    assert not _alive(pid)
    assert _threads() == threads


class FailsAt:
    """A parser (for a worker) that fails on row 5."""

    def parse_batch(self, batch):
        if any(number == 5 for number, _cells in batch):
            raise ValueError("row 5 is bad")
        return [(number, os.getpid()) for number, _cells in batch]


def test_a_parsing_process_failure_is_raised_in_the_importing_process(app):
    with app.app_context(), pytest.raises(ValueError, match="row 5 is bad"):
        for _batch in parallel.parsed_batches(FailsAt(), ([(n, [])] for n in range(20)), workers=2):
            pass


def test_parsing_processes_read_and_say_what_this_process_would(app):
    """Swedish labels of a choice (Kundstatus) are read, and messages are in the app's language, in a parsing
    process as in this one."""
    parser = RowParser("company", [(0, "name", "Företagsnamn"), (1, "status", "Kundstatus"), (2, "email", "E-post")])
    batches = [[(2, ["A AB", "Konkurs", "a@b.se"]), (3, ["B AB", "Okänd", "inte en adress"])]]
    with app.app_context():
        here = list(parallel.parsed_batches(parser, batches, workers=0))
        there = list(parallel.parsed_batches(parser, batches, workers=1))
    assert there == here
    (_n, values, errors), (_m, _values, bad) = there[0]
    assert values["status"] == "bankrupt" and not errors
    assert [e.column for e in bad] == ["Kundstatus", "E-post"]
    assert bad[0].message.startswith("Okänt värde") and "Konkurs" in bad[0].message


def test_parsing_processes_load_neither_flask_nor_multiprocessing():
    """A parsing process imports what parsing needs and translates through its own catalogue (issue 14: a
    pool's process held 38-41 MB, 22 of them Flask, and a resource tracker of 12 MB came with it)."""
    script = (
        "import sys\n"
        "from services import i18n\n"
        "i18n.use_catalog('sv', 'translations')\n"
        "from services.importing.fields import RowParser\n"
        "parsed = RowParser('company', [(0, 'name', 'Namn'), (1, 'email', 'E-post')]).parse(2, ['AB', 'x'])\n"
        "print(parsed[2][0].message)\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('flask', 'flask_babel', 'multiprocessing')))\n"
    )
    result = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    message, loaded = result.stdout.strip().splitlines()[-2:]
    assert message == "Det här är inte en giltig e-postadress."
    assert loaded == "[]"


def test_only_large_files_and_several_cpus_get_workers():
    assert parallel.worker_count(None, parallel.MIN_FILE_BYTES - 1) == 0
    assert parallel.worker_count(3, parallel.MIN_FILE_BYTES) == 3
    assert parallel.worker_count(1, parallel.MIN_FILE_BYTES) == 1  # parses while the worker writes
    assert parallel.worker_count(0, parallel.MIN_FILE_BYTES) == 0
    # one CPU is the importing process's own (its database work): the others parse
    cpus = min(len(os.sched_getaffinity(0)) - 1, parallel.DEFAULT_MAX_WORKERS)
    assert parallel.worker_count(None, 10**9) == cpus


def test_workers_give_the_same_dry_run_and_write_as_one_process(session, make_job, run, app, monkeypatch, in_workers):
    monkeypatch.setattr(engine, "BATCH_SIZE", 3)
    monkeypatch.setitem(app.config, "IMPORT_WORKERS", 0)
    alone = run(make_job(MIXED, mode="upsert", match_key="org_number"), write=False)
    monkeypatch.setitem(app.config, "IMPORT_WORKERS", 2)
    shared = run(make_job(MIXED, mode="upsert", match_key="org_number"), write=False)
    counts = lambda job: (job.rows_done, job.created_count, job.updated_count, job.error_count)  # noqa: E731
    assert counts(shared) == counts(alone) == (12, 10, 0, 2)
    assert error_messages(session, shared) == error_messages(session, alone)
    by_column = {column: message for _row, column, _value, message in error_messages(session, shared)}
    assert by_column["E-post"] == sv("This is not a valid e-mail address.")  # Swedish from the workers too
    assert by_column["Skapad"] == sv("Not a date; write YYYY-MM-DD or DD.MM.YYYY.")

    engine.ParsedRows(shared).abandon()  # the write parses the file itself (as on another server)
    done = run(shared, write=True)
    assert (done.status, done.created_count, done.error_count) == ("done", 10, 2)
    assert session.scalar(select(Company.email).where(Company.name == "Företag 11 AB")) == "kontakt107@foretag.se"


def test_cancel_while_workers_parse_stops_them(session, make_job, run, storage, app, monkeypatch, in_workers):
    monkeypatch.setattr(engine, "BATCH_SIZE", 2)
    job = make_job(MIXED)
    cancel_after_first_batch(monkeypatch, job.id)
    jobs.queue(session, job, write=False)
    session.commit()
    assert run_pass(app, job.id, storage) == "cancelled"
    assert not multiprocessing.active_children()


# --- property: random CSV never crashes and never half-writes ------------------------------------

CELL = st.text(alphabet=st.sampled_from(list('aÅö1;,"\n\r\t -.@') + ["\x00", "\u00e9", "\ufeff"]), max_size=12)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    header=st.sampled_from(["Företagsnamn;Org.nr;E-post", "Namn,Telefon,Postnummer", "Org.nr", ""]),
    rows=st.lists(st.lists(CELL, max_size=4), max_size=6),
    encoding=st.sampled_from(["utf-8", "cp1252", "utf-16"]),
    all_or_nothing=st.booleans(),
)
def test_random_csv_never_crashes_and_all_or_nothing_never_half_writes(
    session, storage, actor, app, header, rows, encoding, all_or_nothing
):
    text = header + "\n" + "\n".join(";".join(cells) for cells in rows)
    try:
        data = text.encode(encoding)
    except UnicodeEncodeError:
        data = text.encode("utf-8")
    before = count(session, Company)
    try:
        job = jobs.create_job(
            session,
            storage,
            entity="company",
            filename="random.csv",
            stream=io.BytesIO(data),
            actor=actor,
            max_bytes=10**6,
        )
    except FileProblem as exc:
        assert str(exc)
        session.rollback()
        return
    job.all_or_nothing = all_or_nothing
    jobs.queue(session, job, write=False)
    session.commit()
    assert run_pass(app, job.id, storage) in ("checked", "failed")
    session.expire_all()
    job = session.get(ImportJob, job.id)
    assert count(session, Company) == before  # the dry run wrote nothing
    if job.status == "failed":
        assert job.error_summary
        return
    try:
        jobs.queue(session, job, write=True)
    except jobs.ImportProblem:
        session.rollback()
        assert all_or_nothing and job.error_count
        return
    session.commit()
    assert run_pass(app, job.id, storage) == "done"
    session.expire_all()
    job = session.get(ImportJob, job.id)
    assert count(session, Company) == before + job.created_count
    if all_or_nothing:
        assert job.error_count == 0


@pytest.mark.postgres
def test_a_lost_database_connection_leaves_the_job_to_be_taken_over(session, make_job, run, app, storage, monkeypatch):
    """What a PostgreSQL restart does to a running import: its connection is cut mid-write. The
    pass stops without marking the job failed; the take-over goes on after the last committed batch."""
    if db.engine.dialect.name != "postgresql":
        pytest.skip("needs PostgreSQL (CRM_TEST_DATABASE_URL)")
    from sqlalchemy import text as sql

    monkeypatch.setattr(engine, "BATCH_SIZE", 2)
    content = "Företagsnamn\n" + "".join(f"Företag {n} AB\n" for n in range(8))
    job = run(make_job(content), write=False)
    jobs.queue(session, job, write=True)
    session.commit()
    after = jobs._Pass._after_batch

    def cut_the_connection_in_batch_3(self, counts, errors, categories):
        if self.batches == 2:
            backend = self.session.scalar(sql("SELECT pg_backend_pid()"))
            with Session(db.engine) as other:
                other.execute(sql("SELECT pg_terminate_backend(:pid)"), {"pid": backend})
        after(self, counts, errors, categories)

    monkeypatch.setattr(jobs._Pass, "_after_batch", cut_the_connection_in_batch_3)
    assert run_pass(app, job.id, storage) is None
    session.expire_all()
    job = session.get(ImportJob, job.id)
    assert (job.status, job.batches_done, count(session, Company)) == ("running", 2, 4)
    age_heartbeat(session, job.id)
    assert jobs.take_over_stalled(session, stalled_seconds=STALL, waiting_task_ids=list)[0] == [job.id]
    monkeypatch.setattr(jobs._Pass, "_after_batch", after)
    assert run_pass(app, job.id, storage) == "done"
    assert count(session, Company) == 8 and count(session, AuditEvent, AuditEvent.import_job_id == job.id) == 8


# --- webhooks --------------------------------------------------------------------------------------


def test_imported_records_are_webhook_events_delivered_in_few_queue_messages(
    app, session, make_job, run, make_company, industry, worker
):
    """An import writes company.created/.updated (and lead.created) deliveries with each batch,
    with the record as stored and the changes; the worker delivers them signed."""
    from models import WebhookDelivery
    from services import webhooks
    from tests.webhook_receiver import Receiver, signed_payloads

    receiver = Receiver()
    try:
        existing = make_company(name="Gamla namnet AB", org_number="5560360793")
        subscription = webhooks.subscribe(
            session,
            None,
            name="Import",
            url=receiver.url,
            events=["company.created", "company.updated", "lead.created"],
            allow_internal=True,
        )
        session.commit()
        run(run(make_job(COMPANIES, mode="upsert", match_key="org_number"), write=False), write=True)
        payloads = {p["event"]: p for p in signed_payloads(receiver, subscription, 2)}
        updated, created = payloads["company.updated"], payloads["company.created"]
        assert updated["data"]["id"] == existing.id and updated["data"]["record"]["name"] == "Alfa AB"
        assert updated["data"]["changes"]["name"] == ["Gamla namnet AB", "Alfa AB"]
        beta = session.scalar(select(Company).where(Company.name == "Beta AB"))
        assert created["data"]["id"] == beta.id and "changes" not in created["data"]
        assert created["data"]["record"]["customer_number"] == beta.customer_number
        assert created["data"]["record"]["postal_postcode"] == "411 01"

        leads = "Företag;E-post\nNya AB;per@nya.se\nAndra AB;eva@andra.se\n"
        run(run(make_job(leads, entity="lead", match_key="contact_email"), write=False), write=True)
        received = signed_payloads(receiver, subscription, 4)[2:]
        assert sorted(p["data"]["record"]["company_name"] for p in received) == ["Andra AB", "Nya AB"]
        assert {p["event"] for p in received} == {"lead.created"}
        assert session.scalar(select(func.count()).select_from(WebhookDelivery)) == 4
    finally:
        receiver.close()


def test_an_import_without_subscribers_writes_no_deliveries(session, make_job, run, industry):
    from models import WebhookDelivery
    from services import webhooks

    webhooks.subscribe(
        session, None, name="Annat", url="http://127.0.0.1/", events=["lead.created"], allow_internal=True
    )
    session.commit()
    run(run(make_job(COMPANIES, mode="upsert", match_key="org_number"), write=False), write=True)
    assert count(session, Company) == 2 and count(session, WebhookDelivery) == 0


def test_deliveries_go_to_the_queue_fifty_a_message(app):
    from services import tasks, webhooks

    tasks.queue.flush()
    try:
        webhooks.queue(range(1, 121))
        assert tasks.queue.pending_count() == 3
    finally:
        tasks.queue.flush()


# --- likely duplicates pointed out by the dry run ----------------------------------------------------


def notices(session, job):
    session.expire_all()
    return [(n.row, n.record_kind, n.record_id, n.message) for n in jobs.errors(session, job, kind="notice")]


def test_the_dry_run_points_out_rows_already_in_the_register_as_a_customer_or_a_lead(
    session, make_job, run, make_company
):
    """Issue 17/18: an organisationsnummer that is a lead's, and a similar name in the same town, are pointed out
    with the record (the row is still new); an unrelated row is not. A customer's organisationsnummer is not a
    likely duplicate but an error naming the customer (one company per number, as the form says)."""
    customer = make_company(name="Alfa Bygg AB", org_number="5560360793", postal_city="Stockholm")
    lookalike = make_company(name="Nordisk Rörteknik i Göteborg AB", postal_city="Göteborg")
    lead = Lead(company_name="Beta Konsult", org_number="5564994589", status="new")
    session.add(lead)
    session.commit()
    content = (
        "Företagsnamn;Org.nr;Ort\n"
        "Alfa Byggnads AB;556036-0793;Stockholm\n"  # the customer's orgnr
        "Beta Konsult AB;5564994589;Malmö\n"  # the lead's orgnr
        "Nordisk Rörteknik Aktiebolag;;Göteborg\n"  # a similar name in the same town
        "Helt Annat Företag AB;;Umeå\n"
    )
    job = run(make_job(content, mode="create"), write=False)
    assert (job.status, job.created_count, job.error_count, job.notice_count) == ("checked", 3, 1, 2)
    found = notices(session, job)
    assert [(row, kind, ident) for row, kind, ident, _m in found] == [
        (3, "lead", lead.id),
        (4, "company", lookalike.id),
    ]
    reasons = {3: sv("same organisation number"), 4: sv("similar name + same city")}
    for row, kind, _ident, message in found:
        name = {3: "Beta Konsult", 4: "Nordisk Rörteknik i Göteborg AB"}[row]
        assert message.startswith(
            sv(
                "Likely already in the register as %(what)s %(name)s (%(reasons)s).",
                what="kund" if kind == "company" else "lead",
                name=name,
                reasons=reasons[row],
            )[:-2]
        )
    assert [(e.row, e.message) for e in jobs.errors(session, job)] == [
        (
            2,
            sv(
                "%(name)s (customer no. %(number)s) already has this organisation number.",
                name="Alfa Bygg AB",
                number=customer.customer_number,
            ),
        )
    ]
    done = run(job, write=True)
    assert (done.created_count, done.error_count) == (3, 1)


def test_a_lead_import_points_out_a_customer_and_a_contact_import_a_contact(
    session, make_job, run, make_company, make_contact
):
    customer = make_company(name="Gamma Data AB", org_number="5560360793")
    person = make_contact(first_name="Eva", last_name="Lindqvist", email="eva.lindqvist@gamma.se")
    leads = run(make_job("Företag;Org.nr\nGamma Data;5560360793\n", entity="lead"), write=False)
    assert [(kind, ident) for _r, kind, ident, _m in notices(session, leads)] == [("company", customer.id)]
    contacts = run(
        make_job("Förnamn;Efternamn;E-post\nEva;Lindqvist;EVA.LINDQVIST@gamma.se\n", entity="contact"), write=False
    )
    assert [(kind, ident) for _r, kind, ident, _m in notices(session, contacts)] == [("contact", person.id)]


def test_the_register_is_compared_by_blocking_not_with_every_record(session, make_job, run, make_company, monkeypatch):
    """Each row is scored against the records sharing a key or its rarest name word, never the whole register."""
    from services import duplicates

    for n in range(300):
        make_company(name=f"Bygg {n} Konsult AB", org_number=None)
    make_company(name="Zeta Verkstäder AB")
    calls = []
    real_score = duplicates.score
    monkeypatch.setattr(duplicates, "score", lambda *a, **k: calls.append(1) or real_score(*a, **k))
    read = []
    real_entry = duplicates._entry_of_row
    monkeypatch.setattr(
        duplicates, "_entry_of_row", lambda kind, row, *names: read.append((kind, row)) or real_entry(kind, row, *names)
    )
    job = run(make_job("Företagsnamn\nZeta Verkstad AB\nBygg Konsult AB\n", mode="create"), write=False)
    assert job.notice_count == 1
    assert len(calls) <= 2 * duplicates.MAX_WORD_BLOCK  # "bygg" and "konsult" are in 300 names: not compared
    # the register is asked for what the rows' keys and rarest words name, not read whole (issue 18: a dry run's
    # memory is flat in the register's size): of the 301 companies, only Zeta Verkstäder was read
    assert [row[1] for kind, row in read if kind == "company" and row[0] is not None] == ["Zeta Verkstäder AB"]


def test_a_batch_s_errors_and_notices_are_stored_in_one_statement(session, make_job, run, make_company):
    """A batch's errors, its notices on the register's records and those on the file's own rows (record kind or
    not, column or not) are one INSERT: SQLAlchemy's bulk insert left a NULL column out and began a new INSERT
    wherever the columns changed (a dry run against a filled register: 1,258 INSERTs for 30,000 notices)."""
    from sqlalchemy import event

    from extensions import db

    make_company(name="Nordisk Rörteknik AB", postal_city="Göteborg")
    content = (
        "Företagsnamn;Ort;Telefon\n"
        "Nordisk Rörteknik Aktiebolag;Göteborg;\n"  # the register's company
        "Lindqvist Måleri;Lund;046-123 45 67\n"
        "Lindqvists Måleri AB;Lund;046-12 34 567\n"  # the row above
        "Ett Företag;Umeå;12\n"  # a bad phone: an error
        "Nordisk Rörteknik i Göteborg;Göteborg;\n"  # the register's company again
    )
    inserts = []

    def remember(conn, cursor, statement, *_args):
        if statement.startswith("INSERT INTO import_row_error"):
            inserts.append(statement)

    event.listen(db.engine, "before_cursor_execute", remember)
    try:
        job = run(make_job(content, mode="create"), write=False)
    finally:
        event.remove(db.engine, "before_cursor_execute", remember)
    assert (job.error_count, job.notice_count) == (1, 3)
    assert len(inserts) == 1


def test_the_dry_run_points_out_rows_alike_inside_the_file(session, make_job, run, make_company, monkeypatch):
    """Issue 18: a new row like an earlier new row of the same file (an e-mail, a phone, a similar name in the
    same town), in the same batch or an earlier one, gets a notice naming that row; scored and blocked as the
    register is. Rows alike only in a common word are not."""
    monkeypatch.setattr(engine, "BATCH_SIZE", 2)
    content = (
        "Företagsnamn;Ort;E-post;Telefon\n"
        "Nordisk Rörteknik AB;Göteborg;;\n"  # row 2
        "Helt Annat Företag AB;Umeå;info@annat.se;\n"  # row 3
        "Lindqvist Måleri;Lund;;046-123 45 67\n"  # row 4
        "Nordisk Rörteknik Aktiebolag;Göteborg;;\n"  # row 5: row 2's name, same town (another batch)
        "Annat Företag Helt;Kiruna;INFO@annat.se;\n"  # row 6: row 3's e-mail
        "Lindqvists Måleri AB;Lund;;046-12 34 567\n"  # row 7: row 4's phone and name
        "Nordisk Data AB;Malmö;;\n"  # row 8: shares only a word
    )
    job = run(make_job(content, mode="create"), write=False)
    found = [(row, kind, ident, message) for row, kind, ident, message in notices(session, job)]
    assert [(row, kind, ident) for row, kind, ident, _m in found] == [(5, None, None), (6, None, None), (7, None, None)]
    assert found[0][3] == sv(
        "Likely the same as row %(row)s of the file (%(reasons)s).", row=2, reasons=sv("similar name + same city")
    )
    assert sv("same e-mail") in found[1][3]
    assert "rad 3 " in found[1][3] and "rad 4 " in found[2][3] and sv("same phone") in found[2][3]
    assert (job.status, job.created_count, job.error_count, job.notice_count) == ("checked", 7, 0, 3)


def test_an_earlier_row_with_another_organisation_number_is_not_compared(session, make_job, run, monkeypatch):
    """Issue 14: `score` gives 0 to two rows with different organisationsnummer, so the file's earlier rows with
    another one are left out before their names are compared or their entries read; a row without one, or with
    the same, is compared and pointed out as before."""
    from services import duplicates

    monkeypatch.setattr(engine, "BATCH_SIZE", 2)
    scored = []
    real_score = duplicates.score
    monkeypatch.setattr(duplicates, "score", lambda kind, a, b: scored.append((a.ids, b.ids)) or real_score(kind, a, b))
    content = (  # leads: two new companies with one number are an error (see test_a_create_import_refuses_…)
        "Företag;Org.nr\n"
        "Nordisk Rörteknik AB;556036-0793\n"  # row 2
        "Nordisk Rörteknik Aktiebolag;556016-0680\n"  # row 3: another company, alike in name
        "Nordisk Rörteknik HB;\n"  # row 4: no number, like rows 2 and 3
        "Nordisk Rörtekniks AB;556036-0793\n"  # row 5: row 2's number, like rows 2 and 4 (not 3)
    )
    job = run(make_job(content, entity="lead", mode="create", match_key="contact_email"), write=False)
    found = sorted((row, int(m.split("rad ")[1].split()[0])) for row, _k, _i, m in notices(session, job))
    assert found == [(4, 2), (4, 3), (5, 2), (5, 4)]
    assert not [pair for pair in scored if all(pair) and pair[0] != pair[1]]  # two numbers, never compared


def test_parsing_processes_make_the_rows_entries_and_the_notices_are_the_same(
    session, make_job, run, make_company, app, monkeypatch, in_workers
):
    """Issue 14: a dry run's parsing processes make each row's duplicates Entry (services.name_keys), the queue
    worker only looks it up: the notices are those of rows parsed in the worker itself, for the register and for
    an earlier row of the file in another batch (by name, e-mail and phone); a row with errors gets none."""
    from services import duplicates

    monkeypatch.setattr(engine, "BATCH_SIZE", 2)
    customer = make_company(
        name="Alfa Bygg AB", org_number="5560360793", postal_city="Stockholm", email="info@alfabygg.se"
    )
    content = (
        "Företagsnamn;Ort;Org.nr;E-post;Telefon\n"
        "Alfa Byggnads AB;Stockholm;;info@alfabygg.se;\n"  # row 2: the customer's e-mail (its number: an error)
        "Nordisk Rörteknik AB;Göteborg;;info@ror.se;\n"  # row 3
        "Lindqvist Måleri;Lund;;;046-123 45 67\n"  # row 4
        "Nordisk Rörteknik Aktiebolag;Göteborg;;;\n"  # row 5: row 3's name and town (another batch)
        "Annat Företag;Kiruna;;INFO@ror.se;\n"  # row 6: row 3's e-mail
        "Lindqvists Måleri AB;Lund;;;046-12 34 567\n"  # row 7: row 4's phone and name
        "Alfa Bygg;Stockholm;12;;\n"  # row 8: a bad number, an error, no notice
    )
    parsed = []
    real = engine.Importer._new_entries
    monkeypatch.setattr(
        engine.Importer,
        "_new_entries",
        lambda self, rows: parsed.extend((r.number, r.entry is not None) for r in rows) or real(self, rows),
    )
    there = run(make_job(content), write=False)
    assert parsed == [(n, n != 8) for n in range(2, 9)]  # made by the parsing processes, but for a bad row
    monkeypatch.setitem(app.config, "IMPORT_WORKERS", 0)
    here = run(make_job(content), write=False)
    found = [(row, kind, ident) for row, kind, ident, _m in notices(session, there)]
    assert found == [(2, "company", customer.id), (5, None, None), (6, None, None), (7, None, None)]
    assert [m for *_n, m in notices(session, there)] == [m for *_n, m in notices(session, here)]
    assert (there.created_count, there.error_count) == (here.created_count, here.error_count) == (6, 1)
    # the Entry a parsing process makes is the one the register's records are made with
    values = {"name": "Nordisk Rörteknik i Göteborg AB", "org_number": "5560360793", "phone": "+46461234567"}
    entry = engine.name_keys.entry_from_fields(9, engine.name_keys.entry_fields("company", values))
    expected = duplicates.entry_of_values("company", values)
    expected.id = 9
    assert entry == expected


def test_an_entry_is_made_of_the_columns_the_register_is_read_with():
    """services.name_keys (no models, for the parsing processes) names the columns services.duplicates reads."""
    from services import duplicates, name_keys

    for kind in duplicates.KINDS:
        assert name_keys.COLUMN_KEYS[kind] == tuple(c.key for c in duplicates.columns(kind))


@pytest.mark.parametrize("word_cache", [engine.FileEntries.WORD_CACHE, 1])
def test_the_file_s_rows_of_a_word_are_read_once_and_kept_up_to_date(session, make_job, run, monkeypatch, word_cache):
    """The earlier rows of a name word are read from the temporary file once and then kept in memory as rows are
    added (bounded: with room for one row only, each batch reads them again); either way the same rows are
    pointed out."""
    monkeypatch.setattr(engine, "BATCH_SIZE", 2)
    monkeypatch.setattr(engine.FileEntries, "WORD_CACHE", word_cache)
    reads = []
    real_select = engine.FileEntries._select

    def counting(self, sql, values):
        if "FROM word WHERE" in sql:
            reads.append(set(values))
        return real_select(self, sql, values)

    monkeypatch.setattr(engine.FileEntries, "_select", counting)
    content = "Företagsnamn;Ort\n" + "".join(
        f"Rörteknik {name} AB;Göteborg\n" for name in ("Nordisk", "Nordisk", "Nordiska", "Svensk", "Nordisk", "Norsk")
    )
    job = run(make_job(content, mode="create"), write=False)
    found = [(row, kind) for row, kind, _ident, _m in notices(session, job)]
    # rows 3, 4, 6 and 7 are like earlier rows (Nordisk, Nordiska, Norsk); Svensk is like none
    assert sorted(set(found)) == [(3, None), (4, None), (6, None), (7, None)]
    if word_cache > 1:
        assert sum("rorteknik" in words for words in reads) == 1
    else:
        assert sum("rorteknik" in words for words in reads) > 1


def test_a_large_write_leaves_postgresql_statistics_of_the_imported_register(
    session, make_job, run, industry, monkeypatch
):
    """After an import's write the planner knows the register's new size (autovacuum may be late or off)."""
    if session.get_bind().dialect.name != "postgresql":
        pytest.skip("PostgreSQL's statistics")
    session.execute(text("ANALYZE company"))
    session.commit()
    monkeypatch.setattr(jobs, "ANALYZE_AFTER_ROWS", 2)
    done = run(run(make_job(COMPANIES, mode="upsert", match_key="org_number"), write=False), write=True)
    assert done.created_count == 2
    assert session.execute(text("SELECT reltuples FROM pg_class WHERE relname = 'company'")).scalar() == 2


def test_a_large_write_leaves_sqlite_s_search_index_merged(session, make_job, run, monkeypatch):
    """Issue 14: after an import's write of a quarter of the table or more, SQLite's quick-search index is one
    b-tree (services.search.merge_index), so the next dry run's name words are looked up in one segment."""
    if session.get_bind().dialect.name != "sqlite":
        pytest.skip("SQLite's FTS5 index")
    monkeypatch.setattr(engine, "SQLITE_BATCH_SIZE", 1)  # a segment a row
    monkeypatch.setattr(jobs, "ANALYZE_AFTER_ROWS", 2)
    content = "Företagsnamn;Ort\n" + "".join(f"Segment {n} AB;Ort {n}\n" for n in range(6))
    done = run(run(make_job(content, mode="create"), write=False), write=True)
    assert done.status == "done" and done.created_count == 6
    assert session.execute(text("SELECT count(DISTINCT segid) FROM company_search_idx")).scalar() == 1


def test_the_index_merge_ends_while_other_users_keep_saving(session, make_company):
    """The merge's steps give other users' saves their turn (services.write_turns), and each save adds a
    segment to the index: the steps are bounded by the index's size, or the merge would never end."""
    if session.get_bind().dialect.name != "sqlite":
        pytest.skip("SQLite's FTS5 index")
    for n in range(6):
        make_company(name=f"Segment {n} AB")
    saves = []

    def another_save():
        assert len(saves) < 100, "the merge never ends while others save"
        saves.append(make_company(name=f"Sparad mellan stegen {len(saves)} AB"))

    search.merge_index(session, Company, another_save)
    assert 1 <= len(saves) <= 10
    assert session.scalar(select(func.count()).select_from(Company)) == 6 + len(saves)


def test_the_temporary_files_are_asked_with_the_same_statements_whatever_the_batch(session, make_job, run, monkeypatch):
    """A dry run looks up each batch's keys, words and rows in its temporary SQLite files with one statement text
    per query, whatever the number of values (issue 14: with a "?" per value, the texts of every length filled
    the connection's cache of prepared statements, 8 MB more in a dry run of 100,000 companies)."""
    import sqlite3

    class Recording:
        def __init__(self, connection):
            self.connection = connection

        def execute(self, sql, *args):
            texts.add(sql)
            return self.connection.execute(sql, *args)

        def executemany(self, sql, *args):
            texts.add(sql)
            return self.connection.executemany(sql, *args)

        def __getattr__(self, name):
            return getattr(self.connection, name)

    real_connect = sqlite3.connect
    connect = staticmethod(lambda *args, **kwargs: Recording(real_connect(*args, **kwargs)))
    monkeypatch.setattr(engine, "sqlite3", type("Recorded", (), {"connect": connect, "Connection": sqlite3.Connection}))
    content = "Företagsnamn;Ort;E-post\n" + "".join(
        f"Rörteknik {name} AB;Göteborg;info{n % 3}@exempel.se\n"
        for n, name in enumerate(("Nordisk", "Nordiska", "Svensk", "Norsk", "Dansk", "Nordisk", "Finsk") * 2)
    )
    statements = []
    for size in (2, 5):
        texts: set[str] = set()
        monkeypatch.setattr(engine, "BATCH_SIZE", size)
        job = run(make_job(content, mode="create"), write=False)
        assert job.status == "checked" and job.notice_count
        statements.append(texts)
    assert statements[0] == statements[1]


@pytest.mark.parametrize("kept", [True, False])
def test_a_dry_run_reads_smaller_batches_than_the_write(session, make_job, run, monkeypatch, kept):
    """A dry run reads batches of DRY_RUN_BATCH_SIZE on either database (issue 14: less memory in the worker); the
    write reads the rows the dry run kept, or the file, in its own batches, and writes every row once."""
    monkeypatch.setattr(engine, "BATCH_SIZE", 4)
    monkeypatch.setattr(engine, "SQLITE_BATCH_SIZE", 4)
    monkeypatch.setattr(engine, "DRY_RUN_BATCH_SIZE", 2)
    content = "Företagsnamn;Ort\n" + "".join(f"Företag {n} AB;Ort {n}\n" for n in range(9))
    job = run(make_job(content, mode="create"), write=False)
    assert (job.status, job.batches_done, job.created_count) == ("checked", 5, 9)
    if not kept:
        engine.ParsedRows(job).abandon()  # the write parses the file itself (as on another server)
    job = run(job, write=True)
    assert (job.status, job.batches_done, job.created_count, job.rows_done) == ("done", 3, 9, 9)
    assert session.scalar(select(func.count()).select_from(Company)) == 9


def test_a_pass_has_its_connection_settings_in_every_transaction_and_leaves_none_on_the_pool(
    session, make_job, run, industry, monkeypatch
):
    """Each of a pass's transactions (one a batch, each may get another pooled connection) commits without
    waiting for the disk, and on SQLite has the import's page cache; a connection back in the pool has the
    app's settings again for whoever takes it next (a commit there is durable)."""
    sqlite = session.get_bind().dialect.name == "sqlite"
    seen = []
    after_batch = jobs._Pass._after_batch

    def recording(self, *args, **kwargs):
        if sqlite:
            seen.append(
                (
                    self.session.execute(text("PRAGMA cache_size")).scalar(),
                    self.session.execute(text("PRAGMA synchronous")).scalar(),
                )
            )
        else:
            seen.append(self.session.execute(text("SHOW synchronous_commit")).scalar())
        return after_batch(self, *args, **kwargs)

    monkeypatch.setattr(jobs._Pass, "_after_batch", recording)
    monkeypatch.setattr(engine, "SQLITE_BATCH_SIZE", 2)
    monkeypatch.setattr(engine, "BATCH_SIZE", 2)
    monkeypatch.setattr(engine, "DRY_RUN_BATCH_SIZE", 2)
    bind = session.get_bind()
    with bind.connect(), bind.connect(), bind.connect():  # three in the pool, taken in turn
        pass
    rows = "".join(f"Bolag {n} AB;;;;;;;;;\n" for n in range(7))
    job = run(run(make_job(COMPANIES + rows, mode="upsert", match_key="org_number"), write=False), write=True)
    assert job.status == "done" and job.created_count == job.rows_done >= 7
    assert len(seen) >= 8
    if not sqlite:
        assert set(seen) == {"off"}
        with bind.connect() as other:
            assert other.exec_driver_sql("SHOW synchronous_commit").scalar() == "on"
        return
    assert set(seen) == {(-jobs.SQLITE_CACHE_KB, 1)}  # 1: NORMAL
    with bind.connect() as first, bind.connect() as second, bind.connect() as third:
        settings = [
            (c.exec_driver_sql("PRAGMA cache_size").scalar(), c.exec_driver_sql("PRAGMA synchronous").scalar())
            for c in (first, second, third)
        ]
    assert settings == [(-SQLITE_PAGE_CACHE_KIB, 2)] * 3  # 2: FULL


def test_a_pass_leaves_what_was_alive_before_it_out_of_its_garbage_collections(session, make_job, run, monkeypatch):
    """What is alive when a pass begins (the app, its modules) is frozen out of the garbage collector for the pass
    (gc.freeze) and given back after it, whether the pass ends or fails."""
    import gc

    monkeypatch.setattr(engine, "BATCH_SIZE", 2)
    frozen = []
    after = jobs._Pass._after_batch

    def after_then_look(self, counts, errors, categories):
        after(self, counts, errors, categories)
        frozen.append(gc.get_freeze_count())
        if len(frozen) == 3:
            raise WorkerDied

    monkeypatch.setattr(jobs._Pass, "_after_batch", after_then_look)
    content = "Företagsnamn\n" + "".join(f"Företag {n} AB\n" for n in range(4))
    job = run(make_job(content), write=False)
    assert job.status == "checked" and len(frozen) == 2 and all(n > 0 for n in frozen)
    assert gc.get_freeze_count() == 0
    with pytest.raises(WorkerDied):
        run(make_job(content + "Företag 9 AB\nFöretag 10 AB\n"), write=False)
    assert len(frozen) == 3 and gc.get_freeze_count() == 0


def test_an_exported_list_imported_back_unchanged_changes_nothing(login, session, make_company, make_job, run):
    """The export gives a cell a spreadsheet would take for a formula a leading apostrophe ('=…, '+…, '-…);
    the import reads it back as it was exported, so an unchanged export updates nothing."""
    make_company(name="=cmd|' /C calc'!A0", postal_city="+Stad", postal_street="-Gata 1", phone="+46812345678")
    make_company(name="@Vanlig AB", org_number="5560360793", postal_city="Lund")
    exported = login("admin").client.get("/admin/company/export/csv/")
    assert b"'=cmd" in exported.data and b"'+Stad" in exported.data
    job = make_job(exported.data, mode="update", match_key="customer_number")
    checked = run(job, write=False)
    assert (checked.updated_count, checked.unchanged_count, checked.error_count) == (0, 2, 0)
    assert run(job, write=True).updated_count == 0
    stored = session.scalars(select(Company.name).order_by(Company.name)).all()
    assert stored == ["=cmd|' /C calc'!A0", "@Vanlig AB"]


def test_merged_is_a_status_only_a_merge_gives(login, session, make_job, run):
    """ "Sammanslagen" marks a company a merge took out of the register: no form, import or API sets it on a
    live one (it would read as merged with nothing)."""
    page = login("admin").client.get("/admin/company/new/").get_data(as_text=True)
    assert 'value="bankrupt"' in page and 'value="merged"' not in page
    checked = run(make_job("Namn;Status\nSammanslagna AB;Sammanslagen\nKonkursen AB;Konkurs\n"), write=False)
    assert (checked.created_count, checked.error_count) == (1, 1)


# --- one company per organisationsnummer ----------------------------------------------------------------


def test_a_create_import_refuses_an_org_number_the_register_or_an_earlier_row_has(
    session, make_job, run, make_company, monkeypatch
):
    """The form's rule (services.register.org_number_taken): a new company may not get a number a company in
    the register has (the error names it, with its customer number) or an earlier row of the file gives; the
    same errors in the dry run and the write, across batches, and those rows create nothing."""
    monkeypatch.setattr(engine, "BATCH_SIZE", 2)  # the file's first copy in an earlier batch than the second
    existing = make_company(name="Finns AB", org_number="5560360793")
    content = (
        "Namn;Org.nr;E-post;Telefon\n"
        "Dubbel AB;559000-0005;a@dubbel.se;08-111 222 33\n"
        "Kopia AB;556036-0793;k@kopia.se;\n"
        "Dubbel AB;559000-0005;a@dubbel.se;08-111 222 33\n"
        "Ny AB;556499-4589;;\n"
    )
    taken = sv(
        "%(name)s (customer no. %(number)s) already has this organisation number.",
        name="Finns AB",
        number=existing.customer_number,
    )
    in_file = sv("The same %(field)s as row %(row)s: the row is a duplicate in the file.", field=sv("Org. no."), row=2)
    expected = [(3, "Org.nr", "5560360793", taken), (4, "Org.nr", "5590000005", in_file)]
    checked = run(make_job(content, mode="create"), write=False)
    assert (checked.created_count, checked.error_count) == (2, 2)
    assert [e for e in error_messages(session, checked) if e[1] == "Org.nr"] == expected
    done = run(checked, write=True)
    assert (done.created_count, done.error_count) == (2, 2)
    assert [e for e in error_messages(session, done) if e[1] == "Org.nr"] == expected
    assert sorted(session.scalars(select(Company.name))) == ["Dubbel AB", "Finns AB", "Ny AB"]


def test_an_upsert_holds_new_and_changed_numbers_to_the_rule_and_a_company_keeps_its_own(
    session, make_job, run, make_company, employees
):
    """Matched on the customer number: a row that keeps its company's number (shared with a duplicate from
    before) updates it; one that changes it to another company's, or creates a company with it, is an error.
    A company merged into another holds no number. Matched on the organisationsnummer nothing changes: the
    row updates the company that has it."""
    from services import merge

    first = make_company(name="Dalarnas Måleri AB", org_number="5584520596")
    make_company(name="Dalarnas Måleri i Uppsala", org_number="5584520596")
    other = make_company(name="Annat AB", org_number="5567037485")
    kept = make_company(name="Behållen AB", org_number="5564994589")
    gone = make_company(name="Sammanslagen AB", org_number="5560360793")
    merge.merge(session, employees["admin"], "company", kept.id, gone.id, {"org_number": merge.KEEP})
    session.commit()
    content = (
        "Kundnummer;Namn;Org.nr\n"
        f"{first.customer_number};Dalarnas Måleri Aktiebolag;558452-0596\n"
        f"{other.customer_number};Annat AB;558452-0596\n"
        ";Tredje AB;558452-0596\n"
        ";Fjärde AB;556036-0793\n"
    )
    checked = run(make_job(content, mode="upsert", match_key="customer_number"), write=False)
    assert (checked.created_count, checked.updated_count, checked.error_count) == (1, 1, 2)
    assert [e[0] for e in error_messages(session, checked) if e[1] == "Org.nr"] == [3, 4]
    done = run(checked, write=True)
    assert (done.created_count, done.updated_count, done.error_count) == (1, 1, 2)
    session.expire_all()
    assert session.get(Company, first.id).name == "Dalarnas Måleri Aktiebolag"
    assert session.get(Company, other.id).org_number == "5567037485"
    assert session.scalar(select(Company.org_number).where(Company.name == "Fjärde AB")) == "5560360793"
    by_number = run(
        make_job("Namn;Org.nr\nAnnat Aktiebolag;556703-7485\n", mode="upsert", match_key="org_number"), write=False
    )
    assert (by_number.updated_count, by_number.error_count) == (1, 0)


def test_a_lead_in_the_trash_is_neither_matched_nor_pointed_out_by_an_import(session, make_job, run, employees):
    """An import matches and points out live leads only: a lead in the trash is not updated by an upsert on
    its e-mail (a new lead is made, as for a contact in the trash), nor named as a likely duplicate."""
    from services import trash

    gone = Lead(company_name="Beta Konsult", org_number="5564994589", contact_email="per@beta.se", status="new")
    session.add(gone)
    session.commit()
    trash.delete(session, employees["seller"], Lead, [gone.id])
    session.commit()
    checked = run(make_job("Företagsnamn;Org.nr;Ort\nBeta Konsult AB;5564994589;Malmö\n", mode="create"), write=False)
    assert notices(session, checked) == []
    job = run(
        run(
            make_job(
                "Företag;E-post;Källa\nBeta Konsult AB;per@beta.se;Mässa\n",
                entity="lead",
                mode="upsert",
                match_key="contact_email",
            ),
            write=False,
        ),
        write=True,
    )
    assert (job.created_count, job.updated_count) == (1, 0)
    kept = session.get(Lead, gone.id)
    assert (kept.company_name, kept.source, kept.deleted_at is not None) == ("Beta Konsult", None, True)


def test_payment_terms_outside_0_to_365_days_are_a_row_error(session, make_job, run):
    """Betalningsvillkor follow the one rule of the forms and the API (services.validation.payment_terms);
    the import took any whole number below a million."""
    content = "Förnamn;Efternamn;Betalningsvillkor\nAnna;Andersson;400\nBo;Berg;-1\nCilla;Carlsson;365\n"
    checked = run(make_job(content, entity="privatecustomer"), write=False)
    terms = sv("Payment terms must be between 0 and 365 days.")
    errors = {row: (value, message) for row, column, value, message in error_messages(session, checked)}
    assert errors[2] == ("400", terms) and 3 in errors and 4 not in errors
    assert checked.error_count == 2
