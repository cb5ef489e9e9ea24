"""Shared TreeSHAP gives every row exactly what shap gives it row by row: rows that pass a tree the
same way share that tree's values, and nothing else is shared."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import shap
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.ensemble import HistGradientBoostingClassifier

from analytics.engine import reasons


def _fitted(seed: int, *, n_rows: int = 240, n_features: int = 4, max_leaf_nodes: int = 8,
            max_iter: int = 12, min_samples_leaf: int = 5, missing: float = 0.1):
    rng = np.random.default_rng(seed)
    # Few distinct values per feature, so rows tie often and share routes, as customers do.
    x = rng.integers(0, 6, size=(n_rows, n_features)).astype("float64")
    x[rng.random(x.shape) < missing] = np.nan
    signal = np.nan_to_num(x[:, 0], nan=2.5) - np.nan_to_num(x[:, 1], nan=2.5)
    y = (signal + rng.normal(0, 1.5, n_rows) > 0).astype(int)
    if y.min() == y.max():
        y[0] = 1 - y[0]
    model = HistGradientBoostingClassifier(max_iter=max_iter, max_leaf_nodes=max_leaf_nodes,
                                           min_samples_leaf=min_samples_leaf, random_state=seed)
    return model.fit(x, y), x, rng


def _with_edges(explainer, x: np.ndarray, rng) -> np.ndarray:
    """``x`` plus rows sitting exactly on a split's threshold, and rows missing what it splits on:
    the two places a key could put a row on the wrong side."""
    extra = []
    for tree in explainer.model.trees:
        for node in np.flatnonzero(tree.children_left >= 0)[:3]:
            row = x[rng.integers(len(x))].copy()
            row[tree.features[node]] = tree.thresholds[node]
            extra.append(row)
            row = row.copy()
            row[tree.features[node]] = np.nan
            extra.append(row)
    return np.vstack([x, *extra]) if extra else x


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32 - 1), leaves=st.sampled_from([2, 4, 8, 16]),
       missing=st.sampled_from([0.0, 0.1, 0.4]))
def test_shared_values_equal_shap_row_by_row_and_add_up_to_the_decision(seed, leaves, missing):
    model, x, rng = _fitted(seed, max_leaf_nodes=leaves, missing=missing)
    explainer = shap.TreeExplainer(model)
    rows = _with_edges(explainer, x, rng)

    shared = reasons.tree_shap(explainer, rows)

    np.testing.assert_allclose(shared, explainer.shap_values(rows, check_additivity=False),
                               rtol=0, atol=1e-10)
    expected = float(np.ravel(explainer.expected_value)[0])
    np.testing.assert_allclose(shared.sum(axis=1) + expected, model.decision_function(rows),
                               rtol=0, atol=1e-8)


def test_a_tree_with_more_splits_than_one_key_holds_is_keyed_on_several_columns():
    model, x, rng = _fitted(5, n_rows=3000, n_features=6, max_leaf_nodes=80, max_iter=3,
                            min_samples_leaf=2)
    explainer = shap.TreeExplainer(model)
    splits = [np.count_nonzero(t.children_left >= 0) for t in explainer.model.trees]
    assert max(splits) > reasons.SPLITS_PER_KEY
    rows = _with_edges(explainer, x, rng)

    np.testing.assert_allclose(reasons.tree_shap(explainer, rows),
                               explainer.shap_values(rows, check_additivity=False), rtol=0, atol=1e-10)


def test_rows_sharing_routes_are_explained_once_per_route(monkeypatch):
    model, x, _ = _fitted(9, n_rows=2000, max_leaf_nodes=4)
    explainer = shap.TreeExplainer(model)
    explained = []
    real = reasons._shap_chunked
    monkeypatch.setattr(reasons, "_shap_chunked",
                        lambda one, rows: explained.append(len(rows)) or real(one, rows))

    reasons.tree_shap(explainer, x)

    assert explained and max(explained) < len(x) / 10  # 3 splits: at most 4**3 routes of 2,000 rows


def test_no_rows_and_trees_that_never_split():
    model, x, _ = _fitted(1, min_samples_leaf=200)  # no split leaves two leaves of 200 of 240 rows
    explainer = shap.TreeExplainer(model)
    assert all(np.count_nonzero(t.children_left >= 0) == 0 for t in explainer.model.trees)

    np.testing.assert_array_equal(reasons.tree_shap(explainer, x), np.zeros(x.shape))
    assert reasons.tree_shap(explainer, x[:0]).shape == (0, x.shape[1])


@pytest.mark.parametrize("seed", [0, 1])
def test_contributions_of_a_boosted_model_still_add_up_to_its_decision(seed):
    model, x, _ = _fitted(seed)
    frame = pd.DataFrame(x, columns=[f"f{i}" for i in range(x.shape[1])])
    phi, expected = reasons.contributions(model, frame)

    np.testing.assert_allclose(phi.sum(axis=1) + expected, model.decision_function(x), atol=1e-8)
