"""Short, rule-based profile tags per customer ("big spender", "weekend shopper", ...).

Tags are deliberately rules, not a model: staff must be able to tell a customer why they carry
a tag, and marketing uses them as filters. Each rule and its constant are below; a customer can
carry several tags or none.

| tag                 | rule                                                                     |
| ------------------- | ------------------------------------------------------------------------ |
| big spender         | total spend in the top ``1 - BIG_SPENDER_QUANTILE`` (10 %) of buyers      |
| discount-driven     | >= ``DISCOUNT_MIN_LINES`` lines and > ``DISCOUNT_SHARE`` of them bought   |
|                     | at least ``DISCOUNT_MIN_CUT`` below list price (needs items and products) |
| weekend shopper     | >= ``WEEKEND_MIN_ORDERS`` orders and > ``WEEKEND_SHARE`` on Sat/Sun       |
| frequent complainer | >= ``COMPLAINER_MIN_COMPLAINTS`` complaints in the last 365 days          |
| loyal regular       | >= ``LOYAL_MIN_ORDERS_365`` orders in 365 days and last order within      |
|                     | ``LOYAL_MAX_RECENCY_DAYS``                                                |
| new customer        | first seen (signup or first order) within ``NEW_CUSTOMER_DAYS``           |
| lapsed              | has ordered, but not in the last ``LAPSED_DAYS``, and is not new          |

Surprises: "discount-driven" compares the price paid with the product's *current* list price, so
a later list-price rise makes old full-price purchases look discounted; the 5 % minimum cut
keeps small rounding and price drift out. Complaints are counted per route (feedback with a
reason, complaint contacts) and the larger count is used, because one incident is often logged
on both routes.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from .features import build_features

BIG_SPENDER_QUANTILE = 0.9
# A line counts as discounted when paid at least 5 % under list price (below that it is rounding
# or price drift, see the module docstring); the customer must buy most lines that way, over at
# least 3 lines, for the tag to say something about them rather than about one promotion.
DISCOUNT_MIN_CUT = 0.05
DISCOUNT_SHARE = 0.5
DISCOUNT_MIN_LINES = 3
# Saturday and Sunday are 2/7 = 29 % of days; 60 % of orders on them is a clear habit, and 3
# orders is the fewest for which a share means anything.
WEEKEND_SHARE = 0.6
WEEKEND_MIN_ORDERS = 3
COMPLAINER_MIN_COMPLAINTS = 2
COMPLAINT_WINDOW_DAYS = 365
# Roughly every two months, and seen within the last two months.
LOYAL_MIN_ORDERS_365 = 6
LOYAL_MAX_RECENCY_DAYS = 60
NEW_CUSTOMER_DAYS = 60
# Half a year without an order: well past the typical gap of a regular (under 60 days).
LAPSED_DAYS = 180

TAGS = (
    "big spender", "discount-driven", "weekend shopper", "frequent complainer",
    "loyal regular", "new customer", "lapsed",
)
SATURDAY = 5  # pandas day_of_week: Monday = 0


def _per_customer(values: pd.Series, index: pd.Index, fill=0) -> pd.Series:
    return values.reindex(index).fillna(fill)


def customer_tags(
    *,
    customers: pd.DataFrame,
    orders: pd.DataFrame,
    items: pd.DataFrame | None = None,
    products: pd.DataFrame | None = None,
    feedback: pd.DataFrame | None = None,
    interactions: pd.DataFrame | None = None,
    as_of: pd.Timestamp,
) -> pd.DataFrame:
    """Tags of every customer known before ``as_of``.

    Returns a frame indexed by customer_id with one boolean column per tag (named as in
    ``TAGS`` with spaces and hyphens as underscores) and ``tags``, the list of tag names in
    ``TAGS`` order. "discount-driven" is never set when items or products are not given.
    """
    as_of = pd.Timestamp(as_of)
    f = build_features(customers=customers, orders=orders, cutoff=as_of)
    index = f.index
    past = orders.loc[orders["ordered_at"] < as_of]
    out = pd.DataFrame(index=index)

    buyers = f.loc[f["frequency"] > 0, "monetary_total"]
    threshold = buyers.quantile(BIG_SPENDER_QUANTILE) if len(buyers) else np.inf
    out["big_spender"] = (f["frequency"] > 0) & (f["monetary_total"] >= threshold) & (f["monetary_total"] > 0)

    if items is not None and products is not None:
        lines = items.loc[items["ordered_at"] < as_of, ["customer_id", "product_id", "unit_price"]]
        lines = lines.merge(products[["product_id", "price"]], on="product_id", how="inner")
        discounted = lines["unit_price"] <= lines["price"] * (1 - DISCOUNT_MIN_CUT)
        n_lines = _per_customer(lines.groupby("customer_id").size(), index)
        share = _per_customer(discounted.groupby(lines["customer_id"]).mean(), index, 0.0)
        out["discount_driven"] = (n_lines >= DISCOUNT_MIN_LINES) & (share > DISCOUNT_SHARE)
    else:
        out["discount_driven"] = False

    weekend = past["ordered_at"].dt.day_of_week >= SATURDAY
    weekend_share = _per_customer(weekend.groupby(past["customer_id"]).mean(), index, 0.0)
    out["weekend_shopper"] = (f["frequency"] >= WEEKEND_MIN_ORDERS) & (weekend_share > WEEKEND_SHARE)

    since = as_of - pd.Timedelta(days=COMPLAINT_WINDOW_DAYS)
    counts = [pd.Series(0, index=index)]
    if feedback is not None and len(feedback):
        fb = feedback.loc[(feedback["created_at"] >= since) & (feedback["created_at"] < as_of)]
        fb = fb.loc[fb["complaint_reason"].fillna("").astype(str).str.len() > 0]
        counts.append(_per_customer(fb.groupby("customer_id").size(), index))
    if interactions is not None and len(interactions):
        it = interactions.loc[
            (interactions["occurred_at"] >= since) & (interactions["occurred_at"] < as_of)
            & (interactions["kind"] == "complaint")
        ]
        counts.append(_per_customer(it.groupby("customer_id").size(), index))
    complaints = pd.concat(counts, axis=1).max(axis=1)
    out["frequent_complainer"] = complaints >= COMPLAINER_MIN_COMPLAINTS

    out["loyal_regular"] = (f["orders_365d"] >= LOYAL_MIN_ORDERS_365) & (
        f["recency_days"] <= LOYAL_MAX_RECENCY_DAYS
    )
    out["new_customer"] = f["tenure_days"] <= NEW_CUSTOMER_DAYS
    out["lapsed"] = (f["frequency"] > 0) & (f["recency_days"] > LAPSED_DAYS) & ~out["new_customer"]

    out = out.astype(bool)
    columns = [t.replace(" ", "_").replace("-", "_") for t in TAGS]
    flags = out[columns].to_numpy()
    names = np.array(TAGS, dtype=object)
    out["tags"] = [list(names[row]) for row in flags]
    out.index.name = "customer_id"
    return out
