"""The REST API at /api/v1/: keys per role, companies and contacts end to end, optimistic locking,
cursor pages, quick search, problem+json in Swedish and English, the e-mail lock, the other
registers, rate limits. Every request and response is validated against the served OpenAPI
document (tests/api_client.py)."""

from datetime import timedelta
from decimal import Decimal

import pytest
from api_client import ApiClient, openapi_of
from sqlalchemy import func, select

from helpers import count, fresh, sv, svn, text
from models import (
    Activity,
    AuditEvent,
    Category,
    Company,
    Contact,
    CustomFieldDefinition,
    CustomFieldValue,
    CustomTab,
    EmailMessage,
    Invoice,
    Lead,
    Opportunity,
    SalesOrder,
    SalesStage,
    utcnow,
)
from services import api_keys


@pytest.fixture(scope="session")
def openapi(app):
    return openapi_of(app)


@pytest.fixture
def keys(session, employees) -> dict[str, str]:
    """An API key per role (acting as that role's employee of the fixtures)."""
    made = {
        role: api_keys.create(session, None, employee=e, name=f"Test {role}").secret for role, e in employees.items()
    }
    session.commit()
    return made


@pytest.fixture
def as_role(app, openapi, keys):
    def _client(role: str | None, language: str | None = None) -> ApiClient:
        return ApiClient(app.test_client(), openapi, keys[role] if role else None, language)

    return _client


def problem_of(response, status: int) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    body = response.get_json()
    assert body["status"] == status and body["detail"]
    return body


# --- the document ----------------------------------------------------------------------------


def test_the_openapi_document_is_3_1_and_describes_every_api_route(app, openapi):
    spec = app.test_client().get("/api/v1/openapi.json").get_json()
    assert spec["openapi"] == "3.1.0"
    documented = {(path, method) for path, item in spec["paths"].items() for method in item}
    served = set()
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/v1/") and not rule.endpoint.startswith(("api-docs.", "api_docs.")):
            path = rule.rule.replace("<int:", "{").replace("<", "{").replace(">", "}")
            served |= {(path, m.lower()) for m in rule.methods - {"HEAD", "OPTIONS"}}
    assert served and served <= documented, served - documented
    assert spec["components"]["securitySchemes"]["apiKey"]["scheme"] == "bearer"


def test_the_documentation_page_serves_swagger_ui_from_the_package(client):
    page = client.get("/api/v1/docs/")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "/api/v1/openapi.json" in html and "cdn" not in html.lower()
    script = client.get("/api/v1/docs/assets/swagger-ui-bundle.js")
    assert script.status_code == 200 and b"SwaggerUIBundle" in script.get_data()


# --- keys -----------------------------------------------------------------------------------------


def test_a_call_without_a_valid_key_is_401_problem(as_role, session, employees, keys):
    for client in (as_role(None), ApiClient(as_role(None).client, as_role(None).openapi, "crm_not-a-key")):
        body = problem_of(client.get("/api/v1/companies"), 401)
        assert body["detail"] == sv("Give a valid API key in the header Authorization: Bearer <key>.")
    record = session.scalar(select(api_keys.ApiKey).where(api_keys.ApiKey.name == "Test seller"))
    api_keys.revoke(session, None, record)
    session.commit()
    problem_of(as_role("seller").get("/api/v1/companies"), 401)
    expired = api_keys.create(session, None, employee=employees["finance"], name="Old")
    expired.record.expires_at = utcnow() - timedelta(seconds=1)
    employees["readonly"].active = False
    session.commit()
    problem_of(ApiClient(as_role(None).client, as_role(None).openapi, expired.secret).get("/api/v1/companies"), 401)
    problem_of(as_role("readonly").get("/api/v1/companies"), 401)
    assert as_role("admin").get("/api/v1/companies").status_code == 200


def test_a_session_cookie_is_not_an_api_key(login, make_company, session):
    """A logged-in browser cannot call the API with its cookie (the API has no CSRF protection)."""
    make_company()
    actions = login("admin")
    response = actions.client.get("/api/v1/companies")
    assert response.status_code == 401
    assert actions.client.post("/api/v1/companies", json={"name": "Via cookie AB"}).status_code == 401
    assert count(session, Company) == 1


def test_the_key_notes_its_last_use(as_role, session, keys):
    assert as_role("seller").get("/api/v1/companies").status_code == 200
    record = session.scalar(select(api_keys.ApiKey).where(api_keys.ApiKey.name == "Test seller"))
    session.refresh(record)
    assert record.last_used_at is not None and utcnow() - record.last_used_at < timedelta(minutes=1)


# --- companies ------------------------------------------------------------------------------------


def test_create_a_company_by_org_number_then_find_update_delete_and_restore_it(as_role, session, keys, login):
    api = as_role("seller")
    created = api.post(
        "/api/v1/companies",
        {
            "name": "Kaffekompaniet AB",
            "org_number": "556036-0793",
            "phone": "08-123 456 78",
            "postal_postcode": "11122",
        },
    )
    assert created.status_code == 201, created.get_json()
    company = created.get_json()
    assert company["org_number"] == "5560360793" and company["phone"] == "+46812345678"
    assert company["postal_postcode"] == "111 22" and company["customer_number"] >= 10000
    assert created.headers["Location"] == f"/api/v1/companies/{company['id']}"
    assert api.get("/api/v1/companies/by-org-number/556036-0793").get_json()["id"] == company["id"]
    assert (
        api.get(f"/api/v1/companies/by-customer-number/{company['customer_number']}").get_json()["id"] == company["id"]
    )
    assert [c["id"] for c in api.get("/api/v1/companies?org_number=5560360793").get_json()["items"]] == [company["id"]]

    changed = api.patch(f"/api/v1/companies/{company['id']}", {"version": company["version"], "postal_city": "Lund"})
    assert changed.status_code == 200 and changed.get_json()["postal_city"] == "Lund"
    assert changed.get_json()["version"] == company["version"] + 1

    assert api.delete(f"/api/v1/companies/{company['id']}").status_code == 204
    problem_of(api.get(f"/api/v1/companies/{company['id']}"), 404)
    assert fresh(session, Company, company["id"]).is_deleted
    problem_of(api.post(f"/api/v1/companies/{company['id']}/restore"), 403)  # a seller may not restore
    admin = as_role("admin")
    assert [c["id"] for c in admin.get("/api/v1/companies?in_trash=true").get_json()["items"]] == [company["id"]]
    restored = admin.post(f"/api/v1/companies/{company['id']}/restore")
    assert restored.status_code == 200 and restored.get_json()["deleted_at"] is None

    events = session.scalars(select(AuditEvent).where(AuditEvent.entity_type == "company").order_by(AuditEvent.id))
    trail = [(e.action, e.actor.role, e.api_key.name) for e in events]
    history = login("admin").client.get(f"/admin/company/card/{company['id']}/tab/history")
    assert sv("Through the API with the key %(name)s", name="Test seller") in text(history)
    assert trail == [
        ("create", "seller", "Test seller"),
        ("update", "seller", "Test seller"),
        ("delete", "seller", "Test seller"),
        ("restore", "admin", "Test admin"),
    ]


