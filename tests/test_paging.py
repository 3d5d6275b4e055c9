"""services.paging: keyset pages give every row exactly once, forward and backward, while rows
are added; "go to" lands where it should; counts stop at the cap; tokens are checked."""

import random
from datetime import datetime, timedelta

import pytest
from sqlalchemy import event, select

from extensions import db
from models import Activity, Company
from services import paging
from services.paging import InvalidCursor, ListOrder, MixedOrder, SortKey


def _companies(n, *, seed=1, cities=("Göteborg", "Malmö", None, "Umeå")):
    rng = random.Random(seed)
    rows = [
        Company(
            name=rng.choice(["Alfa", "Beta", "Gamma", "Åkeri", "Öst", "beta"]) + f" {rng.randint(1, 5)} AB",
            postal_city=rng.choice(cities),
            customer_number=10_000 + i,
        )
        for i in range(n)
    ]
    db.session.add_all(rows)
    db.session.commit()
    return rows


def _walk(order, stmt, per_page, narrow=False, **first):
    """Every page from the first (or `first`) to the end, following the next tokens."""
    pages = [order.page(db.session, stmt, per_page=per_page, narrow=narrow, **first)]
    while pages[-1].next:
        pages.append(order.page(db.session, stmt, per_page=per_page, narrow=narrow, after=pages[-1].next))
        assert len(pages) < 1000
    return pages


def _walk_back(order, stmt, per_page, narrow=False):
    pages = [order.page(db.session, stmt, per_page=per_page, narrow=narrow, last=True)]
    while pages[-1].previous:
        pages.append(order.page(db.session, stmt, per_page=per_page, narrow=narrow, before=pages[-1].previous))
        assert len(pages) < 1000
    return list(reversed(pages))


class _Statements:
    """The statements sent while inside the `with`."""

    def __enter__(self):
        self.sent: list[str] = []
        event.listen(db.engine, "before_cursor_execute", self._remember)
        return self

    def _remember(self, conn, cursor, statement, *args):
        self.sent.append(statement)

    def __exit__(self, *exc):
        event.remove(db.engine, "before_cursor_execute", self._remember)


def _expected(rows, key, descending, nulls_last_ascending):
    """Rows in the order the database gives them (NULL after values on PostgreSQL, before on SQLite)."""
    present = sorted((r for r in rows if key(r) is not None), key=lambda r: (key(r), r.id), reverse=descending)
    empty = sorted((r for r in rows if key(r) is None), key=lambda r: r.id, reverse=descending)
    nulls_last = nulls_last_ascending != descending
    return [r.id for r in (present + empty if nulls_last else empty + present)]


def _nulls_last_ascending():
    return db.engine.dialect.name != "sqlite"


@pytest.mark.parametrize("descending", [False, True])
@pytest.mark.parametrize("column", ["name", "postal_city", "id"])
def test_pages_give_every_row_once_in_order_forward_and_backward(app, column, descending):
    rows = _companies(53)
    attr = getattr(Company, column)
    order = ListOrder(attr, Company.id, descending=descending, nullable=column == "postal_city")
    stmt = select(Company)
    expected = _expected(rows, lambda r: getattr(r, column), descending, _nulls_last_ascending())

    forward = _walk(order, stmt, 7)
    assert [c.id for p in forward for c in p.items] == expected
    assert all(len(p.items) == 7 for p in forward[:-1])
    assert not forward[0].has_previous and forward[-1].next is None

    backward = _walk_back(order, stmt, 7)
    assert [c.id for p in backward for c in p.items] == expected
    assert not backward[0].has_previous
    assert all(len(p.items) == 7 for p in backward[1:])  # only the page at the start may be short


def test_two_sort_columns_and_a_filter(app):
    rows = _companies(40, seed=3)
    order = ListOrder([Company.name, Company.postal_city], Company.id)
    # postal_city as a second column must not be empty: filter those out
    stmt = select(Company).where(Company.postal_city.is_not(None), Company.name.like("%e%"))
    chosen = [r for r in rows if r.postal_city is not None and "e" in r.name]
    expected = [r.id for r in sorted(chosen, key=lambda r: (r.name, r.postal_city, r.id))]
    assert [c.id for p in _walk(order, stmt, 4) for c in p.items] == expected
    assert [c.id for p in _walk_back(order, stmt, 4) for c in p.items] == expected


