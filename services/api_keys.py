"""API keys of integrations (Administration – Integrationer, `flask --app app api-key create`).

A key is `crm_` followed by 43 characters of a random 32-byte token; it is shown once, when it is
created, and only its SHA-256 is stored (a random 256-bit secret needs no slow hash: nobody can
guess one from its digest). Its first characters (`prefix`) tell keys apart in lists and logs.
A key acts as its employee: whatever the employee may do, the key may do, never more; a key of
an employee who is deactivated, a revoked key and an expired key are refused.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from flask_babel import gettext as _
from sqlalchemy import select, update
from sqlalchemy.orm import Session, joinedload

from models import ApiKey, Employee, utcnow
from services.validation import InvalidValue

KEY_START = "crm_"
#: Characters of the key kept (and shown) to tell keys apart: "crm_" and eight more.
PREFIX_LENGTH = len(KEY_START) + 8
#: The last-used time is written at most this often per key (not on every request).
LAST_USED_RESOLUTION = timedelta(minutes=1)


class NotPermitted(PermissionError):
    """Only employees with integration.manage create and revoke API keys."""


@dataclass(frozen=True)
class NewKey:
    """A key just created: the record, and the key itself (never stored, shown this once)."""

    record: ApiKey
    secret: str


def expiry_of(valid_through: date) -> datetime:
    """When a key valid "through" a date expires: as the next day begins (UTC)."""
    return datetime.combine(valid_through + timedelta(days=1), time.min)


def valid_through(key: ApiKey) -> date | None:
    """The last day a key with an expiry is valid (the form's "valid through" date), None without one."""
    return None if key.expires_at is None else (key.expires_at - timedelta(microseconds=1)).date()


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _check(actor: Employee | None) -> None:
    if actor is not None and not actor.has_permission("integration.manage"):
        raise NotPermitted("integration.manage")


def create(
    session: Session,
    actor: Employee | None,
    *,
    employee: Employee,
    name: str,
    expires_at: datetime | None = None,
    now: datetime | None = None,
) -> NewKey:
    """A new key acting as `employee`; `actor` None is the command line (the operator)."""
    _check(actor)
    name = (name or "").strip()
    if not name:
        raise InvalidValue(_("Give the key a name (the integration that uses it)."))
    if len(name) > 100:
        raise InvalidValue(_("At most %(max)s characters.", max=100))
    if not employee.active:
        raise InvalidValue(_("%(name)s is not active: a key can only act as an active employee.", name=employee.name))
    if expires_at is not None and expires_at <= (now or utcnow()):
        raise InvalidValue(_("The expiry date must be in the future."))
    secret = KEY_START + secrets.token_urlsafe(32)
    record = ApiKey(
        name=name,
        employee=employee,
        prefix=secret[:PREFIX_LENGTH],
        key_hash=digest(secret),
        expires_at=expires_at,
        created_by_id=actor.id if actor is not None else None,
    )
    session.add(record)
    session.flush()
    return NewKey(record, secret)


def revoke(session: Session, actor: Employee | None, record: ApiKey, *, now: datetime | None = None) -> bool:
    """Revoke a key for good; False when it already was."""
    _check(actor)
    if record.revoked_at is not None:
        return False
    record.revoked_at = now or utcnow()
    session.flush()
    return True


def is_usable(record: ApiKey, now: datetime | None = None) -> bool:
    now = now or utcnow()
    return (
        record.revoked_at is None
        and (record.expires_at is None or record.expires_at > now)
        and record.employee is not None
        and record.employee.active
    )


def authenticate(session: Session, secret: str | None, *, now: datetime | None = None) -> ApiKey | None:
    """The usable key `secret` is, or None; notes its use (at most once a minute: the caller commits)."""
    if not secret or not secret.startswith(KEY_START) or len(secret) > 200:
        return None
    record = session.scalar(
        select(ApiKey).where(ApiKey.key_hash == digest(secret)).options(joinedload(ApiKey.employee))
    )
    now = now or utcnow()
    if record is None or not is_usable(record, now):
        return None
    if record.last_used_at is None or now - record.last_used_at >= LAST_USED_RESOLUTION:
        # A plain UPDATE: neither an audited change nor one that bumps updated_at.
        session.execute(
            update(ApiKey)
            .where(ApiKey.id == record.id)
            .values(last_used_at=now, updated_at=ApiKey.updated_at)
            .execution_options(synchronize_session=False)
        )
    return record


def listing(session: Session) -> list[ApiKey]:
    """Every key, the usable ones first, newest first."""
    stmt = (
        select(ApiKey).options(joinedload(ApiKey.employee)).order_by(ApiKey.revoked_at.is_not(None), ApiKey.id.desc())
    )
    return list(session.scalars(stmt))
