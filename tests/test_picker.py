"""services.search.pick: a picker shows the names that begin with what was typed first, then names with a
word that begins with it, then the other matches, each tier in folded-name order; with search()'s
guarantees (every word, Swedish folding, no trash, the loader's `extra`) and a bounded number of statements."""

import pytest
from sqlalchemy import event, text, update

from extensions import db
from models import Company, Employee
from services import bulk, numbering, search, trash
from tests.test_search_index import StatementCounter, company_row


@pytest.fixture(autouse=True, params=["few", "many"])
def answering_path(request, monkeypatch):
    """Both ways pick answers the tiers after the first: the few matches sorted by tier in one statement,
    and, for terms matching many rows, each tier walked along the name key's index."""
    if request.param == "many":
        monkeypatch.setattr(search, "CANDIDATE_LIMIT", 0)  # SQLite: more ids than that → walk
        monkeypatch.setattr(search, "FEW_ROWS", -1)  # PostgreSQL: more than that estimated → walk
    return request.param


@pytest.fixture
def register(make_company, session, employees):
    made = {
        name: make_company(name=name, **fields)
        for name, fields in {
            "Svensson Bygg AB": {},
            "svensson & co": {},
            "Andersson & Svensson AB": {},
            "Bo Svenssons Måleri": {},
            "Åkeri Svensson": {},
            "Måleri AB": {"email": "info@svensson.se"},
            "Ängby Café": {"postal_city": "Bromma"},
            "Angby Bil": {},
            "Café Öst": {},
            "Svensson Borttagen AB": {},
            "Svensson Utesluten AB": {},
        }.items()
    }
    trash.delete(session, employees["admin"], Company, [made["Svensson Borttagen AB"].id])
    session.commit()
    return made


def picked(term, **kw):
    return [row.name for row in search.pick(db.session, Company, term, **kw)]


#: "svensson" picked from the register, tier by tier
SVENSSON_BEGINS = [  # 1: the name begins with it, in folded order ("svensson & co" before "svensson bygg ab")
    "svensson & co",
    "Svensson Bygg AB",
    "Svensson Utesluten AB",
]
SVENSSON_WORD = [  # 2: a word of the name begins with it (å after the letters a–z, as the key's code points sort)
    "Andersson & Svensson AB",
    "Bo Svenssons Måleri",
    "Åkeri Svensson",
]
SVENSSON_ELSEWHERE = ["Måleri AB"]  # 3: found elsewhere (the e-mail)


def test_names_beginning_with_the_term_first_then_a_word_then_the_rest(register):
    assert picked("svensson") == SVENSSON_BEGINS + SVENSSON_WORD + SVENSSON_ELSEWHERE


def test_the_limit_is_filled_tier_by_tier(register):
    assert picked("svensson", limit=2) == ["svensson & co", "Svensson Bygg AB"]
    assert picked("svensson", limit=4) == SVENSSON_BEGINS + ["Andersson & Svensson AB"]


def test_every_word_is_required_and_the_typed_text_begins_the_name(register):
    # "svensson b" begins one name; "Bo Svenssons Måleri" holds both words elsewhere; "Andersson &
    # Svensson AB" has no word beginning with b
    assert picked("svensson b") == ["Svensson Bygg AB", "Bo Svenssons Måleri"]
    assert picked("bygg svensson") == ["Svensson Bygg AB"]
    assert picked('"svensson bygg"') == ["Svensson Bygg AB"]
    assert picked("svensson xqzvw") == []


def test_swedish_folding(register):
    assert picked("ängby") == ["Ängby Café"]
    assert picked("ÄNGBY") == ["Ängby Café"]
    assert picked("angby") == ["Angby Bil"]  # ä is a letter of its own
    assert picked("cafe") == ["Café Öst", "Ängby Café"]  # é is an e; the name's beginning first
    assert picked("öst") == ["Café Öst"]
    assert picked("bromma") == ["Ängby Café"]  # not the name: tier 3


def test_one_or_two_characters(register):
    assert picked("sv") == SVENSSON_BEGINS + SVENSSON_WORD  # a name's words only, never the e-mail


