"""Kundkortet: the customer card of a company or a contact, and its tabs.

Each card is a view of its own beside the list it is opened from (`CustomerCardView(list_view)`):
its URLs are the list's followed by /card/ (/admin/company/card/<id>, /admin/supplier/card/<id>,
/admin/contact/card/<id> …) and its endpoints `<list>_card.*`, so a list view carries only its
list's endpoints. `CompanyCardView` adds the company's own (e-mail lock, contacts, the company
register), `ContactCardView` the contact's ("Ge kundnummer").

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
from flask_babel import ngettext
from flask_login import current_user
from markupsafe import Markup
from sqlalchemy import select
from sqlalchemy.orm.exc import StaleDataError
from wtforms import (
    BooleanField,
    IntegerField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from admin_views.base import (
    LocalDateTimeField,
    SecurePage,
    SwedishDecimalField,
    VersionField,
    can,
    check_flask_admin_parameters,
    live_or_404,
    payment_terms,
    pick,
    read_only_reason,
    require,
    stale_message,
)
from admin_views.invoice_card import InvoicingCardMixin
from admin_views.labels import FIELD_LABELS
from admin_views.listing import Pager, read_page
from admin_views.messaging import MessagingMixin
from admin_views.registry import sources as registry_sources
from extensions import db
from models import COMPANY_STATUS_LABELS, Activity, Attachment, Contact, Project, utcnow
from services import (
    activities,
    card,
    custom_fields,
    email_lock,
    fields,
    files,
    layout,
    numbering,
    register,
    registry,
    search,
    storage,
)
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
            payment_terms,
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


def create_activity(form: ActivityForm, **links):
    """The activity the employee filled `form` in for, linked to `links` (services.activities.create)."""
    return activities.create(
        db.session,
        current_user,
        kind=form.kind.data,
        subject=form.subject.data,
        # typed in the employee's time zone; stored, like every time, in UTC
        due_at=form.due_at.data,
        description=form.description.data or None,
        **links,
    )


class CustomerCardView(MessagingMixin, InvoicingCardMixin, SecurePage):
    """The card of the customers `list_view` shows, with the list's model, permission area and name
    (e-mail and SMS: MessagingMixin; orders, invoices and the Fakturarapport: InvoicingCardMixin).
    Added to the admin right after its list (app.register_admin), it is in no menu of its own."""

    card_header_template = ""
    settings_form_class = InvoiceSettingsForm
    #: The customer-card tab group (services.layout) and the owner column of a card's rows.
    tab_group = ""
    owner_key = ""

    def __init__(self, list_view):
        if list_view.url is None:
            raise ValueError(f"add {list_view.endpoint} to the admin before its card: the card's URL is the list's")
        self.list_view = list_view
        self.model = list_view.model
        self.permission_area = list_view.permission_area
        super().__init__(name=list_view.name, endpoint=f"{list_view.endpoint}_card", url=f"{list_view.url}/card")

    @property
    def list_endpoint(self) -> str:
        """The endpoint of the card's list ("company", "supplier" …): its edit form, for templates."""
        return self.list_view.endpoint

    def is_visible(self) -> bool:
        return False

    def _handle_view(self, name, **kwargs):
        refused = super()._handle_view(name, **kwargs)
        if refused is None:
            check_flask_admin_parameters()  # as on the list the card belongs to
        return refused

    def live_or_404(self, id: int):
        return live_or_404(self.model, id)

    stale_message = staticmethod(stale_message)

    # --- the page and its tabs ---------------------------------------------------

    def visible_tabs(self):
        return layout.visible_items(current_user, self.tab_group, self.card_tabs)

    @property
    def card_tabs(self):
        return custom_fields.card_tab_items(db.session, self.tab_group)

    @expose("/")
    @require("{area}.view")
    def to_list(self):
        """/card/ without a customer: the list the cards are opened from."""
        return redirect(url_for(f"{self.list_endpoint}.index_view"))

    @expose("/<int:id>")
    @require("{area}.view")
    def index(self, id):
        """The card, opened on ?tab= (else the employee's first tab)."""
        return self.card_with_tab(self.live_or_404(id), request.args.get("tab"))

    @expose("/<int:id>/tab/<tab>")
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
            "editable": can(*self.permission_for("save_custom_tab")) and not read_only_reason(customer),
            "yes": custom_fields.YES,
            "no": custom_fields.NO,
        }

    # --- actions from the card ---------------------------------------------------------

    def back_to(self, customer, tab: str):
        return redirect(url_for(".index", id=customer.id) + f"#{tab}")

    @expose("/<int:id>/settings", methods=("POST",))
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

    @expose("/<int:id>/custom/<int:tab_id>", methods=("POST",))
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

    @expose("/<int:id>/activities", methods=("POST",))
    @require("{area}.view", "activity.edit", permission(Part.ACTIVITIES))
    def add_activity(self, id):
        customer = self.live_or_404(id)
        form = ActivityForm(request.form)
        if not form.validate():
            flash(_("The activity was not saved: correct the marked fields."), "error")
            return self.card_with_tab(customer, "activities", form=form)
        create_activity(form, **{self.owner_key: customer.id})
        db.session.commit()
        flash(_("The activity was saved."), "success")
        return self.back_to(customer, "activities")

    @expose("/<int:id>/activities/<int:activity_id>/done", methods=("POST",))
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

    @expose("/<int:id>/files", methods=("POST",))
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

    @expose("/<int:id>/files/<int:file_id>")
    @require("{area}.view", permission(Part.FILES))
    def download_file(self, id, file_id):
        attachment = self._attachment(self.live_or_404(id), file_id)
        stream = storage.from_config(current_app.config).open(attachment.storage_key)
        return send_file(
            stream, mimetype=attachment.content_type, as_attachment=True, download_name=attachment.filename, max_age=0
        )

    @expose("/<int:id>/files/<int:file_id>/delete", methods=("POST",))
    @require("{area}.view", permission(Part.FILES), "file.delete")
    def delete_file(self, id, file_id):
        customer = self.live_or_404(id)
        attachment = self._attachment(customer, file_id)
        files.delete(db.session, current_user, attachment)
        db.session.commit()
        flash(_("%(name)s was moved to the trash.", name=attachment.filename), "success")
        return self.back_to(customer, "files")

    @expose("/<int:id>/email/<int:message_id>")
    @require("{area}.view", permission(Part.EMAIL))
    def email_message(self, id, message_id):
        customer = self.live_or_404(id)
        message = email_lock.message_for(db.session, current_user, message_id, **{self.owner_key: customer.id})
        if message is None:
            abort(404)
        return self.render("admin/card/email_message.html", customer=customer, message=message)


