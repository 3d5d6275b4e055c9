"""List filters the lists share ("Fler sökalternativ"): worded in Swedish, options read from the
database on each request, ids validated before Flask-Admin reads them."""

from flask import has_app_context, has_request_context
from flask_admin.contrib.sqla.filters import BaseSQLAFilter, FilterEqual
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import select

from extensions import db
from models import Category, Employee, Industry
from services import search
from services.validation import is_id


class IsFilter(FilterEqual):
    """Equality filter worded in Swedish ("är") instead of Flask-Admin's "motsvarar"."""

    def operation(self):
        return _l("is")


class YesNoFilter(IsFilter):
    """Equality on a yes/no column: "Ja" or "Nej", compared as a boolean (PostgreSQL refuses
    boolean = varchar: the list answered 500 there)."""

    def __init__(self, column, name, **kwargs):
        super().__init__(column, name, options=[("1", _l("Yes")), ("0", _l("No"))], **kwargs)

    def validate(self, value):
        return value in ("1", "0")

    def clean(self, value):
        return value == "1"


class DynamicOptions:
    """Filter options read from the database on each request (see SecureModelView)."""

    dynamic_options = True
    options_query = None

    def get_options(self, view):
        if not has_app_context():
            return None
        return [(str(i), n) for i, n in db.session.execute(self.options_query)]

    def validate(self, value):
        return is_id(value)

    def clean(self, value):
        """The options are ids: compare them as integers (PostgreSQL refuses integer = varchar)."""
        return int(value)


class EmployeeFilter(DynamicOptions, IsFilter):
    """Filter on an employee column (Kundansvarig), offering active employees, with "Mig själv" (the
    signed-in employee) first, so a newly added filter starts on it, as in the Rapportgenerator."""

    options_query = select(Employee.id, Employee.name).where(Employee.active).order_by(Employee.name)

    def get_options(self, view):
        options = super().get_options(view)
        if options is None or not has_request_context() or not current_user.is_authenticated:
            return options
        return [(str(current_user.id), _("Myself")), *options]


class CategoryFilter(DynamicOptions, BaseSQLAFilter):
    """Companies or contacts in a category (`relation` is their categories list)."""

    def __init__(self, relation, name):
        super().__init__(relation.parent.class_.id, name)
        self.relation = relation

    def apply(self, query, value, alias=None):
        """The rows with the category; counted from the link table's rows (search.with_ids: each row
        there is one of the register's, deleted with it)."""
        link = self.relation.property.secondary
        (_parent, row), *_ = self.relation.property.synchronize_pairs
        ((_category, category),) = self.relation.property.secondary_synchronize_pairs
        ids = select(link.c[row.name]).where(link.c[category.name] == int(value))
        return query.filter(search.with_ids(self.relation.any(Category.id == int(value)), ids))

    options_query = select(Category.id, Category.name).order_by(Category.name)

    def operation(self):
        return _l("is")

    def validate(self, value):
        return is_id(value)


class IndustryFilter(DynamicOptions, IsFilter):
    options_query = select(Industry.id, Industry.name).order_by(Industry.name)
