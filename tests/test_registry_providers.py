"""The register's sources: the bulk file, and Bolagsverket's API "Värdefulla datamängder" v1 asked over a
real socket (tests/registry_server.py implements its shape: OAuth2 client credentials, POST /organisationer)."""

import pytest

from extensions import db
from seed.bolagsverket_sample import SAMPLE
from services import registry
from services.registry_loader import load
from tests import registry_server
from tests.registry_server import RegistryApi, organisation


@pytest.fixture
def api():
    state = RegistryApi(
        {
            "5529405572": organisation(
                "5529405572", "Svea Kaffe AB", street="Rostargatan 9", postcode="113 40", city="Stockholm", co="Ek"
            ),
            "5599065934": organisation(
                "5599065934", "Blekinge Glas AB", street="Glasvägen 1", postcode="37100", city="Karlskrona",
                deregistered="2026-06-12", active=False,
            ),
        }
    )  # fmt: skip
    server = registry_server.start(state)
    state.config = registry_server.config(server)
    yield state
    server.shutdown()
    server.server_close()


def provider(api, **changes):
    return registry.BolagsverketApiProvider.from_config({**api.config, **changes})


def test_the_api_is_not_used_until_configured():
    assert registry.BolagsverketApiProvider.from_config({"REGISTRY_API_CLIENT_ID": ""}) is None
    assert [type(p) for p in registry.providers({"REGISTRY_API_CLIENT_ID": ""})] == [registry.BulkFileProvider]


def test_the_api_answers_a_company_with_a_token_fetched_once(api):
    online = provider(api)
    entry = online.fetch(None, "5529405572")
    assert (entry.name, entry.org_number, entry.legal_form, entry.source) == (
        "Svea Kaffe AB",
        "5529405572",
        "AB",
        "api",
    )
    assert (entry.postal_street, entry.postal_postcode, entry.postal_city, entry.postal_co) == (
        "Rostargatan 9",
        "11340",
        "Stockholm",
        "Ek",
    )
    assert entry.is_active and entry.business_description == "Handel med kaffe."
    assert entry.company_fields()["postal_street"] == "c/o Ek, Rostargatan 9"
    online.fetch(None, "5599065934")
    assert api.token_requests == 1  # the token is kept while it is valid
    assert [body for _id, body in api.requests] == [
        {"identitetsbeteckning": "5529405572"},
        {"identitetsbeteckning": "5599065934"},
    ]
    assert all(request_id for request_id, _body in api.requests)  # X-Request-Id on every call


def test_a_deregistered_and_an_unknown_company(api):
    online = provider(api)
    glas = online.fetch(None, "5599065934")
    assert (glas.is_active, glas.deregistered_on.isoformat()) == (False, "2026-06-12")
    assert online.fetch(None, "5560360793") is None  # ORGANISATION_FINNS_EJ


def test_wrong_credentials_and_a_failing_server_are_provider_errors_in_swedish(app, api):
    with app.test_request_context(), pytest.raises(registry.ProviderError, match="HTTP 401 från http") as refused:
        provider(api, REGISTRY_API_CLIENT_SECRET="fel").fetch(None, "5529405572")
    assert refused.value.status == 401
    api.fail_with = 503
    with app.test_request_context(), pytest.raises(registry.ProviderError, match="HTTP 503") as failed:
        provider(api).fetch(None, "5529405572")
    assert failed.value.status == 503
    with app.test_request_context(), pytest.raises(registry.ProviderError, match="svarar inte") as silent:
        provider(api, REGISTRY_API_TOKEN_URL="http://127.0.0.1:9/oauth2/token").fetch(None, "5529405572")
    assert silent.value.status is None


def test_only_a_404_means_no_such_company(api):
    """An answer of 404 is "not registered" (None); a message that merely mentions 404 is still an error."""
    api.fail_with = 404
    assert provider(api).fetch(None, "5529405572") is None
    api.fail_with = None
    with pytest.raises(registry.ProviderError):  # an address that cannot be asked, and says "HTTP 404"
        provider(api, REGISTRY_API_URL="http://127.0.0.1:9/HTTP 404").fetch(None, "5529405572")


def test_the_api_goes_before_the_file_for_a_number_and_the_file_answers_names(app, api):
    load(db.engine, SAMPLE)
    sources = registry.providers(api.config)
    by_number = registry.lookup(db.session, "552940-5572", sources=sources)
    assert [(e.source, e.postal_street) for e in by_number.entries] == [("api", "Rostargatan 9")]
    by_name = registry.lookup(db.session, "svea kaffe", sources=sources)
    assert [(e.source, e.name) for e in by_name.entries][:1] == [("file", "Svea Kaffe AB")]
    assert len(api.requests) == 1  # a name is not sent to the API


def test_when_the_api_fails_the_file_answers_with_a_warning(app, api, login, monkeypatch):
    load(db.engine, SAMPLE)
    api.fail_with = 500
    for key, value in api.config.items():
        monkeypatch.setitem(app.config, key, value)
    data = login("seller").client.get("/admin/registry/lookup?q=5529405572").get_json()
    assert [(r["source"], r["postal_street"]) for r in data["results"]] == [("file", "Kaffegränd 4")]
    assert data["warning"]


def test_the_endpoint_answers_from_the_api_when_configured(app, api, login, monkeypatch):
    for key, value in api.config.items():
        monkeypatch.setitem(app.config, key, value)
    data = login("seller").client.get("/admin/registry/lookup?q=5529405572").get_json()
    assert [(r["source"], r["name"], r["fields"]["postal_postcode"]) for r in data["results"]] == [
        ("api", "Svea Kaffe AB", "113 40")
    ]
