"""Benchmark of issue 13: our screens beside a stock Flask-Admin over the same rows, small and large.

    # make the data sets (once; SQLite files and/or PostgreSQL databases named as you like)
    .venv/bin/python bench/scale_bench.py prepare --url sqlite:////tmp/bench/small.sqlite --companies 1000
    .venv/bin/python bench/scale_bench.py prepare --url sqlite:////tmp/bench/large.sqlite --companies 1000000
    .venv/bin/python bench/scale_bench.py prepare --url postgresql+psycopg://postgres@127.0.0.1/scalelists_1k ...

    # measure: each pair is one dialect at two sizes, measured in the same run
    .venv/bin/python bench/scale_bench.py run --reps 5 \\
        --pair sqlite=sqlite:////tmp/bench/small.sqlite,sqlite:////tmp/bench/large.sqlite \\
        --pair postgresql=postgresql+psycopg://…/scalelists_1k,postgresql+psycopg://…/scalelists_1m

    # the load run: locust (bench/requirements.txt, in .venv-bench) against gunicorn with 4 workers
    .venv/bin/python bench/scale_bench.py load --url postgresql+psycopg://…/scalelists_1m --users 50 --minutes 5

    # drop what prepare made
    .venv/bin/python bench/scale_bench.py drop --url …

`run` starts, per pair, our app over each of its two databases and bench/baseline_app.py (plain
Flask-Admin ModelViews over the same tables) over the large one, under gunicorn with one sync worker
each on the loopback, logs in to ours, and asks every screen of ours at both sizes and the stock screen
over the large one in turn, request by request (with `--apart`, each screen of ours `--reps` + 1 times in
a row and then stock's: see `run`), `--reps` times after one warm-up, reading every body to the end; it
prints the medians (milliseconds from sending the request to the last byte, on the loopback: the
server's time plus well under a millisecond) and the ratios the issue asks for. The machine's load
(`uptime`) is printed at the start and the end: the machine is shared, read the ratios.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
PYTHON = ROOT / ".venv" / "bin" / "python"
GUNICORN = ROOT / ".venv" / "bin" / "gunicorn"
LOCUST = ROOT / ".venv-bench" / "bin" / "locust"
ADMIN = ("anna.lindqvist@example.se", "Demo-losen-2026")
#: Share of the companies put in the trash by `prepare`: at least a full page and its pager, so
#: that the trash shows the same at every size and differs in what is stored.
TRASH_SHARE = 0.001
#: Rows on a list page (admin_views.base.SecureModelView.page_size).
LIST_PAGE = 50
#: Rows the export should have: the filter whose count comes nearest is used.
EXPORT_ROWS = 20_000


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


# --- prepare / drop -------------------------------------------------------------------------------


def _app(url: str):
    os.environ.setdefault("CRM_INSTANCE_DIR", tempfile.mkdtemp(prefix="crm-bench-"))
    from app import create_app

    return create_app({"SQLALCHEMY_DATABASE_URI": url})


def _create_database(url: str) -> None:
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        drop(url)
        return
    import psycopg

    server = parsed.set(drivername="postgresql", database="postgres").render_as_string(hide_password=False)
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{parsed.database}"')


def prepare(url: str, companies: int) -> None:
    """A migrated database with the demo, `companies` generated companies (seed --large), a few
    of them in the trash, and fresh planner statistics."""
    from flask_migrate import upgrade
    from sqlalchemy import event, text

    _create_database(url)
    app = _app(url)
    with app.app_context():
        from extensions import db
        from seed.demo import seed_demo
        from seed.large import seed_large
        from services import storage, word_index

        if db.engine.dialect.name == "sqlite":  # a bench database: fast to fill, not durable

            @event.listens_for(db.engine, "connect")
            def _fast(dbapi, record):
                cursor = dbapi.cursor()
                cursor.execute("PRAGMA cache_size=-400000")
                cursor.execute("PRAGMA synchronous=OFF")
                cursor.close()

            db.engine.dispose()
        upgrade()
        seed_demo(db.session, storage=storage.from_config(app.config))
        db.session.commit()
        started = time.monotonic()
        made = seed_large(db.session, companies, progress=lambda n, s: print(f"  {n:>10,} companies {s:7.0f} s"))
        print(f"generated {made} in {time.monotonic() - started:.0f} s")
        deleted = max(LIST_PAGE + 1, int(companies * TRASH_SHARE))
        db.session.execute(
            text(
                "UPDATE company SET deleted_at = created_at, deleted_by_id = owner_id WHERE id IN "
                "(SELECT id FROM company ORDER BY id DESC LIMIT :n)"
            ),
            {"n": deleted},
        )
        db.session.commit()
        word_index.catch_up(db.engine)  # SQLite: the words index of the companies just moved to the trash
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            # PostgreSQL: VACUUM too, as autovacuum would after a load this size: the visibility map lets the
            # words index (services.word_index) be read from its btree alone
            conn.execute(text("VACUUM ANALYZE" if db.engine.dialect.name == "postgresql" else "ANALYZE"))
        print(f"{deleted} companies put in the trash; statistics analysed")


def drop(url: str) -> None:
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        for suffix in ("", "-wal", "-shm"):
            Path(parsed.database + suffix).unlink(missing_ok=True)
        return
    import psycopg

    server = parsed.set(drivername="postgresql", database="postgres").render_as_string(hide_password=False)
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)')


# --- servers and an HTTP client ---------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def server(target: str, url: str, *, workers: int = 1, ready: str = "/login"):
    """gunicorn serving `target` on a free loopback port with the database `url`; yields the port
    once `ready` answers (its log goes to a temporary file, printed when it fails to start)."""
    port = _free_port()
    env = dict(os.environ, CRM_DATABASE_URL=url, CRM_SECRET_KEY="bench-secret-key-0123456789abcdef")
    env.setdefault("CRM_INSTANCE_DIR", tempfile.mkdtemp(prefix="crm-bench-"))
    log = tempfile.NamedTemporaryFile(prefix="crm-bench-gunicorn-", suffix=".log", delete=False)
    process = subprocess.Popen(
        [str(GUNICORN), "-w", str(workers), "-k", "sync", "-t", "600", "-b", f"127.0.0.1:{port}", target],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        for _ in range(1200):
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
                conn.request("GET", ready)
                conn.getresponse().read()
                conn.close()
                break
            except (OSError, http.client.HTTPException):
                if process.poll() is not None:
                    raise RuntimeError(f"{target} did not start: {Path(log.name).read_text()[-3000:]}") from None
                time.sleep(0.25)
        yield port, process
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()


class Client:
    """A keep-alive HTTP/1.1 client with a cookie jar, enough for a logged-in session."""

    def __init__(self, port: int):
        self.port = port
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
        self.cookies: dict[str, str] = {}

    def request(self, method: str, path: str, body: dict | None = None) -> tuple[int, bytes, float]:
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())} if self.cookies else {}
        data = None
        if body is not None:
            data = urlencode(body, doseq=True)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        started = time.perf_counter()
        try:
            self.conn.request(method, path, body=data, headers=headers)
            response = self.conn.getresponse()
        except (http.client.HTTPException, OSError):
            self.conn.close()
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=600)
            self.conn.request(method, path, body=data, headers=headers)
            response = self.conn.getresponse()
        content = response.read()
        elapsed = time.perf_counter() - started
        for header, value in response.getheaders():
            if header.lower() == "set-cookie":
                name, _sep, rest = value.partition("=")
                self.cookies[name] = rest.split(";", 1)[0]
        return response.status, content, elapsed

    def get(self, path: str) -> tuple[int, bytes, float]:
        return self.request("GET", path)

    def login(self, email: str, password: str) -> None:
        _status, page, _t = self.get("/login")
        token = re.search(rb'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1).decode()
        status, _body, _t = self.request("POST", "/login", {"email": email, "password": password, "csrf_token": token})
        if status != 302:
            raise RuntimeError(f"login refused ({status})")


# --- what to ask -----------------------------------------------------------------------------------


@dataclass
class Screen:
    name: str
    ours: str
    stock: str | None = None
    kind: str = "screen"  # "search", "picker", "export", "list", "card"


@dataclass
class Facts:
    """What the screens of one database are asked with, read from that database."""

    owner: int = 0
    category: int = 0
    biggest: int = 0
    terms: dict[str, tuple[str, int]] = field(default_factory=dict)
    deep_token: str = ""
    deep_offset: int = 0
    export_filter: tuple[str, str, str, int] = ("", "", "", 0)  # (label, ours arg, stock arg, rows)
    companies: int = 0


#: Words tried as search terms; the one whose match count is nearest each target is used.
CANDIDATE_TERMS = ["svensson", "berg", "bygg", "stockholm", "norvik", "kraft", "aktiebolag", "kiruna", "frejlid"]


def read_facts(url: str) -> Facts:
    from sqlalchemy import func, select, text

    app = _app(url)
    facts = Facts()
    with app.app_context():
        from extensions import db
        from models import Category, Company, CompanyContact, Employee, company_categories
        from services import paging, search

        session = db.session
        live = Company.deleted_at.is_(None)
        facts.companies = session.scalar(select(func.count()).select_from(Company).where(live))
        facts.owner = session.scalar(
            select(Company.owner_id).where(live).group_by(Company.owner_id).order_by(func.count().desc()).limit(1)
        )
        facts.category = session.scalar(
            select(company_categories.c.category_id)
            .group_by(company_categories.c.category_id)
            .order_by(func.count().desc())
            .limit(1)
        )
        facts.biggest = session.scalar(
            select(CompanyContact.company_id).group_by(CompanyContact.company_id).order_by(func.count().desc()).limit(1)
        )

        def matching(term: str) -> int:  # from the search index alone (not row by row)
            stmt = select(Company.id).where(live, search.matches(Company, term))
            return session.scalar(select(func.count()).select_from(stmt.subquery()))

        counts = {term: matching(term) for term in CANDIDATE_TERMS}
        org = session.scalar(
            select(Company.org_number).where(live).order_by(Company.id).offset(facts.companies // 3).limit(1)
        )
        unique = f"{org[:6]}-{org[6:]}"  # an organisationsnummer as people type it: one company
        counts[unique] = matching(unique)
        n = facts.companies

        def nearest(target, least=1):
            return min(counts, key=lambda t: abs(counts[t] - target) + (10**9 if counts[t] < least else 0))

        facts.terms = {
            "rare": (unique, counts[unique]),
            # A full first page at every size (the list's 50 rows and its pager), so that the 1,000
            # and the 1,000,000 registers show the same and differ in the matches stored.
            "medium": (nearest(max(n // 200, LIST_PAGE + 1), least=LIST_PAGE + 1), 0),
            "very common": (nearest(n // 4), 0),
            "no match": ("xqzvw", 0),
        }
        for key, (term, _n) in list(facts.terms.items()):
            facts.terms[key] = (term, counts.get(term, 0))
        middle = n // 2
        name, ident = session.execute(
            select(Company.name, Company.id).where(live).order_by(Company.name, Company.id).offset(middle).limit(1)
        ).one()
        facts.deep_token = paging.encode_cursor([name, ident])
        facts.deep_offset = middle
        candidates = {
            "Kundansvarig": (f"flt0_0={facts.owner}", f"flt0_0={facts.owner}", Company.owner_id == facts.owner),
            "kategori": (
                f"flt1_1={facts.category}",
                f"flt0_1={facts.category}",
                Company.categories.any(Category.id == facts.category),
            ),
            "ort Stockholm": ("flt0_5=Stockholm", "flt0_8=Stockholm", Company.postal_city == "Stockholm"),
            "status aktiv": ("flt0_3=active", None, Company.status == "active"),
        }
        sizes = {
            label: session.scalar(select(func.count()).select_from(Company).where(live, cond))
            for label, (_o, stock, cond) in candidates.items()
            if stock
        }
        label = min(sizes, key=lambda k: abs(sizes[k] - EXPORT_ROWS))
        facts.export_filter = (label, candidates[label][0], candidates[label][1], sizes[label])
        assert session.scalar(select(Employee.id).where(Employee.id == facts.owner))
        session.execute(text("SELECT 1"))
    return facts


def screens(facts: Facts) -> list[Screen]:
    half_page = facts.deep_offset // 50
    result = [
        Screen("list page 1", "/admin/company/", "/admin/company/", "list"),
        Screen(
            "deep page (row N/2 by name)",
            f"/admin/company/?sort=1&after={facts.deep_token}",
            f"/admin/company/?sort=1&page={half_page}",
            "list",
        ),
    ]
    for label, (term, count) in facts.terms.items():
        q = urlencode({"search": term})
        name = f"quick search, {label} ({term!r}, {count:,})"
        result.append(Screen(name, f"/admin/company/?{q}", f"/admin/company/?{q}", "search"))
    result += [
        Screen("sort by city", "/admin/company/?sort=3", "/admin/company/?sort=3", "list"),
        Screen("filter Kundansvarig", f"/admin/company/?flt0_0={facts.owner}", f"/admin/company/?flt0_0={facts.owner}"),
        Screen(
            "filter kategori", f"/admin/company/?flt0_1={facts.category}", f"/admin/company/?flt0_1={facts.category}"
        ),
        Screen("contact list", "/admin/contact/", "/admin/contact/", "list"),
        Screen(
            "card (largest customer)",
            f"/admin/company/card/{facts.biggest}",
            f"/admin/company/details/?id={facts.biggest}",
            "card",
        ),
    ]
    for tab in ("contacts", "activities", "email", "files", "projects", "opportunities", "invoices", "history"):
        result.append(Screen(f"card tab {tab}", f"/admin/company/card/{facts.biggest}/tab/{tab}", None, "card"))
    medium = urlencode({"query": facts.terms["medium"][0]})
    result += [
        Screen(
            "picker look-up (company, medium term)",
            f"/admin/opportunity/ajax/lookup/?name=company&{medium}",
            f"/admin/opportunity/ajax/lookup/?name=company&{medium}",
            "picker",
        ),
        Screen("trash", "/admin/trash/", "/admin/trash/"),
        Screen("start page", "/admin/", None),
        Screen(
            "Rapportgenerator, text condition",
            "/admin/reports/generator/?" + urlencode({"entity": "company", "run": 1, "text": facts.terms["medium"][0]}),
            None,
        ),
    ]
    label, ours_arg, stock_arg, rows = facts.export_filter
    result.append(
        Screen(
            f"export CSV, {label} ({rows:,} rows)",
            f"/admin/company/export/csv/?{ours_arg}",
            f"/admin/company/export/csv/?{stock_arg}",
            "export",
        )
    )
    return result


def measure(
    small_url: str, large_url: str, reps: int, apart: bool = False
) -> tuple[Facts, Facts, dict[str, tuple[float, float, float | None]]]:
    """(the small and the large database's facts, {screen: (our median ms at the small size, at the large, stock's
    at the large)}). Both sizes are asked in turn, request by request, so that a change in the machine's load
    meets both alike: measured one size after the other, SQLite's large half once ran 1.5–1.8× slower on
    screens whose code had not changed (README, Stop 33). `apart`: each screen's requests to stock after all
    of ours instead of beside them (see `run`)."""
    small_facts, large_facts = read_facts(small_url), read_facts(large_url)
    results: dict[str, tuple[float, float, float | None]] = {}
    with (
        server("app:create_app()", small_url) as (small_port, _p),
        server("app:create_app()", large_url) as (large_port, _q),
        server("bench.baseline_app:create_app()", large_url, ready="/admin/") as (stock_port, _r),
    ):
        small, large, stock = Client(small_port), Client(large_port), Client(stock_port)
        small.login(*ADMIN)
        large.login(*ADMIN)
        for at_small, screen in zip(screens(small_facts), screens(large_facts), strict=True):
            ours = [("ours small", small, at_small.ours), ("ours large", large, screen.ours)]
            theirs = [("stock", stock, screen.stock)] if screen.stock else []
            # (what is asked, rep); rep 0 is the warm-up
            turns = [(ours if apart else ours + theirs, rep) for rep in range(reps + 1)]
            if apart and theirs:
                turns += [(theirs, rep) for rep in range(reps + 1)]
            times: dict[str, list[float]] = {"ours small": [], "ours large": [], "stock": []}
            for asked, rep in turns:
                for who, client, url in asked:
                    status, body, elapsed = client.get(url)
                    if status != 200:
                        raise RuntimeError(f"{who} answered {status} to {url}: {body[:300]!r}")
                    if rep:
                        times[who].append(elapsed)
            small_ms, large_ms = (statistics.median(times[who]) * 1000 for who in ("ours small", "ours large"))
            stock_ms = statistics.median(times["stock"]) * 1000 if times["stock"] else None
            results[screen.name] = (small_ms, large_ms, stock_ms)
            print(f"    {screen.name:55} ours {small_ms:9.1f} / {large_ms:9.1f} ms  stock {stock_ms or 0:9.1f} ms",
                  flush=True)  # fmt: skip
    return small_facts, large_facts, results


def run(pairs: list[tuple[str, str, str]], reps: int, apart: bool = False) -> None:
    """Measure every pair. By default ours and stock take turns request by request, so both meet
    the same load; but both read the same PostgreSQL, and a stock request that walks the whole name
    index (a search, a deep page) leaves PostgreSQL's buffer cache (shared_buffers, 128 MB by
    default) full of its pages, so every one of ours after it finds its own pages gone (the medium
    search at 1,000,000 companies: 3,241 of its 4,702 pages read again). `apart` asks each screen of
    ours `reps` + 1 times in a row at both sizes, then stock's: what each costs with its own pages cached."""
    print(f"load at start: {uptime()}" + (" (ours and stock apart)" if apart else ""))
    for dialect, small, large in pairs:
        print(f"\n## {dialect}\n  small: {small}\n  large: {large}")
        report(dialect, *measure(small, large, reps, apart))
    print(f"\nload at end: {uptime()}")


