"""Two-factor login with TOTP (RFC 6238: 6 digits, 30-second steps) and one-time recovery codes.

Enrolment: a pending secret is shown as a QR code (SVG drawn on the server by
segno) and as text; a code from the app confirms it, and only then is it on,
with 10 recovery codes shown once and stored salted and hashed. A code is
accepted one step early or late (clock drift) and never twice: the step used
is stored with a conditional UPDATE, so two workers racing with the same code
cannot both accept it. The policy (everyone, or some roles) is one row.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import UTC, datetime
from typing import cast

import pyotp
import segno
from sqlalchemy import or_, select, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.orm import Session

from models import AuditEvent, Employee, RecoveryCode, SecurityPolicy

ISSUER = "Kundregister"
STEP_SECONDS = 30
#: Steps accepted on either side of the current one.
VALID_WINDOW = 1
RECOVERY_CODES = 10
#: Recovery codes: three groups of four characters from an alphabet without look-alikes (60 bits).
_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"


class TwoFactorError(ValueError):
    """Enrolment or a change cannot be done as asked."""


def _audit(session: Session, employee: Employee, actor_id: int | None, action: str, changes: dict | None = None):
    session.add(
        AuditEvent(
            actor_id=actor_id,
            entity_type="employee",
            entity_id=employee.id,
            entity_label=str(employee)[:200],
            action=action,
            changes=changes,
        )
    )


# --- policy -----------------------------------------------------------------------------------


def policy(session: Session) -> SecurityPolicy:
    """The one policy row (a default one, not yet saved, when there is none)."""
    return session.scalar(select(SecurityPolicy).order_by(SecurityPolicy.id).limit(1)) or SecurityPolicy(
        require_two_factor_all=False, require_two_factor_roles=[]
    )


def is_required(session: Session, employee: Employee) -> bool:
    rules = policy(session)
    return bool(rules.require_two_factor_all or employee.role in (rules.require_two_factor_roles or ()))


def save_policy(session: Session, *, everyone: bool, roles: list[str], actor: Employee) -> list[int]:
    """Store who must use two-factor login; returns the ids of employees who now must enrol."""
    rules = policy(session)
    rules.require_two_factor_all = everyone
    rules.require_two_factor_roles = sorted(set(roles))
    session.add(rules)
    session.add(
        AuditEvent(
            actor_id=actor.id,
            entity_type="security_policy",
            entity_id=1,
            entity_label="two-factor",
            action="update",
            changes={"require_two_factor_all": everyone, "require_two_factor_roles": rules.require_two_factor_roles},
        )
    )
    condition = [Employee.totp_secret.is_(None), Employee.active.is_(True)]
    if not everyone:
        condition.append(Employee.role.in_(rules.require_two_factor_roles or ["-"]))
    return list(session.scalars(select(Employee.id).where(*condition)))


# --- codes ------------------------------------------------------------------------------------


def timestep(now: datetime) -> int:
    return int(now.replace(tzinfo=UTC).timestamp()) // STEP_SECONDS


def code_at(secret: str, step: int) -> str:
    """The code an authenticator app shows during `step` (for tests and enrolment checks)."""
    return pyotp.TOTP(secret).at(step * STEP_SECONDS)


def _matching_step(secret: str, code: str, now: datetime) -> int | None:
    code = "".join((code or "").split())
    if not (len(code) == 6 and code.isdigit()):
        return None
    totp = pyotp.TOTP(secret)
    current = timestep(now)
    for step in range(current - VALID_WINDOW, current + VALID_WINDOW + 1):
        if hmac.compare_digest(totp.at(step * STEP_SECONDS), code):
            return step
    return None


def _consume_step(session: Session, employee: Employee, step: int) -> bool:
    """Record `step` as used; False when it (or a later one) was used already: a replay."""
    result = session.execute(
        update(Employee)
        .where(Employee.id == employee.id, or_(Employee.totp_last_step.is_(None), Employee.totp_last_step < step))
        .values(totp_last_step=step)
        .execution_options(synchronize_session=False)
    )
    if cast(CursorResult, result).rowcount == 1:
        employee.totp_last_step = step
        session.expire(employee, ["totp_last_step"])
        return True
    return False


def _hash_code(salt: str, code: str) -> str:
    return hashlib.sha256(f"{salt}:{code}".encode()).hexdigest()


def _normalise_recovery(code: str) -> str:
    return "".join(ch for ch in (code or "").lower() if ch.isalnum())


def new_recovery_codes(session: Session, employee: Employee) -> list[str]:
    """Replace the employee's recovery codes with 10 new ones; the plain codes are returned once."""
    for old in session.scalars(select(RecoveryCode).where(RecoveryCode.employee_id == employee.id)):
        session.delete(old)
    codes = []
    for _ in range(RECOVERY_CODES):
        raw = "".join(secrets.choice(_ALPHABET) for _ in range(12))
        salt = secrets.token_hex(16)
        session.add(RecoveryCode(employee_id=employee.id, salt=salt, code_hash=_hash_code(salt, raw)))
        codes.append(f"{raw[:4]}-{raw[4:8]}-{raw[8:]}")
    return codes


