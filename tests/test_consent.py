"""Samtycke och rättslig grund (issue 20): the basis and marketing consents of contacts and leads,
when and how each was recorded, and call lists that leave out who may not be called (counted, with
the reason, before and after)."""

import pytest
from api_client import ApiClient, openapi_of
from sqlalchemy import select

from extensions import db
from models import AuditEvent, CallList, CallListEntry, Company, Contact, Lead
from services import api_keys, calllists, consent, leads
from tests.helpers import flashes, sv, text
from tests.test_import_service import actor, make_job, run  # noqa: F401  (the import's fixtures; storage is conftest's)

# --- the rule ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "basis, given, reason",
    [
        ("contract", None, None),
        ("legitimate_interest", None, None),
        ("consent", None, consent.NO_CONSENT),
        ("legal_obligation", None, consent.NO_CONSENT),
        (None, None, consent.NO_CONSENT),
        ("consent", True, None),
        ("legal_obligation", True, None),
        ("contract", False, consent.DECLINED),
        ("legitimate_interest", False, consent.DECLINED),
        ("consent", False, consent.DECLINED),
    ],
)
def test_who_may_get_marketing_on_a_channel(basis, given, reason):
    person = Contact(first_name="A", last_name="B", lawful_basis=basis, consent_sms=given)
    assert consent.exclusion(person, "sms") == reason
    assert consent.exclusion(person, "email") == (None if basis in consent.OPT_OUT_BASES else consent.NO_CONSENT)


def test_a_company_is_not_a_person_and_is_always_reachable():
    assert consent.exclusion(Company(name="Bolaget AB"), "phone") is None


def test_a_selection_counts_who_is_left_out_and_why(app):
    people = [
        Contact(first_name="Ja", last_name="A", lawful_basis="consent", consent_email=True),
        Contact(first_name="Nej", last_name="B", lawful_basis="contract", consent_email=False),
        Contact(first_name="Inget", last_name="C", lawful_basis="consent"),
        Contact(first_name="Inget", last_name="D", lawful_basis="consent"),
        Contact(first_name="Kund", last_name="E", lawful_basis="contract"),
    ]
    selection = consent.reachable(people, "email")
    assert [p.first_name for p in selection.included] == ["Ja", "Kund"]
    assert selection.skipped == {consent.DECLINED: 1, consent.NO_CONSENT: 2}
    with app.test_request_context():
        assert selection.explanation() == (
            "3 uteslutna, utan samtycke till marknadsföring via e-post: 1 har tackat nej eller återkallat "
            "samtycket, 2 saknar samtycke och den rättsliga grunden kräver det."
        )
    assert consent.reachable(people[:1], "email").explanation() == ""


# --- recording: when and how ---------------------------------------------------------------------


def test_a_changed_consent_is_stamped_with_its_date_and_source_and_audited(employees):
    person = Contact(first_name="Stina", last_name="Stämpel", consent_email=True)
    db.session.add(person)
    db.session.commit()
    assert person.lawful_basis == "legitimate_interest"  # the default basis of a new person
    assert (person.consent_email_source, person.consent_sms_at) == ("form", None)
    first = person.consent_email_at
    assert first is not None
    with consent.recorded_by(db.session, "import"):
        person.consent_sms = False
        db.session.commit()
    assert (person.consent_sms_source, person.consent_email_source, person.consent_email_at) == (
        "import",
        "form",
        first,
    )
    person.consent_sms = None  # no answer any more: no date, no source
    db.session.commit()
    assert (person.consent_sms_at, person.consent_sms_source) == (None, None)
    events = db.session.scalars(
        select(AuditEvent).where(AuditEvent.entity_type == "contact", AuditEvent.entity_id == person.id)
    ).all()
    changed = [key for event in events for key in (event.changes or {})]
    assert "consent_sms" in changed and not any(key.endswith(("_at", "_source")) for key in changed)


def test_a_converted_lead_keeps_its_basis_and_consents(employees):
    lead = Lead(
        company_name="Samtyckesbolaget AB",
        contact_first_name="Lena",
        contact_last_name="Lead",
        lawful_basis="consent",
        consent_email=True,
        consent_phone=False,
    )
    db.session.add(lead)
    db.session.commit()
    company = leads.convert(db.session, employees["seller"], lead)
    db.session.commit()
    contact = company.contacts[0]
    assert (contact.lawful_basis, contact.consent_email, contact.consent_phone, contact.consent_sms) == (
        "consent",
        True,
        False,
        None,
    )
    assert contact.consent_email_at == lead.consent_email_at and contact.consent_email_source == "form"


# --- call lists ----------------------------------------------------------------------------------


