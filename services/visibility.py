"""What an employee may see of a customer, beyond its register fields: the one rule.

A customer's card has parts that are more than its name, numbers and addresses:
its activities, its history, its invoice settings (the Inställningar tab), its
e-mail, its file area and its custom fields (Egna fält). Each part is seen by
whoever holds its `tab.<part>` permission — the role's, plus an administrator's
grants, minus revocations (Behörigheter, services.permissions) — and by nobody
else, wherever it would show: the card's tab, the Översikt's figures and lists,
other pages (an opportunity's activities, the start page's own activities), the
edit and create forms, list exports, reports and the Rapportgenerator.

The e-mail of a customer whose E-post tab is locked is, in addition, readable
only as services.email_lock decides (per message, in its own gate).

Hiding a tab on one's own card (services.layout) is a preference, not this rule:
a hidden tab's part still shows elsewhere.
"""

from enum import StrEnum


class Part(StrEnum):
    """A part of a customer that not every employee may see."""

    ACTIVITIES = "activities"
    HISTORY = "history"
    SETTINGS = "settings"
    EMAIL = "email"
    FILES = "files"
    CUSTOM = "custom"


#: The permission that shows each part (also the permission of the card's tab of that name).
PERMISSIONS: dict[Part, str] = {part: f"tab.{part}" for part in Part}

#: The customer's own fields that belong to a part: its invoice defaults are the Inställningar tab.
FIELD_PARTS: dict[str, Part] = {
    "invoice_language": Part.SETTINGS,
    "discount_percent": Part.SETTINGS,
    "payment_terms_days": Part.SETTINGS,
    "currency": Part.SETTINGS,
}


def permission(part: Part) -> str:
    """The permission string that shows `part` (for `@require` and the tab registry)."""
    return PERMISSIONS[Part(part)]


def may_see(employee, part: Part) -> bool:
    """True when `employee` may see `part` of customers (an inactive employee sees nothing)."""
    return bool(employee is not None and employee.has_permission(permission(part)))


def visible_parts(employee) -> frozenset[Part]:
    return frozenset(part for part in Part if may_see(employee, part))


def may_see_field(employee, name: str) -> bool:
    """True when `employee` may see the customer field `name` (fields of no part: always)."""
    part = FIELD_PARTS.get(name)
    return part is None or may_see(employee, part)


def hidden_fields(employee, names) -> list[str]:
    """Those of the field `names` that `employee` may not see (nor set)."""
    return [name for name in names if not may_see_field(employee, name)]
