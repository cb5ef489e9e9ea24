"""The learning loop's first half: keep what each run predicted, then check it against what the
customers did once the prediction's horizon has passed.

A full run stores its predictions (one narrow row per customer) at most once per
``PREDICTION_HISTORY_EVERY_DAYS``; a backtest (``manage.py backtest``, :func:`runs.backtest_run`)
fits the customer models as of past dates and stores only that history, so a new installation with years of orders sees
realised accuracy on its first day. Each full run (and each backtest) then scores every stored
run whose horizon has passed: :mod:`analytics.engine.realised` does the numbers.
"""
from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta

import pandas as pd
from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count, Max, Q, Sum
from django.utils import timezone

from analytics.engine import realised
from analytics.engine.pipeline import EXPECTED_ORDERS_DAYS
from analytics.models import PredictionHistory, RealisedAccuracy, ScoreRun
from analytics.selectors import realised_drifting
from core.db import bulk_create_rows, copy_frame, is_postgres
from customers.models import Order, OrderStatus
from webhooks.events import model_drift

logger = logging.getLogger(__name__)

HISTORY_COLUMNS = ("churn_probability", "p_alive", "expected_orders_90d", "clv_12m", "loyalty_score")
CLV_HORIZON_DAYS = 365


def prediction_history_due(*, run: ScoreRun) -> bool:
    """A backtest always keeps its predictions; a full run when no stored run lies within
    ``PREDICTION_HISTORY_EVERY_DAYS`` before it (nightly runs would otherwise add a row per
    customer every day)."""
    if run.kind == ScoreRun.Kind.BACKTEST:
        return True
    window = timedelta(days=settings.PREDICTION_HISTORY_EVERY_DAYS)
    return not ScoreRun.objects.filter(
        kind=ScoreRun.Kind.FULL, as_of__gt=run.as_of - window, as_of__lte=run.as_of,
        predictions__isnull=False).exclude(pk=run.pk).exists()


def prediction_history_store(*, run: ScoreRun, scores: pd.DataFrame) -> int:
    """Store the run's predictions (``scores`` indexed by customer id); returns rows stored."""
    if not prediction_history_due(run=run):
        return 0
    rows = pd.DataFrame({column: pd.to_numeric(scores[column], errors="coerce").astype(float)
                         for column in HISTORY_COLUMNS}, index=scores.index)
    rows = rows[rows.notna().any(axis=1)]
    rows.insert(0, "customer_id", rows.index.astype("int64"))
    rows.insert(0, "run_id", run.pk)
    PredictionHistory.objects.filter(run=run).delete()  # a repeated finish stores them once
    if rows.empty:
        return 0
    table = connection.ops.quote_name(PredictionHistory._meta.db_table)
    if is_postgres():
        copy_frame(table, rows)
    else:
        bulk_create_rows(PredictionHistory, rows)
    return len(rows)


def prediction_history_prune(*, now: datetime | None = None) -> int:
    """Drop the history of runs older than ``PREDICTION_HISTORY_RETENTION_DAYS`` (their realised
    accuracy, a few rows per run, stays)."""
    cutoff = (now or timezone.now()) - timedelta(days=settings.PREDICTION_HISTORY_RETENTION_DAYS)
    deleted, _ = PredictionHistory.objects.filter(run__as_of__lt=cutoff).delete()
    return deleted


def outcomes_read(*, as_of: datetime) -> pd.DataFrame:
    """What each customer with a completed order did around ``as_of``: whether they had ordered
    by then and how long ago, and their orders and spend after it over each horizon. One query."""
    def after(days: int) -> Q:
        return Q(ordered_at__gt=as_of, ordered_at__lte=as_of + timedelta(days=days))

    rows = (Order.objects.filter(status=OrderStatus.COMPLETED).values("customer_id").annotate(
        last_before=Max("ordered_at", filter=Q(ordered_at__lte=as_of)),
        orders_churn_window=Count("id", filter=after(settings.CHURN_WINDOW_DAYS)),
        orders_horizon=Count("id", filter=after(EXPECTED_ORDERS_DAYS)),
        spend_clv_horizon=Sum("total_amount", filter=after(CLV_HORIZON_DAYS)),
    ))
    frame = pd.DataFrame.from_records(
        list(rows), columns=["customer_id", "last_before", "orders_churn_window", "orders_horizon",
                             "spend_clv_horizon"]).set_index("customer_id")
    last = pd.to_datetime(frame["last_before"], utc=True)
    frame["had_ordered"] = last.notna()
    frame["days_silent"] = (pd.Timestamp(as_of).tz_convert("UTC") - last).dt.total_seconds() / 86400
    frame["spend_clv_horizon"] = pd.to_numeric(frame["spend_clv_horizon"], errors="coerce").fillna(0.0).astype(float)
    return frame.drop(columns="last_before")


def _history(run: ScoreRun) -> pd.DataFrame:
    rows = PredictionHistory.objects.filter(run=run).values_list("customer_id", *HISTORY_COLUMNS)
    return pd.DataFrame.from_records(list(rows), columns=["customer_id", *HISTORY_COLUMNS]).set_index("customer_id")


def realised_accuracy_evaluate(*, as_of: datetime | None = None, emit: bool = True) -> list[RealisedAccuracy]:
    """Score every stored run whose horizons have passed by ``as_of`` (default now) and were not
    scored yet. With ``emit``, a ``model.drift`` webhook goes out for each model whose most recent
    scored run drifted."""
    as_of = as_of or timezone.now()
    horizons = {RealisedAccuracy.Model.CHURN: settings.CHURN_WINDOW_DAYS,
                RealisedAccuracy.Model.ORDERS: EXPECTED_ORDERS_DAYS,
                RealisedAccuracy.Model.CLV: CLV_HORIZON_DAYS}
    candidates = (ScoreRun.objects.filter(status=ScoreRun.Status.SUCCEEDED, predictions__isnull=False,
                                          as_of__lte=as_of - timedelta(days=min(horizons.values())))
                  .distinct().order_by("as_of"))
    created: list[RealisedAccuracy] = []
    for run in candidates:
        done = set(run.realised.values_list("model", flat=True))
        due = [m for m, days in horizons.items() if m not in done and run.as_of + timedelta(days=days) <= as_of]
        if not due:
            continue
        started = time.perf_counter()
        results = realised.realised_all(
            _history(run), outcomes_read(as_of=run.as_of), churn_window_days=settings.CHURN_WINDOW_DAYS,
            orders_horizon_days=EXPECTED_ORDERS_DAYS, clv_horizon_days=CLV_HORIZON_DAYS,
            elapsed_days=(as_of - run.as_of).total_seconds() / 86400,
            max_calibration_error=settings.MODEL_DRIFT_CALIBRATION_ERROR,
            max_volume_ratio=settings.MODEL_DRIFT_VOLUME_RATIO)
        now = timezone.now()
        for result in results:
            if result.model not in due:
                continue
            created.append(RealisedAccuracy.objects.create(
                run=run, model=result.model, horizon_days=result.horizon_days, customers=result.n,
                metrics={**result.metrics, "seconds": round(time.perf_counter() - started, 3)},
                deciles=result.deciles, drift=result.drift, evaluated_at=now))
    if emit and created:
        _drift_emit(created)
    return created


def _drift_emit(created: list[RealisedAccuracy]) -> None:
    drifting = set(realised_drifting())
    for row in created:
        if row in drifting:
            transaction.on_commit(lambda row=row: model_drift(
                model=row.model, run_id=row.run_id, as_of=row.run.as_of, horizon_days=row.horizon_days,
                drift=list(row.drift), metrics=dict(row.metrics)))