def test_a_stale_version_is_409_with_the_current_record_and_nothing_saved(as_role, make_company, session, keys):
    company = make_company(name="Versionen AB")
    api = as_role("seller")
    first = api.patch(f"/api/v1/companies/{company.id}", {"version": company.version, "note": "Först"})
    assert first.status_code == 200
    stale = api.patch(f"/api/v1/companies/{company.id}", {"version": company.version, "note": "Sedan"})
    body = problem_of(stale, 409)
    assert body["current"]["note"] == "Först" and body["current"]["version"] == company.version + 1
    assert fresh(session, Company, company.id).note == "Först"
    missing = api.patch(f"/api/v1/companies/{company.id}", {"note": "Utan version"})
    assert problem_of(missing, 422)["errors"]["version"] == [sv("This field is required.")]


def test_invalid_values_are_field_errors_in_swedish_or_english_and_nothing_is_saved(
    as_role, make_company, session, keys
):
    make_company(name="Finns AB", org_number="5560360793")
    data = {"name": "Fel AB", "org_number": "556036-0794", "phone": "123", "email": "inte-en-adress", "status": "x"}
    body = problem_of(as_role("seller").post("/api/v1/companies", data), 422)
    assert body["errors"]["status"] == [
        sv("Choose one of: %(values)s", values="active, inactive, bankrupt, liquidated")
    ]
    data.pop("status")
    body = problem_of(as_role("seller").post("/api/v1/companies", data), 422)
    assert body["detail"] == sv("Some values are not valid; see `errors`.")
    assert body["errors"]["org_number"] == [
        sv("The organisation number %(value)s has a wrong check digit.", value="556036-0794")
    ]
    assert body["errors"]["email"] == [sv("This is not a valid e-mail address.")]
    assert set(body["errors"]) == {"org_number", "phone", "email"}
    english = problem_of(as_role("seller", "en").post("/api/v1/companies", data), 422)
    assert english["detail"] == "Some values are not valid; see `errors`."
    assert english["errors"]["email"] == ["This is not a valid e-mail address."]
    duplicate = problem_of(
        as_role("seller").post("/api/v1/companies", {"name": "Kopia AB", "org_number": "5560360793"}), 422
    )
    assert "Finns AB" in duplicate["errors"]["org_number"][0]
    assert count(session, Company) == 1


def test_the_org_number_rule_is_the_form_s_a_company_keeps_its_number_and_a_merged_one_has_none(
    as_role, make_company, session, keys, employees
):
    """Checked when the number is set or changed (services.register.org_number_taken): a PATCH that sends
    the company's own number, shared with a duplicate from before, is saved; changing it to another live
    company's number is refused; a company merged into another holds no number and is never to be restored."""
    from services import merge

    other = make_company(name="Dalarnas Måleri i Uppsala", org_number="5584520596")
    company = make_company(name="Dalarnas Måleri AB", org_number="5584520596")
    third = make_company(name="Tredje AB", org_number="5567037485")
    api = as_role("seller")
    same = api.patch(
        f"/api/v1/companies/{company.id}", {"version": company.version, "org_number": "558452-0596", "note": "Ny"}
    )
    assert same.status_code == 200, same.get_json()
    taken = problem_of(
        api.patch(f"/api/v1/companies/{third.id}", {"version": third.version, "org_number": "5584520596"}), 422
    )
    assert taken["errors"]["org_number"][0].startswith("Dalarnas Måleri")
    merge.merge(session, employees["admin"], "company", company.id, other.id)
    session.commit()
    kept = fresh(session, Company, company.id)
    again = api.patch(f"/api/v1/companies/{kept.id}", {"version": kept.version, "org_number": "5584520596"})
    assert again.status_code == 200, again.get_json()
    created = api.post("/api/v1/companies", {"name": "Kopia AB", "org_number": "5584520596"})
    body = problem_of(created, 422)  # the kept company has it; the merged one is never named
    assert body["errors"]["org_number"] == [
        sv(
            "%(name)s (customer no. %(number)s) already has this organisation number.",
            name="Dalarnas Måleri AB",
            number=kept.customer_number,
        )
    ]


def test_unknown_fields_and_bad_types_are_refused(as_role, keys):
    body = problem_of(as_role("seller").post("/api/v1/companies", {"name": "X AB", "colour": "blå"}), 422)
    assert body["errors"] == {"colour": [sv("Unknown field.")]}
    response = as_role("seller").call("POST", "/api/v1/companies", {"name": 5}, validate=False)
    assert problem_of(response, 422)["errors"] == {"name": [sv("Not a text.")]}


def test_pages_follow_cursors_without_gaps_or_repeats_while_rows_are_added(as_role, make_company, keys):
    made = {make_company(name=f"Bolag {i:02d} AB").id for i in range(25)}
    api = as_role("readonly")
    seen, cursor, pages = [], None, 0
    first_page = None
    while True:
        url = "/api/v1/companies?limit=10" + (f"&after={cursor}" if cursor else "")
        body = api.get(url).get_json()
        if first_page is None:
            first_page = body
            make_company(name="Aaa först AB")  # sorts before everything already read
            make_company(name="Öö sist AB")  # sorts after
        seen += [c["id"] for c in body["items"]]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen))
    assert made <= set(seen) and pages == 3
    names = [c["name"] for c in api.get("/api/v1/companies?limit=200&sort=-name").get_json()["items"]]
    assert names == sorted(names, reverse=True) and names[0] == "Öö sist AB"
    second = api.get(f"/api/v1/companies?limit=10&after={first_page['next_cursor']}").get_json()
    back = api.get(f"/api/v1/companies?limit=10&before={second['previous_cursor']}").get_json()
    assert [c["id"] for c in back["items"]][-9:] == [c["id"] for c in first_page["items"]][-9:]
    assert problem_of(api.get("/api/v1/companies?after=inte-en-markör"), 400)["detail"]


