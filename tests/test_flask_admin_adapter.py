"""admin_views/flask_admin_adapter.py reads Flask-Admin's private internals: this test pins the
version it was written for and checks that each attribute and method it names is still there,
so an upgrade fails here (read the adapter against the new release) rather than in a screen."""

import inspect
from importlib.metadata import version

from flask_admin.base import Admin, MenuCategory
from flask_admin.contrib.sqla import ModelView
from flask_admin.model.base import BaseModelView

from admin_views import flask_admin_adapter
from admin_views.base import find_view


def test_flask_admin_is_the_pinned_release():
    assert version("Flask-Admin") == flask_admin_adapter.PINNED_VERSION


def _parameters(function) -> list[str]:
    return list(inspect.signature(function).parameters)


def test_the_private_methods_called_have_the_signatures_used():
    assert _parameters(ModelView._apply_search) == ["self", "query", "count_query", "joins", "count_joins", "search"]
    assert _parameters(ModelView._apply_filters) == ["self", "query", "count_query", "joins", "count_joins", "filters"]
    assert _parameters(ModelView._apply_sorting)[:5] == ["self", "query", "joins", "sort_column", "sort_desc"]
    assert _parameters(BaseModelView._get_column_by_idx) == ["self", "idx"]
    assert _parameters(BaseModelView._get_default_order) == ["self"]
    assert "execute" in _parameters(ModelView.get_list)


def test_the_overridden_hooks_still_exist_in_flask_admin():
    for name in flask_admin_adapter.OVERRIDDEN_HOOKS:
        assert callable(getattr(ModelView, name, None)), name


def test_the_private_attributes_read_are_there_on_a_running_app(app):
    admin = app.extensions["admin"][0]
    assert isinstance(admin, Admin)
    views = flask_admin_adapter.registered_views(admin)
    categories = flask_admin_adapter.menu_categories(admin)
    assert categories and all(isinstance(c, MenuCategory) for c in categories)
    opened = [flask_admin_adapter.menu_view(item) for c in categories for item in flask_admin_adapter.menu_children(c)]
    assert any(view is not None for view in opened)
    company = find_view("company")
    assert company in views
    assert "name" in flask_admin_adapter.sortable_columns(company)
    assert flask_admin_adapter.default_order(company)
    for attribute in ("_filter_args", "_search_supported", "_filters", "_auto_joins", "_actions_data"):
        assert hasattr(company, attribute), attribute
    assert flask_admin_adapter.action_handler(company, "delete") is not None
    assert flask_admin_adapter.list_filter(company, 0) is not None


def test_no_other_module_reads_flask_admin_internals():
    """Only the adapter names them (overriding a hook is allowed where OVERRIDDEN_HOOKS says)."""
    import re
    from pathlib import Path

    private = re.compile(
        r"\._(views|menu_categories|children|view|sortable_columns|get_default_order|filters|filter_args|"
        r"actions_data|search_fields|search_supported|auto_joins|get_column_by_idx|apply_sorting|apply_filters)\b"
    )
    root = Path(__file__).resolve().parent.parent
    offenders = [
        f"{path.relative_to(root)}:{n}"
        for folder in ("admin_views", "services")
        for path in sorted((root / folder).rglob("*.py"))
        if path.name != "flask_admin_adapter.py"
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if private.search(line)
    ]
    assert not offenders
