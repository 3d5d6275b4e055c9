"""Background jobs on the real task queue, with real worker processes (`flask --app app:worker_app worker`):
a worker killed in the middle of a write, other users' saves while an import runs, the queue on
Redis, and two web processes with two workers sharing one PostgreSQL and one Redis.

Workers run as subprocesses on this test run's database and queue. CRM_JOB_STALLED_SECONDS is
lowered to a few seconds here so that a take-over happens within the test (30 s in production)."""

from __future__ import annotations

import csv
import http.cookiejar
import io
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

import pytest
from sqlalchemy import func, select
from stdnum import luhn

from extensions import db
from helpers import PASSWORD
from models import AuditEvent, Category, Company, ImportJob, company_categories
from services import storage as storage_module
from services import tasks
from services.importing import jobs
from services.importing import tasks as import_tasks
from tests.helpers import count, sv

REPO = Path(__file__).resolve().parents[1]
REDIS_URL = os.environ.get("CRM_TEST_REDIS_URL")
STALLED_SECONDS = 3
needs_redis = pytest.mark.skipif(not REDIS_URL, reason="set CRM_TEST_REDIS_URL (e.g. redis://127.0.0.1:6379/4) to run")


def orgnr(n: int) -> str:
    body = f"55{n:07d}"
    return body + str(luhn.calc_check_digit(body))


def companies_csv(rows: int, prefix: str = "Bolag") -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";")
    writer.writerow(["Företagsnamn", "Org.nr", "Ort", "Kategori"])
    for n in range(rows):
        writer.writerow([f"{prefix} {n} AB", orgnr(1_000_000 + n), "Växjö", "Mässa"])
    return out.getvalue().encode()


