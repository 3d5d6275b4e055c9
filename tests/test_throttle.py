"""Login throttling per account and per IP address, in the database (no Redis) and in Redis.

Tests that need Redis read CRM_TEST_REDIS_URL (e.g. redis://127.0.0.1:6379/15) and are skipped
with the reason when it is unset. Each uses keys of its own prefix, so parallel workers never meet.
"""

import os
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select

from models import AuditEvent, LoginThrottle, utcnow
from services.throttle import DatabaseStore, Policy, RedisStore, Throttle, account_key
from tests.conftest import PASSWORD, AuthActions
from tests.helpers import count, sv, text

REDIS_URL = os.environ.get("CRM_TEST_REDIS_URL")
needs_redis = pytest.mark.skipif(not REDIS_URL, reason="CRM_TEST_REDIS_URL is not set (e.g. redis://127.0.0.1:6379/15)")
POLICY = Policy(max_failures=10, ip_max_failures=30, window=timedelta(minutes=15), lockout=timedelta(minutes=15))


def locked_text(minutes=15) -> str:
    return sv("Too many failed login attempts. Wait %(minutes)s minutes and try again.", minutes=minutes)


@pytest.fixture
def redis_client():
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    prefix = f"test-{uuid.uuid4().hex}:"
    yield client, prefix
    for key in client.scan_iter(f"{prefix}*"):
        client.delete(key)


@pytest.fixture(params=["database", pytest.param("redis", marks=needs_redis)])
def store(request, session):
    if request.param == "database":
        return DatabaseStore(session)
    client, prefix = request.getfixturevalue("redis_client")
    return RedisStore(client, prefix=prefix)


def test_ten_failures_in_the_window_lock_the_account_for_the_lockout(store, session):
    throttle = Throttle(store, POLICY)
    now = utcnow()
    for n in range(9):
        assert throttle.add_failure("seller@example.se", "10.0.0.1", now + timedelta(seconds=n)) is None
    assert throttle.locked_until("seller@example.se", "10.0.0.2", now) is None
    assert throttle.add_failure("Seller@Example.se ", "10.0.0.1", now + timedelta(seconds=9)) == "account"
    until = throttle.locked_until("seller@example.se", "10.0.0.2", now + timedelta(seconds=10))
    assert until is not None and timedelta(minutes=14) < until - now <= timedelta(minutes=15, seconds=10)
    # Another account from the same address is not locked (the address has 10 of its 30).
    assert throttle.locked_until("admin@example.se", "10.0.0.1", now) is None


def test_failures_outside_the_window_start_a_new_count(session):
    throttle = Throttle(DatabaseStore(session), POLICY)
    start = utcnow()
    for n in range(9):
        throttle.add_failure("seller@example.se", "10.0.0.1", start + timedelta(seconds=n))
    later = start + timedelta(minutes=16)
    assert throttle.add_failure("seller@example.se", "10.0.0.1", later) is None
    assert session.get(LoginThrottle, account_key("seller@example.se")).failures == 1
    assert throttle.locked_until("seller@example.se", "10.0.0.1", later) is None


def test_a_lock_ends_by_itself_after_the_lockout(session):
    throttle = Throttle(DatabaseStore(session), POLICY)
    now = utcnow()
    for _ in range(10):
        throttle.add_failure("seller@example.se", "10.0.0.1", now)
    assert throttle.locked_until("seller@example.se", None, now + timedelta(minutes=14)) is not None
    assert throttle.locked_until("seller@example.se", None, now + timedelta(minutes=15, seconds=1)) is None


def test_many_failures_from_one_address_lock_the_address_for_every_account(store, session):
    throttle = Throttle(store, POLICY)
    now = utcnow()
    locked = [throttle.add_failure(f"person{n}@example.se", "10.9.9.9", now) for n in range(30)]
    assert locked == [None] * 29 + ["address"]  # the failure that locks the address says so (found by the attack run)
    assert throttle.locked_until("someone.else@example.se", "10.9.9.9", now) is not None
    assert throttle.locked_until("someone.else@example.se", "10.9.9.8", now) is None


