"""Issue 12, item 5: odd input never gives a 500.

Walks every route of app.url_map, every method, as an Administratör and as a Säljare, on
the demo register: the URL's ids are huge, and (with the URL's real ids) every known
query or form parameter is given one hostile value after another — integers above 2^63,
negatives, decimals, garbage, Unicode, 2,000 search words, empty, and each parameter
twice. Every answer must be below 500. The values are fixed (not drawn at random), so a
failure names the route, the role and the value, and a run takes seconds.
"""

from __future__ import annotations

import pytest
from flask import url_for
from werkzeug.datastructures import MultiDict

from extensions import db
from helpers import count
from models import Company
from tests.security import demo_ids, route_values, routes, tally

#: The query-string and form parameters the views and Flask-Admin read (grep request.args/form).
KNOWN_PARAMETERS = [
    # Flask-Admin lists, forms and look-ups
    "page", "page_size", "sort", "desc", "search", "id", "url", "flt0_0", "flt1_0", "flt2_0", "flt0_1",
    "flt3_0", "flt4_0", "name", "query", "offset", "limit", "rowid", "action", "list_form_pk", "value",
    "version", "modal",
    # our views
    "next", "owner", "group", "seller", "entity", "run", "col", "saved", "saved_search", "format", "table",
    "from", "to", "currency", "orders", "company_id", "contact_id", "contact", "q", "tab", "axis", "by", "start",
    "end", "close_from", "close_to", "decided_from", "decided_to", "stage", "done", "locale", "shared", "view",
    "call_list", "source", "confirm", "role", "locked", "show", "order", "contact_id", "lines-0-quantity",
    "lines-99999999999999999999-quantity", "text", "status", "category", "industry", "city", "created_from",
    "created_to", "lost_reason", "subject", "kind", "due_at", "mapping", "mode", "match_key", "save_as",
    # the report generator's custom-field conditions
    "cf1", "cf1_from", "cf1_to", "cf2", "cf2_from", "cf3", "cf3_from", "cf4", "cf5", "cf6",
]  # fmt: skip

TWO_THOUSAND_WORDS = " ".join(f"ord{n}" for n in range(2000))
#: (name, value) of each hostile kind of input: numbers first, then text.
NUMERIC = [
    ("2^64", str(2**64)),
    ("2^63", str(2**63)),
    ("2^31", str(2**31)),
    ("40 digits", "9" * 40),
    ("negative", "-1"),
    ("below -2^63", str(-(2**63) - 1)),
    ("decimal", "1.5"),
    ("exponent", "1e308"),
]
TEXT = [
    ("garbage", "abc'\"<>;--"),
    ("unicode", "Ö\u202e😀١٢"),
    ("NUL", "a\u0000b"),
    ("2000 words", TWO_THOUSAND_WORDS),
    ("empty", ""),
]
HOSTILE = NUMERIC + TEXT
#: A huge id in the URL (ids in the URL are digits only: a negative one matches no route).
URL_HOSTILE_INT = str(2**64)

#: Routes that read numbers or ids from the query string, each given every hostile value on its own.
NUMBER_READERS = [
    ("company.index_view", ("page", "page_size", "sort", "desc", "flt0_0", "flt1_0", "search")),
    ("opportunity.index_view", ("page", "sort", "flt0_0", "flt1_0", "search")),
    ("company_card.index", ("page", "tab", "orders")),
    ("company_card.card_tab", ("page", "orders")),
    ("company_card.invoice_report", ("from", "to", "currency")),
    ("contact.create_view", ("company_id",)),
    ("opportunity.create_view", ("company_id", "contact_id")),
    ("invoice.create_view", ("company_id", "contact_id")),
    ("opportunity.page", ("page",)),
    ("opportunity.board", ("owner", "group")),
    ("reports.sales", ("seller", "group", "close_from", "decided_to")),
    ("reports.activities", ("seller", "group", "start")),
    ("reportgenerator.index", ("page", "owner", "category", "industry", "status", "text", "cf1", "cf1_from")),
    ("calllist.add", ("saved_search",)),
    ("company.ajax_lookup", ("offset", "limit", "query")),
    ("company.edit_view", ("id",)),
]


#: Of NUMBER_READERS' parameters, those that take text (searches): given the text values only.
TEXT_PARAMETERS = {"search", "text", "query", "currency", "tab"}


def _url(rule, values):
    return url_for(rule.endpoint, **{k: v for k, v in values.items() if k in rule.arguments})


def _rotated(offset: int, kinds) -> list[tuple[str, str]]:
    """Every known parameter once, the kinds of value handed out in turn from `offset` on."""
    return [(name, kinds[(offset + n) % len(kinds)][1]) for n, name in enumerate(KNOWN_PARAMETERS)]


