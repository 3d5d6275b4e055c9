"""Server-side login sessions: a cookie (the session's, or the remember-me one) replayed after
logout, a password, role or two-factor change, a deactivation or an administrator's "log out
everywhere" gets the login page; idle and absolute timeouts; a new CSRF token at login; the
employee's own list of sessions."""

from datetime import timedelta

import pytest
from sqlalchemy import select

from models import AuditEvent, Employee, LoginSession, utcnow
from services import login_sessions, two_factor
from tests.conftest import PASSWORD, AuthActions
from tests.helpers import count, fresh, sv, text

COOKIES = ("session", "remember_token")


def log_in(app, email, *, remember=True) -> AuthActions:
    actions = AuthActions(app.test_client())
    data = {"email": email, "password": PASSWORD, "csrf_token": actions.csrf_token()}
    if remember:
        data["remember"] = "y"
    response = actions.client.post("/login", data=data)
    assert response.status_code == 302, text(response)[:500]
    return actions


def cookies(actions: AuthActions) -> dict[str, str]:
    found = {name: actions.client.get_cookie(name) for name in COOKIES}
    assert all(found.values()), found
    return {name: cookie.value for name, cookie in found.items()}


def replay(app, name: str, value: str):
    """A new browser that has only this one cookie, asking for the start page."""
    client = app.test_client()
    client.set_cookie(name, value, domain="localhost")
    return client.get("/admin/")


def assert_replay_refused(app, stolen: dict[str, str]) -> None:
    for name, value in stolen.items():
        response = replay(app, name, value)
        assert response.status_code == 302, name
        assert response.headers["Location"].startswith("/login"), name


def assert_replay_works(app, stolen: dict[str, str]) -> None:
    """The control: before the event, each cookie alone is a working login."""
    for name, value in stolen.items():
        assert replay(app, name, value).status_code == 200, name


def edit_employee(admin: AuthActions, employee: Employee, **changes):
    data = {
        "name": employee.name,
        "email": employee.email,
        "role": employee.role,
        "active": "y",
        "locale": "sv",
        "password": "",
    }
    data.update(changes)
    data = {k: v for k, v in data.items() if v is not None}
    response = admin.post(f"/admin/employee/edit/?id={employee.id}", data)
    assert response.status_code == 302, text(response)[:2000]


def test_each_login_makes_one_session_row(app, employees, session):
    log_in(app, "seller@example.se", remember=False)
    log_in(app, "seller@example.se", remember=True)
    rows = session.scalars(select(LoginSession).order_by(LoginSession.id)).all()
    assert [(r.employee_id, r.remember, r.ended_at) for r in rows] == [
        (employees["seller"].id, False, None),
        (employees["seller"].id, True, None),
    ]
    # The cookie holds a token; only its hash is stored.
    assert all(len(r.token_hash) == 64 for r in rows)
    assert rows[0].expires_at - rows[0].created_at == timedelta(hours=8)
    assert rows[1].expires_at - rows[1].created_at == timedelta(days=14)
    logins = session.scalars(select(AuditEvent).where(AuditEvent.action == "login")).all()
    assert len(logins) == 2 and all(e.entity_id == employees["seller"].id for e in logins)


def test_logout_ends_the_session_cookie_and_the_remember_me_cookie(app, employees, session):
    seller = log_in(app, "seller@example.se")
    stolen = cookies(seller)
    assert_replay_works(app, stolen)
    assert seller.logout().headers["Location"] == "/login"
    assert_replay_refused(app, stolen)
    row = session.scalars(select(LoginSession)).one()
    assert row.ended_reason == "logout" and row.ended_at is not None


