"""Benchmark ``seed_demo`` on PostgreSQL: prints JSON with seconds per stage.

Usage (a database of its own; it is flushed)::

    createdb -h 127.0.0.1 -U postgres crm_bench
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/crm_bench \\
        .venv/bin/python bench/seed_demo.py --customers 100000

Stages: ``generate`` (pure numpy), then one per table written with COPY, ``sequences`` and
``analyze``. The target is 100,000 customers (about a million orders) in under 3 minutes.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET_SECONDS = 180


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--as-of", dest="as_of", default="2026-11-01")
    parser.add_argument("--skip-migrate", action="store_true")
    args = parser.parse_args()
    if not os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://")):
        print("DATABASE_URL must point at a PostgreSQL database of its own", file=sys.stderr)
        return 2
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm_site.settings")
    import django

    django.setup()
    import pandas as pd
    from django.core.management import call_command

    from customers.demo.loader import demo_seed

    if not args.skip_migrate:
        call_command("migrate", verbosity=0)
    started = time.perf_counter()
    result = demo_seed(n_customers=args.customers, seed=args.seed, as_of=pd.Timestamp(args.as_of),
                       flush=True)
    total = round(time.perf_counter() - started, 2)
    print(json.dumps({
        "customers": args.customers, "seed": args.seed, "as_of": args.as_of, "method": result.method,
        "counts": result.counts, "timings": result.timings, "total_seconds": total,
        "target_seconds": TARGET_SECONDS, "within_target": total < TARGET_SECONDS,
    }, indent=2))
    return 0 if total < TARGET_SECONDS else 1


if __name__ == "__main__":
    sys.exit(main())