@pytest.mark.parametrize("column", ["name", "postal_city"])
def test_every_row_exactly_once_while_rows_are_inserted(app, column):
    """Rows added between page views (anywhere in the order) never make a row appear twice or
    go missing: every row that existed when paging began is seen exactly once."""
    before = _companies(60, seed=5)
    order = ListOrder(getattr(Company, column), Company.id, nullable=column == "postal_city")
    stmt = select(Company)
    seen = []
    page = order.page(db.session, stmt, per_page=9)
    rng, n = random.Random(9), 0
    while True:
        seen += [c.id for c in page.items]
        for _ in range(3):  # colleagues add companies while the list is read
            n += 1
            db.session.add(
                Company(
                    name=rng.choice(["Alfa", "Beta", "Öst", "Aaa", "Zeta"]) + f" ny {n}",
                    postal_city=rng.choice(["Malmö", None, "Arvika"]),
                    customer_number=90_000 + n,
                )
            )
        db.session.commit()
        if not page.next:
            break
        page = order.page(db.session, stmt, per_page=9, after=page.next)
    assert len(seen) == len(set(seen))
    assert {r.id for r in before} <= set(seen)


def test_go_to_a_letter_a_number_and_past_the_end(app):
    rows = _companies(30, seed=7, cities=("Kiruna",))
    by_name = ListOrder(Company.name, Company.id)
    page = by_name.page(db.session, select(Company), per_page=5, seek="G")
    names = sorted(r.name for r in rows)
    first_g = next(n for n in names if n >= "G")
    assert page.items[0].name == first_g
    assert page.has_previous == (names[0] < "G")

    # descending: "go to B" starts with the last name beginning with B
    down = ListOrder(Company.name, Company.id, descending=True)
    page = down.page(db.session, select(Company), per_page=5, seek="B")
    assert page.items[0].name == max(n for n in names if n < "C")

    by_number = ListOrder(Company.customer_number, Company.id)
    page = by_number.page(db.session, select(Company), per_page=5, seek=10_017)
    assert [c.customer_number for c in page.items] == list(range(10_017, 10_022))
    assert page.has_previous and page.has_next

    # past the last row: the last page
    page = by_number.page(db.session, select(Company), per_page=5, seek=99_999)
    assert [c.customer_number for c in page.items] == list(range(10_025, 10_030))
    assert page.next is None and page.has_previous


@pytest.mark.parametrize("descending", [False, True])
def test_empty_values_first_on_either_database_in_either_direction(app, descending):
    """`empty_first` (the invoice list's drafts, which have no number): the rows without a value come first,
    by id in the list's direction, then the others; every row once, forward, backward, by page number and
    after "go to"."""
    rows = _companies(31, seed=13)
    order = ListOrder(Company.postal_city, Company.id, descending=descending, nullable=True, empty_first=True)
    stmt = select(Company)
    empty = sorted((r.id for r in rows if r.postal_city is None), reverse=descending)
    present = [r.id for r in sorted((r for r in rows if r.postal_city), key=lambda r: (r.postal_city, r.id))]
    expected = empty + (present[::-1] if descending else present)
    assert 0 < len(empty) < 31

    assert [c.id for p in _walk(order, stmt, 4) for c in p.items] == expected
    assert [c.id for p in _walk_back(order, stmt, 4) for c in p.items] == expected
    for offset in (0, 4, 8, 28):
        page = order.page(db.session, stmt, per_page=4, offset=offset)
        assert [c.id for c in page.items] == expected[offset : offset + 4]
    few = order.of_few_rows()
    assert [c.id for p in _walk(few, stmt, 4) for c in p.items] == expected
    page = order.page(db.session, stmt, per_page=4, seek="Malmö")
    at = next(i for i, r in enumerate(expected) if db.session.get(Company, r).postal_city == "Malmö")
    assert [c.id for c in page.items] == expected[at : at + 4] and page.has_previous


def test_old_page_numbers_are_served_by_offset(app):
    rows = _companies(23, seed=11)
    order = ListOrder(Company.postal_city, Company.id, nullable=True)
    expected = _expected(rows, lambda r: r.postal_city, False, _nulls_last_ascending())
    for offset in (0, 5, 10, 20):
        page = order.page(db.session, select(Company), per_page=5, offset=offset)
        assert [c.id for c in page.items] == expected[offset : offset + 5]
        assert page.has_previous == (offset > 0)
        assert page.has_next == (offset + 5 < 23)


def test_go_to_values_typed_by_the_user():
    assert paging.seek_value(Company.customer_number, " 12 345 ") == 12345
    assert paging.seek_value(Company.name, " Må ") == "Må"
    assert paging.seek_value(Activity.due_at, "2026-03-01") == datetime(2026, 3, 1)
    with pytest.raises(InvalidCursor):
        paging.seek_value(Company.customer_number, "tolv")
    with pytest.raises(InvalidCursor):
        paging.seek_value(Activity.due_at, "1 mars")
    with pytest.raises(InvalidCursor):
        paging.seek_value(Company.is_supplier, "ja")
    assert paging.seek_kind(Company.name) == "letter"
    assert paging.seek_kind(Company.customer_number) == "number"
    assert paging.seek_kind(Activity.due_at) == "date"


