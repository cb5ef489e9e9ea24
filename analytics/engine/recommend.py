"""Product recommendations: item-based collaborative filtering with scikit-surprise.

Ratings. The CRM has purchases, not stars, so each (customer, product) pair gets an implicit
rating from how many separate orders contained the product: one order = ``BASE_RATING`` (a
purchase is a mild "yes"), rising on a log scale to 5 at ``SATURATION_ORDERS`` orders (buying
again is the strongest signal retail data has; Hu, Koren & Volinsky 2008 treat counts as
confidence the same way). Feedback has no product, only a customer and a date, so an explicit
rating is attached to the products of that customer's latest order in the
``FEEDBACK_ORDER_WINDOW_DAYS`` before the feedback ("how was your delivery?") and averaged with
the implicit rating. That association is an assumption of this module, stated here on purpose.

Model. ``KNNWithMeans`` with ``user_based=False`` computes the item-item similarity matrix
(``algo.sim``). Surprise's ``cosine`` only looks at co-raters, so with all-positive implicit
ratings it is close to 1 for any pair with a common buyer; ``pearson_baseline`` centres on the
baseline estimates and shrinks by the number of common buyers (Koren 2010, "Factor in the
neighbors", section 2.2; Surprise docs, similarity measures), which is what separates real
co-purchase affinity from chance, so it is the default.

Top-N. Scores for every customer and product come from one sparse product
``R (customers x items) @ max(S, 0)`` (Deshpande & Karypis 2004, "Item-based top-N
recommendation algorithms"), not from one ``predict()`` per pair: predicting each pair would be
n_customers x n_items Python calls. The surprise: on its own this CF score loses to plain
popularity on the demo data, because Surprise's similarities are computed on co-raters only and
ignore how many people bought a product at all. The ranking score is therefore the CF score
scaled to 0..1 per customer plus ``POPULARITY_WEIGHT`` x popularity, and that blend beats
popularity (see the constant). Already-bought products are never recommended.

Reasons. A recommendation is "similar" only when the CF score earned it its place: it has a
positive CF score and popularity alone (the same ranking without the CF term) would not have
put it in the customer's top N. Its reason (``because_of`` on the page) is the bought product
``j`` with the largest contribution ``max(S[i, j], 0) x rating[j]`` to the CF score of the
recommended product ``i``, which is exactly a term of the sum that score is. Every other
recommendation is "popular" and has no reason product: on the demo data the popularity term is
larger than the scaled CF term for every single recommendation (the CF share of the blended
score has a median of 15 %), so naming a bought product whenever the CF score was merely
positive showed "because they bought X" for products X had little to do with. About one
recommendation in ten is "similar" on the demo data, mostly in the lower ranks, and three
customers in four have at least one.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
from scipy import sparse
from surprise import KNNWithMeans, Trainset

from .frames import ModelCard

TOP_N = 10
# The ratings' scale, as Surprise's reader would be told it.
RATING_SCALE = (1, 5)
BASE_RATING = 3.0
MAX_RATING = 5.0
# Five separate orders of the same product is a habit; more adds no information about taste.
SATURATION_ORDERS = 5
FEEDBACK_ORDER_WINDOW_DAYS = 30
# Explicit and implicit ratings count equally: a stated opinion is strong but rare and not
# product-specific here (see module docstring).
FEEDBACK_WEIGHT = 0.5
SIMILARITY = "pearson_baseline"
# Surprise's default shrinkage for pearson_baseline; similarities from few common buyers are pulled
# towards zero by n / (n + 100).
SHRINKAGE = 100
# A pair needs at least 3 common buyers to have a similarity at all; below that the estimate is noise.
MIN_SUPPORT = 3
# Weight of popularity against the per-customer CF score (scaled to 0..1). On the demo data the
# CF score alone reaches a last-basket hit rate of 0.21-0.23 against 0.27-0.31 for popularity;
# the blend reaches +1 to +1.5 points over popularity for weights 2-3 on three seeds/sizes and
# drops back for 5. CF then decides the order among similarly popular products, which is what a
# within-category taste signal can do on a catalogue with a steep popularity curve.
POPULARITY_WEIGHT = 3.0


@dataclass(frozen=True)
class Recommendations:
    """``items``: rows indexed by customer_id with rank (1..TOP_N), product_id, score,
    reason_product_id (the bought product contributing most to its CF score; <NA> for popularity
    picks) and source ("similar" | "popular", see the module docstring). ``card``: hit rate at 10 on each customer's last basket."""

    items: pd.DataFrame
    card: ModelCard


