"""Churn probability, risk band, reasons and likely complaint reason per customer.

Label. Non-contractual retail has no cancellation date, so by default a customer "churns" at a
cutoff when they place no order in the following ``horizon_days`` (behavioural label; 90 days is
the usual quarter-long window). Where the CRM records churn explicitly (customers.status ==
"churned"), as a contract business (telecom, subscriptions, SaaS) does, ``label="explicit"`` uses
that instead, and :func:`churn_label` picks it by itself when enough customers carry it. The
explicit model scores EVERY customer, with or without orders: it reads the customers' imported
attributes (tenure, contract type, monthly charges ..., encoded by :mod:`analytics.engine.attributes`)
next to their own fields and, where orders exist, the order features. There is no time to split
one status snapshot on, so its holdout is a stratified random share of the customers.

Time-based holdout (behavioural label), with N = horizon_days::

    as_of - 2N            as_of - N              as_of
    |-- features <|-- label window --|                      fit candidates here
                          |-- features <|-- label window --|  evaluate here, then refit here
                                                         |-- features <| score everyone

A random split would leak: the same calendar period (a season, a price change) would be on both
sides. Evaluating one horizon later is what the model will face in production.

Candidates: a scaled logistic regression and a histogram gradient-boosting ensemble
(scikit-learn's fast GBDT, after LightGBM, Ke et al. 2017). The one with the higher holdout ROC-AUC wins and is calibrated
with ``CalibratedClassifierCV``. On a training set of at least ``ONE_MODEL_MIN_SAMPLES`` rows one
model serves, fitted once, under a Platt map fitted on rows of the same window it was not fitted
on (a fifth of them, at most ``MAX_CALIBRATION_ROWS``). On fewer rows the served probability is
the mean over the calibration folds of each fold's model under its own map: isotonic (Zadrozny &
Elkan 2002), or Platt below ``ISOTONIC_MIN_SAMPLES`` because the scikit-learn user guide warns
isotonic overfits small sets.

Reasons explain the probability served: the served model's own additive contributions (exact
TreeSHAP for the boosted trees, the linear terms for the logistic model), of its one base model or
averaged over its fold models; see :mod:`analytics.engine.reasons`.

More silence never looks safer. With everything else equal, a customer whose last order lies
further back must never get a lower churn probability: otherwise the risk band, and the
lifecycle stage built on it (:mod:`analytics.engine.lifecycle`), could call the longer-silent of
two customers the safer one. Moving the last order earlier raises ``recency_days`` and
``recency_gap_ratio``, lowers ``mean_gap_days`` (the span shrinks) and can only lower the order
and spend counts of the recent windows, so every one of these features carries a sign in
:data:`SILENCE_MONOTONE`. ``order_trend_90d`` moves either way (an order leaving the last 90 days
lowers it, one leaving the 90 days before raises it), so no sign can hold for it and the churn
model does not use it. Gradient boosting enforces the signs while it grows its trees
(``monotonic_cst``); a logistic regression cannot be constrained, so its fitted signs are
checked and a candidate that breaks one is refused (see :func:`silence_violations`). Calibration
keeps the order: isotonic regression is non-decreasing and Platt scaling is checked for slope,
and the mean of non-decreasing maps is non-decreasing.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.calibration import CalibratedClassifierCV
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.tree import DecisionTreeClassifier

from . import attributes, reasons
from .features import (
    CATEGORICAL_COLUMNS,
    MAX_EVAL_ROWS,
    MAX_FIT_ROWS,
    RECENT_WINDOWS,
    binned_rate_baseline,
    build_features,
    fit_sample,
    labelled_snapshot,
    model_matrix,
    sample_positions,
    top_decile_lift,
)
from .frames import ModelCard
from .order_summary import Summaries, summary_before

DEFAULT_HORIZON_DAYS = 90
# Risk bands on the calibrated probability. 0.3 / 0.6 split "probably stays", "could go either
# way" and "more likely gone than not"; the high band is where a retention call pays.
MEDIUM_RISK_THRESHOLD = 0.3
HIGH_RISK_THRESHOLD = 0.6
TOP_REASONS = reasons.TOP_REASONS
# scikit-learn user guide (Probability calibration): isotonic "is more prone to overfitting,
# especially on small datasets"; it is recommended with well over a thousand samples.
ISOTONIC_MIN_SAMPLES = 1000
CALIBRATION_FOLDS = 3
# From this many training rows on, one model fitted on all of them serves, with a Platt map fitted
# on its out-of-fold predictions. Below it, the mean of the folds' models (each with its own map)
# steadies a model fitted on few rows; above it, that averaging bought nothing measurable (demo
# data, 20,000 customers: ROC-AUC 0.912 either way) and tripled the cost of explaining every
# customer. Platt, not isotonic: one isotonic map is a staircase whose ties cost ranking (PR-AUC
# 0.951 against 0.955) and in whose flat steps a reason would not move the probability it explains.
ONE_MODEL_MIN_SAMPLES = 10_000
# The one model's Platt map is fitted on held-out rows rather than on out-of-fold predictions:
# cross-fitting cost three more fits of the candidate (at 40,000 rows, 7 of churn's 9 s at 100,000
# customers), and fitted a map to fold models on two thirds of the rows where a held-out set
# measures the model that serves. Two parameters are well determined by a few thousand rows; the
# candidate keeps MAX_FIT_ROWS, the held-out rows are drawn besides them.
CALIBRATION_SHARE = 0.2
MAX_CALIBRATION_ROWS = 10_000
FIT_ROWS_CAP = MAX_FIT_ROWS + MAX_CALIBRATION_ROWS
# Gradient boosting: scikit-learn's default learning rate and iterations (0.1 x 100), with smaller
# trees (15 leaves, default 31) and some L2 because the training sets are a few thousand rows.
HGB_PARAMS = {"learning_rate": 0.1, "max_iter": 100, "max_leaf_nodes": 15, "l2_regularization": 1.0}
# Complaint-reason tree: shallow, with leaves of at least 5 churners, so it only predicts a
# reason that a group of similar customers actually gave.
COMPLAINT_TREE_DEPTH = 3
COMPLAINT_TREE_MIN_LEAF = 5
COMPLAINT_MIN_TRAINING = 20
# Rows a model predicts at a time: scikit-learn copies the rows it predicts into one array (300 MB
# for every buyer at a million customers), and the complaint-reason tree's class probabilities
# are rows x reasons.
PREDICT_BLOCK_ROWS = 100_000
# Share of customers held out when the label is explicit (one snapshot, no time to split on).
EXPLICIT_HOLDOUT_SHARE = 0.3
# Sign of the churn probability's dependence on each feature a longer silence changes (module
# docstring): +1 = never lower when the feature grows, -1 = never higher.
SILENCE_MONOTONE: dict[str, int] = {
    "recency_days": 1,
    "recency_gap_ratio": 1,
    # For a fixed silence, a longer usual gap makes it less overdue (the same reading as BG/NBD,
    # where P(alive) after a given silence is lower for the more frequent buyer).
    "mean_gap_days": -1,
    **{f"orders_{window}d": -1 for window in RECENT_WINDOWS},
    **{f"spend_{window}d": -1 for window in RECENT_WINDOWS},
}
# Features left out of the churn model because a longer silence can move them either way.
NON_MONOTONE_FEATURES = ("order_trend_90d",)
# Features computed from orders: with the explicit label they are used only where orders exist.
ORDER_FEATURES = ("frequency", "recency_days", "monetary_total", "monetary_mean", "mean_gap_days",
                  "recency_gap_ratio", *SILENCE_MONOTONE, "order_trend_90d")

# Which label to train on (:func:`churn_label`): "auto" decides from the data, the others force it.
LABEL_SETTINGS = ("auto", "behavioural", "explicit")
# "auto" takes the explicit status when at least this many customers, and this share of them, are
# churned by status: 50 churners give the holdout (30 %) about 15 positives to measure an AUC on,
# and below 5 % the status is more likely a few hand-marked cases than a recorded cancellation.
# Business choices, not published constants; settings CHURN_EXPLICIT_MIN_CHURNED / _MIN_SHARE.
EXPLICIT_MIN_CHURNED = 50
EXPLICIT_MIN_SHARE = 0.05
# ...and when fewer than half the customers have an order. Where most customers buy, silence
# labels every churner, while a status marks only those who said so (a retail shop marks a few
# cancellations; the demo data does): the behavioural label is the complete one there.
BEHAVIOURAL_MIN_BUYER_SHARE = 0.5


@dataclass(frozen=True)
class ChurnResult:
    """``scores`` indexed by customer_id: churn_probability, churn_risk, churn_reasons,
    likely_complaint_reason. ``card`` compares the chosen model with the recency-only baseline."""

    scores: pd.DataFrame
    card: ModelCard
    # The production models and their input columns, kept so a single customer can be rescored
    # between full runs (analytics.engine.incremental).
    model: Any = None
    columns: tuple[str, ...] = ()
    # The scored population's typical feature values, which reasons compare a customer with.
    typical: reasons.Typical | None = None
    # "behavioural" or "explicit", and the attribute encoding of the explicit model (None for
    # behavioural): a rescore builds the same matrix.
    label: str = "behavioural"
    encoder: attributes.AttributeEncoder | None = None
    # Set instead of the reasons by ``predict_churn(explain=False)``: what explaining needs.
    pending: PendingReasons | None = None


@dataclass(frozen=True)
class PendingReasons:
    """Everything :func:`churn_reasons` needs for the scored customers, kept so that a run can
    explain them later in ranges of customer ids, on several workers at once: exact TreeSHAP is
    the costliest step of a churn fit and each customer's reasons depend on that customer alone.
    ``x`` is the model matrix, ``features`` the readable features, ``risk`` the risk band, all
    indexed by customer id."""

    model: Any
    typical: reasons.Typical
    x: pd.DataFrame
    features: pd.DataFrame
    risk: pd.Series

    def between(self, first_id: int, last_id: int) -> PendingReasons:
        """The customers with ids in [first_id, last_id]."""
        def part(frame):
            return frame.loc[(frame.index >= first_id) & (frame.index <= last_id)]
        return replace(self, x=part(self.x), features=part(self.features), risk=part(self.risk))

    def explain(self) -> pd.Series:
        """Each customer's reasons, indexed by customer id: what ``predict_churn`` would have put
        in its ``churn_reasons`` column."""
        return pd.Series(churn_reasons(self.model, self.x, self.features, self.risk, self.typical),
                         index=self.x.index, name="churn_reasons", dtype="object")


def _candidates(seed: int, columns: list[str]) -> dict[str, object]:
    return {
        "logistic_regression": make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000)),
        "hist_gradient_boosting": HistGradientBoostingClassifier(
            random_state=seed, monotonic_cst=[SILENCE_MONOTONE.get(c, 0) for c in columns],
            **HGB_PARAMS),
    }


def silence_violations(model: object, columns: list[str] | tuple[str, ...]) -> list[str]:
    """Features (or "calibration") through which ``model`` could give a longer silence a lower
    churn probability; empty when :data:`SILENCE_MONOTONE` holds by construction.

    Accepts a fitted candidate or a fitted ``CalibratedClassifierCV`` (every fold's model and
    calibrator is checked). A logistic coefficient of the wrong sign breaks the rule for every
    customer; gradient boosting must carry the constraints; a Platt calibrator must not slope
    down and an isotonic one must be increasing.
    """
    columns = list(columns)
    if isinstance(model, CalibratedClassifierCV):
        found: set[str] = set()
        for fold, estimator in zip(model.calibrated_classifiers_, reasons.fold_estimators(model)):
            found.update(silence_violations(estimator, columns))
            for calibrator in fold.calibrators:
                # sklearn's Platt map is expit(-(a * score + b)): non-decreasing iff a <= 0.
                if getattr(calibrator, "a_", 0.0) > 0 or not getattr(calibrator, "increasing_", True):
                    found.add("calibration")
        return sorted(found)
    if isinstance(model, HistGradientBoostingClassifier):
        cst = list(model.monotonic_cst) if model.monotonic_cst is not None else [0] * len(columns)
        return sorted(c for c, sign in zip(columns, cst) if SILENCE_MONOTONE.get(c, 0) not in (0, sign))
    coef = model.named_steps["logisticregression"].coef_[0]   # standardising keeps the signs
    return sorted(c for c, w in zip(columns, coef) if SILENCE_MONOTONE.get(c, 0) * w < 0)


def _calibrated(model: object, x: pd.DataFrame, y: pd.Series, *, n_samples: int,
                seed: int) -> CalibratedClassifierCV:
    """``model`` calibrated on (x, y), for a training set of ``n_samples`` rows (module notes)."""
    if _one_model(n_samples):
        held_out = np.zeros(len(x), dtype=bool)
        held_out[sample_positions(len(x), seed=seed, max_rows=calibration_rows(len(x)))] = True
        fitted = clone(model).fit(x.iloc[~held_out], y.iloc[~held_out])
        return CalibratedClassifierCV(FrozenEstimator(fitted), method="sigmoid").fit(
            x.iloc[held_out], y.iloc[held_out])
    method = "isotonic" if n_samples >= ISOTONIC_MIN_SAMPLES else "sigmoid"
    return CalibratedClassifierCV(clone(model), method=method, cv=CALIBRATION_FOLDS).fit(x, y)


def _one_model(n_samples: int) -> bool:
    """Whether a training set of ``n_samples`` rows is served by one model (module notes)."""
    return n_samples >= ONE_MODEL_MIN_SAMPLES


def calibration_rows(n: int) -> int:
    """Of ``n`` training rows of a one-model calibration, how many its Platt map is fitted on."""
    return min(MAX_CALIBRATION_ROWS, int(n * CALIBRATION_SHARE))


def risk_band(probability: pd.Series) -> pd.Series:
    """low / medium / high by ``MEDIUM_RISK_THRESHOLD`` and ``HIGH_RISK_THRESHOLD``."""
    bands = np.where(
        probability >= HIGH_RISK_THRESHOLD,
        "high",
        np.where(probability >= MEDIUM_RISK_THRESHOLD, "medium", "low"),
    )
    return pd.Series(bands, index=probability.index, dtype="object")


def churn_reasons(model: Any, x: pd.DataFrame, features: pd.DataFrame, risk: pd.Series,
                  typical: reasons.Typical) -> list[list[dict]]:
    """Reasons from the served model's own contributions (see :mod:`analytics.engine.reasons`);
    the full run and the rescore both call this."""
    return reasons.churn_reasons(model, x, features, risk, typical, top=TOP_REASONS)


def _latest_complaint_reason(feedback: pd.DataFrame | None, before: pd.Timestamp) -> pd.Series:
    if feedback is None or not len(feedback):
        return pd.Series(dtype="object")
    fb = feedback.loc[(feedback["created_at"] < before)]
    fb = fb.loc[fb["complaint_reason"].fillna("").astype(str).str.len() > 0]
    return fb.sort_values(["created_at", "feedback_id"]).groupby("customer_id")["complaint_reason"].last()


def _one_class_check(y_fit: pd.Series, y_eval: pd.Series) -> None:
    for name, y in (("fit", y_fit), ("evaluation", y_eval)):
        if y.nunique() < 2:
            raise ValueError(f"the {name} window has only one class; not enough history to fit churn")


def _evaluate(y: np.ndarray, score: np.ndarray) -> dict[str, float]:
    return {
        "roc_auc": float(roc_auc_score(y, score)),
        "pr_auc": float(average_precision_score(y, score)),
        "top_decile_lift": top_decile_lift(y, score),
    }


def churn_label(customers: pd.DataFrame, orders: pd.DataFrame | None, *, as_of: pd.Timestamp,
                setting: str = "auto", min_churned: int = EXPLICIT_MIN_CHURNED,
                min_share: float = EXPLICIT_MIN_SHARE,
                summaries: Summaries | None = None) -> tuple[str, str]:
    """The label the churn model trains on, and why: ``setting`` "behavioural" or "explicit"
    forces it; "auto" takes the explicit status when at least ``min_churned`` customers, and
    ``min_share`` of them, are churned by status, and fewer than
    :data:`BEHAVIOURAL_MIN_BUYER_SHARE` of the customers have an order to learn silence from."""
    if setting not in LABEL_SETTINGS:
        raise ValueError(f"churn label must be one of {LABEL_SETTINGS}, not {setting!r}")
    if setting != "auto":
        return setting, "forced by setting"
    n = len(customers)
    churned = int((customers["status"].fillna("").astype(str).str.lower() == "churned").sum())
    buyers = len(summary_before(orders, as_of, summaries))
    if churned < min_churned or n == 0 or churned / n < min_share:
        return "behavioural", f"{churned} churned by status, fewer than {min_churned} or {min_share:.0%}"
    if buyers / n >= BEHAVIOURAL_MIN_BUYER_SHARE:
        return "behavioural", (f"{churned} churned by status, but {buyers / n:.0%} of customers have "
                               "orders: silence labels churn")
    return "explicit", f"{churned} churned by status ({churned / n:.1%}); {buyers / n:.0%} have orders"


def predict_churn(
    *,
    customers: pd.DataFrame,
    orders: pd.DataFrame | None,
    feedback: pd.DataFrame | None = None,
    interactions: pd.DataFrame | None = None,
    as_of: pd.Timestamp,
    horizon_days: int = DEFAULT_HORIZON_DAYS,
    label: str = "behavioural",
    seed: int = 0,
    label_choice: str = "",
    summaries: Summaries | None = None,
    explain: bool = True,
) -> ChurnResult:
    """Fit, evaluate and apply the churn model.

    ``label="behavioural"`` scores the customers with an order before ``as_of``; the baseline
    scores them by days since their last order (recency rank) for ROC-AUC, PR-AUC and lift, and
    by the training churn rate of their recency decile for the Brier score.
    ``label="explicit"`` scores every customer (see :func:`explicit_matrix`). ``label_choice``
    (why this label, from :func:`churn_label`) goes into the model card. ``summaries``: the
    order summaries the features and labels are read from, when the caller has them
    (:func:`analytics.engine.features.build_features`). ``explain=False`` leaves the reasons
    out (``churn_reasons`` None) and returns what they need as ``pending``
    (:class:`PendingReasons`), for the caller to explain in ranges.
    """
    if label not in ("behavioural", "explicit"):
        raise ValueError(f"label must be 'behavioural' or 'explicit', not {label!r}")
    as_of = pd.Timestamp(as_of)
    frames = {"customers": customers, "orders": orders, "feedback": feedback, "interactions": interactions,
              "summaries": summaries}
    encoder = None
    latest_reasons = _latest_complaint_reason(feedback, as_of)
    if label == "behavioural":
        horizon = pd.Timedelta(days=horizon_days)
        # Features are built only for the rows read: the fit window's sample, and of the latest
        # window the served model's sample, the card's and the churners the complaint-reason
        # tree learns from. The labels are every buyer's, so the samples are those of the whole.
        given = latest_reasons.index

        def sampled(labels: pd.Series, cap: int) -> pd.Index:
            keep = sample_positions(len(labels), seed=seed, max_rows=cap)
            return labels.index if keep is None else labels.index[keep]

        def final_rows(repeat: pd.Series) -> pd.Index:
            churned = repeat.index[repeat.to_numpy() == 0]
            return (churned[churned.isin(given)].union(sampled(repeat, FIT_ROWS_CAP))
                    .union(sampled(repeat, MAX_EVAL_ROWS)))

        x_final, y_final_repeat = labelled_snapshot(**frames, cutoff=as_of - horizon,
                                                    horizon_days=horizon_days, rows=final_rows)
        y_final = 1 - y_final_repeat
        x_fit, y_fit_repeat = labelled_snapshot(**frames, cutoff=as_of - 2 * horizon,
                                                horizon_days=horizon_days,
                                                rows=lambda repeat: sampled(repeat, FIT_ROWS_CAP))
        y_fit = 1 - y_fit_repeat
        _one_class_check(y_fit, y_final)
        n_fit_available, n_eval_available = len(y_fit), len(y_final)
        y_fit = y_fit.loc[x_fit.index]
        train, evaluated = sampled(y_final, FIT_ROWS_CAP), sampled(y_final, MAX_EVAL_ROWS)
        x_train, y_train = x_final.loc[train], y_final.loc[train]
        x_eval, y_eval = x_final.loc[evaluated], y_final.loc[evaluated]
        y_final = y_final.loc[x_final.index]
        holdout = "time: fit at as_of-2N, evaluate at as_of-N"
    else:
        encoder = attributes.fit_encoder(attributes.attribute_table(customers))
        x_final, readable_now = explicit_matrix(**frames, as_of=as_of, encoder=encoder)
        if not (readable_now["frequency"] > 0).any():
            x_final = x_final.drop(columns=[c for c in ORDER_FEATURES if c in x_final])
        status = customers.set_index("customer_id")["status"].fillna("").astype(str).str.lower()
        y_final = (status.reindex(x_final.index) == "churned").astype("int64")
        if y_final.nunique() < 2 or y_final.value_counts().min() < 2:
            raise ValueError("the explicit status has only one class; not enough churned customers to fit churn")
        x_fit, x_eval, y_fit, y_eval = train_test_split(
            x_final, y_final, test_size=EXPLICIT_HOLDOUT_SHARE, stratify=y_final, random_state=seed
        )
        _one_class_check(y_fit, y_eval)
        n_fit_available, n_eval_available = len(x_fit), len(x_eval)
        x_fit, y_fit = fit_sample(x_fit, y_fit, seed=seed, max_rows=FIT_ROWS_CAP)
        x_train, y_train = fit_sample(x_final, y_final, seed=seed, max_rows=FIT_ROWS_CAP)
        x_eval, y_eval = fit_sample(x_eval, y_eval, seed=seed, max_rows=MAX_EVAL_ROWS)
        holdout = f"stratified random {EXPLICIT_HOLDOUT_SHARE:.0%} (explicit status has no time to split on)"
    x_final, x_fit, x_train, x_eval = (x.drop(columns=list(NON_MONOTONE_FEATURES), errors="ignore")
                                       for x in (x_final, x_fit, x_train, x_eval))
    columns = list(x_final.columns)

    candidates = _candidates(seed, columns)
    # One calibration for the evaluated and the served fit (the smaller set decides), so the
    # card measures the kind of model that serves.
    n_calibration = min(len(x_fit), len(x_train))
    candidate_auc, refused, calibrated_fits = {}, {}, {}
    for name, model in candidates.items():
        if _one_model(n_calibration):
            # A one-model calibration fits the candidate once, as the model it serves: that fit
            # is the candidate's own, not fitted a second time.
            calibrated_fits[name] = _calibrated(model, x_fit, y_fit, n_samples=n_calibration, seed=seed)
            fitted = reasons.fold_estimators(calibrated_fits[name])[0]
        else:
            fitted = clone(model).fit(x_fit, y_fit)
        candidate_auc[name] = float(roc_auc_score(y_eval, fitted.predict_proba(x_eval)[:, 1]))
        broken = silence_violations(fitted, columns)
        if broken:
            refused[name] = broken
    # Best holdout AUC among the candidates that keep "more silence never looks safer"; the
    # calibrated fits are checked too, since each fold refits the candidate on other rows.
    chosen = final_model = calibrated = None
    for name in sorted(candidate_auc, key=lambda n: -candidate_auc[n]):
        if name in refused:
            continue
        calibrated = (calibrated_fits[name] if name in calibrated_fits
                      else _calibrated(candidates[name], x_fit, y_fit, n_samples=n_calibration, seed=seed))
        # Production fit: the latest window with a complete label (explicit: every customer).
        final_model = _calibrated(candidates[name], x_train, y_train, n_samples=n_calibration, seed=seed)
        broken = silence_violations(calibrated, columns) + silence_violations(final_model, columns)
        if not broken:
            chosen = name
            break
        refused[name] = sorted(set(broken))
    if chosen is None:
        raise ValueError(f"no churn model keeps a longer silence from lowering the risk: {refused}")

    p_eval = calibrated.predict_proba(x_eval)[:, 1]
    metrics = _evaluate(y_eval.to_numpy(), p_eval)
    metrics["brier"] = float(brier_score_loss(y_eval, p_eval))
    if "recency_days" in x_eval:
        recency_eval = x_eval["recency_days"]
        baseline = _evaluate(y_eval.to_numpy(), recency_eval.rank(method="average").to_numpy())
        baseline["brier"] = float(
            brier_score_loss(y_eval, binned_rate_baseline(x_fit["recency_days"], y_fit, recency_eval))
        )
        baseline_note = "baseline: recency rank (AUC, PR-AUC, lift); churn rate by recency decile (Brier)"
    else:  # no orders to be silent in: the naive forecast is the training churn rate for everyone
        constant = np.full(len(y_eval), float(y_fit.mean()))
        baseline = _evaluate(y_eval.to_numpy(), constant)
        baseline["brier"] = float(brier_score_loss(y_eval, constant))
        baseline_note = "baseline: the training churn rate for everyone (no orders to rank by recency)"

    if label == "behavioural":
        features_now = build_features(**frames, cutoff=as_of)
        readable_now = features_now.loc[features_now["frequency"] > 0]
        del features_now   # every customer's table, beside its buyers' copy (300 MB at 1M)
        x_now = model_matrix(readable_now)[x_final.columns]
    else:
        x_now = x_final
    typical = reasons.typical_values(readable_now)

    probability = pd.Series(_positive_probability(final_model, x_now), index=x_now.index,
                            name="churn_probability")
    scores = pd.DataFrame({"churn_probability": probability, "churn_risk": risk_band(probability)})
    pending = PendingReasons(model=final_model, typical=typical, x=x_now,
                             features=readable_now.reindex(x_now.index), risk=scores["churn_risk"])
    scores["churn_reasons"] = pending.explain() if explain else None
    scores["likely_complaint_reason"] = _likely_complaint_reasons(
        latest=latest_reasons, x_train=x_final, y_train=y_final, x_now=x_now,
        at_risk=scores["churn_risk"] != "low", seed=seed,
    )
    scores.index.name = "customer_id"

    params = {"label": label, "label_source": ("customers.status == 'churned'" if label == "explicit"
                                               else f"no order in the next {horizon_days} days"),
              "label_choice": label_choice, "horizon_days": horizon_days,
              "candidate_roc_auc": candidate_auc,
              "monotone_features": {c: s for c, s in SILENCE_MONOTONE.items() if c in columns},
              "refused_candidates": refused,
              "left_out_features": list(NON_MONOTONE_FEATURES),
              "calibration": calibrated.method, "calibration_models": len(final_model.calibrated_classifiers_),
              "calibration_held_out": calibration_rows(len(x_fit)) if _one_model(n_calibration) else 0,
              "holdout": holdout, "seed": seed,
              "n_fit": int(len(x_fit)), "n_fit_available": int(n_fit_available),
              "n_eval": int(len(x_eval)), "n_eval_available": int(n_eval_available),
              "n_scored": int(len(x_now)), "churn_rate_eval": float(y_eval.mean())}
    if encoder is not None:
        params.update(attributes_used=encoder.used, attributes_left_out=encoder.left_out,
                      attribute_columns=len(encoder.columns),
                      order_features=any(c in columns for c in ORDER_FEATURES))
    card = ModelCard(name=f"churn_{chosen}_calibrated", metrics=metrics, baseline=baseline,
                     params=params, notes=baseline_note)
    return ChurnResult(scores=scores, card=card, model=final_model, columns=tuple(x_final.columns),
                       typical=typical, label=label, encoder=encoder, pending=None if explain else pending)


def explicit_matrix(*, customers: pd.DataFrame, orders: pd.DataFrame | None, feedback: pd.DataFrame | None,
                    interactions: pd.DataFrame | None, as_of: pd.Timestamp,
                    encoder: attributes.AttributeEncoder,
                    summaries: Summaries | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Model matrix and readable features of EVERY customer for the explicit label.

    Order features (a customer without an order has frequency 0 and recency equal to tenure,
    see :func:`model_matrix`; :func:`predict_churn` leaves them out when nobody has an order),
    then the customer's own fields and the encoded attributes. A customer with no signup date,
    or one after ``as_of``, counts as signed up at ``as_of``: the status still labels them.
    The full run and the rescore both build the matrix here.
    """
    as_of = pd.Timestamp(as_of)
    everyone = customers.copy()
    signup = pd.to_datetime(everyone["signup_date"]) if "signup_date" in everyone else pd.Series(pd.NaT, index=everyone.index)
    everyone["signup_date"] = signup.where(signup < as_of, as_of - pd.Timedelta(microseconds=1))
    everyone["signup_date"] = everyone["signup_date"].fillna(as_of - pd.Timedelta(microseconds=1))
    for column in CATEGORICAL_COLUMNS:
        if column not in everyone:
            everyone[column] = ""
    features = build_features(customers=everyone, orders=orders, feedback=feedback,
                              interactions=interactions, cutoff=as_of, summaries=summaries)
    x = model_matrix(features)
    table = attributes.attribute_table(everyone).reindex(x.index)
    x = pd.concat([x, encoder.transform(table)], axis=1)
    readable = pd.concat([features, encoder.readable(table)], axis=1)
    return x, readable


