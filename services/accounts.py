"""Employees as users: creating them, passwords and the password step of a login."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models import AuditEvent, Employee
from services import passwords, validation
from services.permissions import ROLES
from services.throttle import Throttle


class AccountError(ValueError):
    """A user cannot be created as asked; the message says why."""


def set_password(employee: Employee, password: str) -> None:
    """Store a hash of `password` (no policy check: see `change_password`)."""
    employee.password_hash = passwords.hash_password(password)


def check_new_password(employee: Employee, password: str) -> None:
    """Raise passwords.WeakPassword when `password` may not become the employee's."""
    passwords.check_policy(password, user_inputs=(employee.name or "", employee.email or ""))


def create_employee(session: Session, *, email: str, name: str, role: str, password: str | None) -> Employee:
    if role not in ROLES:
        raise AccountError(f"Unknown role {role!r}; choose one of {', '.join(ROLES)}.")
    try:
        address = validation.email(email)
    except validation.InvalidValue as exc:  # a clear message for the CLI, not a traceback
        raise AccountError(str(exc)) from None
    if not address:
        raise AccountError("An e-mail address is required.")
    email = address
    if session.scalar(select(Employee).where(func.lower(Employee.email) == email.lower())):
        raise AccountError(f"An employee with e-mail {email} already exists.")
    employee = Employee(email=email, name=name, role=role, active=True)
    if password:
        try:
            check_new_password(employee, password)
        except passwords.WeakPassword as exc:
            raise AccountError(str(exc)) from None
        set_password(employee, password)
    session.add(employee)
    return employee


def find_by_email(session: Session, email: str) -> Employee | None:
    return session.scalar(select(Employee).where(func.lower(Employee.email) == (email or "").strip().lower()))


def _audit(session: Session, employee: Employee | None, typed_email: str, action: str, changes: dict, actor_id=None):
    """A login event: on the employee when the address is known, else on the typed address."""
    session.add(
        AuditEvent(
            actor_id=actor_id,
            entity_type="employee" if employee else "login",
            entity_id=employee.id if employee else 0,
            entity_label=(str(employee) if employee else (typed_email or "").strip())[:200],
            action=action,
            changes=changes,
        )
    )


@dataclass(frozen=True)
class PasswordStep:
    """What the password step of a login gave: "ok" (with the employee), "wrong" or "locked"."""

    outcome: str
    employee: Employee | None = None
    locked_until: datetime | None = None


def check_password(
    session: Session, email: str, password: str, *, ip: str | None, throttle: Throttle, now: datetime
) -> PasswordStep:
    """The password step: refused while the account or the address is locked; a failure is counted
    (and may lock the account) and audited; a hash made with old parameters is replaced.

    The caller commits. The account's failures are forgotten only when the whole login succeeds
    (`login_completed`), so a known password cannot be used to reset the count of wrong codes.
    """
    email = (email or "").strip()
    locked_until = throttle.locked_until(email, ip, now)
    if locked_until:
        _audit(session, find_by_email(session, email), email, "login_failed", {"ip": ip, "reason": "locked"})
        return PasswordStep("locked", locked_until=locked_until)
    employee = find_by_email(session, email)
    if employee is None or not employee.password_hash:
        passwords.verify_dummy(password)
        ok = False
    else:
        ok = passwords.verify(employee.password_hash, password or "") and employee.active
    if not ok or employee is None or not employee.password_hash:
        return record_failure(session, employee, email, ip=ip, throttle=throttle, now=now, reason="password")
    if passwords.needs_rehash(employee.password_hash):
        set_password(employee, password)
    return PasswordStep("ok", employee=employee)


def record_failure(
    session: Session,
    employee: Employee | None,
    email: str,
    *,
    ip: str | None,
    throttle: Throttle,
    now: datetime,
    reason: str,
) -> PasswordStep:
    """Count and audit a failed password or code; a lock of the account it causes is audited as its
    lockout (a lock of the address is the address's, not this account's)."""
    _audit(session, employee, email, "login_failed", {"ip": ip, "reason": reason})
    locked = throttle.add_failure(email, ip, now)
    if locked:
        until = now + throttle.policy.lockout
        if locked == "account":
            lockout = {"ip": ip, "until": until.isoformat(sep=" ", timespec="minutes")}
            _audit(session, employee, email, "lockout", lockout)
        return PasswordStep("locked", employee=employee, locked_until=until)
    return PasswordStep("wrong", employee=employee)


def confirm_password(
    session: Session, employee: Employee, password: str, *, ip: str | None, throttle: Throttle, now: datetime
) -> PasswordStep:
    """The current password asked again in a session (before a password or two-factor change):
    like the password step of a login, nothing is checked while the account or the address is
    locked, and a wrong one counts towards the lock and is audited. The caller commits."""
    locked_until = throttle.locked_until(employee.email, ip, now)
    if locked_until:
        return PasswordStep("locked", employee=employee, locked_until=locked_until)
    if passwords.verify(employee.password_hash, password or ""):
        return PasswordStep("ok", employee=employee)
    return record_failure(
        session, employee, employee.email, ip=ip, throttle=throttle, now=now, reason="current_password"
    )


def login_completed(employee: Employee, *, throttle: Throttle) -> None:
    """The whole login (password and any code) succeeded: the account's failures are forgotten."""
    throttle.succeeded(employee.email)


def unlock(session: Session, employee: Employee, *, throttle: Throttle, actor: Employee) -> None:
    """An administrator lifts the lock on the employee's account."""
    throttle.unlock(employee.email)
    _audit(session, employee, employee.email, "unlock", {}, actor_id=actor.id)


def change_password(session: Session, employee: Employee, new_password: str, *, actor: Employee) -> None:
    """Set a new password that meets the policy (raises passwords.WeakPassword), audited.

    Ending the employee's other sessions is the caller's (it knows which session is its own).
    """
    check_new_password(employee, new_password)
    set_password(employee, new_password)
    _audit(session, employee, employee.email, "password_changed", {}, actor_id=actor.id)
