"""Customer lifetime value: BG/NBD for purchase counts, Gamma-Gamma for spend.

Why these two models: they need nothing but each customer's purchase history (how many repeat
purchase days, when the last one was, how long we have known them, what they spend), they are
the standard probabilistic "buy till you die" pair, and both have published maximum likelihood
answers on the CDNOW sample that the tests reproduce.

* BG/NBD (:mod:`.clv_bgnbd`) -- Fader, Hardie & Lee (2005): while alive a customer buys as a
  Poisson process; after every repeat purchase they may drop out. The fit, P(alive), expected
  purchases, the numerical details (Euler-transformed 2F1) and a simulator live there.
* MBG/NBD (:mod:`.clv_mbgnbd`) -- Batislam, Denizel & Filiztekin (2007): BG/NBD with a dropout
  chance right after the first purchase too, so one-time buyers are not certain to be alive.
  :func:`clv_score` fits both and serves the one that predicts a recent holdout window better
  (:mod:`.clv_purchase`); p_alive is NaN where the served model carries no information.
* Gamma-Gamma (:mod:`.clv_gamma_gamma`) -- Fader & Hardie (2013): spend per purchase, assumed
  independent of purchase frequency; :func:`clv_evaluate` reports the observed correlation so a
  reader can judge that assumption.

This module turns orders into the summary frame both models read, combines their predictions
into a discounted CLV and value tiers (:func:`clv_score`) and checks them on a holdout period
against a regression baseline (:func:`clv_evaluate`). It re-exports the models' functions and
parameter classes, so callers (and pickled snapshots of ``analytics.engine.clv.BGNBDParams``)
keep using this one module for the CLV step.

Conventions follow the papers (and the ``lifetimes`` package): purchases by one customer on the
same calendar day are one purchase; ``frequency`` counts repeat purchase days (the first day is
not a repeat); ``recency`` is the time from the first to the last purchase day; ``T`` the time
from the first purchase day to ``as_of``; ``monetary_value`` is the mean value of the repeat
purchase days (0 when there are none). Time is measured in ``time_unit_days`` (7 = weeks, as in
the papers; 1 = days).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.linear_model import LinearRegression
from sklearn.metrics import mean_absolute_error, root_mean_squared_error

from .clv_bgnbd import (
    DEFAULT_TIME_UNIT_DAYS,
    MIN_CUSTOMERS_FOR_BGNBD,
    MIN_REPEATERS_FOR_BGNBD,
    WEEK_DAYS,
    BGNBDParams,
    _as_arrays,
    _bgnbd_data,  # noqa: F401 -- re-exported: the likelihood tests reach it through this module
    _bgnbd_negll_grad,  # noqa: F401 -- re-exported, as above
    _hyp_product,  # noqa: F401 -- re-exported, as above
    bgnbd_conditional_expected_purchases,
    bgnbd_expected_repeat_purchases,
    bgnbd_fit,
    bgnbd_log_likelihood,
    bgnbd_p_alive,
    bgnbd_simulate,
)
from .clv_gamma_gamma import (
    MIN_REPEATERS_FOR_GAMMA_GAMMA,
    GammaGammaParams,
    gamma_gamma_expected_spend,
    gamma_gamma_fit,
)
from .clv_mbgnbd import (
    MBGNBDParams,
    mbgnbd_conditional_expected_purchases,
    mbgnbd_expected_repeat_purchases,
    mbgnbd_fit,
    mbgnbd_log_likelihood,
    mbgnbd_p_alive,
    mbgnbd_simulate,
)
from .clv_mle import InsufficientDataError
from .clv_purchase import (
    BGNBD,
    MBGNBD,
    MIN_OBSERVED_DAYS,
    SELECTION_HOLDOUT_DAYS,
    PurchaseParams,
    compare_purchase_models,
    conditional_expected,
    model_name,
    purchase_expected,
    purchase_p_alive,
    purchase_p_any,
    served_p_alive,
)
from .frames import ModelCard
from .order_summary import order_summary, window_purchase_days

# The CLV step's interface, including what the model modules contribute to it.
__all__ = [
    "BASELINE_TRAIN_SHARE", "DAYS_PER_MONTH", "DEFAULT_ANNUAL_DISCOUNT_RATE",
    "DEFAULT_HORIZON_MONTHS", "DEFAULT_MONTHLY_DISCOUNT_RATE", "DEFAULT_TIME_UNIT_DAYS",
    "HIGH_TIER_SHARE", "MEDIUM_TIER_SHARE", "MIN_CUSTOMERS_FOR_BGNBD", "MIN_REPEATERS_FOR_BGNBD",
    "MIN_REPEATERS_FOR_GAMMA_GAMMA", "SUMMARY_COLUMNS", "VALUE_TIERS", "WEEK_DAYS",
    "BGNBD", "MBGNBD", "choose_purchase_model", "MIN_OBSERVED_DAYS", "SELECTION_HOLDOUT_DAYS",
    "BGNBDParams", "CLVResult", "GammaGammaParams", "InsufficientDataError", "MBGNBDParams",
    "PurchaseParams", "compare_purchase_models", "model_name", "purchase_expected",
    "purchase_p_alive", "purchase_p_any", "served_p_alive",
    "mbgnbd_conditional_expected_purchases", "mbgnbd_expected_repeat_purchases", "mbgnbd_fit",
    "mbgnbd_log_likelihood", "mbgnbd_p_alive", "mbgnbd_simulate",
    "bgnbd_conditional_expected_purchases", "bgnbd_expected_repeat_purchases", "bgnbd_fit",
    "bgnbd_log_likelihood", "bgnbd_p_alive", "bgnbd_simulate",
    "clv_evaluate", "clv_from_models", "clv_holdout_summary", "clv_score", "clv_summary",
    "gamma_gamma_expected_spend", "gamma_gamma_fit", "value_tier",
]

# Average Gregorian month, so twelve months are exactly one year.
DAYS_PER_MONTH = 365.25 / 12
DEFAULT_ANNUAL_DISCOUNT_RATE = 0.10
# Compounding the annual rate monthly: (1 + m)^12 == 1.10.
DEFAULT_MONTHLY_DISCOUNT_RATE = (1 + DEFAULT_ANNUAL_DISCOUNT_RATE) ** (1 / 12) - 1
DEFAULT_HORIZON_MONTHS = 12

# Value tiers by CLV rank: the top 20 % are "high" (a Pareto-style head that usually carries most
# of the value), the next 30 % "medium", the remaining half "low".
HIGH_TIER_SHARE = 0.20
MEDIUM_TIER_SHARE = 0.30
VALUE_TIERS = ("high", "medium", "low")

# Holdout evaluation: share of customers whose holdout outcomes train the regression baseline;
# the rest are scored by both models. The BG/NBD/Gamma-Gamma fit never sees holdout data at all.
BASELINE_TRAIN_SHARE = 0.5

SUMMARY_COLUMNS = ["frequency", "recency", "T", "monetary_value"]


@dataclass(frozen=True)
class SelectionSummaries:
    """The purchase model's holdout comparison, summarised: the order summary at the end of the
    calibration window (inclusive) and the holdout window's purchase days
    (:func:`analytics.engine.order_summary.window_purchase_days`)."""

    calibration: pd.DataFrame
    holdout: pd.DataFrame


@dataclass(frozen=True)
class CLVResult:
    """Per-customer predictions plus the fitted parameters they came from.

    ``purchase`` is the served purchase model (``bgnbd`` or ``mbgnbd``, whichever won the holdout
    comparison recorded in ``selection``); p_alive, expected purchases and CLV come from it.
    """

    customers: pd.DataFrame
    bgnbd: BGNBDParams
    gamma_gamma: GammaGammaParams | None
    notes: str = ""
    settings: dict[str, Any] = field(default_factory=dict)
    mbgnbd: MBGNBDParams | None = None
    purchase: PurchaseParams | None = None
    selection: dict[str, Any] = field(default_factory=dict)


# --------------------------------------------------------------------------------------------
# Summary frames
# --------------------------------------------------------------------------------------------

def _purchase_days(orders: pd.DataFrame, *, start: pd.Timestamp | None, end: pd.Timestamp) -> pd.DataFrame:
    """One row per customer and calendar day with the day's total, for orders in (start, end]."""
    ordered_at = pd.to_datetime(orders["ordered_at"])
    mask = ordered_at <= end
    if start is not None:
        mask &= ordered_at > start
    frame = pd.DataFrame({
        "customer_id": orders["customer_id"].to_numpy()[mask.to_numpy()],
        "day": ordered_at[mask].dt.normalize().to_numpy(),
        "amount": orders["total_amount"].astype("float64").to_numpy()[mask.to_numpy()],
    })
    return frame.groupby(["customer_id", "day"], sort=True, as_index=False)["amount"].sum()