@pytest.fixture
def targets(make_company, make_contact):
    """A lead who may be called, one who declined calls, a contact kept on consent that never covered
    calls, a customer (avtal) and a company whose one contact declined calls."""
    willing = Lead(company_name="Ringvilliga AB", contact_phone="+46701110001")
    declined = Lead(company_name="Ringinte AB", contact_phone="+46701110002", consent_phone=False)
    db.session.add_all([willing, declined])
    company = make_company(name="Växeln AB", phone="+4681110000")
    make_contact([company], first_name="Nils", last_name="Nej", mobile="+46701110003", consent_phone=False)
    make_contact([company], first_name="Jana", last_name="Ja", mobile="+46701110004")
    only_email = make_contact(first_name="Eva", last_name="Epost", mobile="+46701110005", lawful_basis="consent")
    customer = make_contact(first_name="Kurt", last_name="Kund", mobile="+46701110006", lawful_basis="contract")
    db.session.commit()
    return {
        "willing": willing,
        "declined": declined,
        "company": company,
        "only_email": only_email,
        "customer": customer,
    }


def test_a_call_list_leaves_out_who_may_not_be_called(employees, targets):
    call_list = CallList(name="Kampanj", owner=employees["seller"])
    db.session.add(call_list)
    result = calllists.add_entries(db.session, call_list, list(targets.values()))
    db.session.commit()
    assert (result.added, result.already, result.selection.skipped_total) == (3, 0, 2)
    assert result.selection.skipped == {consent.DECLINED: 1, consent.NO_CONSENT: 1}
    on_list = {e.target.name if not isinstance(e.target, Lead) else e.target.company_name for e in call_list.entries}
    assert on_list == {"Ringvilliga AB", "Växeln AB", "Kurt Kund"}
    company_entry = next(e for e in call_list.entries if e.company_id)
    assert calllists.phones(company_entry) == ["+4681110000", "+46701110004"]  # not Nils, who said no


def test_the_chooser_says_beforehand_how_many_are_left_out_and_the_result_says_it_again(login, targets):
    seller = login("seller")
    ids = [str(targets[k].id) for k in ("only_email", "customer")]
    chooser = seller.post("/admin/contact/action/", {"action": "add_to_call_list", "rowid": ids})
    with seller.client.application.test_request_context():
        note = consent.reachable([targets["only_email"]], "phone").explanation()
    assert chooser.status_code == 200 and note and note in text(chooser)
    response = seller.post("/admin/calllist/add", {"source": "contact", "rowid": ids, "call_list": "new"})
    assert response.status_code == 302
    shown = flashes(seller.client.get(response.headers["Location"]))
    assert ("warning", note) in shown
    entries = db.session.scalars(select(CallListEntry)).all()
    assert [e.contact_id for e in entries] == [targets["customer"].id]


# --- the forms, the card, the lead page ----------------------------------------------------------


def test_consent_is_edited_on_the_contact_form_and_shown_on_the_card(login, make_contact):
    person = make_contact(first_name="Frida", last_name="Form", email="frida@example.se")
    seller = login("seller")
    form = text(seller.client.get(f"/admin/contact/edit/?id={person.id}"))
    assert 'name="lawful_basis"' in form and 'name="consent_sms"' in form
    data = {
        "first_name": "Frida",
        "last_name": "Form",
        "email": "frida@example.se",
        "lawful_basis": "consent",
        "consent_email": "True",
        "consent_sms": "False",
        "consent_phone": "None",
        "version": str(person.version),
    }
    response = seller.post(f"/admin/contact/edit/?id={person.id}", data)
    assert response.status_code == 302, flashes(response)
    db.session.expire_all()
    saved = db.session.get(Contact, person.id)
    assert (saved.lawful_basis, saved.consent_email, saved.consent_sms, saved.consent_phone) == (
        "consent",
        True,
        False,
        None,
    )
    assert saved.consent_email_source == saved.consent_sms_source == "form"
    card = text(seller.client.get(f"/admin/contact/card/{person.id}"))
    assert sv("Consent and lawful basis") in card and sv("Consent given") in card
    assert sv("Form") in card and sv("Not in marketing sends") in card  # SMS declined; phone not asked
    history = text(seller.client.get(f"/admin/contact/card/{person.id}/tab/history"))
    assert sv("Lawful basis") in history and sv("Consent") in history


def test_an_unknown_basis_is_refused_and_nothing_is_saved(login, make_contact):
    person = make_contact(first_name="Olle", last_name="Okänd")
    data = {"first_name": "Olle", "last_name": "Okänd", "lawful_basis": "whim", "version": str(person.version)}
    response = login("seller").post(f"/admin/contact/edit/?id={person.id}", data)
    assert response.status_code == 200
    db.session.expire_all()
    assert db.session.get(Contact, person.id).lawful_basis == "legitimate_interest"


