"""E-post tab locking ("Spärra tillgång").

When a customer's E-post tab is locked, only employees with
`email.view_locked` (administrators) see the e-mail linked to it — in the
tab, by URL, and in any list, search, export or report, because they all ask
`readable_messages` here. Only `email.lock` may lock and unlock; the change
of `Company.email_locked` is audited like every customer change.
"""

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from models import Company, EmailMessage, Employee
from services.audit import acting_as


class NotPermitted(PermissionError):
    """Only administrators lock and unlock the E-post tab."""


def can_read(employee: Employee, company: Company | None) -> bool:
    return company is None or not company.email_locked or employee.has_permission("email.view_locked")


def set_locked(session: Session, actor: Employee, company: Company, locked: bool) -> None:
    if not actor.has_permission("email.lock"):
        raise NotPermitted()
    with acting_as(session, actor.id):
        company.email_locked = locked
        session.flush()


def readable_messages(employee: Employee):
    """SELECT of the e-mail messages `employee` may read (locked customers' left out)."""
    stmt = select(EmailMessage)
    if employee.has_permission("email.view_locked"):
        return stmt
    locked = select(Company.id).where(Company.email_locked.is_(True))
    return stmt.where(or_(EmailMessage.company_id.is_(None), EmailMessage.company_id.not_in(locked)))


def message_for(session: Session, employee: Employee, message_id: int, **owner) -> EmailMessage | None:
    """One message by id, only when it belongs to `owner` (company_id= or contact_id=) and is readable."""
    conditions = [EmailMessage.id == message_id] + [getattr(EmailMessage, k) == v for k, v in owner.items()]
    return session.scalar(readable_messages(employee).where(and_(*conditions)))
