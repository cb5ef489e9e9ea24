"""Churn reasons that explain the probability the customer was actually given.

Contributions come from the model that served the probability, in its log-odds space, relative
to the average customer of its training set:

* histogram gradient boosting: exact TreeSHAP (Lundberg et al. 2020, "From local explanations to
  global understanding with explainable AI for trees", Nature Machine Intelligence 2:56-67) with
  the ``shap`` library's ``TreeExplainer`` in its default ``tree_path_dependent`` mode, which
  needs no background sample: the expected value is the cover-weighted mean of the trees over
  the training rows, and contributions + expected value equal ``decision_function`` exactly;
  rows that pass a tree the same way share its values, so shap runs once per route
  (:func:`tree_shap`);
* scaled logistic regression: its own terms ``coef_j * (x_ij - mean_j) / scale_j``, which with
  the intercept add up to ``decision_function`` exactly.

The served model is a ``CalibratedClassifierCV``: on large training sets one base model, held
frozen, under one monotone calibrator fitted on rows the model did not see, on small ones the mean of
one base model per calibration fold, each under its own calibrator. We explain the base models and
average their contributions, so the contributions sum (with the mean expected value) to the mean
of their log-odds. That is the model that produced the number, not a refit stand-in; the
calibrators only bend each model's scale monotonically, so a feature that raises every base
model's log-odds raises the served probability. (The alternative, a separate model fitted on all
rows, would explain a model that serves nobody.)

What a reason says: the feature, the customer's own value, the typical value (population median
among scored customers; for a category, its most common known level), whether it pushes the risk
up or keeps it down, and the contribution. Customers at medium or high risk get what pushes their
risk up; low-risk customers get what keeps them safe. A missing value is never a reason: values
that :func:`~analytics.engine.features.model_matrix` imputed (no rating, no gap for a one-order
customer) and unknown categories are left out, though the model did use them.

Imported attributes (:mod:`analytics.engine.attributes`, explicit churn label) are reasons like
any other feature, keyed ``attr:<name>``: a numeric one (its value column and its missing flag
together) in the customer's own number, a categorical one (all its level columns together) in
the customer's own level. A missing attribute value is never a reason either.

With correlated features (recency, orders in the last 30/90 days) the split of credit between
them is one fair split among several; reasons suggest where to look, they do not prove cause.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from .attributes import MISSING_SUFFIX, is_attribute
from .features import CATEGORICAL_COLUMNS, FEATURE_LABELS

TOP_REASONS = 3
# Candidates checked against the typical value per reason shown (see _confirmed).
CANDIDATES_PER_REASON = 2
# A contribution below this many log-odds is not named: at p = 0.5 it moves the probability by
# half a percentage point (dp = p(1-p) * dlogit), less than staff can act on.
MIN_CONTRIBUTION = 0.02
# Category levels that mean "we do not know" (an empty cell becomes "" in build_features).
UNKNOWN_LEVELS = frozenset({"", "unknown", "none", "nan"})
# Rows explained per TreeSHAP call: bounds the working memory of the contribution matrices.
EXPLAIN_CHUNK_ROWS = 20_000
# Splits per int64 column of a row's split-pattern key (two bits each, the sign bit unused).
SPLITS_PER_KEY = 31

UP, DOWN = "up", "down"


@dataclass(frozen=True)
class Typical:
    """The population's typical values, kept with the model so a rescore compares against the
    same population as the full run. ``numeric``: median per feature (missing values skipped);
    ``categories``: most common known level per categorical attribute."""

    numeric: dict[str, float] = field(default_factory=dict)
    categories: dict[str, str] = field(default_factory=dict)


def typical_values(features: pd.DataFrame) -> Typical:
    """Typical values of the scored customers' readable features (``build_features`` output)."""
    numeric = {c: round(float(features[c].median()), 4) for c in FEATURE_LABELS
               if c in features and features[c].notna().any()}
    categories = {}
    for column in (c for c in features.columns if is_attribute(c)):
        values = features[column]
        if pd.api.types.is_numeric_dtype(values):
            if values.notna().any():
                numeric[column] = round(float(values.median()), 4)
        elif values.notna().any():
            counts = values.dropna().astype(str).value_counts()
            counts = counts.sort_index(kind="stable").sort_values(ascending=False, kind="stable")
            categories[column] = str(counts.index[0])
    for attribute in CATEGORICAL_COLUMNS:
        columns = [c for c in features.columns if c.startswith(f"{attribute}=")
                   and c.split("=", 1)[1].lower() not in UNKNOWN_LEVELS]
        if columns:
            counts = features[columns].sum()
            categories[attribute] = str(counts.idxmax()).split("=", 1)[1]
    return Typical(numeric=numeric, categories=categories)