def report(dialect: str, small_facts: Facts, large_facts: Facts, results: dict) -> None:
    print(
        f"\n{dialect}: {small_facts.companies:,} and {large_facts.companies:,} companies; "
        f"medians of the requests (ms), ratios\n"
    )
    print("| screen | ours small | ours large | large / small | stock large | stock / ours (large) |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for name, (ours_small, ours_large, stock_large) in results.items():
        stock = f"{stock_large:,.1f}" if stock_large else "–"
        speedup = f"{stock_large / ours_large:,.1f}×" if stock_large else "–"
        flat = ours_large / ours_small
        print(f"| {name} | {ours_small:,.1f} | {ours_large:,.1f} | {flat:.2f} | {stock} | {speedup} |")


# --- the load run --------------------------------------------------------------------------------------


def _rss_of_workers(master: int) -> dict[int, int]:
    out = subprocess.run(["ps", "-o", "pid=,rss=", "--ppid", str(master)], capture_output=True, text=True).stdout
    return {int(pid): int(rss) for pid, rss in (line.split() for line in out.splitlines() if line.strip())}


def load(url: str, users: int, minutes: float, warmup: float) -> None:
    facts = read_facts(url)
    print(f"load at start: {uptime()}")
    with server("bench.load_app:app", url, workers=4) as (port, process):
        env = dict(
            os.environ,
            BENCH_COMPANY_MIN=str(1),
            BENCH_COMPANY_MAX=str(facts.companies),
            BENCH_TERMS=json.dumps([t for t, _n in facts.terms.values()]),
        )
        out = Path(tempfile.mkdtemp(prefix="crm-locust-"))
        command = [
            str(LOCUST), "-f", str(ROOT / "bench" / "locustfile.py"), "--headless", "-u", str(users),
            "-r", str(max(1, users // 10)), "-t", f"{int(minutes * 60)}s", "--host", f"http://127.0.0.1:{port}",
            "--csv", str(out / "stats"), "--only-summary",
        ]  # fmt: skip
        locust = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        samples: list[tuple[float, int]] = []
        started = time.monotonic()
        while locust.poll() is None:
            rss = _rss_of_workers(process.pid)
            samples.append((time.monotonic() - started, sum(rss.values())))
            time.sleep(5)
        print(locust.stdout.read()[-6000:])
    rows = list(csv_rows(out / "stats_stats.csv"))
    total = next(r for r in rows if r["Name"] == "Aggregated")
    failures = int(total["Failure Count"])
    print(f"requests {total['Request Count']}, failures {failures}, {float(total['Requests/s']):.1f} requests/s, "
          f"p50 {total['50%']} ms, p95 {total['95%']} ms")  # fmt: skip
    after = [kb for t, kb in samples if t >= warmup]
    if after:
        growth = (after[-1] - after[0]) / after[0] * 100
        print(f"workers' memory (RSS, 4 workers together): {after[0] / 1024:.0f} MB after {warmup:.0f} s of warm-up, "
              f"{after[-1] / 1024:.0f} MB at the end: {growth:+.1f} %")  # fmt: skip
    print(f"load at end: {uptime()}")


def csv_rows(path: Path):
    import csv

    with path.open(newline="") as f:
        yield from csv.DictReader(f)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("prepare")
    p.add_argument("--url", required=True)
    p.add_argument("--companies", type=int, required=True)
    r = sub.add_parser("run")
    r.add_argument("--pair", action="append", required=True, help="NAME=SMALL_URL,LARGE_URL")
    r.add_argument("--reps", type=int, default=5)
    r.add_argument("--apart", action="store_true", help="each screen's requests to ours in a row, then stock's")
    ld = sub.add_parser("load")
    ld.add_argument("--url", required=True)
    ld.add_argument("--users", type=int, default=50)
    ld.add_argument("--minutes", type=float, default=5)
    ld.add_argument("--warmup", type=float, default=60, help="seconds before memory is compared")
    d = sub.add_parser("drop")
    d.add_argument("--url", required=True)
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))  # stopped: the servers it started stop too
    if args.command == "prepare":
        prepare(args.url, args.companies)
    elif args.command == "run":
        pairs = []
        for pair in args.pair:
            name, _sep, urls = pair.partition("=")
            small, large = urls.split(",")
            pairs.append((name, small, large))
        run(pairs, args.reps, args.apart)
    elif args.command == "load":
        if args.minutes > 5:
            parser.error("the load run is bounded to 5 minutes")
        load(args.url, args.users, args.minutes, args.warmup)
    else:
        drop(args.url)


if __name__ == "__main__":
    main()
