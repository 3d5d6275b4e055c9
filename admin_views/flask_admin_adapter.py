"""Every use of Flask-Admin's private internals, in one place (written against Flask-Admin 2.2.1).

Flask-Admin's public hooks carry most of the product: `get_list(..., execute=False)`, the
`get_query`/`get_count_query` pair, overridden templates and macros. What they do not offer is
read here, through small functions, so an upgrade is checked against one list:
tests/test_flask_admin_adapter.py fails on another Flask-Admin version and checks that each
attribute and method named below still exists with the signature used.

Private hooks our views override (not call) are listed in `OVERRIDDEN_HOOKS` for the same test.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import joinedload, selectinload

from services.validation import whole_number

#: The Flask-Admin release this module was written and tested against.
PINNED_VERSION = "2.2.1"

#: Private methods of Flask-Admin's BaseModelView/ModelView our views override, and where.
OVERRIDDEN_HOOKS = {
    "_handle_view": "admin_views/base.py: permissions on every endpoint",
    "_apply_search": "admin_views/base.py: every list searches through services.search",
    "_get_filter_groups": "admin_views/base.py: filter options read per request",
    "_get_list_extra_args": "admin_views/listing.py: page parameters are not kept on sort/search links",
}


# --- the admin and its menu --------------------------------------------------------------


def registered_views(admin) -> list:
    """Every view added to the admin, in the order added."""
    return list(admin._views)


def menu_categories(admin) -> list:
    """The menu's categories (CRM, Försäljning, Administration …)."""
    return list(admin._menu_categories.values())


def menu_children(category) -> list:
    """A category's items, as added (before any reordering)."""
    return list(category._children)


def menu_view(menu_item):
    """The view a menu item opens, or None (a link or a sub-category)."""
    return getattr(menu_item, "_view", None)


# --- a model view's configuration ----------------------------------------------------------


def sortable_columns(view) -> dict:
    """Column name → the attribute(s) the list sorts by."""
    return view._sortable_columns


def default_order(view) -> list:
    """The list's default sort as Flask-Admin resolved it: (attribute, joins, descending)."""
    return list(view._get_default_order() or [])


def list_filter(view, index: int):
    """The filter object at `index` of the view's filters."""
    return view._filters[index]


def action_handler(view, name: str):
    """(function, label, confirmation) of a list action, or None."""
    return view._actions_data.get(name)


def clear_search_fields(view) -> None:
    """The view searches through services.search: Flask-Admin's own search columns stay empty."""
    view._search_fields = []


# --- the list's query for its own parameters -----------------------------------------------


def filtered_query(view, args) -> Any:
    """Every row the list shows for these query-string pairs (search, filters, sort), unpaginated
    and uncounted: Flask-Admin's `get_list` would count the whole result first, and join-load
    collections that a streamed (yield_per) export cannot take."""
    args, filters = list(args), []
    for name, value in args:
        position, _sep, key = name[3:].partition("_")
        if name.startswith("flt") and key in (view._filter_args or {}):
            index, flt = view._filter_args[key]
            if flt.validate(value):
                filters.append((position, (index, flt.name, value)))
    values = dict(args)
    query, joins = view.get_query(), {}
    if view._search_supported and values.get("search"):
        query, _count, joins, _ = view._apply_search(query, None, joins, {}, values["search"])
    if filters and view._filters:
        query, _count, joins, _ = view._apply_filters(query, None, joins, {}, [f for _pos, f in sorted(filters)])
    for relation in view._auto_joins:  # collections per batch: yield_per refuses joined collections
        query = query.options(selectinload(relation) if relation.property.uselist else joinedload(relation))
    sort_index = whole_number(values.get("sort"), minimum=0)
    sort = view._get_column_by_idx(sort_index) if sort_index is not None else None
    descending = values.get("desc") == "1"
    list_order = getattr(view, "list_order", None)  # KeysetListMixin: where the list puts rows without a value
    order = list_order(sort[0] if sort else None, descending) if list_order else None
    if order is not None and order.nullable and order.empty_first:
        query = query.order_by(order.keys[0].expr.is_(None).desc())  # first, as in the list (an invoice's drafts)
    query, joins = view._apply_sorting(query, joins, sort[0] if sort else None, descending)
    return query
