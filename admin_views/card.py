"""Kundkortet: the customer card of a company or a contact, and its tabs.

The card page renders the header and the first tab the employee sees; every
other tab is fetched when opened (`card_tab`), one page at a time, so the
first view costs a fixed number of queries. Which tabs, and in which order,
comes from services.layout; each tab also needs its `tab.<name>` permission
on the server. Custom tabs (Egna fält, services.custom_fields) are tabs like
the others: "custom<id>", shown with tab_custom.html, saved by `save_custom_tab`.
"""

from functools import partial

from flask import abort, current_app, flash, redirect, request, send_file, url_for
from flask_admin import expose
from flask_admin.form import BaseForm
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from markupsafe import Markup
from sqlalchemy.orm.exc import StaleDataError
from wtforms import (
    BooleanField,
    IntegerField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from admin_views.base import CustomerPartsMixin, LocalDateTimeField, SwedishDecimalField, VersionField, can, require
from admin_views.invoice_card import InvoicingCardMixin
from admin_views.labels import FIELD_LABELS
from admin_views.listing import Pager, read_page
from admin_views.messaging import MessagingMixin
from extensions import db
from models import Activity, Attachment, Company, Project, utcnow
from services import activities, card, custom_fields, email_lock, fields, files, layout, storage
from services.visibility import Part, permission

INVOICE_LANGUAGES = fields.INVOICE_LANGUAGES
CURRENCIES = [(c, c) for c in fields.CURRENCIES]


class InvoiceSettingsForm(BaseForm):
    """Inställningar: the invoice defaults of a customer."""

    invoice_language = SelectField(FIELD_LABELS["invoice_language"], choices=INVOICE_LANGUAGES)
    discount_percent = SwedishDecimalField(
        FIELD_LABELS["discount_percent"],
        places=2,
        validators=[
            InputRequired(_l("Enter a discount (0 if none).")),
            NumberRange(0, 100, _l("The discount must be between 0 and 100 percent.")),
        ],
    )
    payment_terms_days = IntegerField(
        FIELD_LABELS["payment_terms_days"],
        validators=[
            InputRequired(_l("Enter the payment terms in days.")),
            NumberRange(0, 365, _l("Payment terms must be between 0 and 365 days.")),
        ],
    )
    currency = SelectField(FIELD_LABELS["currency"], choices=CURRENCIES)
    version = VersionField()


class CompanySettingsForm(InvoiceSettingsForm):
    """A company's Inställningar also hold "Visa som leverantör"."""

    is_supplier = BooleanField(FIELD_LABELS["is_supplier"])


class ActivityForm(BaseForm):
    kind = SelectField(_l("Type"), choices=[(k, Activity.KINDS[k]) for k in Activity.PLANNED_KINDS])
    subject = StringField(
        _l("Subject"), validators=[DataRequired(_l("Write what the activity is about.")), Length(max=200)]
    )
    due_at = LocalDateTimeField(_l("Date and time"), validators=[Optional()])
    description = TextAreaField(_l("Description"), validators=[Optional()])


class CustomerCardMixin(CustomerPartsMixin, MessagingMixin, InvoicingCardMixin):
    """The card endpoints shared by the company and the contact views (e-mail and SMS: MessagingMixin;
    orders, invoices and the Fakturarapport: InvoicingCardMixin; forms and exports without the parts
    the employee may not see: CustomerPartsMixin)."""

    card_header_template = ""
    settings_form_class = InvoiceSettingsForm

    # --- the page and its tabs ---------------------------------------------------

    def visible_tabs(self):
        return layout.visible_items(current_user, self.tab_group, self.card_tabs)

    @property
    def tab_group(self) -> str:
        return "company_tabs" if self.model is Company else "contact_tabs"

    @property
    def card_tabs(self):
        return custom_fields.card_tab_items(db.session, self.tab_group)

    @property
    def owner_key(self) -> str:
        return "company_id" if self.model is Company else "contact_id"

    @expose("/card/<int:id>")
    @require("{area}.view")
    def card(self, id):
        return self.card_with_tab(self.live_or_404(id), request.args.get("tab"))

    @expose("/card/<int:id>/tab/<tab>")
    @require("{area}.view")
    def card_tab(self, id, tab):
        self.tab_or_abort(tab)
        return self.render_tab(self.live_or_404(id), tab)

    def tab_or_abort(self, tab: str):
        """The tab, if it exists (404) and the employee may open it (403)."""
        item = next((t for t in self.card_tabs if t.key == tab), None)
        if item is None:
            abort(404)
        if not item.permitted(current_user):
            abort(403)
        return item

    def render_tab(self, customer, tab: str, **extra) -> str:
        item = self.tab_or_abort(tab)
        if tab.startswith(custom_fields.TAB_PREFIX):
            context, template = self.tab_custom(customer, tab, **extra), "admin/card/tab_custom.html"
        else:
            context, template = getattr(self, f"tab_{tab}")(customer, **extra), f"admin/card/tab_{tab}.html"
        return Markup(self.render(template, customer=customer, tab=item, **context))

    def tab_page(self, customer, tab: str, stmt, order, prefix: str = "") -> Pager:
        """One page of a tab's list, read by key from `?after=`/`?before=`/`?last=` (with `prefix`
        where a tab has two lists), and the links to its neighbours, which reload only the tab."""
        page = read_page(order, stmt, request.args, per_page=card.PAGE_SIZE, prefix=prefix)
        mine = {prefix + key for key in ("after", "before", "last")}
        others = {k: v for k, v in request.args.items() if k not in mine and k != "tab"}
        return Pager(page, partial(url_for, ".card_tab", id=customer.id, tab=tab, **others), prefix=prefix)

    # --- tab contents ---------------------------------------------------------------

    def tab_overview(self, customer):
        return card.overview(db.session, current_user, customer)

    def tab_contacts(self, customer):
        pager = self.tab_page(customer, "contacts", card.contacts(customer), card.CONTACTS_ORDER)
        return {"page": pager.page, "pager": pager}

    def tab_companies(self, customer):
        pager = self.tab_page(customer, "companies", card.companies(customer), card.COMPANIES_ORDER)
        return {"page": pager.page, "pager": pager}

    def tab_projects(self, customer):
        pager = self.tab_page(customer, "projects", card.projects(customer), card.PROJECTS_ORDER)
        return {"page": pager.page, "pager": pager, "statuses": Project.STATUSES}

    def tab_activities(self, customer, form=None):
        pager = self.tab_page(customer, "activities", card.activities(customer), card.ACTIVITIES_ORDER)
        return {
            "now": utcnow(),
            "page": pager.page,
            "pager": pager,
            "form": form or ActivityForm(),
            "kinds": Activity.KINDS,
        }

    def tab_email(self, customer):
        pager = self.tab_page(customer, "email", card.emails(current_user, customer), card.EMAILS_ORDER)
        return {
            "page": pager.page,
            "pager": pager,
            "locked": getattr(customer, "email_locked", False),
            "hidden_by_lock": email_lock.hides_from(db.session, current_user, customer),
        }

    def tab_files(self, customer):
        pager = self.tab_page(customer, "files", card.files(customer), card.FILES_ORDER)
        return {
            "page": pager.page,
            "pager": pager,
            "allowed": ", ".join(sorted(files.ALLOWED_EXTENSIONS)),
            "max_mb": self.max_upload_bytes() // (1024 * 1024),
        }

    def tab_opportunities(self, customer):
        from services import sales

        pager = self.tab_page(customer, "opportunities", sales.for_customer(customer), sales.CUSTOMER_ORDER)
        return {"page": pager.page, "pager": pager, "owner_key": self.owner_key}

    def tab_settings(self, customer, form=None):
        return {"form": form or self.settings_form_class(obj=customer)}

    def tab_history(self, customer):
        pager = self.tab_page(customer, "history", card.history(customer), card.HISTORY_ORDER)
        return {"page": pager.page, "pager": pager}

    def tab_custom(self, customer, key, posted=None, errors=None):
        """A custom tab: its active fields with the stored values, or what was posted and its errors."""
        custom_tab = custom_fields.card_tab(db.session, custom_fields.kind_of(customer), key) or abort(404)
        fields = custom_fields.active_fields_of(custom_tab)
        stored = custom_fields.values_of(db.session, customer, fields)
        values = {f.id: custom_fields.form_value(f, stored.get(f.id)) for f in fields}
        if posted is not None:
            values = {f.id: posted.get(f"field-{f.id}", "") for f in fields}
        return {
            "custom_tab": custom_tab,
            "fields": fields,
            "stored": stored,
            "values": values,
            "errors": errors or {},
            "version": posted.get("version") if posted else customer.version,
            "editable": can(*self.permission_for("save_custom_tab")),
            "yes": custom_fields.YES,
            "no": custom_fields.NO,
        }

    # --- actions from the card ---------------------------------------------------------

    def back_to(self, customer, tab: str):
        return redirect(url_for(".card", id=customer.id) + f"#{tab}")

    @expose("/card/<int:id>/settings", methods=("POST",))
    @require("{area}.edit", permission(Part.SETTINGS))
    def card_settings(self, id):
        """Save the Inställningar tab (for a company also "Visa som leverantör")."""
        customer = self.live_or_404(id)
        form = self.settings_form_class(request.form)
        if not form.validate():
            flash(_("The settings were not saved: correct the marked fields."), "error")
            return self.card_with_tab(customer, "settings", form=form)
        if str(form.version.data) != str(customer.version):
            flash(self.stale_message(), "error")
            return self.card_with_tab(customer, "settings", form=form)
        form.populate_obj(customer)
        db.session.commit()
        flash(_("The settings were saved."), "success")
        return self.back_to(customer, "settings")

    @expose("/card/<int:id>/custom/<int:tab_id>", methods=("POST",))
    @require("{area}.edit", permission(Part.CUSTOM))
    def save_custom_tab(self, id, tab_id):
        """Save the values of a custom tab: all or nothing, against the version the form was opened at."""
        customer = self.live_or_404(id)
        key = f"{custom_fields.TAB_PREFIX}{tab_id}"
        custom_tab = custom_fields.card_tab(db.session, custom_fields.kind_of(customer), key) or abort(404)
        if request.form.get("version", "") != str(customer.version):
            flash(self.stale_message(), "error")
            return self.card_with_tab(customer, key, posted=request.form)
        try:
            changes = custom_fields.save_tab(db.session, customer, custom_tab, request.form)
            db.session.commit()
        except custom_fields.InvalidValues as exc:
            db.session.rollback()
            flash(str(exc), "error")
            return self.card_with_tab(customer, key, posted=request.form, errors=exc.errors)
        except StaleDataError:
            db.session.rollback()
            flash(self.stale_message(), "error")
            return self.card_with_tab(self.live_or_404(id), key, posted=request.form)
        flash(_("%(tab)s was saved.", tab=custom_tab.name) if changes else _("Nothing was changed."), "success")
        return self.back_to(customer, key)

    def card_with_tab(self, customer, tab: str | None, **extra):
        """The card opened on `tab` (else the employee's first), e.g. with a form's input and errors."""
        tabs = self.visible_tabs()
        keys = [t.key for t in tabs]
        if tab not in keys and not extra:
            tab = keys[0] if keys else None
        return self.render(
            "admin/card/card.html",
            customer=customer,
            tabs=tabs,
            first_tab=tab,
            first_tab_html=self.render_tab(customer, tab, **extra) if tab else "",
            header_template=self.card_header_template,
        )

    @expose("/card/<int:id>/activities", methods=("POST",))
    @require("{area}.view", "activity.edit", permission(Part.ACTIVITIES))
    def add_activity(self, id):
        customer = self.live_or_404(id)
        form = ActivityForm(request.form)
        if not form.validate():
            flash(_("The activity was not saved: correct the marked fields."), "error")
            return self.card_with_tab(customer, "activities", form=form)
        activities.create(
            db.session,
            current_user,
            kind=form.kind.data,
            subject=form.subject.data,
            # typed in the employee's time zone; stored, like every time, in UTC
            due_at=form.due_at.data,
            description=form.description.data or None,
            **{self.owner_key: customer.id},
        )
        db.session.commit()
        flash(_("The activity was saved."), "success")
        return self.back_to(customer, "activities")

    @expose("/card/<int:id>/activities/<int:activity_id>/done", methods=("POST",))
    @require("{area}.view", "activity.edit", permission(Part.ACTIVITIES))
    def activity_done(self, id, activity_id):
        customer = self.live_or_404(id)
        activity = db.session.scalar(
            db.select(Activity).where(Activity.id == activity_id, getattr(Activity, self.owner_key) == customer.id)
        ) or abort(404)
        activities.set_done(activity, request.form.get("done") != "0")
        db.session.commit()
        return self.back_to(customer, "activities")

    def max_upload_bytes(self) -> int:
        return current_app.config["MAX_UPLOAD_BYTES"]

    @expose("/card/<int:id>/files", methods=("POST",))
    @require("{area}.view", permission(Part.FILES), "file.upload")
    def upload_file(self, id):
        customer = self.live_or_404(id)
        upload = request.files.get("file")
        try:
            attachment = files.upload(
                db.session,
                storage.from_config(current_app.config),
                actor=current_user,
                stream=upload.stream if upload else None,
                filename=upload.filename if upload else None,
                max_bytes=self.max_upload_bytes(),
                **{self.owner_key: customer.id},
            )
            db.session.commit()
        except files.RejectedFile as exc:
            db.session.rollback()
            flash(str(exc), "error")
        else:
            flash(_("%(name)s was uploaded.", name=attachment.filename), "success")
        return self.back_to(customer, "files")

    def _attachment(self, customer, file_id) -> Attachment:
        return db.session.scalar(
            db.select(Attachment).where(
                Attachment.id == file_id,
                getattr(Attachment, self.owner_key) == customer.id,
                Attachment.deleted_at.is_(None),
            )
        ) or abort(404)

    @expose("/card/<int:id>/files/<int:file_id>")
    @require("{area}.view", permission(Part.FILES))
    def download_file(self, id, file_id):
        attachment = self._attachment(self.live_or_404(id), file_id)
        stream = storage.from_config(current_app.config).open(attachment.storage_key)
        return send_file(
            stream, mimetype=attachment.content_type, as_attachment=True, download_name=attachment.filename, max_age=0
        )

    @expose("/card/<int:id>/files/<int:file_id>/delete", methods=("POST",))
    @require("{area}.view", permission(Part.FILES), "file.delete")
    def delete_file(self, id, file_id):
        customer = self.live_or_404(id)
        attachment = self._attachment(customer, file_id)
        files.delete(db.session, current_user, attachment)
        db.session.commit()
        flash(_("%(name)s was moved to the trash.", name=attachment.filename), "success")
        return self.back_to(customer, "files")

    @expose("/card/<int:id>/email/<int:message_id>")
    @require("{area}.view", permission(Part.EMAIL))
    def email_message(self, id, message_id):
        customer = self.live_or_404(id)
        message = email_lock.message_for(db.session, current_user, message_id, **{self.owner_key: customer.id})
        if message is None:
            abort(404)
        return self.render("admin/card/email_message.html", customer=customer, message=message)
