"""Benchmark of issue 18: the duplicate scan of a whole company register (services.duplicates.scan).

    # make a register (once): N generated companies (seed/large.py's names, numbers, towns),
    # and a share of them entered again the way duplicates arise (no org.nr, another spelling)
    .venv/bin/python bench/duplicate_bench.py prepare --url sqlite:////tmp/dupbench/1m.sqlite --companies 1000000

    # measure: the scan's stages (read, match, write), its memory, the planted duplicates found,
    # and, side by side on a sample, the blocked search against comparing every pair (the baseline)
    .venv/bin/python bench/duplicate_bench.py run --url sqlite:////tmp/dupbench/1m.sqlite

A planted duplicate's note names its original ("bench-duplicate-of:<id>"), so `run` knows which pairs
are true. The generated names repeat (a few hundred trades × surnames × towns, each with its own
organisationsnummer): every pair the scan reports that was not planted is a false positive. The
machine's load (`uptime`) is printed before and after: the machine is shared, read the ratios.
"""

from __future__ import annotations

import argparse
import random
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

#: Companies entered twice, per company generated.
DUPLICATE_SHARE = 0.01
#: Records compared pair by pair by the baseline (every pair: n²/2 comparisons).
BASELINE_SAMPLE = 3000


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def app_for(url: str):
    from app import create_app

    return create_app({"SQLALCHEMY_DATABASE_URI": url, "RATELIMIT_ENABLED": False})


def _ascii(text: str) -> str:
    return text.translate(str.maketrans("åäöÅÄÖé", "aaoAAOe"))


def variant(rng: random.Random, row) -> dict:
    """The company entered again, as imports and hurried sellers do: another spelling, no org.nr,
    and sometimes the same phone or e-mail."""
    name = row.name
    way = rng.randrange(4)
    if way == 0:
        name = name.replace(" AB", " Aktiebolag") if name.endswith(" AB") else name + " AB"
    elif way == 1:
        name = _ascii(name)
    elif way == 2:
        name = name.replace(" & ", " och ") if " & " in name else name.rsplit(" ", 1)[0]
    else:
        words = name.split()
        longest = max(range(len(words)), key=lambda i: len(words[i]))
        words[longest] = words[longest][:3] + words[longest][4:]
        name = " ".join(words)
    keep = rng.randrange(3)
    return {
        "name": name,
        "phone": row.phone if keep == 0 else None,
        "email": row.email if keep == 1 else None,
        "postal_city": row.postal_city,
        "note": f"bench-duplicate-of:{row.id}",
    }


def prepare(url: str, companies: int, share: float) -> None:
    from flask_migrate import upgrade
    from sqlalchemy import func, select

    from extensions import db
    from models import Company
    from seed.large import LargeRegister
    from services import bulk, numbering

    app = app_for(url)
    with app.app_context():
        upgrade()
        session = db.session
        rng = random.Random(18)
        register = LargeRegister(session, rng)
        started = time.monotonic()
        made = 0
        while made < companies:
            size = min(10_000, companies - made)
            register.write(register.companies(size))
            session.commit()
            made += size
            if made % 100_000 == 0 or made == companies:
                print(f"  {made:>10,} companies  {time.monotonic() - started:7.1f} s", file=sys.stderr)
        total = session.scalar(select(func.count()).select_from(Company))
        originals = rng.sample(range(1, total + 1), int(companies * share))
        rows = session.execute(
            select(Company.id, Company.name, Company.phone, Company.email, Company.postal_city).where(
                Company.id.in_(originals)
            )
        ).all()
        ids = bulk.new_ids(session, Company.__table__, len(rows))
        numbers = numbering.allocate_customer_numbers(session, len(rows))
        template = {
            "country": "SE",
            "status": "active",
            "is_supplier": False,
            "email_locked": False,
            "version": 1,
            "invoice_language": "sv",
            "discount_percent": 0,
            "payment_terms_days": 30,
            "currency": "SEK",
        }
        now = register.now
        bulk.insert_rows(
            session,
            Company.__table__,
            [
                {**template, **variant(rng, row), "id": i, "customer_number": n, "created_at": now, "updated_at": now}
                for row, i, n in zip(rows, ids, numbers, strict=True)
            ],
        )
        session.commit()
        print(f"{total:,} companies and {len(rows):,} planted duplicates in {time.monotonic() - started:.0f} s")


