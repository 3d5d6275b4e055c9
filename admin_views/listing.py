"""Keyset-paged lists for Flask-Admin model views; the one module that reads Flask-Admin's
list internals.

Flask-Admin pages a list with OFFSET and counts every matching row on every
view: at a million customers that is seconds per page. `KeysetListMixin`
keeps Flask-Admin's search, filters and sort (its public
`get_list(..., execute=False)` builds the query) and replaces the rest:

- the page is read by key (services.paging.ListOrder on the sort column and
  the id), addressed by `?after=`/`?before=` tokens, `?last=1`, and
  `?goto=` (a letter, number or date of the sort column); Flask-Admin's
  `?page=N` still works while it reaches no deeper than the count cap, and is
  refused with a message beyond it;
- the count stops at services.paging.COUNT_CAP ("fler än 10 000");
- `list_load_options` load what the rows show (a contact's companies) per
  page, not per row, and `prefetch_list(rows)` lets a view fetch figures for
  the whole page in one statement.

Flask-Admin internals are read through admin_views/flask_admin_adapter.py
(the sort attribute of a column, the default order); `_get_list_extra_args()`
is overridden here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from flask import flash, g, request, url_for
from flask_babel import get_locale, ngettext
from flask_babel import gettext as _
from sqlalchemy import inspect as sa_inspect

from admin_views import flask_admin_adapter
from extensions import db
from services import formatting, paging, word_index
from services import search as search_service
from services.paging import InvalidCursor, ListOrder

#: Query-string parameters of a keyset page (never carried into sort, search or filter links).
PAGE_PARAMS = ("after", "before", "last", "goto", "page")


@dataclass
class Pager:
    """Links to the first, previous, next and last page of a keyset-paged list; `make_url` builds
    the address of the list with the page parameters given (prefixed with `prefix` where several
    lists share a page)."""

    page: paging.Page
    make_url: Callable[..., str]
    prefix: str = ""

    def url(self, **params) -> str:
        return self.make_url(**{self.prefix + k: v for k, v in params.items()})

    @property
    def first_url(self) -> str:
        return self.url()

    @property
    def last_url(self) -> str:
        return self.url(last=1)

    @property
    def previous_url(self) -> str:
        return self.url(before=self.page.previous) if self.page.previous else self.first_url

    @property
    def next_url(self) -> str:
        return self.url(after=self.page.next) if self.page.next else self.last_url

    @property
    def shown(self) -> bool:
        return self.page.has_previous or self.page.has_next


def read_page(
    order,
    stmt,
    args,
    *,
    per_page: int,
    prefix: str = "",
    seek=None,
    offset: int = 0,
    total: bool = False,
    narrow: bool = False,
) -> paging.Page:
    """The page of `stmt` that the request's `?after=`, `?before=`, `?last=` (each with `prefix`)
    name; a token that is not one of ours gives the first page and a message. `total`, `narrow`: see
    services.paging `_Order.page`."""
    try:
        return order.page(
            db.session,
            stmt,
            per_page=per_page,
            after=args.get(prefix + "after") or None,
            before=args.get(prefix + "before") or None,
            last=bool(args.get(prefix + "last")),
            seek=seek,
            offset=offset,
            total=total,
            narrow=narrow,
        )
    except InvalidCursor:
        message = _("The page could not be found again (the address is not complete); the first page is shown.")
        flash(message, "warning")
        return order.page(db.session, stmt, per_page=per_page, total=total, narrow=narrow)


@dataclass
class ListState:
    """What the list template needs to show the page's place and move on from it."""

    page: paging.Page
    count: paging.Count
    #: "letter", "number" or "date": what "go to" asks for on this sort; "" for none
    seek_kind: str
    goto: str = ""
    #: the list's query string without the page parameters
    args: dict = field(default_factory=dict)
    #: the address of this very page (to come back to after an edit)
    here: str = ""

    @property
    def pager(self) -> Pager:
        return Pager(self.page, lambda **params: url_for(".index_view", **self.args, **params))

    @property
    def count_text(self) -> str:
        return count_text(self.count)

    @property
    def goto_label(self) -> str:
        return {
            "letter": _("Go to letter"),
            "number": _("Go to number"),
            "date": _("Go to date"),
        }.get(self.seek_kind, "")


def count_text(count: paging.Count) -> str:
    """ "1 234 poster", "fler än 10 000 poster" when counting stopped at the cap, "cirka …" for an estimate."""
    number = formatting.integer(count.value, str(get_locale() or "sv"))
    if count.estimate:
        return _("about %(count)s records", count=number)
    if not count.exact:
        return _("more than %(count)s records", count=number)
    return ngettext("%(count)s record", "%(count)s records", count.value, count=number)


def figure_text(count: paging.Count) -> str:
    """A start-page figure: "1 234", "fler än 10 000", "cirka 1 000 000"."""
    number = formatting.integer(count.value, str(get_locale() or "sv"))
    if count.estimate:
        return _("about %(count)s", count=number)
    if not count.exact:
        return _("more than %(count)s", count=number)
    return number


def _column_of(attr):
    """The table column behind a mapped attribute, or None (a relation, an expression)."""
    prop = getattr(attr, "property", None)
    columns = getattr(prop, "columns", None)
    return columns[0] if columns else None


