"""Deleting customers to the trash, restoring them, and purging them for good.

Who may do what is decided here, so every caller (list view, trash page,
CLI) enforces the same rule; the audit events name the acting employee.
"""

from typing import Any

from flask_babel import gettext as _
from sqlalchemy import delete as delete_rows
from sqlalchemy import exists, or_, select
from sqlalchemy.orm import Session, joinedload

from models import Activity, Attachment, Company, Contact, Employee, Invoice, Lead, Opportunity, SalesOrder, utcnow
from services import paging
from services.audit import acting_as
from services.storage import Storage, delete_at_commit
from services.validation import InvalidValue

#: The permission each operation needs, per kind of customer.
_PERMISSION = {
    ("delete", Company): "company.delete",
    ("delete", Contact): "contact.delete",
    ("restore", Company): "company.restore",
    ("restore", Contact): "company.restore",
    ("purge", Company): "company.purge",
    ("purge", Contact): "company.purge",
    ("delete", Lead): "lead.delete",
    ("restore", Lead): "lead.restore",
    ("purge", Lead): "lead.purge",
}


class NotPermitted(PermissionError):
    """The employee lacks the permission for this trash operation."""


def permission(operation: str, model) -> str:
    """The permission `operation` ("delete", "restore", "purge") on rows of `model` needs."""
    return _PERMISSION[(operation, model)]


def _check(actor: Employee, operation: str, model) -> None:
    if not actor.has_permission(permission(operation, model)):
        raise NotPermitted(operation)


def _rows(session: Session, model, ids, *, deleted: bool):
    state = model.deleted_at.is_not(None) if deleted else model.deleted_at.is_(None)
    ids = [int(i) for i in ids]
    return list(session.scalars(select(model).where(model.id.in_(ids), state)))


def delete(session: Session, actor: Employee, model, ids) -> int:
    """Move live customers to the trash, links and history intact."""
    _check(actor, "delete", model)
    rows = _rows(session, model, ids, deleted=False)
    now = utcnow()
    with acting_as(session, actor.id):
        for row in rows:
            row.deleted_at = now
            row.deleted_by_id = actor.id
        session.flush()
    return len(rows)


def restore(session: Session, actor: Employee, model, ids) -> int:
    """Bring customers back from the trash ("Återställa kunder")."""
    _check(actor, "restore", model)
    rows = _rows(session, model, ids, deleted=True)
    with acting_as(session, actor.id):
        for row in rows:
            row.deleted_at = None
            row.deleted_by_id = None
        session.flush()
    return len(rows)


class CannotPurge(InvalidValue):
    """Some of the customers ticked for a purge must be kept; nothing was deleted.

    `reasons`: {(model, id): the Swedish reason}, one per customer kept."""

    def __init__(self, reasons: dict) -> None:
        super().__init__(" ".join(reasons.values()))
        self.reasons = reasons


def _has_document(model, row_id: int, *, reference: bool):
    """Whether an order or an invoice is the customer's (`reference`: names the contact as Er referens)."""
    checks = []
    for document in (Invoice, SalesOrder):
        if reference:
            column = document.their_reference_id
        else:
            column = document.company_id if model is Company else document.contact_id
        checks.append(exists().where(column == row_id))
    return or_(*checks)


def purge_blockers(session: Session, model, ids) -> dict:
    """Why some of these customers in the trash cannot be purged: {(model, id): reason}.

    Orders and invoices are accounting records (räkenskapsinformation) that the Bokföringslagen
    requires to be kept for seven years, with the customer they were made out to, so a customer
    with any — or a contact named as Er referens on one — is kept. Everything else of a customer
    is its own history and goes with it (opportunities, activities, e-mail, call list entries,
    files, custom field values, contact links: ON DELETE CASCADE); a lead converted to it is
    detached and kept (ON DELETE SET NULL)."""
    reasons: dict = {}
    if model is Lead:  # a lead is never an order's or an invoice's customer
        return reasons
    for row in _rows(session, model, ids, deleted=True):
        if session.scalar(select(_has_document(model, row.id, reference=False))):
            reasons[(model, row.id)] = _(
                "%(name)s cannot be deleted permanently: it has invoices or orders, which must be kept "
                "for seven years (Bokföringslagen).",
                name=row.name,
            )
        elif model is Contact and session.scalar(select(_has_document(model, row.id, reference=True))):
            reasons[(model, row.id)] = _(
                "%(name)s cannot be deleted permanently: it is the customer's reference on invoices or "
                "orders, which must be kept for seven years (Bokföringslagen).",
                name=row.name,
            )
    return reasons


