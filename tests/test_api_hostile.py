"""The API tried as an integrator and as a hostile client would (review of issue 19): values no
form would send, the same request sent twice at once, texts PostgreSQL cannot store. Each test
reads what the client gets back and what the register holds afterwards."""

import pytest
from sqlalchemy import select
from test_api import as_role, keys, openapi, problem_of, rate_limited_app  # noqa: F401 (fixtures)

from extensions import db
from helpers import at_once, count, sv
from models import Category, Company, Contact, Lead


def _at_once(app, key: str, calls: list[tuple[str, str, dict]]) -> list:
    """Send the calls from as many threads at the same moment (each its own client and session)."""

    def work(method: str, url: str, body: dict):
        response = app.test_client().open(url, method=method, json=body, headers={"Authorization": f"Bearer {key}"})
        return (response.status_code, response.get_json())

    return at_once(work, calls)


# --- natural keys: one customer per organisationsnummer, also when two requests race -------------


def test_the_same_company_posted_twice_at_once_is_created_once(app, session, keys):  # noqa: F811
    """A web shop or Zapier that retries a slow request sends the same company again while the first
    is being saved: one customer, the other requests told it exists (422, not a second customer)."""
    body = {"name": "Dubbelpost AB", "org_number": "556016-0680"}
    answers = _at_once(app, keys["admin"], [("POST", "/api/v1/companies", body)] * 6)
    statuses = sorted(status for status, _body in answers)
    assert statuses == [201] + [422] * 5, answers
    refused = [body for status, body in answers if status == 422]
    assert all("Dubbelpost AB" in b["errors"]["org_number"][0] for b in refused)
    session.expire_all()
    assert session.scalars(select(Company.name).where(Company.org_number == "5560160680")).all() == ["Dubbelpost AB"]


def test_two_companies_changed_to_the_same_org_number_at_once_keep_it_unique(app, session, keys, make_company):  # noqa: F811
    first, second = make_company(name="Första AB"), make_company(name="Andra AB")
    session.commit()
    calls = [
        ("PATCH", f"/api/v1/companies/{c.id}", {"version": c.version, "org_number": "556016-0680"})
        for c in (first, second)
    ]
    answers = _at_once(app, keys["admin"], calls)
    assert sorted(status for status, _body in answers) == [200, 422], answers
    session.expire_all()
    assert len(session.scalars(select(Company.id).where(Company.org_number == "5560160680")).all()) == 1


# --- texts: blank is empty, NUL is refused --------------------------------------------------------


@pytest.mark.parametrize(
    "url, body, field",
    [
        ("/api/v1/companies", {"name": "   "}, "name"),
        ("/api/v1/leads", {"company_name": "\t \n"}, "company_name"),
        ("/api/v1/contacts", {"first_name": "Ada", "last_name": "  "}, "last_name"),
        ("/api/v1/categories", {"name": " ", "applies_to": "both"}, "name"),
    ],
)
def test_a_required_text_of_only_spaces_is_refused_as_empty(as_role, session, url, body, field):  # noqa: F811
    before = sum(count(session, m) for m in (Company, Lead, Contact, Category))
    body_of = problem_of(as_role("admin").post(url, body), 422)
    assert body_of["errors"][field] == [sv("This field may not be empty.")]
    session.expire_all()
    assert sum(count(session, m) for m in (Company, Lead, Contact, Category)) == before


def test_a_required_text_of_only_spaces_is_refused_on_patch_too(as_role, session, make_company):  # noqa: F811
    company = make_company(name="Namnet AB")
    body = problem_of(
        as_role("admin").patch(f"/api/v1/companies/{company.id}", {"version": company.version, "name": "  "}), 422
    )
    assert body["errors"]["name"] == [sv("This field may not be empty.")]
    session.expire_all()
    assert session.get(Company, company.id).name == "Namnet AB"


