"""The company search's words index (services.word_index, migrations 0046 and 0047).

It must answer exactly what the trigram index (SQLite: the FTS5 index) answers, in the same order, and be kept by
whatever writes the company table; a list page and the Rapportgenerator read a search's page and count from it
alone. On SQLite the entries are written after the commit: a commit writes a few at once, the queue's task the
rest, and until then the search keeps to the FTS5 index (the last tests here)."""

import re
from datetime import UTC, datetime

import pytest
from sqlalchemy import insert, select, text, update

from extensions import db
from models import Company, company_word_entries
from services import bulk, paging, report_generator, search, trash, word_index
from tests.helpers import text as page_text
from tests.test_search_plans import sql_of

#: The columns the search text is made of (services.search.SEARCHED), in its order.
SEARCHED_COLUMNS = (*search.SEARCHED[Company].fields, *search.SEARCHED[Company].numbers)


def expected_entries(session) -> set[tuple[str, str, int]]:
    """The entries a rebuild would hold, worked out in Python from the live companies' columns."""
    entries = set()
    for row in session.execute(select(Company).where(Company.deleted_at.is_(None))).scalars():
        joined = "\n".join("" if getattr(row, c) is None else str(getattr(row, c)) for c in SEARCHED_COLUMNS)
        entries |= {(word, row.name, row.id) for word in word_index.words_of(search.fold(joined))}
    return entries


def stored_entries(session) -> set[tuple[str, str, int]]:
    entry = company_word_entries.c
    return {tuple(row) for row in session.execute(select(entry.word, entry.name, entry.id))}


def company(session, name: str, **values) -> Company:
    number = (session.scalar(select(db.func.max(Company.customer_number))) or 1000) + 1
    row = Company(name=name, customer_number=number, **values)
    session.add(row)
    session.commit()
    return row


def test_the_words_of_a_text_are_runs_of_letters_of_three_or_more():
    assert word_index.words_of("svensson & co ab\ninfo@svenssonbygg.se\n5560360793\nse556036079301\ngöteborg") == {
        "svensson",
        "info",
        "svenssonbygg",
        "göteborg",
    }
    assert word_index.words_of("café-bar o'hara") == {"café", "bar", "hara"}


def test_only_searches_of_letters_are_served():
    assert word_index.served(Company, ["Svensson", "Göteborg"]) == ["svensson", "göteborg"]
    assert word_index.served(Company, ["Café"]) == ["cafe"]  # folded as the search text is
    for unserved in (["sv"], ["556036"], ["a-b"], ["info@x"], ["kaffe ab"], ["bygg2000"]):
        assert word_index.served(Company, unserved) is None, unserved
    assert word_index.served(search.Contact, ["svensson"]) is None


def test_the_index_is_kept_by_every_kind_of_write(session, employees):
    """Insert, edit of each searched column, a case-only rename, trash, restore, purge, a bulk insert and a
    bulk UPDATE: the entries are always what a rebuild from the live rows would hold."""
    svea = company(session, "Svea Kaffe AB", email="info@sveakaffe.se", postal_city="Göteborg", org_number="5560360793")
    other = company(session, "Norrlands Bygg AB", visit_city="Umeå")
    assert stored_entries(session) == expected_entries(session)
    assert ("sveakaffe", "Svea Kaffe AB", svea.id) in stored_entries(session)

    svea.postal_city, svea.email = "Malmö", "order@kaffesvea.se"
    session.commit()
    assert stored_entries(session) == expected_entries(session)
    other.name = "NORRLANDS BYGG AB"  # the same folded text, another sort key
    session.commit()
    assert ("norrlands", "NORRLANDS BYGG AB", other.id) in stored_entries(session)
    assert stored_entries(session) == expected_entries(session)

    trash.delete(session, employees["admin"], Company, [svea.id])
    session.commit()
    assert not any(i == svea.id for _w, _n, i in stored_entries(session))
    trash.restore(session, employees["admin"], Company, [svea.id])
    session.commit()
    assert stored_entries(session) == expected_entries(session)

    ids = bulk.new_ids(session, Company.__table__, 2)
    now = datetime.now(UTC).replace(tzinfo=None)
    defaults = {"country": "SE", "status": "active", "is_supplier": False, "email_locked": False}
    defaults |= {"invoice_language": "sv", "discount_percent": 0, "payment_terms_days": 30, "currency": "SEK"}
    defaults |= {"version": 1, "created_at": now, "updated_at": now, "postal_city": "Kiruna"}
    rows = [
        {**defaults, "id": i, "name": f"Kiruna Gruv {n} AB", "customer_number": 5000 + n} for n, i in enumerate(ids)
    ]
    bulk.insert_rows(session, Company.__table__, rows)
    session.commit()
    kiruna = {("kiruna", f"Kiruna Gruv {n} AB", i) for n, i in enumerate(ids)}
    assert kiruna <= stored_entries(session)
    session.execute(update(Company).where(Company.id.in_(ids)).values(visit_city="Luleå"))
    session.commit()
    assert stored_entries(session) == expected_entries(session)

    session.execute(text("DELETE FROM company WHERE id = :id"), {"id": other.id})
    session.commit()
    assert stored_entries(session) == expected_entries(session)


