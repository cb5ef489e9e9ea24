"""Writing a finished run's results: scores, segments, recommendations, rules, forecast, and
the dashboard figures computed from them."""
from __future__ import annotations

import logging
import pickle
import time
import zlib

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
from core.db import drop_secondary_indexes, execute_all, is_postgres
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
def results_write(run_id: int, output, *, timings: dict, counts: dict) -> dict[str, int]:
    """Scores, profiles, recommendations, rules, forecast and the run's success: all or none."""
    now = timezone.now()
    scores = output.scores.copy()
    scores["scores_updated_at"] = pd.Timestamp(now)
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
    n_recs = _publish_recommendations(run_id)
    timings["write_recommendations"] = round(time.perf_counter() - started, 3)
    cards = dict(output.cards)
    if "recommendations" in cards and n_recs:
        popular = Recommendation.objects.filter(because_of__isnull=True).count()
        cards["recommendations"] = {**cards["recommendations"], "params": {
            **cards["recommendations"].get("params", {}), "share_popular": round(popular / n_recs, 4)}}

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

    ModelArtifact.objects.exclude(run_id=run_id).delete()
    ModelArtifact.objects.filter(run_id=run_id, name__startswith=PENDING_PREFIX).delete()
    if output.snapshot is not None:
        ModelArtifact.objects.create(run_id=run_id, name=SNAPSHOT_ARTIFACT,
                                     payload=zlib.compress(pickle.dumps(output.snapshot)))

    # The scores last: on PostgreSQL a new score table is swapped in, and the customer pages wait
    # for the swap's lock from then until this transaction commits.
    started = time.perf_counter()
    with churn_risk_high_watch(source=SOURCE_FULL_RUN, score_run_id=run_id):
        written = adapter.write_scores(scores, replace=True)
    timings["write_scores"] = round(time.perf_counter() - started, 3)

    written_counts = {"scored": written, "history": history, "segments": len(profiles), "recommendations": n_recs,
                      "rules": len(rules), "forecast_months": len(points)}
    ScoreRun.objects.filter(pk=run_id).update(
        status=ScoreRun.Status.SUCCEEDED, finished_at=timezone.now(), stage="done", progress=100,
        model_cards=cards, counts={**counts, **written_counts}, timings=timings)
    return written_counts


def _publish_recommendations(run_id: int) -> int:
    """Replace the live recommendations with the ones the run's chunks staged."""
    _replace_all(Recommendation)
    columns = "customer_id, product_id, rank, score, because_of_id, run_id"
    table, stage = Recommendation._meta.db_table, RecommendationStage._meta.db_table
    insert = (f"INSERT INTO {table} ({columns}) SELECT customer_id, product_id, rank, score, "
              f"because_of_id, run_id FROM {stage} WHERE run_id = %s "
              # A customer merged away while the run ranked: the row has no home any more.
              f"AND customer_id IN (SELECT id FROM {Customer._meta.db_table}) "
              f"AND product_id IN (SELECT id FROM {Product._meta.db_table})")
    # A million rows: checking the foreign keys row by row at COMMIT cost ~40 s at 100,000
    # customers; dropping them and adding them back validates each once, as one join.
    restore = drop_secondary_indexes([table]) if is_postgres() else []
    with connection.cursor() as cursor:
        cursor.execute(insert, [run_id])
        inserted = cursor.rowcount
    execute_all(restore)
    RecommendationStage.objects.filter(run_id=run_id).delete()
    return inserted


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
