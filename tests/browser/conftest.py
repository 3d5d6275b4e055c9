"""Browser fixtures: the real app in a subprocess, real Chromium through Playwright.

The server is started the way the README runs it (`flask --app app translate
compile`, `db upgrade`, `seed`, then `make run`'s Procfile through honcho: the web
server and a queue worker) on a database of its own with the demo
data, on a free localhost port, once per session. SQLite (a temporary file) by
default; when CRM_TEST_DATABASE_URL points at PostgreSQL, a separate database
`<name>_browser` on that server, dropped and created at start and dropped at
the end. Never the database tests/conftest.py truncates after every test.

One Chromium per session. `login_as(role)` logs in through the login form
(once per role and session; later pages reuse that session's cookie, which
keeps us under the login rate limit) and returns a fresh page in a fresh
browser context.

Without Playwright or Chromium the tests are skipped with the reason, unless
CRM_REQUIRE_BROWSER=1 (CI), where that is a failure. A failed test leaves a
screenshot and the HTML of each of its pages, and the tail of the server log,
under CRM_TEST_ARTIFACTS (default test-artifacts/ in the repository), and
prints where.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import urlsplit

import pytest

from browser_env import DEMO_PASSWORD, DEMO_USERS, DESKTOP
from databases import fresh_postgres_database, worker_suffix

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("CRM_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
REQUIRE_BROWSER = os.environ.get("CRM_REQUIRE_BROWSER") == "1"
ARTIFACTS = Path(os.environ.get("CRM_TEST_ARTIFACTS") or REPO / "test-artifacts")
SERVER_START_TIMEOUT = 60

try:
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import sync_playwright

    PLAYWRIGHT_MISSING = None
except ImportError as exc:  # pragma: no cover - depends on the environment
    PlaywrightError = Exception
    sync_playwright = None
    PLAYWRIGHT_MISSING = f"Playwright for Python is not installed ({exc})"


def _unavailable(reason: str):
    """Skip, or fail when the browser tests are required (CRM_REQUIRE_BROWSER=1)."""
    if REQUIRE_BROWSER:
        pytest.fail(f"{reason}; CRM_REQUIRE_BROWSER=1 requires the browser tests to run", pytrace=False)
    pytest.skip(f"{reason} (set CRM_REQUIRE_BROWSER=1 to make this a failure)")


@pytest.fixture(autouse=True)
def _clean_tables():
    """Override tests/conftest.py: browser tests do not touch the in-process test database."""
    yield


# --- the server ------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _postgres_database(base_url: str):
    """A fresh database `<name>_browser` (per xdist worker) beside the one in CRM_TEST_DATABASE_URL."""
    return fresh_postgres_database(base_url, "_browser" + worker_suffix())


def _run_cli(args: list[str], env: dict, log) -> None:
    """`flask --app app <args>` in the repository, as the README does; fail with its output."""
    command = [sys.executable, "-m", "flask", "--app", "app", *args]
    result = subprocess.run(
        command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=300
    )
    log.write(f"$ flask --app app {' '.join(args)}\n{result.stdout}\n")
    log.flush()
    if result.returncode != 0:
        pytest.fail(f"`flask --app app {' '.join(args)}` failed:\n{result.stdout}", pytrace=False)


def _wait_until_up(url: str, process: subprocess.Popen, log_path: Path) -> None:
    deadline = time.monotonic() + SERVER_START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"The app server exited ({process.returncode}):\n{log_path.read_text()[-4000:]}", pytrace=False)
        try:
            with urllib.request.urlopen(url + "/login", timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.2)
    pytest.fail(
        f"The app server did not answer within {SERVER_START_TIMEOUT}s:\n{log_path.read_text()[-4000:]}", pytrace=False
    )


@pytest.fixture(scope="session")
def outbox():
    """The SMTP server and the SMS gateway the app sends through, and what they were sent."""
    from tests.message_servers import SMS_LOGIN, sms_url, start_sms_gateway, start_smtp

    controller, inbox = start_smtp(login_required=False)
    gateway = start_sms_gateway()
    env = {
        "CRM_SMTP_HOST": "127.0.0.1",
        "CRM_SMTP_PORT": str(controller.port),
        "CRM_SMTP_SECURITY": "none",
        "CRM_SMS_API_URL": sms_url(gateway),
        "CRM_SMS_USERNAME": SMS_LOGIN[0],
        "CRM_SMS_PASSWORD": SMS_LOGIN[1],
    }
    yield SimpleNamespace(mail=inbox.envelopes, sms=gateway.sent, env=env)
    controller.stop()
    gateway.shutdown()


@pytest.fixture(scope="session")
def live_server(tmp_path_factory, pytestconfig, outbox):
    """Base URL of the real app with the demo data, served by `flask run` in a subprocess."""
    if PLAYWRIGHT_MISSING:
        _unavailable(PLAYWRIGHT_MISSING)
    if not (Path(CHROMIUM).is_file() and os.access(CHROMIUM, os.X_OK)):
        _unavailable(f"Chromium is not installed at {CHROMIUM} (Debian: apt-get install chromium)")

    instance = tmp_path_factory.mktemp("browser-instance")
    test_url = os.environ.get("CRM_TEST_DATABASE_URL", "")
    drop_database = None
    if test_url.startswith("postgresql"):
        database_url, drop_database = _postgres_database(test_url)
    else:
        database_url = f"sqlite:///{instance / 'crm.sqlite'}"

    env = {
        **os.environ,
        "CRM_INSTANCE_DIR": str(instance),
        "CRM_DATABASE_URL": database_url,
        "CRM_UPLOAD_DIR": str(instance / "uploads"),
        "FLASK_DEBUG": "0",
        "PYTHONUNBUFFERED": "1",
        **outbox.env,
    }
    env.pop("FLASK_APP", None)
    log_path = instance / "server.log"
    pytestconfig._crm_server_log = log_path  # its tail goes with the artifacts of a failed test
    pytestconfig._crm_database_url = database_url  # for live_database
    port = _free_port()
    base_url = f"http://127.0.0.1:{port}"
    with log_path.open("w") as log:
        _run_cli(["translate", "compile"], env, log)
        _run_cli(["db", "upgrade"], env, log)
        _run_cli(["seed"], env, log)
        # As `make run` does: honcho starts the Procfile's web server and queue worker (and stops both).
        env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", "")
        env["HOST"] = "127.0.0.1"
        process = subprocess.Popen(
            [sys.executable, "-m", "honcho", "start", "-f", "Procfile", "-p", str(port)],
            cwd=REPO,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            _wait_until_up(base_url, process, log_path)
            yield base_url
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            if drop_database is not None:
                drop_database()


@pytest.fixture(scope="session")
def live_database(live_server, pytestconfig):
    """An engine on the live server's database, to compare what a page shows with what is stored."""
    from sqlalchemy import create_engine

    engine = create_engine(pytestconfig._crm_database_url)
    yield engine
    engine.dispose()


