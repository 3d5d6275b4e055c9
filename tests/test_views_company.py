"""Företag and Leverantörer through HTTP: the form, duplicates, stale edits,
"Visa som leverantör", quick search and filters, "Radera"."""

import re

import pytest
from sqlalchemy import select

from models import AuditEvent, Company, Contact, NumberSequence
from services import numbering, trash
from tests.helpers import count, field_errors, flashes, fresh, sv, text

STALE = (
    "Someone else has saved changes to this record while you were editing it. "
    "Your changes have not been saved: open the record again to see the latest "
    "version, then make your changes again."
)


def version_of(response) -> str:
    return re.search(r'name="version" type="hidden" value="(\d+)"', response.get_data(as_text=True)).group(1)


COMPANY_FORM = {
    "name": "Svea Kaffe AB",
    "org_number": "556036-0793",
    "country": "SE",
    "status": "active",
    "phone": "08-123 456 78",
    "email": "info@sveakaffe.se",
    "postal_street": "Storgatan 1",
    "postal_postcode": "12345",
    "postal_city": "Stockholm",
    "invoice_language": "sv",
    "discount_percent": "0",
    "payment_terms_days": "30",
    "currency": "SEK",
}


def edit_form_data(company: Company, **changes) -> dict:
    data = {
        "name": company.name,
        "org_number": company.org_number or "",
        "country": company.country,
        "status": company.status,
        "phone": company.phone or "",
        "email": company.email or "",
        "postal_postcode": company.postal_postcode or "",
        "postal_city": company.postal_city or "",
        "invoice_language": company.invoice_language,
        "discount_percent": str(company.discount_percent),
        "payment_terms_days": str(company.payment_terms_days),
        "currency": company.currency,
        "version": str(company.version),
    }
    if company.is_supplier:
        data["is_supplier"] = "y"
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


# --- create ------------------------------------------------------------------------------


def test_create_form_is_shown_to_those_who_may_create(login):
    page = login("seller").client.get("/admin/company/new/")
    assert page.status_code == 200
    assert sv("New company") in text(page)
    for field in ("name", "org_number", "phone", "email", "postal_postcode", "is_supplier"):
        assert f'name="{field}"' in page.get_data(as_text=True)


def test_create_company_through_the_form(login, session, employees):
    seller = login("seller")
    response = seller.post("/admin/company/new/", COMPANY_FORM)
    assert response.status_code == 302, field_errors(response, "org_number")
    company = session.scalars(select(Company)).one()
    assert response.headers["Location"] == f"/admin/company/card/{company.id}"
    assert company.customer_number == numbering.FIRST_CUSTOMER_NUMBER
    assert company.org_number == "5560360793"
    assert company.phone == "+46812345678"
    assert company.email == "info@sveakaffe.se"
    assert company.postal_postcode == "123 45"
    assert company.owner_id == employees["seller"].id  # the creator is the customer owner by default
    assert company.is_supplier is False
    event = session.scalars(select(AuditEvent).where(AuditEvent.entity_id == company.id)).one()
    assert (event.action, event.actor_id) == ("create", employees["seller"].id)

    card = text(seller.client.get(response.headers["Location"]))
    assert "Svea Kaffe AB" in card
    assert str(company.customer_number) in card
    assert "556036-0793" in card  # shown with the dash
    assert "08-123 456 78" in card  # shown Swedish style


def test_new_customer_can_go_straight_on_to_a_sales_opportunity(login, session):
    """FAQ: "När man upprättar en ny kund så kan man samtidigt välja att skapa en ny säljmöjlighet"."""
    seller = login("seller")
    assert "then_new_opportunity" in seller.client.get("/admin/company/new/").get_data(as_text=True)
    response = seller.post("/admin/company/new/", {**COMPANY_FORM, "then_new_opportunity": "y"})
    company = session.scalars(select(Company)).one()
    location = response.headers["Location"]
    assert location.startswith("/admin/opportunity/new/") and f"company_id={company.id}" in location
    form = text(seller.client.get(location))
    assert "Svea Kaffe AB" in form  # the new customer is already chosen
    # Editing never offers it.
    assert "then_new_opportunity" not in seller.client.get(f"/admin/company/edit/?id={company.id}").get_data(
        as_text=True
    )


