"""An employee who was deactivated is chosen for nothing new — as Kundansvarig, as an owner, as Vår referens —
neither in the forms (refused next to the field, in Swedish), nor in the pickers' look-ups, nor through the API
(422); a record that already has one keeps showing and saving it, so its other fields are saved unchanged."""

import html
import json
import re

import pytest

from extensions import db
from models import AuditEvent, CallList, Company, Contact, Employee, Lead, Opportunity, SalesOrder
from services import employees as employees_service
from services import leads
from services.importing import engine, jobs
from services.validation import InvalidValue
from tests.helpers import count, field_errors, flashes, fresh, sv, svn, text
from tests.test_api import as_role, keys, openapi, problem_of  # noqa: F401  (the API's fixtures)
from tests.test_import_service import actor, error_messages, make_job, run  # noqa: F401  (the import's fixtures)
from tests.test_views_company import edit_form_data


@pytest.fixture
def departed(employees):
    """Åsa Avslutad, a seller who has left (deactivated)."""
    person = Employee(name="Åsa Avslutad", email="asa@example.se", role="seller", active=False)
    db.session.add(person)
    db.session.commit()
    return person


def refused(name: str) -> list[str]:
    return [sv("%(name)s is no longer active: choose an active employee.", name=name)]


def picker_shows(page: str, field: str) -> list:
    """[id, name] of the record an AJAX picker on the page shows as chosen."""
    found = re.search(rf'<input[^>]*data-json="([^"]*)"[^>]*id="{field}"', page)
    return json.loads(html.unescape(found.group(1)))


# --- the rule ------------------------------------------------------------------------------------------


def test_an_inactive_employee_is_refused_unless_the_record_has_them(departed, employees):
    employees_service.check_chosen(employees["seller"])
    employees_service.check_chosen(departed, kept=[departed])
    employees_service.check_chosen(departed, kept=[None, departed.id])
    with pytest.raises(InvalidValue) as refusal:
        employees_service.check_chosen(departed, kept=[employees["seller"]])
    assert [str(refusal.value)] == refused("Åsa Avslutad")


# --- the forms -----------------------------------------------------------------------------------------


def _new_forms(make_company, stage):
    customer = make_company(name="Kunden AB")
    return {
        "company": ("/admin/company/new/", {"name": "Nytt Bolag AB", "country": "SE", "status": "active"}, Company),
        "lead": ("/admin/lead/new/", {"company_name": "Ny Lead AB", "status": "new"}, Lead),
        "calllist": ("/admin/calllist/new/", {"name": "Höstlistan"}, CallList),
        "opportunity": (
            "/admin/opportunity/new/",
            {"title": "Avtal", "company": str(customer.id), "stage": str(stage.id), "kind": "new"},
            Opportunity,
        ),
    }


@pytest.mark.parametrize("kind", ["company", "lead", "calllist", "opportunity"])
def test_a_new_record_gets_no_inactive_owner(login, departed, make_company, stage, kind):
    url, data, model = _new_forms(make_company, stage)[kind]
    before = count(db.session, model)
    response = login("admin").post(url, {**data, "owner": str(departed.id)})
    assert response.status_code == 200
    assert field_errors(response, "owner") == refused("Åsa Avslutad")
    assert count(db.session, model) == before


def test_a_customer_keeps_its_inactive_owner_when_another_field_is_saved(login, departed, employees, make_company):
    company = make_company(name="Trogen Kund AB", owner=departed)
    other = make_company(name="Annan Kund AB", owner=employees["seller"])
    seller = login("seller")
    page = seller.client.get(f"/admin/company/edit/?id={company.id}").get_data(as_text=True)
    assert picker_shows(page, "owner") == [departed.id, "Åsa Avslutad"]  # the owner the customer has
    saved = seller.post(
        f"/admin/company/edit/?id={company.id}", edit_form_data(company, owner=str(departed.id), postal_city="Lund")
    )
    assert saved.status_code == 302, flashes(saved)
    kept = fresh(db.session, Company, company.id)
    assert (kept.postal_city, kept.owner_id) == ("Lund", departed.id)
    # another customer is not given to her
    response = seller.post(f"/admin/company/edit/?id={other.id}", edit_form_data(other, owner=str(departed.id)))
    assert response.status_code == 200
    assert field_errors(response, "owner") == refused("Åsa Avslutad")
    assert fresh(db.session, Company, other.id).owner_id == employees["seller"].id
    # and the customer she has is given to an active seller as usual
    moved = seller.post(
        f"/admin/company/edit/?id={company.id}", edit_form_data(kept, owner=str(employees["seller"].id))
    )
    assert moved.status_code == 302
    assert fresh(db.session, Company, company.id).owner_id == employees["seller"].id


