"""/login and /logout: credentials, inactive employees, safe `next`, password hashes."""

from urllib.parse import quote, unquote

import pytest

from helpers import PASSWORD
from models import Employee
from services import accounts
from tests.helpers import sv, text


def wrong_login() -> str:
    return sv("Wrong e-mail address or password, or the account is deactivated.")


def is_logged_in(client) -> bool:
    response = client.get("/admin/")
    return response.status_code == 200


def test_login_page_shows_the_form(client):
    response = client.get("/login")
    assert response.status_code == 200
    page = text(response)
    assert 'name="email"' in page and 'name="password"' in page
    assert 'name="csrf_token"' in page
    assert sv("Log in") in page


def test_login_with_right_credentials(auth, employees):
    response = auth.login("seller@example.se")
    assert response.status_code == 302
    assert response.headers["Location"] == "/admin/"
    page = text(auth.client.get("/admin/"))
    assert sv("Welcome, %(name)s", name="Test Seller") in page


def test_login_email_is_case_insensitive(auth, employees):
    assert auth.login("  Seller@Example.SE ").status_code == 302
    assert is_logged_in(auth.client)


@pytest.mark.parametrize(
    "email, password",
    [("seller@example.se", "fel-losenord-123"), ("okand@example.se", PASSWORD), ("seller@example.se", "")],
)
def test_wrong_credentials_are_refused_with_one_message(auth, employees, email, password):
    response = auth.login(email, password)
    assert response.status_code == 200
    if password:
        assert wrong_login() in text(response)
    else:
        assert sv("Enter your password.") in text(response)
    assert not is_logged_in(auth.client)


def test_inactive_employee_cannot_log_in(auth, employees, session):
    employees["seller"].active = False
    session.commit()
    response = auth.login("seller@example.se")
    assert response.status_code == 200
    assert wrong_login() in text(response)
    assert not is_logged_in(auth.client)


def test_employee_deactivated_while_logged_in_is_logged_out(login, employees, session):
    seller = login("seller")
    assert seller.client.get("/admin/company/").status_code == 200
    employees["seller"].active = False
    session.commit()
    for url in ("/admin/company/", "/admin/contact/", "/admin/"):
        response = seller.client.get(url)
        assert response.status_code == 302
        assert response.headers["Location"].startswith("/login?next=")


def test_employee_without_password_cannot_log_in(auth, session):
    accounts.create_employee(session, email="nopass@example.se", name="Utan Lösenord", role="admin", password=None)
    session.commit()
    assert auth.login("nopass@example.se", "").status_code == 200
    assert auth.login("nopass@example.se", "vad-som-helst-1").status_code == 200
    assert not is_logged_in(auth.client)


def test_login_post_without_csrf_token_is_refused(client, employees):
    response = client.post("/login", data={"email": "admin@example.se", "password": PASSWORD})
    assert response.status_code in (200, 400)
    assert not is_logged_in(client)


def test_password_is_stored_as_an_argon2id_hash(employees, session):
    from services import passwords

    stored = session.get(Employee, employees["admin"].id).password_hash
    assert stored.startswith("$argon2id$")
    assert PASSWORD not in stored
    assert passwords.verify(stored, PASSWORD)
    assert not passwords.verify(stored, PASSWORD + "x")
    # Same password, different salt.
    first, second = Employee(), Employee()
    accounts.set_password(first, PASSWORD)
    accounts.set_password(second, PASSWORD)
    assert first.password_hash.startswith("$argon2id$") and first.password_hash != second.password_hash


def test_set_password_replaces_the_hash(employees, session, auth):
    admin = employees["admin"]
    accounts.set_password(admin, "Nytt-losenord-987")
    session.commit()
    assert auth.login("admin@example.se").status_code == 200  # the old one no longer works
    assert auth.login("admin@example.se", "Nytt-losenord-987").status_code == 302


# --- next ----------------------------------------------------------------------------


