"""Writing a finished run's results: scores, segments, recommendations, rules, forecast, and
the dashboard figures computed from them."""
from __future__ import annotations

import logging
import pickle
import time
import zlib
from collections.abc import Callable
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
from core.db import bulk_insert, copy_frame, is_postgres
from core.table_swap import (
    Replacement,
    replacement_create,
    replacement_drop,
    replacement_index,
    replacement_table,
)
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
                  recommendations_ahead: Future | None = None,
                  before_publish: Callable[[], None] | None = None) -> dict[str, int]:
    """Scores, profiles, recommendations, rules, forecast and the run's success: all or none.

    On PostgreSQL the new score table is built first and swapped in last, so the customer pages
    wait for its lock only from the swap to the commit, not while the rest is written.
    ``recommendations_ahead``: the recommendations table being built beside this write
    (:func:`recommendations_build_ahead`), swapped in here. ``before_publish`` is called once the
    score table is built, before any table is swapped in.
    """
    scores = output.scores.copy()
    scores["scores_updated_at"] = pd.Timestamp(timezone.now())
    with churn_risk_high_watch(source=SOURCE_FULL_RUN, score_run_id=run_id):
        started = time.perf_counter()
        scores_publish = adapter.scores_write_prepare(scores, replace=True)
        prepared = time.perf_counter() - started
        if before_publish is not None:
            before_publish()
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


def recommendations_stage_open(run_id: int) -> None:
    """Before a run's ranking tasks: an empty place for the rows they stage.

    On PostgreSQL that is the new recommendations table itself, under its building name and
    without indexes: the tasks COPY into it, and the finish indexes it and swaps it in, so ten
    million rows at a million customers are written once, not staged and then copied. Elsewhere
    it is the stage table (:class:`RecommendationStage`), cleared of what failed runs left.
    """
    if is_postgres():
        replacement_create(Recommendation._meta.db_table)
    else:
        RecommendationStage.objects.exclude(run_id=run_id).delete()


def recommendations_stage(rows: pd.DataFrame) -> None:
    """A ranking task's rows (``run_id``, ``customer_id``, ``product_id``, ``rank``, ``score``,
    ``because_of_id``) into the place :func:`recommendations_stage_open` made for them."""
    if is_postgres():
        copy_frame(replacement_table(Recommendation._meta.db_table), rows)
    else:
        bulk_insert(RecommendationStage, rows)


def _publish_recommendations(run_id: int, ahead: Future | None = None, timings: dict | None = None) -> int:
    """Replace the live recommendations with the ones the run's chunks staged.

    On PostgreSQL the table they were COPYed into is indexed and swapped in (as the scores are),
    so the pages reading recommendations wait only for the swap; elsewhere the table is emptied
    and refilled from the stage. ``ahead``: the table is being indexed on another connection
    (:func:`recommendations_build_ahead`); wait for it and swap it in.
    """
    if ahead is not None:
        replacement, rows, seconds = ahead.result()
        if timings is not None:
            timings["write_recommendations_ahead"] = round(seconds, 3)
        replacement.swap_in(key=None)
    elif is_postgres():
        replacement, rows = _recommendations_index(run_id)
        replacement.swap_in(key=None)
    else:
        _replace_all(Recommendation)
        rows = _recommendations_load(run_id)
        # The stage holds this run's rows only (the run's plan deleted what failed runs left, and
        # its lease keeps other runs out): emptied at once rather than deleted row by row.
        _replace_all(RecommendationStage)
    return rows


def _recommendations_index(run_id: int) -> tuple[Replacement, int]:
    """PostgreSQL: the run's new recommendations table, indexed, and how many rows it holds.

    Rows of another run are dropped first: a ranking task of an earlier run that outlived that
    run's lease could still have COPYed into the table this run's plan created. The references to
    customers merged away and products deleted while the run ranked are cleared after the swap's
    commit, as for the scores (:func:`core.table_swap.orphans_clear`).
    """
    table = replacement_table(Recommendation._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FILTER (WHERE run_id = %s), count(*) FROM {table}", [run_id])
        rows, every = cursor.fetchone()
        if every != rows:
            cursor.execute(f"DELETE FROM {table} WHERE run_id <> %s", [run_id])
    return replacement_index(Recommendation._meta.db_table), rows


def _recommendations_load(run_id: int) -> int:
    """Elsewhere than PostgreSQL: the run's staged rows into the emptied recommendations table."""
    stage = connection.ops.quote_name(RecommendationStage._meta.db_table)
    columns = "customer_id, product_id, rank, score, because_of_id, run_id"
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {connection.ops.quote_name(Recommendation._meta.db_table)} ({columns}) "
            f"SELECT {columns} FROM {stage} WHERE run_id = %s "
            # A customer merged away while the run ranked: the row has no home any more.
            f"AND customer_id IN (SELECT id FROM {connection.ops.quote_name(Customer._meta.db_table)}) "
            f"AND product_id IN (SELECT id FROM {connection.ops.quote_name(Product._meta.db_table)})",
            [run_id])
        return cursor.rowcount


def recommendations_build_ahead(run_id: int) -> Future | None:
    """Start indexing the run's new recommendations table (filled by its ranking tasks) on a
    connection of its own, in a thread, while this one writes the scores: the index builds are
    PostgreSQL's work (four over ten million rows at a million customers), so they take the
    server's other core instead of waiting their turn in the write. It commits the table under
    its building name; :func:`results_write` swaps it in, and
    :func:`recommendations_ahead_discard` drops it if the run fails first.

    None (the write does it itself) on SQLite, and inside a caller's transaction (a test, a
    shell), whose uncommitted rows another connection cannot see.
    """
    if not is_postgres() or connection.in_atomic_block:
        return None
    executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"score-run-{run_id}-recommendations")
    future = executor.submit(_recommendations_build_committed, run_id)
    executor.shutdown(wait=False)
    return future


def _recommendations_build_committed(run_id: int) -> tuple[Replacement, int, float]:
    started = time.perf_counter()
    try:
        with transaction.atomic():
            replacement, rows = _recommendations_index(run_id)
        return replacement, rows, time.perf_counter() - started
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