def clv_summary(orders: pd.DataFrame, *, as_of: pd.Timestamp,
                time_unit_days: float = DEFAULT_TIME_UNIT_DAYS,
                summary: pd.DataFrame | None = None) -> pd.DataFrame:
    """Build the (frequency, recency, T, monetary_value) frame, indexed by customer_id.

    Only orders with ``ordered_at <= as_of`` count. Same-day orders of one customer merge into one
    purchase whose value is their sum, as in FHL 2005 and the CDNOW reference summary. ``T`` runs
    from the first purchase day to ``as_of`` itself. Extra column ``first_purchase_at`` is kept
    because cohort forecasts need it. ``summary`` is the orders' per-customer summary at
    ``as_of`` (:mod:`analytics.engine.order_summary`) when the caller has it.
    """
    as_of = pd.Timestamp(as_of)
    if summary is None:
        summary = order_summary(orders, cutoff=as_of, inclusive=True)
    if summary.empty:
        out = pd.DataFrame({c: pd.Series(dtype="float64") for c in SUMMARY_COLUMNS})
        out["first_purchase_at"] = pd.Series(dtype="datetime64[ns]")
        out.index.name = "customer_id"
        return out
    first = summary["first_day"]
    frequency = (summary["purchase_days"] - 1).astype("float64")
    # The first purchase day's value is excluded from monetary_value: in Fader & Hardie (2013)
    # zbar averages repeat transactions only (the CDNOW zbar column matches this; tests check).
    repeat_cents = (summary["total_cents"] - summary["first_day_cents"]).astype("float64")
    unit = pd.Timedelta(days=time_unit_days)
    monetary = np.where(frequency > 0, repeat_cents / 100 / frequency.where(frequency > 0, 1), 0.0)
    out = pd.DataFrame({
        "frequency": frequency,
        "recency": (summary["last_day"] - first) / unit,
        "T": (as_of - first) / unit,
        "monetary_value": monetary,
        "first_purchase_at": first,
    }, index=summary.index)
    out.index.name = "customer_id"
    return out


