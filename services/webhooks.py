"""Webhooks: events of the register delivered to the URLs administrators subscribed.

How an event travels:

1. Whatever changes a company, contact, lead or opportunity (a form, the API, a restore), or
   sends an invoice or marks it paid, the flush that writes it also writes one WebhookDelivery row
   per subscription wanting the event (`_record_events`, an `after_flush` listener): in the same
   transaction, so an event exists exactly when its change does.
2. After the commit the deliveries are put in the task queue (services.tasks); `attempt` POSTs the
   JSON with an HMAC-SHA256 signature over "<timestamp>.<body>" with the subscription's secret.
3. A failure (no answer, a non-2xx status) is retried with a growing pause (`retry_delay`) until
   24 hours after the event; then the delivery is "failed". The delivery log shows each one, and
   "Skicka igen" sends one again. A periodic task puts deliveries whose queue message was lost
   back in the queue.

Internal addresses (loopback, private, link-local, reserved) are refused, when the subscription is
saved and again at each delivery, unless an administrator allowed them on the subscription (SSRF);
redirects are not followed.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import ipaddress
import json
import secrets
import socket
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any, cast

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import event, insert, inspect, select, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.orm import Session

from models import (
    Company,
    Contact,
    Employee,
    Invoice,
    Lead,
    MergeRecord,
    Opportunity,
    SoftDeleteMixin,
    WebhookDelivery,
    WebhookSubscription,
    table_of,
    utcnow,
)
from services import audit
from services.validation import InvalidValue

#: The kinds of record whose changes are events, by model.
WATCHED = {Company: "company", Contact: "contact", Lead: "lead", Opportunity: "opportunity"}
#: Every kind of record an event can be about (an invoice: only when it is sent or paid).
TYPES = {**WATCHED, Invoice: "invoice"}

EVENTS: dict[str, object] = {
    "company.created": _l("Company created"),
    "company.updated": _l("Company updated"),
    "company.deleted": _l("Company deleted (to the trash)"),
    "company.restored": _l("Company restored"),
    "company.purged": _l("Company deleted permanently (from the trash)"),
    "company.merged": _l("Companies merged (a duplicate merged into the kept one)"),
    "company.unmerged": _l("Merge of companies undone"),
    "contact.created": _l("Contact created"),
    "contact.updated": _l("Contact updated"),
    "contact.deleted": _l("Contact deleted (to the trash)"),
    "contact.restored": _l("Contact restored"),
    "contact.purged": _l("Contact deleted permanently (from the trash)"),
    "contact.merged": _l("Contacts merged (a duplicate merged into the kept one)"),
    "contact.unmerged": _l("Merge of contacts undone"),
    "lead.created": _l("Lead created"),
    "lead.updated": _l("Lead updated"),
    "lead.deleted": _l("Lead deleted (to the trash)"),
    "lead.restored": _l("Lead restored"),
    "lead.purged": _l("Lead deleted permanently (from the trash)"),
    "lead.merged": _l("Leads merged (a duplicate merged into the kept one)"),
    "lead.unmerged": _l("Merge of leads undone"),
    "opportunity.created": _l("Sales opportunity created"),
    "opportunity.updated": _l("Sales opportunity updated"),
    "opportunity.deleted": _l("Sales opportunity deleted"),
    "opportunity.stage_changed": _l("Sales opportunity moved to another stage"),
    "invoice.sent": _l("Invoice sent"),
    "invoice.paid": _l("Invoice paid"),
}

#: How long a failing delivery is retried, and its pauses: 30 s, 1 min, 2 min … at most 2 hours.
RETRY_WINDOW = timedelta(hours=24)
FIRST_RETRY_SECONDS = 30
MAX_RETRY_SECONDS = 2 * 60 * 60
TIMEOUT_SECONDS = 10
#: The longest one delivery may take, however the receiver dribbles its answer.
DEADLINE_SECONDS = 30
USER_AGENT = "Kundregister-Webhooks/1"
SIGNATURE_HEADER = "X-Kundregister-Signature"
TIMESTAMP_HEADER = "X-Kundregister-Timestamp"


class NotPermitted(PermissionError):
    """Only employees with integration.manage manage webhook subscriptions."""


class RefusedAddress(InvalidValue):
    """The URL leads to an internal address and the subscription does not allow that."""


# --- subscriptions ---------------------------------------------------------------------------


def _check(actor: Employee | None) -> None:
    if actor is not None and not actor.has_permission("integration.manage"):
        raise NotPermitted("integration.manage")


def _internal(address_text: str) -> str | None:
    """The address as shown (an IPv4-mapped IPv6 address as its IPv4) when it is internal: loopback,
    private, link-local, reserved, multicast …; None when it is public."""
    address = ipaddress.ip_address(address_text.split("%", 1)[0])
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    return str(address) if not address.is_global or address.is_multicast else None


def internal_address(host: str) -> str | None:
    """The first internal address `host` resolves to (loopback, private, link-local, reserved …),
    or None when every address is public. A name that does not resolve is refused as well."""
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError):
        raise InvalidValue(_("The host %(host)s could not be found.", host=host)) from None
    for info in infos:
        internal = _internal(str(info[4][0]))
        if internal is not None:
            return internal
    return None


def _refused(host: str, address: str) -> RefusedAddress:
    return RefusedAddress(
        _(
            "%(host)s leads to the internal address %(address)s. Internal addresses are refused "
            "unless you allow them for this subscription.",
            host=host,
            address=address,
        )
    )


def check_url(url: str, *, allow_internal: bool) -> str:
    """The URL to post to: http(s), with a host; refused when it leads to an internal address."""
    url = (url or "").strip()
    parts = urllib.parse.urlsplit(url)
    try:
        port = parts.port
    except ValueError:  # out of range, or no number
        port = 0
    if (
        parts.scheme not in ("http", "https")
        or not parts.hostname
        or len(url) > 500
        or port == 0
        or any(c.isspace() or not c.isprintable() for c in url)  # urllib would refuse to send it
    ):
        raise InvalidValue(_("Give the full address, starting with https:// (or http://)."))
    if not allow_internal:
        internal = internal_address(parts.hostname)
        if internal is not None:
            raise _refused(parts.hostname, internal)
    return url


def subscribe(
    session: Session,
    actor: Employee | None,
    *,
    name: str,
    url: str,
    events: Iterable[str],
    allow_internal: bool = False,
) -> WebhookSubscription:
    """A new, active subscription with a new secret."""
    _check(actor)
    name, events = (name or "").strip(), sorted(set(events))
    if not name:
        raise InvalidValue(_("Give the subscription a name."))
    if not events or any(e not in EVENTS for e in events):
        raise InvalidValue(_("Choose at least one event."))
    subscription = WebhookSubscription(
        name=name[:100],
        url=check_url(url, allow_internal=allow_internal),
        events=events,
        secret=secrets.token_hex(32),
        allow_internal=allow_internal,
        active=True,
        created_by_id=actor.id if actor is not None else None,
    )
    session.add(subscription)
    session.flush()
    return subscription


def set_active(session: Session, actor: Employee | None, subscription: WebhookSubscription, active: bool) -> None:
    _check(actor)
    subscription.active = active
    session.flush()


def delete(session: Session, actor: Employee | None, subscription: WebhookSubscription) -> None:
    """Delete a subscription and its delivery log."""
    _check(actor)
    session.delete(subscription)
    session.flush()


# --- events: written with the change -------------------------------------------------------------


def _record_payload(obj) -> dict:
    state = inspect(obj)
    return {attr.key: audit.plain(getattr(obj, attr.key)) for attr in state.mapper.column_attrs}


def _changed(obj, key: str) -> tuple | None:
    history = inspect(obj).attrs[key].history
    if not history.has_changes():
        return None
    return (history.deleted[0] if history.deleted else None, history.added[0] if history.added else None)


def _merge_event(session: Session, merge: MergeRecord, name: str) -> tuple[str, Any, dict | None, dict] | None:
    """A merge (or its undo) as an event about the kept record, naming both ids (services.merge)."""
    from services.merge import MODELS

    with session.no_autoflush:
        kept = session.get(MODELS[merge.entity_type], merge.survivor_id)
    if kept is None:
        return None
    ids = {"merged_id": merge.merged_id, "merge_id": merge.id}
    changes = (dict(merge.fields) or None) if name == "merged" else None  # the kept record's fields taken
    return (f"{merge.entity_type}.{name}", kept, changes, ids)


def _events_of_flush(session: Session, wanted: set[str]) -> list[tuple[str, Any, dict | None, dict]]:
    """(event name, record, changes, more data) for what this flush wrote to watched records, only of
    the events in `wanted`. An update's changes are the ones its audit event records
    (`audit.flushed_changes`: computed once per flush, not again here)."""
    found: list[tuple[str, Any, dict | None, dict]] = []
    merges = []

    def add(name: str, obj, changes: dict | None = None) -> None:
        if name in wanted:
            found.append((name, obj, changes, {}))

    for obj in session.new:
        if type(obj) in WATCHED:
            add(f"{WATCHED[type(obj)]}.created", obj)
        elif isinstance(obj, Invoice) and obj.status == "sent":  # a credit invoice is sent at once
            add("invoice.sent", obj)
        elif isinstance(obj, MergeRecord) and f"{obj.entity_type}.merged" in wanted:
            merges.append(_merge_event(session, obj, "merged"))
    for obj in session.dirty:
        if isinstance(obj, MergeRecord):
            undone = _changed(obj, "undone_at")
            if undone is not None and undone[0] is None and undone[1] is not None:
                if f"{obj.entity_type}.unmerged" in wanted:
                    merges.append(_merge_event(session, obj, "unmerged"))
            continue
        if isinstance(obj, Invoice):
            status = _changed(obj, "status")
            if status is not None and status[1] in ("sent", "paid") and status[0] != status[1]:
                add(f"invoice.{status[1]}", obj, {"status": list(status)})
            continue
        if type(obj) not in WATCHED:
            continue
        kind = WATCHED[type(obj)]
        changes = audit.flushed_changes(session, obj)
        if "deleted_at" in changes:
            add(f"{kind}.{'restored' if changes['deleted_at'][1] is None else 'deleted'}", obj)
        elif changes:
            add(f"{kind}.updated", obj, changes)
            if kind == "opportunity" and "stage_id" in changes:
                add("opportunity.stage_changed", obj, {"stage_id": changes["stage_id"]})
    for obj in session.deleted:
        if type(obj) in WATCHED:  # a record that has a trash was `deleted` when it went there: this is its purge
            add(f"{WATCHED[type(obj)]}.{'purged' if isinstance(obj, SoftDeleteMixin) else 'deleted'}", obj)
    return found + [m for m in merges if m is not None]


#: Engines known to have the webhook tables (a database still at an older revision has none).
_migrated: set = set()


def _has_tables(connection) -> bool:
    key = connection.engine.url.render_as_string(hide_password=False)
    if key not in _migrated and inspect(connection).has_table(WebhookSubscription.__tablename__):
        _migrated.add(key)
    return key in _migrated


#: session.info: the active subscriptions as this transaction read them (`_subscriptions`).
_SUBSCRIPTIONS_KEY = "webhook_subscriptions"


def _subscriptions(session: Session) -> list[tuple[int, list[str]]]:
    """(id, events) of every active subscription; none on a database without the webhook tables.
    Read once per transaction (a flush that writes a subscription reads them again)."""
    cached = session.info.get(_SUBSCRIPTIONS_KEY)
    if cached is not None:
        return cached
    connection = session.connection()
    rows = (
        connection.execute(
            select(WebhookSubscription.id, WebhookSubscription.events).where(WebhookSubscription.active.is_(True))
        ).all()
        if _has_tables(connection)
        else []
    )
    cached = session.info[_SUBSCRIPTIONS_KEY] = [
        (subscription_id, list(events or ())) for subscription_id, events in rows
    ]
    return cached


def _payload(name: str, kind: str, record_id: int, record: dict, changes: dict | None, now: datetime, **more) -> dict:
    data: dict[str, Any] = {"type": kind, "id": record_id, **more, "record": record}
    if changes is not None:
        data["changes"] = changes
    return {"event": name, "occurred_at": now.isoformat() + "Z", "data": data}


def _deliveries(subscriptions, name: str, payload: dict, now: datetime) -> list[dict]:
    """One waiting delivery of `payload` per subscription wanting event `name`."""
    return [
        {
            "subscription_id": subscription_id,
            "event": name,
            "payload": payload,
            "status": "pending",
            "attempts": 0,
            "created_at": now,
            "next_attempt_at": now,
        }
        for subscription_id, events in subscriptions
        if name in events
    ]


def _is_event_source(obj) -> bool:
    return type(obj) in TYPES or isinstance(obj, MergeRecord)


@event.listens_for(Session, "after_flush")
def _record_events(session: Session, flush_context) -> None:
    """Ask first, cheaply: did the flush write a record events are about, and does any subscription
    want an event (read once per transaction)? Only then are the events found and the records
    serialised, and only the wanted ones."""
    written = (*session.new, *session.dirty, *session.deleted)
    if any(isinstance(obj, WebhookSubscription) for obj in written):
        session.info.pop(_SUBSCRIPTIONS_KEY, None)
    if not any(_is_event_source(obj) for obj in written):
        return
    subscriptions = _subscriptions(session)
    wanted = {name for _id, events in subscriptions for name in events}
    if not wanted:
        return
    now = utcnow()
    rows = []
    for name, obj, changes, more in _events_of_flush(session, wanted):
        payload = _payload(name, TYPES[type(obj)], obj.id, _record_payload(obj), changes, now, **more)
        rows += _deliveries(subscriptions, name, payload, now)
    if rows:
        ids = session.connection().execute(insert(WebhookDelivery).returning(WebhookDelivery.id), rows)
        session.info.setdefault("webhook_deliveries", []).extend(ids.scalars().all())


#: A set-based write's audit action → the event's verb.
_WRITTEN = {"create": "created", "update": "updated"}


def record_written(session: Session, model: type[Any], written: list[dict]) -> None:
    """Events for rows a set-based write (an import batch) inserted or updated without the ORM, in its
    transaction: `written` are its audit events (entity_id, action "create"/"update", changes).
    The batch's records are read in one query, the deliveries inserted at once (services.bulk), and
    after the commit they go to the queue in a few messages (`queue`). Nothing is read without a
    subscription wanting the events."""
    from services import bulk

    kind = WATCHED[model]
    subscriptions = _subscriptions(session) if written else []
    wanted = {f"{kind}.{verb}" for verb in _WRITTEN.values()} & {e for _id, events in subscriptions for e in events}
    chosen = [w for w in written if f"{kind}.{_WRITTEN.get(w['action'])}" in wanted]
    if not chosen:
        return
    table = table_of(model)
    ids = [w["entity_id"] for w in chosen]
    result = session.execute(select(table).where(bulk.one_of(session, table.c.id, ids)))
    keys, simple, plain = list(result.keys()), (str, int, bool, type(None)), audit.plain
    records = {}
    for row in result:
        record = {key: value if type(value) in simple else plain(value) for key, value in zip(keys, row, strict=True)}
        records[record["id"]] = record
    now = utcnow()
    rows = []
    for w in chosen:
        name = f"{kind}.{_WRITTEN[w['action']]}"
        changes = w["changes"] if w["action"] == "update" else None
        rows += _deliveries(
            subscriptions, name, _payload(name, kind, w["entity_id"], records[w["entity_id"]], changes, now), now
        )
    delivery_table = table_of(WebhookDelivery)
    new_ids = bulk.new_ids(session, delivery_table, len(rows))
    bulk.insert_rows(session, delivery_table, [{"id": i, **row} for i, row in zip(new_ids, rows, strict=True)])
    session.info.setdefault("webhook_deliveries", []).extend(new_ids)


@event.listens_for(Session, "after_commit")
def _queue_after_commit(session: Session) -> None:
    session.info.pop(_SUBSCRIPTIONS_KEY, None)  # the next transaction reads them again
    ids = session.info.pop("webhook_deliveries", None)
    if ids:
        queue(ids)


@event.listens_for(Session, "after_rollback")
def _forget_after_rollback(session: Session) -> None:
    session.info.pop(_SUBSCRIPTIONS_KEY, None)
    session.info.pop("webhook_deliveries", None)


@event.listens_for(Session, "after_soft_rollback")
def _forget_subscriptions_read(session: Session, previous_transaction) -> None:
    """A savepoint rolled back may have taken a subscription with it."""
    session.info.pop(_SUBSCRIPTIONS_KEY, None)


#: Deliveries a queue message carries (an import batch's thousand events are a few messages, not a thousand).
QUEUE_CHUNK = 50


def queue(ids: Iterable[int]) -> None:
    """Put deliveries in the task queue, QUEUE_CHUNK a message (a queue that is down leaves them to the
    periodic sweep)."""
    import logging

    from services import tasks
    from services.webhook_tasks import deliver_task

    ids = list(ids)
    for start in range(0, len(ids), QUEUE_CHUNK):
        chunk = ids[start : start + QUEUE_CHUNK]
        try:
            tasks.submit(deliver_task.s(chunk))
        except Exception:  # the rows stay pending; `requeue_lost` sends them
            logging.getLogger(__name__).exception("queueing webhook deliveries %s failed", chunk)


# --- delivering ---------------------------------------------------------------------------------


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """The value of X-Kundregister-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<body>">."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def retry_delay(attempts: int) -> float:
    """Seconds before the next try after `attempts` failed ones: 30 s doubling, at most 2 hours."""
    return float(min(FIRST_RETRY_SECONDS * 2 ** max(attempts - 1, 0), MAX_RETRY_SECONDS))


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None  # a 3xx is the answer (a redirect could lead to an internal address)


