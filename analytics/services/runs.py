"""Score runs: request one, execute it, and write its results.

Only one full run may be queued or running at a time. The lock is the run row itself: a partial
unique constraint allows one active full run, and its ``lease_expires_at`` is pushed forward at
every stage (``core.leases``). A run whose worker died stops renewing the lease; the beat's sweep
(:func:`score_runs_expire`) or the next request marks it failed, and the next request starts afresh. Results are written in one transaction at the end, so a run that fails or is
killed leaves the previous scores whole.
"""
from __future__ import annotations

import json
import logging
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pandas as pd
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Value
from django.db.models.functions import Greatest, Least
from django.utils import timezone
from django.utils.translation import gettext as _

from analytics import adapter, aggregates
from analytics.engine.clv import InsufficientDataError
from analytics.engine.pipeline import (
    CUSTOMER_PART,
    PRODUCT_PART,
    EngineOutput,
    EngineSettings,
    combine,
    run_engine,
)
from analytics.engine.recommend import recommend_top_n
from analytics.models import ModelArtifact, RealisedAccuracy, ScoreRun
from core.db import is_postgres
from core.failures import FailureKind, failure_detail, failure_kind
from core.leases import lease_expire, lease_renew, lease_until
from customers import bounds
from customers.models import CustomerScore, Order

from .artifacts import (
    PENDING_EXPLAINED,
    PENDING_PARTS,
    PENDING_PREFIX,
    PENDING_RECOMMENDER,
    PENDING_TO_EXPLAIN,
    artifact_find,
    artifact_load,
    artifact_store,
    chunk_ratings_store,
    explain_artifact_name,
    pending_meta_name,
    ratings_artifact_name,
)
from .feedback import feedback_analyse_pending
from .figures import figures_take, score_run_draw
from .history import prediction_history_prune, prediction_history_store, realised_accuracy_evaluate
from .results import (
    dashboard_figures_store,
    recommendations_ahead_discard,
    recommendations_build_ahead,
    recommendations_stage,
    recommendations_stage_open,
    results_write,
)

logger = logging.getLogger(__name__)

# How long a run's lease lasts after each stage (see the model for why a quarter of an hour).
LEASE = ScoreRun.lease_duration


def _now() -> datetime:
    return timezone.now()


def score_runs_expire() -> int:
    """Mark full runs whose worker stopped renewing the lease as failed; returns how many.

    Run by the beat schedule (``analytics.tasks.score_runs_expire``) and by a request for a new
    run, which must take the lock over from a dead one first.
    """
    return lease_expire(ScoreRun.objects.filter(kind=ScoreRun.Kind.FULL))


def score_run_as_of_check(*, as_of: datetime) -> datetime:
    """The as-of time of a requested run, or ``ValidationError`` on ``as_of`` saying why not.

    One rule for every door (``recompute_scores --as-of``, ``POST /api/score-runs/``): not in
    the future (a run as of 2099 rewrote every score with decades of made-up inactivity), not
    before the earliest plausible date, and not before the first order (nothing to score).
    """
    if timezone.is_naive(as_of):
        as_of = timezone.make_aware(as_of, UTC)
    if as_of > _now():
        raise ValidationError({"as_of": _("The as-of time must not be in the future.")})
    earliest = bounds.earliest_date()
    if as_of.date() < earliest:
        raise ValidationError({"as_of": _("The as-of time must be on or after %(date)s.")
                               % {"date": earliest.isoformat()}})
    first = Order.objects.order_by("ordered_at").values_list("ordered_at", flat=True).first()
    if first is not None and as_of < first:
        raise ValidationError({"as_of": _("The as-of time is before the first order (%(date)s): "
                                          "there is nothing to score.")
                               % {"date": first.date().isoformat()}})
    return as_of


