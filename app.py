"""Kundregister: create_app() and the `flask --app app` commands."""

import os
from datetime import timedelta
from pathlib import Path

import click
from flask import Flask, flash, g, redirect, render_template
from flask_admin import Admin
from flask_admin.theme import Bootstrap4Theme
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import event
from sqlalchemy.engine import Engine

import auth
import security_headers
from config import BASE_DIR, SCREENS_POSTGRESQL_OPTIONS, SQLITE_PAGE_CACHE_KIB, load_config
from extensions import babel, csrf, db, limiter, login_manager


def select_locale() -> str:
    """The employee's chosen language, else the configured default (sv)."""
    from flask import current_app

    from api.core import locale_of_request
    from api.problems import is_api_request

    supported = current_app.config["SUPPORTED_LOCALES"]
    if is_api_request():
        return locale_of_request(supported, current_app.config["BABEL_DEFAULT_LOCALE"])
    if current_user and current_user.is_authenticated and current_user.locale in supported:
        return current_user.locale
    return current_app.config["BABEL_DEFAULT_LOCALE"]


@event.listens_for(Engine, "connect")
def _sqlite_connection(dbapi_connection, connection_record) -> None:
    """SQLite: enforce foreign keys, make lower() (thus ILIKE) Unicode-aware (Å, Ä, Ö), use a write-ahead log,
    and overwrite deleted content (secure_delete: an erasure leaves nothing in free pages).

    With the write-ahead log, reading never waits for a write (people keep
    working while an import runs), and a commit syncs the disk once. Every
    commit stays durable (synchronous FULL, SQLite's default): an invoice
    number given is never given again after a power cut.
    """
    import sqlite3

    if isinstance(dbapi_connection, sqlite3.Connection):
        dbapi_connection.create_function(
            "lower", 1, lambda s: s.lower() if isinstance(s, str) else s, deterministic=True
        )
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA journal_mode=WAL")
        # an erased person's old rows are overwritten, not left readable in free pages (GDPR erasure),
        # whatever the SQLite build's default
        cursor.execute("PRAGMA secure_delete=ON")
        cursor.execute(f"PRAGMA cache_size=-{SQLITE_PAGE_CACHE_KIB}")
        cursor.close()