@pytest.mark.parametrize(
    "token",
    [
        "",
        "not base64 at all!",
        paging.encode_cursor(["Alfa"]),  # too few keys
        paging.encode_cursor([12, 3]),  # a number where the name is text
        paging.encode_cursor(["Alfa", "3"]),  # text where the id is a number
        paging.encode_cursor([None, 3]),  # an empty name: the name is never empty
        paging.encode_cursor(["Alfa", None]),
        "eyJhIjoxfQ",  # {"a":1}
        "WyJBIix7IngiOiIxIn1d",  # ["A",{"x":"1"}]
    ],
)
def test_a_token_that_is_not_ours_is_refused(app, token):
    order = ListOrder(Company.name, Company.id)
    with pytest.raises(InvalidCursor):
        order.page(db.session, select(Company), per_page=5, after=token)


def test_tokens_keep_their_types():
    values = ["Å", 3, None, True, datetime(2026, 1, 2, 3, 4, 5)]
    assert paging.decode_cursor(paging.encode_cursor(values)) == values


def test_a_token_names_its_scope_and_only_that_scope_takes_it(app):
    """The API ties its cursors to their sort: a token of `name` is no position in `-name`, nor in a
    list without a scope, nor the other way round."""
    _companies(12, seed=5)
    by_name = ListOrder(Company.name, Company.id, scope="name")
    token = by_name.page(db.session, select(Company), per_page=5).next
    assert (
        paging.decode_cursor(token, "name") and by_name.page(db.session, select(Company), per_page=5, after=token).items
    )
    assert by_name.of_few_rows().page(db.session, select(Company), per_page=5, after=token).items
    for other in (
        ListOrder(Company.name, Company.id, descending=True, scope="-name"),
        ListOrder(Company.name, Company.id),
        ListOrder(Company.postal_city, Company.id, nullable=True, scope="postal_city"),
    ):
        with pytest.raises(InvalidCursor):
            other.page(db.session, select(Company), per_page=5, after=token)
    unscoped = ListOrder(Company.name, Company.id).page(db.session, select(Company), per_page=5).next
    with pytest.raises(InvalidCursor):
        by_name.page(db.session, select(Company), per_page=5, before=unscoped)


def test_capped_count(app):
    _companies(12)
    assert paging.capped_count(db.session, select(Company), cap=20) == paging.Count(12, exact=True)
    assert paging.capped_count(db.session, select(Company), cap=12) == paging.Count(12, exact=True)
    assert paging.capped_count(db.session, select(Company), cap=11) == paging.Count(11, exact=False)
    assert paging.capped_count(db.session, select(Company).where(Company.name == "nobody")).value == 0


def test_mixed_directions_and_empty_values(app, make_company):
    """The card's order of activities: open first, those with a due date first, soonest first,
    then newest first; pages in both directions give the rows once each."""
    company = make_company()
    rng = random.Random(4)
    start = datetime(2026, 1, 1)
    for i in range(41):
        due = start + timedelta(days=rng.randint(0, 5)) if rng.random() < 0.7 else None
        db.session.add(Activity(subject=f"a{i}", company_id=company.id, done=rng.random() < 0.4, due_at=due))
    db.session.commit()
    order = MixedOrder(
        SortKey(Activity.done),
        SortKey(Activity.due_at.is_(None)),
        SortKey(Activity.due_at, nullable=True),
        SortKey(Activity.id, descending=True),
    )
    stmt = select(Activity).where(Activity.company_id == company.id)
    everything = db.session.scalars(
        stmt.order_by(Activity.done, Activity.due_at.is_(None), Activity.due_at, Activity.id.desc())
    ).all()
    assert [a.id for p in _walk(order, stmt, 6) for a in p.items] == [a.id for a in everything]
    assert [a.id for p in _walk_back(order, stmt, 6) for a in p.items] == [a.id for a in everything]


def test_extra_columns_come_back_per_row(app):
    _companies(6)
    order = ListOrder(Company.name, Company.id)
    page = order.page(db.session, select(Company, Company.customer_number * 2), per_page=4)
    assert [e[0] for e in page.extras] == [c.customer_number * 2 for c in page.items]