def purge_all(session: Session, storage: Storage, actor: Employee, selection: dict) -> dict:
    """Purge `selection` ({model: ids}) as one, {model: how many}: when any of the customers must be kept,
    CannotPurge names each and nothing is deleted (a permanent deletion removes exactly what was confirmed)."""
    for model in selection:
        _check(actor, "purge", model)
    reasons: dict = {}
    for model, ids in selection.items():
        reasons.update(purge_blockers(session, model, ids))
    if reasons:
        raise CannotPurge(reasons)
    return {model: _destroy(session, storage, actor, model, ids) for model, ids in selection.items()}


def purge(session: Session, storage: Storage, actor: Employee, model, ids) -> int:
    """Destroy customers that are already in the trash; never a live one. Their files go from the
    storage when the deletion commits (the database drops their rows by cascade). A customer that
    must be kept (`purge_blockers`) is refused with CannotPurge before anything is deleted."""
    return purge_all(session, storage, actor, {model: ids})[model]


def _destroy(session: Session, storage: Storage, actor: Employee, model, ids) -> int:
    """`purge` of rows already checked."""
    rows = _rows(session, model, ids, deleted=True)
    if model is Lead:  # no file area; its call-list entries go by cascade, and its activities with it
        session.execute(
            delete_rows(Activity)
            .where(
                Activity.lead_id.in_([row.id for row in rows]),
                Activity.company_id.is_(None),
                Activity.contact_id.is_(None),
                Activity.opportunity_id.is_(None),
            )
            .execution_options(synchronize_session=False)
        )
    else:
        owner = Attachment.company_id if model is Company else Attachment.contact_id
        files = select(Attachment.storage_key).where(owner.in_([row.id for row in rows]))
        delete_at_commit(session, storage, session.scalars(files).all())
    with acting_as(session, actor.id):
        for row in rows:
            session.delete(row)
        session.flush()
    return len(rows)


def refuse_if_in_trash(session: Session | None, *, company=None, contact=None, opportunity=None, lead=None) -> None:
    """Nothing is added to a customer or lead in the trash (an opportunity, an activity…): restore it first.
    `company`/`contact`/`opportunity`/`lead` are rows or ids (None: not linked; an id is read through
    `session`); an opportunity is in the trash with its customer."""
    for model, value in ((Company, company), (Contact, contact), (Opportunity, opportunity), (Lead, lead)):
        if isinstance(value, int) and session is None:
            continue  # an id, and no session to read it through
        row: Any = session.get(model, value) if isinstance(value, int) and session is not None else value
        if row is not None and row.is_deleted:
            customer = row.customer if isinstance(row, Opportunity) else row  # in the trash: it has one
            name = "" if customer is None else customer.company_name if isinstance(customer, Lead) else customer.name
            if isinstance(customer, Lead):
                raise InvalidValue(_("%(name)s is in the trash: restore the lead before adding to it.", name=name))
            raise InvalidValue(_("%(name)s is in the trash: restore the customer before adding to it.", name=name))


def in_trash(model):
    """The customers of `model` in the trash, with who deleted them (unordered: see `trash_order`)."""
    return select(model).where(model.deleted_at.is_not(None)).options(joinedload(model.deleted_by))


def trash_order(model) -> paging.ListOrder:
    """Newest deletion first, read page by page from the partial index on the deleted rows."""
    return paging.ListOrder(model.deleted_at, model.id, descending=True)


def deleted(session: Session, model):
    """Every customer of `model` in the trash, newest deletion first."""
    return list(session.scalars(in_trash(model).order_by(model.deleted_at.desc(), model.id.desc())))
