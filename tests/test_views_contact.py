"""Kontakter, Privatkunder and the people search through HTTP: "Skapa ny
företagskontakt", "Koppla existerande kontakt till företaget", unlink, "Ny
kontakt", making a private customer, contacts beside employees."""

import html
import re

import pytest
from sqlalchemy import func, select

from models import AuditEvent, Contact
from services import numbering, trash
from tests.helpers import field_errors, flashes, links_of, sv, text


def contacts(session) -> list[Contact]:
    session.expire_all()
    return list(session.scalars(select(Contact).order_by(Contact.id)))


# --- "Skapa ny företagskontakt" ---------------------------------------------------------


def test_company_card_offers_both_contact_buttons_to_editors(login, make_company):
    company = make_company(name="Kortföretaget AB")
    page = text(login("seller").client.get(f"/admin/company/card/{company.id}?tab=contacts"))
    assert sv("Create new company contact") in page
    assert sv("Connect existing contact to the company") in page
    assert f"/admin/contact/new/?company_id={company.id}" in page
    readonly_page = text(login("readonly").client.get(f"/admin/company/card/{company.id}?tab=contacts"))
    assert sv("Create new company contact") not in readonly_page


def test_new_company_contact_form_names_the_company_and_asks_for_the_role(login, make_company):
    company = make_company(name="Kortföretaget AB")
    page = login("seller").client.get(f"/admin/contact/new/?company_id={company.id}")
    assert page.status_code == 200
    assert sv("New contact for %(company)s", company="Kortföretaget AB") in text(page)
    assert 'name="company_role"' in page.get_data(as_text=True)


def test_create_new_company_contact_links_it_with_its_role(login, session, make_company, employees):
    company = make_company(name="Kortföretaget AB")
    seller = login("seller")
    response = seller.post(
        f"/admin/contact/new/?company_id={company.id}",
        {
            "first_name": "Åsa",
            "last_name": "Öberg",
            "email": "asa@kortforetaget.se",
            "phone": "08-123 456 78",
            "mobile": "070-123 45 67",
            "company_role": "Inköpschef",
        },
    )
    assert response.status_code == 302
    assert response.headers["Location"] == f"/admin/company/card/{company.id}#contacts"  # opens the Kontakter tab
    [contact] = contacts(session)
    assert (contact.first_name, contact.last_name) == ("Åsa", "Öberg")
    assert (contact.phone, contact.mobile) == ("+46812345678", "+46701234567")
    assert contact.customer_number is None
    assert links_of(session, company) == {contact.id: "Inköpschef"}
    card = text(seller.client.get(f"/admin/company/card/{company.id}/tab/contacts"))
    assert "Åsa Öberg" in card and "Inköpschef" in card
    link_event = session.scalars(select(AuditEvent).where(AuditEvent.action == "link")).one()
    assert link_event.actor_id == employees["seller"].id


def test_invalid_company_contact_is_not_saved_nor_linked(login, session, make_company):
    company = make_company()
    response = login("seller").post(
        f"/admin/contact/new/?company_id={company.id}",
        {
            "first_name": "Fel",
            "last_name": "Epost",
            "email": "fel@",
            "company_role": "VD",
        },
    )
    assert response.status_code == 200
    assert field_errors(response, "email") == [sv("This is not a valid e-mail address.")]
    assert contacts(session) == []
    assert links_of(session, company) == {}


def test_new_contact_for_a_company_in_the_trash_is_standalone(login, session, make_company, employees):
    company = make_company(name="Raderat AB")
    trash.delete(session, employees["admin"], type(company), [company.id])
    session.commit()
    seller = login("seller")
    page = seller.client.get(f"/admin/contact/new/?company_id={company.id}")
    assert "Raderat AB" not in text(page)
    response = seller.post(f"/admin/contact/new/?company_id={company.id}", {"first_name": "Ny", "last_name": "Person"})
    assert response.status_code == 302
    assert links_of(session, company) == {}


# --- "Ny kontakt" (standalone) --------------------------------------------------------------


