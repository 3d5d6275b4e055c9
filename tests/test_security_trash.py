"""Issue 12, item 9: nothing is added to, or opened on, a customer in the trash.

The attack: a seller posts a new sales opportunity naming a company that is in the trash
(the form's look-up does not offer it, the server took it), and opens an opportunity of a
trashed customer by its address. The same was tried for activities (from the opportunity,
and by working a call list whose customer was trashed since), orders and invoices."""

from datetime import date

import pytest
from sqlalchemy import select

from extensions import db
from models import Activity, CallListEntry, Company, Invoice, Opportunity, SalesOrder
from services import activities, calllists, numbering, sales, trash
from services.validation import InvalidValue
from tests.helpers import count, flashes, sv, text
from tests.security import tally


@pytest.fixture
def trashed(make_company, make_contact, employees, stage):
    """A company with an opportunity, and a private customer; both then moved to the trash."""
    company = make_company(name="Papperskorgen AB", owner=employees["seller"])
    opportunity = Opportunity(title="Gammal affär", company=company, stage=stage)
    person = make_contact(first_name="Tina", last_name="Trasch")
    numbering.make_private_customer(db.session, person)
    db.session.add(opportunity)
    db.session.commit()
    trash.delete(db.session, employees["admin"], Company, [company.id])
    trash.delete(db.session, employees["admin"], type(person), [person.id])
    db.session.commit()
    return {"company": company, "person": person, "opportunity": opportunity}


def opportunity_form(stage, **customer):
    data = {"title": "Ny affär", "stage": str(stage.id), "amount": "1000", "kind": "new", "company": "", "contact": ""}
    data.update(customer)
    return data


# --- the rules, in the services -------------------------------------------------------------


def test_the_sales_service_refuses_an_opportunity_on_a_trashed_customer(app, trashed, stage):
    for customer in ({"company": trashed["company"]}, {"contact": trashed["person"]}):
        db.session.add(Opportunity(title="Ny", stage=stage, **customer))
        with pytest.raises(InvalidValue) as refused:
            db.session.flush()
        db.session.rollback()
        name = next(iter(customer.values())).name
        with app.test_request_context():
            assert str(refused.value) == sv(
                "%(name)s is in the trash: restore the customer before adding to it.", name=name
            )
    assert count(db.session, Opportunity) == 1


def test_an_opportunity_of_a_trashed_customer_is_not_found_until_it_is_restored(app, trashed, employees):
    opportunity = trashed["opportunity"]
    assert sales.live_opportunity(db.session, opportunity.id) is None
    trash.restore(db.session, employees["admin"], Company, [trashed["company"].id])
    db.session.commit()
    assert sales.live_opportunity(db.session, opportunity.id) == opportunity


def test_the_activity_service_refuses_an_activity_on_a_trashed_customer(app, trashed, employees):
    for links in ({"company_id": trashed["company"].id}, {"contact_id": trashed["person"].id}):
        with pytest.raises(InvalidValue):
            activities.create(db.session, employees["seller"], kind="task", subject="Ring", **links)
        db.session.rollback()
    assert count(db.session, Activity) == 0


def test_a_call_list_entry_of_a_customer_trashed_since_records_no_activity(app, make_company, employees):
    company = make_company(name="Ringd och raderad AB", phone="+4681234567")
    call_list = calllists.new_list(db.session, employees["seller"], [company], name="Lista")
    db.session.commit()
    trash.delete(db.session, employees["admin"], Company, [company.id])
    db.session.commit()
    entry = call_list.entries[0]
    with pytest.raises(InvalidValue):
        calllists.record_outcome(db.session, employees["seller"], entry, "no_answer")
    db.session.rollback()
    assert count(db.session, Activity) == 0
    assert db.session.get(CallListEntry, entry.id).called_at is None


