"""services.duplicates: Swedish name normalisation, scoring on a corpus, the blocked scan, one record's check."""

import pytest

from services import duplicates
from services.duplicates import THRESHOLD, company_name_key, score
from tests import duplicate_corpus as corpus


def company_entry(ident, record):
    name, org, email, phone, city = record
    return duplicates._entry_of_row("company", (ident, name, org, email, phone, city, None))


def contact_entry(ident, record):
    first, last, pnr, email, phone, city, company = record
    entry = duplicates._entry_of_row("contact", (ident, first, last, pnr, email, phone, None, city))
    entry.companies = (company,) if company else ()
    return entry


@pytest.mark.parametrize(
    ("name", "key"),
    [
        ("Svensson Bygg AB", "svensson bygg"),
        ("Svensson Bygg Aktiebolag", "svensson bygg"),
        ("Åkerlunds Måleri HB", "akerlunds maleri"),
        ("Nilsson & Söner AB i Stockholm", "nilsson och soner"),
        ("Norrlands Skog Ek. för.", "norrlands skog"),
        ("Café Björken (publ)", "cafe bjorken"),
        ("AB", "ab"),
    ],
)
def test_company_names_are_normalised_the_swedish_way(name, key):
    assert company_name_key(name) == key


def _measure(pairs, make_entry, kind):
    outcome = {"tp": 0, "fp": 0, "fn": 0, "tn": 0}
    wrong = []
    for truth, rows in pairs:
        for a, b, why in rows:
            value, reasons = score(kind, make_entry(1, a), make_entry(2, b))
            predicted = value >= THRESHOLD
            outcome[("t" if predicted == truth else "f") + ("p" if predicted else "n")] += 1
            if predicted != truth:
                wrong.append((why, a[:2], b[:2], value, reasons))
    return outcome, wrong


def test_scoring_on_the_swedish_corpus_is_precise(capsys):
    company = [(True, corpus.company_true_pairs()), (False, corpus.company_false_pairs())]
    contact = [(True, corpus.contact_true_pairs()), (False, corpus.contact_false_pairs())]
    results = {
        "company": _measure(company, company_entry, "company"),
        "contact": _measure(contact, contact_entry, "contact"),
    }
    total = {k: sum(r[0][k] for r in results.values()) for k in ("tp", "fp", "fn", "tn")}
    pairs = sum(total.values())
    precision = total["tp"] / (total["tp"] + total["fp"])
    recall = total["tp"] / (total["tp"] + total["fn"])
    with capsys.disabled():
        print(
            f"\nduplicate corpus: {pairs} pairs, threshold {THRESHOLD}: precision {precision:.3f}, recall {recall:.3f}"
        )
        for kind, (counts, wrong) in results.items():
            print(f"  {kind}: {counts}")
            for miss in wrong:
                print("   ", miss)
    assert pairs >= 200
    assert precision >= 0.95
    assert recall >= 0.85


def test_different_organisation_numbers_are_never_duplicates():
    a = company_entry(1, ("Svensson Bygg AB", "5560360793", "info@svenssonbygg.se", "", "Stockholm"))
    b = company_entry(2, ("Svensson Bygg AB", "5569988776", "info@svenssonbygg.se", "", "Stockholm"))
    assert score("company", a, b) == (0, [])