@pytest.mark.parametrize(
    "url, body",
    [
        ("/api/v1/companies", {"name": "Noll\u0000AB"}),
        ("/api/v1/companies", {"name": "Noll AB", "note": "a\u0000b"}),
        ("/api/v1/contacts", {"first_name": "A\u0000", "last_name": "B"}),
        ("/api/v1/leads", {"company_name": "Lead\u0000AB"}),
    ],
)
def test_a_nul_character_in_a_body_is_a_field_error_not_a_500(as_role, session, url, body):  # noqa: F811
    """PostgreSQL cannot store NUL (the forms refuse it with a 400): the API names the field."""
    response = as_role("admin").call("POST", url, body, validate=False)
    problem = problem_of(response, 422)
    field = next(k for k, v in body.items() if "\u0000" in v)
    assert problem["errors"][field] == [
        sv("The text contains a character that cannot be saved (NUL). Remove it and try again.")
    ]
    db.session.remove()
    assert count(session, Company) == count(session, Contact) == count(session, Lead) == 0


SURROGATE = (
    "The text contains a character that cannot be saved (a lone UTF-16 surrogate such as \\ud800). "
    "Remove it and try again."
)


@pytest.mark.parametrize(
    "url, text, field",
    [
        ("/api/v1/companies", '{"name": "\\ud800"}', "name"),
        ("/api/v1/companies", '{"name": "Halv AB", "note": "a\\udfffb"}', "note"),
        ("/api/v1/contacts", '{"first_name": "\\ud800", "last_name": "B"}', "first_name"),
        ("/api/v1/categories", '{"name": "\\ud800", "applies_to": "both"}', "name"),
        ("/api/v1/companies", '{"\\ud800": 1, "name": "Nyckel AB"}', "\ufffd"),
    ],
)
def test_a_lone_surrogate_in_a_body_is_a_field_error_not_a_500(as_role, session, url, text, field):  # noqa: F811
    """`"\\ud800"` is valid JSON, but no database can store the character it names (UTF-8 has no
    encoding for it): saving it was a 500 at the flush. A pair (an emoji) is one character, and saved."""
    api = as_role("admin")
    response = api.client.post(url, data=text, headers=api.headers({"Content-Type": "application/json"}))
    assert problem_of(response, 422)["errors"] == {field: [sv(SURROGATE)]}
    db.session.remove()
    assert count(session, Company) == count(session, Contact) == count(session, Category) == 0
    paired = api.client.post(
        "/api/v1/companies",
        data='{"name": "Glad \\ud83d\\ude00 AB"}',
        headers=api.headers({"Content-Type": "application/json"}),
    )
    assert paired.status_code == 201 and paired.get_json()["name"] == "Glad \U0001f600 AB"


# --- every message in the client's language ------------------------------------------------------


def test_marshmallows_own_messages_are_translated_too(as_role):  # noqa: F811
    """A text too long for a required field, NaN as an amount and a body that is no JSON: in Swedish
    (they came back in marshmallow's English)."""
    api = as_role("admin")
    too_long = problem_of(api.post("/api/v1/companies", {"name": "x" * 201}), 422)
    assert too_long["errors"]["name"] == [sv("At most %(max)s characters.", max="200")]
    nan = problem_of(api.post("/api/v1/companies", {"name": "Nan AB", "discount_percent": "NaN"}), 422)
    assert nan["errors"]["discount_percent"] == [sv("Not a number.")]
    response = api.client.post(
        "/api/v1/companies", data="{inte json", headers=api.headers({"Content-Type": "application/json"})
    )
    body = problem_of(response, 400)
    assert body["detail"] == sv("The request could not be read.")
    assert body["errors"] == {"_schema": [sv("The body is not valid JSON.")]}
    english = as_role("admin", "en").client.post(
        "/api/v1/companies", data="{", headers=as_role("admin", "en").headers({"Content-Type": "application/json"})
    )
    assert problem_of(english, 400)["errors"] == {"_schema": ["The body is not valid JSON."]}


