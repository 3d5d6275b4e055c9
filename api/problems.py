"""Errors of the API as `application/problem+json` (RFC 9457), in Swedish or, with
`Accept-Language: en`, in English; field errors under `errors` ({field: [messages]})."""

from __future__ import annotations

import marshmallow as ma
from flask import current_app, has_request_context, jsonify, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from werkzeug.exceptions import HTTPException

PROBLEM_TYPE = "application/problem+json"

#: What each status means, for `title` and for the default `detail`.
TITLES = {
    400: _l("Bad request"),
    401: _l("Not authenticated"),
    403: _l("Forbidden"),
    404: _l("Not found"),
    405: _l("Method not allowed"),
    409: _l("Conflict"),
    413: _l("Request too large"),
    415: _l("Unsupported media type"),
    422: _l("Invalid data"),
    429: _l("Too many requests"),
    500: _l("Server error"),
}

DETAILS = {
    400: _l("The request could not be read."),
    401: _l("Give a valid API key in the header Authorization: Bearer <key>."),
    403: _l("The API key's employee does not have permission to do this."),
    404: _l("The record does not exist (it may have been deleted)."),
    405: _l("This address does not answer to that method."),
    409: _l("The record was changed by someone else; see `current` for the latest version."),
    413: _l("The request is too large."),
    415: _l("Send JSON (Content-Type: application/json)."),
    422: _l("Some values are not valid; see `errors`."),
    429: _l("Too many requests with this API key; wait and try again (see Retry-After)."),
    500: _l("Something went wrong on the server. Try again later."),
}

#: marshmallow's own messages (English, fixed) → ours, translated.
FIELD_MESSAGES = {
    "Missing data for required field.": _l("This field is required."),
    "Unknown field.": _l("Unknown field."),
    "Field may not be null.": _l("This field may not be empty (null)."),
    "Not a valid string.": _l("Not a text."),
    "Not a valid integer.": _l("Not a whole number."),
    "Not a valid number.": _l("Not a number."),
    "Not a valid boolean.": _l("Not true or false."),
    "Not a valid date.": _l("Not a date (YYYY-MM-DD)."),
    "Not a valid datetime.": _l("Not a date and time (YYYY-MM-DDTHH:MM:SS)."),
    "Not a valid list.": _l("Not a list."),
    "Invalid input type.": _l("Not an object."),
    "Invalid value.": _l("Not a valid value."),
    "Not a valid mapping type.": _l("Not an object."),
    "Shorter than minimum length 1.": _l("This field may not be empty."),
    "Special numeric values (nan or infinity) are not permitted.": _l("Not a number."),
    "Invalid JSON body.": _l("The body is not valid JSON."),
}


def field_message(message) -> str:
    """One field error in the request's language (ours are translated already)."""
    text = str(message)
    if text in FIELD_MESSAGES:
        return str(FIELD_MESSAGES[text])
    if text.startswith("Longer than maximum length"):
        return _("At most %(max)s characters.", max=text.rsplit(" ", 1)[-1].rstrip("."))
    if text.startswith("Length must be between 1 and ") or text.startswith("Length must be between 0 and "):
        return _("At most %(max)s characters.", max=text.rsplit(" ", 1)[-1].rstrip("."))
    if text.startswith("Must be one of:"):
        return _("Choose one of: %(values)s", values=text.split(":", 1)[1].strip().rstrip("."))
    if text.startswith("Must be between"):
        low, high = text.removeprefix("Must be between ").rstrip(".").split(" and ")
        return _("Must be between %(low)s and %(high)s.", low=low, high=high)
    if text.startswith(("Must be greater", "Must be less")):
        return _("The number is outside the allowed range.")
    return text


