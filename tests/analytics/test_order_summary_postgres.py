"""The order summaries from PostgreSQL's narrow binary read of the orders equal the plain pandas
summaries of the orders frame (``tests/analytics/engine/summary_reference.py``) on the same data,
and the engine scores the same from either.

Needs PostgreSQL (the ``services`` mark: skipped on a laptop without it, fails in CI), e.g.
``DATABASE_URL=postgres://postgres@127.0.0.1:5432/crm_h_agg CELERY_BROKER_URL=redis://...``.
"""
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest

from analytics import adapter, aggregates
from analytics.engine import order_summary as S
from analytics.engine.clv import selection_calibration_end
from analytics.engine.forecast import month_start
from analytics.engine.pipeline import CUSTOMER_PART, feature_cutoffs, run_engine
from analytics.services.runs import engine_settings
from customers.demo.loader import demo_seed
from customers.models import OrderStatus
from tests.analytics.engine.summary_reference import (
    reference_monthly_cents,
    reference_summary,
    reference_window_purchase_days,
)
from tests.factories import CustomerFactory, OrderFactory, utc_at

pytestmark = [pytest.mark.services, pytest.mark.django_db]

AS_OF = pd.Timestamp("2026-10-01 15:30")


@pytest.fixture
def edge_data():
    """Demo customers plus the cases a summary gets wrong first: one order, same-day and
    same-instant orders, zero amounts, refunded and pending orders (not counted), orders either
    side of midnight UTC and of the cutoff, a customer with no order at all, and amounts whose
    float sum drifts."""
    demo_seed(n_customers=300, seed=23, as_of=AS_OF.normalize())
    one, same_day, zero, midnight, at_cutoff, silent = (CustomerFactory() for _ in range(6))
    OrderFactory(customer=one, ordered_at=utc_at("2026-09-30 10:00"), total_amount=Decimal("10.10"))
    for when, amount in (("2026-03-01 08:00", "0.10"), ("2026-03-01 20:00", "0.20"), ("2026-05-15 10:00", "0.70")):
        OrderFactory(customer=same_day, ordered_at=utc_at(when), total_amount=Decimal(amount))
    for amount in ("0.00", "5.00"):
        OrderFactory(customer=zero, ordered_at=utc_at("2025-01-10 10:00"), total_amount=Decimal(amount))
    OrderFactory(customer=zero, ordered_at=utc_at("2026-02-01 10:00"), total_amount=Decimal("9.00"),
                 status=OrderStatus.REFUNDED)
    for when in ("2024-12-31 23:59:59.999999", "2025-01-01 00:00:00.000001", "2026-06-02 00:00", "2026-09-30 23:00"):
        OrderFactory(customer=midnight, ordered_at=utc_at(when), total_amount=Decimal("12.34"))
    OrderFactory(customer=at_cutoff, ordered_at=AS_OF.tz_localize("UTC").to_pydatetime(), total_amount=Decimal("7.00"))
    OrderFactory(customer=at_cutoff, ordered_at=utc_at("2026-07-03 15:30"), total_amount=Decimal("3.00"))  # 90 days
    OrderFactory(customer=at_cutoff, ordered_at=utc_at("2026-10-02 09:00"), total_amount=Decimal("8.00"))  # after
    return {"silent": silent.pk, "same_day": same_day.pk, "zero": zero.pk, "at_cutoff": at_cutoff.pk}


def _assert_same_summary(from_sql: pd.DataFrame, from_pandas: pd.DataFrame) -> None:
    assert list(from_sql.columns) == S.SUMMARY_COLUMNS
    pd.testing.assert_index_equal(from_sql.index, from_pandas.index)
    # Counts, cents and times exactly; medians of whole-day gaps to a tight tolerance.
    pd.testing.assert_frame_equal(from_sql[S.COUNT_COLUMNS + S.TIME_COLUMNS],
                                  from_pandas[S.COUNT_COLUMNS + S.TIME_COLUMNS])
    pd.testing.assert_frame_equal(from_sql[S.GAP_COLUMNS], from_pandas[S.GAP_COLUMNS], rtol=1e-12, atol=0)


