"""Per-customer features at a cutoff date, shared by segments, churn, loyalty and tags.

Everything here looks only at events strictly *before* ``cutoff``. That is what makes the
time-based holdout honest: a model trained at ``as_of - 90 days`` sees exactly what the business
knew that day, and its label comes from the window that follows (see :func:`repeat_purchase_labels`).

Two layers:

* :func:`build_features` returns readable features with NaN where a value is undefined
  (a one-order customer has no inter-purchase gap, a silent one no rating).
* :func:`model_matrix` turns that into the all-numeric, NaN-free matrix the scikit-learn models
  need, with the imputation choices documented in one place.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import numpy as np
import pandas as pd

from .order_summary import PRIOR_WINDOW_DAYS, Summaries, summary_before
from .order_summary import WINDOWS as SUMMARY_WINDOWS

DAY = pd.Timedelta(days=1)

# Activity windows, in days. 30/90/365 are the usual month/quarter/year views a marketer reads;
# the trend compares the last quarter with the one before it.
RECENT_WINDOWS = (30, 90, 365)
TREND_WINDOW_DAYS = 90

# Categorical attributes of the customer that are one-hot encoded. City is left out on purpose:
# it has too many levels for a few thousand customers and region already carries the geography.
CATEGORICAL_COLUMNS = ("channel", "region", "gender")


def gettext_noop(message: str) -> str:
    """Marks a label for the translation catalogue (``makemessages`` extracts calls of this name)
    without importing Django; the web layer translates the stored English at display time."""
    return message


# Readable names for the numeric features, used for churn reasons and rules shown to staff. The
# one source of these labels: analytics.explain translates them for the pages.
FEATURE_LABELS: dict[str, str] = {
    "recency_days": gettext_noop("days since last order"),
    "frequency": gettext_noop("number of orders"),
    "monetary_total": gettext_noop("total spend"),
    "monetary_mean": gettext_noop("average order value"),
    "tenure_days": gettext_noop("days as a customer"),
    "mean_gap_days": gettext_noop("average days between orders"),
    "recency_gap_ratio": gettext_noop("time since last order compared with usual gap"),
    "orders_30d": gettext_noop("orders in last 30 days"),
    "orders_90d": gettext_noop("orders in last 90 days"),
    "orders_365d": gettext_noop("orders in last 365 days"),
    "spend_30d": gettext_noop("spend in last 30 days"),
    "spend_90d": gettext_noop("spend in last 90 days"),
    "spend_365d": gettext_noop("spend in last 365 days"),
    "order_trend_90d": gettext_noop("orders last 90 days minus the 90 days before"),
    "complaints": gettext_noop("complaints in feedback"),
    "complaint_contacts": gettext_noop("complaint calls and chats"),
    "unresolved_contacts": gettext_noop("contacts left unresolved"),
    "routine_contacts": gettext_noop("ordinary contacts with us"),
    "mean_rating": gettext_noop("average rating given"),
    "mean_sentiment": gettext_noop("average feedback sentiment"),
    "feedback_count": gettext_noop("feedback left"),
}


def feature_label(column: str) -> str:
    """Readable name of a feature column, including one-hot columns such as ``region=North`` and
    imported attributes such as ``attr:Contract=Month-to-month`` ("Contract: Month-to-month")."""
    if column in FEATURE_LABELS:
        return FEATURE_LABELS[column]
    if column.startswith("attr:"):  # an imported attribute (analytics.engine.attributes)
        name = column[len("attr:"):]
        if name.endswith(":missing"):
            return f"{name[:-len(':missing')]}: missing"
        return ": ".join(name.split("=", 1))  # "Contract: Month-to-month", or "tenure"
    if "=" in column:
        attribute, value = column.split("=", 1)
        return f"{attribute} is {value or 'unknown'}"
    return column.replace("_", " ")


# Interaction outcomes that leave the customer's matter open (customers.models.Interaction.outcome
# is free text; compared lower-cased). "abandoned" is a chat the customer gave up on.
UNRESOLVED_OUTCOMES = frozenset({"unresolved", "escalated", "abandoned"})
# Features built for reading but kept out of the models' matrix: see :func:`model_matrix`.
NOT_MODEL_INPUTS = ("routine_contacts",)


def _unresolved(interactions: pd.DataFrame) -> pd.Series:
    if "outcome" not in interactions:
        return pd.Series(False, index=interactions.index)
    return interactions["outcome"].fillna("").astype(str).str.strip().str.lower().isin(UNRESOLVED_OUTCOMES)


def _days(delta: pd.Series) -> pd.Series:
    return delta / DAY


# Feature tables built inside a shared_features() block, by the identity of the frames they
# were built from and the cutoff. Churn and loyalty look at the same three dates (now, and one
# and two 90-day windows back) of the same frames: each table is built once, not twice.
_shared: dict | None = None


@contextmanager
def shared_features() -> Iterator[None]:
    """Reuse feature tables within the block (the frames must stay alive and unchanged in it)."""
    global _shared
    outer = _shared
    if outer is None:
        _shared = {}
    try:
        yield
    finally:
        _shared = outer


def build_features(
    *,
    customers: pd.DataFrame,
    orders: pd.DataFrame | None,
    feedback: pd.DataFrame | None = None,
    interactions: pd.DataFrame | None = None,
    cutoff: pd.Timestamp,
    summaries: Summaries | None = None,
    only: pd.Index | None = None,
) -> pd.DataFrame:
    """Features of every customer known before ``cutoff``, indexed by customer_id; with
    ``only``, of those of them whose ids it holds (the same rows: a customer's features are
    their own).

    A customer is known if they signed up before the cutoff or ordered before it. Customers with
    no order yet have ``frequency`` 0 and NaN recency; the models only score customers with at
    least one order, but segments of the whole base and tags still see them.

    The order features come from the order summary before ``cutoff``
    (:mod:`analytics.engine.order_summary`): from ``summaries`` when it holds that cutoff (on
    PostgreSQL the database computes them, and ``orders`` may be None), else from ``orders``.
    Money is summed in cents.

    One-hot columns come from the levels present in the whole ``customers`` frame, not from the
    customers known at the cutoff, so a model trained at one cutoff and applied at another sees
    the same columns. Inside a :func:`shared_features` block a table is built once and every
    caller gets a copy.
    """
    key = (id(customers), id(orders), id(summaries), id(feedback), id(interactions), pd.Timestamp(cutoff))
    shared = _shared if only is None else None   # a part is not the table another caller wants
    if shared is not None and key in shared:
        return shared[key].copy()
    cutoff = pd.Timestamp(cutoff)
    summary = summary_before(orders, cutoff, summaries)
    wanted = (customers["signup_date"] < cutoff) | customers["customer_id"].isin(summary.index)
    if only is not None:
        wanted &= customers["customer_id"].isin(only)
    known = customers.loc[wanted].set_index("customer_id")
    index = known.index

    def per_customer(column: str) -> pd.Series:
        return summary[column].reindex(index)

    first = per_customer("first_order_at")
    last = per_customer("last_order_at")
    out = pd.DataFrame(index=index)
    out["frequency"] = per_customer("order_count").fillna(0).astype("int64")
    out["recency_days"] = _days(cutoff - last)
    out["monetary_total"] = per_customer("total_cents").fillna(0) / 100
    out["monetary_mean"] = (out["monetary_total"] / out["frequency"]).where(out["frequency"] > 0)
    start = pd.concat([known["signup_date"], first], axis=1).min(axis=1)
    out["tenure_days"] = _days(cutoff - start)
    # Mean gap = span between first and last order over the number of gaps; undefined for one order.
    span = _days(last - first)
    out["mean_gap_days"] = (span / (out["frequency"] - 1)).where(out["frequency"] > 1)
    # Orders placed at the same instant have no gap between them: the ratio is undefined, not
    # infinite (an infinite value in a churn reason made the run's JSON unwritable).
    out["recency_gap_ratio"] = out["recency_days"] / out["mean_gap_days"].where(out["mean_gap_days"] > 0)

    # The summary's windows are these (ages at most w days; the prior quarter (90, 180]).
    assert SUMMARY_WINDOWS == RECENT_WINDOWS and PRIOR_WINDOW_DAYS == TREND_WINDOW_DAYS
    for window in RECENT_WINDOWS:
        out[f"orders_{window}d"] = per_customer(f"orders_{window}d").fillna(0).astype("int64")
        out[f"spend_{window}d"] = per_customer(f"spend_{window}d_cents").fillna(0) / 100
    prior_orders = per_customer("orders_prior_90d").fillna(0).astype("int64")
    out["order_trend_90d"] = out[f"orders_{TREND_WINDOW_DAYS}d"] - prior_orders

    if feedback is not None and len(feedback):
        fb = feedback.loc[feedback["created_at"] < cutoff]
        fb_grouped = fb.groupby("customer_id")
        complaint = fb["complaint_reason"].fillna("").astype(str).str.len() > 0
        out["complaints"] = (
            complaint.groupby(fb["customer_id"]).sum().reindex(index).fillna(0).astype("int64")
        )
        out["feedback_count"] = fb_grouped.size().reindex(index).fillna(0).astype("int64")
        out["mean_rating"] = fb_grouped["rating"].mean().reindex(index)
        out["mean_sentiment"] = fb_grouped["sentiment_score"].mean().reindex(index)
    else:
        out["complaints"] = 0
        out["feedback_count"] = 0
        out["mean_rating"] = np.nan
        out["mean_sentiment"] = np.nan

    if interactions is not None and len(interactions):
        it = interactions.loc[interactions["occurred_at"] < cutoff]
        complaint = (it["kind"] == "complaint").to_numpy()
        unresolved = _unresolved(it).to_numpy()
        by_customer = it["customer_id"]
        # Kept apart from ``complaints``: one bad experience is often logged twice, as a feedback
        # form with a reason and as a complaint contact, so adding them would double count.
        for column, mask in (("complaint_contacts", complaint), ("unresolved_contacts", unresolved),
                             ("routine_contacts", ~complaint & ~unresolved)):
            count = by_customer[mask].value_counts()
            out[column] = count.reindex(index).fillna(0).astype("int64")
    else:
        out["complaint_contacts"] = 0
        out["unresolved_contacts"] = 0
        out["routine_contacts"] = 0

    for column in CATEGORICAL_COLUMNS:
        levels = sorted(customers[column].fillna("").astype(str).unique())
        values = known[column].fillna("").astype(str)
        for level in levels:
            out[f"{column}={level}"] = (values == level).astype("int64").to_numpy()
    if shared is not None:
        shared[key] = out
        return out.copy()
    return out


def model_matrix(features: pd.DataFrame) -> pd.DataFrame:
    """NaN-free numeric matrix for scikit-learn, one row per customer.

    Imputation choices (each keeps the row's meaning rather than inventing behaviour):

    * one-order customers have no gap; their gap is set to their tenure, the shortest gap
      consistent with "has not repeated so far", so the recency/gap ratio becomes at most 1 and
      ``frequency`` still says they are one-timers;
    * no rating -> the neutral middle of the 1-5 scale (3), with ``feedback_count`` 0 telling
      the model it was imputed; no sentiment -> 0, the neutral polarity;
    * customers with no order have recency equal to their tenure.

    Contacts count by kind and outcome: complaint contacts and unresolved contacts (outcome in
    :data:`UNRESOLVED_OUTCOMES`) are model inputs; ordinary resolved contacts (a courtesy call, a
    newsletter reply) are not. Staff log those on their own schedule (campaign calls, follow-ups),
    so their count says more about the staff than about the customer, and a model that saw it
    learned that logging an ordinary call raised churn. Activity is carried by the order features.
    """
    x = features.drop(columns=[c for c in NOT_MODEL_INPUTS if c in features.columns])
    x["recency_days"] = x["recency_days"].fillna(x["tenure_days"])
    x["mean_gap_days"] = x["mean_gap_days"].fillna(x["tenure_days"].clip(lower=1.0))
    x["recency_gap_ratio"] = x["recency_days"] / x["mean_gap_days"].clip(lower=1.0)
    x["monetary_mean"] = x["monetary_mean"].fillna(0.0)
    x["mean_rating"] = x["mean_rating"].fillna(3.0)
    x["mean_sentiment"] = x["mean_sentiment"].fillna(0.0)
    return x.astype("float64")


def repeat_purchase_labels(
    *, orders: pd.DataFrame | None, customer_ids: pd.Index, cutoff: pd.Timestamp, horizon_days: int,
    summaries: Summaries | None = None,
) -> pd.Series:
    """1 if the customer ordered in ``[cutoff, cutoff + horizon_days)``, else 0.

    Read from the order summary before ``cutoff + horizon_days``: a customer ordered in the
    window when their last order before its end is at or after its start. Churn's behavioural
    label is the complement; loyalty uses it as is.
    """
    cutoff = pd.Timestamp(cutoff)
    later = summary_before(orders, cutoff + pd.Timedelta(days=horizon_days), summaries)
    bought = later.index[(later["last_order_at"] >= cutoff).to_numpy()]
    return pd.Series(customer_ids.isin(bought).astype("int64"), index=customer_ids)


def labelled_snapshot(
    *,
    customers: pd.DataFrame,
    orders: pd.DataFrame | None,
    feedback: pd.DataFrame | None,
    interactions: pd.DataFrame | None,
    cutoff: pd.Timestamp,
    horizon_days: int,
    summaries: Summaries | None = None,
    rows: Callable[[pd.Series], pd.Index] | None = None,
) -> tuple[pd.DataFrame, pd.Series]:
    """Model matrix of customers with at least one order before ``cutoff`` and their repeat label.

    The label window ``[cutoff, cutoff + horizon_days)`` must end on or before the ``as_of`` of
    the run, otherwise the label would be read from the future; callers place their cutoffs so.

    ``rows``, given every such customer's label (indexed by id, in the matrix's order), returns
    the ids the caller will read: only their features are built, and the matrix holds only them
    (the label stays whole). A caller that fits on a sample of a million customers builds the
    sample's features, not everyone's.
    """
    cutoff = pd.Timestamp(cutoff)
    only = None
    if rows is not None:
        summary = summary_before(orders, cutoff, summaries)
        bought = summary.index[(summary["order_count"] > 0).to_numpy()]
        ids = pd.Index(customers["customer_id"].loc[customers["customer_id"].isin(bought)], name="customer_id")
        y = repeat_purchase_labels(orders=orders, customer_ids=ids, cutoff=cutoff, horizon_days=horizon_days,
                                   summaries=summaries)
        only = rows(y)
        summaries = {**(summaries or {}), cutoff: summary}   # computed once, from orders too
    features = build_features(
        customers=customers, orders=orders, feedback=feedback, interactions=interactions, cutoff=cutoff,
        summaries=summaries, only=only,
    )
    x = model_matrix(features.loc[features["frequency"] > 0])
    if rows is None:
        y = repeat_purchase_labels(orders=orders, customer_ids=x.index, cutoff=cutoff,
                                   horizon_days=horizon_days, summaries=summaries)
    return x, y


def top_decile_lift(y_true: np.ndarray, score: np.ndarray) -> float:
    """Positive rate among the 10 % highest scores divided by the overall positive rate.

    The figure a retention manager asks for: "if we call the top tenth, how many times more
    churners do we reach than calling at random?". Ties are broken by order of appearance after
    a stable sort, so the value is deterministic.
    """
    y_true = np.asarray(y_true, dtype=float)
    order = np.argsort(-np.asarray(score, dtype=float), kind="stable")
    top = order[: max(1, int(round(len(order) * 0.1)))]
    base = y_true.mean()
    return float(y_true[top].mean() / base) if base > 0 else float("nan")


def binned_rate_baseline(
    train_value: pd.Series, train_label: pd.Series, test_value: pd.Series, bins: int = 10
) -> np.ndarray:
    """Probability for a one-feature baseline: the training positive rate in the test value's bin.

    Bins are training quantiles of the single feature (recency for churn, frequency for
    loyalty). This gives the baseline honest probabilities, so its Brier score can be compared
    with a calibrated model's; its ranking is the feature's own ranking.
    """
    edges = np.unique(np.quantile(train_value.to_numpy(dtype=float), np.linspace(0, 1, bins + 1)))
    edges[0], edges[-1] = -np.inf, np.inf
    train_bin = np.digitize(train_value.to_numpy(dtype=float), edges[1:-1])
    rates = pd.Series(train_label.to_numpy(dtype=float)).groupby(train_bin).mean()
    test_bin = np.digitize(test_value.to_numpy(dtype=float), edges[1:-1])
    return pd.Series(test_bin).map(rates).fillna(train_label.mean()).to_numpy(dtype=float)


# Rows a classifier is fitted on at most. Churn and loyalty AUC on the demo data stop improving
# well before this (a 20,000-row fit is within 0.005 AUC of a 100,000-row one), while fit time
# grows linearly: a capped sample keeps a million-customer run in minutes. Scoring is never
# sampled: every customer gets a probability.
MAX_FIT_ROWS = 40_000
# Rows a model card's metrics are measured on at most. Over 200,000 rows the standard error of
# an AUC is about 0.001, and predicting for a million-customer evaluation window (three
# calibrated models each) cost more time than scoring everyone. Scores never depend on it.
MAX_EVAL_ROWS = 200_000


def sample_positions(n: int, *, seed: int, max_rows: int = MAX_FIT_ROWS) -> np.ndarray | None:
    """The positions :func:`fit_sample` keeps of ``n`` rows, in order; None for all of them."""
    if n <= max_rows:
        return None
    return np.sort(np.random.default_rng(seed).choice(n, size=max_rows, replace=False))


def fit_sample(x: pd.DataFrame, y: pd.Series, *, seed: int,
               max_rows: int = MAX_FIT_ROWS) -> tuple[pd.DataFrame, pd.Series]:
    """A seeded random subset of at most ``max_rows`` rows of (x, y), in the original order."""
    keep = sample_positions(len(x), seed=seed, max_rows=max_rows)
    if keep is None:
        return x, y
    return x.iloc[keep], y.iloc[keep]
