"""Massutskick in a real browser: tick people in Kontakter, "Fler åtgärder" – "Skicka e-post", write,
preview with how many get it and who is left out and why, send; the queue worker sends it through the
SMTP server and the result page counts it."""

from email import message_from_bytes, policy

import pytest
from sqlalchemy import insert

import crm_ui as ui
from crm_ui import expect
from models import Contact, utcnow

pytestmark = pytest.mark.browser


def _address(first: str, last: str) -> str:
    return f"{first}.{last.replace(' ', '.')}@example.se".lower()


def _add_contacts(engine, last: str) -> None:
    """Three people of one surname: one who may get marketing e-mail, one who declined, one without an address."""
    now = utcnow()
    people = [
        {"first_name": "Alva", "email": _address("Alva", last)},
        {"first_name": "Bror", "email": _address("Bror", last), "consent_email": False},
        {"first_name": "Cecilia", "email": None},
    ]
    with engine.begin() as connection:
        connection.execute(
            insert(Contact.__table__),
            [
                {
                    "last_name": last,
                    "version": 1,
                    "lawful_basis": "legitimate_interest",
                    "consent_email": None,
                    "created_at": now,
                    "updated_at": now,
                    **person,
                }
                for person in people
            ],
        )


def test_send_an_e_mail_to_the_ticked_contacts(login_as, live_database, outbox):
    last = ui.unique("Utskicksson")
    _add_contacts(live_database, last)
    page = login_as("seller")
    ui.menu(page, "CRM", "Kontakter")
    ui.quick_search(page, last)
    expect(ui.list_row(page, last)).to_have_count(3)
    for row in ui.list_row(page, last).all():
        ui.tick(row)
    ui.toolbar(page).get_by_role("button", name="Fler åtgärder").click()
    page.get_by_role("link", name=ui.exact("Skicka e-post")).click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Skicka e-post till många")
    count = page.locator("#mass-message-count")
    expect(count).to_contain_text("1 får det.")
    expect(count).to_contain_text("2 hoppas över:")
    expect(count).to_contain_text("1 saknar e-postadress")
    expect(count).to_contain_text("1 har tackat nej eller återkallat samtycket")

    subject = ui.unique("Höstens erbjudande")
    page.get_by_label("Ämne").fill(subject)
    page.get_by_label("Meddelande").fill("Hej!\n\nNu är höstens priser här.")
    page.get_by_role("button", name=ui.exact("Förhandsgranska")).click()
    expect(page.locator("#mass-message-preview-subject")).to_have_text(subject)
    expect(page.locator("#mass-message-preview")).to_contain_text(_address("Alva", last))
    page.get_by_role("button", name=ui.exact("Skicka till 1 mottagare")).click()

    expect(ui.flash(page).first).to_contain_text("Meddelandet skickas till 1 mottagare.")
    expect(page.locator("#mass-message-status")).to_have_text("Avslutat", timeout=30_000)  # the page reloads itself
    expect(page.locator("#mass-message-sent")).to_have_text("1")
    expect(page.locator("#mass-message-left-out")).to_contain_text("1 saknar e-postadress")
    sent = [message_from_bytes(e.content, policy=policy.default) for e in outbox.mail]
    mine = [m for m in sent if m["Subject"] == subject]
    assert [m["To"] for m in mine] == [_address("Alva", last)]
