"""Personnummer: who may read them, and the one place they are masked.

A personnummer is stored in full (`YYYYMMDD-NNNN`, services.validation). An employee with the
permission "Visa personnummer" (`PERMISSION`) sees it in full; everyone else sees the birth date
only, `YYYYMMDD-XXXX`, wherever it shows: lists, cards, forms, Historik, exports, reports, print,
search results and the API. Each of those asks `shown()` (or `reveal()` once, then `shown()` per
value) and never formats the stored value itself.

Writing back: a form or API call that returns the masked value it was shown leaves the stored
number as it is (`unless_unchanged`), so an employee who may not read it can still edit the
record's other fields. A new number may be typed by anyone who may edit the record.

Searching by a full personnummer finds the person only for an employee who may read it
(`search_condition`); for anyone else the number is not searched at all, so a search never tells
whether a guessed number is someone's.
"""

from __future__ import annotations

import re

from sqlalchemy.sql.elements import ColumnElement

from models import Contact
from services import validation

PERMISSION = "privacy.personnummer"
FIELD = "personal_number"
MASK = "XXXX"
_STORED = re.compile(r"^(\d{8})-?\d{4}$")


def reveal(employee) -> bool:
    """True when `employee` may read personnummer in full."""
    return bool(getattr(employee, "is_authenticated", False)) and employee.has_permission(PERMISSION)


def masked(value: str | None) -> str:
    """`19850312-1234` → `19850312-XXXX`; anything else that is not a personnummer → `XXXX`."""
    if not value:
        return ""
    found = _STORED.match(str(value).strip())
    return f"{found.group(1)}-{MASK}" if found else MASK


def shown(value: str | None, may_read: bool) -> str:
    """The personnummer as this reader may see it."""
    if not value:
        return ""
    return str(value) if may_read else masked(value)


def shown_to(value: str | None, employee) -> str:
    return shown(value, reveal(employee))


def unless_unchanged(submitted: str | None, stored: str | None) -> tuple[bool, str | None]:
    """(changed, value to store) for a submitted personnummer: the masked form of the stored one
    (what a reader without the permission was shown) changes nothing."""
    if stored and submitted is not None and str(submitted).strip().upper() == masked(stored):
        return False, stored
    return True, validation.personal_number(submitted)


def drop_unchanged(record, values: dict) -> dict:
    """`values` without a personnummer that is only the masked stored one (services.records)."""
    if FIELD in values and not unless_unchanged(values[FIELD], getattr(record, FIELD, None))[0]:
        values = {k: v for k, v in values.items() if k != FIELD}
    return values


def search_condition(model, text: str | None, employee) -> ColumnElement[bool] | None:
    """`Contact.personal_number == <number>` when searching contacts for a whole personnummer and
    `employee` may read personnummer; else None (the text is searched as usual, where personnummer
    are not)."""
    if model is not Contact or not text or not reveal(employee):
        return None
    try:
        number = validation.personal_number(text.strip())
    except validation.InvalidValue:
        return None
    return Contact.personal_number == number if number else None


def audit_value(field: str, value, may_read: bool):
    """An old or new value in Historik: a personnummer masked for who may not read it."""
    return shown(value, may_read) if field == FIELD and isinstance(value, str) else value
