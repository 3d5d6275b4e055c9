"""The route table: every URL of the app, asked by anonymous and by each role.

EXPECTED is the specification of who may reach what. A new endpoint that is
not in it fails `test_every_endpoint_is_in_the_route_table`, so nothing is
added without deciding its permission.
"""

import pytest

from services.permissions import ROLES as ROLE_MAP
from tests.security import demo_ids, route_values, routes, tally

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
        "choose_columns": f"{area}.{view}",  # the employee's own columns of the list
    }
    table.update(extra or {})
    return table


def card_endpoints(area, extra=None):
    """The customer card of a company or contact list, a view of its own (admin_views.card)."""
    view = f"{area}.view"
    return {
        "to_list": view,
        "index": view,
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
        **(extra or {}),
    }


def mass_update_endpoints(area):
    """Ändra flera on a list (admin_views.mass_update)."""
    return {
        "mass_update_matches": f"{area}.edit",
        "mass_update_apply": f"{area}.edit",
        "mass_update_status": f"{area}.edit",
        "mass_update_undo": f"{area}.edit",
    }


def mass_message_endpoints(area):
    """Massutskick from a list of people (admin_views.mass_messages)."""
    needs = (f"{area}.view", "message.bulk")
    return {
        "mass_message_matches": needs,
        "mass_message_post": needs,
        "mass_message_status": needs,
        "mass_message_history": needs,
    }


COMPANY_CARD = card_endpoints(
    "company",
    {
        "link_contacts": "company.edit",
        "unlink_contact": "company.edit",
        "email_lock": ("company.view", "tab.email", "email.lock"),
        "registry_compare": ("company.edit", "registry.lookup"),
        "registry_refresh": ("company.edit", "registry.lookup"),
    },
)
CONTACT_CARD = card_endpoints("contact", {"make_private_customer": "contact.edit"})
#: A contact list also answers the contact search of the company card's "Koppla existerande kontakt".
CONTACT_LIST = {**mass_update_endpoints("contact"), **mass_message_endpoints("contact"), "search_json": "contact.view"}

EXPECTED = {
    "static": PUBLIC,
    "admin.static": PUBLIC,
    "auth.login": PUBLIC,
    "auth.root": PUBLIC,
    "auth.login_code": PUBLIC,
    "auth.logout": LOGGED_IN,
    "registry.index": "registry.lookup",
    "registry.lookup": "registry.lookup",
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
    # the page: anyone who may view a register (each sees the registers they may view); acting on a
    # register's duplicates (the kind in the URL, company here): duplicate.merge and its view and edit
    "duplicates.index": LOGGED_IN,
    "duplicates.scan": ("duplicate.merge", "company.view", "company.edit"),
    "duplicates.dismiss": ("duplicate.merge", "company.view", "company.edit"),
    "duplicates.merge_page": ("duplicate.merge", "company.view", "company.edit"),
    "duplicates.merge": ("duplicate.merge", "company.view", "company.edit"),
    "duplicates.undo": ("duplicate.merge", "company.view", "company.edit"),
    "privacy.index": "privacy.extract",
    "privacy.subject": "privacy.extract",
    "privacy.extract": "privacy.extract",
    "privacy.erase": "privacy.erase",
    "privacy.erase_confirm": "privacy.erase",
    "privacy.create_rule": "privacy.retention",
    "privacy.rule": "privacy.retention",
    "privacy.run_rule": ("privacy.retention", "privacy.erase"),
    "privacy.delete_rule": "privacy.retention",
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
    "import.retry": "import.run",
    "import.errors": "import.run",
    "import.undo": "import.undo",
    "integrations.index": "integration.manage",
    "integrations.create_key": "integration.manage",
    "integrations.revoke_key": "integration.manage",
    "integrations.create_webhook": "integration.manage",
    "integrations.webhook": "integration.manage",
    "integrations.webhook_active": "integration.manage",
    "integrations.webhook_delete": "integration.manage",
    "integrations.resend": "integration.manage",
    # the REST API's documentation
    "api-docs.openapi_json": PUBLIC,
    "api_docs.page": PUBLIC,
    "api_docs.asset": PUBLIC,
}


def api_resource(area, *, view=None, create=None, edit=None, delete=None, restore=None, extra=None):
    """The endpoints of one API resource (api.resources) and the permission each needs."""
    table = {"list_records": view or f"{area}.view", "get_record": view or f"{area}.view"}
    for name, permission in (
        ("create_record", create),
        ("update_record", edit),
        ("delete_record", delete),
        ("restore_record", restore),
    ):
        if permission:
            table[name] = permission
    table.update(extra or {})
    return table


