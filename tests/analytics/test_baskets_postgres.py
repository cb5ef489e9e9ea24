"""PostgreSQL's baskets (order lines grouped by order, streamed one row per order) equal the pandas
path's, and the recommender's ratings and the bundles come out the same from either.

Needs PostgreSQL (the ``services`` mark: skipped on a laptop without it, fails in CI), e.g.
``DATABASE_URL=postgres://postgres@127.0.0.1:5432/crm_h_agg CELERY_BROKER_URL=redis://...``.
"""
from datetime import timedelta

import numpy as np
import pandas as pd
import pytest

from analytics import adapter, aggregates
from analytics.engine import bundles, recommend
from analytics.engine.baskets import basket_lines
from analytics.engine.pipeline import PRODUCT_PART, run_engine
from analytics.services.runs import engine_settings
from customers.demo.loader import demo_seed
from customers.models import OrderStatus, Product
from tests.factories import CustomerFactory, FeedbackFactory, OrderFactory, OrderItemFactory, utc_at

pytestmark = [pytest.mark.services, pytest.mark.django_db]

AS_OF = pd.Timestamp("2026-10-01 15:30")


@pytest.fixture
def edge_data():
    """Demo data plus what a basket gets wrong first: a product listed twice on one order, two
    orders of one customer at the same instant (which of them a later rating goes to is a tie),
    an order at the cutoff (a basket for the bundles, not yet a rating), and orders after the
    cutoff or refunded (neither)."""
    demo_seed(n_customers=300, seed=29, as_of=AS_OF.normalize())
    first, second, third = Product.objects.order_by("id")[:3]
    twice, same_instant, at_cutoff = (CustomerFactory() for _ in range(3))
    listed_twice = OrderFactory(customer=twice, ordered_at=utc_at("2026-09-01 10:00"))
    for product in (second, first, second):
        OrderItemFactory(order=listed_twice, product=product)
    for products in ((third, first), (second,)):
        order = OrderFactory(customer=same_instant, ordered_at=utc_at("2026-08-01 12:00"))
        for product in products:
            OrderItemFactory(order=order, product=product)
    FeedbackFactory(customer=same_instant, created_at=utc_at("2026-08-03 09:00"), rating=1)
    cutoff = OrderFactory(customer=at_cutoff, ordered_at=AS_OF.tz_localize("UTC").to_pydatetime())
    OrderItemFactory(order=cutoff, product=first)
    after = OrderFactory(customer=at_cutoff, ordered_at=AS_OF.tz_localize("UTC").to_pydatetime() + timedelta(seconds=1))
    OrderItemFactory(order=after, product=second)
    refunded = OrderFactory(customer=at_cutoff, ordered_at=utc_at("2026-09-10 10:00"), status=OrderStatus.REFUNDED)
    OrderItemFactory(order=refunded, product=third)
    return {"listed_twice": listed_twice.pk, "cutoff": cutoff.pk, "after": after.pk,
            "refunded": refunded.pk, "same_instant": same_instant.pk}


def _items() -> pd.DataFrame:
    return adapter.read_frames(AS_OF, with_products=True, without=("orders", "interactions")).items


def test_database_baskets_equal_the_pandas_baskets(edge_data):
    baskets = aggregates.read_baskets(AS_OF)
    items = _items()
    assert len(items) > 1000
    pd.testing.assert_frame_equal(baskets.lines, basket_lines(items, as_of=AS_OF))
    assert baskets.order_lines == len(items)
    lines = baskets.lines
    assert len(lines.loc[lines["order_id"] == edge_data["listed_twice"]]) == 2
    assert (lines["order_id"] == edge_data["cutoff"]).sum() == 1
    assert not lines["order_id"].isin([edge_data["after"], edge_data["refunded"]]).any()
    assert aggregates.engine_baskets(AS_OF).lines.equals(lines)
    # Before the first order: no basket, the same empty frame.
    early = pd.Timestamp("2000-01-01")
    none = aggregates.read_baskets(early)
    pd.testing.assert_frame_equal(none.lines, basket_lines(items.iloc[:0], as_of=early))
    assert none.order_lines == 0


def test_ratings_and_bundles_are_the_same_from_either_path(edge_data):
    items = _items()
    baskets = aggregates.read_baskets(AS_OF)
    frames = adapter.read_frames(AS_OF, with_products=True, without=("orders", "interactions", "items"))
    assert frames.items.empty

    # The ratings from the grouped baskets equal those from every order line, duplicates and all.
    from_lines = recommend.build_ratings(items=items, feedback=frames.feedback, as_of=AS_OF)
    from_baskets = recommend.build_ratings(items=baskets.lines, feedback=frames.feedback, as_of=AS_OF)
    pd.testing.assert_frame_equal(from_baskets, from_lines)
    rated = from_lines.loc[from_lines["customer_id"] == edge_data["same_instant"]]
    assert len(rated) == 3 and (rated["rating"] < recommend.BASE_RATING).any()

    common = {"customers": frames.customers, "orders": None, "products": frames.products,
              "feedback_frame": frames.feedback, "interactions": frames.interactions, "as_of": AS_OF,
              "settings": engine_settings(), "rank_recommendations": False,
              "parts": frozenset({PRODUCT_PART})}
    from_pandas = run_engine(**common, items=items)
    from_sql = run_engine(**common, items=frames.items, **baskets.engine_arguments())
    assert not from_sql.skipped and not from_pandas.skipped
    assert from_sql.cards == from_pandas.cards
    pd.testing.assert_frame_equal(from_sql.recommender.ratings, from_pandas.recommender.ratings)
    for field in ("product_ids", "similarity", "popularity"):
        np.testing.assert_array_equal(getattr(from_sql.recommender.model, field),
                                      getattr(from_pandas.recommender.model, field))
    customer_ids = frames.customers["customer_id"].to_numpy()
    ranked_sql = recommend.recommend_top_n(from_sql.recommender.model, from_sql.recommender.ratings, customer_ids)
    ranked_pandas = recommend.recommend_top_n(from_pandas.recommender.model, from_pandas.recommender.ratings,
                                              customer_ids)
    assert len(ranked_sql) > 1000
    pd.testing.assert_frame_equal(ranked_sql, ranked_pandas)
    assert len(from_pandas.rules) > 0
    pd.testing.assert_frame_equal(from_sql.rules, from_pandas.rules)

    # The bundle miner's item counts too (the run keeps only the rules).
    mined_sql = bundles.product_bundles(baskets.lines, as_of=AS_OF)
    mined_pandas = bundles.product_bundles(items, as_of=AS_OF)
    pd.testing.assert_series_equal(mined_sql.item_counts, mined_pandas.item_counts)
    pd.testing.assert_frame_equal(mined_sql.rules, mined_pandas.rules)
