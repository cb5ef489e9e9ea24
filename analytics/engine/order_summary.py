"""One row per customer summarising their orders before a cutoff: the quantities the models read.

RFM, the order features of segments, churn and loyalty, the lifecycle's purchase rhythm and the
CLV summary are all per-customer aggregates of the orders (counts, first and last dates, sums,
windowed counts, gaps between purchase days). This frame holds them, so they can be computed
where the orders are: :func:`order_summary` computes it from an orders frame with pandas (the
path every database has), and on PostgreSQL the adapter computes the same frame with one
``GROUP BY`` query and streams it out, one row per customer, without reading the orders into
pandas. Both must agree (``tests/analytics/test_order_summary.py``).

Columns (index ``customer_id``, int64; customers without an order before the cutoff are absent):

``order_count``            orders (int64)
``total_cents``            sum of the order totals in cents (int64: no float drift in a sum)
``first_order_at``         first and last order time (datetime64[ns], naive UTC)
``last_order_at``
``orders_<w>d``            orders at most ``w`` days before the cutoff, w in :data:`WINDOWS` (int64)
``spend_<w>d_cents``       their total in cents (int64)
``orders_prior_90d``       orders more than 90 and at most 180 days before the cutoff (int64)
``purchase_days``          distinct calendar days with an order (int64)
``first_day_cents``        total of the first purchase day, in cents (int64; CLV leaves it out)
``first_day``, ``last_day`` first and last purchase day (datetime64[ns], midnight)
``median_gap_days``        median gap in days between consecutive purchase days (NaN for one day)
``last_gap_days``          the last such gap (NaN for one day)
``median_earlier_gap_days`` median of the gaps before the last one (NaN for two days or fewer)

Money arrives from the database as ``numeric(14, 2)``: cents are exact integers. Amounts given
as floats (tests, the demo generator) are rounded to the nearest cent first.
"""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

# Activity windows, in days (features.RECENT_WINDOWS; kept here so the adapter's SQL and the
# pandas path read one list).
WINDOWS = (30, 90, 365)
PRIOR_WINDOW_DAYS = 90

COUNT_COLUMNS = ["order_count", "total_cents",
                 *[f"orders_{w}d" for w in WINDOWS], *[f"spend_{w}d_cents" for w in WINDOWS],
                 "orders_prior_90d", "purchase_days", "first_day_cents"]
TIME_COLUMNS = ["first_order_at", "last_order_at", "first_day", "last_day"]
GAP_COLUMNS = ["median_gap_days", "last_gap_days", "median_earlier_gap_days"]
SUMMARY_COLUMNS = [*COUNT_COLUMNS, *TIME_COLUMNS, *GAP_COLUMNS]
# The columns the feature tables and labels read (analytics.engine.features): no purchase day,
# so a summary for them needs no per-day pass (the adapter computes only these at the
# feature cutoffs).
FEATURE_COLUMNS = [*COUNT_COLUMNS[:-2], "first_order_at", "last_order_at"]

DAY = pd.Timedelta(days=1)


def cents(amounts: pd.Series) -> np.ndarray:
    """Money as whole cents (int64), rounded half away from zero as ``numeric`` rounds."""
    values = amounts.to_numpy(dtype="float64") * 100
    return (np.sign(values) * np.floor(np.abs(values) + 0.5)).astype("int64")


def empty_summary() -> pd.DataFrame:
    out = pd.DataFrame({c: pd.Series(dtype="int64") for c in COUNT_COLUMNS})
    for column in TIME_COLUMNS:
        out[column] = pd.Series(dtype="datetime64[ns]")
    for column in GAP_COLUMNS:
        out[column] = pd.Series(dtype="float64")
    out.index = pd.Index([], dtype="int64", name="customer_id")
    return out[SUMMARY_COLUMNS]


