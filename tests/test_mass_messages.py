"""Massutskick (services.mass_messages, admin_views.mass_messages): who of the chosen people gets a mass
e-mail or SMS and who is left out and why, real messages through a local SMTP server and SMS gateway
(tests/message_servers.py), kept where a single message from the card is kept, audited, on the task
queue; the pages: permissions, CSRF, no GET sends."""

import re
import time
from datetime import date, timedelta
from email import message_from_bytes, policy

import pytest
from sqlalchemy import select

from models import Activity, AuditEvent, Contact, EmailMessage, Lead, MassMessage, utcnow
from services import consent, mail, mass_messages, privacy, sms, storage
from tests.helpers import count, sv, text
from tests.message_servers import SMS_REFUSED_NUMBER
from tests.test_messaging import sms_gateway, smtp  # noqa: F401  (fixtures: the real local servers)

REACHABLE = {"lawful_basis": "legitimate_interest"}


@pytest.fixture
def people(app, session, employees, make_contact):
    """A contact of each kind a mass e-mail meets, by name."""
    erased = make_contact(first_name="Raderad", last_name="Person", email="raderad@example.se")
    subject = privacy.find_subject(session, "contact", erased.id)
    privacy.erase(session, storage.from_config(app.config), employees["admin"], subject, date.today())
    session.commit()
    rows = {
        "ok": make_contact(first_name="Åsa", last_name="Öberg", email="asa@example.se", mobile="+46701234567"),
        "consented": make_contact(
            first_name="Bo", last_name="Berg", email="bo@example.se", lawful_basis="consent", consent_email=True
        ),
        "declined": make_contact(first_name="Cia", last_name="Ek", email="cia@example.se", consent_email=False),
        "no_consent": make_contact(first_name="Dan", last_name="Ås", email="dan@example.se", lawful_basis="consent"),
        "no_address": make_contact(first_name="Eva", last_name="Lind", email=None, phone="+4687654321"),
        "trashed": make_contact(first_name="Fia", last_name="Sand", email="fia@example.se", deleted_at=utcnow()),
        "same_address": make_contact(first_name="Gun", last_name="Öberg", email="ASA@example.se"),
        "erased": session.get(Contact, erased.id),
    }
    return rows


def ids(rows, *names):
    return [rows[n].id for n in names]


def test_the_selection_counts_who_is_left_out_and_why(session, people):
    chosen = ids(people, "ok", "consented", "declined", "no_consent", "no_address", "trashed", "same_address", "erased")
    selection = mass_messages.select_recipients(session, "contact", [*chosen, 999_999], "email")
    assert selection.included == ids(people, "ok", "consented")
    assert dict(selection.skipped) == {
        consent.DECLINED: 1,
        consent.NO_CONSENT: 1,
        mass_messages.NO_ADDRESS: 1,
        mass_messages.DELETED: 2,  # in the trash, and an id that is not in the register
        mass_messages.DUPLICATE: 1,
        mass_messages.ERASED: 1,
    }
    assert selection.chosen == 9 and selection.skipped_total == 7
    labels = dict(selection.reasons())
    assert labels[sv("no e-mail address")] == 1 and labels[sv("erased or anonymised (GDPR)")] == 1

    # SMS: a mobile number is needed (a landline is no address), and the SMS consent decides.
    sms_selection = mass_messages.select_recipients(session, "contact", ids(people, "ok", "no_address"), "sms")
    assert sms_selection.included == ids(people, "ok")
    assert dict(sms_selection.skipped) == {mass_messages.NO_ADDRESS: 1}


def test_leads_converted_or_without_consent_are_left_out(session, employees):
    open_lead = Lead(company_name="Ny AB", contact_email="ny@example.se", contact_phone="+46709876543")
    converted = Lead(company_name="Kund AB", contact_email="kund@example.se", status="converted")
    declined = Lead(company_name="Nej AB", contact_email="nej@example.se", consent_email=False, consent_sms=False)
    session.add_all([open_lead, converted, declined])
    session.commit()
    chosen = [open_lead.id, converted.id, declined.id]
    selection = mass_messages.select_recipients(session, "lead", chosen, "email")
    assert selection.included == [open_lead.id]
    assert dict(selection.skipped) == {mass_messages.CLOSED: 1, consent.DECLINED: 1}