# --- the browser -------------------------------------------------------------------------


@pytest.fixture(scope="session")
def browser(live_server):
    """One headless Chromium (Debian's) for the whole session."""
    try:
        playwright = sync_playwright().start()
    except Exception as exc:  # pragma: no cover
        _unavailable(f"Playwright could not start ({exc})")
    try:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
    except PlaywrightError as exc:
        playwright.stop()
        _unavailable(f"Chromium at {CHROMIUM} could not be started by Playwright ({exc.message.splitlines()[0]})")
    yield chromium
    chromium.close()
    playwright.stop()


class Pages:
    """Opens pages logged in as a demo role; remembers them for failure artifacts."""

    def __init__(self, browser, base_url: str, sessions: dict):
        self.browser = browser
        self.base_url = base_url
        self.sessions = sessions
        self.contexts = []
        self.pages = []
        #: Console errors of the Content-Security-Policy (a blocked script, style, handler…), by page URL.
        self.csp_violations: list[str] = []

    def new_page(self, storage_state=None, viewport=None):
        context = self.browser.new_context(
            base_url=self.base_url,
            viewport=viewport or DESKTOP,
            locale="sv-SE",
            timezone_id="Europe/Stockholm",
            storage_state=storage_state,
        )
        context.set_default_timeout(10_000)
        self.contexts.append(context)
        page = context.new_page()
        page.on("console", lambda message, page=page: self._watch_console(page, message))
        self.pages.append(page)
        return page

    def _watch_console(self, page, message) -> None:
        if message.type == "error" and "Content Security Policy" in message.text:
            self.csp_violations.append(f"{page.url}: {message.text}")

    def login(self, role: str, viewport=None):
        """A new page logged in as `role` (a DEMO_USERS key), at the start page."""
        if role not in self.sessions:
            page = self.new_page(viewport=viewport)
            self.login_through_form(page, DEMO_USERS[role][0])
            self.sessions[role] = page.context.storage_state()
            return page
        page = self.new_page(storage_state=self.sessions[role], viewport=viewport)
        page.goto("/admin/")
        if urlsplit(page.url).path == "/login":
            # The kept session went idle (CRM_SESSION_IDLE_MINUTES) on a slow run: log in again.
            self.login_through_form(page, DEMO_USERS[role][0])
            self.sessions[role] = page.context.storage_state()
        return page

    @staticmethod
    def login_through_form(page, email: str, password: str = DEMO_PASSWORD) -> None:
        """Type e-mail and password into the login page and press "Logga in"."""
        page.goto("/login")
        page.get_by_label("E-post").fill(email)
        page.get_by_label("Lösenord").fill(password)
        page.get_by_role("button", name="Logga in").click()
        page.wait_for_load_state("load")
        if urlsplit(page.url).path == "/login":
            message = " ".join(page.locator(".alert, .invalid-feedback").all_inner_texts())
            pytest.fail(f"Logging in as {email} failed: {message or 'still on the login page'}", pytrace=False)
        page.wait_for_url(re.compile(r"/admin/$"))

    def close(self):
        for context in self.contexts:
            context.close()


