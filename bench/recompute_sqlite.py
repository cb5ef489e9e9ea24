"""A full score run on SQLite beside the same run on PostgreSQL, stage by stage.

    .venv/bin/python bench/recompute_sqlite.py [--customers 2000] [--seed 42] \
        [--postgres postgres://postgres@127.0.0.1:5432/crm_bench_sqlite]

For each database: a fresh schema (a new SQLite file; the PostgreSQL database created, and
dropped afterwards), ``seed_demo`` (which has the feedback analysed as it arrives), then
``recompute_scores --sync --format json``, each in its own process as a user runs them. Prints
the run's seconds per stage for both databases side by side, then one JSON object. Without
``--postgres`` only SQLite is measured.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent


def _manage(url: str, *args: str) -> str:
    env = {**os.environ, "DATABASE_URL": url}
    done = subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, check=True,
                          capture_output=True, text=True)
    return done.stdout


def _measure(url: str, customers: int, seed: int) -> dict:
    _manage(url, "migrate", "-v0")
    started = time.perf_counter()
    seeded = json.loads(_manage(url, "seed_demo", "--customers", str(customers), "--seed", str(seed),
                                "--json").split("\nDemo logins")[0])
    seed_seconds = time.perf_counter() - started
    started = time.perf_counter()
    out = _manage(url, "recompute_scores", "--sync", "--format", "json")
    wall = time.perf_counter() - started
    run = json.loads(out[out.index('{"id"'):])
    return {"status": run["status"], "run_seconds": run["duration_seconds"],
            "command_seconds": round(wall, 2), "seed_seconds": round(seed_seconds, 2),
            "seed_feedback_seconds": seeded["timings"].get("feedback_event"),
            "timings": run["timings"], "counts": run["counts"]}


def _postgres_admin(url: str, statement: str) -> None:
    import psycopg

    parsed = urlparse(url)
    admin = parsed._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(statement)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=2_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--postgres", default="", help="a PostgreSQL URL whose database may be created and dropped")
    args = parser.parse_args()

    results: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as folder:
        results["sqlite"] = _measure(f"sqlite:///{folder}/bench.sqlite3", args.customers, args.seed)
    if args.postgres:
        name = urlparse(args.postgres).path.lstrip("/")
        _postgres_admin(args.postgres, f'DROP DATABASE IF EXISTS "{name}"')
        _postgres_admin(args.postgres, f'CREATE DATABASE "{name}"')
        try:
            results["postgresql"] = _measure(args.postgres, args.customers, args.seed)
        finally:
            _postgres_admin(args.postgres, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    stages = list(dict.fromkeys(s for r in results.values() for s in r["timings"]))
    print(f"{'seconds':<24}" + "".join(f"{db:>12}" for db in results))
    for key in ("run_seconds", "command_seconds", "seed_seconds", "seed_feedback_seconds"):
        print(f"{key:<24}" + "".join(f"{r[key] if r[key] is not None else '-':>12}" for r in results.values()))
    for stage in stages:
        print(f"  {stage:<22}" + "".join(f"{r['timings'].get(stage, '-'):>12}" for r in results.values()))
    print(json.dumps({"customers": args.customers, "seed": args.seed, **results}))


if __name__ == "__main__":
    main()