@pytest.fixture
def register(demo, employees):
    return demo


def _send(actions, token, session, method, url, pairs):
    """The status of one request, or the exception's name: the test app propagates exceptions,
    and each would be a 500 in production."""
    try:
        if method == "GET":
            response = actions.client.get(url, query_string=MultiDict(pairs))
        else:
            response = actions.client.open(url, method=method, data=MultiDict([*pairs, ("csrf_token", token)]))
        if response.is_streamed:
            response.get_data()  # a download fails while it streams
        return response.status_code
    except Exception as exc:  # noqa: BLE001
        session.rollback()
        return f"{type(exc).__name__}: {str(exc)[:160]}"


@pytest.mark.parametrize("role", ["admin", "seller"])
def test_no_route_answers_500_to_hostile_parameters(app, login, register, session, role):
    """Every route × method: huge ids in the URL; then the real ids with every known parameter
    hostile, numbers in one request and text in another (the kinds rotate over the parameters
    from route to route, so each parameter meets each kind on some route)."""
    actions = login(role)
    token = actions.csrf_token()
    ids = demo_ids(session)
    session.close()
    requests = []
    with app.test_request_context():
        for n, (rule, method) in enumerate(routes(app)):
            if rule.endpoint in ("static", "admin.static", "auth.logout", "account.end_session"):
                continue
            real = route_values(rule, ids)
            if any(isinstance(v, int) for v in real.values()):
                hostile_url = {k: (URL_HOSTILE_INT if isinstance(v, int) else v) for k, v in real.items()}
                requests.append((rule, method, _url(rule, hostile_url), "url ids 2^64", []))
            requests.append((rule, method, _url(rule, real), "numbers", _rotated(n, NUMERIC)))
            requests.append((rule, method, _url(rule, real), "text", _rotated(n, TEXT)))
    # GETs first, then the POSTs (which may change or delete what the GETs read)
    requests.sort(key=lambda r: r[1] != "GET")
    failures = []
    for rule, method, url, kind, pairs in requests:
        status = _send(actions, token, session, method, url, pairs)
        tally("fuzz requests (route × method × role × hostile values)")
        if not isinstance(status, int) or status >= 500:
            failures.append((rule.endpoint, method, kind, status))
    assert not failures, "\n".join(map(str, failures))


def test_each_number_parameter_meets_each_hostile_value(app, login, register, session):
    """The routes that read numbers, each parameter alone with every hostile value, twice over
    (an array), as an administrator."""
    actions = login("admin")
    ids = demo_ids(session)
    session.close()
    rules = {rule.endpoint: rule for rule in app.url_map.iter_rules()}
    failures = []
    with app.test_request_context():
        targets = [
            (endpoint, _url(rules[endpoint], route_values(rules[endpoint], ids)), names)
            for endpoint, names in NUMBER_READERS
        ]
    for endpoint, url, names in targets:
        for name in names:
            kinds = TEXT if name in TEXT_PARAMETERS else [*NUMERIC, *TEXT[:1], *TEXT[-1:], ("array", None)]
            for kind, value in kinds:
                pairs = [(name, value)] if value is not None else [(name, str(2**64)), (name, "-3"), (name, "x")]
                status = _send(actions, "", session, "GET", url, pairs)
                tally("fuzz requests (route × method × role × hostile values)")
                if not isinstance(status, int) or status >= 500:
                    failures.append((endpoint, name, kind, status))
    assert not failures, "\n".join(map(str, failures))


# --- the API's request bodies (a key, not a cookie: the walk above meets only its 401) -----------

#: The integer no column holds: SQLite refused it (OverflowError), PostgreSQL's INTEGER too.
HUGE = 2**64


def _integers_read(spec: dict) -> list[tuple[str, object]]:
    """(where, maximum) of every integer the API reads: path and query parameters and request
    bodies, integers in lists too; read-only fields (answers) are not read."""
    schemas = spec["components"]["schemas"]
    found: list[tuple[str, object]] = []

    def walk(schema: dict, where: str, seen: tuple = ()) -> None:
        if "$ref" in schema:
            name = schema["$ref"].rsplit("/", 1)[-1]
            if name not in seen:
                walk(schemas[name], f"{where}:{name}", (*seen, name))
            return
        for combined in schema.get("allOf", []) + schema.get("anyOf", []) + schema.get("oneOf", []):
            walk(combined, where, seen)
        kind = schema.get("type")
        if (kind == "integer" or (isinstance(kind, list) and "integer" in kind)) and not schema.get("readOnly"):
            found.append((where, schema.get("maximum")))
        if isinstance(schema.get("items"), dict):
            walk(schema["items"], f"{where}[]", seen)
        for name, prop in (schema.get("properties") or {}).items():
            walk(prop, f"{where}.{name}", seen)

    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if not isinstance(operation, dict):
                continue
            for parameter in operation.get("parameters", []):
                walk(parameter.get("schema", {}), f"{method} {path} {parameter['name']}")
            for content in operation.get("requestBody", {}).get("content", {}).values():
                walk(content["schema"], f"{method} {path} body")
    return found


