"""Import benchmark: our set-based import against a naive ORM baseline, on SQLite and PostgreSQL.

    .venv/bin/python bench/import_bench.py                       # 100,000 companies + 200,000 contacts, SQLite
    .venv/bin/python bench/import_bench.py --postgres postgresql+psycopg://postgres@127.0.0.1:5432/bench_importing
    .venv/bin/python bench/import_bench.py --companies 1000000 --contacts 0 --skip-naive   # flatness
    .venv/bin/python bench/import_bench.py --companies 5000 --contacts 1 --skip-naive --webhooks  # events' cost

Generates a Swedish-looking companies file (name, orgnr, address, phone,
e-mail, kundansvarig, categories, bransch, discount) and a contacts file (two
per company, linked by the company's orgnr), then measures, each in a fresh
process on an empty migrated database: the dry run and the import of our
import as the product runs it, then (ours only) a dry run of the same file as
new records against the register the import filled, where every row has a
likely duplicate to point out (the measuring process is the web process: it
logs in, serves a user's pages, queues the job and serves its progress as the
job page asks for it; a real queue worker, `flask --app app:worker_app
worker`, runs it), and
the naive baseline (one ORM object per row, one lookup per row, one commit at
the end) on --naive-rows rows. Prints rows/s (wall clock in the worker, and
per CPU-second of the queue worker and its parsing processes, which a busy
shared machine distorts less; PostgreSQL's own work is not in the latter) and
the peak RSS of every process: the submitting one, the queue worker and each
of its parsing processes, with their sum; and the queue worker's own rows per
CPU-second (its parsing processes left out), which bounds the wall clock
however many cores parse. The PostgreSQL database given is emptied.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import csv
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

FIRST = [
    "Anna",
    "Erik",
    "Maria",
    "Lars",
    "Karin",
    "Johan",
    "Eva",
    "Anders",
    "Sara",
    "Per",
    "Lena",
    "Mikael",
    "Åsa",
    "Björn",
    "Ingrid",
    "Göran",
    "Kerstin",
    "Mats",
    "Ulla",
    "Nils",
]
LAST = [
    "Andersson",
    "Johansson",
    "Karlsson",
    "Nilsson",
    "Eriksson",
    "Larsson",
    "Olsson",
    "Persson",
    "Svensson",
    "Gustafsson",
    "Pettersson",
    "Jonsson",
    "Lindqvist",
    "Lindström",
    "Åberg",
    "Öberg",
    "Berglund",
    "Sjöberg",
]
WORDS = [
    "Bygg",
    "Måleri",
    "Konsult",
    "Data",
    "Transport",
    "Städ",
    "El",
    "VVS",
    "Revision",
    "Bageri",
    "Fastighets",
    "Trädgårds",
    "Möbel",
    "Järn",
    "Sjö",
    "Fjäll",
    "Skog",
    "Hälso",
    "Frisör",
    "Café",
]
CITIES = [
    ("Stockholm", "1"),
    ("Göteborg", "4"),
    ("Malmö", "2"),
    ("Uppsala", "7"),
    ("Västerås", "7"),
    ("Örebro", "7"),
    ("Linköping", "5"),
    ("Helsingborg", "2"),
    ("Jönköping", "5"),
    ("Umeå", "9"),
]
INDUSTRIES = ["Byggverksamhet", "Partihandel", "Detaljhandel", "Dataprogrammering och IT-konsulter"]
CATEGORIES = ["A-kund", "B-kund", "C-kund", "Nyhetsbrev", "Mässa 2026"]
#: Our import's passes, each a job of its own: the dry run, the import, the dry run of the same rows
#: as new records against the register the import filled.
PHASES = ("dry run", "import", "dry run again")
EMPLOYEES = [("Anna Bench", "anna.bench@example.se"), ("Erik Bench", "erik.bench@example.se")]
#: The first employee's password: the submitting process logs in with it and serves pages as a web process.
PASSWORD = "Bänk-lösen-2026-import"
#: Pages the submitting process serves before the passes, as `make run`'s web process has for a user who then
#: starts an import; during a pass it serves the job's progress as often as the job page asks (every 0.7 s).
#: Its peak RSS is then a web process's, not a bare app's.
PAGES = (
    "/admin/",
    "/admin/company/",
    "/admin/contact/",
    "/admin/lead/",
    "/admin/opportunity/",
    "/admin/reports/",
    "/admin/trash/",
    "/admin/people/?q=bench",
    "/admin/import/",
)
PROGRESS_SECONDS = 0.7


def _orgnr(n: int) -> str:
    from stdnum import luhn

    body = f"55{n:07d}"
    return f"{body[:6]}-{body[6:]}{luhn.calc_check_digit(body)}"


def generate(companies: int, contacts_per: int, folder: Path) -> tuple[Path, Path]:
    """Write companies.csv and contacts.csv (semicolon, UTF-8 with BOM, as Excel saves them)."""
    rnd = random.Random(7)
    company_path, contact_path = folder / "companies.csv", folder / "contacts.csv"
    with (
        open(company_path, "w", encoding="utf-8-sig", newline="") as cf,
        open(contact_path, "w", encoding="utf-8-sig", newline="") as pf,
    ):
        cw, pw = csv.writer(cf, delimiter=";"), csv.writer(pf, delimiter=";")
        cw.writerow(
            [
                "Företagsnamn",
                "Org.nr",
                "Adress",
                "Postnummer",
                "Ort",
                "Telefon",
                "E-post",
                "Webb",
                "Kundansvarig",
                "Kategori",
                "Bransch",
                "Rabatt %",
                "Leverantör",
            ]
        )
        pw.writerow(["Förnamn", "Efternamn", "Titel", "E-post", "Mobil", "Företagets orgnr"])
        for n in range(companies):
            city, digit = rnd.choice(CITIES)
            org = _orgnr(n)
            name = f"{rnd.choice(WORDS)}{rnd.choice(WORDS).lower()} {rnd.choice(LAST)} {n} AB"
            cw.writerow(
                [
                    name,
                    org,
                    f"{rnd.choice(WORDS)}gatan {rnd.randint(1, 99)}",
                    f"{digit}{rnd.randint(0, 9999):04d}".replace(" ", "")[:3] + " " + f"{rnd.randint(10, 99)}",
                    city,
                    f"08-{rnd.randint(100, 999)} {rnd.randint(10, 99)} {rnd.randint(10, 99)}",
                    f"info@foretag{n}.se",
                    f"www.foretag{n}.se",
                    rnd.choice(EMPLOYEES)[0],
                    rnd.choice(CATEGORIES),
                    rnd.choice(INDUSTRIES),
                    f"{rnd.randint(0, 20)},{rnd.randint(0, 9)}",
                    rnd.choice(["Ja", "Nej", ""]),
                ]
            )
            for k in range(contacts_per):
                first, last = rnd.choice(FIRST), rnd.choice(LAST)
                pw.writerow(
                    [
                        first,
                        last,
                        rnd.choice(["VD", "Inköpare", "Ekonomichef", ""]),
                        f"{first.lower()}.{k}.{n}@foretag{n}.se".replace("å", "a").replace("ö", "o"),
                        f"070-{rnd.randint(100, 999)} {rnd.randint(10, 99)} {rnd.randint(10, 99)}",
                        org,
                    ]
                )
    return company_path, contact_path


# --- one measurement, in its own process ---------------------------------------------------


def _app(url: str, upload_dir: str):
    from app import create_app

    return create_app({"SQLALCHEMY_DATABASE_URI": url, "UPLOAD_DIR": upload_dir, "INSTANCE_DIR": upload_dir})


def _reset(url: str, upload_dir: str) -> None:
    """An empty migrated database with the references the files name."""
    from flask_migrate import upgrade
    from sqlalchemy import text

    from extensions import db
    from models import Industry
    from services import accounts

    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).unlink(missing_ok=True)
    app = _app(url, upload_dir)
    with app.app_context():
        if url.startswith("postgresql"):
            with db.engine.begin() as conn:
                conn.execute(text("DROP SCHEMA public CASCADE"))
                conn.execute(text("CREATE SCHEMA public"))
        upgrade()
        for number, (name, email) in enumerate(EMPLOYEES):
            password = None if number else PASSWORD
            accounts.create_employee(db.session, email=email, name=name, role="admin", password=password)
        db.session.add_all(Industry(name=name) for name in INDUSTRIES)
        db.session.commit()


def _cpu_seconds() -> float:
    """CPU time of this process and of its finished children (the import's worker processes)."""
    import resource

    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def _proc_cpu_seconds(pid: int, *, children: bool = True) -> float:
    """CPU time of a process and of its children that it has waited for (utime, stime, cutime, cstime), or of
    the process alone (its threads: utime, stime)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(v) for v in fields[11 : 15 if children else 13]) / os.sysconf("SC_CLK_TCK")


class TreeMemory(threading.Thread):
    """The peak RSS of a process and of each of its descendants, per phase: read every 0.1 s while they
    live, and the kernel's high-water mark (VmHWM) reset at the start of each phase."""

    def __init__(self, pid: int):
        super().__init__(daemon=True)
        self.pid, self.peaks, self.done = pid, {}, threading.Event()
        self.phase = ""

    def _tree(self, pid: int) -> list[int]:
        found = [pid]
        for children in Path(f"/proc/{pid}/task").glob("*/children"):
            try:
                for child in children.read_text().split():
                    found += self._tree(int(child))
            except (FileNotFoundError, ProcessLookupError):
                pass
        return found

    def start_phase(self, phase: str) -> None:
        """From now on peaks count for `phase`; the processes' high-water marks start again from here."""
        for pid in self._tree(self.pid):
            try:
                Path(f"/proc/{pid}/clear_refs").write_text("5")  # resets VmHWM to the current RSS
            except OSError:  # gone meanwhile, or not permitted: the sampled RSS still counts
                pass
        self.phase = phase

    def sample(self) -> None:
        for pid in self._tree(self.pid):
            try:
                command = Path(f"/proc/{pid}/cmdline").read_bytes()
                if pid != self.pid and b"multiprocessing" not in command and b"importing.parsing" not in command:
                    continue  # forked but not yet exec'd: its high-water mark is still the worker's
                key = (self.phase, pid)
                self.peaks[key] = max(self.peaks.get(key, 0.0), _peak_rss_mb(pid))
            except (FileNotFoundError, ProcessLookupError, StopIteration):  # gone meanwhile
                pass

    def run(self) -> None:
        while not self.done.wait(0.1):
            self.sample()

    def phase_peaks(self, phase: str) -> tuple[float, list[float]]:
        """The queue worker's peak in `phase` and those of its other processes (parsing, resource tracker)."""
        own = self.peaks.get((phase, self.pid), 0.0)
        return own, sorted((mb for (p, pid), mb in self.peaks.items() if p == phase and pid != self.pid), reverse=True)


def _subscribe(url: str) -> None:
    """A webhook subscription to every created/updated event, posting to the bench's local receiver."""
    from extensions import db
    from models import WebhookSubscription
    from services import webhooks

    if db.session.scalar(db.select(WebhookSubscription.id).limit(1)) is None:
        events = [e for e in webhooks.EVENTS if e.endswith((".created", ".updated"))]
        webhooks.subscribe(db.session, None, name="Bench", url=url, events=events, allow_internal=True)
        db.session.commit()


class WebhookReceiver(threading.Thread):
    """An HTTP server on 127.0.0.1 answering every POST with 204 and counting them."""

    def __init__(self):
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        super().__init__(daemon=True)
        receiver = self
        self.count = 0

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                self.rfile.read(int(self.headers["Content-Length"]))
                receiver.count += 1
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"

    def run(self) -> None:
        self.server.serve_forever()


def _browser(app):
    """A test client of `app` logged in as the first employee that has been served `PAGES`."""
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    login = {"email": EMPLOYEES[0][1], "password": PASSWORD, "csrf_token": token}
    assert client.post("/login", data=login).status_code == 302, "the bench could not log in"
    for url in PAGES:
        assert client.get(url).status_code == 200, url
    return client


def _head(path: str, rows: int) -> str:
    """A copy of the CSV file `path` with its header and first `rows` rows (the generated files have no line
    breaks inside fields)."""
    target = f"{path}.first-{rows}.csv"
    with open(path, encoding="utf-8-sig") as f, open(target, "w", encoding="utf-8") as out:
        for number, line in enumerate(f):
            if number > rows:
                break
            out.write(line)
    return target


def _ours(
    url: str,
    upload_dir: str,
    path: str,
    entity: str,
    match_key: str,
    webhook_url: str | None = None,
    again_rows: int | None = None,
) -> dict:
    """Our import as the product runs it: this process plays the web process (it serves a user's pages, stores
    the file, queues the job and submits it, and serves the job's progress), a real queue worker (`flask --app
    app:worker_app worker`, a subprocess) runs each pass. Rows/s are the worker's own (the job's started_at to
    finished_at)."""
    from extensions import db
    from models import Employee, ImportJob
    from services import storage as storage_module
    from services.importing import jobs, parallel
    from services.importing import tasks as import_tasks

    app = _app(url, upload_dir)
    result = {"workers": parallel.worker_count(app.config["IMPORT_WORKERS"], os.path.getsize(path))}
    env = {
        **os.environ,
        "CRM_DATABASE_URL": url,
        "CRM_INSTANCE_DIR": upload_dir,
        "CRM_UPLOAD_DIR": upload_dir,
        "CRM_SECRET_KEY": app.config["SECRET_KEY"],
    }
    env.pop("CRM_REDIS_URL", None)
    worker = subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "app:worker_app", "worker"],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    memory = TreeMemory(worker.pid)
    memory.start()
    browser = _browser(app)
    # requests in a thread of their own, each in its own app context as in a web server (not in this one's)
    server = concurrent.futures.ThreadPoolExecutor(1)

    def serve(url: str):
        return server.submit(browser.get, url).result()

    try:
        with app.app_context():
            app.extensions["tasks"].flush()
            if webhook_url:
                _subscribe(webhook_url)
            storage = storage_module.from_config(app.config)
            actor_id = db.session.scalar(db.select(Employee.id).limit(1))
            with open(path, encoding="utf-8-sig") as f:
                headers = next(csv.reader(f, delimiter=";"))

            def new_job(mode: str, key_column: str | None, file_path: str) -> ImportJob:
                with open(file_path, "rb") as f:
                    key, size = storage.save(f, max_bytes=10**12)
                mapping = (
                    __import__("services.importing.fields", fromlist=["ENTITIES"]).ENTITIES[entity].auto_map(headers)
                )
                if mode == "create" and entity == "company":
                    # new companies with the register's organisationsnummer are row errors (one company per
                    # number), never scored: compared without it, each still has its duplicate (e-mail, phone, name)
                    mapping = {i: k for i, k in mapping.items() if k != "org_number"}
                job = ImportJob(
                    entity=entity,
                    filename=Path(file_path).name,
                    storage_key=key,
                    file_size=size,
                    mode=mode,
                    match_key=key_column,
                    created_by_id=actor_id,
                    status="uploaded",
                    mapping=mapping,
                )
                db.session.add(job)
                db.session.flush()
                return job

            job = new_job("upsert", match_key, path)
            for phase, write in zip(PHASES, (False, True, False), strict=True):
                if phase == "dry run again":
                    # the rows once more as new records, against the register the import filled: each is
                    # compared with the register and has a duplicate there
                    job = new_job("create", None, _head(path, again_rows) if again_rows else path)
                jobs.queue(db.session, job, write=write)
                job_id = job.id
                memory.start_phase(phase)
                cpu, own = _proc_cpu_seconds(worker.pid), _proc_cpu_seconds(worker.pid, children=False)
                import_tasks.submit(db.session, job)
                db.session.close()  # as the request that starts a job ends
                while True:
                    time.sleep(PROGRESS_SECONDS)
                    progress = serve(f"/admin/import/job/{job_id}/progress.json")
                    assert progress.status_code == 200 and progress.json["id"] == job_id, progress.status_code
                    job = db.session.get(ImportJob, job_id)
                    if job.status not in jobs.ACTIVE:
                        break
                    db.session.rollback()
                    assert worker.poll() is None, "the worker died"
                assert serve(f"/admin/import/job/{job_id}").status_code == 200  # the page reloaded
                cpu = _proc_cpu_seconds(worker.pid) - cpu
                own = _proc_cpu_seconds(worker.pid, children=False) - own
                assert job.status in ("checked", "done"), (job.status, job.error_summary)
                memory.sample()
                result[phase] = {
                    "rows": job.rows_done,
                    "seconds": (job.finished_at - job.started_at).total_seconds(),
                    "cpu": cpu,
                    "cpu_own": own,
                    "created": job.created_count,
                    "errors": job.error_count,
                    "notices": getattr(job, "notice_count", 0),
                }
                db.session.rollback()
    finally:
        server.shutdown()
        worker.terminate()
        worker.wait(timeout=60)
        memory.done.set()
    for phase in PHASES:
        result[phase]["queue_worker_rss_mb"], result[phase]["other_rss_mb"] = memory.phase_peaks(phase)
    return result


