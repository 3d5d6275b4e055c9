"""services.reports: the sales reports' figures (FAQ 27, 28), table-driven on a small register."""

from datetime import date, datetime
from decimal import Decimal

import pytest

from extensions import db
from models import Activity, EmployeeGroup, Opportunity, OpportunityChange, SalesStage
from services import reports


@pytest.fixture
def world(make_company, employees):
    """Stages, two sellers in a sales group, an admin alone, and opportunities and activities.

    | title  | owner  | stage   | amount | prob | close      | decided          |
    | A      | seller | Kontakt | 1000   | 10   | 2026-12-05 | –                |
    | B      | seller | Offert  | 2000   | 60*  | 2026-12-20 | –                |
    | C      | admin  | Offert  | 500,55 | 50   | 2027-01-10 | –                |
    | D      | –      | Kontakt | 100    | 10   | –          | –                |
    | W      | seller | Vunnen  | 3000   | 100  | 2026-11-01 | 2026-11-15       |
    | L      | admin  | Förlorad| 700    | 0    | 2026-10-01 | 2026-10-20       |
    | W2     | finance| Vunnen  | 400    | 100  | 2026-09-01 | created 2026-09-01 |
    (* B has its own probability 60 where its stage says 50.)
    """
    stage = {
        key: SalesStage(name=name, sort_order=n, probability=p, is_won=key == "won", is_lost=key == "lost")
        for n, (key, name, p) in enumerate(
            [("contact", "Kontakt", 10), ("offer", "Offert", 50), ("won", "Vunnen", 100), ("lost", "Förlorad", 0)]
        )
    }
    db.session.add_all(stage.values())
    company = make_company(name="Kund AB")
    seller, admin, finance = employees["seller"], employees["admin"], employees["finance"]
    group = EmployeeGroup(name="Säljgrupp Syd", kind="sales", members=[seller, finance])
    solo = EmployeeGroup(name="Ledning", kind="standard", members=[admin])
    db.session.add_all([group, solo])

    def opp(title, owner, st, amount, close=None, probability=None, created=datetime(2026, 11, 2, 9)):
        o = Opportunity(
            title=title,
            company=company,
            owner=owner,
            stage=stage[st],
            amount=Decimal(amount),
            close_date=close,
            probability=probability,
            created_at=created,
            lost_reason="Pris" if st == "lost" else None,
        )
        db.session.add(o)
        return o

    opp("A", seller, "contact", "1000", date(2026, 12, 5))
    opp("B", seller, "offer", "2000", date(2026, 12, 20), probability=60)
    opp("C", admin, "offer", "500.55", date(2027, 1, 10))
    opp("D", None, "contact", "100")
    won = opp("W", seller, "won", "3000", date(2026, 11, 1), created=datetime(2026, 10, 1))
    lost = opp("L", admin, "lost", "700", date(2026, 10, 1), created=datetime(2026, 9, 1))
    opp("W2", finance, "won", "400", date(2026, 9, 1), created=datetime(2026, 9, 1, 12))
    db.session.commit()
    # The history the rules wrote says "now"; the decisions happened on the dates of the table.
    for o, at in ((won, datetime(2026, 11, 15, 10)), (lost, datetime(2026, 10, 20, 10))):
        for change in o.changes:
            change.at = datetime(2026, 1, 1)
        db.session.add(
            OpportunityChange(opportunity=o, field="stage", old_value="Offert", new_value=o.stage.name, at=at)
        )
    for change in db.session.query(OpportunityChange).join(Opportunity).filter(Opportunity.title == "W2"):
        db.session.delete(change)  # created directly as won: decided when created

    def act(kind, who, when, done=False):
        db.session.add(Activity(kind=kind, subject=kind, assignee=who, due_at=when, done=done, company=company))

    act("call", seller, datetime(2026, 11, 3), done=True)
    act("call", seller, datetime(2026, 11, 4))
    act("meeting", seller, datetime(2026, 11, 5), done=True)
    act("task", finance, datetime(2026, 11, 6))
    act("note", finance, datetime(2026, 11, 7), done=True)
    act("call", admin, datetime(2026, 11, 8))
    act("call", seller, datetime(2026, 12, 8))  # outside November
    db.session.commit()
    return {"stage": stage, "group": group, "solo": solo, **employees}


