"""Leads and "Konvertera till kund" (issue 5, slice 2): services.leads
(duplicates; the conversion carries everything over, once, in one transaction)
and the Leads screens with their permissions."""

import pytest

from extensions import db
from models import Activity, Category, Company, CompanyContact, Contact, Lead
from services import activities, leads
from services.validation import InvalidValue
from tests.helpers import count, flashes, fresh, sv, text


@pytest.fixture
def categories(app):
    rows = [
        Category(name="A-kund", applies_to="company"),
        Category(name="Nyhetsbrev", applies_to="both"),
        Category(name="Mässkontakt", applies_to="contact"),
    ]
    db.session.add_all(rows)
    db.session.commit()
    return rows


@pytest.fixture
def lead(employees, categories):
    row = Lead(
        company_name="Ystads Rökeri AB",
        org_number="5560360793",
        contact_first_name="Sofia",
        contact_last_name="Berg",
        contact_title="Ägare",
        contact_phone="+46701234567",
        contact_email="sofia@ystadsrokeri.se",
        source="Mässa",
        status="qualified",
        owner=employees["seller"],
        note="Vill ha offert i mars.",
        categories=categories,
    )
    db.session.add(row)
    db.session.commit()
    return row


# --- services.leads --------------------------------------------------------------------


def test_conversion_carries_everything_over(lead, employees, categories):
    call = activities.create(db.session, employees["seller"], kind="call", subject="Första samtal", lead_id=lead.id)
    db.session.commit()
    company = leads.convert(db.session, employees["admin"], lead)
    db.session.commit()

    company = fresh(db.session, Company, company.id)
    assert company.customer_number is not None
    assert (company.name, company.org_number, company.note) == (
        "Ystads Rökeri AB",
        "5560360793",
        "Vill ha offert i mars.",
    )
    assert company.owner_id == employees["seller"].id  # the lead's owner, not who converted it
    assert {c.name for c in company.categories} == {"A-kund", "Nyhetsbrev"}
    (contact,) = company.contacts
    assert (contact.name, contact.title, contact.email, contact.phone) == (
        "Sofia Berg",
        "Ägare",
        "sofia@ystadsrokeri.se",
        "+46701234567",
    )
    assert {c.name for c in contact.categories} == {"Nyhetsbrev", "Mässkontakt"}
    call = fresh(db.session, Activity, call.id)
    assert (call.company_id, call.contact_id, call.lead_id) == (company.id, contact.id, lead.id)
    lead = fresh(db.session, Lead, lead.id)
    assert (lead.status, lead.company_id, lead.contact_id) == ("converted", company.id, contact.id)
    assert lead.converted_at is not None


def test_converting_twice_is_impossible(lead, employees):
    leads.convert(db.session, employees["seller"], lead)
    db.session.commit()
    with pytest.raises(InvalidValue):
        leads.convert(db.session, employees["seller"], lead)
    db.session.rollback()
    assert count(db.session, Company) == 1


def test_a_refused_conversion_writes_nothing(lead, employees, make_company):
    make_company(name="Redan Kund AB", org_number="5560360793")
    with pytest.raises(InvalidValue):
        leads.convert(db.session, employees["seller"], lead)
    db.session.rollback()
    assert count(db.session, Company) == 1 and count(db.session, Contact) == 0
    assert fresh(db.session, Lead, lead.id).status == "qualified"


def test_a_lead_without_contact_person_becomes_a_company_only(employees):
    row = Lead(company_name="Bara Bolag AB", status="new")
    db.session.add(row)
    db.session.commit()
    company = leads.convert(db.session, employees["seller"], row)
    db.session.commit()
    assert company.owner_id == employees["seller"].id
    assert count(db.session, Contact) == 0 and count(db.session, CompanyContact) == 0


def test_duplicates_by_org_number_or_email(lead, make_company, make_contact):
    other = Lead(company_name="Ystad Rökeri (gammal)", contact_email="SOFIA@ystadsrokeri.se")
    db.session.add(other)
    db.session.commit()
    company = make_company(name="Rökeriet AB", org_number="5560360793")
    contact = make_contact(email="sofia@ystadsrokeri.se")
    found = {(d.kind, d.record.id, d.field) for d in leads.duplicates(db.session, lead)}
    assert found == {
        ("lead", other.id, "email"),
        ("company", company.id, "org_number"),
        ("contact", contact.id, "email"),
    }
    assert leads.duplicates(db.session, Lead(company_name="Ny AB", org_number="5566778899")) == []


def test_a_lead_merged_into_another_is_not_its_duplicate(lead, employees):
    """Issue 18: after a merge the kept lead's page does not warn of the lead merged into it (it is that lead
    now); undone, the two are duplicates again."""
    from services import merge

    twin = Lead(company_name=lead.company_name + " Aktiebolag", contact_email=lead.contact_email, status="new")
    db.session.add(twin)
    db.session.commit()
    assert [(d.kind, d.record.id) for d in leads.duplicates(db.session, lead)] == [("lead", twin.id)]
    record = merge.merge(db.session, employees["admin"], "lead", lead.id, twin.id)
    db.session.commit()
    assert leads.duplicates(db.session, fresh(db.session, Lead, lead.id)) == []
    merge.undo(db.session, employees["admin"], record.id)
    db.session.commit()
    assert [(d.kind, d.record.id) for d in leads.duplicates(db.session, fresh(db.session, Lead, lead.id))] == [
        ("lead", twin.id)
    ]