def order_summary(orders: pd.DataFrame, *, cutoff: pd.Timestamp, inclusive: bool = False) -> pd.DataFrame:
    """The summary of ``orders`` placed before ``cutoff`` (at or before it with ``inclusive``).

    Windows count an order whose age (``cutoff - ordered_at``, in fractional days) is at most
    the window's length; the prior window takes ages in (90, 180].
    """
    cutoff = pd.Timestamp(cutoff)
    ordered_at = pd.to_datetime(orders["ordered_at"])
    mask = ((ordered_at <= cutoff) if inclusive else (ordered_at < cutoff)).to_numpy()
    if not mask.any():
        return empty_summary()
    past = pd.DataFrame({
        "customer_id": orders["customer_id"].to_numpy(dtype="int64")[mask],
        "ordered_at": ordered_at.to_numpy()[mask],
        "cents": cents(orders["total_amount"])[mask],
    })
    age = (cutoff - past["ordered_at"]) / DAY
    grouped = past.groupby("customer_id", sort=True)
    out = pd.DataFrame({
        "order_count": grouped.size().astype("int64"),
        "total_cents": grouped["cents"].sum().astype("int64"),
        "first_order_at": grouped["ordered_at"].min(),
        "last_order_at": grouped["ordered_at"].max(),
    })
    index = out.index
    ids = past["customer_id"]
    for window in WINDOWS:
        inside = (age <= window).to_numpy()
        out[f"orders_{window}d"] = ids[inside].value_counts().reindex(index, fill_value=0).astype("int64")
        out[f"spend_{window}d_cents"] = (past.loc[inside].groupby("customer_id")["cents"].sum()
                                         .reindex(index, fill_value=0).astype("int64"))
    prior = ((age > PRIOR_WINDOW_DAYS) & (age <= 2 * PRIOR_WINDOW_DAYS)).to_numpy()
    out["orders_prior_90d"] = ids[prior].value_counts().reindex(index, fill_value=0).astype("int64")

    days = (past.assign(day=past["ordered_at"].dt.normalize())
            .groupby(["customer_id", "day"], sort=True, as_index=False)["cents"].sum())
    days["gap"] = days.groupby("customer_id")["day"].diff() / DAY
    by_day = days.groupby("customer_id", sort=True)
    out["purchase_days"] = by_day.size().astype("int64")
    out["first_day_cents"] = by_day["cents"].first().astype("int64")
    out["first_day"] = by_day["day"].min()
    out["last_day"] = by_day["day"].max()
    out["median_gap_days"] = by_day["gap"].median()
    out["last_gap_days"] = by_day["gap"].last()
    earlier = days[days.duplicated("customer_id", keep="last") & days["gap"].notna()]
    out["median_earlier_gap_days"] = earlier.groupby("customer_id")["gap"].median().reindex(index)
    out.index = index.astype("int64")
    out.index.name = "customer_id"
    for column in TIME_COLUMNS:
        out[column] = out[column].astype("datetime64[ns]")
    for column in GAP_COLUMNS:
        out[column] = out[column].astype("float64")
    return out[SUMMARY_COLUMNS]


# Order summaries strictly before given cutoffs, by cutoff: the feature tables of churn, loyalty
# and segments are built from them, and a label window [c, c + h) is read from the summary at
# c + h (a customer ordered in it when their last order before c + h is at or after c). They
# need only :data:`FEATURE_COLUMNS`.
Summaries = Mapping[pd.Timestamp, pd.DataFrame]


def summary_before(orders: pd.DataFrame | None, cutoff: pd.Timestamp,
                   summaries: Summaries | None = None) -> pd.DataFrame:
    """The summary of the orders strictly before ``cutoff``: taken from ``summaries`` when it
    holds that cutoff (computed by the database), else computed from ``orders``."""
    cutoff = pd.Timestamp(cutoff)
    if summaries is not None and cutoff in summaries:
        return summaries[cutoff]
    if orders is None:
        raise ValueError(f"no order summary before {cutoff} and no orders to compute it from")
    return order_summary(orders, cutoff=cutoff)


def window_purchase_days(orders: pd.DataFrame, *, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
    """Per customer, the purchase days (distinct calendar days) and their total in cents of the
    orders in ``(start, end]``: what the CLV models are scored on in a holdout window. Index
    ``customer_id``; columns ``purchase_days`` and ``cents`` (int64); customers without an order
    in the window are absent."""
    ordered_at = pd.to_datetime(orders["ordered_at"])
    mask = ((ordered_at > pd.Timestamp(start)) & (ordered_at <= pd.Timestamp(end))).to_numpy()
    days = pd.DataFrame({
        "customer_id": orders["customer_id"].to_numpy(dtype="int64")[mask],
        "day": ordered_at.dt.normalize().to_numpy()[mask],
        "cents": cents(orders["total_amount"])[mask],
    }).groupby(["customer_id", "day"], sort=True, as_index=False)["cents"].sum()
    out = days.groupby("customer_id", sort=True).agg(purchase_days=("day", "size"), cents=("cents", "sum"))
    out.index = out.index.astype("int64")
    out.index.name = "customer_id"
    return out.astype("int64")


def monthly_cents(orders: pd.DataFrame, *, before: pd.Timestamp) -> pd.Series:
    """Revenue in cents (int64) per calendar month (index: month starts) of the orders placed
    strictly before ``before``; months without an order are absent."""
    ordered_at = pd.to_datetime(orders["ordered_at"])
    mask = (ordered_at < pd.Timestamp(before)).to_numpy()
    months = ordered_at[mask].dt.to_period("M").dt.to_timestamp().astype("datetime64[ns]").to_numpy()
    out = pd.Series(cents(orders["total_amount"])[mask], index=months).groupby(level=0).sum()
    out.index = pd.DatetimeIndex(out.index, name="month")
    return out.astype("int64").rename("cents")