@pytest.mark.parametrize(
    "method, url",
    [("POST", "/api/v1/companies"), ("PATCH", "/api/v1/companies/{id}"), ("POST", "/api/v1/opportunities/{id}/move")],
)
@pytest.mark.parametrize(
    "text",
    [
        "[" * 100_000 + "]" * 100_000,  # Python's parser ran out of stack: RecursionError, a 500
        '{"name": ' + "[" * 900 + "]" * 900 + "}",  # Python reads it; refused by the limit
        '{"name": "Djup AB", "note": ' + "[" * 32 + "]" * 32 + "}",  # deeper than MAX_JSON_DEPTH
    ],
    ids=["100000", "900", "33"],
)
def test_a_body_nested_too_deeply_is_not_valid_json_not_a_500(as_role, session, make_company, method, url, text):  # noqa: F811
    company = make_company(name="Grund AB")
    api = as_role("admin")
    response = api.client.open(
        url.format(id=company.id), method=method, data=text, headers=api.headers({"Content-Type": "application/json"})
    )
    body = problem_of(response, 400)
    assert body["detail"] == sv("The request could not be read.")
    assert body["errors"] == {"_schema": [sv("The body is not valid JSON.")]}
    db.session.remove()
    assert count(session, Company) == 1


def test_a_body_nested_as_deep_as_allowed_is_read(as_role, session):  # noqa: F811
    """MAX_JSON_DEPTH is well beyond any body the API takes: 32 levels are read (and refused as values)."""
    api = as_role("admin")
    text = '{"name": "Djup AB", "note": ' + "[" * 30 + "]" * 30 + "}"
    response = api.client.post(
        "/api/v1/companies", data=text, headers=api.headers({"Content-Type": "application/json"})
    )
    assert problem_of(response, 422)["errors"] == {"note": [sv("Not a text.")]}


def test_a_nul_character_in_a_query_says_so(as_role):  # noqa: F811
    response = as_role("admin").call("GET", "/api/v1/companies?q=a%00b", validate=False)
    assert problem_of(response, 400)["detail"] == sv(
        "The text contains a character that cannot be saved (NUL). Remove it and try again."
    )


def test_an_org_number_is_found_however_the_other_system_writes_it(as_role, make_company):  # noqa: F811
    """Ten digits, a dash, an en dash, or the 12-digit form with 16 in front (as accounting systems
    and the Tax Agency write it): the same company."""
    company = make_company(name="Skrivsätt AB", org_number="5560360793")
    api = as_role("readonly")
    for written in ("5560360793", "556036-0793", "556036\u20130793", "16556036-0793", "165560360793"):
        assert api.get(f"/api/v1/companies/by-org-number/{written}").get_json()["id"] == company.id, written
        items = api.client.get(
            "/api/v1/companies", query_string={"org_number": written}, headers=api.headers()
        ).get_json()["items"]
        assert [c["id"] for c in items] == [company.id], written
    created = as_role("admin").post("/api/v1/companies", {"name": "Tolv AB", "org_number": "16556016-0680"})
    assert created.status_code == 201 and created.get_json()["org_number"] == "5560160680"


def test_a_companys_form_of_organisation_is_read_and_written(as_role, session):  # noqa: F811
    """Företagsform, which the register's look-up fills in the form, reaches the API too."""
    api = as_role("admin")
    created = api.post("/api/v1/companies", {"name": "Form AB", "legal_form": "Aktiebolag"})
    assert created.status_code == 201 and created.get_json()["legal_form"] == "Aktiebolag"
    company = created.get_json()
    changed = api.patch(f"/api/v1/companies/{company['id']}", {"version": company["version"], "legal_form": None})
    assert changed.get_json()["legal_form"] is None
    session.expire_all()
    assert session.get(Company, company["id"]).legal_form is None


