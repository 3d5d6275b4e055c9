"""When e-mail or SMS is not set up, the page says so before the user writes anything: sellers are
told to ask their administrator (no setting names), administrators which settings of the server set it up
(in Swedish; not a pointer to an English heading of the README)."""

import re

import pytest

from tests.helpers import sv, text

SETTING_NAME = re.compile(r"\bCRM_[A-Z_]+\b")


@pytest.fixture
def person(make_contact):
    return make_contact(first_name="Sara", last_name="Sms", email="sara@example.se", mobile="+46701234567")


@pytest.mark.parametrize(
    ("setting", "page", "message"),
    [
        (
            "SMTP_HOST",
            "email",
            "E-mail cannot be sent: no e-mail server is set up. Ask your administrator to set one up.",
        ),
        ("SMS_USERNAME", "sms", "SMS cannot be sent: no SMS service is set up. Ask your administrator to set one up."),
    ],
)
def test_the_seller_is_told_before_writing(app, login, person, monkeypatch, setting, page, message):
    monkeypatch.setitem(app.config, setting, "")
    shown = text(login("seller").client.get(f"/admin/contact/card/{person.id}/{page}"))
    warning = re.search(r'id="message-unavailable">(.*?)</div>', shown, re.S)
    assert warning and warning.group(1).strip() == sv(message)
    assert re.search(r"<fieldset disabled>", shown), "the form cannot be filled in"
    assert not SETTING_NAME.search(shown)


@pytest.mark.parametrize(
    ("setting", "page", "needed"),
    [("SMTP_HOST", "email", {"CRM_SMTP_HOST"}), ("SMS_USERNAME", "sms", {"CRM_SMS_USERNAME", "CRM_SMS_PASSWORD"})],
)
def test_the_administrator_is_told_which_settings_set_it_up(app, login, person, monkeypatch, setting, page, needed):
    monkeypatch.setitem(app.config, setting, "")
    shown = text(login("admin").client.get(f"/admin/contact/card/{person.id}/{page}"))
    warning = re.search(r'id="message-unavailable">(.*?)</div>', shown, re.S).group(1)
    assert needed <= set(SETTING_NAME.findall(warning))
    assert "README" not in warning and "customer card" not in warning


@pytest.mark.parametrize("page", ["email", "sms"])
def test_when_set_up_the_form_is_open(app, login, person, monkeypatch, page):
    monkeypatch.setitem(app.config, "SMTP_HOST", "127.0.0.1")
    monkeypatch.setitem(app.config, "SMS_USERNAME", "konto")
    shown = text(login("seller").client.get(f"/admin/contact/card/{person.id}/{page}"))
    assert 'id="message-unavailable"' not in shown and "<fieldset>" in shown
