"""Which modules and customer-card tabs an employee sees, and in which order.

Forbidden (the role, plus an administrator's grants and revocations) and
hidden (the employee's own preference) are different things: a forbidden
item is refused on the server; a hidden one is only left out of the menu or
the card. Both are resolved here, in one place.
"""

from dataclasses import dataclass

from flask_babel import lazy_gettext as _l

from services.permissions import LOGGED_IN
from services.validation import InvalidValue
from services.visibility import Part, permission


@dataclass(frozen=True)
class Item:
    key: str
    label: object
    permission: str | tuple[str, ...]  # every one of them is needed

    def permitted(self, employee) -> bool:
        needed = (self.permission,) if isinstance(self.permission, str) else self.permission
        return bool(needed) and all(p == LOGGED_IN or employee.has_permission(p) for p in needed)


#: The customer card's tabs (company card), in their default order.
COMPANY_TABS = (
    Item("overview", _l("Overview"), "tab.overview"),
    Item("contacts", _l("Contacts"), "tab.contacts"),
    Item("activities", _l("Activities"), permission(Part.ACTIVITIES)),
    Item("email", _l("E-mail"), permission(Part.EMAIL)),
    Item("files", _l("Files"), permission(Part.FILES)),
    Item("projects", _l("Projects"), "tab.projects"),
    Item("opportunities", _l("Sales opportunities"), ("tab.opportunities", "opportunity.view")),
    Item("invoices", _l("Orders and invoices"), ("tab.invoices", "invoice.view")),
    Item("settings", _l("Settings"), permission(Part.SETTINGS)),
    Item("history", _l("History"), permission(Part.HISTORY)),
)

#: The tabs of a contact's (or private customer's) card.
CONTACT_TABS = (
    Item("overview", _l("Overview"), "tab.overview"),
    Item("companies", _l("Companies"), "tab.contacts"),
    Item("opportunities", _l("Sales opportunities"), ("tab.opportunities", "opportunity.view")),
    Item("invoices", _l("Orders and invoices"), ("tab.invoices", "invoice.view")),
    Item("activities", _l("Activities"), permission(Part.ACTIVITIES)),
    Item("email", _l("E-mail"), permission(Part.EMAIL)),
    Item("settings", _l("Settings"), permission(Part.SETTINGS)),
    Item("history", _l("History"), permission(Part.HISTORY)),
)

#: Preference groups an employee can hide and order.
GROUPS: dict[str, tuple[Item, ...] | None] = {
    "modules": None,
    "company_tabs": COMPANY_TABS,
    "contact_tabs": CONTACT_TABS,
}


def group_items(group: str, items=None) -> tuple[Item, ...]:
    """The items given, else the group's own (the menu passes the modules, which it owns)."""
    found = items if items is not None else GROUPS[group]
    if found is None:
        raise ValueError(f"the items of {group!r} are passed by the caller")
    return tuple(found)


def arrange(items, *, allowed, hidden=(), order=()) -> list:
    """The allowed, not hidden items, in the saved order; unsaved ones keep their default place after."""
    rank = {key: n for n, key in enumerate(order)}
    visible = [i for i in items if allowed(i) and i.key not in set(hidden)]
    return sorted(visible, key=lambda i: (rank.get(i.key, len(rank)), items.index(i)))


def preferences(employee) -> dict:
    return employee.preferences or {}


def hidden(employee, group: str) -> list[str]:
    return list(preferences(employee).get("hidden", {}).get(group, []))


def order(employee, group: str) -> list[str]:
    return list(preferences(employee).get("order", {}).get(group, []))


def visible_items(employee, group: str, items=None) -> list:
    """What `employee` sees of `group`, in order (items default to the group's registry)."""
    return arrange(
        group_items(group, items),
        allowed=lambda i: i.permitted(employee),
        hidden=hidden(employee, group),
        order=order(employee, group),
    )


def all_items(employee, group: str, items=None) -> list:
    """Every item of the group in the employee's order, hidden and forbidden ones included."""
    return arrange(group_items(group, items), allowed=lambda _i: True, order=order(employee, group))


def save(employee, group: str, *, hidden_keys, order_keys, items=None) -> None:
    """Store the employee's choice for a group; unknown keys are dropped."""
    known = {i.key for i in group_items(group, items)}
    prefs = dict(preferences(employee))
    prefs["hidden"] = {**prefs.get("hidden", {}), group: [k for k in hidden_keys if k in known]}
    seen = []
    for key in order_keys:
        if key in known and key not in seen:
            seen.append(key)
    prefs["order"] = {**prefs.get("order", {}), group: seen}
    employee.preferences = prefs  # a new dict, so SQLAlchemy sees the change


# --- the columns of a list ("Kolumner") ---------------------------------------------------


def list_columns(employee, list_key: str, available, default) -> list[str]:
    """The columns of list `list_key` the employee shows, in the list's own order: the saved
    choice, else `default` (the columns that fit a 1366 px screen)."""
    saved = preferences(employee).get("columns", {}).get(list_key)
    wanted = set(saved or default)
    return [c for c in available if c in wanted] or list(default)


def save_list_columns(employee, list_key: str, keys, available) -> None:
    """Store the employee's columns for a list; unknown keys are dropped, at least one is kept."""
    chosen = [c for c in available if c in set(keys)]
    if not chosen:
        raise InvalidValue(_l("Choose at least one column."))
    prefs = dict(preferences(employee))
    prefs["columns"] = {**prefs.get("columns", {}), list_key: chosen}
    employee.preferences = prefs  # a new dict, so SQLAlchemy sees the change


def reset_list_columns(employee, list_key: str) -> None:
    """Forget the employee's columns for a list: it shows its default columns again."""
    prefs = dict(preferences(employee))
    prefs["columns"] = {k: v for k, v in prefs.get("columns", {}).items() if k != list_key}
    employee.preferences = prefs
