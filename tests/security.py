"""Shared tools of the attack tests (tests/test_security_*.py): a real HTTP server on the
test app, the demo register's real ids, and a tally of what the attacks tried, printed at
the end of the run for the README's "Säkerhet" table (`python -m pytest tests/test_security_* -s`)."""

from __future__ import annotations

import http.client
import http.cookiejar
import re
import threading
import urllib.parse
import urllib.request
from collections import Counter
from contextlib import contextmanager

from flask import url_for
from sqlalchemy import select, text

from extensions import db

#: What the attack tests tried, by row of the README table; printed by conftest at the end.
TALLY: Counter = Counter()


def tally(key: str, n: int = 1) -> None:
    TALLY[key] += n


# --- a real server ---------------------------------------------------------------------------


class LiveServer:
    """The test app served over real HTTP (werkzeug, a thread per request) on a free port."""

    def __init__(self, app):
        from werkzeug.serving import make_server

        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.port = self.server.server_port
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"


class HttpUser:
    """An employee logged in over real HTTP (cookies kept)."""

    def __init__(self, server: LiveServer, email: str, password: str):
        self.server = server
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))
        page = self.opener.open(server.url("/login"), timeout=30).read().decode()
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
        form = urllib.parse.urlencode({"email": email, "password": password, "csrf_token": token}).encode()
        answer = self.opener.open(server.url("/login"), form, timeout=30)
        assert answer.url.endswith("/admin/"), "login failed"

    def cookie_header(self) -> str:
        return "; ".join(f"{c.name}={c.value}" for c in self.jar)

    def get(self, path: str, *, read: int | None = None, send_only: bool = False) -> tuple[int, bytes]:
        """GET `path` on a connection of its own. `read=n`: read n bytes of the body and hang up;
        `send_only`: hang up as soon as the request is sent (before any answer)."""
        conn = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=60)
        try:
            conn.request("GET", path, headers={"Cookie": self.cookie_header()})
            if send_only:
                return 0, b""
            answer = conn.getresponse()
            body = answer.read(read) if read is not None else answer.read()
            return answer.status, body
        finally:
            conn.close()


# --- the database ------------------------------------------------------------------------------


def idle_in_transaction(session, timeout: float = 15.0) -> int:
    """PostgreSQL: other connections to this database left "idle in transaction" (0 on SQLite).

    Polled until none is or the timeout passes: a request the live server is still answering (one
    the client hung up on before any answer) is idle in transaction between two statements for a
    moment; a leaked connection stays so."""
    if db.engine.dialect.name != "postgresql":
        return 0
    import time

    query = text(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
        "AND pid <> pg_backend_pid() AND state LIKE 'idle in transaction%'"
    )
    deadline = time.monotonic() + timeout
    while (count := session.scalar(query)) and time.monotonic() < deadline:
        session.rollback()
        time.sleep(0.1)
    session.rollback()
    return count


def wait_for_idle_pool(timeout: float = 15.0) -> int:
    """Wait until no connection of the app's pool is checked out; returns how many still are."""
    import time

    deadline = time.monotonic() + timeout
    while db.engine.pool.checkedout() and time.monotonic() < deadline:
        time.sleep(0.05)
    return db.engine.pool.checkedout()


@contextmanager
def released_test_session():
    """The test's own session gives its connection back (so the pool shows only the app's)."""
    db.session.rollback()
    db.session.close()
    yield


# --- real ids of the demo register ----------------------------------------------------------------


def first_id(session, model, *where):
    return session.scalar(select(model.id).where(*where).order_by(model.id).limit(1))


def _first(session, stmt):
    return session.scalar(stmt.limit(1))