def mean_purchase_day_value(summary: pd.DataFrame) -> float:
    """The mean value of a purchase day (a customer's same-day orders summed) over everyone."""
    days = int(summary["purchase_days"].sum())
    return float(summary["total_cents"].sum()) / 100 / days if days else float("nan")


def clv_holdout_summary(orders: pd.DataFrame | None, *, calibration_end: pd.Timestamp,
                        holdout_end: pd.Timestamp,
                        time_unit_days: float = DEFAULT_TIME_UNIT_DAYS,
                        precomputed: SelectionSummaries | None = None) -> pd.DataFrame:
    """Calibration summary plus what each calibration customer actually did afterwards.

    Adds ``frequency_holdout`` (purchase days in (calibration_end, holdout_end]),
    ``monetary_holdout`` (total spend in that window) and ``duration_holdout`` (window length in
    time units). Customers first seen in the holdout window are not included: the models say
    nothing about acquisition. ``precomputed``: the order summary at ``calibration_end``
    (inclusive) and the holdout window's purchase days, when the caller has them (PostgreSQL
    computes them where the orders are); otherwise both come from ``orders``.
    """
    calibration_end = pd.Timestamp(calibration_end)
    holdout_end = pd.Timestamp(holdout_end)
    if holdout_end <= calibration_end:
        raise ValueError("holdout_end must be after calibration_end")
    if precomputed is None:
        precomputed = SelectionSummaries(
            calibration=order_summary(orders, cutoff=calibration_end, inclusive=True),
            holdout=window_purchase_days(orders, start=calibration_end, end=holdout_end))
    cal = clv_summary(orders, as_of=calibration_end, time_unit_days=time_unit_days,
                      summary=precomputed.calibration)
    hold = pd.DataFrame({"frequency_holdout": precomputed.holdout["purchase_days"],
                         "monetary_holdout": precomputed.holdout["cents"] / 100})
    cal = cal.join(hold, how="left")
    cal["frequency_holdout"] = cal["frequency_holdout"].fillna(0).astype("float64")
    cal["monetary_holdout"] = cal["monetary_holdout"].fillna(0.0)
    cal["duration_holdout"] = (holdout_end - calibration_end) / pd.Timedelta(days=time_unit_days)
    return cal


