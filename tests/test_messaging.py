"""E-post and SMS from the customer card (FAQ 15, 16): through a real SMTP server
(aiosmtpd, on a local port) and a local HTTP server that answers as 46elks does.
A message that does not go out is not kept; bad input is explained in Swedish."""

from email import message_from_bytes, policy

import pytest

from extensions import db
from models import Activity, EmailMessage
from services import mail, sms
from services.validation import InvalidValue
from tests.helpers import count, sv, text
from tests.message_servers import SMS_LOGIN, free_port, sms_url, start_sms_gateway, start_smtp


@pytest.fixture
def smtp(app, monkeypatch):
    """A real SMTP server on localhost that wants a login; the app is set to use it."""
    controller, inbox = start_smtp(login_required=True)
    for key, value in {
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": controller.port,
        "SMTP_SECURITY": "none",
        "SMTP_USER": "crm",
        "SMTP_PASSWORD": "hemligt",
    }.items():
        monkeypatch.setitem(app.config, key, value)
    yield inbox
    controller.stop()


@pytest.fixture
def sms_gateway(app, monkeypatch):
    server = start_sms_gateway()
    for key, value in {
        "SMS_API_URL": sms_url(server),
        "SMS_USERNAME": SMS_LOGIN[0],
        "SMS_PASSWORD": SMS_LOGIN[1],
        "SMS_SENDER": "Kundreg",
    }.items():
        monkeypatch.setitem(app.config, key, value)
    yield server.sent
    server.shutdown()


# --- e-mail ------------------------------------------------------------------------------


def test_an_e_mail_from_the_card_goes_out_and_is_kept_on_the_e_mail_tab(login, smtp, make_company, make_contact):
    company = make_company(name="Kafé Ågren AB", email="info@agren.example")
    contact = make_contact(companies=[company], first_name="Åsa", last_name="Öberg", email="asa@agren.example")
    seller = login("seller")
    form = text(seller.client.get(f"/admin/company/card/{company.id}/email?contact={contact.id}"))
    assert 'value="asa@agren.example"' in form

    response = seller.post(
        f"/admin/company/card/{company.id}/email",
        {
            "contact": str(contact.id),
            "to": "asa@agren.example",
            "cc": "info@agren.example",
            "subject": "Offert på kaffebönor",
            "body": "Hej Åsa!\n\nHär kommer offerten.\n\nMvh Säljaren",
        },
    )
    assert response.headers["Location"].endswith(f"/admin/company/card/{company.id}?tab=email")

    [envelope] = smtp.envelopes
    assert sorted(envelope.rcpt_tos) == ["asa@agren.example", "info@agren.example"]
    sent = message_from_bytes(envelope.content, policy=policy.default)
    assert sent["Subject"] == "Offert på kaffebönor"
    assert sent["From"].addresses[0].addr_spec == "seller@example.se"
    assert "Här kommer offerten." in sent.get_content()

    stored = db.session.scalar(db.select(EmailMessage))
    assert (stored.company_id, stored.contact_id, stored.direction) == (company.id, contact.id, "out")
    assert "Offert på kaffebönor" in text(seller.client.get(f"/admin/company/card/{company.id}/tab/email"))
    assert "Offert på kaffebönor" in text(seller.client.get(f"/admin/contact/card/{contact.id}/tab/email"))


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"to": "", "subject": "Hej"}, "Give at least one recipient."),
        ({"to": "inte-en-adress", "subject": "Hej"}, "%(address)s is not a valid e-mail address."),
        ({"to": "a@b.example", "subject": " "}, "Give the e-mail a subject."),
    ],
)
def test_bad_e_mail_input_is_explained_and_nothing_is_sent_or_kept(login, smtp, make_company, fields, message):
    company = make_company()
    response = login("seller").post(f"/admin/company/card/{company.id}/email", {"body": "x", **fields})
    assert response.status_code == 400
    assert sv(message, address="inte-en-adress") in text(response)
    assert 'value="' + fields["to"] + '"' in text(response)  # what was typed is kept
    assert smtp.envelopes == [] and count(db.session, EmailMessage) == 0


