"""Churn reasons explain the probability served: faithful, additive, protective for the safe,
never about a missing value, and recomputed by the rescore."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from analytics.engine import churn, incremental, reasons
from analytics.engine.features import build_features, model_matrix
from customers.demo.generator import generate_demo

SEEDS = (3, 7, 11)
N_CUSTOMERS = 1500


def _fit(demo, as_of):
    result = churn.predict_churn(customers=demo.customers, orders=demo.orders, feedback=demo.feedback,
                                 interactions=demo.interactions, as_of=as_of)
    features = build_features(customers=demo.customers, orders=demo.orders, feedback=demo.feedback,
                              interactions=demo.interactions, cutoff=as_of)
    buyers = features.loc[features["frequency"] > 0]
    return result, buyers, model_matrix(buyers)[list(result.columns)]


@pytest.fixture(scope="module", params=[*((seed, "folds") for seed in SEEDS), (SEEDS[1], "one_model")],
                ids=lambda p: f"seed{p[0]}-{p[1]}")
def seeded(request, as_of):
    """Each seed's model as served at this size (the mean of the calibration folds' models), and
    one served as on a large training set: one model under a Platt map."""
    seed, kind = request.param
    demo = generate_demo(N_CUSTOMERS, seed, as_of)
    with pytest.MonkeyPatch.context() as patch:
        if kind == "one_model":
            patch.setattr(churn, "ONE_MODEL_MIN_SAMPLES", 0)
        fitted = _fit(demo, as_of)
    assert len(fitted[0].model.calibrated_classifiers_) == (1 if kind == "one_model" else churn.CALIBRATION_FOLDS)
    return (demo, *fitted)


def test_reasons_explained_in_ranges_are_the_reasons_of_the_whole(seeded, monkeypatch):
    """A full run fits churn once and explains its customers in ranges of ids on several
    workers: the ranges together give every customer exactly the reasons of one piece."""
    demo, result, _, _ = seeded
    if len(result.model.calibrated_classifiers_) == 1:
        monkeypatch.setattr(churn, "ONE_MODEL_MIN_SAMPLES", 0)
    deferred = churn.predict_churn(customers=demo.customers, orders=demo.orders, feedback=demo.feedback,
                                   interactions=demo.interactions, as_of=demo.as_of, explain=False)
    assert deferred.scores["churn_reasons"].isna().all() and deferred.pending is not None
    pd.testing.assert_frame_equal(deferred.scores.drop(columns="churn_reasons"),
                                  result.scores.drop(columns="churn_reasons"))
    ids = deferred.pending.x.index.sort_values()
    cuts = [ids[0], ids[len(ids) // 3], ids[len(ids) // 3] + 1, ids[-1] - 1, ids[-1]]
    ranges = [(cuts[0], cuts[1]), (cuts[2], cuts[3]), (cuts[4], cuts[4] + 10)]
    explained = pd.concat([deferred.pending.between(first, last).explain() for first, last in ranges])
    assert explained.index.is_unique and set(explained.index) == set(ids)
    assert explained.reindex(result.scores.index).tolist() == result.scores["churn_reasons"].tolist()


def test_one_pass_decision_and_probability_are_the_served_models(seeded):
    """The reasons' check reads the log-odds and the served probability from one pass of the base
    model where one model serves: both equal what the model itself computes."""
    _, result, _, x = seeded
    log_odds, probability = reasons.decision_and_probability(result.model, x)
    np.testing.assert_allclose(log_odds, reasons.decision(result.model, x), rtol=0, atol=1e-12)
    np.testing.assert_allclose(probability, result.model.predict_proba(x)[:, 1], rtol=0, atol=1e-12)


def test_moving_the_top_reason_to_typical_lowers_the_risk_of_high_risk_customers(seeded):
    """Faithfulness: what a reason blames, made typical, lowers the served probability."""
    _, result, _, x = seeded
    scores = result.scores
    high = scores.index[(scores["churn_risk"] == "high") & (scores["churn_reasons"].map(len) > 0)]
    assert len(high) > 100
    before = result.model.predict_proba(x.loc[high])[:, 1]
    tops = pd.Series([scores.at[i, "churn_reasons"][0]["feature"] for i in high], index=high)
    after = pd.Series(np.nan, index=high)
    for key, group in tops.groupby(tops):
        moved = reasons.move_to_typical(x.loc[group.index], group.index, key, result.typical)
        after[group.index] = result.model.predict_proba(moved)[:, 1]
    lowered = (after.to_numpy() < before).mean()
    print(f"faithfulness: {lowered:.1%} of {len(high)} high-risk customers")
    assert lowered >= 0.9, f"only {lowered:.1%} of high-risk customers"


def test_contributions_add_up_to_the_served_models_log_odds(seeded):
    _, result, _, x = seeded
    assert result.card.name.startswith("churn_")
    phi, expected = reasons.contributions(result.model, x)
    np.testing.assert_allclose(phi.sum(axis=1) + expected, reasons.decision(result.model, x), atol=1e-6)
    # The stored contribution of each numeric reason is the model's own contribution.
    for customer_id, stored in result.scores["churn_reasons"].head(200).items():
        for r in stored:
            if r["feature"] in x.columns:
                assert r["contribution"] == pytest.approx(phi.at[customer_id, r["feature"]], abs=1e-4)


def test_the_logistic_model_is_explained_by_its_own_terms(seeded):
    """The other candidate, served through the same calibration: coef * z, exactly."""
    _, result, _, x = seeded
    labels = (result.scores["churn_risk"] == "high").astype(int).reindex(x.index)
    model = churn._calibrated(churn._candidates(0, list(x.columns))["logistic_regression"], x, labels,
                              n_samples=len(x), seed=0)
    phi, expected = reasons.contributions(model, x)
    np.testing.assert_allclose(phi.sum(axis=1) + expected, reasons.decision(model, x), atol=1e-9)
    fold = reasons.fold_estimators(model)[0]
    average = pd.DataFrame([fold[0].mean_], columns=x.columns)  # the fold's own training mean
    np.testing.assert_allclose(reasons.contributions(fold, average)[0].to_numpy(), 0, atol=1e-9)


def test_low_risk_customers_see_what_keeps_them_safe(seeded):
    _, result, _, _ = seeded
    scores = result.scores
    for risk, direction, sign in (("low", "down", -1), ("high", "up", 1), ("medium", "up", 1)):
        lists = scores.loc[scores["churn_risk"] == risk, "churn_reasons"]
        assert (lists.map(len) > 0).mean() > 0.8, risk
        for found in lists:
            assert all(r["direction"] == direction and sign * r["contribution"] > 0 for r in found)


def test_no_reason_names_a_missing_or_unknown_value(seeded):
    _, result, buyers, _ = seeded
    for customer_id, found in result.scores["churn_reasons"].items():
        own = buyers.loc[customer_id]
        for r in found:
            if r["feature"] in buyers.columns:
                assert not np.isnan(own[r["feature"]]), (customer_id, r)
                assert r["value"] == pytest.approx(own[r["feature"]], abs=1e-3)
            else:
                assert r["value"] not in reasons.UNKNOWN_LEVELS and own[f"{r['feature']}={r['value']}"] == 1
            assert r["typical"] is not None
    one_timers = buyers.index[buyers["frequency"] == 1]
    silent = buyers.index[buyers["feedback_count"] == 0]
    named = result.scores["churn_reasons"].map(lambda rs: {r["feature"] for r in rs})
    assert not any(named[one_timers].map(lambda s: bool(s & {"mean_gap_days", "recency_gap_ratio"})))
    assert not any(named[silent].map(lambda s: bool(s & {"mean_rating", "mean_sentiment"})))


def test_a_resolved_call_is_not_a_complaint(seeded, as_of):
    """Logging an ordinary call leaves churn where it was; an unresolved complaint raises it."""
    demo, result, _, x = seeded
    customers = x.index[:400]
    when = as_of - pd.Timedelta(days=1)

    def probability_with(kind: str, outcome: str) -> np.ndarray:
        extra = pd.DataFrame({"customer_id": customers, "occurred_at": when, "kind": kind, "outcome": outcome})
        interactions = pd.concat([demo.interactions, extra], ignore_index=True)
        f = build_features(customers=demo.customers, orders=demo.orders, feedback=demo.feedback,
                           interactions=interactions, cutoff=as_of)
        return result.model.predict_proba(model_matrix(f.loc[customers])[list(result.columns)])[:, 1]

    before = result.model.predict_proba(x.loc[customers])[:, 1]
    np.testing.assert_array_equal(probability_with("call", "reached"), before)
    complained = probability_with("complaint", "unresolved")
    assert (complained - before).mean() > 0.01
    # Not for every customer: without monotonic constraints the trees may bend either way.
    assert (complained > before).sum() > (complained < before).sum()


def test_the_rescore_recomputes_reasons_with_the_stored_model(seeded, as_of):
    demo, result, _, _ = seeded
    snapshot = incremental.snapshot_build(orders=demo.orders, as_of=as_of, rfm_table=None, clv_result=None,
                                          churn_result=result, loyalty_result=None, monthly_discount_rate=0.01)
    at_risk = result.scores.index[result.scores["churn_risk"] == "medium"][:20]
    mine = demo.customers.loc[demo.customers["customer_id"].isin(at_risk)]
    frames = {"customers": mine, "orders": demo.orders.loc[demo.orders["customer_id"].isin(at_risk)],
              "feedback": demo.feedback.loc[demo.feedback["customer_id"].isin(at_risk)]}
    it = demo.interactions.loc[demo.interactions["customer_id"].isin(at_risk)]
    same = incremental.rescore(snapshot, **frames, interactions=it, as_of=as_of)
    # Same data, same model, same typical values: the full run's reasons exactly.
    stored = [result.scores.at[i, "churn_reasons"] for i in at_risk]
    assert [json.loads(s) for s in same.loc[at_risk, "churn_reasons"]] == stored
    complaints = pd.DataFrame({"customer_id": at_risk, "occurred_at": as_of - pd.Timedelta(days=1),
                               "kind": "complaint", "outcome": "unresolved"})
    after = incremental.rescore(snapshot, **frames, interactions=pd.concat([it, complaints]), as_of=as_of)
    changed = after["churn_probability"] != same["churn_probability"]
    assert changed.mean() > 0.5
    assert (after.loc[changed, "churn_reasons"] != same.loc[changed, "churn_reasons"]).mean() > 0.5
