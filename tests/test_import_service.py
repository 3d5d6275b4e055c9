"""The import service: dry run and write, natural keys, modes, audit, undo, jobs, bad input."""

import io
import multiprocessing
import os
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.orm import Session
from stdnum import luhn

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
from services import numbering
from services import storage as storage_module
from services.importing import engine, jobs, parallel
from services.importing.reader import FileProblem
from tests.helpers import count, sv

COMPANIES = (
    "Företagsnamn;Org.nr;Postnummer;Ort;Telefon;Kundansvarig;Kategori;Bransch;Rabatt %;Leverantör\n"
    "Alfa AB;556036-0793;11122;Stockholm;08-123 456 78;Test Admin;A-kund, Mässa 2026;Bygg;2,5;Ja\n"
    "Beta AB;5564994589;41101;Göteborg;;;A-kund;;;\n"
)


@pytest.fixture
def storage(app):
    return storage_module.from_config(app.config)


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


@pytest.fixture
def run(app, session, storage):
    """Run one pass of a job in this thread, exactly as the worker thread does; returns the fresh job."""

    def _run(job, *, write):
        jobs.queue(session, job, write=write)
        session.commit()
        jobs.run_queued(app, job.id, storage)
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
    assert count(session, Company) == 0 and count(session, Category) == 0 and count(session, AuditEvent) == 0

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
    assert numbering.current_value(session, numbering.CUSTOMER_SEQUENCE) is None


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
    assert (companies.created_count, companies.updated_count) == (1, 0)  # a new company, the trashed one untouched
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


def test_progress_counts_rows_and_total(session, make_job, run, monkeypatch):
    monkeypatch.setattr(engine, "BATCH_SIZE", 2)
    content = "Företagsnamn\n" + "".join(f"Företag {n} AB\n" for n in range(5))
    job = run(run(make_job(content), write=False), write=True)
    state = jobs.state(session, job)
    assert (state["rows_done"], state["total"], state["percent"], state["active"]) == (5, 5, 100, False)
    assert state["status"] == "done" and state["created"] == 5


def test_cancel_between_batches_keeps_the_written_batches(session, make_job, run, storage, app, monkeypatch):
    monkeypatch.setattr(engine, "BATCH_SIZE", 2)
    content = "Företagsnamn\n" + "".join(f"Företag {n} AB\n" for n in range(6))
    job = run(make_job(content), write=False)
    jobs.queue(session, job, write=True)
    session.commit()
    jobs.request_cancel(session, job)  # as the cancel button does while it runs
    session.commit()
    jobs.run_queued(app, job.id, storage)
    session.expire_all()
    job = session.get(ImportJob, job.id)
    assert job.status == "cancelled" and job.rows_done == 2 and job.created_count == 2
    assert count(session, Company) == 2


def test_cancel_of_an_all_or_nothing_import_writes_nothing(session, make_job, run, storage, app, monkeypatch):
    monkeypatch.setattr(engine, "BATCH_SIZE", 2)
    content = "Företagsnamn\n" + "".join(f"Företag {n} AB\n" for n in range(6))
    job = run(make_job(content, all_or_nothing=True), write=False)
    jobs.queue(session, job, write=True)
    session.commit()
    jobs.request_cancel(session, job)
    session.commit()
    jobs.run_queued(app, job.id, storage)
    session.expire_all()
    assert session.get(ImportJob, job.id).status == "cancelled" and count(session, Company) == 0


