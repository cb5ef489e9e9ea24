"""Recency, frequency, monetary (RFM) scores and the named R-F segments.

RFM is the oldest customer-value heuristic in direct marketing (Hughes, "Strategic Database
Marketing", 1994): rank customers on how recently they bought, how often, and how much, and cut
each ranking into quintiles. It is kept next to the probabilistic CLV model because staff can read
it at a glance and because its segment names are what marketers already use.

Choices that matter:

* Scores are quintiles of a *strict* ranking. Customers with equal values are ordered by
  ``customer_id`` (lower id ranks lower), so quintiles have exactly equal sizes (up to one
  customer) and the same input always gives the same scores. The surprising side effect: two
  customers with identical history can get adjacent scores when they straddle a quintile border.
  Value-based cuts (``pd.qcut``) would avoid that but break down on the heavy ties of real order
  counts (most customers have 1 order), leaving whole quintiles empty.
* 5 is always best: most recent, most orders, most money.
* F is the number of orders, M the total spent (not the average order): a "big spender" in this
  CRM is someone who brought in a lot of money.
* The segment uses R and F only, following the widely used R-F grid reproduced in
  ``/work/shared/data/README.md`` (``RF_SEGMENT_TABLE`` below); it covers all 25 combinations
  exactly once, which the tests check.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from .order_summary import order_summary

N_SCORE_BINS = 5  # quintiles

# (R scores, F scores, segment). Read as: a customer whose R score is in the first range and whose
# F score is in the second belongs to the segment.
RF_SEGMENT_TABLE: tuple[tuple[range, range, str], ...] = (
    (range(1, 3), range(1, 3), "Hibernating"),
    (range(1, 3), range(3, 5), "At Risk"),
    (range(1, 3), range(5, 6), "Can't Lose Them"),
    (range(3, 4), range(1, 3), "About to Sleep"),
    (range(3, 4), range(3, 4), "Need Attention"),
    (range(3, 5), range(4, 6), "Loyal Customers"),
    (range(4, 5), range(1, 2), "Promising"),
    (range(5, 6), range(1, 2), "New Customers"),
    (range(4, 6), range(2, 4), "Potential Loyalists"),
    (range(5, 6), range(4, 6), "Champions"),
)


def rf_segment_map() -> dict[tuple[int, int], str]:
    """Expand ``RF_SEGMENT_TABLE`` to {(r, f): segment}; fails loudly on an overlap."""
    mapping: dict[tuple[int, int], str] = {}
    for r_scores, f_scores, name in RF_SEGMENT_TABLE:
        for r in r_scores:
            for f in f_scores:
                if (r, f) in mapping:
                    raise ValueError(f"R-F table assigns ({r}, {f}) twice")
                mapping[(r, f)] = name
    return mapping


RF_SEGMENTS = rf_segment_map()
SEGMENT_NAMES = tuple(dict.fromkeys(name for _, _, name in RF_SEGMENT_TABLE))

RFM_COLUMNS = ["order_count", "total_spent", "first_order_at", "last_order_at", "recency_days",
               "rfm_r", "rfm_f", "rfm_m", "rfm_score", "rfm_segment"]


def quintile_scores(values: pd.Series, *, higher_is_better: bool = True) -> pd.Series:
    """Scores 1..N_SCORE_BINS from a strict ranking of ``values`` (index = customer_id).

    Stable order: by value, then by customer_id; rank k of n (1-based) gets
    ``ceil(k * 5 / n)``, so the bins differ in size by at most one.
    """
    n = len(values)
    if n == 0:
        return pd.Series([], index=values.index, dtype="int64")
    v = values.to_numpy(dtype="float64")
    ids = np.asarray(values.index, dtype="int64")
    order = np.lexsort((ids, v if higher_is_better else -v))
    rank = np.empty(n, dtype="int64")
    rank[order] = np.arange(1, n + 1)
    scores = np.ceil(rank * N_SCORE_BINS / n).astype("int64")
    return pd.Series(scores, index=values.index, dtype="int64")


def rfm_scores(orders: pd.DataFrame, *, as_of: pd.Timestamp,
               summary: pd.DataFrame | None = None) -> pd.DataFrame:
    """RFM table indexed by customer_id for customers with at least one order at or before as_of.

    Columns: order_count, total_spent, first_order_at, last_order_at, recency_days (float days
    from the last order to ``as_of``), rfm_r, rfm_f, rfm_m (1..5, 5 best), rfm_score (the
    conventional three-digit code, e.g. "545") and rfm_segment (R-F grid name). ``summary`` is
    the orders' :func:`~analytics.engine.order_summary.order_summary` at ``as_of`` (inclusive)
    when the caller has it (PostgreSQL computes it where the orders are); otherwise it is
    computed from ``orders``.
    """
    as_of = pd.Timestamp(as_of)
    if summary is None:
        summary = order_summary(orders, cutoff=as_of, inclusive=True)
    out = pd.DataFrame({
        "order_count": summary["order_count"].astype("int64"),
        "total_spent": summary["total_cents"].to_numpy(dtype="float64") / 100,
        "first_order_at": summary["first_order_at"],
        "last_order_at": summary["last_order_at"],
    }, index=summary.index)
    out.index = out.index.astype("int64")
    out.index.name = "customer_id"
    out["recency_days"] = (as_of - out["last_order_at"]) / pd.Timedelta(days=1)
    out["rfm_r"] = quintile_scores(out["recency_days"], higher_is_better=False)
    out["rfm_f"] = quintile_scores(out["order_count"])
    out["rfm_m"] = quintile_scores(out["total_spent"])
    out["rfm_score"] = (out["rfm_r"].astype(str) + out["rfm_f"].astype(str) + out["rfm_m"].astype(str))
    out["rfm_segment"] = [RF_SEGMENTS[(r, f)] for r, f in zip(out["rfm_r"], out["rfm_f"])]
    return out[RFM_COLUMNS]