def test_every_integer_the_api_reads_fits_a_column(app):
    """Each integer a request may send is bounded by the schema (a 422 names the field), so none
    reaches the database: `stage_id`, `category_ids`, `company_ids` and `version` were not."""
    spec = app.test_client().get("/api/v1/openapi.json").get_json()
    read = _integers_read(spec)
    tally("API integers checked for a bound (parameters and body fields)", len(read))
    unbounded = sorted({where for where, maximum in read if maximum is None or maximum > 2**31 - 1})
    assert len(read) > 50 and not unbounded, "\n".join(unbounded)


@pytest.fixture
def api_as_admin(app, session, employees):
    from services import api_keys

    key = api_keys.create(session, None, employee=employees["admin"], name="Fuzz").secret
    session.commit()
    client = app.test_client()

    def call(method: str, url: str, body=None):
        return client.open(url, method=method, json=body, headers={"Authorization": f"Bearer {key}"})

    return call


def test_huge_integers_in_api_bodies_get_422_not_500(api_as_admin, session, make_company, stage):
    """The requests that answered 500 (valid bodies with one integer too large for a column), and
    custom-field ids that are not ASCII digits of a column's size."""
    from models import CustomFieldDefinition, CustomTab, Opportunity

    company = make_company()
    opportunity = Opportunity(title="Affär", company=company, stage=stage, owner_id=None)
    tab = CustomTab(name="Avtal", applies_to="company", sort_order=1)
    session.add_all([opportunity, tab])
    session.flush()
    session.add(CustomFieldDefinition(tab=tab, label="Avtalsnummer", field_type="text", sort_order=1))
    session.commit()
    company_id, opportunity_id, stage_id = company.id, opportunity.id, stage.id
    company_version, opportunity_version = company.version, opportunity.version
    session.close()
    attacks = [
        ("POST", "/api/v1/companies", {"name": "Stort AB", "category_ids": [HUGE]}),
        ("PATCH", f"/api/v1/companies/{company_id}", {"version": company_version, "category_ids": [HUGE]}),
        ("PATCH", f"/api/v1/companies/{company_id}", {"version": HUGE, "name": "Nytt namn AB"}),
        ("POST", "/api/v1/contacts", {"first_name": "Stor", "last_name": "Siffra", "company_ids": [HUGE]}),
        ("POST", "/api/v1/contacts", {"first_name": "Stor", "last_name": "Siffra", "category_ids": [HUGE]}),
        ("POST", "/api/v1/leads", {"name": "Stort lead", "category_ids": [HUGE]}),
        ("POST", "/api/v1/opportunities", {"title": "Stor", "company_id": company_id, "stage_id": HUGE}),
        ("PATCH", f"/api/v1/opportunities/{opportunity_id}", {"version": opportunity_version, "stage_id": HUGE}),
        ("POST", f"/api/v1/opportunities/{opportunity_id}/move", {"version": opportunity_version, "stage_id": HUGE}),
        ("POST", f"/api/v1/opportunities/{opportunity_id}/move", {"version": HUGE, "stage_id": stage_id}),
        ("PATCH", f"/api/v1/companies/{company_id}/custom-fields", {"values": {str(HUGE): "x"}}),
        ("PATCH", f"/api/v1/companies/{company_id}/custom-fields", {"values": {"²": "x"}}),
        ("PATCH", f"/api/v1/companies/{company_id}/custom-fields", {"values": {"-1": "x"}}),
    ]
    failures = []
    for method, url, body in attacks:
        tally("API requests with integers no column holds")
        try:  # the test app propagates exceptions; each would be a 500 in production
            response = api_as_admin(method, url, body)
        except Exception as exc:  # noqa: BLE001
            db.session.rollback()
            failures.append((method, url, body, f"{type(exc).__name__}: {str(exc)[:120]}"))
            continue
        if response.status_code != 422:
            failures.append((method, url, body, response.status_code, response.get_data(as_text=True)[:200]))
    assert not failures, "\n".join(map(str, failures))
    assert count(session, Company) == 1
