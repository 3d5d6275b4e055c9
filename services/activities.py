"""Aktiviteter: tasks, meetings, calls and notes on a customer card."""

from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, joinedload

from models import Activity, Employee, utcnow
from services import search, trash


def create(session: Session, actor: Employee, *, kind: str, subject: str, **fields) -> Activity:
    """A new activity; the creator is its assignee unless someone else is named.
    Raises InvalidValue for a customer in the trash."""
    if kind not in Activity.KINDS:
        raise ValueError(kind)
    trash.refuse_if_in_trash(
        session,
        company=fields.get("company_id"),
        contact=fields.get("contact_id"),
        opportunity=fields.get("opportunity_id"),
        lead=fields.get("lead_id"),
    )
    fields.setdefault("assignee_id", actor.id)
    activity = Activity(kind=kind, subject=subject.strip(), created_by_id=actor.id, **fields)
    if kind in Activity.RECORD_KINDS:  # a note or a sent SMS records something done; never "open"
        activity.done, activity.done_at = True, utcnow()
    session.add(activity)
    return activity


def set_done(activity: Activity, done: bool = True, *, at: datetime | None = None) -> None:
    activity.done = done
    activity.done_at = (at or utcnow()) if done else None


def is_overdue(activity: Activity, now: datetime | None = None) -> bool:
    return not activity.done and activity.due_at is not None and activity.due_at < (now or utcnow())


def overdue_and_coming(session: Session, open_activities, *, now: datetime | None = None, limit: int = 5):
    """The card's "Kommande", split: (overdue, coming up). Overdue: due before `now`, oldest first;
    coming up: the rest, soonest first (undated after), each at most `limit`, in the given order."""
    now = now or utcnow()
    overdue = session.scalars(open_activities.where(Activity.due_at < now).limit(limit)).unique()
    coming = open_activities.where(or_(Activity.due_at >= now, Activity.due_at.is_(None)))
    return list(overdue), list(session.scalars(coming.limit(limit)).unique())


def mine(session: Session, employee: Employee, *, limit: int = 15) -> list[Activity]:
    """Mina aktiviteter: the employee's open activities by date, so overdue and today's come first,
    then those without a date; not those of a customer or lead in the trash. Two statements, each read in
    order from the index on (assignee, done, due date, id), however many activities the employee has."""
    stmt = (
        select(Activity)
        .where(Activity.assignee_id == employee.id, Activity.done.is_(False), search.customer_live(Activity))
        .options(joinedload(Activity.company), joinedload(Activity.contact), joinedload(Activity.lead))
    )
    dated = list(
        session.scalars(stmt.where(Activity.due_at.is_not(None)).order_by(Activity.due_at, Activity.id).limit(limit))
    )
    if len(dated) == limit:
        return dated
    undated = stmt.where(Activity.due_at.is_(None)).order_by(Activity.id).limit(limit - len(dated))
    return dated + list(session.scalars(undated))
