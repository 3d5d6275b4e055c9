"""Säljmöjligheter and Säljsteg: the rules of the sales process, in one place.

- An opportunity belongs to a customer: a company or a private customer
  (a contact with a customer number), never both.
- Its probability defaults from its stage: when it is created without one,
  and when the stage changes without the probability being changed too.
- A lost opportunity needs a rejection reason.
- Every change of stage, amount, owner, probability and close date is kept
  as an OpportunityChange (who, when, from → to).

The rules run in a ``before_flush`` listener, so they hold whatever code
writes the opportunity (views, the card, the pipeline board, import, CLI),
and the history is written in the same transaction as the change.
"""

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from flask_babel import gettext as _
from sqlalchemy import event, func, inspect, select
from sqlalchemy.orm import Session, joinedload

from models import Activity, Company, Contact, Employee, Opportunity, OpportunityChange, SalesStage
from services import fields, money, search, trash
from services.audit import current_actor_id
from services.paging import CustomerOrder, SortKey
from services.validation import InvalidValue

#: The fields whose changes are kept in the history, in display order, with their Swedish labels.
HISTORY_LABELS = {
    "stage": fields.label("stage"),
    "amount": fields.label("amount"),
    "owner": fields.label("owner"),
    "probability": fields.label("probability"),
    "close_date": fields.label("close_date"),
}
TRACKED = tuple(HISTORY_LABELS)
#: The attributes that name an opportunity's customer.
CUSTOMER_ATTRIBUTES = ("company", "company_id", "contact", "contact_id")


# --- stages ----------------------------------------------------------------------


def active_stages(session: Session) -> list[SalesStage]:
    """The stages a new or moved opportunity can be put in, in process order."""
    return list(
        session.scalars(select(SalesStage).where(SalesStage.active).order_by(SalesStage.sort_order, SalesStage.id))
    )


def stage_in_use(session: Session, stage: SalesStage) -> bool:
    return session.execute(select(func.count()).where(Opportunity.stage_id == stage.id)).scalar_one() > 0


def delete_stage(session: Session, stage: SalesStage) -> None:
    """Delete a stage no opportunity uses; a stage in use can only be deactivated."""
    if stage_in_use(session, stage):
        raise InvalidValue(
            _(
                "The stage %(name)s is used by sales opportunities and cannot be deleted; deactivate it instead.",
                name=stage.name,
            )
        )
    session.delete(stage)


def check_stage(stage: SalesStage) -> None:
    """A stage is won or lost or neither, and its probability is a percentage."""
    if stage.is_won and stage.is_lost:
        raise InvalidValue(_("A stage cannot be both won and lost."))
    if stage.probability is None or not 0 <= stage.probability <= 100:
        raise InvalidValue(_("The probability must be between 0 and 100 percent."))


# --- opportunities ---------------------------------------------------------------


def check(opportunity: Opportunity, *, customer_changed: bool = True) -> None:
    """Raise InvalidValue (a Swedish message for the user) when the opportunity breaks a rule.
    A new opportunity, or one moved to another customer, needs a customer out of the trash."""
    session = inspect(opportunity).session
    company = opportunity.company if opportunity.company is not None else opportunity.company_id
    contact = opportunity.contact
    if contact is None and opportunity.contact_id is not None and session is not None:
        contact = session.get(Contact, opportunity.contact_id)
    if (company is None) == (contact is None):
        raise InvalidValue(_("Choose the customer: either a company or a private customer."))
    if customer_changed:
        trash.refuse_if_in_trash(session, company=company, contact=contact)
    if contact is not None and contact.customer_number is None:
        raise InvalidValue(
            _(
                "%(name)s has no customer number: only a private customer can have sales opportunities.",
                name=contact.name,
            )
        )
    if opportunity.probability is not None and not 0 <= opportunity.probability <= 100:
        raise InvalidValue(_("The probability must be between 0 and 100 percent."))
    if opportunity.amount is not None and opportunity.amount < 0:
        raise InvalidValue(_("The expected amount cannot be negative."))
    stage = _stage(opportunity)
    if stage is not None and stage.is_lost and not (opportunity.lost_reason or "").strip():
        raise InvalidValue(_("Give the reason the opportunity was lost."))