def test_the_scan_finds_the_pairs_by_blocking_without_comparing_everything(monkeypatch):
    entries = [company_entry(i, c) for i, c in enumerate(corpus.COMPANIES, start=1)]
    variants = [
        company_entry(1001, ("Svensson Bygg Aktiebolag", "", "", "", "Stockholm")),
        company_entry(1002, ("Akerlunds Maleri", "", "kontakt@akerlundsmaleri.se", "", "")),
        company_entry(1003, ("Firma Lindqvist", "5563334445", "", "", "")),
        company_entry(1004, ("Bergs Transport", "", "", "+46311234567", "")),
    ]
    compared = []
    real_score = duplicates.score

    def counting(kind, a, b):
        compared.append((a.id, b.id))
        return real_score(kind, a, b)

    monkeypatch.setattr(duplicates, "score", counting)
    found = duplicates.find_pairs("company", entries + variants)
    assert set(found) == {(1, 1001), (2, 1002), (5, 1003), (6, 1004)}
    assert found[(5, 1003)][1] == ["same_org_number"]
    assert "same_phone" in found[(6, 1004)][1]
    everything = len(entries + variants) * (len(entries + variants) - 1) // 2
    assert len(compared) < everything / 10


# --- many new records against the register, by query (an import's dry run) ---------------------------------


def _new(kind, **values):
    return duplicates.entry_of_values(kind, values)


@pytest.mark.parametrize("word_cache", [duplicates.WORD_CACHE, 1])
def test_the_words_remembered_are_bounded_and_never_a_batch_s_own(session, make_company, monkeypatch, word_cache):
    """A RegisterLookup remembers at most WORD_CACHE name words' records from batch to batch, the least recently
    used let go first, but never a word of the batch it is looking up (one let go would read as "too common"
    and the row's look-alikes would go unnoticed): with room for one word, the same records are found."""
    monkeypatch.setattr(duplicates, "WORD_CACHE", word_cache)
    ivar = make_company(name="Ivarssons Snickeri AB", postal_city="Eksjö")
    tor = make_company(name="Torssons Plåtslageri AB", postal_city="Eksjö")
    lookup = duplicates.RegisterLookup(session, "company")
    batches = [
        [_new("company", name="Ivarsson Snickeri", postal_city="Eksjö")],
        [_new("company", name="Torsson Plåtslageri", postal_city="Eksjö")],
        [_new("company", name="Ivarssons Snickeri", postal_city="Eksjö")],
    ]
    found = [[ident for _v, _r, ident in row] for batch in batches for row in lookup.matches_many(batch)]
    assert found == [[ivar.id], [tor.id], [ivar.id]]
    assert len(lookup.words) <= max(word_cache, 2)  # a batch's own two words at least


def test_a_batch_finds_an_e_mail_in_any_case_swedish_letters_too(session, make_company, make_contact):
    """The register stores an address as typed; a batch's address (in lower case) finds it in any case, Å, Ä and
    Ö too (SQLite's NOCASE index folds only A–Z: the other letters are asked for in both cases), and an
    address with many such letters, asked for without the index, as well."""
    shouty = make_company(name="Alfa AB", email="INFO@Alfa.se")
    swedish = make_company(name="Beta AB", email="Åsa.Öberg@Beta.se")
    many = make_company(name="Gamma AB", email="ÅÄÖÉÜ.Ångström@gamma.se")
    make_company(name="Delta AB", email="asa.oberg@beta.se")  # another address: never compared as the same
    person = make_contact(first_name="Åke", last_name="Ström", email="ÅKE.STRÖM@Example.se")
    lookup = duplicates.RegisterLookup(session, "company")
    found = lookup.matches_many(
        [
            _new("company", name="Zeta", email="info@alfa.se"),
            _new("company", name="Eta", email="åsa.öberg@beta.se"),
            _new("company", name="Theta", email="åäöéü.ångström@gamma.se"),
        ]
    )
    assert [[(ident, "same_email" in reasons) for _v, reasons, ident in row] for row in found] == [
        [(shouty.id, True)],
        [(swedish.id, True)],
        [(many.id, True)],
    ]
    contacts = duplicates.RegisterLookup(session, "contact").matches_many(
        [_new("contact", first_name="Ove", last_name="Berg", email="åke.ström@example.se")]
    )
    assert [ident for _v, _r, ident in contacts[0]] == [person.id]
    # the entry forms' check finds it so too
    assert [
        m.record.id for m in duplicates.check_entry(session, "company", _new("company", email="åsa.öberg@beta.se"))
    ] == [swedish.id]


