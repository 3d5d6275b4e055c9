"""How a list of few rows is read: found first, then sorted (issue 13).

On PostgreSQL a search term matching a few hundred of 300,000 companies had the planner walk the
whole name index to reach them (2.3 s for a picker's first ten; a customer's contacts tab 1.4 s).
`search.few_matches` asks PostgreSQL's own estimate, and a list of few rows is then sorted on
coalesce(key, key), which no index serves; a customer's tabs are always sorted so. These tests
hold the decision and that the rows still come in the right order.
"""

import re

import pytest
from sqlalchemy import event, insert, text

from extensions import db
from models import Company
from services import card, invoicing, paging, sales, search
from tests.helpers import text as page_text
from tests.test_list_paging import _link, _names

RARE_NAMES = [f"Öresunds Svensson {n:03d} AB" for n in range(120)]


@pytest.fixture
def register(session, monkeypatch):
    """3,000 companies named "Bolag … AB" and 120 "Öresunds Svensson … AB", which sort last."""
    monkeypatch.setattr(search, "FEW_ROWS", 1000)  # the register is small: 120 are few, 3,000 are not
    names = [f"Bolag {n:05d} AB" for n in range(3000)] + list(reversed(RARE_NAMES))
    rows = [{"name": name, "customer_number": 10_000 + n, "discount_percent": 0} for n, name in enumerate(names)]
    session.execute(insert(Company), rows)
    session.commit()
    if db.engine.dialect.name == "postgresql":
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("ANALYZE company"))


def sent_by(fn) -> list[tuple[str, tuple]]:
    """The SQL statements `fn` sends, with their parameters."""
    sent: list[tuple[str, tuple]] = []

    def remember(conn, cursor, statement, parameters, context, executemany):
        sent.append((statement, parameters))

    event.listen(db.engine, "before_cursor_execute", remember)
    try:
        fn()
    finally:
        event.remove(db.engine, "before_cursor_execute", remember)
    return sent


def sql_of(fn) -> list[str]:
    """The SQL statements `fn` sends."""
    return [statement for statement, _parameters in sent_by(fn)]


@pytest.fixture
def trigram_index_only(monkeypatch):
    """The search answered by the trigram index alone, as for the terms the words index does not serve (it
    answers "svensson" otherwise: tests/test_word_index.py)."""
    from services import word_index

    monkeypatch.setattr(word_index, "WORD_INDEXED", {})


def test_a_rare_term_is_few_and_a_common_one_is_not_on_postgresql(session, register):
    few = search.few_matches(session, Company, "svensson")
    many = search.few_matches(session, Company, "bolag")
    if db.engine.dialect.name == "postgresql":
        assert (few, many) == (True, False)
    else:  # SQLite reads the matching ids first and sorts them by itself (search.condition)
        assert (few, many) == (False, False)


def test_a_pickers_rare_term_is_sorted_after_finding_its_rows(session, register):
    found: list = []
    sent = sql_of(lambda: found.extend(search.search(session, Company, "svensson", limit=10)))
    assert [c.name for c in found] == RARE_NAMES[:10]
    page_query = next(s for s in sent if "ORDER BY" in s and "LIMIT" in s)
    if db.engine.dialect.name == "postgresql":
        assert "ORDER BY coalesce(company.name, company.name)" in page_query, page_query
    common = search.search(session, Company, "bolag", limit=3)
    assert [c.name for c in common] == ["Bolag 00000 AB", "Bolag 00001 AB", "Bolag 00002 AB"]


def test_a_list_searched_for_a_rare_term_pages_through_every_match_once(session, register, login):
    """Företag's quick search, walked by key forward and back over the rows sorted after finding them."""
    client = login("admin").client
    page = client.get("/admin/company/?search=svensson")
    seen = _names(page)
    while 'aria-disabled="true">Nästa' not in page_text(page):
        page = client.get(_link(page, "page-next"))
        seen += _names(page)
    assert seen == RARE_NAMES
    back = client.get(_link(page, "page-previous"))
    assert _names(back) == RARE_NAMES[50:100]