def move_to_stage(opportunity: Opportunity, stage: SalesStage, *, lost_reason: str | None = None) -> None:
    """Put the opportunity in `stage`; its probability follows the stage (the listener sees to it)."""
    stage_id = stage.id  # read first: loading an expired stage autoflushes, before the opportunity has changed
    opportunity.stage = stage
    opportunity.stage_id = stage_id  # a column change the audit trail sees (the relationship's is set at the flush)
    if lost_reason is not None:
        opportunity.lost_reason = lost_reason.strip() or None


def weighted_amount(opportunity: Opportunity) -> Decimal | None:
    """Expected amount × probability: what the opportunity adds to the forecast."""
    probability = (
        opportunity.probability
        if opportunity.probability is not None
        else (opportunity.stage.probability if opportunity.stage is not None else None)
    )  # as the sales reports count it
    if opportunity.amount is None or probability is None:
        return None
    return money.round_ore(opportunity.amount * probability / Decimal(100))


#: The tasks, meetings, calls and notes of an opportunity: open first (as on the customer card).
ACTIVITIES_ORDER = CustomerOrder(
    SortKey(Activity.done),
    SortKey(Activity.due_at.is_(None)),
    SortKey(Activity.due_at, nullable=True),
    SortKey(Activity.id, descending=True),
)
#: A customer's opportunities: open ones first, soonest close date first, undated last.
CUSTOMER_ORDER = CustomerOrder(
    SortKey(SalesStage.is_won | SalesStage.is_lost),
    SortKey(Opportunity.close_date.is_(None)),
    SortKey(Opportunity.close_date, nullable=True),
    SortKey(Opportunity.id, descending=True),
)


def live_opportunity(session: Session, opportunity_id: int) -> Opportunity | None:
    """The opportunity, unless its customer is in the trash (it goes there with its customer)."""
    return session.scalar(
        select(Opportunity).where(Opportunity.id == opportunity_id, search.customer_live(Opportunity))
    )


def activities(opportunity: Opportunity):
    """The tasks, meetings, calls and notes linked to the opportunity: open first."""
    return select(Activity).where(Activity.opportunity_id == opportunity.id).order_by(*ACTIVITIES_ORDER.clauses())


def for_customer(customer):
    """The opportunities of a company or a private customer: open ones first, soonest close date first."""
    owner = Opportunity.company_id if isinstance(customer, Company) else Opportunity.contact_id
    return (
        select(Opportunity)
        .join(Opportunity.stage)
        .where(owner == customer.id)
        .options(joinedload(Opportunity.owner), joinedload(Opportunity.stage))
        .order_by(*CUSTOMER_ORDER.clauses())
    )


@dataclass
class Column:
    """One stage of the pipeline board with its opportunities and sums."""

    stage: SalesStage
    opportunities: list
    amount: Decimal
    weighted: Decimal


def board(session: Session, *, owner_id: int | None = None, group_id: int | None = None) -> list[Column]:
    """The pipeline: a column per active stage, its opportunities soonest close date first.

    Filtered to one owner, or to the members of one (sales) group.
    """
    from models import employee_group_members

    stmt = (
        select(Opportunity)
        .where(search.customer_live(Opportunity))
        .options(joinedload(Opportunity.company), joinedload(Opportunity.contact), joinedload(Opportunity.owner))
    )
    if owner_id:
        stmt = stmt.where(Opportunity.owner_id == owner_id)
    if group_id:
        members = select(employee_group_members.c.employee_id).where(employee_group_members.c.group_id == group_id)
        stmt = stmt.where(Opportunity.owner_id.in_(members))
    stages = active_stages(session)
    rows = (
        session.scalars(
            stmt.where(Opportunity.stage_id.in_([s.id for s in stages])).order_by(
                Opportunity.close_date.is_(None), Opportunity.close_date, Opportunity.id
            )
        )
        .unique()
        .all()
    )
    columns = []
    for stage in stages:
        items = [o for o in rows if o.stage_id == stage.id]
        columns.append(
            Column(
                stage,
                items,
                sum((o.amount or Decimal(0) for o in items), Decimal(0)),
                sum((weighted_amount(o) or Decimal(0) for o in items), Decimal(0)),
            )
        )
    return columns


