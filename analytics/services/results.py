"""Writing a finished run's results: scores, segments, recommendations, rules, forecast, and
the dashboard figures computed from them."""
from __future__ import annotations

import logging
import pickle
import time
import zlib
from concurrent.futures import Future, ThreadPoolExecutor

import pandas as pd
from django.db import connection, transaction
from django.utils import timezone

from analytics import adapter
from analytics.dashboard import dashboard_figures
from analytics.models import (
    AssociationRule,
    ModelArtifact,
    Recommendation,
    RecommendationStage,
    RevenueForecast,
    ScoreRun,
    SegmentProfile,
)
from core.db import is_postgres
from core.table_swap import Replacement, replacement_build, replacement_drop
from customers.models import Customer, Product
from webhooks.events import SOURCE_FULL_RUN, churn_risk_high_watch

from .artifacts import PENDING_PREFIX, SNAPSHOT_ARTIFACT
from .history import prediction_history_store

logger = logging.getLogger(__name__)


def _replace_all(model) -> None:
    """Empty ``model``'s table inside the current transaction.

    On PostgreSQL TRUNCATE (transactional there) instead of deleting a million rows one by one;
    readers of the table wait for the commit rather than seeing it empty.
    """
    if is_postgres():
        with connection.cursor() as cursor:
            cursor.execute(f"TRUNCATE {connection.ops.quote_name(model._meta.db_table)}")
    else:
        model.objects.all().delete()


@transaction.atomic
def results_write(run_id: int, output, *, timings: dict, counts: dict,
                  recommendations_ahead: Future | None = None) -> dict[str, int]:
    """Scores, profiles, recommendations, rules, forecast and the run's success: all or none.

    On PostgreSQL the new score table is built first and swapped in last, so the customer pages
    wait for its lock only from the swap to the commit, not while the rest is written.
    ``recommendations_ahead``: the recommendations table being built beside this write
    (:func:`recommendations_build_ahead`), swapped in here.
    """
    scores = output.scores.copy()
    scores["scores_updated_at"] = pd.Timestamp(timezone.now())
    with churn_risk_high_watch(source=SOURCE_FULL_RUN, score_run_id=run_id):
        started = time.perf_counter()
        scores_publish = adapter.scores_write_prepare(scores, replace=True)
        prepared = time.perf_counter() - started
        written_counts, cards = _records_write(run_id, output, timings, recommendations_ahead)
        started = time.perf_counter()
        written_counts = {"scored": scores_publish(), **written_counts}
        timings["write_scores"] = round(prepared + time.perf_counter() - started, 3)
    ScoreRun.objects.filter(pk=run_id).update(
        status=ScoreRun.Status.SUCCEEDED, finished_at=timezone.now(), stage="done", progress=100,
        model_cards=cards, counts={**counts, **written_counts}, timings=timings)
    return written_counts


def _records_write(run_id: int, output, timings: dict,
                   recommendations_ahead: Future | None) -> tuple[dict[str, int], dict]:
    """Everything of a run but the scores; returns the counts written and the model cards."""
    started = time.perf_counter()
    history = prediction_history_store(run=ScoreRun.objects.get(pk=run_id), scores=output.scores)
    timings["write_history"] = round(time.perf_counter() - started, 3)

    SegmentProfile.objects.exclude(run_id=run_id).delete()
    profiles = output.segment_profiles
    SegmentProfile.objects.bulk_create([
        SegmentProfile(run_id=run_id, cluster=int(segment), label=row["value_label"], size=int(row["size"]),
                       mean_spend=float(row["mean_spend"]), revenue_share=float(row["revenue_share"]),
                       centre={"recency_days": float(row["recency_days"]), "frequency": float(row["frequency"]),
                               "monetary_total": float(row["monetary_total"])},
                       rule=row.get("rule", ""))
        for segment, row in profiles.iterrows()
    ])

    started = time.perf_counter()
    n_recs = _publish_recommendations(run_id, recommendations_ahead, timings)
    timings["write_recommendations"] = round(time.perf_counter() - started, 3)
    cards = dict(output.cards)
    started = time.perf_counter()
    if "recommendations" in cards and n_recs:
        popular = Recommendation.objects.filter(because_of__isnull=True).count()
        cards["recommendations"] = {**cards["recommendations"], "params": {
            **cards["recommendations"].get("params", {}), "share_popular": round(popular / n_recs, 4)}}
    timings["write_share_popular"] = round(time.perf_counter() - started, 3)

    started = time.perf_counter()
    AssociationRule.objects.exclude(run_id=run_id).delete()
    rules = output.rules
    AssociationRule.objects.bulk_create([
        AssociationRule(run_id=run_id, antecedents=[int(p) for p in row["antecedents"]],
                        consequents=[int(p) for p in row["consequents"]], support=float(row["support"]),
                        confidence=float(row["confidence"]), lift=float(row["lift"]))
        for _, row in rules.iterrows()
    ])

    RevenueForecast.objects.exclude(run_id=run_id).delete()
    points = []
    if output.forecast is not None:
        for month, actual in output.forecast.history.items():
            points.append(RevenueForecast(run_id=run_id, month=month.date(), actual=float(actual)))
        for month, row in output.forecast.forecast.iterrows():
            points.append(RevenueForecast(
                run_id=run_id, month=month.date(), forecast=float(row["forecast"]),
                lower=None if pd.isna(row["lower"]) else float(row["lower"]),
                upper=None if pd.isna(row["upper"]) else float(row["upper"])))
    RevenueForecast.objects.bulk_create(points)
    timings["write_rules_forecast"] = round(time.perf_counter() - started, 3)

    started = time.perf_counter()
    ModelArtifact.objects.exclude(run_id=run_id).delete()
    ModelArtifact.objects.filter(run_id=run_id, name__startswith=PENDING_PREFIX).delete()
    if output.snapshot is not None:
        ModelArtifact.objects.create(run_id=run_id, name=SNAPSHOT_ARTIFACT,
                                     payload=zlib.compress(pickle.dumps(output.snapshot)))
    timings["write_artifacts"] = round(time.perf_counter() - started, 3)

    return ({"history": history, "segments": len(profiles), "recommendations": n_recs, "rules": len(rules),
             "forecast_months": len(points)}, cards)


