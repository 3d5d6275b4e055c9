"""API keys: the service (hash only, expiry, revocation, last use), `flask --app app api-key`, and
Administration – Integrationer (the key shown once, the list, revoking with CSRF)."""

import hashlib
import re
from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import select

from helpers import count, flashes, sv, text
from models import ApiKey, utcnow
from services import api_keys
from services.validation import InvalidValue


def test_a_key_is_stored_only_as_its_hash_and_authenticates_until_revoked(session, employees):
    new = api_keys.create(session, employees["admin"], employee=employees["seller"], name="Webbshop")
    session.commit()
    assert new.secret.startswith("crm_") and len(new.secret) >= 40
    stored = session.get(ApiKey, new.record.id)
    assert stored.key_hash == hashlib.sha256(new.secret.encode()).hexdigest()
    assert new.secret not in repr([getattr(stored, c.key) for c in ApiKey.__table__.columns])
    assert stored.prefix == new.secret[:12]
    assert api_keys.authenticate(session, new.secret).employee.email == "seller@example.se"
    assert api_keys.authenticate(session, new.secret[:-1] + "x") is None
    assert api_keys.authenticate(session, "") is None and api_keys.authenticate(session, None) is None
    assert api_keys.revoke(session, employees["admin"], stored) is True
    assert api_keys.revoke(session, employees["admin"], stored) is False
    assert api_keys.authenticate(session, new.secret) is None


def test_expired_keys_and_keys_of_inactive_employees_are_refused(session, employees):
    now = utcnow()
    new = api_keys.create(session, None, employee=employees["seller"], name="Kort", expires_at=now + timedelta(hours=1))
    assert api_keys.authenticate(session, new.secret, now=now) is not None
    assert api_keys.authenticate(session, new.secret, now=now + timedelta(hours=2)) is None
    employees["seller"].active = False
    assert api_keys.authenticate(session, new.secret, now=now) is None
    with pytest.raises(InvalidValue):
        api_keys.create(session, None, employee=employees["seller"], name="Inaktiv")
    with pytest.raises(InvalidValue):
        api_keys.create(session, None, employee=employees["admin"], name="Gammal", expires_at=now - timedelta(days=1))
    with pytest.raises(InvalidValue):
        api_keys.create(session, None, employee=employees["admin"], name="  ")


def test_a_key_valid_through_a_day_works_all_that_day_and_not_after(session, employees):
    day = date(2099, 3, 31)
    new = api_keys.create(session, None, employee=employees["seller"], name="Dag", expires_at=api_keys.expiry_of(day))
    assert api_keys.valid_through(new.record) == day
    last_moment = datetime(2099, 3, 31, 23, 59, 59)
    assert api_keys.authenticate(session, new.secret, now=last_moment) is not None
    assert api_keys.authenticate(session, new.secret, now=last_moment + timedelta(seconds=1)) is None
    forever = api_keys.create(session, None, employee=employees["seller"], name="Evig")
    assert api_keys.valid_through(forever.record) is None


def test_only_integration_managers_create_and_revoke_keys(session, employees):
    for role in ("seller", "finance", "readonly"):
        with pytest.raises(api_keys.NotPermitted):
            api_keys.create(session, employees[role], employee=employees[role], name="Egen")
    record = api_keys.create(session, employees["admin"], employee=employees["admin"], name="Admin").record
    with pytest.raises(api_keys.NotPermitted):
        api_keys.revoke(session, employees["seller"], record)


def test_last_use_is_written_at_most_once_a_minute(session, employees):
    new = api_keys.create(session, None, employee=employees["seller"], name="Räknare")
    session.commit()
    now = utcnow()
    api_keys.authenticate(session, new.secret, now=now)
    session.commit()
    api_keys.authenticate(session, new.secret, now=now + timedelta(seconds=30))
    session.commit()
    session.expire_all()
    assert session.get(ApiKey, new.record.id).last_used_at == now
    api_keys.authenticate(session, new.secret, now=now + timedelta(minutes=2))
    session.commit()
    session.expire_all()
    assert session.get(ApiKey, new.record.id).last_used_at == now + timedelta(minutes=2)


# --- the command line ----------------------------------------------------------------------------


