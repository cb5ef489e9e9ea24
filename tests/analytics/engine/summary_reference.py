"""The order summary written the plain pandas way: groupby per quantity, one pass per cutoff.

:class:`analytics.engine.order_summary.OrderLedger` computes the same with sorted numpy arrays,
fast enough for ten million orders; this slower form, which reads like the definition of each
column, is what the property tests hold it to (``test_order_summary.py``).
"""
import pandas as pd

from analytics.engine.order_summary import (
    GAP_COLUMNS,
    PRIOR_WINDOW_DAYS,
    SUMMARY_COLUMNS,
    TIME_COLUMNS,
    WINDOWS,
    cents,
    empty_summary,
)

DAY = pd.Timedelta(days=1)


def reference_summary(orders: pd.DataFrame, *, cutoff: pd.Timestamp, inclusive: bool = False) -> pd.DataFrame:
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


def reference_window_purchase_days(orders: pd.DataFrame, *, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
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


def reference_monthly_cents(orders: pd.DataFrame, *, before: pd.Timestamp) -> pd.Series:
    """Revenue in cents (int64) per calendar month (index: month starts) of the orders placed
    strictly before ``before``; months without an order are absent."""
    ordered_at = pd.to_datetime(orders["ordered_at"])
    mask = (ordered_at < pd.Timestamp(before)).to_numpy()
    months = ordered_at[mask].dt.to_period("M").dt.to_timestamp().astype("datetime64[ns]").to_numpy()
    out = pd.Series(cents(orders["total_amount"])[mask], index=months).groupby(level=0).sum()
    out.index = pd.DatetimeIndex(out.index, name="month")
    return out.astype("int64").rename("cents")
