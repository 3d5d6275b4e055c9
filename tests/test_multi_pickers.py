"""A picker of several records (categories, a sales group's members, contacts to link, any AJAX multi-select)
refuses the save when a posted id names no record it offers — one that does not exist, is malformed, or is of
another kind — with the single picker's Swedish message next to the field; nothing is dropped silently and
nothing is half-saved. What a record already has stays a choice, shown and saved unchanged."""

import pytest
from werkzeug.datastructures import MultiDict

from extensions import db
from models import Category, Company, EmployeeGroup
from tests.helpers import count, field_errors, flashes, fresh, sv, text
from tests.test_views_company import edit_form_data


def unknown(ids: str) -> list[str]:
    return [sv("No record with id %(id)s.", id=ids)]


@pytest.fixture
def categories(app):
    rows = {
        "Återförsäljare": Category(name="Återförsäljare", applies_to="company"),
        "Nyhetsbrev": Category(name="Nyhetsbrev", applies_to="contact"),
        "Mässa": Category(name="Mässa", applies_to="both"),
    }
    db.session.add_all(rows.values())
    db.session.commit()
    return rows


def test_a_company_form_refuses_an_unknown_or_foreign_category(login, make_company, categories):
    company = make_company(name="Kategoriserad AB", categories=[categories["Mässa"]])
    seller = login("seller")
    reseller, newsletter = categories["Återförsäljare"], categories["Nyhetsbrev"]
    url = f"/admin/company/edit/?id={company.id}"
    for posted, ids in (
        ([str(reseller.id), "99999"], "99999"),
        ([str(reseller.id), str(newsletter.id)], str(newsletter.id)),  # a contacts' category, not offered here
        ([str(reseller.id), "abc"], "abc"),
    ):
        response = seller.post(url, {**edit_form_data(company), "categories": posted})
        assert response.status_code == 200, posted
        assert field_errors(response, "categories") == unknown(ids), posted
        assert [c.name for c in fresh(db.session, Company, company.id).categories] == ["Mässa"], posted
    saved = seller.post(url, {**edit_form_data(company), "categories": [str(reseller.id)]})
    assert saved.status_code == 302
    assert [c.name for c in fresh(db.session, Company, company.id).categories] == ["Återförsäljare"]
    # a new company too: not created without the category
    before = count(db.session, Company)
    response = seller.post(
        "/admin/company/new/",
        {"name": "Ny AB", "country": "SE", "status": "active", "categories": ["99999"]},
    )
    assert field_errors(response, "categories") == unknown("99999")
    assert count(db.session, Company) == before


def test_a_category_the_company_has_stays_when_it_no_longer_applies_to_companies(login, make_company, categories):
    fair = categories["Mässa"]
    company = make_company(name="Trogen AB", categories=[fair])
    fair.applies_to = "contact"  # changed since: new companies are not given it
    db.session.commit()
    seller = login("seller")
    form = seller.client.get(f"/admin/company/edit/?id={company.id}").get_data(as_text=True)
    assert f'<option selected value="{fair.id}">Mässa</option>' in form
    saved = seller.post(
        f"/admin/company/edit/?id={company.id}",
        {**edit_form_data(company, postal_city="Lund"), "categories": [str(fair.id)]},
    )
    assert saved.status_code == 302, flashes(saved)
    kept = fresh(db.session, Company, company.id)
    assert (kept.postal_city, [c.name for c in kept.categories]) == ("Lund", ["Mässa"])
    other = make_company(name="Ny Kund AB")
    response = seller.post(
        f"/admin/company/edit/?id={other.id}",
        {**edit_form_data(other), "categories": [str(fair.id)]},
    )
    assert field_errors(response, "categories") == unknown(str(fair.id))


def test_a_sales_group_refuses_an_unknown_member(login, employees):
    admin = login("admin")
    data = {"name": "Säljlag Syd", "kind": "sales", "members": [str(employees["seller"].id), "4242"]}
    response = admin.post("/admin/employeegroup/new/", data)
    assert response.status_code == 200
    assert field_errors(response, "members") == unknown("4242")
    assert count(db.session, EmployeeGroup) == 0
    assert admin.post("/admin/employeegroup/new/", {**data, "members": data["members"][:1]}).status_code == 302
    assert [m.name for m in db.session.scalar(db.select(EmployeeGroup)).members] == ["Test Seller"]


def test_an_ajax_multi_picker_refuses_an_unknown_id(app, categories):
    """No list uses an AJAX picker of several records yet; the scaffolding gives every one the rule."""
    from flask_admin.form import BaseForm

    from admin_views.base import CheckedAjaxSelectMultipleField, SearchAjaxLoader

    loader = SearchAjaxLoader("categories", Category)

    class Form(BaseForm):
        categories = CheckedAjaxSelectMultipleField(loader)

    chosen = f"{categories['Mässa'].id},{categories['Nyhetsbrev'].id}"
    with app.test_request_context():
        form = Form(MultiDict([("categories", f"{chosen},99999")]))
        assert not form.validate()
        assert form.categories.errors == unknown("99999")
        form = Form(MultiDict([("categories", chosen)]))
        assert form.validate()
        assert [c.name for c in form.categories.data] == ["Mässa", "Nyhetsbrev"]


def test_the_link_contacts_form_is_refused_as_a_whole(login, make_company, make_contact):
    company = make_company()
    person = make_contact(first_name="Stina", last_name="Länkad")
    seller = login("seller")
    response = seller.post(
        f"/admin/company/card/{company.id}/link-contacts",
        {"contact_id": [str(person.id), "31337"]},
        follow_redirects=True,
    )
    assert ("danger", sv("No record with id %(id)s.", id="31337")) in flashes(response)
    assert "Stina Länkad" not in text(seller.client.get(f"/admin/company/card/{company.id}/tab/contacts"))
