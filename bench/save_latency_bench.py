"""Another user's save of a company while an import runs: the save's latency, alone and during the
dry run and the all-or-nothing write of a large import run by a real queue worker.

    .venv/bin/python bench/save_latency_bench.py                 # 100,000 companies, SQLite
    .venv/bin/python bench/save_latency_bench.py --rows 40000 --postgres postgresql+psycopg://postgres@127.0.0.1:5432/bench_saves

This process plays the web process: a seller's save is the real request (the company form through
the Flask test client, in this process: the time is the server's own, from the request to its
answer, with no network in it), repeated every --interval seconds. The import is queued as the web
process queues it and run by a queue worker (`flask --app app:worker_app worker`, a subprocess) on
the same database. Prints, per database, the saves' p50, p95 and max in milliseconds, alone (before
the import) and while the dry run and while the write ran, with the load average: on SQLite a save
must get the only write lock between two of the import's batches. The PostgreSQL database given is
emptied.
"""

from __future__ import annotations

import argparse
import csv
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

import import_bench  # noqa: E402  (the bench's file generator and empty database)

PASSWORD = "Spara-under-importen-2026"


def _percentiles(seconds: list[float]) -> str:
    if not seconds:
        return "– | – | – | 0"
    ms = sorted(s * 1000 for s in seconds)
    p95 = ms[min(len(ms) - 1, round(0.95 * (len(ms) - 1)))]
    return f"{statistics.median(ms):,.0f} | {p95:,.0f} | {ms[-1]:,.0f} | {len(ms)}"


