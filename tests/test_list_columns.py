"""The columns of a list ("Kolumner", issue 16): each employee chooses a list's columns, kept in
their preferences (services.layout), and goes back to the list's standard columns; numbers and
amounts are right-aligned."""

import re

import pytest

from extensions import db
from models import Employee
from services import layout
from services.validation import InvalidValue
from tests.helpers import flashes, fresh, sv, text

AVAILABLE = ["customer_number", "name", "email", "industry"]


def header_labels(page: str) -> list[str]:
    """The column headers of the list (not the tick box or edit columns)."""
    return [
        re.sub(r"<[^>]+>|\s+", " ", h).strip()
        for h in re.findall(r'<th class="column-header[^"]*">(.*?)</th>', page, re.S)
    ]


def test_the_default_until_the_employee_chooses_then_their_choice_in_the_list_s_order(employees):
    seller = employees["seller"]
    assert layout.list_columns(seller, "company", AVAILABLE, AVAILABLE[:3]) == AVAILABLE[:3]
    layout.save_list_columns(seller, "company", ["industry", "name", "unknown"], AVAILABLE)
    assert layout.list_columns(seller, "company", AVAILABLE, AVAILABLE[:3]) == ["name", "industry"]
    assert layout.list_columns(seller, "contact", ["a", "b"], ["a"]) == ["a"], "each list keeps its own"
    layout.reset_list_columns(seller, "company")
    assert layout.list_columns(seller, "company", AVAILABLE, AVAILABLE[:3]) == AVAILABLE[:3]


def test_no_column_at_all_is_refused(employees):
    with pytest.raises(InvalidValue):
        layout.save_list_columns(employees["seller"], "company", ["unknown"], AVAILABLE)


def test_a_column_no_longer_in_the_list_falls_back_to_the_default(employees):
    seller = employees["seller"]
    layout.save_list_columns(seller, "company", ["industry"], AVAILABLE)
    assert layout.list_columns(seller, "company", ["name", "email"], ["name"]) == ["name"]


def test_the_company_list_shows_the_chosen_columns_after_a_reload_and_resets(login, make_company, employees):
    make_company(name="Kolumnbolaget AB")
    seller = login("seller")
    page = text(seller.client.get("/admin/company/"))
    assert sv("Industry") not in header_labels(page), "Bransch is not among the standard columns"
    assert sv("Company name") in header_labels(page)

    response = seller.post(
        "/admin/company/columns/",
        {"column": ["name", "industry", "phone"], "url": "/admin/company/?search=Kolumn"},
    )
    assert response.status_code == 302 and response.headers["Location"].endswith("/admin/company/?search=Kolumn")
    page = seller.client.get("/admin/company/?search=Kolumn", follow_redirects=True)
    assert ("success", sv("The list's columns were saved.")) in flashes(page)
    assert header_labels(text(page)) == [sv("Company name"), sv("Phone"), sv("Industry")]
    assert fresh(db.session, Employee, employees["seller"].id).preferences["columns"]["company"] == [
        "name",
        "phone",
        "industry",
    ]
    # another employee's list is untouched
    assert sv("Industry") not in header_labels(text(login("admin").client.get("/admin/company/")))

    response = seller.post("/admin/company/columns/", {"reset": "1"}, follow_redirects=True)
    assert ("success", sv("The list shows its standard columns again.")) in flashes(response)
    assert sv("Industry") not in header_labels(text(response)) and sv("Org. no.") in header_labels(text(response))


def test_choosing_no_column_says_so_and_keeps_the_list(login, employees):
    seller = login("seller")
    response = seller.post("/admin/company/columns/", {"column": []}, follow_redirects=True)
    assert ("danger", sv("Choose at least one column.")) in flashes(response)
    assert not (fresh(db.session, Employee, employees["seller"].id).preferences or {}).get("columns")


def test_choosing_columns_needs_the_list_and_a_csrf_token(login, employees):
    readonly = login("readonly")
    assert readonly.post("/admin/customfield/columns/", {"column": ["name"]}).status_code == 403
    assert login("seller").client.post("/admin/company/columns/", data={"column": ["name"]}).status_code == 400
    assert not (fresh(db.session, Employee, employees["seller"].id).preferences or {}).get("columns")


def test_amounts_are_right_aligned(login):
    page = login("admin").client.get("/admin/order/").get_data(as_text=True)
    for column in ("net_amount", "total", "number"):
        assert re.search(rf'<th class="column-header col-{column} text-right">', page), column
    assert re.search(r'<th class="column-header col-customer">', page)
