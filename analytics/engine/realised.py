"""Realised accuracy: the predictions a run served, scored against what the customers did next.

A model card's metrics are measured at fit time on a holdout carved out of the past. These are
measured on the future: once a prediction's horizon has passed, each customer's served
probability or expectation is set beside the outcome that was then observed. Pure numpy/pandas;
the adapter supplies the arrays.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import spearmanr
from sklearn.metrics import brier_score_loss, roc_auc_score

DECILES = 10
# Below this many customers (or either class) a metric is noise: it is not reported.
MIN_CUSTOMERS = 30
MIN_PER_CLASS = 5


@dataclass(frozen=True)
class Realised:
    """One model's realised accuracy on one run's predictions."""

    model: str
    horizon_days: int
    n: int
    metrics: dict[str, Any] = field(default_factory=dict)
    # Per decile of the prediction: mean predicted, mean observed, customers.
    deciles: list[dict[str, float]] = field(default_factory=list)
    # Reasons the realised figures look worse than they should, empty when they do not.
    drift: list[str] = field(default_factory=list)


def _round(value: float, digits: int = 4) -> float | None:
    return None if value is None or not np.isfinite(value) else round(float(value), digits)


def decile_table(predicted: np.ndarray, observed: np.ndarray, bins: int = DECILES) -> list[dict[str, float]]:
    """Customers in ``bins`` equal-sized groups by prediction (lowest first): mean predicted and
    mean observed in each. Ties are split by position, so every group has n/bins customers."""
    predicted = np.asarray(predicted, dtype=float)
    observed = np.asarray(observed, dtype=float)
    if len(predicted) == 0:
        return []
    order = np.argsort(predicted, kind="stable")
    rows = []
    for number, group in enumerate(np.array_split(order, min(bins, len(order))), start=1):
        rows.append({"decile": number, "n": int(len(group)),
                     "predicted": _round(predicted[group].mean()), "observed": _round(observed[group].mean())})
    return rows


def calibration_error(deciles: list[dict[str, float]]) -> float:
    """Expected calibration error: the customer-weighted mean gap between predicted and observed."""
    total = sum(row["n"] for row in deciles)
    if not total:
        return float("nan")
    return sum(row["n"] * abs(row["predicted"] - row["observed"]) for row in deciles) / total


def churn_realised(probability: np.ndarray, churned: np.ndarray, days_silent: np.ndarray, *,
                   horizon_days: int, max_calibration_error: float) -> Realised:
    """Served churn probabilities against who did churn (no order within the horizon).

    ``days_silent`` (days since the last order at the run's date) is the baseline: ranking by
    silence alone is what the model has to beat, as at fit time.
    """
    probability = np.asarray(probability, dtype=float)
    churned = np.asarray(churned, dtype=int)
    n = len(probability)
    positives = int(churned.sum())
    metrics: dict[str, Any] = {"churned": positives, "churn_rate": _round(positives / n) if n else None}
    deciles = decile_table(probability, churned)
    drift: list[str] = []
    if n >= MIN_CUSTOMERS and MIN_PER_CLASS <= positives <= n - MIN_PER_CLASS:
        auc = roc_auc_score(churned, probability)
        baseline_auc = roc_auc_score(churned, np.asarray(days_silent, dtype=float))
        ece = calibration_error(deciles)
        metrics.update(
            roc_auc=_round(auc), baseline_roc_auc=_round(baseline_auc),
            brier=_round(brier_score_loss(churned, probability)),
            # The base rate the run itself predicted on average, served to everyone.
            baseline_brier=_round(brier_score_loss(churned, np.full(n, probability.mean()))),
            calibration_error=_round(ece))
        if auc < baseline_auc:
            drift.append("roc_auc_below_baseline")
        if ece > max_calibration_error:
            drift.append("calibration")
    return Realised("churn", horizon_days, n, metrics, deciles, drift)


def volume_realised(model: str, predicted: np.ndarray, actual: np.ndarray, *, horizon_days: int,
                    max_ratio: float) -> Realised:
    """Expected against actual amounts (orders, or spend) per customer over the horizon.

    Drift when the total actually observed is off from the total predicted by more than
    ``max_ratio`` either way (1.5: between two thirds and one and a half times).
    """
    predicted = np.asarray(predicted, dtype=float)
    actual = np.asarray(actual, dtype=float)
    n = len(predicted)
    metrics: dict[str, Any] = {}
    drift: list[str] = []
    if n:
        total_predicted, total_actual = float(predicted.sum()), float(actual.sum())
        metrics.update(predicted_total=_round(total_predicted, 2), actual_total=_round(total_actual, 2),
                       mean_absolute_error=_round(np.abs(predicted - actual).mean()))
        if total_predicted > 0:
            ratio = total_actual / total_predicted
            metrics["actual_to_predicted"] = _round(ratio)
            if n >= MIN_CUSTOMERS and not (1 / max_ratio <= ratio <= max_ratio):
                drift.append("total_off")
        if n >= MIN_CUSTOMERS and np.ptp(predicted) > 0 and np.ptp(actual) > 0:
            metrics["spearman"] = _round(spearmanr(predicted, actual).statistic)
    return Realised(model, horizon_days, n, metrics, decile_table(predicted, actual), drift)


def realised_all(history: pd.DataFrame, outcomes: pd.DataFrame, *, churn_window_days: int,
                 orders_horizon_days: int, clv_horizon_days: int, elapsed_days: float,
                 max_calibration_error: float, max_volume_ratio: float) -> list[Realised]:
    """Every model whose horizon has passed (``elapsed_days`` since the run's date).

    ``history``: one row per customer (index customer_id) with the served ``churn_probability``,
    ``expected_orders_90d``, ``clv_12m``. ``outcomes`` (same index): ``had_ordered`` (an order
    before the run's date), ``days_silent`` then, and ``orders_churn_window``,
    ``orders_horizon``, ``spend_clv_horizon`` after it.
    """
    frame = history.join(outcomes, how="inner")
    results = []
    if elapsed_days >= churn_window_days:
        # The behavioural label, as the model was trained on: buyers with no order in the window.
        rows = frame[frame["churn_probability"].notna() & frame["had_ordered"].astype(bool)]
        if len(rows):
            results.append(churn_realised(
                rows["churn_probability"].to_numpy(), (rows["orders_churn_window"] == 0).to_numpy(),
                rows["days_silent"].to_numpy(), horizon_days=churn_window_days,
                max_calibration_error=max_calibration_error))
    if elapsed_days >= orders_horizon_days:
        rows = frame[frame["expected_orders_90d"].notna()]
        if len(rows):
            results.append(volume_realised(
                "orders", rows["expected_orders_90d"].to_numpy(), rows["orders_horizon"].to_numpy(),
                horizon_days=orders_horizon_days, max_ratio=max_volume_ratio))
    if elapsed_days >= clv_horizon_days:
        rows = frame[frame["clv_12m"].notna()]
        if len(rows):
            results.append(volume_realised(
                "clv", rows["clv_12m"].to_numpy(), rows["spend_clv_horizon"].to_numpy(),
                horizon_days=clv_horizon_days, max_ratio=max_volume_ratio))
    return results
