"""The per-customer order summary means what the models computed from the orders themselves."""
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analytics.engine import clv, features, lifecycle, rfm
from analytics.engine.order_summary import FEATURE_COLUMNS, SUMMARY_COLUMNS, OrderLedger, order_summary
from tests.analytics.engine.summary_reference import (
    reference_monthly_cents,
    reference_summary,
    reference_window_purchase_days,
)

CUTOFF = pd.Timestamp("2026-06-30 12:00")


def _orders(rows):
    return pd.DataFrame(rows, columns=["order_id", "customer_id", "ordered_at", "total_amount", "channel"]).assign(
        ordered_at=lambda f: pd.to_datetime(f["ordered_at"], format="ISO8601").astype("datetime64[ns]"))


def edge_case_orders() -> pd.DataFrame:
    """One-order, same-day, same-instant, zero-amount and long-gap customers, orders exactly at
    and after the cutoff, and amounts whose float sum drifts."""
    return _orders([
        (1, 1, "2026-06-01 09:00", 10.10, "web"),                      # one order
        (2, 2, "2026-03-01 08:00", 0.10, "web"),                       # drifting float sum
        (3, 2, "2026-03-01 20:00", 0.20, "store"),                     # same day
        (4, 2, "2026-05-15 10:00", 0.70, "web"),
        (5, 3, "2025-01-10 10:00", 0.00, "web"),                       # zero amount
        (6, 3, "2025-01-10 10:00", 5.00, "web"),                       # same instant
        (7, 4, "2024-12-31 23:59:59", 99.99, "web"),                   # a day before midnight
        (8, 4, "2025-01-01 00:00:01", 1.01, "web"),
        (9, 4, "2026-01-02 00:00", 40.00, "web"),                      # prior window
        (10, 4, "2026-06-29 23:00", 12.34, "web"),                     # within 30 days
        (11, 5, "2026-06-30 12:00", 7.00, "web"),                      # at the cutoff
        (12, 5, "2026-07-15 12:00", 8.00, "web"),                      # after it
        (13, 6, "2026-04-01 12:00", 3.00, "web"),                      # exactly 90 days back
        (14, 6, "2025-12-02 12:00", 3.00, "web"),                      # exactly 210 days back
    ])


def test_strict_and_inclusive_cutoffs_and_exact_cents():
    orders = edge_case_orders()
    strict = order_summary(orders, cutoff=CUTOFF)
    inclusive = order_summary(orders, cutoff=CUTOFF, inclusive=True)
    assert list(strict.columns) == SUMMARY_COLUMNS
    assert 5 not in strict.index and inclusive.loc[5, "order_count"] == 1
    assert strict.loc[2, "total_cents"] == 100  # 0.10 + 0.20 + 0.70 in floats is 0.99999...
    assert strict.loc[2, "purchase_days"] == 2 and strict.loc[2, "first_day_cents"] == 30
    assert strict.loc[3, ["order_count", "purchase_days", "total_cents"]].tolist() == [2, 1, 500]
    assert np.isnan(strict.loc[3, "median_gap_days"]) and np.isnan(strict.loc[1, "last_gap_days"])
    # Customer 4: days 2024-12-31, 2025-01-01, 2026-01-02, 2026-06-29 -> gaps 1, 366, 178.
    row = strict.loc[4]
    assert (row["median_gap_days"], row["last_gap_days"], row["median_earlier_gap_days"]) == (178.0, 178.0, 183.5)
    assert (row["orders_30d"], row["spend_30d_cents"], row["orders_365d"], row["orders_prior_90d"]) == (1, 1234, 2, 1)
    # An age of exactly 90 days is inside the 90-day window; 210 days is outside the prior one.
    assert strict.loc[6, ["orders_90d", "orders_prior_90d", "orders_365d"]].tolist() == [1, 0, 2]


def test_the_models_read_the_same_quantities_from_the_summary():
    orders = edge_case_orders()
    summary = order_summary(orders, cutoff=CUTOFF, inclusive=True)
    table = rfm.rfm_scores(orders, as_of=CUTOFF)
    assert table["order_count"].tolist() == summary["order_count"].tolist()
    assert table.loc[2, "total_spent"] == 1.0
    stats = lifecycle._gap_stats(orders, CUTOFF)
    assert stats["purchase_days"].tolist() == summary["purchase_days"].tolist()
    clv_table = clv.clv_summary(orders, as_of=CUTOFF)
    assert clv_table.loc[4, "frequency"] == 3
    assert clv_table.loc[4, "monetary_value"] == pytest.approx((1.01 + 40 + 12.34) / 3)
    assert clv_table.loc[2, "monetary_value"] == 0.7


