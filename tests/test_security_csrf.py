"""Issue 12: every state-changing request needs its CSRF token.

Every rule of app.url_map that takes a POST (or another writing method) is sent one,
with real ids of the demo register, by a logged-in Administratör: without a token, with a
token of another session, and with a forged one. Each is refused with 400 before anything
runs, and the database is the same afterwards (snapshot of every table)."""

from __future__ import annotations

from helpers import AuthActions
from tests.security import changed_tables, demo_ids, route_values, routes, snapshot, tally


def test_every_writing_endpoint_refuses_a_post_without_a_valid_token(app, login, demo, employees, session):
    admin = login("admin")
    other = AuthActions(app.test_client())
    other.login(employees["seller"].email)
    foreign_token = other.csrf_token()
    ids = demo_ids(session)
    with app.test_request_context():
        from flask import url_for

        targets = [
            (rule.endpoint, method, url_for(rule.endpoint, **route_values(rule, ids)))
            for rule, method in routes(app)
            if method not in ("GET",)
        ]
    before = snapshot(session)
    refused = []
    for endpoint, method, url in targets:
        for token in (None, foreign_token, "forged." + "x" * 40):
            data = {"id": ids.get(endpoint.split(".")[0], {}).get("id", 1), "name": "CSRF"}
            if token:
                data["csrf_token"] = token
            response = admin.client.open(url, method=method, data=data)
            tally("CSRF: writing requests without a valid token (endpoint × token)")
            # The API takes no cookie (401: a key is needed); everything else wants its CSRF token (400).
            if response.status_code != (401 if url.startswith("/api/") else 400):
                refused.append((endpoint, method, token and token[:8], response.status_code))
    assert not refused, refused
    assert not changed_tables(before, snapshot(session))
    tally("rows compared before and after an attack (rows lost: 0)", sum(n for n, _sum in before.values()))
    assert len(targets) > 60