# --- over HTTP: the attack ------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["company", "contact"])
def test_posting_a_new_opportunity_on_a_trashed_customer_is_refused_in_swedish(login, trashed, stage, kind):
    customer = trashed["company"] if kind == "company" else trashed["person"]
    seller = login("seller")
    response = seller.post("/admin/opportunity/new/", opportunity_form(stage, **{kind: str(customer.id)}))
    assert response.status_code == 200
    reason = sv("%(name)s is in the trash: restore the customer before adding to it.", name=customer.name)
    assert ("danger", reason) in flashes(response)
    tally("trashed customer: requests")
    assert count(db.session, Opportunity) == 1  # only the one from before the trash


def test_the_new_opportunity_form_from_a_trashed_card_has_no_customer(login, trashed):
    page = login("seller").client.get(f"/admin/opportunity/new/?company_id={trashed['company'].id}")
    assert page.status_code == 200 and "Papperskorgen AB" not in page.get_data(as_text=True)


def test_an_opportunity_of_a_trashed_customer_is_not_opened_by_any_address(login, trashed, stage):
    opportunity = trashed["opportunity"]
    seller = login("seller")
    assert seller.client.get(f"/admin/opportunity/show/{opportunity.id}").status_code == 404
    assert seller.client.get(f"/admin/opportunity/details/?id={opportunity.id}").status_code in (302, 404)
    edit = seller.client.get(f"/admin/opportunity/edit/?id={opportunity.id}")
    assert edit.status_code in (302, 404) and "Gammal affär" not in edit.get_data(as_text=True)
    response = seller.post(
        f"/admin/opportunity/show/{opportunity.id}/activities", {"kind": "task", "subject": "Ring", "due_at": ""}
    )
    assert response.status_code == 404
    assert seller.post("/admin/opportunity/board/move", {"id": opportunity.id, "stage": stage.id}).status_code == 404
    tally("trashed customer: requests", 5)
    assert count(db.session, Activity) == 0


def test_orders_and_invoices_are_not_created_for_a_trashed_customer(login, trashed):
    seller = login("seller")
    for customer, key in ((trashed["company"], "company"), (trashed["person"], "contact")):
        reason = sv("%(name)s is in the trash and cannot be invoiced.", name=customer.name)
        for kind, day in (("order", "order_date"), ("invoice", "invoice_date")):
            from_card = seller.post(
                f"/admin/{kind}/new/?{key}_id={customer.id}", {day: date.today().isoformat()}, follow_redirects=True
            )
            assert ("danger", reason) in flashes(from_card), (kind, key)
            from_list = seller.post(
                f"/admin/{kind}/new/",
                {day: date.today().isoformat(), key: str(customer.id), "currency": "", "language": ""},
            )
            assert from_list.status_code == 200, (kind, key)
            tally("trashed customer: requests", 2)
    assert count(db.session, SalesOrder) == 0 and count(db.session, Invoice) == 0


def test_a_restored_customer_takes_opportunities_again(login, trashed, stage, employees):
    trash.restore(db.session, employees["admin"], Company, [trashed["company"].id])
    db.session.commit()
    seller = login("seller")
    response = seller.post("/admin/opportunity/new/", opportunity_form(stage, company=str(trashed["company"].id)))
    assert response.status_code == 302, flashes(response)
    assert seller.client.get(f"/admin/opportunity/show/{trashed['opportunity'].id}").status_code == 200
    assert db.session.scalar(select(Opportunity.title).where(Opportunity.title == "Ny affär")) == "Ny affär"


def test_the_activity_service_refuses_an_activity_on_an_opportunity_of_a_trashed_customer(app, trashed, employees):
    """An activity names only the opportunity (no company): its customer is in the trash all the same."""
    with pytest.raises(InvalidValue):
        activities.create(
            db.session, employees["seller"], kind="note", subject="Noterat", opportunity_id=trashed["opportunity"].id
        )
    db.session.rollback()
    assert count(db.session, Activity) == 0


# --- through the API (/api/v1/, a seller's key) ---------------------------------------------------


