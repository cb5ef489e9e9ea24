"""What keeping a run's predictions costs at scale: store, read back for scoring, prune.

Run from the repository root against a scratch database (it creates its own runs and deletes
them again; it needs no customers, the history has no foreign key to them):

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/crm_bench .venv/bin/python bench/prediction_history.py \
        --customers 1000000

Prints seconds per step and the table's size per row, with the time to COPY the same frame into
a bare temporary table as the floor (the same run, so the ratio holds on a busy machine).
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm_site.settings")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=1_000_000)
    args = parser.parse_args()

    import django

    django.setup()
    import numpy as np
    import pandas as pd
    from django.db import connection, transaction
    from django.test.utils import override_settings

    from analytics.models import PredictionHistory, ScoreRun
    from analytics.services import history
    from core.db import copy_frame, is_postgres

    n = args.customers
    rng = np.random.default_rng(0)
    scores = pd.DataFrame({
        "churn_probability": rng.random(n), "p_alive": rng.random(n), "expected_orders_90d": rng.gamma(1, 1, n),
        "clv_12m": rng.gamma(2, 60, n).round(2), "loyalty_score": rng.random(n),
    }, index=pd.Index(np.arange(1, n + 1), name="customer_id"))
    as_of = datetime(2026, 1, 1, tzinfo=UTC)
    runs = [ScoreRun.objects.create(kind=ScoreRun.Kind.BACKTEST, as_of=as_of + timedelta(days=30 * i),
                                    status=ScoreRun.Status.SUCCEEDED) for i in range(2)]
    try:
        if is_postgres():
            started = time.perf_counter()
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute("CREATE TEMPORARY TABLE floor_copy (run_id bigint, customer_id bigint, "
                               "churn_probability float8, p_alive float8, expected_orders_90d float8, "
                               "clv_12m float8, loyalty_score float8) ON COMMIT DROP")
                frame = scores.reset_index()
                frame.insert(0, "run_id", runs[0].pk)
                copy_frame("floor_copy", frame[["run_id", "customer_id", *history.HISTORY_COLUMNS]])
            floor = time.perf_counter() - started
            print(f"floor: COPY of {n:,} rows into a bare temporary table   {floor:7.2f} s")
        with override_settings(PREDICTION_HISTORY_RETENTION_DAYS=10):
            for run in runs:
                started = time.perf_counter()
                with transaction.atomic():
                    stored = history.prediction_history_store(run=run, scores=scores)
                seconds = time.perf_counter() - started
                print(f"store one run's history ({stored:,} rows)               {seconds:7.2f} s")
            started = time.perf_counter()
            frame = history._history(runs[0])
            print(f"read one run's history back for scoring ({len(frame):,})   {time.perf_counter() - started:7.2f} s")
            if is_postgres():
                with connection.cursor() as cursor:
                    cursor.execute("SELECT pg_total_relation_size(%s)", [PredictionHistory._meta.db_table])
                    size = cursor.fetchone()[0]
                print(f"table and key size per row                                  {size / (2 * n):7.1f} bytes")
            started = time.perf_counter()
            dropped = history.prediction_history_prune(now=runs[1].as_of)
            print(f"prune one run ({dropped:,} rows)                        {time.perf_counter() - started:7.2f} s")
    finally:
        PredictionHistory.objects.filter(run__in=runs).delete()
        ScoreRun.objects.filter(pk__in=[r.pk for r in runs]).delete()


if __name__ == "__main__":
    main()