@pytest.fixture(scope="session")
def _role_sessions():
    """Cookies of the roles logged in so far (the login form is used once per role)."""
    return {}


@pytest.fixture
def pages(browser, live_server, _role_sessions):
    helper = Pages(browser, live_server, _role_sessions)
    yield helper
    helper.close()
    # Every browser test also proves the pages break no rule of the Content-Security-Policy.
    assert not helper.csp_violations, "CSP violations in the browser console:\n" + "\n".join(helper.csp_violations)


@pytest.fixture
def login_as(pages):
    """`login_as("seller")` → a page logged in as that demo role (desktop viewport)."""
    return pages.login


@pytest.fixture
def anonymous_page(pages):
    return pages.new_page()


# --- artifacts of failed tests --------------------------------------------------------------


def _safe_name(nodeid: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "_", nodeid.split("/")[-1]).strip("_")[:150]


def _save_artifacts(item, when: str) -> list[Path]:
    helper = item.funcargs.get("pages") if hasattr(item, "funcargs") else None
    if helper is None:
        return []
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    saved = []
    for index, page in enumerate(helper.pages):
        if page.is_closed():
            continue
        stem = f"{_safe_name(item.nodeid)}-{when}-{index}"
        png, html = ARTIFACTS / f"{stem}.png", ARTIFACTS / f"{stem}.html"
        try:
            page.screenshot(path=str(png), full_page=True)
            saved.append(png)
            html.write_text(f"<!-- {page.url} -->\n" + page.content(), encoding="utf-8")
            saved.append(html)
        except Exception as exc:  # a crashed page must not hide the real failure
            saved.append(ARTIFACTS / f"{stem} (not saved: {exc})")
    server_log = getattr(item.config, "_crm_server_log", None)
    if server_log is not None and server_log.exists():
        tail = server_log.read_text(errors="replace").splitlines()[-300:]
        log_copy = ARTIFACTS / f"{_safe_name(item.nodeid)}-{when}-server.log"
        log_copy.write_text("\n".join(tail) + "\n", encoding="utf-8")
        saved.append(log_copy)
    return saved


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.failed and call.when in ("setup", "call"):
        saved = _save_artifacts(item, call.when)
        if saved:
            listing = "\n".join(str(path) for path in saved)
            report.sections.append(("browser artifacts", listing))
            item.config._browser_artifacts = getattr(item.config, "_browser_artifacts", []) + [(item.nodeid, saved)]
            reporter = item.config.pluginmanager.get_plugin("terminalreporter")
            if reporter is not None:
                reporter.write_line(f"\nScreenshot and page HTML of the failed test: {saved[0].parent}")


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    saved = getattr(config, "_browser_artifacts", [])
    if saved:
        terminalreporter.section("browser artifacts of failed tests")
        for nodeid, paths in saved:
            terminalreporter.write_line(nodeid)
            for path in paths:
                terminalreporter.write_line(f"  {path}")
