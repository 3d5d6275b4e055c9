"""Företagsuppslag at the size of Bolagsverket's register: load time and memory, and look-up medians
beside a plain LIKE scan, on SQLite and PostgreSQL.

    .venv/bin/python bench/registry_bench.py --rows 2000000 \\
        [--postgresql postgresql+psycopg://postgres@127.0.0.1:5432/bench_db]   # that database is emptied

1. Writes a made-up bulk file of ROWS rows (seed/bolagsverket_sample.py: a ZIP holding the latin-1
   text file, the demo's companies among them) once, into --workdir.
2. For each database: migrates an empty database, loads the file with services.registry_loader (the
   code `flask --app app registry load` runs), and reports the time and the process's peak memory
   (resident set, sampled at every batch: flat means it does not grow with the rows loaded).
3. Looks up each query REPEAT times through services.registry (prefix, substring, typo, number) and,
   as the baseline, with a plain scan: `lower(name) LIKE '%query%' LIMIT 10`. Medians in ms, side by side.
The machine's load average is printed before and after: the figures are only comparable with it.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import func, select, text  # noqa: E402

QUERIES = [
    ("prefix", "svea kaffe"),
    ("prefix, short", "no"),
    ("substring, common", "kaffe"),
    ("substring, rare", "blekinge glas"),
    ("two words", "göta virke"),
    ("typo", "norrlnds bygg"),
    ("orgnr", "5529405572"),
    ("orgnr prefix", "552940"),
]


def rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1024 / 1024


def median_ms(fn, repeat: int) -> float:
    fn()  # warm
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def bench(url: str, bulk: Path, repeat: int, instance: Path, *, existing: bool = False, scan: bool = True) -> None:
    from flask_migrate import upgrade

    from app import create_app
    from extensions import db
    from services import registry
    from services.registry_loader import load

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "INSTANCE_DIR": str(instance)})
    with app.app_context():
        if existing:  # the register a previous run loaded: look-ups only
            dialect = db.engine.dialect.name
            print(f"\n[{dialect}] the loaded register: {registry.active_load(db.session).row_count:,} rows")
        elif url.startswith("postgresql"):
            with db.engine.begin() as conn:
                conn.execute(text("DROP SCHEMA public CASCADE"))
                conn.execute(text("CREATE SCHEMA public"))
        if not existing:
            _load(db, upgrade, load, bulk)
        _lookups(db, registry, repeat, scan)
        db.session.remove()


def cpu_seconds(pid: int | None = None) -> float:
    """CPU time (user + system) of this process, or of process `pid` (a local PostgreSQL backend)."""
    if pid is None:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return usage.ru_utime + usage.ru_stime
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _load(db, upgrade, load, bulk) -> None:
    """Migrate, load the file, report time, CPU time (the loader's and, when PostgreSQL runs on this
    machine, its backends') and memory. The machine's load average goes with them: on a shared
    machine the wall time is mostly the wait for a CPU, the CPU time is the work."""
    from sqlalchemy import event

    upgrade()
    dialect = db.engine.dialect.name
    backends: set[int] = set()
    if dialect == "postgresql":

        def remember(dbapi_connection, record):
            with dbapi_connection.cursor() as cursor:
                cursor.execute("SELECT pg_backend_pid()")
                backends.add(cursor.fetchone()[0])

        event.listen(db.engine, "connect", remember)
        db.engine.dispose()
    samples = []
    before, cpu_before, load_before = rss_mb(), cpu_seconds(), os.getloadavg()[0]
    result = load(db.engine, bulk, progress=lambda rows: samples.append((rows, rss_mb())))
    cpu = cpu_seconds() - cpu_before
    try:
        server = f"; PostgreSQL backends {sum(cpu_seconds(pid) for pid in backends):.1f} CPU-s" if backends else ""
    except OSError:  # the server is on another machine
        server = ""
    print(
        f"\n[{dialect}] loaded {result.rows:,} rows ({result.active:,} active) in {result.seconds:.1f} s "
        f"({result.rows / result.seconds:,.0f} rows/s); loader {cpu:.1f} CPU-s{server}; load average "
        f"{load_before:.1f} → {os.getloadavg()[0]:.1f}; resident memory {before:.0f} MB before, after 10% of the "
        f"rows {samples[len(samples) // 10][1]:.0f} MB, at the end {samples[-1][1]:.0f} MB"
    )


def _lookups(db, registry, repeat: int, scan_too: bool) -> None:
    """Each query's median look-up beside the LIKE scan's."""
    sources = [registry.BulkFileProvider()]
    print(f"{'query':<22} {'text':<16} {'look-up ms':>10} {'LIKE scan ms':>13} {'ratio':>7}  first hit")
    for label, query in QUERIES:

        def lookup(query=query):
            db.session.rollback()
            return registry.lookup(db.session, query, sources=sources)

        def scan(query=query):
            db.session.rollback()
            like = f"%{query.lower()}%"
            column = (
                registry.RegistryCompany.org_number if query.isdigit() else func.lower(registry.RegistryCompany.name)
            )
            return db.session.scalars(select(registry.RegistryCompany.id).where(column.like(like)).limit(10)).all()

        fast = median_ms(lookup, repeat)
        slow = median_ms(scan, max(3, repeat // 5)) if scan_too else float("nan")
        hits = lookup().entries
        first = hits[0].name if hits else "—"
        print(f"{label:<22} {query:<16} {fast:>10.1f} {slow:>13.1f} {slow / fast:>6.1f}×  {first}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--repeat", type=int, default=25)
    parser.add_argument("--postgresql", help="a PostgreSQL database to empty and use (else SQLite only)")
    parser.add_argument("--no-sqlite", action="store_true")
    parser.add_argument("--workdir", default=tempfile.gettempdir())
    parser.add_argument("--existing", action="store_true", help="look up in the register a previous run loaded")
    parser.add_argument("--no-scan", action="store_true", help="without the LIKE scan baseline")
    args = parser.parse_args()

    from seed.bolagsverket_sample import write

    workdir = Path(args.workdir)
    bulk = workdir / f"bolagsverket_bulkfil_{args.rows}.zip"
    if not bulk.exists() and not args.existing:
        start = time.perf_counter()
        write(bulk, args.rows)
        print(f"wrote {bulk} ({bulk.stat().st_size / 1e6:.0f} MB) in {time.perf_counter() - start:.0f} s")
    print(f"load average before: {os.getloadavg()}; CPUs: {os.cpu_count()}")
    if not args.no_sqlite:
        database = workdir / "registry_bench.sqlite"
        for suffix in ("", "-wal", "-shm"):
            if not args.existing:
                Path(f"{database}{suffix}").unlink(missing_ok=True)
        bench(f"sqlite:///{database}", bulk, args.repeat, workdir, existing=args.existing, scan=not args.no_scan)
    if args.postgresql:
        bench(args.postgresql, bulk, args.repeat, workdir, existing=args.existing, scan=not args.no_scan)
    print(f"\nload average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