@pytest.mark.parametrize(
    "change, reason",
    [
        ({"password": "Ett-helt-nytt-losen-77"}, "password_changed"),
        ({"role": "readonly"}, "role_changed"),
        ({"active": None}, "deactivated"),
    ],
)
def test_an_administrators_change_ends_every_session_of_the_employee(app, employees, session, change, reason):
    seller = log_in(app, "seller@example.se")
    other_browser = log_in(app, "seller@example.se", remember=False)
    stolen = cookies(seller)
    assert_replay_works(app, stolen)
    admin = log_in(app, "admin@example.se")
    edit_employee(admin, employees["seller"], **change)
    assert_replay_refused(app, stolen)
    assert other_browser.client.get("/admin/").status_code == 302
    ended = session.scalars(select(LoginSession).where(LoginSession.employee_id == employees["seller"].id)).all()
    assert {(r.ended_reason, r.ended_at is not None) for r in ended} == {(reason, True)}
    # The administrator's own session goes on.
    assert admin.client.get("/admin/").status_code == 200
    event = session.scalars(select(AuditEvent).where(AuditEvent.action == "sessions_ended")).one()
    assert (event.entity_id, event.actor_id, event.changes) == (
        employees["seller"].id,
        employees["admin"].id,
        {"reason": reason, "count": 2},
    )


def test_an_unchanged_edit_ends_no_session(app, employees, session):
    seller = log_in(app, "seller@example.se")
    edit_employee(log_in(app, "admin@example.se"), employees["seller"], title="Innesäljare")
    assert seller.client.get("/admin/").status_code == 200


def test_changing_ones_own_password_ends_the_other_sessions_only(app, employees, session):
    phone = log_in(app, "seller@example.se")
    stolen = cookies(phone)
    desk = log_in(app, "seller@example.se")
    response = desk.post(
        "/admin/account/password",
        {"current_password": PASSWORD, "new_password": "Vinter-kaffe-katt-9", "confirm": "Vinter-kaffe-katt-9"},
    )
    assert response.status_code == 302
    page = text(desk.client.get(response.headers["Location"]))
    assert_replay_refused(app, stolen)
    assert desk.client.get("/admin/").status_code == 200
    assert sv("Your password was changed.") in page
    assert sv("Your other sessions (%(n)s) were logged out.", n=1) in page
    assert AuthActions(app.test_client()).login("seller@example.se", "Vinter-kaffe-katt-9").status_code == 302
    assert count(session, AuditEvent, AuditEvent.action == "password_changed") == 1


def test_own_password_change_needs_the_current_password_and_the_policy(app, employees, session):
    seller = log_in(app, "seller@example.se")
    before = fresh(session, Employee, employees["seller"].id).password_hash
    response = seller.post(
        "/admin/account/password",
        {
            "current_password": "fel-losenord-123",
            "new_password": "Vinter-kaffe-katt-9",
            "confirm": "Vinter-kaffe-katt-9",
        },
    )
    assert response.status_code == 200
    assert sv("The current password is wrong.") in text(response)
    response = seller.post(
        "/admin/account/password",
        {"current_password": PASSWORD, "new_password": "qwerty123456", "confirm": "qwerty123456"},
    )
    assert sv("The password is one of the most common passwords. Choose another one.") in text(response)
    response = seller.post(
        "/admin/account/password",
        {"current_password": PASSWORD, "new_password": "Vinter-kaffe-katt-9", "confirm": "Vinter-kaffe-katt-8"},
    )
    assert sv("The two new passwords are not the same.") in text(response)
    assert fresh(session, Employee, employees["seller"].id).password_hash == before
    assert seller.client.get("/admin/").status_code == 200


def test_an_administrator_logs_an_employee_out_everywhere(app, employees, session):
    seller = log_in(app, "seller@example.se")
    stolen = cookies(seller)
    admin = log_in(app, "admin@example.se")
    response = admin.post(f"/admin/employee/card/{employees['seller'].id}/sessions/end")
    assert response.status_code == 302
    assert_replay_refused(app, stolen)
    assert sv("%(n)s sessions of %(name)s were ended.", n=1, name="Test Seller") in text(
        admin.client.get(response.headers["Location"])
    )


def test_a_two_factor_reset_ends_the_employees_sessions(app, employees, session):
    seller_row = employees["seller"]
    seller_row.totp_secret = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
    session.commit()
    # Log in through the code step with a real code.
    actions = AuthActions(app.test_client())
    actions.client.post(
        "/login",
        data={"email": "seller@example.se", "password": PASSWORD, "remember": "y", "csrf_token": actions.csrf_token()},
    )
    code = two_factor.code_at("JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP", two_factor.timestep(utcnow()))
    token = actions.csrf_token()
    assert actions.client.post("/login/code", data={"code": code, "csrf_token": token}).status_code == 302
    stolen = cookies(actions)
    assert_replay_works(app, stolen)
    admin = log_in(app, "admin@example.se")
    assert admin.post(f"/admin/employee/card/{seller_row.id}/two-factor/reset").status_code == 302
    assert_replay_refused(app, stolen)
    assert fresh(session, Employee, seller_row.id).totp_secret is None


