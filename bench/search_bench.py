"""Benchmark: the quick-search engine (services.search) against the plain ILIKE scan it replaced.

Runs on a database that `flask --app app seed --large N` filled (any size; the README's figures
are at 1,000,000 companies), on SQLite or PostgreSQL:

    CRM_DATABASE_URL=sqlite:////tmp/big.sqlite .venv/bin/python bench/search_bench.py [--repeat 5]

For each term — rare (a few companies), medium (hundreds), common (tens of thousands), very
common (nearly every company) and no match — it times, interleaved, medians of --repeat runs:

- ours: the first list page, `search.search(Company, term, limit=50)` (the matching ids, then
  the 50 first in name order), and a picker look-up through the app
  (`/admin/opportunity/ajax/lookup/?name=company&query=…`, server time in-process, logged in);
- baseline: the implementation before the index, reproduced here — `ILIKE '%word%'` OR'ed over
  the seven columns, every word required, with `ORDER BY name LIMIT 50` (on SQLite through the
  app's Unicode lower(), as before).

It prints the medians, the ratio baseline / ours and the load (`uptime`) before and after, and
exits 1 when ours is not at least 30× faster than the baseline at the rare and medium terms
(the goal of issue 13); the milliseconds depend on the machine and its load, the ratio less so.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

RATIO_GOAL = 30


def old_condition(text: str):
    """services.search.matches before the index (commit f1cef88), for companies."""
    from sqlalchemy import String, and_, cast, or_

    from models import Company
    from services.search import words

    def like(column, word):
        escaped = word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        return column.ilike(f"%{escaped}%", escape="\\")

    def word_condition(word):
        fields = ("name", "org_number", "email", "phone", "postal_city", "visit_city", "vat_number")
        conditions = [like(getattr(Company, f), word) for f in fields]
        digits = re.sub(r"[\s\-+()]", "", word)
        if digits.isdigit():
            conditions.append(cast(Company.customer_number, String) == digits)
            conditions.append(like(Company.org_number, digits))
            national = digits[1:] if digits.startswith("0") else digits
            if len(national) >= 3:
                conditions.append(like(Company.phone, national))
        return or_(*conditions)

    return and_(*(word_condition(w) for w in words(text)))


def pick_terms(session) -> dict[str, str]:
    """Terms from the generated data itself, so they match what the names say."""
    from sqlalchemy import func, select

    from models import Company
    from seed.large import BRAND_HEADS, BRAND_TAILS, TRADES

    middle = session.scalar(select(func.max(Company.id))) // 2
    rare = session.scalar(
        select(Company.name).where(Company.id >= middle, Company.name.like("% % AB")).order_by(Company.id).limit(50)
    )
    brand, trade = rare.split(" ")[:2]
    if brand.rstrip("s") not in {h + t for h in BRAND_HEADS for t in BRAND_TAILS} or trade not in TRADES:
        brand, trade = "Polarpunkt", "Elteknik"
    return {
        "rare": f"{brand} {trade}",
        "medium": brand,
        "common": "Kalmar",
        "very common": "info",
        "no match": "Xqzvyk",
    }


def median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument(
        "--baseline-repeat", type=int, default=None, help="runs of the slow baseline (default --repeat)"
    )
    args = parser.parse_args()
    baseline_repeat = args.baseline_repeat or args.repeat

    from sqlalchemy import func, select

    from app import create_app
    from extensions import db
    from models import Company, Employee
    from services import search

    app = create_app({"RATELIMIT_ENABLED": False, "WTF_CSRF_ENABLED": False})
    load_before = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    with app.app_context():
        session = db.session
        url = db.engine.url.render_as_string(hide_password=True)
        companies = session.scalar(select(func.count()).select_from(Company))
        admin_email = session.scalar(select(Employee.email).where(Employee.role == "admin", Employee.active).limit(1))
        terms = pick_terms(session)
        counts = {
            label: len(search.candidate_ids(session, Company, term, limit=10**7) or []) for label, term in terms.items()
        }
        session.rollback()
    print(f"database: {url}\ncompanies: {companies:,}\nload before: {load_before}\n")

    from seed.demo import DEMO_PASSWORD

    client = app.test_client()  # `seed --large` loads the demo first: its administrator logs in
    password = os.environ.get("BENCH_PASSWORD", DEMO_PASSWORD)
    logged_in = client.post("/login", data={"email": admin_email, "password": password}).status_code == 302
    if not logged_in:
        print("(no picker figures: set BENCH_PASSWORD to the password of an administrator)")

    def ours_page(term):
        return {c.id for c in search.search(db.session, Company, term, limit=50)}

    def baseline_page(term):
        stmt = select(Company).where(Company.deleted_at.is_(None), old_condition(term)).order_by(Company.name)
        return {c.id for c in db.session.scalars(stmt.limit(50))}

    def timed(function, term, samples):
        """Run `function(term)` in a fresh app context; append (wall, this process's CPU) seconds."""
        with app.app_context():
            wall, cpu = time.perf_counter(), time.process_time()
            result = function(term)
            samples.append((time.perf_counter() - wall, time.process_time() - cpu))
            db.session.rollback()
        return result

    def picker_lookup(term):
        response = client.get("/admin/opportunity/ajax/lookup/", query_string={"name": "company", "query": term})
        assert response.status_code == 200, response.status_code

    rows, failed = [], False
    for label, term in terms.items():
        ours, picker, baseline = [], [], []
        for run in range(max(args.repeat, baseline_repeat)):  # interleaved: each run measures both
            if run < args.repeat:
                found = timed(ours_page, term, ours)
                if logged_in:
                    timed(picker_lookup, term, picker)
            if run < baseline_repeat:
                old_found = timed(baseline_page, term, baseline)
        same = found == old_found if len(old_found) < 50 else len(found) == 50
        medians = [
            median_ms([s[i] for s in samples]) if samples else None
            for samples in (ours, picker, baseline)
            for i in (0, 1)
        ]
        ratio = medians[4] / medians[0]
        rows.append((label, term, counts[label], *medians, ratio, same))
        if label in ("rare", "medium") and ratio < RATIO_GOAL:
            failed = True
    load_after = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()

    # CPU: this process's (on SQLite the whole query; on PostgreSQL only the client's share).
    header = (
        "term",
        "query",
        "matches",
        "ours ms",
        "(cpu)",
        "picker ms",
        "(cpu)",
        "ILIKE ms",
        "(cpu)",
        "ratio",
        "same",
    )
    line = "{:<12} {:<22} {:>9} {:>8} {:>7} {:>9} {:>7} {:>9} {:>8} {:>7}  {}"
    print(line.format(*header))
    for label, term, matched, *medians, ratio, same in rows:
        cells = ["–" if m is None else f"{m:.1f}" for m in medians]
        print(line.format(label, term, f"{matched:,}", *cells, f"{ratio:.0f}×", "yes" if same else "NO"))
    print(f"\nload after: {load_after}")
    verdict = "broken" if failed else "met"
    print(f"goal: ours ≥ {RATIO_GOAL}× faster than the ILIKE scan at the rare and medium terms: {verdict}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
