"""The new-company, new-contact and new-lead forms point out likely duplicates before saving."""

from helpers import count, flashes, sv, text
from models import Company, Contact
from tests.test_views_company import COMPANY_FORM


def warning(response) -> str:
    [found] = [m for category, m in flashes(response) if category == "warning"]
    return found


def test_a_new_company_like_one_in_the_register_is_held_back_with_a_link(login, session, make_company):
    existing = make_company(name="Svea Kaffe Aktiebolag", postal_city="Stockholm")
    seller = login("seller")
    form = {**COMPANY_FORM, "org_number": ""}
    response = seller.post("/admin/company/new/", form)
    assert response.status_code == 200
    assert count(session, Company) == 1
    message = warning(response)
    assert "Svea Kaffe Aktiebolag" in message and sv("similar name + same city") in message
    assert f'href="/admin/company/card/{existing.id}"' in response.get_data(as_text=True)
    assert sv("Save anyway: it is not one of the records above") in text(response)
    # the employee has looked: saved anyway
    saved = seller.post("/admin/company/new/", {**form, "save_anyway": "y"})
    assert saved.status_code == 302
    assert count(session, Company) == 2


def test_a_new_company_unlike_any_other_is_saved_at_once_and_the_form_has_no_save_anyway(login, session, make_company):
    make_company(name="Helt Annat Bolag AB", postal_city="Kiruna")
    seller = login("seller")
    page = text(seller.client.get("/admin/company/new/"))
    assert sv("Save anyway: it is not one of the records above") not in page
    assert seller.post("/admin/company/new/", COMPANY_FORM).status_code == 302
    assert count(session, Company) == 2


def test_a_new_contact_with_a_known_e_mail_is_pointed_out(login, session, make_contact):
    make_contact(first_name="Åsa", last_name="Öberg", email="asa.oberg@example.se")
    seller = login("seller")
    response = seller.post(
        "/admin/contact/new/", {"first_name": "Asa", "last_name": "Oberg", "email": "ASA.OBERG@example.se"}
    )
    assert response.status_code == 200 and count(session, Contact) == 1
    assert "Åsa Öberg" in warning(response) and sv("same e-mail") in warning(response)


def test_a_look_alike_whose_name_has_a_swedish_letter_is_found_at_entry(login, session, make_company):
    """The name is looked up in the quick search index as typed (it keeps å, ä and ö), not as compared."""
    existing = make_company(name="Nordisk Rörteknik i Göteborg AB", postal_city="Göteborg")
    response = login("seller").post(
        "/admin/company/new/",
        {**COMPANY_FORM, "name": "Nordisk Rörteknik AB", "org_number": "", "postal_city": "Göteborg"},
    )
    assert response.status_code == 200 and count(session, Company) == 1
    assert f'href="/admin/company/card/{existing.id}"' in response.get_data(as_text=True)
