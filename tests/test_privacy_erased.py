"""An erased person's record stays anonymised (services.privacy.ErasedRecord): no path puts personal
data back into it, for anyone, administrators too: the edit forms, the card, the API, an import,
Ändra flera, a merge, a lead's conversion. Each test checks by query that the record still holds the
anonymised values, and the Swedish reason the user is given."""

import re
from datetime import date

import pytest
from sqlalchemy import select

from helpers import flashes, fresh, sv, svn, text
from models import (
    Activity,
    CallList,
    Company,
    CompanyContact,
    Contact,
    CustomFieldDefinition,
    CustomTab,
    Lead,
    MassUpdate,
    Opportunity,
)
from services import leads, mass_update, merge, numbering, privacy, storage, tasks, trash
from services.importing import jobs
from tests.test_api import as_role, keys, openapi, problem_of  # noqa: F401  (the API's fixtures)
from tests.test_import_service import actor, error_messages, make_job, run  # noqa: F401  (the import's fixtures)
from tests.test_messaging import sms_gateway, smtp  # noqa: F401  (a real SMTP server and SMS service)

TODAY = date(2026, 12, 5)
READ_ONLY = (
    "This person's data has been erased (GDPR). The anonymised record can no longer be changed, "
    "so that no personal data is put back into it."
)
LEFT_OUT = (
    "%(num)s of the records was left unchanged: an erased person's record is read-only (GDPR).",
    "%(num)s of the records were left unchanged: erased persons' records are read-only (GDPR).",
)
#: An erased contact's name, e-mail, phone, personnummer and note.
ANONYMISED = (privacy.ANONYMOUS_FIRST_NAME, privacy.ANONYMOUS_LAST_NAME, None, None, None, None)
#: The personal data a user would type back.
WILMA = {"first_name": "Wilma", "last_name": "Zebrowska", "email": "wilma@example.se", "phone": "070-123 45 67"}


@pytest.fixture
def store(app):
    return storage.from_config(app.config)


def erase(session, store, admin, kind: str, record_id: int) -> None:
    privacy.erase(session, store, admin, privacy.find_subject(session, kind, record_id), TODAY)
    session.commit()


@pytest.fixture
def erased(session, employees, make_contact, store) -> Contact:
    """Wilma Zebrowska, a private customer, erased (her customer number stays, for her invoices)."""
    contact = make_contact(**WILMA, personal_number="19121212-1212", note="Ring på fredagar")
    numbering.make_private_customer(session, contact)
    session.commit()
    erase(session, store, employees["admin"], "contact", contact.id)
    return fresh(session, Contact, contact.id)


@pytest.fixture
def erased_lead(session, employees, store) -> Lead:
    lead = Lead(
        company_name="Nyföretag AB", org_number="5560360793", contact_first_name="Ivar", contact_last_name="Qvist"
    )
    session.add(lead)
    session.commit()
    erase(session, store, employees["admin"], "lead", lead.id)
    return fresh(session, Lead, lead.id)


def anonymised(session, contact_id: int) -> tuple:
    """The contact's personal fields as the database has them now."""
    c = fresh(session, Contact, contact_id)
    return (c.first_name, c.last_name, c.email, c.phone, c.personal_number, c.note)


def lead_person(session, lead_id: int) -> tuple:
    lead = fresh(session, Lead, lead_id)
    return (lead.contact_first_name, lead.contact_last_name, lead.contact_email, lead.status)


# --- the rule, in the service layer ---------------------------------------------------------------


def test_no_orm_write_reaches_an_erased_record(session, erased, erased_lead):
    """The one guard: a column set on the record by any code is refused at the flush, nothing written."""
    assert anonymised(session, erased.id) == ANONYMISED
    erased.first_name, erased.email = "Wilma", "wilma@example.se"
    with pytest.raises(privacy.ErasedRecord) as refused:
        session.commit()
    assert str(refused.value) == sv(READ_ONLY)
    assert (refused.value.kind, refused.value.record_id) == ("contact", erased.id)
    session.rollback()
    assert anonymised(session, erased.id) == ANONYMISED
    fresh(session, Lead, erased_lead.id).contact_last_name = "Qvist"
    with pytest.raises(privacy.ErasedRecord):
        session.commit()
    session.rollback()
    assert lead_person(session, erased_lead.id) == (None, None, None, "new")