class CompanyCardView(CustomerCardView):
    """The card of a company (Företag and Leverantörer): also "Spärra tillgång" to its e-mail, its
    contacts linked and unlinked, and "Uppdatera från företagsregistret"."""

    card_header_template = "admin/card/header_company.html"
    settings_form_class = CompanySettingsForm
    tab_group = "company_tabs"
    owner_key = "company_id"

    def render(self, template, **kwargs):
        kwargs.setdefault("status_labels", COMPANY_STATUS_LABELS)
        return super().render(template, **kwargs)

    @expose("/<int:id>/email-lock", methods=("POST",))
    @require("company.view", permission(Part.EMAIL), "email.lock")
    def email_lock(self, id):
        """ "Spärra tillgång" / unlock the E-post tab for everyone but administrators."""
        company = self.live_or_404(id)
        locked = request.form.get("locked") == "1"
        email_lock.set_locked(db.session, current_user, company, locked)
        db.session.commit()
        flash(
            _("Access to the e-mail of %(name)s is now locked.", name=company.name)
            if locked
            else _("Access to the e-mail of %(name)s is unlocked.", name=company.name),
            "success",
        )
        return self.back_to(company, "email")

    # --- "Uppdatera från företagsregistret" ---------------------------------------------

    def _registry_entry(self, company):
        if not company.org_number or company.country != "SE":
            return None
        return registry.fetch(db.session, company.org_number, sources=registry_sources())

    @expose("/<int:id>/registry")
    @require("company.edit", "registry.lookup")
    def registry_compare(self, id):
        """The customer's stored data beside the register's, each difference to accept or not (reads only)."""
        company = self.live_or_404(id)
        entry = self._registry_entry(company)
        return self.render(
            "admin/registry/refresh.html",
            customer=company,
            entry=entry,
            differences=registry.differences(company, entry) if entry else [],
            current=registry.active_load(db.session),
        )

    @expose("/<int:id>/registry", methods=("POST",))
    @require("company.edit", "registry.lookup")
    def registry_refresh(self, id):
        """Take the register's value for each ticked field."""
        company = self.live_or_404(id)
        if request.form.get("version") != str(company.version):
            flash(self.stale_message(), "error")
            return redirect(url_for(".registry_compare", id=id))
        entry = self._registry_entry(company)
        if entry is None:
            flash(_("The company register has no company with this organisation number."), "error")
            return redirect(url_for(".registry_compare", id=id))
        changed = registry.accept(company, entry, request.form.getlist("field"))
        db.session.commit()
        if changed:
            flash(
                _(
                    "Updated from the company register: %(fields)s.",
                    fields=", ".join(str(fields.label(f)) for f in changed),
                ),
                "success",
            )
        else:
            flash(_("Nothing was changed."), "info")
        return redirect(url_for(".index", id=id))

    @expose("/<int:id>/link-contacts", methods=("POST",))
    @require("company.edit")
    def link_contacts(self, id):
        company = self.live_or_404(id)
        chosen = pick(
            request.form.getlist("contact_id"),
            lambda ids: {
                c.id: c for c in db.session.scalars(select(Contact).where(Contact.id.in_(ids), search.live(Contact)))
            },
        )
        if chosen.refusal is not None:  # a contact id naming no live contact: nothing is linked
            flash(chosen.refusal, "error")
            return self.back_to(company, "contacts")
        added = register.link_contacts(db.session, company, chosen.rows, request.form.get("role") or None)
        db.session.commit()
        if added:
            flash(
                ngettext(
                    "%(num)s contact was linked to %(name)s.",
                    "%(num)s contacts were linked to %(name)s.",
                    len(added),
                    name=company.name,
                ),
                "success",
            )
        else:
            flash(_("Mark at least one contact that is not already linked."), "warning")
        return self.back_to(company, "contacts")

    @expose("/<int:id>/unlink/<int:contact_id>", methods=("POST",))
    @require("company.edit")
    def unlink_contact(self, id, contact_id):
        company = self.live_or_404(id)
        contact = db.session.get(Contact, contact_id) or abort(404)
        register.unlink_contact(db.session, company, contact)
        db.session.commit()
        flash(
            _("%(contact)s is no longer linked to %(company)s.", contact=contact.name, company=company.name), "success"
        )
        return self.back_to(company, "contacts")


class ContactCardView(CustomerCardView):
    """The card of a contact (Kontakter and Privatkunder): also "Ge kundnummer"."""

    card_header_template = "admin/card/header_contact.html"
    tab_group = "contact_tabs"
    owner_key = "contact_id"

    @expose("/<int:id>/make-private-customer", methods=("POST",))
    @require("contact.edit")
    def make_private_customer(self, id):
        """Give the contact a customer number, so it can be invoiced."""
        contact = self.live_or_404(id)
        number = numbering.make_private_customer(db.session, contact)
        db.session.commit()
        flash(
            _("%(name)s is now a private customer with customer no. %(number)s.", name=contact.name, number=number),
            "success",
        )
        return redirect(url_for(".index", id=id))