def test_a_rare_terms_first_page_counts_its_matches_as_it_finds_them(session, register, login, employees):
    """On PostgreSQL the keys of the first page and the count of every match come from one pass
    (count(*) OVER ()), not a second search for the count; the list and the Rapportgenerator say
    how many."""
    from services import report_generator

    client = login("admin").client
    sent = sql_of(lambda: client.get("/admin/company/?search=svensson"))
    page = client.get("/admin/company/?search=svensson")
    assert re.search(r'id="list-count">([^<]+)<', page_text(page)).group(1) == "120 poster"
    count, rows = report_generator.page(session, report_generator.parse({"text": "svensson"}), employees["admin"])
    assert count == paging.Count(120) and [c.name for c in rows.items] == RARE_NAMES[:50]
    read = ("search_text", "company_search", "company_word_entry")
    # (the words index's look-up of the words containing the term, company_word, is not a read of the matches)
    searched = [s for s in sent if any(index in s for index in read) and "company_word.word" not in s]
    if any("company_word_entry" in s for s in searched):  # the words index: the page's keys with their count
        assert len(searched) == 1 and "count(*)" in searched[0], searched
    elif db.engine.dialect.name == "postgresql":
        assert any("count(*) OVER ()" in s for s in searched), searched
        assert not any("count(*) AS count_1" in s for s in searched), searched  # no capped count


def test_every_list_of_one_customer_is_sorted_after_finding_its_rows():
    """The card's tabs, an opportunity's activities, a customer's invoices and orders."""
    orders = [
        card.CONTACTS_ORDER,
        card.COMPANIES_ORDER,
        card.ACTIVITIES_ORDER,
        card.EMAILS_ORDER,
        card.FILES_ORDER,
        card.PROJECTS_ORDER,
        card.HISTORY_ORDER,
        sales.ACTIVITIES_ORDER,
        sales.CUSTOMER_ORDER,
        invoicing.INVOICES_ORDER,
        invoicing.ORDERS_ORDER,
    ]
    for order in orders:
        assert isinstance(order, paging.CustomerOrder)
        assert all(str(key.expr).startswith("coalesce(") for key in order.keys), order.keys


def test_the_apis_contact_e_mail_filter_is_read_from_its_index_in_any_case(app, session, employees):
    """GET /api/v1/contacts?email= compares lower-cased addresses (stored with the local part as typed):
    PostgreSQL reads them from the expression index ix_contact_email_lower (migration 0032), SQLite from
    ix_contact_email_nocase (migration 0037), not by scanning every contact."""
    from api_client import ApiClient, openapi_of

    from models import Contact
    from services import api_keys

    rows = [
        {"first_name": "Person", "last_name": f"Nummer {n:05d}", "email": f"Person.{n}@Example.se", "version": 1}
        for n in range(5000)
    ]
    session.execute(insert(Contact), rows)
    session.commit()
    if db.engine.dialect.name == "postgresql":
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("ANALYZE contact"))
    key = api_keys.create(session, None, employee=employees["admin"], name="Planer").secret
    session.commit()
    api = ApiClient(app.test_client(), openapi_of(app), key)
    sent: list = []

    def remember(conn, cursor, statement, parameters, context, executemany):
        sent.append((statement, parameters))

    event.listen(db.engine, "before_cursor_execute", remember)
    try:
        response = api.get("/api/v1/contacts?email=PERSON.4321@example.SE")
    finally:
        event.remove(db.engine, "before_cursor_execute", remember)
    assert [c["last_name"] for c in response.get_json()["items"]] == ["Nummer 04321"]
    statement, parameters = next((s, p) for s, p in sent if "FROM contact" in s and "lower(contact.email)" in s)
    postgresql = db.engine.dialect.name == "postgresql"
    with db.engine.connect() as conn:
        explain = "EXPLAIN" if postgresql else "EXPLAIN QUERY PLAN"
        plan = "\n".join(str(row[-1]) for row in conn.exec_driver_sql(f"{explain} {statement}", parameters))
    # SQLite: the NOCASE index (migration 0037; its lower() is the app's own function, never indexed)
    assert ("ix_contact_email_lower" if postgresql else "ix_contact_email_nocase") in plan, plan