def test_a_batch_s_keys_are_looked_up_in_one_statement_by_index(session, app, make_company):
    """One statement for every kind of key of a batch, on both databases; on SQLite each key column through its
    own index (as one OR, the e-mail's lower() read the whole table per batch). PostgreSQL's e-mail index is
    checked in test_search_plans (a plan there needs a table large enough for the planner to use it)."""
    from extensions import db

    make_company(name="Alfa AB", email="info@alfa.se")
    statements = []

    def remember(conn, cursor, statement, parameters, context, executemany):
        if "FROM company" in statement and "company_search" not in statement:
            statements.append((statement, parameters))

    from sqlalchemy import event

    event.listen(db.engine, "before_cursor_execute", remember)
    try:
        duplicates.RegisterLookup(session, "company")._key_entries(
            [_new("company", name="Zeta", org_number="5560360793", email="Åsa@alfa.se", phone="+46812345678")]
        )
    finally:
        event.remove(db.engine, "before_cursor_execute", remember)
    assert len(statements) == 1  # one statement for every kind of key
    if db.engine.dialect.name != "sqlite":
        return
    plan = " ".join(
        str(row[-1])
        for row in session.connection().exec_driver_sql("EXPLAIN QUERY PLAN " + statements[0][0], statements[0][1])
    )
    assert "ix_company_email_nocase" in plan and "ix_company_phone" in plan
    assert "SCAN company" not in plan.replace("SCAN company_", "")


def test_a_batch_asks_the_register_a_bounded_number_of_statements(session, app, make_company):
    """The statements a batch costs do not grow with its rows (the name words' look-ups run on the driver's cursor,
    one per word not met before)."""
    from sqlalchemy import event

    from extensions import db

    for n in range(30):
        make_company(name=f"Firma{n} Bygg AB", email=f"info@firma{n}.se", phone=f"+4681234{n:04d}")
    counted = []

    def count(*_args):
        counted.append(1)

    def statements(rows: int, lookup=None) -> int:
        entries = [
            _new("company", name=f"Firma{n} Byg", email=f"INFO@firma{n}.se", phone=f"+4681234{n:04d}")
            for n in range(rows)
        ]
        counted.clear()
        event.listen(db.engine, "before_cursor_execute", count)
        try:
            found = (lookup or duplicates.RegisterLookup(session, "company")).matches_many(entries)
        finally:
            event.remove(db.engine, "before_cursor_execute", count)
        assert all(row for row in found)  # every one is found
        return len(counted)

    # whether the register is empty, the records sharing a key, the names of the words' records, the records
    # alike by name (whatever the batch's size); on PostgreSQL, once a pass, whether the register's statistics
    # are fresh, and ANALYZE if not (duplicates.analyze_if_stale)
    once = 2 if db.engine.dialect.name == "postgresql" else 0
    assert statements(3) <= 4 + once and statements(30) <= 4 + once
    # a pass's later batch of the same rows: only the records sharing a key (the register found to hold a record
    # is not asked again, nor its statistics; the words and their records' names are remembered)
    lookup = duplicates.RegisterLookup(session, "company")
    statements(30, lookup)
    assert statements(30, lookup) == 1


@pytest.fixture
def numbers_everywhere(session, monkeypatch, make_company):
    """A register where "bygg" is in more names, and "2000" in more organisation numbers and phones, than a name
    word's block holds (MAX_WORD_BLOCK, made 5 here), and one company has "2000" in its name."""
    monkeypatch.setattr(duplicates, "MAX_WORD_BLOCK", 5)
    for n, town in enumerate(["Nord", "Syd", "Väst", "Öst", "Mitt", "Fjäll"]):
        make_company(name=f"Bygg {town} AB", org_number=f"55620000{n}{n}", phone=f"+4682000{n:04d}")
    return make_company(name="Bygg 2000 AB", postal_city="Malmö")