def register_admin(app: Flask) -> Admin:
    """The admin screens and the menu (CRM, Administration)."""
    from admin_views.account import AccountView, SecurityView
    from admin_views.base import SecureIndexView
    from admin_views.calllists import CallListView
    from admin_views.card import CompanyCardView, ContactCardView
    from admin_views.company import CompanyView, SupplierView
    from admin_views.contact import ContactView, PeopleSearchView, PrivateCustomerView
    from admin_views.duplicates import DuplicatesView
    from admin_views.employee import EmployeeGroupView, EmployeeView
    from admin_views.importing import ImportView, allow_large_import_files
    from admin_views.integrations import IntegrationsView
    from admin_views.invoicing import InvoiceView, OrderView, ProductView
    from admin_views.leads import LeadView
    from admin_views.menu import personalise
    from admin_views.privacy import PrivacyView
    from admin_views.registry import RegistryView
    from admin_views.reports import ReportGeneratorView, ReportsView
    from admin_views.sales import OpportunityView, SalesStageView
    from admin_views.saved_searches import SavedSearchView
    from admin_views.settings import CategoryView, CustomFieldView, CustomTabView, IndustryView
    from admin_views.trash import TrashView
    from models import (
        CallList,
        Category,
        Company,
        Contact,
        CustomFieldDefinition,
        CustomTab,
        Employee,
        EmployeeGroup,
        Industry,
        Invoice,
        Lead,
        Opportunity,
        Product,
        SalesOrder,
        SalesStage,
    )

    admin = Admin(
        app,
        name=_l("Kundregister"),
        index_view=SecureIndexView(name=_l("Start"), url="/admin/", endpoint="admin"),
        theme=Bootstrap4Theme(base_template="admin/crm_base.html", fluid=True),
        translations_path=str(BASE_DIR / "translations"),
        csp_nonce_generator=security_headers.csp_nonce,
    )
    crm, settings, administration = _l("CRM"), _l("Settings – CRM"), _l("Administration")
    sales = _l("Sales")
    admin.add_category(crm)
    admin.add_category(sales)
    admin.add_category(administration)
    admin.add_sub_category(name=settings, parent_name=administration)
    s = db

    def add_with_card(list_view, card_view_class):
        """A customer list and its card, a view of its own at the list's URL + /card/ (admin_views.card)."""
        admin.add_view(list_view)
        admin.add_view(card_view_class(list_view))

    add_with_card(CompanyView(Company, s, name=_l("Companies"), endpoint="company", category=crm), CompanyCardView)
    add_with_card(ContactView(Contact, s, name=_l("Contacts"), endpoint="contact", category=crm), ContactCardView)
    add_with_card(
        PrivateCustomerView(Contact, s, name=_l("Private customers"), endpoint="privatecustomer", category=crm),
        ContactCardView,
    )
    add_with_card(SupplierView(Company, s, name=_l("Suppliers"), endpoint="supplier", category=crm), CompanyCardView)
    admin.add_view(LeadView(Lead, s, name=_l("Leads"), endpoint="lead", category=crm))
    admin.add_view(CallListView(CallList, s, name=_l("Call lists"), endpoint="calllist", category=crm))
    admin.add_view(
        OpportunityView(Opportunity, s, name=_l("Sales opportunities"), endpoint="opportunity", category=crm)
    )
    admin.add_view(DuplicatesView(name=_l("Duplicates"), endpoint="duplicates", url="/admin/duplicates", category=crm))
    admin.add_view(PeopleSearchView(name=_l("Search people"), endpoint="people", url="/admin/people", category=crm))
    admin.add_view(
        SavedSearchView(name=_l("Saved searches"), endpoint="savedsearch", url="/admin/saved-searches", category=crm)
    )
    admin.add_view(ReportsView(name=_l("Reports"), endpoint="reports", url="/admin/reports", category=crm))
    admin.add_view(
        ReportGeneratorView(
            name=_l("Report generator"), endpoint="reportgenerator", url="/admin/reports/generator", category=crm
        )
    )
    admin.add_view(OrderView(SalesOrder, s, name=_l("Orders"), endpoint="order", category=sales))
    admin.add_view(InvoiceView(Invoice, s, name=_l("Invoices"), endpoint="invoice", category=sales))
    admin.add_view(ProductView(Product, s, name=_l("Products"), endpoint="product", category=sales))
    admin.add_view(EmployeeView(Employee, s, name=_l("Employees"), endpoint="employee", category=administration))
    admin.add_view(
        EmployeeGroupView(EmployeeGroup, s, name=_l("Sales groups"), endpoint="employeegroup", category=administration)
    )
    admin.add_view(CategoryView(Category, s, name=_l("Categories"), endpoint="category", category=settings))
    admin.add_view(IndustryView(Industry, s, name=_l("Industries"), endpoint="industry", category=settings))
    admin.add_view(SalesStageView(SalesStage, s, name=_l("Sales stages"), endpoint="salesstage", category=settings))
    admin.add_view(CustomTabView(CustomTab, s, name=_l("Custom tabs"), endpoint="customtab", category=settings))
    admin.add_view(
        CustomFieldView(CustomFieldDefinition, s, name=_l("Custom fields"), endpoint="customfield", category=settings)
    )
    admin.add_view(TrashView(name=_l("Restore customers"), endpoint="trash", url="/admin/trash", category=settings))
    admin.add_view(
        SecurityView(name=_l("Security"), endpoint="security", url="/admin/security", category=administration)
    )
    admin.add_view(AccountView(name=_l("My account"), endpoint="account", url="/admin/account"))
    admin.add_view(RegistryView(name=_l("Company register"), endpoint="registry", url="/admin/registry"))
    admin.add_view(ImportView(name=_l("Import"), endpoint="import", url="/admin/import", category=administration))
    admin.add_view(
        IntegrationsView(
            name=_l("Integrations"), endpoint="integrations", url="/admin/integrations", category=administration
        )
    )
    admin.add_view(
        PrivacyView(name=_l("Data protection"), endpoint="privacy", url="/admin/privacy", category=administration)
    )
    app.url_value_preprocessor(allow_large_import_files)
    personalise(admin)
    return admin