def test_a_first_page_with_its_total_counts_every_row_in_the_same_pass(app):
    """`page(total=True)`: the keys of the page and the count of every row, then the page's rows by id;
    the same rows in the same order as without, and the pages after it as before."""
    _companies(23)
    stmt = select(Company).where(Company.name.like("%a%"))
    expected = db.session.scalars(stmt.order_by(Company.name, Company.id)).all()
    order = ListOrder(Company.name, Company.id)
    for key_order in (order, order.of_few_rows()):
        sent: list = []

        def remember(conn, cursor, statement, *args, sent=sent):
            sent.append(statement)

        event.listen(db.engine, "before_cursor_execute", remember)
        try:
            first = key_order.page(db.session, stmt, per_page=5, total=True)
        finally:
            event.remove(db.engine, "before_cursor_execute", remember)
        assert len(sent) == 2 and "count(*) OVER ()" in sent[0], sent
        assert first.total == len(expected)
        assert [c.id for c in first.items] == [c.id for c in expected[:5]]
        assert first.next and not first.previous
        second = key_order.page(db.session, stmt, per_page=5, after=first.next, total=True)
        assert second.total is None  # a later page: the list counts by itself
        assert [c.id for c in second.items] == [c.id for c in expected[5:10]]
    nothing = order.page(db.session, stmt.where(Company.name == "nobody"), per_page=5, total=True)
    assert (nothing.items, nothing.total) == ([], 0)
    # empty cities form a segment of their own, read by a statement of its own: no total
    by_city = ListOrder(Company.postal_city, Company.id, nullable=True)
    assert by_city.page(db.session, stmt, per_page=5, total=True).total is None


@pytest.mark.parametrize(
    "order", [ListOrder(Company.name, Company.id), MixedOrder(SortKey(Company.name), SortKey(Company.id))]
)
def test_rows_found_first_are_sorted_narrow_and_read_by_id(app, order):
    """`page(narrow=True)` (a search term's matching ids, a report): the same pages as whole rows give, every
    row once forward and backward; the statements that sort select the keys only, and the page's rows are read
    by their ids alone, not by the list of ids the rows were found by too (SQLite read that whole list)."""
    from sqlalchemy.orm import joinedload

    rows = _companies(40, seed=11)
    found = select(Company.id).where(Company.name.not_like("Gamma%")).scalar_subquery()
    stmt = select(Company).where(Company.id.in_(found)).options(joinedload(Company.owner))
    expected = [c.id for c in sorted((r for r in rows if not r.name.startswith("Gamma")), key=lambda r: (r.name, r.id))]
    assert 0 < len(expected) < 40
    with _Statements() as statements:
        forward = _walk(order, stmt, 6, narrow=True)
    assert [c.id for p in forward for c in p.items] == expected
    assert [c.id for p in forward for c in p.items] == [c.id for p in _walk(order, stmt, 6) for c in p.items]
    sorting = [s for s in statements.sent if "ORDER BY" in s]
    assert sorting and all("customer_number" not in s.split("FROM")[0] for s in sorting), sorting[0]
    by_id = [s for s in statements.sent if "ORDER BY" not in s]
    assert by_id and all("NOT LIKE" not in s for s in by_id), by_id[0]
    backward = _walk_back(order, stmt, 6, narrow=True)
    assert [c.id for p in backward for c in p.items] == expected


def test_a_customers_rows_are_sorted_narrow_and_read_by_key(app, make_company):
    """`CustomerOrder`: the statement that sorts a customer's rows selects only the keys (not the
    rows and what they load with them); the page's rows come by their last key, in the same order,
    every row once forward and backward."""
    from sqlalchemy.orm import joinedload

    from models import CompanyContact, Contact
    from services import card

    company, other = make_company(name="Stor AB"), make_company(name="Annan AB")
    rng = random.Random(5)
    people = [
        Contact(first_name=rng.choice(["Anna", "Bo", "Åsa"]), last_name=rng.choice(["Ek", "Berg", "Öst", "ek"]))
        for _ in range(37)
    ]
    db.session.add_all(people)
    db.session.flush()
    db.session.add_all(CompanyContact(company_id=company.id, contact_id=p.id) for p in people)
    db.session.add(CompanyContact(company_id=other.id, contact_id=people[0].id))
    db.session.commit()
    stmt = card.contacts(company)
    expected = [link.contact_id for link in db.session.scalars(stmt.options(joinedload(CompanyContact.contact)))]
    assert len(expected) == 37
    sent: list = []

    def remember(conn, cursor, statement, *args):
        sent.append(statement)

    event.listen(db.engine, "before_cursor_execute", remember)
    try:
        forward = _walk(card.CONTACTS_ORDER, stmt, 6)
    finally:
        event.remove(db.engine, "before_cursor_execute", remember)
    assert [link.contact_id for p in forward for link in p.items] == expected
    links = [link for p in forward for link in p.items]
    assert all(link.company_id == company.id and link.contact.id == link.contact_id for link in links)
    sorting = [s for s in sent if "ORDER BY" in s]
    assert sorting and all("email" not in s.split("FROM")[0] for s in sorting), sorting[0]
    backward = _walk_back(card.CONTACTS_ORDER, stmt, 6)
    assert [link.contact_id for p in backward for link in p.items] == expected
