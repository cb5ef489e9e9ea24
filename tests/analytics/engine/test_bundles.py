"""Association rules against the published Groceries answers (Hahsler et al. 2006; Lantz ch. 8).

groceries.csv: 9,835 baskets of a grocery store over 30 days, from the arules R package
(Hahsler, Hornik & Reutterer 2006), as distributed with Lantz, "Machine Learning with R".
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analytics.engine.bundles import (
    RULE_COLUMNS,
    baskets_from_items,
    baskets_from_lines,
    evaluate_recommender,
    item_frequencies,
    mine_rules,
    product_bundles,
    recommend_for_basket,
)

GROCERIES = Path(__file__).resolve().parents[2] / "data" / "groceries.csv"


@pytest.fixture(scope="module")
def groceries() -> list[tuple]:
    return baskets_from_lines(GROCERIES.read_text().splitlines())


@pytest.fixture(scope="module")
def lantz_rules(groceries) -> pd.DataFrame:
    return mine_rules(groceries, min_support=0.006, min_confidence=0.25, min_items=2)


def test_groceries_shape_and_top_items(groceries):
    assert len(groceries) == 9835
    counts = item_frequencies(groceries)
    assert len(counts) == 169  # trailing blanks in "cream cheese " must not split items
    assert counts.head(4).to_dict() == {
        "whole milk": 2513, "other vegetables": 1903, "rolls/buns": 1809, "soda": 1715,
    }


def test_lantz_rule_count_and_top_rule(lantz_rules):
    assert list(lantz_rules.columns) == RULE_COLUMNS
    assert len(lantz_rules) == 463
    top = lantz_rules.iloc[0]
    assert top["antecedents"] == ("herbs",)
    assert top["consequents"] == ("root vegetables",)
    assert top["support"] == pytest.approx(0.0070, abs=5e-5)
    assert top["confidence"] == pytest.approx(0.431, abs=5e-4)
    assert top["lift"] == pytest.approx(3.956, abs=5e-4)
    assert (top["rule_count"], top["antecedent_count"]) == (69, 160)


def test_rule_properties(lantz_rules):
    assert (lantz_rules["support"] >= 0.006 - 1e-12).all()
    assert (lantz_rules["confidence"] >= 0.25 - 1e-12).all()
    assert (lantz_rules["consequents"].map(len) == 1).all()
    # confidence and lift follow from the counts
    n = 9835
    conf = lantz_rules["rule_count"] / lantz_rules["antecedent_count"]
    lift = conf / (lantz_rules["consequent_count"] / n)
    np.testing.assert_allclose(lantz_rules["confidence"], conf, rtol=1e-9)
    np.testing.assert_allclose(lantz_rules["lift"], lift, rtol=1e-9)
    assert lantz_rules["lift"].is_monotonic_decreasing
    for antecedent, consequent in zip(lantz_rules["antecedents"], lantz_rules["consequents"]):
        assert list(antecedent) == sorted(antecedent)
        assert not set(antecedent) & set(consequent)


def test_low_support_high_confidence_count(groceries):
    rules = mine_rules(groceries, min_support=0.001, min_confidence=0.8, single_consequent=False)
    single = rules[rules["consequents"].map(len) == 1]
    assert len(single) == 410
    # 39 of them sit exactly on 0.8 in counts; the tolerance keeps them all
    on_threshold = single[single["rule_count"] * 5 == single["antecedent_count"] * 4]
    assert len(on_threshold) > 0


def test_miners_agree(groceries):
    a = mine_rules(groceries[:3000], min_support=0.01, min_confidence=0.2, algorithm="apriori")
    f = mine_rules(groceries[:3000], min_support=0.01, min_confidence=0.2, algorithm="fpgrowth")
    pd.testing.assert_frame_equal(a, f)


def test_recommender_beats_popularity_on_holdout(groceries):
    card = evaluate_recommender(groceries, min_support=0.006, min_confidence=0.25, seed=0)
    assert card.metrics["holdout_baskets"] > 1000
    assert card.metrics["hit_rate"] > card.baseline["hit_rate"]
    again = evaluate_recommender(groceries, min_support=0.006, min_confidence=0.25, seed=0)
    assert again == card


def test_recommend_for_basket_picks_most_confident_unseen_item():
    rules = pd.DataFrame({
        "antecedents": [("a",), ("a", "b"), ("c",)],
        "consequents": [("x",), ("y",), ("a",)],
        "confidence": [0.5, 0.9, 0.99],
        "lift": [2.0, 1.5, 3.0],
    })
    assert recommend_for_basket(rules, ["a", "b"]) == "y"
    assert recommend_for_basket(rules, ["a"]) == "x"
    assert recommend_for_basket(rules, ["a", "c"]) == "x"  # "a" is already in the basket
    assert recommend_for_basket(rules, ["z"], fallback=["z", "q"]) == "q"
    assert recommend_for_basket(rules, ["z"]) is None


def _synthetic_items(seed: int = 7, n_orders: int = 600) -> pd.DataFrame:
    """Product 1 almost always comes with product 2; product 10 is the best seller; the rest is noise."""
    rng = np.random.default_rng(seed)
    rows = []
    start = pd.Timestamp("2024-01-01")
    for order_id in range(1, n_orders + 1):
        products = set(rng.choice(np.arange(11, 30), size=rng.integers(1, 3), replace=False).tolist())
        if rng.random() < 0.5:
            products.add(10)
        if rng.random() < 0.25:
            products |= {1, 2} if rng.random() < 0.9 else {1}
        for product_id in products:
            rows.append((order_id, order_id % 50, product_id, 1, 9.5, start + pd.Timedelta(hours=order_id)))
    return pd.DataFrame(rows, columns=["order_id", "customer_id", "product_id", "quantity", "unit_price",
                                       "ordered_at"])


def test_product_bundles_from_items_frame():
    items = _synthetic_items()
    as_of = pd.Timestamp("2024-01-20")
    baskets = baskets_from_items(items, as_of=as_of)
    assert baskets.index.max() <= (as_of - pd.Timestamp("2024-01-01")) / pd.Timedelta(hours=1)
    result = product_bundles(items, as_of=as_of, min_support=0.05, min_confidence=0.5, seed=1)
    top = result.rules.iloc[0]
    assert {1, 2} <= set(top["antecedents"]) | set(top["consequents"])
    one_to_two = result.rules[(result.rules["antecedents"] == (1,)) & (result.rules["consequents"] == (2,))]
    assert len(one_to_two) == 1
    assert one_to_two["confidence"].iloc[0] > 0.8 and one_to_two["lift"].iloc[0] > 2
    assert result.card.metrics["hit_rate"] > result.card.baseline["hit_rate"]
    assert result.item_counts.index[0] == 10


def test_empty_inputs_give_empty_rules():
    empty_items = pd.DataFrame(columns=["order_id", "customer_id", "product_id", "quantity", "unit_price",
                                        "ordered_at"])
    assert baskets_from_items(empty_items, as_of=pd.Timestamp("2024-01-01")).empty
    assert mine_rules([]).empty
    assert list(mine_rules([["a"], ["b"]], min_support=0.9).columns) == RULE_COLUMNS
