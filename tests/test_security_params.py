"""Issue 12, item 5, the rules themselves: one parser for ids and numbers, a bound on search
words, and what the user is told (in Swedish) when an address has a bad number."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from models import Company
from services import search
from services.validation import MAX_INTEGER, whole_number
from tests.helpers import sv, text


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("1", 1),
        (" 42 ", 42),
        (str(MAX_INTEGER), MAX_INTEGER),
        (str(MAX_INTEGER + 1), None),
        (str(2**63), None),
        (str(2**64), None),
        ("9" * 40, None),
        ("0", None),
        ("-1", None),
        ("1.5", None),
        ("1e3", None),
        ("١٢", None),  # Arabic-Indic digits: int() would take them
        ("", None),
        (None, None),
        ("12abc", None),
    ],
)
def test_whole_number_takes_only_ids_that_fit_a_column(value, expected):
    assert whole_number(value) == expected


def test_whole_number_bounds():
    assert whole_number("0", minimum=0) == 0
    assert whole_number("-3", minimum=-5) == -3
    assert whole_number("11", maximum=10) is None


def test_search_uses_the_first_ten_words(session, make_company):
    make_company(name="Alfa Beta AB")
    words = "alfa beta " + " ".join(f"saknas{n}" for n in range(2000))
    assert search.words(words)[:2] == ["alfa", "beta"] and len(search.words(words)) == search.MAX_WORDS
    # the first ten words must all match: here the eighth already does not
    assert session.scalars(select(Company).where(search.matches(Company, words))).all() == []
    assert [c.name for c in session.scalars(select(Company).where(search.matches(Company, "alfa beta")))] == [
        "Alfa Beta AB"
    ]
    assert len(search.words("x" * 10_000)[0]) == search.MAX_WORD_LENGTH


def test_a_bad_number_in_the_address_gets_a_swedish_400_page(login, make_company):
    company = make_company()
    client = login("seller").client
    page = client.get("/admin/company/?page=-5")
    assert page.status_code == 400
    message = sv(
        "The address has an invalid value for %(name)s: a whole number from %(minimum)s to %(maximum)s is expected.",
        name="page",
        minimum=0,
        maximum=MAX_INTEGER,
    )
    assert message in text(page)
    report = client.get(f"/admin/reports/generator/?run=1&entity=company&after={2**64}")  # pages by key, not number
    lost = "The page could not be found again (the address is not complete); the first page is shown."
    assert report.status_code == 200 and sv(lost) in text(report)
    assert client.get(f"/admin/company/card/{company.id}?page=1.5").status_code == 400
    assert client.get(f"/admin/company/card/{2**64}").status_code == 404
    assert client.get(f"/admin/company/edit/?id={2**63}").status_code == 404
    assert client.get(f"/admin/opportunity/board?owner={2**64}").status_code == 404
    assert client.get("/admin/company/?page=2").status_code == 200


def test_a_list_search_of_two_thousand_words_answers(login, make_company):
    make_company(name="Alfa AB")
    client = login("seller").client
    words = " ".join(f"ord{n}" for n in range(2000))
    assert client.get("/admin/company/", query_string={"search": words}).status_code == 200
    assert client.get("/admin/company/export/csv/", query_string={"search": words}).get_data().startswith(b"\xef")


def test_a_nul_character_is_refused_before_it_reaches_the_database(login, session):
    """PostgreSQL cannot hold NUL: a search with one answered 500 there. Now: 400, nothing saved."""
    admin = login("admin")
    page = admin.client.get("/admin/company/", query_string={"search": "a\x00b"})
    assert page.status_code == 400
    assert sv("The text contains a character that cannot be saved (NUL). Remove it and try again.") in text(page)
    response = admin.post("/admin/company/new/", {"name": "Noll\x00AB", "discount_percent": "0"})
    assert response.status_code == 400
    assert session.scalar(select(Company.id).limit(1)) is None
