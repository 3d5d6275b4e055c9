"""An employee who was deactivated is chosen for nothing new — as Kundansvarig, as an owner, as Vår referens —
neither in the forms (refused next to the field, in Swedish), nor in the pickers' look-ups, nor through the API
(422); a record that already has one keeps showing and saving it, so its other fields are saved unchanged."""

import html
import json
import re

import pytest

from extensions import db
from models import CallList, Company, Lead, Opportunity, SalesOrder
from services import employees as employees_service
from services.validation import InvalidValue
from tests.helpers import count, field_errors, flashes, fresh, sv
from tests.test_api import as_role, keys, openapi, problem_of  # noqa: F401  (the API's fixtures)
from tests.test_views_company import edit_form_data


@pytest.fixture
def departed(employees):
    """Åsa Avslutad, a seller who has left (deactivated)."""
    from models import Employee

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
            "their_reference": "0",
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
