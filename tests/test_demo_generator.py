"""The demo generator: deterministic, within schema, roughly calibrated, and carrying the
behaviour the analytics are supposed to find (seasonality, co-purchases, complaint-driven churn).
"""
from __future__ import annotations

import re

import numpy as np
import phonenumbers
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analytics.engine.frames import (
    CUSTOMER_COLUMNS,
    FEEDBACK_COLUMNS,
    INTERACTION_COLUMNS,
    ITEM_COLUMNS,
    ORDER_COLUMNS,
    PRODUCT_COLUMNS,
)
from customers.demo.generator import CATEGORIES, DemoData, generate_demo

AS_OF = pd.Timestamp("2026-11-01")
FRAMES = ("customers", "products", "orders", "items", "feedback", "interactions", "latent")


@pytest.fixture(scope="module")
def demo() -> DemoData:
    return generate_demo(2_000, seed=11, as_of=AS_OF)


def test_same_seed_gives_identical_frames(demo):
    again = generate_demo(2_000, seed=11, as_of=AS_OF)
    for name in FRAMES:
        pd.testing.assert_frame_equal(getattr(demo, name), getattr(again, name), check_exact=True)


def test_different_seed_gives_different_data(demo):
    other = generate_demo(2_000, seed=12, as_of=AS_OF)
    assert len(other.orders) != len(demo.orders) or not other.orders.equals(demo.orders)
    assert not other.customers["name"].equals(demo.customers["name"])


def test_engine_schema_and_dtypes(demo):
    expected = {
        "customers": CUSTOMER_COLUMNS, "orders": ORDER_COLUMNS, "items": ITEM_COLUMNS,
        "products": PRODUCT_COLUMNS, "feedback": FEEDBACK_COLUMNS, "interactions": INTERACTION_COLUMNS,
    }
    for name, columns in expected.items():
        frame = getattr(demo, name)
        assert set(columns) <= set(frame.columns), name
        for column in columns:
            if column.endswith("_id"):
                assert frame[column].dtype == np.int64, (name, column)
            if column in ("signup_date", "ordered_at", "created_at", "occurred_at"):
                assert frame[column].dtype == "datetime64[ns]", (name, column)
    for column in ("total_amount",):
        assert demo.orders[column].dtype == np.float64
    assert demo.feedback["rating"].dtype == np.float64
    assert demo.customers["consent"].dtype == bool


def test_ids_are_one_based_and_contiguous(demo):
    for frame, column in ((demo.customers, "customer_id"), (demo.orders, "order_id"),
                          (demo.products, "product_id"), (demo.feedback, "feedback_id")):
        ids = frame[column].to_numpy()
        assert ids.tolist() == list(range(1, len(ids) + 1))
    assert demo.orders["customer_id"].isin(demo.customers["customer_id"]).all()
    assert demo.items["order_id"].isin(demo.orders["order_id"]).all()
    assert demo.items["product_id"].isin(demo.products["product_id"]).all()
    assert demo.feedback["product_id"].dropna().isin(demo.products["product_id"]).all()
    linked = demo.feedback["order_id"].dropna().astype(np.int64)
    assert linked.isin(demo.orders["order_id"]).all()
    # A linked order belongs to the customer who wrote the feedback.
    owner = demo.orders.set_index("order_id")["customer_id"]
    with_order = demo.feedback.dropna(subset=["order_id"])
    assert (owner.loc[with_order["order_id"].astype(np.int64)].to_numpy()
            == with_order["customer_id"].to_numpy()).all()


def test_values_in_range(demo):
    assert (demo.items["quantity"] > 0).all()
    assert (demo.items["unit_price"] >= 0).all()
    assert (demo.products["price"] > 0).all()
    assert (demo.orders["total_amount"] > 0).all()
    ratings = demo.feedback["rating"].dropna()
    assert ratings.between(1, 5).all() and (ratings == ratings.round()).all()
    assert demo.feedback["rating"].isna().any()          # some feedback carries no stars
    assert set(demo.feedback["language"]) == {"en", "zh"}
    assert set(demo.interactions["kind"]) == {"call", "email", "chat", "visit", "complaint"}
    assert set(demo.orders["status"]) == {"completed", "refunded", "cancelled"}
    assert (demo.orders["status"] == "completed").mean() > 0.9
    assert set(demo.customers["channel"]) == {"erp", "ecommerce", "store", "social", "manual"}
    assert 0.02 < (demo.customers["status"] == "churned").mean() < 0.2
    # Values the database's choices accept (customers.models.Channel, ComplaintReason).
    assert set(demo.orders["channel"]) == {"ecommerce", "store", "phone"}
    assert set(demo.feedback["channel"]) == {"ecommerce", "store", "email", "social"}
    assert set(demo.feedback["complaint_reason"]) == {"", "delivery", "product quality", "price", "service"}
    assert set(demo.customers["gender"]) == {"", "female", "male"}


