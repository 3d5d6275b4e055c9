"""A page shows a link or a button only when the employee may use what it leads to.

Templates ask `may(endpoint)`, which reads the permissions the endpoint itself declares (the same
the server checks): every page of the demo register, walked as each role without all permissions,
is parsed for its links and POST forms, and each target is checked against that role's permissions.
"""

from html.parser import HTMLParser
from urllib.parse import urlsplit

import pytest
from werkzeug.exceptions import MethodNotAllowed, NotFound

from admin_views.base import PermissionMixin
from extensions import db
from services.permissions import LOGGED_IN
from tests.security import get_pages, tally


class Targets(HTMLParser):
    """(method, path) of every link and every POST form of a page."""

    def __init__(self):
        super().__init__()
        self.found: set[tuple[str, str]] = set()

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "a" and attrs.get("href"):
            self.found.add(("GET", attrs["href"]))
        elif tag == "form" and (attrs.get("method") or "get").lower() == "post":
            self.found.add(("POST", attrs.get("action") or ""))
        elif tag in ("button", "input") and attrs.get("formaction"):
            self.found.add(("POST", attrs["formaction"]))


def refused_targets(app, employee, page_html: str) -> list[tuple[str, str]]:
    """The links and forms of a page that lead to an endpoint `employee` may not use."""
    parser = Targets()
    parser.feed(page_html)
    adapter = app.url_map.bind("localhost")
    views = {view.endpoint: view for view in app.extensions["admin"][0]._views}
    refused = []
    for method, target in parser.found:
        parts = urlsplit(target)
        if parts.scheme or parts.netloc or not parts.path.startswith("/admin/"):
            continue  # mailto:, tel:, other sites, the login page …
        try:
            endpoint, args = adapter.match(parts.path, method=method)
        except (NotFound, MethodNotAllowed):
            refused.append((method, target))
            continue
        view_endpoint, _dot, name = endpoint.partition(".")
        view = views.get(view_endpoint)
        if not isinstance(view, PermissionMixin):
            continue
        needed = view.permission_for(name, args) or ("(declares none)",)
        if not all(p == LOGGED_IN or employee.has_permission(p) for p in needed):
            refused.append((method, target))
    return refused


@pytest.mark.parametrize("role", ["seller", "finance", "readonly"])
def test_no_page_offers_what_the_role_may_not_use(app, demo, login, employees, role):
    pages = get_pages(app, db.session)
    client = login(role).client
    employee = db.session.get(type(employees[role]), employees[role].id)
    db.session.close()
    checked = 0
    for url in pages:
        response = client.get(url)
        if response.status_code != 200 or not response.mimetype == "text/html":
            continue
        refused = refused_targets(app, employee, response.get_data(as_text=True))
        assert not refused, (role, url, refused)
        checked += 1
        tally(f"pages walked for links and buttons the role may not use ({role})")
    assert checked > 50, checked  # the walk reached the pages: cards, tabs, lists, reports