@pytest.mark.parametrize(("days_back", "inclusive"), [(0, True), (0, False), (90, False), (180, False)])
def test_postgresql_summary_equals_the_pandas_summary(edge_data, days_back, inclusive):
    cutoff = AS_OF - pd.Timedelta(days=days_back)
    from_sql = aggregates.read_order_summary(cutoff, inclusive=inclusive)
    orders = adapter.read_orders(cutoff, inclusive=inclusive)
    assert len(orders) > 1000
    _assert_same_summary(from_sql, reference_summary(orders, cutoff=cutoff, inclusive=inclusive))
    assert edge_data["silent"] not in from_sql.index


def test_edge_cases_hold_their_exact_values(edge_data):
    summary = aggregates.read_order_summary(AS_OF, inclusive=True)
    assert summary.loc[edge_data["same_day"], ["order_count", "purchase_days", "total_cents"]].tolist() == [3, 2, 100]
    assert summary.loc[edge_data["zero"], ["order_count", "total_cents", "purchase_days"]].tolist() == [2, 500, 1]
    assert summary.loc[edge_data["at_cutoff"], ["order_count", "orders_90d"]].tolist() == [2, 2]
    strict = aggregates.read_order_summary(AS_OF)
    assert strict.loc[edge_data["at_cutoff"], "order_count"] == 1
    restricted = aggregates.read_order_summary(AS_OF, inclusive=True, customer_ids=[edge_data["zero"]])
    assert list(restricted.index) == [edge_data["zero"]]


def test_the_engine_scores_the_same_from_either_summary(edge_data):
    frames = adapter.read_frames(AS_OF, with_products=False, without=("items",))
    common = {"customers": frames.customers, "orders": frames.orders, "items": frames.items,
              "products": frames.products, "feedback_frame": frames.feedback,
              "interactions": frames.interactions, "as_of": AS_OF, "settings": engine_settings(),
              "rank_recommendations": False, "parts": frozenset({CUSTOMER_PART})}
    from_pandas = run_engine(**common)
    # From the database's summaries alone: without them the engine would fail on no orders.
    summaries = aggregates.engine_order_summaries(AS_OF, engine_settings())
    from_sql = run_engine(**{**common, "orders": None}, **summaries.engine_arguments(),
                          release_summaries=True)
    assert summaries.before == {}   # let go once loyalty, their last reader, was done
    assert not from_sql.skipped and set(from_sql.cards) == set(from_pandas.cards)
    for name in ("clv", "churn", "loyalty", "segments", "forecast"):
        assert from_sql.cards[name] == from_pandas.cards[name], name
    pd.testing.assert_series_equal(from_sql.forecast.history, from_pandas.forecast.history)
    exact = ["order_count", "first_order_at", "last_order_at", "rfm_r", "rfm_f", "rfm_m", "rfm_segment",
             "value_segment", "value_tier", "churn_risk", "churn_reasons", "lifecycle_stage", "satisfaction_group"]
    pd.testing.assert_frame_equal(from_sql.scores[exact], from_pandas.scores[exact])
    for column in ("total_spent", "recency_days", "churn_probability", "p_alive", "expected_orders_90d",
                   "clv_12m", "loyalty_score", "sentiment_score"):
        a = from_sql.scores[column].astype("float64").to_numpy()
        b = from_pandas.scores[column].astype("float64").to_numpy()
        assert np.allclose(a, b, rtol=1e-9, atol=1e-9, equal_nan=True), column
    assert from_sql.scores.loc[edge_data["silent"], "order_count"] is None or pd.isna(
        from_sql.scores.loc[edge_data["silent"], "order_count"])