def _send(session, employees, chosen, channel="email", kind="contact", **text_):
    text_ = text_ or (
        {"subject": "Vårerbjudande", "body": "Hej!\n\nVåra priser sänks i april."}
        if channel == "email"
        else {"subject": None, "body": "Vårerbjudande: 20 % på allt i april."}
    )
    job = mass_messages.start(session, employees["seller"], kind, chosen, channel, set_up=True, **text_)
    return job.id


def _run(session, job_id, app_config):
    outcome = mass_messages.run(
        session,
        job_id,
        settings=mail.SmtpSettings.from_config(app_config),
        gateway=sms.Gateway.from_config(app_config),
    )
    session.expire_all()
    return outcome, session.get(MassMessage, job_id)


def test_real_e_mails_arrive_and_are_kept_on_each_card_and_audited(app, session, employees, people, smtp):  # noqa: F811
    refused = Contact(first_name="Hans", last_name="Nej", email="hans@refused.example")
    session.add(refused)
    session.commit()
    chosen = [people["ok"].id, refused.id, *ids(people, "consented", "declined", "no_address")]
    job_id = _send(session, employees, chosen)
    job = session.get(MassMessage, job_id)
    assert (job.status, job.target_ids, job.skipped) == (
        "queued",
        [people["ok"].id, refused.id, people["consented"].id],
        {consent.DECLINED: 1, mass_messages.NO_ADDRESS: 1},
    )
    assert smtp.envelopes == [], "nothing goes out in the request"

    outcome, job = _run(session, job_id, app.config)
    assert outcome == "done" and job.status == "done"
    assert (job.sent_count, job.failed_count) == (2, 1)
    assert job.failures[0][0] == refused.id and "hans@refused.example" in job.failures[0][1]

    sent = {tuple(e.rcpt_tos): message_from_bytes(e.content, policy=policy.default) for e in smtp.envelopes}
    assert sorted(sent) == [("asa@example.se",), ("bo@example.se",)], "each gets their own message"
    assert len(set(smtp.peers)) == 1, "one session with the server, kept through the refused recipient"
    message = sent[("asa@example.se",)]
    assert message["Subject"] == "Vårerbjudande" and "Våra priser sänks i april." in message.get_content()
    assert message["From"].addresses[0].addr_spec == "seller@example.se"

    kept = session.scalars(select(EmailMessage).order_by(EmailMessage.contact_id)).all()
    assert [(m.contact_id, m.subject, m.recipients) for m in kept] == [
        (people["ok"].id, "Vårerbjudande", "asa@example.se"),
        (people["consented"].id, "Vårerbjudande", "bo@example.se"),
    ]
    audited = session.scalars(select(AuditEvent).where(AuditEvent.action == "mass_email")).all()
    assert sorted(e.entity_id for e in audited) == ids(people, "ok", "consented")
    assert {e.actor_id for e in audited} == {employees["seller"].id}
    assert mass_messages.run(session, job_id, settings=None, gateway=None) is None, "a finished job is not run again"


def test_real_sms_to_leads_and_contacts_are_kept_as_sms_activities(app, session, employees, make_contact, sms_gateway):  # noqa: F811
    leads = [
        Lead(company_name="Sms AB", contact_phone="+46705550001"),
        Lead(company_name="Fel AB", contact_phone=SMS_REFUSED_NUMBER),
        Lead(company_name="Fast AB", contact_phone="+4687654321"),  # a landline: no SMS
    ]
    session.add_all(leads)
    session.commit()
    job_id = _send(session, employees, [lead.id for lead in leads], channel="sms", kind="lead")
    outcome, job = _run(session, job_id, app.config)
    assert (job.status, job.sent_count, job.failed_count, job.skipped) == ("done", 1, 1, {"no_address": 1})
    assert [(s["to"], s["message"]) for s in sms_gateway] == [("+46705550001", "Vårerbjudande: 20 % på allt i april.")]
    activity = session.scalar(select(Activity).where(Activity.kind == "sms"))
    assert (activity.lead_id, activity.description) == (leads[0].id, "Vårerbjudande: 20 % på allt i april.")
    assert count(session, AuditEvent, AuditEvent.action == "mass_sms", AuditEvent.entity_type == "lead") == 1


