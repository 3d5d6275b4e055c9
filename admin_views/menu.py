"""The main menu as each employee arranged it (Behörigheter – moduler).

Flask-Admin builds one menu for everybody; here each category's entries are
filtered and ordered per request from the employee's preferences. Hiding is
only a preference: a hidden module still opens by URL, while a forbidden one
is refused by the view itself.
"""

from functools import cache

from flask_login import current_user

from admin_views import flask_admin_adapter
from services import layout


class PersonalOrder:
    """Mixed into a menu category: its entries follow the logged-in employee's order."""

    def get_children(self):
        children = super().get_children()
        if not current_user.is_authenticated:
            return children
        rank = {key: n for n, key in enumerate(layout.order(current_user, "modules"))}
        hidden = set(layout.hidden(current_user, "modules"))
        shown = [c for c in children if module_key(c) not in hidden]
        return sorted(shown, key=lambda c: (rank.get(module_key(c), len(rank)), children.index(c)))


class ActiveOnItsCards:
    """Mixed into a module's menu entry: it is marked as the open one on the cards of its list too
    (a card is a view of its own, admin_views.card, with the list as its `list_view`)."""

    def is_active(self, view):
        return super().is_active(getattr(view, "list_view", view))


def module_key(menu_item) -> str | None:
    return getattr(flask_admin_adapter.menu_view(menu_item), "endpoint", None)


@cache
def _personal(mixin, menu_class):
    return type(f"{mixin.__name__}{menu_class.__name__}", (mixin, menu_class), {})


def personalise(admin) -> None:
    """Make every category (and sub-category) of `admin`'s menu follow each employee's arrangement,
    and each module's entry the open one on its cards as well."""
    for category in flask_admin_adapter.menu_categories(admin):
        category.__class__ = _personal(PersonalOrder, type(category))
        for child in flask_admin_adapter.menu_children(category):
            if flask_admin_adapter.menu_view(child) is not None:
                child.__class__ = _personal(ActiveOnItsCards, type(child))


def modules(admin) -> list[layout.Item]:
    """Every menu module (key = endpoint) with the permissions its list needs."""
    items = []
    for category in flask_admin_adapter.menu_categories(admin):
        for child in flask_admin_adapter.menu_children(category):
            view = flask_admin_adapter.menu_view(child)
            if view is None:
                continue
            permissions = view.permission_for("index_view") or view.permission_for("index") or ()
            items.append(layout.Item(view.endpoint, f"{category.name} – {view.name}", permissions))
    return items
