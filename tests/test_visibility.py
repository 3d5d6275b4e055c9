"""One rule for what an employee sees of a customer (services.visibility; issue 12, item 4).

An administrator revokes the card's tabs Aktiviteter, Historik, Inställningar,
E-post, Filer and the custom tabs for a seller (Behörigheter). Each test below
first shows the part to a seller who may see it, then tries the same route as
the seller whose tabs are revoked: the part must not leak through another
view, count, form, report or export.
"""

import csv
import io
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from extensions import db
from models import (
    Activity,
    Attachment,
    Company,
    Contact,
    CustomFieldDefinition,
    CustomTab,
    EmailMessage,
    Opportunity,
    ReportDefinition,
    SalesStage,
    utcnow,
)
from services import custom_fields, layout, report_generator, visibility
from services.visibility import Part
from tests.helpers import flashes, sv, text
from tests.test_views_company import edit_form_data

PARTS = ["tab.activities", "tab.history", "tab.settings", "tab.email", "tab.files", "tab.custom"]


def revoke_parts(employee):
    employee.revoked_permissions = list(PARTS)
    db.session.commit()


def seller_client(login, employees, revoked: bool):
    if revoked:
        revoke_parts(employees["seller"])
    return login("seller")


def csv_rows(response) -> list[list[str]]:
    assert response.status_code == 200, response.status_code
    return list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff")), delimiter=";"))


@pytest.fixture
def customer(make_company, employees):
    """A company with something of every part: an open activity, history, invoice settings, an
    e-mail, a file and a custom field value."""
    seller = employees["seller"]
    company = make_company(
        name="Synlighet AB", owner=seller, discount_percent=Decimal("12.50"), payment_terms_days=45, currency="EUR"
    )
    db.session.add_all(
        [
            Activity(
                kind="task",
                subject="Ring om offerten",
                due_at=utcnow() - timedelta(days=1),
                company_id=company.id,
                assignee_id=seller.id,
            ),
            EmailMessage(
                company_id=company.id,
                sender="a@example.se",
                recipients="b@example.se",
                subject="Hemlig offert",
                body="Hej",
            ),
            Attachment(
                company_id=company.id,
                filename="avtal.pdf",
                content_type="application/pdf",
                size=3,
                storage_key="a" * 32,
                uploaded_by_id=seller.id,
            ),
        ]
    )
    tab = CustomTab(name="Avtal", applies_to="company")
    field = CustomFieldDefinition(tab=tab, label="Licenser", field_type="number", sort_order=0)
    db.session.add(tab)
    db.session.commit()
    custom_fields.save_tab(db.session, company, tab, {f"field-{field.id}": "25"})
    db.session.commit()
    return {"company": company, "field": field}


# --- the rule itself -----------------------------------------------------------------------------


def test_the_rule_follows_the_role_and_an_administrators_revocations(employees):
    seller, readonly = employees["seller"], employees["readonly"]
    assert visibility.visible_parts(seller) == set(Part)
    assert visibility.visible_parts(readonly) == {Part.ACTIVITIES, Part.HISTORY, Part.CUSTOM}
    assert visibility.hidden_fields(readonly, ["name", "discount_percent", "currency"]) == [
        "discount_percent",
        "currency",
    ]
    revoke_parts(seller)
    assert visibility.visible_parts(seller) == set()
    assert not visibility.may_see_field(seller, "payment_terms_days") and visibility.may_see_field(seller, "name")
    # the card's tabs are the same rule: a part's tab is gone with the part
    keys = {item.key for item in layout.visible_items(seller, "company_tabs")}
    assert keys.isdisjoint({"activities", "history", "settings", "email", "files"})
    employees["admin"].active = False
    assert visibility.visible_parts(employees["admin"]) == set()


# --- the card's Översikt ------------------------------------------------------------------------------


OVERVIEW_MARKERS = (
    'id="figure-open_activities"',
    'id="figure-overdue_activities"',
    'id="figure-emails"',
    'id="figure-files"',
    'id="overview-upcoming"',
    "Ring om offerten",
    'id="overview-events"',
)


@pytest.mark.parametrize("revoked", [False, True], ids=["granted", "revoked"])
def test_overview_shows_no_figure_or_list_of_a_revoked_part(login, employees, customer, revoked):
    client = seller_client(login, employees, revoked).client
    company = customer["company"]
    for url in (f"/admin/company/card/{company.id}/tab/overview", f"/admin/company/card/{company.id}"):
        page = text(client.get(url))
        assert 'id="figure-contacts"' in page  # the register's own figures stay
        for marker in OVERVIEW_MARKERS:
            assert (marker in page) is not revoked, (url, marker)