def test_a_refused_recipient_a_wrong_login_or_no_server_keeps_nothing(app, login, smtp, make_company, monkeypatch):
    company = make_company()
    seller = login("seller")
    url = f"/admin/company/card/{company.id}/email"
    response = seller.post(url, {"to": "ingen@refused.example", "subject": "Hej", "body": "x"})
    assert response.status_code == 502
    assert sv("The e-mail server refused the recipient %(address)s.", address="ingen@refused.example") in text(response)

    monkeypatch.setitem(app.config, "SMTP_PASSWORD", "fel")
    response = seller.post(url, {"to": "a@b.example", "subject": "Hej", "body": "x"})
    assert sv("The e-mail server did not accept the login. Ask your administrator to check the settings.") in text(
        response
    )

    monkeypatch.setitem(app.config, "SMTP_PORT", free_port())  # nobody listens there
    monkeypatch.setitem(app.config, "SMTP_PASSWORD", "hemligt")
    response = seller.post(url, {"to": "a@b.example", "subject": "Hej", "body": "x"})
    assert response.status_code == 502 and "Ingenting har sparats" in text(response)

    monkeypatch.setitem(app.config, "SMTP_HOST", "")
    response = seller.post(url, {"to": "a@b.example", "subject": "Hej", "body": "x"})
    assert sv("E-mail cannot be sent: no e-mail server is set up. Ask your administrator to set one up.") in text(
        response
    )
    assert smtp.envelopes == [] and count(db.session, EmailMessage) == 0


def test_sending_needs_the_permission_and_a_contact_of_this_company(login, smtp, make_company, make_contact):
    company, other = make_company(), make_company()
    stranger = make_contact(companies=[other], email="x@other.example")
    assert (
        login("readonly")
        .post(f"/admin/company/card/{company.id}/email", {"to": "a@b.example", "subject": "Hej"})
        .status_code
        == 403
    )
    assert (
        login("seller").client.get(f"/admin/company/card/{company.id}/email?contact={stranger.id}").status_code == 404
    )
    assert smtp.envelopes == []


# --- SMS ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("message", "parts"),
    [
        ("a", 1),
        ("a" * 160, 1),
        ("a" * 161, 2),
        ("å" * 160, 1),
        ("€" * 80, 1),
        ("€" * 81, 2),
        ("ł" * 70, 1),
        ("ł" * 71, 2),
        ("😀" * 35, 1),
        ("😀" * 36, 2),
    ],
)
def test_sms_parts_follow_gsm_and_ucs2_lengths(message, parts):
    assert sms.parts(message) == parts


def test_an_sms_from_the_card_goes_to_the_gateway_and_is_kept_as_an_activity(
    login, sms_gateway, make_company, make_contact
):
    company = make_company(name="Kafé Ågren AB")
    contact = make_contact(companies=[company], first_name="Åsa", last_name="Öberg", mobile="+46701234567")
    seller = login("seller")
    tab = text(seller.client.get(f"/admin/company/card/{company.id}/tab/contacts"))
    assert f"/admin/company/card/{company.id}/sms?contact={contact.id}" in tab
    assert 'value="+46701234567"' in text(
        seller.client.get(f"/admin/company/card/{company.id}/sms?contact={contact.id}")
    )

    response = seller.post(
        f"/admin/company/card/{company.id}/sms",
        {"contact": str(contact.id), "to": "070-123 45 67", "message": "Hej Åsa! Leveransen kommer i morgon."},
    )
    assert response.headers["Location"].endswith(f"/admin/company/card/{company.id}?tab=activities")
    assert sms_gateway == [{"from": "Kundreg", "to": "+46701234567", "message": "Hej Åsa! Leveransen kommer i morgon."}]
    activity = db.session.scalar(db.select(Activity))
    assert (activity.kind, activity.done, activity.company_id, activity.contact_id) == (
        "sms",
        True,
        company.id,
        contact.id,
    )
    assert activity.description == "Hej Åsa! Leveransen kommer i morgon."
    tab = text(seller.client.get(f"/admin/company/card/{company.id}/tab/activities"))
    assert "Sms till 070-123 45 67" in tab and sv("Mark done") not in tab