def score_run_request(*, as_of: datetime | None = None, requested_by=None, run_now: bool = False) -> ScoreRun:
    """Queue a full run, or return the one already queued or running.

    ``run_now`` executes it in this process instead of queueing it (``recompute_scores --sync``).
    An ``as_of`` outside :func:`score_run_as_of_check` raises ``ValidationError``.
    """
    from analytics.tasks import score_run_full

    if as_of is not None:
        as_of = score_run_as_of_check(as_of=as_of)
    score_runs_expire()
    active = ScoreRun.objects.filter(kind=ScoreRun.Kind.FULL, status__in=ScoreRun.ACTIVE).first()
    if active:
        return active
    try:
        with transaction.atomic():
            run = ScoreRun.objects.create(
                kind=ScoreRun.Kind.FULL, as_of=as_of or _now(), requested_by=requested_by,
                lease_expires_at=lease_until(LEASE))
            if not run_now:
                # After commit: a worker must find the row it is asked to run. Robust: where tasks
                # run in this process (eager Celery) a failing run is recorded on the run and
                # logged; the caller (a page, an import) goes on and shows the run's state.
                transaction.on_commit(lambda: score_run_full.delay(run.pk), robust=True)
    except IntegrityError:
        # Another request created the active run between our check and our insert.
        return ScoreRun.objects.get(kind=ScoreRun.Kind.FULL, status__in=ScoreRun.ACTIVE)
    if run_now:
        score_run_execute(run_id=run.pk)
    # Tasks that run in this process (eager Celery, ``run_now``) have finished by now: the caller
    # must see the run as it is, not as it was created.
    run.refresh_from_db()
    return run


def _progress(run_id: int, stage: str, percent: int) -> None:
    # Two parts report at once, each from its own start: the run's progress only moves forward.
    lease_renew(ScoreRun.objects.filter(pk=run_id), duration=LEASE,
                stage=stage, progress=Greatest(F("progress"), Value(min(percent, 100))))


def _failure_kind(exc: BaseException) -> str:
    # The engine skips a model that has too little data and fits the others; what still fails
    # the run for want of data is a model every score needs.
    if isinstance(exc, InsufficientDataError) or (
            isinstance(exc, ValueError) and "not enough" in str(exc)):
        return FailureKind.NOT_ENOUGH_HISTORY
    return failure_kind(exc)


def _fail(run_id: int, exc: BaseException, timings: dict | None = None) -> None:
    """Record a failed run: the raw error for the log and the admin, its kind for the pages."""
    logger.exception("score run %s failed", run_id)
    fields = {"status": ScoreRun.Status.FAILED, "finished_at": _now(), "error": failure_detail(exc),
              "error_kind": _failure_kind(exc), "error_params": {}}
    if timings is not None:
        fields["timings"] = timings
    ScoreRun.objects.filter(pk=run_id).update(**fields)


def _chunk_ranges(customer_ids: pd.Series, size: int) -> list[tuple[int, int]]:
    """(first id, last id) of consecutive runs of ``size`` customers, in id order."""
    ids = customer_ids.sort_values().to_numpy()
    return [(int(ids[start]), int(ids[min(start + size, len(ids)) - 1]))
            for start in range(0, len(ids), size)]


# A typo such as a 1-day step over two years would fit the models 730 times.
BACKTEST_MAX_RUNS = 60


def engine_settings() -> EngineSettings:
    return EngineSettings(
        churn_window_days=settings.CHURN_WINDOW_DAYS, churn_label=settings.CHURN_LABEL,
        churn_explicit_min_churned=settings.CHURN_EXPLICIT_MIN_CHURNED,
        churn_explicit_min_share=settings.CHURN_EXPLICIT_MIN_SHARE)


def score_run_start(*, run_id: int) -> bool:
    """First step of a full run: claim the queued run and analyse the feedback that arrived since
    the last one (both parts read its sentiment). False when the run is not queued any more: it
    ended, or an earlier delivery of this message started it already.
    """
    claimed = ScoreRun.objects.filter(pk=run_id, status=ScoreRun.Status.QUEUED).update(
        status=ScoreRun.Status.RUNNING, started_at=_now(), lease_expires_at=lease_until(LEASE), error="",
        error_kind="", error_params={})
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


