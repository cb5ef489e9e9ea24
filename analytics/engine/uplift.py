"""Uplift models: whom a campaign actually changes, learnt from randomised campaigns.

A campaign with a random control group says, for customers like each member, how much more often
the treated converted than the untreated. The models here estimate that difference per customer
from the members' scores at launch (scikit-uplift's meta-learners: two models, two models with
dependent data representation, class transformation), pick the one that ranks held-out members
best by the Qini coefficient, and give that figure a bootstrap interval. A model whose interval
includes 0 is no better than random targeting, and callers must say so rather than use it.

References: Radcliffe (2007), "Using control groups to target on predicted lift" (the Qini
curve); Gutierrez & Gérardy (2017), "Causal inference and uplift modelling: a review of the
literature"; scikit-uplift's documentation for the estimators and metrics.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.ensemble import GradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklift.metrics import qini_auc_score, qini_curve
from sklift.models import ClassTransformation, TwoModels

HOLDOUT_SHARE = 0.3
BOOTSTRAP_SAMPLES = 200
# Fewer members than this in either group of the fitting set, or too few conversions, and no
# model is fitted: the interval would be all noise.
MIN_PER_GROUP = 100
MIN_CONVERSIONS = 20
CURVE_POINTS = 50
# The audience share at which targeting by predicted uplift is compared with targeting by risk.
TARGET_SHARE = 0.3


class NotEnoughCampaignData(ValueError):
    """Too few randomised members or conversions to fit an uplift model."""


@dataclass(frozen=True)
class FittedUplift:
    name: str
    features: list[str]
    model: Any
    qini: float                       # held-out Qini coefficient (area over random targeting)
    qini_interval: tuple[float, float]  # 95 % bootstrap interval of the held-out Qini
    candidates: dict[str, float]      # held-out Qini of every candidate
    curve: dict[str, list[float]] = field(default_factory=dict)  # held-out Qini curve vs random
    n_fit: int = 0
    n_holdout: int = 0
    # On held-out members, the top TARGET_SHARE by predicted uplift against the top by risk:
    # estimated incremental conversions of each (treated minus control rate, times the members).
    targeting: dict[str, float] = field(default_factory=dict)

    @property
    def credible(self) -> bool:
        """Better than random targeting: the interval lies above 0."""
        return self.qini_interval[0] > 0

    def card(self) -> dict[str, Any]:
        return {"name": self.name, "qini": round(self.qini, 5),
                "qini_interval": [round(v, 5) for v in self.qini_interval], "credible": self.credible,
                "candidates": {k: round(v, 5) for k, v in self.candidates.items()},
                "curve": self.curve, "n_fit": self.n_fit, "n_holdout": self.n_holdout,
                "features": self.features, "targeting": self.targeting}


def _candidates(seed: int) -> dict[str, Any]:
    def boosted():
        return GradientBoostingClassifier(n_estimators=100, max_depth=3, learning_rate=0.1, subsample=0.8,
                                          random_state=seed)

    def linear():
        return make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))

    return {
        "two_models": TwoModels(estimator_trmnt=boosted(), estimator_ctrl=boosted(), method="vanilla"),
        "two_models_ddr": TwoModels(estimator_trmnt=boosted(), estimator_ctrl=boosted(), method="ddr_control"),
        "class_transformation": ClassTransformation(estimator=boosted()),
        "two_models_linear": TwoModels(estimator_trmnt=linear(), estimator_ctrl=linear(), method="vanilla"),
    }


def _curve(outcome, uplift, treatment) -> dict[str, list[float]]:
    x, y = qini_curve(outcome, uplift, treatment)
    pick = np.unique(np.linspace(0, len(x) - 1, min(CURVE_POINTS, len(x))).astype(int))
    share = (x[pick] / x[-1]).round(4).tolist()
    gained = y[pick].round(3).tolist()
    # Random targeting gains in proportion to the share contacted.
    return {"share": share, "model": gained, "random": (np.asarray(share) * y[-1]).round(3).tolist()}


def incremental_conversions(outcome: np.ndarray, treatment: np.ndarray, chosen: np.ndarray) -> float:
    """Estimated conversions a campaign adds among ``chosen`` randomised members: the treated rate
    minus the control rate among them, times how many they are."""
    treated, control = chosen & (treatment == 1), chosen & (treatment == 0)
    if not treated.any() or not control.any():
        return float("nan")
    return float((outcome[treated].mean() - outcome[control].mean()) * chosen.sum())


def _top(scores: np.ndarray, share: float) -> np.ndarray:
    chosen = np.zeros(len(scores), dtype=bool)
    chosen[np.argsort(-scores, kind="stable")[:int(round(len(scores) * share))]] = True
    return chosen


def uplift_fit(features: pd.DataFrame, treatment: np.ndarray, outcome: np.ndarray, *, seed: int = 0,
               holdout_share: float = HOLDOUT_SHARE, bootstrap: int = BOOTSTRAP_SAMPLES,
               risk_column: str = "churn_probability") -> FittedUplift:
    """Fit every candidate on a random part of the members, choose by held-out Qini, give that a
    bootstrap interval, and refit the chosen one on all members for serving."""
    x = features.astype(float).fillna(features.astype(float).median()).fillna(0.0)
    treatment = np.asarray(treatment, dtype=int)
    outcome = np.asarray(outcome, dtype=int)
    if min((treatment == 1).sum(), (treatment == 0).sum()) < MIN_PER_GROUP / (1 - holdout_share) or \
            outcome.sum() < MIN_CONVERSIONS:
        raise NotEnoughCampaignData(
            f"{(treatment == 1).sum()} treated and {(treatment == 0).sum()} control members with "
            f"{outcome.sum()} conversions: at least {MIN_PER_GROUP} per group and {MIN_CONVERSIONS} "
            "conversions are needed")
    rng = np.random.default_rng(seed)
    # Held out within each group, so both keep their share.
    test = np.zeros(len(x), dtype=bool)
    for group in (0, 1):
        members = np.flatnonzero(treatment == group)
        test[rng.choice(members, size=int(round(len(members) * holdout_share)), replace=False)] = True
    fit_x, test_x = x[~test], x[test]
    scores: dict[str, float] = {}
    predictions: dict[str, np.ndarray] = {}
    for name, model in _candidates(seed).items():
        model.fit(fit_x, outcome[~test], treatment[~test])
        predictions[name] = np.asarray(model.predict(test_x), dtype=float)
        scores[name] = float(qini_auc_score(outcome[test], predictions[name], treatment[test]))
    best = max(scores, key=scores.get)
    chosen = predictions[best]
    boot = []
    y_test, t_test = outcome[test], treatment[test]
    for _ in range(bootstrap):
        sample = rng.integers(0, len(chosen), len(chosen))
        if t_test[sample].min() == t_test[sample].max():
            continue
        boot.append(qini_auc_score(y_test[sample], chosen[sample], t_test[sample]))
    low, high = (np.percentile(boot, [2.5, 97.5]) if boot else (float("nan"), float("nan")))
    targeting = {"share": TARGET_SHARE, "members": int(round(len(chosen) * TARGET_SHARE)),
                 "uplift": round(incremental_conversions(y_test, t_test, _top(chosen, TARGET_SHARE)), 2)}
    if risk_column in x.columns:
        targeting["risk"] = round(incremental_conversions(
            y_test, t_test, _top(x[risk_column].to_numpy()[test], TARGET_SHARE)), 2)
    final = _candidates(seed)[best]
    final.fit(x, outcome, treatment)
    return FittedUplift(best, list(x.columns), final, scores[best], (float(low), float(high)), scores,
                        _curve(y_test, chosen, t_test), n_fit=int((~test).sum()), n_holdout=int(test.sum()),
                        targeting=targeting)


def uplift_predict(fitted: FittedUplift, features: pd.DataFrame) -> np.ndarray:
    """Predicted incremental conversion probability per row (treated minus untreated)."""
    x = features.reindex(columns=fitted.features).astype(float).fillna(0.0)
    return np.asarray(fitted.model.predict(x), dtype=float)


def incremental_profit(uplift: np.ndarray, *, order_value: np.ndarray, margin: float,
                       offer_cost: float | np.ndarray, contact_cost: float, conversion: np.ndarray) -> np.ndarray:
    """Expected profit of contacting each customer: the margin on the conversions the contact
    adds, less what the offer costs on every conversion it gets (also those that would have
    happened anyway) and the cost of the contact."""
    return (uplift * np.asarray(order_value) * margin
            - (np.asarray(conversion) + uplift) * offer_cost - contact_cost)