def test_quick_search_finds_what_the_lists_find(as_role, make_company, keys):
    make_company(name="Göteborgs Kaffe AB", phone="+46311234567", postal_city="Göteborg")
    make_company(name="Malmö Te AB", postal_city="Malmö")
    api = as_role("readonly")
    assert [c["name"] for c in api.get("/api/v1/companies?q=göteborg").get_json()["items"]] == ["Göteborgs Kaffe AB"]
    assert [c["name"] for c in api.get("/api/v1/companies?q=031-123 45 67").get_json()["items"]] == [
        "Göteborgs Kaffe AB"
    ]
    assert api.get("/api/v1/companies?q=ma&sort=-name").get_json()["items"][0]["name"] == "Malmö Te AB"


# --- contacts --------------------------------------------------------------------------------------


def test_contacts_are_created_linked_found_by_email_and_made_private_customers(as_role, make_company, session, keys):
    company = make_company(name="Arbetsgivaren AB")
    api = as_role("seller")
    created = api.post(
        "/api/v1/contacts",
        {
            "first_name": "Åsa",
            "last_name": "Öberg",
            "email": "Asa.Oberg@Example.se",
            "mobile": "070-123 45 67",
            "company_ids": [company.id],
            "company_role": "VD",
        },
    )
    assert created.status_code == 201, created.get_json()
    contact = created.get_json()
    assert contact["mobile"] == "+46701234567" and contact["companies"] == [{"company_id": company.id, "role": "VD"}]
    assert contact["customer_number"] is None
    found = api.get("/api/v1/contacts?email=asa.oberg@example.se").get_json()["items"]
    assert [c["id"] for c in found] == [contact["id"]]
    private = api.patch(f"/api/v1/contacts/{contact['id']}", {"version": contact["version"], "private_customer": True})
    number = private.get_json()["customer_number"]
    assert number is not None
    assert api.get(f"/api/v1/contacts/by-customer-number/{number}").get_json()["id"] == contact["id"]
    assert [c["id"] for c in api.get("/api/v1/contacts?private_customer=true").get_json()["items"]] == [contact["id"]]
    bad = problem_of(api.post("/api/v1/contacts", {"first_name": "A", "last_name": "B", "company_ids": [999999]}), 422)
    assert "company_ids" in bad["errors"]
    assert count(session, Contact) == 1


def test_an_api_key_of_a_non_administrator_never_sees_locked_email(as_role, make_company, session, keys):
    company = make_company(name="Hemligt AB", email_locked=True)
    session.add(EmailMessage(company_id=company.id, sender="a@example.se", recipients="b@example.se", subject="Lön"))
    session.commit()
    seller = as_role("seller").get(f"/api/v1/companies/{company.id}/emails").get_json()
    assert seller == {"email_locked": True, "items": []}
    admin = as_role("admin").get(f"/api/v1/companies/{company.id}/emails").get_json()
    assert [m["subject"] for m in admin["items"]] == ["Lön"]
    problem_of(as_role("readonly").get(f"/api/v1/companies/{company.id}/emails"), 403)  # no E-post tab


# --- the other registers ----------------------------------------------------------------------


@pytest.fixture
def stages(session):
    rows = [
        SalesStage(name="Kontakt", sort_order=10, probability=10),
        SalesStage(name="Offert", sort_order=20, probability=50),
        SalesStage(name="Förlorad", sort_order=90, probability=0, is_lost=True),
    ]
    session.add_all(rows)
    session.commit()
    return rows


def test_an_opportunity_is_created_and_moved_through_the_stages(as_role, make_company, stages, session, keys):
    company = make_company(name="Köpare AB")
    api = as_role("seller")
    created = api.post(
        "/api/v1/opportunities",
        {"title": "Kaffemaskiner", "company_id": company.id, "stage_id": stages[0].id, "amount": "125000.00"},
    )
    assert created.status_code == 201, created.get_json()
    opportunity = created.get_json()
    moved = api.post(
        f"/api/v1/opportunities/{opportunity['id']}/move", {"stage_id": stages[1].id, "version": opportunity["version"]}
    )
    assert moved.status_code == 200 and moved.get_json()["stage_id"] == stages[1].id
    assert moved.get_json()["probability"] == 50
    stale = api.post(
        f"/api/v1/opportunities/{opportunity['id']}/move", {"stage_id": stages[0].id, "version": opportunity["version"]}
    )
    assert problem_of(stale, 409)["current"]["stage_id"] == stages[1].id
    version = moved.get_json()["version"]
    lost = api.post(f"/api/v1/opportunities/{opportunity['id']}/move", {"stage_id": stages[2].id, "version": version})
    assert problem_of(lost, 422)["detail"] == sv("Give the reason the opportunity was lost.")
    assert fresh(session, Opportunity, opportunity["id"]).stage_id == stages[1].id
    problem_of(
        as_role("readonly").post(
            f"/api/v1/opportunities/{opportunity['id']}/move", {"stage_id": stages[0].id, "version": version}
        ),
        403,
    )
    no_customer = api.post("/api/v1/opportunities", {"title": "Ingen kund", "stage_id": stages[0].id})
    assert problem_of(no_customer, 422)["detail"] == sv("Choose the customer: either a company or a private customer.")
    listed = api.get(f"/api/v1/opportunities?company_id={company.id}").get_json()["items"]
    assert [o["title"] for o in listed] == ["Kaffemaskiner"]
    assert [s["name"] for s in api.get("/api/v1/sales-stages").get_json()["items"]] == ["Kontakt", "Offert", "Förlorad"]


