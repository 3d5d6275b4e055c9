"""Issue 12, item 8: the e-mail lock ("Spärra tillgång") holds wherever a message shows.

The rule (services/email_lock.py, README "Säkerhet"): a message belongs to the company it
was written from; one written from a contact's card belongs to every company the contact is
linked to. A message that belongs to a locked company is locked wherever it shows — the
company card, the contact card (and the private customer card), their Översikt counts, the
message's own page, and any list, report, export or search — for everyone without
`email.view_locked` (administrators have it).

The attack that found the gap: a seller writes to a person at a locked company from the
person's own card; colleagues then read it on that card."""

import re

import pytest

from extensions import db
from models import CompanyContact, EmailMessage
from services import email_lock
from tests.helpers import sv, text
from tests.message_servers import start_smtp

SECRET_SUBJECT = "Hemligt förhandlingsbud 4711"
SECRET_BODY = "Vi går med på 37 procent rabatt"


@pytest.fixture
def smtp(app, monkeypatch):
    """A real SMTP server on localhost; the app sends through it."""
    controller, inbox = start_smtp(login_required=False)
    for key, value in {"SMTP_HOST": "127.0.0.1", "SMTP_PORT": controller.port, "SMTP_SECURITY": "none"}.items():
        monkeypatch.setitem(app.config, key, value)
    yield inbox
    controller.stop()


@pytest.fixture
def locked(make_company, make_contact, employees):
    """A locked company, a person at it (a private customer too), and an open company."""
    company = make_company(name="Låsta AB", email_locked=True)
    person = make_contact(companies=[company], first_name="Lena", last_name="Låsström", email="lena@lasta.example")
    person.customer_number = 990001
    other = make_company(name="Öppna AB")
    db.session.commit()
    return {"company": company, "person": person, "other": other}


def contact_message(contact, subject=SECRET_SUBJECT, **fields) -> EmailMessage:
    """A message kept as one written from the contact's own card (no company)."""
    message = EmailMessage(
        contact_id=contact.id, sender="s@example.se", recipients="lena@lasta.example", subject=subject, **fields
    )
    message.body = fields.get("body", SECRET_BODY)
    db.session.add(message)
    db.session.commit()
    return message


def emails_figure(page: str) -> int:
    match = re.search(r'id="figure-emails">\s*<span class="h4 mb-0">(\d+)<', page)
    assert match, "no e-mail figure on the Översikt"
    return int(match.group(1))


# --- the one gate (services.email_lock) -------------------------------------------------------


def test_the_gate_locks_a_message_written_on_the_card_of_a_person_at_a_locked_company(locked, employees):
    message = contact_message(locked["person"])
    seller, finance, admin = employees["seller"], employees["finance"], employees["admin"]
    for employee in (seller, finance):
        assert db.session.scalars(email_lock.readable_messages(employee)).all() == []
        assert email_lock.message_for(db.session, employee, message.id, contact_id=locked["person"].id) is None
    assert email_lock.message_for(db.session, admin, message.id, contact_id=locked["person"].id) == message
    assert email_lock.is_locked(db.session, locked["person"]) and email_lock.is_locked(db.session, locked["company"])
    assert not email_lock.is_locked(db.session, locked["other"])


def test_the_lock_follows_the_company_it_is_lifted_and_set_again(locked, employees):
    message = contact_message(locked["person"])
    seller, admin = employees["seller"], employees["admin"]
    email_lock.set_locked(db.session, admin, locked["company"], False)
    db.session.commit()
    assert db.session.scalars(email_lock.readable_messages(seller)).all() == [message]
    email_lock.set_locked(db.session, admin, locked["company"], True)
    db.session.commit()
    assert db.session.scalars(email_lock.readable_messages(seller)).all() == []


def test_a_message_written_from_an_open_company_to_the_person_stays_readable(locked, employees):
    """It belongs to the open company it was written from, not to every company of the person."""
    db.session.add(CompanyContact(company=locked["other"], contact=locked["person"]))
    open_message = EmailMessage(
        company_id=locked["other"].id,
        contact_id=locked["person"].id,
        sender="s@example.se",
        recipients="lena@lasta.example",
        subject="Öppen fråga",
    )
    db.session.add(open_message)
    db.session.commit()
    secret = contact_message(locked["person"])
    readable = db.session.scalars(email_lock.readable_messages(employees["seller"])).all()
    assert readable == [open_message] and secret not in readable


def test_a_person_at_no_locked_company_keeps_their_messages_readable(make_contact, employees):
    free = make_contact(first_name="Fri", last_name="Person")
    message = contact_message(free, subject="Vanligt brev")
    assert db.session.scalars(email_lock.readable_messages(employees["seller"])).all() == [message]
    assert not email_lock.is_locked(db.session, free)


# --- every place a message shows, over HTTP ---------------------------------------------------