def test_a_search_condition_reads_the_rows_by_the_ids_the_index_gives(session, register):
    """On SQLite the condition is `id IN (ids from the FTS index)`, which SQLite answers by looking the
    rows up by id. SQLAlchemy's grouping of a Boolean expression wrapped it as `(…) = 1`, and SQLite then
    scanned every row of the table to test it (a Rapportgenerator text condition at 1,000,000
    companies: 1.8 s a statement)."""
    stmt = db.select(Company.id).where(Company.deleted_at.is_(None), search.matches(Company, "svensson"))
    assert len(session.scalars(stmt).all()) == len(RARE_NAMES)
    if db.engine.dialect.name != "sqlite":
        return
    sql = str(stmt.compile(dialect=db.engine.dialect))
    assert ") = 1" not in sql
    with db.engine.connect() as conn:
        plan = " | ".join(row[3] for row in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql, ('("svensson")',)))
    assert "SEARCH company USING INTEGER PRIMARY KEY" in plan and "SCAN company " not in plan + " ", plan


# --- counts on SQLite: from an index alone, the trash as the margin (services.search.live_count) -----------------

SMALL_CAP = 100


def _plans(statements: list[tuple[str, tuple]]) -> list[str]:
    """SQLite's plan of each statement, its steps joined."""
    with db.engine.connect() as conn:
        return [
            " | ".join(row[3] for row in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql, params))
            for sql, params in statements
        ]


def _counts_sent(fn) -> list[tuple[str, tuple]]:
    """The counting statements `fn` sends, with their parameters."""
    return [(statement, parameters) for statement, parameters in sent_by(fn) if "count(*)" in statement]


def _reads_rows(plan: str, table: str) -> bool:
    """Whether a plan reads `table`'s rows one by one: a scan of the table or a look-up by id."""
    steps = [step.strip() + " " for step in plan.split("|")]
    return any(
        step.startswith((f"SCAN {table} ", f"SEARCH {table} ")) and "COVERING INDEX" not in step for step in steps
    )


@pytest.fixture
def dense_register(session, register, monkeypatch):
    """The register above, with 30 of the Svenssons and 30 of the Bolag in the trash; the cap is 100 and
    a term of more than 50 matches is dense (checked row by row along the list's order)."""
    monkeypatch.setattr(paging, "COUNT_CAP", SMALL_CAP)
    monkeypatch.setattr(search, "CANDIDATE_LIMIT", 50)
    session.execute(
        text(
            "UPDATE company SET deleted_at = CURRENT_TIMESTAMP WHERE name LIKE 'Öresunds Svensson 00%' "
            "OR name LIKE 'Öresunds Svensson 01%' OR name LIKE 'Öresunds Svensson 02%' "
            "OR name LIKE 'Bolag 0000%' OR name LIKE 'Bolag 0001%' OR name LIKE 'Bolag 0002%'"
        )
    )
    session.commit()
    assert session.scalar(text("SELECT count(*) FROM company WHERE deleted_at IS NOT NULL")) == 60