def test_the_owner_pickers_offer_only_active_employees(login, departed, employees):
    seller = login("seller")
    for url in ("/admin/company/ajax/lookup/", "/admin/lead/ajax/lookup/", "/admin/opportunity/ajax/lookup/"):
        found = seller.client.get(url, query_string={"name": "owner", "query": "Åsa"}).get_json()
        assert found == [], url
        found = seller.client.get(url, query_string={"name": "owner", "query": "Test Seller"}).get_json()
        assert [name for _id, name in found] == ["Test Seller"], url


def test_an_order_gets_no_inactive_our_reference(login, departed, make_company, products):
    customer = make_company(name="Beställaren AB")
    response = login("seller").post(
        f"/admin/order/new/?company_id={customer.id}",
        {
            "order_date": "2026-11-02",
            "currency": "SEK",
            "language": "sv",
            "their_reference": "__None",
            "our_reference": str(departed.id),
            "lines-0-product": "100",
            "lines-0-quantity": "1",
        },
    )
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert picker_shows(page, "our_reference") == [departed.id, "Åsa Avslutad"]  # what was posted, and why not
    feedback = re.search(r'id="our_reference"[^>]*>\s*<div class="invalid-feedback">(.*?)</div>', page, re.S)
    assert [html.unescape(feedback.group(1)).strip()] == refused("Åsa Avslutad")
    assert count(db.session, SalesOrder) == 0


# --- the API -------------------------------------------------------------------------------------------


def test_the_api_refuses_a_new_inactive_owner_and_keeps_one_the_record_has(as_role, departed, make_company):  # noqa: F811
    api = as_role("seller")
    body = problem_of(api.post("/api/v1/companies", {"name": "Ny AB", "owner_id": departed.id}), 422)
    assert body["errors"]["owner_id"] == refused("Åsa Avslutad")
    assert count(db.session, Company) == 0
    company = make_company(name="Trogen Kund AB", owner=departed)
    other = make_company(name="Annan Kund AB")
    # a client sending the record back whole, owner and all, saves its change
    changed = api.patch(
        f"/api/v1/companies/{company.id}", {"version": company.version, "owner_id": departed.id, "postal_city": "Lund"}
    )
    assert changed.status_code == 200, changed.get_data(as_text=True)
    assert (changed.get_json()["owner_id"], changed.get_json()["postal_city"]) == (departed.id, "Lund")
    body = problem_of(
        api.patch(f"/api/v1/companies/{other.id}", {"version": other.version, "owner_id": departed.id}), 422
    )
    assert body["errors"]["owner_id"] == refused("Åsa Avslutad")
    assert fresh(db.session, Company, other.id).owner_id is None


def test_a_new_opportunity_from_a_card_is_not_offered_the_customers_inactive_owner(login, departed, make_company):
    """The form from a customer whose owner left is filled with the seller, not with an owner it would refuse."""
    customer = make_company(name="Övergiven Kund AB", owner=departed)
    page = login("seller").client.get(f"/admin/opportunity/new/?company_id={customer.id}").get_data(as_text=True)
    assert picker_shows(page, "owner")[1] == "Test Seller"


# --- the import ----------------------------------------------------------------------------------------


def not_named(name: str) -> str:
    """The import's row error for an inactive Kundansvarig."""
    return sv(
        "%(name)s is no longer active: name an active employee as kundansvarig (an employee's name or e-mail).",
        name=name,
    )