def test_the_attack_a_message_sent_from_the_contact_card_is_locked_on_every_card(login, smtp, locked):
    person, company = locked["person"], locked["company"]
    writer = login("seller")
    response = writer.post(
        f"/admin/contact/card/{person.id}/email",
        {"to": "lena@lasta.example", "subject": SECRET_SUBJECT, "body": SECRET_BODY},
    )
    assert response.status_code == 302 and len(smtp.envelopes) == 1
    message = db.session.scalar(db.select(EmailMessage))
    assert (message.company_id, message.contact_id) == (None, person.id)

    for role in ("seller", "finance"):
        client = login(role).client
        for card in (f"/admin/contact/card/{person.id}", f"/admin/privatecustomer/card/{person.id}"):
            tab = text(client.get(f"{card}/tab/email"))
            assert SECRET_SUBJECT not in tab and 'id="email-locked-notice"' in tab, (role, card)
            assert sv("Some e-mail of this contact is hidden: an administrator has locked it.") in tab
            assert client.get(f"{card}/email/{message.id}").status_code == 404, (role, card)
            assert emails_figure(text(client.get(f"{card}/tab/overview"))) == 0, (role, card)
            whole = text(client.get(f"{card}?tab=email"))
            assert SECRET_SUBJECT not in whole and SECRET_BODY not in whole
        company_tab = text(client.get(f"/admin/company/card/{company.id}/tab/email"))
        assert SECRET_SUBJECT not in company_tab

    admin = login("admin").client
    for card in (f"/admin/contact/card/{person.id}", f"/admin/privatecustomer/card/{person.id}"):
        assert SECRET_SUBJECT in text(admin.get(f"{card}/tab/email"))
        assert SECRET_BODY in text(admin.get(f"{card}/email/{message.id}"))
        assert emails_figure(text(admin.get(f"{card}/tab/overview"))) == 1


def test_a_message_of_the_locked_company_is_locked_on_the_company_card_and_the_persons(login, locked):
    company, person = locked["company"], locked["person"]
    message = EmailMessage(
        company_id=company.id, contact_id=person.id, sender="s@example.se", recipients="x@example.se"
    )
    message.subject, message.body = SECRET_SUBJECT, SECRET_BODY
    db.session.add(message)
    db.session.commit()
    seller = login("seller").client
    for card in (f"/admin/company/card/{company.id}", f"/admin/contact/card/{person.id}"):
        assert SECRET_SUBJECT not in text(seller.get(f"{card}/tab/email"))
        assert seller.get(f"{card}/email/{message.id}").status_code == 404
        assert emails_figure(text(seller.get(f"{card}/tab/overview"))) == 0
    admin = login("admin").client
    assert SECRET_SUBJECT in text(admin.get(f"/admin/contact/card/{person.id}/tab/email"))


def test_no_page_of_the_app_shows_a_locked_message_to_a_seller(app, demo, login):
    """Every GET page with real ids (lists searched and sorted, every card tab, reports run,
    exports, look-ups, the people search) walked as a seller: the locked message's subject,
    body and recipients appear nowhere. The same walk as an administrator finds it (the
    walk reaches the places a message shows)."""
    from models import Company, Contact
    from tests.security import get_pages, tally

    company = db.session.scalar(db.select(Company).where(Company.email_locked.is_(True)))
    person = db.session.scalar(
        db.select(Contact).join(CompanyContact).where(CompanyContact.company_id == company.id).limit(1)
    )
    secret = contact_message(person, subject=SECRET_SUBJECT, body=SECRET_BODY)
    secret.recipients = "hemlig.mottagare@lasta.example"
    db.session.commit()
    pages = get_pages(app, db.session)
    own = [f"/admin/contact/card/{person.id}?tab=email", f"/admin/contact/card/{person.id}/email/{secret.id}"]
    own += [f"/admin/contact/?search={person.last_name}", "/admin/contact/export/csv/"]
    seller, admin = login("seller").client, login("admin").client
    found_by_admin = 0
    for url in pages + own:
        page = seller.get(url).get_data(as_text=True)
        for needle in (SECRET_SUBJECT, SECRET_BODY, "hemlig.mottagare@lasta.example"):
            assert needle not in page, (url, needle)
        tally("e-mail lock: pages × seller")
    for url in own:
        found_by_admin += SECRET_SUBJECT in admin.get(url).get_data(as_text=True)
    assert found_by_admin == 2  # the tab and the message's page


def test_the_register_extract_is_not_made_by_someone_who_may_not_read_the_locked_messages(login, locked, employees):
    """The attack: a seller granted "register extracts" (privacy.extract) but not the reading of
    locked e-mail took the person's extract, HTML and ZIP, and read the locked message in it. An
    extract must be complete (GDPR art. 15), so it is refused with a Swedish reason instead of
    being made without the message; an administrator makes it whole."""
    import io
    import zipfile

    from services import permissions

    person = locked["person"]
    contact_message(person)
    permissions.set_overrides(employees["admin"], employees["seller"], grant={"privacy.extract"}, revoke=set())
    db.session.commit()
    seller = login("seller")
    url = f"/admin/privacy/contact/{person.id}/extract"
    for form in ({}, {"format": "zip"}):
        response = seller.post(url, form)
        assert response.status_code == 302, form
        page = text(seller.client.get(response.headers["Location"]))
        assert SECRET_SUBJECT not in page and SECRET_BODY not in page
        assert (
            sv(
                "%(name)s has e-mail that is locked (Spärra tillgång on a company's E-mail tab). A register extract "
                "must be complete, so only someone who may read locked e-mail can make it: ask an administrator.",
                name=person.name,
            )
            in page
        )
    admin = login("admin")
    assert SECRET_BODY in text(admin.post(url, {}))
    archive = zipfile.ZipFile(io.BytesIO(admin.post(url, {"format": "zip"}).get_data()))
    assert SECRET_SUBJECT in archive.read("registerutdrag.json").decode()