@pytest.mark.parametrize("revoked", [False, True], ids=["granted", "revoked"])
def test_contact_overview_follows_the_same_rule(login, employees, make_contact, revoked):
    person = make_contact(first_name="Privat", last_name="Person", customer_number=90001)
    db.session.add(Activity(kind="task", subject="Skicka broschyr", contact_id=person.id))
    db.session.commit()
    page = text(seller_client(login, employees, revoked).client.get(f"/admin/contact/card/{person.id}/tab/overview"))
    assert 'id="figure-companies"' in page
    assert ("Skicka broschyr" in page) is not revoked
    assert ('id="figure-emails"' in page) is not revoked
    assert ('id="overview-events"' in page) is not revoked


def test_readonly_overview_has_no_email_or_file_counts(login, customer):
    """Läsbehörighet has no E-post and Filer tabs by its role: no counts of them either."""
    page = text(login("readonly").client.get(f"/admin/company/card/{customer['company'].id}/tab/overview"))
    assert 'id="figure-emails"' not in page and 'id="figure-files"' not in page
    assert 'id="figure-open_activities"' in page


# --- other pages -----------------------------------------------------------------------------------


@pytest.fixture
def opportunity(customer, employees):
    stage = SalesStage(name="Offert", sort_order=1, probability=50)
    deal = Opportunity(title="Stora affären", company=customer["company"], owner=employees["seller"], stage=stage)
    db.session.add(deal)
    db.session.commit()
    db.session.add(
        Activity(kind="meeting", subject="Möte om avtalet", company_id=deal.company_id, opportunity_id=deal.id)
    )
    db.session.commit()
    return deal


@pytest.mark.parametrize("revoked", [False, True], ids=["granted", "revoked"])
def test_opportunity_page_shows_and_takes_activities_only_from_who_may_see_them(login, employees, opportunity, revoked):
    seller = seller_client(login, employees, revoked)
    page = seller.client.get(f"/admin/opportunity/show/{opportunity.id}")
    assert page.status_code == 200
    assert "Stora affären" in text(page)
    assert ("Möte om avtalet" in text(page)) is not revoked
    activity = db.session.scalar(select(Activity).where(Activity.opportunity_id == opportunity.id))
    added = seller.post(f"/admin/opportunity/show/{opportunity.id}/activities", {"kind": "task", "subject": "Följ upp"})
    done = seller.post(f"/admin/opportunity/show/{opportunity.id}/activities/{activity.id}/done", {"done": "1"})
    assert (added.status_code, done.status_code) == ((403, 403) if revoked else (302, 302))
    expected = 2 if revoked else 3  # the customer's own activity and the opportunity's, and a new one
    assert db.session.scalar(select(db.func.count()).select_from(Activity)) == expected


@pytest.mark.parametrize("revoked", [False, True], ids=["granted", "revoked"])
def test_card_takes_activities_only_from_who_may_see_them(login, employees, customer, revoked):
    seller = seller_client(login, employees, revoked)
    company = customer["company"]
    response = seller.post(f"/admin/company/card/{company.id}/activities", {"kind": "task", "subject": "Följ upp"})
    assert response.status_code == (403 if revoked else 302)


@pytest.mark.parametrize("revoked", [False, True], ids=["granted", "revoked"])
def test_start_page_lists_my_activities_only_to_who_may_see_activities(login, employees, customer, revoked):
    page = text(seller_client(login, employees, revoked).client.get("/admin/"))
    assert ('id="my-activities"' in page) is not revoked
    assert ("Ring om offerten" in page) is not revoked


# --- the company and private customer forms ---------------------------------------------------------------


SETTINGS_INPUTS = ('name="invoice_language"', 'name="discount_percent"', 'name="payment_terms_days"', 'name="currency"')


