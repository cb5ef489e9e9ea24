"""Loyalty (repeat purchase in the next 90 days)."""
from __future__ import annotations

import pandas as pd
import pytest

from analytics.engine import churn, loyalty


@pytest.fixture(scope="module")
def result(demo, as_of):
    return loyalty.predict_loyalty(customers=demo.customers, orders=demo.orders, feedback=demo.feedback,
                                   interactions=demo.interactions, as_of=as_of)


def test_beats_frequency_baseline_on_demo_data(result):
    card = result.card
    assert card.metrics["roc_auc"] > card.baseline["roc_auc"] + 0.05
    assert card.metrics["brier"] < card.baseline["brier"]
    assert card.params["n_eval"] > 1000


def test_scores_are_probabilities_for_buyers(result, demo, as_of):
    buyers = set(demo.orders.loc[demo.orders["ordered_at"] < as_of, "customer_id"])
    assert set(result.scores.index) == buyers
    s = result.scores["loyalty_score"]
    assert s.between(0, 1).all()
    assert s.std() > 0.1  # a model that says the same thing for everyone is not ranking


def test_agrees_with_churn_in_direction(result, demo, as_of):
    """Same label reversed, different model and features treatment: the rankings must oppose."""
    churn_scores = churn.predict_churn(customers=demo.customers, orders=demo.orders, as_of=as_of).scores
    joined = result.scores.join(churn_scores["churn_probability"], how="inner")
    assert joined["loyalty_score"].corr(joined["churn_probability"], method="spearman") < -0.7


def test_recent_frequent_buyer_scores_above_lapsed_one(result, demo, as_of):
    orders = demo.orders.loc[demo.orders["ordered_at"] < as_of]
    last = orders.groupby("customer_id")["ordered_at"].max()
    count = orders.groupby("customer_id").size()
    regular = count[(count >= 10) & (last >= as_of - pd.Timedelta(days=14))].index
    lapsed = count[last < as_of - pd.Timedelta(days=365)].index
    assert len(regular) > 20 and len(lapsed) > 20
    s = result.scores["loyalty_score"]
    assert s.loc[regular].median() > 0.6 > 0.2 > s.loc[lapsed].median()


def test_deterministic_for_a_seed(small_demo, as_of):
    kw = dict(customers=small_demo.customers, orders=small_demo.orders, as_of=as_of, seed=2)
    a, b = loyalty.predict_loyalty(**kw), loyalty.predict_loyalty(**kw)
    pd.testing.assert_frame_equal(a.scores, b.scores)
    assert a.card == b.card