def test_an_all_or_nothing_write_shows_its_progress_and_can_be_cancelled_while_it_runs(
    session, make_job, run, storage, app, monkeypatch
):
    """On SQLite nobody can write the job's row while the import's transaction is open (services.importing.sidecar)."""
    monkeypatch.setattr(engine, "BATCH_SIZE", 2)
    content = "Företagsnamn\n" + "".join(f"Företag {n} AB\n" for n in range(6))
    job = run(make_job(content, all_or_nothing=True), write=False)
    seen = []
    report = jobs._Progress.batch

    def batch_then_look_from_another_session(progress, counts, errors):
        report(progress, counts, errors)
        if not seen:  # as the progress page and the cancel button do, from another request
            with Session(db.engine) as other:
                running = other.get(ImportJob, job.id)
                seen.append(jobs.state(other, running))
                jobs.request_cancel(other, running)
                other.commit()
                seen.append(jobs.state(other, running))

    monkeypatch.setattr(jobs._Progress, "batch", batch_then_look_from_another_session)
    jobs.queue(session, job, write=True)
    session.commit()
    assert jobs.run_queued(app, job.id, storage) == "cancelled"
    assert (seen[0]["status"], seen[0]["rows_done"], seen[0]["created"], seen[0]["percent"]) == ("running", 2, 2, 33)
    assert seen[1]["cancel_requested"]
    session.expire_all()
    assert count(session, Company) == 0 and session.get(ImportJob, job.id).status == "cancelled"


def test_a_job_is_claimed_by_one_thread_only(session, make_job, app, storage):
    job = make_job("Företagsnamn\nA AB\n")
    jobs.queue(session, job, write=False)
    session.commit()
    assert jobs.run_queued(app, job.id, storage) == "checked"
    assert jobs.run_queued(app, job.id, storage) is None  # no longer queued: nothing to claim


def test_a_dead_jobs_state_is_marked_failed(session, make_job):
    from datetime import timedelta

    from models import utcnow

    job = make_job("Företagsnamn\nA AB\n")
    job.status, job.heartbeat_at = "running", utcnow() - timedelta(hours=1)
    session.commit()
    assert jobs.mark_stalled(session) == 1
    assert job.status == "failed" and job.error_summary


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


def test_undo_of_leads_deletes_them(session, make_job, run, employees):
    job = run(run(make_job("Företag\nNya AB\n", entity="lead"), write=False), write=True)
    assert count(session, Lead) == 1
    jobs.undo(session, job, employees["admin"])
    session.commit()
    assert count(session, Lead) == 0


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


def test_worker_processes_parse_the_batches_in_file_order(app):
    batches = [[(n, [])] for n in range(7)]
    with app.app_context():
        parsed = [row for batch in parallel.parsed_batches(ParsedWhere(), batches, workers=2) for row in batch]
    assert [number for number, _pid in parsed] == list(range(7))
    assert os.getpid() not in {pid for _number, pid in parsed}
    assert not multiprocessing.active_children()  # the pool is gone when the file is done


def test_a_consumer_that_stops_early_leaves_no_worker_behind(app):
    with app.app_context():
        batches = parallel.parsed_batches(ParsedWhere(), ([(n, [])] for n in range(1000)), workers=2)
        next(batches)
        batches.close()  # what a cancel or an all-or-nothing failure does
    assert not multiprocessing.active_children()


def test_only_large_files_and_several_cpus_get_workers():
    assert parallel.worker_count(None, parallel.MIN_FILE_BYTES - 1) == 0
    assert parallel.worker_count(3, parallel.MIN_FILE_BYTES) == 3
    assert parallel.worker_count(1, parallel.MIN_FILE_BYTES) == 0  # one process: parse in it
    cpus = min(len(os.sched_getaffinity(0)), parallel.DEFAULT_MAX_WORKERS)
    assert parallel.worker_count(None, 10**9) == (cpus if cpus > 1 else 0)


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
    jobs.queue(session, job, write=False)
    session.commit()
    jobs.request_cancel(session, job)
    session.commit()
    assert jobs.run_queued(app, job.id, storage) == "cancelled"
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
    assert jobs.run_queued(app, job.id, storage) in ("checked", "failed")
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
    assert jobs.run_queued(app, job.id, storage) == "done"
    session.expire_all()
    job = session.get(ImportJob, job.id)
    assert count(session, Company) == before + job.created_count
    if all_or_nothing:
        assert job.error_count == 0
