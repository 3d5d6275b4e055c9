"""Issue 12, "Headers": every page as every role carries a Content-Security-Policy without
`unsafe-inline` for scripts (a per-request nonce instead), `Cache-Control: no-store`, and
every cookie SameSite=Lax, HttpOnly and (over HTTPS) Secure; static files stay cacheable;
the production server (gunicorn) sends no version in its `Server` header.

The walk parses each HTML page with lxml and finds nothing the policy would block: no
`on…=` attribute, no `javascript:` link, no inline script without the response's nonce, no
script from another site — so what the pages do still works under the policy (the browser
tests prove it in Chromium, and check its console for CSP violations)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import lxml.html
import pytest

from extensions import db
from tests.helpers import PASSWORD
from tests.message_servers import free_port
from tests.security import get_pages, tally

ROLES = ("admin", "seller", "finance", "readonly")


def policy(response) -> dict[str, list[str]]:
    """The Content-Security-Policy header as {directive: [sources]}."""
    header = response.headers.get("Content-Security-Policy")
    assert header, f"no Content-Security-Policy on {response.request.path}"
    return {part.split()[0]: part.split()[1:] for part in header.split(";") if part.strip()}


def nonce_of(csp: dict) -> str:
    [nonce] = [s[len("'nonce-") : -1] for s in csp["script-src"] if s.startswith("'nonce-")]
    return nonce


def check_policy(csp: dict, where: str) -> None:
    scripts = csp["script-src"]
    assert "'unsafe-inline'" not in scripts and "'unsafe-eval'" not in scripts, where
    assert "'self'" in scripts and any(s.startswith("'nonce-") for s in scripts), where
    assert csp["default-src"] == ["'self'"], where
    assert csp["object-src"] == ["'none'"] and csp["frame-ancestors"] == ["'none'"], where
    assert csp["base-uri"] == ["'self'"] and csp["form-action"] == ["'self'"], where
    assert "'unsafe-inline'" not in csp["default-src"], where


def blocked_parts(page: str, nonce: str) -> list[str]:
    """What in an HTML page the policy would block (an empty list when nothing)."""
    tree = lxml.html.fromstring(page)
    found = []
    for element in tree.iter():
        if not isinstance(element.tag, str):
            continue
        for name, value in element.attrib.items():
            if name.lower().startswith("on"):
                found.append(f"<{element.tag} {name}={value!r}>")
            if name.lower() in ("href", "src", "action", "formaction") and value.strip().lower().startswith(
                "javascript:"
            ):
                # Flask-Admin's menu toggles: Bootstrap cancels the click (no navigation, nothing
                # blocked: the browser test watches the console), and page_actions.js as well.
                if not (value == "javascript:void(0)" and element.get("data-toggle") == "dropdown"):
                    found.append(f"<{element.tag} {name}={value!r}>")
        if element.tag == "script":
            src = element.get("src")
            if src is None and element.get("nonce") != nonce:
                found.append(f"inline <script> without the nonce: {(element.text or '')[:60]!r}")
            if src is not None and not src.startswith("/"):
                found.append(f"<script src={src!r}> from another site")
    return found


def check_cookies(response, *, secure: bool, where: str) -> int:
    cookies = response.headers.getlist("Set-Cookie")
    for cookie in cookies:
        attributes = {part.strip().split("=", 1)[0].lower(): part.strip() for part in cookie.split(";")[1:]}
        name = cookie.split("=", 1)[0]
        assert "httponly" in attributes, (where, name)
        assert attributes.get("samesite", "").lower() == "samesite=lax", (where, name)
        assert ("secure" in attributes) is secure, (where, name, cookie)
    return len(cookies)


@pytest.fixture
def pages(app, demo):
    return get_pages(app, db.session)


@pytest.mark.parametrize("role", ROLES)
def test_every_page_as_every_role_has_the_headers_and_nothing_the_policy_blocks(app, login, pages, role):
    client = login(role).client
    nonces, html_pages, problems = set(), 0, {}
    for url in pages:
        response = client.get(url)
        where = f"{role} {url} {response.status_code}"
        csp = policy(response)
        check_policy(csp, where)
        nonce = nonce_of(csp)
        nonces.add(nonce)
        assert response.headers.get("Cache-Control") == "no-store", where
        assert response.headers.get("X-Content-Type-Options") == "nosniff", where
        assert response.headers.get("X-Frame-Options") == "DENY", where
        check_cookies(response, secure=False, where=where)
        if response.mimetype == "text/html" and response.status_code == 200:
            html_pages += 1
            blocked = blocked_parts(response.get_data(as_text=True), nonce)
            if blocked:
                problems[url] = blocked
        tally("headers: pages × role")
    assert problems == {}
    assert html_pages > 100  # the walk reached the app's pages, not only refusals
    assert len(nonces) == len(pages)  # a fresh nonce for every response


def test_the_login_pages_and_an_anonymous_refusal_have_the_headers(client):
    for url in ("/login", "/admin/", "/admin/company/", "/no-such-page"):
        response = client.get(url)
        check_policy(policy(response), url)
        assert response.headers["Cache-Control"] == "no-store", url
    login_page = client.get("/login").get_data(as_text=True)
    assert blocked_parts(login_page, nonce_of(policy(client.get("/login")))) == []


def test_static_files_stay_cacheable(client):
    for url in ("/static/css/crm.css", "/static/js/page_actions.js", "/admin/static/vendor/jquery.min.js"):
        response = client.get(url)
        assert response.status_code == 200, url
        assert "no-store" not in (response.headers.get("Cache-Control") or ""), url
        response.close()


def test_the_session_and_remember_me_cookies_over_http_and_https(app, employees):
    """Every cookie of a login (remember me) and a logout: SameSite=Lax and HttpOnly; Secure
    over HTTPS (also as the proxy reports it), not over plain HTTP in development."""
    for scheme, secure in (("http", False), ("https", True)):
        client = app.test_client()
        # Over HTTPS Flask-WTF also checks the Referer (a browser sends it: Referrer-Policy same-origin).
        base = {"base_url": f"{scheme}://localhost", "headers": {"Referer": f"{scheme}://localhost/login"}}
        page = client.get("/login", **base).get_data(as_text=True)
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
        response = client.post(
            "/login",
            data={"email": employees["seller"].email, "password": PASSWORD, "csrf_token": token, "remember": "y"},
            **base,
        )
        assert response.status_code == 302, scheme
        names = {c.split("=", 1)[0] for c in response.headers.getlist("Set-Cookie")}
        assert {"session", "remember_token"} <= names, names
        assert check_cookies(response, secure=secure, where=f"login {scheme}") >= 2
        start = client.get("/admin/", **base).get_data(as_text=True)
        token = re.search(r'<meta name="csrf-token" content="([^"]+)"', start).group(1)
        response = client.post("/logout", data={"csrf_token": token}, **base)
        assert check_cookies(response, secure=secure, where=f"logout {scheme}") >= 1


def test_secure_cookies_when_configured_even_behind_plain_http(app, employees, monkeypatch):
    """CRM_SECURE_COOKIES=1 (SESSION_COOKIE_SECURE): Secure on every cookie, the remember-me one too."""
    monkeypatch.setitem(app.config, "SESSION_COOKIE_SECURE", True)
    monkeypatch.setitem(app.config, "REMEMBER_COOKIE_SECURE", False)  # the middleware adds it all the same
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    data = {"email": employees["seller"].email, "password": PASSWORD, "csrf_token": token, "remember": "y"}
    response = client.post("/login", data=data)
    assert "remember_token" in {c.split("=", 1)[0] for c in response.headers.getlist("Set-Cookie")}
    assert check_cookies(response, secure=True, where="login, configured") >= 2


def test_gunicorn_sends_no_version_in_its_server_header(app, tmp_path):
    """The production server, started as the README says, with the app's factory."""
    port = free_port()
    env = {
        **os.environ,
        "CRM_DATABASE_URL": f"sqlite:///{tmp_path / 'crm.sqlite'}",
        "CRM_INSTANCE_DIR": str(tmp_path),
        "CRM_SECRET_KEY": "test-only",
    }
    root = Path(__file__).resolve().parent.parent
    gunicorn = Path(sys.executable).parent / "gunicorn"
    server = subprocess.Popen(
        [str(gunicorn), "-w", "1", "-b", f"127.0.0.1:{port}", "app:create_app()"],
        cwd=root,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                answer = urllib.request.urlopen(f"http://127.0.0.1:{port}/static/css/crm.css", timeout=5)
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise
                time.sleep(0.3)
        assert answer.headers["Server"] == "gunicorn"  # the product, no version
        assert answer.headers["Content-Security-Policy"].startswith("default-src 'self'")
    finally:
        server.terminate()
        server.wait(timeout=30)
