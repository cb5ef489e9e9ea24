"""Time a full score run against its I/O floor, on the database DATABASE_URL names.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/crm_bench .venv/bin/python bench/recompute.py \
        --customers 100000 [--seed 42] [--reseed]

Loads ``seed_demo`` data when the database holds a different number of customers (or with
``--reseed``), then measures in one process, one after the other:

* the I/O floor: read every frame the engine needs and write one score column for every
  customer, computing nothing;
* a full run (``score_run_request(run_now=True)``), with the run's own per-stage timings.

Prints one JSON object: seconds for each, their ratio, per-stage seconds, the peak resident
memory of the process and the row counts.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm_site.settings")


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--reseed", action="store_true")
    args = parser.parse_args()

    import django

    django.setup()
    import pandas as pd
    from django.core.management import call_command
    from django.db import connection
    from django.utils import timezone

    from analytics import adapter
    from analytics.services import score_run_request
    from customers.demo.loader import demo_seed
    from customers.models import Customer

    if connection.vendor != "postgresql":
        sys.exit("bench/recompute.py measures PostgreSQL: set DATABASE_URL=postgres://...")
    call_command("migrate", verbosity=0)
    seeded = None
    if args.reseed or Customer.objects.count() != args.customers:
        started = time.perf_counter()
        demo_seed(n_customers=args.customers, seed=args.seed,
                  as_of=pd.Timestamp(timezone.now().date()), flush=True)
        seeded = round(time.perf_counter() - started, 1)

    as_of = pd.Timestamp(timezone.now()).tz_convert("UTC").tz_localize(None)
    started = time.perf_counter()
    frames = adapter.read_frames(as_of)
    read_seconds = time.perf_counter() - started
    floor_scores = pd.DataFrame(
        {"order_count": frames.orders.groupby("customer_id").size()}).reindex(
        frames.customers["customer_id"]).fillna(0).astype("int64")
    started = time.perf_counter()
    adapter.write_scores(floor_scores)
    write_seconds = time.perf_counter() - started
    floor = read_seconds + write_seconds
    del frames, floor_scores

    started = time.perf_counter()
    run = score_run_request(run_now=True)
    run_seconds = time.perf_counter() - started

    print(json.dumps({
        "database": "postgresql",
        "customers": run.counts.get("customers"),
        "orders": run.counts.get("orders"),
        "seed_seconds": seeded,
        "io_floor_seconds": round(floor, 2),
        "io_floor_read_seconds": round(read_seconds, 2),
        "io_floor_write_seconds": round(write_seconds, 2),
        "full_run_seconds": round(run_seconds, 2),
        "full_run_over_floor": round(run_seconds / floor, 2),
        "status": run.status,
        "stages": run.timings,
        "peak_rss_mb": round(peak_rss_mb(), 1),
        "skipped": {k: v["skipped"] for k, v in run.model_cards.items() if "skipped" in v},
    }, indent=2))


if __name__ == "__main__":
    main()