class _Connections:
    """The sockets one delivery opens: each checked against internal addresses unless allowed (the
    address connected to is the one checked: a name may resolve differently than when it was
    checked, DNS rebinding), and all shut when the delivery's deadline passes."""

    def __init__(self, allow_internal: bool) -> None:
        self.allow_internal, self.expired = allow_internal, threading.Event()
        self.sockets: list[socket.socket] = []

    def create(self, host: str, proxied: bool):
        def create_connection(address, *args, **kwargs):
            sock = socket.create_connection(address, *args, **kwargs)
            self.sockets.append(sock)
            internal = None if self.allow_internal or proxied else _internal(str(sock.getpeername()[0]))
            if internal is not None:
                sock.close()
                raise _refused(host, internal)
            if self.expired.is_set():
                sock.close()
            return sock

        return create_connection

    def expire(self) -> None:
        """The deadline passed: a receiver still answering gets no more time."""
        self.expired.set()
        for sock in self.sockets:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def _through_proxy(req) -> bool:
    """The request goes through a proxy (HTTP_PROXY/HTTPS_PROXY): the proxy connects, so the address
    connected to is the proxy's; the host name was checked before (check_url)."""
    return req.has_proxy() or bool(getattr(req, "_tunnel_host", None))


def _connection_class(base: type, connections: _Connections, proxied: bool) -> Any:
    class Connection(base):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self._create_connection = connections.create(self.host, proxied)

    return Connection


