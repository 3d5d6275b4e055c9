"""Mitt konto (the employee's own password, two-factor login and sessions) and
Administration – Säkerhet (who must use two-factor login)."""

from flask import abort, flash, redirect, request, url_for
from flask_admin import expose
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, logout_user
from flask_wtf import FlaskForm
from wtforms import BooleanField, PasswordField, SelectMultipleField, StringField
from wtforms.validators import DataRequired, EqualTo, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget

import auth
from admin_views.base import LOGGED_IN, SecurePage, require
from extensions import db
from models import LoginSession, utcnow
from services import accounts, employees, login_sessions, passwords, two_factor
from services.permissions import ROLES, role_choices


def _current_password_matches(form, field):
    """The current password, counted like a login's (services.accounts.confirm_password)."""
    step = accounts.confirm_password(
        db.session, current_user, field.data or "", ip=auth.client_ip(), throttle=auth.throttle(), now=utcnow()
    )
    db.session.commit()  # the failure and any lock are kept even though the form is refused
    if step.outcome == "locked":
        raise ValidationError(auth.locked_message(step.locked_until))
    if step.outcome != "ok":
        raise ValidationError(_l("The current password is wrong."))


def _meets_policy(form, field):
    try:
        accounts.check_new_password(current_user, field.data or "")
    except passwords.WeakPassword as exc:
        raise ValidationError(str(exc)) from None


class PasswordChangeForm(FlaskForm):
    current_password = PasswordField(
        _l("Current password"),
        validators=[DataRequired(message=_l("Enter your current password.")), _current_password_matches],
    )
    new_password = PasswordField(
        _l("New password"), validators=[DataRequired(message=_l("Enter a new password.")), _meets_policy]
    )
    confirm = PasswordField(
        _l("New password again"),
        validators=[
            DataRequired(message=_l("Enter the new password again.")),
            EqualTo("new_password", message=_l("The two new passwords are not the same.")),
        ],
    )


class ConfirmCodeForm(FlaskForm):
    code = StringField(
        _l("Code from the app"), validators=[DataRequired(message=_l("Enter the code from your authenticator app."))]
    )


class CurrentPasswordForm(FlaskForm):
    """The current password, asked again before a two-factor change (prefixed: two on one page;
    the CSRF token is the page's one, checked by CSRFProtect for every POST)."""

    class Meta:
        csrf = False

    current_password = PasswordField(
        _l("Current password"),
        validators=[DataRequired(message=_l("Enter your current password.")), _current_password_matches],
    )


def _refusal(form: CurrentPasswordForm) -> str:
    """Why the current password was not taken (wrong, or the account is locked)."""
    errors = form.current_password.errors
    return str(errors[0]) if errors else _("The current password is wrong.")


