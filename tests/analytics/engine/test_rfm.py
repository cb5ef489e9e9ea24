"""RFM scores and R-F segments: known answers, the 25-cell grid, ties, properties."""
from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from analytics.engine import rfm

AS_OF = pd.Timestamp("2024-06-30 12:00")

# The R-F grid as printed in /work/shared/data/README.md.
README_SEGMENTS = {"Hibernating", "At Risk", "Can't Lose Them", "About to Sleep", "Need Attention",
                   "Loyal Customers", "Promising", "New Customers", "Potential Loyalists", "Champions"}


def make_orders(rows: list[tuple[int, float, float]]) -> pd.DataFrame:
    """rows: (customer_id, days before AS_OF, amount)."""
    return pd.DataFrame({
        "order_id": np.arange(len(rows), dtype="int64"),
        "customer_id": np.array([r[0] for r in rows], dtype="int64"),
        "ordered_at": [AS_OF - pd.Timedelta(days=r[1]) for r in rows],
        "total_amount": np.array([r[2] for r in rows], dtype="float64"),
        "channel": "web",
    })


def test_grid_covers_all_25_combinations_exactly_once():
    hits = {(r, f): 0 for r in range(1, 6) for f in range(1, 6)}
    for r_scores, f_scores, _ in rfm.RF_SEGMENT_TABLE:
        for r in r_scores:
            for f in f_scores:
                hits[(r, f)] += 1
    assert set(hits.values()) == {1}
    assert len(rfm.RF_SEGMENTS) == 25
    assert set(rfm.SEGMENT_NAMES) == README_SEGMENTS


def test_grid_known_cells():
    expected = {(1, 1): "Hibernating", (2, 4): "At Risk", (2, 5): "Can't Lose Them",
                (3, 2): "About to Sleep", (3, 3): "Need Attention", (3, 4): "Loyal Customers",
                (4, 5): "Loyal Customers", (4, 1): "Promising", (5, 1): "New Customers",
                (4, 3): "Potential Loyalists", (5, 2): "Potential Loyalists", (5, 5): "Champions"}
    for cell, name in expected.items():
        assert rfm.RF_SEGMENTS[cell] == name, cell


def test_known_scores_on_ten_customers():
    # Customer i (1..10): last order i*10 days ago, i orders of 2520/i (exact: 2520 = lcm(1..10)).
    rows = [(i, i * 10 + k, 2520.0 / i) for i in range(1, 11) for k in range(i)]
    out = rfm.rfm_scores(make_orders(rows), as_of=AS_OF)
    assert list(out.index) == list(range(1, 11))
    assert list(out["order_count"]) == list(range(1, 11))
    assert (out["total_spent"] == 2520.0).all()
    np.testing.assert_allclose(out["recency_days"], np.arange(1, 11) * 10.0)
    # Most recent = customer 1 -> R 5; most orders = customer 10 -> F 5; two customers per bin.
    assert list(out["rfm_r"]) == [5, 5, 4, 4, 3, 3, 2, 2, 1, 1]
    assert list(out["rfm_f"]) == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]
    # Equal spend everywhere: the tie is broken by customer_id, lower id ranks lower.
    assert list(out["rfm_m"]) == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]
    assert out.loc[1, "rfm_segment"] == "New Customers"
    assert out.loc[10, "rfm_segment"] == "Can't Lose Them"
    assert out.loc[5, "rfm_segment"] == "Need Attention"
    assert out.loc[1, "rfm_score"] == "511"


def test_orders_after_as_of_are_ignored():
    orders = make_orders([(1, 5, 10.0), (1, -3, 500.0), (2, 40, 20.0), (3, -1, 7.0)])
    out = rfm.rfm_scores(orders, as_of=AS_OF)
    assert list(out.index) == [1, 2]
    assert out.loc[1, "order_count"] == 1 and out.loc[1, "total_spent"] == 10.0
    assert out.loc[1, "recency_days"] == 5.0
    assert out.loc[1, "last_order_at"] == AS_OF - pd.Timedelta(days=5)


def test_ties_are_deterministic_and_independent_of_row_order():
    rows = [(cid, 7, 50.0) for cid in (42, 7, 19, 3, 88)]
    orders = make_orders(rows)
    out = rfm.rfm_scores(orders, as_of=AS_OF)
    shuffled = rfm.rfm_scores(orders.sample(frac=1, random_state=1), as_of=AS_OF)
    pd.testing.assert_frame_equal(out, shuffled)
    # Identical customers: score follows customer_id.
    assert list(out.sort_index()["rfm_f"]) == [1, 2, 3, 4, 5]


def test_empty_orders_give_empty_table():
    out = rfm.rfm_scores(make_orders([]), as_of=AS_OF)
    assert out.empty and list(out.columns) == rfm.RFM_COLUMNS


orders_strategy = st.lists(
    st.tuples(st.integers(1, 40), st.integers(-30, 400), st.floats(0, 1000, allow_nan=False)),
    min_size=1, max_size=120)


@settings(max_examples=60, deadline=None)
@given(orders_strategy)
def test_score_properties(rows):
    orders = make_orders([(c, float(d), a) for c, d, a in rows])
    out = rfm.rfm_scores(orders, as_of=AS_OF)
    n = len(out)
    assert n == len({c for c, d, _ in rows if d >= 0})
    if n == 0:
        return
    for col in ("rfm_r", "rfm_f", "rfm_m"):
        assert out[col].between(1, 5).all()
        counts = out[col].value_counts()
        assert counts.max() - counts.min() <= 1 or n < 5
    assert set(out["rfm_segment"]) <= README_SEGMENTS
    assert (out["recency_days"] >= 0).all()
    # Monotone: a strictly more recent customer never has a lower R score, etc.
    for value, score, sign in (("recency_days", "rfm_r", -1), ("order_count", "rfm_f", 1),
                               ("total_spent", "rfm_m", 1)):
        order = np.argsort(sign * out[value].to_numpy(), kind="stable")
        v = sign * out[value].to_numpy()[order]
        s = out[score].to_numpy()[order]
        strictly_better = v[1:] > v[:-1]
        assert (s[1:][strictly_better] >= s[:-1][strictly_better]).all()
    again = rfm.rfm_scores(orders.iloc[::-1], as_of=AS_OF)
    pd.testing.assert_frame_equal(out, again)