def _before(frame: pd.DataFrame, column: str, as_of: pd.Timestamp) -> pd.DataFrame:
    """Rows of ``frame`` with ``column`` before ``as_of``: the frame itself, not a copy of its
    millions of rows, when all of them are."""
    mask = (frame[column] < as_of).to_numpy()
    return frame if mask.all() else frame.loc[mask]


def build_ratings(
    *, items: pd.DataFrame, feedback: pd.DataFrame | None, as_of: pd.Timestamp
) -> pd.DataFrame:
    """Ratings frame (customer_id, product_id, rating in 1..5) from purchases before ``as_of``,
    sorted by customer and product.

    The counting works on integer codes: a (customer, product) pair and an (order, product)
    line are each one int64, so finding distinct lines and counting a pair's orders are one
    hash and one sort of plain integers. Grouping the million-customer demo's 18.75 million
    order lines by two columns with ``nunique`` took 34 s a call; this takes a few.
    """
    as_of = pd.Timestamp(as_of)
    past = _before(items, "ordered_at", as_of)
    customer_codes, customers = pd.factorize(past["customer_id"], sort=True)
    product_codes, products = pd.factorize(past["product_id"], sort=True)
    # Codes by first appearance: an order's first line is the first row where its code is larger
    # than every code before it.
    order_codes = pd.factorize(past["order_id"])[0]
    n_products = max(len(products), 1)
    # One row per distinct (order, product): an order listing a product twice buys it once.
    distinct = ~pd.Series(order_codes.astype(np.int64) * n_products + product_codes).duplicated().to_numpy()
    pair_of_line = customer_codes[distinct].astype(np.int64) * n_products + product_codes[distinct]
    # Each intermediate goes as soon as it is used: at a million customers (19 million lines)
    # they held up to 1.5 GB at once, the products part's peak.
    del customer_codes, product_codes
    pairs, n_orders = np.unique(pair_of_line, return_counts=True)  # sorted: by customer, then product
    # rating = BASE + (MAX - BASE) * log(min(orders, SATURATION)) / log(SATURATION), computed in
    # place in that order (the same floats as the expression written out).
    rating = np.log(np.minimum(n_orders, SATURATION_ORDERS).astype("float64"))
    rating /= np.log(SATURATION_ORDERS)
    rating *= MAX_RATING - BASE_RATING
    rating += BASE_RATING
    # Columns as they are, not copied into one block: at a million customers each is 14 million
    # values, and the copies were part of the products part's peak.
    counts = pd.DataFrame({
        "customer_id": np.asarray(customers, dtype="int64")[pairs // n_products],
        "product_id": np.asarray(products, dtype="int64")[pairs % n_products],
        "orders": n_orders,
        "rating": rating,
    }, copy=False)
    del n_orders, rating
    if feedback is None or not len(feedback):
        return counts[["customer_id", "product_id", "rating"]]

    rated = feedback.loc[(feedback["created_at"] < as_of) & feedback["rating"].notna()]
    # An optional order_id column (not part of the engine schema, but the demo data and a
    # survey link can carry it) names the order outright; other feedback is linked by time.
    if "order_id" in rated.columns:
        direct = rated.loc[rated["order_id"].notna(), ["customer_id", "order_id", "rating"]]
        direct = direct.astype({"order_id": "int64"})
        rated = rated.loc[rated["order_id"].isna()]
    else:
        direct = pd.DataFrame({"customer_id": [], "order_id": [], "rating": []})
    # (A running maximum: a hash of every line's order cost 440 MB at a million customers.)
    highest = np.maximum.accumulate(order_codes)
    del order_codes
    first_line = np.empty(len(highest), dtype=bool)
    first_line[:1] = True
    first_line[1:] = highest[1:] > highest[:-1]
    del highest
    # Only the orders of customers with feedback to link can be linked to (by customer).
    linkable = np.flatnonzero(first_line & past["customer_id"].isin(rated["customer_id"]).to_numpy())
    # merge_asof: the latest order at or before each feedback, within the window. The orders are
    # taken once, in time order, by one argsort: the order sort_values would give (the same
    # sort), without a first copy and sort_values' four other arrays of every order (about 400
    # MB at a million customers).
    linkable = linkable[np.argsort(past["ordered_at"].to_numpy()[linkable])]
    orders = past.iloc[linkable, [past.columns.get_loc(c) for c in ("customer_id", "order_id", "ordered_at")]]
    by_time = pd.merge_asof(
        rated[["customer_id", "created_at", "rating"]].sort_values("created_at"),
        orders,
        left_on="created_at", right_on="ordered_at", by="customer_id",
        tolerance=pd.Timedelta(days=FEEDBACK_ORDER_WINDOW_DAYS), direction="backward",
    ).dropna(subset=["order_id"])
    linked = pd.concat(
        [direct, by_time[["customer_id", "order_id", "rating"]].astype({"order_id": "int64"})],
        ignore_index=True,
    )
    del rated, direct, orders, by_time, linkable, first_line
    # A rated order's rating goes to every product on it, for the customer who placed it.
    order_of_line = past["order_id"].to_numpy()[distinct]
    rated_line = pd.Series(order_of_line).isin(linked["order_id"]).to_numpy()
    lines = pd.DataFrame({"order_id": order_of_line[rated_line], "pair": pair_of_line[rated_line]})
    del order_of_line, rated_line, pair_of_line, distinct
    explicit = linked[["order_id", "rating"]].merge(lines, on="order_id").groupby("pair")["rating"].mean()
    explicit = explicit.reindex(pairs).to_numpy()
    blended = (1 - FEEDBACK_WEIGHT) * counts["rating"] + FEEDBACK_WEIGHT * np.clip(explicit, 1, 5)
    counts["rating"] = blended.fillna(counts["rating"])
    return counts[["customer_id", "product_id", "rating"]]


def surprise_trainset(ratings: pd.DataFrame) -> Trainset:
    """Surprise's trainset of ``ratings`` (customer_id, product_id, rating), equal to
    ``Dataset.load_from_df(...).build_full_trainset()``: the same inner ids (by first appearance),
    each customer's and product's ratings in row order, the same Python ints and floats, so a
    fit on it gives the same similarities bit for bit (tests/analytics/engine/test_recommend.py).

    Built from the columns at once rather than a row at a time: Surprise makes a tuple of every
    rating, then reads them back one by one into its dictionaries (0.24-0.37 s for the 177,000
    ratings of a fit at 100,000 customers, against 0.16-0.20 s; two fits a run).
    """
    user_codes, users = pd.factorize(ratings["customer_id"], sort=False)
    item_codes, items = pd.factorize(ratings["product_id"], sort=False)
    values = ratings["rating"].to_numpy(dtype="float64")

    def grouped(codes: np.ndarray, others: np.ndarray, n: int) -> defaultdict:
        order = np.argsort(codes, kind="stable")  # row order within each group
        pairs = list(zip(others[order].tolist(), values[order].tolist()))
        ends = np.cumsum(np.bincount(codes, minlength=n)).tolist()
        return defaultdict(list, {key: pairs[start:end]
                                  for key, (start, end) in enumerate(zip([0, *ends[:-1]], ends))})

    return Trainset(
        grouped(user_codes, item_codes, len(users)), grouped(item_codes, user_codes, len(items)),
        len(users), len(items), len(ratings), RATING_SCALE,
        dict(zip(users.tolist(), range(len(users)))), dict(zip(items.tolist(), range(len(items)))))


def _fit_similarity(ratings: pd.DataFrame) -> tuple[np.ndarray, list]:
    """Fit item-based KNNWithMeans; return ``algo.sim`` and the raw product ids in its order.

    Deterministic: pearson_baseline's baselines come from alternating least squares, no sampling.
    """
    trainset = surprise_trainset(ratings)
    algo = KNNWithMeans(
        sim_options={
            "name": SIMILARITY, "user_based": False, "min_support": MIN_SUPPORT, "shrinkage": SHRINKAGE,
        },
        verbose=False,
    )
    algo.fit(trainset)
    items = [trainset.to_raw_iid(i) for i in range(trainset.n_items)]
    return np.asarray(algo.sim, dtype=float), items


def _popularity_share(ratings: pd.DataFrame, product_ids: pd.Index) -> np.ndarray:
    """Distinct buyers per product divided by the most-bought product's buyers (0..1)."""
    buyers = ratings.groupby("product_id")["customer_id"].nunique()
    counts = buyers.reindex(product_ids).fillna(0.0).to_numpy(dtype=float)
    return counts / counts.max() if counts.max() > 0 else counts


@dataclass(frozen=True)
class RecommenderModel:
    """What scoring needs, fitted once per run: clipped item-item similarities and popularity.

    Small (products x products floats), so a full run pickles it for the workers that score
    customer chunks, and every chunk ranks with exactly the same model.
    """

    product_ids: np.ndarray     # catalogue order of the matrix rows and columns
    similarity: np.ndarray      # max(S, 0) with a zero diagonal
    popularity: np.ndarray      # share of the most-bought product's buyers, 0..1


def fit_recommender(ratings: pd.DataFrame, product_ids: np.ndarray, *,
                    use_similarity: bool = True) -> RecommenderModel:
    """Fit on ``ratings``; ``use_similarity=False`` gives the pure popularity baseline."""
    products = pd.Index(product_ids)
    similarity = np.zeros((len(products), len(products)))
    if use_similarity and len(ratings):
        sim, sim_items = _fit_similarity(ratings)
        at = products.get_indexer(sim_items)
        similarity[np.ix_(at, at)] = np.clip(sim, 0.0, None)  # negative = "bought by different people"
        np.fill_diagonal(similarity, 0.0)
    return RecommenderModel(product_ids=np.asarray(product_ids), similarity=similarity,
                            popularity=_popularity_share(ratings, products))


# Customers ranked per block: the block's dense customers x products score matrices stay near
# 100 MB for a 1,000-product catalogue, whatever the number of customers.
SCORE_BLOCK = 5_000


def recommend_top_n(model: RecommenderModel, ratings: pd.DataFrame, customer_ids: np.ndarray, *,
                    top_n: int = TOP_N) -> pd.DataFrame:
    """Top-N for ``customer_ids`` from their own ``ratings`` (other customers' rows are ignored).

    Score = CF score scaled to 0..1 per customer + ``POPULARITY_WEIGHT`` x popularity share.
    Ties (customers with no history, products nobody bought) break by product position, which
    with ``kind="stable"`` sorting keeps the output deterministic. Works block by block, so
    memory does not grow with the number of customers.
    """
    customer_ids = np.asarray(customer_ids)
    wanted = ratings.loc[ratings["customer_id"].isin(customer_ids)]
    blocks = [_rank_block(model, wanted, customer_ids[start:start + SCORE_BLOCK], top_n)
              for start in range(0, len(customer_ids), SCORE_BLOCK)]
    if not blocks:
        return _rank_block(model, wanted, customer_ids, top_n)
    return pd.concat(blocks) if len(blocks) > 1 else blocks[0]


def _popularity_top(popularity: np.ndarray, bought: np.ndarray, n_rec: int) -> np.ndarray:
    """Customers x products mask of the ``n_rec`` unbought products popularity alone would rank
    first (ties by catalogue position, as the stable sort of the blended score breaks them).

    Popularity orders the catalogue the same way for everyone, so no per-customer sort is
    needed: a product is in a customer's list when it is unbought and fewer than ``n_rec``
    unbought products come before it in the shared order.
    """
    order = np.argsort(-popularity, kind="stable")
    unbought = ~bought[:, order]
    in_order = unbought & (np.cumsum(unbought, axis=1) <= n_rec)
    mask = np.empty_like(in_order)
    mask[:, order] = in_order
    return mask


def top_positions(scores: np.ndarray, n: int) -> np.ndarray:
    """Each row's ``n`` highest columns, highest first, ties by column: the first ``n`` of a stable
    sort of ``-scores``, without sorting every row (a catalogue of a thousand products, ten kept).

    A partition picks n columns per row. Where every column equal to the lowest picked value was
    picked, they are the n a stable sort keeps, and only they are sorted; the rows where the
    partition had to choose among equal values are sorted whole.
    """
    if n >= scores.shape[1] or np.isnan(scores).any():
        return np.argsort(-scores, axis=1, kind="stable")[:, :n]
    picked = np.argpartition(-scores, n - 1, axis=1)[:, :n]
    values = np.take_along_axis(scores, picked, axis=1)
    lowest = values.min(axis=1, keepdims=True)
    top = np.take_along_axis(picked, np.lexsort((picked, -values), axis=1), axis=1)
    split = (scores == lowest).sum(axis=1) != (values == lowest).sum(axis=1)
    if split.any():
        top[split] = np.argsort(-scores[split], axis=1, kind="stable")[:, :n]
    return top


def _rank_block(model: RecommenderModel, ratings: pd.DataFrame, customer_ids: np.ndarray,
                top_n: int) -> pd.DataFrame:
    product_ids = model.product_ids
    products = pd.Index(product_ids)
    cust = pd.Index(customer_ids)
    rows = cust.get_indexer(ratings["customer_id"])
    cols = products.get_indexer(ratings["product_id"])
    known = (rows >= 0) & (cols >= 0)
    r = sparse.csr_matrix(
        (ratings["rating"].to_numpy()[known], (rows[known], cols[known])), shape=(len(cust), len(products))
    )
    similarity = model.similarity
    cf = np.asarray(r @ similarity)  # one sparse x dense product for every customer and product
    row_max = cf.max(axis=1, keepdims=True) if len(products) else np.zeros((len(cust), 1))
    cf_scaled = np.divide(cf, row_max, out=np.zeros_like(cf), where=row_max > 0)
    scores = cf_scaled + POPULARITY_WEIGHT * model.popularity
    weights = r.toarray()
    bought = weights != 0
    scores[bought] = -np.inf
    n_rec = min(top_n, len(products))
    top = top_positions(scores, n_rec)
    top_score = np.take_along_axis(scores, top, axis=1)
    earned = np.take_along_axis(cf > 0, top, axis=1) & ~np.take_along_axis(
        _popularity_top(model.popularity, bought, n_rec), top, axis=1)

    # Reason: the bought product contributing most to the CF score, similarity x rating; the CF
    # score is the sum of these contributions over the bought products with positive similarity.
    reason = np.full(top.shape, -1, dtype=np.int64)
    for k in range(n_rec):
        reason[:, k] = np.argmax(weights * similarity[top[:, k]], axis=1)
    reason_ids = pd.array(np.asarray(product_ids)[reason].ravel(), dtype="Int64")
    reason_ids[~earned.ravel()] = pd.NA

    out = pd.DataFrame(
        {
            "customer_id": np.repeat(cust.to_numpy(), n_rec),
            "rank": np.tile(np.arange(1, n_rec + 1), len(cust)),
            "product_id": np.asarray(product_ids)[top].ravel().astype("int64"),
            "score": top_score.ravel(),
            "reason_product_id": reason_ids,
            "source": np.where(earned.ravel(), "similar", "popular"),
        }
    )
    valid = np.isfinite(out["score"].to_numpy())  # fewer unbought products than TOP_N
    return out.loc[valid].set_index("customer_id")


def _recommend(
    ratings: pd.DataFrame,
    customer_ids: np.ndarray,
    product_ids: np.ndarray,
    *,
    use_similarity: bool = True,
    top_n: int = TOP_N,
) -> pd.DataFrame:
    """Fit on ``ratings`` and rank ``customer_ids`` in one call (evaluation and tests)."""
    model = fit_recommender(ratings, product_ids, use_similarity=use_similarity)
    return recommend_top_n(model, ratings, customer_ids, top_n=top_n)


def _last_basket_split(items: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(training items, held-out last-order items) for customers with at least two orders."""
    order_times = items[["customer_id", "order_id", "ordered_at"]].drop_duplicates("order_id")
    order_times = order_times.sort_values(["customer_id", "ordered_at", "order_id"])
    n_orders = order_times.groupby("customer_id")["order_id"].transform("size")
    last = order_times.groupby("customer_id").tail(1)
    held_ids = last.loc[n_orders.loc[last.index] >= 2, "order_id"]
    held = items["order_id"].isin(held_ids)
    return items.loc[~held], items.loc[held]


def _hit_rate(recs: pd.DataFrame, held: pd.DataFrame, train: pd.DataFrame) -> tuple[float, int]:
    """Share of evaluated customers with at least one new held-out product in their top 10."""
    # Only the held-out customers' own purchases matter: a set of every (customer, product) pair
    # in the training lines took 13 s a call at a million customers.
    train = train.loc[train["customer_id"].isin(held["customer_id"].unique())]
    seen = set(zip(train["customer_id"], train["product_id"]))
    targets = {
        (c, p) for c, p in zip(held["customer_id"], held["product_id"]) if (c, p) not in seen
    }
    evaluated = {c for c, _ in targets}
    pairs = set(zip(recs.index, recs["product_id"]))
    hits = {c for c, p in pairs & targets}
    return (len(hits) / len(evaluated) if evaluated else float("nan")), len(evaluated)


# Similarities are fitted on the ratings of at most this many customers, drawn at random. With
# 200 products, item-item similarities from 30,000 customers ranked as well as from 100,000 on
# the demo data (last-basket hit rate 0.306 against 0.305; 15,000 gave 0.300), and the Surprise
# fit, which grows with the number of ratings, took 4 s instead of 16 s.
MAX_FIT_CUSTOMERS = 30_000
# Customers whose held-out last basket is scored for the model card: a hit rate over 20,000
# customers has a standard error under 0.4 points.
MAX_EVAL_CUSTOMERS = 20_000
# The evaluation reads the order lines of at most this many customers, drawn at random: its
# held-out customers, its model's fit sample and its baseline's popularity all come from them.
# Splitting off every customer's last basket and rating every line a second time made the
# recommender take 43 s instead of 28 s on the million-customer demo (19 million order lines), for
# a hit rate within 0.2 points of it (0.307 against 0.306), and peak at 3.1 GB instead of 2.5.
MAX_EVAL_SAMPLE_CUSTOMERS = 100_000


@dataclass(frozen=True)
class FittedRecommender:
    """The production model, the ratings it ranks from, and its evaluation card."""

    model: RecommenderModel
    ratings: pd.DataFrame
    card: ModelCard


def _customer_sample(ratings: pd.DataFrame, limit: int, rng: np.random.Generator) -> pd.DataFrame:
    customers = np.unique(ratings["customer_id"].to_numpy())
    if len(customers) <= limit:
        return ratings
    keep = rng.choice(customers, size=limit, replace=False)
    return ratings.loc[ratings["customer_id"].isin(keep)]


def recommender_fit(
    *,
    products: pd.DataFrame,
    items: pd.DataFrame,
    feedback: pd.DataFrame | None = None,
    as_of: pd.Timestamp,
    seed: int = 0,
) -> FittedRecommender:
    """Fit the model once and evaluate it; ranking customers is :func:`recommend_top_n`.

    Evaluation: each customer's last order before ``as_of`` is held out, the model is refitted on
    the rest, and hit rate at 10 counts customers with at least one *new* product of that basket in
    their list (re-bought products cannot be recommended, so they cannot count). The baseline
    recommends the most-bought products the customer does not have yet. Past
    ``MAX_EVAL_SAMPLE_CUSTOMERS`` customers, all of this is measured on a random sample of them.
    """
    as_of = pd.Timestamp(as_of)
    rng = np.random.default_rng(seed)
    past_items = _before(items, "ordered_at", as_of)
    product_ids = products["product_id"].to_numpy()

    train_items, held = _last_basket_split(_customer_sample(past_items, MAX_EVAL_SAMPLE_CUSTOMERS, rng))
    train_ratings = build_ratings(items=train_items, feedback=feedback, as_of=as_of)
    eval_customers = np.unique(held["customer_id"].to_numpy())
    if len(eval_customers) > MAX_EVAL_CUSTOMERS:
        eval_customers = np.sort(rng.choice(eval_customers, size=MAX_EVAL_CUSTOMERS, replace=False))
        held = held.loc[held["customer_id"].isin(eval_customers)]
    train_model = fit_recommender(_customer_sample(train_ratings, MAX_FIT_CUSTOMERS, rng), product_ids)
    model_hit, n_eval = _hit_rate(recommend_top_n(train_model, train_ratings, eval_customers), held,
                                  train_items)
    popular = fit_recommender(train_ratings, product_ids, use_similarity=False)
    popular_hit, _ = _hit_rate(recommend_top_n(popular, train_ratings, eval_customers), held, train_items)
    # The evaluation's copy of the order lines and its ratings go before the full ratings are
    # built: at a million customers they are about a gigabyte the process need not hold twice.
    del train_items, held, train_ratings, train_model, popular

    ratings = build_ratings(items=past_items, feedback=feedback, as_of=as_of)
    model = fit_recommender(_customer_sample(ratings, MAX_FIT_CUSTOMERS, rng), product_ids)
    card = ModelCard(
        name="item_knn_with_means",
        metrics={"hit_rate_at_10": model_hit},
        baseline={"hit_rate_at_10": popular_hit},
        params={"similarity": SIMILARITY, "min_support": MIN_SUPPORT, "shrinkage": SHRINKAGE,
                "popularity_weight": POPULARITY_WEIGHT, "n_evaluated": n_eval,
                "n_ratings": int(len(ratings)), "max_fit_customers": MAX_FIT_CUSTOMERS,
                "seed": seed},
        notes="held out: each customer's last basket; baseline: most-bought products not yet bought",
    )
    return FittedRecommender(model=model, ratings=ratings, card=card)


def recommend_products(
    *,
    customers: pd.DataFrame,
    products: pd.DataFrame,
    items: pd.DataFrame,
    feedback: pd.DataFrame | None = None,
    as_of: pd.Timestamp,
    seed: int = 0,
) -> Recommendations:
    """Top ``TOP_N`` unbought products for every customer, with the evaluation card."""
    fitted = recommender_fit(products=products, items=items, feedback=feedback, as_of=as_of, seed=seed)
    recs = recommend_top_n(fitted.model, fitted.ratings, customers["customer_id"].to_numpy())
    share_popular = float((recs["source"] == "popular").mean()) if len(recs) else None
    card = replace(fitted.card, params={**fitted.card.params, "share_popular": share_popular})
    return Recommendations(items=recs, card=card)
