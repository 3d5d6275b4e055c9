"""`seed --large N` benchmark: rows per CPU-second of the generator and its database, and wall time.

    .venv/bin/python bench/seed_bench.py --url sqlite:////tmp/seedbench/s.sqlite --companies 100000
    .venv/bin/python bench/seed_bench.py --url postgresql+psycopg://postgres@127.0.0.1/seed_bench --companies 100000

Makes the database afresh (PostgreSQL: DROP and CREATE DATABASE; SQLite: the file removed), migrates
it and runs `seed.large.seed_large` as the command does (the app's own connection settings, no demo),
then prints: wall time; the generator process's CPU (user + system); on PostgreSQL, the CPU of the
server processes working for that database (its backends and autovacuum, read from /proc every
half second, so the server must run on this machine; the WAL writer and checkpointer, shared with
other databases, are not counted); rows written (companies, contacts, activities, audit events,
links) per CPU-second of generator + server; and `uptime` before and after. On a busy shared
machine wall time is mostly waiting: the CPU-seconds are the figure to compare, in the same run
conditions, and wall time on a quiet 2-core machine is about max(generator CPU, server CPU) when
the two overlap, their sum when they do not.
"""

from __future__ import annotations

import argparse
import inspect
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

TICKS = os.sysconf("SC_CLK_TCK")


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def _create_database(url: str) -> None:
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        path = Path(parsed.database)
        path.parent.mkdir(parents=True, exist_ok=True)
        for suffix in ("", "-wal", "-shm"):
            Path(str(path) + suffix).unlink(missing_ok=True)
        return
    import psycopg

    server = parsed.set(drivername="postgresql", database="postgres").render_as_string(hide_password=False)
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{parsed.database}"')


class ServerCpu(threading.Thread):
    """CPU-seconds of the PostgreSQL processes whose title names `database` (backends, autovacuum)."""

    def __init__(self, database: str):
        super().__init__(daemon=True)
        self.database = database
        self.seen: dict[int, float] = {}
        self.stopping = threading.Event()

    def sample(self) -> None:
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit():
                continue
            try:
                title = Path(entry.path, "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                if not title.startswith("postgres:") or f" {self.database} " not in f"{title} ":
                    continue
                fields = Path(entry.path, "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            self.seen[int(entry.name)] = (int(fields[11]) + int(fields[12])) / TICKS

    def run(self) -> None:
        while not self.stopping.wait(0.5):
            self.sample()

    def total(self) -> float:
        self.stopping.set()
        self.sample()
        return sum(self.seen.values())


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", required=True)
    parser.add_argument("--companies", type=int, default=100_000)
    args = parser.parse_args(argv)

    from flask_migrate import upgrade
    from sqlalchemy.engine import make_url

    _create_database(args.url)
    os.environ.setdefault("CRM_INSTANCE_DIR", tempfile.mkdtemp(prefix="crm-seedbench-"))
    from app import create_app

    app = create_app({"SQLALCHEMY_DATABASE_URI": args.url})
    parsed = make_url(args.url)
    postgres = parsed.get_backend_name() == "postgresql"
    with app.app_context():
        from extensions import db
        from seed.large import seed_large

        upgrade()
        db.session.commit()
        print("before:", uptime())
        server = ServerCpu(parsed.database) if postgres else None
        if server is not None:
            server.sample()
            baseline = sum(server.seen.values())
            server.seen.clear()
            server.start()
        own = resource.getrusage(resource.RUSAGE_SELF)
        started = time.monotonic()
        threads: dict[str, float] = {}
        made = seed_large(
            db.session,
            args.companies,
            progress=lambda n, s: print(f"  {n:>10,} companies {s:7.1f} s", flush=True),
            **({"cpu": threads} if "cpu" in inspect.signature(seed_large).parameters else {}),
        )
        wall = time.monotonic() - started
        after = resource.getrusage(resource.RUSAGE_SELF)
        print("after: ", uptime())
        cpu = after.ru_utime - own.ru_utime + after.ru_stime - own.ru_stime
        server_cpu = server.total() - baseline if server is not None else 0.0
        from sqlalchemy import text

        links = sum(
            db.session.scalar(text(f"SELECT count(*) FROM {table}"))
            for table in ("company_contact", "company_category", "contact_category")
        )
    rows = sum(made.values()) + links
    print(f"made: {made}, links {links:,}")
    print(
        f"wall {wall:.1f} s; generator CPU {cpu:.1f} s (user {after.ru_utime - own.ru_utime:.1f}, "
        f"system {after.ru_stime - own.ru_stime:.1f})" + (f"; server CPU {server_cpu:.1f} s" if postgres else "")
    )
    print(f"{rows:,} rows: {rows / (cpu + server_cpu):,.0f} rows per CPU-second (generator + server)")
    if threads:
        print("threads' CPU-seconds: " + ", ".join(f"{name} {seconds:.1f}" for name, seconds in threads.items()))
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    main()
