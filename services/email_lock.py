"""E-post tab locking ("Spärra tillgång"): the one gate for reading e-mail.

The rule: a message belongs to the company it was written from (its `company_id`); a
message written from a contact's card (no company) belongs to every company the contact
is linked to. A message that belongs to a company whose E-post tab is locked is locked
wherever it shows — the company card, the contact and private-customer cards, their
counts, the message's page, and any list, search, export or report — for everyone
without `email.view_locked` (administrators), because all of them ask
`readable_messages` here. The lock follows the company: lifting it shows the messages
again. Only `email.lock` may lock and unlock; the change of `Company.email_locked` is
audited like every customer change.
"""

from sqlalchemy import and_, exists, func, or_, select
from sqlalchemy.orm import Session

from models import Company, CompanyContact, EmailMessage, Employee
from services.audit import acting_as


class NotPermitted(PermissionError):
    """Only administrators lock and unlock the E-post tab."""


def _locked_companies():
    return select(Company.id).where(Company.email_locked.is_(True))


def _contacts_at_locked_companies():
    """Contacts linked to a locked company (trashed companies too: the lock stays with them)."""
    return select(CompanyContact.contact_id).where(CompanyContact.company_id.in_(_locked_companies()))


def is_locked(session: Session, customer) -> bool:
    """True when the card of `customer` (a company or contact) has e-mail under a lock:
    a locked company, or a contact linked to one."""
    if isinstance(customer, Company):
        return bool(customer.email_locked)
    return bool(
        session.scalar(
            select(
                exists().where(
                    CompanyContact.contact_id == customer.id,
                    CompanyContact.company_id.in_(_locked_companies()),
                )
            )
        )
    )


def hides_from(session: Session, employee: Employee, customer) -> bool:
    """True when some of the e-mail on `customer`'s card is locked away from `employee`."""
    return not employee.has_permission("email.view_locked") and is_locked(session, customer)


def set_locked(session: Session, actor: Employee, company: Company, locked: bool) -> None:
    if not actor.has_permission("email.lock"):
        raise NotPermitted()
    with acting_as(session, actor.id):
        company.email_locked = locked
        session.flush()


def readable_messages(employee: Employee):
    """SELECT of the e-mail messages `employee` may read (those of locked companies left out)."""
    stmt = select(EmailMessage)
    if employee.has_permission("email.view_locked"):
        return stmt
    # Written from a company's card: that company decides (NULL-safe: NOT IN of NULL is unknown).
    company_open = or_(EmailMessage.company_id.is_(None), EmailMessage.company_id.not_in(_locked_companies()))
    # Written from a contact's card: every company of the contact decides.
    contact_open = or_(
        EmailMessage.company_id.is_not(None),
        EmailMessage.contact_id.is_(None),
        EmailMessage.contact_id.not_in(_contacts_at_locked_companies()),
    )
    return stmt.where(company_open, contact_open)


def hides_any(session: Session, employee: Employee, condition) -> bool:
    """True when some message matching `condition` is locked away from `employee` (an export that
    must be whole, such as a register extract, is then not made by them)."""
    if employee.has_permission("email.view_locked"):
        return False
    matching = select(func.count()).select_from(EmailMessage).where(condition)
    readable = select(func.count()).select_from(readable_messages(employee).where(condition).subquery())
    return (session.scalar(matching) or 0) > (session.scalar(readable) or 0)


def message_for(session: Session, employee: Employee, message_id: int, **owner) -> EmailMessage | None:
    """One message by id, only when it belongs to `owner` (company_id= or contact_id=) and is readable."""
    conditions = [EmailMessage.id == message_id] + [getattr(EmailMessage, k) == v for k, v in owner.items()]
    return session.scalar(readable_messages(employee).where(and_(*conditions)))