def _part_frames(part: str, summaries: aggregates.EngineSummaries | None,
                 baskets: aggregates.EngineBaskets | None = None) -> dict:
    """read_frames' arguments for a part: with the order summaries computed by the database the
    customer part does not read the orders either, and with the baskets grouped by the database
    the products part does not read the order lines."""
    arguments = _PART_FRAMES[part]
    unread = (("orders",) if summaries is not None else ()) + (("items",) if baskets is not None else ())
    if not unread:
        return arguments
    return {**arguments, "without": (*arguments["without"], *unread)}


def _order_count(frames: adapter.Frames, summaries: aggregates.EngineSummaries | None) -> int:
    """Orders up to as_of: counted in the summary where the orders were not read."""
    return len(frames.orders) if summaries is None else int(summaries.at_as_of["order_count"].sum())


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
    if ModelArtifact.objects.filter(run_id=run_id, name=pending_meta_name(part)).exists():
        return True
    timings: dict[str, float] = {}
    try:
        run = ScoreRun.objects.only("as_of").get(pk=run_id)
        as_of = pd.Timestamp(run.as_of).tz_convert("UTC").tz_localize(None)
        started = time.perf_counter()
        _progress(run_id, f"read ({part})", 3)
        summaries = baskets = None
        if part == CUSTOMER_PART:
            summaries = aggregates.engine_order_summaries(as_of, engine_settings())
            if summaries is not None:
                timings["read_order_summary"] = round(time.perf_counter() - started, 3)
                started = time.perf_counter()
        else:
            baskets = aggregates.engine_baskets(as_of)
            if baskets is not None:
                timings["read_baskets"] = round(time.perf_counter() - started, 3)
                started = time.perf_counter()
        frames = adapter.read_frames(as_of, **_part_frames(part, summaries, baskets))
        timings[f"read_{part}"] = round(time.perf_counter() - started, 3)
        counts = ({"customers": len(frames.customers), "orders": _order_count(frames, summaries)}
                  if part == CUSTOMER_PART else
                  {"order_lines": len(frames.items) if baskets is None else baskets.order_lines})
        if summaries is not None:   # counted before the engine lets the summaries go
            counts["order_summary_rows"] = summaries.rows

        output = run_engine(
            customers=frames.customers, orders=frames.orders, items=frames.items,
            products=frames.products, feedback_frame=frames.feedback,
            interactions=frames.interactions, as_of=as_of,
            settings=engine_settings(),
            on_stage=lambda stage, pct: _progress(run_id, stage, 5 + int(pct * 0.75)),
            rank_recommendations=False, explain_churn=False, parts=frozenset({part}), release_summaries=True,
            **(summaries.engine_arguments() if summaries is not None else {}),
            **(baskets.engine_arguments() if baskets is not None else {}),
        )
        started = time.perf_counter()
        meta = {"counts": counts}
        # Both parts cut their customers into ranges the same way; a chunk ranks the products
        # part's customers of its range and explains the customers part's churn customers of it.
        size = chunk_size or settings.SCORE_RUN_CHUNK_CUSTOMERS
        ranges = _chunk_ranges(frames.customers["customer_id"], size)
        if output.recommender is not None or output.churn_pending is not None:
            meta["ranges"] = ranges
        if output.recommender is not None:
            artifact_store(run_id, PENDING_RECOMMENDER, output.recommender.model)
            chunk_ratings_store(run_id, ranges, frames.customers["customer_id"],
                                 output.recommender.ratings)
        if output.churn_pending is not None:
            for first, last in ranges:
                artifact_store(run_id, explain_artifact_name(first, last),
                               output.churn_pending.between(first, last))
        artifact_store(run_id, PENDING_PARTS[part], replace(output, recommender=None, churn_pending=None))
        timings[f"store_{part}"] = round(time.perf_counter() - started, 3)
        meta["timings"] = {**timings, **output.timings}
        meta["peak_rss_mb"] = output.peak_rss_mb
        # Stored last: its presence says the part is complete.
        artifact_store(run_id, pending_meta_name(part), meta)
        return True
    except Exception as exc:
        _fail(run_id, exc, {**ScoreRun.objects.get(pk=run_id).timings, **timings})
        raise


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
            meta = artifact_load(run_id, pending_meta_name(part))
            timings.update(meta["timings"])
            counts.update(meta["counts"])
            peaks.update(meta["peak_rss_mb"])
            # Each part cut the customers it read; they differ when customers arrived between
            # the two reads (an import during the run), and a chunk does what its range has.
            ranges += [r for r in meta.get("ranges", []) if r not in ranges]
        recommendations_stage_open(run_id)
    except Exception as exc:
        _fail(run_id, exc, timings)
        raise
    lease_renew(
        ScoreRun.objects.filter(pk=run_id), duration=LEASE,
        timings=timings, counts=counts, peak_memory_mb=peaks, chunks_total=len(ranges) or 1,
        chunks_done=0, stage="ranking", progress=82, fitted_at=_now())
    return ranges