def environment(app, **extra) -> dict:
    """The subprocesses' environment: this test run's database, files and queue."""
    config = app.config
    env = {
        **os.environ,
        "CRM_DATABASE_URL": config["SQLALCHEMY_DATABASE_URI"],
        "CRM_INSTANCE_DIR": config["INSTANCE_DIR"],
        "CRM_UPLOAD_DIR": config["UPLOAD_DIR"],
        "CRM_QUEUE_FILE": config["QUEUE_FILE"],
        "CRM_QUEUE_NAME": config["QUEUE_NAME"],
        "CRM_REDIS_URL": config["REDIS_URL"],
        "CRM_SECRET_KEY": config["SECRET_KEY"],
        "CRM_JOB_STALLED_SECONDS": str(STALLED_SECONDS),
        "CRM_IMPORT_WORKERS": "0",
        "FLASK_DEBUG": "0",
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("FLASK_APP", None)
    env.update(extra)
    return env


class Processes:
    """Subprocesses of one test; all ended when it ends."""

    def __init__(self, tmp_path: Path):
        self.tmp_path, self.running = tmp_path, []

    def start(self, name: str, args: list[str], env: dict, app: str = "app") -> subprocess.Popen:
        log = open(self.tmp_path / f"{name}.log", "w")  # noqa: SIM115 (closed with the process)
        process = subprocess.Popen(
            [sys.executable, "-m", "flask", "--app", app, *args],
            cwd=REPO,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        process.log_path = self.tmp_path / f"{name}.log"
        self.running.append((process, log))
        return process

    def worker(self, env: dict, name: str = "worker") -> subprocess.Popen:
        return self.start(name, ["worker", "--workers", "1"], env, app="app:worker_app")

    def logs(self) -> str:
        return "\n".join(f"--- {p.args[5:]}\n{p.log_path.read_text()[-3000:]}" for p, _log in self.running)

    def stop_all(self) -> None:
        for process, _log in self.running:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process, log in self.running:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            log.close()


@pytest.fixture
def processes(tmp_path):
    helper = Processes(tmp_path)
    yield helper
    helper.stop_all()


@pytest.fixture
def empty_queue(app):
    tasks.queue.flush()
    yield
    tasks.queue.flush()


def wait_until(condition, timeout: float, processes: Processes | None = None, what: str = ""):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}\n{processes.logs() if processes else ''}")


def fresh_job(session, job_id: int) -> ImportJob:
    session.expire_all()
    job = session.get(ImportJob, job_id)
    session.rollback()  # no read transaction left open (SQLite: the workers must be able to write)
    return job


def checked_job(session, app, employees, data: bytes, *, all_or_nothing=False) -> ImportJob:
    """An uploaded file with its dry run done (in this process: the tests here are about the write)."""
    storage = storage_module.from_config(app.config)
    job = jobs.create_job(
        session,
        storage,
        entity="company",
        filename="kunder.csv",
        stream=io.BytesIO(data),
        actor=employees["admin"],
        max_bytes=10**8,
    )
    job.all_or_nothing = all_or_nothing
    jobs.queue(session, job, write=False)
    session.commit()
    with app.app_context():
        assert jobs.run(db.session, job.id, storage=storage, worker="test") == "checked"
        db.session.remove()
    return fresh_job(session, job.id)


def assert_exactly_the_file(session, job_id: int, rows: int) -> None:
    """Checked by query: every row of the file once, nothing else, the audit trail and counts matching."""
    job = fresh_job(session, job_id)
    assert (job.status, job.created_count, job.error_count, job.rows_done) == ("done", rows, 0, rows)
    assert count(session, Company) == rows
    assert session.scalar(select(func.count(func.distinct(Company.org_number)))) == rows  # none twice
    assert count(session, AuditEvent, AuditEvent.import_job_id == job_id, AuditEvent.action == "create") == rows
    assert session.scalar(select(func.count()).select_from(company_categories)) == rows  # no orphan or double link
    assert count(session, Category) == 1


# --- a worker killed in the middle of a write ---------------------------------------------------


@pytest.mark.parametrize("all_or_nothing", [False, True], ids=["skip-bad-rows", "all-or-nothing"])
def test_a_worker_killed_mid_write_is_taken_over_and_the_import_holds_exactly_the_file(
    app, session, employees, processes, empty_queue, all_or_nothing
):
    rows = 20_000
    job = checked_job(session, app, employees, companies_csv(rows), all_or_nothing=all_or_nothing)
    jobs.queue(session, job, write=True)
    import_tasks.submit(session, job)
    env = environment(app)
    first = processes.worker(env, "worker-1")
    wait_until(lambda: fresh_job(session, job.id).batches_done >= 2, 120, processes, "the first batches")
    first.send_signal(signal.SIGKILL)
    first.wait()
    killed_at = fresh_job(session, job.id)
    assert killed_at.status == "running" and killed_at.claim  # the dead worker's claim: nobody else runs it yet
    assert count(session, Company) == killed_at.created_count  # what the job says it wrote, exactly
    assert count(session, Company) < rows
    processes.worker(env, "worker-2")
    wait_until(lambda: fresh_job(session, job.id).status == "done", 180, processes, "the take-over")
    assert_exactly_the_file(session, job.id, rows)
    job = fresh_job(session, job.id)
    assert job.resumed_count == 1 and f"pid {first.pid} " not in job.worker  # done by the second worker


# --- other users' saves while an import runs --------------------------------------------------


def test_another_users_save_does_not_wait_behind_an_all_or_nothing_import(
    app, session, employees, processes, empty_queue, login, make_company
):
    """The issue's guarantee, on SQLite and PostgreSQL: while a real worker writes a 40,000-row
    all-or-nothing import, another user's save of a company completes in under a second.

    A timed assertion, unlike the house's rule for speed goals, because this is a concurrency
    guarantee: waiting behind the import would take seconds to minutes (its whole run, when it held
    SQLite's only write lock: 24-26 s for 200,000 rows; SQLite gives up at 30 s), and on SQLite one
    batch holds that lock for 250 rows (about 50 ms of CPU). The time is the server's
    own: the test client calls the app in this process, from the request to its answer, no network.
    On a shared machine whose load makes a save alone slow, the budget is three times a save alone
    (the median of saves measured just before, in this run) when that is more than a second, and the
    median of the saves during the import is held to it (the slowest to three times it): the test fails
    on waiting behind the import, not on the machine's load (bench/save_latency_bench.py measures the
    distribution)."""
    from tests.test_views_company import edit_form_data

    company = make_company(name="Någon annans AB")
    seller = login("seller")

    def save(name: str) -> float:
        session.expire_all()  # the last request's save is in the database, not in this session
        data = edit_form_data(session.get(Company, company.id), name=name)
        session.rollback()
        started = time.perf_counter()
        response = seller.post(f"/admin/company/edit/?id={company.id}", data)
        took = time.perf_counter() - started
        assert response.status_code == 302
        return took

    save("Före importen AB")  # the first request of a process loads templates and forms
    alone = sorted(save(f"Före importen {n} AB") for n in range(5))
    budget = max(1.0, 3 * alone[len(alone) // 2])
    job = checked_job(session, app, employees, companies_csv(40_000), all_or_nothing=True)
    jobs.queue(session, job, write=True)
    import_tasks.submit(session, job)
    processes.worker(environment(app))
    wait_until(lambda: fresh_job(session, job.id).batches_done >= 1, 120, processes, "the import to start writing")
    during, first = [], fresh_job(session, job.id).batches_done
    for n in range(5):
        during.append(save(f"Sparad under importen {n} AB"))
        assert fresh_job(session, job.id).status == "running", "the import ended before the saves: make it larger"
        time.sleep(0.2)
    assert fresh_job(session, job.id).batches_done > first  # the import kept writing batches meanwhile
    during.sort()
    # The typical save within the budget, and none near the import's own run (waiting behind it took
    # its whole run); one save slowed by the worker's share of two busy cores is the machine, not a wait.
    assert during[len(during) // 2] < budget and during[-1] < 3 * budget, {
        "during the import": during,
        "alone": alone,
        "budget": budget,
    }
    session.expire_all()
    assert session.get(Company, company.id).name == "Sparad under importen 4 AB"
    wait_until(lambda: fresh_job(session, job.id).status == "done", 300, processes, "the import")


# --- the queue itself ------------------------------------------------------------------------


def test_the_job_page_shows_the_place_in_the_queue_and_a_stalled_worker_without_writing(
    app, session, employees, login, empty_queue
):
    admin = login("admin")
    data = companies_csv(3)
    first = checked_job(session, app, employees, data)
    second = checked_job(session, app, employees, data)
    for job in (first, second):
        jobs.queue(session, job, write=True)
        import_tasks.submit(session, job)
    page = admin.client.get(f"/admin/import/job/{second.id}").get_data(as_text=True)
    assert sv("Waiting in the queue (place %(place)s).", place=2) in page
    state = admin.client.get(f"/admin/import/job/{first.id}/progress.json").get_json()
    assert (state["place"], state["active"]) == (1, True)
    # a running job whose worker stopped reporting: shown as such, computed (nothing written by the GET)
    from datetime import timedelta

    from models import utcnow

    first = fresh_job(session, first.id)
    first.status, first.claim, first.worker = "running", "dead", "host pid 1 Worker-1"
    first.heartbeat_at = utcnow() - timedelta(seconds=app.config["JOB_STALLED_SECONDS"] + 10)
    session.commit()
    row_before = dict(session.execute(select(ImportJob.__table__).where(ImportJob.id == first.id)).mappings().one())
    session.rollback()
    state = admin.client.get(f"/admin/import/job/{first.id}/progress.json").get_json()
    assert state["stalled"] and "arbetare 1 på servern host" in state["where"]
    assert "arbetare 1 på servern host" in admin.client.get(f"/admin/import/job/{first.id}").get_data(as_text=True)
    assert sv("worker not responding") in admin.client.get("/admin/import/").get_data(as_text=True)
    row_after = dict(session.execute(select(ImportJob.__table__).where(ImportJob.id == first.id)).mappings().one())
    assert row_after == row_before


def test_the_worker_runs_queued_jobs_and_the_retry_button_queues_them_again(
    app, session, employees, login, worker, empty_queue
):
    admin = login("admin")
    job = checked_job(session, app, employees, companies_csv(5))
    jobs.queue(session, job, write=True)  # a write that failed before its first batch (e.g. the database was down)
    job.status, job.error_summary = "failed", "Något gick fel."
    session.commit()
    page = admin.client.get(f"/admin/import/job/{job.id}").get_data(as_text=True)
    assert sv("Try again") in page and 'id="retry-button"' in page
    assert admin.post(f"/admin/import/job/{job.id}/retry").status_code == 302
    wait_until(lambda: fresh_job(session, job.id).status == "done", 60, None, "the retried import")
    assert count(session, Company) == 5


@pytest.mark.parametrize("app_name", ["app", "app:worker_app"])
def test_the_worker_command_is_there(app_name):
    result = subprocess.run(
        [sys.executable, "-m", "flask", "--app", app_name, "worker", "--help"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0 and "--workers" in result.stdout


def test_the_worker_app_knows_every_task_and_loads_no_screens():
    """What `flask --app app:worker_app worker` runs: the tasks without the admin screens, the API, the
    password checker's word lists or Alembic (memory a worker would hold for nothing)."""
    script = (
        "import sys, app\n"
        "worker = app.worker_app()\n"
        "from services import tasks\n"
        "print(sorted(tasks.queue._registry._registry))\n"
        "print(sorted(m for m in sys.modules if m.startswith(('admin_views.company', 'api.', 'zxcvbn', 'alembic'))))\n"
        "print(sorted(r.rule for r in worker.url_map.iter_rules() if r.rule.startswith(('/admin', '/api'))))\n"
    )
    result = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    registered, loaded, routes = result.stdout.strip().splitlines()[-3:]
    for module in tasks.TASK_MODULES:  # every module's tasks are known to the worker
        assert f"'{module}." in registered, (module, registered)
    assert "'services.importing.tasks.run_job'" in registered
    assert (loaded, routes) == ("[]", "[]")


def test_a_deployment_on_sqlite_loads_neither_redis_nor_psycopg(tmp_path):
    """huey.storage imports both whichever storage is used, 15.5 MB in every web process and worker that needs
    neither; the queue on its SQLite file keeps them out (and the Redis tests here show Redis storage works)."""
    script = (
        "import sys, app\n"
        "web = app.create_app()\n"
        "assert web.test_client().get('/login').status_code == 200\n"
        "app.worker_app()\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('redis', 'psycopg', 'huey')))\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CRM_", "FLASK_"))}
    env |= {"CRM_DATABASE_URL": f"sqlite:///{tmp_path / 'crm.sqlite'}", "CRM_INSTANCE_DIR": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, env=env, capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stderr
    loaded = result.stdout.strip().splitlines()[-1]
    assert "'huey.storage'" in loaded and "redis" not in loaded and "psycopg" not in loaded, loaded


@needs_redis
def test_the_queue_on_redis_runs_jobs(app, session, employees, processes):
    """Redis storage (CRM_REDIS_URL): a job queued by this process is done by a worker process."""
    name = f"test{uuid.uuid4().hex[:12]}"
    config = {**app.config, "REDIS_URL": REDIS_URL, "QUEUE_NAME": name}
    saved = tasks.queue.storage, tasks.queue.name
    tasks.queue.storage, tasks.queue.name = tasks.create_storage(config), name
    try:
        job = checked_job(session, app, employees, companies_csv(50))
        jobs.queue(session, job, write=True)
        task_id = import_tasks.submit(session, job)
        assert tasks.place_in_queue(task_id) == 1
        processes.worker(environment(app, CRM_REDIS_URL=REDIS_URL, CRM_QUEUE_NAME=name))
        wait_until(lambda: fresh_job(session, job.id).status == "done", 60, processes, "the job on Redis")
        assert count(session, Company) == 50 and tasks.place_in_queue(task_id) is None
    finally:
        tasks.queue.flush()
        tasks.queue.storage, tasks.queue.name = saved


# --- two web processes, two workers, one PostgreSQL and one Redis ----------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Browser:
    """A logged-in HTTP client of one web process (cookies, CSRF token from the pages)."""

    def __init__(self, base: str):
        self.base = base
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))

    def get(self, path: str) -> str:
        with self.opener.open(self.base + path, timeout=30) as response:
            return response.read().decode()

    def token(self, page: str) -> str:
        match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page) or re.search(
            r'<meta name="csrf-token" content="([^"]+)"', page
        )
        return match.group(1)

    def post(self, path: str, fields: dict, page: str | None = None, files: dict | None = None) -> str:
        fields = {**fields, "csrf_token": self.token(page or self.get("/login"))}
        if files:
            boundary = uuid.uuid4().hex
            body = b""
            for key, value in fields.items():
                body += f'--{boundary}\r\nContent-Disposition: form-data; name="{key}"\r\n\r\n{value}\r\n'.encode()
            for key, (filename, content) in files.items():
                body += (
                    (
                        f'--{boundary}\r\nContent-Disposition: form-data; name="{key}"; filename="{filename}"\r\n'
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
        with self.opener.open(request, timeout=60) as response:
            self.url = response.geturl()
            return response.read().decode()

    def login(self, email: str) -> None:
        self.post("/login", {"email": email, "password": PASSWORD})


def wait_for_web(base: str, processes: Processes) -> None:
    def up():
        try:
            with urllib.request.urlopen(base + "/login", timeout=2) as response:
                return response.status == 200
        except OSError:
            return False

    wait_until(up, 60, processes, f"the web process at {base}")


@pytest.mark.postgres
@needs_redis
@pytest.mark.skipif(
    not os.environ.get("CRM_TEST_DATABASE_URL", "").startswith("postgresql"),
    reason="needs PostgreSQL (CRM_TEST_DATABASE_URL)",
)
def test_two_web_processes_and_two_workers_share_the_jobs(app, session, employees, processes):
    """A job started through web process A is seen, cancelled and retried through B, and done by a worker."""
    name = f"test{uuid.uuid4().hex[:12]}"
    env = environment(app, CRM_REDIS_URL=REDIS_URL, CRM_QUEUE_NAME=name)
    bases = []
    for web in ("web-a", "web-b"):
        port = free_port()
        processes.start(web, ["run", "--host", "127.0.0.1", "--port", str(port), "--no-reload"], env)
        bases.append(f"http://127.0.0.1:{port}")
    for base in bases:
        wait_for_web(base, processes)
    a, b = Browser(bases[0]), Browser(bases[1])
    for browser in (a, b):
        browser.login(employees["admin"].email)
    try:
        # upload and dry run through A, with no worker running yet: B sees it waiting
        index = a.get("/admin/import/")
        page = a.post(
            "/admin/import/upload", {"entity": "company"}, index, files={"file": ("kunder.csv", companies_csv(30_000))}
        )
        job_id = int(re.search(r"/admin/import/job/(\d+)/mapping", a.url).group(1))
        fields = dict(
            re.findall(r'<select[^>]*name="(column-\d+)"[^>]*>.*?<option value="([^"]*)" selected>', page, re.S)
        )
        a.post(f"/admin/import/job/{job_id}/mapping", {**fields, "mode": "create", "match_key": "org_number"}, page)
        assert sv("Waiting in the queue (place %(place)s).", place=1) in b.get(f"/admin/import/job/{job_id}")
        processes.worker(env, "worker-1")
        processes.worker(env, "worker-2")
        wait_until(lambda: fresh_job(session, job_id).status == "checked", 120, processes, "the dry run")
        # the write through A; B sees it running on a worker, cancels it, and tries it again
        job_page = a.get(f"/admin/import/job/{job_id}")
        a.post(f"/admin/import/job/{job_id}/run", {}, job_page)
        wait_until(lambda: fresh_job(session, job_id).batches_done >= 1, 120, processes, "the write")
        seen = b.get(f"/admin/import/job/{job_id}")
        job = fresh_job(session, job_id)
        host, number = re.fullmatch(r"(\S+) pid \d+ Worker-(\d+)", job.worker).groups()
        worker = sv("worker %(number)s on the server %(host)s", number=number, host=host)
        assert sv("Running in the background (%(worker)s).", worker=worker) in seen.replace("&#39;", "'")
        b.post(f"/admin/import/job/{job_id}/cancel", {}, seen)
        wait_until(lambda: fresh_job(session, job_id).status == "cancelled", 60, processes, "the cancel")
        kept = fresh_job(session, job_id).created_count
        assert 0 < kept == count(session, Company)
        retry_page = b.get(f"/admin/import/job/{job_id}")
        assert sv("Try again") in retry_page
        b.post(f"/admin/import/job/{job_id}/retry", {}, retry_page)
        wait_until(lambda: fresh_job(session, job_id).status == "done", 180, processes, "the retried write")
        job = fresh_job(session, job_id)
        assert (job.created_count, count(session, Company)) == (30_000, 30_000)
        assert session.scalar(select(func.count(func.distinct(Company.org_number)))) == 30_000
        assert " pid " in job.worker
        assert sv("Finished") in a.get(f"/admin/import/job/{job_id}")
    finally:
        saved = tasks.queue.storage
        tasks.queue.storage = tasks.create_storage({**app.config, "REDIS_URL": REDIS_URL, "QUEUE_NAME": name})
        tasks.queue.flush()
        tasks.queue.storage = saved


def test_a_stopping_worker_hands_its_job_back_and_the_next_one_goes_on(app, session, employees, empty_queue):
    """Ctrl-C or SIGTERM (honcho, systemd): the running job goes back to the queue after its batch."""
    rows = 20_000
    job = checked_job(session, app, employees, companies_csv(rows))
    jobs.queue(session, job, write=True)
    import_tasks.submit(session, job)
    first = tasks.create_worker(1, periodic_tasks=False, handle_signals=False)
    first.start()
    try:
        wait_until(lambda: fresh_job(session, job.id).batches_done >= 1, 120, None, "the first batch")
    finally:
        first.stop()
    stopped = fresh_job(session, job.id)
    assert (stopped.status, stopped.claim) == ("queued", None) and 0 < stopped.created_count < rows
    assert tasks.place_in_queue(stopped.task_id) == 1
    second = tasks.create_worker(1, periodic_tasks=False, handle_signals=False)
    second.start()
    try:
        wait_until(lambda: fresh_job(session, job.id).status == "done", 180, None, "the second worker")
    finally:
        second.stop()
    assert_exactly_the_file(session, job.id, rows)
    assert fresh_job(session, job.id).resumed_count == 0  # handed back, not taken over