def demo_ids(session) -> dict[str, dict[str, int | str]]:
    """Real URL values per view (endpoint prefix) in the demo register: a record of the view
    and, for its card, a file, an e-mail, an activity, a linked contact and a custom tab of it."""
    from models import (
        Activity,
        Attachment,
        CallList,
        CallListEntry,
        Category,
        Company,
        CompanyContact,
        Contact,
        CustomFieldDefinition,
        CustomTab,
        EmailMessage,
        Employee,
        EmployeeGroup,
        ImportJob,
        Industry,
        Invoice,
        Lead,
        Opportunity,
        Product,
        ReportDefinition,
        SalesOrder,
        SalesStage,
    )

    def card(model, owner_column, tab_applies, *where):
        """A live record with as many of a card's parts as the demo has (files first)."""
        row_id = _first(
            session,
            select(getattr(Attachment, owner_column))
            .join(model, model.id == getattr(Attachment, owner_column))
            .where(model.deleted_at.is_(None), Attachment.deleted_at.is_(None), *where)
            .order_by(getattr(Attachment, owner_column)),
        ) or _first(session, select(model.id).where(model.deleted_at.is_(None), *where).order_by(model.id))
        values = {"id": row_id, "tab": "overview"}
        for key, part in (("file_id", Attachment), ("message_id", EmailMessage), ("activity_id", Activity)):
            values[key] = _first(
                session, select(part.id).where(getattr(part, owner_column) == row_id).order_by(part.id)
            ) or _first(session, select(part.id).order_by(part.id))
        link = CompanyContact.contact_id if owner_column == "company_id" else CompanyContact.company_id
        values["contact_id"] = _first(
            session, select(link).where(getattr(CompanyContact, owner_column) == row_id).order_by(link)
        ) or _first(session, select(Contact.id).order_by(Contact.id))
        values["tab_id"] = _first(
            session, select(CustomTab.id).where(CustomTab.applies_to == tab_applies).order_by(CustomTab.id)
        ) or _first(session, select(CustomTab.id).order_by(CustomTab.id))
        return values

    def one(model, *where):
        return {"id": _first(session, select(model.id).where(*where).order_by(model.id))}

    opportunity = one(Opportunity)
    opportunity["activity_id"] = _first(
        session, select(Activity.id).where(Activity.opportunity_id == opportunity["id"]).order_by(Activity.id)
    ) or _first(session, select(Activity.id).order_by(Activity.id))
    calllist = one(CallList)
    calllist["entry_id"] = _first(
        session, select(CallListEntry.id).where(CallListEntry.call_list_id == calllist["id"]).order_by(CallListEntry.id)
    )
    cards = {
        "company": card(Company, "company_id", "company"),
        "supplier": card(Company, "company_id", "company", Company.is_supplier.is_(True)),
        "contact": card(Contact, "contact_id", "contact"),
        "privatecustomer": card(Contact, "contact_id", "contact", Contact.customer_number.is_not(None)),
    }
    return {
        **cards,  # the list (its edit form) and its card view: the same record
        **{f"{view}_card": values for view, values in cards.items()},
        "lead": one(Lead),
        "calllist": calllist,
        "opportunity": opportunity,
        "order": one(SalesOrder),
        "invoice": one(Invoice),
        "product": one(Product),
        "employee": one(Employee),
        "employeegroup": one(EmployeeGroup),
        "category": one(Category),
        "industry": one(Industry),
        "salesstage": one(SalesStage),
        "customtab": one(CustomTab),
        "customfield": one(CustomFieldDefinition),
        "import": one(ImportJob),
        "reportgenerator": one(ReportDefinition),
        "privacy": {**one(Contact, Contact.customer_number.is_not(None)), "kind": "contact"},
    }


#: URL values that are not ids, by argument name.
OTHER_URL_VALUES = {"export_type": "csv", "fmt": "csv", "entity": "company", "tab": "overview", "kind": "company"}


def route_values(rule, ids: dict) -> dict:
    """Values for every argument of `rule` from the demo register (`demo_ids`)."""
    view = rule.endpoint.split(".")[0]
    own = ids.get(view, {})
    values = {}
    for arg in rule.arguments:
        if arg == "filename":
            values[arg] = {"static": "css/crm.css", "api_docs.asset": "swagger-ui.css"}.get(
                rule.endpoint, "admin/css/bootstrap4/admin.css"
            )
        elif arg in own:
            values[arg] = own[arg]
        else:
            values[arg] = OTHER_URL_VALUES.get(arg, 1)
    return values


