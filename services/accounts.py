"""Employees as users: creating them, passwords (scrypt) and login checks."""

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from models import Employee
from services import validation
from services.permissions import ROLES

# Checked against when the e-mail is unknown, so both cases take the same time.
_DUMMY_HASH = generate_password_hash("not-a-real-password", method="scrypt")


class AccountError(ValueError):
    """A user cannot be created as asked; the message says why."""


def set_password(employee: Employee, password: str) -> None:
    employee.password_hash = generate_password_hash(password, method="scrypt")


def create_employee(session: Session, *, email: str, name: str, role: str, password: str | None) -> Employee:
    if role not in ROLES:
        raise AccountError(f"Unknown role {role!r}; choose one of {', '.join(ROLES)}.")
    try:
        email = validation.email(email)
    except validation.InvalidValue as exc:  # a clear message for the CLI, not a traceback
        raise AccountError(str(exc)) from None
    if not email:
        raise AccountError("An e-mail address is required.")
    if session.scalar(select(Employee).where(func.lower(Employee.email) == email.lower())):
        raise AccountError(f"An employee with e-mail {email} already exists.")
    employee = Employee(email=email, name=name, role=role, active=True)
    if password:
        set_password(employee, password)
    session.add(employee)
    return employee


def authenticate(session: Session, email: str, password: str) -> Employee | None:
    """The active employee with these credentials, or None."""
    employee = session.scalar(select(Employee).where(func.lower(Employee.email) == (email or "").strip().lower()))
    if employee is None or not employee.password_hash:
        check_password_hash(_DUMMY_HASH, password or "")
        return None
    if not check_password_hash(employee.password_hash, password or ""):
        return None
    return employee if employee.active else None