def test_an_address_lock_is_not_audited_as_a_lockout_of_the_account_that_tipped_it(app, employees, session):
    """The login refused by the address's lock says locked; the lockout in the history is the account's own."""
    from services import accounts

    throttle = Throttle(DatabaseStore(session), POLICY)
    now = utcnow()
    for n in range(29):
        accounts.check_password(session, f"person{n}@example.se", "fel", ip="10.7.7.7", throttle=throttle, now=now)
    step = accounts.check_password(session, "seller@example.se", "fel", ip="10.7.7.7", throttle=throttle, now=now)
    assert step.outcome == "locked"
    assert count(session, AuditEvent, AuditEvent.action == "lockout") == 0


def test_unlock_and_success_forget_the_account(store, session):
    throttle = Throttle(store, POLICY)
    now = utcnow()
    for _ in range(10):
        throttle.add_failure("seller@example.se", "10.0.0.1", now)
    throttle.unlock("seller@example.se")
    assert throttle.locked_until("seller@example.se", "10.0.0.99", now) is None
    for _ in range(9):
        throttle.add_failure("seller@example.se", "10.0.0.1", now)
    throttle.succeeded("seller@example.se")
    assert throttle.add_failure("seller@example.se", "10.0.0.1", now) is None  # the count starts again


def test_the_database_keeps_no_e_mail_address(session):
    Throttle(DatabaseStore(session), POLICY).add_failure("hemlig.person@example.se", "10.0.0.1", utcnow())
    keys = session.scalars(select(LoginThrottle.key)).all()
    assert len(keys) == 2 and not any("hemlig" in key or "10.0.0.1" in key for key in keys)


@needs_redis
def test_redis_keys_expire_by_themselves(redis_client):
    client, prefix = redis_client
    throttle = Throttle(RedisStore(client, prefix=prefix), POLICY)
    throttle.add_failure("seller@example.se", "10.0.0.1", utcnow())
    keys = list(client.scan_iter(f"{prefix}*"))
    assert len(keys) == 2
    assert all(0 < client.ttl(key) <= 15 * 60 for key in keys)
    assert not any(b"seller" in key for key in keys)


# --- through the login form -------------------------------------------------------------------


def wrong_login(actions: AuthActions, email: str):
    return actions.client.post(
        "/login", data={"email": email, "password": "fel-losenord-123", "csrf_token": actions.csrf_token()}
    )


@pytest.fixture(params=["database", pytest.param("redis", marks=needs_redis)])
def backend(request, app, monkeypatch):
    """The app with throttling in the database (no Redis), or in Redis under a prefix of its own."""
    if request.param == "redis":
        client, prefix = request.getfixturevalue("redis_client")
        monkeypatch.setitem(app.config, "REDIS_URL", REDIS_URL)
        monkeypatch.setitem(app.config, "REDIS_KEY_PREFIX", prefix)
        monkeypatch.delitem(app.extensions, "crm_redis", raising=False)
        yield request.param
        app.extensions.pop("crm_redis", None)
    else:
        monkeypatch.setitem(app.config, "REDIS_URL", "")
        yield request.param


def test_the_tenth_wrong_password_locks_the_account_even_for_the_right_one(app, backend, employees, session):
    actions = AuthActions(app.test_client())
    for _ in range(9):
        response = wrong_login(actions, "seller@example.se")
        assert sv("Wrong e-mail address or password, or the account is deactivated.") in text(response)
    response = wrong_login(actions, "seller@example.se")
    assert locked_text() in text(response)
    # The right password does not open it now, from this address or another.
    response = actions.login("seller@example.se", PASSWORD)
    assert response.status_code == 200 and locked_text() in text(response)
    other = AuthActions(app.test_client())
    response = other.client.post(
        "/login",
        data={"email": "seller@example.se", "password": PASSWORD, "csrf_token": other.csrf_token()},
        environ_base={"REMOTE_ADDR": "192.0.2.7"},
    )
    assert response.status_code == 200 and locked_text() in text(response)
    # Audited: each failure, and the lockout once.
    seller_id = employees["seller"].id
    assert count(session, AuditEvent, AuditEvent.action == "lockout", AuditEvent.entity_id == seller_id) == 1
    reasons = [
        e.changes["reason"]
        for e in session.scalars(select(AuditEvent).where(AuditEvent.action == "login_failed").order_by(AuditEvent.id))
    ]
    assert reasons == ["password"] * 10 + ["locked", "locked"]
    if backend == "database":
        assert session.get(LoginThrottle, account_key("seller@example.se")).locked_until is not None