def test_reading_is_not_editing(login, make_contact):
    person = make_contact(first_name="Rut", last_name="Läs")
    data = {"first_name": "Rut", "last_name": "Läs", "consent_email": "True", "version": str(person.version)}
    assert login("readonly").post(f"/admin/contact/edit/?id={person.id}", data).status_code == 403
    db.session.expire_all()
    assert db.session.get(Contact, person.id).consent_email is None


def test_the_lead_page_shows_the_basis_and_consents(login, targets):
    page = text(login("readonly").client.get(f"/admin/lead/show/{targets['declined'].id}"))
    assert sv("Legitimate interest") in page and sv("Declined / withdrawn") in page


# --- the API ---------------------------------------------------------------------------------


def test_the_api_records_consent_as_coming_from_the_api(app, employees, targets):
    key = api_keys.create(db.session, None, employee=employees["seller"], name="Konsent").secret
    db.session.commit()
    api = ApiClient(app.test_client(), openapi_of(app), key)
    lead = targets["willing"]
    response = api.patch(
        f"/api/v1/leads/{lead.id}", {"version": lead.version, "consent_email": True, "lawful_basis": "consent"}
    )
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert (body["lawful_basis"], body["consent_email"], body["consent_email_source"]) == ("consent", True, "api")
    assert body["consent_email_at"] is not None and body["consent_sms"] is None
    refused = api.patch(
        f"/api/v1/leads/{lead.id}", {"version": body["version"], "lawful_basis": "whim"}, validate=False
    )
    assert refused.status_code == 422


# --- import ------------------------------------------------------------------------------------

LEADS = (
    "Företagsnamn;Förnamn;Telefon;Rättslig grund;Samtycke e-post;Samtycke telefon\n"
    "Importbolaget AB;Ines;070-111 22 33;Samtycke;Ja;Nej\n"
    "Tystbolaget AB;Tore;070-111 22 34;;;\n"
)


def test_an_import_writes_basis_and_consents_recorded_as_coming_from_the_import(make_job, run, session):  # noqa: F811
    job = run(run(make_job(LEADS, entity="lead"), write=False), write=True)
    assert job.status == "done", job.status
    rows = {lead.company_name: lead for lead in session.scalars(select(Lead))}
    given, silent = rows["Importbolaget AB"], rows["Tystbolaget AB"]
    assert (given.lawful_basis, given.consent_email, given.consent_phone, given.consent_sms) == (
        "consent",
        True,
        False,
        None,
    )
    assert (given.consent_email_source, given.consent_phone_source, given.consent_sms_source) == (
        "import",
        "import",
        None,
    )
    assert given.consent_email_at is not None
    assert (silent.lawful_basis, silent.consent_email, silent.consent_email_at) == ("legitimate_interest", None, None)
    created = session.scalar(
        select(AuditEvent).where(AuditEvent.entity_id == given.id, AuditEvent.entity_type == "lead")
    )
    assert created.changes["consent_email"] is True and "consent_email_at" not in created.changes
    assert consent.exclusion(given, "phone") == consent.DECLINED


def test_an_import_that_changes_a_consent_stamps_it(make_job, run, session, make_contact):  # noqa: F811
    person = make_contact(first_name="Uno", last_name="Uppdatera", email="uno@example.se")
    content = "E-post;Förnamn;Efternamn;Samtycke sms\nuno@example.se;Uno;Uppdatera;Ja\n"
    job = run(run(make_job(content, entity="contact", mode="upsert", match_key="email"), write=False), write=True)
    assert job.status == "done", job.status
    session.expire_all()
    saved = session.get(Contact, person.id)
    assert (saved.consent_sms, saved.consent_sms_source) == (True, "import") and saved.consent_sms_at is not None
    event = session.scalars(
        select(AuditEvent).where(AuditEvent.entity_id == person.id, AuditEvent.action == "update")
    ).one()
    assert event.changes == {"consent_sms": [None, True]}


# --- one message from the card -------------------------------------------------------------------


def test_writing_to_someone_who_declined_says_so_before_sending(login, make_contact):
    declined = make_contact(first_name="Sara", last_name="Sms", mobile="+46701112299", consent_sms=False)
    willing = make_contact(first_name="Sune", last_name="Sms", mobile="+46701112298")
    seller = login("seller")
    page = text(seller.client.get(f"/admin/contact/card/{declined.id}/sms"))
    reason = sv("declined or withdrew consent")
    assert 'id="message-consent"' in page and reason in page and "Sara Sms" in page
    assert 'id="message-consent"' not in text(seller.client.get(f"/admin/contact/card/{willing.id}/sms"))
    assert 'id="message-consent"' not in text(seller.client.get(f"/admin/contact/card/{declined.id}/email"))