def test_customer_numbers_from_the_form_increase(login, session):
    seller = login("seller")
    for name in ("Första AB", "Andra AB"):
        assert (
            seller.post(
                "/admin/company/new/",
                {"name": name, "country": "SE", "discount_percent": "0", "payment_terms_days": "30"},
            ).status_code
            == 302
        )
    numbers = session.scalars(select(Company.customer_number).order_by(Company.id)).all()
    assert numbers == [numbering.FIRST_CUSTOMER_NUMBER, numbering.FIRST_CUSTOMER_NUMBER + 1]


def test_create_with_customer_owner_and_foreign_org_number(login, session, employees):
    response = login("admin").post(
        "/admin/company/new/",
        {
            **COMPANY_FORM,
            "name": "Nordic Parts GmbH",
            "country": "DE",
            "org_number": "HRB 12345",
            "phone": "030 1234567",
            "postal_postcode": "20095",
            "owner": str(employees["seller"].id),
        },
    )
    assert response.status_code == 302
    company = session.scalars(select(Company)).one()
    assert (company.org_number, company.phone, company.postal_postcode) == ("HRB 12345", "+49301234567", "20095")
    assert company.owner_id == employees["seller"].id


@pytest.mark.parametrize(
    "field, value, message",
    [
        (
            "org_number",
            "556036-0794",
            ("The organisation number %(value)s has a wrong check digit.", {"value": "556036-0794"}),
        ),
        ("org_number", "12345", ("The organisation number must be ten digits, NNNNNN-NNNN.", {})),
        ("phone", "08-1", ("The phone number %(value)s does not exist.", {"value": "08-1"})),
        ("phone", "ring oss", ("This is not a phone number.", {})),
        ("email", "info@", ("This is not a valid e-mail address.", {})),
        ("postal_postcode", "1234", ("A Swedish postcode has five digits, NNN NN.", {})),
        ("visit_postcode", "ABCDE", ("A Swedish postcode has five digits, NNN NN.", {})),
        ("vat_number", "SE123", ("A Swedish VAT number is SE followed by twelve digits (SE556036079301).", {})),
    ],
)
def test_invalid_input_shows_the_swedish_message_next_to_the_field_and_saves_nothing(
    login, session, field, value, message
):
    response = login("seller").post("/admin/company/new/", {**COMPANY_FORM, field: value})
    assert response.status_code == 200
    assert field_errors(response, field) == [sv(message[0], **message[1])]
    assert f'value="{value}"' in response.get_data(as_text=True)  # what was typed is kept
    assert count(session, Company) == 0
    assert count(session, AuditEvent, AuditEvent.entity_type == "company") == 0
    assert session.get(NumberSequence, numbering.CUSTOMER_SEQUENCE) is None  # no number used up


def test_several_invalid_fields_are_all_marked(login, session):
    response = login("seller").post(
        "/admin/company/new/", {**COMPANY_FORM, "org_number": "1", "phone": "1", "email": "x", "postal_postcode": "1"}
    )
    assert response.status_code == 200
    for field in ("org_number", "phone", "email", "postal_postcode"):
        assert field_errors(response, field), field
    assert count(session, Company) == 0


def test_company_name_is_required(login, session):
    response = login("seller").post("/admin/company/new/", {**COMPANY_FORM, "name": ""})
    assert response.status_code == 200
    assert field_errors(response, "name")
    assert count(session, Company) == 0


def test_duplicate_org_number_is_refused_with_a_link_to_the_existing_company(login, session, make_company):
    existing = make_company(name="Redan Här AB", org_number="5560360793")
    response = login("seller").post("/admin/company/new/", {**COMPANY_FORM, "org_number": "5560360793"})
    assert response.status_code == 200
    [error] = field_errors(response, "org_number")
    assert error == sv(
        "%(link)s (customer no. %(number)s) already has this organisation number.",
        link="Redan Här AB",
        number=existing.customer_number,
    )
    assert f'<a href="/admin/company/card/{existing.id}">Redan Här AB</a>' in response.get_data(as_text=True)
    assert count(session, Company) == 1


