"""The product models' baskets: each order's distinct products, from order lines or from one entry
per order (the database's grouped form), the same frame either way."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analytics.engine.baskets import BASKET_COLUMNS, basket_lines, basket_lines_from_orders
from analytics.engine.pipeline import PRODUCT_PART, run_engine
from customers.demo.generator import generate_demo

AS_OF = pd.Timestamp("2026-06-30 12:00")


def _items() -> pd.DataFrame:
    """Lines out of order: order 7 lists product 30 twice, order 5 is at the cutoff, order 9
    after it."""
    return pd.DataFrame({
        "order_id": [7, 5, 7, 7, 9, 3],
        "customer_id": [2, 1, 2, 2, 1, 1],
        "product_id": [30, 10, 20, 30, 10, 30],
        "quantity": [1, 2, 1, 4, 1, 1],
        "unit_price": [1.0, 2.0, 3.0, 1.0, 2.0, 5.0],
        "ordered_at": pd.to_datetime(["2026-06-01 00:00", "2026-06-30 12:00", "2026-06-01 00:00", "2026-06-01 00:00",
                                      "2026-06-30 12:00:01", "2026-01-15 00:00"], format="ISO8601"),
    })


def test_basket_lines_are_distinct_sorted_and_up_to_the_cutoff():
    lines = basket_lines(_items(), as_of=AS_OF)
    assert list(lines.columns) == BASKET_COLUMNS
    assert list(zip(lines["order_id"], lines["product_id"])) == [(3, 30), (5, 10), (7, 20), (7, 30)]
    assert lines["customer_id"].tolist() == [1, 1, 2, 2]
    assert lines.index.tolist() == [0, 1, 2, 3]


def test_lines_from_one_entry_per_order_equal_the_lines_from_order_lines():
    from_orders = basket_lines_from_orders(
        order_ids=np.array([3, 5, 7]), customer_ids=np.array([1, 1, 2]),
        ordered_at=pd.to_datetime(["2026-01-15", "2026-06-30 12:00", "2026-06-01"], format="ISO8601").to_numpy(),
        basket_sizes=np.array([1, 1, 2]), product_ids=np.array([30, 10, 20, 30]))
    pd.testing.assert_frame_equal(from_orders, basket_lines(_items(), as_of=AS_OF))
    with pytest.raises(ValueError, match="product ids"):
        basket_lines_from_orders(order_ids=np.array([3]), customer_ids=np.array([1]),
                                 ordered_at=pd.to_datetime(["2026-01-15"]).to_numpy(),
                                 basket_sizes=np.array([2]), product_ids=np.array([30]))


def test_the_product_part_reads_the_baskets_when_given_them():
    """Given basket lines, the product part reads no order line: the same output as from the
    lines themselves, with an empty items frame."""
    data = generate_demo(300, seed=5, as_of=AS_OF.normalize())
    common = {"customers": data.customers, "orders": None, "products": data.products,
              "feedback_frame": data.feedback, "interactions": data.interactions, "as_of": AS_OF,
              "parts": frozenset({PRODUCT_PART})}
    from_items = run_engine(**common, items=data.items)
    from_lines = run_engine(**common, items=data.items.iloc[:0],
                            basket_lines=basket_lines(data.items, as_of=AS_OF))
    assert not from_items.skipped and len(from_items.recommendations) > 1000 and len(from_items.rules) > 0
    assert from_lines.cards == from_items.cards
    pd.testing.assert_frame_equal(from_lines.recommendations, from_items.recommendations)
    pd.testing.assert_frame_equal(from_lines.rules, from_items.rules)
