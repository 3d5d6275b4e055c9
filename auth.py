"""Login (password, then a two-factor code when the employee uses one) and logout.

The rules live in services (accounts: the password step and throttling;
two_factor: codes; login_sessions: the server-side session rows); this module
connects them to Flask-Login: the user id Flask-Login keeps in the session
cookie and the remember-me cookie is the login session's token, so a session
ended on the server ends both cookies.
"""

from datetime import datetime, timedelta

from flask import (
    Blueprint,
    current_app,
    flash,
    g,
    has_request_context,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required, login_user, logout_user
from flask_wtf import FlaskForm
from sqlalchemy.exc import OperationalError
from wtforms import BooleanField, EmailField, PasswordField, StringField
from wtforms.validators import DataRequired

from admin_views.redirects import safe_target
from extensions import db, limiter
from models import Employee, utcnow
from services import accounts, login_sessions, two_factor
from services.throttle import DatabaseStore, Policy, RedisStore, Throttle

bp = Blueprint("auth", __name__)

#: How long the code step may follow the password step.
CODE_STEP_TIMEOUT = timedelta(minutes=5)
#: Endpoints open to a session that must enrol in two-factor login first.
ENROLMENT_ENDPOINTS = {
    "account.two_factor",
    "account.two_factor_start",
    "account.two_factor_confirm",
    "auth.logout",
    "auth.set_language",
    "static",
    "admin.static",
}


class LoginForm(FlaskForm):
    email = EmailField(_l("E-mail"), validators=[DataRequired(message=_l("Enter your e-mail address."))])
    password = PasswordField(_l("Password"), validators=[DataRequired(message=_l("Enter your password."))])
    remember = BooleanField(_l("Stay logged in"))


class CodeForm(FlaskForm):
    code = StringField(
        _l("Code from the app, or a recovery code"),
        validators=[DataRequired(message=_l("Enter the code from your authenticator app."))],
    )


def safe_next(target: str | None) -> str:
    """Only a path on this site (admin_views.redirects); anything else goes to the start page."""
    return safe_target(target) or url_for("admin.index")


# --- the pieces the views share -------------------------------------------------------------


def lifetimes() -> login_sessions.Lifetimes:
    return login_sessions.Lifetimes.from_config(current_app.config)


def throttle() -> Throttle:
    """Login throttling, in Redis when CRM_REDIS_URL is set, else in the database."""
    url = current_app.config.get("REDIS_URL")
    if url:
        client = current_app.extensions.get("crm_redis")
        if client is None:
            import redis

            client = current_app.extensions["crm_redis"] = redis.Redis.from_url(url)
        store = RedisStore(client, prefix=current_app.config.get("REDIS_KEY_PREFIX", "crm:") + "login:")
    else:
        store = DatabaseStore(db.session)
    return Throttle(store, Policy.from_config(current_app.config))


def client_ip() -> str | None:
    return request.remote_addr


def current_login_session_id() -> int | None:
    record = getattr(current_user, "login_session", None) if current_user.is_authenticated else None
    return record.id if record else None


def logged_in_employee_id() -> int | None:
    """Who a request's writes are audited as: the logged-in employee (services.audit asks)."""
    if has_request_context() and current_user and current_user.is_authenticated:
        return current_user.id
    return None


def load_employee(token: str):
    """Flask-Login's user loader: the employee of a live login session, or None."""
    record = login_sessions.resume(db.session, token, now=utcnow(), lifetimes=lifetimes())
    if record is None:
        return None
    employee = record.employee
    employee.login_token = token
    employee.login_session = record
    return employee


def keep_session_alive():
    """Before each request: note the session's use (at most once a minute), and hold a session that
    must enrol in two-factor login at the enrolment page."""
    if request.endpoint in ("static", "admin.static") or g.get("api_request") or not current_user.is_authenticated:
        return None
    record = current_user.login_session
    now = utcnow()
    if login_sessions.needs_touch(record, now):
        _touch(record.id, now)
    if record.must_enrol and request.endpoint not in ENROLMENT_ENDPOINTS:
        flash(_("Two-factor login is required for your account. Set it up to continue."), "warning")
        return redirect(url_for("account.two_factor"))
    return None


def _touch(record_id: int, now) -> None:
    """Write last_seen_at on a connection of its own that waits at most 0.2 s for the database: while
    a long write holds SQLite (an all-or-nothing import), pages still open at once and the session
    is touched at a later request (its idle timeout is 30 minutes; it is touched once a minute)."""
    with db.engine.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:
            connection.exec_driver_sql("PRAGMA busy_timeout=200")
        else:
            connection.exec_driver_sql("SET LOCAL lock_timeout = '200ms'")
        try:
            login_sessions.touch(connection, record_id, now)
            connection.commit()
        except OperationalError:
            connection.rollback()
        finally:
            if sqlite:
                connection.exec_driver_sql("PRAGMA busy_timeout=30000")


def locked_message(locked_until) -> str:
    minutes = max(1, int((locked_until - utcnow()).total_seconds() + 59) // 60)
    return _("Too many failed login attempts. Wait %(minutes)s minutes and try again.", minutes=minutes)


def finish_login(employee: Employee, *, remember: bool, used_code: bool, next_url: str | None):
    """Start the login session (a new session cookie and CSRF token) and go on to `next_url`."""
    now = utcnow()
    must_enrol = not employee.two_factor_enabled and two_factor.is_required(db.session, employee)
    record, token = login_sessions.start(
        db.session,
        employee,
        now=now,
        lifetimes=lifetimes(),
        remember=remember,
        two_factor=used_code,
        must_enrol=must_enrol,
        ip=client_ip(),
        user_agent=request.headers.get("User-Agent"),
    )
    login_sessions.login_succeeded(db.session, employee, ip=client_ip(), two_factor=used_code)
    accounts.login_completed(employee, throttle=throttle())
    db.session.commit()
    # Nothing from before the login carries over: the CSRF token is a new one.
    session.clear()
    g.pop("csrf_token", None)
    employee.login_token = token
    employee.login_session = record
    login_user(employee, remember=remember)
    if must_enrol:
        flash(_("Two-factor login is required for your account. Set it up to continue."), "warning")
        return redirect(url_for("account.two_factor"))
    return redirect(safe_next(next_url))


# --- views --------------------------------------------------------------------------------------


@bp.route("/login", methods=("GET", "POST"))
@limiter.limit(
    "10 per minute", methods=["POST"], error_message=_l("Too many login attempts. Wait a minute and try again.")
)
def login():
    """Show the login form; check the password, then ask for a code or log the employee in."""
    if current_user.is_authenticated:
        return redirect(safe_next(request.args.get("next")))
    form = LoginForm()
    if form.validate_on_submit():
        step = accounts.check_password(
            db.session, form.email.data, form.password.data, ip=client_ip(), throttle=throttle(), now=utcnow()
        )
        db.session.commit()
        if step.outcome == "ok" and step.employee.two_factor_enabled:
            session["code_step"] = {
                "employee_id": step.employee.id,
                "remember": bool(form.remember.data),
                "next": request.args.get("next"),
                "at": utcnow().isoformat(),
            }
            return redirect(url_for("auth.login_code"))
        if step.outcome == "ok":
            return finish_login(
                step.employee, remember=bool(form.remember.data), used_code=False, next_url=request.args.get("next")
            )
        if step.outcome == "locked":
            flash(locked_message(step.locked_until), "error")
        else:
            flash(_("Wrong e-mail address or password, or the account is deactivated."), "error")
    return render_template("auth/login.html", form=form)


def _code_step_employee() -> Employee | None:
    """The employee whose password was just accepted, while the code step is still open."""
    pending = session.get("code_step")
    if not pending:
        return None
    try:
        started = datetime.fromisoformat(pending["at"])
    except (KeyError, TypeError, ValueError):
        return None
    if utcnow() - started > CODE_STEP_TIMEOUT:
        return None
    employee = db.session.get(Employee, pending.get("employee_id"))
    return employee if employee and employee.active and employee.two_factor_enabled else None


@bp.route("/login/code", methods=("GET", "POST"))
@limiter.limit(
    "10 per minute", methods=["POST"], error_message=_l("Too many login attempts. Wait a minute and try again.")
)
def login_code():
    """The second step of a login with two-factor login: a code from the app or a recovery code."""
    if current_user.is_authenticated:
        return redirect(url_for("admin.index"))
    employee = _code_step_employee()
    if employee is None:
        session.pop("code_step", None)
        flash(_("The login took too long or was not started. Log in again."), "info")
        return redirect(url_for("auth.login"))
    form = CodeForm()
    if form.validate_on_submit():
        now, limits = utcnow(), throttle()
        locked_until = limits.locked_until(employee.email, client_ip(), now)
        if locked_until:
            flash(locked_message(locked_until), "error")
            return render_template("auth/login_code.html", form=form)
        used = two_factor.verify_login(db.session, employee, form.code.data, now)
        if used:
            pending = session.pop("code_step")
            return finish_login(
                employee, remember=pending.get("remember", False), used_code=True, next_url=pending.get("next")
            )
        step = accounts.record_failure(
            db.session, employee, employee.email, ip=client_ip(), throttle=limits, now=now, reason="code"
        )
        db.session.commit()
        if step.outcome == "locked":
            session.pop("code_step", None)
            flash(locked_message(step.locked_until), "error")
            return redirect(url_for("auth.login"))
        flash(_("The code is wrong or has already been used. Try the next code from the app."), "error")
    return render_template("auth/login_code.html", form=form)


@bp.route("/logout", methods=("GET", "POST"))
@login_required
def logout():
    """Log out. Only a POST (with CSRF token) logs out, so no other site can do it."""
    if request.method == "GET":
        return render_template("auth/logout.html", form=FlaskForm())
    record = current_user.login_session
    login_sessions.end(db.session, record, now=utcnow(), reason="logout", actor_id=current_user.id)
    db.session.commit()
    logout_user()
    session.pop("csrf_token", None)
    flash(_("You are now logged out."), "info")
    return redirect(url_for("auth.login"))


@bp.route("/preferences/language", methods=("POST",))
@login_required
def set_language():
    """Let the employee choose the interface language (Swedish, or English)."""
    choice = request.form.get("locale")
    if choice in current_app.config["SUPPORTED_LOCALES"]:
        current_user.locale = choice
        db.session.commit()
    return redirect(safe_next(request.form.get("next")))


@bp.route("/")
def root():
    return redirect(url_for("admin.index"))