def test_an_unknown_account_is_locked_with_the_same_message(app, backend, employees, session):
    actions = AuthActions(app.test_client())
    for _ in range(10):
        response = wrong_login(actions, "finns.inte@example.se")
    assert locked_text() in text(response)
    assert response.status_code == 200
    lockout = session.scalars(select(AuditEvent).where(AuditEvent.action == "lockout")).one()
    assert (lockout.entity_type, lockout.entity_label) == ("login", "finns.inte@example.se")


def test_an_administrator_unlocks_the_account(app, backend, employees, session):
    actions = AuthActions(app.test_client())
    for _ in range(10):
        wrong_login(actions, "seller@example.se")
    admin = AuthActions(app.test_client())
    admin.client.post(
        "/login",
        data={"email": "admin@example.se", "password": PASSWORD, "csrf_token": admin.csrf_token()},
        environ_base={"REMOTE_ADDR": "192.0.2.50"},
    )
    card = text(admin.client.get(f"/admin/employee/card/{employees['seller'].id}"))
    assert sv("Locked until %(time)s", time="")[:8] in card
    response = admin.post(f"/admin/employee/card/{employees['seller'].id}/unlock")
    assert response.status_code == 302
    card = text(admin.client.get(response.headers["Location"]))
    assert sv("The login of %(name)s was unlocked.", name="Test Seller") in card
    assert sv("Not locked.") in card
    assert actions.login("seller@example.se", PASSWORD).status_code == 302
    assert count(session, AuditEvent, AuditEvent.action == "unlock", AuditEvent.actor_id == employees["admin"].id) == 1


def test_a_successful_login_resets_the_accounts_count(app, backend, employees):
    actions = AuthActions(app.test_client())
    for _ in range(9):
        wrong_login(actions, "seller@example.se")
    assert actions.login("seller@example.se", PASSWORD).status_code == 302
    actions.logout()
    for _ in range(9):
        response = wrong_login(actions, "seller@example.se")
    assert locked_text() not in text(response)


def test_the_cli_unlocks_a_login(app, employees):
    actions = AuthActions(app.test_client())
    for _ in range(10):
        wrong_login(actions, "admin@example.se")
    result = app.test_cli_runner().invoke(args=["unlock-login", "--email", "ADMIN@example.se"])
    assert result.exit_code == 0, result.output
    assert actions.login("admin@example.se", PASSWORD).status_code == 302


def test_counts_and_locks_that_are_over_are_deleted(session):
    throttle = Throttle(DatabaseStore(session), POLICY)
    long_ago = utcnow() - timedelta(hours=2)
    for n in range(5):
        throttle.add_failure(f"once{n}@example.se", "10.0.0.1", long_ago)
    for _ in range(10):
        throttle.add_failure("locked@example.se", "10.0.0.2", utcnow() - timedelta(minutes=1))
    throttle.add_failure("now@example.se", "10.0.0.3", utcnow())
    keys = set(session.scalars(select(LoginThrottle.key)))
    assert not any(account_key(f"once{n}@example.se") in keys for n in range(5))
    assert {account_key("locked@example.se"), account_key("now@example.se")} <= keys


def test_guessing_the_current_password_in_mitt_konto_counts_and_locks_like_a_login(
    app, backend, login, employees, session
):
    """Found by the attack run: with a session left open (a borrowed computer), the current
    password asked by Mitt konto – Byt lösenord could be guessed without limit, and a right guess
    then changed the password. Each wrong one now counts towards the account's lock."""
    actions = login("seller")
    change = {"new_password": "Ett-helt-nytt-losen-77", "confirm": "Ett-helt-nytt-losen-77"}
    for n in range(10):
        response = actions.post("/admin/account/password", {**change, "current_password": f"gissning-{n}"})
        assert response.status_code == 200
    assert locked_text() in text(response)
    response = actions.post("/admin/account/password", {**change, "current_password": PASSWORD})
    assert locked_text() in text(response)
    assert count(session, AuditEvent, AuditEvent.action == "password_changed") == 0
    assert (
        count(session, AuditEvent, AuditEvent.action == "lockout", AuditEvent.entity_id == employees["seller"].id) == 1
    )
    response = AuthActions(app.test_client()).login("seller@example.se", PASSWORD)
    assert locked_text() in text(response)