def test_no_company_link_is_added_to_an_erased_contact(session, erased, make_company):
    company = make_company(name="Arbetsgivaren AB")
    session.add(CompanyContact(company_id=company.id, contact_id=erased.id, role="VD"))
    with pytest.raises(privacy.ErasedRecord):
        session.commit()
    session.rollback()
    assert not session.scalars(select(CompanyContact)).all()


def test_the_trash_still_takes_an_erased_record_and_gives_it_back(session, employees, erased):
    admin = employees["admin"]
    trash.delete(session, admin, Contact, [erased.id])
    session.commit()
    assert fresh(session, Contact, erased.id).is_deleted
    trash.restore(session, admin, Contact, [erased.id])
    session.commit()
    assert not fresh(session, Contact, erased.id).is_deleted and anonymised(session, erased.id) == ANONYMISED


# --- the API --------------------------------------------------------------------------------------


def test_the_api_refuses_to_change_an_erased_record(as_role, session, erased, erased_lead):  # noqa: F811
    """422 (a rule broken, as the API answers any), with the reason; nothing saved."""
    api = as_role("admin")
    body = {"version": erased.version, "first_name": "Wilma", "email": "wilma@example.se"}
    assert problem_of(api.patch(f"/api/v1/contacts/{erased.id}", body), 422)["detail"] == sv(READ_ONLY)
    lead = {"version": erased_lead.version, "contact_last_name": "Qvist", "contact_email": "ivar@qvist.se"}
    assert problem_of(api.patch(f"/api/v1/leads/{erased_lead.id}", lead), 422)["detail"] == sv(READ_ONLY)
    assert anonymised(session, erased.id) == ANONYMISED
    assert lead_person(session, erased_lead.id) == (None, None, None, "new")


def test_the_api_sets_no_custom_field_on_an_erased_contact(as_role, session, erased):  # noqa: F811
    tab = CustomTab(applies_to="contact", name="Övrigt")
    session.add(tab)
    session.flush()
    field = CustomFieldDefinition(tab_id=tab.id, label="Allergier", field_type="text")
    session.add(field)
    session.commit()
    response = as_role("admin").patch(
        f"/api/v1/contacts/{erased.id}/custom-fields", {"values": {str(field.id): "Nötter"}}
    )
    assert problem_of(response, 422)["detail"] == sv(READ_ONLY)
    values = as_role("admin").get(f"/api/v1/contacts/{erased.id}/custom-fields").get_json()["items"]
    assert [v["value"] for v in values] == [None]


# --- the forms and the card -----------------------------------------------------------------------


def test_the_card_s_tabs_and_actions_save_nothing_on_an_erased_contact(login, session, erased, make_company):
    """Posted anyway (a page opened before the erasure): the settings tab and a company's «Koppla
    existerande kontakt» are refused with the reason; no 500, nothing saved."""
    admin = login("admin")
    settings = {
        "invoice_language": "en",
        "discount_percent": "10",
        "payment_terms_days": "10",
        "currency": "EUR",
        "version": str(erased.version),
    }
    company = make_company(name="Arbetsgivaren AB")
    for url, data in (
        (f"/admin/contact/card/{erased.id}/settings", settings),
        (f"/admin/company/card/{company.id}/link-contacts", {"contact_id": str(erased.id), "role": "VD"}),
    ):
        response = admin.post(url, data, follow_redirects=True)
        assert response.status_code == 200 and sv(READ_ONLY) in [m for _c, m in flashes(response)], url
    after = fresh(session, Contact, erased.id)
    assert (after.invoice_language, after.currency, after.payment_terms_days) == ("sv", "SEK", 30)
    assert not session.scalars(select(CompanyContact)).all()


