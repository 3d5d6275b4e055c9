"""The API's request cycle: the key that authenticates a call, the permission each endpoint
declares, the language of its messages, the rate limit per key, and errors as problems."""

from __future__ import annotations

import hashlib

from flask import current_app, g, request
from flask_smorest import Api

from api.problems import PROBLEM_TYPE, ProblemSchema, from_http_exception, is_api_request, problem, unsavable_errors
from extensions import db
from services import api_keys, audit

#: Marks an endpoint anybody may read (the OpenAPI document and its page).
PUBLIC = "public"
#: flask-smorest's own endpoint serving the OpenAPI document.
SPEC_ENDPOINT = "api-docs.openapi_json"


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
    refused = unsavable_errors(request.get_json(silent=True)) if request.is_json else None
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
