"""The quick-search index (migration 0011, services.search): kept in sync by every kind of write,
used by the database's planner, and the look-ups that use it run a bounded number of statements."""

from datetime import datetime

import pytest
from sqlalchemy import event, select, text, update

from extensions import db
from models import Company, Contact, Employee, Product
from services import bulk, search, trash


def found(model, typed: str) -> list[int]:
    return [row.id for row in search.search(db.session, model, typed, limit=100)]


def index_entries(model, typed: str) -> int:
    """How many rows the index itself (trash included) has for `typed`."""
    return len(search.candidate_ids(db.session, model, typed, limit=10**6) or [])


@pytest.fixture(params=["ids first", "along the sort order"])
def paths(request, monkeypatch):
    """Run a test both ways search() answers: the few matching ids sorted, and (a term too common
    for that) the index asked row by row along the name order."""
    if request.param == "along the sort order":
        monkeypatch.setattr(search, "CANDIDATE_LIMIT", 0)
    return request.param


# --- kept in sync ---------------------------------------------------------------------------


def test_a_new_row_is_found_at_once(paths, make_company, make_contact):
    company = make_company(name="Nyskapade Bryggeriet AB", postal_city="Östersund")
    contact = make_contact(first_name="Märta", last_name="Ågren", mobile="+46705556677")
    assert found(Company, "bryggeriet östersund") == [company.id]
    assert found(Contact, "ågren 070-555 66 77") == [contact.id]


def test_an_edit_moves_the_row_in_the_index(paths, make_company):
    company = make_company(name="Gamla Namnet AB", phone="+46812345678")
    company.name = "Nya Firman AB"
    company.phone = "+46311234567"
    db.session.commit()
    assert found(Company, "gamla") == [] and found(Company, "08-123 456 78") == []
    assert found(Company, "nya firman") == [company.id] == found(Company, "031-123 45 67")
    assert found(Company, "ny") == [company.id] and found(Company, "ga") == []


def company_row(ident: int, customer_number: int, name: str, **more) -> dict:
    """A company as services.bulk inserts it (every column without a database default)."""
    now = datetime(2026, 12, 1)
    return {
        "id": ident,
        "customer_number": customer_number,
        "name": name,
        "country": "SE",
        "status": "active",
        "is_supplier": False,
        "email_locked": False,
        "version": 1,
        "invoice_language": "sv",
        "discount_percent": 0,
        "payment_terms_days": 30,
        "currency": "SEK",
        "created_at": now,
        "updated_at": now,
        **more,
    }


def test_a_bulk_insert_and_an_import_update_are_indexed(paths, app):
    """services.bulk writes past the ORM (COPY / executemany) and the import updates with plain UPDATEs."""
    [ident] = bulk.new_ids(db.session, Company.__table__, 1)
    row = company_row(ident, 99001, "Massimporten Ek AB", postal_city="Kiruna")
    bulk.insert_rows(db.session, Company.__table__, [row])
    db.session.commit()
    assert found(Company, "massimporten kiruna") == [ident] == found(Company, "99001")
    db.session.execute(update(Company.__table__).where(Company.id == ident).values(postal_city="Luleå", version=2))
    db.session.commit()
    assert found(Company, "massimporten kiruna") == []
    assert found(Company, "massimporten luleå") == [ident]


def test_sqlite_indexes_a_bulk_batch_once_in_one_statement_and_rows_after_it_by_trigger(app, make_company):
    """Migration 0035: the insert trigger stands aside while services.bulk adds the batch to the FTS5
    table itself, once per row, and is back for the next ordinary insert."""
    if db.engine.dialect.name != "sqlite":
        pytest.skip("SQLite's FTS5 index")
    ids = bulk.new_ids(db.session, Company.__table__, 3)
    bulk.insert_rows(
        db.session,
        Company.__table__,
        [company_row(ident, 99100 + n, f"Satsbolaget {n} AB", postal_city="Örebro") for n, ident in enumerate(ids)],
    )
    db.session.commit()
    entries = text("SELECT rowid FROM company_search WHERE company_search MATCH :term ORDER BY rowid")
    assert list(db.session.scalars(entries, {"term": '"satsbolaget"'})) == ids  # each once, not twice
    assert db.session.scalar(text("SELECT count(*) FROM search_deferred")) == 0
    later = make_company(name="Satsbolaget Efteråt AB")
    assert found(Company, "satsbolaget efteråt") == [later.id]


