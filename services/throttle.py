"""Login throttling: failed logins per account and per IP address, and the lock they lead to.

`max_failures` failures within `window` lock the key (an account's e-mail, or an
IP address) for `lockout`. The count is kept where every worker on every host
sees it: in Redis when one is configured (`CRM_REDIS_URL`; keys expire by
themselves), else in the database table `login_throttle` (atomic upserts).

Keys are SHA-256 hashes, so neither store holds the e-mail addresses typed at
the login form, and an unknown address is counted and locked just like a
known one (the lock reveals nothing about which accounts exist).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import cast

from sqlalchemy import delete, select, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.orm import Session

from models import LoginThrottle, table_of
from services import bulk


@dataclass(frozen=True)
class Policy:
    max_failures: int = 10
    ip_max_failures: int = 30
    window: timedelta = timedelta(minutes=15)
    lockout: timedelta = timedelta(minutes=15)

    @classmethod
    def from_config(cls, config) -> Policy:
        return cls(
            max_failures=config["LOGIN_MAX_FAILURES"],
            ip_max_failures=config["LOGIN_IP_MAX_FAILURES"],
            window=timedelta(minutes=config["LOGIN_WINDOW_MINUTES"]),
            lockout=timedelta(minutes=config["LOGIN_LOCKOUT_MINUTES"]),
        )


def account_key(email: str) -> str:
    return "account:" + hashlib.sha256((email or "").strip().lower().encode()).hexdigest()


def ip_key(ip: str | None) -> str:
    return "ip:" + hashlib.sha256((ip or "-").encode()).hexdigest()


class DatabaseStore:
    """Counts in the `login_throttle` table, in the caller's transaction (the caller commits)."""

    def __init__(self, session: Session):
        self.session = session

    def locked_until(self, key: str, now: datetime) -> datetime | None:
        until = self.session.scalar(select(LoginThrottle.locked_until).where(LoginThrottle.key == key))
        return until if until and until > now else None

    def add_failure(self, key: str, now: datetime, max_failures: int, window: timedelta, lockout: timedelta) -> bool:
        """Count one failure; True when this failure locked the key."""
        table = table_of(LoginThrottle)
        stale = table.c.window_started_at < now - window
        statement = bulk.upsert(self.session, table).values(
            key=key, failures=1, window_started_at=now, locked_until=None
        )
        statement = statement.on_conflict_do_update(
            index_elements=[table.c.key],
            set_={
                "failures": _case(stale, 1, table.c.failures + 1),
                "window_started_at": _case(stale, now, table.c.window_started_at),
            },
        ).returning(table.c.failures)
        failures = self.session.execute(statement).scalar_one()
        # Forget counts and locks that are over, so addresses typed once do not pile up.
        self.session.execute(
            delete(table).where(
                table.c.window_started_at < now - window - lockout,
                (table.c.locked_until.is_(None)) | (table.c.locked_until < now),
            )
        )
        if failures < max_failures:
            return False
        locked = self.session.execute(
            update(table)
            .where(table.c.key == key, (table.c.locked_until.is_(None)) | (table.c.locked_until <= now))
            .values(locked_until=now + lockout, failures=0, window_started_at=now)
        )
        return cast(CursorResult, locked).rowcount == 1

    def clear(self, key: str) -> None:
        self.session.execute(delete(LoginThrottle).where(LoginThrottle.key == key))


def _case(condition, when_true, otherwise):
    from sqlalchemy import case

    return case((condition, when_true), else_=otherwise)


class RedisStore:
    """Counts in Redis: `<prefix>fail:<key>` expires with the window, `<prefix>lock:<key>` with the lock."""

    def __init__(self, client, prefix: str = "crm:login:"):
        self.client = client
        self.prefix = prefix

    def locked_until(self, key: str, now: datetime) -> datetime | None:
        milliseconds = self.client.pttl(f"{self.prefix}lock:{key}")
        return now + timedelta(milliseconds=milliseconds) if milliseconds and milliseconds > 0 else None

    def add_failure(self, key: str, now: datetime, max_failures: int, window: timedelta, lockout: timedelta) -> bool:
        fail_key = f"{self.prefix}fail:{key}"
        pipe = self.client.pipeline()  # MULTI/EXEC; SET NX starts the window (any Redis version)
        pipe.set(fail_key, 0, ex=int(window.total_seconds()), nx=True)
        pipe.incr(fail_key)
        _, failures = pipe.execute()
        if failures < max_failures:
            return False
        locked = self.client.set(f"{self.prefix}lock:{key}", "1", ex=int(lockout.total_seconds()), nx=True)
        self.client.delete(fail_key)
        return bool(locked)

    def clear(self, key: str) -> None:
        self.client.delete(f"{self.prefix}fail:{key}", f"{self.prefix}lock:{key}")


class Throttle:
    """The policy applied to a store: is a login allowed now, and counting its failures."""

    def __init__(self, store, policy: Policy):
        self.store = store
        self.policy = policy

    def locked_until(self, email: str, ip: str | None, now: datetime) -> datetime | None:
        """When the account or the address is locked, until when (the later of the two)."""
        locks = [self.store.locked_until(account_key(email), now), self.store.locked_until(ip_key(ip), now)]
        return max((lock for lock in locks if lock), default=None)

    def account_locked_until(self, email: str, now: datetime) -> datetime | None:
        """Until when the account is locked (None: it is not)."""
        return self.store.locked_until(account_key(email), now)

    def add_failure(self, email: str, ip: str | None, now: datetime) -> str | None:
        """Count a failed login for the account and the address; what it locked ("account" or
        "address"; the login is refused from now on, so the answer says locked, not wrong), or None."""
        p = self.policy
        account_locked = self.store.add_failure(account_key(email), now, p.max_failures, p.window, p.lockout)
        address_locked = self.store.add_failure(ip_key(ip), now, p.ip_max_failures, p.window, p.lockout)
        return "account" if account_locked else "address" if address_locked else None

    def succeeded(self, email: str) -> None:
        """A login succeeded: the account's failures are forgotten (the address's are not)."""
        self.store.clear(account_key(email))

    def unlock(self, email: str) -> None:
        """An administrator lifts the account's lock and forgets its failures."""
        self.store.clear(account_key(email))
