"""The audit trail: every write to an `Audited` model becomes an AuditEvent.

Implemented once, as a ``before_flush`` listener, so the event is written in
the same transaction as the change whatever code made it (views, services,
CLI, import). The actor is whoever `acting_as` names, else the one the web
layer names (the logged-in employee: `set_default_actor` in app.py); a change
made through the REST API also names the API key (`through_api_key`).
"""

from collections.abc import Callable
from contextlib import contextmanager
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Boolean, Date, DateTime, Integer, Numeric, event, inspect
from sqlalchemy.orm import MANYTOONE, Session

from models import Audited, AuditEvent, table_of, utcnow

ACTOR_KEY = "audit_actor_id"
API_KEY_KEY = "audit_api_key_id"


def _nobody() -> int | None:
    return None


#: The actor of writes no `acting_as` block names (the web layer sets the logged-in employee).
_default_actor: Callable[[], int | None] = _nobody


def set_default_actor(provider: Callable[[], int | None]) -> None:
    """Name who acts when no `acting_as` block does (called once by the web layer)."""
    global _default_actor
    _default_actor = provider


@contextmanager
def acting_as(session: Session, employee_id: int | None):
    """Attribute the writes made inside the block to `employee_id`."""
    previous = session.info.get(ACTOR_KEY)
    session.info[ACTOR_KEY] = employee_id
    try:
        yield
    finally:
        session.info[ACTOR_KEY] = previous


def through_api_key(session: Session, api_key_id: int | None) -> None:
    """Name `api_key_id` on every audit event the session writes from now on (None: stop)."""
    if api_key_id is None:
        session.info.pop(API_KEY_KEY, None)
    else:
        session.info[API_KEY_KEY] = api_key_id


def current_actor_id(session: Session) -> int | None:
    """The employee the session's writes are attributed to (acting_as, else the default actor)."""
    if session.info.get(ACTOR_KEY) is not None:
        return session.info[ACTOR_KEY]
    return _default_actor()