class KeysetListMixin:
    """Lists read by key, counted with a cap; mixed into SecureModelView."""

    #: Flask-Admin must not count: the count here is capped (services.paging.quick_count).
    simple_list_pager = True
    #: Loader options for what a list page shows of each row's relations (e.g. a contact's companies).
    list_load_options: tuple = ()
    #: Sort columns (names) whose rows without a value come first, whichever the direction and the database
    #: (services.paging.ListOrder `empty_first`): an invoice without a number is a draft, worked on now.
    empty_sorts_first: tuple[str, ...] = ()

    # --- the order ---------------------------------------------------------------------

    def list_order(self, sort_column, sort_desc) -> ListOrder:
        """The keyset order of the list: the chosen sortable column, else the default sort,
        then the primary key, all in one direction."""
        pk = sa_inspect(self.model).primary_key[0]
        id_attr = getattr(self.model, pk.key)
        attrs, descending = None, bool(sort_desc)
        sortable = flask_admin_adapter.sortable_columns(self)
        if sort_column is not None and sort_column in sortable:
            chosen = sortable[sort_column]
            attrs = list(chosen) if isinstance(chosen, (list, tuple)) else [chosen]
        if not attrs or not all(self._own_column(a) for a in attrs):
            order = flask_admin_adapter.default_order(self)
            attrs = [attr for attr, _joins, _desc in order if self._own_column(attr)]
            descending = bool(order[0][2]) if order else False
        attrs = attrs or [id_attr]
        first = _column_of(attrs[0])
        return ListOrder(
            attrs,
            id_attr,
            descending=descending,
            nullable=bool(first is not None and first.nullable),
            empty_first=first is not None and first.name in self.empty_sorts_first,
        )

    def _own_column(self, attr) -> bool:
        column = _column_of(attr)
        return column is not None and getattr(attr, "class_", None) is not None and column.table is self.model.__table__

    # --- Flask-Admin's hooks -------------------------------------------------------------

    def _get_list_extra_args(self):
        """The page parameters are not "extra" arguments to keep: a link that sorts, searches or
        filters starts again at the first page."""
        view_args = super()._get_list_extra_args()
        view_args.extra_args = {k: v for k, v in view_args.extra_args.items() if k not in PAGE_PARAMS}
        return view_args

    def get_list(self, page, sort_column, sort_desc, search, filters, execute=True, page_size=None):
        """Flask-Admin's query (search, filters, eager loads), read one keyset page at a time."""
        count, query = super().get_list(None, sort_column, sort_desc, search, filters, execute=False, page_size=0)
        if not execute:
            return count, query
        stmt = query.order_by(None).statement
        if self.list_load_options:
            stmt = stmt.options(*self.list_load_options)
        order = self.list_order(sort_column, sort_desc)
        by_words = None if request.args.get("goto", "").strip() else word_index.ordered(order, stmt)
        # A rare term's matches are all found, then sorted: the first page counts them as it goes.
        few = by_words is not None or search_service.few_matches(db.session, self.model, search)
        if by_words is not None:
            order = by_words
        elif few:
            order = order.of_few_rows()
        per_page = page_size or self.page_size
        narrow = search_service.found_first(self.model, stmt)
        result = self._read_page(order, stmt, per_page, page or 0, total=few, narrow=narrow)
        if result.total is not None:
            count = (
                paging.Count(result.total)
                if result.total <= paging.COUNT_CAP
                else paging.Count(paging.COUNT_CAP, False)
            )
        elif by_words is not None:
            count = by_words.count(db.session)
        else:
            count = search_service.live_count(db.session, self.model, stmt)
            if result.whole and not count.exact:  # an estimate's error: every row is on this page
                count = paging.Count(len(result.items))
        state = ListState(
            page=result,
            count=count,
            seek_kind=paging.seek_kind(order.keys[0].expr),
            goto=request.args.get("goto", ""),
            args={k: v for k, v in request.args.items(multi=False) if k not in PAGE_PARAMS},
            here=request.full_path if request.query_string else request.path,
        )
        g.crm_list_state = state
        self.prefetch_list(result.items)
        return None, result.items

    def _read_page(
        self, order: ListOrder, stmt, per_page: int, page_number: int, total: bool = False, narrow: bool = False
    ) -> paging.Page:
        args = request.args
        try:
            seek = paging.seek_value(order.keys[0].expr, args["goto"]) if args.get("goto", "").strip() else None
        except InvalidCursor:
            flash(self.goto_refused(order), "warning")
            seek = None
        offset = page_number * per_page if page_number > 0 else 0
        if offset > paging.COUNT_CAP:
            flash(
                _(
                    "Page numbers reach only the first %(num)s rows. Use the first, last, previous and "
                    "next buttons or Go to.",
                    num=formatting.integer(paging.COUNT_CAP, str(get_locale() or "sv")),
                ),
                "warning",
            )
            offset = 0
        return read_page(order, stmt, args, per_page=per_page, seek=seek, offset=offset, total=total, narrow=narrow)

    @staticmethod
    def goto_refused(order: ListOrder) -> str:
        kind = paging.seek_kind(order.keys[0].expr)
        if kind == "number":
            return _("Go to: write a number, for example 10234.")
        if kind == "date":
            return _("Go to: write a date as YYYY-MM-DD.")
        return _("Go to: write one or more letters.")

    def prefetch_list(self, rows: list) -> None:
        """Fetch what the page's rows show beyond their own columns, for all rows at once."""

    def list_state(self) -> ListState | None:
        """The state of the list being rendered (set by get_list for this request)."""
        return g.get("crm_list_state")