@pytest.mark.parametrize("revoked", [False, True], ids=["granted", "revoked"])
def test_company_form_shows_and_saves_invoice_settings_only_for_who_may_see_them(login, employees, customer, revoked):
    seller = seller_client(login, employees, revoked)
    company = customer["company"]
    for url in (f"/admin/company/edit/?id={company.id}", "/admin/company/new/"):
        page = seller.client.get(url).get_data(as_text=True)
        for name in SETTINGS_INPUTS:
            assert (name in page) is not revoked, (url, name)
        assert (sv("Invoice settings") in text(seller.client.get(url))) is not revoked
    data = edit_form_data(company, note="Ny anteckning", discount_percent="50", payment_terms_days="90", currency="SEK")
    response = seller.post(f"/admin/company/edit/?id={company.id}", data)
    assert response.status_code == 302, flashes(response)
    db.session.expire_all()
    saved = db.session.get(Company, company.id)
    assert saved.note == "Ny anteckning"
    settings = (saved.discount_percent, saved.payment_terms_days, saved.currency)
    assert settings == ((Decimal("12.50"), 45, "EUR") if revoked else (Decimal("50.00"), 90, "SEK"))


@pytest.mark.parametrize("revoked", [False, True], ids=["granted", "revoked"])
def test_new_company_gets_the_default_settings_when_the_form_has_none(login, employees, revoked):
    seller = seller_client(login, employees, revoked)
    response = seller.post(
        "/admin/company/new/",
        {"name": "Nybolaget AB", "country": "SE", "status": "active", "discount_percent": "30", "currency": "EUR"},
    )
    assert response.status_code == 302, flashes(response)
    new = db.session.scalar(select(Company).where(Company.name == "Nybolaget AB"))
    assert (new.discount_percent, new.currency) == ((Decimal("0"), "SEK") if revoked else (Decimal("30"), "EUR"))


@pytest.mark.parametrize("revoked", [False, True], ids=["granted", "revoked"])
def test_private_customer_form_follows_the_same_rule(login, employees, make_contact, revoked):
    person = make_contact(first_name="Pia", last_name="Privat", customer_number=90002, discount_percent=Decimal("7"))
    seller = seller_client(login, employees, revoked)
    page = seller.client.get(f"/admin/privatecustomer/edit/?id={person.id}").get_data(as_text=True)
    assert ('name="discount_percent"' in page) is not revoked
    data = {
        "first_name": "Pia",
        "last_name": "Privat",
        "discount_percent": "40",
        "payment_terms_days": "30",
        "currency": "SEK",
        "invoice_language": "sv",
        "version": str(person.version),
    }
    assert seller.post(f"/admin/privatecustomer/edit/?id={person.id}", data).status_code == 302
    db.session.expire_all()
    assert db.session.get(Contact, person.id).discount_percent == (Decimal("7") if revoked else Decimal("40"))


@pytest.mark.parametrize("revoked", [False, True], ids=["granted", "revoked"])
def test_list_exports_leave_out_the_invoice_settings(login, employees, customer, make_contact, revoked):
    make_contact(first_name="Pia", last_name="Privat", customer_number=90003)
    client = seller_client(login, employees, revoked).client
    for url in ("/admin/company/export/csv/", "/admin/privatecustomer/export/csv/"):
        header = csv_rows(client.get(url))[0]
        for label in ("Discount %", "Payment terms (days)", "Currency"):
            assert (sv(label) in header) is not revoked, (url, label)


# --- reports ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("revoked", [False, True], ids=["granted", "revoked"])
def test_activity_report_is_refused_with_activities_revoked(login, employees, customer, revoked):
    client = seller_client(login, employees, revoked).client
    assert client.get("/admin/reports/activities").status_code == (403 if revoked else 200)
    assert client.get("/admin/reports/activities/export/csv/").status_code == (403 if revoked else 200)
    index = text(client.get("/admin/reports/"))
    assert (sv("Graphical and tabular overview of sales activities") in index) is not revoked
    generator = client.get("/admin/reports/generator/", query_string={"entity": "activity", "run": "1"})
    assert generator.status_code == 200
    assert ("Ring om offerten" in text(generator)) is not revoked


def generator(client, customer, **args):
    number = f"cf{customer['field'].id}"
    query = {"entity": "company", "run": "1", "col": ["name", number], "sort": number}
    query.update({k.replace("NUMBER", number): v for k, v in args.items()})
    return client.get("/admin/reports/generator/", query_string=query)


