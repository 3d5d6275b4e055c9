"""Issue 12, item 10: no GET changes the database.

The import list and an import's page committed "stalled" marks on a GET. This test crawls
every GET route as an administrator with real ids from the demo register (every card and
each of its tabs, the contact card, an opportunity, an invoice, an import job, a saved
report …) and compares a snapshot of the database (each table's row count and a checksum
of its rows) before and after: nothing may change."""

from __future__ import annotations

from datetime import timedelta

import pytest
from conftest import AuthActions
from flask import url_for

from models import CallList, ImportJob, ReportDefinition, SavedSearch, utcnow
from seed.demo import DEMO_LOGINS
from tests.security import card_tab_keys, changed_tables, demo_ids, first_id, route_values, routes, snapshot, tally

DEMO_ADMIN, DEMO_PASSWORD = next((email, pw) for email, pw, role in DEMO_LOGINS if role == "admin")
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
    "company.invoice_report": ["from=2000-01-01&to=2100-01-01"],
}


@pytest.fixture
def register(demo, employees, session):
    """The demo register, with an import whose worker died long ago (it looks "stalled")."""
    session.add(
        ImportJob(
            entity="company",
            filename="avbruten.csv",
            storage_key="stalled-job",
            status="running",
            mode="create",
            heartbeat_at=utcnow() - timedelta(hours=2),
            started_at=utcnow() - timedelta(hours=2),
            created_by_id=employees["admin"].id,
        )
    )
    session.commit()
    return demo


def get_urls(app, session) -> list[str]:
    ids = demo_ids(session)
    saved_search = first_id(session, SavedSearch)
    saved_report = first_id(session, ReportDefinition)
    urls = []
    with app.test_request_context():
        for rule, method in routes(app):
            if method != "GET" or rule.endpoint in ("static", "admin.static"):
                continue
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
                    urls.append(url_for(f"{view}.card", id=values["id"], tab=tab))
            if name == "ajax_lookup":
                view_object = next(v for v in app.extensions["admin"][0]._views if v.endpoint == view)
                for field in list(getattr(view_object, "_form_ajax_refs", None) or {})[:2]:
                    urls.append(url_for(rule.endpoint, name=field, query="a"))
            if name in ("edit_view", "details_view"):
                urls.append(url_for(rule.endpoint, id=values.get("id") or ids.get(view, {}).get("id") or 1))
        urls.append(url_for("calllist.add", saved_search=saved_search))
        urls.append(url_for("calllist.work", id=first_id(session, CallList)))
    return urls


def test_no_get_changes_the_database(app, client, register, session):
    """As the demo's administrator (who owns saved searches and reports)."""
    admin = AuthActions(client)
    assert admin.login(DEMO_ADMIN, DEMO_PASSWORD).status_code == 302
    urls = get_urls(app, session)
    before = snapshot(session)
    statuses = {}
    for url in urls:
        response = admin.client.get(url)
        if response.is_streamed:
            response.get_data()
        statuses[url] = response.status_code
        tally("GET pages crawled with a database snapshot before and after")
    assert not changed_tables(before, snapshot(session))
    assert all(code < 500 for code in statuses.values()), {u: c for u, c in statuses.items() if c >= 500}
    ok = [url for url, code in statuses.items() if code in (200, 302)]
    assert len(ok) >= 0.85 * len(urls), "\n".join(
        f"{c} {u}" for u, c in sorted(statuses.items()) if c not in (200, 302)
    )


def test_a_stalled_import_is_shown_as_interrupted_and_can_be_run_again(login, register, session):
    """The stalled job is shown as failed (nothing written) and a POST may start a dry run of it again."""
    from tests.helpers import text

    admin = login("admin")
    job = session.scalar(session.query(ImportJob).filter_by(storage_key="stalled-job").statement)
    page = text(admin.client.get(f"/admin/import/job/{job.id}"))
    assert "avbruten" in page.lower() or "interrupted" in page.lower()
    listing = text(admin.client.get("/admin/import/"))
    assert "avbruten.csv" in listing
    session.expire_all()
    assert session.get(ImportJob, job.id).status == "running", "a GET wrote nothing"
    progress = admin.client.get(f"/admin/import/job/{job.id}/progress.json").get_json()
    assert progress["status"] == "failed" and not progress["active"]