def measure(url: str, folder: Path, rows: int, interval: float) -> dict[str, tuple[list[float], float]]:
    """The saves' times in seconds and the mean load average while they ran: alone, during the dry run
    ("checked") and during the write ("done")."""
    from app import create_app
    from extensions import db
    from models import Company, Employee, ImportJob
    from services import accounts
    from services import storage as storage_module
    from services.importing import jobs
    from services.importing import tasks as import_tasks

    upload = str(folder / "uploads")
    import_bench._reset(url, upload)
    company_file, _contacts = import_bench.generate(rows, 0, folder)
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": url,
            "UPLOAD_DIR": upload,
            "INSTANCE_DIR": upload,
            "WTF_CSRF_ENABLED": False,  # the form as the browser posts it, without reading a token first
            "RATELIMIT_ENABLED": False,
        }
    )
    env = {**os.environ, "CRM_DATABASE_URL": url, "CRM_INSTANCE_DIR": upload, "CRM_UPLOAD_DIR": upload}
    env |= {"CRM_SECRET_KEY": app.config["SECRET_KEY"]}
    env.pop("CRM_REDIS_URL", None)
    timings: dict[str, list[float]] = {"alone": [], "checked": [], "done": []}
    loads: dict[str, list[float]] = {key: [] for key in timings}
    with app.app_context():
        app.extensions["tasks"].flush()
        seller = accounts.create_employee(
            db.session, email="saljare@example.se", name="Sam Säljare", role="seller", password=PASSWORD
        )
        company = Company(name="Någon annans AB", owner_id=seller.id, discount_percent=Decimal(0))
        db.session.add(company)
        db.session.commit()
        company_id = company.id
        client = app.test_client()
        assert client.post("/login", data={"email": seller.email, "password": PASSWORD}).status_code == 302

        def save(n: int) -> float:
            current = db.session.get(Company, company_id)
            data = {
                "name": f"Någon annans AB {n}",
                "country": current.country,
                "status": current.status,
                "invoice_language": current.invoice_language,
                "discount_percent": str(current.discount_percent),
                "payment_terms_days": str(current.payment_terms_days),
                "currency": current.currency,
                "version": str(current.version),
            }
            db.session.rollback()
            started = time.perf_counter()
            response = client.post(f"/admin/company/edit/?id={company_id}", data=data)
            took = time.perf_counter() - started
            page = response.get_data(as_text=True)
            assert response.status_code == 302, [  # the form's messages
                " ".join(re.sub(r"<[^>]+>|&times;", " ", said).split())
                for said in re.findall(r'<div class="(?:alert|invalid-feedback)[^"]*"[^>]*>(.*?)</div>', page, re.S)
            ]
            with client.session_transaction() as cookie:  # shown by the next page, as in a browser: not piled up
                cookie.pop("_flashes", None)
            return took

        for n in range(25):
            took = save(n)
            if n >= 5:  # the first requests load templates and forms
                timings["alone"].append(took)
                loads["alone"].append(os.getloadavg()[0])
            time.sleep(interval)

        storage = storage_module.from_config(app.config)
        with open(company_file, "rb") as f:
            key, size = storage.save(f, max_bytes=10**12)
        with open(company_file, encoding="utf-8-sig") as f:
            headers = next(csv.reader(f, delimiter=";"))
        from services.importing.fields import ENTITIES

        job = ImportJob(
            entity="company",
            filename=company_file.name,
            storage_key=key,
            file_size=size,
            mode="create",
            created_by_id=db.session.scalar(db.select(Employee.id).where(Employee.email != seller.email).limit(1)),
            status="uploaded",
            all_or_nothing=True,
            mapping=ENTITIES["company"].auto_map(headers),
        )
        db.session.add(job)
        db.session.flush()
        job_id = job.id
        worker = subprocess.Popen(
            [sys.executable, "-m", "flask", "--app", "app:worker_app", "worker"],
            cwd=REPO,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            n = 100
            for write, until in ((False, "checked"), (True, "done")):
                jobs.queue(db.session, job, write=write)
                import_tasks.submit(db.session, job)
                while True:
                    job = db.session.get(ImportJob, job_id)
                    status, batches = job.status, job.batches_done
                    db.session.rollback()
                    if status not in jobs.ACTIVE:
                        break
                    assert worker.poll() is None, "the worker died"
                    if status == "running" and batches >= 1:  # the worker has read the file and works
                        n += 1
                        took = save(n)
                        job = db.session.get(ImportJob, job_id)
                        if job.status == "running":  # the save fell inside the pass
                            timings[until].append(took)
                            loads[until].append(os.getloadavg()[0])
                        db.session.rollback()
                    time.sleep(interval)
                job = db.session.get(ImportJob, job_id)
                assert job.status == until, (job.status, job.error_summary)
        finally:
            worker.terminate()
            worker.wait(timeout=60)
    return {key: (timings[key], statistics.mean(loads[key]) if loads[key] else 0.0) for key in timings}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=100_000, help="companies in the import file")
    parser.add_argument("--interval", type=float, default=0.2, help="seconds between two saves")
    parser.add_argument("--postgres", help="a PostgreSQL URL to measure as well (the database is emptied)")
    parser.add_argument("--no-sqlite", action="store_true")
    parser.add_argument("--dir", help="where to put the generated file and the SQLite database")
    args = parser.parse_args()
    folder = Path(args.dir or tempfile.mkdtemp(prefix="crm-save-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    databases = [] if args.no_sqlite else [("SQLite", f"sqlite:///{folder / 'bench.sqlite'}")]
    if args.postgres:
        databases.append(("PostgreSQL", args.postgres))
    lines = [
        "| Database | Rows | Saves | p50 ms | p95 ms | max ms | n | Load average |",
        "| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, url in databases:
        # each database in a process of its own (one app, one set of engines per process)
        out = subprocess.run(
            [sys.executable, __file__, "--child", url, str(folder), str(args.rows), str(args.interval)],
            check=True,
            stdout=subprocess.PIPE,
            text=True,
        )
        for line in out.stdout.strip().splitlines()[-3:]:
            lines.append(f"| {name} | {args.rows:,} | {line}")
            print(lines[-1], flush=True)
    print()
    print("\n".join(lines))


def child(url: str, folder: str, rows: str, interval: str) -> None:
    measured = measure(url, Path(folder), int(rows), float(interval))
    for label, key in (("alone", "alone"), ("during the dry run", "checked"), ("during the write", "done")):
        seconds, load = measured[key]
        print(f"{label} | {_percentiles(seconds)} | {load:.1f} |")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        child(*sys.argv[2:6])
    else:
        main()
