"""Time the incremental rescore of one customer with the stored models.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/crm_bench .venv/bin/python bench/rescore.py \
        [--customers 50] [--seed 1]

Needs a database where a full run has succeeded (``bench/recompute.py`` leaves one). Rescores
``--customers`` buyers drawn at random, one call each, as the task does after a new order
(read that customer's rows, score with the stored models, write the score fields). The first
call also loads the stored models into the process and is reported apart. Prints JSON: median,
95th percentile and maximum milliseconds. Target: under 200 ms.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm_site.settings")
TARGET_MS = 200


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=50)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    import django

    django.setup()
    import numpy as np

    from analytics.models import ScoreRun
    from analytics.services.rescore import customer_rescore
    from customers.models import Customer

    if not ScoreRun.objects.filter(status=ScoreRun.Status.SUCCEEDED).exists():
        sys.exit("no successful full run in this database: run bench/recompute.py first")
    buyers = np.array(Customer.objects.filter(order_count__gt=0).values_list("pk", flat=True))
    chosen = np.random.default_rng(args.seed).choice(buyers, size=min(args.customers + 1, len(buyers)),
                                                     replace=False)
    timings = []
    for pk in chosen:
        started = time.perf_counter()
        written = customer_rescore(customer_ids=[int(pk)])
        timings.append((time.perf_counter() - started) * 1000)
        assert written == 1, f"customer {pk} was not rescored"
    first, rest = timings[0], sorted(timings[1:])
    print(json.dumps({
        "customers_in_database": len(buyers),
        "rescored": len(rest),
        "first_call_ms_with_model_load": round(first, 1),
        "median_ms": round(statistics.median(rest), 1),
        "p95_ms": round(rest[int(0.95 * (len(rest) - 1))], 1),
        "max_ms": round(rest[-1], 1),
        "target_ms": TARGET_MS,
        "within_target": rest[-1] < TARGET_MS,
    }, indent=2))


if __name__ == "__main__":
    main()
