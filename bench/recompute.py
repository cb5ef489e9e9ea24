"""Time a full score run against its I/O floor, on the database DATABASE_URL names.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/crm_bench .venv/bin/python bench/recompute.py \
        --customers 100000 [--seed 42] [--reseed] [--workers 2] [--skip-in-process] [--worker-logs DIR]

Loads ``seed_demo`` data when the database holds a different number of customers (or with
``--reseed``), then measures in one process, one after the other:

* the I/O floor: read every frame the engine needs and write one score column for every
  customer, computing nothing; the write as a full run writes scores (a new score table swapped
  in), and for comparison as updates of every score row (the write before the swap, rolled back);
* the COPY floor: the orders table copied out to nowhere (``COPY ... TO STDOUT``, drained), and
  every customer's score row copied out and back into a temporary table: the least any run can
  spend moving its input and output;
* a full run in this process (``score_run_request(run_now=True)``), with the run's own
  per-stage timings and the resident memory after each engine stage;
* with ``--workers N`` (needs CELERY_BROKER_URL and CELERY_RESULT_BACKEND), the same run through
  N real Celery worker processes: the two engine parts fit at the same time, then the ranking
  chunks spread over all of them.

Prints one JSON object: seconds for each, their ratio to the floor, per-stage seconds, the peak
resident memory of this process and of each worker, and the row counts. A worker run gives two
times: to the commit that makes the new scores visible, and ``_seconds_to_end`` when its last
task has also stored the dashboard's figures (an in-process
run's time includes both).
"""
from __future__ import annotations

import argparse
import io
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm_site.settings")

from analytics.engine.pipeline import peak_rss_mb  # noqa: E402 - needs ROOT on the path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--reseed", action="store_true")
    parser.add_argument("--workers", type=int, default=0,
                        help="also time the run through this many Celery worker processes")
    parser.add_argument("--skip-in-process", action="store_true",
                        help="time only the worker run (large databases)")
    parser.add_argument("--worker-logs", type=Path, default=None,
                        help="directory for the workers' logs at INFO level (step timings of the write)")
    args = parser.parse_args()

    import django

    django.setup()
    import pandas as pd
    from django.core.management import call_command
    from django.db import connection, transaction
    from django.utils import timezone

    from analytics import adapter
    from analytics.models import ScoreRun
    from analytics.services.runs import score_run_request
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
    adapter.write_scores(floor_scores, replace=True)   # as a full run writes them
    write_seconds = time.perf_counter() - started
    started = time.perf_counter()
    with transaction.atomic():
        adapter.write_scores(floor_scores)   # updating every row in place instead
        update_seconds = time.perf_counter() - started
        transaction.set_rollback(True)
    floor = read_seconds + write_seconds
    del frames, floor_scores
    # A run starts from vacuumed tables (every full run ends with VACUUM), so the run measured
    # next must too (the floor's write swaps in a new score table, which leaves no dead rows,
    # but the seeding may have).
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(f"VACUUM (ANALYZE) {connection.ops.quote_name(Customer._meta.db_table)}")
    vacuum_seconds = time.perf_counter() - started

    copy_floor = _copy_floor()
    result: dict = {}
    if not args.skip_in_process:
        started = time.perf_counter()
        run = score_run_request(run_now=True)
        run_seconds = time.perf_counter() - started
        result.update(_report("full_run", run, run_seconds, floor))
    if args.workers:
        result.update(_worker_run(args.workers, floor, args.worker_logs))
        run = ScoreRun.objects.first()

    with connection.cursor() as cursor:
        # A full run rewrites every customer row and so inserts into every index of the table:
        # how much of that stays in memory and how often a checkpoint forces whole pages into
        # the WAL again decide the write's time at a million customers (README, "PostgreSQL").
        cursor.execute("SELECT name, current_setting(name) FROM pg_settings "
                       "WHERE name IN ('shared_buffers', 'max_wal_size', 'checkpoint_timeout')")
        server = dict(cursor.fetchall())
    print(json.dumps({
        "database": "postgresql",
        "server_settings": server,
        "customers": run.counts.get("customers"),
        "orders": run.counts.get("orders"),
        "seed_seconds": seeded,
        "io_floor_seconds": round(floor, 2),
        "io_floor_read_seconds": round(read_seconds, 2),
        "io_floor_write_seconds": round(write_seconds, 2),
        "io_floor_write_by_update_seconds": round(update_seconds, 2),
        "vacuum_after_floor_seconds": round(vacuum_seconds, 2),
        **copy_floor,
        **{f"{key}_over_copy_floor": round(value / copy_floor["copy_floor_seconds"], 2)
           for key, value in result.items() if key.endswith("_seconds") and isinstance(value, float)},
        "rows_read": run.counts,
        **result,
        "peak_rss_mb": peak_rss_mb(),
        "skipped": {k: v["skipped"] for k, v in run.model_cards.items() if "skipped" in v},
    }, indent=2))