def test_standalone_new_contact(login, session):
    seller = login("seller")
    page = seller.client.get("/admin/contact/new/")
    assert page.status_code == 200
    assert 'name="company_role"' not in page.get_data(as_text=True)
    response = seller.post(
        "/admin/contact/new/",
        {
            "first_name": "Fristående",
            "last_name": "Person",
            "mobile": "+46 70 123 45 67",
            "postal_postcode": "11122",
            "postal_city": "Stockholm",
        },
    )
    assert response.status_code == 302
    [contact] = contacts(session)
    assert response.headers["Location"] == f"/admin/contact/card/{contact.id}"
    assert (contact.mobile, contact.postal_postcode) == ("+46701234567", "111 22")
    assert contact.company_links == []
    card = text(seller.client.get(f"/admin/contact/card/{contact.id}?tab=companies"))
    assert "Fristående Person" in card
    assert sv("Standalone contact, not linked to any company.") in card
    assert "person-contact" in card


@pytest.mark.parametrize(
    "field, value, msgid, values",
    [
        ("phone", "08-1", "The phone number %(value)s does not exist.", {"value": "08-1"}),
        ("mobile", "telefon", "This is not a phone number.", {}),
        ("email", "a@b", "This is not a valid e-mail address.", {}),
        ("postal_postcode", "123", "A Swedish postcode has five digits, NNN NN.", {}),
    ],
)
def test_invalid_contact_fields_show_the_swedish_message(login, session, field, value, msgid, values):
    response = login("seller").post("/admin/contact/new/", {"first_name": "A", "last_name": "B", field: value})
    assert response.status_code == 200
    assert field_errors(response, field) == [sv(msgid, **values)]
    assert contacts(session) == []


def test_readonly_cannot_create_contacts(login, session):
    client = login("readonly")
    assert client.client.get("/admin/contact/new/").status_code == 403
    assert client.post("/admin/contact/new/", {"first_name": "A", "last_name": "B"}).status_code == 403
    assert contacts(session) == []


# --- "Koppla existerande kontakt till företaget" ----------------------------------------------


def test_link_several_existing_contacts(login, session, make_company, make_contact):
    company = make_company(name="Kopplingar AB")
    a, b, c = make_contact(), make_contact(), make_contact()
    seller = login("seller")
    response = seller.post(
        f"/admin/company/card/{company.id}/link-contacts",
        {"contact_id": [str(a.id), str(b.id)], "role": "Styrelseledamot"},
    )
    assert response.status_code == 302
    assert response.headers["Location"] == f"/admin/company/card/{company.id}#contacts"
    assert links_of(session, company) == {a.id: "Styrelseledamot", b.id: "Styrelseledamot"}
    card = seller.client.get(f"/admin/company/card/{company.id}?tab=contacts")
    [(category, message)] = flashes(card)
    assert category == "success" and "Kopplingar AB" in message and "2" in message
    assert a.name in text(card) and c.name not in text(card)


def test_linking_again_changes_nothing_and_warns(login, session, make_company, make_contact):
    company = make_company()
    a = make_contact(companies=[company], role="VD")
    seller = login("seller")
    seller.post(f"/admin/company/card/{company.id}/link-contacts", {"contact_id": [str(a.id)], "role": "Annat"})
    assert links_of(session, company) == {a.id: "VD"}
    [(category, message)] = flashes(seller.client.get(f"/admin/company/card/{company.id}"))
    assert (category, message) == ("warning", sv("Mark at least one contact that is not already linked."))


def test_linking_refuses_deleted_unknown_and_malformed_ids(login, session, make_company, make_contact, employees):
    """Contacts ticked with one that is no (live) contact are not linked without it, silently: nothing is linked
    and the page says which ids (the pickers' rule, admin_views.base.pick)."""
    company = make_company()
    live, deleted = make_contact(), make_contact()
    trash.delete(session, employees["admin"], Contact, [deleted.id])
    session.commit()
    seller = login("seller")
    response = seller.post(
        f"/admin/company/card/{company.id}/link-contacts",
        {"contact_id": [str(deleted.id), "999999", "x", str(live.id)]},
        follow_redirects=True,
    )
    assert ("danger", sv("No record with id %(id)s.", id=f"{deleted.id}, 999999, x")) in flashes(response)
    assert links_of(session, company) == {}
    response = seller.post(f"/admin/company/card/{company.id}/link-contacts", {"contact_id": [str(live.id)]})
    assert response.status_code == 302
    assert links_of(session, company) == {live.id: None}