def _cursor(values, sort: str) -> str:
    """A cursor made by hand, naming its sort as the API's do (so that its values are what is tried)."""
    import base64
    import json

    return base64.urlsafe_b64encode(json.dumps({"sort": sort, "keys": values}).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "sort, values",
    [
        ("name", ["x", 2**70]),
        ("name", ["x", -(2**63)]),
        ("customer_number", ["Ett namn", 1]),
        ("customer_number", [2**70, 1]),
        ("org_number", [None, 1]),
        ("org_number", [1, 1]),
        ("name", ["a\u0000b", 1]),
        ("name", [["nested"], 1]),
        ("name", [{"a": 1}, 1]),
        ("name", ["x", 1, 2]),
        ("name", []),
        ("-postal_city", [1.5e308, 1]),
    ],
)
def test_a_forged_cursor_is_400_or_a_page_never_a_500(as_role, make_company, sort, values):  # noqa: F811
    make_company(name="Markör AB", org_number="5560360793")
    for direction in ("after", "before"):
        response = as_role("readonly").call(
            "GET", f"/api/v1/companies?sort={sort}&{direction}={_cursor(values, sort)}", validate=False
        )
        assert response.status_code in (200, 400), (direction, response.get_data(as_text=True))
        if response.status_code == 400:
            problem_of(response, 400)


@pytest.mark.parametrize(
    "made_with, used_with",
    [("name", "postal_city"), ("name", "-name"), ("-postal_city", "postal_city"), ("customer_number", "name")],
)
def test_a_cursor_belongs_to_its_sort(as_role, make_company, made_with, used_with):  # noqa: F811
    """A cursor of `sort=name` given with `sort=postal_city` sought the cities after a name (rows
    skipped or repeated, no error): it is refused, as a cursor of another list is."""
    for i in range(5):
        make_company(name=f"Bolag {i}", postal_city=f"Stad {4 - i}")
    api = as_role("readonly")
    first = api.get(f"/api/v1/companies?sort={made_with}&limit=2").get_json()
    second = api.get(f"/api/v1/companies?sort={made_with}&limit=2&after={first['next_cursor']}").get_json()
    assert first["next_cursor"] and second["previous_cursor"]
    for direction, cursor in (("after", first["next_cursor"]), ("before", second["previous_cursor"])):
        response = api.call("GET", f"/api/v1/companies?sort={used_with}&{direction}={cursor}", validate=False)
        assert problem_of(response, 400)["detail"] == sv(
            "The cursor is not one of this list's (it belongs to another sort order or was changed)."
        )
        assert api.get(f"/api/v1/companies?sort={made_with}&{direction}={cursor}").status_code == 200
    # a cursor without its sort (made before cursors named it, or by hand) is not one of the API's
    by_hand = _cursor(["Bolag 1", 2], "name")
    assert api.get(f"/api/v1/companies?sort=name&after={by_hand}").status_code == 200
    import base64

    unscoped = base64.urlsafe_b64encode(b'["Bolag 1",2]').decode().rstrip("=")
    problem_of(api.call("GET", f"/api/v1/companies?sort=name&after={unscoped}", validate=False), 400)


@pytest.mark.parametrize("amount", ["1e400", "NaN", "Infinity", "-Infinity", "123456789012345.5"])
def test_a_forged_amount_in_a_cursor_is_400_or_a_page(as_role, amount):  # noqa: F811
    for direction in ("after", "before"):
        response = as_role("readonly").call(
            "GET", f"/api/v1/products?sort=price&{direction}={_cursor([{'n': amount}, 1], 'price')}", validate=False
        )
        assert response.status_code in (200, 400), (direction, response.get_data(as_text=True))


