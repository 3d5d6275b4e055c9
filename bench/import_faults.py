"""Fault test of the import: a 200,000-row import while its worker and its web process are SIGKILLed.

    .venv/bin/python bench/import_faults.py                                   # SQLite, queue in a SQLite file
    .venv/bin/python bench/import_faults.py --postgres postgresql+psycopg://postgres@127.0.0.1:5432/jobs_faults \\
        --redis redis://127.0.0.1:6379/4                                       # PostgreSQL, queue on Redis

Starts the product as it runs (`flask --app app run` and `flask --app app:worker_app worker`, subprocesses on a
fresh database), uploads a file of --rows companies through the web process, maps it, runs the dry
run and the import through HTTP as a user would, and meanwhile SIGKILLs at random points the worker
(--worker-kills times; its whole process group, parsing processes included, as a dying container
would) and the web process (--web-kills times), restarting each at once. A killed worker's job is
found by the periodic take-over once it has not reported for CRM_JOB_STALLED_SECONDS (30 s, as in
production, unless --stalled-seconds). At the end it checks by query: companies equal to the file's
rows, no duplicates, no orphan links, one audit event per row, the job's counts right; and prints a
table row: kills survived, rows lost, rows doubled. Exits non-zero when a check fails.
"""

from __future__ import annotations

import argparse
import http.cookiejar
import json
import os
import random
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

PASSWORD = "Fault-test-losen-1"
ADMIN = "anna.bench@example.se"


class Client:
    """A logged-in user of the web process: cookies, CSRF tokens from the pages, retries while it restarts."""

    def __init__(self, base: str):
        self.base = base
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))

    def _open(self, request, timeout=600):
        deadline = time.monotonic() + 120
        while True:
            try:
                with self.opener.open(request, timeout=timeout) as response:
                    return response.geturl(), response.read().decode()
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)  # the web process is being restarted

    def get(self, path: str) -> str:
        return self._open(self.base + path)[1]

    def post(self, path: str, fields: dict, token_page: str, files: dict | None = None) -> tuple[str, str]:
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', token_page) or re.search(
            r'<meta name="csrf-token" content="([^"]+)"', token_page
        )
        fields = {**fields, "csrf_token": token.group(1)}
        if files:
            boundary = uuid.uuid4().hex
            body = b"".join(
                f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
                for k, v in fields.items()
            )
            for key, (name, content) in files.items():
                body += (
                    (
                        f'--{boundary}\r\nContent-Disposition: form-data; name="{key}"; filename="{name}"\r\n'
                        "Content-Type: text/csv\r\n\r\n"
                    ).encode()
                    + content
                    + b"\r\n"
                )
            body += f"--{boundary}--\r\n".encode()
            request = urllib.request.Request(self.base + path, data=body)
            request.add_header("Content-Type", f"multipart/form-data; boundary={boundary}")
        else:
            request = urllib.request.Request(self.base + path, data=urllib.parse.urlencode(fields).encode())
        return self._open(request)


class Product:
    """The web process and the worker, started and killed as the test says."""

    def __init__(self, env: dict, folder: Path):
        self.env, self.folder = env, folder
        self.port = _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.web = self.worker = None
        self.log = open(folder / "processes.log", "a")  # noqa: SIM115

    def _start(self, args: list[str], app: str = "app") -> subprocess.Popen:
        return subprocess.Popen(
            [sys.executable, "-m", "flask", "--app", app, *args],
            cwd=REPO,
            env=self.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def start_web(self) -> None:
        self.web = self._start(["run", "--host", "127.0.0.1", "--port", str(self.port), "--no-reload"])
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(self.base + "/login", timeout=2):
                    return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError("the web process did not start")

    def start_worker(self) -> None:
        self.worker = self._start(["worker"], app="app:worker_app")

    @staticmethod
    def kill(process: subprocess.Popen) -> None:
        """SIGKILL the process and everything it started (its process group)."""
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        process.wait()

    def stop(self) -> None:
        for process in (self.web, self.worker):
            if process and process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    self.kill(process)
        self.log.close()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _prepare(url: str, instance: Path) -> None:
    """An empty migrated database with the bench's employees (one with a password) and industries."""
    from import_bench import EMPLOYEES, INDUSTRIES
    from sqlalchemy import text

    from app import create_app
    from extensions import db
    from models import Industry
    from services import accounts

    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).unlink(missing_ok=True)
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "INSTANCE_DIR": str(instance)})
    from flask_migrate import upgrade

    with app.app_context():
        if url.startswith("postgresql"):
            with db.engine.begin() as conn:
                conn.execute(text("DROP SCHEMA public CASCADE"))
                conn.execute(text("CREATE SCHEMA public"))
        upgrade()
        for name, email in EMPLOYEES:
            password = PASSWORD if email == ADMIN else None
            accounts.create_employee(db.session, email=email, name=name, role="admin", password=password)
        db.session.add_all(Industry(name=name) for name in INDUSTRIES)
        db.session.commit()