SETTINGS_WRITES = {"create": "settings.manage", "edit": "settings.manage", "delete": "settings.manage"}


def api_customer(area):
    return {
        "custom_fields": (f"{area}.view", "tab.custom"),
        "save_custom_fields": (f"{area}.edit", "tab.custom"),
    }


#: /api/v1/: called with an API key (never a session cookie), each endpoint with its permission.
API_EXPECTED = {}
for blueprint, table in {
    "api_companies": api_resource(
        "company",
        create="company.create",
        edit="company.edit",
        delete="company.delete",
        restore="company.restore",
        extra={
            **api_customer("company"),
            "company_by_customer_number": "company.view",
            "company_by_org_number": "company.view",
            "company_emails": ("company.view", "tab.email"),
        },
    ),
    "api_contacts": api_resource(
        "contact",
        create="contact.create",
        edit="contact.edit",
        delete="contact.delete",
        restore="company.restore",
        extra={**api_customer("contact"), "contact_by_customer_number": "contact.view"},
    ),
    "api_leads": api_resource(
        "lead", create="lead.create", edit="lead.edit", delete="lead.delete", restore="lead.restore"
    ),
    "api_activities": api_resource(
        "activity",
        view=("company.view", "tab.activities"),
        create=("activity.edit", "tab.activities"),
        edit=("activity.edit", "tab.activities"),
        delete=("activity.edit", "tab.activities"),
    ),
    "api_opportunities": api_resource(
        "opportunity",
        create="opportunity.create",
        edit="opportunity.edit",
        delete="opportunity.delete",
        extra={"move_opportunity": "opportunity.edit"},
    ),
    "api_sales_stages": api_resource("settings", view="opportunity.view", **SETTINGS_WRITES),
    "api_categories": api_resource("settings", view="company.view", **SETTINGS_WRITES),
    "api_industries": api_resource("settings", view="company.view", **SETTINGS_WRITES),
    "api_employees": api_resource("employee"),
    "api_products": api_resource("product", create="product.manage", edit="product.manage", delete="product.manage"),
    "api_orders": api_resource("order", create="order.create"),
    "api_invoices": api_resource("invoice", create="invoice.create"),
}.items():
    API_EXPECTED.update({f"{blueprint}.{name}": permission for name, permission in table.items()})
