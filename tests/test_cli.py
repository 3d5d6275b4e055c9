"""The `flask --app app` commands: `seed` (the demo register) and `create-user`."""

import phonenumbers
import pytest
from sqlalchemy import select
from stdnum.se import orgnr, personnummer

from extensions import db
from helpers import AuthActions
from models import (
    AuditEvent,
    Category,
    Company,
    CompanyContact,
    Contact,
    EmailMessage,
    Employee,
    EmployeeGroup,
    Industry,
    MassMessage,
)
from services import numbering, passwords, validation
from tests.helpers import count


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


def snapshot() -> dict:
    """Row counts of every table the demo fills, plus the customer-number counter."""
    models = (Company, Contact, CompanyContact, Employee, EmployeeGroup, Category, Industry, AuditEvent)
    result = {model.__name__: count(db.session, model) for model in models}
    result["counter"] = numbering.current_value(db.session, numbering.CUSTOMER_SEQUENCE)
    return result


# --- seed ------------------------------------------------------------------------------------


@pytest.fixture
def seeded(runner):
    result = runner.invoke(args=["seed"])
    assert result.exit_code == 0, result.output
    return result


def test_seed_loads_a_realistic_register(seeded):
    from seed.demo import COMPANY_NAMES
    from seed.duplicates import DUPLICATE_COMPANIES

    assert "Demo data loaded." in seeded.output
    companies = db.session.scalars(select(Company)).all()
    # and the demo lead converted to a customer, and the companies entered twice (CRM – Dubbletter)
    assert len(companies) == len(COMPANY_NAMES) + 1 + DUPLICATE_COMPANIES
    live = [c for c in companies if not c.is_deleted]
    assert 35 <= len(live) <= 45  # about forty customers
    assert len([c for c in companies if c.is_deleted]) == 2  # "Återställa kunder" has something to show
    assert 5 <= len([c for c in live if c.is_supplier]) < len(live)
    assert {c.country for c in companies} >= {"SE", "DE", "NO"}
    assert all(c.owner_id for c in companies)
    # Everything has a unique customer number from the one sequence.
    numbers = [c.customer_number for c in companies]
    assert len(set(numbers)) == len(numbers)


def test_seed_gives_every_company_contacts(seeded):
    for company in db.session.scalars(select(Company)):
        assert 1 <= len(company.contact_links) <= 3, company.name
    linked = count(db.session, Contact, Contact.company_links.any())
    assert linked >= len(db.session.scalars(select(Company)).all())


def test_seed_has_private_customers_and_standalone_contacts(seeded):
    private = db.session.scalars(select(Contact).where(Contact.customer_number.is_not(None))).all()
    assert len(private) >= 5
    assert all(p.personal_number for p in private)
    standalone = count(db.session, Contact, ~Contact.company_links.any(), Contact.customer_number.is_(None))
    assert standalone >= 1
    company_numbers = set(db.session.scalars(select(Company.customer_number)))
    assert not company_numbers & {p.customer_number for p in private}  # one shared sequence


def test_seed_has_categories_industries_and_groups(seeded):
    assert count(db.session, Category) >= 5
    assert {c.applies_to for c in db.session.scalars(select(Category))} == {"company", "contact", "both"}
    assert count(db.session, Industry) >= 8
    assert all(i.sni_code for i in db.session.scalars(select(Industry)))
    assert count(db.session, EmployeeGroup, EmployeeGroup.kind == "sales") >= 1
    assert count(db.session, Company, Company.categories.any()) >= 1


def test_seed_has_five_employees_in_different_roles(seeded):
    from seed.demo import DEMO_PASSWORD

    employees = db.session.scalars(select(Employee)).all()
    assert len(employees) == 5
    assert {e.role for e in employees} == {"admin", "seller", "finance", "readonly"}
    assert all(e.active and passwords.verify(e.password_hash, DEMO_PASSWORD) for e in employees)
    assert all(e.password_hash.startswith("$argon2id$") for e in employees)