def _copy_floor() -> dict:
    """Seconds to COPY the orders out (drained, as to /dev/null) and the score rows out and back."""
    from django.db import connection, transaction

    from customers.models import SCORE_FIELDS, CustomerScore, Order

    orders = connection.ops.quote_name(Order._meta.db_table)
    customers = connection.ops.quote_name(CustomerScore._meta.db_table)
    columns = ", ".join(["customer_id", *SCORE_FIELDS])
    with connection.cursor() as cursor:
        started = time.perf_counter()
        size = 0
        with cursor.cursor.copy(f"COPY {orders} TO STDOUT") as copy:
            for block in copy:
                size += len(block)
        orders_seconds = time.perf_counter() - started
        started = time.perf_counter()
        with transaction.atomic():
            cursor.execute(f"CREATE TEMPORARY TABLE floor_scores ON COMMIT DROP AS "
                           f"SELECT {columns} FROM {customers} WITH NO DATA")
            out = io.BytesIO()
            with cursor.cursor.copy(f"COPY (SELECT {columns} FROM {customers}) TO STDOUT") as copy:
                for block in copy:
                    out.write(block)
            with cursor.cursor.copy(f"COPY floor_scores ({columns}) FROM STDIN") as copy:
                copy.write(out.getvalue())
        scores_seconds = time.perf_counter() - started
    return {"copy_floor_seconds": round(orders_seconds + scores_seconds, 2),
            "copy_floor_orders_out_seconds": round(orders_seconds, 2),
            "copy_floor_orders_mb": round(size / 1e6, 1),
            "copy_floor_scores_out_and_back_seconds": round(scores_seconds, 2)}


def _report(prefix: str, run, seconds: float, floor: float) -> dict:
    return {
        f"{prefix}_seconds": round(seconds, 2),
        f"{prefix}_over_floor": round(seconds / floor, 2),
        f"{prefix}_status": run.status,
        f"{prefix}_chunks": run.chunks_total,
        f"{prefix}_stages": run.timings,
        f"{prefix}_stage_peak_rss_mb": run.peak_memory_mb,
    }


def _worker_run(workers: int, floor: float, logs: Path | None = None) -> dict:
    """Request a run and wait for ``workers`` solo-pool Celery processes to finish it."""
    import subprocess

    from django.conf import settings
    from django.db import connection

    from analytics.models import ScoreRun
    from analytics.services.runs import score_run_request
    from crm_site.celery import app

    if settings.CELERY_TASK_ALWAYS_EAGER:
        sys.exit("--workers needs CELERY_BROKER_URL (and CELERY_RESULT_BACKEND for the chord)")
    app.control.purge()
    db = connection.settings_dict
    env = {**os.environ, "DATABASE_URL": f"postgres://{db['USER'] or 'postgres'}@{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}"}
    # Solo pools: each worker is one process, whose peak memory /proc reports.
    if logs is not None:
        logs.mkdir(parents=True, exist_ok=True)
    procs = [subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "crm_site", "worker", "--pool=solo",
         f"--loglevel={'WARNING' if logs is None else 'INFO'}",
         f"--hostname=bench{n}@%h", "--without-gossip", "--without-mingle",
         *([] if logs is None else [f"--logfile={logs / f'worker{n}.log'}"])],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for n in range(workers)]
    try:
        deadline = time.monotonic() + 60
        while len(app.control.ping(timeout=1)) < workers and time.monotonic() < deadline:
            time.sleep(0.5)
        started = time.perf_counter()
        run = score_run_request()
        while run.status not in ScoreRun.ENDED:
            time.sleep(0.5)
            run.refresh_from_db()
        seconds = time.perf_counter() - started
        # The new scores are visible from the commit (succeeded); the finishing task then
        # vacuums the customers table and stores the dashboard's figures, which ends the run.
        deadline = time.monotonic() + 600
        while run.status == ScoreRun.Status.SUCCEEDED and "dashboard" not in run.timings:
            if time.monotonic() > deadline:
                break
            time.sleep(0.5)
            run.refresh_from_db()
        seconds_to_end = time.perf_counter() - started
        # VmHWM, not RUSAGE_CHILDREN: ru_maxrss survives exec, so the workers would report this
        # process's own peak (the floor's frames) if it was larger than theirs.
        worker_peaks = [peak_rss_mb(proc.pid) for proc in procs]
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=60)
    report = _report(f"workers_{workers}", run, seconds, floor)
    report[f"workers_{workers}_seconds_to_end"] = round(seconds_to_end, 2)
    report[f"workers_{workers}_peak_rss_mb"] = worker_peaks
    return report


if __name__ == "__main__":
    main()