def score_run_fit(*, run_id: int, chunk_size: int | None = None) -> list[tuple[int, int]] | None:
    """Start a queued run and fit both parts in this process; returns :func:`score_run_plan`'s
    ranges (None for a run that is not queued any more)."""
    if not score_run_start(run_id=run_id):
        return None
    for part in PENDING_PARTS:
        score_run_fit_part(run_id=run_id, part=part, chunk_size=chunk_size)
    score_run_draw(run_id=run_id)
    return score_run_plan(run_id=run_id)


def score_run_rank_chunk(*, run_id: int, first_id: int, last_id: int) -> int:
    """Rank the customers with ids in [first_id, last_id] with the run's fitted recommender, and
    explain the churn probability of those the churn model scored.

    Safe to run twice (a worker killed mid-chunk gets its message redelivered): the chunk stages
    its rows in the transaction that takes its ratings, so it stages them once, and its reasons
    are stored again. Returns the recommendation rows staged (0 when staged already).
    """
    if ScoreRun.objects.filter(pk=run_id, status__in=ScoreRun.ENDED).exists():
        return 0
    try:
        pending = artifact_find(run_id, explain_artifact_name(first_id, last_id))
        if pending is not None:
            # Stored as the JSON the write takes: dumping a million reasons in the finish, on one
            # worker, took about half of its 20 s of collecting at a million customers.
            explained = pending.explain()
            artifact_store(run_id, explain_artifact_name(first_id, last_id, explained=True),
                           pd.Series([json.dumps(r) for r in explained], index=explained.index, dtype="object"))
        staged = _rank_chunk(run_id, first_id, last_id)
        lease_renew(
            ScoreRun.objects.filter(pk=run_id), duration=LEASE, chunks_done=F("chunks_done") + 1,
            progress=Least(Value(90), 82 + 8 * (F("chunks_done") + 1) / Greatest(F("chunks_total"), 1)))
        return staged
    except Exception as exc:
        _fail(run_id, exc)
        raise


def _rank_chunk(run_id: int, first_id: int, last_id: int) -> int:
    """Stage the recommendations of the customers in [first_id, last_id]; none where the products
    part cut no such range (a run with no order lines, or a range only the customers part cut)."""
    found = artifact_find(run_id, ratings_artifact_name(first_id, last_id))
    if found is None:
        return 0
    customer_ids, ratings = found
    model = artifact_load(run_id, PENDING_RECOMMENDER)
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
        # The range's ratings are taken in the transaction that stages its rows: a redelivered
        # task finds them gone and stages nothing twice (one delivered twice at once waits here
        # for the other's commit, then finds them gone).
        ratings = ModelArtifact.objects.filter(run_id=run_id, name=ratings_artifact_name(first_id, last_id))
        taken, _ = ratings.delete()
        if not taken:
            return 0
        recommendations_stage(rows)
    return len(rows)


