"""Företagsuppslag tried with what people paste (review of issue 17): an organisationsnummer with
an en dash or a no-break space from a web page or PDF, the 12-digit form with 16 in front, and
LIKE's wildcards, which must match themselves and nothing else."""

import pytest

from extensions import db
from seed.bolagsverket_sample import SAMPLE
from services import registry, validation
from services.registry_loader import load

FILE = [registry.BulkFileProvider()]


@pytest.fixture
def loaded(app):
    load(db.engine, SAMPLE)


def found(query):
    return [(e.name, e.org_number) for e in registry.lookup(db.session, query, sources=FILE).entries]


@pytest.mark.parametrize(
    "query",
    ["552940\u20135572", "552940\u20145572", "552940\u00a05572", "552940\u22125572", "16552940-5572", "165529405572"],
    ids=["en-dash", "em-dash", "no-break-space", "minus-sign", "twelve-digits-dash", "twelve-digits"],
)
def test_an_org_number_as_pasted_finds_the_company(loaded, query):
    assert found(query) == [("Svea Kaffe AB", "5529405572")]


@pytest.mark.parametrize("query", ["%", "_", "%%", "__", "%a%", "\\", "*"])
def test_wildcards_match_nothing_by_themselves(loaded, query):
    assert found(query) == []


def test_the_lookup_endpoint_finds_a_pasted_org_number(loaded, login):
    answer = login("seller").client.get("/admin/registry/lookup", query_string={"q": "552940\u20135572"}).get_json()
    assert [r["name"] for r in answer["results"]] == ["Svea Kaffe AB"]


@pytest.mark.parametrize("value", ["16552940-5572", "165529405572", "16 552940-5572"])
def test_the_twelve_digit_form_of_an_org_number_is_accepted_as_its_ten_digits(value):
    assert validation.org_number(value) == "5529405572"


def test_sixteen_in_front_of_a_wrong_number_is_still_refused():
    with pytest.raises(validation.InvalidValue):
        validation.org_number("16552940-5573")
