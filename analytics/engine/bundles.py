"""Product bundles: frequent itemsets and association rules over order baskets.

A basket is the set of distinct products in one order. Rules ``X => Y`` say "baskets holding X
also hold Y with probability *confidence*", and *lift* compares that with Y's overall share
(Agrawal, Imielinski & Swami 1993; Hahsler, Gruen & Hornik, "arules", JSS 14(15), 2005).

Mining is delegated to mlxtend (``fpgrowth`` / ``apriori`` and ``association_rules``;
https://rasbt.github.io/mlxtend/user_guide/frequent_patterns/association_rules/). Two details of
mlxtend 0.25 matter here: ``association_rules`` needs ``num_itemsets`` (the number of baskets), and
the one-hot frame must be bool or it warns and runs slower.

Surprising points:

* A confidence threshold is compared with a tiny tolerance, as arules does (``EPSILON = 1e-12``
  in Borgelt's ``istree.c``): a rule seen in 16 of 20 baskets has confidence 0.8 exactly in
  counts, but computed from support fractions, (16/9835) / (20/9835) is a hair under 0.8. On
  Groceries at support 0.001, 39 of the 410 rules sit exactly on confidence 0.8.
* Item names are stripped of surrounding blanks. The public ``groceries.csv`` spells
  "cream cheese " and "roll products " with a trailing blank, which a naive split turns into two
  items each (171 instead of 169) and 412 instead of the published 410 rules at support 0.001.
* Apriori beats FP-growth on Groceries at supports >= 0.003 (few, short candidates) and
  mostly loses at 0.001, where the candidates explode (``bench/bundles.py``, best of 3 on a
  shared 2-core machine: 0.16-0.25 s vs 0.44-0.62 s at 0.006; at 0.001 apriori 2.3-3.5 s, FP-growth
  0.8-2.9 s). Both return the same itemsets, so ``algorithm="auto"`` picks by support and only
  speed changes.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from mlxtend.frequent_patterns import apriori, association_rules, fpgrowth
from mlxtend.preprocessing import TransactionEncoder

from analytics.engine.frames import ModelCard

# Confidence is a ratio of counts; compare it with the same slack arules uses so that rules at
# exactly the threshold are kept (Borgelt's istree.c: ``c < conf - EPSILON`` rejects).
CONFIDENCE_TOLERANCE = 1e-12

# Share of baskets held out to score the recommender. A fifth keeps the training set large
# enough for rules at typical supports (0.5-1 %) to survive the split.
HOLDOUT_FRACTION = 0.2

# Defaults for shop data. Lantz ("Machine Learning with R", ch. 8) picks support 0.006 on
# Groceries as "an item bought about twice a day over a month"; 0.25 confidence keeps rules that
# are right at least one time in four.
DEFAULT_MIN_SUPPORT = 0.006
DEFAULT_MIN_CONFIDENCE = 0.25

RULE_COLUMNS = [
    "antecedents", "consequents", "support", "confidence", "lift",
    "rule_count", "antecedent_count", "consequent_count",
]

_MINERS = {"fpgrowth": fpgrowth, "apriori": apriori}

# Below this support FP-growth is faster than apriori on Groceries (see bench/bundles.py).
APRIORI_MIN_SUPPORT = 0.003


@dataclass(frozen=True)
class BundleResult:
    """Rules mined from all baskets up to ``as_of``, and the card scored on a held-out split."""

    rules: pd.DataFrame
    item_counts: pd.Series
    card: ModelCard


def _basket_pairs(items: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    """Distinct (order_id, product_id) pairs of orders up to ``as_of``, sorted by both."""
    seen = items.loc[items["ordered_at"] <= as_of, ["order_id", "product_id"]]
    return seen.drop_duplicates().sort_values(["order_id", "product_id"], kind="stable")


def _baskets_of(pairs: pd.DataFrame) -> pd.Series:
    """Split sorted pairs into one tuple per order, without a Python call per group."""
    order_ids = pairs["order_id"].to_numpy()
    starts = np.flatnonzero(np.r_[True, order_ids[1:] != order_ids[:-1]]) if len(order_ids) else []
    products = pairs["product_id"].to_numpy().tolist()
    bounds = list(starts) + [len(products)]
    baskets = [tuple(products[a:b]) for a, b in zip(bounds[:-1], bounds[1:])]
    return pd.Series(baskets, index=pd.Index(order_ids[starts] if len(order_ids) else [], name="order_id"),
                     name="basket", dtype="object")


def baskets_from_items(items: pd.DataFrame, *, as_of: pd.Timestamp) -> pd.Series:
    """One basket per order placed up to ``as_of``: a sorted tuple of distinct product ids.

    Quantity is ignored on purpose: association rules are about co-occurrence, and two units of
    the same product say nothing about which other product goes with it.
    """
    if items.empty:
        return pd.Series(dtype="object", name="basket")
    return _baskets_of(_basket_pairs(items, as_of))


def clean_basket(basket: Iterable[Hashable]) -> tuple:
    """Distinct items of one basket, sorted; text names stripped, blank names dropped."""
    cleaned = {item.strip() if isinstance(item, str) else item for item in basket}
    cleaned.discard("")
    return tuple(sorted(cleaned, key=lambda x: (str(type(x)), x)))


def baskets_from_lines(lines: Iterable[str], *, sep: str = ",") -> list[tuple]:
    """Baskets from text, one basket a line, items separated by ``sep`` (the Groceries format)."""
    baskets = [clean_basket(line.split(sep)) for line in lines]
    return [b for b in baskets if b]


def item_frequencies(baskets: Iterable[Iterable[Hashable]]) -> pd.Series:
    """Number of baskets each item appears in, most frequent first (ties by item)."""
    counts = Counter(item for basket in baskets for item in clean_basket(basket))
    series = pd.Series(counts, dtype="int64", name="baskets")
    if series.empty:
        return series
    order = sorted(series.index, key=lambda item: (-series[item], str(item)))
    return series.loc[order]


def _one_hot(baskets: Sequence[Iterable[Hashable]]) -> pd.DataFrame:
    encoder = TransactionEncoder()
    as_lists = [list(b) for b in baskets]
    matrix = encoder.fit(as_lists).transform(as_lists)
    return pd.DataFrame(matrix, columns=encoder.columns_).astype(bool)


def _sorted_tuple(items: frozenset) -> tuple:
    return tuple(sorted(items, key=lambda x: (str(type(x)), x)))


def mine_rules(
    baskets: Sequence[Iterable[Hashable]],
    *,
    min_support: float = DEFAULT_MIN_SUPPORT,
    min_confidence: float = DEFAULT_MIN_CONFIDENCE,
    min_items: int = 2,
    max_items: int | None = None,
    single_consequent: bool = True,
    algorithm: str = "auto",
) -> pd.DataFrame:
    """Association rules from plain baskets (lists of item names or ids).

    Returns one row per rule with ``antecedents`` and ``consequents`` as sorted tuples,
    ``support``/``confidence``/``lift`` and the basket counts behind them, sorted by lift, then
    confidence, then the rule text so the order is stable. ``single_consequent`` keeps rules with
    one item on the right, which is what arules produces and what a "customers also buy" widget
    can show.
    """
    baskets = [b for b in map(clean_basket, baskets) if b]
    n_baskets = len(baskets)
    if n_baskets == 0:
        return pd.DataFrame({c: pd.Series(dtype="object") for c in RULE_COLUMNS})
    onehot = _one_hot(baskets)
    if algorithm == "auto":
        frequent = int((onehot.mean() >= min_support).sum())
        candidate_bytes = frequent * (frequent - 1) // 2 * 2 * n_baskets
        algorithm = ("apriori" if min_support >= APRIORI_MIN_SUPPORT and candidate_bytes <= APRIORI_MAX_BYTES
                     else "fpgrowth")
    miner = _MINERS[algorithm]
    itemsets = miner(onehot, min_support=min_support, use_colnames=True, max_len=max_items)
    if itemsets.empty or itemsets["itemsets"].map(len).max() < 2:
        return pd.DataFrame({c: pd.Series(dtype="object") for c in RULE_COLUMNS})
    raw = association_rules(
        itemsets,
        num_itemsets=n_baskets,
        metric="confidence",
        min_threshold=min_confidence - CONFIDENCE_TOLERANCE,
        return_metrics=["antecedent support", "consequent support", "support", "confidence", "lift"],
    )
    sizes = raw["antecedents"].map(len) + raw["consequents"].map(len)
    keep = sizes >= min_items
    if single_consequent:
        keep &= raw["consequents"].map(len) == 1
    raw = raw.loc[keep]
    rules = pd.DataFrame({
        "antecedents": raw["antecedents"].map(_sorted_tuple),
        "consequents": raw["consequents"].map(_sorted_tuple),
        "support": raw["support"].astype(float),
        "confidence": raw["confidence"].astype(float),
        "lift": raw["lift"].astype(float),
        "rule_count": np.rint(raw["support"] * n_baskets).astype("int64"),
        "antecedent_count": np.rint(raw["antecedent support"] * n_baskets).astype("int64"),
        "consequent_count": np.rint(raw["consequent support"] * n_baskets).astype("int64"),
    })
    rules["_key"] = rules["antecedents"].map(str) + rules["consequents"].map(str)
    rules = rules.sort_values(["lift", "confidence", "_key"], ascending=[False, False, True])
    return rules.drop(columns="_key").reset_index(drop=True)


def recommend_for_basket(
    rules: pd.DataFrame, basket: Iterable[Hashable], *, fallback: Sequence[Hashable] = ()
) -> Hashable | None:
    """The consequent of the most confident rule whose antecedent the basket holds.

    Ties on confidence go to the higher lift (``rules`` arrive sorted by lift). Items already in
    the basket are never recommended. With no matching rule the first ``fallback`` item not in the
    basket is returned (e.g. the best sellers), or ``None``.
    """
    held = set(basket)
    best: tuple[float, float] | None = None
    choice = None
    for antecedent, consequent, confidence, lift in zip(
        rules["antecedents"], rules["consequents"], rules["confidence"], rules["lift"]
    ):
        target = consequent[0]
        if target in held or not held.issuperset(antecedent):
            continue
        if best is None or (confidence, lift) > best:
            best, choice = (confidence, lift), target
    if choice is not None:
        return choice
    return next((item for item in fallback if item not in held), None)


def evaluate_recommender(
    baskets: Sequence[Iterable[Hashable]],
    *,
    min_support: float = DEFAULT_MIN_SUPPORT,
    min_confidence: float = DEFAULT_MIN_CONFIDENCE,
    holdout_fraction: float = HOLDOUT_FRACTION,
    seed: int = 0,
    algorithm: str = "auto",
) -> ModelCard:
    """Hold out baskets, hide one item in each, and see who guesses it.

    Rules are mined on the training baskets only. For each held-out basket with at least two
    items one item is hidden (chosen with ``seed``); the model recommends the consequent of the
    best matching rule (falling back to the best seller so every basket gets a guess), the
    baseline recommends the best-selling training item not already in the basket. ``hit_rate``
    is the share of guesses equal to the hidden item; ``rule_coverage`` the share where a rule
    (not the fallback) made the guess.
    """
    rng = np.random.default_rng(seed)
    pool = [b for b in map(clean_basket, baskets) if b]
    order = rng.permutation(len(pool))
    n_test = int(round(len(pool) * holdout_fraction))
    test = [pool[i] for i in order[:n_test]]
    train = [pool[i] for i in order[n_test:]]
    rules = mine_rules(train, min_support=min_support, min_confidence=min_confidence, algorithm=algorithm)
    popular = list(item_frequencies(train).index)

    hits = baseline_hits = covered = scored = 0
    for basket in test:
        if len(basket) < 2:
            continue
        hidden = basket[rng.integers(len(basket))]
        visible = [item for item in basket if item != hidden]
        rule_guess = recommend_for_basket(rules, visible)
        guess = rule_guess if rule_guess is not None else next(
            (item for item in popular if item not in visible), None
        )
        baseline_guess = next((item for item in popular if item not in visible), None)
        scored += 1
        covered += rule_guess is not None
        hits += guess == hidden
        baseline_hits += baseline_guess == hidden
    denominator = max(scored, 1)
    return ModelCard(
        name="bundles.association_rules",
        metrics={
            "hit_rate": hits / denominator,
            "rule_coverage": covered / denominator,
            "holdout_baskets": float(scored),
        },
        baseline={"hit_rate": baseline_hits / denominator},
        params={
            "min_support": min_support,
            "min_confidence": min_confidence,
            "holdout_fraction": holdout_fraction,
            "seed": seed,
            "algorithm": algorithm,
            "train_rules": int(len(rules)),
        },
        notes="Leave-one-out on held-out baskets; baseline = most popular item not in the basket.",
    )


# mlxtend's apriori tests every candidate pair against every basket in one array (pairs x 2 x
# baskets booleans): 30 GB at a million baskets and 200 products, and 0.8 GB for the model
# card's 20,000 training baskets (it raised a 100,000-customer run's peak from 0.9 to 2.0 GB).
# Apriori is chosen only while that array stays under this size; FP-growth builds a tree instead.
APRIORI_MAX_BYTES = 64 * 1024 * 1024
# Baskets mined per run. Support of 0.3 % estimated from 100,000 baskets has a standard error of
# about 6 % of itself, so the rules found and their ranking do not change with more; the mining
# and the held-out evaluation (a Python loop per basket) stay within seconds.
MAX_MINING_BASKETS = 100_000
# Baskets behind the model card (a fifth held out): the leave-one-out loop is plain Python.
MAX_EVALUATION_BASKETS = 25_000


def product_bundles(
    items: pd.DataFrame,
    *,
    as_of: pd.Timestamp,
    min_support: float = DEFAULT_MIN_SUPPORT,
    min_confidence: float = DEFAULT_MIN_CONFIDENCE,
    seed: int = 0,
    algorithm: str = "auto",
) -> BundleResult:
    """Rules over product ids from orders up to ``as_of``, with a held-out model card.

    At most ``MAX_MINING_BASKETS`` baskets, drawn with ``seed``, are mined; item counts use all.
    Only the sampled baskets become Python tuples; counts come from the (order, product) pairs.
    """
    pairs = _basket_pairs(items, pd.Timestamp(as_of)) if len(items) else pd.DataFrame(
        {"order_id": [], "product_id": []})
    order_ids = pairs["order_id"].unique()
    if len(order_ids) > MAX_MINING_BASKETS:
        keep = np.sort(np.random.default_rng(seed).choice(len(order_ids), MAX_MINING_BASKETS, replace=False))
        pairs_mined = pairs.loc[pairs["order_id"].isin(order_ids[keep])]
    else:
        pairs_mined = pairs
    sample = list(_baskets_of(pairs_mined))
    per_item = pairs["product_id"].value_counts()
    item_counts = pd.Series(per_item.to_numpy(), index=per_item.index.tolist(), dtype="int64", name="baskets")
    item_counts = item_counts.loc[sorted(item_counts.index, key=lambda item: (-item_counts[item], str(item)))]
    rules = mine_rules(sample, min_support=min_support, min_confidence=min_confidence, algorithm=algorithm)
    card = evaluate_recommender(
        # Every k-th basket: spread over the whole history, not just its oldest part.
        sample[::-(-len(sample) // MAX_EVALUATION_BASKETS)],
        min_support=min_support, min_confidence=min_confidence, seed=seed, algorithm=algorithm
    )
    return BundleResult(rules=rules, item_counts=item_counts, card=card)
