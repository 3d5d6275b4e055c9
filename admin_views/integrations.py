"""Administration – Integrationer: the API keys integrations call /api/v1/ with."""

from datetime import datetime, time, timedelta

from flask import abort, flash, redirect, url_for
from flask_admin import expose
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import DateField, SelectField, StringField
from wtforms.validators import DataRequired, Length, Optional

from admin_views.base import SecurePage, require
from extensions import db
from models import ApiKey, Employee, utcnow
from services import api_keys
from services.validation import InvalidValue


def _active_employees():
    rows = db.session.execute(db.select(Employee.id, Employee.name).where(Employee.active).order_by(Employee.name))
    return [(str(i), name) for i, name in rows]


def end_of_day(day) -> datetime:
    """A key valid "through" a date expires when the next day begins (UTC)."""
    return datetime.combine(day + timedelta(days=1), time.min)


def valid_through(key: ApiKey):
    """The last day a key with an expiry is valid (the form's "valid through" date)."""
    return None if key.expires_at is None else (key.expires_at - timedelta(microseconds=1)).date()


class ApiKeyForm(FlaskForm):
    name = StringField(
        _l("Name (the integration that uses the key)"),
        validators=[DataRequired(message=_l("Give the key a name (the integration that uses it).")), Length(max=100)],
    )
    employee_id = SelectField(_l("Acts as employee"), choices=_active_employees, validate_choice=True)
    expires_on = DateField(_l("Valid through (empty: until revoked)"), validators=[Optional()])


class IntegrationsView(SecurePage):
    """API keys: create (the key is shown once), list, revoke."""

    def _render(self, form, new_key=None, status=200):
        return (
            self.render(
                "admin/integrations.html",
                form=form,
                keys=api_keys.listing(db.session),
                new_key=new_key,
                now=utcnow(),
                usable=api_keys.is_usable,
                valid_through=valid_through,
            ),
            status,
        )

    @expose("/")
    @require("integration.manage")
    def index(self):
        """The keys, and the form for a new one."""
        return self._render(ApiKeyForm())

    @expose("/keys", methods=("POST",))
    @require("integration.manage")
    def create_key(self):
        """Create a key and show it this once (it is not stored, only its hash)."""
        form = ApiKeyForm()
        if not form.validate():
            return self._render(form, status=400)
        employee = db.session.get(Employee, int(form.employee_id.data))
        expires_at = end_of_day(form.expires_on.data) if form.expires_on.data else None
        try:
            new = api_keys.create(
                db.session, current_user, employee=employee, name=form.name.data, expires_at=expires_at
            )
        except InvalidValue as exc:
            db.session.rollback()
            form.name.errors = [*form.name.errors, str(exc)]
            return self._render(form, status=400)
        db.session.commit()
        return self._render(ApiKeyForm(formdata=None), new_key=new)

    @expose("/keys/<int:id>/revoke", methods=("POST",))
    @require("integration.manage")
    def revoke_key(self, id):
        """Revoke a key: calls with it are refused from now on."""
        record = db.session.get(ApiKey, id) or abort(404)
        api_keys.revoke(db.session, current_user, record)
        db.session.commit()
        flash(_("The API key %(name)s was revoked.", name=record.name), "success")
        return redirect(url_for(".index"))
