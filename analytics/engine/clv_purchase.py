"""The purchase model behind p_alive and expected orders: BG/NBD or MBG/NBD, chosen on a holdout.

Both models (:mod:`.clv_bgnbd`, :mod:`.clv_mbgnbd`) share parameters and summary inputs; the
functions here take either fitted parameter object and dispatch on its type, so the CLV step,
the pipeline and the incremental rescore serve whichever model was chosen without caring which.

Choice (:func:`compare_purchase_models`): both models are fitted on the data up to a cut-off
and scored on what every calibration customer did in the window after it. The score that decides
is the Brier score of P(at least one purchase in the window) against "bought again in the
window" -- a proper scoring rule for exactly the probability p_alive feeds (P(Y(t) > 0) =
P(alive) (1 - ((alpha+T)/(alpha+T+t))^(r+x)) under both models, see :mod:`.clv_mbgnbd`). Lower
wins; a tie goes to MBG/NBD, which never claims certainty. MAE, RMSE and the total of expected
vs actual purchases are reported beside it.

Where a model carries no information on whether a customer is still active, p_alive is NaN
(stored as NULL) rather than a number (:func:`served_p_alive`):

* BG/NBD's one-time buyers: the model cannot let them drop out, so it says 1.0 for all of them;
* customers whose only purchase day is less than ``MIN_OBSERVED_DAYS`` before the scoring date:
  too soon for their silence to mean anything; any number shown would be the population's prior.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from .clv_bgnbd import (
    BGNBDParams,
    _as_arrays,
    _conditional_expected,
    _p_alive,
    bgnbd_fit,
)
from .clv_mbgnbd import MBGNBDParams, _mbg_conditional_expected, _mbg_p_alive, mbgnbd_fit

PurchaseParams = BGNBDParams | MBGNBDParams
BGNBD, MBGNBD = "bgnbd", "mbgnbd"
PURCHASE_MODELS = {BGNBD: bgnbd_fit, MBGNBD: mbgnbd_fit}
# The window the choice is scored on: the horizon of the served expected_orders_90d.
SELECTION_HOLDOUT_DAYS = 90
SELECTION_METRIC = "repeat_brier"
# A business choice, not a published constant: a one-time buyer first seen less than four weeks
# ago has not been silent long enough for P(alive) to say more than the population average.
MIN_OBSERVED_DAYS = 28


def model_name(params: PurchaseParams) -> str:
    return MBGNBD if isinstance(params, MBGNBDParams) else BGNBD


def _alive(params: PurchaseParams, x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> np.ndarray:
    if isinstance(params, MBGNBDParams):
        return _mbg_p_alive(params, x, t_x, T)
    return _p_alive(params, x, t_x, T)


def conditional_expected(params: PurchaseParams, x: np.ndarray, t_x: np.ndarray, T: np.ndarray,
                         t: np.ndarray) -> np.ndarray:
    """E[Y(t) | x, t_x, T] under the model ``params`` belongs to (arrays in, array out)."""
    if isinstance(params, MBGNBDParams):
        return _mbg_conditional_expected(params, x, t_x, T, t)
    return _conditional_expected(params, x, t_x, T, t)


def purchase_p_alive(params: PurchaseParams, summary: pd.DataFrame) -> pd.Series:
    """The model's P(alive | x, t_x, T) for every row, as the model states it (no NaN)."""
    x, t_x, T = _as_arrays(summary)
    return pd.Series(_alive(params, x, t_x, T), index=summary.index, name="p_alive")


def served_p_alive(params: PurchaseParams, summary: pd.DataFrame) -> pd.Series:
    """P(alive) as shown to staff: NaN where the model carries no information (module docstring)."""
    x, t_x, T = _as_arrays(summary)
    alive = _alive(params, x, t_x, T)
    too_soon = (x == 0) & (T * params.time_unit_days < MIN_OBSERVED_DAYS)
    # BG/NBD's one-time buyers, and (for extreme parameters) a one-time buyer's P(alive) that
    # rounds to 1.0 in floating point: the model cannot tell, so it must not look certain.
    cannot_tell = (x == 0) & (isinstance(params, BGNBDParams) | (alive >= 1.0))
    uninformative = too_soon | cannot_tell
    return pd.Series(np.where(uninformative, np.nan, alive), index=summary.index, name="p_alive")


