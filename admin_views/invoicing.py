"""Försäljning: Produkter, Ordrar and Fakturor.

Orders and invoices share one editor (header and lines on one page, a new
one prefilled from the customer card) and one page with their totals and the
actions their status allows. The rules (who can be invoiced, defaults,
totals, numbers, what may change when) are in services.invoicing and
services.money; these views read forms and call them.
"""

from datetime import date
from decimal import Decimal

from flask import abort, current_app, flash, jsonify, redirect, request, url_for
from flask_admin import expose
from flask_admin.contrib.sqla.filters import BaseSQLAFilter
from flask_admin.form import BaseForm
from flask_admin.helpers import get_redirect_target
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from markupsafe import Markup
from sqlalchemy import select
from sqlalchemy.orm.exc import StaleDataError
from wtforms import IntegerField, SelectField, TextAreaField
from wtforms.validators import InputRequired, Optional
from wtforms.widgets import Select

from admin_views import params
from admin_views.base import (
    MODEL_ENDPOINT_VERBS,
    CheckedAjaxSelectField,
    CheckedQuerySelectField,
    SecureModelView,
    SwedishDateField,
    VersionField,
    employee_picker,
    fmt_bool,
    fmt_choice,
    number_text,
    payment_terms,
    require,
)
from admin_views.card import CURRENCIES, INVOICE_LANGUAGES
from admin_views.filters import IsFilter, YesNoFilter
from admin_views.sales import customer_link, customer_lookups, fmt_iso_date, fmt_money, fmt_percent
from extensions import db
from models import VAT_RATES, Company, Contact, Invoice, Product, SalesOrder
from services import fields, formatting, invoicing, search
from services.invoicing import LineInput
from services.validation import InvalidValue, whole_number

VAT_CHOICES = [(rate, f"{rate}\u00a0%") for rate in VAT_RATES]
#: Blank line rows offered under the lines of the editor.
BLANK_LINES = 3
#: Header fields that, left empty on a new document, keep the customer's setting.
CUSTOMER_DEFAULTS = ("currency", "language", "payment_terms_days")
LINE_FIELDS = ("product", "description", "quantity", "unit", "unit_price", "discount_percent", "vat_rate")


def plain(value: Decimal) -> str:
    """A Decimal as a form value, without trailing zeros or exponent: 10, 2.5, 0 (the VAT rates' options)."""
    return format(value.normalize(), "f")


def fmt_status(view, context, model, name):
    label = model.STATUSES.get(model.status, model.status)
    if isinstance(model, Invoice) and invoicing.is_overdue(model):
        return Markup('{} <span class="badge badge-danger">{}</span>').format(label, _("Past due"))
    return label


class OverdueFilter(BaseSQLAFilter):
    """Förfallna: sent invoices past their due date (or, "Nej", all others)."""

    def apply(self, query, value, alias=None):
        condition = invoicing.overdue_condition(date.today())
        return query.filter(condition if value == "1" else ~condition)

    def operation(self):
        return _l("is")


# --- Produkter -----------------------------------------------------------------------------


