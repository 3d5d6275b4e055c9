"""Företagsuppslag: services.registry's look-up on the loaded sample, the JSON endpoint with its
permissions, the search box on the forms, and existing customers and leads pointed out on save."""

import re

import pytest
from sqlalchemy import select

from extensions import db
from models import Company, Lead
from seed.bolagsverket_sample import SAMPLE
from services import registry, trash
from services.registry_loader import load
from tests.helpers import flashes, sv, text
from tests.test_statement_counts import statements
from tests.test_views_company import COMPANY_FORM, edit_form_data

FILE = [registry.BulkFileProvider()]


@pytest.fixture
def loaded(app):
    load(db.engine, SAMPLE)


def found(query):
    return [(e.name, e.org_number) for e in registry.lookup(db.session, query, sources=FILE).entries]


# --- the look-up ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "query",
    [
        "Svea Kaffe",
        "svea kaf",
        "SVEA",
        "kaffe ab",
        "Svea kafe",
        "svea kaffee",
        "svea kaffr",
        "sv ka",
        "5529405572",
        "552940-5572",
        "552940",
    ],
    ids=[
        "name",
        "prefix",
        "case",
        "substring",
        "missing-letter",
        "extra-letter",
        "wrong-letter",
        "short-words",
        "orgnr",
        "orgnr-dash",
        "orgnr-prefix",
    ],
)
def test_svea_kaffe_is_found_by_name_part_typo_or_number(loaded, query):
    assert ("Svea Kaffe AB", "5529405572") in found(query)


def test_a_typo_in_a_long_word_is_found(loaded):
    assert ("Norrlands Bygg AB", "5507536455") in found("norrlnds bygg")


def test_the_beginning_of_the_name_comes_first_and_accents_are_folded(loaded):
    names = [name for name, _ in found("göta")]
    assert names[0] == "Göta Trä & Virke AB" or names[0].startswith("Göta")
    assert all(name.lower().startswith("göta") for name in names[: len([n for n in names if n.startswith("Göta")])])
    assert any("Café Lumière" in name for name, _ in found("cafe lumiere"))
    assert found("xyzzyq") == []


def test_deregistered_companies_are_found_and_marked(loaded):
    entry = registry.lookup(db.session, "Blekinge Glas", sources=FILE).entries[0]
    assert (entry.name, entry.is_active, entry.deregistered_on.isoformat()) == ("Blekinge Glas AB", False, "2026-06-12")
    assert entry.as_json()["active"] is False


def test_an_entry_fills_the_customer_fields_as_the_form_takes_them(loaded):
    entry = registry.lookup(db.session, "5529405572", sources=FILE).entries[0]
    fields = entry.company_fields()
    assert fields == {
        "name": "Svea Kaffe AB",
        "org_number": "552940-5572",
        "country": "SE",
        "legal_form": "Aktiebolag",  # in the default locale, Swedish
        "postal_street": "Kaffegränd 4",
        "postal_postcode": "111 22",
        "postal_city": "Stockholm",
    }


def test_the_data_date_comes_with_every_answer(loaded):
    assert registry.lookup(db.session, "svea", sources=FILE).data_date.isoformat() == "2026-11-30"


# --- /admin/registry/lookup ------------------------------------------------------------------


def test_the_lookup_endpoint_answers_json_with_existing_customers(loaded, login, make_company):
    customer = make_company(name="Svea Kaffe AB", org_number="5529405572")
    seller = login("seller")
    response = seller.client.get("/admin/registry/lookup?q=svea+kafe")
    assert response.status_code == 200 and response.mimetype == "application/json"
    data = response.get_json()
    assert data["data_date"] == "2026-11-30"
    first = data["results"][0]
    assert (first["name"], first["org_number_display"], first["active"]) == ("Svea Kaffe AB", "552940-5572", True)
    assert first["legal_form_label"] == "Aktiebolag"  # the seller's Swedish
    assert first["fields"]["company_name"] == "Svea Kaffe AB"
    assert first["existing"] == [
        {
            "kind": "company",
            "label": sv("Customer"),
            "name": "Svea Kaffe AB",
            "url": f"/admin/company/card/{customer.id}",
        }
    ]


def test_a_customer_in_the_trash_is_pointed_out_as_the_uniqueness_rule_counts_it(
    loaded, login, employees, make_company
):
    """Its org.nr is taken (saving another is refused), so the look-up says so: a link to Återställa kunder
    for whoever may restore, the name alone for others."""
    customer = make_company(name="Svea Kaffe AB", org_number="5529405572")
    trash.delete(db.session, employees["admin"], Company, [customer.id])
    db.session.commit()
    lead = Lead(company_name="Svea Kaffe", org_number="5529405572")
    db.session.add(lead)
    db.session.commit()
    expected = [
        {"kind": "company", "label": sv("Customer in the trash"), "name": "Svea Kaffe AB", "url": "/admin/trash/"},
        {"kind": "lead", "label": "Lead", "name": "Svea Kaffe", "url": f"/admin/lead/show/{lead.id}"},
    ]
    admin = login("admin").client.get("/admin/registry/lookup?q=5529405572").get_json()
    assert admin["results"][0]["existing"] == expected
    seller = login("seller").client.get("/admin/registry/lookup?q=5529405572").get_json()
    assert seller["results"][0]["existing"] == [{**expected[0], "url": None}, expected[1]]


