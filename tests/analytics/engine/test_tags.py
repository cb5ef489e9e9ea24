"""Rule-based profile tags."""
from __future__ import annotations

import pandas as pd

from analytics.engine import tags

AS_OF = pd.Timestamp("2026-06-30")  # a Tuesday


def _tags_of(result, customer_id):
    return set(result.loc[customer_id, "tags"])


def test_known_customers_get_exactly_their_tags(make_frames):
    orders = [
        # 1: loyal regular, weekday shopper: 8 orders in the last year, the last 10 days ago
        *[(1, str((AS_OF - pd.Timedelta(days=10 + 40 * k)).date()), 20.0) for k in range(8)],
        # 2: weekend shopper: 3 of 4 orders on a Saturday or Sunday, last one 100 days ago
        (2, "2026-03-21", 15.0), (2, "2026-03-22", 15.0), (2, "2026-03-14", 15.0), (2, "2026-03-18", 15.0),
        # 3: lapsed big spender: one huge order two years ago
        (3, "2024-06-05", 5000.0),
        # 4: new customer, first order last week
        (4, "2026-06-24", 30.0),
    ]
    customers = [{"customer_id": 4, "signup_date": "2026-06-20"},
                 {"customer_id": 5, "signup_date": "2026-06-01"},
                 {"customer_id": 3, "signup_date": "2024-06-01"}]
    feedback = [{"customer_id": 2, "created_at": "2026-03-25", "complaint_reason": "delivery"},
                {"customer_id": 2, "created_at": "2025-09-01", "complaint_reason": "quality"},
                {"customer_id": 1, "created_at": "2025-01-10", "complaint_reason": "price"},
                {"customer_id": 1, "created_at": "2025-06-01", "complaint_reason": "price"}]
    # Customer 1's complaints are more than 365 days old, so they do not count.
    f = make_frames(orders=orders, customers=customers, feedback=feedback,
                    interactions=[(2, "2026-03-25", "complaint"), (4, "2026-06-25", "call")])
    result = tags.customer_tags(**f, as_of=AS_OF)
    assert _tags_of(result, 1) == {"loyal regular"}
    assert _tags_of(result, 2) == {"weekend shopper", "frequent complainer"}
    assert _tags_of(result, 3) == {"big spender", "lapsed"}
    assert _tags_of(result, 4) == {"new customer"}
    assert _tags_of(result, 5) == {"new customer"}  # signed up, never ordered
    assert result["discount_driven"].sum() == 0  # no items or products given


def test_same_incident_on_two_routes_counts_once(make_frames):
    f = make_frames(orders=[(1, "2026-01-05", 10.0)],
                    feedback=[{"customer_id": 1, "created_at": "2026-02-01", "complaint_reason": "delivery"}],
                    interactions=[(1, "2026-02-01", "complaint")])
    assert not tags.customer_tags(**f, as_of=AS_OF).loc[1, "frequent_complainer"]


def test_discount_driven_needs_most_lines_below_list_price(make_frames):
    f = make_frames(orders=[(1, "2026-01-05", 10.0), (2, "2026-01-06", 10.0)])
    items = pd.DataFrame({
        "order_id": [1, 1, 1, 2, 2, 2], "customer_id": [1, 1, 1, 2, 2, 2], "product_id": [1, 2, 3, 1, 2, 3],
        "quantity": 1, "unit_price": [8.0, 8.0, 10.0, 10.0, 9.8, 8.0],
        "ordered_at": pd.to_datetime(["2026-01-05"] * 3 + ["2026-01-06"] * 3),
    })
    products = pd.DataFrame({"product_id": [1, 2, 3], "sku": "", "name": "", "category": "", "price": 10.0})
    result = tags.customer_tags(**f, items=items, products=products, as_of=AS_OF)
    assert result.loc[1, "discount_driven"]  # 2 of 3 lines 20 % off
    assert not result.loc[2, "discount_driven"]  # one line 20 % off, one only 2 % off


def test_demo_tag_shares_are_plausible(demo, as_of):
    result = tags.customer_tags(customers=demo.customers, orders=demo.orders, items=demo.items,
                                products=demo.products, feedback=demo.feedback,
                                interactions=demo.interactions, as_of=as_of)
    assert len(result) == len(demo.customers)
    buyers = (demo.orders["ordered_at"] < as_of).groupby(demo.orders["customer_id"]).any().sum()
    assert abs(result["big_spender"].sum() - 0.1 * buyers) <= 2
    shares = result.drop(columns="tags").mean()
    assert (shares < 0.6).all()
    assert not (result["lapsed"] & result["loyal_regular"]).any()
    assert not (result["lapsed"] & result["new_customer"]).any()
    assert result["tags"].map(len).equals(result.drop(columns="tags").sum(axis=1))
