"""Issue 12, item 10: no GET changes the database.

The import list and an import's page committed "stalled" marks on a GET. This test crawls
every GET route as an administrator with real ids from the demo register (every card and
each of its tabs, the contact card, an opportunity, an invoice, an import job, a saved
report …) and compares a snapshot of the database (each table's row count and a checksum
of its rows) before and after: nothing may change."""

from __future__ import annotations

from datetime import timedelta

import pytest

from helpers import AuthActions, text
from models import ImportJob, utcnow
from seed.demo import DEMO_LOGINS
from tests.security import changed_tables, get_pages, snapshot, tally

DEMO_ADMIN, DEMO_PASSWORD = next((email, pw) for email, pw, role in DEMO_LOGINS if role == "admin")


@pytest.fixture
def register(demo, employees, session):
    """The demo register, with an import whose worker died long ago (it looks "stalled")."""
    session.add(
        ImportJob(
            entity="company",
            filename="avbruten.csv",
            storage_key="stalled-job",
            status="running",
            claim="dead-worker:1",
            worker="dead-worker",
            mode="create",
            heartbeat_at=utcnow() - timedelta(hours=2),
            started_at=utcnow() - timedelta(hours=2),
            created_by_id=employees["admin"].id,
        )
    )
    session.commit()
    return demo


def test_no_get_changes_the_database(app, client, register, session, monkeypatch):
    """As the demo's administrator (who owns saved searches and reports). The login session's
    last-seen note (written at most once a minute: the idle timeout's bookkeeping) is held still, or
    a crawl slower than a minute on a loaded machine finds it changed."""
    from datetime import timedelta

    from services import login_sessions

    monkeypatch.setattr(login_sessions, "TOUCH_INTERVAL", timedelta(days=1))
    admin = AuthActions(client)
    assert admin.login(DEMO_ADMIN, DEMO_PASSWORD).status_code == 302
    urls = get_pages(app, session)
    before = snapshot(session)
    statuses = {}
    for url in urls:
        response = admin.client.get(url)
        if response.is_streamed:
            response.get_data()
        statuses[url] = response.status_code
        tally("GET pages crawled with a database snapshot before and after")
    assert not changed_tables(before, snapshot(session))
    tally("rows compared before and after an attack (rows lost: 0)", sum(n for n, _sum in before.values()))
    assert all(code < 500 for code in statuses.values()), {u: c for u, c in statuses.items() if c >= 500}
    ok = [url for url, code in statuses.items() if code in (200, 302)]
    assert len(ok) >= 0.85 * len(urls), "\n".join(
        f"{c} {u}" for u, c in sorted(statuses.items()) if c not in (200, 302)
    )


def test_a_stalled_import_is_shown_as_taken_over_and_a_get_writes_nothing(login, register, session):
    """The page of a job whose worker died says another worker takes it over; showing it writes nothing."""
    admin = login("admin")
    job = session.scalar(session.query(ImportJob).filter_by(storage_key="stalled-job").statement)
    page = text(admin.client.get(f"/admin/import/job/{job.id}"))
    assert "har inte hörts av" in page and "en annan arbetare tar över jobbet" in page
    assert "avbruten.csv" in text(admin.client.get("/admin/import/"))
    progress = admin.client.get(f"/admin/import/job/{job.id}/progress.json").get_json()
    assert progress["stalled"] and progress["status"] == "running"
    session.expire_all()
    stored = session.get(ImportJob, job.id)
    assert (stored.status, stored.claim) == ("running", "dead-worker:1"), "a GET wrote nothing"
