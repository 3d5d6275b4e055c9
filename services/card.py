"""What the customer card shows: key figures and the lists behind each tab.

The Översikt shows of each part (activities, history, e-mail, files) only what
services.visibility lets the employee see: a part the employee may not see has
no figure and no list there, as it has no tab.

Every list is a SELECT with its relations loaded up front and an order of its
own (`*_ORDER`), read a page at a time by key (services.paging.CustomerOrder), so
a tab costs the same few statements whether the customer has five activities
or five thousand, on its first page and its last.
"""

from sqlalchemy import func, select, union_all
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
    Lead,
    MergeRecord,
    Project,
    ProjectParticipant,
    utcnow,
)
from services import activities as activities_service
from services import email_lock
from services.paging import CustomerOrder, SortKey
from services.visibility import Part, may_see

PAGE_SIZE = 25

CONTACTS_ORDER = CustomerOrder(
    SortKey(Contact.last_name), SortKey(Contact.first_name), SortKey(CompanyContact.contact_id)
)
COMPANIES_ORDER = CustomerOrder(SortKey(Company.name), SortKey(CompanyContact.company_id))
#: Open ones first (soonest due first, undated last), then done ones, newest first.
ACTIVITIES_ORDER = CustomerOrder(
    SortKey(Activity.done),
    SortKey(Activity.due_at.is_(None)),
    SortKey(Activity.due_at, nullable=True),
    SortKey(Activity.id, descending=True),
)
EMAILS_ORDER = CustomerOrder(SortKey(EmailMessage.sent_at, descending=True), SortKey(EmailMessage.id, descending=True))
FILES_ORDER = CustomerOrder(SortKey(Attachment.uploaded_at, descending=True), SortKey(Attachment.id, descending=True))
PROJECTS_ORDER = CustomerOrder(
    SortKey(Project.status),
    SortKey(Project.start_date, descending=True, nullable=True),
    SortKey(Project.name),
    SortKey(ProjectParticipant.project_id),
)
HISTORY_ORDER = CustomerOrder(SortKey(AuditEvent.at, descending=True), SortKey(AuditEvent.id, descending=True))


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
        .order_by(*CONTACTS_ORDER.clauses())
    )


def companies(customer: Contact):
    return (
        select(CompanyContact)
        .join(CompanyContact.company)
        .where(CompanyContact.contact_id == customer.id, Company.deleted_at.is_(None))
        .options(joinedload(CompanyContact.company))
        .order_by(*COMPANIES_ORDER.clauses())
    )


def activities(customer, *, open_only: bool = False):
    """Open ones first (soonest due first), then done ones, newest first."""
    stmt = select(Activity).where(_owned_by(Activity, customer)).options(joinedload(Activity.assignee))
    if open_only:
        stmt = stmt.where(Activity.done.is_(False))
    return stmt.order_by(*ACTIVITIES_ORDER.clauses())


def emails(employee: Employee, customer):
    return (
        email_lock.readable_messages(employee)
        .where(_owned_by(EmailMessage, customer))
        .order_by(*EMAILS_ORDER.clauses())
    )


def files(customer):
    return (
        select(Attachment)
        .where(_owned_by(Attachment, customer), Attachment.deleted_at.is_(None))
        .options(joinedload(Attachment.uploaded_by))
        .order_by(*FILES_ORDER.clauses())
    )


def projects(customer: Company):
    return (
        select(ProjectParticipant)
        .join(ProjectParticipant.project)
        .where(ProjectParticipant.company_id == customer.id)
        .options(joinedload(ProjectParticipant.project).joinedload(Project.owner))
        .order_by(*PROJECTS_ORDER.clauses())
    )


#: A link's events in the contact's own history (services.register.link_contacts), not on the company's card.
CONTACT_SIDE_OF_A_LINK = ("linked_to", "unlinked_from")