def test_consent_withdrawn_after_the_confirmation_is_respected(app, session, employees, people, smtp):  # noqa: F811
    job_id = _send(session, employees, ids(people, "ok", "consented"))
    people["consented"].consent_email = False  # withdrawn while the send waits in the queue
    session.commit()
    _, job = _run(session, job_id, app.config)
    assert (job.sent_count, job.skipped) == (1, {consent.DECLINED: 1})
    assert [e.rcpt_tos for e in smtp.envelopes] == [["asa@example.se"]]


def test_a_taken_over_send_goes_on_after_the_last_committed_message(app, session, employees, people, smtp):  # noqa: F811
    job_id = _send(session, employees, ids(people, "ok", "consented"))
    job = session.get(MassMessage, job_id)
    # A worker claimed it, sent the first message and died before the second.
    job.status, job.claim, job.position, job.sent_count = "running", "dead-worker", 1, 1
    job.heartbeat_at = utcnow() - timedelta(minutes=5)
    session.commit()
    assert mass_messages.take_over_stalled(session, stalled_seconds=30, waiting_task_ids=lambda: []) == [job_id]
    _, job = _run(session, job_id, app.config)
    assert (job.status, job.sent_count) == ("done", 2)
    assert [e.rcpt_tos for e in smtp.envelopes] == [["bo@example.se"]]


def test_the_queue_worker_sends_it(session, employees, people, smtp, worker):  # noqa: F811
    job_id = _send(session, employees, ids(people, "ok", "consented"))
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        session.expire_all()
        if session.get(MassMessage, job_id).status in ("done", "failed"):
            break
        session.rollback()
        time.sleep(0.2)
    job = session.get(MassMessage, job_id)
    assert (job.status, job.sent_count) == ("done", 2), job.error
    assert sorted(e.rcpt_tos[0] for e in smtp.envelopes) == ["asa@example.se", "bo@example.se"]


def test_nothing_to_send_or_no_server_is_refused_in_swedish(session, employees, people):
    with pytest.raises(mass_messages.InvalidValue, match=sv("Nobody of those chosen can get it.")):
        _send(session, employees, ids(people, "declined", "no_address"))
    with pytest.raises(mass_messages.InvalidValue, match=re.escape(sv("Give the e-mail a subject."))):
        _send(session, employees, ids(people, "ok"), subject="", body="Hej")
    with pytest.raises(mass_messages.InvalidValue):
        mass_messages.start(
            session, employees["seller"], "contact", ids(people, "ok"), "email", subject="Hej", body="Hej", set_up=False
        )
    with pytest.raises(mass_messages.NotPermitted):
        mass_messages.start(
            session,
            employees["readonly"],
            "contact",
            ids(people, "ok"),
            "email",
            subject="Hej",
            body="Hej",
            set_up=True,
        )
    assert count(session, MassMessage) == 0


def test_a_lead_s_e_mail_goes_with_it_when_converted_and_is_erased_with_it(app, session, employees, smtp):  # noqa: F811
    from services import leads as lead_service

    lead = Lead(
        company_name="Blivande Kund AB",
        contact_first_name="Ivar",
        contact_last_name="Lund",
        contact_email="ivar@example.se",
    )
    session.add(lead)
    session.commit()
    _run(session, _send(session, employees, [lead.id], kind="lead"), app.config)
    message = session.scalar(select(EmailMessage))
    assert (message.lead_id, message.contact_id) == (lead.id, None)
    company = lead_service.convert(session, employees["seller"], session.get(Lead, lead.id))
    session.commit()
    session.expire_all()
    message = session.scalar(select(EmailMessage))
    assert (message.company_id, message.contact_id) == (company.id, session.get(Lead, lead.id).contact_id)


# --- the pages ----------------------------------------------------------------------------------