def test_a_name_with_a_number_finds_its_duplicate_by_the_number_in_the_name(session, numbers_everywhere):
    """Issue 14: "Bygg 2000 AB" and "Bygg 2000 Aktiebolag", no key in common. "bygg" is too common to block on;
    "2000" is in the register's organisation numbers and phones too, but a name word is looked up among the
    names only, so "2000" is a block of one and the duplicate is found (in the whole search text it was a
    block of more than MAX_WORD_BLOCK: no block, and no notice)."""
    found = duplicates.RegisterLookup(session, "company").matches_many(
        [_new("company", name="Bygg 2000 Aktiebolag", postal_city="Malmö")]
    )
    assert [(ident, reasons) for _v, reasons, ident in found[0]] == [
        (numbers_everywhere.id, ["similar_name_same_city"])
    ]


def test_a_name_word_is_looked_up_among_the_names_only(session, numbers_everywhere):
    """A number word finds the records with it in their name, not those with it in a phone or organisation
    number; a common word is "too many"; a town is not a word of the name."""
    from models import Company
    from services import search

    found = search.word_candidates(session, Company, {"2000", "bygg", "malmö"}, limit=duplicates.MAX_WORD_BLOCK)
    assert found == {"2000": [numbers_everywhere.id], "bygg": None, "malmö": []}


def test_postgresql_looks_a_batch_s_name_words_up_through_the_name_index(session, app):
    """Issue 14: on PostgreSQL every name word of a batch is looked up in one statement, each word through a
    bitmap of the name index, one a word (never the table read whole, nor the whole search text's index), whatever the
    statistics say: here the table of 3,000 companies was never analyzed, as just after an import."""
    from sqlalchemy import insert, text

    from extensions import db
    from models import Company
    from services import search

    if db.engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL's plan (SQLite asks its FTS5 index, tested above)")
    names = [f"Bygg {n} Konsult AB" for n in range(3000)]
    rows = [
        {"name": name, "customer_number": 10_000 + n, "discount_percent": 0, "phone": f"+46820{n:05d}"}
        for n, name in enumerate(names)
    ]
    session.execute(insert(Company), rows)
    before_settings = session.execute(text("SELECT current_setting('enable_seqscan'), current_setting('jit')")).one()
    scans = text(
        "SELECT pg_stat_get_xact_numscans('company'::regclass), "
        "pg_stat_get_xact_numscans('ix_company_name_prefix'::regclass), "
        "(SELECT sum(pg_stat_get_xact_numscans(indexrelid)) FROM pg_index WHERE indrelid = 'company'::regclass)"
    )
    before = session.execute(scans).one()
    found = search.word_candidates(session, Company, {"2000", "bygg", "konsult", "48213"}, limit=200)
    table, name_index, every_index = (a - b for a, b in zip(session.execute(scans).one(), before, strict=True))
    assert (table, name_index, every_index) == (0, 4, 4)  # one bitmap of the name index a word, nothing else
    assert found["bygg"] is None and found["konsult"] is None and found["48213"] == []
    assert [session.get(Company, i).name for i in found["2000"] or ()] == ["Bygg 2000 Konsult AB"]
    settings = session.execute(text("SELECT current_setting('enable_seqscan'), current_setting('jit')")).one()
    assert tuple(settings) == ("on", before_settings[1])  # set back for the rest of the transaction


