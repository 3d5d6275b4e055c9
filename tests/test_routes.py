"""The route table: every URL of the app, asked by anonymous and by each role.

EXPECTED is the specification of who may reach what. A new endpoint that is
not in it fails `test_every_endpoint_is_in_the_route_table`, so nothing is
added without deciding its permission.
"""

import pytest

from services.permissions import ROLES as ROLE_MAP

PUBLIC = "public"
LOGGED_IN = "logged-in"
#: Allowed for the employee the URL names (id 1: the admin of the fixtures) and for employee.manage.
SELF_OR_MANAGE = "self-or-employee.manage"


def model_view(area, *, manage_only=False, manage_writes=False, extra=None):
    view = "manage" if manage_only else "view"
    write = lambda verb: "manage" if (manage_only or manage_writes) else verb  # noqa: E731
    table = {
        "index_view": f"{area}.{view}",
        "details_view": f"{area}.{view}",
        "ajax_lookup": f"{area}.{view}",
        "action_view": f"{area}.{view}",
        "create_view": f"{area}.{write('create')}",
        "edit_view": f"{area}.{write('edit')}",
        "ajax_update": f"{area}.{write('edit')}",
        "delete_view": f"{area}.{write('delete')}",
        "export": f"{area}.{write('export')}",
    }
    table.update(extra or {})
    return table


def card_endpoints(area):
    """The customer card of a company or contact view (admin_views.card)."""
    view = f"{area}.view"
    return {
        "card": view,
        "card_tab": view,
        "card_settings": (f"{area}.edit", "tab.settings"),
        "add_activity": (view, "activity.edit"),
        "activity_done": (view, "activity.edit"),
        "upload_file": (view, "tab.files", "file.upload"),
        "download_file": (view, "tab.files"),
        "delete_file": (view, "tab.files", "file.delete"),
        "email_message": (view, "tab.email"),
        "save_custom_tab": (f"{area}.edit", "tab.custom"),
        "invoice_report": (view, "invoice.view", "report.view"),
        "invoice_report_export": (view, "invoice.view", "report.view", "invoice.export"),
        "send_email": (view, "email.send"),
        "send_sms": (view, "sms.send"),
    }


COMPANY_EXTRA = {
    **card_endpoints("company"),
    "link_contacts": "company.edit",
    "unlink_contact": "company.edit",
    "email_lock": ("company.view", "tab.email", "email.lock"),
}
CONTACT_EXTRA = {
    **card_endpoints("contact"),
    "search_json": "contact.view",
    "make_private_customer": "contact.edit",
}

EXPECTED = {
    "static": PUBLIC,
    "admin.static": PUBLIC,
    "auth.login": PUBLIC,
    "auth.root": PUBLIC,
    "auth.login_code": PUBLIC,
    "auth.logout": LOGGED_IN,
    "account.index": LOGGED_IN,
    "account.password": LOGGED_IN,
    "account.two_factor": LOGGED_IN,
    "account.two_factor_start": LOGGED_IN,
    "account.two_factor_confirm": LOGGED_IN,
    "account.recovery_codes": LOGGED_IN,
    "account.two_factor_disable": LOGGED_IN,
    "account.end_session": LOGGED_IN,
    "account.end_other_sessions": LOGGED_IN,
    "security.index": "security.manage",
    "security.save": "security.manage",
    "auth.set_language": LOGGED_IN,
    "admin.index": LOGGED_IN,
    "people.index": "contact.view",
    "trash.index": "company.restore",
    "trash.restore": "company.restore",
    "trash.purge": "company.purge",
    "trash.purge_confirm": "company.purge",
    "reports.index": "report.view",
    "reports.sales": ("report.view", "opportunity.view"),
    "reports.sales_export": ("report.view", "report.export", "opportunity.view"),
    "reports.activities": "report.view",
    "reports.activities_export": ("report.view", "report.export"),
    "reportgenerator.index": "report.view",
    "reportgenerator.export": ("report.view", "report.export"),
    "reportgenerator.save": "report.view",
    "reportgenerator.run": "report.view",
    "reportgenerator.delete": "report.view",
    "import.index": "import.run",
    "import.upload": "import.run",
    "import.template": "import.run",
    "import.mapping": "import.run",
    "import.job": "import.run",
    "import.progress": "import.run",
    "import.run": "import.run",
    "import.cancel": "import.run",
    "import.errors": "import.run",
    "import.undo": "import.undo",
}
for endpoint, table in {
    "company": model_view("company", extra=COMPANY_EXTRA),
    "supplier": model_view("company", extra=COMPANY_EXTRA),
    "contact": model_view("contact", extra=CONTACT_EXTRA),
    "privatecustomer": model_view("contact", extra=CONTACT_EXTRA),
    "employee": model_view(
        "employee",
        manage_writes=True,
        extra={
            "card": "employee.view",
            "save_layout": SELF_OR_MANAGE,
            "save_permissions": "employee.manage",
            "end_sessions": "security.manage",
            "reset_two_factor": "security.manage",
            "unlock": "security.manage",
        },
    ),
    "employeegroup": model_view("employee", manage_writes=True),
    "category": model_view("settings", manage_only=True),
    "industry": model_view("settings", manage_only=True),
    "salesstage": model_view("settings", manage_only=True),
    "customtab": model_view("settings", manage_only=True),
    "customfield": model_view("settings", manage_only=True),
    "lead": model_view("lead", extra={"convert": "lead.convert"}),
    "calllist": model_view(
        "calllist",
        extra={"work": "calllist.view", "record": ("calllist.edit", "activity.edit"), "add": "calllist.edit"},
    ),
    "savedsearch": {"index": LOGGED_IN, "save": LOGGED_IN, "delete": LOGGED_IN},
    "product": model_view("product", manage_writes=True, extra={"lookup": "product.view"}),
    "order": {
        **model_view(
            "order",
            extra={
                "page": "order.view",
                "confirm": "order.edit",
                "cancel": "order.edit",
                "to_invoice": ("order.edit", "invoice.create"),
            },
        ),
        "delete_view": "order.edit",
        "export": ("invoice.export", "order.view"),
    },
    "invoice": {
        **model_view(
            "invoice",
            extra={
                "page": "invoice.view",
                "print_view": "invoice.view",
                "send": "invoice.send",
                "paid": "invoice.send",
                "credit": "invoice.send",
                "cancel": "invoice.send",
            },
        ),
        "edit_view": "invoice.create",
        "ajax_update": "invoice.create",
        "delete_view": "invoice.create",
    },
    "opportunity": model_view(
        "opportunity",
        extra={
            "page": "opportunity.view",
            "add_activity": ("opportunity.view", "activity.edit"),
            "activity_done": ("opportunity.view", "activity.edit"),
            "board": "opportunity.view",
            "move": "opportunity.edit",
        },
    ),
}.items():
    EXPECTED.update({f"{endpoint}.{name}": permission for name, permission in table.items()})

