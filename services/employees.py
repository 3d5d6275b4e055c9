"""Employees as the register offers them to choose from (owners, sellers, who an API key acts as),
and the rule that the register always keeps an active administrator."""

from collections.abc import Iterable

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from models import Employee
from services import permissions
from services.validation import InvalidValue


def choosable():
    """The employees that may be chosen for anything new (a Kundansvarig, an owner, Vår referens …), as a
    condition in SQL: the active ones (`check_chosen` is its check of one employee)."""
    return Employee.active.is_(True)


def active(session: Session) -> list[Employee]:
    """The active employees by name: an inactive one is chosen for nothing new."""
    return list(session.scalars(select(Employee).where(choosable()).order_by(Employee.name)))


def is_choosable(employee: Employee | None) -> bool:
    """Whether `employee` may be chosen for something new (`choosable`)."""
    return employee is not None and employee.active


def check_chosen(employee: Employee, *, kept: Iterable[Employee | int | None] = ()) -> None:
    """Refuse (InvalidValue) `employee` chosen for a record when it is inactive (`choosable`), unless the record
    already has it (`kept`: the employees, or their ids, the record has now): a record whose owner was deactivated
    keeps showing and saving that owner, so its other fields are saved without choosing another one."""
    if is_choosable(employee):
        return
    if employee.id in {k.id if isinstance(k, Employee) else k for k in kept if k is not None}:
        return
    raise InvalidValue(_("%(name)s is no longer active: choose an active employee.", name=employee.name))


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