def test_duplicate_of_a_company_in_the_trash_points_to_restoring_it(login, session, make_company, employees):
    existing = make_company(name="Raderad & Co AB", org_number="5560360793")
    trash.delete(session, employees["admin"], Company, [existing.id])
    session.commit()
    response = login("seller").post("/admin/company/new/", {**COMPANY_FORM, "org_number": "556036-0793"})
    assert response.status_code == 200
    [error] = field_errors(response, "org_number")
    assert error == sv(
        "%(name)s (customer no. %(number)s) already has this organisation number "
        "and is in the trash: restore it under Administration – Restore customers.",
        name="Raderad & Co AB",
        number=existing.customer_number,
    )
    assert "<script" not in response.get_data(as_text=True).split('id="org_number"')[1][:600]
    assert count(session, Company) == 1


def test_a_company_keeps_its_own_org_number_on_edit(login, session, make_company):
    company = make_company(name="Eget Nummer AB", org_number="5560360793")
    response = login("seller").post(
        f"/admin/company/edit/?id={company.id}", edit_form_data(company, name="Eget Nummer Två AB")
    )
    assert response.status_code == 302, field_errors(response, "org_number")
    assert fresh(session, Company, company.id).name == "Eget Nummer Två AB"


def test_edit_to_another_companys_org_number_is_refused(login, session, make_company):
    make_company(name="Första AB", org_number="5560360793")
    second = make_company(name="Andra AB", org_number="5567037485")
    response = login("seller").post(
        f"/admin/company/edit/?id={second.id}", edit_form_data(second, org_number="556036-0793")
    )
    assert response.status_code == 200
    assert field_errors(response, "org_number")[0].startswith("Första AB (")
    assert fresh(session, Company, second.id).org_number == "5567037485"


def test_a_company_sharing_its_unchanged_org_number_with_another_is_saved(login, session, make_company):
    """The rule is checked when the number is set or changed: a company keeps the number it has, though a
    duplicate from before (the demo data's Dalarnas Måleri, or one an undone merge gave back) has it too."""
    make_company(name="Dalarnas Måleri i Uppsala", org_number="5584520596")
    company = make_company(name="Dalarnas Måleri AB", org_number="5584520596")
    response = login("seller").post(
        f"/admin/company/edit/?id={company.id}", edit_form_data(company, note="Ring efter lunch")
    )
    assert response.status_code == 302, field_errors(response, "org_number")
    assert fresh(session, Company, company.id).note == "Ring efter lunch"


def test_after_a_merge_the_kept_company_is_saved_and_restoring_the_merged_one_is_not_advised(
    login, session, make_company, employees
):
    from services import merge

    keep = make_company(name="Dalarnas Måleri AB", org_number="5584520596")
    merged = make_company(name="Dalarnas Måleri i Uppsala", org_number="5584520596")
    other = make_company(name="Annat Nummer AB", org_number="5567037485")
    gone = make_company(name="Sammanslagen Två AB", org_number="5560360793")
    merge.merge(session, employees["admin"], "company", keep.id, merged.id)
    merge.merge(session, employees["admin"], "company", other.id, gone.id, {"org_number": merge.KEEP})
    session.commit()
    client = login("seller")
    keep = fresh(session, Company, keep.id)
    response = client.post(f"/admin/company/edit/?id={keep.id}", edit_form_data(keep, note="Efter sammanslagningen"))
    assert response.status_code == 302, field_errors(response, "org_number")
    assert fresh(session, Company, keep.id).note == "Efter sammanslagningen"
    # a number only a merged-away company has is free: no "restore it" advice
    other = fresh(session, Company, other.id)
    response = client.post(f"/admin/company/edit/?id={other.id}", edit_form_data(other, org_number="556036-0793"))
    assert response.status_code == 302, field_errors(response, "org_number")
    assert fresh(session, Company, other.id).org_number == "5560360793"
    assert fresh(session, Company, merged.id).is_deleted and fresh(session, Company, gone.id).is_deleted


def test_readonly_and_finance_cannot_create(login, session):
    for role in ("readonly", "finance"):
        client = login(role)
        assert client.client.get("/admin/company/new/").status_code == 403
        assert client.post("/admin/company/new/", COMPANY_FORM).status_code == 403
    assert count(session, Company) == 0


# --- edit and stale edits ---------------------------------------------------------------