def test_all_matches_without_a_search_is_not_the_whole_register(login, people):  # noqa: F811
    """The list offers "all matches" only for a search or filter; the address without one listed the whole
    register as "103 markerade poster" (none was ticked): the user is sent back to search first."""
    seller = login("seller")
    response = seller.client.get("/admin/contact/mass-message/", query_string={"channel": "email"})
    assert response.status_code == 302 and response.headers["Location"].endswith("/admin/contact/")
    page = text(seller.client.get(response.headers["Location"]))
    assert sv("Search or filter the list first: the message goes to every record it then shows.") in page


def test_the_flow_from_the_list_to_the_result(app, session, login, employees, people, smtp):  # noqa: F811
    seller = login("seller")
    chosen = ids(people, "ok", "declined", "no_address")
    form = seller.post("/admin/contact/action/", {"action": "mass_email", "rowid": [str(i) for i in chosen]})
    assert form.status_code == 200
    page = text(form)
    assert sv("%(num)s will get it.", num=1) in page
    assert sv("no e-mail address") in page and sv("declined or withdrew consent") in page

    fields = {"channel": "email", "rowid": [str(i) for i in chosen], "subject": "Kampanj", "body": "Hej på er!"}
    preview = seller.post("/admin/contact/mass-message/", {**fields, "step": "preview"})
    assert preview.status_code == 200 and "Kampanj" in text(preview) and "asa@example.se" in text(preview)
    assert count(session, MassMessage) == 0 and smtp.envelopes == [], "a preview sends nothing"

    sent = seller.post("/admin/contact/mass-message/", {**fields, "step": "send"})
    assert sent.status_code == 302
    job = session.scalar(select(MassMessage))
    assert sent.headers["Location"].endswith(f"/admin/contact/mass-message/{job.id}")
    _run(session, job.id, app.config)
    result = text(seller.client.get(f"/admin/contact/mass-message/{job.id}"))
    assert sv("Finished") in result and sv("no e-mail address") in result
    assert [e.rcpt_tos for e in smtp.envelopes] == [["asa@example.se"]]
    # another list's job is not shown here
    assert seller.client.get(f"/admin/lead/mass-message/{job.id}").status_code == 404

    # Tidigare utskick: found again from the list's menu, newest first, with its counts and page.
    assert 'id="mass-message-history-link"' in seller.client.get("/admin/contact/").get_data(as_text=True)
    history = seller.client.get("/admin/contact/mass-message/history/")
    rows = re.findall(r"<tr>.*?</tr>", text(history), re.S)[1:]
    assert len(rows) == 1 and "Kampanj" in rows[0] and sv("Finished") in rows[0]
    assert f'href="/admin/contact/mass-message/{job.id}"' in history.get_data(as_text=True)
    assert sv("Nothing has been sent to many from here yet.") in text(
        seller.client.get("/admin/lead/mass-message/history/")
    )


def test_all_matches_of_the_search_and_no_get_sends(session, login, people, smtp):  # noqa: F811
    seller = login("seller")
    assert 'id="mass-email-matches"' in seller.client.get("/admin/contact/?search=%C3%96berg").get_data(as_text=True)
    page = seller.client.get("/admin/contact/mass-message/?channel=email&search=%C3%96berg")
    assert page.status_code == 200
    body = text(page)
    assert "2 poster matchar sökningen i Kontakter." in body
    assert sv("same address as another recipient (gets it once)") in body
    assert count(session, MassMessage) == 0 and smtp.envelopes == []
    assert seller.client.get("/admin/contact/mass-message/?channel=fax").status_code == 404


def test_a_send_to_a_search_goes_only_to_the_matches_previewed(app, session, login, people, make_contact, smtp):  # noqa: F811
    """Found in review: the search ran again at send, so a record matching it since the preview got the
    message the employee had confirmed for others. The send is refused and the new counts shown."""
    seller = login("seller")
    fields = {"channel": "email", "query": "search=%C3%96berg", "subject": "Kampanj", "body": "Hej!"}
    preview = seller.post("/admin/contact/mass-message/", {**fields, "step": "preview"})
    previewed = re.search(r'name="previewed" value="([^"]+)"', preview.get_data(as_text=True)).group(1)
    make_contact(first_name="Hugo", last_name="Öberg", email="hugo@example.se")
    sent = seller.post("/admin/contact/mass-message/", {**fields, "previewed": previewed, "step": "send"})
    assert sent.status_code == 400
    page = text(sent)
    assert (
        sv("The records matching the search have changed since the preview; check the new counts and send again.")
        in page
    )
    assert "3 poster matchar sökningen i Kontakter." in page and 'id="mass-message-send"' not in page
    assert count(session, MassMessage) == 0 and smtp.envelopes == []
    preview = seller.post("/admin/contact/mass-message/", {**fields, "step": "preview"})
    previewed = re.search(r'name="previewed" value="([^"]+)"', preview.get_data(as_text=True)).group(1)
    assert (
        seller.post("/admin/contact/mass-message/", {**fields, "previewed": previewed, "step": "send"}).status_code
        == 302
    )
    assert count(session, MassMessage) == 1