def test_leads_and_activities(as_role, make_company, session, keys):
    api = as_role("seller")
    lead = api.post(
        "/api/v1/leads", {"company_name": "Nytt Bolag AB", "contact_email": "info@nytt.se", "source": "Webb"}
    )
    assert lead.status_code == 201, lead.get_json()
    assert api.get("/api/v1/leads?q=nytt").get_json()["items"][0]["id"] == lead.get_json()["id"]
    assert [x["id"] for x in api.get("/api/v1/leads?email=info@NYTT.se").get_json()["items"]] == [lead.get_json()["id"]]
    assert api.get("/api/v1/leads?email=annan@nytt.se").get_json()["items"] == []
    problem_of(api.post("/api/v1/leads", {"company_name": "X", "org_number": "123"}), 422)
    company = make_company(name="Aktiv AB")
    activity = api.post("/api/v1/activities", {"kind": "call", "subject": "Ring upp", "company_id": company.id})
    assert activity.status_code == 201, activity.get_json()
    assert activity.get_json()["done"] is False
    assert [a["subject"] for a in api.get(f"/api/v1/activities?company_id={company.id}").get_json()["items"]] == [
        "Ring upp"
    ]
    problem_of(api.post("/api/v1/activities", {"kind": "call", "subject": "Fel", "company_id": 999999}), 422)
    problem_of(as_role("readonly").post("/api/v1/activities", {"kind": "note", "subject": "Nej"}), 403)
    lead_id = lead.get_json()["id"]
    assert api.delete(f"/api/v1/leads/{lead_id}").status_code == 204
    # to the trash, not destroyed: gone from the list and the record, back with …/restore (lead.restore)
    assert count(session, Lead) == 1 and fresh(session, Lead, lead_id).deleted_at is not None
    assert api.get("/api/v1/leads").get_json()["items"] == []
    problem_of(api.get(f"/api/v1/leads/{lead_id}"), 404)
    problem_of(api.delete(f"/api/v1/leads/{lead_id}"), 404)
    problem_of(api.get("/api/v1/leads?in_trash=true"), 403)
    problem_of(api.post(f"/api/v1/leads/{lead_id}/restore"), 403)
    admin = as_role("admin")
    assert [x["id"] for x in admin.get("/api/v1/leads?in_trash=true").get_json()["items"]] == [lead_id]
    restored = admin.post(f"/api/v1/leads/{lead_id}/restore")
    assert restored.status_code == 200 and restored.get_json()["deleted_at"] is None
    assert fresh(session, Lead, lead_id).deleted_at is None
    assert [x["id"] for x in api.get("/api/v1/leads").get_json()["items"]] == [lead_id]


def test_a_lead_with_a_customers_org_number_is_created_with_a_warning(as_role, make_company, session, employees):
    """As the lead form after saving: the customer with the organisationsnummer is pointed out, not refused."""
    customer = make_company(name="Finns Redan AB", org_number="5560360793", customer_number=10042)
    data = {"company_name": "Nytt Lead AB", "org_number": "556036-0793", "source": "Webb"}
    created = as_role("seller").post("/api/v1/leads", data)
    assert created.status_code == 201, created.get_json()
    body = created.get_json()
    assert body["warnings"] == [
        {
            "code": "possible_duplicate",
            "field": "org_number",
            "record": {"type": "company", "id": customer.id},
            "message": sv(
                "%(name)s (customer no. %(number)s) already has this organisation number.",
                name="Finns Redan AB",
                number=10042,
            ),
        }
    ]
    assert fresh(session, Lead, body["id"]).org_number == "5560360793"  # created all the same
    # in English on asking; the first lead is now pointed out too
    english = as_role("seller", "en").post("/api/v1/leads", {**data, "contact_email": "info@nytt.se"})
    assert english.status_code == 201
    assert [(w["record"], w["message"]) for w in english.get_json()["warnings"]] == [
        ({"type": "lead", "id": body["id"]}, "The lead Nytt Lead AB already has this organisation number."),
        (
            {"type": "company", "id": customer.id},
            "Finns Redan AB (customer no. 10042) already has this organisation number.",
        ),
    ]
    assert count(session, Lead) == 2
    # nothing like it: an empty list; and a GET is the lead as ever, without warnings
    other = as_role("seller").post("/api/v1/leads", {"company_name": "Helt Annat AB", "org_number": "212000-0142"})
    assert other.status_code == 201 and other.get_json()["warnings"] == []
    assert "warnings" not in as_role("seller").get(f"/api/v1/leads/{body['id']}").get_json()


def test_a_leads_warnings_name_only_records_the_key_may_view(as_role, make_company, make_contact, session, employees):
    """A key whose employee may not view companies is not told which customer has the number or e-mail."""
    customer = make_company(name="Hemlig Kund AB", org_number="5560360793", email="info@hemlig.se")
    person = make_contact(first_name="Karin", last_name="Kontakt", email="info@hemlig.se")
    employees["seller"].revoked_permissions = ["company.view"]
    session.commit()
    created = as_role("seller").post(
        "/api/v1/leads", {"company_name": "Nytt AB", "org_number": "5560360793", "contact_email": "INFO@hemlig.se"}
    )
    assert created.status_code == 201, created.get_json()
    assert created.get_json()["warnings"] == [
        {
            "code": "possible_duplicate",
            "field": "contact_email",
            "record": {"type": "contact", "id": person.id},
            "message": sv("The contact %(name)s already has this e-mail address.", name="Karin Kontakt"),
        }
    ]
    seen_by_admin = as_role("admin").post(
        "/api/v1/leads", {"company_name": "Nytt AB", "org_number": "5560360793", "contact_email": "info@hemlig.se"}
    )
    # each record once, under the first field it shares (the customer has the e-mail too)
    assert [(w["field"], w["record"]) for w in seen_by_admin.get_json()["warnings"]] == [
        ("org_number", {"type": "lead", "id": created.get_json()["id"]}),
        ("org_number", {"type": "company", "id": customer.id}),
        ("contact_email", {"type": "contact", "id": person.id}),
    ]


def test_settings_employees_and_products(as_role, session, employees, keys):
    admin, seller = as_role("admin"), as_role("seller")
    category = admin.post("/api/v1/categories", {"name": "Kampanj", "applies_to": "company"})
    assert category.status_code == 201
    problem_of(seller.post("/api/v1/categories", {"name": "Nej"}), 403)
    assert [c["name"] for c in seller.get("/api/v1/categories").get_json()["items"]] == ["Kampanj"]
    assert admin.post("/api/v1/industries", {"name": "Livsmedel", "sni_code": "10"}).status_code == 201
    names = [e["name"] for e in seller.get("/api/v1/employees").get_json()["items"]]
    assert names == sorted(e.name for e in employees.values())
    product = as_role("finance").post(
        "/api/v1/products", {"number": "K1", "name": "Kaffe", "price": "89.50", "vat_rate": "12"}
    )
    assert product.status_code == 201, product.get_json()
    problem_of(seller.post("/api/v1/products", {"number": "K2", "name": "Te"}), 403)
    assert problem_of(admin.post("/api/v1/products", {"number": "K1", "name": "Igen"}), 422)["errors"]["number"]
    company = admin.post("/api/v1/companies", {"name": "Kategoriserad AB", "category_ids": [category.get_json()["id"]]})
    assert company.get_json()["category_ids"] == [category.get_json()["id"]]
    contact_scope = session.scalar(select(Category).where(Category.name == "Kampanj"))
    wrong = admin.post("/api/v1/contacts", {"first_name": "A", "last_name": "B", "category_ids": [contact_scope.id]})
    assert "category_ids" in problem_of(wrong, 422)["errors"]


