"""Administration – Integrationer: the API keys integrations call /api/v1/ with, and the webhooks
that tell other systems what changed."""

from flask import abort, flash, redirect, request, url_for
from flask_admin import expose
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import BooleanField, DateField, SelectField, SelectMultipleField, StringField
from wtforms.validators import DataRequired, Length, Optional, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget

from admin_views.base import SecurePage, require
from extensions import db
from models import ApiKey, Employee, WebhookDelivery, WebhookSubscription, utcnow
from services import api_keys, employees, webhooks
from services.validation import InvalidValue, is_id


def _active_employees():
    return [(str(e.id), e.name) for e in employees.active(db.session)]


class ActiveEmployeeField(SelectField):
    """The employee an API key acts as, from the active ones: an id naming nobody is refused as a picker refuses
    it, an inactive employee with services.employees' reason (WTForms said "Not a valid choice" to both)."""

    def pre_validate(self, form):
        if not self.data:
            raise ValidationError(_("Choose the employee the key acts as."))
        person = db.session.get(Employee, int(self.data)) if is_id(self.data) else None
        if person is None:
            raise ValidationError(_("No record with id %(id)s.", id=str(self.data or "")[:20]))
        try:
            employees.check_chosen(person)
        except InvalidValue as exc:
            raise ValidationError(str(exc)) from exc


class ApiKeyForm(FlaskForm):
    name = StringField(
        _l("Name (the integration that uses the key)"),
        validators=[DataRequired(message=_l("Give the key a name (the integration that uses it).")), Length(max=100)],
    )
    employee_id = ActiveEmployeeField(_l("Acts as employee"), choices=_active_employees)
    expires_on = DateField(_l("Valid through (empty: until revoked)"), validators=[Optional()])


def _event_choices():
    return [(name, str(label)) for name, label in webhooks.EVENTS.items()]


class WebhookForm(FlaskForm):
    name = StringField(
        _l("Name (the system that receives the events)"),
        validators=[DataRequired(message=_l("Give the subscription a name.")), Length(max=100)],
    )
    url = StringField(
        _l("URL (https://…)"),
        validators=[DataRequired(message=_l("Give the full address, starting with https:// (or http://)."))],
    )
    events = SelectMultipleField(
        _l("Events"),
        choices=_event_choices,
        widget=ListWidget(prefix_label=False),
        option_widget=CheckboxInput(),
        validators=[DataRequired(message=_l("Choose at least one event."))],
    )
    allow_internal = BooleanField(_l("Allow an internal address (loopback, private network): only for systems you run"))


class IntegrationsView(SecurePage):
    """API keys: create (the key is shown once), list, revoke. Webhooks: subscribe, the delivery
    log, "Skicka igen"."""

    def _render(self, form, new_key=None, status=200, webhook_form=None):
        return (
            self.render(
                "admin/integrations.html",
                form=form,
                webhook_form=webhook_form or WebhookForm(formdata=None),
                subscriptions=list(
                    db.session.scalars(db.select(WebhookSubscription).order_by(WebhookSubscription.name))
                ),
                event_labels=webhooks.EVENTS,
                keys=api_keys.listing(db.session),
                new_key=new_key,
                now=utcnow(),
                usable=api_keys.is_usable,
                valid_through=api_keys.valid_through,
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
        expires_at = api_keys.expiry_of(form.expires_on.data) if form.expires_on.data else None
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

    # --- webhooks ---------------------------------------------------------------------------------

    @expose("/webhooks", methods=("POST",))
    @require("integration.manage")
    def create_webhook(self):
        """Subscribe a URL to events (internal addresses refused unless allowed)."""
        form = WebhookForm()
        if not form.validate():
            return self._render(ApiKeyForm(formdata=None), status=400, webhook_form=form)
        try:
            subscription = webhooks.subscribe(
                db.session,
                current_user,
                name=form.name.data,
                url=form.url.data,
                events=form.events.data,
                allow_internal=form.allow_internal.data,
            )
        except InvalidValue as exc:
            db.session.rollback()
            form.url.errors = [*form.url.errors, str(exc)]
            return self._render(ApiKeyForm(formdata=None), status=400, webhook_form=form)
        db.session.commit()
        flash(_("The webhook %(name)s was saved.", name=subscription.name), "success")
        return redirect(url_for(".webhook", id=subscription.id))

    @expose("/webhooks/<int:id>")
    @require("integration.manage")
    def webhook(self, id):
        """A subscription: its secret, its events and its delivery log."""
        subscription = db.session.get(WebhookSubscription, id) or abort(404)
        return self.render(
            "admin/webhook.html",
            subscription=subscription,
            deliveries=webhooks.log(db.session, subscription),
            event_labels=webhooks.EVENTS,
            status_labels=WebhookDelivery.STATUSES,
        )

    @expose("/webhooks/<int:id>/active", methods=("POST",))
    @require("integration.manage")
    def webhook_active(self, id):
        """Switch a subscription on or off."""
        subscription = db.session.get(WebhookSubscription, id) or abort(404)
        webhooks.set_active(db.session, current_user, subscription, request.form.get("active") == "1")
        db.session.commit()
        return redirect(url_for(".webhook", id=id))

    @expose("/webhooks/<int:id>/delete", methods=("POST",))
    @require("integration.manage")
    def webhook_delete(self, id):
        """Delete a subscription and its delivery log."""
        subscription = db.session.get(WebhookSubscription, id) or abort(404)
        name = subscription.name
        webhooks.delete(db.session, current_user, subscription)
        db.session.commit()
        flash(_("The webhook %(name)s was deleted.", name=name), "success")
        return redirect(url_for(".index"))

    @expose("/deliveries/<int:id>/resend", methods=("POST",))
    @require("integration.manage")
    def resend(self, id):
        """ "Skicka igen": send a delivery once more."""
        delivery = db.session.get(WebhookDelivery, id) or abort(404)
        webhooks.send_again(db.session, current_user, delivery)
        db.session.commit()
        webhooks.queue([delivery.id])
        flash(_("The delivery will be sent again."), "success")
        return redirect(url_for(".webhook", id=delivery.subscription_id))