def fold_estimators(model) -> list:
    """The base models whose outputs make the served probability (one per calibration fold, or
    the one fitted before its calibration, which holds it frozen)."""
    if hasattr(model, "calibrated_classifiers_"):
        return [_unfrozen(c.estimator) for c in model.calibrated_classifiers_]
    return [model]


def _unfrozen(estimator):
    return estimator.estimator if isinstance(estimator, FrozenEstimator) else estimator


def _split_patterns(tree, x: np.ndarray, splits: np.ndarray) -> np.ndarray:
    """Per row, a key that is equal for two rows exactly when they fall on the same side of every
    split of ``tree``: each split gives the row one of four states (0 missing, 1 below, 2 equal
    to, 3 above the threshold), two bits each, ``SPLITS_PER_KEY`` splits per int64 column.

    The four states are finer than the tree needs (it sends "equal" one way and "missing" to a
    default side), so the key holds whatever comparison rule the model uses."""
    keys = np.zeros((len(x), -(-len(splits) // SPLITS_PER_KEY)), dtype=np.int64)
    for position, node in enumerate(splits):
        values = x[:, tree.features[node]]
        threshold = tree.thresholds[node]
        state = np.where(values < threshold, 1, np.where(values > threshold, 3, 2))
        state[np.isnan(values)] = 0
        column, shift = divmod(position, SPLITS_PER_KEY)
        keys[:, column] |= state.astype(np.int64) << (2 * shift)
    return keys


def explainer_import() -> None:
    """Import shap (about 1.4 s: numba) ahead of the first tree explanation. A worker calls it
    when it starts; otherwise each worker's first ranking chunk of a run paid it, on the run's
    critical path."""
    import shap  # noqa: F401


def tree_shap(explainer, x: np.ndarray) -> np.ndarray:
    """``explainer.shap_values(x)`` (path-dependent TreeSHAP, no base value), computed once per
    tree for each distinct way a row can pass that tree.

    A tree's contributions to a row depend on the row only through the side it takes at each of
    the tree's splits (the algorithm walks every node, going "hot" down the row's side), and a
    tree of a boosted ensemble has a few dozen splits: 100,000 customers take a few hundred
    distinct routes through it. So rows are grouped by their pattern of sides, one row per
    group is explained by shap, and its values are copied to the group. The result is the same
    numbers as explaining every row (``tests/analytics/engine/test_tree_shap.py``) at a fraction
    of the time (``bench/churn_reasons.py``). Trees with categorical splits, which a threshold
    key cannot describe, are explained row by row.
    """
    import shap  # ~1.4 s to import (numba): a worker pays it when it starts (explainer_import)

    phi = np.zeros(x.shape, dtype="float64")
    if not len(x):
        return phi
    for tree in explainer.model.trees:
        splits = np.flatnonzero(tree.children_left >= 0)
        if not len(splits):
            continue  # a single leaf: a constant, which is all base value
        one = shap.TreeExplainer([tree])
        if np.any(tree.threshold_types[splits] != 0):
            phi += _shap_chunked(one, x)
            continue
        keys = _split_patterns(tree, x, splits)
        if keys.shape[1] == 1:
            _, first, inverse = np.unique(keys[:, 0], return_index=True, return_inverse=True)
        else:
            _, first, inverse = np.unique(keys, axis=0, return_index=True, return_inverse=True)
        phi += _shap_chunked(one, x[first])[inverse.ravel()]
    return phi


def _shap_chunked(explainer, x: np.ndarray) -> np.ndarray:
    return np.vstack([explainer.shap_values(x[i:i + EXPLAIN_CHUNK_ROWS], check_additivity=False)
                      for i in range(0, len(x), EXPLAIN_CHUNK_ROWS)])


def _explain_one(estimator, x: pd.DataFrame) -> tuple[np.ndarray, float]:
    if isinstance(estimator, Pipeline):
        steps = [s for _, s in estimator.steps]
        if (len(steps) == 2 and isinstance(steps[0], StandardScaler)
                and isinstance(steps[1], LogisticRegression)):
            z = steps[0].transform(x)
            return np.asarray(z) * steps[1].coef_[0], float(steps[1].intercept_[0])
    if isinstance(estimator, HistGradientBoostingClassifier):
        import shap

        explainer = shap.TreeExplainer(estimator)
        phi = tree_shap(explainer, x.to_numpy(dtype="float64"))
        return phi, float(np.ravel(explainer.expected_value)[0])
    raise TypeError(f"no exact explainer for {type(estimator).__name__}")


def contributions(model, x: pd.DataFrame) -> tuple[pd.DataFrame, float]:
    """Per row and feature, the push on the served model's log-odds, and the expected value.

    ``contributions.sum(axis=1) + expected`` equals the mean of the fold models'
    ``decision_function`` (exactly, up to floating point).
    """
    parts = [_explain_one(e, x.astype("float64")) for e in fold_estimators(model)]
    phi = np.mean([p for p, _ in parts], axis=0) if len(x) else np.zeros((0, x.shape[1]))
    return pd.DataFrame(phi, index=x.index, columns=x.columns), float(np.mean([b for _, b in parts]))


def decision(model, x: pd.DataFrame) -> np.ndarray:
    """Mean log-odds of the fold models: what :func:`contributions` add up to."""
    return np.mean([e.decision_function(x) for e in fold_estimators(model)], axis=0)


def decision_and_probability(model, x: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """:func:`decision` and the served probability of the positive class, from one pass of the
    base model where the served model is one calibrated classifier (``ensemble=False``): its
    calibrator maps the base model's log-odds to the probability, as ``predict_proba`` does."""
    folds = getattr(model, "calibrated_classifiers_", None)
    if (folds is not None and len(folds) == 1 and len(folds[0].calibrators) == 1
            and folds[0].method in ("sigmoid", "isotonic")):
        log_odds = _unfrozen(folds[0].estimator).decision_function(x)
        return log_odds, folds[0].calibrators[0].predict(log_odds)
    return decision(model, x), model.predict_proba(x)[:, 1]


def _groups(columns) -> dict[str, list[str]]:
    """Reason keys and the model columns they sum: a numeric feature alone, a categorical
    attribute over all its one-hot columns (its effect is the sum of its levels' pushes), an
    imported attribute over its value and missing-flag columns or its level columns."""
    groups = {c: [c] for c in columns if c in FEATURE_LABELS}
    for attribute in CATEGORICAL_COLUMNS:
        levels = [c for c in columns if c.startswith(f"{attribute}=")]
        if levels:
            groups[attribute] = levels
    for column in columns:
        if is_attribute(column):
            groups.setdefault(_attribute_key(column), []).append(column)
    return groups


def _attribute_key(column: str) -> str:
    """"attr:tenure:missing" -> "attr:tenure"; "attr:Contract=One year" -> "attr:Contract"."""
    if column.endswith(MISSING_SUFFIX):
        return column[:-len(MISSING_SUFFIX)]
    return column.split("=", 1)[0]


def _is_numeric(key: str, features: pd.DataFrame) -> bool:
    if key in FEATURE_LABELS:
        return True
    return is_attribute(key) and key in features and pd.api.types.is_numeric_dtype(features[key])


def _own_level(features: pd.DataFrame, attribute: str, levels: list[str]) -> pd.Series:
    """Per row, the level whose one-hot column is set ("" where none is)."""
    present = [c for c in levels if c in features]
    if not present:
        return pd.Series("", index=features.index)
    onehot = np.nan_to_num(features[present].to_numpy(dtype="float64"), nan=-np.inf)
    names = np.array([c.split("=", 1)[1] for c in present], dtype=object)
    level = np.where(onehot.max(axis=1) > 0, names[onehot.argmax(axis=1)], "")
    return pd.Series(level, index=features.index, dtype=object)


def churn_reasons(model, x: pd.DataFrame, features: pd.DataFrame, risk: pd.Series,
                  typical: Typical, top: int = TOP_REASONS) -> list[list[dict]]:
    """Per row of ``x`` (the model matrix), the reasons in the order of their contribution.

    ``features`` are the same customers' readable features (NaN where a value is undefined),
    ``risk`` their band: "medium"/"high" get what pushes up, "low" what keeps the risk down.
    """
    if not len(x):
        return []
    phi, _ = contributions(model, x)
    features = features.reindex(x.index)
    groups = _groups(x.columns)
    keys = list(groups)
    grouped = np.column_stack([phi[cols].sum(axis=1).to_numpy() for cols in groups.values()])
    own: dict[str, pd.Series] = {}
    numeric_keys = {key for key in groups if _is_numeric(key, features)}
    for key, cols in groups.items():
        if key in numeric_keys:
            own[key] = features[key] if key in features else x[key]
            known = own[key].notna().to_numpy()
        elif is_attribute(key):
            own[key] = (features[key] if key in features else pd.Series(None, index=x.index)
                        ).astype(object).where(lambda v: v.notna(), "").astype(str)
            known = ~own[key].str.lower().isin(UNKNOWN_LEVELS).to_numpy()
        else:
            own[key] = _own_level(features, key, cols)
            known = ~own[key].str.lower().isin(UNKNOWN_LEVELS).to_numpy()
        grouped[~known, keys.index(key)] = np.nan  # a missing value is never a reason
    sign = np.where(risk.reindex(x.index).isin(["medium", "high"]).to_numpy(), 1.0, -1.0)
    pushed = np.nan_to_num(grouped * sign[:, None], nan=-np.inf)
    order = np.argsort(-pushed, axis=1, kind="stable")[:, :top * CANDIDATES_PER_REASON]
    confirmed = _confirmed(model, x, order, pushed, keys, sign, typical, top)
    values = {k: v.to_numpy() for k, v in own.items()}
    out = [[] for _ in range(len(x))]
    # Row-major: each row's confirmed candidates in rank order, at most ``top`` of them.
    for row, rank in zip(*np.nonzero(confirmed)):
        j = order[row, rank]
        key = keys[j]
        value = values[key][row]
        numeric = key in numeric_keys
        out[row].append({
            "feature": key,
            "value": round(float(value), 4) if numeric else str(value),
            "typical": typical.numeric.get(key) if numeric else typical.categories.get(key),
            "direction": UP if sign[row] > 0 else DOWN,
            "contribution": round(float(grouped[row, j]), 4),
        })
    return out


def _confirmed(model, x: pd.DataFrame, order: np.ndarray, pushed: np.ndarray, keys: list[str],
               sign: np.ndarray, typical: Typical, top: int) -> np.ndarray:
    """Per row and candidate rank: does moving that feature to the typical value shown beside it
    move the log-odds the way the reason says, by at least ``MIN_CONTRIBUTION``, and the served
    (calibrated) probability strictly the same way?

    A contribution is measured against the average customer of the training set, a reason is
    read against the typical (median) one. They disagree where the two differ: a customer with
    no order in 90 days has a positive push against an average of 0.8 orders, yet the typical
    customer has none either. One extra prediction per candidate rank drops such reasons.

    Only the candidates :func:`churn_reasons` can still show are checked, so what is confirmed
    is what it shows: a rank below ``MIN_CONTRIBUTION`` is never shown, and a row with ``top``
    reasons confirmed takes no more. The first ``top`` ranks are open to every row, so they are
    checked in one prediction; each later rank depends on what the ranks before it confirmed.
    """
    # Isotonic calibration is flat in places: a log-odds move inside a flat step leaves the served
    # probability where it was, and a reason that does not move the number it explains is no reason.
    base, served = decision_and_probability(model, x)
    matrix = x.to_numpy(dtype="float64")
    moves = {j: _typical_assignment(x.columns, key, typical) for j, key in enumerate(keys)}

    def confirms(rows: np.ndarray, key_index: np.ndarray) -> np.ndarray:
        """For each (row, key) pair: does moving that row's key to typical confirm the reason?"""
        moved = matrix[rows]
        for j in np.unique(key_index):
            at, values = moves[j]
            if len(at):
                moved[np.ix_(np.flatnonzero(key_index == j), at)] = values
        moved_decision, moved_probability = decision_and_probability(
            model, pd.DataFrame(moved, columns=x.columns))
        return ((sign[rows] * (base[rows] - moved_decision) >= MIN_CONTRIBUTION)
                & (sign[rows] * (served[rows] - moved_probability) > 0))

    candidate = pushed[np.arange(len(x))[:, None], order] >= MIN_CONTRIBUTION
    out = np.zeros(order.shape, dtype=bool)
    first = min(top, order.shape[1])
    live, ranks = np.nonzero(candidate[:, :first])
    out[live, ranks] = confirms(live, order[live, ranks])
    shown = out.sum(axis=1)
    for rank in range(first, order.shape[1]):
        live = np.flatnonzero(candidate[:, rank] & (shown < top))
        if not len(live):
            break
        out[live, rank] = confirms(live, order[live, rank])
        shown += out[:, rank]
    return out


def _typical_assignment(columns, key: str, typical: Typical) -> tuple[np.ndarray, np.ndarray]:
    """Positions in ``columns`` and the values that move feature ``key`` to its typical value: a
    number and its missing flag cleared, or a category's one-hot columns set to the typical level
    (a rare typical level has no column: all are cleared). Nothing for a key with no typical value."""
    columns = list(columns)
    if key in typical.numeric:
        assign = {key: typical.numeric[key], key + MISSING_SUFFIX: 0.0}
    elif key in typical.categories:
        assign = {c: 0.0 for c in columns if c.startswith(f"{key}=")}
        assign[f"{key}={typical.categories[key]}"] = 1.0
    else:
        assign = {}
    present = [(columns.index(c), v) for c, v in assign.items() if c in columns]
    return (np.array([i for i, _ in present], dtype=np.int64),
            np.array([v for _, v in present], dtype="float64"))


def move_to_typical(x: pd.DataFrame, rows, key: str, typical: Typical) -> pd.DataFrame:
    """``x`` with feature ``key`` of ``rows`` set to the typical value (a category: its one-hot
    columns set to the typical level). What a reason claims: this value, made typical, lowers
    (or, for a protective reason, raises) the risk."""
    moved = x.copy()
    at, values = _typical_assignment(x.columns, key, typical)
    for column, value in zip(x.columns[at], values):
        moved.loc[rows, column] = value
    return moved