def test_settings_and_products_are_changed_with_the_version_and_deleted_unless_in_use(
    as_role, make_company, products, stages, session, keys
):
    """PATCH and DELETE of categories, industries, sales stages and products: the permissions of the
    settings screens, 409 on a stale version, 422 on a taken name, and a row in use is not deleted."""
    from models import Industry, Product

    admin, seller, finance = as_role("admin"), as_role("seller"), as_role("finance")
    category = admin.post("/api/v1/categories", {"name": "Kampanj", "applies_to": "company"}).get_json()
    admin.post("/api/v1/categories", {"name": "Mässa"})
    renamed = admin.patch(f"/api/v1/categories/{category['id']}", {"version": category["version"], "name": "Vår"})
    assert renamed.status_code == 200 and renamed.get_json()["name"] == "Vår"
    assert renamed.get_json()["version"] == category["version"] + 1
    assert (
        problem_of(
            admin.patch(f"/api/v1/categories/{category['id']}", {"version": category["version"], "name": "Höst"}), 409
        )["current"]["name"]
        == "Vår"
    )
    taken = admin.patch(f"/api/v1/categories/{category['id']}", {"version": category["version"] + 1, "name": "Mässa"})
    assert problem_of(taken, 422)["errors"] == {"name": [sv("The name is already in use: choose another.")]}
    problem_of(seller.patch(f"/api/v1/categories/{category['id']}", {"version": 2, "name": "Nej"}), 403)
    problem_of(seller.delete(f"/api/v1/categories/{category['id']}"), 403)
    company = make_company(categories=[fresh(session, Category, category["id"])])
    in_use = problem_of(admin.delete(f"/api/v1/categories/{category['id']}"), 409)  # as the screen: kept
    assert in_use["detail"] == svn(
        "The category %(name)s is used by %(num)s customer or lead and cannot be deleted; remove it from them first.",
        "The category %(name)s is used by %(num)s customers and leads and cannot be deleted; "
        "remove it from them first.",
        1,
        name="Vår",
    )
    assert [c.name for c in fresh(session, Company, company.id).categories] == ["Vår"]
    mässa = admin.get("/api/v1/categories?q=Mässa").get_json()["items"][0]
    assert admin.delete(f"/api/v1/categories/{mässa['id']}").status_code == 204

    industry = admin.post("/api/v1/industries", {"name": "Bygg"}).get_json()
    make_company(industry_id=industry["id"])
    in_use = problem_of(admin.delete(f"/api/v1/industries/{industry['id']}"), 409)
    used_by_one = (
        "The industry %(name)s is used by %(num)s company and cannot be deleted; change it on them first.",
        "The industry %(name)s is used by %(num)s companies and cannot be deleted; change it on them first.",
        1,
    )
    assert in_use["detail"] == svn(*used_by_one, name="Bygg")
    english = problem_of(as_role("admin", "en").delete(f"/api/v1/industries/{industry['id']}"), 409)
    assert english["detail"] == "The industry Bygg is used by 1 company and cannot be deleted; change it on them first."
    assert count(session, Industry) == 1
    spare = admin.post("/api/v1/industries", {"name": "Skog"}).get_json()
    assert admin.delete(f"/api/v1/industries/{spare['id']}").status_code == 204

    stage = admin.get(f"/api/v1/sales-stages/{stages[1].id}").get_json()
    bad = admin.patch(f"/api/v1/sales-stages/{stage['id']}", {"version": stage["version"], "probability": 150})
    assert "probability" in problem_of(bad, 422)["errors"]
    moved = admin.patch(f"/api/v1/sales-stages/{stage['id']}", {"version": stage["version"], "probability": 60})
    assert moved.get_json()["probability"] == 60
    session.add(Opportunity(title="Pågår", company=make_company(), stage_id=stage["id"]))
    session.commit()
    refused = problem_of(admin.delete(f"/api/v1/sales-stages/{stage['id']}"), 409)
    assert refused["detail"] == sv(
        "The stage %(name)s is used by sales opportunities and cannot be deleted; deactivate it instead.",
        name="Offert",
    )
    assert admin.delete(f"/api/v1/sales-stages/{stages[0].id}").status_code == 204

    product = finance.get(f"/api/v1/products/{products['100'].id}").get_json()
    priced = finance.patch(f"/api/v1/products/{product['id']}", {"version": product["version"], "price": "990.00"})
    assert priced.status_code == 200 and priced.get_json()["price"] == "990.00"
    problem_of(seller.patch(f"/api/v1/products/{product['id']}", {"version": 2, "price": "1.00"}), 403)
    seller.post("/api/v1/orders", {"company_id": company.id, "lines": [{"product_id": product["id"]}]})
    problem_of(finance.delete(f"/api/v1/products/{product['id']}"), 409)
    assert finance.delete(f"/api/v1/products/{products['200'].id}").status_code == 204
    assert {p.number for p in session.scalars(select(Product))} == {"100", "300", "900"}
    trail = session.scalars(
        select(AuditEvent).where(AuditEvent.entity_type == "category").order_by(AuditEvent.id)
    ).all()
    assert [(e.action, e.api_key.name) for e in trail][-2:] == [("update", "Test admin"), ("purge", "Test admin")]


def test_an_activity_is_changed_completed_and_deleted(as_role, make_company, session, keys):
    company = make_company(name="Aktiv AB")
    seller = as_role("seller")
    activity = seller.post("/api/v1/activities", {"kind": "task", "subject": "Ring", "company_id": company.id})
    body = activity.get_json()
    done = seller.patch(
        f"/api/v1/activities/{body['id']}", {"version": body["version"], "done": True, "subject": "Ringt"}
    )
    assert done.status_code == 200, done.get_json()
    assert (done.get_json()["done"], done.get_json()["subject"]) == (True, "Ringt") and done.get_json()["done_at"]
    stale = seller.patch(f"/api/v1/activities/{body['id']}", {"version": body["version"], "subject": "Sent"})
    assert problem_of(stale, 409)["current"]["subject"] == "Ringt"
    moved = seller.patch(f"/api/v1/activities/{body['id']}", {"version": body["version"] + 1, "company_id": 999999})
    assert "company_id" in problem_of(moved, 422)["errors"]
    problem_of(as_role("readonly").patch(f"/api/v1/activities/{body['id']}", {"version": 2, "subject": "X"}), 403)
    problem_of(as_role("readonly").delete(f"/api/v1/activities/{body['id']}"), 403)
    trail = session.scalars(select(AuditEvent).where(AuditEvent.entity_type == "activity").order_by(AuditEvent.id))
    assert [(e.action, e.api_key.name) for e in trail] == [("create", "Test seller"), ("update", "Test seller")]
    assert seller.delete(f"/api/v1/activities/{body['id']}").status_code == 204
    assert count(session, Activity) == 0


