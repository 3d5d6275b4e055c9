"""Server-side login sessions: one `LoginSession` row per login, ended on the server.

The browser's session cookie and its remember-me cookie carry only a random
token (Flask-Login's user id is the token; the row stores its SHA-256). A
request is logged in only while the row is live: not ended (logout, a
password, role or two-factor change, deactivation, an administrator), not idle
longer than the idle timeout (remember-me sessions: exempt) and not past its
absolute end (login + 8 h, or + the remember-me lifetime). A table works on
SQLite and across any number of hosts on one PostgreSQL.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import cast

from sqlalchemy import and_, delete, or_, select, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.orm import Session, contains_eager

from models import AuditEvent, Employee, LoginSession

#: last_seen_at is written at most this often per session (a write per request would be wasted).
TOUCH_INTERVAL = timedelta(minutes=1)
#: Rows ended or expired longer ago than this are deleted at the employee's next login.
KEEP_ENDED = timedelta(days=30)


@dataclass(frozen=True)
class Lifetimes:
    idle: timedelta = timedelta(minutes=30)
    absolute: timedelta = timedelta(hours=8)
    remember: timedelta = timedelta(days=14)

    @classmethod
    def from_config(cls, config) -> Lifetimes:
        return cls(
            idle=timedelta(minutes=config["SESSION_IDLE_MINUTES"]),
            absolute=timedelta(hours=config["SESSION_MAX_HOURS"]),
            remember=timedelta(days=config["REMEMBER_DAYS"]),
        )


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start(
    session: Session,
    employee: Employee,
    *,
    now: datetime,
    lifetimes: Lifetimes,
    remember: bool = False,
    two_factor: bool = False,
    must_enrol: bool = False,
    ip: str | None = None,
    user_agent: str | None = None,
) -> tuple[LoginSession, str]:
    """A new session for `employee`; returns the row and the token for the cookie (never stored)."""
    session.execute(
        delete(LoginSession).where(
            LoginSession.employee_id == employee.id,
            or_(LoginSession.ended_at < now - KEEP_ENDED, LoginSession.expires_at < now - KEEP_ENDED),
        )
    )
    token = secrets.token_urlsafe(32)
    record = LoginSession(
        employee_id=employee.id,
        token_hash=token_hash(token),
        created_at=now,
        last_seen_at=now,
        expires_at=now + (lifetimes.remember if remember else lifetimes.absolute),
        remember=remember,
        two_factor=two_factor,
        must_enrol=must_enrol,
        ip=ip,
        user_agent=(user_agent or "")[:300] or None,
    )
    session.add(record)
    session.flush()
    return record, token


def _live(now: datetime, lifetimes: Lifetimes):
    """SQL condition: the session is neither ended nor expired at `now`."""
    return and_(
        LoginSession.ended_at.is_(None),
        LoginSession.expires_at > now,
        or_(LoginSession.remember.is_(True), LoginSession.last_seen_at > now - lifetimes.idle),
    )


def resume(session: Session, token: str, *, now: datetime, lifetimes: Lifetimes) -> LoginSession | None:
    """The live session the token belongs to, with its employee loaded; None when there is none."""
    if not token or len(token) > 100:
        return None
    return session.scalar(
        select(LoginSession)
        .join(LoginSession.employee)
        .options(contains_eager(LoginSession.employee))
        .where(LoginSession.token_hash == token_hash(token), _live(now, lifetimes))
    )


def needs_touch(record: LoginSession, now: datetime) -> bool:
    return now - record.last_seen_at >= TOUCH_INTERVAL


def touch(connection, record_id: int, now: datetime) -> None:
    """Note that the session was used now (keeps it from going idle); the caller commits."""
    connection.execute(update(LoginSession).where(LoginSession.id == record_id).values(last_seen_at=now))


def active(session: Session, employee: Employee, *, now: datetime, lifetimes: Lifetimes) -> list[LoginSession]:
    """The employee's live sessions, the most recently used first."""
    return list(
        session.scalars(
            select(LoginSession)
            .where(LoginSession.employee_id == employee.id, _live(now, lifetimes))
            .order_by(LoginSession.last_seen_at.desc(), LoginSession.id.desc())
        )
    )