def test_linking_needs_edit_permission(login, session, make_company, make_contact):
    company = make_company()
    a = make_contact()
    response = login("readonly").post(f"/admin/company/card/{company.id}/link-contacts", {"contact_id": [str(a.id)]})
    assert response.status_code == 403
    assert links_of(session, company) == {}


def test_linking_to_a_company_in_the_trash_is_404(login, session, make_company, make_contact, employees):
    company = make_company()
    a = make_contact()
    trash.delete(session, employees["admin"], type(company), [company.id])
    session.commit()
    response = login("seller").post(f"/admin/company/card/{company.id}/link-contacts", {"contact_id": [str(a.id)]})
    assert response.status_code == 404
    assert links_of(session, company) == {}


def test_contact_search_json_for_the_link_dialog(login, make_company, make_contact):
    first, second = make_company(name="Första AB"), make_company(name="Andra AB")
    person = make_contact(
        first_name="Björn",
        last_name="Åberg",
        email="bjorn@example.se",
        mobile="+46701234567",
        companies=[first, second],
    )
    make_contact(first_name="Annan", last_name="Person")
    response = login("seller").client.get("/admin/contact/search.json?q=åberg")
    assert response.status_code == 200
    assert response.get_json() == [
        {
            "id": person.id,
            "name": "Björn Åberg",
            "email": "bjorn@example.se",
            "phone": "070-123 45 67",
            "companies": response.get_json()[0]["companies"],
        }
    ]
    assert sorted(response.get_json()[0]["companies"].split(", ")) == ["Andra AB", "Första AB"]


def test_contact_search_json_leaves_out_the_trash(login, session, make_contact, employees):
    gone = make_contact(last_name="Borttagen")
    trash.delete(session, employees["admin"], Contact, [gone.id])
    session.commit()
    assert login("seller").client.get("/admin/contact/search.json?q=borttagen").get_json() == []


# --- unlink ---------------------------------------------------------------------------------


def test_unlink_removes_the_link_and_keeps_the_contact(login, session, make_company, make_contact):
    company = make_company(name="Bortkoppling AB")
    other = make_company()
    person = make_contact(first_name="Kvar", last_name="Ändå", companies=[company, other], role="VD")
    seller = login("seller")
    response = seller.post(f"/admin/company/card/{company.id}/unlink/{person.id}", {})
    assert response.status_code == 302
    assert links_of(session, company) == {}
    assert links_of(session, other) == {person.id: "VD"}
    assert session.get(Contact, person.id).is_deleted is False
    card = seller.client.get(f"/admin/company/card/{company.id}")
    [(category, message)] = flashes(card)
    assert category == "success"
    assert message == sv(
        "%(contact)s is no longer linked to %(company)s.", contact="Kvar Ändå", company="Bortkoppling AB"
    )
    assert session.scalars(select(AuditEvent).where(AuditEvent.action == "unlink")).one().entity_id == company.id


def test_unlink_needs_edit_permission_and_csrf(login, session, make_company, make_contact):
    company = make_company()
    person = make_contact(companies=[company])
    assert login("readonly").post(f"/admin/company/card/{company.id}/unlink/{person.id}", {}).status_code == 403
    seller = login("seller")
    assert seller.client.post(f"/admin/company/card/{company.id}/unlink/{person.id}").status_code == 400
    assert links_of(session, company) == {person.id: None}


def test_unlink_unknown_contact_is_404(login, make_company):
    company = make_company()
    assert login("seller").post(f"/admin/company/card/{company.id}/unlink/999999", {}).status_code == 404


# --- private customers ------------------------------------------------------------------------