# --------------------------------------------------------------------------------------------
# CLV, tiers, end-to-end scoring and evaluation
# --------------------------------------------------------------------------------------------

def clv_from_models(purchase: PurchaseParams, expected_spend: pd.Series, summary: pd.DataFrame, *,
                    horizon_months: int = DEFAULT_HORIZON_MONTHS,
                    monthly_discount_rate: float = DEFAULT_MONTHLY_DISCOUNT_RATE) -> pd.Series:
    """Discounted value of the next ``horizon_months``: sum over months m of
    (E[Y(m)] - E[Y(m-1)]) * E[spend] / (1 + d)^m.

    Monthly discrete discounting as in ``lifetimes``' ``customer_lifetime_value`` (purchases in a
    month are valued at that month's end); it is a step approximation of the continuous
    discounted expected transactions of Fader, Hardie & Lee (2005, "RFM and CLV: using iso-value
    curves", JMR 42(4)).
    """
    x, t_x, T = _as_arrays(summary)
    periods_per_month = DAYS_PER_MONTH / purchase.time_unit_days
    cumulative = np.vstack([
        conditional_expected(purchase, x, t_x, T, np.full_like(x, m * periods_per_month))
        for m in range(1, horizon_months + 1)
    ])
    monthly = np.diff(np.vstack([np.zeros_like(x), cumulative]), axis=0)
    discount = (1 + monthly_discount_rate) ** -np.arange(1, horizon_months + 1)
    value = (monthly * discount[:, None]).sum(axis=0) * expected_spend.reindex(summary.index).to_numpy()
    return pd.Series(value, index=summary.index, name="clv")


def value_tier(clv: pd.Series) -> pd.Series:
    """high / medium / low by CLV rank (HIGH_TIER_SHARE, MEDIUM_TIER_SHARE).

    Ranks are unique: ties in CLV are broken by customer_id (lower id ranks lower), so equal
    inputs always give equal tiers and the tier sizes are exact.
    """
    n = len(clv)
    if n == 0:
        return pd.Series([], index=clv.index, name="value_tier", dtype="object")
    order = np.lexsort((-np.asarray(clv.index, dtype="int64"), -clv.to_numpy(dtype="float64")))
    position = np.empty(n, dtype="int64")
    position[order] = np.arange(n)  # 0 = best
    n_high = int(round(HIGH_TIER_SHARE * n))
    n_medium = int(round((HIGH_TIER_SHARE + MEDIUM_TIER_SHARE) * n)) - n_high
    tiers = np.where(position < n_high, "high",
                     np.where(position < n_high + n_medium, "medium", "low"))
    return pd.Series(tiers, index=clv.index, name="value_tier")


def _spend_model(summary: pd.DataFrame, orders_mean: float) -> tuple[GammaGammaParams | None, pd.Series, str]:
    try:
        gg = gamma_gamma_fit(summary)
        if gg.q > 1:
            return gg, gamma_gamma_expected_spend(gg, summary), ""
        note = "Gamma-Gamma q <= 1 (no finite mean); used the mean purchase value instead."
    except InsufficientDataError as exc:
        gg = None
        note = f"{exc}; used the mean purchase value instead."
    return gg, pd.Series(orders_mean, index=summary.index, name="expected_avg_spend"), note


