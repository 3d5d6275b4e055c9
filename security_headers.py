"""HTTP security headers and cookie flags, for every response (issue 12).

- Content-Security-Policy (flask-talisman): scripts only from this site or carrying the
  request's nonce — no `unsafe-inline` for scripts, so an injected `<script>` or `on…=`
  attribute does not run. Our pages have no inline scripts or handlers (behaviour is in
  static/js, wired by data- attributes); Flask-Admin's few inline scripts carry the nonce
  (`Admin(csp_nonce_generator=csp_nonce)`).
- `Cache-Control: no-store` on every page that is not a static file: what a logged-in
  employee saw is not kept by the browser or a proxy (the back button after logout).
- Cookies: SameSite=Lax and HttpOnly on every cookie the app sets (the session, the
  remember-me cookie, …), and Secure when the request came over HTTPS (behind a proxy:
  `CRM_PROXY_COUNT`, so X-Forwarded-Proto counts) or `CRM_SECURE_COOKIES=1`.
- The `Server` header is the web server's: gunicorn sends `Server: gunicorn` without a
  version (README, Production); the Werkzeug server of `flask run` is for development.
"""

from flask import Flask, request
from flask_talisman import Talisman

talisman = Talisman()

#: The policy; talisman adds the request's nonce to script-src.
CONTENT_SECURITY_POLICY = {
    "default-src": "'self'",
    "script-src": "'self'",
    # 'unsafe-inline' for styles only: style="" attributes of our templates (bar widths,
    # colour swatches) and the markup that select2, Bootstrap and Flask-Admin build with
    # inline styles. A style cannot run code; scripts stay strict.
    "style-src": "'self' 'unsafe-inline'",
    "img-src": "'self' data:",  # data: — Bootstrap's own icons (form controls) are data: SVGs in its CSS
    "font-src": "'self'",
    "connect-src": "'self'",
    "object-src": "'none'",
    "base-uri": "'self'",
    "form-action": "'self'",
    "frame-ancestors": "'none'",
}

#: Endpoints that serve static files (they may be cached).
STATIC_ENDPOINTS = frozenset({"static", "admin.static"})

#: The attributes every cookie gets (lower-case name → the attribute as written).
COOKIE_ATTRIBUTES = {"httponly": "HttpOnly", "samesite": "SameSite=Lax"}


def csp_nonce() -> str:
    """This request's script nonce (for templates and Flask-Admin)."""
    return getattr(request, "csp_nonce", "")


def init_app(app: Flask) -> None:
    talisman.init_app(
        app,
        force_https=False,  # TLS ends at the reverse proxy; redirecting is its job
        session_cookie_secure=app.config["SESSION_COOKIE_SECURE"],
        session_cookie_samesite="Lax",
        content_security_policy=CONTENT_SECURITY_POLICY,
        content_security_policy_nonce_in=["script-src"],
        frame_options="DENY",
        referrer_policy="same-origin",
    )
    app.after_request(no_store)
    app.wsgi_app = CookieFlags(app.wsgi_app, app.config)


def no_store(response):
    """Pages (not static files) are not stored by the browser or any cache."""
    if request.endpoint not in STATIC_ENDPOINTS:
        response.headers["Cache-Control"] = "no-store"
        response.headers.pop("Expires", None)
    return response


class CookieFlags:
    """WSGI middleware: SameSite=Lax and HttpOnly on every Set-Cookie of every response, and
    Secure when the request came over HTTPS or SESSION_COOKIE_SECURE (CRM_SECURE_COOKIES) is
    set. Below Flask's own response handling, so it sees every cookie (Flask writes the
    session cookie after all `after_request` functions); inside ProxyFix, so a proxy's
    X-Forwarded-Proto counts."""

    def __init__(self, wsgi_app, config):
        self.wsgi_app = wsgi_app
        self.config = config

    def __call__(self, environ, start_response):
        secure = self.config.get("SESSION_COOKIE_SECURE") or environ.get("wsgi.url_scheme") == "https"

        def start(status, headers, exc_info=None):
            headers = [
                (name, with_flags(value, secure=secure) if name.lower() == "set-cookie" else value)
                for name, value in headers
            ]
            return start_response(status, headers, exc_info)

        return self.wsgi_app(environ, start)


def with_flags(cookie: str, *, secure: bool) -> str:
    """A Set-Cookie value with the attributes it lacks added."""
    present = {part.split("=", 1)[0].strip().lower() for part in cookie.split(";")[1:]}
    added = [value for key, value in COOKIE_ATTRIBUTES.items() if key not in present]
    if secure and "secure" not in present:
        added.append("Secure")
    return "; ".join([cookie, *added]) if added else cookie
