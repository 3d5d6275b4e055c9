"""Counts a screen can afford at any size (issue 13): counted up to the cap, or on PostgreSQL not
counted at all when the planner estimates far more rows than the cap (services.paging.quick_count,
table_count); a list whose first page holds every row says how many from the page.

Each test reads what the user gets (the list's count, the start page's figures) and which SQL was
sent: no count statement when the estimate decides.
"""

import re

import pytest
from sqlalchemy import event, insert, select, text

from extensions import db
from models import Company
from services import formatting, paging
from tests.helpers import sv
from tests.helpers import text as page_text

ROWS = 3000
CAP = 100


def _sql_of(fn) -> list[str]:
    sent: list[str] = []

    def remember(conn, cursor, statement, parameters, context, executemany):
        sent.append(" ".join(statement.split()))

    event.listen(db.engine, "before_cursor_execute", remember)
    try:
        fn()
    finally:
        event.remove(db.engine, "before_cursor_execute", remember)
    return sent


def _counts(sent: list[str]) -> list[str]:
    return [s for s in sent if s.startswith("SELECT count(*)")]


@pytest.fixture
def register(session, employees, monkeypatch):
    """3,000 companies of one owner and 30 suppliers of another, analysed; the cap is 100."""
    monkeypatch.setattr(paging, "COUNT_CAP", CAP)
    seller, admin = employees["seller"], employees["admin"]
    rows = [
        {
            "name": f"Bolag {n:05d} AB",
            "customer_number": 10_000 + n,
            "discount_percent": 0,
            "owner_id": admin.id if n < 30 else seller.id,
            "is_supplier": n < 30,
        }
        for n in range(ROWS)
    ]
    session.execute(insert(Company), rows)
    session.commit()
    if db.engine.dialect.name == "postgresql":
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("ANALYZE company"))
    return {"seller": seller.id, "admin": admin.id}


def test_far_above_the_cap_by_the_estimate_nothing_is_counted_on_postgresql(session, register):
    live = select(Company).where(Company.deleted_at.is_(None))
    found: list = []
    sent = _sql_of(lambda: found.append(paging.quick_count(session, live)))
    assert found == [paging.Count(CAP, exact=False)]
    if db.engine.dialect.name == "postgresql":
        assert _counts(sent) == [] and any(s.startswith("EXPLAIN") for s in sent), sent
    else:  # SQLite gives no estimate: counted to the cap
        assert len(_counts(sent)) == 1


def test_near_the_cap_the_rows_are_counted(session, register):
    few = select(Company).where(Company.is_supplier.is_(True))
    found: list = []
    sent = _sql_of(lambda: found.append(paging.quick_count(session, few)))
    assert found == [paging.Count(30)]
    assert len(_counts(sent)) == 1
    # estimated at 3,000 (> 2.5 × 1,000 is not met): counted, and found above the cap
    assert paging.quick_count(session, select(Company), cap=1000) == paging.Count(1000, exact=False)


def test_a_wrong_estimate_is_corrected_by_a_page_that_holds_every_row(login, register, monkeypatch):
    """Should the planner be far off (conditions it takes for independent that are not), a list
    whose first page shows every row still says how many rows it has."""
    monkeypatch.setattr(paging, "estimated_rows", lambda session, stmt: 10.0**9)
    client = login("admin").client
    page = client.get(f"/admin/company/?flt0_0={register['admin']}&flt1_4=1")  # Kundansvarig and Leverantör
    names = re.findall(r'<a href="/admin/company/card/\d+">([^<]+)</a>', page_text(page))
    assert len(names) == 30
    assert re.search(r'id="list-count">([^<]+)<', page_text(page)).group(1) == "30 poster"
    many = client.get(f"/admin/company/?flt0_0={register['seller']}")
    assert re.search(r'id="list-count">([^<]+)<', page_text(many)).group(1) == sv(
        "more than %(count)s records", count=str(CAP)
    )


def test_the_start_page_reads_its_large_figures_from_the_statistics(login, register):
    client = login("admin").client
    sent = _sql_of(lambda: client.get("/admin/"))
    body = page_text(client.get("/admin/"))
    if db.engine.dialect.name == "postgresql":
        # companies: the table's estimate (3,000 rows); suppliers and my customers (30): counted
        assert sv("about %(count)s", count=formatting.integer(3000, "sv")) in body
        company_counts = [s for s in _counts(sent) if "FROM company" in s]
        assert len(company_counts) == 2, company_counts
        assert not any("is_supplier" not in s and "owner_id" not in s for s in company_counts), company_counts
    else:
        assert sv("more than %(count)s", count=str(CAP)) in body


def test_yes_no_filters_compare_booleans(login, register, products):
    """Leverantör ja/nej on Företag, Aktiv ja/nej on Produkter: PostgreSQL answered 500 (boolean = varchar)."""
    client = login("admin").client
    suppliers = client.get("/admin/company/?flt0_4=1")
    assert suppliers.status_code == 200
    assert re.search(r'id="list-count">([^<]+)<', page_text(suppliers)).group(1) == "30 poster"
    others = client.get("/admin/company/?flt0_4=0")
    assert others.status_code == 200 and "Bolag 00000 AB" not in page_text(others)
    assert "Bolag 00030 AB" in page_text(others)
    assert client.get("/admin/company/?flt0_4=x").status_code == 200  # not a choice: no filter
    active = page_text(client.get("/admin/product/?flt0_0=1"))
    inactive = page_text(client.get("/admin/product/?flt0_0=0"))
    assert "Konsulttimme" in active and "Utgången vara" not in active
    assert "Utgången vara" in inactive and "Konsulttimme" not in inactive
