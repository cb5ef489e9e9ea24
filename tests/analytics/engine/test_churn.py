"""Churn model and the shared feature builder it stands on."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.tree import DecisionTreeClassifier

from analytics.engine import churn
from analytics.engine.features import (
    build_features,
    labelled_snapshot,
    model_matrix,
    repeat_purchase_labels,
    top_decile_lift,
)

CUTOFF = pd.Timestamp("2026-01-01")


# --- features -------------------------------------------------------------------------------

def test_features_known_answer(make_frames):
    f = make_frames(
        orders=[(1, "2025-09-23", 10.0), (1, "2025-11-22", 20.0), (1, "2025-12-22", 30.0),
                (2, "2025-06-01", 5.0)],
        feedback=[{"customer_id": 1, "created_at": "2025-12-01", "rating": 2.0, "sentiment_score": -0.5,
                   "complaint_reason": "delivery"},
                  {"customer_id": 1, "created_at": "2025-12-05", "rating": 4.0, "sentiment_score": 0.3}],
        interactions=[(1, "2025-12-02", "complaint", "resolved"), (1, "2025-12-03", "call", "reached"),
                      (1, "2025-12-04", "chat", "Abandoned"), (2, "2025-12-05", "complaint", "escalated")],
    )
    out = build_features(**f, cutoff=CUTOFF)
    one = out.loc[1]
    assert one["frequency"] == 3
    assert one["recency_days"] == pytest.approx(10.0)
    assert one["monetary_total"] == pytest.approx(60.0)
    assert one["monetary_mean"] == pytest.approx(20.0)
    assert one["tenure_days"] == pytest.approx(365.0)  # signup 2025-01-01
    assert one["mean_gap_days"] == pytest.approx(45.0)  # (Dec 22 - Sep 23) / 2
    assert one["recency_gap_ratio"] == pytest.approx(10 / 45)
    assert (one["orders_30d"], one["orders_90d"], one["orders_365d"]) == (1, 2, 3)
    assert one["spend_90d"] == pytest.approx(50.0)
    assert one["order_trend_90d"] == 1  # 2 in the last 90 days, 1 in the 90 before
    assert one["complaints"] == 1
    assert (one["complaint_contacts"], one["unresolved_contacts"], one["routine_contacts"]) == (1, 1, 1)
    assert (out.loc[2, "complaint_contacts"], out.loc[2, "unresolved_contacts"]) == (1, 1)
    assert "routine_contacts" not in model_matrix(out).columns
    assert one["mean_rating"] == pytest.approx(3.0)
    assert one["mean_sentiment"] == pytest.approx(-0.1)
    two = out.loc[2]
    assert two["frequency"] == 1 and np.isnan(two["mean_gap_days"])
    assert out.loc[1, "gender=female"] == 1 and out.loc[2, "gender=female"] == 0
    assert out.loc[2, "gender=male"] == 1 and (out["channel=online"] == 1).all()


def test_features_ignore_everything_on_or_after_cutoff(make_frames):
    before = [(1, "2025-10-01", 10.0), (2, "2025-12-01", 7.0)]
    after = [(1, "2026-01-01", 99.0), (2, "2026-03-01", 50.0), (3, "2026-02-01", 5.0)]
    late_signup = [{"customer_id": 3, "signup_date": "2026-01-15"}]
    base = build_features(**make_frames(orders=before, customers=late_signup), cutoff=CUTOFF)
    leaked = build_features(**make_frames(orders=before + after, customers=late_signup), cutoff=CUTOFF)
    pd.testing.assert_frame_equal(base, leaked)
    assert 3 not in base.index  # signed up and bought only after the cutoff


def test_model_matrix_is_numeric_and_complete(demo, as_of):
    f = build_features(customers=demo.customers, orders=demo.orders, feedback=demo.feedback,
                       interactions=demo.interactions, cutoff=as_of)
    x = model_matrix(f)
    assert not x.isna().any().any()
    assert all(dtype == np.float64 for dtype in x.dtypes)


def test_one_hot_columns_do_not_depend_on_cutoff(demo, as_of):
    early_cutoff = as_of - pd.Timedelta(days=700)
    early = build_features(customers=demo.customers, orders=demo.orders, cutoff=early_cutoff)
    late = build_features(customers=demo.customers, orders=demo.orders, cutoff=as_of)
    assert list(early.columns) == list(late.columns)


def test_repeat_labels_window_is_half_open(make_frames):
    f = make_frames(orders=[(1, "2026-01-01", 1.0), (2, "2026-03-31", 1.0), (3, "2026-04-01", 1.0)])
    y = repeat_purchase_labels(orders=f["orders"], customer_ids=pd.Index([1, 2, 3, 4]), cutoff=CUTOFF,
                               horizon_days=90)
    assert y.to_dict() == {1: 1, 2: 1, 3: 0, 4: 0}  # 2026-04-01 is day 90: outside [0, 90)


def test_top_decile_lift_known_answer():
    y = np.array([1] * 2 + [0] * 18)
    score = np.arange(20)[::-1]  # the two positives have the two highest scores
    assert top_decile_lift(y, score) == pytest.approx(1.0 / 0.1)


# --- churn model ------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def result(demo, as_of):
    return churn.predict_churn(customers=demo.customers, orders=demo.orders, feedback=demo.feedback,
                               interactions=demo.interactions, as_of=as_of)


def test_beats_recency_baseline_on_demo_data(result):
    """Recency is a strong baseline here: the generator follows BG/NBD, for which recency and
    frequency are sufficient statistics. The model must still win on every ranking and
    probability metric. Lift in the top decile is capped at 1 / churn rate (about 1.57 here) and
    both reach it, so lift only has to be as good within rounding."""
    card = result.card
    assert card.metrics["roc_auc"] > card.baseline["roc_auc"]
    assert card.metrics["pr_auc"] > card.baseline["pr_auc"]
    assert card.metrics["brier"] < card.baseline["brier"]
    assert card.metrics["top_decile_lift"] >= card.baseline["top_decile_lift"] - 0.02
    assert card.metrics["roc_auc"] > 0.8


def test_scores_only_buyers_with_valid_probabilities(result, demo, as_of):
    buyers = set(demo.orders.loc[demo.orders["ordered_at"] < as_of, "customer_id"])
    assert set(result.scores.index) == buyers
    p = result.scores["churn_probability"]
    assert ((p >= 0) & (p <= 1)).all()
    expected = np.where(p >= churn.HIGH_RISK_THRESHOLD, "high",
                        np.where(p >= churn.MEDIUM_RISK_THRESHOLD, "medium", "low"))
    assert (result.scores["churn_risk"].to_numpy() == expected).all()


def test_risk_tracks_recency(result, demo, as_of):
    f = build_features(customers=demo.customers, orders=demo.orders, cutoff=as_of)
    recency = f.loc[result.scores.index, "recency_days"]
    assert result.scores["churn_probability"].corr(recency, method="spearman") > 0.5


def test_reasons_are_the_largest_contributions_in_the_risk_direction(result):
    lists = result.scores["churn_reasons"]
    assert lists.map(len).max() <= churn.TOP_REASONS
    assert (lists.map(len) > 0).mean() > 0.9
    for reasons, risk in zip(lists.head(300), result.scores["churn_risk"].head(300)):
        pushes = [r["contribution"] * (1 if risk != "low" else -1) for r in reasons]
        assert all(p > 0 for p in pushes) and pushes == sorted(pushes, reverse=True)
    high = result.scores.loc[result.scores["churn_risk"] == "high", "churn_reasons"]
    top_features = high.map(lambda rs: rs[0]["feature"] if rs else "").value_counts()
    # Silence leads, measured in days or against the customer's own rhythm (the monotone trees
    # may credit either).
    assert top_features.index[0] in {"recency_days", "recency_gap_ratio"}


def test_complaint_reason_only_for_at_risk_customers(result, demo):
    s = result.scores
    assert (s.loc[s["churn_risk"] == "low", "likely_complaint_reason"] == "").all()
    given = set(demo.feedback["complaint_reason"].dropna()) - {""}
    at_risk = s.loc[s["churn_risk"] != "low", "likely_complaint_reason"]
    assert set(at_risk) <= given
    assert (at_risk != "").mean() > 0.5


def test_explicit_label_beats_baseline(demo, as_of):
    result = churn.predict_churn(customers=demo.customers, orders=demo.orders, feedback=demo.feedback,
                                 interactions=demo.interactions, as_of=as_of, label="explicit")
    assert result.card.params["label"] == "explicit"
    assert result.card.metrics["roc_auc"] > result.card.baseline["roc_auc"]


def test_deterministic_for_a_seed(small_demo, as_of):
    kw = dict(customers=small_demo.customers, orders=small_demo.orders, feedback=small_demo.feedback,
              interactions=small_demo.interactions, as_of=as_of, seed=3)
    a, b = churn.predict_churn(**kw), churn.predict_churn(**kw)
    pd.testing.assert_frame_equal(a.scores, b.scores)
    assert a.card == b.card


def test_a_one_model_calibration_fits_its_candidate_once(small_demo, as_of, monkeypatch):
    """Served as one model (a large training set), a candidate is fitted once, on the rows of its
    window that its Platt map is not fitted on: gradient boosting once for the evaluated model,
    and once more only when it serves. The card's candidate AUC is the evaluated model's (a Platt
    map keeps the order)."""
    monkeypatch.setattr(churn, "ONE_MODEL_MIN_SAMPLES", 0)
    fits = []
    fit = HistGradientBoostingClassifier.fit

    def counted(self, x, y, *args, **kwargs):
        fits.append(len(x))
        return fit(self, x, y, *args, **kwargs)

    monkeypatch.setattr(HistGradientBoostingClassifier, "fit", counted)
    result = churn.predict_churn(customers=small_demo.customers, orders=small_demo.orders,
                                 feedback=small_demo.feedback, interactions=small_demo.interactions,
                                 as_of=as_of)
    served = result.card.name == "churn_hist_gradient_boosting_calibrated"
    assert len(fits) == (2 if served else 1)
    params = result.card.params
    held_out = churn.calibration_rows(params["n_fit"])
    assert params["calibration_models"] == 1 and params["calibration_held_out"] == held_out > 0
    assert fits[0] == params["n_fit"] - held_out
    chosen = result.card.name.removeprefix("churn_").removesuffix("_calibrated")
    assert params["candidate_roc_auc"][chosen] == pytest.approx(result.card.metrics["roc_auc"])


def test_too_little_history_is_an_error(make_frames):
    f = make_frames(orders=[(1, "2026-05-01", 5.0), (2, "2026-05-02", 6.0)])
    with pytest.raises(ValueError, match="one class"):
        churn.predict_churn(**f, as_of=pd.Timestamp("2026-06-30"))


def test_labelled_snapshot_uses_only_buyers(demo, as_of):
    cutoff = as_of - pd.Timedelta(days=90)
    x, y = labelled_snapshot(customers=demo.customers, orders=demo.orders, feedback=None, interactions=None,
                             cutoff=cutoff, horizon_days=90)
    assert (x["frequency"] > 0).all() and x.index.equals(y.index)


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        # Amounts in whole cents, as the orders table stores them (numeric(14, 2)): features
        # sum money in cents (analytics.engine.order_summary).
        st.tuples(st.integers(1, 4), st.integers(-400, 200),
                  st.floats(1, 500, allow_nan=False).map(lambda amount: round(amount, 2))),
        min_size=1, max_size=25,
    )
)
def test_features_match_a_direct_count(rows):
    """Property: frequency, spend and recency equal a plain count over orders before the cutoff,
    whatever happens on or after it."""
    orders = pd.DataFrame({
        "order_id": range(1, len(rows) + 1),
        "customer_id": [r[0] for r in rows],
        "ordered_at": [CUTOFF + pd.Timedelta(days=r[1]) for r in rows],
        "total_amount": [r[2] for r in rows],
        "channel": "online",
    })
    customers = pd.DataFrame({
        "customer_id": [1, 2, 3, 4], "signup_date": pd.Timestamp("2024-01-01"), "status": "active",
        "gender": "", "region": "", "city": "", "channel": "", "consent": True,
    })
    out = build_features(customers=customers, orders=orders, cutoff=CUTOFF)
    before = orders.loc[orders["ordered_at"] < CUTOFF]
    for customer in range(1, 5):
        mine = before.loc[before["customer_id"] == customer]
        assert out.loc[customer, "frequency"] == len(mine)
        assert out.loc[customer, "monetary_total"] == pytest.approx(mine["total_amount"].sum())
        if len(mine):
            assert out.loc[customer, "recency_days"] == (CUTOFF - mine["ordered_at"].max()).days
            assert out.loc[customer, "recency_days"] > 0
        else:
            assert np.isnan(out.loc[customer, "recency_days"])


def test_churn_probabilities_predicted_in_blocks_are_those_of_one_prediction(monkeypatch):
    """The served model predicts every buyer a block of rows at a time: the same probabilities,
    to the last bit, as one prediction for all of them."""
    rng = np.random.default_rng(11)
    x = pd.DataFrame(rng.normal(size=(500, 4)), columns=["a", "b", "c", "d"])
    x.iloc[::17, 2] = np.nan
    y = (x["a"] + rng.normal(size=500) > 0).astype(int)
    model = churn._calibrated(HistGradientBoostingClassifier(max_iter=30, random_state=0), x, y,
                              n_samples=len(x), seed=0)
    whole = model.predict_proba(x)[:, 1]
    sizes = []
    predict_proba = type(model).predict_proba

    def counted(self, rows):
        sizes.append(len(rows))
        return predict_proba(self, rows)

    monkeypatch.setattr(type(model), "predict_proba", counted)
    monkeypatch.setattr(churn, "PREDICT_BLOCK_ROWS", 64)
    blocks = churn._positive_probability(model, x)
    assert np.array_equal(blocks, whole)
    assert max(sizes) == 64 and sum(sizes) == len(x)


def test_the_complaint_reason_tree_predicts_in_blocks_only_where_it_is_shown(monkeypatch):
    """At risk: the customer's own latest reason, else the tree's; low risk: nothing. The tree
    predicts a block of rows at a time and only for those it fills, with the same answers as one
    prediction for everyone."""
    rng = np.random.default_rng(5)
    ids = pd.Index(np.arange(1, 301), name="customer_id")
    x = pd.DataFrame(rng.normal(size=(300, 3)), index=ids, columns=["a", "b", "c"])
    reasons = pd.Series(np.where(x["a"] > 0, "price", "delivery"), index=ids).iloc[::3]
    y = pd.Series(1, index=ids)
    at_risk = pd.Series(rng.random(300) < 0.6, index=ids)
    predicted = []
    predict = DecisionTreeClassifier.predict

    def counted(self, rows, *args, **kwargs):
        predicted.append(len(rows))
        return predict(self, rows, *args, **kwargs)

    monkeypatch.setattr(DecisionTreeClassifier, "predict", counted)
    kwargs = dict(latest=reasons, x_train=x, y_train=y, x_now=x, at_risk=at_risk, seed=0)
    whole = churn._likely_complaint_reasons(**kwargs)
    monkeypatch.setattr(churn, "PREDICT_BLOCK_ROWS", 7)
    blocks = churn._likely_complaint_reasons(**kwargs)
    pd.testing.assert_series_equal(blocks, whole)
    shown = int((at_risk & ~ids.isin(reasons.index)).sum())
    assert predicted[0] == shown and max(predicted[1:]) == 7 and sum(predicted[1:]) == shown
    assert (whole[~at_risk] == "").all()
    own = reasons.index[at_risk.loc[reasons.index].to_numpy()]
    assert (whole.loc[own] == reasons.loc[own]).all()
    tree = DecisionTreeClassifier(max_depth=churn.COMPLAINT_TREE_DEPTH,
                                  min_samples_leaf=churn.COMPLAINT_TREE_MIN_LEAF,
                                  random_state=0).fit(x.loc[reasons.index], reasons.to_numpy())
    rest = ids[at_risk.to_numpy() & ~ids.isin(reasons.index)]
    assert (whole.loc[rest].to_numpy() == predict(tree, x.loc[rest])).all()
