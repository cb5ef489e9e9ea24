"""Run every model on one set of frames and assemble the per-customer score table.

This is the engine's single entry point for a full run. A model that cannot be fitted on the
data at hand (a shop with twenty customers has no BG/NBD fit, one month of history has no
seasonal forecast) is skipped with its reason in ``skipped``; its score columns stay empty for
everyone rather than holding numbers nobody should trust. Every other model still runs.
"""
from __future__ import annotations

import json
import resource
import sys
import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from . import (
    baskets,
    bundles,
    churn,
    clv,
    feedback,
    forecast,
    incremental,
    lifecycle,
    loyalty,
    recommend,
    rfm,
    segments,
)
from .features import shared_features
from .order_summary import Summaries
from .order_summary import order_summary as order_summary_of

# The score columns this module fills, named as the Customer model's score fields.
SCORE_COLUMNS = [
    "order_count", "total_spent", "first_order_at", "last_order_at", "recency_days", "rfm_r",
    "rfm_f", "rfm_m", "rfm_segment", "value_segment", "value_tier", "churn_probability",
    "churn_risk", "churn_reasons", "p_alive", "expected_orders_90d", "clv_12m", "lifecycle_stage",
    "loyalty_score", "sentiment_score", "satisfaction_group",
]
# The numeric and time score columns' dtypes; the others (labels, reasons) hold objects. A
# million customers' scores took 1.1 GB as a Python object per cell, and as long to pickle.
SCORE_DTYPES = {
    **dict.fromkeys(("order_count", "recency_days", "rfm_r", "rfm_f", "rfm_m"), "Int64"),
    **dict.fromkeys(("first_order_at", "last_order_at"), "datetime64[ns]"),
    **dict.fromkeys(("total_spent", "churn_probability", "p_alive", "expected_orders_90d", "clv_12m",
                     "loyalty_score", "sentiment_score"), "float64"),
}
EXPECTED_ORDERS_DAYS = 90
# Bundles on a retail catalogue: support 0.3 % keeps apriori fast (bench/bundles.py) and the
# rules numerous enough to cover most products; 20 % confidence keeps weak pairs out.
BUNDLE_MIN_SUPPORT = 0.003
BUNDLE_MIN_CONFIDENCE = 0.2


@dataclass(frozen=True)
class EngineSettings:
    churn_window_days: int = 90
    value_segments_k: int | None = None
    annual_discount_rate: float = clv.DEFAULT_ANNUAL_DISCOUNT_RATE
    bundle_min_support: float = BUNDLE_MIN_SUPPORT
    bundle_min_confidence: float = BUNDLE_MIN_CONFIDENCE
    seed: int = 0
    # Churn label: "auto" | "behavioural" | "explicit", and the thresholds "auto" uses to take
    # the explicit status (see analytics.engine.churn.churn_label).
    churn_label: str = "auto"
    churn_explicit_min_churned: int = churn.EXPLICIT_MIN_CHURNED
    churn_explicit_min_share: float = churn.EXPLICIT_MIN_SHARE


@dataclass(frozen=True)
class EngineOutput:
    scores: pd.DataFrame                 # index customer_id, SCORE_COLUMNS
    segment_profiles: pd.DataFrame       # index segment, see segments.SegmentResult
    recommendations: pd.DataFrame        # see recommend.Recommendations.items
    rules: pd.DataFrame                  # see bundles.mine_rules
    forecast: forecast.RevenueForecast | None
    cards: dict[str, dict[str, Any]]
    skipped: dict[str, str]
    timings: dict[str, float] = field(default_factory=dict)
    # Peak resident memory of the process (MB) after each stage: where the peak grows is the
    # stage that needed it.
    peak_rss_mb: dict[str, float] = field(default_factory=dict)
    snapshot: incremental.ScoringSnapshot | None = None   # for rescoring between full runs
    # Set when recommendations were fitted but not ranked (``rank_recommendations=False``): the
    # caller ranks customers in chunks with :func:`recommend.recommend_top_n`.
    recommender: recommend.FittedRecommender | None = None
    # Set when churn was fitted but its customers not explained (``explain_churn=False``): the
    # caller explains them in ranges of customer ids (:class:`churn.PendingReasons`) and fills
    # the ``churn_reasons`` column, None until then.
    churn_pending: churn.PendingReasons | None = None


