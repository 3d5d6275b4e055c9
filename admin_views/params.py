"""Numbers and ids from the query string or a form, parsed in one place.

A parameter that is absent or empty gets its default. One that is there but is no whole
number in range never reaches the database (where 2**64, -1 or 1.5 made a 500): an id
answers 404 (it names no record), any other number 400 with a Swedish message. The rule
itself is services.validation.whole_number.
"""

from __future__ import annotations

from flask import abort, request
from flask_babel import gettext as _
from werkzeug.exceptions import BadRequest
from werkzeug.routing import IntegerConverter

from services.validation import MAX_INTEGER, unsavable_character, whole_number


class BadParameter(BadRequest):
    """400 with a message for the user (shown by the app's 400 page)."""


def _values(source):
    return request.args if source is None else source


def _present(values, name: str) -> str | None:
    value = values.get(name)
    return None if value is None or not value.strip() else value


def id_param(name: str, source=None) -> int | None:
    """An id: None when absent or empty, else a valid id or 404."""
    value = _present(_values(source), name)
    if value is None:
        return None
    number = whole_number(value)
    if number is None:
        abort(404)
    return number


def id_list_param(name: str, source=None) -> list[int]:
    """Every value of a repeated id parameter (empty ones skipped); 404 when one is not an id."""
    numbers = []
    for value in _values(source).getlist(name):
        if value.strip():
            number = whole_number(value)
            if number is None:
                abort(404)
            numbers.append(number)
    return numbers


def int_param(name: str, default: int | None = None, *, source=None, minimum: int = 1, maximum: int = MAX_INTEGER):
    """A number such as a page: the default when absent or empty, else a whole number in range or 400."""
    value = _present(_values(source), name)
    if value is None:
        return default
    number = whole_number(value, minimum=minimum, maximum=maximum)
    if number is None:
        raise BadParameter(
            _(
                "The address has an invalid value for %(name)s: a whole number from %(minimum)s to %(maximum)s "
                "is expected.",
                name=name,
                minimum=minimum,
                maximum=maximum,
            )
        )
    return number


class IdConverter(IntegerConverter):
    """`<int:…>` in a URL: digits that fit an id column, else the route does not match (404)."""

    def __init__(self, map, *args, **kwargs):
        kwargs.setdefault("max", MAX_INTEGER)
        super().__init__(map, *args, **kwargs)


def form_id(value) -> int:
    """WTForms `coerce` for a field of ids: a value that is no id is the field's error (not a 500)."""
    number = value if isinstance(value, int) and not isinstance(value, bool) else whole_number(value)
    if number is None or not 1 <= number <= MAX_INTEGER:
        raise ValueError(_("Choose from the list."))
    return number


def refuse_nul_characters() -> None:
    """Before every request: no parameter may hold a character that cannot be saved
    (`services.validation.unsavable_character`: NUL, a lone surrogate). PostgreSQL cannot store or
    compare a NUL (a search with one answered 500), and no one types it: 400, in Swedish. (Werkzeug
    reads a query or form as UTF-8, where no surrogate can be written; the rule is the API's too.)"""
    for values in (request.args, request.form) if request.method != "GET" else (request.args,):
        for key, value in values.items(multi=True):
            reason = unsavable_character(key) or unsavable_character(value)
            if reason:
                raise BadParameter(reason)