def test_the_lookup_reads_existing_customers_in_the_same_statements_for_one_result_as_for_ten(
    loaded, login, make_company
):
    client = login("seller").client
    for query in ("svea kaffe", "bygg"):
        for entry in registry.lookup(db.session, query, sources=FILE).entries:
            make_company(name=entry.name, org_number=entry.org_number)
    one, _sql = statements(client, "/admin/registry/lookup?q=svea+kaffe")
    ten, _sql = statements(client, "/admin/registry/lookup?q=bygg")
    results = client.get("/admin/registry/lookup?q=bygg").get_json()["results"]
    assert len(results) == 10 and all(len(r["existing"]) == 1 for r in results)
    assert one == ten


def test_the_lookup_endpoint_before_any_load_answers_empty(login):
    data = login("seller").client.get("/admin/registry/lookup?q=svea").get_json()
    assert data == {"query": "svea", "data_date": None, "warning": None, "results": []}


@pytest.mark.parametrize(("role", "status"), [("admin", 200), ("seller", 200), ("finance", 200), ("readonly", 403)])
def test_the_lookup_endpoint_is_permission_checked(loaded, login, role, status):
    assert login(role).client.get("/admin/registry/lookup?q=svea").status_code == status


def test_the_lookup_endpoint_refuses_anonymous_and_writes(loaded, client, login):
    assert client.get("/admin/registry/lookup?q=svea").status_code == 302
    seller = login("seller")
    assert seller.post("/admin/registry/lookup?q=svea").status_code == 405


def test_a_long_or_odd_query_is_answered_not_an_error(loaded, login):
    client = login("seller").client
    for query in ("a" * 5000, "%_\\'\"", "   ", "12", "0000000000"):
        response = client.get("/admin/registry/lookup", query_string={"q": query})
        assert response.status_code == 200, query
        assert isinstance(response.get_json()["results"], list)


def test_the_status_page_shows_the_data_date(loaded, login):
    page = text(login("seller").client.get("/admin/registry/"))
    assert "2026-11-30" in page and "bolagsverket_bulkfil_sample.zip" in page


# --- the forms --------------------------------------------------------------------------------


@pytest.mark.parametrize("url", ["/admin/company/new/", "/admin/supplier/new/", "/admin/lead/new/"])
def test_the_new_customer_lead_and_supplier_forms_have_the_search_box(login, url):
    page = login("seller").client.get(url).get_data(as_text=True)
    assert sv("Search the company register") in text(login("seller").client.get(url))
    assert 'id="registry-search"' in page and "js/registry_lookup.js" in page
    assert "<script>" not in page.split('id="registry-lookup"')[1].split("</form>")[0]  # no inline script


def test_the_search_box_is_not_offered_without_the_permission(login, employees):
    employees["seller"].revoked_permissions = ["registry.lookup"]
    db.session.commit()
    page = login("seller").client.get("/admin/company/new/").get_data(as_text=True)
    assert 'id="registry-search"' not in page


@pytest.mark.parametrize("url", ["/admin/company/new/", "/admin/supplier/new/"])
def test_saving_a_company_points_out_a_lead_with_its_org_number(login, session, url):
    lead = Lead(company_name="Svea Kaffe (lead)", org_number="5560360793")
    session.add(lead)
    session.commit()
    response = login("seller").post(url, COMPANY_FORM, follow_redirects=True)
    assert session.scalars(select(Company)).one().org_number == "5560360793"
    messages = flashes(response)
    assert ("warning", f"{sv('A lead already has this organisation number:')} Svea Kaffe (lead)") in messages
    assert f'href="/admin/lead/show/{lead.id}"' in response.get_data(as_text=True)


def test_an_edit_that_gives_a_customer_a_leads_org_number_points_out_the_lead(login, session, make_company, employees):
    customer = make_company(name="Svea Kaffe AB", owner_id=employees["seller"].id)
    lead = Lead(company_name="Svea Kaffe (lead)", org_number="5560360793")
    session.add(lead)
    session.commit()
    response = login("seller").post(
        f"/admin/company/edit/?id={customer.id}",
        edit_form_data(customer, org_number="556036-0793"),
        follow_redirects=True,
    )
    session.expire_all()
    assert session.get(Company, customer.id).org_number == "5560360793"
    assert ("warning", f"{sv('A lead already has this organisation number:')} Svea Kaffe (lead)") in flashes(response)
    # a later save that leaves the number as it is does not say it again
    again = login("seller").post(
        f"/admin/company/edit/?id={customer.id}",
        edit_form_data(session.get(Company, customer.id), note="Ringd"),
        follow_redirects=True,
    )
    assert not [m for kind, m in flashes(again) if kind == "warning"]


