"""Employees as the register offers them to choose from (owners, sellers, who an API key acts as),
and the rule that the register always keeps an active administrator."""

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from models import Employee
from services import permissions
from services.validation import InvalidValue


def active(session: Session) -> list[Employee]:
    """The active employees by name: an inactive one is chosen for nothing new."""
    return list(session.scalars(select(Employee).where(Employee.active.is_(True)).order_by(Employee.name)))


#: The permission that makes an employee an administrator here: whoever has it can give every other
#: permission back (roles, grants, activation), so at least one active employee must keep it.
ADMINISTRATION = "employee.manage"


class LastAdministrator(InvalidValue):
    """The change would leave no active employee who may administer employees."""


def _administers(employee: Employee) -> bool:
    """Whether `employee`, as it is in memory (unsaved changes included), may administer employees."""
    return permissions.employee_has_permission(employee, ADMINISTRATION)


def check_an_administrator_remains(session: Session, employee: Employee) -> None:
    """Refuse (LastAdministrator) the unsaved change to `employee` — another role, Aktiv unticked, the
    permission to administer revoked — when it would leave no active employee who may administer
    employees: then nobody could give the permission back. Every path that changes those attributes
    (the employee form, the permissions on the card, any later bulk or API path) calls this before
    committing."""
    if _administers(employee):
        return
    with session.no_autoflush:
        others = session.scalars(select(Employee).where(Employee.active.is_(True), Employee.id != employee.id))
        if any(_administers(other) for other in others):
            return
    if not employee.active:
        message = _(
            "The last active administrator cannot be deactivated: make another employee an administrator first."
        )
    elif ADMINISTRATION not in permissions.ROLES.get(employee.role, (None, frozenset()))[1]:
        message = _(
            "The last active administrator cannot be given another role: make another employee an administrator first."
        )
    else:
        message = _(
            "The last active administrator cannot lose the permission to manage employees: "
            "give it to another employee first."
        )
    raise LastAdministrator(message)