EXPECTED.update(API_EXPECTED)
for endpoint, table in {
    "company": model_view("company", extra=mass_update_endpoints("company")),
    "supplier": model_view("company", extra=mass_update_endpoints("company")),
    "contact": model_view("contact", extra=CONTACT_LIST),
    "privatecustomer": model_view("contact", extra=CONTACT_LIST),
    "company_card": COMPANY_CARD,
    "supplier_card": COMPANY_CARD,
    "contact_card": CONTACT_CARD,
    "privatecustomer_card": CONTACT_CARD,
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
    "lead": model_view(
        "lead",
        extra={
            "convert": "lead.convert",
            "page": "lead.view",
            "add_activity": ("lead.view", "activity.edit"),
            "activity_done": ("lead.view", "activity.edit"),
            **mass_update_endpoints("lead"),
            **mass_message_endpoints("lead"),
        },
    ),
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


def _rules(app):
    return [rule for rule in app.url_map.iter_rules()]


def test_every_endpoint_is_in_the_route_table(app):
    missing = sorted({rule.endpoint for rule in _rules(app)} - set(EXPECTED))
    assert not missing, f"endpoints without a decided permission: {missing}"


def test_route_table_names_only_known_permissions():
    from services.permissions import PERMISSIONS

    named = {p for value in EXPECTED.values() for p in ((value,) if isinstance(value, str) else value)}
    unknown = {p for p in named if p not in (PUBLIC, LOGGED_IN, SELF_OR_MANAGE) and p not in PERMISSIONS}
    assert not unknown


@pytest.fixture
def rules(app, demo, employees, session):
    """(endpoint, url, method) for every rule and every method it answers, with real ids of the
    demo register (the record of the view, and a file, e-mail, activity, contact and tab of its card).
    The employees of the fixtures are made first: id 1 is the fixtures' administrator."""
    from flask import url_for

    ids = demo_ids(session)
    session.rollback()
    with app.test_request_context():
        walked = [(rule.endpoint, url_for(rule.endpoint, **route_values(rule, ids)), m) for rule, m in routes(app)]
    # the GETs first: a POST may delete what a later request of the same role reads
    return sorted(walked, key=lambda r: (r[2] != "GET", r[0] == "auth.logout"))


def allowed(role: str, endpoint: str, employees) -> bool:
    """What EXPECTED says of `role` on `endpoint`."""
    from services.permissions import role_has_permission

    permission = EXPECTED[endpoint]
    if permission == SELF_OR_MANAGE:
        return employees[role].id == 1 or role_has_permission(role, "employee.manage")
    if isinstance(permission, tuple):
        return all(role_has_permission(role, p) for p in permission)
    return permission in (PUBLIC, LOGGED_IN) or role_has_permission(role, permission)


def test_anonymous_is_sent_to_login_with_next(client, rules):
    """Every method of every endpoint, without a session: public pages answer, everything else
    sends to the login page (a GET, with where to go next) or is refused (a POST has no CSRF token)."""
    for endpoint, url, method in rules:
        permission = EXPECTED[endpoint]
        response = client.open(url, method=method, data={} if method != "GET" else None)
        tally("route-table probes (endpoint × method × role, real ids)")
        if endpoint in API_EXPECTED:
            assert response.status_code == 401, (endpoint, method, response.status_code)
            assert response.mimetype == "application/problem+json"
            continue
        if permission == PUBLIC:
            expected = (200, 302) if method == "GET" else (200, 302, 400)  # a POST without its CSRF token: 400
            assert response.status_code in expected, (endpoint, method, response.status_code)
            continue
        if method != "GET":
            # Without a session there is no CSRF token: refused before anything runs.
            assert response.status_code in (302, 400), (endpoint, method, response.status_code)
            if response.status_code == 302:
                assert response.headers["Location"].startswith("/login?next="), (endpoint, method)
            continue
        assert response.status_code == 302, (endpoint, response.status_code)
        location = response.headers["Location"]
        assert location.startswith("/login?next="), (endpoint, location)


@pytest.mark.parametrize("role", list(ROLE_MAP))
def test_each_role_is_allowed_or_refused_as_the_table_says(login, rules, role, employees):
    """Every method of every endpoint with real ids, as each role: refused with 403 where the
    table says so, else answered (never 403, never a login redirect, never a 500)."""
    actions = login(role)
    token = actions.csrf_token()
    tally(
        "route table: endpoints (every method, anonymous and each role)",
        len({e for e, _u, _m in rules}) if role == "admin" else 0,
    )
    for endpoint, url, method in rules:
        if endpoint in ("auth.logout", "account.end_session") and method == "POST":
            continue  # would end the session the rest of the loop needs (session 1 may be this login's)
        if endpoint in API_EXPECTED:
            # A session cookie never authenticates an API call (the API has no CSRF protection).
            assert actions.client.open(url, method=method, data={"csrf_token": token}).status_code == 401
            continue
        if method == "GET":
            response = actions.client.get(url)
        else:
            response = actions.client.open(url, method=method, data={"csrf_token": token})
        if response.is_streamed:
            response.get_data()
        tally("route-table probes (endpoint × method × role, real ids)")
        if allowed(role, endpoint, employees):
            assert response.status_code != 403, (role, endpoint, method)
            assert not response.headers.get("Location", "").startswith("/login"), (role, endpoint, method)
            # 502: the message was handed to no server (none is set up here); the page says so in Swedish
            upstream = endpoint.endswith((".send_email", ".send_sms")) and response.status_code == 502
            assert response.status_code < 500 or upstream, (role, endpoint, method, response.status_code)
        else:
            assert response.status_code == 403, (role, endpoint, method, response.status_code)


@pytest.mark.parametrize("role", list(ROLE_MAP))
def test_each_role_api_key_is_allowed_or_refused_as_the_table_says(app, rules, role, employees, session):
    """Every API endpoint and method with real ids, called with an API key acting as each role's
    employee: 403 (problem+json) where the table says so, else answered (never 401/403, never a 500)."""
    from services import api_keys

    key = api_keys.create(session, None, employee=employees[role], name=f"Routes {role}").secret
    session.commit()
    client = app.test_client()
    for endpoint, url, method in rules:
        if endpoint not in API_EXPECTED:
            continue
        response = client.open(url, method=method, json={}, headers={"Authorization": f"Bearer {key}"})
        tally("route-table probes (endpoint × method × role, real ids)")
        if allowed(role, endpoint, employees):
            assert response.status_code not in (401, 403), (role, endpoint, method, response.get_json())
            assert response.status_code < 500, (role, endpoint, method, response.status_code)
        else:
            assert response.status_code == 403, (role, endpoint, method, response.status_code)
            assert response.mimetype == "application/problem+json"


def test_post_without_csrf_token_is_refused(login, make_company):
    company = make_company()
    actions = login("admin")
    response = actions.client.post(f"/admin/company/card/{company.id}/link-contacts", data={"contact_id": "1"})
    assert response.status_code == 400
    response = actions.client.post("/admin/company/action/", data={"action": "delete", "rowid": str(company.id)})
    assert response.status_code == 400
