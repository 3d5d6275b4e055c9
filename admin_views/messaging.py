""" "Skapa e-post" and "Skicka sms" from the customer card (FAQ): to the customer, or
to one of a company's contacts, through services.mail and services.sms."""

from flask import abort, current_app, flash, redirect, request, url_for
from flask_admin import expose
from flask_admin.form import BaseForm
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from wtforms import StringField, TextAreaField

from admin_views import params
from admin_views.base import require
from extensions import db
from models import CompanyContact, Contact
from services import mail, privacy, sms
from services.validation import InvalidValue


class EmailForm(BaseForm):
    to = StringField(_l("To"))
    cc = StringField(_l("Copy (cc)"))
    subject = StringField(_l("Subject"))
    body = TextAreaField(_l("Message"), render_kw={"rows": 12})


class SmsForm(BaseForm):
    to = StringField(_l("Mobile number"))
    message = TextAreaField(_l("Message"), render_kw={"rows": 5})


class MessagingMixin:
    """Card endpoints for e-mail and SMS; `?contact=<id>` writes to a contact of the company."""

    def recipient(self, customer):
        """The contact the message is for (one linked to this company), else the customer itself; never an
        erased person (privacy.ErasedRecord, before anything is written or sent: the card says why)."""
        contact_id = params.id_param("contact", request.values)
        if isinstance(customer, Contact) or not contact_id:
            person = customer
        else:
            linked = db.session.scalar(
                db.select(CompanyContact).where(
                    CompanyContact.company_id == customer.id, CompanyContact.contact_id == contact_id
                )
            )
            if linked is None or linked.contact.is_deleted:
                abort(404)
            person = linked.contact
        if isinstance(person, Contact):
            privacy.refuse_erased(db.session, "contact", [person.id])
        return person

    def _render_message_page(self, template, customer, person, form, error=None, status=200, unavailable=None):
        """The page to write the message on; `unavailable`: why it cannot be sent, said before writing."""
        return self.render(
            template,
            customer=customer,
            person=person,
            form=form,
            error=error,
            unavailable=unavailable,
            back=url_for(".index", id=customer.id),
        ), status

    @expose("/<int:id>/email", methods=("GET", "POST"))
    @require("{area}.view", "email.send")
    def send_email(self, id):
        """Skapa e-post: written here, sent through the SMTP server, kept on the card's E-post tab."""
        customer = self.live_or_404(id)
        person = self.recipient(customer)
        form = EmailForm(request.form, to=person.email)
        settings = mail.SmtpSettings.from_config(current_app.config)
        if request.method == "GET":
            unavailable = mail.not_set_up_message(current_user) if settings is None else None
            return self._render_message_page(
                "admin/card/send_email.html", customer, person, form, unavailable=unavailable
            )
        try:
            message = mail.send(
                db.session,
                settings,
                current_user,
                customer,
                contact=person if person is not customer else None,
                to=form.to.data,
                cc=form.cc.data,
                subject=form.subject.data,
                body=form.body.data,
            )
        except (InvalidValue, mail.SendFailed) as exc:
            db.session.rollback()
            status = 400 if isinstance(exc, InvalidValue) else 502
            return self._render_message_page("admin/card/send_email.html", customer, person, form, str(exc), status)
        db.session.commit()
        flash(_("The e-mail was sent to %(to)s.", to=message.recipients), "success")
        return redirect(url_for(".index", id=customer.id, tab="email"))

    @expose("/<int:id>/sms", methods=("GET", "POST"))
    @require("{area}.view", "sms.send")
    def send_sms(self, id):
        """Skicka sms: through the SMS service, kept as an "SMS" activity of the customer."""
        customer = self.live_or_404(id)
        person = self.recipient(customer)
        form = SmsForm(request.form, to=getattr(person, "mobile", None) or person.phone)
        gateway = sms.Gateway.from_config(current_app.config)
        if request.method == "GET":
            unavailable = sms.not_set_up_message(current_user) if gateway is None else None
            return self._render_message_page(
                "admin/card/send_sms.html", customer, person, form, unavailable=unavailable
            )
        try:
            sms.send(
                db.session,
                gateway,
                current_user,
                customer,
                contact=person if person is not customer else None,
                to=form.to.data,
                message=form.message.data,
            )
        except (InvalidValue, sms.SendFailed) as exc:
            db.session.rollback()
            status = 400 if isinstance(exc, InvalidValue) else 502
            return self._render_message_page("admin/card/send_sms.html", customer, person, form, str(exc), status)
        db.session.commit()
        flash(_("The SMS was sent."), "success")
        return redirect(url_for(".index", id=customer.id, tab="activities"))
