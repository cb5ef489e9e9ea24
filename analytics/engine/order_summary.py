"""One row per customer summarising their orders before a cutoff: the quantities the models read.

RFM, the order features of segments, churn and loyalty, the lifecycle's purchase rhythm and the
CLV summary are all per-customer aggregates of the orders (counts, first and last dates, sums,
windowed counts, gaps between purchase days). This frame holds them. :class:`OrderLedger`
computes it from three integers per order, sorted once: on PostgreSQL the adapter streams those
integers out in COPY's binary form (no orders frame is built), elsewhere :func:`order_summary`
takes them from the orders frame. Both paths are the same code; the tests hold it to a plain
pandas definition of every column (``tests/analytics/engine/summary_reference.py``).

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
from dataclasses import dataclass

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


@dataclass(frozen=True)
class OrderLedger:
    """Completed orders reduced to what a summary reads, as three int64 arrays sorted by customer,
    then calendar day (UTC): ``customer_ids``, ``at`` (nanoseconds since the epoch, naive UTC) and ``cents``.

    Every summary is a prefix in time of each customer's orders, so one sort serves every cutoff:
    a summary masks the arrays (they stay sorted) and reduces each customer's run and each
    purchase day's run with ``np.add.reduceat`` and friends. No Python object per order or
    customer: at ten million orders a summary takes a few seconds. On PostgreSQL the adapter
    builds the ledger from three columns streamed in COPY's binary form, elsewhere
    :meth:`from_orders` builds it from the orders frame; the summaries are then the same code.
    """
    customer_ids: np.ndarray
    at: np.ndarray
    cents: np.ndarray

    @classmethod
    def of(cls, customer_ids: np.ndarray, at: np.ndarray, cents: np.ndarray) -> OrderLedger:
        """The ledger of orders given in any order (``at`` as datetime64[ns] or its int64 view)."""
        customer_ids, at = np.asarray(customer_ids, dtype="int64"), np.asarray(at)
        at = at.astype("datetime64[ns]").view("int64") if at.dtype.kind == "M" else at.astype("int64")
        return cls(customer_ids, at, np.asarray(cents, dtype="int64"))._sorted()

    def _sorted(self) -> OrderLedger:
        """Sorted by customer, then calendar day: the runs every summary reduces. Within a day the
        order is left as it comes, since nothing a summary reads depends on it (first and last
        order are a minimum and a maximum). One sort of one integer key: sorting by customer and
        exact time (``np.lexsort``) took twice as long at ten million orders."""
        if not len(self):
            return self
        day = self.at // DAY_NS
        first_day, days = int(day.min()), int(day.max() - day.min()) + 1
        first_customer = int(self.customer_ids.min())
        customers = int(self.customer_ids.max()) - first_customer + 1
        if customers * days < 2 ** 62:
            order = ((self.customer_ids - first_customer) * days + (day - first_day)).argsort()
        else:
            order = np.lexsort((day, self.customer_ids))
        return OrderLedger(self.customer_ids[order], self.at[order], self.cents[order])

    @classmethod
    def from_orders(cls, orders: pd.DataFrame) -> OrderLedger:
        ordered_at = pd.to_datetime(orders["ordered_at"]).to_numpy(dtype="datetime64[ns]")
        return cls.of(orders["customer_id"].to_numpy(dtype="int64"), ordered_at, cents(orders["total_amount"]))

    def __len__(self) -> int:
        return len(self.customer_ids)

    def _where(self, mask: np.ndarray) -> OrderLedger:
        return OrderLedger(self.customer_ids[mask], self.at[mask], self.cents[mask])

    def before(self, cutoff: pd.Timestamp, *, inclusive: bool = False) -> OrderLedger:
        limit = _ns(cutoff)
        return self._where(self.at <= limit if inclusive else self.at < limit)

    def summary(self, cutoff: pd.Timestamp, *, inclusive: bool = False, days: bool = True) -> pd.DataFrame:
        """The summary of the orders before ``cutoff`` (at or before it with ``inclusive``):
        :data:`SUMMARY_COLUMNS`, or :data:`FEATURE_COLUMNS` without ``days``.

        Windows count an order whose age (``cutoff - ordered_at``) is at most the window's
        length; the prior window takes ages in (90, 180] days. Times compare as integers, exactly.
        """
        past = self.before(cutoff, inclusive=inclusive)
        if not len(past):
            out = empty_summary()
            return out if days else out[FEATURE_COLUMNS]
        limit = _ns(cutoff)
        customer, at, money = past.customer_ids, past.at, past.cents
        starts = _run_starts(customer)
        ends = np.r_[starts[1:], len(customer)]
        columns: dict[str, np.ndarray] = {
            "order_count": ends - starts,
            "total_cents": np.add.reduceat(money, starts),
        }
        for window in WINDOWS:
            inside = at >= limit - window * DAY_NS
            columns[f"orders_{window}d"] = np.add.reduceat(inside.astype("int64"), starts)
            columns[f"spend_{window}d_cents"] = np.add.reduceat(np.where(inside, money, 0), starts)
        prior = (at < limit - PRIOR_WINDOW_DAYS * DAY_NS) & (at >= limit - 2 * PRIOR_WINDOW_DAYS * DAY_NS)
        columns["orders_prior_90d"] = np.add.reduceat(prior.astype("int64"), starts)
        columns["first_order_at"] = np.minimum.reduceat(at, starts)
        columns["last_order_at"] = np.maximum.reduceat(at, starts)
        if days:
            columns.update(_purchase_days(customer, at, money))
        out = pd.DataFrame(columns, index=pd.Index(customer[starts], name="customer_id"))
        for column in TIME_COLUMNS:
            if column in out:
                out[column] = out[column].to_numpy().view("datetime64[ns]")
        return out[SUMMARY_COLUMNS if days else FEATURE_COLUMNS]

    def window_purchase_days(self, *, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
        """Per customer, the purchase days (distinct calendar days) and their total in cents of
        the orders in ``(start, end]``: what the CLV models are scored on in a holdout window.
        Index ``customer_id``; columns ``purchase_days`` and ``cents`` (int64); customers without
        an order in the window are absent."""
        inside = self._where((self.at > _ns(start)) & (self.at <= _ns(end)))
        customer = inside.customer_ids
        day_starts = _run_starts(customer, inside.at // DAY_NS)
        starts = _run_starts(customer)
        out = pd.DataFrame({"purchase_days": np.diff(np.searchsorted(day_starts, np.r_[starts, len(customer)])),
                            "cents": np.add.reduceat(inside.cents, starts) if len(starts) else inside.cents[:0]},
                           index=pd.Index(customer[starts], name="customer_id"))
        return out.astype("int64")

    def monthly_cents(self, *, before: pd.Timestamp) -> pd.Series:
        """Revenue in cents (int64) per calendar month (index: month starts) of the orders placed
        strictly before ``before``; months without an order are absent."""
        past = self.at < _ns(before)
        months = self.at[past].view("datetime64[ns]").astype("datetime64[M]").view("int64")
        first = months.min(initial=0)
        # Months are few: a count per month since the first, then the months with an order.
        total = np.zeros(int(months.max(initial=first) - first) + 1, dtype="int64")
        np.add.at(total, months - first, self.cents[past])
        bought = np.zeros(len(total), dtype=bool)
        bought[months - first] = True
        unique = (np.flatnonzero(bought) + first).astype("datetime64[M]")
        total = total[bought]
        return pd.Series(total, index=pd.DatetimeIndex(unique.astype("datetime64[ns]"), name="month"), name="cents")


DAY_NS = 86_400 * 10 ** 9


def _ns(moment: pd.Timestamp) -> int:
    moment = pd.Timestamp(moment)
    if moment.tzinfo is not None:
        moment = moment.tz_convert("UTC").tz_localize(None)
    return int(moment.as_unit("ns").value)


def _run_starts(*keys: np.ndarray) -> np.ndarray:
    """Where each run of equal keys begins, in arrays sorted by those keys."""
    if not len(keys[0]):
        return np.empty(0, dtype="int64")
    change = np.zeros(len(keys[0]), dtype=bool)
    change[0] = True
    for key in keys:
        change[1:] |= key[1:] != key[:-1]
    return np.flatnonzero(change)


def _segment_medians(values: np.ndarray, groups: np.ndarray, n_groups: int) -> np.ndarray:
    """The median of ``values`` (whole numbers, as float) in each of ``n_groups`` groups, the
    mean of the two middle values for an even count, NaN for an empty group. ``groups`` is
    each value's group, ascending."""
    out = np.full(n_groups, np.nan)
    if not len(values):
        return out
    # One sort of (group, value) as a single integer key sorts every group's values at once.
    low = values.min()
    span = int(values.max() - low) + 1
    keys = groups.astype("int64") * span + (values - low).astype("int64")
    keys.sort()
    ordered = (keys % span + low).astype("float64")
    counts = np.bincount(groups, minlength=n_groups)
    present = np.flatnonzero(counts)
    begin = np.r_[0, np.cumsum(counts)[:-1]][present]
    size = counts[present]
    out[present] = (ordered[begin + (size - 1) // 2] + ordered[begin + size // 2]) / 2
    return out


def _purchase_days(customer: np.ndarray, at: np.ndarray, money: np.ndarray) -> dict[str, np.ndarray]:
    """The per-day columns of a summary: purchase days, the first day's cents, first and last day
    and the gaps between consecutive days (whole days, NaN where a customer has too few days)."""
    day = at // DAY_NS
    day_starts = _run_starts(customer, day)
    day_customer, day_of = customer[day_starts], day[day_starts]
    day_cents = np.add.reduceat(money, day_starts)
    first = _run_starts(day_customer)
    last = np.r_[first[1:], len(day_customer)] - 1
    n = len(first)
    group = np.repeat(np.arange(n), last - first + 1)
    gap = np.diff(day_of, prepend=day_of[0]).astype("float64")
    gap[first] = np.nan
    has_gap = ~np.isnan(gap)
    earlier = has_gap.copy()
    earlier[last] = False
    return {
        "purchase_days": last - first + 1,
        "first_day_cents": day_cents[first],
        "first_day": day_of[first] * DAY_NS,
        "last_day": day_of[last] * DAY_NS,
        "median_gap_days": _segment_medians(gap[has_gap], group[has_gap], n),
        "last_gap_days": gap[last],
        "median_earlier_gap_days": _segment_medians(gap[earlier], group[earlier], n),
    }


def order_summary(orders: pd.DataFrame, *, cutoff: pd.Timestamp, inclusive: bool = False) -> pd.DataFrame:
    """The summary of ``orders`` placed before ``cutoff`` (at or before it with ``inclusive``):
    :meth:`OrderLedger.summary` of the frame's ledger."""
    return OrderLedger.from_orders(orders).summary(cutoff, inclusive=inclusive)


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
    """:meth:`OrderLedger.window_purchase_days` of an orders frame."""
    return OrderLedger.from_orders(orders).window_purchase_days(start=start, end=end)


def monthly_cents(orders: pd.DataFrame, *, before: pd.Timestamp) -> pd.Series:
    """:meth:`OrderLedger.monthly_cents` of an orders frame."""
    return OrderLedger.from_orders(orders).monthly_cents(before=before)