def test_no_new_row_about_an_erased_person_is_added(login, as_role, session, erased, erased_lead):  # noqa: F811
    """New data about an erased person (a call noted with their name and number) is refused on the card, the
    API and the services alike; the card offers none of it. What was there stays (the rule's other tests)."""
    admin = login("admin")
    card = text(admin.client.get(f"/admin/contact/card/{erased.id}"))
    for action in ("New activity", "Create e-mail", "Send SMS"):
        assert sv(action) not in card, action
    tab = admin.client.get(f"/admin/contact/card/{erased.id}/tab/activities")
    assert f"/admin/contact/card/{erased.id}/activities" not in text(tab)
    call = {"kind": "call", "subject": "Ringde Wilma Zebrowska 070-123 45 67", "description": "wilma@example.se"}
    response = admin.post(f"/admin/contact/card/{erased.id}/activities", call, follow_redirects=True)
    assert response.status_code == 200 and sv(READ_ONLY) in [m for _c, m in flashes(response)]
    api = as_role("admin")
    for body in ({"contact_id": erased.id, "subject": "Ringde Wilma"}, {"lead_id": erased_lead.id, "subject": "Ivar"}):
        assert problem_of(api.post("/api/v1/activities", {"kind": "call", **body}), 422)["detail"] == sv(READ_ONLY)
    session.add(Opportunity(title="Ny affär", contact_id=erased.id))
    with pytest.raises(privacy.ErasedRecord):
        session.flush()
    session.rollback()
    assert not session.scalars(select(Activity)).all() and not session.scalars(select(Opportunity)).all()


def test_no_e_mail_or_sms_goes_to_an_erased_person(
    login,
    session,
    employees,
    store,
    make_company,
    make_contact,
    smtp,  # noqa: F811
    sms_gateway,  # noqa: F811
):
    """Refused before anything is sent (the guard at the flush came after the SMTP server and the SMS service had
    it): from the person's card, a page opened before the erasure, and from a company's card naming them."""
    company = make_company(name="Arbetsplatsen AB")
    person = make_contact(companies=[company], **WILMA)
    erase(session, store, employees["admin"], "contact", person.id)
    admin = login("admin")
    mail = {"to": "wilma@example.se", "subject": "Hej", "body": "Hej Wilma"}
    for url, data in (
        (f"/admin/contact/card/{person.id}/email", mail),
        (f"/admin/contact/card/{person.id}/sms", {"to": "070-123 45 67", "message": "Hej Wilma"}),
    ):
        assert admin.client.get(url).status_code == 302, url
        response = admin.post(url, data, follow_redirects=True)
        assert sv(READ_ONLY) in [m for _c, m in flashes(response)], url
    from_company = f"/admin/company/card/{company.id}/email?contact={person.id}"  # refused, or no longer linked
    assert admin.post(from_company, mail).status_code in (302, 404)
    assert smtp.envelopes == [] and sms_gateway == []
    assert not session.scalars(select(Activity)).all()


def test_a_contact_erased_before_it_was_numbered_gets_no_customer_number(
    login, session, employees, make_contact, store
):
    person = make_contact(first_name="Otto", last_name="Onumrerad")
    erase(session, store, employees["admin"], "contact", person.id)
    response = login("admin").post(f"/admin/contact/card/{person.id}/make-private-customer", follow_redirects=True)
    assert sv(READ_ONLY) in [m for _c, m in flashes(response)]
    assert fresh(session, Contact, person.id).customer_number is None


@pytest.mark.parametrize("register", ["contact", "privatecustomer"])
def test_the_edit_form_of_an_erased_contact_saves_nothing_and_says_why(login, session, erased, register):
    """Posted as the browser posts it (with CSRF), by an administrator: nothing is saved, and the card
    (where the edit page now leads) says why."""
    admin = login("admin")
    data = {**WILMA, "personal_number": "19121212-1212", "version": str(erased.version)}
    response = admin.post(f"/admin/{register}/edit/?id={erased.id}", data)
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/admin/contact/card/{erased.id}")
    card = admin.client.get(response.headers["Location"])
    assert sv(READ_ONLY) in [m for _c, m in flashes(card)]
    assert anonymised(session, erased.id) == ANONYMISED
    # the edit page is not offered either: it leads to the card
    opened = admin.client.get(f"/admin/{register}/edit/?id={erased.id}")
    assert opened.status_code == 302 and opened.headers["Location"].endswith(f"/admin/contact/card/{erased.id}")


