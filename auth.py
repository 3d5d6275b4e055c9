"""Login and logout (/login, /logout) for employees."""

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required, login_user, logout_user
from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, PasswordField
from wtforms.validators import DataRequired

from admin_views.redirects import safe_target
from extensions import db, limiter
from services import accounts

bp = Blueprint("auth", __name__)


class LoginForm(FlaskForm):
    email = EmailField(_l("E-mail"), validators=[DataRequired(message=_l("Enter your e-mail address."))])
    password = PasswordField(_l("Password"), validators=[DataRequired(message=_l("Enter your password."))])
    remember = BooleanField(_l("Stay logged in"))


def safe_next(target: str | None) -> str:
    """Only a path on this site (admin_views.redirects); anything else goes to the start page."""
    return safe_target(target) or url_for("admin.index")


@bp.route("/login", methods=("GET", "POST"))
@limiter.limit(
    "10 per minute", methods=["POST"], error_message=_l("Too many login attempts. Wait a minute and try again.")
)
def login():
    """Show the login form; log the employee in on valid credentials."""
    if current_user.is_authenticated:
        return redirect(safe_next(request.args.get("next")))
    form = LoginForm()
    if form.validate_on_submit():
        employee = accounts.authenticate(db.session, form.email.data, form.password.data)
        if employee is not None:
            login_user(employee, remember=form.remember.data)
            return redirect(safe_next(request.args.get("next")))
        flash(_("Wrong e-mail address or password, or the account is deactivated."), "error")
    return render_template("auth/login.html", form=form)


@bp.route("/logout", methods=("GET", "POST"))
@login_required
def logout():
    """Log out. Only a POST (with CSRF token) logs out, so no other site can do it."""
    if request.method == "GET":
        return render_template("auth/logout.html", form=FlaskForm())
    logout_user()
    flash(_("You are now logged out."), "info")
    return redirect(url_for("auth.login"))


@bp.route("/preferences/language", methods=("POST",))
@login_required
def set_language():
    """Let the employee choose the interface language (Swedish, or English)."""
    from flask import current_app

    choice = request.form.get("locale")
    if choice in current_app.config["SUPPORTED_LOCALES"]:
        current_user.locale = choice
        db.session.commit()
    return redirect(safe_next(request.form.get("next")))


@bp.route("/")
def root():
    return redirect(url_for("admin.index"))