def test_delete_restore_and_purge(storage, paths, employees, make_company, make_contact):
    company = make_company(name="Papperskorgens Tryckeri AB")
    contact = make_contact(first_name="Ylva", last_name="Papperskorg")
    admin = employees["admin"]
    trash.delete(db.session, admin, Company, [company.id])
    trash.delete(db.session, admin, Contact, [contact.id])
    db.session.commit()
    assert found(Company, "papperskorgens") == [] and found(Company, "pa") == []
    assert found(Contact, "papperskorg") == []
    assert index_entries(Company, "papperskorgens") == 1  # kept in the index: a restore needs nothing
    trash.restore(db.session, admin, Company, [company.id])
    trash.restore(db.session, admin, Contact, [contact.id])
    db.session.commit()
    assert found(Company, "papperskorgens") == [company.id]
    assert found(Contact, "papperskorg") == [contact.id]
    trash.delete(db.session, admin, Company, [company.id])
    db.session.commit()
    trash.purge(db.session, storage, admin, Company, [company.id])
    db.session.commit()
    assert index_entries(Company, "papperskorgens") == 0
    later = Company(name="Efterträdaren AB")  # SQLite may give it the purged id
    db.session.add(later)
    db.session.commit()
    assert found(Company, "papperskorgens") == [] and found(Company, "efterträdaren") == [later.id]


def test_both_paths_give_the_same_rows_in_name_order(paths, make_company):
    for name in ("Cedergrens Bygg AB", "Alfa Bygg AB", "Bertils Bygg HB", "Bygg & Betong AB", "Dala Måleri AB"):
        make_company(name=name, postal_city="Falun")
    assert [c.name for c in search.search(db.session, Company, "bygg falun")] == [
        "Alfa Bygg AB",
        "Bertils Bygg HB",
        "Bygg & Betong AB",
        "Cedergrens Bygg AB",
    ]
    assert [c.name for c in search.search(db.session, Company, "be")] == ["Bertils Bygg HB", "Bygg & Betong AB"]
    assert [c.name for c in search.search(db.session, Company, "m")] == ["Dala Måleri AB"]


def test_the_list_search_uses_the_index(paths, login, make_company):
    make_company(name="Listsökningens Kafé AB", postal_city="Visby")
    make_company(name="Annat Bolag AB", postal_city="Visby")
    page = login("seller").client.get("/admin/company/?search=kafe+visby")
    body = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "Listsökningens Kafé AB" in body and "Annat Bolag AB" not in body


def test_a_database_migrated_with_data_indexes_what_it_had(tmp_path):
    """Migration 0011 indexes the rows already there (SQLite; PostgreSQL indexes existing rows by
    CREATE INDEX itself)."""
    from flask_migrate import upgrade

    from app import create_app

    database = f"sqlite:///{tmp_path / 'old.sqlite'}"
    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": database, "INSTANCE_DIR": str(tmp_path)})
    with app.app_context():
        upgrade(revision="0010")
        db.session.execute(
            text(
                "INSERT INTO company (id, customer_number, name, country, status, is_supplier, email_locked, version,"
                " invoice_language, discount_percent, payment_terms_days, currency, org_number, created_at, updated_at)"
                " VALUES (7, 10007, 'Före Migreringen Ångbåtar AB', 'SE', 'active', 0, 0, 1, 'sv', 0, 30, 'SEK',"
                " '5560360793', '2026-01-01', '2026-01-01')"
            )
        )
        db.session.commit()
        upgrade()
        assert [c.id for c in search.search(db.session, Company, "ångbåtar 556036-0793")] == [7]
        assert [c.id for c in search.search(db.session, Company, "fö")] == [7]
        db.session.remove()


# --- the planner uses the index ------------------------------------------------------------


def explain(statement) -> str:
    compiled = statement.compile(db.engine, compile_kwargs={"literal_binds": True})
    return "\n".join(db.session.execute(text(f"EXPLAIN {compiled}")).scalars())


def test_postgresql_answers_from_the_trigram_and_prefix_indexes(app, make_company):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL's plan; SQLite's index is the FTS5 table the query names")
    make_company(name="Planerarens Bolag AB")
    # A tiny table: ask whether the search indexes *can* serve, with no sequential scan and, in this
    # transaction only, without the lists' sort indexes (any index read whole is as cheap as the
    # search index when the table holds a row; at a million rows the search index wins on its own).
    db.session.execute(text("SET LOCAL enable_seqscan = off"))
    for table in ("company", "contact", "employee", "product"):
        for (name,) in db.session.execute(
            text(
                "SELECT indexname FROM pg_indexes WHERE tablename = :t AND indexname LIKE 'ix_%' "
                "AND indexname NOT LIKE '%\\_search' AND indexname NOT LIKE '%\\_prefix'"
            ),
            {"t": table},
        ):
            db.session.execute(text(f'DROP INDEX "{name}"'))
    for model, table in ((Company, "company"), (Contact, "contact"), (Employee, "employee"), (Product, "product")):
        plan = explain(select(model.id).where(search.matches(model, "planerarens")))
        assert f"ix_{table}_search" in plan, plan
        plan = explain(select(model.id).where(search.matches(model, "pl")))
        assert "_prefix" in plan, plan
    db.session.rollback()