class ProductView(SecureModelView):
    """Produkter: number, name, unit, price excl. VAT, VAT rate, active."""

    permission_area = "product"
    endpoint_verbs = {
        **MODEL_ENDPOINT_VERBS,
        **{e: "manage" for e in ("create_view", "edit_view", "ajax_update", "delete_view", "export")},
    }
    create_label = _l("New product")
    column_list = ["number", "name", "unit", "price", "vat_rate", "active"]
    column_default_sort = "number"
    column_sortable_list = ["number", "name", "price"]  # indexed (models.KEYSET_INDEXES)
    column_labels = {
        "number": _l("Product no."),
        "name": fields.label("name"),
        "unit": _l("Unit"),
        "price": _l("Price excl. VAT"),
        "vat_rate": _l("VAT %"),
        "active": _l("Active"),
    }
    column_formatters = {"price": fmt_money, "vat_rate": fmt_percent, "active": fmt_bool}
    column_filters = [YesNoFilter(Product.active, _l("Active"))]
    column_export_list = ["number", "name", "unit", "price", "vat_rate", "active"]
    form_columns = ["number", "name", "unit", "price", "vat_rate", "active"]
    form_overrides = {"vat_rate": SelectField}
    form_args = {
        "vat_rate": {"choices": VAT_CHOICES, "coerce": Decimal},
        "price": {"validators": [InputRequired(_l("Enter the price (0 if free)."))]},
        "active": {"description": _l("Inactive products are not offered on new lines.")},
    }

    def search_placeholder(self) -> str:
        return _("Product no. or name")

    @expose("/lookup.json")
    @require("product.view")
    def lookup(self):
        """Active products matching `q`, with what a new line takes from them."""
        rows = search.pick(db.session, Product, request.args.get("q", ""), limit=20, extra=Product.active)
        return jsonify(
            [
                {
                    "id": p.id,
                    "number": p.number,
                    "name": p.name,
                    "unit": p.unit,
                    "price": number_text(p.price, 2),
                    "vat_rate": plain(p.vat_rate),
                    "label": f"{p.number} {p.name}",
                }
                for p in rows
            ]
        )


# --- the order / invoice editor ------------------------------------------------------------------


def product_by_text(text: str | None) -> Product | None:
    """The product a line names: "100" or "100 Konsulttimme" (its number first)."""
    number = (text or "").strip().split(" ", 1)[0]
    if not number:
        return None
    product = db.session.scalar(select(Product).where(Product.number == number))
    if product is None:
        raise InvalidValue(_("There is no product with number %(number)s.", number=number))
    return product


def posted_rows() -> list[dict]:
    """The editor's line rows as posted (fields lines-N-field, in N order), as typed; wholly
    empty rows are left out, so "Line n" in a message is the n-th row shown again."""
    indexes = sorted(
        {
            index
            for key in request.form
            if key.startswith("lines-") and (index := whole_number(key.split("-")[1], minimum=0)) is not None
        }
    )
    rows = [{f: (request.form.get(f"lines-{i}-{f}") or "").strip() for f in LINE_FIELDS} for i in indexes]
    return [row for row in rows if any(row[f] for f in ("product", "description", "unit_price"))]


def posted_lines() -> list[LineInput]:
    """The posted rows as lines for services.invoicing."""
    return [
        LineInput(
            product=product_by_text(row["product"]),
            description=row["description"],
            quantity=row["quantity"] or "1",
            unit=row["unit"],
            unit_price=row["unit_price"],
            discount_percent=row["discount_percent"],
            vat_rate=row["vat_rate"],
        )
        for row in posted_rows()
    ]


def line_rows(document, customer) -> list[dict]:
    """What the editor shows: the lines as posted (after an error), else the saved ones, then blank rows."""
    discount = number_text(customer.discount_percent) if customer is not None and customer.discount_percent else "0"
    if request.method == "POST":
        rows = posted_rows()
    else:
        rows = [
            {
                "product": line.product.number if line.product else "",
                "description": line.description,
                "quantity": number_text(line.quantity),
                "unit": line.unit or "",
                "unit_price": number_text(line.unit_price, 2),
                "discount_percent": number_text(line.discount_percent),
                "vat_rate": plain(line.vat_rate),
            }
            for line in (document.lines if document is not None else [])
        ]
    blank = {
        "product": "",
        "description": "",
        "quantity": "1",
        "unit": "",
        "unit_price": "",
        "discount_percent": discount,
        "vat_rate": "25",
    }
    return rows + [dict(blank) for _ in range(BLANK_LINES)]


class DocumentForm(BaseForm):
    """The header of an order or invoice (the lines are posted as rows beside it)."""

    #: One of the customer's contacts (`header_form` sets them as its query), or the one the document has.
    their_reference = CheckedQuerySelectField(
        _l("Their reference"), query_factory=list, allow_blank=True, blank_text="–", widget=Select()
    )
    currency = SelectField(fields.label("currency"), choices=CURRENCIES)
    language = SelectField(fields.label("invoice_language"), choices=INVOICE_LANGUAGES)
    note = TextAreaField(_l("Text on the document"), validators=[Optional()])
    version = VersionField()