def test_the_card_of_an_erased_contact_says_so_and_offers_no_change(login, session, erased):
    admin = login("admin")
    card = text(admin.client.get(f"/admin/contact/card/{erased.id}"))
    assert sv(READ_ONLY) in card and f"/admin/privatecustomer/edit/?id={erased.id}" not in card
    settings = text(admin.client.get(f"/admin/contact/card/{erased.id}/tab/settings"))
    assert 'id="settings-form"' in settings and "<fieldset disabled>" in settings


def test_an_erased_lead_s_form_and_conversion_save_nothing(login, session, erased_lead):
    admin = login("admin")
    page = text(admin.client.get(f"/admin/lead/show/{erased_lead.id}"))
    assert sv(READ_ONLY) in page and 'id="lead-edit"' not in page and 'id="convert-lead"' not in page
    data = {
        "company_name": "Nyföretag AB",
        "contact_first_name": "Ivar",
        "contact_last_name": "Qvist",
        "status": "new",
        "version": str(erased_lead.version),
    }
    for url, posted in (
        (f"/admin/lead/edit/?id={erased_lead.id}", data),
        (f"/admin/lead/convert/{erased_lead.id}", {}),
    ):
        response = admin.post(url, posted, follow_redirects=True)
        assert sv(READ_ONLY) in [m for _c, m in flashes(response)], url
    assert lead_person(session, erased_lead.id) == (None, None, None, "new")


# --- an import ------------------------------------------------------------------------------------


def test_an_import_updates_no_erased_private_customer(session, make_job, run, erased, make_contact):  # noqa: F811
    """The dry run and the write report the row (number, column, value, reason); the other rows import."""
    other = make_contact(first_name="Eva", last_name="Ek")
    numbering.make_private_customer(session, other)
    session.commit()
    content = (
        "Kundnummer;Förnamn;Efternamn;E-post\n"
        f"{erased.customer_number};Wilma;Zebrowska;wilma@example.se\n"
        f"{other.customer_number};Eva;Ekström;eva@example.se\n"
    )
    job = make_job(content, entity="privatecustomer", mode="update", match_key="customer_number")
    checked = run(job, write=False)
    assert (checked.updated_count, checked.error_count) == (1, 1)
    expected = [(2, "Kundnummer", str(erased.customer_number), sv(READ_ONLY))]
    assert error_messages(session, checked) == expected
    done = run(checked, write=True)
    assert (done.status, done.updated_count, done.error_count) == ("done", 1, 1)
    assert error_messages(session, done) == expected
    assert anonymised(session, erased.id) == ANONYMISED
    assert fresh(session, Contact, other.id).last_name == "Ekström"


def test_an_all_or_nothing_import_with_an_erased_lead_s_row_is_refused(session, make_job, run, erased_lead):  # noqa: F811
    content = "Företag;Org.nr;Förnamn;Efternamn\nNyföretag AB;556036-0793;Ivar;Qvist\nAnnat AB;;Per;Ek\n"
    job = make_job(content, entity="lead", mode="upsert", match_key="org_number", all_or_nothing=True)
    checked = run(job, write=False)
    assert (checked.created_count, checked.error_count) == (1, 1)
    assert [(row, message) for row, _col, _value, message in error_messages(session, checked)] == [(2, sv(READ_ONLY))]
    with pytest.raises(jobs.ImportProblem):
        jobs.queue(session, checked, write=True)
    session.rollback()
    assert lead_person(session, erased_lead.id) == (None, None, None, "new")
    assert [lead.id for lead in session.scalars(select(Lead))] == [erased_lead.id]


# --- Ändra flera ----------------------------------------------------------------------------------