@pytest.mark.parametrize(
    ("to", "message", "error"),
    [
        ("08-123 456 78", "Hej", "%(value)s is not a mobile number: an SMS can only go to a mobile number."),
        ("+46701234567", "  ", "Write a message."),
        ("+46701234567", "x" * (153 * 6 + 1), "The message is too long: at most %(parts)s SMS parts."),
        ("", "Hej", "Give the mobile number to send to."),
    ],
)
def test_bad_sms_input_is_explained_and_nothing_is_sent(login, sms_gateway, make_contact, to, message, error):
    person = make_contact()
    response = login("seller").post(f"/admin/contact/card/{person.id}/sms", {"to": to, "message": message})
    assert response.status_code == 400
    assert sv(error, value=to, parts=6) in text(response)
    assert sms_gateway == [] and count(db.session, Activity) == 0


def test_a_gateway_refusal_or_wrong_login_keeps_nothing(app, login, sms_gateway, make_contact, monkeypatch):
    person = make_contact()
    seller = login("seller")
    url = f"/admin/contact/card/{person.id}/sms"
    response = seller.post(url, {"to": "+46700000000", "message": "Hej"})
    assert response.status_code == 502
    assert sv("The SMS service refused the message: %(reason)s", reason="Invalid to number") in text(response)
    monkeypatch.setitem(app.config, "SMS_PASSWORD", "fel")
    response = seller.post(url, {"to": "+46701234567", "message": "Hej"})
    assert sv("The SMS service did not accept the login. Ask your administrator to check the settings.") in text(
        response
    )
    monkeypatch.setitem(app.config, "SMS_USERNAME", "")
    response = seller.post(url, {"to": "+46701234567", "message": "Hej"})
    assert sv("SMS cannot be sent: no SMS service is set up. Ask your administrator to set one up.") in text(response)
    assert sms_gateway == [] and count(db.session, Activity) == 0
    assert login("readonly").post(url, {"to": "+46701234567", "message": "Hej"}).status_code == 403


def test_the_services_refuse_without_a_server(app, employees, make_contact):
    person = make_contact()
    with app.test_request_context():
        with pytest.raises(mail.SendFailed):
            mail.send(db.session, None, employees["seller"], person, to="a@b.example", subject="x", body="x")
        with pytest.raises(sms.SendFailed):
            sms.send(db.session, None, employees["seller"], person, to="+46701234567", message="x")
        with pytest.raises(InvalidValue):
            mail.addresses("a@b.example; trasig")
    assert mail.addresses("a@b.example; C@D.example") == ["a@b.example", "C@d.example"]


def test_a_subject_is_one_line(login, smtp, make_company):
    company = make_company()
    response = login("seller").post(
        f"/admin/company/card/{company.id}/email",
        {"to": "a@b.example", "subject": "Hej\r\nBcc: x@evil.example", "body": "x"},
    )
    assert response.status_code == 302
    [envelope] = smtp.envelopes
    assert envelope.rcpt_tos == ["a@b.example"]
    assert db.session.scalar(db.select(EmailMessage.subject)) == "Hej Bcc: x@evil.example"


def test_a_connection_for_many_messages_opens_again_when_the_server_has_closed_it(app, smtp, employees):
    """Massutskick's one session with the server: a session the server has closed meanwhile (idle
    timeout) is opened again for the next message, which goes out; an unreachable server fails in Swedish."""
    seller = employees["seller"]
    settings = mail.SmtpSettings.from_config(app.config)
    with mail.Connection(settings) as connection:
        connection.deliver(mail.compose(seller, ["a@example.se"], [], "Ett", "Hej"))
        connection._smtp.close()  # as when the server drops an idle session
        connection.deliver(mail.compose(seller, ["b@example.se"], [], "Två", "Hej"))
    assert [e.rcpt_tos for e in smtp.envelopes] == [["a@example.se"], ["b@example.se"]]
    assert len(set(smtp.peers)) == 2

    nowhere = mail.SmtpSettings("127.0.0.1", free_port(), "none", timeout=2)
    with pytest.raises(mail.SendFailed, match="Ingenting har sparats"):
        mail.Connection(nowhere).deliver(mail.compose(seller, ["c@example.se"], [], "Tre", "Hej"))
