"""Rescore a few customers between full runs with the models the last full run fitted.

A full run ends by freezing a :class:`ScoringSnapshot`: the population's sorted R, F and M
values (so a new value finds its quintile without re-ranking everyone), the BG/NBD and
Gamma-Gamma parameters, the CLV tier cut points, the population's typical purchase gap, and the
fitted churn and loyalty models with their input columns and the typical feature values churn
reasons compare with. :func:`rescore` then recomputes RFM,
CLV, p_alive, churn, loyalty and lifecycle for the customers whose history just changed, in
milliseconds, without refitting anything. Value segments and satisfaction groups keep their
last full-run values: they describe the customer's place among all others and are refreshed by
the next full run.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from . import churn as churn_model
from . import clv, lifecycle, reasons, rfm
from .features import build_features, model_matrix
from .order_summary import order_summary

N_BINS = rfm.N_SCORE_BINS


@dataclass(frozen=True)
class ScoringSnapshot:
    as_of: pd.Timestamp
    recency_sorted: np.ndarray
    frequency_sorted: np.ndarray
    monetary_sorted: np.ndarray
    bgnbd: clv.BGNBDParams | None
    gamma_gamma: clv.GammaGammaParams | None
    mean_purchase_value: float
    clv_cut_high: float
    clv_cut_medium: float
    monthly_discount_rate: float
    population_gap_days: float
    churn: Any = None
    churn_columns: tuple[str, ...] = ()
    churn_typical: Any = None  # reasons.Typical: the full run's typical values, for reasons
    # The churn label of the full run; "explicit" scores every customer, orders or not, with the
    # frozen attribute encoding (snapshots from before it carry neither: behavioural).
    churn_label: str = "behavioural"
    churn_encoder: Any = None
    loyalty: Any = None
    loyalty_columns: tuple[str, ...] = ()
    # Loyalty served as 1 - churn probability (analytics.engine.loyalty.loyalty_from_churn).
    loyalty_from_churn: bool = False
    # The served purchase model (BG/NBD or MBG/NBD); None in snapshots from before MBG/NBD,
    # which served BG/NBD (``bgnbd``).
    purchase: Any = None

    @property
    def purchase_model(self) -> Any:
        return self.purchase if self.purchase is not None else self.bgnbd


def snapshot_build(*, orders: pd.DataFrame, as_of: pd.Timestamp, rfm_table: pd.DataFrame | None,
                   clv_result: clv.CLVResult | None, churn_result: Any, loyalty_result: Any,
                   monthly_discount_rate: float, summary: pd.DataFrame | None = None) -> ScoringSnapshot:
    """Freeze what a full run learned, for :func:`rescore`; ``summary`` is the orders' summary at
    ``as_of`` when the caller has it."""
    table = rfm_table if rfm_table is not None else pd.DataFrame(
        {"recency_days": [], "order_count": [], "total_spent": []})
    if summary is None:
        summary = order_summary(orders, cutoff=as_of, inclusive=True)
    if clv_result is not None:
        values = clv_result.customers["clv"].to_numpy(dtype="float64")
        high_share, medium_share = clv.HIGH_TIER_SHARE, clv.MEDIUM_TIER_SHARE
        cut_high = float(np.quantile(values, 1 - high_share)) if len(values) else np.inf
        cut_medium = float(np.quantile(values, 1 - high_share - medium_share)) if len(values) else np.inf
    else:
        cut_high = cut_medium = np.inf
    return ScoringSnapshot(
        as_of=pd.Timestamp(as_of),
        recency_sorted=np.sort(table["recency_days"].to_numpy(dtype="float64")),
        frequency_sorted=np.sort(table["order_count"].to_numpy(dtype="float64")),
        monetary_sorted=np.sort(table["total_spent"].to_numpy(dtype="float64")),
        bgnbd=clv_result.bgnbd if clv_result is not None else None,
        gamma_gamma=clv_result.gamma_gamma if clv_result is not None else None,
        mean_purchase_value=_mean_order_value(summary),
        clv_cut_high=cut_high, clv_cut_medium=cut_medium,
        monthly_discount_rate=monthly_discount_rate,
        population_gap_days=lifecycle.population_gap(orders, as_of=as_of, summary=summary),
        churn=getattr(churn_result, "model", None),
        churn_typical=getattr(churn_result, "typical", None),
        churn_columns=tuple(getattr(churn_result, "columns", ())),
        churn_label=getattr(churn_result, "label", "behavioural"),
        churn_encoder=getattr(churn_result, "encoder", None),
        loyalty=getattr(loyalty_result, "model", None),
        loyalty_columns=tuple(getattr(loyalty_result, "columns", ())),
        loyalty_from_churn=bool(getattr(loyalty_result, "from_churn", False)),
        purchase=clv_result.purchase if clv_result is not None else None,
    )


def _mean_order_value(summary: pd.DataFrame) -> float:
    """The mean order total over every order in ``summary`` (0 without orders)."""
    count = int(summary["order_count"].sum())
    return float(summary["total_cents"].sum()) / 100 / count if count else 0.0


def _quintile(population: np.ndarray, values: np.ndarray, *, higher_is_better: bool) -> np.ndarray:
    """Score 1..5 by the share of the population a value beats (or, for recency, undercuts)."""
    if len(population) == 0:
        return np.full(len(values), 3, dtype="int64")
    if higher_is_better:
        beaten = np.searchsorted(population, values, side="left")
    else:
        beaten = len(population) - np.searchsorted(population, values, side="right")
    return np.clip(1 + (N_BINS * beaten) // len(population), 1, N_BINS).astype("int64")


def _matrix(features: pd.DataFrame, columns: tuple[str, ...]) -> pd.DataFrame:
    # A few customers lack most one-hot levels; absent levels are zero, as in the full run.
    return model_matrix(features).reindex(columns=list(columns), fill_value=0.0)


def _churn_write(out: pd.DataFrame, snapshot: ScoringSnapshot, x: pd.DataFrame,
                 readable: pd.DataFrame) -> None:
    probability = pd.Series(snapshot.churn.predict_proba(x)[:, 1], index=x.index)
    out.loc[x.index, "churn_probability"] = probability.clip(0, 1)
    out.loc[x.index, "churn_risk"] = churn_model.risk_band(probability)
    # Same explainer as the full run, on the stored model: the reasons move with the
    # probability. A snapshot from before typical values were kept compares with the
    # rescored customers themselves until the next full run.
    typical = snapshot.churn_typical or reasons.typical_values(readable)
    explained = churn_model.churn_reasons(snapshot.churn, x, readable, out.loc[x.index, "churn_risk"], typical)
    out.loc[x.index, "churn_reasons"] = [json.dumps(r) for r in explained]


def rescore(snapshot: ScoringSnapshot, *, customers: pd.DataFrame, orders: pd.DataFrame,
            feedback: pd.DataFrame, interactions: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    """Score columns (as in :data:`analytics.engine.pipeline.SCORE_COLUMNS`) for ``customers``."""
    as_of = pd.Timestamp(as_of)
    ids = pd.Index(customers["customer_id"].astype("int64"), name="customer_id")
    out = pd.DataFrame(index=ids)

    table = rfm.rfm_scores(orders, as_of=as_of) if len(orders) else pd.DataFrame()
    if not table.empty:
        for column in ("order_count", "total_spent", "first_order_at", "last_order_at"):
            out.loc[table.index, column] = table[column]
        out.loc[table.index, "recency_days"] = np.floor(table["recency_days"]).astype("int64")
        r = _quintile(snapshot.recency_sorted, table["recency_days"].to_numpy(), higher_is_better=False)
        f = _quintile(snapshot.frequency_sorted, table["order_count"].to_numpy(dtype="float64"),
                      higher_is_better=True)
        m = _quintile(snapshot.monetary_sorted, table["total_spent"].to_numpy(), higher_is_better=True)
        out.loc[table.index, "rfm_r"], out.loc[table.index, "rfm_f"], out.loc[table.index, "rfm_m"] = r, f, m
        out.loc[table.index, "rfm_segment"] = [rfm.RF_SEGMENTS[(a, b)] for a, b in zip(r, f)]

    p_alive = None
    purchase = snapshot.purchase_model
    if purchase is not None and not table.empty:
        summary = clv.clv_summary(orders, as_of=as_of, time_unit_days=purchase.time_unit_days)
        p_alive = clv.served_p_alive(purchase, summary)
        if snapshot.gamma_gamma is not None:
            spend = clv.gamma_gamma_expected_spend(snapshot.gamma_gamma, summary)
        else:
            spend = pd.Series(snapshot.mean_purchase_value, index=summary.index)
        value = clv.clv_from_models(purchase, spend, summary,
                                    monthly_discount_rate=snapshot.monthly_discount_rate).clip(lower=0)
        out.loc[summary.index, "p_alive"] = p_alive.clip(0, 1)
        out.loc[summary.index, "clv_12m"] = value.round(2)
        out.loc[summary.index, "value_tier"] = np.where(
            value >= snapshot.clv_cut_high, "high", np.where(value >= snapshot.clv_cut_medium, "medium", "low"))
        out.loc[summary.index, "expected_orders_90d"] = clv.purchase_expected(
            purchase, summary, 90 / purchase.time_unit_days)

    explicit = snapshot.churn is not None and snapshot.churn_label == "explicit"
    if explicit and len(customers):
        # As in the full run: every customer, from the same encoding and columns.
        x, readable = churn_model.explicit_matrix(
            customers=customers, orders=orders, feedback=feedback, interactions=interactions,
            as_of=as_of, encoder=snapshot.churn_encoder)
        x = x.reindex(columns=list(snapshot.churn_columns), fill_value=0.0)
        _churn_write(out, snapshot, x, readable)
    if (snapshot.churn is not None or snapshot.loyalty is not None) and not table.empty:
        features = build_features(customers=customers, orders=orders, feedback=feedback,
                                  interactions=interactions, cutoff=as_of)
        buyers = features.loc[features["frequency"] > 0]
        if snapshot.churn is not None and not explicit and len(buyers):
            _churn_write(out, snapshot, _matrix(buyers, snapshot.churn_columns), buyers)
        if snapshot.loyalty is not None and len(buyers):
            x = _matrix(buyers, snapshot.loyalty_columns)
            out.loc[x.index, "loyalty_score"] = np.clip(snapshot.loyalty.predict_proba(x)[:, 1], 0, 1)
        if snapshot.loyalty_from_churn and "churn_probability" in out:
            churn_p = pd.to_numeric(out["churn_probability"], errors="coerce").dropna()
            out.loc[churn_p.index, "loyalty_score"] = 1.0 - churn_p

    # As in the full run: the stage reads the churn risk band just computed, after churn.
    risk = out["churn_risk"] if "churn_risk" in out else None
    stages = lifecycle.lifecycle_stages(customers, orders, as_of=as_of, p_alive=p_alive, churn_risk=risk,
                                        population_gap_days=snapshot.population_gap_days)
    out["lifecycle_stage"] = stages["lifecycle_stage"]
    return out