def _job(engine) -> dict | None:
    from sqlalchemy import text

    with engine.connect() as conn:
        row = conn.execute(text("SELECT * FROM import_job ORDER BY id DESC LIMIT 1")).mappings().first()
        return dict(row) if row else None


def _checks(engine, rows: int) -> dict:
    from sqlalchemy import text

    queries = {
        "companies": "SELECT count(*) FROM company",
        "distinct_orgnr": "SELECT count(DISTINCT org_number) FROM company",
        "create_events": "SELECT count(*) FROM audit_event WHERE action = 'create' AND entity_type = 'company'",
        "companies_without_event": "SELECT count(*) FROM company c WHERE NOT EXISTS (SELECT 1 FROM audit_event a "
        "WHERE a.entity_type = 'company' AND a.entity_id = c.id AND a.action = 'create')",
        "events_without_company": "SELECT count(*) FROM audit_event a WHERE a.entity_type = 'company' AND NOT EXISTS "
        "(SELECT 1 FROM company c WHERE c.id = a.entity_id)",
        "category_links": "SELECT count(*) FROM company_category",
        "orphan_links": "SELECT count(*) FROM company_category l WHERE NOT EXISTS "
        "(SELECT 1 FROM company c WHERE c.id = l.company_id)",
        "duplicate_links": "SELECT count(*) FROM (SELECT company_id, category_id FROM company_category "
        "GROUP BY company_id, category_id HAVING count(*) > 1) d",
        "duplicate_customer_numbers": "SELECT count(*) FROM (SELECT customer_number FROM company "
        "GROUP BY customer_number HAVING count(*) > 1) d",
    }
    with engine.connect() as conn:
        return {key: conn.execute(text(sql)).scalar() for key, sql in queries.items()}