def test_a_dense_terms_list_count_is_read_from_the_search_index(session, dense_register, login, trigram_index_only):
    """A term matching more than the candidates (`search.CANDIDATE_LIMIT`) is paged along the name index and
    checked row by row. Its capped count did the same until 10,001 matched: "aktiebolag" at 1,000,000 companies,
    710 ms of a list page's 1,311. Now SQLite counts the index's own matches, with the trash as the margin, and
    counts the live rows only when the margin leaves it open: the trash is never counted, the count is exact
    when there are few, else "more than", and no count reads the company rows one by one."""
    client = login("admin").client
    many = _counts_sent(lambda: client.get("/admin/company/?search=bolag"))
    page = page_text(client.get("/admin/company/?search=bolag"))
    assert re.search(r'id="list-count">([^<]+)<', page).group(1) == f"fler än {SMALL_CAP} poster"
    assert "Bolag 00000 AB" not in page and "Bolag 00030 AB" in page  # the trash is not shown
    # 120 Svenssons, 30 in the trash: 120 matches are within the cap and the trash, so the live ones are counted
    few = _counts_sent(lambda: client.get("/admin/company/?search=svensson"))
    page = page_text(client.get("/admin/company/?search=svensson"))
    assert re.search(r'id="list-count">([^<]+)<', page).group(1) == "90 poster"
    for sent in (many, few):
        assert not any("instr(" in sql for sql, _params in sent), sent  # no row-by-row check
    if db.engine.dialect.name != "sqlite":
        return
    assert any("FROM company_search" in sql for sql, _p in many), many
    for plan in _plans(many):
        assert not _reads_rows(plan, "company"), plan


def test_the_start_pages_counts_read_an_index_alone_on_sqlite(session, employees, login, monkeypatch):
    """Suppliers, my customers and private customers, far above the cap: SQLite looked at each row for
    deleted_at (at 1,000,000 companies and 2,550,785 contacts 49, 33 and 101 ms, the last a scan of the
    contacts); counted from the index of the condition alone, beyond the rows in the trash, they are "more
    than" the cap; near the cap the live rows are counted, the trash left out."""
    from models import Contact

    monkeypatch.setattr(paging, "COUNT_CAP", SMALL_CAP)
    admin = employees["admin"]
    companies = [
        {"name": f"Leverantör {n:04d}", "customer_number": 20_000 + n, "discount_percent": 0, "is_supplier": True}
        | {"owner_id": admin.id}
        for n in range(300)
    ]
    session.execute(insert(Company), companies)
    contacts = [
        {"first_name": "Privat", "last_name": f"Kund {n:04d}", "customer_number": 50_000 + n} for n in range(300)
    ]
    session.execute(insert(Contact), [{**row, "version": 1} for row in contacts])
    session.commit()
    client = login("admin").client
    sent = _counts_sent(lambda: client.get("/admin/"))
    body = page_text(client.get("/admin/"))
    assert body.count(f"fler än {SMALL_CAP}") == 5, body  # companies, suppliers, mine, contacts, private
    if db.engine.dialect.name == "sqlite":  # (the whole registers' counts read the first 101 rows in turn)
        figures = [(sql, p) for sql, p in sent if any(c in sql for c in ("is_supplier", "owner_id", "customer_number"))]
        assert len(figures) >= 3, sent
        for plan in _plans(figures):
            assert not _reads_rows(plan, "company") and not _reads_rows(plan, "contact"), plan
    # 300 in the registers, 250 of them in the trash: 50 live ones, counted
    session.execute(text("UPDATE company SET deleted_at = CURRENT_TIMESTAMP WHERE name < 'Leverantör 0250'"))
    session.execute(text("UPDATE contact SET deleted_at = CURRENT_TIMESTAMP WHERE last_name < 'Kund 0250'"))
    session.commit()
    start = page_text(client.get("/admin/"))
    figures = re.findall(r'<span class="h3 mb-0">([^<]+)</span><span class="text-muted">([^<]+)</span>', start)
    assert {label: figure for figure, label in figures} == {
        "Företag": "50",
        "Leverantörer": "50",
        "Mina kunder": "50",
        "Kontakter": "50",
        "Privatkunder": "50",
    }, figures


