"""The engine's two parts, fitted apart (as two workers do) and combined, give the whole run."""
import pandas as pd
import pytest

from analytics.engine import pipeline


def _run(demo, as_of, **kwargs):
    return pipeline.run_engine(customers=demo.customers, orders=demo.orders, items=demo.items,
                               products=demo.products, feedback_frame=demo.feedback,
                               interactions=demo.interactions, as_of=as_of,
                               rank_recommendations=False, **kwargs)


def test_parts_fitted_apart_combine_into_the_whole_run(small_demo, as_of):
    whole = _run(small_demo, as_of)
    customers = _run(small_demo, as_of, parts=frozenset({pipeline.CUSTOMER_PART}))
    products = _run(small_demo, as_of, parts=frozenset({pipeline.PRODUCT_PART}))

    # Each part computes only its own models.
    assert customers.recommender is None and customers.rules.empty
    assert products.scores.isna().all().all() and products.snapshot is None
    assert {"churn", "clv", "forecast"} <= set(customers.cards) and "bundles" not in customers.cards
    assert set(products.cards) == {"recommendations", "bundles"}

    # Every stage wrote its numbers and times as such: no column fell back to a Python object
    # per cell (a million customers' scores took 1.1 GB that way).
    assert customers.scores.dtypes.astype(str).to_dict() == {
        column: str(pd.Series(dtype=pipeline.SCORE_DTYPES.get(column, "object")).dtype)
        for column in pipeline.SCORE_COLUMNS}
    assert customers.scores[list(pipeline.SCORE_DTYPES)].notna().any().all()

    combined = pipeline.combine(customers, products)
    pd.testing.assert_frame_equal(combined.scores, whole.scores)
    pd.testing.assert_frame_equal(combined.rules, whole.rules)
    pd.testing.assert_frame_equal(combined.segment_profiles, whole.segment_profiles)
    assert combined.cards == whole.cards
    assert set(combined.timings) == set(whole.timings)
    assert combined.recommender is products.recommender is not None
    assert combined.snapshot is customers.snapshot is not None


def test_the_product_part_needs_no_orders_and_the_customer_part_no_order_lines(small_demo, as_of):
    """What a worker reads for each part (analytics.services.runs._PART_FRAMES) is all it needs."""
    empty_items, empty_orders = small_demo.items.iloc[0:0], small_demo.orders.iloc[0:0]
    customers = pipeline.run_engine(
        customers=small_demo.customers, orders=small_demo.orders, items=empty_items,
        products=small_demo.products.iloc[0:0], feedback_frame=small_demo.feedback,
        interactions=small_demo.interactions, as_of=as_of, rank_recommendations=False,
        parts=frozenset({pipeline.CUSTOMER_PART}))
    products = pipeline.run_engine(
        customers=small_demo.customers, orders=empty_orders, items=small_demo.items,
        products=small_demo.products, feedback_frame=small_demo.feedback,
        interactions=small_demo.interactions.iloc[0:0], as_of=as_of, rank_recommendations=False,
        parts=frozenset({pipeline.PRODUCT_PART}))
    whole = _run(small_demo, as_of)
    pd.testing.assert_frame_equal(pipeline.combine(customers, products).scores, whole.scores)
    assert not customers.skipped and not products.skipped


def test_an_unknown_part_is_refused(small_demo, as_of):
    with pytest.raises(ValueError, match="unknown engine parts"):
        _run(small_demo, as_of, parts=frozenset({"everything"}))