def test_every_change_through_the_api_is_in_the_history_as_made_by_its_key(
    as_role, make_company, stages, employees, session, keys
):
    """Each kind of write the API offers writes audit events, every one naming the key and its employee."""
    tab = CustomTab(applies_to="company", name="Avtal")
    session.add(tab)
    session.flush()
    field = CustomFieldDefinition(tab_id=tab.id, label="Licenser", field_type="number")
    session.add(field)
    company = make_company(name="Historik AB")
    key = session.scalar(select(api_keys.ApiKey).where(api_keys.ApiKey.name == "Test admin"))
    admin = as_role("admin")

    def audited(method, url, body=None) -> dict:
        before = session.scalar(select(func.max(AuditEvent.id))) or 0
        response = admin.call(method, url, body)
        assert response.status_code in (200, 201, 204), (url, response.get_json())
        session.expire_all()
        made = session.scalars(select(AuditEvent).where(AuditEvent.id > before)).all()
        assert made, (method, url)
        assert {(e.api_key_id, e.actor_id) for e in made} == {(key.id, employees["admin"].id)}, (method, url)
        return response.get_json() if response.status_code != 204 else {}

    audited("PATCH", f"/api/v1/companies/{company.id}", {"version": company.version, "note": "Via API"})
    audited("PATCH", f"/api/v1/companies/{company.id}/custom-fields", {"values": {str(field.id): "3"}})
    other = audited("POST", "/api/v1/companies", {"name": "Andra AB"})
    audited("DELETE", f"/api/v1/companies/{other['id']}")
    audited("POST", f"/api/v1/companies/{other['id']}/restore")
    contact = audited("POST", "/api/v1/contacts", {"first_name": "Eva", "last_name": "Ek", "company_ids": [company.id]})
    audited("PATCH", f"/api/v1/contacts/{contact['id']}", {"version": contact["version"], "private_customer": True})
    lead = audited("POST", "/api/v1/leads", {"company_name": "Lead AB"})
    audited("PATCH", f"/api/v1/leads/{lead['id']}", {"version": lead["version"], "source": "Webb"})
    audited("DELETE", f"/api/v1/leads/{lead['id']}")
    deal = audited(
        "POST", "/api/v1/opportunities", {"title": "Affär", "company_id": company.id, "stage_id": stages[0].id}
    )
    audited("POST", f"/api/v1/opportunities/{deal['id']}/move", {"stage_id": stages[1].id, "version": deal["version"]})
    activity = audited("POST", "/api/v1/activities", {"kind": "task", "subject": "Ring", "company_id": company.id})
    audited("PATCH", f"/api/v1/activities/{activity['id']}", {"version": activity["version"], "done": True})
    audited("DELETE", f"/api/v1/activities/{activity['id']}")
    for url, body, change in (
        ("categories", {"name": "Kampanj"}, {"description": "Vår"}),
        ("industries", {"name": "Bygg"}, {"sni_code": "41"}),
        ("sales-stages", {"name": "Avtal", "probability": 80}, {"sort_order": 5}),
        ("products", {"number": "P1", "name": "Kaffe", "price": "10.00"}, {"price": "12.00"}),
    ):
        made = audited("POST", f"/api/v1/{url}", body)
        audited("PATCH", f"/api/v1/{url}/{made['id']}", {"version": made["version"], **change})
        audited("DELETE", f"/api/v1/{url}/{made['id']}")
    audited("POST", "/api/v1/orders", {"company_id": company.id})
    audited("POST", "/api/v1/invoices", {"company_id": company.id})


def test_draft_orders_and_invoices_are_created_and_read(as_role, make_company, products, session, keys):
    company = make_company(name="Fakturerad AB")
    seller = as_role("seller")
    order = seller.post(
        "/api/v1/orders",
        {"company_id": company.id, "lines": [{"product_id": products["100"].id, "quantity": "2"}]},
    )
    assert order.status_code == 201, order.get_json()
    body = order.get_json()
    assert body["status"] == "draft" and body["net_amount"] == "1900.00" and body["total"] == "2375.00"
    by_number = seller.post("/api/v1/orders", {"customer_number": company.customer_number})
    assert by_number.status_code == 201 and by_number.get_json()["company_id"] == company.id
    unknown = problem_of(seller.post("/api/v1/orders", {"customer_number": 1}), 422)
    assert unknown["errors"] == {"customer_number": [sv("No customer has the customer number %(n)s.", n=1)]}
    invoice = seller.post(
        "/api/v1/invoices",
        {"company_id": company.id, "lines": [{"description": "Frakt", "unit_price": "100", "vat_rate": "25"}]},
    )
    assert invoice.status_code == 201, invoice.get_json()
    assert invoice.get_json()["number"] is None and invoice.get_json()["total"] == "125.00"
    assert [i["id"] for i in seller.get(f"/api/v1/invoices?company_id={company.id}").get_json()["items"]] == [
        invoice.get_json()["id"]
    ]
    problem_of(seller.post("/api/v1/invoices", {"company_id": company.id, "lines": [{"quantity": "1"}]}), 422)
    problem_of(seller.post("/api/v1/invoices", {}), 422)
    problem_of(as_role("readonly").post("/api/v1/orders", {"company_id": company.id}), 403)
    assert count(session, SalesOrder) == 2 and count(session, Invoice) == 1
    assert problem_of(seller.patch(f"/api/v1/invoices/{invoice.get_json()['id']}", {"version": 1}, validate=False), 405)


def test_custom_field_values_are_read_and_written_with_the_card_rules(as_role, make_company, session, keys):
    tab = CustomTab(applies_to="company", name="Avtal")
    session.add(tab)
    session.flush()
    number = CustomFieldDefinition(tab_id=tab.id, label="Antal licenser", field_type="number")
    choice = CustomFieldDefinition(tab_id=tab.id, label="Nivå", field_type="choice", choices="Guld\nSilver")
    session.add_all([number, choice])
    company = make_company(name="Licens AB")
    api = as_role("seller")
    saved = api.patch(
        f"/api/v1/companies/{company.id}/custom-fields", {"values": {str(number.id): "12", str(choice.id): "Guld"}}
    )
    assert saved.status_code == 200, saved.get_json()
    values = {
        v["label"]: v["value"] for v in api.get(f"/api/v1/companies/{company.id}/custom-fields").get_json()["items"]
    }
    assert values == {"Antal licenser": "12", "Nivå": "Guld"}
    bad = problem_of(
        api.patch(f"/api/v1/companies/{company.id}/custom-fields", {"values": {str(choice.id): "Brons"}}), 422
    )
    assert bad["errors"] == {f"values.{choice.id}": [sv("Choose one of the listed values.")]}
    problem_of(as_role("readonly").patch(f"/api/v1/companies/{company.id}/custom-fields", {"values": {}}), 403)