class _HTTPHandler(urllib.request.HTTPHandler):
    def __init__(self, connections: _Connections) -> None:
        super().__init__()
        self.connections = connections

    def http_open(self, req):
        return self.do_open(_connection_class(http.client.HTTPConnection, self.connections, _through_proxy(req)), req)


class _HTTPSHandler(urllib.request.HTTPSHandler):
    def __init__(self, connections: _Connections) -> None:
        super().__init__()
        self.connections = connections

    def https_open(self, req):
        connection = _connection_class(http.client.HTTPSConnection, self.connections, _through_proxy(req))
        return self.do_open(connection, req, context=getattr(self, "_context", None))


def _post(url: str, body: bytes, headers: dict, allow_internal: bool = False) -> int:
    """POST and return the status code; raises OSError when no answer came (in DEADLINE_SECONDS:
    each read may take TIMEOUT_SECONDS, the whole delivery no longer than that), RefusedAddress
    when the address connected to is internal and the subscription does not allow that."""
    connections = _Connections(allow_internal)
    opener = urllib.request.build_opener(_NoRedirects(), _HTTPHandler(connections), _HTTPSHandler(connections))
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    timer = threading.Timer(DEADLINE_SECONDS, connections.expire)
    timer.daemon = True
    timer.start()
    try:
        with opener.open(request, timeout=TIMEOUT_SECONDS) as response:
            response.read(1024)
            status = response.status
    except urllib.error.HTTPError as exc:
        status = exc.code
    except (OSError, http.client.HTTPException) as exc:
        if connections.expired.is_set():
            raise TimeoutError(f"no answer within {DEADLINE_SECONDS} s") from None
        if isinstance(exc, http.client.HTTPException):
            raise ValueError(f"not an HTTP answer: {type(exc).__name__}: {exc}") from None
        raise
    finally:
        timer.cancel()
    if connections.expired.is_set():
        raise TimeoutError(f"no answer within {DEADLINE_SECONDS} s")
    return status


