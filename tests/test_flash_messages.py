"""Every message the user reads after saving is ours, in Swedish: Flask-Admin's own
("Posten sparades framgångsrikt.") never shows; a new lead opens on the lead's own page."""

import re

from extensions import db
from models import Company, Industry, Lead
from tests.helpers import flashes, sv, text
from tests.test_views_company import edit_form_data


def _no_flask_admin_wording(response):
    for _category, message in flashes(response):
        assert "framgångsrikt" not in message and "successfully" not in message, message


def test_creating_saving_and_deleting_say_it_in_our_words(login, make_company):
    admin = login("admin")
    created = admin.post("/admin/industry/new/", {"name": "Sågverk"}, follow_redirects=True)
    assert ("success", sv("%(name)s was created.", name="Sågverk")) in flashes(created)
    _no_flask_admin_wording(created)

    industry = db.session.scalar(db.select(Industry).where(Industry.name == "Sågverk"))
    saved = admin.post(
        f"/admin/industry/edit/?id={industry.id}",
        {"name": "Sågverk och hyvleri", "version": str(industry.version)},
        follow_redirects=True,
    )
    assert ("success", sv("%(name)s was saved.", name="Sågverk och hyvleri")) in flashes(saved)
    _no_flask_admin_wording(saved)

    deleted = admin.post("/admin/industry/delete/", {"id": str(industry.id)}, follow_redirects=True)
    assert ("success", "1 post togs bort.") in flashes(deleted), flashes(deleted)
    _no_flask_admin_wording(deleted)


def test_a_missing_record_is_said_in_our_words(login):
    response = login("admin").client.get("/admin/industry/edit/?id=999999", follow_redirects=True)
    assert ("danger", sv("The record does not exist (it may have been deleted).")) in flashes(response)


def test_a_new_lead_opens_on_its_own_page(login):
    seller = login("seller")
    response = seller.post(
        "/admin/lead/new/",
        {"company_name": "Visningsbolaget AB", "contact_first_name": "Eva", "status": "new"},
    )
    lead = db.session.scalar(db.select(Lead).where(Lead.company_name == "Visningsbolaget AB"))
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/admin/lead/show/{lead.id}")
    page = seller.client.get(response.headers["Location"])
    shown = text(page)
    assert ("success", sv("%(name)s was created.", name=str(lead))) in flashes(page)
    assert "Visningsbolaget AB" in shown and sv("Edit") + ":" not in shown
    assert sv("Convert to customer") in shown
    assert re.search(r'id="lead-details"', shown)


def test_the_lead_list_links_to_the_lead_page(login):
    lead = Lead(company_name="Länkbolaget AB")
    db.session.add(lead)
    db.session.commit()
    assert f"/admin/lead/show/{lead.id}" in text(login("seller").client.get("/admin/lead/"))


def test_saving_a_company_says_its_name(login, make_company):
    company = make_company(name="Namnbolaget AB")
    response = login("admin").post(
        f"/admin/company/edit/?id={company.id}", {**edit_form_data(company), "note": "Ny"}, follow_redirects=True
    )
    assert ("success", sv("%(name)s was saved.", name="Namnbolaget AB")) in flashes(response)
    assert db.session.get(Company, company.id) is not None


def test_a_flash_outside_flask_admin_leaves_its_catalogue_alone(app, login):
    """Flask-Admin caches its catalogue per locale for the whole process; read outside one of its views
    it would be cached without our gaps (admin.po), and "Failed to create record." would stay English."""
    from flask import flash
    from flask_admin.babel import domain

    domain.cache.clear()
    with app.test_request_context("/login"):
        app.preprocess_request()
        flash("Logga in för att fortsätta.", "info")
    assert not [key for key in domain.cache if key[1] == "admin"]
    response = login("admin").post("/admin/industry/new/", {"name": ""})
    assert ("danger", "Posten kunde inte skapas: rätta de markerade fälten.") in flashes(response)