class OrderForm(DocumentForm):
    order_date = SwedishDateField(_l("Order date"), validators=[InputRequired(_l("Enter the order date."))])
    delivery_date = SwedishDateField(_l("Delivery date"), validators=[Optional()])


class InvoiceForm(DocumentForm):
    invoice_date = SwedishDateField(_l("Invoice date"), validators=[InputRequired(_l("Enter the invoice date."))])
    payment_terms_days = IntegerField(
        fields.label("payment_terms_days"),
        validators=[
            InputRequired(_l("Enter the payment terms in days.")),
            payment_terms,
        ],
    )


class SalesDocumentView(SecureModelView):
    """Shared by Ordrar and Fakturor: list, editor, the document's page."""

    form_class = DocumentForm
    header_fields: tuple[str, ...] = ()
    list_template = "admin/crm_list.html"
    can_set_page_size = False
    column_default_sort = ("id", True)
    column_sortable_list = ["number", "total"]
    column_formatters = {
        # the number (a draft invoice has none yet) opens the order's or invoice's page
        "number": lambda v, c, m, n: Markup('<a href="{}">{}</a>').format(
            url_for(".page", id=m.id), m.number if m.number is not None else _("Draft")
        ),
        "customer": lambda v, c, m, n: customer_link(m.customer),
        "status": fmt_status,
        "total": lambda v, c, m, n: formatting.money(m.total, m.currency),
        "net_amount": lambda v, c, m, n: formatting.money(m.net_amount, m.currency),
        "order_date": fmt_iso_date,
        "invoice_date": fmt_iso_date,
        "due_date": fmt_iso_date,
    }
    form_ajax_refs = {
        **customer_lookups(),
        "our_reference": employee_picker("our_reference"),
    }

    def search_placeholder(self) -> str:
        return _("Number or customer")

    # --- the editor ----------------------------------------------------------------

    def header_form(self, document=None, customer=None):
        """The header form; the customer is chosen only when created without one (from the list)."""
        refs = self._form_ajax_refs
        form_fields = {
            "our_reference": CheckedAjaxSelectField(refs["our_reference"], _l("Our reference"), allow_blank=True)
        }
        choosing = document is None and customer is None
        if choosing:  # the customer's settings apply unless chosen otherwise
            form_fields["company"] = CheckedAjaxSelectField(refs["company"], _l("Company"), allow_blank=True)
            form_fields["contact"] = CheckedAjaxSelectField(refs["contact"], _l("Private customer"), allow_blank=True)
            theirs = [("", _("The customer's setting"))]
            form_fields["currency"] = SelectField(fields.label("currency"), choices=theirs + CURRENCIES)
            form_fields["language"] = SelectField(fields.label("invoice_language"), choices=theirs + INVOICE_LANGUAGES)
            if hasattr(self.form_class, "payment_terms_days"):
                form_fields["payment_terms_days"] = IntegerField(
                    fields.label("payment_terms_days"),
                    validators=[Optional(), payment_terms],
                    description=_l("Empty: the customer's payment terms."),
                )
        form_class = type("HeaderForm", (self.form_class,), form_fields)
        posted = request.method == "POST"
        form = form_class(request.form if posted else None, obj=document)
        if not posted and document is None:
            form.our_reference.data = current_user._get_current_object()
            if customer is not None:
                form.currency.data = customer.currency
                form.language.data = customer.invoice_language
                if "payment_terms_days" in form:
                    form.payment_terms_days.data = invoicing.customer_payment_terms(customer)
            for name in ("order_date", "invoice_date"):
                if name in form:
                    form[name].data = date.today()
        form.their_reference.query = customer.contacts if isinstance(customer, Company) else []
        return form

    def _customer_from_args(self):
        company = db.session.get(Company, params.id_param("company_id") or 0)
        contact = db.session.get(Contact, params.id_param("contact_id") or 0)
        if company is None and contact is None:
            return None
        return invoicing.check_customer(company, contact)

    def _apply_header(self, document, form) -> None:
        for name in self.header_fields:
            if name in CUSTOMER_DEFAULTS and form[name].data in (None, ""):
                continue  # left empty: the customer's setting stays
            setattr(document, name, form[name].data)
        document.our_reference = form.our_reference.data
        document.their_reference = form.their_reference.data  # one of the customer's contacts (header_form)

    def _render_editor(self, form, document=None, customer=None):
        customer = customer or (document.customer if document is not None else None)
        return self.render(
            "admin/sales_document_edit.html",
            form=form,
            document=document,
            customer=customer,
            rows=line_rows(document, customer),
            vat_choices=VAT_CHOICES,
            heading=self.editor_heading(document, customer),
            return_url=get_redirect_target()
            or (url_for(".page", id=document.id) if document else url_for(".index_view")),
        )

    @expose("/new/", methods=("GET", "POST"))
    def create_view(self):
        """A new order or invoice; from a card (?company_id= / ?contact_id=) prefilled with the customer."""
        try:
            customer = self._customer_from_args()
        except InvalidValue as exc:
            flash(str(exc), "error")
            return redirect(get_redirect_target() or url_for(".index_view"))
        form = self.header_form(customer=customer)
        if request.method == "POST" and form.validate():
            try:
                if customer is None:
                    customer = invoicing.check_customer(form.company.data, form.contact.data)
                document = self.new_document(customer)
                self._apply_header(document, form)
                invoicing.set_lines(document, posted_lines())
                db.session.commit()
            except InvalidValue as exc:
                db.session.rollback()
                flash(str(exc), "error")
            else:
                flash(_("%(document)s was saved.", document=self.title(document)), "success")
                return redirect(url_for(".page", id=document.id))
        elif request.method == "POST":
            flash(_("Nothing was saved: correct the marked fields."), "error")
        return self._render_editor(form, customer=customer)

    @expose("/edit/", methods=("GET", "POST"))
    def edit_view(self):
        document = self._document_or_404(params.id_param("id") or 0)
        if not invoicing.is_editable(document):
            try:
                invoicing.ensure_editable(document)
            except InvalidValue as exc:
                flash(str(exc), "error")
            return redirect(url_for(".page", id=document.id))
        form = self.header_form(document, document.customer)
        if request.method == "POST" and form.validate():
            if request.form.get("version", "") != str(document.version):
                flash(self.stale_message(), "error")
                return self._render_editor(form, document)
            try:
                self._apply_header(document, form)
                invoicing.set_lines(document, posted_lines())
                db.session.commit()
            except InvalidValue as exc:
                db.session.rollback()
                flash(str(exc), "error")
                document = self._document_or_404(document.id)
            else:
                flash(_("%(document)s was saved.", document=self.title(document)), "success")
                return redirect(url_for(".page", id=document.id))
        elif request.method == "POST":
            flash(_("Nothing was saved: correct the marked fields."), "error")
        return self._render_editor(form, document)

    # --- the document's page ---------------------------------------------------------

    def _document_or_404(self, id: int):
        return db.session.get(self.model, id) or abort(404)

    @expose("/show/<int:id>")
    @require("{area}.view")
    def page(self, id):
        """The order or invoice: header, lines, totals and what can be done with it now."""
        document = self._document_or_404(id)
        return self.render(
            "admin/sales_document.html",
            document=document,
            totals=invoicing.totals(document),
            customer_link=customer_link(document.customer),
            title=self.title(document),
            status_label=document.STATUSES.get(document.status, document.status),
            overdue=isinstance(document, Invoice) and invoicing.is_overdue(document),
            editable=invoicing.is_editable(document) and self.can_edit,
            credit_notes=db.session.scalars(invoicing.credit_notes(document)).all()
            if isinstance(document, Invoice)
            else [],
        )

    def _transition(self, id, change, message):
        """Run a status change of the service; its refusal is shown, nothing half-saved.

        Two at once (a double click, two users): the one that saves second finds the document's
        version changed (StaleDataError; its number, if any, goes back to the sequence with the
        rollback) and is run once more on what the first saved, so it gets the service's reason
        ("The invoice has already been sent.") as a moment later it would have."""
        for attempt in (1, 2):
            document = self._document_or_404(id)
            try:
                result = change(document)
                db.session.commit()
            except InvalidValue as exc:
                db.session.rollback()
                flash(str(exc), "error")
                return redirect(url_for(".page", id=id))
            except StaleDataError:
                db.session.rollback()
                if attempt == 1:
                    continue
                flash(self.stale_message(), "error")
                return redirect(url_for(".page", id=id))
            break
        flash(message(document, result), "success")
        if isinstance(result, Invoice):  # a credit invoice, or the invoice made from an order
            return redirect(url_for("invoice.page", id=result.id))
        return redirect(url_for(".page", id=id))


