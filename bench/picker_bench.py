"""The company picker's look-up alone, timed in process: one code tree against one database.

    # one measurement: the median of --reps requests (after two warm-ups), in milliseconds, as JSON
    .venv/bin/python bench/picker_bench.py --root /work/main --url postgresql+psycopg://…/scale_1m --term svensson

    # main's code and this branch's, taking turns, against a small and a large database
    .venv/bin/python bench/picker_bench.py compare --roots /work/main,. --term svensson \\
        --urls postgresql+psycopg://…/scale_1k,postgresql+psycopg://…/scale_1m --rounds 3

The request is the one bench/scale_bench.py times ("picker look-up (company, medium term)"), through
the Flask test client (no HTTP server, so the figure is the server's time only). The machine's load
(`uptime`) is printed with each figure: the machine is shared, read the ratios.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode

ADMIN = ("anna.lindqvist@example.se", "Demo-losen-2026")
HERE = Path(__file__).resolve()


def measure(root: str, url: str, term: str, reps: int) -> dict:
    sys.path.insert(0, root)
    os.chdir(root)
    os.environ["CRM_INSTANCE_DIR"] = tempfile.mkdtemp(prefix="crm-picker-")
    from app import create_app

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "RATELIMIT_ENABLED": False})
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    client.post("/login", data={"email": ADMIN[0], "password": ADMIN[1], "csrf_token": token})
    path = "/admin/opportunity/ajax/lookup/?" + urlencode({"name": "company", "query": term})
    times, shown = [], []
    for n in range(reps + 2):
        start = time.perf_counter()
        response = client.get(path)
        body = response.get_data()
        elapsed = (time.perf_counter() - start) * 1000
        assert response.status_code == 200, body[:300]
        if n >= 2:
            times.append(elapsed)
        shown = [name for _id, name in json.loads(body)]
    return {"median_ms": round(statistics.median(times), 2), "rows": len(shown), "first": shown[:5]}


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip().split("load average:")[-1]


def compare(roots: list[str], urls: list[str], terms: list[str], reps: int, rounds: int) -> None:
    """`terms`: one for every URL, or one for all (scale_bench.py picks the "medium" term per database)."""
    results: dict[tuple[str, str], list[float]] = {}
    for _round in range(rounds):
        for url, term in zip(urls, terms * len(urls) if len(terms) == 1 else terms, strict=True):
            for root in roots:
                run = [sys.executable, str(HERE), "--root", root, "--url", url, "--term", term, "--reps", str(reps)]
                out = json.loads(subprocess.run(run, capture_output=True, text=True, check=True).stdout)
                results.setdefault((root, url), []).append(out["median_ms"])
                where = f"{url.rsplit('/', 1)[-1]} {term!r}"
                print(f"{root:>14} {where:>30} {out['median_ms']:8.2f} ms  load{uptime()}  {out['first'][:2]}")
    print("\nmedian of the rounds' medians; ratio large/small per code tree:")
    for root in roots:
        figures = [statistics.median(results[(root, url)]) for url in urls]
        ratio = figures[-1] / figures[0] if figures[0] else float("nan")
        print(f"{root:>14} " + "  ".join(f"{f:8.2f} ms" for f in figures) + f"   ratio {ratio:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", nargs="?", default="one", choices=["one", "compare"])
    parser.add_argument("--root", default=str(HERE.parents[1]))
    parser.add_argument("--roots", default="")
    parser.add_argument("--url", default="")
    parser.add_argument("--urls", default="")
    parser.add_argument("--term", default="svensson", help="compare: one term, or one per URL (commas)")
    parser.add_argument("--reps", type=int, default=15)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    if args.mode == "compare":
        compare(args.roots.split(","), args.urls.split(","), args.term.split(","), args.reps, args.rounds)
    else:
        print(json.dumps(measure(args.root, args.url, args.term, args.reps)))


if __name__ == "__main__":
    main()