def test_trash_and_the_loaders_condition_are_never_shown(register, session, employees):
    assert "Svensson Borttagen AB" not in picked("svensson")
    assert "Svensson Borttagen AB" not in picked("svensson borttagen")
    assert "Svensson Utesluten AB" not in picked("svensson", extra=Company.name != "Svensson Utesluten AB")
    assert picked("svensson utesluten", extra=Company.name != "Svensson Utesluten AB") == []
    trash.restore(session, employees["admin"], Company, [register["Svensson Borttagen AB"].id])
    assert picked("svensson borttagen") == ["Svensson Borttagen AB"]


def test_the_key_follows_every_write(register, session):
    """SQLite keeps the folded name in a column of its own (migration 0038's triggers): an ORM edit, an
    UPDATE of the name by itself and a batch insert through services.bulk all keep it."""
    company = register["Måleri AB"]
    company.name = "Östermalms Måleri"
    session.commit()
    assert picked("östermalm") == ["Östermalms Måleri"]
    session.execute(update(Company).where(Company.id == company.id).values(name="ÖSTRA MÅLERI"))
    session.commit()
    assert picked("östra") == ["ÖSTRA MÅLERI"]
    number = numbering.next_customer_number(session)
    row = company_row(990_001, number, "Éjderns Svensson")
    bulk.insert_rows(session, Company.__table__, [row])
    session.commit()
    assert picked("ejdern") == ["Éjderns Svensson"]
    if session.get_bind().dialect.name == "sqlite":
        keys = dict(session.execute(text("SELECT name, name_key FROM company")).all())
        assert all(key == search.fold(name) for name, key in keys.items()), keys


def test_statements_one_when_the_names_fill_the_list_and_at_most_five(register, make_company, session):
    session.expire_all()
    with StatementCounter() as counted:
        picked("svensson")
    assert len(counted.statements) <= 5, counted.statements
    with StatementCounter() as counted:
        picked("svensson", limit=2)
    assert len(counted.statements) == 1, counted.statements
    for n in range(25):
        make_company(name=f"Svensson Filial {n:02d}")
    session.expire_all()
    with StatementCounter() as counted:
        found = picked("svensson")
    assert len(counted.statements) == 1, counted.statements
    assert len(found) == 20 and all(name.lower().startswith("svensson") for name in found)


def test_employees_and_other_pickers(session, employees):
    for name, active in (("Sven Säljare", True), ("Anna Svensson", True), ("Svea Slutat", False)):
        session.add(Employee(name=name, email=f"{name.split()[0].lower()}@example.se", role="seller", active=active))
    session.commit()
    found = [e.name for e in search.pick(session, Employee, "sve", extra=Employee.active)]
    assert found.index("Sven Säljare") < found.index("Anna Svensson")
    assert "Svea Slutat" not in found


def test_the_picker_endpoint_ranks(register, login):
    client = login("seller").client
    response = client.get("/admin/opportunity/ajax/lookup/?name=company&query=svensson")
    assert response.status_code == 200
    shown = [name for _id, name in response.get_json()]
    assert shown[:3] == ["svensson & co", "Svensson Bygg AB", "Svensson Utesluten AB"]
    assert "Svensson Borttagen AB" not in shown


def test_search_keeps_name_order_for_its_other_callers(register):
    """search() (the people search, duplicate and privacy look-ups) is not ranked."""
    rows = [c.name for c in search.search(db.session, Company, "svensson")]
    assert rows == sorted(rows)


def test_the_first_tier_is_a_range_of_the_name_keys_index(register, session):
    """Names that begin with the term come from the btree of migration 0038, never from the whole table."""
    sent = []

    def keep(conn, cursor, statement, parameters, context, executemany):
        sent.append((statement, parameters))

    event.listen(db.engine, "before_cursor_execute", keep)
    try:
        picked("svensson", limit=2)
    finally:
        event.remove(db.engine, "before_cursor_execute", keep)
    statement, parameters = sent[0]
    connection = session.connection().connection.driver_connection
    cursor = connection.cursor()
    if session.get_bind().dialect.name == "sqlite":
        cursor.execute("EXPLAIN QUERY PLAN " + statement, parameters)
        plan = " ".join(str(row[-1]) for row in cursor.fetchall())
        assert "ix_company_name_key (name_key>? AND name_key<?)" in plan, plan
    else:
        cursor.execute("SET LOCAL enable_seqscan = off")  # a table of a dozen rows: the plan a large one gets
        cursor.execute("EXPLAIN " + statement, parameters)
        plan = " ".join(row[0] for row in cursor.fetchall())
        assert "ix_company_name_key" in plan and "Sort" not in plan, plan
    cursor.close()