@pytest.fixture
def typed_fields(session):
    """A company card tab with a field of each type."""
    tab = CustomTab(applies_to="company", name="Typer")
    session.add(tab)
    session.flush()
    made = {
        kind: CustomFieldDefinition(tab_id=tab.id, label=f"Fält {kind}", field_type=kind, choices=choices)
        for kind, choices in (("text", None), ("number", None), ("date", None), ("bool", None), ("choice", "Guld"))
    }
    session.add_all(made.values())
    session.commit()
    return made


NOT_TEXT = "Write the value as text."
NOT_NUMBER = "Not a number; write for example 1 250,50."
NOT_DATE = "Not a date; write YYYY-MM-DD or DD.MM.YYYY."
NOT_YES_NO = "Choose yes or no."


@pytest.mark.parametrize(
    "kind, value, message",
    [
        ("text", ["a"], NOT_TEXT),
        ("text", {"x": 1}, NOT_TEXT),
        ("text", True, NOT_TEXT),
        ("choice", ["Guld"], NOT_TEXT),
        ("number", ["1"], NOT_NUMBER),
        ("number", {"x": 1}, NOT_NUMBER),
        ("number", True, NOT_NUMBER),
        ("date", 20260101, NOT_DATE),
        ("date", ["2026-01-01"], NOT_DATE),
        ("bool", [True], NOT_YES_NO),
        ("bool", {"x": 1}, NOT_YES_NO),
    ],
)
def test_custom_field_values_of_another_json_type_are_refused_per_type(
    as_role, make_company, session, typed_fields, kind, value, message
):
    """Not stored as Python's text of the value ("['a']", "{'x': 1}")."""
    company = make_company(name="Typ AB")
    field = typed_fields[kind]
    response = as_role("seller").patch(
        f"/api/v1/companies/{company.id}/custom-fields", {"values": {str(field.id): value}}, validate=False
    )
    assert problem_of(response, 422)["errors"] == {f"values.{field.id}": [sv(message)]}
    assert count(session, CustomFieldValue) == 0
    assert count(session, AuditEvent, AuditEvent.entity_type == "company", AuditEvent.action == "update") == 0


def test_custom_field_values_as_json_numbers_and_booleans_are_kept(as_role, make_company, typed_fields):
    company = make_company(name="Json AB")
    api = as_role("seller")
    ids = {kind: str(field.id) for kind, field in typed_fields.items()}
    values = {ids["number"]: 12.5, ids["bool"]: True, ids["text"]: 12}
    assert api.patch(f"/api/v1/companies/{company.id}/custom-fields", {"values": values}).status_code == 200
    stored = {
        v["type"]: v["value"] for v in api.get(f"/api/v1/companies/{company.id}/custom-fields").get_json()["items"]
    }
    assert (stored["number"], stored["bool"], stored["text"]) == ("12.5", True, "12")


def test_a_new_required_field_blocks_no_partial_update_that_leaves_it_alone(
    as_role, make_company, session, typed_fields
):
    """A required field added later: a PATCH of another field of its tab is saved; the required field
    itself cannot be emptied through the API."""
    company = make_company(name="Före AB")
    required = CustomFieldDefinition(
        tab_id=typed_fields["text"].tab_id, label="Krav åäö", field_type="text", required=True
    )
    session.add(required)
    session.commit()
    api = as_role("seller")
    url = f"/api/v1/companies/{company.id}/custom-fields"
    number = typed_fields["number"]
    assert api.patch(url, {"values": {str(number.id): 12}}).status_code == 200
    stored = {v["label"]: v["value"] for v in api.get(url).get_json()["items"]}
    assert stored[number.label] == "12" and stored["Krav åäö"] is None
    for empty in (None, ""):
        refused = problem_of(api.patch(url, {"values": {str(required.id): empty, str(number.id): 13}}), 422)
        assert refused["errors"] == {f"values.{required.id}": [sv("Fill in %(field)s.", field="Krav åäö")]}
    assert api.patch(url, {"values": {str(required.id): "ja"}}).status_code == 200
    refused = problem_of(api.patch(url, {"values": {str(required.id): None}}), 422)
    assert {v["label"]: v["value"] for v in api.get(url).get_json()["items"]}["Krav åäö"] == "ja"


def test_saving_custom_fields_costs_the_same_statements_for_one_key_as_for_six(as_role, make_company, session):
    from sqlalchemy import event

    from extensions import db

    tab = CustomTab(applies_to="company", name="Avtal")
    session.add(tab)
    session.flush()
    fields = [CustomFieldDefinition(tab_id=tab.id, label=f"Fält {n}", field_type="text") for n in range(6)]
    session.add_all(fields)
    one, six = make_company(name="En AB"), make_company(name="Sex AB")
    session.commit()
    api = as_role("seller")

    def statements(company, chosen):
        sent = []
        values = {str(f.id): f"värde {f.id}" for f in chosen}
        url = f"/api/v1/companies/{company.id}/custom-fields"

        def count(conn, cursor, statement, parameters, context, executemany):
            sent.append(statement)

        event.listen(db.engine, "before_cursor_execute", count)
        try:
            response = api.patch(url, {"values": values})
        finally:
            event.remove(db.engine, "before_cursor_execute", count)
        assert response.status_code == 200, response.get_json()
        # The values' rows themselves: SQLite's INSERT … RETURNING goes one row at a time (PostgreSQL's in one).
        return len([x for x in sent if not x.startswith("INSERT INTO custom_field_value")])

    api.get(f"/api/v1/companies/{one.id}/custom-fields")  # the key's last use is written once a minute
    assert statements(one, fields[:1]) == statements(six, fields)
    stored = {v["label"]: v["value"] for v in api.get(f"/api/v1/companies/{six.id}/custom-fields").get_json()["items"]}
    assert stored == {f.label: f"värde {f.id}" for f in fields}