#: Values for URL parameters when a rule has them.
URL_ARGS = {
    "id": 1,
    "contact_id": 1,
    "entry_id": 1,
    "activity_id": 1,
    "file_id": 1,
    "message_id": 1,
    "session_id": 1,
    "tab_id": 1,
    "tab": "overview",
    "export_type": "csv",
    "fmt": "csv",
    "entity": "company",
    "filename": "admin/css/bootstrap4/admin.css",
}


def _rules(app):
    return [rule for rule in app.url_map.iter_rules()]


def _url(rule) -> str:
    from flask import url_for

    values = {arg: URL_ARGS[arg] for arg in rule.arguments}
    if rule.endpoint == "static":
        values["filename"] = "css/crm.css"
    return url_for(rule.endpoint, **values)


def _method(rule) -> str:
    return "GET" if "GET" in rule.methods else "POST"


def test_every_endpoint_is_in_the_route_table(app):
    missing = sorted({rule.endpoint for rule in _rules(app)} - set(EXPECTED))
    assert not missing, f"endpoints without a decided permission: {missing}"


def test_route_table_names_only_known_permissions():
    from services.permissions import PERMISSIONS

    named = {p for value in EXPECTED.values() for p in ((value,) if isinstance(value, str) else value)}
    unknown = {p for p in named if p not in (PUBLIC, LOGGED_IN, SELF_OR_MANAGE) and p not in PERMISSIONS}
    assert not unknown


@pytest.fixture
def rules(app):
    with app.test_request_context():
        return [(rule.endpoint, _url(rule), _method(rule)) for rule in _rules(app)]


def test_anonymous_is_sent_to_login_with_next(client, rules):
    for endpoint, url, method in rules:
        permission = EXPECTED[endpoint]
        response = client.open(url, method=method, data={} if method == "POST" else None)
        if permission == PUBLIC:
            assert response.status_code in (200, 302), (endpoint, response.status_code)
            continue
        if method == "POST":
            # Without a session there is no CSRF token: refused before anything runs.
            assert response.status_code in (302, 400), (endpoint, response.status_code)
            continue
        assert response.status_code == 302, (endpoint, response.status_code)
        location = response.headers["Location"]
        assert location.startswith("/login?next="), (endpoint, location)


@pytest.mark.parametrize("role", list(ROLE_MAP))
def test_each_role_is_allowed_or_refused_as_the_table_says(login, rules, role, employees):
    from services.permissions import role_has_permission

    actions = login(role)
    token = actions.csrf_token()
    for endpoint, url, method in rules:
        permission = EXPECTED[endpoint]
        if endpoint in ("auth.logout", "account.end_session"):
            continue  # would end the session the rest of the loop needs (session 1 is this login's)
        if method == "POST":
            response = actions.client.post(url, data={"csrf_token": token})
        else:
            response = actions.client.get(url)
        if permission == SELF_OR_MANAGE:
            allowed = employees[role].id == URL_ARGS["id"] or role_has_permission(role, "employee.manage")
        elif isinstance(permission, tuple):
            allowed = all(role_has_permission(role, p) for p in permission)
        else:
            allowed = permission in (PUBLIC, LOGGED_IN) or role_has_permission(role, permission)
        if allowed:
            assert response.status_code != 403, (role, endpoint)
            assert not response.headers.get("Location", "").startswith("/login"), (role, endpoint)
            assert response.status_code < 500, (role, endpoint, response.status_code)
        else:
            assert response.status_code == 403, (role, endpoint, response.status_code)


def test_post_without_csrf_token_is_refused(login, make_company):
    company = make_company()
    actions = login("admin")
    response = actions.client.post(f"/admin/company/card/{company.id}/link-contacts", data={"contact_id": "1"})
    assert response.status_code == 400
    response = actions.client.post("/admin/company/action/", data={"action": "delete", "rowid": str(company.id)})
    assert response.status_code == 400