def test_an_import_keeps_her_on_her_customers_only(login, session, make_job, run, departed, employees, make_company):  # noqa: F811
    """By name or by e-mail, she is a row error on a new customer and on one another seller owns, in the dry run
    and in the write (the bad rows skipped, the others written); a customer she owns keeps her, and the row's
    other changes are saved."""
    make_company(name="Trogen Kund AB", org_number="5560360793", owner=departed, postal_city="Malmö")
    make_company(name="Annan Kund AB", org_number="5564994589", owner=employees["seller"])
    content = (
        "Företagsnamn;Org.nr;Ort;Kundansvarig\n"
        "Trogen Kund AB;556036-0793;Lund;Åsa Avslutad\n"
        "Annan Kund AB;556499-4589;Lund;ASA@example.se\n"
        "Ny Kund AB;559000-0005;Lund;Åsa Avslutad\n"
        "Andra Nya AB;;Lund;Test Seller\n"
    )
    expected = [
        (3, "Kundansvarig", "ASA@example.se", not_named("Åsa Avslutad")),
        (4, "Kundansvarig", "Åsa Avslutad", not_named("Åsa Avslutad")),
    ]
    checked = run(make_job(content, mode="upsert", match_key="org_number"), write=False)
    assert (checked.created_count, checked.updated_count, checked.error_count) == (1, 1, 2)
    assert error_messages(session, checked) == expected
    page = text(login("admin").client.get(f"/admin/import/job/{checked.id}"))
    assert not_named("Åsa Avslutad") in page
    assert count(session, Company) == 2  # a dry run writes nothing

    done = run(checked, write=True)
    assert (done.status, done.created_count, done.updated_count, done.error_count) == ("done", 1, 1, 2)
    assert error_messages(session, done) == expected
    stored = {
        name: (owner, city)
        for name, owner, city in session.execute(db.select(Company.name, Company.owner_id, Company.postal_city))
    }
    assert stored == {
        "Trogen Kund AB": (departed.id, "Lund"),  # she keeps it, and the row's other change is saved
        "Annan Kund AB": (employees["seller"].id, None),
        "Andra Nya AB": (employees["seller"].id, "Lund"),
    }


@pytest.mark.parametrize(
    "entity, content, model",
    [
        ("lead", "Företag;Kundansvarig\nNytt Lead AB;Åsa Avslutad\n", Lead),
        ("contact", "Förnamn;Efternamn;Kundansvarig\nPer;Ek;asa@example.se\n", Contact),
        ("privatecustomer", "Förnamn;Efternamn;Kundansvarig\nPia;Ek;Åsa Avslutad\n", Contact),
    ],
    ids=["lead", "contact", "privatecustomer"],
)
def test_no_import_gives_a_new_record_an_inactive_owner(session, make_job, run, departed, entity, content, model):  # noqa: F811
    done = run(run(make_job(content, entity=entity), write=False), write=True)
    assert (done.created_count, done.error_count) == (0, 1)
    assert [e[3] for e in error_messages(session, done)] == [not_named("Åsa Avslutad")]
    assert count(session, model) == 0


def test_an_all_or_nothing_import_naming_her_does_not_start(session, make_job, run, departed):  # noqa: F811
    content = "Företagsnamn;Kundansvarig\nEtt AB;Test Seller\nTvå AB;Åsa Avslutad\n"
    checked = run(make_job(content, all_or_nothing=True), write=False)
    assert (checked.created_count, checked.error_count) == (1, 1)
    with pytest.raises(jobs.ImportProblem) as refusal:
        jobs.queue(session, checked, write=True)
    session.rollback()
    assert str(refusal.value) == sv(
        "The dry run found errors and \u201call or nothing\u201d is chosen: correct the file "
        "or let the import skip the bad rows."
    )
    assert count(session, Company) == 0


@pytest.mark.parametrize("all_or_nothing", [False, True])
def test_the_write_refuses_an_owner_who_left_after_the_dry_run(session, make_job, run, monkeypatch, all_or_nothing):  # noqa: F811
    """The write asks again: its row is skipped, or (all or nothing) nothing is imported, as for any row error."""
    monkeypatch.setattr(engine, "BATCH_SIZE", 1)  # the first row written before the second is refused
    content = "Företagsnamn;Kundansvarig\nEtt AB;Test Admin\nTvå AB;Test Seller\n"
    checked = run(make_job(content, all_or_nothing=all_or_nothing), write=False)
    assert (checked.created_count, checked.error_count) == (2, 0)
    session.execute(db.update(Employee).where(Employee.name == "Test Seller").values(active=False))
    session.commit()
    done = run(checked, write=True)
    refusal = (3, "Kundansvarig", "Test Seller", not_named("Test Seller"))
    if all_or_nothing:
        assert (done.status, done.created_count) == ("failed", 0)
        assert not_named("Test Seller") in done.error_summary
        assert count(session, Company) == 0 and count(session, AuditEvent, AuditEvent.import_job_id == done.id) == 0
    else:
        assert (done.status, done.created_count, done.error_count) == ("done", 1, 1)
        assert error_messages(session, done) == [refusal]
        assert session.scalars(db.select(Company.name)).all() == ["Ett AB"]