def test_edit_form_shows_stored_values_the_swedish_way(login, make_company):
    company = make_company(org_number="5560360793", phone="+46701234567")
    page = login("seller").client.get(f"/admin/company/edit/?id={company.id}")
    assert page.status_code == 200
    body = page.get_data(as_text=True)
    assert 'value="556036-0793"' in body
    assert 'value="070-123 45 67"' in body
    assert version_of(page) == str(company.version)


def test_edit_through_the_form_records_old_and_new(login, session, make_company, employees):
    company = make_company(name="Före AB", phone="+46812345678")
    finance = login("finance")
    response = finance.post(
        f"/admin/company/edit/?id={company.id}",
        edit_form_data(company, name="Efter AB", phone="070-123 45 67", org_number=""),
    )
    assert response.status_code == 302
    stored = fresh(session, Company, company.id)
    assert (stored.name, stored.phone) == ("Efter AB", "+46701234567")
    event = session.scalars(select(AuditEvent).where(AuditEvent.action == "update")).one()
    assert event.actor_id == employees["finance"].id
    assert event.changes["name"] == ["Före AB", "Efter AB"]
    assert event.changes["phone"] == ["+46812345678", "+46701234567"]


def test_stale_edit_is_refused_and_nothing_is_overwritten(login, session, make_company):
    company = make_company(name="Original AB", postal_city="Uppsala")
    seller = login("seller")
    form_page = seller.client.get(f"/admin/company/edit/?id={company.id}")
    old_version = version_of(form_page)

    # Someone else saves first.
    other = login("admin")
    first = other.post(
        f"/admin/company/edit/?id={company.id}", edit_form_data(company, name="Kollegans Namn AB", version=old_version)
    )
    assert first.status_code == 302
    assert fresh(session, Company, company.id).version != int(old_version)

    # The seller's edit, made from the old version, is refused.
    response = seller.post(
        f"/admin/company/edit/?id={company.id}",
        edit_form_data(company, name="Mitt Namn AB", postal_city="Lund", version=old_version),
    )
    assert response.status_code == 200
    assert sv(STALE) in text(response)
    stored = fresh(session, Company, company.id)
    assert (stored.name, stored.postal_city) == ("Kollegans Namn AB", "Uppsala")
    assert len(session.scalars(select(AuditEvent).where(AuditEvent.action == "update")).all()) == 1


def test_edit_posted_without_a_version_is_refused(login, session, make_company):
    company = make_company(name="Original AB")
    data = edit_form_data(company, name="Utan Version AB")
    data.pop("version", None)
    response = login("seller").post(f"/admin/company/edit/?id={company.id}", data)
    assert sv(STALE) in text(response)
    assert fresh(session, Company, company.id).name == "Original AB"


# --- suppliers --------------------------------------------------------------------------


def test_show_as_supplier_through_the_form(login, session, make_company):
    company = make_company(name="Blivande Leverantör AB")
    seller = login("seller")
    response = seller.post(f"/admin/company/edit/?id={company.id}", edit_form_data(company, is_supplier="y"))
    assert response.status_code == 302
    assert fresh(session, Company, company.id).is_supplier is True
    assert "Blivande Leverantör AB" in text(seller.client.get("/admin/supplier/"))

    # Unticking it again.
    data = edit_form_data(fresh(session, Company, company.id))
    del data["is_supplier"]
    assert seller.post(f"/admin/company/edit/?id={company.id}", data).status_code == 302
    assert fresh(session, Company, company.id).is_supplier is False


def test_show_and_hide_as_supplier_list_actions(login, session, make_company):
    a, b, c = make_company(name="A AB"), make_company(name="B AB"), make_company(name="C AB")
    seller = login("seller")
    response = seller.post("/admin/company/action/", {"action": "show_as_supplier", "rowid": [str(a.id), str(b.id)]})
    assert response.status_code == 302
    session.expire_all()
    assert [
        x.is_supplier for x in (session.get(Company, a.id), session.get(Company, b.id), session.get(Company, c.id))
    ] == [True, True, False]
    [(category, message)] = flashes(seller.client.get("/admin/company/"))
    assert category == "success" and "2" in message

    seller.post("/admin/company/action/", {"action": "hide_as_supplier", "rowid": [str(a.id)]})
    assert fresh(session, Company, a.id).is_supplier is False