def routes(app):
    """(rule, method) for every rule of the app and every method it answers (HEAD and OPTIONS aside)."""
    return [
        (rule, method)
        for rule in sorted(app.url_map.iter_rules(), key=lambda r: (r.rule, r.endpoint))
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"})
    ]


def snapshot(session) -> dict[str, tuple[int, str]]:
    """Every table's row count and a checksum of all its rows, as the database has them now."""
    import hashlib

    session.expire_all()
    result = {}
    for table in db.metadata.sorted_tables:
        rows = sorted(repr(tuple(row)) for row in session.execute(table.select()))
        result[table.name] = (len(rows), hashlib.sha256("\n".join(rows).encode()).hexdigest()[:16])
    session.rollback()
    return result


def changed_tables(before: dict, after: dict) -> dict:
    return {
        name: (before.get(name), after.get(name))
        for name in set(before) | set(after)
        if before.get(name) != after.get(name)
    }


def card_tab_keys(app, endpoint: str) -> list[str]:
    """The tab keys of a customer card view (custom tabs included, as the demo has them)."""
    view = next(v for v in app.extensions["admin"][0]._views if v.endpoint == endpoint)
    return [tab.key for tab in view.card_tabs]


#: Query strings that make a GET page do more than its default (run a report, search, filter, page).
EXTRA_QUERIES = {
    "reportgenerator.index": ["run=1&entity=company&col=name&col=owner", "run=1&entity=opportunity&page=2"],
    "reports.sales": ["by=seller", "by=month&seller=1"],
    "reports.activities": ["axis=groups&group=1"],
    "company.index_view": ["search=AB", "flt0_0=1&sort=1&desc=1", "page=1"],
    "contact.index_view": ["search=a"],
    "opportunity.board": ["owner=1"],
    "people.index": ["q=an"],
    "contact.search_json": ["q=an"],
    "product.lookup": ["q=1"],
    "company.ajax_lookup": ["name=owner&query=a"],
    "company_card.invoice_report": ["from=2000-01-01&to=2100-01-01"],
}


def get_pages(app, session) -> list[str]:
    """Every GET URL of the app with real ids of the demo register: each card with each of its tabs,
    list pages searched, filtered and sorted, reports run, look-ups asked."""
    from models import CallList, ReportDefinition, SavedSearch

    ids = demo_ids(session)
    saved_search = first_id(session, SavedSearch)
    saved_report = first_id(session, ReportDefinition)
    urls = []
    with app.test_request_context():
        for rule, method in routes(app):
            if method != "GET" or rule.endpoint in ("static", "admin.static") or rule.rule.startswith("/api/"):
                continue  # the API answers a key, not a login (tests/test_api.py crawls it with keys)
            values = route_values(rule, ids)
            if rule.endpoint == "reportgenerator.run":
                values["id"] = saved_report
            base = url_for(rule.endpoint, **values)
            urls.append(base)
            urls += [f"{base}?{query}" for query in EXTRA_QUERIES.get(rule.endpoint, [])]
            view, _dot, name = rule.endpoint.partition(".")
            if name == "card_tab":
                for tab in card_tab_keys(app, view):
                    urls.append(url_for(rule.endpoint, **{**values, "tab": tab}))
                    urls.append(url_for(f"{view}.index", id=values["id"], tab=tab))
            if name == "ajax_lookup":
                view_object = next(v for v in app.extensions["admin"][0]._views if v.endpoint == view)
                for field in list(getattr(view_object, "_form_ajax_refs", None) or {})[:2]:
                    urls.append(url_for(rule.endpoint, name=field, query="a"))
            if name in ("edit_view", "details_view"):
                urls.append(url_for(rule.endpoint, id=values.get("id") or ids.get(view, {}).get("id") or 1))
        urls.append(url_for("calllist.add", saved_search=saved_search))
        urls.append(url_for("calllist.work", id=first_id(session, CallList)))
    return urls