def history(customer):
    """The audit trail of the customer (or lead), of the records merged into it (services.merge) and, for a
    company, of its linked contacts and of the lead it was converted from (who created the lead, its status
    changes: the customer's history begins there)."""
    kind = customer.__tablename__
    merged = select(MergeRecord.merged_id).where(
        MergeRecord.entity_type == kind, MergeRecord.survivor_id == customer.id, MergeRecord.undone_at.is_(None)
    )
    # The events' ids, each part from the (entity_type, entity_id) index: one OR over the parts
    # had PostgreSQL read the whole audit trail (300,000 events: 105 ms; this: a few ms).
    parts = [
        select(AuditEvent.id).where(AuditEvent.entity_type == kind, AuditEvent.entity_id == customer.id),
        select(AuditEvent.id).where(AuditEvent.entity_type == kind, AuditEvent.entity_id.in_(merged)),
    ]
    if isinstance(customer, Company):
        parts.append(
            select(AuditEvent.id)
            .join(CompanyContact, CompanyContact.contact_id == AuditEvent.entity_id)
            .where(
                AuditEvent.entity_type == "contact",
                CompanyContact.company_id == customer.id,
                AuditEvent.action.not_in(CONTACT_SIDE_OF_A_LINK),  # the company's own "link" event says it
            )
        )
        parts.append(
            select(AuditEvent.id)
            .join(Lead, Lead.id == AuditEvent.entity_id)
            .where(AuditEvent.entity_type == "lead", Lead.company_id == customer.id)
        )
    return (
        select(AuditEvent)
        .where(AuditEvent.id.in_(union_all(*parts)))
        .options(joinedload(AuditEvent.actor), joinedload(AuditEvent.import_job), joinedload(AuditEvent.api_key))
        .order_by(*HISTORY_ORDER.clauses())
    )


def _count(stmt):
    return select(func.count()).select_from(stmt.order_by(None).subquery()).scalar_subquery()


def _contact_count(customer: Company):
    """How many contacts the company has, not counting those in the trash: its links, less those
    whose contact the trash's partial index holds (ix_contact_deleted_at_id). Counted from the
    links alone, it reads no contact row: joining the contacts to check each one is live probed
    the contact table's index once per link at 1,000,000 companies (4,000 probes, 16,000 buffers,
    run in parallel by PostgreSQL: 10-20 ms) where at 1,000 the small table is hashed (3-4 ms);
    this is 1 ms at both. The same number: a link's contact exists (foreign key), so it is live
    unless it is in the trash."""
    in_trash = select(Contact.id).where(Contact.id == CompanyContact.contact_id, Contact.deleted_at.is_not(None))
    return (
        select(func.count())
        .select_from(CompanyContact)
        .where(CompanyContact.company_id == customer.id, ~in_trash.exists())
        .scalar_subquery()
    )


def key_figures(session: Session, employee: Employee, customer) -> dict:
    """The Översikt tab's numbers, in one query: those of the parts the employee may see."""
    now = utcnow()
    open_activities = activities(customer, open_only=True)
    figures = {}
    if may_see(employee, Part.ACTIVITIES):
        figures["open_activities"] = _count(open_activities)
        figures["overdue_activities"] = _count(open_activities.where(Activity.due_at < now))
    if may_see(employee, Part.FILES):
        figures["files"] = _count(files(customer))
    if may_see(employee, Part.EMAIL):
        figures["emails"] = _count(emails(employee, customer))
    if isinstance(customer, Company):
        figures["contacts"] = _contact_count(customer)
        figures["projects"] = _count(projects(customer))
    else:
        figures["companies"] = _count(companies(customer))
    row = session.execute(select(*(value.label(key) for key, value in figures.items()))).one()
    return row._asdict()


def overview(session: Session, employee: Employee, customer) -> dict:
    """The Översikt: key figures, the next open activities and the latest events; a list of a
    part the employee may not see is None (not shown), not empty."""
    seen = may_see(employee, Part.ACTIVITIES)
    overdue, upcoming = (
        activities_service.overdue_and_coming(session, activities(customer, open_only=True)) if seen else (None, None)
    )
    return {
        "figures": key_figures(session, employee, customer),
        "overdue": overdue,
        "upcoming": upcoming,
        "events": latest(session, history(customer)) if may_see(employee, Part.HISTORY) else None,
    }


def latest(session: Session, stmt, limit: int = 5) -> list:
    return list(session.scalars(stmt.limit(limit)).unique())