def test_supplier_action_needs_edit_permission(login, session, make_company):
    company = make_company()
    response = login("readonly").post(
        "/admin/company/action/", {"action": "show_as_supplier", "rowid": [str(company.id)]}
    )
    assert response.status_code in (302, 403)
    assert fresh(session, Company, company.id).is_supplier is False


def test_supplier_list_shows_only_suppliers(login, make_company):
    make_company(name="Vanlig Kund AB")
    make_company(name="Leverantören AB", is_supplier=True)
    page = text(login("readonly").client.get("/admin/supplier/"))
    assert "Leverantören AB" in page
    assert "Vanlig Kund AB" not in page
    companies = text(login("readonly").client.get("/admin/company/"))
    assert "Leverantören AB" in companies and "Vanlig Kund AB" in companies


def test_new_supplier_form_has_the_supplier_box_ticked(login):
    page = login("seller").client.get("/admin/supplier/new/").get_data(as_text=True)
    box = re.search(r'<input[^>]*name="is_supplier"[^>]*>', page).group(0)
    assert "checked" in box


# --- list, quick search, filters ----------------------------------------------------------


@pytest.fixture
def listed(make_company, employees):
    return {
        "svea": make_company(
            name="Svea Kaffe AB",
            org_number="5560360793",
            phone="+46812345678",
            postal_city="Stockholm",
            owner=employees["seller"],
        ),
        "ostgota": make_company(
            name="Östgöta Fastigheter AB", email="kontor@ostgota.se", postal_city="Linköping", owner=employees["admin"]
        ),
        "malmo": make_company(name="Malmö Cykelverkstad AB", postal_city="Malmö", owner=employees["seller"]),
    }


def listed_names(response, candidates) -> set[str]:
    page = text(response)
    return {name for name in candidates if name in page}


ALL = {"Svea Kaffe AB", "Östgöta Fastigheter AB", "Malmö Cykelverkstad AB"}


@pytest.mark.parametrize(
    "query, expected",
    [
        ("kaffe", {"Svea Kaffe AB"}),
        ("556036-0793", {"Svea Kaffe AB"}),
        ("5560360793", {"Svea Kaffe AB"}),
        ("08-123 456 78", {"Svea Kaffe AB"}),
        ("kontor@ostgota.se", {"Östgöta Fastigheter AB"}),
        ("ÖSTGÖTA", {"Östgöta Fastigheter AB"}),
        ("malmö", {"Malmö Cykelverkstad AB"}),
        ("AB stockholm", {"Svea Kaffe AB"}),
        ("finnsinte", set()),
    ],
)
def test_quick_search_on_the_company_list(login, listed, query, expected):
    response = login("readonly").client.get("/admin/company/", query_string={"search": query})
    assert response.status_code == 200
    assert listed_names(response, ALL) == expected


def test_quick_search_by_customer_number(login, listed):
    number = listed["malmo"].customer_number
    response = login("readonly").client.get(f"/admin/company/?search={number}")
    assert listed_names(response, ALL) == {"Malmö Cykelverkstad AB"}


def test_customer_owner_filter(login, listed, employees):
    client = login("seller").client
    mine = client.get(f"/admin/company/?flt0_0={employees['seller'].id}")
    assert mine.status_code == 200
    assert listed_names(mine, ALL) == {"Svea Kaffe AB", "Malmö Cykelverkstad AB"}
    theirs = client.get(f"/admin/company/?flt0_0={employees['admin'].id}")
    assert listed_names(theirs, ALL) == {"Östgöta Fastigheter AB"}
    both = client.get(f"/admin/company/?flt0_0={employees['seller'].id}&search=malmö")
    assert listed_names(both, ALL) == {"Malmö Cykelverkstad AB"}


def test_customer_owner_filter_offers_employees_by_name(login, listed, employees):
    page = text(login("seller").client.get("/admin/company/"))
    assert sv("Customer owner") in page
    assert "Test Seller" in page


def test_list_shows_formatted_numbers(login, listed):
    page = text(login("readonly").client.get("/admin/company/"))
    assert "556036-0793" in page
    assert "08-123 456 78" in page
    assert str(listed["svea"].customer_number) in page


# --- Radera ----------------------------------------------------------------------------------


@pytest.fixture
def doomed(make_company, make_contact):
    company = make_company(name="Raderas Snart AB", org_number="5560360793")
    contact = make_contact(first_name="Karin", last_name="Kvarstående", companies=[company], role="VD")
    return company, contact