def feature_cutoffs(as_of: pd.Timestamp, settings: EngineSettings = EngineSettings()) -> list[pd.Timestamp]:
    """The cutoffs whose order summary (orders strictly before them) the customer part reads:
    ``as_of`` and one and two horizons back, for churn's and loyalty's horizons. Features are
    built at each; a label window [c, c + h) is read from the summary at c + h."""
    as_of = pd.Timestamp(as_of)
    horizons = {settings.churn_window_days, loyalty.LOYALTY_HORIZON_DAYS}
    return sorted({as_of - pd.Timedelta(days=k * h) for h in horizons for k in range(3)})


ProgressCallback = Callable[[str, int], None]
STAGES = ("rfm", "clv", "segments", "churn", "loyalty", "lifecycle", "satisfaction",
          "recommendations", "bundles", "forecast")

# The engine's two independent halves. "customers" fits the per-customer models from orders,
# feedback and interactions (every score column, the segment profiles, the forecast and the
# rescoring snapshot); "products" fits the recommender and mines the bundles from order lines.
# Neither reads the other's results, so a full run fits them in parallel on two workers and
# joins the outputs with :func:`combine`.
CUSTOMER_PART = "customers"
PRODUCT_PART = "products"
PARTS = frozenset({CUSTOMER_PART, PRODUCT_PART})