def claim(session: Session, delivery_id: int, now: datetime) -> WebhookDelivery | None:
    """Take a waiting delivery (a conditional UPDATE: of two workers, one gets it)."""
    taken = cast(
        CursorResult,
        session.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.id == delivery_id, WebhookDelivery.status.in_(("pending", "retrying")))
            .values(status="sending", last_attempt_at=now)
            .execution_options(synchronize_session=False)
        ),
    ).rowcount
    session.commit()
    return session.get(WebhookDelivery, delivery_id) if taken else None


def attempt(session: Session, delivery: WebhookDelivery, *, now: datetime | None = None, post=_post) -> float | None:
    """Send a claimed delivery once and record how it went; the pause before the next try, or None."""
    now = now or utcnow()
    subscription = delivery.subscription
    body = json.dumps(delivery.payload, ensure_ascii=False, separators=(",", ":")).encode()
    timestamp = str(int(time.time()))
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-Kundregister-Event": delivery.event,
        "X-Kundregister-Delivery": str(delivery.id),
        TIMESTAMP_HEADER: timestamp,
        SIGNATURE_HEADER: signature(subscription.secret, timestamp, body),
    }
    delivery.attempts += 1
    delivery.last_attempt_at = now
    code, error, permanent = None, None, False
    if not subscription.active:
        error, permanent = "The subscription is switched off.", True
    else:
        try:
            check_url(subscription.url, allow_internal=subscription.allow_internal)
            code = post(subscription.url, body, headers, subscription.allow_internal)
        except InvalidValue as exc:  # refused (an internal address): trying again changes nothing
            error, permanent = str(exc), True
        except (OSError, ValueError) as exc:
            error = f"{type(exc).__name__}: {exc}"
    delivery.response_code = code
    if code is not None and 200 <= code < 300:
        delivery.status, delivery.delivered_at, delivery.error, delivery.next_attempt_at = "delivered", now, None, None
        return None
    delivery.error = (error or f"HTTP {code}")[:300]
    pause = retry_delay(delivery.attempts)
    if permanent or now + timedelta(seconds=pause) > delivery.created_at + RETRY_WINDOW:
        delivery.status, delivery.next_attempt_at = "failed", None
        return None
    delivery.status, delivery.next_attempt_at = "retrying", now + timedelta(seconds=pause)
    return pause


