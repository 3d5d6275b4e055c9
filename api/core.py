"""The API's request cycle: the key that authenticates a call, the permission each endpoint
declares, the language of its messages, the rate limit per key, and errors as problems."""

from __future__ import annotations

import hashlib
import json

from flask import current_app, g, request
from flask_smorest import Api, Blueprint
from webargs import core as webargs_core
from webargs.flaskparser import FlaskParser, is_json_request

from api.problems import PROBLEM_TYPE, ProblemSchema, from_http_exception, is_api_request, problem, unsavable_errors
from extensions import db
from services import api_keys, audit

#: Marks an endpoint anybody may read (the OpenAPI document and its page).
PUBLIC = "public"
#: flask-smorest's own endpoint serving the OpenAPI document.
SPEC_ENDPOINT = "api-docs.openapi_json"


#: The deepest a JSON body may nest (arrays and objects). No endpoint takes more than a few levels;
#: deeper, Python's parser ran out of stack (100,000 `[`: RecursionError, a 500), and what reads the
#: body after it (the NUL check, marshmallow) recurses too.
MAX_JSON_DEPTH = 32


def read_json(data: bytes):
    """A request body's JSON; json.JSONDecodeError when it is none, or nests deeper than MAX_JSON_DEPTH."""
    try:
        value = webargs_core.parse_json(data)
    except RecursionError:
        raise json.JSONDecodeError("nested too deeply", "(body)", 0) from None
    level, depth = [value], 0
    while level:
        depth += 1
        if depth > MAX_JSON_DEPTH:
            raise json.JSONDecodeError("nested too deeply", "(body)", 0)
        level = [
            child
            for node in level
            if isinstance(node, (dict, list))
            for child in (node.values() if isinstance(node, dict) else node)
            if isinstance(child, (dict, list))
        ]
    return value


class JsonParser(FlaskParser):
    """webargs' parser, reading a body by `read_json`: one that nests too deeply is "not valid JSON"
    (400), like any other unreadable body."""

    def _raw_load_json(self, req):
        if not is_json_request(req):
            return webargs_core.missing
        return read_json(req.get_data(cache=True))


#: The one parser of the API's bodies, for the endpoints and for `authenticate`'s look at the body.
PARSER = JsonParser()


class CrmBlueprint(Blueprint):
    """flask-smorest's Blueprint, reading bodies with PARSER."""

    ARGUMENTS_PARSER = PARSER


def requires(*permissions: str):
    """Declare the permissions an API endpoint needs (all of them); an endpoint without is refused."""

    def mark(fn):
        fn._permission = permissions
        return fn

    return mark


def endpoint_permissions(endpoint: str | None) -> tuple[str, ...] | None:
    if endpoint == SPEC_ENDPOINT:
        return (PUBLIC,)
    view = current_app.view_functions.get(endpoint) if endpoint else None
    return getattr(view, "_permission", None)


def bearer_token() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _sep, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def authenticate():
    """Before every API request: the key, its employee (who the request acts as), the permission."""
    if not is_api_request():
        return None
    g.api_request = True
    permissions = endpoint_permissions(request.endpoint)
    if request.endpoint is None or permissions == (PUBLIC,):
        return None  # 404/405 (answered as problems), or the documentation
    key = api_keys.authenticate(db.session, bearer_token())
    db.session.commit()  # the key's last use
    if key is None:
        return _wrong_keys_refused() or problem(401, headers={"WWW-Authenticate": 'Bearer realm="api"'})
    employee = key.employee
    g.api_key = key
    g._login_user = employee  # Flask-Login's current_user is the key's employee (never a cookie's)
    db.session.info[audit.ACTOR_KEY] = employee.id
    audit.through_api_key(db.session, key.id)
    if not permissions or not all(employee.has_permission(p) for p in permissions):
        return problem(403)
    # the body as the endpoint will read it: a 400 problem here when it is not JSON (or nests too deeply)
    refused = unsavable_errors(PARSER.load_json(request, None)) if request.is_json else None
    if refused:
        return problem(422, errors=refused)
    return None


def _wrong_keys_refused():
    """Calls without a valid key (none, made up, revoked, expired) count per client address against
    the keys' rate limit: a 429 once it is used up (each made-up key was a count of its own, and the
    401 was answered before any limit). A valid key from the same address is not refused: its calls
    count as that key's."""
    from flask_limiter.util import get_remote_address
    from limits import parse

    from extensions import limiter

    if not limiter.enabled:
        return None
    prefix = current_app.config.get("RATELIMIT_KEY_PREFIX") or ""  # as Flask-Limiter's own keys carry it
    item, who = parse(rate_limit()), (prefix, "api-wrong-key", get_remote_address() or "")
    if limiter.limiter.hit(item, *who):
        return None
    import time

    reset_at, _remaining = limiter.limiter.get_window_stats(item, *who)
    return problem(429, headers={"Retry-After": str(max(1, int(reset_at - time.time()) + 1))})


def forget_key(exc=None):
    """After the request: the session no longer writes as the key (the session may be reused)."""
    if g.get("api_key") is not None:
        db.session.info.pop(audit.ACTOR_KEY, None)
        audit.through_api_key(db.session, None)


def rate_limit_key() -> str:
    """Flask-Limiter's key: the presented API key (as a hash), else the client's address."""
    from flask_limiter.util import get_remote_address

    token = bearer_token()
    if token:
        return "api-key:" + hashlib.sha256(token.encode()).hexdigest()[:32]
    return "api-ip:" + (get_remote_address() or "")


def rate_limit() -> str:
    return current_app.config["API_RATE_LIMIT"]


def locale_of_request(supported, default: str) -> str:
    """An API call's language: Accept-Language (sv or en), Swedish by default."""
    return request.accept_languages.best_match(supported, default=default) or default


class CrmApi(Api):
    """flask-smorest's Api, with problem+json errors (documented and answered) for /api/v1/."""

    ERROR_SCHEMA = ProblemSchema

    def _register_responses(self):
        """The error responses every operation refers to, as application/problem+json."""
        saved, self.DEFAULT_RESPONSE_CONTENT_TYPE = self.DEFAULT_RESPONSE_CONTENT_TYPE, PROBLEM_TYPE
        try:
            super()._register_responses()
        finally:
            self.DEFAULT_RESPONSE_CONTENT_TYPE = saved

    def handle_http_exception(self, error):
        if not is_api_request():
            return error  # the app's own pages
        return from_http_exception(error)