def _naive(url: str, upload_dir: str, path: str, entity: str, limit: int) -> dict:
    """The baseline: csv.DictReader, the same validation, one lookup and one ORM object per row, one commit."""
    from itertools import islice

    from extensions import db
    from models import Category, Company, CompanyContact, Contact, Employee, Industry
    from services import validation

    app = _app(url, upload_dir)
    result = {}
    with app.app_context(), app.test_request_context():
        for phase in ("dry run", "import"):
            s = db.session
            started, cpu = time.perf_counter(), time.process_time()
            rows = 0
            with open(path, encoding="utf-8-sig", newline="") as f:
                for rec in islice(csv.DictReader(f, delimiter=";"), limit):
                    rows += 1
                    if entity == "company":
                        org = validation.org_number(rec["Org.nr"])
                        s.scalar(db.select(Company).where(Company.org_number == org))
                        company = Company(
                            name=rec["Företagsnamn"],
                            org_number=org,
                            postal_street=rec["Adress"],
                            postal_postcode=validation.postcode(rec["Postnummer"]),
                            postal_city=rec["Ort"],
                            phone=validation.phone(rec["Telefon"]),
                            email=validation.email(rec["E-post"]),
                            website=validation.website(rec["Webb"]),
                            owner=s.scalar(db.select(Employee).where(Employee.name == rec["Kundansvarig"])),
                            industry=s.scalar(db.select(Industry).where(Industry.name == rec["Bransch"])),
                            discount_percent=rec["Rabatt %"].replace(",", "."),
                            is_supplier=rec["Leverantör"] == "Ja",
                        )
                        category = s.scalar(db.select(Category).where(Category.name == rec["Kategori"]))
                        if category is None:
                            category = Category(name=rec["Kategori"], applies_to="company")
                        company.categories.append(category)
                        s.add(company)
                    else:
                        email = validation.email(rec["E-post"])
                        s.scalar(db.select(Contact).where(Contact.email == email))
                        contact = Contact(
                            first_name=rec["Förnamn"],
                            last_name=rec["Efternamn"],
                            title=rec["Titel"],
                            email=email,
                            mobile=validation.phone(rec["Mobil"]),
                        )
                        company = s.scalar(
                            db.select(Company).where(
                                Company.org_number == validation.org_number(rec["Företagets orgnr"])
                            )
                        )
                        if company is not None:
                            s.add(CompanyContact(company=company, contact=contact, role=rec["Titel"]))
                        s.add(contact)
            if phase == "dry run":
                s.rollback()
            else:
                s.commit()
            result[phase] = {"rows": rows, "seconds": time.perf_counter() - started, "cpu": time.process_time() - cpu}
    return result