def test_make_private_customer_action(login, session, make_contact):
    a, b, untouched = make_contact(last_name="Privat"), make_contact(last_name="Kund"), make_contact(last_name="Inte")
    seller = login("seller")
    response = seller.post(
        "/admin/contact/action/", {"action": "make_private_customer", "rowid": [str(a.id), str(b.id)]}
    )
    assert response.status_code == 302
    session.expire_all()
    numbers = sorted([session.get(Contact, a.id).customer_number, session.get(Contact, b.id).customer_number])
    assert numbers == [numbering.FIRST_CUSTOMER_NUMBER, numbering.FIRST_CUSTOMER_NUMBER + 1]
    assert session.get(Contact, untouched.id).customer_number is None

    listing = text(seller.client.get("/admin/privatecustomer/"))
    assert "Privat" in listing and "Kund" in listing
    assert "Inte" not in listing
    assert str(numbers[0]) in listing

    # Again: idempotent, the numbers stay.
    seller.post("/admin/contact/action/", {"action": "make_private_customer", "rowid": [str(a.id)]})
    session.expire_all()
    assert session.get(Contact, a.id).customer_number in numbers
    assert numbering.current_value(session, numbering.CUSTOMER_SEQUENCE) == numbers[1]


def test_make_private_customer_needs_edit_permission(login, session, make_contact):
    person = make_contact()
    login("readonly").post("/admin/contact/action/", {"action": "make_private_customer", "rowid": [str(person.id)]})
    session.expire_all()
    assert session.get(Contact, person.id).customer_number is None


def test_private_customer_card_shows_the_customer_number(login, session, make_contact):
    person = make_contact(first_name="Ingrid", last_name="Ek")
    number = numbering.make_private_customer(session, person)
    session.commit()
    card = text(login("readonly").client.get(f"/admin/contact/card/{person.id}"))
    assert sv("Private customer") in card
    assert str(number) in card


def test_new_private_customer_gets_a_number_and_a_normalised_personnummer(login, session):
    response = login("seller").post(
        "/admin/privatecustomer/new/",
        {
            "first_name": "Lena",
            "last_name": "Lindberg",
            "personal_number": "811218-9876",
            "invoice_language": "sv",
            "discount_percent": "0",
            "payment_terms_days": "10",
            "currency": "SEK",
        },
    )
    assert response.status_code == 302
    [person] = contacts(session)
    assert person.customer_number == numbering.FIRST_CUSTOMER_NUMBER
    assert person.personal_number == "19811218-9876"
    assert response.headers["Location"] == f"/admin/contact/card/{person.id}"


def test_new_private_customer_with_invalid_personnummer(login, session):
    response = login("seller").post(
        "/admin/privatecustomer/new/",
        {
            "first_name": "Fel",
            "last_name": "Nummer",
            "personal_number": "811218-9877",
            "invoice_language": "sv",
            "discount_percent": "0",
            "payment_terms_days": "10",
            "currency": "SEK",
        },
    )
    assert response.status_code == 200
    assert field_errors(response, "personal_number") == [sv("This is not a valid Swedish personal identity number.")]
    assert contacts(session) == []
    assert numbering.current_value(session, numbering.CUSTOMER_SEQUENCE) is None


def test_private_customer_list_excludes_plain_contacts_and_the_trash(login, session, make_contact, employees):
    live = make_contact(last_name="Levande", customer_number=501)
    gone = make_contact(last_name="Raderad", customer_number=502)
    make_contact(last_name="Vanlig")
    trash.delete(session, employees["admin"], Contact, [gone.id])
    session.commit()
    listing = text(login("readonly").client.get("/admin/privatecustomer/"))
    assert "Levande" in listing
    assert "Raderad" not in listing and "Vanlig" not in listing
    assert live.id


# --- contacts list and delete --------------------------------------------------------------


def test_contact_list_quick_search(login, make_contact):
    make_contact(first_name="Åsa", last_name="Öberg", mobile="+46701234567")
    make_contact(first_name="Per", last_name="Holm")
    client = login("readonly").client
    for query in ("öberg", "ÅSA", "070-123 45 67"):
        page = text(client.get("/admin/contact/", query_string={"search": query}))
        assert "Öberg" in page and "Holm" not in page, query
        assert len(re.findall(r'<td class="col-last_name"[ >]', page)) == 1