def test_saving_a_lead_points_out_the_customer_with_its_org_number(login, make_company):
    customer = make_company(name="Svea Kaffe AB", org_number="5560360793")
    response = login("seller").post(
        "/admin/lead/new/",
        {"company_name": "Svea Kaffe", "org_number": "556036-0793", "status": "new"},
        follow_redirects=True,
    )
    assert f'href="/admin/company/card/{customer.id}"' in response.get_data(as_text=True)
    assert any(category == "warning" for category, _ in flashes(response))


def test_legal_form_is_saved_with_the_company(login, session):
    response = login("seller").post("/admin/company/new/", {**COMPANY_FORM, "legal_form": "Aktiebolag"})
    assert response.status_code == 302
    assert session.scalars(select(Company)).one().legal_form == "Aktiebolag"


# --- "Uppdatera från företagsregistret" on the customer card -------------------------------------


@pytest.fixture
def svea(loaded, make_company):
    return make_company(
        name="Svea Kaffe AB",
        org_number="5529405572",
        postal_street="Storgatan 1",
        postal_postcode="123 45",
        postal_city="Stockholm",
    )


def test_the_card_offers_the_refresh_and_shows_the_differences(svea, login, session):
    from models import AuditEvent

    seller = login("seller")
    card = seller.client.get(f"/admin/company/card/{svea.id}").get_data(as_text=True)
    assert f'href="/admin/company/card/{svea.id}/registry"' in card
    events = session.scalar(select(db.func.count()).select_from(AuditEvent))
    page = seller.client.get(f"/admin/company/card/{svea.id}/registry")
    rows = [
        [cell.strip() for cell in re.findall(r"<td>(?:<label[^>]*>)?(?:<strong>)?([^<]*)", row)][1:]
        for row in re.findall(
            r"<tr>(.*?)</tr>", page.get_data(as_text=True).split('id="registry-differences"')[1], re.S
        )
    ]
    assert [r for r in rows if r] == [
        [sv("Form of organisation"), "", "Aktiebolag"],
        [sv("Postal address"), "Storgatan 1", "Kaffegränd 4"],
        [sv("Postcode"), "123 45", "111 22"],
    ]
    assert "2026-11-30" in text(page)
    assert session.scalar(select(db.func.count()).select_from(AuditEvent)) == events  # GET changes nothing


def test_accepting_chosen_fields_updates_only_those(svea, login, session):
    seller = login("seller")
    response = seller.post(
        f"/admin/company/card/{svea.id}/registry",
        {"field": ["postal_street", "legal_form"], "version": str(svea.version)},
        follow_redirects=True,
    )
    session.expire_all()
    company = session.get(Company, svea.id)
    assert (company.postal_street, company.legal_form, company.postal_postcode) == (
        "Kaffegränd 4",
        "Aktiebolag",
        "123 45",
    )
    assert (
        "success",
        sv("Updated from the company register: %(fields)s.", fields="Organisationsform, Postadress"),
    ) in (flashes(response))
    from models import AuditEvent

    event = session.scalars(
        select(AuditEvent).where(AuditEvent.entity_id == svea.id, AuditEvent.action == "update")
    ).one()
    assert event.changes["postal_street"] == ["Storgatan 1", "Kaffegränd 4"]
    assert "postal_postcode" not in event.changes
    again = seller.client.get(f"/admin/company/card/{svea.id}/registry").get_data(as_text=True)
    assert re.findall(r'name="field" value="(\w+)"', again) == ["postal_postcode"]  # what is left to accept


def test_a_stale_or_forged_refresh_changes_nothing(svea, login, session):
    seller = login("seller")
    stale = seller.post(
        f"/admin/company/card/{svea.id}/registry", {"field": ["postal_street"], "version": str(svea.version + 1)}
    )
    assert stale.status_code == 302
    no_csrf = seller.client.post(f"/admin/company/card/{svea.id}/registry", data={"field": ["postal_street"]})
    assert no_csrf.status_code == 400
    assert login("readonly").post(f"/admin/company/card/{svea.id}/registry", {"field": ["name"]}).status_code == 403
    session.expire_all()
    assert session.get(Company, svea.id).postal_street == "Storgatan 1"


def test_a_company_missing_from_the_register_is_said_so(loaded, login, make_company):
    company = make_company(name="Okänd AB", org_number="5560360793")
    page = text(login("seller").client.get(f"/admin/company/card/{company.id}/registry"))
    assert sv("The company register has no company with this organisation number.") in page