def _audit(session: Session, employee: Employee, actor_id: int | None, action: str, changes: dict) -> None:
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


def end(session: Session, record: LoginSession, *, now: datetime, reason: str, actor_id: int | None) -> None:
    """End one session (its cookie and remember-me cookie stop working at once)."""
    if record.ended_at is None:
        record.ended_at = now
        record.ended_reason = reason
        _audit(session, record.employee, actor_id, "sessions_ended", {"reason": reason, "count": 1})


def end_all(
    session: Session,
    employee: Employee,
    *,
    now: datetime,
    reason: str,
    actor_id: int | None,
    keep_id: int | None = None,
) -> int:
    """End every session of `employee` except `keep_id` (the one making the change); returns how many."""
    ended = cast(
        CursorResult,
        session.execute(
            update(LoginSession)
            .where(
                LoginSession.employee_id == employee.id,
                LoginSession.ended_at.is_(None),
                LoginSession.id != (keep_id or 0),
            )
            .values(ended_at=now, ended_reason=reason)
            .execution_options(synchronize_session="fetch")
        ),
    ).rowcount
    if ended:
        _audit(session, employee, actor_id, "sessions_ended", {"reason": reason, "count": ended})
    return ended


def login_succeeded(session: Session, employee: Employee, *, ip: str | None, two_factor: bool) -> None:
    """The audit event of a login (the session row itself is made by `start`)."""
    _audit(session, employee, employee.id, "login", {"ip": ip, "two_factor": two_factor})


def require_enrolment(session: Session, employee_ids: list[int], *, now: datetime) -> None:
    """Send the live sessions of these employees (who have no two-factor login) to enrolment, and
    let every other session held there go on (the requirement was lifted for its employee)."""
    if employee_ids:
        session.execute(
            update(LoginSession)
            .where(LoginSession.employee_id.in_(employee_ids), LoginSession.ended_at.is_(None))
            .values(must_enrol=True)
            .execution_options(synchronize_session=False)
        )
    session.execute(
        update(LoginSession)
        .where(LoginSession.must_enrol.is_(True), LoginSession.employee_id.not_in(employee_ids or [0]))
        .values(must_enrol=False)
        .execution_options(synchronize_session=False)
    )


def enrolled(session: Session, employee: Employee) -> None:
    """Two-factor login is on: the employee's sessions are no longer held at enrolment."""
    session.execute(
        update(LoginSession)
        .where(LoginSession.employee_id == employee.id, LoginSession.must_enrol.is_(True))
        .values(must_enrol=False)
        .execution_options(synchronize_session="fetch")
    )


_BROWSERS = (("Edg/", "Edge"), ("OPR/", "Opera"), ("Firefox/", "Firefox"), ("Chrome/", "Chrome"), ("Safari/", "Safari"))
_SYSTEMS = (("Windows", "Windows"), ("Android", "Android"), ("iPhone", "iOS"), ("iPad", "iPadOS"))
_SYSTEMS_LAST = (("Mac OS X", "macOS"), ("CrOS", "ChromeOS"), ("Linux", "Linux"))


def device(user_agent: str | None) -> str:
    """ "Browser, system" as a User-Agent header names them (e.g. "Firefox, Windows"), or "" when unknown.

    Only the few names a person recognises in a list of their sessions; a full parser
    (ua-parser's regex database) would be a large dependency for one label.
    """
    agent = user_agent or ""
    browser = next((name for marker, name in _BROWSERS if marker in agent), "")
    system = next((name for marker, name in _SYSTEMS + _SYSTEMS_LAST if marker in agent), "")
    return ", ".join(part for part in (browser, system) if part)
