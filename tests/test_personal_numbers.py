"""Personnummer (issue 20): masked YYYYMMDD-XXXX everywhere unless the employee may read them
("Visa personnummer"), searchable in full only by who may, and never wiped by an edit of a reader
who saw it masked."""

import csv
import io
import json

import pytest
from api_client import ApiClient, openapi_of
from openpyxl import load_workbook
from sqlalchemy import select

from extensions import db
from models import AuditEvent, Contact
from services import api_keys, numbering, personal_numbers, report_generator, search
from services.audit import acting_as
from services.permissions import PERMISSIONS, ROLES
from tests.helpers import flashes, sv, text

OLD, FULL = "19600101-1235", "19850312-2387"
MASKED = "19850312-XXXX"


# --- the rule ------------------------------------------------------------------------------------


def test_masking_keeps_the_birth_date_only():
    assert personal_numbers.masked(FULL) == MASKED
    assert personal_numbers.masked(None) == ""
    assert personal_numbers.masked("garbage") == "XXXX"
    assert personal_numbers.shown(FULL, True) == FULL
    assert personal_numbers.shown(FULL, False) == MASKED


def test_the_masked_value_sent_back_keeps_the_stored_number():
    assert personal_numbers.unless_unchanged(MASKED, FULL) == (False, FULL)
    assert personal_numbers.unless_unchanged("198503122387", FULL) == (True, FULL)
    assert personal_numbers.unless_unchanged(OLD, FULL) == (True, OLD)
    assert personal_numbers.unless_unchanged("", FULL) == (True, None)  # emptied on purpose
    with pytest.raises(personal_numbers.validation.InvalidValue):
        personal_numbers.unless_unchanged("19850312-XXXX", None)  # a mask is not a number


def test_administrator_and_finance_may_read_personnummer_sellers_and_readers_may_not(employees):
    assert "privacy.personnummer" in PERMISSIONS
    assert {role for role, (_label, granted) in ROLES.items() if "privacy.personnummer" in granted} == {
        "admin",
        "finance",
    }
    assert personal_numbers.reveal(employees["admin"]) and not personal_numbers.reveal(employees["seller"])


# --- every screen, download and API response --------------------------------------------------


@pytest.fixture
def person(employees):
    """A private customer whose personnummer was corrected once (so Historik holds two numbers)."""
    contact = Contact(first_name="Greta", last_name="Gustafsson", personal_number=OLD, email="greta@example.se")
    db.session.add(contact)
    db.session.flush()
    numbering.make_private_customer(db.session, contact)
    db.session.commit()
    with acting_as(db.session, employees["admin"].id):
        contact.personal_number = FULL
        db.session.commit()
    return contact


@pytest.fixture
def saved_report(employees):
    """A saved report on private customers showing the personnummer column."""
    spec = report_generator.parse({"entity": "privatecustomer", "columns": ["last_name", "personal_number"]})
    definition, _created = report_generator.save(db.session, employees["admin"], "Pnr", spec, shared=True)
    db.session.commit()
    return definition


def _body(response) -> str:
    """What the employee gets: the page, or every cell of a spreadsheet."""
    if response.headers.get("Content-Type", "").startswith("application/vnd.openxmlformats"):
        sheet = load_workbook(io.BytesIO(response.data)).active
        return "\n".join(str(v) for row in sheet.iter_rows(values_only=True) for v in row if v is not None)
    return text(response)


def _screens(person, saved_report) -> list[str]:
    report = "/admin/reports/generator/?run=1&entity=privatecustomer&col=last_name&col=personal_number"
    return [
        "/admin/privatecustomer/",
        "/admin/contact/",
        f"/admin/contact/card/{person.id}",
        f"/admin/contact/card/{person.id}/tab/history",
        f"/admin/contact/card/{person.id}/tab/overview",
        f"/admin/privatecustomer/edit/?id={person.id}",
        "/admin/privatecustomer/export/csv/",
        "/admin/privatecustomer/export/xlsx/",
        report,
        f"/admin/reports/generator/saved/{saved_report.id}",
        "/admin/reports/generator/export/csv/?entity=privatecustomer&col=last_name&col=personal_number",
        "/admin/reports/generator/export/xlsx/?entity=privatecustomer&col=last_name&col=personal_number",
        "/admin/people/?q=Gustafsson",
        "/admin/contact/search.json?q=Gustafsson",
    ]