# --- time ------------------------------------------------------------------------------------


def age_sessions(session, **columns) -> None:
    for row in session.scalars(select(LoginSession)):
        for name, value in columns.items():
            setattr(row, name, value)
    session.commit()


def test_an_idle_session_ends_after_the_idle_timeout(app, employees, session):
    seller = log_in(app, "seller@example.se", remember=False)
    age_sessions(session, last_seen_at=utcnow() - timedelta(minutes=29))
    assert seller.client.get("/admin/").status_code == 200  # and this use counts as activity
    assert fresh(session, LoginSession, 1).last_seen_at > utcnow() - timedelta(minutes=1)
    age_sessions(session, last_seen_at=utcnow() - timedelta(minutes=31))
    response = seller.client.get("/admin/")
    assert response.headers["Location"].startswith("/login")


def test_a_remembered_session_survives_idleness_but_not_its_lifetime(app, employees, session):
    seller = log_in(app, "seller@example.se", remember=True)
    stolen = cookies(seller)
    age_sessions(session, last_seen_at=utcnow() - timedelta(days=3))
    assert_replay_works(app, stolen)
    age_sessions(session, expires_at=utcnow() - timedelta(seconds=1))
    assert_replay_refused(app, stolen)


def test_a_session_ends_at_its_absolute_lifetime_however_busy(app, employees, session):
    seller = log_in(app, "seller@example.se", remember=False)
    age_sessions(session, created_at=utcnow() - timedelta(hours=8), expires_at=utcnow() - timedelta(seconds=1))
    assert seller.client.get("/admin/").headers["Location"].startswith("/login")


def test_lifetimes_come_from_the_configuration(app, employees, session, monkeypatch):
    monkeypatch.setitem(app.config, "SESSION_MAX_HOURS", 2)
    monkeypatch.setitem(app.config, "SESSION_IDLE_MINUTES", 5)
    seller = log_in(app, "seller@example.se", remember=False)
    row = session.scalars(select(LoginSession)).one()
    assert row.expires_at - row.created_at == timedelta(hours=2)
    age_sessions(session, last_seen_at=utcnow() - timedelta(minutes=6))
    assert seller.client.get("/admin/").headers["Location"].startswith("/login")


def test_last_seen_is_written_at_most_once_a_minute(app, employees, session, monkeypatch):
    seller = log_in(app, "seller@example.se", remember=False)
    seen = fresh(session, LoginSession, 1).last_seen_at
    for _ in range(3):
        seller.client.get("/admin/")
    assert fresh(session, LoginSession, 1).last_seen_at == seen


# --- CSRF -----------------------------------------------------------------------------------


def test_a_csrf_token_from_before_the_login_is_refused_after_it(app, employees):
    actions = AuthActions(app.test_client())
    before = actions.csrf_token()
    response = actions.client.post(
        "/login", data={"email": "seller@example.se", "password": PASSWORD, "csrf_token": before}
    )
    assert response.status_code == 302
    assert actions.client.post("/admin/account/sessions/end-others", data={"csrf_token": before}).status_code == 400
    after = actions.csrf_token()
    assert after != before
    assert actions.client.post("/admin/account/sessions/end-others", data={"csrf_token": after}).status_code == 302


# --- the employee's own sessions ----------------------------------------------------------------------


def test_an_employee_sees_and_ends_their_own_sessions(app, employees, session):
    phone = log_in(app, "seller@example.se")
    desk = AuthActions(app.test_client())
    desk.client.post(
        "/login",
        data={"email": "seller@example.se", "password": PASSWORD, "csrf_token": desk.csrf_token()},
        headers={"User-Agent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0"},
    )
    page = text(desk.client.get("/admin/account/"))
    assert page.count('class="login-session"') == 2
    assert "Firefox, Windows" in page and sv("This session") in page
    phone_row = session.scalars(select(LoginSession).order_by(LoginSession.id)).first()
    assert desk.post(f"/admin/account/sessions/{phone_row.id}/end").status_code == 302
    assert phone.client.get("/admin/").headers["Location"].startswith("/login")
    assert desk.client.get("/admin/").status_code == 200
    assert text(desk.client.get("/admin/account/")).count('class="login-session"') == 1