class AccountView(SecurePage):
    """Mitt konto: every employee's own login settings (no menu entry; in the user menu)."""

    def is_visible(self) -> bool:
        return False

    def _sessions(self, employee):
        return login_sessions.active(db.session, employee, now=utcnow(), lifetimes=auth.lifetimes())

    @expose("/")
    @require(LOGGED_IN)
    def index(self):
        """Mitt konto: password, two-factor login and the employee's active sessions."""
        employee = current_user
        return self.render(
            "admin/account.html",
            employee=employee,
            sessions=self._sessions(employee),
            current_session_id=auth.current_login_session_id(),
            required=two_factor.is_required(db.session, employee),
            codes_left=two_factor.recovery_codes_left(db.session, employee),
        )

    @expose("/password", methods=("GET", "POST"))
    @require(LOGGED_IN)
    def password(self):
        """Change one's own password (the current one is asked for); other sessions end."""
        form = PasswordChangeForm()
        if form.validate_on_submit():
            accounts.change_password(db.session, current_user, form.new_password.data, actor=current_user)
            ended = login_sessions.end_all(
                db.session,
                current_user,
                now=utcnow(),
                reason="password_changed",
                actor_id=current_user.id,
                keep_id=auth.current_login_session_id(),
            )
            db.session.commit()
            flash(_("Your password was changed."), "success")
            if ended:
                flash(_("Your other sessions (%(n)s) were logged out.", n=ended), "info")
            return redirect(url_for(".index"))
        return self.render("admin/account_password.html", form=form, min_length=passwords.MIN_LENGTH)

    @expose("/two-factor")
    @require(LOGGED_IN)
    def two_factor(self):
        """Two-factor login: its state, or the QR code to scan while enrolling."""
        employee = current_user
        secret = employee.totp_pending_secret if not employee.two_factor_enabled else None
        uri = two_factor.provisioning_uri(employee, secret) if secret else None
        return self.render(
            "admin/account_two_factor.html",
            employee=employee,
            secret=secret,
            qr_svg=two_factor.qr_svg(uri) if uri else None,
            form=ConfirmCodeForm(),
            codes_form=CurrentPasswordForm(prefix="codes"),
            disable_form=CurrentPasswordForm(prefix="disable"),
            required=two_factor.is_required(db.session, employee),
            codes_left=two_factor.recovery_codes_left(db.session, employee),
        )

    @expose("/two-factor/start", methods=("POST",))
    @require(LOGGED_IN)
    def two_factor_start(self):
        """Make a new secret to scan (nothing is on until a code confirms it)."""
        if current_user.two_factor_enabled:
            flash(_("Two-factor login is already on."), "info")
        else:
            two_factor.begin_enrolment(db.session, current_user)
            db.session.commit()
        return redirect(url_for(".two_factor"))

    @expose("/two-factor/confirm", methods=("POST",))
    @require(LOGGED_IN)
    def two_factor_confirm(self):
        """Turn two-factor login on with a code from the app; the recovery codes are shown once."""
        form = ConfirmCodeForm()
        employee = current_user
        if not form.validate_on_submit() or employee.two_factor_enabled or not employee.totp_pending_secret:
            flash(_("Scan the QR code and enter the code the app shows."), "error")
            return redirect(url_for(".two_factor"))
        codes = two_factor.confirm_enrolment(db.session, employee, form.code.data, utcnow())
        if codes is None:
            flash(_("The code does not match. Check the time on your phone and try the next code."), "error")
            return redirect(url_for(".two_factor"))
        login_sessions.enrolled(db.session, employee)
        db.session.commit()
        flash(_("Two-factor login is on. You will be asked for a code when you log in."), "success")
        return self.render("admin/account_recovery_codes.html", codes=codes)

    @expose("/two-factor/recovery-codes", methods=("POST",))
    @require(LOGGED_IN)
    def recovery_codes(self):
        """New recovery codes (the old ones stop working), shown once; the password is asked for."""
        form = CurrentPasswordForm(prefix="codes")
        if not current_user.two_factor_enabled:
            abort(400)
        if not form.validate_on_submit():
            flash(_refusal(form), "error")
            return redirect(url_for(".two_factor"))
        codes = two_factor.new_recovery_codes(db.session, current_user)
        db.session.commit()
        return self.render("admin/account_recovery_codes.html", codes=codes)

    @expose("/two-factor/disable", methods=("POST",))
    @require(LOGGED_IN)
    def two_factor_disable(self):
        """Switch two-factor login off (not when the administrator requires it); the password is asked for."""
        form = CurrentPasswordForm(prefix="disable")
        if two_factor.is_required(db.session, current_user):
            flash(_("Your administrator requires two-factor login; it cannot be switched off."), "error")
        elif not form.validate_on_submit():
            flash(_refusal(form), "error")
        elif current_user.two_factor_enabled:
            two_factor.disable(db.session, current_user, actor_id=current_user.id)
            db.session.commit()
            flash(_("Two-factor login is off."), "success")
        return redirect(url_for(".two_factor"))

    @expose("/sessions/<int:session_id>/end", methods=("POST",))
    @require(LOGGED_IN)
    def end_session(self, session_id):
        """End one of one's own sessions (this one too: that is a logout)."""
        record = db.session.get(LoginSession, session_id)
        if record is None or record.employee_id != current_user.id:
            abort(404)
        this_one = record.id == auth.current_login_session_id()
        login_sessions.end(db.session, record, now=utcnow(), reason="ended_by_user", actor_id=current_user.id)
        db.session.commit()
        if this_one:
            logout_user()
            flash(_("You are now logged out."), "info")
            return redirect(url_for("auth.login"))
        flash(_("The session was ended."), "success")
        return redirect(url_for(".index"))

    @expose("/sessions/end-others", methods=("POST",))
    @require(LOGGED_IN)
    def end_other_sessions(self):
        """Log out every other browser and device of one's own."""
        ended = login_sessions.end_all(
            db.session,
            current_user,
            now=utcnow(),
            reason="ended_by_user",
            actor_id=current_user.id,
            keep_id=auth.current_login_session_id(),
        )
        db.session.commit()
        flash(_("Your other sessions (%(n)s) were logged out.", n=ended), "success")
        return redirect(url_for(".index"))


class PolicyForm(FlaskForm):
    everyone = BooleanField(_l("Everyone must use two-factor login"))
    roles = SelectMultipleField(
        _l("Roles that must use two-factor login"),
        choices=role_choices,
        widget=ListWidget(prefix_label=False),
        option_widget=CheckboxInput(),
        validate_choice=True,
    )


class SecurityView(SecurePage):
    """Administration – Säkerhet: two-factor requirement and who has enrolled."""

    @expose("/")
    @require("security.manage")
    def index(self):
        """The two-factor policy and each employee's two-factor state."""
        rules = two_factor.policy(db.session)
        form = PolicyForm(everyone=rules.require_two_factor_all, roles=list(rules.require_two_factor_roles or ()))
        return self._render(form)

    def _render(self, form):
        return self.render(
            "admin/security.html",
            form=form,
            employees=employees.active(db.session),
            role_labels={key: label for key, (label, _perms) in ROLES.items()},
            settings=self._settings(),
        )

    def _settings(self):
        from flask import current_app

        c = current_app.config
        return {
            "idle": c["SESSION_IDLE_MINUTES"],
            "absolute": c["SESSION_MAX_HOURS"],
            "remember": c["REMEMBER_DAYS"],
            "failures": c["LOGIN_MAX_FAILURES"],
            "window": c["LOGIN_WINDOW_MINUTES"],
            "lockout": c["LOGIN_LOCKOUT_MINUTES"],
            "redis": bool(c.get("REDIS_URL")),
        }

    @expose("/policy", methods=("POST",))
    @require("security.manage")
    def save(self):
        """Save who must use two-factor login; their sessions are held at enrolment from the next request."""
        form = PolicyForm(request.form)
        if not form.validate():
            flash(_("Choose roles from the list."), "error")
            return self._render(form), 400
        must_enrol = two_factor.save_policy(
            db.session, everyone=form.everyone.data, roles=form.roles.data or [], actor=current_user
        )
        login_sessions.require_enrolment(db.session, must_enrol, now=utcnow())
        db.session.commit()
        flash(_("The two-factor requirement was saved."), "success")
        return redirect(url_for(".index"))