def test_no_timestamp_after_as_of(demo):
    stamps = [demo.customers["signup_date"], demo.customers["consent_at"].dropna(),
              demo.customers["churned_at"].dropna(), demo.orders["ordered_at"], demo.items["ordered_at"],
              demo.feedback["created_at"], demo.interactions["occurred_at"]]
    for series in stamps:
        assert (series <= AS_OF).all(), series.name
    assert demo.customers["signup_date"].min() >= AS_OF - pd.Timedelta(days=3 * 366)
    assert (pd.to_datetime(demo.customers["birth_date"].dropna()) < AS_OF - pd.Timedelta(days=18 * 365)).all()


def test_signup_precedes_orders_and_churn_follows_last_order(demo):
    first_order = demo.orders.groupby("customer_id")["ordered_at"].min()
    signup = demo.customers.set_index("customer_id")["signup_date"]
    assert (signup.loc[first_order.index] <= first_order).all()
    churned = demo.customers[demo.customers["status"] == "churned"].set_index("customer_id")
    last_order = demo.orders.groupby("customer_id")["ordered_at"].max()
    assert (churned["churned_at"] >= last_order.loc[churned.index]).all()
    assert churned["churned_at"].notna().all()
    assert demo.customers.loc[demo.customers["status"] == "active", "churned_at"].isna().all()


def test_order_total_is_sum_of_items(demo):
    line_total = demo.items["quantity"] * demo.items["unit_price"]
    per_order = line_total.groupby(demo.items["order_id"]).sum()
    totals = demo.orders.set_index("order_id")["total_amount"]
    assert per_order.index.equals(totals.index)
    np.testing.assert_allclose(totals.to_numpy(), per_order.to_numpy(), atol=0.01)
    assert not demo.items.duplicated(["order_id", "product_id"]).any()


def test_rough_calibration(demo):
    orders_per_customer = len(demo.orders) / len(demo.customers)
    assert 5 <= orders_per_customer <= 15
    assert 0.10 <= len(demo.feedback) / len(demo.orders) <= 0.20
    assert len(demo.products) == 200
    assert demo.products["category"].nunique() == len(CATEGORIES) == 10
    assert demo.products["sku"].is_unique


def test_identity_columns_are_well_formed(demo):
    c = demo.customers
    assert c["external_id"].str.fullmatch(r"C\d{6}").all() and c["external_id"].is_unique
    assert demo.orders["external_id"].str.fullmatch(r"O\d{7}").all()
    emails = c.loc[c["email"] != "", "email"]
    assert 0.85 < len(emails) / len(c) < 0.97
    assert (emails == emails.str.lower()).all() and emails.is_unique
    assert emails.str.fullmatch(r"[a-z.]+\.\d+@example\.(com|org|net)").all()
    phones = c.loc[c["phone"] != "", ["phone", "country"]]
    assert phones["phone"].str.fullmatch(r"\+[1-9]\d{9,14}").all()        # E.164
    assert all(phonenumbers.is_valid_number(phonenumbers.parse(p)) for p in phones["phone"])
    prefix = {"CN": "+86", "US": "+1", "GB": "+44"}
    assert all(p.startswith(prefix[k]) for p, k in zip(phones["phone"], phones["country"]))
    chinese_name = c["name"].map(lambda s: re.search(r"[\u4e00-\u9fff]", s) is not None)
    assert 0.3 < chinese_name.mean() < 0.6
    assert (c.loc[chinese_name, "country"] == "CN").all()
    # Feedback is written in the language of the customer's name.
    language = demo.feedback["customer_id"].map(dict(zip(c["customer_id"], chinese_name)))
    assert ((demo.feedback["language"] == "zh") == language).all()