@pytest.mark.parametrize("role", ["seller", "readonly"])
def test_no_screen_download_or_report_shows_the_number_to_whom_may_not_read_it(login, person, saved_report, role):
    client = login(role).client
    masked_on = set()
    for url in _screens(person, saved_report):
        response = client.get(url, follow_redirects=True)
        if response.status_code == 403:
            continue  # not this role's screen at all (Läsbehörighet edits and exports nothing)
        assert response.status_code == 200, url
        body = _body(response)
        for number in (FULL, OLD, FULL.replace("-", ""), FULL[2:]):
            assert number not in body, (url, number)
        if MASKED in body:
            masked_on.add(url)
    assert masked_on >= {
        "/admin/privatecustomer/",
        f"/admin/contact/card/{person.id}",
        f"/admin/contact/card/{person.id}/tab/history",
        "/admin/reports/generator/?run=1&entity=privatecustomer&col=last_name&col=personal_number",
        f"/admin/reports/generator/saved/{saved_report.id}",
    }


def test_who_may_read_personnummer_sees_them_in_full(login, person, saved_report):
    client = login("admin").client
    shown_in_full = {url for url in _screens(person, saved_report) if FULL in _body(client.get(url))}
    assert shown_in_full >= {
        "/admin/privatecustomer/",
        f"/admin/contact/card/{person.id}",
        f"/admin/contact/card/{person.id}/tab/history",
        f"/admin/privatecustomer/edit/?id={person.id}",
        "/admin/privatecustomer/export/csv/",
        "/admin/privatecustomer/export/xlsx/",
        "/admin/reports/generator/?run=1&entity=privatecustomer&col=last_name&col=personal_number",
        "/admin/reports/generator/export/xlsx/?entity=privatecustomer&col=last_name&col=personal_number",
    }
    history = _body(client.get(f"/admin/contact/card/{person.id}/tab/history"))
    assert OLD in history and FULL in history


def test_the_exported_column_holds_the_masked_number(login, person):
    rows = list(
        csv.reader(
            io.StringIO(login("seller").client.get("/admin/privatecustomer/export/csv/").data.decode("utf-8-sig")),
            delimiter=";",
        )
    )
    header = rows[0]
    assert [row[header.index(sv("Personal identity no."))] for row in rows[1:]] == [MASKED]


# --- editing without reading ---------------------------------------------------------------------


def _form(person, **changes) -> dict:
    data = {
        "first_name": person.first_name,
        "last_name": person.last_name,
        "personal_number": MASKED,
        "email": person.email,
        "invoice_language": "sv",
        "discount_percent": "0",
        "payment_terms_days": "30",
        "currency": "SEK",
        "lawful_basis": "contract",
        "version": str(person.version),
    }
    return data | changes


def test_a_seller_edits_other_fields_without_wiping_the_number(login, person):
    seller = login("seller")
    page = text(seller.client.get(f"/admin/privatecustomer/edit/?id={person.id}"))
    assert f'value="{MASKED}"' in page
    response = seller.post(f"/admin/privatecustomer/edit/?id={person.id}", _form(person, email="ny@example.se"))
    assert response.status_code == 302, flashes(response)
    db.session.expire_all()
    saved = db.session.get(Contact, person.id)
    assert (saved.personal_number, saved.email) == (FULL, "ny@example.se")
    last = db.session.scalars(select(AuditEvent).order_by(AuditEvent.id.desc())).first()
    assert "personal_number" not in last.changes and "email" in last.changes


def test_a_seller_may_type_a_new_number_but_not_a_wrong_one(login, person):
    seller = login("seller")
    response = seller.post(
        f"/admin/privatecustomer/edit/?id={person.id}", _form(person, personal_number="19850312-2388")
    )
    assert response.status_code == 200
    assert sv("This is not a valid Swedish personal identity number.") in text(response)
    response = seller.post(
        f"/admin/privatecustomer/edit/?id={person.id}", _form(person, personal_number="197712244560")
    )
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(Contact, person.id).personal_number == "19771224-4560"
    assert "19771224-4560" not in text(seller.client.get(f"/admin/contact/card/{person.id}"))