def purchase_expected(params: PurchaseParams, summary: pd.DataFrame, t: float) -> pd.Series:
    """E[Y(t) | x, t_x, T]: expected purchase days in the next ``t`` time units."""
    x, t_x, T = _as_arrays(summary)
    values = conditional_expected(params, x, t_x, T, np.full_like(x, float(t)))
    return pd.Series(values, index=summary.index, name="expected_purchases")


def purchase_p_any(params: PurchaseParams, summary: pd.DataFrame, t: float) -> pd.Series:
    """P(Y(t) > 0 | x, t_x, T) = P(alive) (1 - ((alpha+T)/(alpha+T+t))^(r+x))."""
    x, t_x, T = _as_arrays(summary)
    silent_if_alive = ((params.alpha + T) / (params.alpha + T + t)) ** (params.r + x)
    return pd.Series(_alive(params, x, t_x, T) * (1.0 - silent_if_alive), index=summary.index,
                     name="p_any_purchase")


def holdout_metrics(params: PurchaseParams, data: pd.DataFrame) -> dict[str, float | None]:
    """Score a model fitted on calibration data against a :func:`clv_holdout_summary` frame."""
    duration = float(data["duration_holdout"].iloc[0])
    actual = data["frequency_holdout"].to_numpy(dtype="float64")
    expected = purchase_expected(params, data, duration).to_numpy()
    p_any = np.clip(purchase_p_any(params, data, duration).to_numpy(), 1e-12, 1 - 1e-12)
    bought = (actual > 0).astype("float64")
    return {
        "repeat_brier": float(np.mean((p_any - bought) ** 2)),
        "repeat_log_loss": float(-np.mean(bought * np.log(p_any) + (1 - bought) * np.log1p(-p_any))),
        "purchases_mae": float(np.mean(np.abs(expected - actual))),
        "purchases_rmse": float(np.sqrt(np.mean((expected - actual) ** 2))),
        "purchases_expected": float(expected.sum()),
        "purchases_actual": float(actual.sum()),
        "purchases_total_error": float(expected.sum() / actual.sum() - 1) if actual.sum() else None,
    }


def compare_purchase_models(data: pd.DataFrame, *, time_unit_days: float) -> tuple[str, dict[str, Any]]:
    """Fit both models on a holdout frame's calibration columns and pick one (module docstring).

    Returns the chosen name and a flat dict for the model card: each model's holdout metrics
    prefixed with its name, or the reason it could not be fitted. A model that cannot be fitted
    on the calibration data loses; when neither can, MBG/NBD is the default.
    """
    report: dict[str, Any] = {"selection_metric": SELECTION_METRIC,
                              "selection_holdout_days": SELECTION_HOLDOUT_DAYS}
    scores: dict[str, float] = {}
    for name, fit in PURCHASE_MODELS.items():
        try:
            params = fit(data, time_unit_days=time_unit_days)
        except ValueError as exc:  # InsufficientDataError included
            report[f"{name}_holdout_error"] = str(exc)
            continue
        for key, value in holdout_metrics(params, data).items():
            report[f"{name}_holdout_{key}"] = value
        scores[name] = report[f"{name}_holdout_{SELECTION_METRIC}"]
    if not scores:
        chosen, report["selection_reason"] = MBGNBD, "no model fits the calibration data; default"
    elif len(scores) == 1:
        chosen, report["selection_reason"] = next(iter(scores)), "the only model that fits"
    else:
        chosen = BGNBD if scores[BGNBD] < scores[MBGNBD] else MBGNBD
        report["selection_reason"] = f"lower holdout {SELECTION_METRIC}"
    report["purchase_model"] = chosen
    return chosen, report