def plain(value):
    """A JSON-safe rendering of a column value or related object."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (date, datetime)):
        return value.isoformat(sep=" ") if isinstance(value, datetime) else value.isoformat()
    if isinstance(value, (list, tuple, set)):
        return sorted(str(v) for v in value)
    return str(value)


def unplain(column, value):
    """The inverse of `plain` for a value of `column` (a table's Column): an audited value back as the
    column's Python value (an undo puts it back with it)."""
    if value is None:
        return None
    kind = column.type
    if isinstance(kind, Numeric):
        return Decimal(str(value))
    if isinstance(kind, Boolean):
        return bool(value)
    if isinstance(kind, Integer):
        return int(value)
    if isinstance(kind, DateTime):
        return datetime.fromisoformat(value)
    if isinstance(kind, Date):
        return date.fromisoformat(value)
    return value


def _changes(obj, *, only_changed: bool) -> dict:
    state = inspect(obj)
    changes = {}
    for attr in state.mapper.column_attrs:
        key = attr.key
        if key in obj.audit_exclude or key == "id":
            continue
        hist = state.attrs[key].history
        if only_changed and not hist.has_changes():
            continue
        old = hist.deleted[0] if hist.deleted else None
        new = hist.added[0] if hist.added else getattr(obj, key)
        if only_changed and plain(old) == plain(new):
            continue
        changes[key] = [plain(old), plain(new)] if only_changed else plain(new)
    if only_changed:
        changes.update(_keys_set_through_relationships(obj, state, changes))
    for rel in state.mapper.relationships:
        if rel.secondary is None or not rel.uselist:
            continue  # many-to-many lists (categories); links have their own events
        hist = state.attrs[rel.key].history
        if hist.has_changes():
            new = plain(list(hist.unchanged) + list(hist.added))
            old = plain(list(hist.unchanged) + list(hist.deleted))
            changes[rel.key] = [old, new] if only_changed else new
    return changes


def _keys_set_through_relationships(obj, state, changes: dict) -> dict:
    """Foreign keys changed by setting the related record (`opportunity.stage = …`): the flush copies
    the new record's key into the column only after this listener ran, so the column has no history
    yet: its value is still the old key, and the new one is the related record's."""
    found = {}
    for rel in state.mapper.relationships:
        if rel.direction is not MANYTOONE or rel.viewonly or len(rel.local_columns) != 1:
            continue
        (column,) = rel.local_columns
        (remote,) = rel.remote_side
        key = state.mapper.get_property_by_column(column).key
        if key in changes or key in obj.audit_exclude or not state.attrs[rel.key].history.has_changes():
            continue
        related = getattr(obj, rel.key)
        old, new = plain(getattr(obj, key)), plain(None if related is None else getattr(related, remote.key))
        if old != new:
            found[key] = [old, new]
    return found


def _label(obj) -> str:
    return str(obj)[:200]


def _action(obj, changes: dict) -> str:
    if "deleted_at" in changes:
        return "restore" if changes["deleted_at"][1] is None else "delete"
    return "update"


def _event_row(obj, action: str, changes, actor_id, api_key_id: int | None = None) -> dict:
    row = {
        "actor_id": actor_id,
        "entity_type": type(obj).__tablename__,
        "entity_id": obj.id,
        "entity_label": _label(obj),
        "action": action,
        "changes": changes,
    }
    if api_key_id is not None:  # named only when set: a database migrated to an older revision has no column
        row["api_key_id"] = api_key_id
    return row


def record_bulk(
    session: Session, events: list[dict], *, actor_id: int | None, import_job_id: int | None = None
) -> None:
    """Write many audit events in one statement, for set-based writes that bypass the flush.

    Each event is a dict with entity_type, entity_id, entity_label, action and
    changes (already JSON-safe, see `plain`).
    """
    if not events:
        return
    from services import bulk

    now = utcnow()
    through = {"api_key_id": session.info[API_KEY_KEY]} if session.info.get(API_KEY_KEY) is not None else {}
    bulk.insert_rows(
        session,
        table_of(AuditEvent),
        ({**e, "actor_id": actor_id, "import_job_id": import_job_id, "at": now, **through} for e in events),
    )


def record(session: Session, entity, action: str, changes: dict | None = None) -> AuditEvent:
    """Write one audit event now (for events that are not column changes, e.g. links)."""
    audit = AuditEvent(**_event_row(entity, action, changes, current_actor_id(session), session.info.get(API_KEY_KEY)))
    session.add(audit)
    return audit


def _old_value_loaded(target, value, oldvalue, initiator):
    return value


def _load_old_values_on_set() -> None:
    """Setting an expired column (e.g. after a commit) first reloads it, so the
    event records the real old value instead of None, and no false changes."""
    pending = list(Audited.__subclasses__())
    while pending:
        model = pending.pop()
        pending.extend(model.__subclasses__())
        if not hasattr(model, "__mapper__"):
            continue
        for key in model.__mapper__.columns.keys():
            if key not in model.audit_exclude and key != "id":
                event.listen(getattr(model, key), "set", _old_value_loaded, active_history=True)


_load_old_values_on_set()


#: session.info: the changes of each audited record the current flush writes (`flushed_changes`).
_FLUSHED_KEY = "audit_flushed_changes"


def flushed_changes(session: Session, obj) -> dict:
    """What the flush under way changes on the audited record `obj`, {column: [old, new]} as its audit
    event records it (computed once, before the flush; {} when nothing changed), for the after_flush
    listeners that tell others of it (services.webhooks)."""
    return session.info.get(_FLUSHED_KEY, {}).get(id(obj), {})


@event.listens_for(Session, "before_flush")
def _audit_before_flush(session: Session, flush_context, instances) -> None:
    actor_id, api_key_id = current_actor_id(session), session.info.get(API_KEY_KEY)
    pending_new = [obj for obj in session.new if isinstance(obj, Audited)]
    flushed = session.info[_FLUSHED_KEY] = {}
    for obj in session.dirty:
        if not isinstance(obj, Audited) or not session.is_modified(obj):
            continue
        changes = _changes(obj, only_changed=True)
        flushed[id(obj)] = changes
        if changes:
            session.add(AuditEvent(**_event_row(obj, _action(obj, changes), changes, actor_id, api_key_id)))
    for obj in session.deleted:
        if isinstance(obj, Audited):
            session.add(AuditEvent(**_event_row(obj, "purge", {"name": str(obj)}, actor_id, api_key_id)))
    if pending_new:
        # ids exist only after the INSERT: record creations once they are flushed.
        session.info.setdefault("audit_new", []).extend(pending_new)


@event.listens_for(Session, "after_soft_rollback")
def _forget_unflushed(session: Session, previous_transaction) -> None:
    """A flush that failed (e.g. a validation in another listener) created nothing to record."""
    session.info.pop("audit_new", None)


@event.listens_for(Session, "after_flush_postexec")
def _forget_flushed_changes(session: Session, flush_context) -> None:
    session.info.pop(_FLUSHED_KEY, None)


@event.listens_for(Session, "after_flush")
def _audit_after_flush(session: Session, flush_context) -> None:
    created = session.info.pop("audit_new", [])
    if not created:
        return
    actor_id, api_key_id = current_actor_id(session), session.info.get(API_KEY_KEY)
    now = utcnow()
    rows = [
        {
            **_event_row(
                obj,
                "create",
                {k: v for k, v in _changes(obj, only_changed=False).items() if v not in (None, "", [])},
                actor_id,
                api_key_id,
            ),
            "at": now,
        }
        for obj in created
    ]
    session.connection().execute(table_of(AuditEvent).insert(), rows)