def test_the_engine_summaries_equal_the_pandas_ones(edge_data):
    """One read's summaries at every cutoff, the CLV holdout window and the months, each equal to
    the plain pandas summary of the orders frame."""
    settings = engine_settings()
    summaries = aggregates.engine_order_summaries(AS_OF, settings)
    orders = adapter.read_orders(AS_OF, inclusive=True)
    _assert_same_summary(summaries.at_as_of, reference_summary(orders, cutoff=AS_OF, inclusive=True))
    assert sorted(summaries.before) == feature_cutoffs(AS_OF, settings)
    for cutoff, summary in summaries.before.items():
        assert len(summary) > 100
        pd.testing.assert_frame_equal(summary, reference_summary(orders, cutoff=cutoff)[S.FEATURE_COLUMNS])
    calibration_end = selection_calibration_end(AS_OF)
    _assert_same_summary(summaries.selection.calibration,
                         reference_summary(orders, cutoff=calibration_end, inclusive=True))
    holdout = reference_window_purchase_days(orders, start=calibration_end, end=AS_OF)
    assert len(holdout) > 10
    pd.testing.assert_frame_equal(summaries.selection.holdout, holdout)
    months = reference_monthly_cents(orders, before=month_start(AS_OF))
    assert len(months) > 12
    pd.testing.assert_series_equal(summaries.monthly_cents, months)
    # The customer at the cutoff bought at as_of itself (in the holdout window (as_of - 90 days,
    # as_of]) and exactly 90 days back (on the window's open end, and not strictly before the
    # cutoff 90 days back).
    assert summaries.selection.holdout.loc[edge_data["at_cutoff"], "purchase_days"] == 1
    assert summaries.before[AS_OF].loc[edge_data["at_cutoff"], "order_count"] == 1
    assert edge_data["at_cutoff"] not in summaries.before[AS_OF - pd.Timedelta(days=90)].index


def test_summaries_at_several_cutoffs_from_one_read_equal_the_pandas_ones(edge_data):
    """One read serves every cutoff's summary from each customer's prefix of orders and days:
    a purchase day cut by a cutoff (orders before and after it on one UTC day, two at the same
    instant as the cutoff), a customer whose only orders come after the earlier cutoffs, and
    strict and inclusive cutoffs at the same instant."""
    cut = AS_OF - pd.Timedelta(days=90)
    straddling, late = CustomerFactory(), CustomerFactory()
    instant = cut.tz_localize("UTC").to_pydatetime()
    for when, amount in (("2026-03-01 10:00", "1.00"), ("2026-07-03 09:00", "2.00"), (None, "4.00"), (None, "8.00"),
                         ("2026-07-03 20:00", "16.00"), ("2026-08-01 10:00", "32.00")):
        OrderFactory(customer=straddling, ordered_at=instant if when is None else utc_at(when),
                     total_amount=Decimal(amount))
    OrderFactory(customer=late, ordered_at=utc_at("2026-09-01 10:00"), total_amount=Decimal("5.00"))
    cutoffs = [(AS_OF, True), (cut, True), (cut, False), (AS_OF - pd.Timedelta(days=200), False)]
    from_sql = aggregates.read_order_summaries(cutoffs)
    orders = adapter.read_orders(AS_OF, inclusive=True)
    for (cutoff, inclusive), summary in zip(cutoffs, from_sql, strict=True):
        _assert_same_summary(summary, reference_summary(orders, cutoff=cutoff, inclusive=inclusive))
    at_cut, before_cut = from_sql[1].loc[straddling.pk], from_sql[2].loc[straddling.pk]
    assert at_cut[["order_count", "purchase_days", "first_day_cents", "total_cents"]].tolist() == [4, 2, 100, 1500]
    assert before_cut[["order_count", "purchase_days", "total_cents"]].tolist() == [2, 2, 300]
    assert at_cut["last_day"] == pd.Timestamp("2026-07-03")
    assert late.pk in from_sql[0].index and late.pk not in from_sql[1].index