def test_orders_at_one_instant_give_no_infinite_gap_ratio():
    """Two orders at the same instant made ``recency_gap_ratio`` infinite, which a churn reason
    then carried into JSON that PostgreSQL refused: the 100,000-customer run failed at its write."""
    orders = edge_case_orders()
    customers = pd.DataFrame({"customer_id": [1, 2, 3, 4, 5, 6], "signup_date": pd.Timestamp("2024-01-01"),
                              "status": "active", "gender": "", "region": "", "city": "", "channel": "",
                              "consent": True})
    table = features.build_features(customers=customers, orders=orders, cutoff=CUTOFF)
    assert table.loc[3, "mean_gap_days"] == 0
    assert np.isnan(table.loc[3, "recency_gap_ratio"])
    assert np.isfinite(table["recency_gap_ratio"].dropna()).all()


# Orders of a few customers over two years, at whole seconds, with amounts in cents: the
# cases a sorted-array summary gets wrong first (one order, one day, same instants, runs of
# days) arise often with this few customers and days.
_ORDER_ROWS = st.lists(
    st.tuples(st.integers(1, 6), st.integers(0, 2 * 365 * 86_400 // 3_600), st.integers(0, 3_600 - 1),
              st.integers(0, 50_000)),
    max_size=60)
_START = pd.Timestamp("2025-01-01")


def _random_orders(rows) -> pd.DataFrame:
    return _orders([(i, customer, _START + pd.Timedelta(hours=hour, seconds=second), amount / 100, "web")
                    for i, (customer, hour, second, amount) in enumerate(rows, start=1)])


def _assert_same(ledger: pd.DataFrame, reference: pd.DataFrame) -> None:
    pd.testing.assert_index_equal(ledger.index, reference.index, exact=False)
    pd.testing.assert_frame_equal(ledger.reset_index(drop=True), reference.reset_index(drop=True),
                                  check_index_type=False)


@settings(max_examples=150, deadline=None)
@given(rows=_ORDER_ROWS, cutoff_hours=st.integers(0, 2 * 365 * 24 + 48), inclusive=st.booleans(),
       cutoff_on_an_order=st.booleans())
def test_the_ledger_summary_equals_the_plain_pandas_summary(rows, cutoff_hours, inclusive, cutoff_on_an_order):
    orders = _random_orders(rows)
    cutoff = _START + pd.Timedelta(hours=cutoff_hours)
    if cutoff_on_an_order and rows:
        cutoff = orders["ordered_at"].iloc[len(rows) // 2]
    ledger = OrderLedger.from_orders(orders)
    _assert_same(ledger.summary(cutoff, inclusive=inclusive), reference_summary(orders, cutoff=cutoff, inclusive=inclusive))
    _assert_same(ledger.summary(cutoff, inclusive=inclusive, days=False),
                 reference_summary(orders, cutoff=cutoff, inclusive=inclusive)[FEATURE_COLUMNS])
    start = cutoff - pd.Timedelta(days=200)
    _assert_same(ledger.window_purchase_days(start=start, end=cutoff),
                 reference_window_purchase_days(orders, start=start, end=cutoff))
    pd.testing.assert_series_equal(ledger.monthly_cents(before=cutoff), reference_monthly_cents(orders, before=cutoff),
                                   check_freq=False)


def test_the_ledger_summary_keeps_the_edge_cases():
    orders = edge_case_orders()
    for inclusive in (False, True):
        _assert_same(order_summary(orders, cutoff=CUTOFF, inclusive=inclusive),
                     reference_summary(orders, cutoff=CUTOFF, inclusive=inclusive))
    assert order_summary(orders.iloc[:0], cutoff=CUTOFF).empty
    assert OrderLedger.from_orders(orders).window_purchase_days(start=CUTOFF, end=CUTOFF).empty


def test_customer_ids_too_far_apart_for_one_sort_key_sort_the_same():
    """Ids whose span times the days would overflow the single sort key take the two-key sort."""
    orders = edge_case_orders()
    far = orders.assign(customer_id=orders["customer_id"] * 2 ** 52)
    ledger = OrderLedger.from_orders(far)
    assert (np.diff(ledger.customer_ids) >= 0).all()
    _assert_same(ledger.summary(CUTOFF), reference_summary(far, cutoff=CUTOFF))