def test_complaints_predict_dropout(demo):
    """Customers who wrote a complaint are much less often still alive: churn is learnable."""
    complained = set(demo.feedback.loc[demo.feedback["complaint_reason"] != "", "customer_id"])
    latent = demo.latent.set_index("customer_id")
    buyers = latent.loc[demo.orders["customer_id"].unique()]
    mask = buyers.index.isin(list(complained))
    assert mask.sum() > 50
    # Complainers bought more often (more chances to complain) yet survive less often.
    assert buyers.loc[mask, "is_alive"].mean() < buyers.loc[~mask, "is_alive"].mean() - 0.05
    low = demo.feedback.loc[demo.feedback["complaint_reason"] != "", "rating"].dropna()
    high = demo.feedback.loc[demo.feedback["complaint_reason"] == "", "rating"].dropna()
    assert low.mean() < 2.2 < 4.0 < high.mean()


def test_seasonal_peak_in_november_december():
    data = generate_demo(3_000, seed=5, as_of=AS_OF)
    by_month = data.orders.set_index("ordered_at").resample("MS").size()
    # Compare each December with the preceding October: the base grows, the peak must still show.
    for year in (2024, 2025):
        assert by_month[f"{year}-12-01"] > 1.2 * by_month[f"{year}-10-01"]
    weekday = data.orders["ordered_at"].dt.day_of_week
    assert (weekday == 5).mean() > (weekday == 1).mean() * 1.2


def test_partner_products_are_co_purchased(demo):
    """The strongest pair has lift well above 1, so association rules are real."""
    basket = pd.crosstab(demo.items["order_id"], demo.items["product_id"]).astype(bool)
    matrix = basket.to_numpy().astype(np.float64)
    support = matrix.mean(axis=0)
    pair = (matrix.T @ matrix) / len(matrix)
    np.fill_diagonal(pair, 0)
    i, j = np.unravel_index(np.argmax(pair), pair.shape)
    lift = pair[i, j] / (support[i] * support[j])
    assert pair[i, j] > 0.005 and lift > 3


def test_spend_per_order_follows_customer_value(demo):
    mean_spend = demo.orders.groupby("customer_id")["total_amount"].mean()
    factor = demo.latent.set_index("customer_id").loc[mean_spend.index, "spend_factor"]
    counts = demo.orders.groupby("customer_id").size()
    regular = counts >= 5
    assert mean_spend[regular].corr(factor[regular], method="spearman") > 0.4


def test_timezone_aware_as_of_is_accepted():
    aware = generate_demo(50, seed=3, as_of=pd.Timestamp("2026-11-01 08:00", tz="Asia/Shanghai"))
    naive = generate_demo(50, seed=3, as_of=pd.Timestamp("2026-11-01 00:00"))
    pd.testing.assert_frame_equal(aware.orders, naive.orders)


@settings(max_examples=15, deadline=None)
@given(n=st.integers(min_value=1, max_value=60), seed=st.integers(min_value=0, max_value=2**31),
       day=st.integers(min_value=0, max_value=4000))
def test_invariants_hold_for_any_small_input(n, seed, day):
    as_of = pd.Timestamp("2020-01-01") + pd.Timedelta(days=day, hours=day % 24)
    data = generate_demo(n, seed=seed, as_of=as_of)
    assert len(data.customers) == n
    assert (data.orders["ordered_at"] <= as_of).all()
    assert (data.feedback["created_at"] <= as_of).all()
    assert (data.interactions["occurred_at"] <= as_of).all()
    assert (data.customers["signup_date"] <= as_of).all()
    if len(data.items):
        per_order = (data.items["quantity"] * data.items["unit_price"]).groupby(data.items["order_id"]).sum()
        np.testing.assert_allclose(data.orders["total_amount"].to_numpy(), per_order.to_numpy(), atol=0.01)


def test_rejects_empty_request():
    with pytest.raises(ValueError):
        generate_demo(0, seed=1, as_of=AS_OF)


def test_a_set_where_nobody_buys_is_generated_empty():
    """Found by the property test below: one customer who never buys left nothing to concatenate."""
    data = generate_demo(1, seed=15, as_of=pd.Timestamp("2026-01-01"))
    assert len(data.customers) == 1 and data.orders.empty and data.items.empty