def _peak_rss_mb(pid: int | str = "self") -> float:
    """A process's peak resident memory (VmHWM: unlike ru_maxrss, it does not count what was forked from)."""
    with open(f"/proc/{pid}/status") as f:
        return next(int(line.split()[1]) / 1024 for line in f if line.startswith("VmHWM:"))


def child(args) -> None:
    """Entry point of one measurement process: prints its result and peak RSS as JSON."""
    if args.reset:
        _reset(args.url, args.upload_dir)
        print(json.dumps({}))
        return
    if args.variant in ("ours", "ours + webhooks"):
        result = _ours(
            args.url, args.upload_dir, args.path, args.entity, args.match_key, args.webhook_url, args.again_rows
        )
    else:
        result = _naive(args.url, args.upload_dir, args.path, args.entity, args.limit)
    result.setdefault("workers", 0)
    result["peak_rss_mb"] = _peak_rss_mb()
    print(json.dumps(result))


def _spawn(*extra: str) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--child", *extra],
        cwd=REPO,
        check=True,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "CRM_LOCALE": "sv"},
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def _memory(result: dict, phase: str) -> str:
    """Peak RSS in a phase: the naive import's process; for ours the submitting (web-side) process + the
    queue worker + each of its other processes (parsing, multiprocessing's resource tracker), and their
    sum (an upper bound of all at once)."""
    own = result["peak_rss_mb"]
    if "queue_worker_rss_mb" not in result[phase]:
        return f"{own:.0f}"
    queue_worker, others = result[phase]["queue_worker_rss_mb"], result[phase]["other_rss_mb"]
    parts = " + ".join(f"{mb:.0f}" for mb in (own, queue_worker, *others))
    return f"{parts} = {own + queue_worker + sum(others):.0f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--companies", type=int, default=100_000)
    parser.add_argument("--contacts", type=int, default=2, help="contacts per company (0: none)")
    parser.add_argument("--naive-rows", type=int, default=5_000, help="rows the naive baseline imports")
    parser.add_argument("--skip-naive", action="store_true")
    parser.add_argument("--postgres", help="a PostgreSQL URL to measure as well (the database is emptied)")
    parser.add_argument("--no-sqlite", action="store_true")
    parser.add_argument("--dir", help="where to put the generated files and the SQLite database")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--reset", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--variant", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--upload-dir", help=argparse.SUPPRESS)
    parser.add_argument("--path", help=argparse.SUPPRESS)
    parser.add_argument("--entity", help=argparse.SUPPRESS)
    parser.add_argument("--match-key", help=argparse.SUPPRESS)
    parser.add_argument("--limit", type=int, help=argparse.SUPPRESS)
    parser.add_argument(
        "--webhooks",
        action="store_true",
        help="also measure ours with a webhook subscription to every created/updated event (a local receiver)",
    )
    parser.add_argument("--webhook-url", help=argparse.SUPPRESS)
    parser.add_argument(
        "--again-rows",
        type=int,
        help="the dry run against the register the import filled reads only the file's first N rows",
    )
    args = parser.parse_args()
    if args.child:
        child(args)
        return

    folder = Path(args.dir or tempfile.mkdtemp(prefix="crm-import-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    company_file, contact_file = generate(args.companies, args.contacts, folder)
    print(
        f"Generated {args.companies:,} companies and {args.companies * args.contacts:,} contacts in "
        f"{time.perf_counter() - started:.0f} s ({company_file.stat().st_size / 2**20:.0f} MB + "
        f"{contact_file.stat().st_size / 2**20:.0f} MB) in {folder}"
    )
    databases = [] if args.no_sqlite else [("SQLite", f"sqlite:///{folder / 'bench.sqlite'}")]
    if args.postgres:
        databases.append(("PostgreSQL", args.postgres))
    files = [("companies", "company", "org_number", company_file)]
    if args.contacts:
        files.append(("contacts", "contact", "email", contact_file))
    lines = [
        "| Database | File | Variant | Rows | Dry run rows/s | Import rows/s | Dry run rows/CPU-s | "
        "Import rows/CPU-s | Dry run on the full register rows/s | … rows/CPU-s | "
        "The queue worker's own rows/CPU-s: dry run / import / on the register |",
        "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    memory = [
        "| Database | File | Variant | Peak RSS MB: dry run | … import | … dry run on the full register |",
        "| --- | --- | --- | ---: | ---: | ---: |",
    ]
    upload = str(folder / "uploads")
    variants = (() if args.skip_naive else ("naive",)) + ("ours",) + (("ours + webhooks",) if args.webhooks else ())
    receiver = WebhookReceiver()
    receiver.start()
    for db_name, url in databases:
        for variant in variants:
            _spawn("--reset", "--url", url, "--upload-dir", upload)
            for label, entity, match_key, path in files:
                hook = ("--webhook-url", receiver.url) if variant == "ours + webhooks" else ()
                result = _spawn(
                    *hook,
                    "--variant",
                    variant,
                    "--url",
                    url,
                    "--upload-dir",
                    upload,
                    "--path",
                    str(path),
                    "--entity",
                    entity,
                    "--match-key",
                    match_key,
                    "--limit",
                    str(args.naive_rows),
                    *(("--again-rows", str(args.again_rows)) if args.again_rows else ()),
                )
                dry, run = result["dry run"], result["import"]
                again = result.get("dry run again")
                line = (
                    f"| {db_name} | {label} | {variant} | {run['rows']:,} | {dry['rows'] / dry['seconds']:,.0f} | "
                    f"{run['rows'] / run['seconds']:,.0f} | {dry['rows'] / dry['cpu']:,.0f} | "
                    f"{run['rows'] / run['cpu']:,.0f} | "
                    + (
                        f"{again['rows'] / again['seconds']:,.0f} | {again['rows'] / again['cpu']:,.0f} | "
                        if again
                        else "– | – |"
                    )
                    + " "
                    + " / ".join(
                        f"{result[p]['rows'] / result[p]['cpu_own']:,.0f}"
                        if p in result and result[p].get("cpu_own")
                        else "–"
                        for p in PHASES
                    )
                    + " |"
                )
                lines.append(line)
                print(line, flush=True)
                memory.append(
                    f"| {db_name} | {label} | {variant} | "
                    + " | ".join(_memory(result, p) if p in result else "–" for p in PHASES)
                    + " |"
                )
                print(memory[-1], f"(load average {os.getloadavg()[0]:.1f})", flush=True)
    print()
    print("\n".join(lines))
    print()
    print("\n".join(memory))
    if args.webhooks:
        print(f"\nWebhook deliveries received while the workers ran: {receiver.count:,}")


if __name__ == "__main__":
    main()
