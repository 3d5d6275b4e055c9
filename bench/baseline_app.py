"""The stock baseline of bench/scale_bench.py: plain Flask-Admin ModelViews over the same tables.

What a team gets from Flask-Admin out of the box, configured as a reasonable user would: the
same list columns, the quick search over the same seven columns (`column_searchable_list`:
ILIKE on each), filters on Kundansvarig, category and city, sorting, CSV export, a details view
as the "card", a company picker (`form_ajax_refs`), and the trash as a list of the deleted
companies. No authentication (the bench calls it on the loopback only); OFFSET pages, COUNT(*)
on every list view, as Flask-Admin does.

    CRM_DATABASE_URL=… gunicorn -w 1 -b 127.0.0.1:8102 'bench.baseline_app:create_app()'
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from flask import Flask  # noqa: E402
from flask_admin import Admin  # noqa: E402
from flask_admin.contrib.sqla import ModelView  # noqa: E402
from flask_admin.contrib.sqla.filters import FilterEqual, IntEqualFilter  # noqa: E402
from flask_babel import Babel  # noqa: E402

from extensions import db  # noqa: E402
from models import Company, Contact, Opportunity  # noqa: E402

COMPANY_SEARCH = ["name", "org_number", "email", "phone", "postal_city", "visit_city", "vat_number"]


class StockCompanyView(ModelView):
    page_size = 50
    can_export = True
    export_max_rows = 0  # every matching row, as ours
    can_view_details = True
    column_list = ["customer_number", "name", "org_number", "postal_city", "phone", "email", "owner", "status"]
    column_searchable_list = COMPANY_SEARCH
    column_sortable_list = ["customer_number", "name", "org_number", "postal_city"]
    column_default_sort = "name"
    #: Loaded with the rows: the export's lazy loads would run after the request's session is gone.
    column_select_related_list = [Company.owner, Company.industry]
    column_filters = [
        IntEqualFilter(Company.owner_id, "Kundansvarig"),
        "categories.id",
        FilterEqual(Company.postal_city, "Ort"),
    ]
    column_export_list = [
        "customer_number",
        "name",
        "org_number",
        "vat_number",
        "status",
        "industry",
        "owner",
        "is_supplier",
        "phone",
        "email",
        "website",
        "postal_street",
        "postal_postcode",
        "postal_city",
        "discount_percent",
        "payment_terms_days",
        "currency",
    ]

    def get_query(self):
        return super().get_query().filter(Company.deleted_at.is_(None))

    def get_count_query(self):
        return super().get_count_query().filter(Company.deleted_at.is_(None))


class StockTrashView(ModelView):
    """The trash, as a stock list of the deleted companies."""

    page_size = 50
    column_list = ["customer_number", "name", "deleted_at", "deleted_by"]
    column_default_sort = ("deleted_at", True)

    def get_query(self):
        return super().get_query().filter(Company.deleted_at.is_not(None))

    def get_count_query(self):
        return super().get_count_query().filter(Company.deleted_at.is_not(None))


class StockContactView(ModelView):
    page_size = 50
    column_list = ["last_name", "first_name", "title", "phone", "mobile", "email", "customer_number"]
    column_searchable_list = ["first_name", "last_name", "email", "phone", "mobile", "postal_city", "title"]
    column_default_sort = [("last_name", False), ("first_name", False)]


class StockOpportunityView(ModelView):
    """Only for its company picker: /admin/opportunity/ajax/lookup/?name=company&query=…"""

    form_ajax_refs = {"company": {"fields": ["name"], "page_size": 10}}


def create_app() -> Flask:
    app = Flask(__name__)
    app.config["SQLALCHEMY_DATABASE_URI"] = os.environ["CRM_DATABASE_URL"]
    app.config["SECRET_KEY"] = "bench-only"
    db.init_app(app)
    Babel(app)  # Flask-Admin translates through Flask-Babel when it is installed
    admin = Admin(app, name="Stock")
    admin.add_view(StockCompanyView(Company, db.session, endpoint="company"))
    admin.add_view(StockContactView(Contact, db.session, endpoint="contact"))
    admin.add_view(StockOpportunityView(Opportunity, db.session, endpoint="opportunity"))
    admin.add_view(StockTrashView(Company, db.session, endpoint="trash", name="Trash"))

    @app.get("/bench/filters")
    def filter_args():
        """{filter name and operation: its query-string argument} of the company list (for the bench)."""
        view = admin._views[1]
        return {f"{flt.name} {flt.operation()}": f"flt0_{key}" for key, (_i, flt) in view._filter_args.items()}

    return app