def send_again(session: Session, actor: Employee | None, delivery: WebhookDelivery) -> None:
    """ "Skicka igen": send a delivery once more (a new 24-hour window), whatever became of it."""
    _check(actor)
    now = utcnow()
    delivery.status, delivery.created_at, delivery.next_attempt_at, delivery.error = "pending", now, now, None
    session.flush()


def lost(session: Session, now: datetime, *, grace: timedelta = timedelta(minutes=5)) -> list[int]:
    """Deliveries due for a while that nobody took (their queue message was lost), and ones stuck
    "sending" (their worker died): set back to waiting; their ids, to queue again."""
    stuck = (
        select(WebhookDelivery.id)
        .where(WebhookDelivery.status == "sending", WebhookDelivery.last_attempt_at < now - timedelta(minutes=15))
        .limit(500)
    )
    ids = list(session.scalars(stuck))
    if ids:
        session.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.id.in_(ids))
            .values(status="retrying")
            .execution_options(synchronize_session=False)
        )
    due = select(WebhookDelivery.id).where(
        WebhookDelivery.status.in_(("pending", "retrying")), WebhookDelivery.next_attempt_at < now - grace
    )
    return sorted(set(ids) | set(session.scalars(due.limit(500))))


def log(session: Session, subscription: WebhookSubscription, *, limit: int = 50) -> list[WebhookDelivery]:
    """The subscription's latest deliveries, newest first."""
    stmt = (
        select(WebhookDelivery)
        .where(WebhookDelivery.subscription_id == subscription.id)
        .order_by(WebhookDelivery.id.desc())
        .limit(limit)
    )
    return list(session.scalars(stmt))
