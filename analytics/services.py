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
from dataclasses import replace
from datetime import datetime, timedelta

import numpy as np
import pandas as pd
from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Value
from django.db.models.functions import Greatest, Least
from django.utils import timezone

from analytics import adapter
from analytics.engine.feedback import analyse_feedback
from analytics.engine.incremental import ScoringSnapshot, rescore
from analytics.engine.pipeline import CUSTOMER_PART, PRODUCT_PART, EngineSettings, combine, run_engine
from analytics.engine.recommend import recommend_top_n
from analytics.models import (
    AssociationRule,
    ModelArtifact,
    Recommendation,
    RecommendationStage,
    RevenueForecast,
    ScoreRun,
    SegmentProfile,
)
from core.db import bulk_insert, drop_secondary_indexes, execute_all, is_postgres
from customers.models import Customer, Feedback, Product
from webhooks.events import SOURCE_FULL_RUN, SOURCE_RESCORE, churn_risk_high_watch

from .dashboard import dashboard_figures

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
    # Two parts report at once, each from its own start: the run's progress only moves forward.
    ScoreRun.objects.filter(pk=run_id).update(stage=stage, progress=Greatest(F("progress"), Value(min(percent, 100))),
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


# Artifacts a run keeps between its tasks, deleted when it finishes: each engine part's output
# and its meta, and from the products part the fitted recommender and each chunk's customers
# and ratings, which the ranking chunks load.
PENDING_PREFIX = "pending_"
PENDING_PARTS = {CUSTOMER_PART: f"{PENDING_PREFIX}customers", PRODUCT_PART: f"{PENDING_PREFIX}products"}
PENDING_RECOMMENDER = f"{PENDING_PREFIX}recommender"


def _meta(part: str) -> str:
    """The small artifact a part stores last: its counts, timings, peaks (and ranges to rank)."""
    return f"{PENDING_PARTS[part]}_meta"




def _fail(run_id: int, exc: BaseException, timings: dict | None = None) -> None:
    logger.exception("score run %s failed", run_id)
    fields = {"status": ScoreRun.Status.FAILED, "finished_at": _now(),
              "error": "".join(traceback.format_exception_only(exc)).strip()[:4000]}
    if timings is not None:
        fields["timings"] = timings
    ScoreRun.objects.filter(pk=run_id).update(**fields)


def _store(run_id: int, name: str, value) -> None:
    # Level 1: the pending output of a million customers compresses in seconds, not minutes.
    ModelArtifact.objects.update_or_create(
        run_id=run_id, name=name, defaults={"payload": zlib.compress(pickle.dumps(value), 1)})


def _load(run_id: int, name: str):
    payload = ModelArtifact.objects.values_list("payload", flat=True).get(run_id=run_id, name=name)
    return pickle.loads(zlib.decompress(bytes(payload)))


def _chunk_ranges(customer_ids: pd.Series, size: int) -> list[tuple[int, int]]:
    """(first id, last id) of consecutive runs of ``size`` customers, in id order."""
    ids = customer_ids.sort_values().to_numpy()
    return [(int(ids[start]), int(ids[min(start + size, len(ids)) - 1]))
            for start in range(0, len(ids), size)]


def score_run_start(*, run_id: int) -> bool:
    """First step of a full run: claim the queued run and analyse the feedback that arrived since
    the last one (both parts read its sentiment). False when the run is not queued any more: it
    ended, or an earlier delivery of this message started it already.
    """
    claimed = ScoreRun.objects.filter(pk=run_id, status=ScoreRun.Status.QUEUED).update(
        status=ScoreRun.Status.RUNNING, started_at=_now(), lease_expires_at=_now() + LEASE, error="")
    if not claimed:
        return False
    try:
        started = time.perf_counter()
        _progress(run_id, "feedback", 1)
        analysed = feedback_analyse_pending()
        ScoreRun.objects.filter(pk=run_id).update(
            timings={"feedback_analysis": round(time.perf_counter() - started, 3)},
            counts={"feedback_analysed": analysed})
        return True
    except Exception as exc:
        _fail(run_id, exc)
        raise


# What each part reads: the customer models never look at order lines or products, the
# recommender and the bundles never at orders or interactions.
_PART_FRAMES = {
    CUSTOMER_PART: {"with_products": False, "without": ("items",)},
    PRODUCT_PART: {"with_products": True, "without": ("orders", "interactions")},
}


def score_run_fit_part(*, run_id: int, part: str, chunk_size: int | None = None) -> bool:
    """Fit one engine part (:data:`analytics.engine.pipeline.PARTS`) of a started run.

    The parts share nothing, so two workers fit them at the same time. Each stores its output
    (and the products part its recommender and the customer id ranges to rank) as artifacts of
    the run. Safe to repeat: a part already stored is not fitted again. False when the run ended.
    """
    if part not in PENDING_PARTS:
        raise ValueError(f"unknown engine part {part!r}")
    if ScoreRun.objects.filter(pk=run_id, status__in=ScoreRun.ENDED).exists():
        return False
    if ModelArtifact.objects.filter(run_id=run_id, name=_meta(part)).exists():
        return True
    timings: dict[str, float] = {}
    try:
        run = ScoreRun.objects.only("as_of").get(pk=run_id)
        as_of = pd.Timestamp(run.as_of).tz_convert("UTC").tz_localize(None)
        started = time.perf_counter()
        _progress(run_id, f"read ({part})", 3)
        frames = adapter.read_frames(as_of, **_PART_FRAMES[part])
        timings[f"read_{part}"] = round(time.perf_counter() - started, 3)

        output = run_engine(
            customers=frames.customers, orders=frames.orders, items=frames.items,
            products=frames.products, feedback_frame=frames.feedback,
            interactions=frames.interactions, as_of=as_of,
            settings=EngineSettings(churn_window_days=settings.CHURN_WINDOW_DAYS),
            on_stage=lambda stage, pct: _progress(run_id, stage, 5 + int(pct * 0.75)),
            rank_recommendations=False, parts=frozenset({part}),
        )
        started = time.perf_counter()
        meta = {"counts": ({"customers": len(frames.customers), "orders": len(frames.orders)}
                           if part == CUSTOMER_PART else {"order_lines": len(frames.items)})}
        if output.recommender is not None:
            size = chunk_size or settings.SCORE_RUN_CHUNK_CUSTOMERS
            meta["ranges"] = _chunk_ranges(frames.customers["customer_id"], size)
            _store(run_id, PENDING_RECOMMENDER, output.recommender.model)
            _store_chunk_ratings(run_id, meta["ranges"], frames.customers["customer_id"],
                                 output.recommender.ratings)
        _store(run_id, PENDING_PARTS[part], replace(output, recommender=None))
        timings[f"store_{part}"] = round(time.perf_counter() - started, 3)
        meta["timings"] = {**timings, **output.timings}
        meta["peak_rss_mb"] = output.peak_rss_mb
        # Stored last: its presence says the part is complete.
        _store(run_id, _meta(part), meta)
        return True
    except Exception as exc:
        _fail(run_id, exc, {**ScoreRun.objects.get(pk=run_id).timings, **timings})
        raise


def _ratings_artifact(first_id: int, last_id: int) -> str:
    return f"{PENDING_PREFIX}ratings_{first_id}_{last_id}"


def _store_chunk_ratings(run_id: int, ranges: list[tuple[int, int]], customer_ids: pd.Series,
                         ratings: pd.DataFrame) -> None:
    """Store, for each range to rank, its customers and their ratings: the part has just built
    them from every order line, and a chunk that read its order lines again from the database
    spent 80 % of its time doing so (2.4 of 3 s per 25,000 customers)."""
    ids = np.sort(customer_ids.to_numpy(dtype="int64"))
    ratings = ratings.sort_values("customer_id", kind="stable")
    rated = ratings["customer_id"].to_numpy()
    for first, last in ranges:
        members = ids[np.searchsorted(ids, first):np.searchsorted(ids, last, side="right")]
        rows = ratings.iloc[np.searchsorted(rated, first):np.searchsorted(rated, last, side="right")]
        _store(run_id, _ratings_artifact(first, last), (members, rows.reset_index(drop=True)))


def score_run_plan(*, run_id: int) -> list[tuple[int, int]] | None:
    """After both parts: record their timings and return the customer id ranges still to be
    ranked (:func:`score_run_rank_chunk`, one call per range, in any order or in parallel), after
    which :func:`score_run_finish` writes everything at once. None when there is nothing to do:
    the run ended, or a redelivered message finds it planned already.
    """
    run = ScoreRun.objects.get(pk=run_id)
    if run.status in ScoreRun.ENDED or run.chunks_total:
        return None
    timings, counts, peaks = dict(run.timings), dict(run.counts), {}
    ranges: list[tuple[int, int]] = []
    try:
        for part in PENDING_PARTS:
            meta = _load(run_id, _meta(part))
            timings.update(meta["timings"])
            counts.update(meta["counts"])
            peaks.update(meta["peak_rss_mb"])
            ranges = meta.get("ranges", ranges)
        RecommendationStage.objects.exclude(run_id=run_id).delete()  # left by failed runs
    except Exception as exc:
        _fail(run_id, exc, timings)
        raise
    ScoreRun.objects.filter(pk=run_id).update(
        timings=timings, counts=counts, peak_memory_mb=peaks, chunks_total=len(ranges) or 1,
        chunks_done=0, stage="ranking", progress=82, lease_expires_at=_now() + LEASE,
        fitted_at=_now())
    return ranges


def score_run_fit(*, run_id: int, chunk_size: int | None = None) -> list[tuple[int, int]] | None:
    """Start a queued run and fit both parts in this process; returns :func:`score_run_plan`'s
    ranges (None for a run that is not queued any more)."""
    if not score_run_start(run_id=run_id):
        return None
    for part in PENDING_PARTS:
        score_run_fit_part(run_id=run_id, part=part, chunk_size=chunk_size)
    return score_run_plan(run_id=run_id)


def score_run_rank_chunk(*, run_id: int, first_id: int, last_id: int) -> int:
    """Rank the customers with ids in [first_id, last_id] with the run's fitted recommender.

    Safe to run twice (a worker killed mid-chunk gets its message redelivered): the chunk's
    staged rows are replaced, in one transaction. Returns the rows staged.
    """
    if ScoreRun.objects.filter(pk=run_id, status__in=ScoreRun.ENDED).exists():
        return 0
    try:
        model = _load(run_id, PENDING_RECOMMENDER)
        customer_ids, ratings = _load(run_id, _ratings_artifact(first_id, last_id))
        recs = recommend_top_n(model, ratings, customer_ids)
        rows = pd.DataFrame({
            "run_id": run_id,
            "customer_id": recs.index.to_numpy(dtype="int64"),
            "product_id": recs["product_id"].to_numpy(dtype="int64"),
            "rank": recs["rank"].to_numpy(dtype="int64"),
            "score": recs["score"].astype(float).to_numpy(),
            "because_of_id": recs["reason_product_id"].astype("Int64"),
        })
        with transaction.atomic():
            RecommendationStage.objects.filter(run_id=run_id, customer_id__gte=first_id,
                                               customer_id__lte=last_id).delete()
            bulk_insert(RecommendationStage, rows)
        ScoreRun.objects.filter(pk=run_id).update(
            chunks_done=F("chunks_done") + 1, lease_expires_at=_now() + LEASE,
            progress=Least(Value(90), 82 + 8 * (F("chunks_done") + 1) / Greatest(F("chunks_total"), 1)))
        return len(rows)
    except Exception as exc:
        _fail(run_id, exc)
        raise


def score_run_finish(*, run_id: int) -> ScoreRun:
    """Last part of a full run: write every result in one transaction and mark the run done."""
    run = ScoreRun.objects.get(pk=run_id)
    if run.status in ScoreRun.ENDED:
        return run
    timings = dict(run.timings)
    counts = dict(run.counts)
    try:
        if run.fitted_at is not None:
            timings["ranking"] = round((_now() - run.fitted_at).total_seconds(), 3)
        started = time.perf_counter()
        _progress(run_id, "write", 92)
        output = combine(*(_load(run_id, PENDING_PARTS[part]) for part in (CUSTOMER_PART, PRODUCT_PART)))
        counts.update(_write_results(run_id, output, timings=timings, counts=counts))
        timings["write"] = round(time.perf_counter() - started, 3)
        ScoreRun.objects.filter(pk=run_id).update(timings=timings, counts=counts)
    except Exception as exc:
        _fail(run_id, exc, timings)
        raise
    if is_postgres():
        # Every customer row was just rewritten, leaving a dead copy of each. Until autovacuum
        # gets to them (it is off on some servers, these machines included) index scans wade
        # through them and the planner works from the unscored table's statistics: at 100,000
        # customers after a few runs a filtered customer list took 400-600 ms instead of 60-90.
        # VACUUM (ANALYZE) costs 2-7 s here, after the commit; inside a caller's transaction
        # (a test, a shell) only ANALYZE is possible.
        started = time.perf_counter()
        table = connection.ops.quote_name(Customer._meta.db_table)
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {table}" if connection.in_atomic_block else f"VACUUM (ANALYZE) {table}")
        timings["vacuum_analyze"] = round(time.perf_counter() - started, 3)
    # After the commit, from the new scores. Until it is stored the dashboard shows the previous
    # run's figures; a failure here costs the figures, never the run.
    started = time.perf_counter()
    try:
        figures = dashboard_figures()
    except Exception:  # noqa: BLE001 - logged; the page falls back to live figures
        logger.exception("dashboard figures of run %s", run_id)
    else:
        timings["dashboard"] = round(time.perf_counter() - started, 3)
        ScoreRun.objects.filter(pk=run_id).update(dashboard=figures, timings=timings)
    run.refresh_from_db()
    return run


def score_run_execute(*, run_id: int) -> ScoreRun:
    """A whole full run in this process: fit, rank every chunk, finish (no broker, ``--sync``)."""
    ranges = score_run_fit(run_id=run_id)
    for first_id, last_id in ranges or []:
        score_run_rank_chunk(run_id=run_id, first_id=first_id, last_id=last_id)
    return score_run_finish(run_id=run_id)


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
def _write_results(run_id: int, output, *, timings: dict, counts: dict) -> dict[str, int]:
    """Scores, profiles, recommendations, rules, forecast and the run's success: all or none."""
    now = _now()
    scores = output.scores.copy()
    scores["scores_updated_at"] = pd.Timestamp(now)
    started = time.perf_counter()
    with churn_risk_high_watch(source=SOURCE_FULL_RUN, score_run_id=run_id):
        written = adapter.write_scores(scores)
    timings["write_scores"] = round(time.perf_counter() - started, 3)

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

    written_counts = {"scored": written, "segments": len(profiles), "recommendations": n_recs,
                      "rules": len(rules), "forecast_months": len(points)}
    ScoreRun.objects.filter(pk=run_id).update(
        status=ScoreRun.Status.SUCCEEDED, finished_at=_now(), stage="done", progress=100,
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


# --- Incremental rescoring -------------------------------------------------------------------

SNAPSHOT_ARTIFACT = "scoring_snapshot"
# Events for one customer within this many seconds share one rescore: an order with ten lines
# and its feedback arrive together, and the rescore reads whatever is committed when it runs.
RESCORE_DEBOUNCE_SECONDS = 3
_snapshot_cache: dict[int, ScoringSnapshot] = {}


def customer_rescore_queue(*, customer_ids) -> None:
    """Queue a rescore of these customers (debounced). Called with committed changes only: the
    customers' events are sent after commit (``customers.events``)."""
    from analytics.tasks import customer_rescore

    fresh = [i for i in sorted({int(i) for i in customer_ids})
             if cache.add(f"rescore-pending:{i}", 1, RESCORE_DEBOUNCE_SECONDS)]
    if fresh:
        customer_rescore.apply_async(args=[fresh], countdown=0 if settings.CELERY_TASK_ALWAYS_EAGER
                                     else RESCORE_DEBOUNCE_SECONDS)


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
    frames = adapter.read_frames(when, customer_ids=list(customer_ids), with_products=False,
                                 without=("items",))  # rescoring never reads order lines
    if frames.customers.empty:
        return 0
    scores = rescore(snapshot, customers=frames.customers, orders=frames.orders,
                     feedback=frames.feedback, interactions=frames.interactions, as_of=when)
    scores["scores_updated_at"] = pd.Timestamp(_now())
    with churn_risk_high_watch(source=SOURCE_RESCORE, customer_ids=list(customer_ids)):
        return adapter.write_scores(scores)