def register_cli(app: Flask) -> None:
    from services import accounts, storage, translations
    from services.permissions import ROLES

    @app.cli.command("seed")
    @click.option("--if-empty", is_flag=True, help="Only when the database has no employees yet.")
    @click.option(
        "--large",
        type=click.IntRange(min=1),
        metavar="N",
        help="Also generate N companies with contacts, activities and history (seed/large.py).",
    )
    def seed_command(if_empty, large):
        """Load the demo data (idempotent: an existing demo is left as it is); --large N adds N generated companies."""
        from models import Employee
        from seed.demo import DEMO_LOGINS, seed_demo

        has_data = db.session.scalar(db.select(Employee.id).limit(1)) is not None
        if if_empty and has_data:
            click.echo("The database already has data; no demo data added.")
        else:
            created = seed_demo(db.session, storage=storage.from_config(app.config))
            click.echo("Demo data loaded." if created else "Demo data already present.")
            from seed.bolagsverket_sample import SAMPLE
            from services import registry, registry_loader

            if registry.active_load(db.session) is None:
                loaded = registry_loader.load(db.engine, SAMPLE)
                click.echo(f"Company register: {loaded.rows} made-up companies from {SAMPLE.name}.")
        if large:
            from seed.large import seed_large

            def progress(done: int, seconds: float) -> None:
                click.echo(f"  {done:>10,} companies  {seconds:7.1f} s", err=True)

            made = seed_large(db.session, large, progress=progress)
            click.echo("Generated " + ", ".join(f"{n:,} {what.replace('_', ' ')}" for what, n in made.items()) + ".")
        from services import word_index

        word_index.catch_up(db.engine)  # SQLite: the demo's words index now, not at the worker's next minute
        demo_emails = {email for email, _password, _role in DEMO_LOGINS}
        if db.session.scalar(db.select(db.func.count()).where(Employee.email.in_(demo_emails))):
            click.echo("Demo logins (e-mail, password, role):")
            for email, password, role in DEMO_LOGINS:
                click.echo(f"  {email:32} {password:16} {role}")

    @app.cli.group("registry")
    def registry_group():
        """The company register (Företagsuppslag) from Bolagsverket's bulk file."""

    @registry_group.command("load")
    @click.argument("file", type=click.Path(dir_okay=False))
    @click.option(
        "--date", "data_date", type=click.DateTime(formats=["%Y-%m-%d"]), help="The data's date (default: the file's)."
    )
    @click.option("--encoding", default="latin-1", show_default=True, help="The text file's encoding.")
    def registry_load_command(file, data_date, encoding):
        """Load Bolagsverket's bulk file (the ZIP or the text file in it), replacing the previous load."""
        from services.registry_loader import LoadError, load

        def progress(rows: int) -> None:
            if rows % 100_000 == 0:
                click.echo(f"  {rows:>10,} rows", err=True)

        try:
            result = load(
                db.engine, file, data_date=data_date.date() if data_date else None, encoding=encoding, progress=progress
            )
        except LoadError as exc:
            raise click.ClickException(str(exc)) from None
        click.echo(
            f"Loaded {result.rows:,} companies ({result.active:,} active), data of {result.data_date.isoformat()}, "
            f"in {result.seconds:.1f} s."
        )

    @app.cli.command("create-user")
    @click.option("--email", required=True)
    @click.option("--name", required=True)
    @click.option("--role", required=True, type=click.Choice(sorted(ROLES)))
    def create_user_command(email, name, role):
        """Create an employee; password from CRM_NEW_USER_PASSWORD or a prompt."""
        password = os.environ.get("CRM_NEW_USER_PASSWORD") or click.prompt(
            "Password", hide_input=True, confirmation_prompt=True
        )
        try:
            employee = accounts.create_employee(db.session, email=email, name=name, role=role, password=password)
            db.session.commit()
        except accounts.AccountError as exc:
            raise click.ClickException(str(exc)) from None
        click.echo(f"Created {employee.email} ({role}).")

    @app.cli.command("worker")
    @click.option(
        "-w", "--workers", default=1, show_default=True, type=click.IntRange(1, 64), help="Jobs run at once (threads)."
    )
    @click.option("--no-periodic", is_flag=True, help="Run no periodic tasks in this worker.")
    def worker_command(workers, no_periodic):
        """Run background jobs from the task queue until stopped (Ctrl-C or SIGTERM: the running jobs
        hand their work back after their current batch)."""
        import logging

        from services import tasks

        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
        where = "Redis" if app.config["REDIS_URL"] else app.config["QUEUE_FILE"]
        click.echo(f"Worker: {workers} thread(s) on the queue {app.config['QUEUE_NAME']!r} in {where}.")
        tasks.create_worker(workers, periodic_tasks=not no_periodic).run()

    @app.cli.command("unlock-login")
    @click.option("--email", required=True)
    @click.option("--reset-two-factor", is_flag=True, help="Also switch the employee's two-factor login off.")
    def unlock_login_command(email, reset_two_factor):
        """Lift a login lock (and reset two-factor login) when no administrator can log in to do it."""
        from auth import throttle
        from models import utcnow
        from services import login_sessions, two_factor

        employee = accounts.find_by_email(db.session, email)
        if employee is None:
            raise click.ClickException(f"No employee has the e-mail address {email}.")
        throttle().unlock(employee.email)
        if reset_two_factor:
            two_factor.disable(db.session, employee, actor_id=None, action="two_factor_reset")
            login_sessions.end_all(db.session, employee, now=utcnow(), reason="two_factor_reset", actor_id=None)
        db.session.commit()
        click.echo(f"Unlocked {employee.email}" + (" and reset two-factor login." if reset_two_factor else "."))

    @app.cli.command("backup")
    @click.argument("path", type=click.Path(path_type=Path))
    def backup_command(path):
        """Back up the database, the file area and the task queue into PATH, while the app runs:
        a new directory, or one file when PATH ends in .tar.gz (services/backup.py). SQLite is
        copied with its online backup API; PostgreSQL with pg_dump."""
        from services import backup

        how = "pg_dump" if backup.sqlite_path(app.config["SQLALCHEMY_DATABASE_URI"]) is None else "online backup"
        click.echo(f"Backing up the database ({how}), the file area and the task queue into {path} …", err=True)
        try:
            manifest = backup.backup(app.config, path)
        except backup.BackupError as exc:
            raise click.ClickException(str(exc)) from None
        rows = sum(t["rows"] for t in manifest.tables.values())
        click.echo(
            f"Backed up to {path}: "
            + (f"{len(manifest.tables)} tables, {rows:,} rows; " if manifest.tables else "")
            + f"{manifest.files:,} files ({manifest.file_bytes:,} bytes)"
            + ("; the task queue" if manifest.queue else "")
            + f"; schema revision {manifest.revision}."
        )
        if manifest.missing_files:
            click.echo(
                f"Warning: {len(manifest.missing_files)} file(s) named by the database were not in "
                f"{app.config['UPLOAD_DIR']}: {', '.join(manifest.missing_files[:10])}",
                err=True,
            )

    @app.cli.command("restore")
    @click.argument("path", type=click.Path(exists=True, path_type=Path))
    @click.option(
        "--force",
        is_flag=True,
        help="Restore over a database that holds data (SQLite: kept beside it as *.before-restore-<time>).",
    )
    @click.option(
        "--erasures",
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
        help="Another instance's erasure ledger to re-apply too (restoring onto a new host).",
    )
    def restore_command(path, force, erasures):
        """Restore a backup made by `backup` (a directory or .tar.gz) into this instance's database, file
        area and task queue, then erase again everyone the erasure ledger or the privacy log records
        erased whose data the backup brought back. Stop the app and its workers first."""
        from services import backup

        try:
            manifest = backup.restore(app.config, path, force=force, erasures=erasures)
        except backup.BackupError as exc:
            raise click.ClickException(str(exc)) from None
        click.echo(
            f"Restored the backup of {manifest.created_at} (schema revision {manifest.revision}): "
            f"{sum(t['rows'] for t in manifest.tables.values()):,} rows checked, {manifest.files:,} files."
        )
        db.engine.dispose()  # connections opened before the restore were to the database it replaced
        reapply_erasures("restore")

    def reapply_erasures(reason: str) -> None:
        """Erase again the people the instance's erasure ledger and privacy log record erased whose data
        is back (services.privacy_reapply), and say how many."""
        from datetime import date

        from alembic.script import ScriptDirectory
        from sqlalchemy import text

        from services import erasure_ledger, privacy_reapply

        revision = db.session.scalar(text("SELECT version_num FROM alembic_version"))
        if revision not in ScriptDirectory(str(BASE_DIR / "migrations")).get_heads():
            raise click.ClickException(
                f"The database's schema (revision {revision}) is not this version's, so no erasure was re-applied "
                "and the people erased since the backup may be in it again. Run: flask --app app db upgrade, "
                "then: flask --app app privacy reapply-erasures"
            )
        path = erasure_ledger.path_of(app.config)
        try:
            ledger = erasure_ledger.read(path)
        except OSError as exc:
            raise click.ClickException(f"The erasure ledger {path} cannot be read: {exc}") from None
        if ledger.unreadable:
            lines = ", ".join(map(str, ledger.unreadable[:10]))
            click.echo(
                f"Warning: {len(ledger.unreadable)} line(s) of the erasure ledger {path} are not entries and were "
                f"skipped (a line cut short by a crash is harmless): lines {lines}",
                err=True,
            )
        done = privacy_reapply.reapply(
            db.session,
            storage.from_config(app.config),
            ledger.entries,
            today=date.today(),
            reason=reason,
            commit=db.session.commit,
        )
        click.echo(
            f"Erasures re-applied ({len(ledger.entries):,} in the ledger {path}, and the privacy log): "
            f"{done.erased:,} made again, {done.already:,} already in place; "
            f"{done.missing:,} recorded records not in the database, {done.other:,} ids now another record's."
        )
        if done.failed:
            raise click.ClickException(
                f"{len(done.failed)} people could not be erased again (see the log above): "
                + ", ".join(f"{kind} {record_id}" for kind, record_id in done.failed[:20])
                + ". Run again: flask --app app privacy reapply-erasures"
            )

    @app.cli.group("privacy")
    def privacy_group():
        """Dataskydd (GDPR): erasures."""

    @privacy_group.command("reapply-erasures")
    @click.option(
        "--erasures",
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
        help="Add another instance's erasure ledger to this instance's first.",
    )
    def reapply_erasures_command(erasures):
        """Erase again everyone the erasure ledger or the privacy log records erased whose record is not
        erased or still holds personal data (a restored backup; the duplicates merged into a person, which
        erasures made before they were erased with the person left). Safe to run again: it then erases no one."""
        from services import erasure_ledger

        if erasures:
            try:
                other = erasure_ledger.read(erasures)
                added = erasure_ledger.merge(erasure_ledger.path_of(app.config), other.entries)
            except OSError as exc:
                raise click.ClickException(str(exc)) from None
            skipped = f" ({len(other.unreadable)} lines that are not entries skipped)" if other.unreadable else ""
            click.echo(f"{added:,} erasures of {erasures} added to this instance's ledger{skipped}.")
        reapply_erasures("reapply")

    @app.cli.group("api-key")
    def api_key_group():
        """API keys of integrations (also under Administration – Integrationer)."""

    @api_key_group.command("create")
    @click.option("--employee", "email", required=True, help="E-mail of the employee the key acts as.")
    @click.option("--name", required=True, help="The integration that uses the key.")
    @click.option("--expires", type=click.DateTime(formats=["%Y-%m-%d"]), help="Valid through this date (YYYY-MM-DD).")
    def api_key_create(email, name, expires):
        """Create an API key and print it (this once: only its hash is kept)."""
        from services import api_keys
        from services.validation import InvalidValue

        employee = accounts.find_by_email(db.session, email)
        if employee is None:
            raise click.ClickException(f"No employee has the e-mail address {email}.")
        try:
            new = api_keys.create(
                db.session,
                None,
                employee=employee,
                name=name,
                expires_at=api_keys.expiry_of(expires.date()) if expires else None,
            )
        except InvalidValue as exc:
            raise click.ClickException(str(exc)) from None
        db.session.commit()
        click.echo(f"API key {new.record.name!r} acting as {employee.email} (id {new.record.id}):", err=True)
        click.echo(new.secret)

    @api_key_group.command("revoke")
    @click.option("--id", "key_id", required=True, type=int)
    def api_key_revoke(key_id):
        """Revoke an API key."""
        from models import ApiKey
        from services import api_keys

        record = db.session.get(ApiKey, key_id)
        if record is None:
            raise click.ClickException(f"No API key has the id {key_id}.")
        api_keys.revoke(db.session, None, record)
        db.session.commit()
        click.echo(f"Revoked {record}.")

    @app.cli.group("translate")
    def translate_group():
        """Extract, update and compile the Swedish translations (pybabel)."""

    @translate_group.command("compile")
    def translate_compile():
        translations.compile_catalogs()
        click.echo("Compiled translations.")

    @translate_group.command("update")
    def translate_update():
        translations.extract_and_update()
        click.echo("Updated translations/sv/LC_MESSAGES/messages.po")