def test_a_mass_update_leaves_an_erased_record_out_and_says_how_many(login, session, employees, erased, make_contact):
    other = make_contact(first_name="Eva", last_name="Ek")
    numbering.make_private_customer(session, other)
    session.commit()
    seller = employees["seller"]
    admin = login("admin")
    data = {"rowid": [str(erased.id), str(other.id)], "owner_id": str(seller.id)}
    response = admin.post("/admin/privatecustomer/mass-update/", data, follow_redirects=True)
    assert ("warning", svn(*LEFT_OUT, 1)) in flashes(response)
    assert fresh(session, Contact, other.id).owner_id == seller.id
    assert fresh(session, Contact, erased.id).owner_id is None and anonymised(session, erased.id) == ANONYMISED
    # only erased records ticked: refused, with the reason
    alone = admin.post("/admin/privatecustomer/mass-update/", {**data, "rowid": [str(erased.id)]})
    assert alone.status_code == 400 and sv(READ_ONLY) in text(alone)
    assert fresh(session, Contact, erased.id).owner_id is None


def test_undoing_a_mass_update_leaves_a_record_erased_since_as_it_is(session, employees, make_contact, store):
    admin, seller = employees["admin"], employees["seller"]
    people = [make_contact(first_name="Eva", last_name=f"Ek {n}") for n in range(2)]
    job = mass_update.start(session, admin, "contact", [p.id for p in people], {"owner_id": seller.id})
    erase(session, store, admin, "contact", people[0].id)
    assert mass_update.undo(session, admin, job.id) == 1
    session.commit()
    assert [fresh(session, Contact, p.id).owner_id for p in people] == [seller.id, None]


def test_a_queued_mass_update_leaves_out_a_record_erased_before_it_ran(
    login, session, employees, make_contact, store, monkeypatch
):
    """A large Ändra flera runs on the task queue: a record erased between queueing and running is left
    out and counted, as the immediate one does, and the rest is changed; its page says how many."""
    monkeypatch.setattr(mass_update, "INLINE_LIMIT", 1)
    queued: list = []
    monkeypatch.setattr(tasks, "submit", queued.append)  # the worker's run is called below
    admin, seller = employees["admin"], employees["seller"]
    people = [make_contact(first_name="Eva", last_name=f"Ek {n}") for n in range(3)]
    job = mass_update.start(session, admin, "contact", [p.id for p in people], {"owner_id": seller.id})
    assert job.status == "queued" and len(queued) == 1
    erase(session, store, admin, "contact", people[1].id)
    assert mass_update.run(session, job.id)
    done = fresh(session, MassUpdate, job.id)
    assert (done.status, done.error, done.row_count, done.erased_count) == ("done", None, 2, 1)
    assert [fresh(session, Contact, p.id).owner_id for p in people] == [seller.id, None, seller.id]
    assert anonymised(session, people[1].id) == ANONYMISED
    page = login("admin").client.get(f"/admin/contact/mass-update/{job.id}")
    assert ("warning", svn(*LEFT_OUT, 1)) in flashes(page)


# --- a merge, a lead's conversion -----------------------------------------------------------------


def test_an_erased_contact_is_merged_neither_way(session, employees, make_contact, store):
    """Into another (to the trash, its activities and invoices moved there) or another into it (values put
    back): refused either way, nothing moved."""
    admin = employees["admin"]
    erased = make_contact(**WILMA)
    session.add(Activity(kind="call", subject="Samtal", contact_id=erased.id))
    session.commit()
    erase(session, store, admin, "contact", erased.id)
    other = make_contact(**WILMA, mobile="+46701234567")
    for keep, merged in ((other.id, erased.id), (erased.id, other.id)):
        with pytest.raises(privacy.ErasedRecord, match=re.escape(sv(READ_ONLY))):
            merge.merge(session, admin, "contact", keep, merged)
        session.rollback()
    assert anonymised(session, erased.id) == ANONYMISED and not fresh(session, Contact, erased.id).is_deleted
    assert session.scalar(select(Activity.contact_id)) == erased.id
    assert not fresh(session, Contact, other.id).is_deleted


