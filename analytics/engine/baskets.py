"""What the product models read of the order lines: each order's distinct products.

The recommender (:mod:`analytics.engine.recommend`) counts, per customer and product, the orders
that contained the product, holds out each customer's last order, and links feedback to the
latest order before it; the bundle miner (:mod:`analytics.engine.bundles`) reads one basket of
distinct products per order. Neither looks at a line's quantity or price, nor at a product
listed twice on one order. So both read this frame, one row per distinct (order, product) of
the orders up to the cutoff, sorted by order and product:

``order_id``, ``customer_id``, ``product_id``   int64
``ordered_at``                                  datetime64[ns], naive UTC

:func:`basket_lines` builds it from an order-lines frame (the path every database has, and the
tests'); on PostgreSQL the adapter has the database group the lines by order (one row per order
with its sorted product ids) and expands those rows with :func:`basket_lines_from_orders`, so
the order lines never become a pandas frame. Both must agree exactly
(``tests/analytics/test_baskets_postgres.py``).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

BASKET_COLUMNS = ["order_id", "customer_id", "product_id", "ordered_at"]


def basket_lines(items: pd.DataFrame, *, as_of: pd.Timestamp) -> pd.DataFrame:
    """The distinct (order, product) lines of ``items`` ordered at or before ``as_of``."""
    lines = items.loc[(items["ordered_at"] <= pd.Timestamp(as_of)).to_numpy(), BASKET_COLUMNS]
    lines = lines.drop_duplicates(["order_id", "product_id"])
    lines = lines.sort_values(["order_id", "product_id"], kind="stable").reset_index(drop=True)
    return lines.astype({"order_id": "int64", "customer_id": "int64", "product_id": "int64",
                         "ordered_at": "datetime64[ns]"})


def basket_lines_from_orders(*, order_ids: np.ndarray, customer_ids: np.ndarray,
                             ordered_at: np.ndarray, basket_sizes: np.ndarray,
                             product_ids: np.ndarray) -> pd.DataFrame:
    """The same frame from one entry per order, in order id order: its customer, time and the
    number of its distinct products, whose ids (ascending within each order) follow each other
    in ``product_ids``. Every column is one ``np.repeat``: no Python object per line."""
    sizes = np.asarray(basket_sizes, dtype="int64")
    if int(sizes.sum()) != len(product_ids):
        raise ValueError(f"{len(product_ids)} product ids for baskets of {int(sizes.sum())} products")
    return pd.DataFrame({
        "order_id": np.repeat(np.asarray(order_ids, dtype="int64"), sizes),
        "customer_id": np.repeat(np.asarray(customer_ids, dtype="int64"), sizes),
        "product_id": np.asarray(product_ids, dtype="int64"),
        "ordered_at": np.repeat(np.asarray(ordered_at, dtype="datetime64[ns]"), sizes),
    })
