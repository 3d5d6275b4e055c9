"""Benchmark: exporting a long company list through the list view's "Exportera".

Fills a fresh database with N companies (default 100 000), logs in as an
administrator and downloads /admin/company/export/<fmt>/ chunk by chunk, as a
browser would, measuring wall time, the bytes sent, the time to the first
chunk and the peak of Python memory (tracemalloc) while streaming. The
baseline does what Flask-Admin's own export and a naive implementation do:
load every row with `.all()` first, then write the file in memory.

    .venv/bin/python bench/export_bench.py [--rows 100000] [--database-url URL] [--no-memory]

Budget (checked at the end, exit code 1 when broken): the streamed CSV's
peak memory stays under 1/4 of the baseline's and under 40 MB.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

BUDGET_MB = 40


def fill(app, rows: int) -> None:
    from sqlalchemy import insert

    from extensions import db
    from models import Company
    from services import accounts

    with app.app_context():
        admin = accounts.create_employee(
            db.session, email="bench@example.se", name="Bench Admin", role="admin", password="Bench-losen-2026"
        )
        db.session.commit()
        batch = 10_000
        for start in range(0, rows, batch):
            db.session.execute(
                insert(Company),
                [
                    {
                        "name": f"Bänkföretag {n} AB",
                        "customer_number": 100_000 + n,
                        "org_number": f"{5560000000 + n}",
                        "postal_city": ("Stockholm", "Göteborg", "=Malmö")[n % 3],
                        "owner_id": admin.id,
                        "phone": "+46812345678",
                        "email": f"info{n}@example.se",
                        "version": 1,
                        "status": "active",
                        "country": "SE",
                        "is_supplier": n % 7 == 0,
                        "invoice_language": "sv",
                        "discount_percent": "0",
                        "payment_terms_days": 30,
                        "currency": "SEK",
                        "email_locked": False,
                    }
                    for n in range(start, min(start + batch, rows))
                ],
            )
        db.session.commit()
        assert db.session.scalar(db.select(db.func.count()).select_from(Company)) == rows


def measure(label: str, produce, trace: bool) -> dict:
    if trace:
        tracemalloc.start()
    started = time.perf_counter()
    first = None
    size = 0
    for chunk in produce():
        if first is None:
            first = time.perf_counter() - started
        size += len(chunk)
    elapsed = time.perf_counter() - started
    peak = 0
    if trace:
        _current, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    result = {
        "label": label,
        "seconds": elapsed,
        "first_chunk": first or elapsed,
        "mb": size / 1e6,
        "peak_mb": peak / 1e6,
    }
    print(
        f"{label:42} {elapsed:7.2f} s  first chunk {result['first_chunk']:6.2f} s  "
        f"{result['mb']:7.1f} MB sent" + (f"  peak {result['peak_mb']:7.1f} MB" if trace else "")
    )
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--database-url", default=None, help="default: a temporary SQLite file")
    parser.add_argument(
        "--no-memory",
        action="store_true",
        help="time only: without tracemalloc, which slows Python (openpyxl most) several times",
    )
    options = parser.parse_args()

    from flask_migrate import upgrade

    from app import create_app
    from extensions import db
    from services import export, translations

    translations.compile_catalogs()
    workdir = Path(tempfile.mkdtemp(prefix="export-bench-"))
    url = options.database_url or f"sqlite:///{workdir / 'bench.sqlite'}"
    app = create_app(
        {
            "INSTANCE_DIR": str(workdir),
            "SQLALCHEMY_DATABASE_URI": url,
            "WTF_CSRF_ENABLED": False,
            "RATELIMIT_ENABLED": False,
            "TESTING": True,
        }
    )
    with app.app_context():
        if url.startswith("postgresql"):
            from sqlalchemy import text

            with db.engine.begin() as conn:
                conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
        upgrade()
    print(f"Filling {options.rows} companies into {url.split('@')[-1]} …")
    fill(app, options.rows)

    client = app.test_client()
    answer = client.post("/login", data={"email": "bench@example.se", "password": "Bench-losen-2026"})
    assert answer.status_code == 302, answer.status_code

    def streamed(fmt):
        def produce():
            response = client.get(f"/admin/company/export/{fmt}/", buffered=False)
            assert response.status_code == 200
            yield from response.response
            response.close()

        return produce

    def baseline():
        with app.test_request_context():
            from flask_login import login_user

            from models import Company, Employee

            login_user(db.session.scalar(db.select(Employee)))
            view = next(v for v in app.extensions["admin"][0]._views if getattr(v, "endpoint", "") == "company")
            rows = db.session.scalars(db.select(Company).order_by(Company.name)).all()  # everything first
            data = b"".join(export.csv_chunks(view.export_columns(), rows, rows_per_chunk=10**9))
        yield data

    trace = not options.no_memory
    results = [
        measure("streamed CSV (the list view's Exportera)", streamed("csv"), trace),
        measure("baseline: .all() then CSV in memory", baseline, trace),
        measure("streamed XLSX (write-only, temp file)", streamed("xlsx"), trace),
    ]
    if not trace:
        return 0
    streamed_csv, base = results[0], results[1]
    ok = streamed_csv["peak_mb"] < min(BUDGET_MB, base["peak_mb"] / 4)
    print(f"budget: streamed CSV peak < min({BUDGET_MB} MB, baseline/4) — {'OK' if ok else 'BROKEN'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