def test_a_name_word_with_other_characters_is_found_literally(session):
    """A word is looked for as it is written at the start of a word of the name: "_", "%", "." and "\\" are
    characters like any other (PostgreSQL asks with a regular expression, each such character escaped)."""
    from models import Company
    from services import search

    names = ["Foo a_b AB", "Foo axb AB", "Bar 50% AB", "Bar 500 AB", "Baz x.y AB", "Baz xzy AB", "Åsa x\\y HB"]
    ids = {}
    for n, name in enumerate(names):
        company = Company(name=name, customer_number=20_000 + n)
        session.add(company)
        session.flush()
        ids[name] = company.id
    found = search.word_candidates(session, Company, {"a_b", "50%", "x.y", "åsa", "x\\y", "oo"}, limit=10)
    assert {w: sorted(i or ()) for w, i in found.items()} == {
        "a_b": [ids["Foo a_b AB"]],
        "50%": [ids["Bar 50% AB"]],
        "x.y": [ids["Baz x.y AB"]],
        "åsa": [ids["Åsa x\\y HB"]],
        "x\\y": [ids["Åsa x\\y HB"]],
        "oo": [],  # inside a word, not at its start
    }


def test_postgresql_analyzes_a_register_just_filled(session, app):
    """A dry run just after a large import finds the register's statistics those of the empty table (autovacuum
    comes a minute later at the earliest): RegisterLookup has PostgreSQL ANALYZE it first."""
    from sqlalchemy import insert

    from extensions import db
    from models import Company

    if db.engine.dialect.name != "postgresql":
        pytest.skip("SQLite's plans do not hang on statistics here")
    rows = [{"name": f"Bolag {n} AB", "customer_number": 10_000 + n, "discount_percent": 0} for n in range(3000)]
    session.execute(insert(Company), rows)
    session.commit()
    assert session.execute(db.text("SELECT reltuples FROM pg_class WHERE relname = 'company'")).scalar() < 3000
    assert duplicates.analyze_if_stale(session, Company)
    # (whether it is stale again at once depends on when the inserting backend reports its rows to the
    # statistics, which may come after the ANALYZE)
    assert session.execute(db.text("SELECT reltuples FROM pg_class WHERE relname = 'company'")).scalar() == 3000


def test_any_of_finds_texts_with_quotes_commas_braces_and_backslashes(session, make_company):
    """`any_of` gives PostgreSQL its array as one text (services.search.pg_array): every value is found as it is,
    whatever it holds; SQLite's is services.bulk.one_of's."""
    from sqlalchemy import select

    from models import Company

    names = ['Alfa "Bygg", AB', "Beta\\Data {AB}", "NULL", "Gamma 'Ö' AB", " Delta "]
    ids = {make_company(name=name).id for name in names}
    make_company(name="Epsilon AB")
    assert set(session.scalars(select(Company.id).where(duplicates.any_of(session, Company.name, names)))) == ids
    assert set(session.scalars(select(Company.id).where(duplicates.any_of(session, Company.id, ids)))) == ids
    assert list(session.scalars(select(Company.id).where(duplicates.any_of(session, Company.id, [])))) == []


def test_a_record_named_as_a_row_is_not_normalised_again_and_found_the_same(session, make_company, monkeypatch):
    """An import's rows hand RegisterLookup their names normalised already: a record found by a row's key and
    named as the row (most often the row's own company) takes that, and is found and scored as before."""
    from services import name_keys

    company = make_company(name="Alfa Bygg AB", org_number="5560360793", postal_city="Lund")
    make_company(name="Alfa Byggnads AB", org_number="5564994589", postal_city="Lund")
    entry = duplicates.entry_of_values("company", {"name": "Alfa Bygg AB", "org_number": "5560360793"})
    entry.id = -1
    calls = []
    real = name_keys.company_name_key
    monkeypatch.setattr(name_keys, "company_name_key", lambda name: calls.append(name) or real(name))
    given = duplicates.RegisterLookup(session, "company").matches_many([entry], names={"Alfa Bygg AB": entry.name})
    assert "Alfa Bygg AB" not in calls
    found = duplicates.RegisterLookup(session, "company").matches_many([entry])
    assert "Alfa Bygg AB" in calls
    assert given == found and [ident for _score, _reasons, ident in found[0]] == [company.id]