@pytest.mark.parametrize("when", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-12:00"])
def test_a_time_that_leaves_the_calendar_in_utc_is_a_field_error(as_role, make_company, when):  # noqa: F811
    """A time at the ends of the calendar with an offset has no UTC time (it answered 500)."""
    company = make_company(name="Kalender AB")
    body = {"kind": "meeting", "subject": "Möte", "company_id": company.id, "due_at": when}
    response = as_role("admin").call("POST", "/api/v1/activities", body, validate=False)
    assert problem_of(response, 422)["errors"]["due_at"] == [sv("Not a date and time (YYYY-MM-DDTHH:MM:SS).")]


def test_a_draft_takes_a_bounded_number_of_lines(as_role, make_company, session):  # noqa: F811
    from models import SalesOrder

    company = make_company(name="Rader AB")
    api = as_role("admin")
    line = {"description": "Rad", "quantity": "1", "unit_price": "10"}
    too_many = problem_of(api.post("/api/v1/orders", {"company_id": company.id, "lines": [line] * 501}), 422)
    assert too_many["errors"]["lines"] == [sv("At most %(max)s lines.", max=500)]
    assert count(session, SalesOrder) == 0
    assert api.post("/api/v1/orders", {"company_id": company.id, "lines": [line] * 500}).status_code == 201


# --- rate limits ---------------------------------------------------------------------------------


def test_calls_with_wrong_keys_are_limited_per_address(rate_limited_app, keys):  # noqa: F811
    """Wrong, revoked or made-up keys were never counted (each made-up key its own count, and the
    401 came before the limit): a client trying keys is limited per address like a key's calls."""
    import secrets

    client = rate_limited_app.test_client()

    def attempt():
        key = "crm_" + secrets.token_urlsafe(32)
        return client.get("/api/v1/companies", headers={"Authorization": f"Bearer {key}"})

    assert [attempt().status_code for _ in range(3)] == [401, 401, 401]
    refused = attempt()
    body = problem_of(refused, 429)
    assert 1 <= int(refused.headers["Retry-After"]) <= 61
    assert body["detail"] == sv("Too many requests with this API key; wait and try again (see Retry-After).")
    # A valid key is counted on its own (the address's wrong keys do not lock it out).
    good = client.get("/api/v1/companies", headers={"Authorization": f"Bearer {keys['seller']}"})
    assert good.status_code == 200


# --- pages while rows are deleted ----------------------------------------------------------------


def test_a_page_after_the_last_row_was_deleted_is_empty_not_the_last_page_again(as_role, make_company):  # noqa: F811
    """The lists show the last page for a position past the end; a client following next_cursor got
    the rows it had already read once more (every row once, also when rows are deleted meanwhile)."""
    ids = [make_company(name=f"Sida {n} AB").id for n in range(3)]
    api = as_role("admin")
    first = api.get("/api/v1/companies?limit=2&sort=name").get_json()
    assert [c["id"] for c in first["items"]] == ids[:2] and first["next_cursor"]
    assert api.delete(f"/api/v1/companies/{ids[2]}").status_code == 204
    after = api.get(f"/api/v1/companies?limit=2&sort=name&after={first['next_cursor']}").get_json()
    assert after == {"items": [], "next_cursor": None, "previous_cursor": None}


def test_a_page_before_the_first_row_was_deleted_is_empty_not_the_first_page_again(as_role, make_company):  # noqa: F811
    ids = [make_company(name=f"Sida {n} AB").id for n in range(3)]
    api = as_role("admin")
    last = api.get("/api/v1/companies?limit=2&sort=-name").get_json()  # Sida 2, Sida 1
    second = api.get(f"/api/v1/companies?limit=2&sort=-name&after={last['next_cursor']}").get_json()
    assert [c["id"] for c in second["items"]] == [ids[0]] and second["previous_cursor"]
    for company_id in ids[1:]:
        assert api.delete(f"/api/v1/companies/{company_id}").status_code == 204
    before = api.get(f"/api/v1/companies?limit=2&sort=-name&before={second['previous_cursor']}").get_json()
    assert before == {"items": [], "next_cursor": None, "previous_cursor": None}


def test_an_unknown_list_parameter_is_refused_not_ignored(as_role, make_company):  # noqa: F811
    """`?stauts=active` or `?org_nr=…` was ignored: the whole register came back, and an integration
    looking a customer up by a misspelt filter took the first company of all as its match."""
    make_company(name="Vem som helst AB")
    api = as_role("readonly")
    for query in ("stauts=active", "org_nr=5560360793", "email=x@example.se"):
        response = api.call("GET", f"/api/v1/companies?{query}", validate=False)
        name = query.split("=")[0]
        assert problem_of(response, 422)["errors"] == {name: [sv("Unknown field.")]}, query
    assert api.get("/api/v1/companies?status=active&limit=5").status_code == 200
