"""The lists as the user moves through them: first/previous/next/last, "Gå till", old page numbers,
a damaged address, capped counts; and the Flask-Admin internals admin_views.listing reads."""

import re

import pytest

from admin_views import flask_admin_adapter
from extensions import db
from models import Company
from services import paging
from tests.helpers import flashes, sv, text


@pytest.fixture
def companies(app, employees):
    owner = employees["seller"]
    rows = [Company(name=f"{letter}bolag {n:02d} AB", owner=owner) for letter in "ABKMÖ" for n in range(25)]
    db.session.add_all(rows)
    db.session.commit()
    return sorted(c.name for c in rows)


def _names(response) -> list[str]:
    return re.findall(r'<a href="/admin/company/card/\d+">([^<]+)</a>', text(response))


def _link(response, element_id: str) -> str:
    found = re.search(rf'id="{element_id}"[^>]*href="([^"]+)"|href="([^"]+)"[^>]*id="{element_id}"', text(response))
    return (found.group(1) or found.group(2)).replace("&amp;", "&")


def test_walking_the_list_forward_and_back_shows_every_company_once(login, companies):
    client = login("readonly").client
    page = client.get("/admin/company/")
    seen = []
    while True:
        seen += _names(page)
        if 'id="page-next"' not in text(page) or 'aria-disabled="true">Nästa' in text(page):
            break
        nxt = _link(page, "page-next")
        if "after=" not in nxt:
            break
        page = client.get(nxt)
    assert seen == companies
    last = client.get(_link(client.get("/admin/company/"), "page-last"))
    assert _names(last) == companies[-50:]
    back = client.get(_link(last, "page-previous"))
    assert _names(back) == companies[-100:-50]
    assert re.search(r'id="list-count">([^<]+)<', text(last)).group(1) == "125 poster"


def test_go_to_a_letter_and_a_number(login, companies):
    client = login("readonly").client
    page = client.get("/admin/company/?goto=M")
    assert _names(page)[0] == "Mbolag 00 AB"
    assert 'id="page-first"' in text(page) and 'id="list-goto"' in text(page)
    assert sv("Go to letter") in text(page)
    by_number = client.get("/admin/company/?sort=0&goto=abc")
    assert ("warning", sv("Go to: write a number, for example 10234.")) in flashes(by_number)
    assert sv("Go to number") in text(by_number)


def test_old_page_numbers_work_near_the_top_and_are_refused_deep_down(login, companies):
    client = login("readonly").client
    assert _names(client.get("/admin/company/?page=1"))[:2] == companies[50:52]
    deep = client.get("/admin/company/?page=5000")
    assert deep.status_code == 200
    message = sv(
        "Page numbers reach only the first %(num)s rows. Use the first, last, previous and next buttons or Go to.",
        num="10 000",
    )
    assert ("warning", message) in flashes(deep)  # (flashes() reads the non-breaking space as a space)
    assert _names(deep)[0] == companies[0]


@pytest.mark.parametrize("token", ["nonsense", paging.encode_cursor([1, 2]), paging.encode_cursor(["A"])])
def test_a_damaged_page_address_shows_the_first_page_with_a_message(login, companies, token):
    page = login("readonly").client.get(f"/admin/company/?after={token}")
    assert page.status_code == 200
    assert _names(page)[0] == companies[0]
    assert flashes(page)[0][0] == "warning"


def test_sorting_searching_and_filtering_start_at_the_first_page(login, companies):
    page = login("readonly").client.get(f"/admin/company/?after={paging.encode_cursor(['K', 1])}")
    for link in re.findall(r'href="(/admin/company/\?[^"]*sort=[^"]*)"', text(page)):
        assert "after=" not in link and "before=" not in link


def test_a_list_counts_no_further_than_the_cap(login, companies, monkeypatch):
    monkeypatch.setattr(paging, "COUNT_CAP", 100)
    page = login("readonly").client.get("/admin/company/")
    assert re.search(r'id="list-count">([^<]+)<', text(page)).group(1) == sv("more than %(count)s records", count="100")
    start = login("readonly").client.get("/admin/")
    assert sv("more than %(count)s", count="100") in text(start)


def test_only_indexed_columns_are_sortable(app):
    """Every column a list sorts by (its headers and its default order) leads an index of its table
    (followed by the id, or unique), so a page is read from the index, never by sorting the table."""
    from sqlalchemy import inspect

    from admin_views.base import SecureModelView

    inspector = inspect(db.engine)
    admin = app.extensions["admin"][0]
    missing = []
    with app.test_request_context():
        for view in admin._views:
            if not isinstance(view, SecureModelView):
                continue
            table = view.model.__tablename__
            indexes = [(i["column_names"], i["unique"]) for i in inspector.get_indexes(table)]
            indexes += [(c["column_names"], True) for c in inspector.get_unique_constraints(table)]
            orders = [view.list_order(name, False) for name in flask_admin_adapter.sortable_columns(view)] + [
                view.list_order(None, False)
            ]
            for order in orders:
                columns = [k.expr.key for k in order.keys]
                if columns == ["id"]:
                    continue
                if not any(
                    names[: len(columns)] == columns or (unique and names == columns[:-1]) for names, unique in indexes
                ):
                    missing.append((view.endpoint, columns))
    assert not missing, f"sorted without an index on (columns…, id): {missing}"


def test_a_searched_list_sorts_its_matches_narrow_and_reads_the_page_by_id(login, companies):
    """A search term's matches are all found before they are sorted (SQLite: their ids from the index;
    PostgreSQL: a rare term's rows): the statement that sorts them selects their keys, not whole rows
    joined with their owner; the page shows the matches in name order."""
    from tests.test_statement_counts import statements

    client = login("readonly").client
    _n, sent = statements(client, "/admin/company/?search=kbolag")
    sorting = [s for s in sent if "FROM company" in s and "ORDER BY" in s]
    assert sorting and all("company.email" not in s.split("FROM")[0] for s in sorting), sorting
    assert _names(client.get("/admin/company/?search=kbolag")) == [n for n in companies if n.startswith("K")]