def test_cli_creates_a_key_prints_it_once_and_revokes_it(app, session, employees):
    runner = app.test_cli_runner()
    result = runner.invoke(
        args=["api-key", "create", "--employee", "seller@example.se", "--name", "Fortnox", "--expires", "2099-12-31"]
    )
    assert result.exit_code == 0, result.output
    secret = result.stdout.strip().splitlines()[-1]
    assert secret.startswith("crm_")
    session.expire_all()
    record = session.scalar(select(ApiKey).where(ApiKey.name == "Fortnox"))
    assert record.employee.email == "seller@example.se" and record.expires_at.year == 2100
    assert api_keys.authenticate(session, secret).id == record.id
    missing = runner.invoke(args=["api-key", "create", "--employee", "nobody@example.se", "--name", "X"])
    assert missing.exit_code != 0 and "nobody@example.se" in missing.output
    revoked = runner.invoke(args=["api-key", "revoke", "--id", str(record.id)])
    assert revoked.exit_code == 0
    session.expire_all()
    assert api_keys.authenticate(session, secret) is None


# --- Administration – Integrationer -------------------------------------------------------------


def test_the_admin_creates_a_key_sees_it_once_lists_and_revokes_it(login, session, employees, client):
    admin = login("admin")
    page = admin.post(
        "/admin/integrations/keys",
        {"name": "Webbshop", "employee_id": str(employees["seller"].id), "expires_on": "2099-01-31"},
    )
    assert page.status_code == 200
    shown = re.search(r'id="new-api-key-secret">([^<]+)<', page.get_data(as_text=True)).group(1)
    assert api_keys.authenticate(session, shown) is not None
    session.commit()  # its last use (the request below writes the same row)
    assert sv("The API key %(name)s was created. Copy it now: it is shown only this once.", name="Webbshop") in text(
        page
    )
    listing = admin.client.get("/admin/integrations/")
    body = text(listing)
    html = listing.get_data(as_text=True)
    # the page's title is its name, and each of its parts is on it once
    assert re.search(r"<title>\s*Integrationer – [^<]*</title>", html), re.search(r"<title>.*?</title>", html, re.S)
    assert html.count('id="create-webhook"') == 1 and html.count('id="webhooks"') == 1
    assert "Webbshop" in body and "Test Seller" in body and "2099-01-31" in body and shown not in body
    record = session.scalar(select(ApiKey).where(ApiKey.name == "Webbshop"))
    assert record.prefix in body
    assert admin.client.post(f"/admin/integrations/keys/{record.id}/revoke").status_code == 400  # no CSRF token
    revoked = admin.post(f"/admin/integrations/keys/{record.id}/revoke", follow_redirects=True)
    assert ("success", sv("The API key %(name)s was revoked.", name="Webbshop")) in flashes(revoked)
    session.expire_all()
    assert api_keys.authenticate(session, shown) is None


def test_a_key_needs_a_name_and_an_active_employee(login, session, employees):
    admin = login("admin")
    page = admin.post("/admin/integrations/keys", {"name": "", "employee_id": str(employees["seller"].id)})
    assert page.status_code == 400
    assert sv("Give the key a name (the integration that uses it).") in text(page)
    page = admin.post("/admin/integrations/keys", {"name": "X", "employee_id": "999999"})
    assert page.status_code == 400
    assert sv("No record with id %(id)s.", id="999999") in text(page)
    page = admin.post("/admin/integrations/keys", {"name": "X", "employee_id": ""})
    assert page.status_code == 400 and sv("Choose the employee the key acts as.") in text(page)
    employees["finance"].active = False
    session.commit()
    page = admin.post("/admin/integrations/keys", {"name": "X", "employee_id": str(employees["finance"].id)})
    assert page.status_code == 400
    assert sv("%(name)s is no longer active: choose an active employee.", name=employees["finance"].name) in text(page)
    assert count(session, ApiKey) == 0


@pytest.mark.parametrize("role", ["seller", "finance", "readonly"])
def test_only_administrators_reach_integrations(login, role, employees):
    user = login(role)
    assert user.client.get("/admin/integrations/").status_code == 403
    assert user.post("/admin/integrations/keys", {"name": "X", "employee_id": "1"}).status_code == 403