def recovery_codes_left(session: Session, employee: Employee) -> int:
    return len(
        session.scalars(
            select(RecoveryCode.id).where(RecoveryCode.employee_id == employee.id, RecoveryCode.used_at.is_(None))
        ).all()
    )


def _use_recovery_code(session: Session, employee: Employee, code: str, now: datetime) -> bool:
    typed = _normalise_recovery(code)
    if len(typed) != 12:
        return False
    unused = session.scalars(
        select(RecoveryCode).where(RecoveryCode.employee_id == employee.id, RecoveryCode.used_at.is_(None))
    )
    for candidate in unused:
        if hmac.compare_digest(candidate.code_hash, _hash_code(candidate.salt, typed)):
            used = session.execute(
                update(RecoveryCode)
                .where(RecoveryCode.id == candidate.id, RecoveryCode.used_at.is_(None))
                .values(used_at=now)
                .execution_options(synchronize_session=False)
            )
            return cast(CursorResult, used).rowcount == 1
    return False


def verify_login(session: Session, employee: Employee, code: str, now: datetime) -> str | None:
    """Check a code typed at login: "totp" or "recovery" for what was accepted, None when refused."""
    if not employee.totp_secret:
        return None
    step = _matching_step(employee.totp_secret, code, now)
    if step is not None:
        return "totp" if _consume_step(session, employee, step) else None
    if _use_recovery_code(session, employee, code, now):
        _audit(session, employee, employee.id, "recovery_code_used", {"left": recovery_codes_left(session, employee)})
        return "recovery"
    return None


# --- enrolment --------------------------------------------------------------------------------


def begin_enrolment(session: Session, employee: Employee) -> str:
    """A new pending secret for the employee to scan (replacing an unconfirmed one)."""
    if employee.totp_secret:
        raise TwoFactorError("already enabled")
    employee.totp_pending_secret = pyotp.random_base32()
    return employee.totp_pending_secret


def provisioning_uri(employee: Employee, secret: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=employee.email, issuer_name=ISSUER)


def qr_svg(uri: str) -> str:
    """The QR code of `uri` as an inline SVG element (no script, no external resource)."""
    return segno.make(uri, error="m").svg_inline(scale=5, border=2, dark="#000", light="#fff")


def confirm_enrolment(session: Session, employee: Employee, code: str, now: datetime) -> list[str] | None:
    """Turn two-factor login on when `code` matches the pending secret; returns the recovery codes."""
    secret = employee.totp_pending_secret
    if not secret or employee.totp_secret:
        return None
    step = _matching_step(secret, code, now)
    if step is None:
        return None
    employee.totp_secret = secret
    employee.totp_pending_secret = None
    employee.totp_enabled_at = now
    employee.totp_last_step = step
    codes = new_recovery_codes(session, employee)
    _audit(session, employee, employee.id, "two_factor_enabled")
    return codes


def disable(session: Session, employee: Employee, *, actor_id: int | None, action: str = "two_factor_disabled") -> None:
    """Switch two-factor login off and drop the recovery codes (the employee's own choice, or a reset)."""
    employee.totp_secret = None
    employee.totp_pending_secret = None
    employee.totp_enabled_at = None
    employee.totp_last_step = None
    for old in session.scalars(select(RecoveryCode).where(RecoveryCode.employee_id == employee.id)):
        session.delete(old)
    _audit(session, employee, actor_id, action)
