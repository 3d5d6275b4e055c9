"""Ringlistor: filling a call list and working it, one call at a time.

Only people who may be called for marketing get on a list (services.consent, channel "phone"):
the others are left out and counted by reason, and a company's contacts who may not be called
are not offered as numbers to call; nor is a lead or contact whose consent was withdrawn after
they were put on the list (`not_to_call`: the list says why).

Every recorded outcome is also kept as a call activity on the lead, company
or contact called, so it shows in their history; "ring tillbaka" adds a task
at the agreed time, and calling a new lead makes it "kontaktad".
"""

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from flask_babel import gettext as _
from flask_babel import to_user_timezone
from sqlalchemy import and_, func, select, text
from sqlalchemy.orm import Session, joinedload

from models import Activity, CallList, CallListEntry, Company, CompanyContact, Contact, Employee, Lead, utcnow
from services import activities, consent, privacy, trash
from services.validation import InvalidValue


@dataclass
class Added:
    """What putting rows on a call list did: how many were added, and who was left out for consent."""

    added: int
    selection: consent.Selection

    @property
    def already(self) -> int:
        """Rows that could be called but were on the list already."""
        return len(self.selection.included) - self.added


def add_entries(session: Session, call_list: CallList, targets) -> Added:
    """Append the leads, companies and contacts that may be called (services.consent; not an erased person,
    who has no number left: services.privacy) and are not already on the list."""
    selection = reachable(session, targets)
    field = {Lead: "lead_id", Company: "company_id", Contact: "contact_id"}
    present: set[tuple[int | None, ...]] = {(e.lead_id, e.company_id, e.contact_id) for e in call_list.entries}
    position = max((e.position for e in call_list.entries), default=0)
    added = 0
    for target in selection.included:
        key = tuple(
            target.id if field[type(target)] == name else None for name in ("lead_id", "company_id", "contact_id")
        )
        if key in present:
            continue
        present.add(key)
        position += 1
        call_list.entries.append(CallListEntry(position=position, **{field[type(target)]: target.id}))
        added += 1
    return Added(added, selection)


def reachable(session: Session, targets) -> consent.Selection:
    """The `targets` that may be called (services.consent), not an erased person (services.privacy: no number
    is left), and the others counted by reason."""
    targets = list(targets)
    erased = _erased(session, targets)
    selection = consent.reachable([t for t in targets if (type(t), t.id) not in erased], "phone")
    if erased:
        selection.skipped[consent.ERASED] += len(erased)
    return selection


def _erased(session: Session, targets: list) -> set[tuple[type, int]]:
    """(model, id) of the erased persons' records among `targets`, one statement for each kind."""
    ids: dict[str, list[int]] = defaultdict(list)
    for target in targets:
        if (kind := privacy.kind_of(type(target))) is not None:
            ids[kind].append(target.id)
    return {
        (privacy.KINDS[kind], i) for kind, of_kind in ids.items() for i in privacy.erased_ids(session, kind, of_kind)
    }


NAME_MAX = 200


def default_name() -> str:
    """What a new call list is called when the employee gives no name: to the second, so a second list made
    within the same minute is not refused as the first one sent twice."""
    return _("Call list %(date)s", date=to_user_timezone(utcnow()).strftime("%Y-%m-%d %H:%M:%S"))


def new_list(session: Session, actor: Employee, targets, name: str | None = None) -> CallList:
    """A new call list of `actor` holding `targets` in the given order. Its name is not one of
    `actor`'s lists already (InvalidValue): a second list of that name was a form sent twice."""
    name = (name or "").strip() or default_name()
    if len(name) > NAME_MAX:
        raise InvalidValue(_("The name may be at most %(max)s characters.", max=NAME_MAX))
    _lock_new_lists(session, actor)
    if session.scalar(select(CallList.id).where(CallList.owner_id == actor.id, CallList.name == name).limit(1)):
        raise InvalidValue(
            _(
                "You already have a call list named %(name)s: choose it to add to it, or give the new list "
                "another name.",
                name=name,
            )
        )
    call_list = CallList(name=name, owner=actor)
    session.add(call_list)
    add_entries(session, call_list, targets)
    return call_list


#: PostgreSQL's advisory lock space of an employee's new call lists ("CALL").
NEW_LIST_LOCK_SPACE = 0x43414C4C


