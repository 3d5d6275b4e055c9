"""The sales reports (issue 5), computed from the database in one place.

FAQ 27: "Säljmöjligheterna är underlaget för försäljningsrapporterna": every
figure here comes from opportunities (Opportunity, its SalesStage and its
OpportunityChange history) and, for the activity overview, from activities.

Definitions (the reports and their tests rely on them):

- Opportunities and activities of customers in the trash are not counted
  (services.search.customer_live, the Rapportgenerator's rule too).
- *Open* opportunity: its stage is neither won nor lost. The *pipeline* is the
  open opportunities; its *value* is the sum of expected amounts, its
  *weighted value* the sum of amount × probability (the opportunity's own
  probability, else its stage's), rounded to öre per report row.
- *Decided at*: when an opportunity reached its won or lost stage — the time of
  its latest stage change in the history, or its creation when it was created
  in that stage. *Won/lost in a period* counts opportunities now in a won/lost
  stage whose decided-at date lies in the period (dates inclusive, UTC).
- Activity overview ("Grafisk och tabellöversikt över säljaktiviteter"): an
  activity belongs to its assignee and to the date it starts (meeting), else
  is due, else was created. Per seller: activities per kind, how many are done,
  new opportunities (created in the period), the open pipeline value and the
  amount won in the period. With the X axis "Grupper" the figures of a group
  are the sums over its members (an employee in two groups counts in both).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal

from flask_babel import lazy_gettext as _l
from sqlalchemy import ColumnElement, and_, extract, func, or_, select
from sqlalchemy.orm import Session

from models import Activity, Employee, EmployeeGroup, Opportunity, OpportunityChange, SalesStage
from services import fields, search
from services.money import round_ore

PIPELINE_DIMENSIONS = {"stage": fields.label("stage"), "seller": _l("Seller"), "month": _l("Month of expected close")}
AXES = {"sellers": _l("Sellers"), "groups": _l("Groups")}
NO_SELLER = _l("No seller")
NO_DATE = _l("No close date")


def money(value) -> Decimal:
    """A sum from the database as öre-exact Decimal (SQLite hands back floats)."""
    return round_ore(Decimal(str(value or 0)))


def _period(start: date | None, end: date | None, column) -> ColumnElement[bool]:
    """Condition: `column` (a datetime) falls on a date from `start` to `end`, both inclusive."""
    conditions: list[ColumnElement[bool]] = []
    if start:
        conditions.append(column >= datetime.combine(start, time.min))
    if end:
        conditions.append(column < datetime.combine(end + timedelta(days=1), time.min))
    return and_(True, *conditions)


def _counted(owner_ids) -> ColumnElement[bool]:
    """Opportunities of the chosen sellers (all when none are chosen) whose customer is not in the trash."""
    chosen = Opportunity.owner_id.in_(list(owner_ids)) if owner_ids else and_(True)
    return and_(chosen, search.customer_live(Opportunity))


# --- Försäljningsrapport: the pipeline -----------------------------------------------------


@dataclass
class PipelineRow:
    """One row of the pipeline report: a stage, seller or month with its sums."""

    key: object
    label: str
    count: int
    amount: Decimal
    weighted: Decimal


def pipeline(
    session: Session, by: str = "stage", *, owner_ids=(), close_from: date | None = None, close_to: date | None = None
) -> list[PipelineRow]:
    """Open opportunities summed per stage (process order), seller (by name) or
    month of expected close ("2026-12"; no date last)."""
    probability = func.coalesce(Opportunity.probability, SalesStage.probability)
    # amount × percent summed in SQL, divided by 100 here: exact on PostgreSQL, and on SQLite's floats too
    weighted = func.sum(func.coalesce(Opportunity.amount, 0) * probability)
    sums = (func.count(Opportunity.id), func.sum(Opportunity.amount), weighted)
    where: list[ColumnElement[bool]] = [~SalesStage.is_won, ~SalesStage.is_lost, _counted(owner_ids)]
    if close_from:
        where.append(Opportunity.close_date >= close_from)
    if close_to:
        where.append(Opportunity.close_date <= close_to)
    base = select().select_from(Opportunity).join(SalesStage, Opportunity.stage_id == SalesStage.id).where(*where)
    if by == "stage":
        stmt = (
            base.add_columns(SalesStage.id, SalesStage.name, *sums)
            .group_by(SalesStage.id, SalesStage.name, SalesStage.sort_order)
            .order_by(SalesStage.sort_order, SalesStage.id)
        )
        rows = [(key, name, *rest) for key, name, *rest in session.execute(stmt)]
    elif by == "seller":
        stmt = (
            base.outerjoin(Employee, Opportunity.owner_id == Employee.id)
            .add_columns(Employee.id, Employee.name, *sums)
            .group_by(Employee.id, Employee.name)
            .order_by(Employee.name.is_(None), Employee.name)
        )
        rows = [(key, name or str(NO_SELLER), *rest) for key, name, *rest in session.execute(stmt)]
    elif by == "month":
        year, month = extract("year", Opportunity.close_date), extract("month", Opportunity.close_date)
        stmt = base.add_columns(year, month, *sums).group_by(year, month).order_by(year.is_(None), year, month)
        rows = [
            ((int(y), int(m)) if y else None, f"{int(y):04d}-{int(m):02d}" if y else str(NO_DATE), *rest)
            for y, m, *rest in session.execute(stmt)
        ]
    else:
        raise ValueError(by)
    return [
        PipelineRow(key, label, count, money(amount), money(Decimal(str(weight or 0)) / 100))
        for key, label, count, amount, weight in rows
    ]


def totals(rows) -> PipelineRow:
    """The sum row of a pipeline report."""
    return PipelineRow(
        None,
        "",
        sum(r.count for r in rows),
        sum((r.amount for r in rows), Decimal(0)),
        sum((r.weighted for r in rows), Decimal(0)),
    )


# --- Försäljningsrapport: won and lost in a period ---------------------------------------------


def decided_at():
    """SQL expression: when the opportunity reached its current stage (see module docstring)."""
    latest = (
        select(func.max(OpportunityChange.at))
        .where(OpportunityChange.opportunity_id == Opportunity.id, OpportunityChange.field == "stage")
        .correlate(Opportunity)
        .scalar_subquery()
    )
    return func.coalesce(latest, Opportunity.created_at)


@dataclass
class OutcomeRow:
    """Won and lost opportunities of one seller in a period."""

    key: int | None
    label: str
    won_count: int = 0
    won_amount: Decimal = Decimal(0)
    lost_count: int = 0
    lost_amount: Decimal = Decimal(0)

    @property
    def win_rate(self) -> Decimal | None:
        """Won share of the decided opportunities, in percent (None when none were decided)."""
        decided = self.won_count + self.lost_count
        return (
            (Decimal(100 * self.won_count) / decided).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
            if decided
            else None
        )


def outcome(session: Session, start: date | None, end: date | None, *, owner_ids=()) -> list[OutcomeRow]:
    """Per seller: opportunities won and lost (count and amount) with a decided-at date in the period."""
    stmt = (
        select(Employee.id, Employee.name, SalesStage.is_won, func.count(Opportunity.id), func.sum(Opportunity.amount))
        .select_from(Opportunity)
        .join(SalesStage, Opportunity.stage_id == SalesStage.id)
        .outerjoin(Employee, Opportunity.owner_id == Employee.id)
        .where(or_(SalesStage.is_won, SalesStage.is_lost), _counted(owner_ids), _period(start, end, decided_at()))
        .group_by(Employee.id, Employee.name, SalesStage.is_won)
    )
    rows: dict[int | None, OutcomeRow] = {}
    for key, name, won, count, amount in session.execute(stmt):
        row = rows.setdefault(key, OutcomeRow(key, name or str(NO_SELLER)))
        if won:
            row.won_count, row.won_amount = row.won_count + count, row.won_amount + money(amount)
        else:
            row.lost_count, row.lost_amount = row.lost_count + count, row.lost_amount + money(amount)
    return sorted(rows.values(), key=lambda r: (r.key is None, r.label.lower()))


def outcome_totals(rows) -> OutcomeRow:
    total = OutcomeRow(None, "")
    for row in rows:
        total.won_count += row.won_count
        total.won_amount += row.won_amount
        total.lost_count += row.lost_count
        total.lost_amount += row.lost_amount
    return total


# --- Grafisk och tabellöversikt över säljaktiviteter ------------------------------------------------


@dataclass
class ActivityRow:
    """One bar of the activity overview: a seller or a group and its figures."""

    key: int
    label: str
    kinds: dict[str, int] = field(default_factory=lambda: {kind: 0 for kind in Activity.KINDS})
    done: int = 0
    new_opportunities: int = 0
    pipeline_amount: Decimal = Decimal(0)
    won_amount: Decimal = Decimal(0)
    members: list[str] = field(default_factory=list)

    @property
    def activities(self) -> int:
        return sum(self.kinds.values())

    def add(self, other: ActivityRow) -> None:
        for kind, count in other.kinds.items():
            self.kinds[kind] += count
        self.done += other.done
        self.new_opportunities += other.new_opportunities
        self.pipeline_amount += other.pipeline_amount
        self.won_amount += other.won_amount


def chosen_sellers(session: Session, seller_ids=(), group_ids=()) -> list[Employee]:
    """The sellers a report is about: those ticked one by one and the members of the ticked groups."""
    ids = set(seller_ids)
    if group_ids:
        groups = session.scalars(select(EmployeeGroup).where(EmployeeGroup.id.in_(list(group_ids)))).all()
        ids |= {member.id for group in groups for member in group.members}
    if not ids:
        return []
    return list(session.scalars(select(Employee).where(Employee.id.in_(ids)).order_by(Employee.name)))


def _per_seller(
    session: Session, ids: list[int], start: date | None, end: date | None
) -> dict[int | None, ActivityRow]:
    rows: dict[int | None, ActivityRow] = {i: ActivityRow(i, "") for i in ids}
    if not ids:
        return rows
    when = func.coalesce(Activity.start_at, Activity.due_at, Activity.created_at)
    stmt = (
        select(Activity.assignee_id, Activity.kind, Activity.done, func.count())
        .where(Activity.assignee_id.in_(ids), search.customer_live(Activity), _period(start, end, when))
        .group_by(Activity.assignee_id, Activity.kind, Activity.done)
    )
    for assignee, kind, done, count in session.execute(stmt):
        if kind in rows[assignee].kinds:
            rows[assignee].kinds[kind] += count
        rows[assignee].done += count if done else 0
    created = (
        select(Opportunity.owner_id, func.count())
        .where(_counted(ids), _period(start, end, Opportunity.created_at))
        .group_by(Opportunity.owner_id)
    )
    for owner, count in session.execute(created):
        rows[owner].new_opportunities = count
    open_pipeline = (
        select(Opportunity.owner_id, func.sum(Opportunity.amount))
        .join(SalesStage, Opportunity.stage_id == SalesStage.id)
        .where(_counted(ids), ~SalesStage.is_won, ~SalesStage.is_lost)
        .group_by(Opportunity.owner_id)
    )
    for owner, amount in session.execute(open_pipeline):
        rows[owner].pipeline_amount = money(amount)
    won = (
        select(Opportunity.owner_id, func.sum(Opportunity.amount))
        .join(SalesStage, Opportunity.stage_id == SalesStage.id)
        .where(_counted(ids), SalesStage.is_won, _period(start, end, decided_at()))
        .group_by(Opportunity.owner_id)
    )
    for owner, amount in session.execute(won):
        rows[owner].won_amount = money(amount)
    return rows


def activity_overview(
    session: Session,
    *,
    seller_ids=(),
    group_ids=(),
    axis: str = "sellers",
    start: date | None = None,
    end: date | None = None,
) -> list[ActivityRow]:
    """The figures per seller (axis "sellers": the ticked sellers and the members of the
    ticked groups) or per ticked group (axis "groups": sums over its members)."""
    if axis not in AXES:
        raise ValueError(axis)
    if axis == "sellers":
        sellers = chosen_sellers(session, seller_ids, group_ids)
        per_seller = _per_seller(session, [s.id for s in sellers], start, end)
        for seller in sellers:
            per_seller[seller.id].label = seller.name
        return [per_seller[s.id] for s in sellers]
    groups = (
        list(
            session.scalars(
                select(EmployeeGroup).where(EmployeeGroup.id.in_(list(group_ids))).order_by(EmployeeGroup.name)
            )
        )
        if group_ids
        else []
    )
    member_ids = sorted({m.id for g in groups for m in g.members})
    per_seller = _per_seller(session, member_ids, start, end)
    result = []
    for group in groups:
        row = ActivityRow(group.id, group.name, members=sorted(m.name for m in group.members))
        for member in group.members:
            row.add(per_seller[member.id])
        result.append(row)
    return result