def clv_score(orders: pd.DataFrame | None, *, as_of: pd.Timestamp,
              time_unit_days: float = DEFAULT_TIME_UNIT_DAYS,
              horizon_months: int = DEFAULT_HORIZON_MONTHS,
              monthly_discount_rate: float = DEFAULT_MONTHLY_DISCOUNT_RATE,
              summary: pd.DataFrame | None = None,
              selection_summaries: SelectionSummaries | None = None) -> CLVResult:
    """Fit BG/NBD, MBG/NBD and Gamma-Gamma on all history up to ``as_of`` and score every customer.

    Output columns (index customer_id): frequency, recency, T, monetary_value, p_alive (NaN where
    the served model carries no information, see :func:`served_p_alive`), expected_purchases
    (over the horizon), expected_avg_spend, clv, value_tier.
    ``summary`` is the orders' per-customer summary at ``as_of`` when the caller has it, and
    ``selection_summaries`` those the purchase model is chosen on; with both, ``orders`` may be
    None. The purchase model is chosen by :func:`choose_purchase_model`. Raises
    :class:`InsufficientDataError` when BG/NBD cannot be fitted; an MBG/NBD failure serves BG/NBD;
    a Gamma-Gamma failure falls back to the mean purchase-day value (``notes`` say so).
    """
    orders_summary = summary if summary is not None else order_summary(orders, cutoff=as_of, inclusive=True)
    summary = clv_summary(orders, as_of=as_of, time_unit_days=time_unit_days, summary=orders_summary)
    bg = bgnbd_fit(summary, time_unit_days=time_unit_days)
    chosen, selection = choose_purchase_model(orders, as_of=as_of, time_unit_days=time_unit_days,
                                              precomputed=selection_summaries)
    try:
        mbg: MBGNBDParams | None = mbgnbd_fit(summary, time_unit_days=time_unit_days)
    except InsufficientDataError as exc:
        mbg = None
        selection["mbgnbd_error"] = str(exc)
    served: PurchaseParams = mbg if chosen == MBGNBD and mbg is not None else bg
    selection["purchase_model"] = model_name(served)
    gg, spend, note = _spend_model(summary, mean_purchase_day_value(orders_summary))
    horizon = horizon_months * DAYS_PER_MONTH / time_unit_days
    out = summary[SUMMARY_COLUMNS].copy()
    out["p_alive"] = served_p_alive(served, summary)
    out["expected_purchases"] = purchase_expected(served, summary, horizon)
    out["expected_avg_spend"] = spend
    out["clv"] = clv_from_models(served, spend, summary, horizon_months=horizon_months,
                                 monthly_discount_rate=monthly_discount_rate)
    out["value_tier"] = value_tier(out["clv"])
    return CLVResult(customers=out, bgnbd=bg, gamma_gamma=gg, notes=note,
                     settings={"as_of": pd.Timestamp(as_of), "time_unit_days": time_unit_days,
                               "horizon_months": horizon_months,
                               "monthly_discount_rate": monthly_discount_rate},
                     mbgnbd=mbg, purchase=served, selection=selection)


def selection_calibration_end(as_of: pd.Timestamp) -> pd.Timestamp:
    """The end of the calibration window the purchase model is chosen on."""
    return pd.Timestamp(as_of) - pd.Timedelta(days=SELECTION_HOLDOUT_DAYS)


def choose_purchase_model(orders: pd.DataFrame | None, *, as_of: pd.Timestamp,
                          time_unit_days: float = DEFAULT_TIME_UNIT_DAYS,
                          precomputed: SelectionSummaries | None = None) -> tuple[str, dict[str, Any]]:
    """BG/NBD or MBG/NBD for the data being scored: both are fitted on the orders up to
    ``as_of - SELECTION_HOLDOUT_DAYS`` and scored on the last ``SELECTION_HOLDOUT_DAYS`` (see
    :func:`compare_purchase_models`). Returns the winner's name and the comparison for the card.
    ``precomputed``: see :func:`clv_holdout_summary`."""
    as_of = pd.Timestamp(as_of)
    cutoff = selection_calibration_end(as_of)
    data = clv_holdout_summary(orders, calibration_end=cutoff, holdout_end=as_of,
                               time_unit_days=time_unit_days, precomputed=precomputed)
    chosen, report = compare_purchase_models(data, time_unit_days=time_unit_days)
    report["selection_calibration_end"] = str(cutoff)
    return chosen, report


