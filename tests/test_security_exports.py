"""Issue 12, items 1 and 2: every streamed download owns its database session.

An export used to leave a connection checked out (41 exports by one Säljare exhausted
the pool of 5 + 10, and every page then waited 30 s and failed), and the
Rapportgenerator's and the Fakturarapport's invoice-line exports always answered 500
("identity map is no longer valid") outside the test client. These tests download
over real HTTP from a running server, read every body whole and parse it, hang up
half-way through half of them, and then check that the pool is idle again (and, on
PostgreSQL, that no connection of ours is left "idle in transaction")."""

from __future__ import annotations

import csv
import io

import pytest
from flask import url_for
from openpyxl import load_workbook

from extensions import db
from models import Company, Contact, Employee, ImportJob, Invoice
from seed.demo import DEMO_LOGINS
from services import report_generator
from tests.security import HttpUser, LiveServer, first_id, idle_in_transaction, tally, wait_for_idle_pool

ADMIN_EMAIL = next(email for email, _pw, role in DEMO_LOGINS if role == "admin")
DEMO_PASSWORD = DEMO_LOGINS[0][1]


def parse(fmt: str, body: bytes) -> list[list]:
    """The rows of a downloaded file, header first."""
    if fmt == "csv":
        assert body.startswith(b"\xef\xbb\xbf"), body[:40]
        return list(csv.reader(io.StringIO(body.decode("utf-8-sig")), delimiter=";"))
    return [list(row) for row in load_workbook(io.BytesIO(body)).active.iter_rows(values_only=True)]


def download_urls(app, session) -> list[tuple[str, int]]:
    """Every streamed download of the app, in both formats, with the least number of data rows
    the demo register must give (the header row not counted)."""
    customer = session.scalar(
        db.select(Invoice.company_id).where(Invoice.company_id.is_not(None), Invoice.number.is_not(None)).limit(1)
    )
    private = first_id(session, Contact, Contact.customer_number.is_not(None))
    job = first_id(session, ImportJob)
    sellers = "&".join(f"seller={e}" for e in session.scalars(db.select(Employee.id).where(Employee.role == "seller")))
    urls = []
    with app.test_request_context():
        for rule in app.url_map.iter_rules():
            if rule.endpoint.endswith(".export") and "export_type" in rule.arguments:
                urls += [(url_for(rule.endpoint, export_type=fmt), 0) for fmt in ("csv", "xlsx")]
    for fmt in ("csv", "xlsx"):
        for entity in report_generator.ENTITIES:
            urls.append((f"/admin/reports/generator/export/{fmt}/?entity={entity}&col=name", 1))
        urls.append((f"/admin/reports/generator/export/{fmt}/?entity=company&owner=&sort=name&col=name&col=owner", 1))
        period = "from=2000-01-01&to=2100-01-01"
        urls.append((f"/admin/company/card/{customer}/invoice-report/export/{fmt}?table=lines&{period}", 1))
        urls.append((f"/admin/company/card/{customer}/invoice-report/export/{fmt}?table=products&{period}", 1))
        urls.append((f"/admin/privatecustomer/card/{private}/invoice-report/export/{fmt}?table=lines&{period}", 0))
        urls.append((f"/admin/reports/sales/export/{fmt}/?table=pipeline", 1))
        urls.append((f"/admin/reports/sales/export/{fmt}/?table=outcome", 0))
        urls.append((f"/admin/reports/activities/export/{fmt}/?start=2000-01-01&end=2100-01-01&{sellers}", 1))
        urls.append((f"/admin/import/template/company?format={fmt}", 0))
        urls.append((f"/admin/import/job/{job}/errors?format={fmt}", 0))
    return urls


@pytest.fixture
def server(app, demo):
    db.session.commit()
    db.session.close()
    with LiveServer(app) as live:
        yield live


def test_every_download_is_whole_and_parses(app, server, session):
    """Each download answers 200 and its whole body parses as CSV or XLSX with the rows expected."""
    admin = HttpUser(server, ADMIN_EMAIL, DEMO_PASSWORD)
    urls = download_urls(app, session)
    db.session.close()
    assert len(urls) > 40
    for url, least_rows in urls:
        status, body = admin.get(url)
        assert status == 200, (url, status, body[:300])
        fmt = "xlsx" if "/xlsx" in url or "format=xlsx" in url else "csv"
        rows = parse(fmt, body)
        assert rows and all(isinstance(cell, (str, type(None))) for cell in rows[0]), url
        assert len(rows) - 1 >= least_rows, (url, rows[:3])
        assert all(len(row) == len(rows[0]) for row in rows), url
        tally("exports downloaded and parsed")
    assert wait_for_idle_pool() == 0
    assert idle_in_transaction(session) == 0


def test_two_hundred_exports_half_abandoned_leave_the_pool_idle(app, server, session):
    """200 downloads: every other one hung up after a few bytes or before any answer; then the pool
    is idle, PostgreSQL has no connection of ours idle in a transaction, and pages still answer."""
    admin = HttpUser(server, ADMIN_EMAIL, DEMO_PASSWORD)
    urls = download_urls(app, session)
    db.session.close()
    for n in range(200):
        url = urls[n % len(urls)][0]
        if n % 4 == 1:
            status, _body = admin.get(url, read=64)
        elif n % 4 == 3:
            status, _body = admin.get(url, send_only=True)
        else:
            status, body = admin.get(url)
            assert status == 200 and body, (url, status)
        assert status in (0, 200), (url, status)
        tally("exports, half abandoned mid-stream")
    assert wait_for_idle_pool() == 0, db.engine.pool.status()
    assert idle_in_transaction(session) == 0
    status, page = admin.get("/admin/company/")
    assert status == 200 and b"<table" in page


def test_a_download_closed_before_its_first_chunk_opens_no_session(app, demo, login):
    """Through the WSGI app: a body iterator closed unread opens nothing; one read to its end closes its session."""
    client = login("admin").client
    db.session.commit()
    db.session.close()
    for _ in range(20):
        response = client.get("/admin/contact/export/csv/", buffered=False)
        response.close()
        response = client.get("/admin/reports/generator/export/csv/?entity=contact&col=name", buffered=False)
        next(iter(response.response))
        response.close()
    assert wait_for_idle_pool() == 0, db.engine.pool.status()
    rows = parse("csv", client.get("/admin/reports/generator/export/csv/?entity=company&col=name").get_data())
    live = db.session.scalar(db.select(db.func.count()).select_from(Company).where(Company.deleted_at.is_(None)))
    assert len(rows) - 1 == live