@pytest.mark.parametrize("revoked", [False, True], ids=["granted", "revoked"])
def test_generator_leaves_custom_columns_out_for_who_may_not_see_them(login, employees, customer, revoked):
    client = seller_client(login, employees, revoked).client
    response = generator(client, customer)
    assert response.status_code == 200
    page = text(response)
    table = page.split('id="report-table"')[1]
    assert "Synlighet AB" in table
    assert ("Licenser" in page) is not revoked  # neither a column nor a condition to choose
    assert ('id="custom-conditions"' in page) is not revoked
    left_out = sv("Custom fields are left out of the report: you do not have permission to see them.")
    assert (("warning", left_out) in flashes(response)) is revoked
    number = f"cf{customer['field'].id}"
    rows = csv_rows(client.get("/admin/reports/generator/export/csv/", query_string={"col": ["name", number]}))
    assert rows == (
        [["Företagsnamn"], ["Synlighet AB"]] if revoked else [["Företagsnamn", "Licenser"], ["Synlighet AB", "25"]]
    )


@pytest.mark.parametrize("revoked", [False, True], ids=["granted", "revoked"])
def test_generator_refuses_a_condition_on_custom_fields_in_swedish(login, employees, customer, revoked):
    client = seller_client(login, employees, revoked).client
    response = generator(client, customer, NUMBER_from="10")
    assert response.status_code == 200
    refused = sv("The report has conditions on custom fields, which you do not have permission to see.")
    assert (("danger", refused) in flashes(response)) is revoked
    assert ("Synlighet AB" in text(response)) is not revoked
    number = f"cf{customer['field'].id}"
    export = client.get("/admin/reports/generator/export/csv/", query_string={"col": ["name"], f"{number}_from": "10"})
    assert export.status_code == (400 if revoked else 200)
    if revoked:
        assert refused in text(export)


@pytest.mark.parametrize("revoked", [False, True], ids=["granted", "revoked"])
def test_saved_report_with_custom_fields_opens_without_them(login, employees, customer, revoked):
    number = f"cf{customer['field'].id}"
    admin = employees["admin"]
    with_columns = ReportDefinition(
        name="Licenser per kund",
        owner_id=admin.id,
        shared=True,
        entity="company",
        definition={"columns": ["name", number], "sort": number},
    )
    with_condition = ReportDefinition(
        name="Stora licenskunder",
        owner_id=admin.id,
        shared=True,
        entity="company",
        definition={"columns": ["name"], "custom": {f"{number}_from": "10"}},
    )
    db.session.add_all([with_columns, with_condition])
    db.session.commit()
    client = seller_client(login, employees, revoked).client
    shown = client.get(f"/admin/reports/generator/saved/{with_columns.id}", follow_redirects=True)
    assert shown.status_code == 200
    assert "Synlighet AB" in text(shown).split('id="report-table"')[1]
    assert ("Licenser" in text(shown).replace("Licenser per kund", "")) is not revoked
    refused = client.get(f"/admin/reports/generator/saved/{with_condition.id}", follow_redirects=True)
    assert refused.status_code == 200
    message = sv("The report has conditions on custom fields, which you do not have permission to see.")
    assert (("danger", message) in flashes(refused)) is revoked


@pytest.mark.parametrize("revoked", [False, True], ids=["granted", "revoked"])
def test_saving_a_report_keeps_no_custom_field_the_employee_may_not_see(login, employees, customer, revoked):
    seller = seller_client(login, employees, revoked)
    number = f"cf{customer['field'].id}"
    response = seller.post(
        "/admin/reports/generator/save", {"name": "Mina kunder", "entity": "company", "col": ["name", number]}
    )
    assert response.status_code == 302
    saved = db.session.scalar(select(ReportDefinition).where(ReportDefinition.name == "Mina kunder"))
    assert saved.definition["columns"] == (["name"] if revoked else ["name", number])


def test_generator_service_leaves_out_and_refuses_for_the_employee(customer, employees):
    seller = employees["seller"]
    revoke_parts(seller)
    number = f"cf{customer['field'].id}"
    spec = report_generator.parse(
        {"entity": "company", "col": ["name", number], "sort": number}, session=db.session, employee=seller
    )
    assert (spec.columns, spec.sort, spec.left_out) == (["name"], "name", 1)
    assert db.session.scalars(report_generator.query(spec, seller)).unique().all()
    with pytest.raises(report_generator.NotPermitted):
        report_generator.parse({"entity": "company", f"{number}_to": "5"}, session=db.session, employee=seller)
    assert report_generator.custom_columns(db.session, "company", seller) == {}
    assert number in report_generator.custom_columns(db.session, "company", employees["admin"])
