"""Time the order summaries of a score run's customer part, part by part, on the database
DATABASE_URL names (seed it first with ``bench/seed_demo.py``).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/crm_bench .venv/bin/python bench/order_summaries.py \
        [--as-of 2026-12-06T12:00] [--repeat 3] [--work-mem 4MB,256MB] [--only full_summaries,...]

The read of the orders alone (:func:`analytics.aggregates.read_order_ledger`: the query, its
binary ``COPY`` out and the parse into arrays) is timed first, then each kind of summary computed
from that one ledger, then the run's whole call
(:func:`analytics.aggregates.engine_order_summaries`: one read, every summary); each is run
``--repeat`` times and the best and every time are printed as JSON, with the row counts and the
server settings that decide the plans (``work_mem``, parallel workers). With ``--work-mem``,
every statement is timed under each ``work_mem`` given (set for this session only), one after
the other in the same run, so their times compare.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm_site.settings")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--as-of", dest="as_of", default="2026-12-06T12:00")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--work-mem", dest="work_mem", default="",
                        help="comma-separated work_mem values to time each statement under")
    parser.add_argument("--only", default="", help="comma-separated statement names")
    args = parser.parse_args()

    import django

    django.setup()
    import pandas as pd
    from django.db import connection

    from analytics import aggregates
    from analytics.engine.clv import selection_calibration_end
    from analytics.engine.forecast import month_start
    from analytics.engine.pipeline import feature_cutoffs
    from analytics.services.runs import engine_settings

    if connection.vendor != "postgresql":
        sys.exit("bench/order_summaries.py measures PostgreSQL: set DATABASE_URL=postgres://...")
    as_of = pd.Timestamp(args.as_of)
    settings = engine_settings()
    cutoffs = feature_cutoffs(as_of, settings)
    calibration_end = selection_calibration_end(as_of)
    ledger = aggregates.read_order_ledger(as_of)
    statements = {
        "ledger_read": lambda: aggregates.read_order_ledger(as_of),
        "full_summaries": lambda: [ledger.summary(c, inclusive=True) for c in (as_of, calibration_end)],
        "feature_summaries": lambda: [ledger.summary(c, days=False) for c in cutoffs],
        "holdout_purchase_days": lambda: ledger.window_purchase_days(start=calibration_end, end=as_of),
        "monthly_cents": lambda: ledger.monthly_cents(before=month_start(as_of)),
        "engine_order_summaries": lambda: aggregates.engine_order_summaries(as_of, settings),
    }
    if args.only:
        statements = {name: statements[name] for name in args.only.split(",")}
    seconds: dict[str, list[float]] = {}
    rows: dict[str, int] = {}
    for work_mem in args.work_mem.split(",") if args.work_mem else [""]:
        if work_mem:
            with connection.cursor() as cursor:
                cursor.execute("SELECT set_config('work_mem', %s, false)", [work_mem])
        for name, call in statements.items():
            label = f"{name}@{work_mem}" if work_mem else name
            for _ in range(args.repeat):
                started = time.perf_counter()
                result = call()
                seconds.setdefault(label, []).append(round(time.perf_counter() - started, 2))
            rows[name] = result.rows if name == "engine_order_summaries" else (
                sum(len(f) for f in result) if isinstance(result, list) else len(result))
    with connection.cursor() as cursor:
        cursor.execute("SELECT name, current_setting(name) FROM pg_settings WHERE name IN "
                       "('work_mem', 'shared_buffers', 'max_parallel_workers_per_gather', 'jit')")
        server = dict(cursor.fetchall())
        cursor.execute("SELECT count(*) FROM customers_order WHERE status = 'completed'")
        orders = cursor.fetchone()[0]
    print(json.dumps({
        "as_of": str(as_of), "feature_cutoffs": [str(c) for c in cutoffs], "completed_orders": orders,
        "best_seconds": {name: min(times) for name, times in seconds.items()},
        "seconds": seconds, "rows": rows, "server_settings": server, "load_average": os.getloadavg(),
    }, indent=2))


if __name__ == "__main__":
    main()
