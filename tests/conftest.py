"""Fixtures: the app on a migrated test database (SQLite, or PostgreSQL when
CRM_TEST_DATABASE_URL is set), clients logged in per role, small factories.

Every test starts from empty tables; `demo` loads the demo data when a test
wants the realistic register.
"""

import contextvars
import os
import sys
from decimal import Decimal

import pytest
from flask.testing import FlaskClient
from jinja2 import Undefined
from sqlalchemy import text

from app import create_app
from databases import fresh_postgres_database, worker_suffix
from extensions import db
from helpers import PASSWORD, AuthActions
from models import Company, Contact, Employee, SalesStage
from services import accounts, translations
from services import storage as storage_module

ROLES = ("admin", "seller", "finance", "readonly")
TEST_DATABASE_URL = os.environ.get("CRM_TEST_DATABASE_URL")


def _reset_postgres(engine) -> None:
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))


class StrictInOurTemplates(Undefined):
    """Jinja's StrictUndefined in this project's templates: a variable nobody passed fails the test
    instead of printing nothing. Flask-Admin's own templates rely on the lenient default (they test
    widget attributes that only some widgets have), so there an undefined value stays empty."""

    @staticmethod
    def _in_our_template() -> bool:
        frame = sys._getframe(2)
        while frame is not None:  # the innermost template being rendered decides
            if frame.f_code.co_filename.endswith(".html"):
                return "flask_admin" not in frame.f_code.co_filename
            frame = frame.f_back
        return True

    def _strict(name):  # noqa: N805  (builds the methods below)
        lenient = getattr(Undefined, name)

        def method(self, *args):
            if self._in_our_template():
                self._fail_with_undefined_error()
            return lenient(self, *args)

        return method

    __str__ = _strict("__str__")
    __iter__ = _strict("__iter__")
    __len__ = _strict("__len__")
    __bool__ = _strict("__bool__")
    __eq__ = _strict("__eq__")
    __ne__ = _strict("__ne__")
    __hash__ = Undefined.__hash__
    del _strict


@pytest.fixture(scope="session")
def database_url(tmp_path_factory):
    """SQLite in a temporary file, or PostgreSQL: CRM_TEST_DATABASE_URL itself, or under
    pytest-xdist a database of each worker's own beside it (dropped at the end)."""
    if not TEST_DATABASE_URL:
        yield f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.sqlite'}"
    elif not worker_suffix():
        yield TEST_DATABASE_URL
    else:
        url, drop = fresh_postgres_database(TEST_DATABASE_URL, worker_suffix())
        yield url
        drop()


class FreshContextClient(FlaskClient):
    """Test client whose every request runs in its own app context and database
    session, as in production. (Tests keep one app context pushed for
    db.session; without this Flask would reuse it, and `g` with Flask-Login's
    user and Flask-WTF's token, for every request of the test.)

    A streamed body is read as a WSGI server reads it: after the request has ended, in a
    context where no app or request context is pushed (not inside the test's own), so a
    download that relies on the request's session fails here as it does in production.
    """

    def open(self, *args, **kwargs):
        with self.application.app_context():
            response = super().open(*args, **kwargs)
        if response.is_streamed:
            response.response = _read_outside_any_context(response.response)
        return response


def _read_outside_any_context(body):
    """The chunks of a streamed body, each produced in an empty contextvars context."""
    empty = contextvars.Context()
    chunks = empty.run(iter, body)
    try:
        while True:
            try:
                chunk = empty.run(next, chunks)
            except StopIteration:
                return
            yield chunk
    finally:
        if hasattr(chunks, "close"):
            empty.run(chunks.close)


@pytest.fixture(scope="session")
def app(database_url, tmp_path_factory):
    """One app and one migrated schema for the whole run (migrations are tested too)."""
    from flask_migrate import upgrade

    translations.compile_catalogs()
    instance = tmp_path_factory.mktemp("instance")
    application = create_app(
        {
            "TESTING": True,
            "INSTANCE_DIR": str(instance),
            "SQLALCHEMY_DATABASE_URI": database_url,
            "UPLOAD_DIR": str(instance / "uploads"),
            "RATELIMIT_ENABLED": False,
            "SERVER_NAME": "localhost",
        }
    )
    application.test_client_class = FreshContextClient
    application.jinja_env.undefined = StrictInOurTemplates
    with application.app_context():
        if database_url.startswith("postgresql"):
            _reset_postgres(db.engine)
        upgrade()
    return application


@pytest.fixture(autouse=True)
def _queue_of_the_tests_app(app):
    """A test that makes an app of its own (an old schema to migrate, a rate-limited copy) points the
    task queue at that app; the next test's worker would run its tasks against that app's database."""
    from services import tasks

    if tasks.app() is not app:
        tasks.init_app(app)
    tasks.stopping.clear()  # a worker an earlier test stopped: this test's tasks are not handed back