@pytest.mark.parametrize("target", ["/admin/company/", "/admin/company/?search=svea&flt0_0=1", "/admin/trash/"])
def test_login_goes_on_to_a_safe_next(auth, employees, target):
    response = auth.client.post(
        f"/login?next={quote(target)}",
        data={"email": "admin@example.se", "password": PASSWORD, "csrf_token": auth.csrf_token()},
    )
    assert response.status_code == 302
    assert response.headers["Location"] == target


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example/",
        "http://evil.example/admin/",
        "//evil.example/",
        "//evil.example",
        "///evil.example",
        "/\\evil.example",
        "\\\\evil.example",
        "javascript:alert(1)",
        "evil.example",
    ],
)
def test_login_refuses_an_external_next(auth, employees, target):
    response = auth.client.post(
        f"/login?next={quote(target, safe='')}",
        data={"email": "admin@example.se", "password": PASSWORD, "csrf_token": auth.csrf_token()},
    )
    assert response.status_code == 302
    assert response.headers["Location"] == "/admin/"


def test_logged_in_employee_visiting_login_is_sent_on(login):
    admin = login("admin")
    response = admin.client.get("/login?next=//evil.example/")
    assert response.status_code == 302
    assert response.headers["Location"] == "/admin/"
    response = admin.client.get("/login?next=/admin/contact/")
    assert response.headers["Location"] == "/admin/contact/"


@pytest.mark.parametrize("url", ["/admin/", "/admin/company/", "/admin/company/?search=kaffe", "/admin/trash/"])
def test_anonymous_is_redirected_to_login_with_next(client, url):
    response = client.get(url)
    assert response.status_code == 302
    location = response.headers["Location"]
    assert location.startswith("/login?next=")
    assert unquote(location.removeprefix("/login?next=")) == url


def test_anonymous_round_trip_through_login_ends_where_it_started(auth, employees):
    location = auth.client.get("/admin/company/?search=kaffe").headers["Location"]
    response = auth.client.post(
        location, data={"email": "admin@example.se", "password": PASSWORD, "csrf_token": auth.csrf_token()}
    )
    assert response.headers["Location"] == "/admin/company/?search=kaffe"


# --- logout ----------------------------------------------------------------------------


def test_logout_get_shows_a_form_and_does_not_log_out(login):
    admin = login("admin")
    response = admin.client.get("/logout")
    assert response.status_code == 200
    page = text(response)
    assert sv("Do you want to log out?") in page
    assert 'method="post"' in page and 'name="csrf_token"' in page
    assert is_logged_in(admin.client)


def test_logout_post_logs_out(login):
    admin = login("admin")
    response = admin.logout()
    assert response.status_code == 302
    assert response.headers["Location"] == "/login"
    assert sv("You are now logged out.") in text(admin.client.get("/login"))
    assert not is_logged_in(admin.client)
    assert admin.client.get("/admin/company/").headers["Location"].startswith("/login?next=")


def test_logout_post_without_csrf_token_is_refused(login):
    admin = login("admin")
    response = admin.client.post("/logout")
    assert response.status_code == 400
    assert is_logged_in(admin.client)


def test_logout_requires_being_logged_in(client):
    response = client.get("/logout")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")


def test_start_page_logout_button_posts_with_csrf(login):
    page = text(login("readonly").client.get("/admin/"))
    assert 'action="/logout"' in page
    assert sv("Log out") in page


def test_root_goes_to_the_start_page(client):
    response = client.get("/")
    assert response.status_code == 302
    assert response.headers["Location"] == "/admin/"


def test_several_employees_logged_in_at_once_stay_apart(login, employees):
    clients = {role: login(role) for role in employees}
    for role, actions in clients.items():
        assert sv("Welcome, %(name)s", name=f"Test {role.title()}") in text(actions.client.get("/admin/"))
    # Permissions follow each client's own employee.
    assert clients["admin"].client.get("/admin/trash/").status_code == 200
    assert clients["readonly"].client.get("/admin/trash/").status_code == 403
    assert clients["seller"].client.get("/admin/company/new/").status_code == 200
    assert clients["finance"].client.get("/admin/company/new/").status_code == 403
    clients["seller"].logout()
    assert not is_logged_in(clients["seller"].client)
    assert is_logged_in(clients["admin"].client)