# --- lead conversion -----------------------------------------------------------------------------------


def her_lead(departed, name="Ystads Rökeri AB", **fields) -> Lead:
    """A lead whose owner is Åsa Avslutad, with a contact person."""
    lead = Lead(
        company_name=name,
        contact_first_name="Sofia",
        contact_last_name="Berg",
        status="qualified",
        owner=departed,
        **fields,
    )
    db.session.add(lead)
    db.session.commit()
    return lead


def test_a_lead_whose_owner_left_becomes_the_converting_seller_s_customer(session, departed, employees):
    """The customer and its contact go to the seller who converts the lead; the lead keeps its owner and its
    own history: what the conversion writes there changes no owner."""

    def lead_history(lead):
        query = db.select(AuditEvent.action, AuditEvent.changes).where(
            AuditEvent.entity_type == "lead", AuditEvent.entity_id == lead.id
        )
        return session.execute(query.order_by(AuditEvent.id)).all()

    lead = her_lead(departed)
    before = lead_history(lead)
    assert leads.inactive_owner(lead) == departed
    company = leads.convert(session, employees["seller"], lead)
    session.commit()
    company = fresh(session, Company, company.id)
    (contact,) = company.contacts
    assert (company.owner_id, contact.owner_id) == (employees["seller"].id, employees["seller"].id)
    lead = fresh(session, Lead, lead.id)
    assert (lead.status, lead.owner_id) == ("converted", departed.id)
    after = lead_history(lead)
    assert after[: len(before)] == before and before[0].changes["owner_id"] == departed.id
    assert [changes for _action, changes in after[len(before) :] if "owner_id" in changes] == []


def test_converting_her_lead_says_the_seller_owns_the_customer(login, departed, employees):
    lead = her_lead(departed)
    response = login("seller").post(f"/admin/lead/convert/{lead.id}", follow_redirects=True)
    company = db.session.scalar(db.select(Company))
    assert company.owner_id == employees["seller"].id
    assert (
        "success",
        sv(
            "%(name)s is now a customer with customer no. %(number)s. You are its customer owner, "
            "as the lead's owner %(owner)s is no longer active.",
            name="Ystads Rökeri AB",
            number=company.customer_number,
            owner="Åsa Avslutad",
        ),
    ) in flashes(response)


def test_converting_many_leads_says_which_new_customers_the_seller_owns(login, departed, employees, monkeypatch):
    """The leads of an active owner keep them; the others' customers go to the seller, named in one message
    (the first NAMED of them, then how many more)."""
    from admin_views import leads as lead_views

    monkeypatch.setattr(lead_views, "NAMED", 1)
    first, second = her_lead(departed, "Första AB"), her_lead(departed, "Andra AB")
    kept = her_lead(departed, "Admins AB")
    kept.owner = employees["admin"]
    db.session.commit()
    response = login("seller").post(
        "/admin/lead/action/",
        {"action": "convert", "rowid": [str(first.id), str(second.id), str(kept.id)]},
        follow_redirects=True,
    )
    owners = dict(db.session.execute(db.select(Company.name, Company.owner_id)).all())
    assert owners == {
        "Första AB": employees["seller"].id,
        "Andra AB": employees["seller"].id,
        "Admins AB": employees["admin"].id,
    }
    shown = flashes(response)
    assert (
        "success",
        svn("%(num)s lead was converted to a customer.", "%(num)s leads were converted to customers.", 3),
    ) in shown
    named = "Första AB (Åsa Avslutad) " + sv("and %(num)s more", num=1)
    assert (
        "info",
        svn(
            "You are the customer owner of %(num)s new customer, as the owner of its lead is no longer "
            "active: %(names)s.",
            "You are the customer owner of %(num)s new customers, as the owners of their leads are no "
            "longer active: %(names)s.",
            2,
            names=named,
        ),
    ) in shown
    assert count(db.session, Lead, Lead.owner_id == departed.id) == 2  # the leads keep her