def test_sqlite_searches_the_fts5_trigram_table(app):
    if db.engine.dialect.name != "sqlite":
        pytest.skip("SQLite's index")
    compiled = str(select(Company.id).where(search.matches(Company, "kaffe")).compile(db.engine))
    assert "company_search" in compiled and "MATCH" in compiled and "LIKE" not in compiled.upper()
    options = db.session.scalar(text("SELECT sql FROM sqlite_master WHERE name = 'company_search'"))
    assert "trigram" in options and "case_sensitive 0" in options


# --- look-ups: a bounded number of statements, whatever the table holds --------------------


class StatementCounter:
    def __init__(self):
        self.statements: list[str] = []

    def __call__(self, conn, cursor, statement, parameters, context, executemany):
        self.statements.append(statement)

    def __enter__(self):
        event.listen(db.engine, "before_cursor_execute", self)
        return self

    def __exit__(self, *exc):
        event.remove(db.engine, "before_cursor_execute", self)


def lookups(employees) -> dict[str, tuple[str, str]]:
    """Every picker and look-up: (role, URL) with a term matching the rows `grow` adds."""
    return {
        "company picker": ("seller", "/admin/opportunity/ajax/lookup/?name=company&query=räknebolag"),
        "private-customer picker": ("seller", "/admin/opportunity/ajax/lookup/?name=contact&query=räknekund"),
        "employee picker": ("seller", "/admin/company/ajax/lookup/?name=owner&query=räknesäljare"),
        "product look-up": ("finance", "/admin/product/lookup.json?q=räkneprodukt"),
        "contact search": ("seller", "/admin/contact/search.json?q=räknekund"),
        "people search": ("seller", "/admin/people/?q=räkne"),
        "company list": ("seller", "/admin/company/?search=räknebolag"),
    }


def grow(count: int, start: int) -> None:
    """`count` more companies, private customers, employees and products matching the look-ups."""
    for n in range(start, start + count):
        db.session.add(Company(name=f"Räknebolag {n} AB", discount_percent=0))
        db.session.add(Contact(first_name="Räknekund", last_name=f"Nummer{n}", customer_number=50_000 + n))
        db.session.add(Employee(name=f"Räknesäljare {n}", email=f"rakne{n}@example.se", role="seller"))
        db.session.add(Product(number=f"R{n}", name=f"Räkneprodukt {n}", price=10))
    db.session.commit()


@pytest.mark.parametrize("lookup", list(lookups({})))
def test_each_lookup_runs_a_bounded_number_of_statements(login, employees, lookup):
    role, url = lookups(employees)[lookup]
    client = login(role).client
    counts = []
    for size, start in ((2, 0), (40, 2)):
        grow(size, start)
        client.get(url)  # warm: the session's first request loads what every request loads
        with StatementCounter() as counter:
            response = client.get(url)
        assert response.status_code == 200, response.get_data(as_text=True)[:500]
        assert "Räkne" in response.get_data(as_text=True) or "R\\u00e4kne" in response.get_data(as_text=True)
        counts.append(len(counter.statements))
    # a picker asks its later tiers only when the names beginning with the term leave the list short
    # (services.search.pick): the larger table may cost fewer statements, never more
    assert counts[1] <= counts[0], counts
    assert counts[0] <= 12, counter.statements


def test_sqlite_merges_the_index_after_a_large_write_in_short_steps(app):
    """Issue 14: each transaction of an import adds an FTS5 segment of its own, and a name word's look-up (the next
    dry run's) reads every segment; after a write of at least a quarter of the table the index is merged into one
    b-tree, a short transaction at a time, and finds what it found before. A smaller write leaves it to automerge."""
    from sqlalchemy import insert

    if db.engine.dialect.name != "sqlite":
        pytest.skip("SQLite's FTS5 index")
    for batch in range(3):
        rows = [
            {"name": f"Segmentbolaget {batch * 100 + n} AB", "customer_number": 99_000 + batch * 100 + n}
            | {"discount_percent": 0}
            for n in range(100)
        ]
        db.session.execute(insert(Company), rows)
        db.session.commit()
    segments = text("SELECT count(DISTINCT segid) FROM company_search_idx")
    before = db.session.scalar(segments)
    assert before > 1
    assert not search.merge_after_write(db.session, Company, written=70)  # less than a quarter of the 300
    assert db.session.scalar(segments) == before
    steps = []
    search.MERGE_PAGES, pages = 1, search.MERGE_PAGES
    try:
        assert search.merge_after_write(db.session, Company, written=100, between=lambda: steps.append(1))
    finally:
        search.MERGE_PAGES = pages
    assert db.session.scalar(segments) == 1 and len(steps) > 1  # one b-tree, written a page at a time
    assert len(search.word_candidates(db.session, Company, {"segmentbolaget"}, limit=500)["segmentbolaget"]) == 300
    assert search.word_candidates(db.session, Company, {"201"}, limit=500)["201"] == [
        db.session.scalar(select(Company.id).where(Company.name == "Segmentbolaget 201 AB"))
    ]