def test_a_search_past_the_limit_is_refused_not_cut(session, login, people, monkeypatch):
    """Found in review: past MAX_RECIPIENTS the matches were cut and the page counted only those sent to."""
    monkeypatch.setattr(mass_messages, "MAX_RECIPIENTS", 1)
    seller = login("seller")
    page = text(seller.client.get("/admin/contact/mass-message/?channel=email&search=%C3%96berg"))
    assert sv("The search matches more than %(num)s records; narrow it down before sending.", num="1") in page
    fields = {"channel": "email", "query": "search=%C3%96berg", "subject": "Kampanj", "body": "Hej!", "step": "send"}
    assert seller.post("/admin/contact/mass-message/", fields).status_code == 400
    assert count(session, MassMessage) == 0


def test_the_preview_offers_no_send_without_a_mail_server(app, login, people, employees, monkeypatch):
    """Found in review: the preview's send button showed though no server was set up (the send then failed)."""
    monkeypatch.setitem(app.config, "SMTP_HOST", None)
    seller = login("seller")
    fields = {"channel": "email", "rowid": [str(people["ok"].id)], "subject": "Hej", "body": "Hej", "step": "preview"}
    page = seller.post("/admin/contact/mass-message/", fields).get_data(as_text=True)
    assert 'id="message-unavailable"' in page and 'id="mass-message-send"' not in page
    # a send posted anyway (a page opened before the server was taken away) is refused, and said once
    refused = seller.post("/admin/contact/mass-message/", {**fields, "step": "send"})
    assert refused.status_code == 400
    assert text(refused).count(mail.not_set_up_message(employees["seller"])) == 1


def test_read_only_and_finance_are_refused_and_csrf_is_checked(session, login, people, smtp):  # noqa: F811
    fields = {"channel": "email", "rowid": [str(people["ok"].id)], "subject": "Hej", "body": "Hej", "step": "send"}
    for role in ("readonly", "finance"):
        client = login(role)
        assert client.client.get("/admin/contact/mass-message/?channel=email&search=x").status_code == 403
        assert client.post("/admin/contact/mass-message/", fields).status_code == 403
        listing = client.client.get("/admin/contact/").get_data(as_text=True)
        assert 'data-list-action="mass_email"' not in listing
        assert 'id="mass-message-history-link"' not in listing
        assert client.client.get("/admin/contact/mass-message/history/").status_code == 403
    seller = login("seller")
    assert 'data-list-action="mass_email"' in seller.client.get("/admin/contact/").get_data(as_text=True)
    no_token = seller.client.post("/admin/contact/mass-message/", data=fields)
    assert no_token.status_code == 400
    assert count(session, MassMessage) == 0 and smtp.envelopes == []


def test_private_customers_and_leads_have_it_too(login, session, make_contact):
    private = make_contact(first_name="Pia", last_name="Privat", email="pia@example.se", customer_number=90001)
    lead = Lead(company_name="Leadbolaget AB", contact_email="lead@example.se")
    session.add(lead)
    session.commit()
    seller = login("seller")
    for url, row in (("/admin/privatecustomer/action/", private.id), ("/admin/lead/action/", lead.id)):
        page = seller.post(url, {"action": "mass_sms" if "lead" in url else "mass_email", "rowid": [str(row)]})
        assert page.status_code == 200, url
        assert 'name="channel"' in page.get_data(as_text=True)
    assert count(session, MassMessage) == 0