SEARCHES = ["svensson", "göteborg", "kaffe", "SVEA kaffe", "café", "bygg", "xqzvw", "sson", "info", "stockholm ab"]


@pytest.fixture
def register(session):
    """Companies whose names, e-mail addresses and cities share words in many ways; some in the trash."""
    cities = ["Göteborg", "Stockholm", "Malmö", "Umeå", "Kiruna"]
    names = ["Svensson", "Karlsvensson", "Svea Kaffe", "Café Svea", "Bygg & Svensson", "Nordkaffe", "Info"]
    rows = []
    for n in range(140):
        name = f"{names[n % len(names)]} {n:03d} AB"
        rows.append(
            {
                "name": name,
                "customer_number": 20_000 + n,
                "email": f"{['info', 'order', 'kaffe'][n % 3]}@{names[(n + 2) % len(names)].lower()}.se",
                "postal_city": cities[n % len(cities)],
                "discount_percent": 0,
            }
        )
    session.execute(insert(Company), rows)
    session.commit()
    session.execute(update(Company).where(Company.customer_number % 9 == 0).values(deleted_at=db.func.now()))
    session.commit()
    word_index.catch_up(db.engine)  # SQLite: more than a commit writes at once, as the queue's task writes them


def by_trigrams(session, term: str) -> list[int]:
    stmt = select(Company.id).where(search.live(Company), search.matches(Company, term))
    return list(session.scalars(stmt.order_by(Company.name, Company.id)))


def test_the_index_finds_what_the_trigram_index_finds_in_the_same_order(session, register):
    assert stored_entries(session) == expected_entries(session)
    for term in SEARCHES:
        condition = search.condition(session, Company, term, live_only=True)
        served = word_index.served(Company, search.words(term)) is not None
        by_words = served and bool(by_trigrams(session, term))
        assert isinstance(condition, word_index.WordMatch) == by_words, term
        found = list(
            session.scalars(
                select(Company.id).where(search.live(Company), condition).order_by(Company.name, Company.id)
            )
        )
        assert found == by_trigrams(session, term), term
        if isinstance(condition, word_index.WordMatch):
            keys = word_index.keys(
                session, condition, after=None, name_descending=False, id_descending=False, limit=1000, counted=True
            )
            assert [i for _count, _name, i in keys] == found, term
            assert {count for count, _name, _id in keys} == {len(found)}, term


def shows_in_order(page: str, names: list[str], others: list[str]) -> bool:
    """Whether `page` (tests.helpers.text: entities unescaped) shows each of `names` in this order and none of
    `others`."""
    at = [page.find(name) for name in names]
    return -1 not in at and at == sorted(at) and not any(name in page for name in others)


def test_the_list_reads_its_pages_and_count_from_the_index(session, register, login):
    """Every page of a search, forward, back and from the end, shows its matches in name order, each once, with
    the right count; the matches are read from neither the trigram (FTS5) index nor the company table."""
    client = login("admin").client
    names = dict(session.execute(select(Company.id, Company.name)).all())
    expected = [names[i] for i in by_trigrams(session, "svensson")]
    assert len(expected) > 100
    sent = sql_of(lambda: client.get("/admin/company/?search=svensson"))
    by_words = [s for s in sent if "company_word_entry" in s and "count(*)" in s and "ORDER BY" in s]
    # the page's keys and the count of every match in one statement
    assert by_words, sent
    assert not any("search_text" in s or "company_search" in s for s in sent), sent

    def count(page):
        return re.search(r'id="list-count">([^<]+)<', page).group(1)

    first = page_text(client.get("/admin/company/?search=svensson"))
    assert count(first) == f"{len(expected)} poster" and shows_in_order(first, expected[:50], expected[50:])
    after = re.search(r'href="[^"]*[?&]after=([^"&]+)', first).group(1)
    second = page_text(client.get("/admin/company/", query_string={"search": "svensson", "after": after}))
    assert count(second) == f"{len(expected)} poster"
    assert shows_in_order(second, expected[50:100], expected[:50] + expected[100:])
    before = re.search(r'href="[^"]*[?&]before=([^"&]+)', second).group(1)
    back = page_text(client.get("/admin/company/", query_string={"search": "svensson", "before": before}))
    assert shows_in_order(back, expected[:50], expected[50:])
    last = page_text(client.get("/admin/company/?search=svensson&last=1"))
    assert shows_in_order(last, expected[-50:], expected[:-50])


