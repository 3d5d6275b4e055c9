"""Sparade sökningar: a list's search and search options kept under a name.

A saved search is the list's query string (search text, "Fler sökalternativ"
filters, sort) and nothing else, so it runs again exactly as the list would:
open it to see today's matches, or put every match on a call list.
"""

from urllib.parse import parse_qsl, urlencode

from flask_babel import gettext as _
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from models import Employee, SavedSearch
from services.search import MAX_SEARCH_LENGTH
from services.validation import InvalidValue

NAME_MAX = 100
#: The longest stored query string (every option, URL-encoded): it is the address the list is opened at.
QUERY_MAX = 8 * MAX_SEARCH_LENGTH


class NotPermitted(PermissionError):
    """Sharing a search with every colleague needs `saved.share`."""


def search_args(args) -> list[tuple[str, str]]:
    """The part of a list's query string that is the search: text, filters and sort, in order."""
    pairs = args.items(multi=True) if hasattr(args, "items") else args
    kept = [(k, v) for k, v in pairs if v != "" and (k in ("search", "sort", "desc") or k.startswith("flt"))]
    return sorted(kept)


def save(session: Session, owner: Employee, view: str, name: str, args, shared: bool = False) -> SavedSearch:
    """Save (or, under the same name, replace) `owner`'s search of the list `view`;
    sharing it with every colleague needs `saved.share`."""
    if shared and not owner.has_permission("saved.share"):
        raise NotPermitted("saved.share")
    name = (name or "").strip()
    if not name:
        raise InvalidValue(_("Give the search a name."))
    if len(name) > NAME_MAX:
        raise InvalidValue(_("The name may be at most %(max)s characters.", max=NAME_MAX))
    kept = search_args(args)
    if not any(k == "search" or k.startswith("flt") for k, _v in kept):
        raise InvalidValue(_("There is no search to save: search or choose search options first."))
    _refuse_too_long(kept)
    saved = session.scalar(
        select(SavedSearch).where(SavedSearch.owner_id == owner.id, SavedSearch.view == view, SavedSearch.name == name)
    ) or SavedSearch(owner=owner, view=view, name=name)
    saved.query, saved.shared = urlencode(kept), bool(shared)
    session.add(saved)
    return saved


def _refuse_too_long(kept: list[tuple[str, str]]) -> None:
    """The search text and each option at most MAX_SEARCH_LENGTH characters (the API's cap of `q`),
    and the whole query string at most QUERY_MAX: InvalidValue otherwise."""
    for key, value in kept:
        if len(value) > MAX_SEARCH_LENGTH:
            if key == "search":
                raise InvalidValue(_("The search text may be at most %(max)s characters.", max=MAX_SEARCH_LENGTH))
            raise InvalidValue(_("A search option may be at most %(max)s characters.", max=MAX_SEARCH_LENGTH))
    if len(urlencode(kept)) > QUERY_MAX:
        raise InvalidValue(
            _("The search has too many options to save (at most %(max)s characters in all).", max=QUERY_MAX)
        )


def args_to_return_to(args) -> list[tuple[str, str]]:
    """The search to show the list with after a refused save: the search's own arguments, or none
    when they are too long (they would make an address of any length)."""
    kept = search_args(args)
    try:
        _refuse_too_long(kept)
    except InvalidValue:
        return []
    return kept


def visible(session: Session, employee: Employee, view: str | None = None) -> list[SavedSearch]:
    """The employee's own saved searches and those others share, by name."""
    stmt = select(SavedSearch).where(or_(SavedSearch.owner_id == employee.id, SavedSearch.shared))
    if view is not None:
        stmt = stmt.where(SavedSearch.view == view)
    return list(session.scalars(stmt.order_by(SavedSearch.name, SavedSearch.id)))


def get_visible(session: Session, employee: Employee, saved_id: int) -> SavedSearch | None:
    """One saved search the employee may run (own or shared), else None."""
    saved = session.get(SavedSearch, saved_id)
    return saved if saved is not None and (saved.owner_id == employee.id or saved.shared) else None


def args_of(saved: SavedSearch) -> list[tuple[str, str]]:
    """The saved query string as (name, value) pairs, for the list view to run."""
    return parse_qsl(saved.query, keep_blank_values=False)


def may_delete(employee: Employee, saved: SavedSearch) -> bool:
    """Only the owner, or an administrator of settings, deletes a saved search."""
    return saved.owner_id == employee.id or employee.has_permission("settings.manage")


def delete(session: Session, employee: Employee, saved: SavedSearch) -> None:
    """Delete `saved` (see `may_delete`)."""
    if not may_delete(employee, saved):
        raise NotPermitted("saved search of another employee")
    session.delete(saved)