@pytest.fixture(autouse=True)
def _clean_tables(app):
    """Each test gets an app context and leaves empty tables behind."""
    with app.app_context():
        yield
        db.session.rollback()
        db.session.remove()
        tables = [t.name for t in reversed(db.metadata.sorted_tables)]
        with db.engine.begin() as conn:
            if db.engine.dialect.name == "postgresql":
                conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
            else:
                for table in tables:
                    conn.execute(text(f"DELETE FROM {table}"))
                conn.execute(text("DELETE FROM company_word_pending"))  # the companies just deleted (migration 0047)
                # ids from 1 again, as RESTART IDENTITY gives them (AUTOINCREMENT tables: migration 0043)
                if conn.scalar(text("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_sequence'")):
                    conn.execute(text("DELETE FROM sqlite_sequence"))


@pytest.fixture
def session(app):
    return db.session


@pytest.fixture
def storage(app):
    """The app's file storage (a directory of the test run)."""
    return storage_module.from_config(app.config)


@pytest.fixture
def worker(app):
    """A real queue worker: Huey's consumer with two threads (and its scheduler) on this test run's
    queue, as `flask --app app worker` runs it, stopped when the test ends."""
    from services import tasks

    tasks.queue.flush()
    consumer = tasks.create_worker(2, periodic_tasks=False, handle_signals=False)
    consumer.start()
    yield consumer
    consumer.stop(graceful=True)
    tasks.queue.flush()


# --- people and logins --------------------------------------------------------


@pytest.fixture(scope="session")
def password_hash(app) -> str:
    """PASSWORD hashed once (scrypt is slow on purpose; the tests need it once)."""
    employee = Employee()
    accounts.set_password(employee, PASSWORD)
    return employee.password_hash


@pytest.fixture
def employees(app, password_hash) -> dict[str, Employee]:
    """One active employee per role, keyed by role, with password PASSWORD."""
    people = {
        role: accounts.create_employee(
            db.session, email=f"{role}@example.se", name=f"Test {role.title()}", role=role, password=None
        )
        for role in ROLES
    }
    for person in people.values():
        person.password_hash = password_hash
    db.session.commit()
    return people


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def auth(client):
    return AuthActions(client)


@pytest.fixture
def login(app, employees):
    """`login(role)` → an AuthActions whose client is logged in as that role."""

    def _login(role: str) -> AuthActions:
        actions = AuthActions(app.test_client())
        response = actions.login(employees[role].email)
        assert response.status_code == 302, response.get_data(as_text=True)
        return actions

    return _login


# --- factories ---------------------------------------------------------------------


@pytest.fixture
def make_company(app):
    counter = iter(range(1, 10_000))

    def _make(**fields) -> Company:
        fields.setdefault("name", f"Testföretag {next(counter)} AB")
        fields.setdefault("discount_percent", Decimal("0"))
        company = Company(**fields)
        db.session.add(company)
        db.session.commit()
        return company

    return _make


@pytest.fixture
def make_contact(app):
    counter = iter(range(1, 10_000))

    def _make(companies=(), role=None, **fields) -> Contact:
        from models import CompanyContact

        n = next(counter)
        fields.setdefault("first_name", "Kontakt")
        fields.setdefault("last_name", f"Nummer{n}")
        contact = Contact(**fields)
        db.session.add(contact)
        for company in companies:
            db.session.add(CompanyContact(company=company, contact=contact, role=role))
        db.session.commit()
        return contact

    return _make


@pytest.fixture
def demo(app):
    """The demo register from `flask --app app seed`."""
    from seed.demo import seed_demo
    from services import storage

    seed_demo(db.session, storage=storage.from_config(app.config))
    return db.session


@pytest.fixture
def products(app):
    """Products for order and invoice lines, by number: 100 hours at 25 %, 200 a book at 6 %,
    300 lunch at 12 %, 900 an inactive one."""
    from models import Product

    rows = [
        Product(number="100", name="Konsulttimme", unit="tim", price=Decimal("950.00"), vat_rate=Decimal("25")),
        Product(number="200", name="Kokbok", unit="st", price=Decimal("249.00"), vat_rate=Decimal("6")),
        Product(number="300", name="Lunch", unit="st", price=Decimal("89.90"), vat_rate=Decimal("12")),
        Product(
            number="900", name="Utgången vara", unit="st", price=Decimal("10.00"), vat_rate=Decimal("25"), active=False
        ),
    ]
    db.session.add_all(rows)
    db.session.commit()
    return {p.number: p for p in rows}


def pytest_terminal_summary(terminalreporter):
    """What the attack tests tried (tests/security.py), for the README's "Säkerhet" table.
    Counted per process: run them without xdist (`-n 0`) for the whole figures."""
    from tests.security import TALLY

    if TALLY:
        terminalreporter.section("security: what the attack tests tried")
        for key, number in sorted(TALLY.items()):
            terminalreporter.write_line(f"{number:>9,}".replace(",", " ") + f"  {key}")


@pytest.fixture
def stage(app):
    """One sales stage, for tests that need an opportunity."""
    row = SalesStage(name="Kontakt", sort_order=1, probability=10)
    db.session.add(row)
    db.session.commit()
    return row


@pytest.fixture
def ledger(app, tmp_path, monkeypatch):
    """The app's erasure ledger, a file of this test's own."""
    path = tmp_path / "erasures.jsonl"
    monkeypatch.setitem(app.config, "ERASURE_LEDGER", str(path))
    return path
