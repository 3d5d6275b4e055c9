"""Benchmark: lists and quick search through the REST API on a large register.

Runs on a database that `flask --app app seed --large N` filled, on SQLite or PostgreSQL:

    CRM_DATABASE_URL=sqlite:////tmp/big.sqlite .venv/bin/python bench/api_bench.py [--repeat 5]

Calls /api/v1/companies in-process (Flask's test client, an administrator's API key made for
the run and revoked after it; server time only, no network) and times, interleaved, medians of
--repeat runs:

- search: `?q=<term>&limit=50` for the terms of bench/search_bench.py (rare, medium, common,
  very common, no match), against the plain ILIKE scan the quick search replaced (the same
  baseline as search_bench.py, 50 rows in name order);
- pages: the first page, and a page in the middle of the register reached by its cursor, against
  `ORDER BY name, id OFFSET <middle> LIMIT 50` (what a page number would cost).

The goal is the UI's (issue 13): at least 30× faster than the ILIKE scan at the rare and medium
terms; it also prints the ratio of the deep page to the OFFSET page. Prints the load (`uptime`)
before and after; exits 1 when the search goal is not met.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.search_bench import RATIO_GOAL, old_condition, pick_terms  # noqa: E402


def median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    from sqlalchemy import func, select

    from app import create_app
    from extensions import db
    from models import Company, Employee
    from services import api_keys, paging

    app = create_app({"RATELIMIT_ENABLED": False})
    load_before = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    with app.app_context():
        session = db.session
        url = db.engine.url.render_as_string(hide_password=True)
        companies = session.scalar(select(func.count()).select_from(Company))
        admin = session.scalar(select(Employee).where(Employee.role == "admin", Employee.active).limit(1))
        new = api_keys.create(session, None, employee=admin, name="api_bench (revoked after the run)")
        key, key_id = new.secret, new.record.id
        terms = pick_terms(session)
        live = select(Company).where(Company.deleted_at.is_(None))
        middle = session.scalar(select(func.count()).select_from(live.subquery())) // 2
        row = session.execute(
            select(Company.name, Company.id)
            .where(Company.deleted_at.is_(None))
            .order_by(Company.name, Company.id)
            .offset(middle)
            .limit(1)
        ).one()
        middle_cursor = paging.encode_cursor([row.name, row.id])
        session.commit()
    print(f"database: {url}\ncompanies: {companies:,}\nload before: {load_before}\n")

    client = app.test_client()
    headers = {"Authorization": f"Bearer {key}"}

    def api(query: str):
        def call(_):
            response = client.get(f"/api/v1/companies?{query}", headers=headers)
            assert response.status_code == 200, response.get_data(as_text=True)
            return {c["id"] for c in response.get_json()["items"]}

        return call

    def baseline_search(term):
        def run(_):
            with app.app_context():
                stmt = select(Company).where(Company.deleted_at.is_(None), old_condition(term)).order_by(Company.name)
                return {c.id for c in db.session.scalars(stmt.limit(50))}

        return run

    def offset_page(_):
        with app.app_context():
            stmt = live.order_by(Company.name, Company.id).offset(middle).limit(50)
            return {c.id for c in db.session.scalars(stmt)}

    def timed(function, samples):
        started = time.perf_counter()
        result = function(None)
        samples.append(time.perf_counter() - started)
        return result

    from urllib.parse import quote

    cases = [(label, f"q={quote(term)}&limit=50", baseline_search(term)) for label, term in terms.items()]
    cases += [
        ("first page", "limit=50", None),
        ("middle page", f"limit=50&after={middle_cursor}", offset_page),
    ]
    rows, failed = [], False
    for label, query, baseline in cases:
        ours, theirs = [], []
        for _run in range(args.repeat):  # interleaved: each run measures both
            found = timed(api(query), ours)
            if baseline is not None:
                timed(baseline, theirs)
        ours_ms = median_ms(ours)
        theirs_ms = median_ms(theirs) if theirs else None
        ratio = theirs_ms / ours_ms if theirs_ms else None
        rows.append((label, query[:40], len(found), ours_ms, theirs_ms, ratio))
        if label in ("rare", "medium") and (ratio or 0) < RATIO_GOAL:
            failed = True
    load_after = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    with app.app_context():
        api_keys.revoke(db.session, None, db.session.get(api_keys.ApiKey, key_id))
        db.session.commit()

    line = "{:<12} {:<42} {:>5} {:>9} {:>13} {:>7}"
    print(line.format("case", "query", "rows", "API ms", "baseline ms", "ratio"))
    for label, query, n, ours_ms, theirs_ms, ratio in rows:
        print(
            line.format(
                label,
                query,
                n,
                f"{ours_ms:.1f}",
                "–" if theirs_ms is None else f"{theirs_ms:.1f}",
                "–" if ratio is None else f"{ratio:.0f}×",
            )
        )
    print("(baseline: the ILIKE scan for the search terms, OFFSET for the middle page)")
    print(f"\nload after: {load_after}")
    verdict = "broken" if failed else "met"
    print(f"goal: API search ≥ {RATIO_GOAL}× faster than the ILIKE scan at the rare and medium terms: {verdict}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