def _positive_probability(model, x: pd.DataFrame) -> np.ndarray:
    """``model.predict_proba(x)[:, 1]``, :data:`PREDICT_BLOCK_ROWS` rows at a time (each row's
    probability depends on that row alone)."""
    if len(x) <= PREDICT_BLOCK_ROWS:
        return model.predict_proba(x)[:, 1]
    return np.concatenate([model.predict_proba(x.iloc[start:start + PREDICT_BLOCK_ROWS])[:, 1]
                           for start in range(0, len(x), PREDICT_BLOCK_ROWS)])


def _likely_complaint_reasons(
    *, latest: pd.Series, x_train, y_train, x_now, at_risk: pd.Series, seed: int
) -> pd.Series:
    """Complaint reason for at-risk customers; "" for the others.

    A customer's own latest recorded complaint reason (``latest``, by customer id) wins.
    Otherwise a shallow tree, fitted on churned customers' features -> the reason they gave,
    predicts the reason similar customers gave. Too few churners with a reason
    (< ``COMPLAINT_MIN_TRAINING``) -> no prediction.
    """
    own = latest.reindex(x_now.index).fillna("")
    out = pd.Series("", index=x_now.index, dtype="object")
    at_risk = at_risk.to_numpy()
    out[at_risk] = own[at_risk]
    churned = y_train.index[y_train.to_numpy() == 1]
    training = latest.reindex(churned).dropna()
    if len(training) >= COMPLAINT_MIN_TRAINING:
        tree = DecisionTreeClassifier(
            max_depth=COMPLAINT_TREE_DEPTH, min_samples_leaf=COMPLAINT_TREE_MIN_LEAF, random_state=seed
        ).fit(x_train.loc[training.index], training.to_numpy())
        # Predicted only where it is shown (at risk, no reason of their own), a block at a time:
        # the tree's class probabilities for every buyer at once were 430 MB at a million.
        wanted = np.flatnonzero(at_risk & (own.to_numpy() == ""))
        for start in range(0, len(wanted), PREDICT_BLOCK_ROWS):
            block = wanted[start:start + PREDICT_BLOCK_ROWS]
            out.iloc[block] = tree.predict(x_now.iloc[block])
    return out