def test_pages_give_every_match_once_while_companies_are_added(session, register):
    """Keyset pages from the index: matches added in front of the pages still to come (sorted first) while the
    pages are read are not shown, and every match there was at the start is shown exactly once."""
    at_start = by_trigrams(session, "svensson")
    condition = search.condition(session, Company, "svensson", live_only=True)
    stmt = select(Company).where(search.live(Company), condition)
    by_name = paging.ListOrder([Company.name], Company.id)
    order = word_index.ordered(by_name, stmt)
    assert order is not None
    seen, page = [], order.page(session, stmt, per_page=20)
    while True:
        seen += [c.id for c in page.items]
        company(session, f"Aaa Svensson {len(seen)} AB")
        if page.next is None:
            break
        page = order.page(session, stmt, per_page=20, after=page.next)
    assert seen == at_start


def test_the_rapportgenerator_reads_the_index_sorted_by_name_either_way(session, register, employees):
    expected = by_trigrams(session, "svensson")
    names = dict(session.execute(select(Company.id, Company.name)).all())
    for desc in (False, True):
        spec = report_generator.parse(
            {"entity": "company", "text": "svensson", "sort": "name", "desc": "1" if desc else ""}
        )
        result: dict = {}
        sent = sql_of(
            lambda spec=spec, result=result: result.update(
                page=report_generator.page(session, spec, employees["admin"])
            )
        )
        assert not any("search_text" in s or "company_search" in s for s in sent), sent
        count, rows = result["page"]
        assert count == paging.Count(len(expected))
        assert [c.id for c in rows.items] == sorted(expected, key=lambda i: names[i], reverse=desc)[:50]


def test_searches_the_index_does_not_serve_keep_to_the_trigram_index(session, register, monkeypatch, login):
    """Numbers, a word inside too many words, too many entries to sort: the trigram index answers, the same."""
    assert word_index.match(session, Company, ["20001"]) is None
    monkeypatch.setattr(word_index, "MAX_WORDS", 1)
    assert word_index.match(session, Company, ["svensson"]) is None  # "svensson" and "karlsvensson"
    monkeypatch.setattr(word_index, "MAX_WORDS", 100)
    monkeypatch.setattr(word_index, "MAX_ENTRIES", 10)
    assert word_index.match(session, Company, ["svensson", "info"]) is None  # several words: too many to intersect
    assert isinstance(word_index.match(session, Company, ["svensson"]), word_index.WordMatch)
    client = login("admin").client
    page = page_text(client.get("/admin/company/?search=svensson info"))
    assert (
        re.search(r'id="list-count">([^<]+)<', page).group(1) == f"{len(by_trigrams(session, 'svensson info'))} poster"
    )


def test_a_word_matching_many_is_paged_and_counted_from_a_bounded_read(session, register, monkeypatch, login):
    """A word of a search is served however many it matches: the first page from each containing word's first
    rows, the count from a bounded read of the entries, "fler än" beyond the cap; where the read was cut short
    among too few companies to tell, every entry is counted."""
    client = login("admin").client
    names = dict(session.execute(select(Company.id, Company.name)).all())
    expected = [names[i] for i in by_trigrams(session, "svensson")]
    monkeypatch.setattr(paging, "COUNT_CAP", 40)
    page = page_text(client.get("/admin/company/?search=svensson"))
    assert re.search(r'id="list-count">([^<]+)<', page).group(1) == "fler än 40 poster"
    assert shows_in_order(page, expected[:50], expected[50:])
    company(session, "Svensson Dubbel AB", email="info@svenssondubbel.se")  # two of the words: two entries
    matches = len(by_trigrams(session, "svensson"))
    entry = company_word_entries.c
    words = word_index.match(session, Company, ["svensson"]).found[0]
    assert session.scalar(select(db.func.count()).where(entry.word.in_(words))) == matches + 1
    monkeypatch.setattr(paging, "COUNT_CAP", matches)  # the cap's + 1 entries read, the cap's companies in them
    page = page_text(client.get("/admin/company/?search=svensson"))
    assert re.search(r'id="list-count">([^<]+)<', page).group(1) == f"{matches} poster"
    assert word_index._total((201, 190), 200) is None and word_index._total((201, 201), 200) == 201
    assert word_index._total((200, 190), 200) == 190


def test_a_search_of_trashed_rows_too_keeps_to_the_trigram_index(session, register):
    """The index holds live companies only: a condition for a caller that reads the trash too (the API's
    in_trash, a restore) is the trigram index's."""
    condition = search.condition(session, Company, "svensson")
    assert not isinstance(condition, word_index.WordMatch)
    assert session.scalar(select(db.func.count()).where(Company.deleted_at.is_not(None), condition)) > 0