def test_mass_conversion_converts_what_it_can(lead, employees):
    done = Lead(company_name="Redan Konverterad AB", status="converted")
    fresh_lead = Lead(company_name="Nytt Bolag AB")
    db.session.add_all([done, fresh_lead])
    db.session.commit()
    converted, refused, taken_over = leads.convert_many(db.session, employees["seller"], [lead, done, fresh_lead])
    db.session.commit()
    assert [c.name for c in converted] == ["Ystads Rökeri AB", "Nytt Bolag AB"]
    assert len(refused) == 1 and "Redan Konverterad AB" in refused[0]
    assert taken_over == []  # the owners are active (or there is none): nobody's customer went to the seller


def test_demo_has_leads_in_every_status(demo):
    statuses = set(demo.scalars(db.select(Lead.status)))
    assert statuses == set(Lead.STATUSES) - {"merged"}  # a merge (services.merge) gives that one
    converted = demo.scalars(db.select(Lead).where(Lead.status == "converted")).one()
    assert converted.company is not None and converted.company.customer_number


# --- the screens -----------------------------------------------------------------------


def test_seller_creates_a_lead_and_is_warned_of_a_duplicate(login, make_company, employees):
    existing = make_company(name="Finns Redan AB", org_number="5560360793")
    seller = login("seller")
    form = {
        "company_name": "Nytt Lead AB",
        "org_number": "556036-0793",
        "contact_first_name": "Per",
        "contact_last_name": "Ek",
        "contact_email": "per@nytt.se",
        "status": "new",
        "source": "Mässa",
    }
    # before saving: the likely duplicate is pointed out with a link, and nothing is saved yet
    first = seller.post("/admin/lead/new/", form)
    assert first.status_code == 200 and db.session.scalar(db.select(Lead)) is None
    [before] = [m for category, m in flashes(first) if category == "warning"]
    assert "Finns Redan AB" in before and sv("same organisation number") in before
    assert f'href="/admin/company/card/{existing.id}"' in first.get_data(as_text=True)
    assert sv("Save anyway: it is not one of the records above") in text(first)
    # saved anyway: the lead keeps the warning on its form
    response = seller.post("/admin/lead/new/", {**form, "save_anyway": "y"}, follow_redirects=True)
    lead = db.session.scalar(db.select(Lead))
    assert lead.org_number == "5560360793" and lead.owner_id == employees["seller"].id
    warnings = [m for category, m in flashes(response) if category == "warning"]
    assert warnings and "Finns Redan AB" in warnings[0]
    assert sv("Possible duplicate: the same organisation number or e-mail is already in the register.") in warnings[0]


def test_convert_button_converts_and_opens_the_card(login, lead):
    seller = login("seller")
    page = text(seller.client.get(f"/admin/lead/edit/?id={lead.id}"))
    assert sv("Convert to customer") in page
    response = seller.post(f"/admin/lead/convert/{lead.id}")
    company = db.session.scalar(db.select(Company))
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/admin/company/card/{company.id}")
    response = seller.post(f"/admin/lead/convert/{lead.id}", follow_redirects=True)
    assert ("danger", sv("%(name)s is already converted to a customer.", name=lead.company_name)) in flashes(response)
    assert count(db.session, Company) == 1
    assert (
        sv("Convert to customer")
        not in text(seller.client.get(f"/admin/lead/edit/?id={lead.id}")).split("<form", 2)[1][:300]
    )


def test_mass_conversion_as_list_action(login, lead):
    other = Lead(company_name="Andra Bolaget AB")
    db.session.add(other)
    db.session.commit()
    response = login("seller").post(
        "/admin/lead/action/", {"action": "convert", "rowid": [str(lead.id), str(other.id)]}, follow_redirects=True
    )
    assert response.status_code == 200
    assert count(db.session, Company) == 2
    assert count(db.session, Lead, Lead.status == "converted") == 2


def test_readonly_sees_leads_but_cannot_convert(login, lead):
    readonly = login("readonly")
    assert "Ystads Rökeri AB" in text(readonly.client.get("/admin/lead/"))
    assert readonly.post(f"/admin/lead/convert/{lead.id}").status_code == 403
    readonly.post("/admin/lead/action/", {"action": "convert", "rowid": str(lead.id)})
    assert count(db.session, Company) == 0


def test_lead_list_filters_and_search(login, lead):
    db.session.add(Lead(company_name="Annat Lead AB", status="new"))
    db.session.commit()
    client = login("seller").client
    by_status = text(client.get("/admin/lead/?flt0_1=qualified"))
    assert "Ystads Rökeri AB" in by_status and "Annat Lead AB" not in by_status
    searched = text(client.get("/admin/lead/?search=sofia"))
    assert "Ystads Rökeri AB" in searched and "Annat Lead AB" not in searched