def _publish_recommendations(run_id: int, ahead: Future | None = None, timings: dict | None = None) -> int:
    """Replace the live recommendations with the ones the run's chunks staged.

    On PostgreSQL a new table is filled from the stage, indexed and swapped in (as the scores
    are), so the pages reading recommendations wait only for the swap, not for the copy of
    millions of rows; elsewhere the table is emptied and refilled. ``ahead``: that table is
    being built on another connection (:func:`recommendations_build_ahead`); wait for it and
    swap it in.
    """
    if ahead is not None:
        replacement, rows, seconds = ahead.result()
        if timings is not None:
            timings["write_recommendations_ahead"] = round(seconds, 3)
        replacement.swap_in(key=None)
    else:
        table, written = Recommendation._meta.db_table, {}
        load = _recommendations_load(run_id, written)
        if is_postgres():
            # The swap drops no row inside this transaction (orphans go after the commit), so the
            # rows the load wrote are the rows there are.
            replacement_build(table, load).swap_in(key=None)
        else:
            _replace_all(Recommendation)
            load(connection.ops.quote_name(table))
        rows = written["rows"]
    # The stage holds this run's rows only (the run's start deleted what failed runs left, and
    # its lease keeps other runs out): emptied at once rather than deleted row by row.
    _replace_all(RecommendationStage)
    return rows


def _recommendations_load(run_id: int, written: dict):
    """A load for the recommendations table: the run's staged rows; ``written["rows"]`` counts them."""
    stage = RecommendationStage._meta.db_table
    columns = "customer_id, product_id, rank, score, because_of_id, run_id"

    def load(target: str) -> None:
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {target} ({columns}) SELECT {columns} FROM {stage} WHERE run_id = %s "
                # A customer merged away while the run ranked: the row has no home any more.
                f"AND customer_id IN (SELECT id FROM {Customer._meta.db_table}) "
                f"AND product_id IN (SELECT id FROM {Product._meta.db_table})", [run_id])
            written["rows"] = cursor.rowcount

    return load


def recommendations_build_ahead(run_id: int) -> Future | None:
    """Start building the run's new recommendations table (from its stage, with its indexes) on
    a connection of its own, in a thread, while this one writes the scores: the build is
    PostgreSQL's work (an INSERT ... SELECT of ten million rows and four index builds at a
    million customers), so it takes the server's other core instead of waiting its turn in the
    write. It commits the table under its building name; :func:`results_write` swaps it in, and
    :func:`recommendations_ahead_discard` drops it if the run fails first.

    None (the write builds the table itself) on SQLite, and inside a caller's transaction (a
    test, a shell), whose uncommitted rows another connection cannot see.
    """
    if not is_postgres() or connection.in_atomic_block:
        return None
    executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"score-run-{run_id}-recommendations")
    future = executor.submit(_recommendations_build_committed, run_id)
    executor.shutdown(wait=False)
    return future


def _recommendations_build_committed(run_id: int) -> tuple[Replacement, int, float]:
    started = time.perf_counter()
    written = {}
    try:
        with transaction.atomic():
            replacement = replacement_build(Recommendation._meta.db_table,
                                            _recommendations_load(run_id, written))
        return replacement, written["rows"], time.perf_counter() - started
    finally:
        connection.close()   # this thread's own connection


def recommendations_ahead_discard(ahead: Future) -> None:
    """After a failed write: wait for the build started ahead, and drop the table it committed
    (the write's rollback also undoes a swap, which leaves it under its building name). Never
    raises: the run's own failure is what is recorded and reported, and a table left behind is
    dropped by the next run's build."""
    try:
        ahead.result()
    except Exception:  # noqa: BLE001 - logged; see above
        logger.exception("building recommendations ahead")
    try:
        replacement_drop(Recommendation._meta.db_table)
    except Exception:  # noqa: BLE001 - logged; see above
        logger.exception("dropping the recommendations built ahead")


def dashboard_figures_store(run_id: int, timings: dict) -> None:
    """Store the dashboard's figures on the run, from the scores just written (after the commit).

    Until they are stored the dashboard shows the previous run's figures; a failure here costs
    the figures, never the run.
    """
    started = time.perf_counter()
    try:
        figures = dashboard_figures()
    except Exception:  # noqa: BLE001 - logged; the page falls back to live figures
        logger.exception("dashboard figures of run %s", run_id)
    else:
        timings["dashboard"] = round(time.perf_counter() - started, 3)
        ScoreRun.objects.filter(pk=run_id).update(dashboard=figures, timings=timings)
