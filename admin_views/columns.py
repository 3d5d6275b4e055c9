"""The list columns ("Kolumner"): which columns of a list an employee shows (services.layout keeps the choice with
the employee's other preferences), and which columns hold numbers (right-aligned).

Every column of `column_list` stays in Flask-Admin's list (its sort links address columns by
their place there); the list template leaves out those the employee does not show."""

from __future__ import annotations

from flask import flash, g, request, url_for
from flask_admin import expose
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import Float, Integer, Numeric
from sqlalchemy import inspect as sa_inspect

from admin_views import redirects
from extensions import db
from services import layout
from services.validation import InvalidValue


class ColumnChoiceMixin:
    """A list whose columns each employee chooses under "Kolumner", and resets."""

    #: The columns a list shows until the employee chooses (None: every column of column_list);
    #: chosen so the list fits a 1366 px screen.
    column_default_shown: list[str] | None = None
    #: Computed columns that hold numbers or amounts (right-aligned), besides numeric model columns.
    column_numbers: tuple[str, ...] = ()

    def choosable_columns(self) -> list[tuple[str, str]]:
        """(key, label) of every column the list can show; translated once per request (the list
        template asks for every cell of every row)."""
        memo = g.setdefault("choosable_columns", {})
        if self.endpoint not in memo:
            memo[self.endpoint] = [(str(c), str(label)) for c, label in self._list_columns]
        return memo[self.endpoint]

    def column_label_texts(self) -> dict[str, str]:
        """{key: label} of the list's columns, as text (each cell carries its column's label)."""
        memo = g.setdefault("column_label_texts", {})
        if self.endpoint not in memo:
            memo[self.endpoint] = dict(self.choosable_columns())
        return memo[self.endpoint]

    def editable_columns(self) -> frozenset[str]:
        """The columns edited in the list itself (Flask-Admin's `is_editable`), asked once a request
        instead of for every cell."""
        memo = g.setdefault("editable_columns", {})
        if self.endpoint not in memo:
            memo[self.endpoint] = frozenset(c for c, _label in self.choosable_columns() if self.is_editable(c))
        return memo[self.endpoint]

    def shown_columns(self) -> list[str]:
        """The keys of the columns this employee shows, in the list's order."""
        memo = g.setdefault("shown_columns", {})
        if self.endpoint not in memo:
            available = [key for key, _label in self.choosable_columns()]
            default = self.column_default_shown or available
            memo[self.endpoint] = layout.list_columns(current_user, self.endpoint, available, default)
        return memo[self.endpoint]

    def row_texts(self) -> dict[str, str]:
        """The words every row of the list repeats (the tick box's and the pencil's), translated once
        per request."""
        if "row_texts" not in g:
            g.row_texts = {"select": _("Select"), "edit": _("Edit")}
        return g.row_texts

    def number_columns(self) -> frozenset[str]:
        """Columns that hold numbers or amounts: numeric model columns and `column_numbers`."""
        memo = g.setdefault("number_columns", {})
        if self.endpoint not in memo:
            mapped = sa_inspect(self.model).columns
            numeric = {
                key
                for key, _label in self.choosable_columns()
                if key in mapped and isinstance(mapped[key].type, Integer | Numeric | Float)
            }
            memo[self.endpoint] = frozenset(numeric | set(self.column_numbers))
        return memo[self.endpoint]

    @expose("/columns/", methods=("POST",))
    def choose_columns(self):
        """Save the columns the employee ticked under "Kolumner" (or, with "reset", the default)."""
        employee = current_user._get_current_object()
        if request.form.get("reset"):
            layout.reset_list_columns(employee, self.endpoint)
            message = _("The list shows its standard columns again.")
        else:
            available = [key for key, _label in self.choosable_columns()]
            try:
                layout.save_list_columns(employee, self.endpoint, request.form.getlist("column"), available)
            except InvalidValue as exc:
                flash(str(exc), "danger")
                return redirects.redirect_to(request.form.get("url"), url_for(".index_view"))
            message = _("The list's columns were saved.")
        db.session.commit()
        flash(message, "success")
        return redirects.redirect_to(request.form.get("url"), url_for(".index_view"))