def test_a_category_filters_count_reads_the_link_table(session, employees, login, monkeypatch):
    """Företag filtered by kategori: an EXISTS per company, which SQLite counted by looking at the companies
    one by one (1,000,000 companies, 90,120 in the category: 234 ms); now from the link table's index, with
    the trash as the margin, and exact near the cap without the trash."""
    from models import Category, company_categories

    monkeypatch.setattr(paging, "COUNT_CAP", SMALL_CAP)
    category = Category(name="Grossist", applies_to="company")
    session.add(category)
    session.flush()
    rows = [{"name": f"Grossist {n:04d}", "customer_number": 30_000 + n, "discount_percent": 0} for n in range(300)]
    ids = session.scalars(insert(Company).returning(Company.id), rows).all()
    session.execute(insert(company_categories), [{"company_id": i, "category_id": category.id} for i in ids])
    session.commit()
    client = login("admin").client
    url = f"/admin/company/?flt0_1={category.id}"
    sent = _counts_sent(lambda: client.get(url))
    assert re.search(r'id="list-count">([^<]+)<', page_text(client.get(url))).group(1) == f"fler än {SMALL_CAP} poster"
    if db.engine.dialect.name == "sqlite":
        assert any("FROM company_category" in sql for sql, _p in sent), sent
        for plan in _plans(sent):
            assert not _reads_rows(plan, "company"), plan
    session.execute(text("UPDATE company SET deleted_at = CURRENT_TIMESTAMP WHERE name < 'Grossist 0250'"))
    session.commit()
    page = page_text(client.get(url))
    assert re.search(r'id="list-count">([^<]+)<', page).group(1) == "50 poster"
    assert "Grossist 0249" not in page and "Grossist 0250" in page


@pytest.fixture
def trashed_svenssons(session, register, monkeypatch):
    """The register above with 30 of the 120 Svenssons in the trash; the cap is 100 (the matches are
    found first: 120 ids are within CANDIDATE_LIMIT)."""
    monkeypatch.setattr(paging, "COUNT_CAP", SMALL_CAP)
    session.execute(
        text(
            "UPDATE company SET deleted_at = CURRENT_TIMESTAMP WHERE name LIKE 'Öresunds Svensson 00%' "
            "OR name LIKE 'Öresunds Svensson 01%' OR name LIKE 'Öresunds Svensson 02%'"
        )
    )
    session.commit()
    live_names = [
        n
        for n in RARE_NAMES
        if not n.startswith(("Öresunds Svensson 00", "Öresunds Svensson 01", "Öresunds Svensson 02"))
    ]
    assert len(live_names) == 90
    return live_names


def test_a_rare_terms_list_count_reads_no_company_row_on_sqlite(session, trashed_svenssons, login):
    """A term found first (its ids from the index, `search.condition`) is counted as those ids less the
    trash's among them: the count read each match's row for its deleted_at ("svensson" at 1,000,000
    companies, 4,627 rows: the list's page and count 20 ms → 10 ms). The count stays exact and leaves
    the trash out; the page shows the same rows in the same order."""
    client = login("admin").client
    sent = _counts_sent(lambda: client.get("/admin/company/?search=svensson"))
    response = client.get("/admin/company/?search=svensson")
    page = page_text(response)
    assert re.search(r'id="list-count">([^<]+)<', page).group(1) == "90 poster"
    shown = _names(response)
    assert shown == trashed_svenssons[: len(shown)] and shown  # name order, the trash left out
    assert search.live_count(
        session,
        Company,
        db.select(Company.id).where(search.live(Company), search.condition(session, Company, "svensson")),
    ) == paging.Count(90)
    if db.engine.dialect.name != "sqlite":
        return
    assert sent
    for plan in _plans(sent):
        assert not _reads_rows(plan, "company"), plan


def test_a_rare_term_beside_another_condition_is_counted_from_its_rows(session, trashed_svenssons):
    """With another condition the ids' rows are read for it anyway: counted as before, exact."""
    stmt = db.select(Company.id).where(
        search.live(Company),
        search.condition(session, Company, "svensson"),
        Company.name.like("Öresunds Svensson 1%"),
    )
    assert search.live_count(session, Company, stmt) == paging.Count(20)
    assert search.live_count(
        session,
        Company,
        db.select(Company.id).where(search.live(Company), search.condition(session, Company, "nothing-matches-this")),
    ) == paging.Count(0)