def history(opportunity: Opportunity):
    """The opportunity's changes, newest first."""
    return (
        select(OpportunityChange)
        .where(OpportunityChange.opportunity_id == opportunity.id)
        .order_by(OpportunityChange.id.desc())
    )


# --- the history ------------------------------------------------------------------


def _stage(opportunity: Opportunity) -> SalesStage | None:
    if opportunity.stage is not None:
        return opportunity.stage
    if opportunity.stage_id is not None:
        return inspect(opportunity).session.get(SalesStage, opportunity.stage_id)
    return None


def _text(value) -> str | None:
    """How a value is kept in the history: names for stages and owners, ISO dates, plain numbers."""
    if value is None:
        return None
    if isinstance(value, (SalesStage, Employee)):
        return value.name[:200]
    if isinstance(value, Decimal):
        return str(value.quantize(Decimal("0.01")))
    if isinstance(value, date):
        return value.isoformat()
    return str(value)[:200]


def _old_and_new(session: Session, opportunity: Opportunity, field: str):
    """(old, new) of a tracked field in this flush, or None when it did not change."""
    state = inspect(opportunity)
    if field in ("stage", "owner"):
        related = state.attrs[field].history
        column = state.attrs[f"{field}_id"].history
        model = SalesStage if field == "stage" else Employee
        if related.has_changes():
            old = related.deleted[0] if related.deleted else None
            new = related.added[0] if related.added else None
        elif column.has_changes():
            old = session.get(model, column.deleted[0]) if column.deleted and column.deleted[0] is not None else None
            new = session.get(model, column.added[0]) if column.added and column.added[0] is not None else None
        else:
            return None
    else:
        hist = state.attrs[field].history
        if not hist.has_changes():
            return None
        old = hist.deleted[0] if hist.deleted else None
        new = hist.added[0] if hist.added else None
    old, new = _text(old), _text(new)
    return None if old == new else (old, new)


def _stage_changed(session: Session, opportunity: Opportunity) -> bool:
    return _old_and_new(session, opportunity, "stage") is not None


def record_changes(session: Session, opportunity: Opportunity, *, new: bool = False) -> list[OpportunityChange]:
    """Apply the stage's default probability and write the history rows of this flush.

    A new opportunity records the values it starts with (from nothing); a
    changed one records each tracked field that changed.
    """
    probability_set = inspect(opportunity).attrs.probability.history.has_changes()
    stage = _stage(opportunity)
    if stage is not None and (
        (new and opportunity.probability is None)
        or (not new and _stage_changed(session, opportunity) and not probability_set)
    ):
        opportunity.probability = stage.probability
    state = inspect(opportunity).attrs
    check(opportunity, customer_changed=new or any(state[k].history.has_changes() for k in CUSTOMER_ATTRIBUTES))
    actor_id = current_actor_id(session)
    rows = []
    for field in TRACKED:
        if new:
            value = _text(_stage(opportunity) if field == "stage" else getattr(opportunity, field))
            if field == "owner" and opportunity.owner is None and opportunity.owner_id is not None:
                value = _text(session.get(Employee, opportunity.owner_id))
            change = (None, value) if value is not None else None
        else:
            change = _old_and_new(session, opportunity, field)
        if change:
            row = OpportunityChange(
                opportunity=opportunity, actor_id=actor_id, field=field, old_value=change[0], new_value=change[1]
            )
            session.add(row)
            rows.append(row)
    return rows


def _keep_value(target, value, oldvalue, initiator):
    return value


# Setting an expired column (e.g. after a commit) first loads the old value, so
# the history has the real "from" (the relationships have active_history too).
for _column in ("stage_id", "owner_id", "amount", "probability", "close_date"):
    event.listen(getattr(Opportunity, _column), "set", _keep_value, active_history=True)


@event.listens_for(Session, "before_flush")
def _opportunity_rules(session: Session, flush_context, instances) -> None:
    for obj in list(session.new):
        if isinstance(obj, Opportunity):
            record_changes(session, obj, new=True)
    for obj in list(session.dirty):
        if isinstance(obj, Opportunity) and session.is_modified(obj):
            record_changes(session, obj)