def _churn_reasons_collect(run_id: int, output: EngineOutput) -> EngineOutput:
    """``output`` with the churn reasons its chunks computed in its ``churn_reasons`` column.
    Every range given to explain must have been explained: a churn probability is never written
    without the reasons that explain it."""
    names = set(ModelArtifact.objects.filter(run_id=run_id, name__startswith=PENDING_PREFIX)
                .values_list("name", flat=True))
    waiting = {n.removeprefix(PENDING_TO_EXPLAIN) for n in names if n.startswith(PENDING_TO_EXPLAIN)}
    done = {n.removeprefix(PENDING_EXPLAINED) for n in names if n.startswith(PENDING_EXPLAINED)}
    if waiting - done:
        raise RuntimeError(f"churn reasons missing for customer id ranges {sorted(waiting - done)}")
    if not done:
        return output
    scores = output.scores.copy()
    explained = pd.concat([artifact_load(run_id, PENDING_EXPLAINED + name) for name in sorted(done)])
    scores.loc[explained.index, "churn_reasons"] = explained.to_numpy()
    return replace(output, scores=scores)


def score_run_finish(*, run_id: int) -> ScoreRun:
    """Last part of a full run: write every result in one transaction and mark the run done."""
    run = ScoreRun.objects.get(pk=run_id)
    if run.status in ScoreRun.ENDED:
        return run
    timings = dict(run.timings)
    counts = dict(run.counts)
    recommendations_ahead = None
    try:
        if run.fitted_at is not None:
            timings["ranking"] = round((_now() - run.fitted_at).total_seconds(), 3)
        # Every chunk has staged its recommendations: their table is built from here on, beside
        # the collect and the score table.
        recommendations_ahead = recommendations_build_ahead(run_id)
        started = time.perf_counter()
        _progress(run_id, "write", 92)
        output = combine(*(artifact_load(run_id, PENDING_PARTS[part]) for part in (CUSTOMER_PART, PRODUCT_PART)))
        output = _churn_reasons_collect(run_id, output)
        timings["write_collect"] = round(time.perf_counter() - started, 3)
        counts.update(results_write(run_id, output, timings=timings, counts=counts,
                                    recommendations_ahead=recommendations_ahead,
                                    before_publish=lambda: figures_take(run_id, timings)))
        timings["write"] = round(time.perf_counter() - started, 3)
        ScoreRun.objects.filter(pk=run_id).update(timings=timings, counts=counts)
    except Exception as exc:
        if recommendations_ahead is not None:
            recommendations_ahead_discard(recommendations_ahead)
        _fail(run_id, exc, timings)
        raise
    if is_postgres() and not connection.in_atomic_block:
        # The swapped-in score table is analysed but not vacuumed: until a VACUUM marks its pages
        # all-visible, every index-only scan of it (the list's count through the join) fetches
        # each row from the table too. A second or two at a million customers, after the commit
        # (inside a caller's transaction, a test or a shell, VACUUM is not possible).
        started = time.perf_counter()
        with connection.cursor() as cursor:
            cursor.execute(f"VACUUM {connection.ops.quote_name(CustomerScore._meta.db_table)}")
        timings["vacuum_analyze"] = round(time.perf_counter() - started, 3)
    # After the commit, from the new scores.
    dashboard_figures_store(run_id, timings)
    _realised_accuracy_update(run)
    run.refresh_from_db()
    return run


def _realised_accuracy_update(run: ScoreRun) -> None:
    """Score the kept predictions whose horizon this run's date has passed, and drop expired ones.
    A failure here costs the realised figures of this run, never the run (it has committed)."""
    try:
        started = time.perf_counter()
        realised_accuracy_evaluate(as_of=run.as_of)
        prediction_history_prune(now=run.as_of)
        ScoreRun.objects.filter(pk=run.pk).update(
            timings={**ScoreRun.objects.get(pk=run.pk).timings,
                     "realised_accuracy": round(time.perf_counter() - started, 3)})
    except Exception:  # noqa: BLE001 - logged; the run itself has succeeded
        logger.exception("realised accuracy after run %s", run.pk)