def test_delete_contact_to_the_trash(login, session, make_company, make_contact, employees):
    company = make_company(name="Kvarvarande AB")
    person = make_contact(last_name="Raderasson", companies=[company])
    seller = login("seller")
    assert seller.post("/admin/contact/action/", {"action": "delete", "rowid": [str(person.id)]}).status_code == 302
    session.expire_all()
    stored = session.get(Contact, person.id)
    assert stored.is_deleted and stored.deleted_by_id == employees["seller"].id
    assert "Raderasson" not in text(seller.client.get("/admin/contact/"))
    assert seller.client.get(f"/admin/contact/card/{person.id}").status_code == 404
    assert "Raderasson" not in text(seller.client.get(f"/admin/company/card/{company.id}/tab/contacts"))
    assert links_of(session, company) == {person.id: None}  # kept for a restore


# --- people search: contacts beside employees ------------------------------------------------


def test_people_search_tells_contacts_and_employees_apart(login, session, make_contact):
    make_contact(first_name="Test", last_name="Kontaktsson", email="kontakt@example.se")
    page = login("readonly").client.get("/admin/people/?q=test")
    assert page.status_code == 200
    body = page.get_data(as_text=True)
    rows = re.findall(r'<tr class="person-row person-row-(\w+)">(.*?)</tr>', body, re.S)
    by_name = {}
    for kind, row in rows:
        cell = html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", row)))
        name = next(
            n for n in ("Test Kontaktsson", "Test Admin", "Test Seller", "Test Finance", "Test Readonly") if n in cell
        )
        by_name[name] = (kind, row)
    assert set(by_name) == {"Test Kontaktsson", "Test Admin", "Test Seller", "Test Finance", "Test Readonly"}
    contact_kind, contact_row = by_name["Test Kontaktsson"]
    assert contact_kind == "contact"
    assert "person-icon person-contact" in contact_row and "person-employee" not in contact_row
    assert sv("Contact") in html.unescape(contact_row)
    assert "/admin/contact/card/" in contact_row
    employee_kind, employee_row = by_name["Test Admin"]
    assert employee_kind == "employee"
    assert "person-icon person-employee" in employee_row and "person-contact" not in employee_row
    assert sv("Employee") in html.unescape(employee_row)
    # The two kinds wear different colours (blue and red jackets).
    contact_colour = re.search(r'fill="(#[0-9a-fA-F]{6})"/>\s*<path d="M10 10', contact_row)
    employee_colour = re.search(r'fill="(#[0-9a-fA-F]{6})"/>\s*<path d="M10 10', employee_row)
    if contact_colour and employee_colour:
        assert contact_colour.group(1) != employee_colour.group(1)


def test_people_search_by_phone_finds_the_contact(login, make_contact):
    make_contact(first_name="Mobil", last_name="Människa", mobile="+46701234567")
    body = text(login("readonly").client.get("/admin/people/?q=070-123 45 67"))
    assert "Mobil Människa" in body
    assert "070-123 45 67" in body


def test_people_search_without_query_lists_nobody(login, make_contact):
    make_contact(first_name="Ingen", last_name="Visas")
    body = login("readonly").client.get("/admin/people/").get_data(as_text=True)
    assert "person-row" not in body


def test_people_search_without_match(login):
    body = text(login("readonly").client.get("/admin/people/?q=zzzz"))
    assert sv("No one matches %(q)s.", q="zzzz") in body


def test_people_search_leaves_out_deleted_contacts(login, session, make_contact, employees):
    gone = make_contact(first_name="Borta", last_name="Personsson")
    trash.delete(session, employees["admin"], Contact, [gone.id])
    session.commit()
    assert "Personsson" not in text(login("readonly").client.get("/admin/people/?q=personsson"))


def test_employee_is_never_listed_as_a_contact(login, session, employees):
    assert session.scalar(select(func.count()).select_from(Contact)) == 0
    body = login("readonly").client.get("/admin/contact/?search=Test").get_data(as_text=True)
    assert not re.search(r'<td class="col-last_name"[ >]', body)  # no rows: employees are not contacts