def _lock_new_lists(session: Session, actor: Employee) -> None:
    """Until the transaction ends, only this one makes a call list of `actor`: "Lägg till i ringlista"
    sent twice (a double click) waits for the first, then finds its list by the name and is refused,
    where both made a list of the same 1,995 entries. PostgreSQL: an advisory lock on the employee;
    SQLite: the database's write lock, which its writers take one at a time anyway."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(
            text("SELECT pg_advisory_xact_lock(:space, :owner)"), {"space": NEW_LIST_LOCK_SPACE, "owner": actor.id}
        )
    else:
        session.execute(text("UPDATE call_list SET id = id WHERE 0"))  # a write: takes the lock, changes nothing


#: An entry's lead, company or contact (it has one of them), and that model.
_TARGETS = ((CallListEntry.lead, Lead), (CallListEntry.company, Company), (CallListEntry.contact, Contact))


def in_trash(entry: CallListEntry) -> bool:
    """Whether the lead, company or contact of `entry` is in the trash: the entry stays on the list, outcome and
    note kept, shown as in the trash, neither called nor counted until its record is restored (`not_in_trash`)."""
    target = entry.target
    return target is not None and target.is_deleted


def not_in_trash():
    """Entries whose lead, company or contact is not in the trash (`in_trash`, in SQL)."""
    return and_(*(~relation.has(model.deleted_at.is_not(None)) for relation, model in _TARGETS))


def entries(session: Session, call_list: CallList) -> list[CallListEntry]:
    """Every entry of the list in list order, each with its lead, company or contact, in one statement."""
    return list(
        session.scalars(
            select(CallListEntry)
            .where(CallListEntry.call_list_id == call_list.id)
            .options(*(joinedload(relation) for relation, _model in _TARGETS))
            .order_by(CallListEntry.position, CallListEntry.id)
        )
    )


def next_entry(session: Session, call_list: CallList) -> CallListEntry | None:
    """The first entry not called yet, in list order (not one in the trash), with what `phones` reads."""
    return session.scalars(
        select(CallListEntry)
        .where(CallListEntry.call_list_id == call_list.id, CallListEntry.called_at.is_(None), not_in_trash())
        .options(
            joinedload(CallListEntry.lead),
            joinedload(CallListEntry.contact),
            joinedload(CallListEntry.company).selectinload(Company.contact_links).joinedload(CompanyContact.contact),
        )
        .order_by(CallListEntry.position, CallListEntry.id)
        .limit(1)
    ).first()


def progress(session: Session, call_list: CallList) -> tuple[int, int]:
    """(called, total) entries of the list, not counting those in the trash."""
    total, called = session.execute(
        select(func.count(), func.count(CallListEntry.called_at)).where(
            CallListEntry.call_list_id == call_list.id, not_in_trash()
        )
    ).one()
    return called, total


def progress_of(session: Session, call_list_ids) -> dict[int, tuple[int, int]]:
    """(called, total) entries of each of these lists, in one statement (a list page's figures), as `progress`."""
    rows = session.execute(
        select(CallListEntry.call_list_id, func.count(CallListEntry.called_at), func.count())
        .where(CallListEntry.call_list_id.in_(list(call_list_ids)), not_in_trash())
        .group_by(CallListEntry.call_list_id)
    )
    found = {list_id: (called, total) for list_id, called, total in rows}
    return {list_id: found.get(list_id, (0, 0)) for list_id in call_list_ids}


def not_to_call(entry: CallListEntry) -> str | None:
    """Why the lead or contact of `entry` may no longer be called for marketing (their consent was
    withdrawn, or their basis changed, since they were put on the list), or None when they may."""
    target = entry.target
    if isinstance(target, (Lead, Contact)):
        reason = consent.exclusion(target, "phone")
        return str(consent.REASONS[reason]) if reason else None
    return None


def phones(entry: CallListEntry) -> list[str]:
    """The numbers to call for an entry, most direct first (E.164); none for a person who may no
    longer be called (`not_to_call`)."""
    target = entry.target
    if not_to_call(entry):
        return []
    if isinstance(target, Lead):
        numbers = [target.contact_phone]
    elif isinstance(target, Company):
        callable_contacts = [c for c in target.contacts if consent.exclusion(c, "phone") is None]
        numbers = [target.phone] + [c.mobile or c.phone for c in callable_contacts]
    else:
        numbers = [target.mobile, target.phone] if target is not None else []
    return list(dict.fromkeys(n for n in numbers if n))


def record_outcome(
    session: Session,
    actor: Employee,
    entry: CallListEntry,
    outcome: str,
    *,
    note: str | None = None,
    callback_at: datetime | None = None,
) -> Activity:
    """Keep the outcome of a call on the entry and as a call activity (plus a task to call back)."""
    if outcome not in CallListEntry.OUTCOMES:
        raise InvalidValue(_("Choose the outcome of the call."))
    trash.refuse_if_in_trash(session, lead=entry.lead, company=entry.company, contact=entry.contact)
    if outcome == "call_back" and callback_at is None:
        raise InvalidValue(_("Give the date and time to call back."))
    now = utcnow()
    entry.outcome, entry.note, entry.called_at, entry.called_by_id = (
        outcome,
        (note or "").strip() or None,
        now,
        actor.id,
    )
    entry.callback_at = callback_at if outcome == "call_back" else None
    target = entry.target
    links = {"lead_id": entry.lead_id, "company_id": entry.company_id, "contact_id": entry.contact_id}
    if isinstance(target, Lead):
        links.update(company_id=target.company_id, contact_id=target.contact_id)
        if target.status == "new":
            target.status = "contacted"
        if outcome == "interested" and target.status in ("new", "contacted"):
            target.status = "qualified"
    label = str(CallListEntry.OUTCOMES[outcome])
    call = activities.create(
        session,
        actor,
        kind="call",
        subject=_("Call: %(outcome)s", outcome=label),
        description=entry.note,
        due_at=now,
        **links,
    )
    activities.set_done(call, at=now)
    if outcome == "call_back":
        activities.create(
            session,
            actor,
            kind="task",
            subject=_(
                "Call back %(name)s", name=str(target.name if not isinstance(target, Lead) else target.company_name)
            ),
            due_at=callback_at,
            **links,
        )
    return call