def test_an_employee_cannot_end_someone_elses_session(app, employees, session):
    admin = log_in(app, "admin@example.se")
    seller = log_in(app, "seller@example.se")
    admin_row = session.scalars(select(LoginSession).where(LoginSession.employee_id == employees["admin"].id)).one()
    assert seller.post(f"/admin/account/sessions/{admin_row.id}/end").status_code == 404
    assert admin.client.get("/admin/").status_code == 200


def test_ending_the_current_session_logs_out(app, employees, session):
    seller = log_in(app, "seller@example.se")
    row = session.scalars(select(LoginSession)).one()
    response = seller.post(f"/admin/account/sessions/{row.id}/end")
    assert response.headers["Location"] == "/login"
    assert seller.client.get("/admin/").headers["Location"].startswith("/login")


def test_only_security_managers_end_other_employees_sessions(app, employees, session):
    seller = log_in(app, "seller@example.se")
    finance = log_in(app, "finance@example.se")
    assert finance.post(f"/admin/employee/card/{employees['seller'].id}/sessions/end").status_code == 403
    assert seller.client.get("/admin/").status_code == 200


def test_old_ended_rows_are_cleared_at_the_next_login(app, employees, session):
    log_in(app, "seller@example.se").logout()
    age_sessions(session, ended_at=utcnow() - timedelta(days=31))
    log_in(app, "seller@example.se")
    assert count(session, LoginSession) == 1


def test_device_names_the_browser_and_system():
    assert login_sessions.device(
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 Safari/605.1.15"
    ) == ("Safari, macOS")
    chrome_on_android = "Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 Chrome/126.0 Mobile Safari/537.36"
    assert login_sessions.device(chrome_on_android) == "Chrome, Android"
    assert (
        login_sessions.device("Mozilla/5.0 (Windows NT 10.0) Chrome/126.0 Safari/537.36 Edg/126.0") == "Edge, Windows"
    )
    assert login_sessions.device(None) == ""


def test_a_request_finds_its_session_and_employee_in_one_statement(app, employees):
    from sqlalchemy import event

    from extensions import db

    seller = log_in(app, "seller@example.se", remember=False)
    statements = []

    def record(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        assert seller.client.get("/admin/account/").status_code == 200
    finally:
        event.remove(db.engine, "before_cursor_execute", record)
    loads = [s for s in statements if "FROM login_session" in s]
    assert len(loads) == 2  # the user loader (with its employee), and the page's list of sessions
    assert not any(s.startswith("UPDATE login_session") for s in statements)  # touched at most once a minute


def test_a_page_opens_while_a_long_write_holds_the_database(app, employees, session):
    """While an all-or-nothing import holds SQLite's write lock (or the row is locked on
    PostgreSQL), noting the session's use waits 0.2 s at most and is left for a later request."""
    import time

    from extensions import db

    seller = log_in(app, "seller@example.se", remember=False)
    age_sessions(session, last_seen_at=utcnow() - timedelta(minutes=5))
    with db.engine.connect() as holder:
        if holder.dialect.name == "sqlite":
            holder.exec_driver_sql("BEGIN IMMEDIATE")  # the write lock, as a long import holds it
        else:
            holder.exec_driver_sql("BEGIN")
            holder.exec_driver_sql("SELECT 1 FROM login_session FOR UPDATE")
        started = time.monotonic()
        assert seller.client.get("/admin/").status_code == 200
        assert time.monotonic() - started < 10  # not the 30 s busy timeout
        holder.rollback()
    assert fresh(session, LoginSession, 1).last_seen_at < utcnow() - timedelta(minutes=4)
    assert seller.client.get("/admin/").status_code == 200
    assert fresh(session, LoginSession, 1).last_seen_at > utcnow() - timedelta(minutes=1)