def test_a_merge_is_not_undone_once_a_record_of_it_is_erased(session, employees, make_contact, store):
    """The undo would move rows back from the erased record and restore the other from the trash."""
    admin = employees["admin"]
    keep = make_contact(first_name="Åsa", last_name="Öberg")
    other = make_contact(first_name="Asa", last_name="Oberg", email="asa@oberg.se")
    record = merge.merge(session, admin, "contact", keep.id, other.id)
    session.commit()
    erase(session, store, admin, "contact", keep.id)
    with pytest.raises(privacy.ErasedRecord, match=re.escape(sv(READ_ONLY))):
        merge.undo(session, admin, record.id)
    session.rollback()
    assert anonymised(session, keep.id) == ANONYMISED and fresh(session, Contact, other.id).is_deleted


def test_the_dubbletter_page_says_why_it_does_not_merge_an_erased_contact(login, session, erased, make_contact):
    other = make_contact(**WILMA)
    data = {"first": str(other.id), "second": str(erased.id), "keep": str(other.id)}
    response = login("admin").post("/admin/duplicates/merge/contact", data, follow_redirects=True)
    assert response.status_code == 200 and sv(READ_ONLY) in [m for _c, m in flashes(response)]
    assert anonymised(session, erased.id) == ANONYMISED and not fresh(session, Contact, erased.id).is_deleted


def test_an_erased_lead_is_not_converted(session, employees, erased_lead):
    with pytest.raises(privacy.ErasedRecord, match=re.escape(sv(READ_ONLY))):
        leads.convert(session, employees["admin"], fresh(session, Lead, erased_lead.id))
    session.rollback()
    assert lead_person(session, erased_lead.id) == (None, None, None, "new")
    assert not session.scalars(select(Company)).all()


def test_converting_many_leads_converts_the_others_and_names_the_erased_one(login, session, erased_lead):
    """Fler åtgärder – Konvertera till kund converts each lead on its own: the erased person's lead is
    left out, named as the list shows it (its company name; the person's name is anonymised)."""
    other = Lead(company_name="Andra Bolaget AB")
    session.add(other)
    session.commit()
    rows = [str(erased_lead.id), str(other.id)]
    response = login("admin").post("/admin/lead/action/", {"action": "convert", "rowid": rows}, follow_redirects=True)
    named = sv("%(name)s was not converted: %(reason)s", name="Nyföretag AB", reason=sv(READ_ONLY))
    assert ("warning", named) in flashes(response)
    assert lead_person(session, erased_lead.id) == (None, None, None, "new")
    assert fresh(session, Lead, other.id).status == "converted"
    assert [c.name for c in session.scalars(select(Company))] == ["Andra Bolaget AB"]


def test_an_erased_person_is_not_put_on_a_call_list_and_the_seller_is_told_why(login, session, employees, store):
    """An erased person's lead keeps no number to call: the chooser says it will be left out, the list gets
    the others, and the seller is told why (as a mass send leaves erased people out)."""
    erased_lead = Lead(company_name="Nyföretag AB", contact_first_name="Ivar", contact_phone="+46701112233")
    other = Lead(company_name="Annat Företag AB", contact_first_name="Stina", contact_phone="+46701112234")
    session.add_all([erased_lead, other])
    session.commit()
    ids = [erased_lead.id, other.id]
    erase(session, store, employees["admin"], "lead", erased_lead.id)
    seller = login("seller")
    told = svn(
        "%(num)s left out: the person's data has been erased (GDPR).",
        "%(num)s left out: the persons' data has been erased (GDPR).",
        1,
    )
    chooser = seller.post("/admin/lead/action/", {"action": "add_to_call_list", "rowid": [str(i) for i in ids]})
    assert told in text(chooser)
    response = seller.post(
        "/admin/calllist/add",
        {"source": "lead", "rowid": [str(i) for i in ids], "call_list": "new", "name": "Vårlistan"},
        follow_redirects=True,
    )
    assert ("warning", told) in flashes(response)
    call_list = session.scalar(select(CallList).where(CallList.name == "Vårlistan"))
    assert [e.lead_id for e in call_list.entries] == [ids[1]]