def assert_gone_everywhere(client, company, contact):
    assert "Raderas Snart AB" not in text(client.get("/admin/company/"))
    assert "Raderas Snart AB" not in text(client.get("/admin/company/?search=raderas"))
    assert "Raderas Snart AB" not in text(client.get("/admin/company/?search=5560360793"))
    results = client.get("/admin/contact/search.json?q=Kvarstående").get_json()
    assert [r["id"] for r in results] == [contact.id]  # the contact stays …
    assert "Raderas Snart AB" not in results[0]["companies"]  # … without the deleted company
    assert client.get(f"/admin/company/card/{company.id}").status_code == 404
    assert client.get(f"/admin/company/edit/?id={company.id}").status_code in (302, 404)


def test_delete_list_action_moves_to_the_trash(login, session, doomed, employees):
    company, contact = doomed
    seller = login("seller")
    response = seller.post("/admin/company/action/", {"action": "delete", "rowid": [str(company.id)]})
    assert response.status_code == 302
    stored = fresh(session, Company, company.id)
    assert stored.is_deleted and stored.deleted_by_id == employees["seller"].id
    [(category, message)] = flashes(seller.client.get("/admin/company/"))
    assert category == "success" and "1" in message and "papperskorgen" in message
    assert_gone_everywhere(seller.client, company, contact)
    # Links and contact are kept for a restore.
    assert [link.contact_id for link in stored.contact_links] == [contact.id]
    assert fresh(session, Contact, contact.id).is_deleted is False


def test_delete_view_moves_to_the_trash(login, session, doomed):
    company, contact = doomed
    seller = login("seller")
    response = seller.post("/admin/company/delete/", {"id": str(company.id), "url": "/admin/company/"})
    assert response.status_code == 302
    assert fresh(session, Company, company.id).is_deleted
    assert_gone_everywhere(seller.client, company, contact)


def test_delete_action_of_several_companies(login, session, make_company):
    rows = [make_company() for _ in range(3)]
    login("admin").post("/admin/company/action/", {"action": "delete", "rowid": [str(r.id) for r in rows[:2]]})
    session.expire_all()
    assert [session.get(Company, r.id).is_deleted for r in rows] == [True, True, False]


@pytest.mark.parametrize("role", ["finance", "readonly"])
def test_delete_needs_the_delete_permission(login, session, doomed, role):
    company, _ = doomed
    client = login(role)
    assert client.post("/admin/company/action/", {"action": "delete", "rowid": [str(company.id)]}).status_code in (
        302,
        403,
    )
    assert client.post("/admin/company/delete/", {"id": str(company.id)}).status_code == 403
    assert fresh(session, Company, company.id).is_deleted is False


def test_delete_button_only_for_those_who_may_delete(login, make_company):
    make_company()
    assert 'id="delete-selected"' in login("seller").client.get("/admin/company/").get_data(as_text=True)
    assert 'id="delete-selected"' not in login("finance").client.get("/admin/company/").get_data(as_text=True)


def test_deleted_supplier_leaves_the_supplier_list(login, session, make_company):
    company = make_company(name="Borttagen Leverantör AB", is_supplier=True)
    seller = login("seller")
    seller.post("/admin/supplier/action/", {"action": "delete", "rowid": [str(company.id)]})
    assert fresh(session, Company, company.id).is_deleted
    assert "Borttagen Leverantör AB" not in text(seller.client.get("/admin/supplier/"))


# --- card ----------------------------------------------------------------------------------


def test_card_of_a_live_company(login, make_company, make_contact):
    company = make_company(name="Kortet AB", org_number="5560360793")
    make_contact(first_name="Per", last_name="Persson", companies=[company], role="VD")
    page = login("readonly").client.get(f"/admin/company/card/{company.id}?tab=contacts")
    assert page.status_code == 200
    body = text(page)
    assert "Kortet AB" in body and "Per Persson" in body and "VD" in body
    assert str(company.customer_number) in body


def test_card_of_an_unknown_company_is_404(login):
    response = login("readonly").client.get("/admin/company/card/999999")
    assert response.status_code == 404
    assert sv("The page or record does not exist (it may have been deleted).") in text(response)