def test_custom_field_keys_that_are_no_field_are_refused_by_name(as_role, make_company):
    company = make_company(name="Nycklar AB")
    keys = ["abc", "²", "99999999999999999999", "0"]
    response = as_role("seller").patch(
        f"/api/v1/companies/{company.id}/custom-fields", {"values": dict.fromkeys(keys, "x")}, validate=False
    )
    assert set(problem_of(response, 422)["errors"]) == {f"values.{key}" for key in keys}


# --- rate limits --------------------------------------------------------------------------------


@pytest.fixture(params=["memory", "redis"])
def rate_limited_app(request, app):
    """The app with rate limits on (3 calls a minute per key), counted in memory and in Redis
    (CRM_TEST_REDIS_URL) as production counts them with CRM_REDIS_URL."""
    import os

    from app import create_app
    from extensions import limiter
    from services import tasks

    storage = "memory://"
    if request.param == "redis":
        storage = os.environ.get("CRM_TEST_REDIS_URL")
        if not storage:
            pytest.skip("needs Redis: set CRM_TEST_REDIS_URL (e.g. redis://127.0.0.1:6379/15) to run")
    kept = ("TESTING", "INSTANCE_DIR", "SQLALCHEMY_DATABASE_URI", "UPLOAD_DIR", "SERVER_NAME")
    limited = create_app(
        {
            **{k: app.config[k] for k in kept},
            "RATELIMIT_ENABLED": True,
            "RATELIMIT_STORAGE_URI": storage,
            "API_RATE_LIMIT": "3 per minute",
        }
    )
    tasks.init_app(app)  # the queue's tasks keep running in the tests' app
    limited.test_client_class = app.test_client_class
    with limited.test_request_context():
        limiter.reset()
    yield limited
    with limited.test_request_context():
        limiter.reset()
    limiter.enabled = False  # the other tests' app runs without limits


def test_each_key_has_its_own_rate_limit_and_429_says_when_to_retry(rate_limited_app, openapi, keys):
    seller = ApiClient(rate_limited_app.test_client(), openapi, keys["seller"])
    assert [seller.get("/api/v1/companies").status_code for _ in range(3)] == [200, 200, 200]
    refused = seller.get("/api/v1/companies")
    body = problem_of(refused, 429)
    assert body["detail"] == sv("Too many requests with this API key; wait and try again (see Retry-After).")
    assert 1 <= int(refused.headers["Retry-After"]) <= 61
    admin = ApiClient(rate_limited_app.test_client(), openapi, keys["admin"])
    assert admin.get("/api/v1/companies").status_code == 200  # another key, another count


def test_the_login_forms_limit_per_address_answers_a_swedish_page(rate_limited_app):
    """The login form's limit (10 a minute per address) refused with Werkzeug's English page; and its
    keys in Redis carry the instance's prefix, as the other Redis keys do."""
    from tests.helpers import AuthActions

    with rate_limited_app.test_request_context():
        from extensions import limiter

        assert limiter._key_prefix == f"{rate_limited_app.config['REDIS_KEY_PREFIX']}limits"
    auth = AuthActions(rate_limited_app.test_client())
    answers = [auth.login(f"gissning{n}@example.se", "fel lösenord") for n in range(11)]
    assert [a.status_code for a in answers[:10]] == [200] * 10
    refused = answers[10]
    assert refused.status_code == 429 and refused.headers["Retry-After"] == "60"
    page = refused.get_data(as_text=True)
    assert sv("Too many login attempts. Wait a minute and try again.") in page
    assert "Too Many Requests" not in page and "<html" in page.lower()


def test_decimal_amounts_travel_as_exact_text(as_role, make_company, stages, session, keys):
    company = make_company()
    created = as_role("seller").post(
        "/api/v1/opportunities", {"title": "Öre", "company_id": company.id, "stage_id": stages[0].id, "amount": "0.10"}
    )
    assert created.get_json()["amount"] == "0.10"
    assert fresh(session, Opportunity, created.get_json()["id"]).amount == Decimal("0.10")


def test_no_api_get_changes_the_register_and_every_answer_fits_the_document(app, demo, employees, openapi, session):
    """Every GET of the API on the demo register, as the administrator's key: each response valid
    against the OpenAPI document, none a 5xx, and no table changed but the key's own last use."""
    from flask import url_for

    from tests.security import changed_tables, demo_ids, route_values, routes, snapshot

    key = api_keys.create(session, None, employee=employees["admin"], name="Crawl").secret
    session.commit()
    api = ApiClient(app.test_client(), openapi, key)
    ids = demo_ids(session)
    with app.test_request_context():
        urls = [
            url_for(rule.endpoint, **route_values(rule, ids))
            for rule, method in routes(app)
            if method == "GET" and rule.endpoint.startswith("api_") and not rule.endpoint.startswith("api_docs")
        ]
    before = snapshot(session)
    statuses = {url: api.get(url).status_code for url in urls}
    changed = changed_tables(before, snapshot(session))
    assert set(changed) <= {"api_key"}, changed
    assert all(code in (200, 404) for code in statuses.values()), statuses
    assert sum(code == 200 for code in statuses.values()) >= 0.8 * len(urls), statuses


def test_invoice_settings_reach_only_a_key_whose_employee_may_see_them(as_role, make_company, session, employees):
    """The Inställningar tab's fields (services.visibility), as the forms: a key acting as an employee
    without tab.settings neither reads nor sets a customer's discount, currency, language or terms."""
    from decimal import Decimal

    from services import permissions

    permissions.set_overrides(employees["admin"], employees["seller"], grant=set(), revoke={"tab.settings"})
    company = make_company(name="Rabatten AB", discount_percent=Decimal("7.50"))
    session.commit()
    settings = {"invoice_language", "discount_percent", "payment_terms_days", "currency"}
    seller, admin = as_role("seller"), as_role("admin")
    seen = seller.get(f"/api/v1/companies/{company.id}").get_json()
    assert not settings & set(seen) and seen["name"] == "Rabatten AB"
    listed = seller.get("/api/v1/companies").get_json()["items"]
    assert all(not settings & set(item) for item in listed)
    refused = seller.patch(f"/api/v1/companies/{company.id}", {"version": seen["version"], "discount_percent": "50"})
    assert set(problem_of(refused, 422)["errors"]) == {"discount_percent"}
    assert fresh(session, Company, company.id).discount_percent == Decimal("7.50")
    assert admin.get(f"/api/v1/companies/{company.id}").get_json()["discount_percent"] == "7.50"
    changed = seller.patch(f"/api/v1/companies/{company.id}", {"version": seen["version"], "note": "Ok"})
    assert changed.status_code == 200 and not settings & set(changed.get_json())