def flatten_errors(messages, prefix: str = "") -> dict[str, list[str]]:
    """marshmallow's nested {field: [msg] | {index: …}} as {"field" | "lines.0.quantity": [msg…]}."""
    flat: dict[str, list[str]] = {}
    if isinstance(messages, dict):
        for key, value in messages.items():
            name = f"{prefix}.{key}" if prefix else str(key)
            if name == "_schema":
                name = "_schema"
            for k, v in flatten_errors(value, name).items():
                flat.setdefault(k, []).extend(v)
    elif isinstance(messages, (list, tuple)):
        if all(isinstance(m, str) or not isinstance(m, (dict, list)) for m in messages):
            flat[prefix or "_schema"] = [field_message(m) for m in messages]
        else:
            for i, m in enumerate(messages):
                for k, v in flatten_errors(m, f"{prefix}.{i}").items():
                    flat.setdefault(k, []).extend(v)
    else:
        flat[prefix or "_schema"] = [field_message(messages)]
    return flat


def unsavable_errors(data, prefix: str = "") -> dict[str, list[str]]:
    """The fields of a JSON body whose text (or name) holds a character no database can store — NUL,
    or a lone surrogate such as `"\\ud800"` — as field errors (saving one was a 500); nobody types them."""
    from services.validation import printable_name, unsavable_character

    found: dict[str, list[str]] = {}
    if isinstance(data, dict):
        items = [(str(k), v) for k, v in data.items()]
    elif isinstance(data, list):
        items = [(str(i), v) for i, v in enumerate(data)]
    else:
        items = []
    for key, value in items:
        name = f"{prefix}.{key}" if prefix else key
        reason = unsavable_character(key) or (unsavable_character(value) if isinstance(value, str) else None)
        if reason:
            found[printable_name(name)] = [reason]
        elif isinstance(value, (dict, list)):
            found.update(unsavable_errors(value, name))
    return found


def problem(status: int, detail: str | None = None, *, errors=None, headers=None, **extra):
    """A problem+json response."""
    body = {
        "type": "about:blank",
        "title": str(TITLES.get(status, "Error")),
        "status": status,
        "detail": str(detail) if detail else str(DETAILS.get(status, TITLES.get(status, "Error"))),
        "instance": request.path,
    }
    if errors:
        body["errors"] = errors
    body.update(extra)
    response = jsonify(body)
    response.status_code = status
    response.mimetype = PROBLEM_TYPE
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def _retry_after() -> int:
    """Seconds until the exceeded rate limit's window lets a request through again."""
    import time

    from extensions import limiter

    current = limiter.current_limit
    return max(1, int(current.reset_at - time.time()) + 1) if current is not None else 60


def is_api_request() -> bool:
    if not has_request_context():
        return False
    prefix = current_app.config.get("API_PREFIX", "/api/v1")
    return request.path == prefix or request.path.startswith(prefix + "/")


def from_http_exception(error: HTTPException):
    """An HTTP error raised in an API view (abort, webargs validation, Flask-Limiter) as a problem."""
    data = getattr(error, "data", None) or {}
    errors = data.get("errors")
    if errors is None and "messages" in data:
        # webargs: {"json": {field: [msg]}} / {"query": {...}}
        errors = {}
        for _location, fields in data["messages"].items():
            for k, v in flatten_errors(fields).items():
                errors.setdefault(k, []).extend(v)
    headers = dict(data.get("headers") or {})
    if error.code == 429:
        headers["Retry-After"] = str(_retry_after())
    extra = {k: data[k] for k in ("current",) if k in data}
    detail = data.get("detail")
    from admin_views.params import BadParameter

    if detail is None and isinstance(error, BadParameter):
        detail = error.description  # the app's own message for the user (a NUL in a parameter)
    return problem(error.code or 500, detail, errors=errors or None, headers=headers, **extra)


class ProblemSchema(ma.Schema):
    """An error (RFC 9457 problem details)."""

    type = ma.fields.String(metadata={"description": "Always about:blank"})
    title = ma.fields.String(metadata={"description": "What kind of error (the HTTP status's meaning)"})
    status = ma.fields.Integer(metadata={"description": "The HTTP status"})
    detail = ma.fields.String(
        metadata={"description": "What went wrong, in Swedish (English with Accept-Language: en)"}
    )
    instance = ma.fields.String(metadata={"description": "The path of the request"})
    errors = ma.fields.Dict(
        keys=ma.fields.String(),
        values=ma.fields.List(ma.fields.String()),
        metadata={"description": "Field → messages, for invalid values"},
    )
    current = ma.fields.Dict(metadata={"description": "409: the record as it is now"})
