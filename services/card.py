"""What the customer card shows: key figures and the lists behind each tab.

Every list is a paginated SELECT with its relations loaded up front, so a
card costs the same few queries whether the customer has five activities or
five thousand.
"""

from dataclasses import dataclass
from math import ceil

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session, joinedload

from models import (
    Activity,
    Attachment,
    AuditEvent,
    Company,
    CompanyContact,
    Contact,
    EmailMessage,
    Employee,
    Project,
    ProjectParticipant,
    utcnow,
)
from services import email_lock

PAGE_SIZE = 25


@dataclass
class Page:
    items: list
    page: int
    pages: int
    total: int


def paginate(session: Session, stmt, page: int = 1, per_page: int = PAGE_SIZE) -> Page:
    total = session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0
    pages = max(1, ceil(total / per_page))
    page = min(max(1, page), pages)
    items = list(session.scalars(stmt.limit(per_page).offset((page - 1) * per_page)).unique())
    return Page(items, page, pages, total)


def _owned_by(model, customer):
    """Rows of `model` that belong to the company or contact `customer`."""
    if isinstance(customer, Company):
        return model.company_id == customer.id
    return model.contact_id == customer.id


def contacts(customer: Company):
    return (
        select(CompanyContact)
        .join(CompanyContact.contact)
        .where(CompanyContact.company_id == customer.id, Contact.deleted_at.is_(None))
        .options(joinedload(CompanyContact.contact))
        .order_by(Contact.last_name, Contact.first_name)
    )


def companies(customer: Contact):
    return (
        select(CompanyContact)
        .join(CompanyContact.company)
        .where(CompanyContact.contact_id == customer.id, Company.deleted_at.is_(None))
        .options(joinedload(CompanyContact.company))
        .order_by(Company.name)
    )


def activities(customer, *, open_only: bool = False):
    """Open ones first (soonest due first), then done ones, newest first."""
    stmt = select(Activity).where(_owned_by(Activity, customer)).options(joinedload(Activity.assignee))
    if open_only:
        stmt = stmt.where(Activity.done.is_(False))
    return stmt.order_by(Activity.done, Activity.due_at.is_(None), Activity.due_at, Activity.id.desc())


def emails(employee: Employee, customer):
    return (
        email_lock.readable_messages(employee)
        .where(_owned_by(EmailMessage, customer))
        .order_by(EmailMessage.sent_at.desc(), EmailMessage.id.desc())
    )


def files(customer):
    return (
        select(Attachment)
        .where(_owned_by(Attachment, customer), Attachment.deleted_at.is_(None))
        .options(joinedload(Attachment.uploaded_by))
        .order_by(Attachment.uploaded_at.desc(), Attachment.id.desc())
    )


def projects(customer: Company):
    return (
        select(ProjectParticipant)
        .join(ProjectParticipant.project)
        .where(ProjectParticipant.company_id == customer.id)
        .options(joinedload(ProjectParticipant.project).joinedload(Project.owner))
        .order_by(Project.status, Project.start_date.desc(), Project.name)
    )


def history(customer):
    """The audit trail of the customer and, for a company, of its linked contacts."""
    kind = "company" if isinstance(customer, Company) else "contact"
    condition = and_(AuditEvent.entity_type == kind, AuditEvent.entity_id == customer.id)
    if isinstance(customer, Company):
        linked = select(CompanyContact.contact_id).where(CompanyContact.company_id == customer.id)
        condition = or_(condition, and_(AuditEvent.entity_type == "contact", AuditEvent.entity_id.in_(linked)))
    return (
        select(AuditEvent)
        .where(condition)
        .options(joinedload(AuditEvent.actor), joinedload(AuditEvent.import_job))
        .order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
    )


def _count(stmt):
    return select(func.count()).select_from(stmt.order_by(None).subquery()).scalar_subquery()


def key_figures(session: Session, employee: Employee, customer) -> dict:
    """The Översikt tab's numbers, in one query."""
    now = utcnow()
    open_activities = activities(customer, open_only=True)
    figures = {
        "open_activities": _count(open_activities),
        "overdue_activities": _count(open_activities.where(Activity.due_at < now)),
        "files": _count(files(customer)),
        "emails": _count(emails(employee, customer)),
    }
    if isinstance(customer, Company):
        figures["contacts"] = _count(contacts(customer))
        figures["projects"] = _count(projects(customer))
    else:
        figures["companies"] = _count(companies(customer))
    row = session.execute(select(*(value.label(key) for key, value in figures.items()))).one()
    return row._asdict()


def latest(session: Session, stmt, limit: int = 5) -> list:
    return list(session.scalars(stmt.limit(limit)).unique())