def run_engine(*, customers: pd.DataFrame, orders: pd.DataFrame, items: pd.DataFrame,
               products: pd.DataFrame, feedback_frame: pd.DataFrame, interactions: pd.DataFrame,
               as_of: pd.Timestamp, settings: EngineSettings = EngineSettings(),
               on_stage: ProgressCallback | None = None,
               rank_recommendations: bool = True, explain_churn: bool = True,
               parts: frozenset[str] = PARTS,
               order_summary: pd.DataFrame | None = None,
               order_summaries: Summaries | None = None,
               selection_summaries: clv.SelectionSummaries | None = None,
               monthly_cents: pd.Series | None = None,
               basket_lines: pd.DataFrame | None = None,
               release_summaries: bool = False) -> EngineOutput:
    """Fit the models of ``parts`` (both by default) and assemble their output.

    ``order_summary`` is the orders' per-customer summary at ``as_of``, inclusive
    (:mod:`analytics.engine.order_summary`), when the caller has it: on PostgreSQL the adapter
    computes it in the database. Without it the engine computes it from ``orders``. Likewise
    ``order_summaries``: the summaries strictly before each of :func:`feature_cutoffs`, from
    which churn, loyalty and segments build their features and labels; ``selection_summaries``,
    what the CLV purchase model is chosen on (:func:`analytics.engine.clv.clv_holdout_summary`);
    ``monthly_cents``, the revenue per month the forecast reads
    (:func:`analytics.engine.order_summary.monthly_cents` before the month holding ``as_of``).
    Given all four, the customer part never reads ``orders``, which may then be None.
    ``basket_lines`` is what the product part reads of the order lines, each order's distinct
    products (:mod:`analytics.engine.baskets`), when the caller has it (PostgreSQL's adapter
    groups the lines by order in the database); without it the engine builds it from ``items``.
    ``release_summaries``: empty ``order_summaries`` once the last stage that reads them is done,
    for a caller that has no other use for them: at a million customers they are 300 MB that the
    stages after loyalty would otherwise hold at their peak.

    ``explain_churn=False`` fits churn without explaining its customers: the output's
    ``churn_pending`` holds what the reasons need, for the caller to explain in ranges of
    customer ids on several workers (a full run does, in its ranking chunks).

    The frames a part does not use may be empty: "customers" never reads ``items`` or
    ``products``, and "products" never reads ``orders`` or ``interactions`` (nor ``items`` when
    given ``basket_lines``).
    """
    unknown = set(parts) - PARTS
    if unknown:
        raise ValueError(f"unknown engine parts: {sorted(unknown)}")
    as_of = pd.Timestamp(as_of)
    ids = pd.Index(customers["customer_id"].astype("int64"), name="customer_id")
    scores = pd.DataFrame({column: pd.Series(index=ids, dtype=SCORE_DTYPES.get(column, "object"))
                           for column in SCORE_COLUMNS})
    cards: dict[str, dict[str, Any]] = {}
    skipped: dict[str, str] = {}
    timings: dict[str, float] = {}
    peak_rss: dict[str, float] = {}
    results: dict[str, Any] = {}
    common = {"customers": customers, "orders": orders, "feedback": feedback_frame,
              "interactions": interactions, "as_of": as_of}

    def stage(name: str, compute: Callable[[], Any]) -> Any:
        if on_stage:
            on_stage(name, int(100 * STAGES.index(name) / len(STAGES)))
        started = time.perf_counter()
        try:
            results[name] = compute()
        except (ValueError, clv.InsufficientDataError) as exc:
            # Too little or too uniform data for this model; the others still run.
            skipped[name] = str(exc)
            results[name] = None
        timings[name] = round(time.perf_counter() - started, 3)
        peak_rss[name] = peak_rss_mb()
        return results[name]

    segmented = revenue = snapshot = None
    if CUSTOMER_PART in parts:
        summary = (order_summary if order_summary is not None
                   else order_summary_of(orders, cutoff=as_of, inclusive=True))
        before = {c: (order_summaries[c] if order_summaries is not None and c in order_summaries
                      else order_summary_of(orders, cutoff=c)) for c in feature_cutoffs(as_of, settings)}
        common["summaries"] = before
        table = stage("rfm", lambda: rfm.rfm_scores(orders, as_of=as_of, summary=summary))
        if table is not None and not table.empty:
            for column in ("order_count", "total_spent", "first_order_at", "last_order_at", "rfm_r",
                           "rfm_f", "rfm_m", "rfm_segment"):
                scores.loc[table.index, column] = table[column]
            scores.loc[table.index, "recency_days"] = np.floor(table["recency_days"]).astype("int64")

        monthly_rate = (1 + settings.annual_discount_rate) ** (1 / 12) - 1
        value = stage("clv", lambda: clv.clv_score(orders, as_of=as_of, monthly_discount_rate=monthly_rate,
                                                   summary=summary, selection_summaries=selection_summaries))
        p_alive = None
        if value is not None:
            frame = value.customers
            p_alive = frame["p_alive"]
            scores.loc[frame.index, "p_alive"] = frame["p_alive"].clip(0, 1)
            scores.loc[frame.index, "clv_12m"] = frame["clv"].clip(lower=0).round(2)
            scores.loc[frame.index, "value_tier"] = frame["value_tier"]
            horizon = EXPECTED_ORDERS_DAYS / clv.DEFAULT_TIME_UNIT_DAYS
            scores.loc[frame.index, "expected_orders_90d"] = clv.purchase_expected(
                value.purchase, frame, horizon)
            cards["clv"] = {"name": "clv", "notes": value.notes, "bgnbd": value.bgnbd.as_dict(),
                            "mbgnbd": value.mbgnbd.as_dict() if value.mbgnbd else None,
                            "gamma_gamma": value.gamma_gamma.as_dict() if value.gamma_gamma else None,
                            "params": value.selection}

        segmented = stage("segments", lambda: segments.segment_customers(
            customers=customers, orders=orders, as_of=as_of, k=settings.value_segments_k, seed=settings.seed,
            summaries=before))
        if segmented is not None:
            scores.loc[segmented.assignments.index, "value_segment"] = segmented.assignments["value_label"]
            cards["segments"] = segmented.card.as_dict()

        label, label_choice = churn.churn_label(
            customers, orders, as_of=as_of, setting=settings.churn_label,
            min_churned=settings.churn_explicit_min_churned, min_share=settings.churn_explicit_min_share,
            summaries=before)
        # Churn's behavioural label over loyalty's horizon is loyalty's event, complemented: one
        # model serves both, so they cannot contradict each other.
        same_event = label == "behavioural" and settings.churn_window_days == loyalty.LOYALTY_HORIZON_DAYS
        # Where loyalty fits a model of its own, it reads the feature tables churn built. Kept
        # for nobody they cost time and memory (a million customers: 5.6 s and a gigabyte).
        with nullcontext() if same_event else shared_features():
            churned = stage("churn", lambda: churn.predict_churn(
                **common, horizon_days=settings.churn_window_days, label=label,
                label_choice=label_choice, seed=settings.seed, explain=explain_churn))
            loyal = stage("loyalty", lambda: loyalty.loyalty_from_churn(churned)
                          if same_event and churned is not None
                          else loyalty.predict_loyalty(**common, seed=settings.seed))
        # Nothing after loyalty reads the summaries before the feature cutoffs.
        before.clear()
        if release_summaries and order_summaries is not None:
            order_summaries.clear()
        if churned is not None:
            frame = churned.scores
            scores.loc[frame.index, "churn_probability"] = frame["churn_probability"].clip(0, 1)
            scores.loc[frame.index, "churn_risk"] = frame["churn_risk"]
            if churned.pending is None:
                scores.loc[frame.index, "churn_reasons"] = [json.dumps(r) for r in frame["churn_reasons"]]
            cards["churn"] = churned.card.as_dict()

        if loyal is not None:
            scores.loc[loyal.scores.index, "loyalty_score"] = loyal.scores["loyalty_score"].clip(0, 1)
            cards["loyalty"] = loyal.card.as_dict()

        # Lifecycle after churn: the stage is built on the churn risk band, so the two agree.
        risk = churned.scores["churn_risk"] if churned is not None else None
        stages = stage("lifecycle", lambda: lifecycle.lifecycle_stages(
            customers, orders, as_of=as_of, p_alive=p_alive, churn_risk=risk, summary=summary))
        if stages is not None:
            scores.loc[stages.index, "lifecycle_stage"] = stages["lifecycle_stage"]

        satisfied = stage("satisfaction", lambda: feedback.satisfaction_groups(
            feedback_frame, as_of=as_of, seed=settings.seed))
        if satisfied is not None and not satisfied.customers.empty:
            frame = satisfied.customers.loc[satisfied.customers.index.isin(ids)]
            scores.loc[frame.index, "sentiment_score"] = frame["sentiment_score"].clip(-1, 1)
            scores.loc[frame.index, "satisfaction_group"] = frame["satisfaction_group"]
            cards["satisfaction"] = satisfied.card.as_dict()

        revenue = stage("forecast", lambda: forecast.forecast_revenue(orders, as_of=as_of, months=monthly_cents))
        if revenue is not None:
            cards["forecast"] = revenue.card.as_dict()
        snapshot = incremental.snapshot_build(
            orders=orders, as_of=as_of, rfm_table=table, clv_result=value, churn_result=churned,
            loyalty_result=loyal, monthly_discount_rate=monthly_rate, summary=summary)

    recs = mined = recommender = None
    if PRODUCT_PART in parts:
        lines = basket_lines if basket_lines is not None else baskets.basket_lines(items, as_of=as_of)
        if rank_recommendations:
            recs = stage("recommendations", lambda: recommend.recommend_products(
                customers=customers, products=products, items=lines, feedback=feedback_frame,
                as_of=as_of, seed=settings.seed))
            if recs is not None:
                cards["recommendations"] = recs.card.as_dict()
        else:
            recommender = stage("recommendations", lambda: recommend.recommender_fit(
                products=products, items=lines, feedback=feedback_frame, as_of=as_of, seed=settings.seed))
            if recommender is not None:
                cards["recommendations"] = recommender.card.as_dict()

        mined = stage("bundles", lambda: bundles.product_bundles(
            lines, as_of=as_of, min_support=settings.bundle_min_support,
            min_confidence=settings.bundle_min_confidence, seed=settings.seed))
        if mined is not None:
            cards["bundles"] = mined.card.as_dict()

    for name, reason in skipped.items():
        cards[name] = {"name": name, "skipped": reason}

    return EngineOutput(
        snapshot=snapshot,
        scores=scores,
        segment_profiles=segmented.profiles if segmented is not None else pd.DataFrame(),
        recommendations=recs.items if recs is not None else pd.DataFrame(),
        rules=mined.rules if mined is not None else pd.DataFrame(),
        forecast=revenue,
        cards=_json_safe(cards),
        skipped=skipped,
        timings=timings,
        peak_rss_mb=peak_rss,
        recommender=recommender,
        churn_pending=churned.pending if CUSTOMER_PART in parts and churned is not None else None,
    )