def test_editing_needs_the_csrf_token(login, person):
    seller = login("seller")
    response = seller.client.post(
        f"/admin/privatecustomer/edit/?id={person.id}", data=_form(person, personal_number="")
    )
    assert response.status_code == 400
    db.session.expire_all()
    assert db.session.get(Contact, person.id).personal_number == FULL


# --- searching ---------------------------------------------------------------------------------


def test_a_full_number_finds_the_person_only_for_who_may_read_it(login, person, employees):
    assert [c.id for c in search.search(db.session, Contact, FULL, reader=employees["admin"])] == [person.id]
    assert search.search(db.session, Contact, FULL, reader=employees["seller"]) == []
    assert search.search(db.session, Contact, "198503122387", reader=employees["admin"])[0].id == person.id
    for role, found in (("admin", True), ("seller", False)):
        client = login(role).client
        listing = text(client.get(f"/admin/privatecustomer/?search={FULL}"))
        assert ("greta@example.se" in listing) is found, role
        people = text(client.get(f"/admin/people/?q={FULL}"))
        assert (f"/admin/contact/card/{person.id}" in people) is found, role
        picked = client.get(f"/admin/contact/search.json?q={FULL}").get_json()
        assert bool(picked) is found, role
        report = text(client.get(f"/admin/reports/generator/?run=1&entity=privatecustomer&col=email&text={FULL}"))
        assert ("greta@example.se" in report) is found, role


# --- the API ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def openapi(app):
    return openapi_of(app)


def _api(app, openapi, employee) -> ApiClient:
    key = api_keys.create(db.session, None, employee=employee, name=f"Pnr {employee.role}").secret
    db.session.commit()
    return ApiClient(app.test_client(), openapi, key)


@pytest.mark.parametrize("role, shown", [("admin", FULL), ("seller", MASKED), ("readonly", MASKED)])
def test_the_api_answers_with_the_number_as_the_keys_employee_may_read_it(app, openapi, employees, person, role, shown):
    api = _api(app, openapi, employees[role])
    one = api.get(f"/api/v1/contacts/{person.id}")
    assert one.status_code == 200 and one.get_json()["personal_number"] == shown
    page = api.get("/api/v1/contacts?limit=50")
    assert [c["personal_number"] for c in page.get_json()["items"]] == [shown]
    by_number = api.get(f"/api/v1/contacts?q={FULL}").get_json()["items"]
    assert bool(by_number) is (role == "admin")
    for response in (one, page):
        assert (FULL in json.dumps(response.get_json())) is (role == "admin")


def test_the_masked_number_patched_back_through_the_api_changes_nothing(app, openapi, employees, person):
    api = _api(app, openapi, employees["seller"])
    response = api.patch(
        f"/api/v1/contacts/{person.id}",
        {"version": person.version, "personal_number": MASKED, "title": "Sångerska"},
    )
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["personal_number"] == MASKED
    db.session.expire_all()
    saved = db.session.get(Contact, person.id)
    assert (saved.personal_number, saved.title) == (FULL, "Sångerska")


def test_behorigheter_shows_the_permission_and_granting_it_reveals_the_number(login, employees, person):
    seller = employees["seller"]
    admin = login("admin")
    card = text(admin.client.get(f"/admin/employee/card/{seller.id}"))
    assert sv("Show personal identity numbers in full (otherwise YYYYMMDD-XXXX)") in card
    assert 'name="perm-privacy.personnummer"' in card
    refused = login("seller").post(
        f"/admin/employee/card/{seller.id}/permissions", {"perm-privacy.personnummer": "grant"}
    )
    assert refused.status_code == 403
    response = admin.post(f"/admin/employee/card/{seller.id}/permissions", {"perm-privacy.personnummer": "grant"})
    assert response.status_code == 302
    assert FULL in text(login("seller").client.get(f"/admin/contact/card/{person.id}"))