def run(url: str, sample: int) -> None:
    from sqlalchemy import select

    from extensions import db
    from models import Company, DuplicatePair
    from services import duplicates

    print("load before:", uptime())
    app = app_for(url)
    with app.app_context():
        session = db.session
        planted = {
            tuple(sorted((int(note.split(":")[1]), ident)))
            for ident, note in session.execute(
                select(Company.id, Company.note).where(Company.note.like("bench-duplicate-of:%"))
            )
        }
        timings: dict[str, float] = {}
        started = time.perf_counter()
        records, pairs = duplicates.scan(session, "company", timings=timings)
        session.commit()
        total = time.perf_counter() - started
        found = set(
            session.execute(
                select(DuplicatePair.low_id, DuplicatePair.high_id).where(DuplicatePair.entity_type == "company")
            ).all()
        )
        found = {tuple(p) for p in found}
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"scan of {records:,} companies: {total:.1f} s", end="")
        print(f" (read {timings['read']:.1f} s, match {timings['match']:.1f} s, write {timings['write']:.1f} s)")
        print(f"  {records / total:,.0f} companies a second; peak memory of the process {peak_mb:,.0f} MB")
        hits = len(found & planted)
        print(f"  pairs reported {pairs:,}; planted duplicates {len(planted):,}, found {hits:,}", end="")
        print(f" (recall {hits / max(1, len(planted)):.3f}, precision {hits / max(1, len(found)):.3f})")
        planted_ids = {i for pair in planted for i in pair}
        other = found - planted
        ambiguous = {p for p in other if p[0] in planted_ids or p[1] in planted_ids}
        print(
            f"  not planted: {len(ambiguous):,} pair a planted duplicate (it has no org.nr) with another company"
            f" of the same name in its town; {len(other - ambiguous):,} pair two generated companies"
        )

        # the baseline: every pair of a sample compared, against the blocked search of the same sample
        rng = random.Random(7)
        entries = list(duplicates.read_entries(session, "company"))
        by_id = {e.id: e for e in entries}
        chosen = {e.id for e in rng.sample(entries, min(sample // 2, len(entries)))}
        chosen |= {other for pair in planted for other in pair if pair[0] in chosen or pair[1] in chosen}
        subset = [by_id[i] for i in sorted(chosen) if i in by_id][:sample]
        del entries, by_id
        clock = time.perf_counter()
        exhaustive = {}
        for i, a in enumerate(subset):
            for b in subset[i + 1 :]:
                value, reasons = duplicates.score("company", a, b)
                if value >= duplicates.THRESHOLD:
                    exhaustive[(min(a.id, b.id), max(a.id, b.id))] = value
        every_pair = time.perf_counter() - clock
        clock = time.perf_counter()
        blocked = duplicates.find_pairs("company", subset)
        blocked_time = time.perf_counter() - clock
        n = len(subset)
        print(f"baseline on a sample of {n:,} companies ({n * (n - 1) // 2:,} pairs):")
        print(f"  every pair compared: {every_pair:.2f} s, {len(exhaustive):,} pairs")
        print(
            f"  blocked (this scan): {blocked_time:.3f} s, {len(blocked):,} pairs,"
            f" {len(set(blocked) & set(exhaustive)):,} of the every-pair ones"
            f" ({len(set(blocked) & set(exhaustive)) / max(1, len(exhaustive)):.3f});"
            f" {every_pair / max(blocked_time, 1e-9):,.0f} times faster"
        )
        estimate = every_pair * (records / n) ** 2
        print(f"  every pair of all {records:,} would take about {estimate / 3600:,.1f} hours at this rate")
    print("load after: ", uptime())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    make = commands.add_parser("prepare", help="make a register with planted duplicates")
    make.add_argument("--url", required=True)
    make.add_argument("--companies", type=int, default=1_000_000)
    make.add_argument("--share", type=float, default=DUPLICATE_SHARE)
    measure = commands.add_parser("run", help="time the scan and compare it with every-pair comparison")
    measure.add_argument("--url", required=True)
    measure.add_argument("--sample", type=int, default=BASELINE_SAMPLE)
    args = parser.parse_args()
    if args.command == "prepare":
        prepare(args.url, args.companies, args.share)
    else:
        run(args.url, args.sample)


if __name__ == "__main__":
    main()