@pytest.mark.parametrize(
    ("by", "owners", "expected"),
    [
        ("stage", None, [("Kontakt", 2, "1100.00", "110.00"), ("Offert", 2, "2500.55", "1450.28")]),
        ("stage", "seller", [("Kontakt", 1, "1000.00", "100.00"), ("Offert", 1, "2000.00", "1200.00")]),
        (
            "seller",
            None,
            [
                ("Test Admin", 1, "500.55", "250.28"),
                ("Test Seller", 2, "3000.00", "1300.00"),
                ("Ingen säljare", 1, "100.00", "10.00"),
            ],
        ),
        (
            "month",
            None,
            [
                ("2026-12", 2, "3000.00", "1300.00"),
                ("2027-01", 1, "500.55", "250.28"),
                ("Inget slutdatum", 1, "100.00", "10.00"),
            ],
        ),
    ],
)
def test_pipeline_sums_open_opportunities(app, world, by, owners, expected):
    with app.test_request_context():
        rows = reports.pipeline(db.session, by, owner_ids=[world[owners].id] if owners else ())
        got = [(r.label, r.count, str(r.amount), str(r.weighted)) for r in rows]
    assert got == expected


def test_pipeline_close_period_and_totals(app, world):
    rows = reports.pipeline(db.session, "stage", close_from=date(2026, 12, 1), close_to=date(2026, 12, 31))
    assert [(r.label, r.count) for r in rows] == [("Kontakt", 1), ("Offert", 1)]
    total = reports.totals(rows)
    assert (total.count, total.amount, total.weighted) == (2, Decimal("3000.00"), Decimal("1300.00"))


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        (date(2026, 11, 1), date(2026, 11, 30), [("Test Seller", 1, "3000.00", 0, "0")]),
        (
            date(2026, 10, 1),
            date(2026, 11, 15),
            [("Test Admin", 0, "0", 1, "700.00"), ("Test Seller", 1, "3000.00", 0, "0")],
        ),
        (date(2026, 9, 1), date(2026, 9, 1), [("Test Finance", 1, "400.00", 0, "0")]),
        (date(2026, 11, 16), None, []),
        (
            None,
            None,
            [
                ("Test Admin", 0, "0", 1, "700.00"),
                ("Test Finance", 1, "400.00", 0, "0"),
                ("Test Seller", 1, "3000.00", 0, "0"),
            ],
        ),
    ],
)
def test_won_and_lost_in_a_period_by_decision_date(app, world, start, end, expected):
    rows = reports.outcome(db.session, start, end)
    assert [(r.label, r.won_count, str(r.won_amount), r.lost_count, str(r.lost_amount)) for r in rows] == expected


def test_win_rate():
    assert reports.OutcomeRow(1, "x", won_count=1, lost_count=2).win_rate == Decimal("33.3")
    assert reports.OutcomeRow(1, "x").win_rate is None


NOV = {"start": date(2026, 11, 1), "end": date(2026, 11, 30)}