def score_run_execute(*, run_id: int) -> ScoreRun:
    """A whole full run in this process: fit, rank every chunk, finish (no broker, ``--sync``)."""
    ranges = score_run_fit(run_id=run_id)
    for first_id, last_id in ranges or []:
        score_run_rank_chunk(run_id=run_id, first_id=first_id, last_id=last_id)
    return score_run_finish(run_id=run_id)


def _naive(value: datetime) -> pd.Timestamp:
    return pd.Timestamp(value).tz_convert("UTC").tz_localize(None)


def backtest_run(*, as_of: datetime, requested_by=None) -> ScoreRun:
    """Fit the customer models as of ``as_of`` and keep their predictions; no score is written.

    The run is recorded (kind "backtest") with its timings and model cards, like a full run.
    """
    run = ScoreRun.objects.create(kind=ScoreRun.Kind.BACKTEST, as_of=as_of, status=ScoreRun.Status.RUNNING,
                                  started_at=timezone.now(), requested_by=requested_by, stage="read")
    timings: dict[str, float] = {}
    try:
        started = time.perf_counter()
        summaries = aggregates.engine_order_summaries(_naive(as_of), engine_settings())
        frames = adapter.read_frames(_naive(as_of), with_products=False,
                                     **{k: v for k, v in _part_frames(CUSTOMER_PART, summaries).items()
                                        if k == "without"})
        timings["read"] = round(time.perf_counter() - started, 3)
        output = run_engine(
            customers=frames.customers, orders=frames.orders, items=frames.items, products=frames.products,
            feedback_frame=frames.feedback, interactions=frames.interactions, as_of=_naive(as_of),
            settings=engine_settings(), rank_recommendations=False, parts=frozenset({CUSTOMER_PART}),
            release_summaries=True, **(summaries.engine_arguments() if summaries is not None else {}))
        started = time.perf_counter()
        with transaction.atomic():
            stored = prediction_history_store(run=run, scores=output.scores)
            timings.update(output.timings, history=round(time.perf_counter() - started, 3))
            ScoreRun.objects.filter(pk=run.pk).update(
                status=ScoreRun.Status.SUCCEEDED, stage="done", progress=100, finished_at=timezone.now(),
                timings=timings, model_cards=output.cards,
                counts={"customers": len(frames.customers), "orders": _order_count(frames, summaries),
                        "history": stored})
    except Exception as exc:
        _fail(run.pk, exc, timings)
        raise
    run.refresh_from_db()
    return run



def backtest_replay(*, dates: list[datetime], on_run=None) -> tuple[list[ScoreRun], list[RealisedAccuracy]]:
    """A backtest run per date, then realised accuracy of everything kept whose horizon has passed.

    No ``model.drift`` webhook: replayed history would alarm about the past; live runs do.
    """
    runs = []
    for when in dates:
        run = backtest_run(as_of=when)
        runs.append(run)
        if on_run:
            on_run(run)
    return runs, realised_accuracy_evaluate(emit=False)


def backtest_plan(*, start: datetime, end: datetime, step: timedelta) -> list[datetime]:
    """The dates a backtest replays, from ``start`` to ``end`` every ``step``; ValueError saying
    what is wrong otherwise."""
    if step <= timedelta(0):
        raise ValueError("the step must be at least one day")
    if end > timezone.now():
        raise ValueError("the last date is in the future")
    if start >= end:
        raise ValueError("the first date must be before the last")
    earliest = Order.objects.order_by("ordered_at").values_list("ordered_at", flat=True).first()
    if earliest is None:
        raise ValueError("there are no orders to replay")
    if start < earliest:
        raise ValueError(f"the first date is before the first order ({earliest.date().isoformat()})")
    dates = []
    while start <= end:
        dates.append(start)
        start += step
    if len(dates) > BACKTEST_MAX_RUNS:
        raise ValueError(f"{len(dates)} dates: at most {BACKTEST_MAX_RUNS}; take a longer step")
    return dates