class OrderView(SalesDocumentView):
    """Ordrar: made from the customer card, confirmed, turned into invoices."""

    permission_area = "order"
    endpoint_verbs = {**MODEL_ENDPOINT_VERBS, "delete_view": "edit"}
    form_class = OrderForm
    header_fields = ("order_date", "delivery_date", "currency", "language", "note")
    create_label = _l("New order")
    column_select_related_list = [SalesOrder.company, SalesOrder.contact]
    column_list = ["number", "customer", "order_date", "status", "net_amount", "total"]
    column_sortable_list = ["number", "order_date", "total"]  # indexed (models.KEYSET_INDEXES); status is a filter
    column_default_sort = ("order_date", True)
    column_labels = {
        "number": _l("Order no."),
        "customer": fields.label("customer"),
        "order_date": fields.label("order_date"),
        "status": fields.label("status"),
        "net_amount": fields.label("net_amount"),
        "total": fields.label("total"),
    }
    column_filters = [IsFilter(SalesOrder.status, fields.label("status"), options=list(SalesOrder.STATUSES.items()))]
    column_export_list = ["number", "customer", "order_date", "status", "net_amount", "total", "currency"]
    column_formatters_export = {
        "customer": lambda v, c, m, n: m.customer.name if m.customer else "",
        "status": fmt_choice(SalesOrder.STATUSES),
    }

    def permission_for(self, endpoint_name, values=None):
        if endpoint_name == "export":  # orders are exported with the invoices' permission (and read with their own)
            return ("invoice.export", "order.view")
        return super().permission_for(endpoint_name, values)

    def new_document(self, customer):
        return invoicing.new_order(db.session, current_user._get_current_object(), customer)

    delete_rule = staticmethod(invoicing.delete_order)

    @staticmethod
    def title(document) -> str:
        return _("Order %(number)s", number=document.number) if document else _("New order")

    def editor_heading(self, document, customer) -> str:
        if document is not None:
            return self.title(document)
        return _("New order for %(customer)s", customer=customer.name) if customer else _("New order")

    @expose("/show/<int:id>/confirm", methods=("POST",))
    @require("order.edit")
    def confirm(self, id):
        return self._transition(
            id, invoicing.confirm_order, lambda d, r: _("%(document)s was confirmed.", document=self.title(d))
        )

    @expose("/show/<int:id>/cancel", methods=("POST",))
    @require("order.edit")
    def cancel(self, id):
        return self._transition(
            id, invoicing.cancel_order, lambda d, r: _("%(document)s was cancelled.", document=self.title(d))
        )

    @expose("/show/<int:id>/invoice", methods=("POST",))
    @require("order.edit", "invoice.create")
    def to_invoice(self, id):
        """Convert the order to a draft invoice with its lines."""
        return self._transition(
            id,
            lambda d: invoicing.order_to_invoice(db.session, current_user._get_current_object(), d),
            lambda d, r: _("A draft invoice was created from %(document)s.", document=self.title(d)),
        )


