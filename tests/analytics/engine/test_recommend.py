"""Item-based recommendations (scikit-surprise KNNWithMeans)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from analytics.engine import recommend

AS_OF = pd.Timestamp("2026-06-30")


def _items(rows):
    """rows: (order_id, customer_id, product_id, "YYYY-MM-DD")."""
    return pd.DataFrame(
        {"order_id": [r[0] for r in rows], "customer_id": [r[1] for r in rows],
         "product_id": [r[2] for r in rows],
         "quantity": 1, "unit_price": 1.0, "ordered_at": pd.to_datetime([r[3] for r in rows])}
    ).astype({"order_id": "int64", "customer_id": "int64", "product_id": "int64", "quantity": "int64"})


def _products(ids):
    return pd.DataFrame({"product_id": ids, "sku": [f"S{i}" for i in ids], "name": [f"P{i}" for i in ids],
                         "category": "x", "price": 1.0}).astype({"product_id": "int64"})


def test_ratings_from_counts_and_feedback():
    items = _items([(1, 1, 10, "2026-01-01"), (2, 1, 10, "2026-02-01"), (3, 1, 10, "2026-03-01"),
                    (4, 1, 10, "2026-04-01"), (5, 1, 10, "2026-05-01"), (5, 1, 11, "2026-05-01"),
                    (6, 2, 12, "2026-05-10"), (7, 2, 13, "2026-07-01")])
    feedback = pd.DataFrame({"feedback_id": [1, 2], "customer_id": [2, 1], "rating": [1.0, 5.0],
                             "created_at": pd.to_datetime(["2026-05-12", "2026-01-20"]),
                             "text": "", "language": "en", "sentiment_score": np.nan, "complaint_reason": ""})
    r = recommend.build_ratings(items=items, feedback=feedback, as_of=AS_OF)
    r = r.set_index(["customer_id", "product_id"])
    # five separate orders saturate at 5; the 2026-01-20 feedback is linked to order 1 (product 10),
    # averaging 5 and 5.
    assert r.loc[(1, 10), "rating"] == pytest.approx(5.0)
    assert r.loc[(1, 11), "rating"] == pytest.approx(recommend.BASE_RATING)
    # one purchase (3) blended with a 1-star review two days later: (3 + 1) / 2
    assert r.loc[(2, 12), "rating"] == pytest.approx(2.0)
    assert (2, 13) not in r.index  # bought after as_of


def test_similar_product_beats_a_more_popular_one():
    """Group A buys 1, 2, 3 together (in varying amounts); group B, bigger, buys 4, 5, 6.

    A newcomer who bought 1 and 2 should be offered 3 (similar) before 4 (more popular), with
    1 or 2 as the reason; a customer with no history gets popular products only.
    """
    rows, order = [], 0
    for c in range(1, 9):
        for product in (1, 2, 3):
            for _ in range(1 + c % 4):
                order += 1
                rows.append((order, c, product, f"2026-0{1 + order % 5}-0{1 + order % 9}"))
    for c in range(20, 30):
        for product in (4, 5, 6):
            for _ in range(1 + c % 3):
                order += 1
                rows.append((order, c, product, f"2026-0{1 + order % 5}-0{1 + order % 9}"))
    rows += [(order + 1, 50, 1, "2026-05-01"), (order + 2, 50, 2, "2026-05-02")]
    items = _items(rows)
    customers = pd.DataFrame({"customer_id": sorted(set(items["customer_id"]) | {60})})
    ratings = recommend.build_ratings(items=items, feedback=None, as_of=AS_OF)
    # Top 3: with the default 10, every unbought product of this 7-product catalogue is in the
    # list whatever the scores, so popularity alone would recommend 3 too and it names no reason.
    recs = recommend._recommend(ratings, customers["customer_id"].to_numpy(), np.arange(1, 8), top_n=3)
    newcomer = recs.loc[50]
    assert newcomer.iloc[0]["product_id"] == 3
    assert newcomer.iloc[0]["source"] == "similar"
    assert newcomer.iloc[0]["reason_product_id"] in (1, 2)
    assert not set(newcomer["product_id"]) & {1, 2}
    stranger = recs.loc[60]
    assert (stranger["source"] == "popular").all() and stranger["reason_product_id"].isna().all()
    assert stranger.iloc[0]["product_id"] in (4, 5, 6)


def _hand_model(similar_pairs: dict[tuple[int, int], float], popularity: dict[int, float]):
    """A model over products 1..6 with the given symmetric similarities and popularity shares."""
    ids = np.arange(1, 7)
    similarity = np.zeros((6, 6))
    for (a, b), s in similar_pairs.items():
        similarity[a - 1, b - 1] = similarity[b - 1, a - 1] = s
    return recommend.RecommenderModel(product_ids=ids, similarity=similarity,
                                      popularity=np.array([popularity.get(i, 0.0) for i in ids]))


def _ratings(rows):
    return pd.DataFrame(rows, columns=["customer_id", "product_id", "rating"]).astype(
        {"customer_id": "int64", "product_id": "int64"})


def test_reason_is_the_bought_product_contributing_most():
    """Customer 1 rated product 1 at 5 and product 2 at 3. Product 4 is more similar to 2 (0.4)
    than to 1 (0.3), but 1 contributes more to its score (0.3 x 5 = 1.5 against 0.4 x 3 = 1.2),
    so 1 is the reason. Popularity alone would recommend 3, so 4 and 5 earned their places through CF (it would offer 3 and 6)."""
    model = _hand_model({(4, 1): 0.3, (4, 2): 0.4, (5, 2): 0.9}, {3: 0.2, 6: 0.15, 4: 0.1, 5: 0.05, 1: 1.0, 2: 0.9})
    recs = recommend.recommend_top_n(model, _ratings([(1, 1, 5.0), (1, 2, 3.0)]), np.array([1]), top_n=2)
    by_product = recs.set_index("product_id")
    assert list(recs["product_id"]) == [4, 5]  # cf 2.7 and 2.7; 4 is more popular
    assert by_product.loc[4, "source"] == "similar" and by_product.loc[4, "reason_product_id"] == 1
    # 5 is similar to 2 only: 2 is its reason, whatever 1's rating.
    assert by_product.loc[5, "source"] == "similar" and by_product.loc[5, "reason_product_id"] == 2
    # With 2 rated higher than 1 the balance turns: 0.4 x 5 = 2.0 against 0.3 x 3 = 0.9.
    recs = recommend.recommend_top_n(model, _ratings([(1, 1, 3.0), (1, 2, 5.0)]), np.array([1]), top_n=2)
    assert recs.set_index("product_id").loc[4, "reason_product_id"] == 2


def test_a_pick_popularity_would_make_anyway_has_no_reason():
    """Product 3 is the most popular unbought product and only faintly similar to what the customer
    bought: it tops the list with a positive CF score, but popularity alone would have put it
    there, so it is a popularity pick with no reason product."""
    model = _hand_model({(3, 1): 0.01, (4, 1): 0.5}, {1: 1.0, 3: 0.9, 5: 0.3, 4: 0.1})
    recs = recommend.recommend_top_n(model, _ratings([(1, 1, 4.0)]), np.array([1]), top_n=2)
    by_product = recs.set_index("product_id")
    assert list(recs["product_id"]) == [3, 4]
    assert by_product.loc[3, "source"] == "popular" and pd.isna(by_product.loc[3, "reason_product_id"])
    # 4 is where CF changed the list (popularity alone would offer 5): 1 is named.
    assert by_product.loc[4, "source"] == "similar" and by_product.loc[4, "reason_product_id"] == 1


@pytest.fixture(scope="module")
def fitted(demo, as_of):
    return recommend.recommender_fit(products=demo.products, items=demo.items, feedback=demo.feedback,
                                     as_of=as_of)


@pytest.fixture(scope="module")
def result(fitted, demo):
    """What :func:`recommend.recommend_products` returns, keeping the fitted model for checks."""
    items = recommend.recommend_top_n(fitted.model, fitted.ratings, demo.customers["customer_id"].to_numpy())
    return recommend.Recommendations(items=items, card=fitted.card)


def test_beats_popularity_on_last_basket(result):
    card = result.card
    assert card.metrics["hit_rate_at_10"] > card.baseline["hit_rate_at_10"]
    assert card.params["n_evaluated"] > 1000


def test_a_long_customer_list_is_evaluated_on_a_sample_of_it(demo, as_of, fitted, monkeypatch):
    """Past MAX_EVAL_SAMPLE_CUSTOMERS buyers the card is measured on a random sample of them;
    the ratings every customer is ranked from are all still there."""
    buyers = demo.items.loc[demo.items["ordered_at"] < as_of, "customer_id"].nunique()
    monkeypatch.setattr(recommend, "MAX_EVAL_SAMPLE_CUSTOMERS", buyers // 2)
    sampled = recommend.recommender_fit(products=demo.products, items=demo.items, feedback=demo.feedback,
                                        as_of=as_of)
    assert 0 < sampled.card.params["n_evaluated"] <= buyers // 2
    assert sampled.card.params["n_evaluated"] < 0.75 * fitted.card.params["n_evaluated"]
    assert sampled.card.metrics["hit_rate_at_10"] > sampled.card.baseline["hit_rate_at_10"]
    pd.testing.assert_frame_equal(sampled.ratings, fitted.ratings)


def test_every_customer_gets_ten_unbought_products(result, demo, as_of):
    recs = result.items
    assert set(recs.index) == set(demo.customers["customer_id"])
    assert (recs.groupby(level=0).size() == recommend.TOP_N).all()
    assert (recs.groupby(level=0)["rank"].apply(list).map(lambda r: r == list(range(1, 11)))).all()
    past = demo.items.loc[demo.items["ordered_at"] < as_of]
    bought = set(zip(past["customer_id"], past["product_id"]))
    assert not bought & set(zip(recs.index, recs["product_id"]))
    # The reason is always something the customer did buy.
    similar = recs.loc[recs["source"] == "similar"]
    assert len(similar) > 0.05 * len(recs)
    assert set(zip(similar.index, similar["reason_product_id"].astype("int64"))) <= bought
    # Scores never increase down a customer's list.
    assert (recs.groupby(level=0)["score"].apply(lambda s: s.is_monotonic_decreasing)).all()


def test_customers_without_history_get_popular_products(result, demo, as_of):
    buyers = set(demo.items.loc[demo.items["ordered_at"] < as_of, "customer_id"])
    strangers = sorted(set(demo.customers["customer_id"]) - buyers)
    assert strangers
    recs = result.items.loc[strangers]
    assert (recs["source"] == "popular").all()
    assert recs.groupby(level=0)["product_id"].apply(tuple).nunique() == 1  # everyone the same list


def test_deterministic(small_demo, as_of):
    kw = dict(customers=small_demo.customers, products=small_demo.products, items=small_demo.items,
              feedback=small_demo.feedback, as_of=as_of)
    a, b = recommend.recommend_products(**kw), recommend.recommend_products(**kw)
    pd.testing.assert_frame_equal(a.items, b.items)
    assert a.card == b.card


def test_demo_reasons_are_bought_similar_and_the_largest_contribution(result, fitted):
    """On the demo data every named reason was bought, has a positive similarity to the
    recommended product, and contributes more to its CF score than any other bought product;
    popularity picks name none."""
    recs = result.items
    model = fitted.model
    at = pd.Index(model.product_ids)
    ratings = fitted.ratings.loc[fitted.ratings["customer_id"].isin(recs.index)]
    own = {c: dict(zip(g["product_id"], g["rating"])) for c, g in ratings.groupby("customer_id")}
    assert recs.loc[recs["source"] == "popular", "reason_product_id"].isna().all()
    similar = recs.loc[recs["source"] == "similar"]
    assert similar["reason_product_id"].notna().all()
    for customer, row in similar.iterrows():
        bought = own[customer]
        reason = int(row["reason_product_id"])
        sims = model.similarity[at.get_loc(row["product_id"])]
        contributions = {p: sims[at.get_loc(p)] * rating for p, rating in bought.items()}
        assert reason in bought and sims[at.get_loc(reason)] > 0
        assert contributions[reason] == pytest.approx(max(contributions.values()))


@settings(max_examples=300, deadline=None)
@given(scores=st.integers(1, 8).flatmap(lambda rows: st.integers(1, 30).flatmap(
           lambda cols: arrays(np.float64, (rows, cols), elements=st.sampled_from(
               [-np.inf, 0.0, -0.0, 0.25, 0.5, 0.5000001, 1.0, 3.0, np.inf])))),
       n=st.integers(1, 32))
def test_the_top_positions_are_those_a_stable_sort_keeps(scores, n):
    """Ranking keeps each customer's first n products of a stable sort of the scores (ties by
    catalogue position); the partition that replaces the sort keeps the same, in the same order,
    whatever the ties (few values, both zeros, infinities, bought products at -inf)."""
    expected = np.argsort(-scores, axis=1, kind="stable")[:, :n]
    np.testing.assert_array_equal(recommend.top_positions(scores, n), expected)


def _ratings_written_out(items: pd.DataFrame, feedback: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    """build_ratings' rules in plain pandas: orders per (customer, product) on a log scale that
    saturates, blended with the mean star rating of the orders the feedback is linked to (its
    own order, else the customer's latest order at most the window before it)."""
    past = items.loc[items["ordered_at"] < as_of]
    counts = past.groupby(["customer_id", "product_id"])["order_id"].nunique().rename("orders").reset_index()
    saturation = recommend.SATURATION_ORDERS
    growth = np.log(counts["orders"].clip(upper=saturation)) / np.log(saturation)
    counts["rating"] = recommend.BASE_RATING + (recommend.MAX_RATING - recommend.BASE_RATING) * growth
    rated = feedback.loc[(feedback["created_at"] < as_of) & feedback["rating"].notna()]
    orders = past.drop_duplicates("order_id")[["customer_id", "order_id", "ordered_at"]]
    linked = pd.merge_asof(
        rated.sort_values("created_at")[["customer_id", "created_at", "rating"]],
        orders.sort_values("ordered_at"),
        left_on="created_at", right_on="ordered_at", by="customer_id", direction="backward",
        tolerance=pd.Timedelta(days=recommend.FEEDBACK_ORDER_WINDOW_DAYS)).dropna(subset=["order_id"])
    lines = past.drop_duplicates(["order_id", "product_id"])[["order_id", "customer_id", "product_id"]]
    explicit = (linked[["order_id", "rating"]].astype({"order_id": "int64"}).merge(lines, on="order_id")
                .groupby(["customer_id", "product_id"])["rating"].mean().rename("explicit"))
    out = counts.merge(explicit, on=["customer_id", "product_id"], how="left")
    weight = recommend.FEEDBACK_WEIGHT
    blended = (1 - weight) * out["rating"] + weight * out["explicit"].clip(1, 5)
    out["rating"] = blended.fillna(out["rating"])
    return out[["customer_id", "product_id", "rating"]]


@settings(max_examples=60, deadline=None)
@given(lines=st.lists(st.tuples(st.integers(1, 25), st.integers(1, 6)), min_size=1, max_size=80),
       reviews=st.lists(st.tuples(st.integers(1, 5), st.integers(0, 400),
                                  st.one_of(st.none(), st.integers(1, 5))), max_size=15))
def test_ratings_follow_their_rules_whatever_the_order_of_the_lines(lines, reviews):
    """Lines in any order, an order listing a product twice, orders across the cutoff, feedback
    with and without an order to link to: the counted and blended ratings are the rules'."""
    start = pd.Timestamp("2025-06-01")
    # Order o belongs to customer o % 5 + 1 and is placed o * 17 days after the start (each of
    # a customer's orders at its own time, so "the latest order" is never a tie).
    items = _items([(order, order % 5 + 1, product, str((start + pd.Timedelta(days=order * 17)).date()))
                    for order, product in lines]).astype({"ordered_at": "datetime64[ns]"})
    feedback = pd.DataFrame({
        "customer_id": [customer for customer, _, _ in reviews],
        "created_at": [start + pd.Timedelta(days=day) for _, day, _ in reviews],
        "rating": [np.nan if stars is None else float(stars) for *_, stars in reviews],
    }).astype({"customer_id": "int64", "created_at": "datetime64[ns]", "rating": "float64"})
    got = recommend.build_ratings(items=items, feedback=feedback, as_of=AS_OF)
    expected = _ratings_written_out(items, feedback, AS_OF)
    pd.testing.assert_frame_equal(got.reset_index(drop=True), expected.reset_index(drop=True),
                                  check_exact=False)


@settings(max_examples=80, deadline=None)
@given(rows=st.lists(st.tuples(st.integers(1, 40), st.integers(1, 12),
                               st.sampled_from([1.0, 2.5, 3.0, 3.8613531161467867, 4.2, 5.0])),
                     min_size=1, max_size=150, unique_by=lambda row: row[:2]))
def test_the_trainset_is_the_one_surprise_builds(rows):
    """The trainset built from the columns has the ids, the per-customer and per-product rating
    lists (each in row order) and the scale Surprise's own loader gives, for ratings in any
    order; a fit on it gives the same similarities, bit for bit."""
    from surprise import Dataset, KNNWithMeans, Reader

    ratings = pd.DataFrame(rows, columns=["customer_id", "product_id", "rating"]).astype(
        {"customer_id": "int64", "product_id": "int64", "rating": "float64"})
    ours = recommend.surprise_trainset(ratings)
    theirs = Dataset.load_from_df(ratings, Reader(rating_scale=recommend.RATING_SCALE)).build_full_trainset()
    for name in ("ur", "ir", "n_users", "n_items", "n_ratings", "rating_scale",
                 "_raw2inner_id_users", "_raw2inner_id_items"):
        assert getattr(ours, name) == getattr(theirs, name), name
    assert list(ours.ur) == list(theirs.ur) and list(ours.ir) == list(theirs.ir)  # the same key order
    assert {type(v) for pairs in ours.ur.values() for pair in pairs for v in pair} <= {int, float}
    options = {"name": recommend.SIMILARITY, "user_based": False, "min_support": 1,
               "shrinkage": recommend.SHRINKAGE}
    ours_sim = KNNWithMeans(sim_options=options, verbose=False).fit(ours).sim
    theirs_sim = KNNWithMeans(sim_options=options, verbose=False).fit(theirs).sim
    np.testing.assert_array_equal(ours_sim, theirs_sim)
