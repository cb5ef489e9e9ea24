"""Score runs: request one, execute it, and write its results.

Only one full run may be queued or running at a time. The lock is the run row itself: a partial
unique constraint allows one active full run, and its ``lease_expires_at`` is pushed forward at
every stage. A run whose worker died stops renewing the lease; the next request marks it failed
and starts afresh. Results are written in one transaction at the end, so a run that fails or is
killed leaves the previous scores whole.
"""
from __future__ import annotations

import logging
import pickle
import time
import traceback
import zlib
from datetime import datetime, timedelta

import pandas as pd
from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.utils import timezone

from analytics import adapter
from analytics.engine.feedback import analyse_feedback
from analytics.engine.pipeline import EngineSettings, run_engine
from analytics.engine.incremental import ScoringSnapshot, rescore
from analytics.models import (
    AssociationRule, ModelArtifact, Recommendation, RevenueForecast, ScoreRun, SegmentProfile,
)
from customers.bulk import bulk_insert, drop_secondary_indexes, execute_all, is_postgres
from customers.models import Feedback
from customers.webhooks.events import SOURCE_FULL_RUN, SOURCE_RESCORE, churn_risk_high_watch

logger = logging.getLogger(__name__)

# Longer than any single stage takes at a million customers (the longest, churn, takes minutes),
# short enough that a run whose worker was killed is taken over within a quarter of an hour.
LEASE = timedelta(minutes=15)


def _now() -> datetime:
    return timezone.now()


def _expire_abandoned_runs() -> None:
    ScoreRun.objects.filter(
        kind=ScoreRun.Kind.FULL, status__in=ScoreRun.ACTIVE, lease_expires_at__lt=_now(),
    ).update(status=ScoreRun.Status.FAILED, finished_at=_now(),
             error="Abandoned: the worker stopped renewing its lease (killed or lost).")


def score_run_request(*, as_of: datetime | None = None, requested_by=None, run_now: bool = False) -> ScoreRun:
    """Queue a full run, or return the one already queued or running.

    ``run_now`` executes it in this process instead of queueing it (``recompute_scores --sync``).
    """
    from analytics.tasks import score_run_full

    _expire_abandoned_runs()
    active = ScoreRun.objects.filter(kind=ScoreRun.Kind.FULL, status__in=ScoreRun.ACTIVE).first()
    if active:
        return active
    try:
        with transaction.atomic():
            run = ScoreRun.objects.create(
                kind=ScoreRun.Kind.FULL, as_of=as_of or _now(), requested_by=requested_by,
                lease_expires_at=_now() + LEASE)
            if not run_now:
                # After commit: a worker must find the row it is asked to run.
                transaction.on_commit(lambda: score_run_full.delay(run.pk))
    except IntegrityError:
        # Another request created the active run between our check and our insert.
        return ScoreRun.objects.get(kind=ScoreRun.Kind.FULL, status__in=ScoreRun.ACTIVE)
    if run_now:
        score_run_execute(run_id=run.pk)
        run.refresh_from_db()
    return run


def _progress(run_id: int, stage: str, percent: int) -> None:
    ScoreRun.objects.filter(pk=run_id).update(stage=stage, progress=min(percent, 100),
                                              lease_expires_at=_now() + LEASE)


def feedback_analyse_pending(*, feedback_ids: list[int] | None = None) -> int:
    """Fill language, sentiment and complaint reason on feedback not analysed yet.

    These depend on the record alone, so each record is analysed once, when it arrives (or by
    the first run after a bulk load), never again.
    """
    pending = Feedback.objects.filter(sentiment_score__isnull=True).exclude(text="")
    if feedback_ids is not None:
        pending = pending.filter(pk__in=feedback_ids)
    rows = list(pending.values_list("id", "text", "rating"))
    if not rows:
        return 0
    frame = pd.DataFrame(rows, columns=["feedback_id", "text", "rating"])
    analysed = analyse_feedback(frame)
    analysed["sentiment_score"] = analysed["sentiment_score"].clip(-1, 1)
    for column in ("language", "sentiment_label", "complaint_reason"):
        analysed[column] = analysed[column].fillna("")
    return adapter.write_rows(Feedback, analysed[["language", "sentiment_score", "sentiment_label",
                                                  "complaint_reason"]])


def score_run_execute(*, run_id: int) -> ScoreRun:
    """Run the engine for ``run_id`` and write everything it produced in one transaction."""
    run = ScoreRun.objects.get(pk=run_id)
    if run.status in (ScoreRun.Status.SUCCEEDED, ScoreRun.Status.FAILED):
        return run  # a redelivered message for a finished run: nothing to do
    ScoreRun.objects.filter(pk=run_id).update(status=ScoreRun.Status.RUNNING, started_at=_now(),
                                              lease_expires_at=_now() + LEASE, error="")
    timings: dict[str, float] = {}
    try:
        as_of = pd.Timestamp(run.as_of).tz_convert("UTC").tz_localize(None)

        started = time.perf_counter()
        _progress(run_id, "feedback", 1)
        analysed = feedback_analyse_pending()
        timings["feedback_analysis"] = round(time.perf_counter() - started, 3)

        started = time.perf_counter()
        _progress(run_id, "read", 3)
        frames = adapter.read_frames(as_of)
        timings["read"] = round(time.perf_counter() - started, 3)

        output = run_engine(
            customers=frames.customers, orders=frames.orders, items=frames.items,
            products=frames.products, feedback_frame=frames.feedback,
            interactions=frames.interactions, as_of=as_of,
            settings=EngineSettings(churn_window_days=settings.CHURN_WINDOW_DAYS),
            on_stage=lambda stage, pct: _progress(run_id, stage, 5 + int(pct * 0.85)),
        )
        timings.update(output.timings)

        started = time.perf_counter()
        _progress(run_id, "write", 92)
        counts = _write_results(run_id, output)
        timings["write"] = round(time.perf_counter() - started, 3)
        counts.update(customers=len(frames.customers), orders=len(frames.orders),
                      feedback_analysed=analysed)
        ScoreRun.objects.filter(pk=run_id).update(timings=timings, counts=counts)
    except Exception as exc:
        logger.exception("score run %s failed", run_id)
        ScoreRun.objects.filter(pk=run_id).update(
            status=ScoreRun.Status.FAILED, finished_at=_now(), timings=timings,
            error="".join(traceback.format_exception_only(exc)).strip()[:4000])
        raise
    run.refresh_from_db()
    return run