def create_app(overrides: dict | None = None, *, web: bool = True) -> Flask:
    """Application factory: config from the environment, extensions, CLI, and (`web`) the screens:
    login, admin, API, templates. A queue worker needs none of those (see `worker_app`)."""
    app = Flask(__name__, instance_path=str(BASE_DIR / "instance"))
    app.config.update(load_config(overrides))
    if web and app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
        app.config.setdefault("SQLALCHEMY_ENGINE_OPTIONS", {"connect_args": {"options": SCREENS_POSTGRESQL_OPTIONS}})

    db.init_app(app)
    babel.init_app(app, locale_selector=select_locale)
    csrf.init_app(app)
    security_headers.init_app(app)
    # Rate limits are shared between workers and hosts through Redis when CRM_REDIS_URL is set.
    app.config.setdefault(
        "RATELIMIT_STORAGE_URI",
        os.environ.get("CRM_RATELIMIT_STORAGE_URI") or app.config.get("REDIS_URL") or "memory://",
    )
    app.config.setdefault("RATELIMIT_KEY_PREFIX", f"{app.config['REDIS_KEY_PREFIX']}limits")
    app.config.setdefault("REMEMBER_COOKIE_DURATION", timedelta(days=app.config["REMEMBER_DAYS"]))
    if app.config.get("PROXY_COUNT"):
        from werkzeug.middleware.proxy_fix import ProxyFix

        count = app.config["PROXY_COUNT"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=count, x_proto=count, x_host=count)
    limiter.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = _l("Log in to continue.")
    login_manager.login_message_category = "info"

    import services.audit  # registers the audit listener
    import services.permissions  # noqa: F401  (registers the permission rule Employee.has_permission asks)

    services.audit.set_default_actor(auth.logged_in_employee_id)
    import services.consent  # noqa: F401  (registers the consent stamps)
    import services.numbering  # noqa: F401  (registers customer numbering)
    import services.privacy  # noqa: F401  (registers the guard that keeps an erased person's record read-only)
    import services.sales  # noqa: F401  (registers the opportunity rules and history)
    import services.webhooks  # noqa: F401  (registers the webhook events, written with each change)
    import services.word_index  # noqa: F401  (SQLite: a commit writes the words index's few noted entries)
    import services.write_turns  # noqa: F401  (SQLite: a save about to write asks a running import for its turn)
    from admin_views.params import IdConverter, refuse_nul_characters

    app.url_map.converters["int"] = IdConverter  # before any route: an id too large for a column is a 404
    app.before_request(refuse_nul_characters)
    login_manager.user_loader(auth.load_employee)
    app.before_request(auth.keep_session_alive)

    from services import tasks

    tasks.init_app(app)
    register_cli(app)
    if not web:
        return app
    # `flask db …` (Alembic): 11 MB that a queue worker, which never migrates, does not load
    from flask_migrate import Migrate

    Migrate(app, db, directory=str(BASE_DIR / "migrations"), render_as_batch=True, compare_type=True)

    app.register_blueprint(auth.bp)
    register_admin(app)
    import api

    api.init_app(app)

    from admin_views import messages

    messages.init_app(app)

    from admin_views.base import may, read_only_reason, sees
    from admin_views.labels import audit_action, audit_subject, change_value, field_label, personal_number
    from admin_views.urls import id_url
    from services import formatting, validation
    from services.login_sessions import device

    app.jinja_env.globals.update(
        consent=services.consent,
        audit_action=audit_action,
        audit_subject=audit_subject,
        get_locale=get_locale,
        device=device,
        sees=sees,
        may=may,
        read_only_reason=read_only_reason,
        id_url=id_url,
    )
    app.jinja_env.filters.update(
        field_label=field_label,
        org_number=formatting.org_number,
        personal_number=personal_number,
        phone=formatting.phone,
        money=formatting.money,
        web_link=formatting.web_link,
        iso_date=formatting.iso_date,
        number=formatting.number,
        percent=formatting.percent,
        file_size=formatting.file_size,
        yes_no=formatting.boolean,
        change_value=change_value,
    )
    app.jinja_env.tests["mobile"] = validation.is_mobile

    from api.problems import from_http_exception as problem_of
    from api.problems import is_api_request

    @app.errorhandler(400)
    def bad_request(error):
        if is_api_request():
            return problem_of(error)
        from admin_views.params import BadParameter

        message = (
            error.description
            if isinstance(error, BadParameter)
            else _("The request could not be read. Go back, reload the page and try again.")
        )
        return render_template("error.html", code=400, message=message), 400

    @app.errorhandler(403)
    def forbidden(error):
        if is_api_request():
            return problem_of(error)
        return render_template("error.html", code=403, message=_("You do not have permission to see this page.")), 403

    @app.errorhandler(404)
    def not_found(error):
        if is_api_request():
            return problem_of(error)
        return render_template(
            "error.html", code=404, message=_("The page or record does not exist (it may have been deleted).")
        ), 404

    @app.errorhandler(429)
    def too_many_requests(error):
        """Flask-Limiter's refusal (the login form's limit per address) as a page in Swedish; the limit's
        own message says how long to wait."""
        if is_api_request():
            return problem_of(error)
        message = error.description or _("Too many requests. Wait a minute and try again.")
        return render_template("error.html", code=429, message=message), 429, {"Retry-After": "60"}

    @app.errorhandler(413)
    def too_large(error):
        if is_api_request():
            return problem_of(error)
        limit = g.get("upload_limit", app.config["MAX_UPLOAD_BYTES"]) // (1024 * 1024)
        return render_template(
            "error.html", code=413, message=_("The file is larger than %(mb)s MB and was not uploaded.", mb=limit)
        ), 413

    from admin_views.records import record_url
    from api.problems import problem
    from services.privacy import ErasedRecord

    @app.errorhandler(ErasedRecord)
    def erased_record(error):
        """A change to an erased person's record (services.privacy) that no view caught: nothing is saved;
        the API answers 422 as for any rule broken, a page goes to the record with the reason."""
        db.session.rollback()
        if is_api_request():
            return problem(422, str(error))
        flash(str(error), "error")
        return redirect(record_url(error.kind, error.record_id))

    return app


def worker_app() -> Flask:
    """The app as a queue worker runs it (`flask --app app:worker_app worker`): the tasks and the
    database without the screens, whose views, forms and templates would take about 15 MB of every
    worker's memory for nothing, nor Flask-Migrate (Alembic, 11 MB more: migrate with `--app app`).
    `flask --app app worker` works as well, with the screens loaded."""
    return create_app(web=False)