@pytest.fixture
def api_as_seller(app, employees):
    from services import api_keys

    key = api_keys.create(db.session, None, employee=employees["seller"], name="Integration").secret
    db.session.commit()
    client = app.test_client()

    def call(method: str, url: str, body=None):
        tally("API requests on a trashed customer's opportunity")
        return client.open(url, method=method, json=body, headers={"Authorization": f"Bearer {key}"})

    return call


def test_the_api_does_not_open_or_change_an_opportunity_of_a_trashed_customer(app, api_as_seller, trashed, stage):
    """The attack found the API answering 200 with the opportunity, listing it, and taking an
    activity on it (the activity named only the opportunity)."""
    opportunity = trashed["opportunity"]
    url, version = f"/api/v1/opportunities/{opportunity.id}", opportunity.version
    assert api_as_seller("GET", url).status_code == 404
    listed = api_as_seller("GET", "/api/v1/opportunities").get_json()["items"]
    assert opportunity.id not in [o["id"] for o in listed]
    assert api_as_seller("GET", f"/api/v1/opportunities?company_id={trashed['company'].id}").get_json()["items"] == []
    assert api_as_seller("PATCH", url, {"version": version, "title": "Ändrad"}).status_code == 404
    assert api_as_seller("POST", f"{url}/move", {"version": version, "stage_id": stage.id}).status_code == 404
    assert api_as_seller("DELETE", url).status_code == 404
    added = api_as_seller(
        "POST", "/api/v1/activities", {"kind": "note", "subject": "Ny", "opportunity_id": opportunity.id}
    )
    assert added.status_code == 422, added.get_json()
    assert "opportunity_id" in added.get_json()["errors"]
    assert count(db.session, Activity) == 0
    kept = db.session.get(Opportunity, opportunity.id)
    assert kept is not None and kept.title == "Gammal affär"


def test_the_api_opens_the_opportunity_again_when_the_customer_is_restored(app, api_as_seller, trashed, employees):
    trash.restore(db.session, employees["admin"], Company, [trashed["company"].id])
    db.session.commit()
    assert api_as_seller("GET", f"/api/v1/opportunities/{trashed['opportunity'].id}").status_code == 200


def test_the_start_page_lists_no_activity_of_a_customer_in_the_trash(login, trashed, employees):
    """Found by the attack run: "Mina aktiviteter" listed a trashed customer's open task, with a
    link to a card that is not found."""
    db.session.add(
        Activity(kind="task", subject="Ring Papperskorgen", company=trashed["company"], assignee=employees["seller"])
    )
    db.session.commit()
    seller = login("seller")
    assert "Ring Papperskorgen" not in text(seller.client.get("/admin/"))
    trash.restore(db.session, employees["admin"], Company, [trashed["company"].id])
    db.session.commit()
    assert "Ring Papperskorgen" in text(seller.client.get("/admin/"))


def test_the_api_neither_lists_nor_opens_an_activity_of_a_trashed_customer(app, api_as_seller, trashed, employees):
    """Found by the attack run: the activities API listed a trashed customer's activities, hidden
    everywhere else; they come back with the customer."""
    activity = Activity(kind="task", subject="Ring Papperskorgen", company=trashed["company"])
    db.session.add(activity)
    db.session.commit()
    url = f"/api/v1/activities/{activity.id}"
    assert api_as_seller("GET", url).status_code == 404
    assert activity.id not in [a["id"] for a in api_as_seller("GET", "/api/v1/activities").get_json()["items"]]
    assert api_as_seller("PATCH", url, {"version": activity.version, "done": True}).status_code == 404
    trash.restore(db.session, employees["admin"], Company, [trashed["company"].id])
    db.session.commit()
    assert api_as_seller("GET", url).status_code == 200
    assert activity.id in [a["id"] for a in api_as_seller("GET", "/api/v1/activities").get_json()["items"]]