def combine(customer_output: EngineOutput, product_output: EngineOutput) -> EngineOutput:
    """One output from the outputs of the two parts (:data:`PARTS`), fitted separately."""
    return replace(
        customer_output,
        recommendations=product_output.recommendations,
        rules=product_output.rules,
        recommender=product_output.recommender,
        cards={**customer_output.cards, **product_output.cards},
        skipped={**customer_output.skipped, **product_output.skipped},
        timings={**customer_output.timings, **product_output.timings},
        peak_rss_mb={**customer_output.peak_rss_mb, **product_output.peak_rss_mb},
    )


def peak_rss_mb(pid: int | str = "self") -> float | None:
    """A process's peak resident memory so far, in MB (this process by default).

    Linux's VmHWM belongs to the process image; ``ru_maxrss`` survives exec, so a worker started
    by a process that had used 8 GB would report 8 GB from its first stage on. Elsewhere this
    process falls back to ``ru_maxrss``; another process gives None.
    """
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    if pid != "self":
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux, bytes on macOS
    return round(peak / (1024 * 1024 if sys.platform == "darwin" else 1024), 1)


def _json_safe(value: Any) -> Any:
    """Model cards go into a JSON column: turn numpy scalars and NaN into plain values."""
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return None if not np.isfinite(value) else float(value)
    if isinstance(value, (pd.Timestamp,)):
        return value.isoformat()
    if isinstance(value, (str, int, bool)) or value is None:
        return value
    return str(value)