def _errors(prefix: str, actual: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    return {f"{prefix}_mae": float(mean_absolute_error(actual, predicted)),
            f"{prefix}_rmse": float(root_mean_squared_error(actual, predicted))}


def clv_evaluate(orders: pd.DataFrame, *, calibration_end: pd.Timestamp, holdout_end: pd.Timestamp,
                 time_unit_days: float = DEFAULT_TIME_UNIT_DAYS, seed: int = 0) -> ModelCard:
    """Calibration/holdout check of BG/NBD + Gamma-Gamma against a regression baseline.

    The probabilistic models are fitted on orders up to ``calibration_end`` only and predict, per
    customer, holdout purchase days and holdout spend (expected purchases x expected spend).
    The baseline is sklearn ``LinearRegression`` from (frequency, recency, T, monetary_value) to
    the holdout outcome. Because a regression must see outcomes to learn, customers are split at
    random (``seed``): ``BASELINE_TRAIN_SHARE`` of them train the baseline, and both models are
    scored on the remaining customers only. This favours the baseline (it learns from the very
    period it is scored on); the BG/NBD model never sees any holdout data.
    """
    data = clv_holdout_summary(orders, calibration_end=calibration_end, holdout_end=holdout_end,
                               time_unit_days=time_unit_days)
    bg = bgnbd_fit(data, time_unit_days=time_unit_days)
    cal_days = _purchase_days(orders, start=None, end=pd.Timestamp(calibration_end))
    gg, spend, note = _spend_model(data, float(cal_days["amount"].mean()))
    duration = float(data["duration_holdout"].iloc[0])
    pred_purchases = bgnbd_conditional_expected_purchases(bg, data, duration).to_numpy()
    pred_spend = pred_purchases * spend.to_numpy()

    rng = np.random.default_rng(seed)
    is_train = rng.permutation(len(data)) < int(round(BASELINE_TRAIN_SHARE * len(data)))
    test = ~is_train
    features = data[SUMMARY_COLUMNS].to_numpy(dtype="float64")
    metrics: dict[str, float] = {}
    baseline: dict[str, float] = {}
    for prefix, target, predicted in (("purchases", "frequency_holdout", pred_purchases),
                                      ("spend", "monetary_holdout", pred_spend)):
        y = data[target].to_numpy(dtype="float64")
        reg = LinearRegression().fit(features[is_train], y[is_train])
        metrics.update(_errors(prefix, y[test], predicted[test]))
        baseline.update(_errors(prefix, y[test], reg.predict(features[test])))
    metrics["n_eval_customers"] = float(test.sum())
    baseline["n_eval_customers"] = float(test.sum())

    repeaters = data[data["frequency"] > 0]
    corr = (float(np.corrcoef(repeaters["frequency"], repeaters["monetary_value"])[0, 1])
            if len(repeaters) > 2 else float("nan"))
    _, comparison = compare_purchase_models(data, time_unit_days=time_unit_days)
    params: dict[str, Any] = {"bgnbd": bg.as_dict(), "purchase_models": comparison,
                              "gamma_gamma": gg.as_dict() if gg else None,
                              "frequency_spend_correlation": corr,
                              "calibration_end": str(pd.Timestamp(calibration_end)),
                              "holdout_end": str(pd.Timestamp(holdout_end)), "seed": seed}
    notes = ("BG/NBD + Gamma-Gamma fitted on calibration only; baseline LinearRegression trained on "
             f"{BASELINE_TRAIN_SHARE:.0%} of customers' holdout outcomes; all errors on the rest. "
             + note).strip()
    return ModelCard(name="clv_bgnbd_gamma_gamma", metrics=metrics, baseline=baseline,
                     params=params, notes=notes)