def test_demo_logins_work(app, seeded):
    from seed.demo import DEMO_LOGINS

    for email, password, role in DEMO_LOGINS:
        assert email in seeded.output and password in seeded.output
        actions = AuthActions(app.test_client())
        assert actions.login(email, password).status_code == 302, email
        expected = 200 if role == "admin" else 403
        assert actions.client.get("/admin/trash/").status_code == expected, (email, role)


def test_all_demo_numbers_are_valid(seeded):
    phones = []
    for company in db.session.scalars(select(Company)):
        if company.country == "SE" and company.org_number:
            assert orgnr.is_valid(company.org_number), (company.name, company.org_number)
            assert validation.org_number(company.org_number) == company.org_number
        phones.append(company.phone)
        for postcode in (company.postal_postcode, company.visit_postcode, company.invoice_postcode):
            if postcode and company.country == "SE":
                assert validation.postcode(postcode) == postcode, (company.name, postcode)
        if company.email:
            assert validation.email(company.email) == company.email
    for contact in db.session.scalars(select(Contact)):
        phones += [contact.phone, contact.mobile]
        if contact.personal_number:
            assert personnummer.is_valid(contact.personal_number), contact.personal_number
            assert validation.personal_number(contact.personal_number) == contact.personal_number
        if contact.postal_postcode:
            assert validation.postcode(contact.postal_postcode) == contact.postal_postcode
        if contact.email:
            assert validation.email(contact.email) == contact.email
    for employee in db.session.scalars(select(Employee)):
        phones.append(employee.phone)
    phones = [p for p in phones if p]
    assert len(phones) > 50
    for phone in phones:
        assert phonenumbers.is_valid_number(phonenumbers.parse(phone)), phone
        assert validation.phone(phone) == phone  # stored in E.164 already


def test_demo_creations_are_audited_and_attributed(seeded):
    admin = db.session.scalars(select(Employee).where(Employee.role == "admin")).one()
    creates = db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "create", AuditEvent.entity_type == "company")
    ).all()
    assert len(creates) == count(db.session, Company)
    assert {e.actor_id for e in creates} == {admin.id}


def test_seed_has_a_finished_mass_e_mail_on_its_recipients_cards(app, seeded):
    """Tidigare utskick shows one send, its left-out count by the real rules, and each message is on
    the person's E-post tab."""
    job = db.session.scalars(select(MassMessage)).one()
    assert job.status == "done" and job.sent_count == len(job.target_ids) > 50
    assert job.skipped == {"declined": 1}, "the private customer who said no to e-mail is left out"
    on_cards = db.session.scalars(select(EmailMessage.contact_id).where(EmailMessage.subject == job.subject)).all()
    assert sorted(on_cards) == sorted(job.target_ids)
    from seed.demo import DEMO_PASSWORD

    seller = AuthActions(app.test_client())
    assert seller.login("maria.svensson@example.se", DEMO_PASSWORD).status_code == 302
    history = seller.client.get("/admin/contact/mass-message/history/").get_data(as_text=True)
    assert job.subject in history and f"/admin/contact/mass-message/{job.id}" in history


def test_seed_is_idempotent(runner, seeded):
    before = snapshot()
    again = runner.invoke(args=["seed"])
    assert again.exit_code == 0, again.output
    assert "Demo data already present." in again.output
    assert snapshot() == before


def test_seed_if_empty_leaves_an_existing_register_alone(runner, employees):
    before = snapshot()
    result = runner.invoke(args=["seed", "--if-empty"])
    assert result.exit_code == 0, result.output
    assert snapshot() == before


# --- create-user -----------------------------------------------------------------------------


NEW_PASSWORD = "Cli-losenord-2026"


