"""A record chosen in a plain select (Bransch, a sales stage, an Egna fält tab) refuses the save when the posted
id names no record the select offers — deleted meanwhile, forged or malformed — with the pickers' Swedish message
next to the field: Flask-Admin took it as nothing chosen and saved the rest without a word. The form is shown
again with the other input kept, and nothing is saved. (Er referens on orders and invoices: test_views_invoicing.)"""

import pytest
from flask_admin.contrib.sqla.fields import QuerySelectField
from flask_login import login_user

from extensions import db
from models import Company, CustomFieldDefinition, CustomTab, Industry, Opportunity, SalesStage
from tests.helpers import count, field_errors, flashes, fresh, sv, text
from tests.test_views_company import COMPANY_FORM, edit_form_data

#: Flask-Admin's message above a form it did not save (its "admin" catalogue, translations/sv/…/admin.po).
NOT_CREATED = "Posten kunde inte skapas: rätta de markerade fälten."


def unknown(id: str) -> list[str]:
    return [sv("No record with id %(id)s.", id=id)]


@pytest.fixture
def industries(app):
    rows = {name: Industry(name=name) for name in ("Bygg", "Handel", "Nedlagd bransch")}
    db.session.add_all(rows.values())
    db.session.commit()
    return rows


def deleted_industry_id(industries) -> str:
    """The id of an industry that was in the select and was deleted meanwhile (another tab, another user)."""
    gone = industries["Nedlagd bransch"]
    db.session.delete(gone)
    db.session.commit()
    return str(gone.id)


@pytest.mark.parametrize("register", ["company", "supplier"])
def test_a_new_company_with_an_unknown_industry_is_refused_with_the_input_kept(login, industries, register):
    seller = login("seller")
    for forged in (deleted_industry_id(industries), "99999", "abc"):
        response = seller.post(f"/admin/{register}/new/", {**COMPANY_FORM, "industry": forged})
        assert response.status_code == 200, forged
        assert field_errors(response, "industry") == unknown(forged), forged
        assert flashes(response) == [("danger", NOT_CREATED)], forged
        page = text(response)
        assert 'value="Svea Kaffe AB"' in page and 'value="info@sveakaffe.se"' in page, forged  # kept
        assert count(db.session, Company) == 0, forged
    saved = seller.post(f"/admin/{register}/new/", {**COMPANY_FORM, "industry": str(industries["Bygg"].id)})
    assert saved.status_code == 302, field_errors(saved, "industry")
    assert db.session.scalar(db.select(Company)).industry.name == "Bygg"


def test_an_edited_company_keeps_its_industry_and_fields_when_an_unknown_one_is_posted(login, make_company, industries):
    company = make_company(name="Branschbolaget AB", industry=industries["Bygg"], postal_city="Umeå")
    seller = login("seller")
    url = f"/admin/company/edit/?id={company.id}"
    forged = deleted_industry_id(industries)
    response = seller.post(url, {**edit_form_data(company, postal_city="Lund"), "industry": forged})
    assert response.status_code == 200
    assert field_errors(response, "industry") == unknown(forged)
    assert 'value="Lund"' in text(response)  # what was typed is still on the form
    stored = fresh(db.session, Company, company.id)
    assert (stored.industry.name, stored.postal_city, stored.version) == ("Bygg", "Umeå", company.version)
    # another industry, and none ("__None", the empty choice), are saved as chosen
    changed = seller.post(url, {**edit_form_data(stored), "industry": str(industries["Handel"].id)})
    assert changed.status_code == 302
    stored = fresh(db.session, Company, company.id)
    assert stored.industry.name == "Handel"
    cleared = seller.post(url, {**edit_form_data(stored), "industry": "__None"})
    assert cleared.status_code == 302
    assert fresh(db.session, Company, company.id).industry is None


def test_an_opportunity_with_an_unknown_stage_is_refused_with_the_pickers_message(login, make_company, stage):
    company = make_company(name="Affärsbolaget AB")
    seller = login("seller")
    data = {"title": "Serviceavtal", "company": str(company.id), "stage": "4242", "kind": "new", "amount": "1000"}
    response = seller.post("/admin/opportunity/new/", data)
    assert response.status_code == 200
    assert field_errors(response, "stage") == unknown("4242")
    assert 'value="Serviceavtal"' in text(response)
    assert count(db.session, Opportunity) == 0
    assert seller.post("/admin/opportunity/new/", {**data, "stage": str(stage.id)}).status_code == 302
    assert db.session.scalar(db.select(Opportunity)).stage.name == "Kontakt"


def test_an_opportunity_keeps_its_stage_deactivated_since(login, make_company, stage):
    """A stage no longer offered to new opportunities stays the choice of the one that has it."""
    company = make_company(name="Trogna AB")
    opportunity = Opportunity(title="Gammalt avtal", company=company, stage=stage)
    db.session.add(opportunity)
    stage.active = False
    newer = SalesStage(name="Offert", sort_order=2, probability=50)
    db.session.add(newer)
    db.session.commit()
    seller = login("seller")
    data = {"title": "Gammalt avtal, förlängt", "company": str(company.id), "kind": "new", "amount": "5"}
    url = f"/admin/opportunity/edit/?id={opportunity.id}"
    saved = seller.post(url, {**data, "stage": str(stage.id), "version": str(opportunity.version)})
    assert saved.status_code == 302, field_errors(saved, "stage")
    kept = fresh(db.session, Opportunity, opportunity.id)
    assert (kept.title, kept.stage.name) == ("Gammalt avtal, förlängt", "Kontakt")
    other = Opportunity(title="Nytt avtal", company=company, stage=newer)
    db.session.add(other)
    db.session.commit()
    response = seller.post(
        f"/admin/opportunity/edit/?id={other.id}", {**data, "stage": str(stage.id), "version": str(other.version)}
    )
    assert field_errors(response, "stage") == unknown(str(stage.id))
    assert fresh(db.session, Opportunity, other.id).stage.name == "Offert"


def test_a_custom_field_with_an_unknown_tab_is_refused(login):
    admin = login("admin")
    data = {"tab": "777", "label": "Avtalsnummer", "field_type": "text", "sort_order": "1"}
    response = admin.post("/admin/customfield/new/", data)
    assert response.status_code == 200
    assert field_errors(response, "tab") == unknown("777")
    assert count(db.session, CustomFieldDefinition) == 0
    tab = CustomTab(name="Avtal", applies_to="company")
    db.session.add(tab)
    db.session.commit()
    assert admin.post("/admin/customfield/new/", {**data, "tab": str(tab.id)}).status_code == 302
    assert db.session.scalar(db.select(CustomFieldDefinition)).tab.name == "Avtal"


def test_every_select_of_one_record_on_the_forms_is_checked(app, employees):
    """The scaffolding gives every select of one record the rule: no view's form holds Flask-Admin's own field."""
    from admin_views.base import CheckedQuerySelectField

    admin = app.extensions["admin"][0]
    seen = set()
    with app.test_request_context("/admin/"):
        login_user(employees["admin"])
        for view in admin._views:
            for make in ("get_create_form", "get_edit_form"):
                if not hasattr(view, make):
                    continue
                for field in getattr(view, make)()():
                    if isinstance(field, QuerySelectField) and not field.type.endswith("MultipleField"):
                        assert isinstance(field, CheckedQuerySelectField), (view.endpoint, field.name)
                        seen.add((view.endpoint, field.name))
    assert {("company", "industry"), ("supplier", "industry"), ("opportunity", "stage"), ("customfield", "tab")} <= seen
