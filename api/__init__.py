"""The REST API at /api/v1/ (flask-smorest): OpenAPI 3.1 at /api/v1/openapi.json, the browsable
documentation at /api/v1/docs, every call authenticated by an API key (services.api_keys)."""

from __future__ import annotations

import os

from flask import Blueprint, Flask, render_template, send_from_directory

from api.core import PUBLIC, CrmApi, authenticate, forget_key, requires

API_PREFIX = "/api/v1"


def _swagger_ui_dir() -> str:
    import flask_swagger_ui

    return os.path.join(os.path.dirname(flask_swagger_ui.__file__), "dist")


docs = Blueprint("api_docs", __name__, url_prefix=f"{API_PREFIX}/docs")


@docs.route("/")
@requires(PUBLIC)
def page():
    """Swagger UI on the OpenAPI document, from the flask-swagger-ui package's files (no CDN)."""
    return render_template("api_docs.html")


@docs.route("/assets/<path:filename>")
@requires(PUBLIC)
def asset(filename):
    return send_from_directory(_swagger_ui_dir(), filename, max_age=86400)


def init_app(app: Flask) -> CrmApi:
    """Register the API: its config, its request cycle (key, permission, limit) and its blueprints."""
    from api.endpoints import register_all

    app.config.setdefault("API_PREFIX", API_PREFIX)
    app.config.setdefault("API_TITLE", "Kundregister API")
    app.config.setdefault("API_VERSION", "v1")
    app.config.setdefault("OPENAPI_VERSION", "3.1.0")
    app.config.setdefault("OPENAPI_URL_PREFIX", API_PREFIX)
    app.config.setdefault("OPENAPI_JSON_PATH", "openapi.json")
    app.config.setdefault(
        "API_SPEC_OPTIONS",
        {
            "info": {
                "description": "The customer register of Kundregister. Authenticate with an API key from "
                "Administration – Integrationer: `Authorization: Bearer crm_…`. Errors are "
                "application/problem+json, in Swedish (English with Accept-Language: en).",
            },
            "components": {"securitySchemes": {"apiKey": {"type": "http", "scheme": "bearer"}}},
            "security": [{"apiKey": []}],
        },
    )
    app.config.setdefault("API_RATE_LIMIT", os.environ.get("CRM_API_RATE_LIMIT", "600 per minute"))
    # Our key check runs first: before the app's own login-session bookkeeping, which an API call has none of.
    app.before_request_funcs.setdefault(None, []).insert(0, authenticate)
    app.teardown_request(forget_key)
    api = CrmApi(app)
    from api.schemas import DecimalString, UtcDateTime

    api.register_field(DecimalString, "string", "decimal")
    api.register_field(UtcDateTime, "string", "date-time")
    register_all(api)
    app.register_blueprint(docs)
    from extensions import csrf

    for name, blueprint in app.blueprints.items():
        if name.startswith("api_") and name != "api_docs":
            csrf.exempt(blueprint)  # authenticated by a key in a header, never by a cookie
    return api