class InvoiceView(SalesDocumentView):
    """Fakturor: drafts are edited; sending numbers them; then paid or credited."""

    permission_area = "invoice"
    endpoint_verbs = {**MODEL_ENDPOINT_VERBS, **{e: "create" for e in ("edit_view", "ajax_update", "delete_view")}}
    form_class = InvoiceForm
    header_fields = ("invoice_date", "payment_terms_days", "currency", "language", "note")
    create_label = _l("New invoice")
    column_select_related_list = [Invoice.company, Invoice.contact]
    column_list = ["number", "customer", "invoice_date", "due_date", "status", "net_amount", "total"]
    column_sortable_list = ["number", "invoice_date", "due_date", "total"]  # indexed; status is a filter
    #: Newest first: the highest number (numbers follow invoice dates, services.invoicing `_issue`, so this is
    #: also the latest date), after the drafts, which have no number yet and are on top, newest first, as on
    #: the customer card (services.invoicing.INVOICES_ORDER); read from the index on (number, id).
    column_default_sort = ("number", True)
    empty_sorts_first = ("number",)
    column_labels = {
        "number": _l("Invoice no."),
        "customer": fields.label("customer"),
        "invoice_date": fields.label("invoice_date"),
        "due_date": fields.label("due_date"),
        "status": fields.label("status"),
        "net_amount": fields.label("net_amount"),
        "total": fields.label("total"),
    }
    column_filters = [
        IsFilter(Invoice.status, fields.label("status"), options=list(Invoice.STATUSES.items())),
        OverdueFilter(Invoice.id, _l("Past due"), options=[("1", _l("Yes")), ("0", _l("No"))]),
        "invoice_date",
        "due_date",
    ]
    column_export_list = [
        "number",
        "customer",
        "invoice_date",
        "due_date",
        "status",
        "net_amount",
        "vat_amount",
        "total",
        "currency",
        "ocr",
    ]
    column_formatters_export = {
        "customer": lambda v, c, m, n: m.customer.name if m.customer else "",
        "status": fmt_choice(Invoice.STATUSES),
    }

    def new_document(self, customer):
        return invoicing.new_invoice(db.session, current_user._get_current_object(), customer)

    delete_rule = staticmethod(invoicing.delete_draft)

    @staticmethod
    def title(document) -> str:
        if document is None:
            return _("New invoice")
        if document.number is None:
            return _("Draft invoice")
        if document.is_credit:
            return _("Credit invoice %(number)s", number=document.number)
        return _("Invoice %(number)s", number=document.number)

    def editor_heading(self, document, customer) -> str:
        if document is not None:
            return _("Draft invoice for %(customer)s", customer=document.customer.name)
        return _("New invoice for %(customer)s", customer=customer.name) if customer else _("New invoice")

    @expose("/show/<int:id>/send", methods=("POST",))
    @require("invoice.send")
    def send(self, id):
        """Send (finalise) a draft: it gets its number, OCR and due date."""
        return self._transition(
            id,
            lambda d: invoicing.send(db.session, d),
            lambda d, r: _("%(document)s was sent.", document=self.title(d)),
        )

    @expose("/show/<int:id>/paid", methods=("POST",))
    @require("invoice.send")
    def paid(self, id):
        return self._transition(
            id, invoicing.mark_paid, lambda d, r: _("%(document)s was marked as paid.", document=self.title(d))
        )

    @expose("/show/<int:id>/credit", methods=("POST",))
    @require("invoice.send")
    def credit(self, id):
        """Credit a sent invoice with a credit invoice of its negative lines."""
        return self._transition(
            id,
            lambda d: invoicing.credit(db.session, current_user._get_current_object(), d),
            lambda d, r: _("%(document)s was credited by %(credit)s.", document=self.title(d), credit=self.title(r)),
        )

    @expose("/show/<int:id>/cancel", methods=("POST",))
    @require("invoice.send")
    def cancel(self, id):
        return self._transition(
            id, invoicing.cancel, lambda d, r: _("%(document)s was cancelled.", document=self.title(d))
        )

    @expose("/show/<int:id>/print")
    @require("invoice.view")
    def print_view(self, id):
        """The printable invoice (A4), in the customer's invoice language."""
        invoice = self._document_or_404(id)
        language = invoice.language if invoice.language in current_app.config["SUPPORTED_LOCALES"] else "sv"
        with force_locale(language):
            return self.render(
                "admin/invoice_print.html",
                invoice=invoice,
                totals=invoicing.totals(invoice),
                seller=current_app.config["SELLER"],
                language=language,
                title=self.title(invoice),
                money=lambda amount: formatting.money(amount, invoice.currency, language),
            )