@pytest.mark.parametrize(
    ("choice", "expected"),
    [
        # (label, task, meeting, call, note, done, new opportunities, pipeline, won in period)
        ({"sellers": ["seller"], "axis": "sellers"}, [("Test Seller", 0, 1, 2, 0, 2, 2, "3000.00", "3000.00")]),
        (
            {"groups": ["group"], "axis": "sellers"},
            [("Test Finance", 1, 0, 0, 1, 1, 0, "0", "0"), ("Test Seller", 0, 1, 2, 0, 2, 2, "3000.00", "3000.00")],
        ),
        ({"groups": ["group"], "axis": "groups"}, [("Säljgrupp Syd", 1, 1, 2, 1, 3, 2, "3000.00", "3000.00")]),
        (
            {"groups": ["group", "solo"], "sellers": ["seller"], "axis": "groups"},
            [("Ledning", 0, 0, 1, 0, 0, 1, "500.55", "0"), ("Säljgrupp Syd", 1, 1, 2, 1, 3, 2, "3000.00", "3000.00")],
        ),
        ({"axis": "groups"}, []),
        ({"axis": "sellers"}, []),
    ],
)
def test_activity_overview_per_seller_or_group(app, world, choice, expected):
    rows = reports.activity_overview(
        db.session,
        seller_ids=[world[k].id for k in choice.get("sellers", ())],
        group_ids=[world[k].id for k in choice.get("groups", ())],
        axis=choice["axis"],
        **NOV,
    )
    got = [
        (
            r.label,
            r.kinds["task"],
            r.kinds["meeting"],
            r.kinds["call"],
            r.kinds["note"],
            r.done,
            r.new_opportunities,
            str(r.pipeline_amount),
            str(r.won_amount),
        )
        for r in rows
    ]
    assert got == expected


def test_activity_overview_without_period_counts_everything(app, world):
    (row,) = reports.activity_overview(db.session, seller_ids=[world["seller"].id])
    assert row.activities == 4 and row.kinds["call"] == 3


def test_unknown_axis_or_dimension_is_refused(app):
    with pytest.raises(ValueError):
        reports.activity_overview(db.session, axis="x")
    with pytest.raises(ValueError):
        reports.pipeline(db.session, "x")


def test_customers_in_the_trash_are_left_out_as_in_the_report_generator(app, world, make_company, make_contact):
    """A trashed customer's opportunities and activities count nowhere, as the Rapportgenerator
    leaves them out (services.search.customer_live, one rule for both)."""
    from services import numbering, report_generator, trash

    def figures():
        overview = reports.activity_overview(
            db.session, group_ids=[world["group"].id, world["solo"].id], axis="groups", **NOV
        )
        return (
            [(r.label, r.count, r.amount, r.weighted) for r in reports.pipeline(db.session, "seller")],
            [(r.label, r.won_count, r.won_amount, r.lost_count) for r in reports.outcome(db.session, None, None)],
            [(r.label, r.activities, r.done, r.new_opportunities, r.pipeline_amount, r.won_amount) for r in overview],
        )

    before = figures()
    gone_company = make_company(name="Papperskorgen AB")
    gone_person = make_contact(first_name="Borta", last_name="Person")
    numbering.make_private_customer(db.session, gone_person)
    stage, seller = world["stage"], world["seller"]
    for customer in ({"company": gone_company}, {"contact": gone_person}):
        db.session.add_all(
            [
                Opportunity(
                    title="Borta öppen",
                    owner=seller,
                    stage=stage["offer"],
                    amount=Decimal("7000"),
                    created_at=datetime(2026, 11, 3),
                    **customer,
                ),
                Opportunity(
                    title="Borta vunnen",
                    owner=seller,
                    stage=stage["won"],
                    amount=Decimal("9000"),
                    created_at=datetime(2026, 11, 3),
                    **customer,
                ),
                Activity(
                    kind="call", subject="Borta", assignee=seller, due_at=datetime(2026, 11, 3), done=True, **customer
                ),
            ]
        )
    db.session.commit()
    assert figures() != before  # while the customers are live they count
    trash.delete(db.session, world["admin"], type(gone_company), [gone_company.id])
    trash.delete(db.session, world["admin"], type(gone_person), [gone_person.id])
    db.session.commit()
    assert figures() == before
    spec = report_generator.parse({"entity": "opportunity", "col": ["title"]})
    listed = db.session.scalars(report_generator.query(spec, world["admin"])).unique().all()
    assert len(listed) == sum(r.count for r in reports.pipeline(db.session)) + sum(
        r.won_count + r.lost_count for r in reports.outcome(db.session, None, None)
    )