def test_create_user_makes_a_working_login(app, runner, monkeypatch):
    monkeypatch.setenv("CRM_NEW_USER_PASSWORD", NEW_PASSWORD)
    result = runner.invoke(
        args=["create-user", "--email", "Ny.Chef@Example.se", "--name", "Ny Chef", "--role", "admin"]
    )
    assert result.exit_code == 0, result.output
    employee = db.session.scalars(select(Employee)).one()
    assert (employee.name, employee.role, employee.active) == ("Ny Chef", "admin", True)
    assert employee.email.lower() == "ny.chef@example.se"
    assert employee.password_hash.startswith("$argon2id$") and NEW_PASSWORD not in employee.password_hash
    assert employee.email in result.output

    actions = AuthActions(app.test_client())
    assert actions.login("ny.chef@example.se", NEW_PASSWORD).status_code == 302
    assert actions.client.get("/admin/employee/new/").status_code == 200


def test_create_user_refuses_a_duplicate_email(runner, monkeypatch, employees):
    monkeypatch.setenv("CRM_NEW_USER_PASSWORD", NEW_PASSWORD)
    result = runner.invoke(
        args=["create-user", "--email", "SELLER@example.se", "--name", "Dubblett", "--role", "seller"]
    )
    assert result.exit_code != 0
    assert "already exists" in result.output
    assert "Traceback" not in result.output
    assert count(db.session, Employee) == 4
    assert count(db.session, Employee, Employee.name == "Dubblett") == 0


def test_create_user_refuses_an_unknown_role(runner, monkeypatch):
    monkeypatch.setenv("CRM_NEW_USER_PASSWORD", NEW_PASSWORD)
    result = runner.invoke(args=["create-user", "--email", "a@example.se", "--name", "A", "--role", "superuser"])
    assert result.exit_code != 0
    assert "superuser" in result.output
    for role in ("admin", "finance", "readonly", "seller"):
        assert role in result.output  # the message lists the valid roles
    assert count(db.session, Employee) == 0


TOO_EASY = (
    "The password is too easy to guess (a common word, a name, a date, a sequence or a repeat). "
    "Use a longer phrase of several uncommon words."
)
COMMON = "The password is one of the most common passwords. Choose another one."


@pytest.mark.parametrize(
    "password, message",
    [
        ("Kort-2026", "The password must be at least %(n)s characters."),
        ("password1234", COMMON),
        ("Qwerty123456", COMMON),
        ("aaaaaaaaaaaaaaaa", TOO_EASY),
        ("1234567890123", TOO_EASY),
    ],
)
def test_create_user_refuses_a_weak_password_in_swedish(runner, monkeypatch, password, message):
    from tests.helpers import sv

    monkeypatch.setenv("CRM_NEW_USER_PASSWORD", password)
    result = runner.invoke(
        args=["create-user", "--email", "ny.chef@example.se", "--name", "Ny Chef", "--role", "seller"]
    )
    assert result.exit_code != 0
    expected = sv(message, n=passwords.MIN_LENGTH) if "%(n)s" in message else sv(message)
    assert expected in result.output
    assert "Traceback" not in result.output
    assert count(db.session, Employee) == 0


def test_create_user_refuses_an_invalid_email_with_a_message(runner, monkeypatch):
    monkeypatch.setenv("CRM_NEW_USER_PASSWORD", NEW_PASSWORD)
    result = runner.invoke(args=["create-user", "--email", "inte-en-adress", "--name", "A", "--role", "seller"])
    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)  # a message, not a crash
    assert "Error:" in result.output
    assert count(db.session, Employee) == 0


def test_create_user_prompts_for_the_password_without_the_variable(runner, monkeypatch):
    monkeypatch.delenv("CRM_NEW_USER_PASSWORD", raising=False)
    result = runner.invoke(
        args=["create-user", "--email", "prompt@example.se", "--name", "Prompt", "--role", "readonly"],
        input=f"{NEW_PASSWORD}\n{NEW_PASSWORD}\n",
    )
    assert result.exit_code == 0, result.output
    employee = db.session.scalars(select(Employee)).one()
    assert passwords.verify(employee.password_hash, NEW_PASSWORD)