def _index_reads(sent: list[str]) -> int:
    """How many of the statements sent read the companies' FTS5 index (SQLite)."""
    return sum("company_search" in sql for sql in sent)


def test_a_dense_terms_list_reads_its_index_once(session, dense_register, login, trigram_index_only):
    """A term matching more than the candidates is found out by reading its index up to the candidates, and
    was counted by reading it again up to the cap and the trash ("aktiebolag" at 1,000,000 companies: 5,001
    and 11,001 matches, 12 of the list's 14.5 ms of SQL). The candidates' read now counts to the larger of
    the two, beside the trash, and the count is taken from it: one read, the same count. (Within the cap and
    the trash, the trash's rows among the matches are read once more, as before.)"""
    client = login("admin").client
    for term, shown, reads in (("bolag", f"fler än {SMALL_CAP} poster", 1), ("svensson", "90 poster", 2)):
        sent = sql_of(lambda term=term: client.get(f"/admin/company/?search={term}"))
        page = page_text(client.get(f"/admin/company/?search={term}"))
        assert re.search(r'id="list-count">([^<]+)<', page).group(1) == shown
        if db.engine.dialect.name == "sqlite":
            assert _index_reads(sent) == reads, [s for s in sent if "company_search" in s]


def test_a_rare_terms_list_is_counted_from_its_ids_as_they_are_read(
    session, trashed_svenssons, login, trigram_index_only
):
    """A term found first is counted from the statement that reads its ids from the index (the matches beside
    the trash), and then the trash's rows among them: two counting statements, where a third counted the
    matches and the trash again. The count stays exact, the trash left out."""
    client = login("admin").client
    sent = sql_of(lambda: client.get("/admin/company/?search=svensson"))
    page = page_text(client.get("/admin/company/?search=svensson"))
    assert re.search(r'id="list-count">([^<]+)<', page).group(1) == "90 poster"
    if db.engine.dialect.name == "sqlite":
        counting = [sql for sql in sent if "count(*)" in sql]
        assert len(counting) == 2 and "company_search" in counting[0], counting


def test_the_rapportgenerators_text_condition_is_the_lists(session, trashed_svenssons, login, trigram_index_only):
    """The Rapportgenerator's text condition reads the matching ids from the index once, as the list does
    (`search.sorted_condition`); it had the index answer three times a page, in the page, its count and the
    trash among the matches ("svensson" at 1,000,000 companies: 50.7 ms, the list 46.4). The rows, their order
    and the count (the trash left out) stay."""
    client = login("admin").client
    url = "/admin/reports/generator/?entity=company&run=1&text=svensson"
    sent = sql_of(lambda: client.get(url))
    page = page_text(client.get(url))
    assert re.search(r'id="result-title">[^<:]+: ([^<]+)<', page).group(1) == "90 poster"
    assert "Öresunds Svensson 000 AB" not in page and "Öresunds Svensson 030 AB" in page
    shown = re.findall(r"Öresunds Svensson \d{3} AB", page)
    assert shown == sorted(shown) and shown[0] == "Öresunds Svensson 030 AB"
    if db.engine.dialect.name == "sqlite":
        assert _index_reads(sent) == 1, sent


def test_a_picker_does_not_count_what_a_list_would(session, dense_register):
    """A picker, the people search and the API count nothing: their candidates' read goes to CANDIDATE_LIMIT + 1
    only, not on to the cap beside the trash as a list's does."""
    sent = sent_by(lambda: search.search(session, Company, "bolag", limit=10))
    reads = [(sql, params) for sql, params in sent if "company_search" in sql]
    assert len(reads) == (1 if db.engine.dialect.name == "sqlite" else 0)
    for sql, params in reads:
        assert "deleted_at IS NOT NULL" not in sql and search.CANDIDATE_LIMIT + 1 in params, (sql, params)