def _replace_all(model) -> None:
    """Empty ``model``'s table inside the current transaction.

    On PostgreSQL TRUNCATE (transactional there) instead of deleting a million rows one by one;
    readers of the table wait for the commit rather than seeing it empty.
    """
    if is_postgres():
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute(f"TRUNCATE {connection.ops.quote_name(model._meta.db_table)}")
    else:
        model.objects.all().delete()


@transaction.atomic
def _write_results(run_id: int, output) -> dict[str, int]:
    """Scores, profiles, recommendations, rules, forecast and the run's success: all or none."""
    now = _now()
    scores = output.scores.copy()
    scores["scores_updated_at"] = pd.Timestamp(now)
    with churn_risk_high_watch(source=SOURCE_FULL_RUN, score_run_id=run_id):
        written = adapter.write_scores(scores)

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

    _replace_all(Recommendation)
    recs = output.recommendations
    if not recs.empty:
        rows = pd.DataFrame({
            "customer_id": recs.index.to_numpy(dtype="int64"),
            "product_id": recs["product_id"].to_numpy(dtype="int64"),
            "rank": recs["rank"].to_numpy(dtype="int64"),
            "score": recs["score"].astype(float).to_numpy(),
            "because_of_id": recs["reason_product_id"].astype("Int64"),
            "run_id": run_id,
        })
        # A million rows: checking four foreign keys row by row at COMMIT cost ~40 s at 100,000
        # customers; dropping them and adding them back validates each once, as one join.
        restore = drop_secondary_indexes([Recommendation._meta.db_table]) if is_postgres() else []
        bulk_insert(Recommendation, rows)
        execute_all(restore)

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
    if output.snapshot is not None:
        ModelArtifact.objects.create(run_id=run_id, name=SNAPSHOT_ARTIFACT,
                                     payload=zlib.compress(pickle.dumps(output.snapshot)))

    counts = {"scored": written, "segments": len(profiles), "recommendations": len(recs),
              "rules": len(rules), "forecast_months": len(points)}
    ScoreRun.objects.filter(pk=run_id).update(
        status=ScoreRun.Status.SUCCEEDED, finished_at=now, stage="done", progress=100,
        model_cards=output.cards, counts=counts)
    return counts


# --- Incremental rescoring -------------------------------------------------------------------

SNAPSHOT_ARTIFACT = "scoring_snapshot"
# Events for one customer within this many seconds share one rescore: an order with ten lines
# and its feedback arrive together, and the rescore reads whatever is committed when it runs.
RESCORE_DEBOUNCE_SECONDS = 3
_snapshot_cache: dict[int, ScoringSnapshot] = {}


def customer_rescore_queue(*, customer_ids) -> None:
    """Queue a rescore of these customers after the current transaction commits (debounced)."""
    from analytics.tasks import customer_rescore

    ids = sorted({int(i) for i in customer_ids})

    def queue() -> None:
        fresh = [i for i in ids if cache.add(f"rescore-pending:{i}", 1, RESCORE_DEBOUNCE_SECONDS)]
        if fresh:
            customer_rescore.apply_async(args=[fresh], countdown=0 if settings.CELERY_TASK_ALWAYS_EAGER
                                         else RESCORE_DEBOUNCE_SECONDS)

    transaction.on_commit(queue)


def _latest_snapshot() -> tuple[int, ScoringSnapshot] | None:
    artifact = (ModelArtifact.objects.filter(name=SNAPSHOT_ARTIFACT, run__status=ScoreRun.Status.SUCCEEDED)
                .order_by("-run_id").only("run_id").first())
    if artifact is None:
        return None
    if artifact.run_id not in _snapshot_cache:
        payload = ModelArtifact.objects.values_list("payload", flat=True).get(pk=artifact.pk)
        _snapshot_cache.clear()  # keep one snapshot in memory per process
        _snapshot_cache[artifact.run_id] = pickle.loads(zlib.decompress(bytes(payload)))
    return artifact.run_id, _snapshot_cache[artifact.run_id]


def customer_rescore(*, customer_ids, as_of: datetime | None = None) -> int:
    """Recompute RFM, CLV, churn, loyalty and lifecycle of a few customers with the stored models.

    Returns the number of customers written; 0 when no full run has produced models yet.
    """
    latest = _latest_snapshot()
    if latest is None:
        return 0
    run_id, snapshot = latest
    for i in customer_ids:
        cache.delete(f"rescore-pending:{int(i)}")
    when = pd.Timestamp(as_of or _now()).tz_convert("UTC").tz_localize(None)
    frames = adapter.read_frames(when, customer_ids=list(customer_ids), with_products=False)
    if frames.customers.empty:
        return 0
    scores = rescore(snapshot, customers=frames.customers, orders=frames.orders,
                     feedback=frames.feedback, interactions=frames.interactions, as_of=when)
    scores["scores_updated_at"] = pd.Timestamp(_now())
    with churn_risk_high_watch(source=SOURCE_RESCORE, customer_ids=list(customer_ids)):
        return adapter.write_scores(scores)
