"""The customer card's Ordrar och fakturor tab and its Fakturarapport.

Mixed into admin_views.card.CustomerCardView, so the company card and the
contact (private customer) card have both.
"""

from datetime import date

from flask import flash, redirect, request, url_for
from flask_admin import expose
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from admin_views import downloads
from admin_views.base import require
from extensions import db
from models import Invoice, SalesOrder
from services import dates, export, invoice_report, invoicing
from services.validation import InvalidValue

STATUS_SUM_LABELS = {
    "draft": _l("Drafts"),
    "sent": _l("Outstanding, not yet due"),
    "overdue": _l("Past due, unpaid"),
    "paid": _l("Paid"),
    "credited_paid": _l("Credited after payment (refund to the customer)"),
    "credited": _l("Credited"),
}


def _period() -> tuple[date, date] | None:
    """The report's period from ?from=&to= (as services.dates reads them), by default this year so far;
    None when malformed."""
    today = date.today()
    try:
        start = dates.parse_date(request.args.get("from")) or date(today.year, 1, 1)
        end = dates.parse_date(request.args.get("to")) or today
    except InvalidValue as exc:
        flash(str(exc), "error")
        return None
    return (start, end) if start <= end else (end, start)


def _currency() -> str | None:
    """?currency= (three letters), else None: the customer's own currency."""
    value = (request.args.get("currency") or "").upper()
    return value if len(value) == 3 and value.isascii() and value.isalpha() else None


class InvoicingCardMixin:
    """Orders and invoices on the customer card, and the customer's invoice report."""

    def invoiceable(self, customer) -> bool:
        return getattr(customer, "customer_number", None) is not None

    def tab_invoices(self, customer):
        """Orders and invoices, each paged by key (?after= invoices, ?orders_after= orders), with sums per status."""
        invoices = self.tab_page(customer, "invoices", invoicing.invoices_for(customer), invoicing.INVOICES_ORDER)
        orders = (
            self.tab_page(customer, "invoices", invoicing.orders_for(customer), invoicing.ORDERS_ORDER, "orders_")
            if current_user.has_permission("order.view")
            else None
        )
        return {
            "page": invoices.page,
            "pager": invoices,
            "orders": orders.page if orders else None,
            "orders_pager": orders,
            "sums": invoicing.status_sums(db.session, customer),
            "sum_labels": STATUS_SUM_LABELS,
            "invoice_statuses": Invoice.STATUSES,
            "order_statuses": SalesOrder.STATUSES,
            "invoiceable": self.invoiceable(customer),
            "owner_key": self.owner_key,
            "today": date.today(),
        }

    @expose("/<int:id>/invoice-report")
    @require("{area}.view", "invoice.view", "report.view")
    def invoice_report(self, id):
        """Fakturarapport: the customer's invoices in a period with the products sold."""
        customer = self.live_or_404(id)
        period = _period()
        if period is None:
            return redirect(url_for(".invoice_report", id=id))
        start, end = period
        return self.render(
            "admin/card/invoice_report.html",
            customer=customer,
            report=invoice_report.build(db.session, customer, start, end, _currency()),
            statuses=Invoice.STATUSES,
            can_export=current_user.has_permission("invoice.export"),
            today=date.today(),
        )

    @expose("/<int:id>/invoice-report/export/<export_type>")
    @require("{area}.view", "invoice.view", "report.view", "invoice.export")
    def invoice_report_export(self, id, export_type):
        """The report as CSV or XLSX: the products sold (?table=products) or every invoice line (?table=lines)."""
        customer = self.live_or_404(id)
        chosen = _period()
        if chosen is None:
            return redirect(url_for(".invoice_report", id=id))
        start, end = chosen
        period = f"{start.isoformat()}–{end.isoformat()}"
        if request.args.get("table") == "lines":
            columns = [
                export.Column("invoice.number", _("Invoice no.")),
                export.Column("invoice.invoice_date", _("Invoice date")),
                export.Column(
                    "status",
                    _("Status"),
                    lambda line: str(Invoice.STATUSES.get(line.invoice.status, line.invoice.status)),
                ),
                export.Column("product.number", _("Product no.")),
                export.Column("description", _("Text")),
                export.Column("quantity", _("Quantity")),
                export.Column("unit", _("Unit")),
                export.Column("unit_price", _("Unit price")),
                export.Column("discount_percent", _("Discount %")),
                export.Column("vat_rate", _("VAT %")),
                export.Column("amount", _("Amount excl. VAT")),
                export.Column("invoice.currency", _("Currency")),
            ]
            rows = downloads.rows_of_query(invoice_report.lines(customer, start, end, _currency()))
            name = _("Invoice lines %(customer)s %(period)s", customer=customer.name, period=period)
        else:
            columns = [
                export.Column("number", _("Product no.")),
                export.Column("name", _("Product")),
                export.Column("quantity", _("Quantity")),
                export.Column("unit", _("Unit")),
                export.Column("amount", _("Amount excl. VAT")),
            ]
            rows = downloads.rows_given(invoice_report.build(db.session, customer, start, end, _currency()).products)
            name = _("Invoice report %(customer)s %(period)s", customer=customer.name, period=period)
        return downloads.download(export_type, name, columns, rows, title=_("Invoice report"))