def on_sqlite() -> bool:
    return db.engine.dialect.name == "sqlite"


def noted(session) -> int:
    """SQLite: the companies whose entries are not written yet (migration 0047); PostgreSQL has none."""
    return session.scalar(text("SELECT count(*) FROM company_word_pending")) if on_sqlite() else 0


def test_sqlite_writes_a_commits_few_entries_at_once_and_many_after_it(session, register):
    """SQLite: a save's entries are written when it commits; a write of more companies than CATCH_UP_AT_COMMIT
    (an import's batch) leaves them noted, the search keeps to the FTS5 index and finds the same, and the queue's
    task writes them. PostgreSQL's triggers write every entry with the write itself."""
    from services import word_index_tasks

    company(session, "Svensson Enkel AB")
    assert noted(session) == 0 and stored_entries(session) == expected_entries(session)
    rows = [{"name": f"Svensson Mång {n:03d} AB", "customer_number": 30_000 + n} for n in range(150)]
    session.execute(insert(Company), [{**row, "discount_percent": 0} for row in rows])
    session.commit()
    assert noted(session) == (150 if on_sqlite() else 0)
    condition = search.condition(session, Company, "svensson", live_only=True)
    assert isinstance(condition, word_index.WordMatch) != on_sqlite()  # SQLite: its FTS5 index until written
    found = session.scalars(select(Company.id).where(search.live(Company), condition).order_by(Company.name)).all()
    assert found == by_trigrams(session, "svensson") and len(found) > 150
    word_index_tasks.catch_up_words.call_local()
    assert noted(session) == 0 and stored_entries(session) == expected_entries(session)
    condition = search.condition(session, Company, "svensson", live_only=True)
    assert isinstance(condition, word_index.WordMatch)


def test_a_catch_up_in_batches_writes_each_company_as_it_is_at_the_end(session, monkeypatch):
    """SQLite: noted companies are written CATCH_UP_BATCH at a time; a company noted twice (edited, then moved to
    the trash) is written as it is last, and a purged one leaves no entry."""
    monkeypatch.setattr(word_index, "CATCH_UP_AT_COMMIT", 0)  # nothing at commit: every write is noted
    kept = [company(session, f"Batch {n} Kaffe AB") for n in range(5)]
    kept[0].postal_city = "Kiruna"
    session.commit()
    session.execute(update(Company).where(Company.id == kept[1].id).values(deleted_at=db.func.now()))
    session.execute(text("DELETE FROM company WHERE id = :id"), {"id": kept[2].id})
    session.commit()
    monkeypatch.setattr(word_index, "CATCH_UP_BATCH", 2)
    assert word_index.catch_up(db.engine) == (8 if on_sqlite() else 0)  # 5 inserts, an edit, a trash, a purge
    assert noted(session) == 0 and stored_entries(session) == expected_entries(session)
    assert ("kiruna", "Batch 0 Kaffe AB", kept[0].id) in stored_entries(session)


def test_a_commit_does_not_wait_behind_another_writer_for_its_words(session, monkeypatch):
    """SQLite: a save's catch-up at commit waits for the write lock at most AT_COMMIT_WAIT_MS (an import's batch may
    hold it), leaves its notes to the queue's task, and the task writes them once the lock is free."""
    import sqlite3

    monkeypatch.setattr(word_index, "CATCH_UP_AT_COMMIT", 0)
    svea = company(session, "Svea Låst AB").id
    session.close()
    if on_sqlite():
        other = sqlite3.connect(db.engine.url.database, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")  # another writer holds the lock
        try:
            waited = datetime.now(UTC)
            assert word_index.catch_up(db.engine, at_most=100) == 0
            assert (datetime.now(UTC) - waited).total_seconds() < 5  # not SQLite's 30 s busy timeout
        finally:
            other.execute("ROLLBACK")
            other.close()
        assert noted(session) == 1
    assert word_index.catch_up(db.engine) == (1 if on_sqlite() else 0)
    assert ("låst", "Svea Låst AB", svea) in stored_entries(session)


def test_an_imports_words_are_written_by_its_task_after_the_import(session, app, employees):
    """An import's companies (more than a commit writes) are found from the words index when its task is done."""
    from services.importing import jobs
    from services.importing import tasks as import_tasks
    from tests.test_background_jobs import checked_job, companies_csv

    job = checked_job(session, app, employees, companies_csv(150, prefix="Svensson Import"))
    jobs.queue(session, job, write=True)
    session.commit()
    import_tasks.run_job.call_local(job.id)
    session.expire_all()
    assert noted(session) == 0 and stored_entries(session) == expected_entries(session)
    condition = search.condition(session, Company, "svensson", live_only=True)
    assert isinstance(condition, word_index.WordMatch)
    assert len(session.scalars(select(Company.id).where(search.live(Company), condition)).all()) == 150
