"""K-means value segments."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analytics.engine import segments
from analytics.engine.segments import _round_threshold

AS_OF = pd.Timestamp("2026-06-30")


def _three_groups(make_frames):
    """30 customers in three clearly separated groups: whales, regulars and one-off buyers."""
    rng = np.random.default_rng(0)
    orders = []
    for c in range(1, 11):  # whales: 20 orders of ~200, recent
        orders += [(c, str((AS_OF - pd.Timedelta(days=int(d))).date()), 200 + rng.normal(0, 10))
                   for d in rng.integers(1, 60, 20)]
    for c in range(11, 21):  # regulars: 5 orders of ~40
        orders += [(c, str((AS_OF - pd.Timedelta(days=int(d))).date()), 40 + rng.normal(0, 3))
                   for d in rng.integers(30, 200, 5)]
    for c in range(21, 31):  # one-offs: 1 order of ~10, long ago
        orders += [(c, str((AS_OF - pd.Timedelta(days=int(rng.integers(400, 600)))).date()), 10.0)]
    return make_frames(orders=orders, customers=[{"customer_id": 99}])  # 99 never ordered


def test_recovers_planted_groups(make_frames):
    f = _three_groups(make_frames)
    result = segments.segment_customers(customers=f["customers"], orders=f["orders"], as_of=AS_OF)
    a = result.assignments
    assert 99 not in a.index and len(a) == 30
    assert result.card.metrics["k"] == 3
    assert (a.loc[1:10, "value_label"] == "high").all()
    assert (a.loc[11:20, "value_label"] == "medium").all()
    assert (a.loc[21:30, "value_label"] == "low").all()
    assert result.card.metrics["rule_fidelity"] == 1.0
    high_rule = result.profiles.loc[result.profiles["value_label"] == "high", "rule"].iloc[0]
    assert high_rule.startswith("high value: ")


def test_profiles_are_consistent(demo, as_of):
    result = segments.segment_customers(customers=demo.customers, orders=demo.orders, as_of=as_of, seed=1)
    p, a = result.profiles, result.assignments
    assert p["size"].sum() == len(a)
    assert p["revenue_share"].sum() == pytest.approx(1.0)
    assert (p[["recency_days", "frequency", "monetary_total"]] > 0).all().all()
    assert p["mean_spend"].is_monotonic_decreasing  # profiles are sorted by value
    assert p["value_label"].iloc[0] == "high" and p["value_label"].iloc[-1] == "low"
    assert (p["rule_coverage"] > 0.5).all()
    # The card: clustering beats spend tertiles and the rules describe it faithfully.
    assert result.card.metrics["silhouette"] > result.card.baseline["silhouette"]
    assert result.card.metrics["rule_fidelity"] > 0.85
    assert 3 <= result.card.metrics["k"] <= 6


def test_many_customers_are_clustered_on_a_sample_and_all_assigned(demo, as_of, monkeypatch):
    """Past KMEANS_FIT_SAMPLE buyers k-means is fitted on a random sample of them; every buyer
    still gets a segment, and nearly always the value the full fit gives."""
    kw = dict(customers=demo.customers, orders=demo.orders, as_of=as_of, seed=1)
    full = segments.segment_customers(**kw)
    fit_sample = len(full.assignments) // 4
    monkeypatch.setattr(segments, "KMEANS_FIT_SAMPLE", fit_sample)
    sampled = segments.segment_customers(**kw)
    assert full.card.params["fit_sample"] == len(full.assignments)
    assert sampled.card.params["fit_sample"] == fit_sample
    assert sampled.assignments.index.equals(full.assignments.index)
    assert sampled.profiles["size"].sum() == len(full.assignments)
    same = sampled.assignments["value_label"] == full.assignments["value_label"]
    assert same.mean() > 0.9


def test_fixed_k_above_three_labels_extremes_only(demo, as_of):
    result = segments.segment_customers(customers=demo.customers, orders=demo.orders, as_of=as_of, k=5)
    labels = result.profiles["value_label"].tolist()
    assert labels == ["high", "medium", "medium", "medium", "low"]
    assert result.card.params["k_candidates"] == [5]
    assert result.assignments["segment"].nunique() == 5


def test_deterministic_for_a_seed(small_demo, as_of):
    kw = dict(customers=small_demo.customers, orders=small_demo.orders, as_of=as_of, seed=4)
    a, b = segments.segment_customers(**kw), segments.segment_customers(**kw)
    pd.testing.assert_frame_equal(a.assignments, b.assignments)
    pd.testing.assert_frame_equal(a.profiles, b.profiles)


@pytest.mark.parametrize(
    ("value", "feature", "text"),
    [(2345.6, "monetary_total", "2,300"), (93.4, "monetary_total", "93"), (6.5, "frequency", "6"),
     (44.6, "recency_days", "45"), (0.456, "monetary_total", "0.46")],
)
def test_thresholds_are_rounded_for_people(value, feature, text):
    assert _round_threshold(value, feature)[1] == text


def test_too_few_customers_is_an_error(make_frames):
    f = make_frames(orders=[(1, "2026-01-01", 5.0), (2, "2026-01-02", 6.0)])
    with pytest.raises(ValueError, match="at least"):
        segments.segment_customers(customers=f["customers"], orders=f["orders"], as_of=AS_OF)


def test_each_candidates_silhouette_is_the_one_its_sampled_features_give(demo, as_of, monkeypatch):
    """The sample's distances are computed once for every k tried and the baseline; each
    silhouette is still exactly the one scikit-learn gives from the sampled features."""
    from sklearn.metrics import pairwise_distances, silhouette_score

    sampled, scored = [], []

    def distances(features):
        sampled.append(features)
        return pairwise_distances(features)

    def score(matrix, labels, **kwargs):
        value = silhouette_score(matrix, labels, **kwargs)
        scored.append((value, silhouette_score(sampled[-1], labels)))
        return value

    monkeypatch.setattr(segments, "pairwise_distances", distances)
    monkeypatch.setattr(segments, "silhouette_score", score)
    result = segments.segment_customers(customers=demo.customers, orders=demo.orders, as_of=as_of, seed=1)
    assert len(sampled) == 1 and len(scored) == len(segments.K_CANDIDATES) + 1   # and the baseline
    assert all(precomputed == from_features for precomputed, from_features in scored)
    assert list(result.card.params["silhouettes"].values()) == [value for value, _ in scored[:-1]]
    assert result.card.baseline["silhouette"] == scored[-1][0]