def run(args, db_label: str, url: str, redis: str | None) -> bool:
    from import_bench import generate
    from sqlalchemy import create_engine

    rnd = random.Random(args.seed)
    folder = Path(tempfile.mkdtemp(prefix="crm-import-faults-"))
    instance = folder / "instance"
    instance.mkdir()
    companies, _contacts = generate(args.rows, 0, folder)
    _prepare(url, instance)
    env = {
        **os.environ,
        "CRM_DATABASE_URL": url,
        "CRM_INSTANCE_DIR": str(instance),
        "CRM_UPLOAD_DIR": str(instance / "uploads"),
        "CRM_JOB_STALLED_SECONDS": str(args.stalled_seconds),
        "CRM_QUEUE_NAME": f"faults{uuid.uuid4().hex[:8]}",
        "FLASK_DEBUG": "0",
        "PYTHONUNBUFFERED": "1",
        "CRM_LOCALE": "sv",
    }
    env.pop("CRM_REDIS_URL", None)
    if redis:
        env["CRM_REDIS_URL"] = redis
    env.pop("FLASK_APP", None)
    engine = create_engine(url)
    product = Product(env, folder)
    product.start_web()
    product.start_worker()
    started = time.monotonic()
    worker_kills = web_kills = 0
    web_kill_after = sorted(rnd.sample(range(1, args.worker_kills + 1), args.web_kills))
    try:
        client = Client(product.base)
        page = client.get("/login")
        client.post("/login", {"email": ADMIN, "password": PASSWORD}, page)
        page = client.get("/admin/import/")
        url_after, page = client.post(
            "/admin/import/upload", {"entity": "company"}, page, files={"file": ("foretag.csv", companies.read_bytes())}
        )
        job_id = int(re.search(r"/admin/import/job/(\d+)/mapping", url_after).group(1))
        fields = dict(
            re.findall(r'<select[^>]*name="(column-\d+)"[^>]*>.*?<option value="([^"]*)" selected>', page, re.S)
        )
        client.post(
            f"/admin/import/job/{job_id}/mapping", {**fields, "mode": "create", "match_key": "org_number"}, page
        )
        print(f"[{db_label}] job {job_id}: dry run queued", flush=True)
        write_queued = False
        last_claim = claim_seen = killed_in_dry_run = None
        rows_at_claim = takeovers = 0
        while True:
            job = _job(engine)
            if job["status"] == "checked" and not write_queued:
                page = client.get(f"/admin/import/job/{job_id}")
                client.post(f"/admin/import/job/{job_id}/run", {}, page)
                write_queued = True
                print(f"[{db_label}] dry run done ({job['rows_done']} rows); import queued", flush=True)
                continue
            if job["status"] in ("done", "failed", "cancelled") and write_queued and not job["dry_run"]:
                break
            if job["status"] in ("failed", "cancelled"):
                raise RuntimeError(f"the job ended {job['status']}: {job['error_summary']}")
            running_here = (
                job["status"] == "running"
                and job["claim"]
                and job["claim"] != last_claim
                and f"pid {product.worker.pid} " in (job["worker"] or "")
            )
            if running_here and job["claim"] != claim_seen:
                claim_seen, rows_at_claim = job["claim"], job["rows_done"]
                takeovers += last_claim is not None and job["dry_run"] == killed_in_dry_run
            dry_run_kills_left = job["dry_run"] and worker_kills < args.worker_kills // 5
            write_kills_left = not job["dry_run"] and worker_kills < args.worker_kills
            progressed = job["rows_done"] > rows_at_claim or job["dry_run"]
            if running_here and progressed and (dry_run_kills_left or write_kills_left):
                time.sleep(rnd.uniform(0, args.max_run_seconds))  # a random point of its run
                product.kill(product.worker)
                worker_kills += 1
                last_claim, killed_in_dry_run = job["claim"], job["dry_run"]
                done = _job(engine)
                print(
                    f"[{db_label}] kill {worker_kills}: worker SIGKILLed at {done['rows_done']:,} rows "
                    f"({'dry run' if done['dry_run'] else 'import'}, batch {done['batches_done']})",
                    flush=True,
                )
                product.start_worker()
                if web_kills < args.web_kills and worker_kills >= web_kill_after[web_kills]:
                    time.sleep(rnd.uniform(0, 3))
                    product.kill(product.web)
                    web_kills += 1
                    print(f"[{db_label}] web process SIGKILLed ({web_kills})", flush=True)
                    product.start_web()
                    client.get(f"/admin/import/job/{job_id}/progress.json")  # the same session still works
                continue
            if time.monotonic() - started > args.timeout:
                raise RuntimeError("timed out")
            time.sleep(0.2)
        job = _job(engine)
        checks = _checks(engine, args.rows)
    finally:
        product.stop()
    elapsed = time.monotonic() - started
    rows = args.rows
    ok = (
        job["status"] == "done"
        and job["created_count"] == rows
        and job["rows_done"] == rows
        and job["error_count"] == 0
        and checks["companies"] == checks["distinct_orgnr"] == checks["create_events"] == rows
        and checks["category_links"] == rows
        and not any(
            checks[k]
            for k in (
                "companies_without_event",
                "events_without_company",
                "orphan_links",
                "duplicate_links",
                "duplicate_customer_numbers",
            )
        )
    )
    summary = {
        "database": db_label,
        "rows": rows,
        "worker_kills": worker_kills,
        "web_kills": web_kills,
        "takeovers": takeovers,
        "rows_lost": rows - checks["distinct_orgnr"],
        "rows_doubled": checks["companies"] - checks["distinct_orgnr"],
        "seconds": round(elapsed),
        "ok": ok,
        **checks,
        "job": {k: job[k] for k in ("status", "rows_done", "created_count", "error_count", "batches_done")},
    }
    print(json.dumps(summary, default=str), flush=True)
    print(
        f"| {db_label} | {rows:,} | {worker_kills} + {web_kills} | {takeovers} | "
        f"{summary['rows_lost']} | {summary['rows_doubled']} | "
        f"{checks['create_events']:,} | {'yes' if ok else 'NO'} | {elapsed / 60:.0f} min |",
        flush=True,
    )
    if ok:
        import shutil

        shutil.rmtree(folder, ignore_errors=True)
    else:
        print(f"kept for a look: {folder}")
    return ok


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--worker-kills", type=int, default=20)
    parser.add_argument("--web-kills", type=int, default=5)
    parser.add_argument("--stalled-seconds", type=int, default=30)
    parser.add_argument("--max-run-seconds", type=float, default=3.0, help="longest a worker runs before its kill")
    parser.add_argument("--postgres", help="PostgreSQL URL (the database is emptied); with --redis")
    parser.add_argument("--redis", help="Redis URL for the queue (with --postgres)")
    parser.add_argument("--no-sqlite", action="store_true")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--timeout", type=int, default=3 * 3600)
    args = parser.parse_args()
    runs = [] if args.no_sqlite else [("SQLite", None)]
    if args.postgres:
        runs.append(("PostgreSQL + Redis", args.postgres))
    results = []
    for label, url in runs:
        if url is None:
            url = f"sqlite:///{tempfile.mkdtemp(prefix='crm-faults-db-')}/faults.sqlite"
        results.append(run(args, label, url, args.redis if label.startswith("PostgreSQL") else None))
    sys.exit(0 if all(results) else 1)


if __name__ == "__main__":
    main()
