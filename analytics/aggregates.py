"""Aggregate where the data is: on PostgreSQL the database computes what the score run's two
parts need of the orders, and streams it out compact.

* the customer part's order summaries (:mod:`analytics.engine.order_summary`): per customer and
  cutoff, counts, cents, first and last orders and purchase-day gaps, from ``GROUP BY`` and
  window functions, one row per customer (:func:`engine_order_summaries`);
* the product part's baskets (:mod:`analytics.engine.baskets`): each order's product ids as one
  integer array (:func:`engine_baskets`).

Each has a pandas path in the engine that computes the same from the frames
:func:`analytics.adapter.read_frames` returns (SQLite, tests); the PostgreSQL tests assert the two
agree exactly. Split from :mod:`analytics.adapter`, which reads and writes the tables.
"""
from __future__ import annotations

import io
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from django.db import connection

from analytics.adapter import NS_MIN, as_utc, read_orders, table_name
from analytics.engine import order_summary as S
from analytics.engine.baskets import basket_lines_from_orders
from analytics.engine.clv import SelectionSummaries, selection_calibration_end
from analytics.engine.forecast import month_start
from analytics.engine.pipeline import EngineSettings, feature_cutoffs
from core.db import is_postgres
from customers.models import Order, OrderItem

# The summary's text from COPY is parsed this many bytes at a time, cut at a line end: a million
# customers' summary is about 150 MB of text, which need not sit in memory beside its frame.
SUMMARY_PARSE_BYTES = 32 * 1024 * 1024


def _copy_lines(sql: str, options: str = "FORMAT csv") -> Iterator[bytes]:
    """``COPY (sql) TO STDOUT`` as blocks of whole lines, about :data:`SUMMARY_PARSE_BYTES`
    each (PostgreSQL only)."""
    pending = bytearray()
    with connection.cursor() as cursor, cursor.cursor.copy(f"COPY ({sql}) TO STDOUT WITH ({options})") as copy:
        for block in copy:
            pending += block
            if len(pending) >= SUMMARY_PARSE_BYTES:
                end = pending.rfind(b"\n") + 1
                yield bytes(pending[:end])
                del pending[:end]
    if pending:
        yield bytes(pending)


def _copy_frames(sql: str, columns: Sequence[str], dtypes: dict) -> pd.DataFrame:
    """``COPY (sql) TO STDOUT`` parsed into one frame a block of :data:`SUMMARY_PARSE_BYTES` at a
    time (PostgreSQL only)."""
    parts = [pd.read_csv(io.BytesIO(text), names=list(columns), header=None, keep_default_na=False,
                         na_values=[""], dtype=dtypes) for text in _copy_lines(sql)]
    if not parts:
        return pd.DataFrame({c: pd.Series(dtype=dtypes.get(c, "float64")) for c in columns})
    return pd.concat(parts, ignore_index=True)


def _order_summaries_sql(cutoffs: Sequence[tuple[pd.Timestamp, bool]], restrict: str) -> str:
    """The order summaries at every ``(cutoff, inclusive)`` pair in one pass over the orders,
    however many pairs, each row tagged with its cutoff's position.

    The orders before a cutoff are a prefix in time of each customer's orders, so their purchase
    days are a prefix of the customer's days, and a day's gap to the day before is the same in
    every prefix that holds it. One ``GROUP BY`` (customer, day) therefore sums every cutoff's
    counts and cents with a ``FILTER`` each, one window pass gives the gaps, and one ``GROUP BY``
    customer adds the days up per cutoff; ``LATERAL (VALUES ...)`` then splits a customer's row
    into one per cutoff they ordered before. The previous form took two passes per cutoff (a
    hash aggregate per customer, which spilled to disk at the default ``work_mem``, and the
    per-day pass): README, "The order summary in the database".

    Windows compare timestamps (``ordered_at >= cutoff - 30 days`` is an age of at most 30
    days), days are UTC calendar days, money is summed as integer cents. Medians are
    ``percentile_cont``, which skips the first day's missing gap as pandas does.
    """
    def at(cutoff: pd.Timestamp, days: int = 0) -> str:
        return _instant(cutoff - pd.Timedelta(days=days))

    def micros(column: str) -> str:
        return f"(EXTRACT(EPOCH FROM {column}) * 1000000)::bigint"

    def day_micros(column: str) -> str:
        return f"(({column}) - DATE '1970-01-01')::bigint * 86400000000"

    def before(position: int) -> str:
        cutoff, inclusive = cutoffs[position]
        return f"ordered_at {'<=' if inclusive else '<'} {at(cutoff)}"

    positions = range(len(cutoffs))
    latest = max(cutoff for cutoff, _ in cutoffs)
    orders = _completed_cents(f"ordered_at <= {at(latest)}{restrict}")
    prior = S.PRIOR_WINDOW_DAYS
    # Per (customer, day): each cutoff's counts and sums of the day's orders before it. Counts
    # are int and sums bigint, so the per-customer sums stay in integer arithmetic.
    per_day = ["min(ordered_at) AS first_at"]
    for p in positions:
        cutoff = cutoffs[p][0]
        per_day += [f"count(*) FILTER (WHERE {before(p)})::int AS n_{p}",
                    f"sum(cents) FILTER (WHERE {before(p)})::bigint AS cents_{p}",
                    f"max(ordered_at) FILTER (WHERE {before(p)}) AS last_at_{p}",
                    f"count(*) FILTER (WHERE ordered_at < {at(cutoff, prior)} "
                    f"AND ordered_at >= {at(cutoff, 2 * prior)})::int AS prior_{p}"]
        for w in S.WINDOWS:
            inside = f"{before(p)} AND ordered_at >= {at(cutoff, w)}"
            per_day += [f"count(*) FILTER (WHERE {inside})::int AS n{w}_{p}",
                        f"sum(cents) FILTER (WHERE {inside})::bigint AS cents{w}_{p}"]
    days = ("SELECT d.*, (day - lag(day) OVER w)::float8 AS gap, "
            + ", ".join(f"lead(n_{p}) OVER w AS next_{p}" for p in positions)
            + f" FROM (SELECT customer_id, (ordered_at AT TIME ZONE 'UTC')::date AS day, {', '.join(per_day)} "
            f"FROM ({orders}) AS o GROUP BY 1, 2) AS d WINDOW w AS (PARTITION BY customer_id ORDER BY day)")
    per_customer = ["min(first_at) AS first_order_at", "min(day) AS first_day"]
    for p in positions:
        in_p, last_p = f"n_{p} > 0", f"n_{p} > 0 AND coalesce(next_{p}, 0) = 0"
        per_customer += [
            f"sum(n_{p}) AS order_count_{p}", f"sum(cents_{p}) AS total_cents_{p}",
            *[f"sum(n{w}_{p}) AS orders_{w}d_{p}" for w in S.WINDOWS],
            *[f"coalesce(sum(cents{w}_{p}), 0) AS spend_{w}d_cents_{p}" for w in S.WINDOWS],
            f"sum(prior_{p}) AS orders_prior_90d_{p}", f"max(last_at_{p}) AS last_order_at_{p}",
            f"count(*) FILTER (WHERE {in_p}) AS purchase_days_{p}",
            f"sum(cents_{p}) FILTER (WHERE gap IS NULL) AS first_day_cents_{p}",
            f"max(day) FILTER (WHERE {in_p}) AS last_day_{p}",
            f"percentile_cont(0.5) WITHIN GROUP (ORDER BY gap) FILTER (WHERE {in_p}) AS median_gap_days_{p}",
            f"max(gap) FILTER (WHERE {last_p}) AS last_gap_days_{p}",
            f"percentile_cont(0.5) WITHIN GROUP (ORDER BY gap) FILTER (WHERE {in_p} AND NOT ({last_p})) "
            f"AS median_earlier_gap_days_{p}"]
    # A customer's first order and first purchase day come before every cutoff they ordered before.
    split = ", ".join(
        "(" + ", ".join([str(p), "c.customer_id", *[f"c.{column}_{p}::bigint" for column in S.COUNT_COLUMNS],
                         micros("c.first_order_at"), micros(f"c.last_order_at_{p}"),
                         day_micros("c.first_day"), day_micros(f"c.last_day_{p}"),
                         *[f"c.{column}_{p}" for column in S.GAP_COLUMNS]]) + ")"
        for p in positions)
    return (
        f"SELECT s.* FROM (SELECT customer_id, {', '.join(per_customer)} FROM ({days}) AS g "
        "GROUP BY customer_id) AS c "
        f"CROSS JOIN LATERAL (VALUES {split}) AS s(position, customer_id, {', '.join(S.SUMMARY_COLUMNS)}) "
        "WHERE s.order_count > 0")


def read_order_summary(cutoff: pd.Timestamp, *, inclusive: bool = False,
                       customer_ids: Sequence[int] | None = None) -> pd.DataFrame:
    """Per-customer order summary before ``cutoff`` (:mod:`analytics.engine.order_summary`).

    PostgreSQL computes it (``GROUP BY`` passes with window functions) and streams one row per
    customer; no order reaches Python. Elsewhere the orders are read and the engine's pandas
    path summarises them. Both give the same frame (``tests/analytics/test_order_summary.py``).
    """
    return read_order_summaries([(cutoff, inclusive)], customer_ids=customer_ids)[0]


def read_order_summaries(cutoffs: Sequence[tuple[pd.Timestamp, bool]], *,
                         customer_ids: Sequence[int] | None = None) -> list[pd.DataFrame]:
    """The order summaries at several ``(cutoff, inclusive)`` pairs, in their order: on
    PostgreSQL one ``COPY`` of one pass over the orders (:func:`_order_summaries_sql`), each row
    tagged with its cutoff's position; elsewhere :func:`read_order_summary`'s pandas path for each."""
    def naive(cutoff: pd.Timestamp) -> pd.Timestamp:
        cutoff = pd.Timestamp(cutoff)
        return cutoff.tz_convert("UTC").tz_localize(None) if cutoff.tzinfo is not None else cutoff

    cutoffs = [(naive(cutoff), inclusive) for cutoff, inclusive in cutoffs]
    restrict = "" if customer_ids is None else (
        f" AND customer_id IN ({','.join(str(int(i)) for i in customer_ids) or 'NULL'})")
    if not is_postgres():
        return [S.order_summary(read_orders(cutoff, restrict, inclusive=inclusive), cutoff=cutoff,
                                inclusive=inclusive) for cutoff, inclusive in cutoffs]
    columns = ["position", "customer_id", *S.COUNT_COLUMNS, *S.TIME_COLUMNS, *S.GAP_COLUMNS]
    dtypes = {c: "int64" for c in ["position", "customer_id", *S.COUNT_COLUMNS, *S.TIME_COLUMNS]}
    dtypes.update({c: "float64" for c in S.GAP_COLUMNS})
    frame = _copy_frames(_order_summaries_sql(cutoffs, restrict), columns, dtypes)
    for column in S.TIME_COLUMNS:
        frame[column] = pd.to_datetime(frame[column], unit="us").astype("datetime64[ns]")
    out = []
    for position in range(len(cutoffs)):
        part = frame.loc[frame["position"].to_numpy() == position].set_index("customer_id")
        out.append(part.sort_index()[S.SUMMARY_COLUMNS])
    return out


def _completed_cents(where: str) -> str:
    return (f"SELECT customer_id, ordered_at, round(total_amount * 100)::bigint AS cents FROM {table_name(Order)} "
            f"WHERE status = 'completed' AND {where}")


def _instant(value: pd.Timestamp) -> str:
    return "'" + as_utc(pd.Timestamp(value)).isoformat() + "'::timestamptz"


def _feature_summaries_sql(cutoffs: Sequence[pd.Timestamp]) -> str:
    """The order summaries' :data:`~analytics.engine.order_summary.FEATURE_COLUMNS` strictly
    before each cutoff, in one pass over the orders: each order joins the cutoffs after it, one
    ``GROUP BY`` (cutoff, customer) with a ``FILTER`` per window. Rows tagged with the cutoff's
    position, ordered by it and the customer."""
    def at(cutoff: pd.Timestamp, days: int = 0) -> str:
        return _instant(cutoff - pd.Timedelta(days=days))

    prior = S.PRIOR_WINDOW_DAYS
    bounds_ = ["cutoff", *[f"since_{w}" for w in S.WINDOWS], "prior_end", "prior_start"]
    values = ", ".join(
        "(" + ", ".join([str(position), at(cutoff), *[at(cutoff, w) for w in S.WINDOWS],
                         at(cutoff, prior), at(cutoff, 2 * prior)]) + ")"
        for position, cutoff in enumerate(cutoffs))
    windowed = [f"count(*) FILTER (WHERE o.ordered_at >= k.since_{w})" for w in S.WINDOWS] + [
        f"coalesce(sum(o.cents) FILTER (WHERE o.ordered_at >= k.since_{w}), 0)" for w in S.WINDOWS]
    orders = _completed_cents(f"ordered_at < {at(max(cutoffs))}")

    def micros(column: str) -> str:
        return f"(EXTRACT(EPOCH FROM {column}) * 1000000)::bigint"

    return (
        "SELECT k.position, o.customer_id, count(*), sum(o.cents)::bigint, "
        + ", ".join(windowed)
        + ", count(*) FILTER (WHERE o.ordered_at < k.prior_end AND o.ordered_at >= k.prior_start), "
        f"{micros('min(o.ordered_at)')}, {micros('max(o.ordered_at)')} "
        f"FROM ({orders}) AS o JOIN (VALUES {values}) AS k(position, {', '.join(bounds_)}) "
        "ON o.ordered_at < k.cutoff GROUP BY k.position, o.customer_id ORDER BY 1, 2")


def read_feature_summaries(cutoffs: Sequence[pd.Timestamp]) -> list[pd.DataFrame]:
    """The order summaries strictly before each cutoff, their
    :data:`~analytics.engine.order_summary.FEATURE_COLUMNS` only: one statement in PostgreSQL
    (:func:`_feature_summaries_sql`), the pandas path elsewhere."""
    cutoffs = [pd.Timestamp(c) for c in cutoffs]
    if not is_postgres():
        orders = read_orders(max(cutoffs))
        return [S.order_summary(orders, cutoff=c)[S.FEATURE_COLUMNS] for c in cutoffs]
    columns = ["position", "customer_id", *S.FEATURE_COLUMNS]
    frame = _copy_frames(_feature_summaries_sql(cutoffs), columns, dict.fromkeys(columns, "int64"))
    for column in ("first_order_at", "last_order_at"):
        frame[column] = pd.to_datetime(frame[column], unit="us").astype("datetime64[ns]")
    return [frame.loc[frame["position"].to_numpy() == position].set_index("customer_id")[S.FEATURE_COLUMNS]
            for position in range(len(cutoffs))]


def read_window_purchase_days(start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
    """:func:`analytics.engine.order_summary.window_purchase_days` of the completed orders in
    ``(start, end]``: one ``GROUP BY`` in PostgreSQL, the pandas path elsewhere."""
    start, end = pd.Timestamp(start), pd.Timestamp(end)
    if not is_postgres():
        return S.window_purchase_days(read_orders(end, inclusive=True), start=start, end=end)
    orders = _completed_cents(f"ordered_at > {_instant(start)} AND ordered_at <= {_instant(end)}")
    sql = ("SELECT customer_id, count(*), sum(cents)::bigint FROM (SELECT customer_id, "
           f"(ordered_at AT TIME ZONE 'UTC')::date AS day, sum(cents) AS cents FROM ({orders}) AS o "
           "GROUP BY 1, 2) AS d GROUP BY customer_id ORDER BY customer_id")
    frame = _copy_frames(sql, ["customer_id", "purchase_days", "cents"],
                         dict.fromkeys(["customer_id", "purchase_days", "cents"], "int64"))
    return frame.set_index("customer_id")


def read_monthly_cents(before: pd.Timestamp) -> pd.Series:
    """:func:`analytics.engine.order_summary.monthly_cents` of the completed orders strictly
    before ``before``: one ``GROUP BY date_trunc`` in PostgreSQL, the pandas path elsewhere."""
    before = pd.Timestamp(before)
    if not is_postgres():
        return S.monthly_cents(read_orders(before), before=before)
    month = "date_trunc('month', ordered_at AT TIME ZONE 'UTC')"
    sql = (f"SELECT (EXTRACT(EPOCH FROM {month}) * 1000000)::bigint, sum(cents)::bigint "
           f"FROM ({_completed_cents(f'ordered_at < {_instant(before)}')}) AS o GROUP BY 1 ORDER BY 1")
    frame = _copy_frames(sql, ["month", "cents"], {"month": "int64", "cents": "int64"})
    index = pd.DatetimeIndex(pd.to_datetime(frame["month"], unit="us").astype("datetime64[ns]"), name="month")
    return pd.Series(frame["cents"].to_numpy(dtype="int64"), index=index, name="cents")


@dataclass(frozen=True)
class EngineSummaries:
    """What a full run hands the engine's customer part instead of the orders
    (:func:`analytics.engine.pipeline.run_engine`'s ``order_summary``, ``order_summaries``,
    ``selection_summaries`` and ``monthly_cents``)."""
    at_as_of: pd.DataFrame
    before: dict[pd.Timestamp, pd.DataFrame]
    selection: SelectionSummaries
    monthly_cents: pd.Series

    def engine_arguments(self) -> dict:
        return {"order_summary": self.at_as_of, "order_summaries": self.before,
                "selection_summaries": self.selection, "monthly_cents": self.monthly_cents}

    @property
    def rows(self) -> int:
        return (len(self.at_as_of) + sum(len(f) for f in self.before.values()) + len(self.selection.calibration)
                + len(self.selection.holdout) + len(self.monthly_cents))


def engine_order_summaries(as_of: pd.Timestamp, settings: EngineSettings) -> EngineSummaries | None:
    """Everything the engine's customer part reads of the orders, computed by PostgreSQL in
    four statements (the full summaries at ``as_of`` and at the CLV calibration end in one
    pass, the feature summaries at every feature cutoff in one pass, the CLV holdout
    window's purchase days, the monthly revenue); None elsewhere, where the engine summarises
    the orders frame it holds (reading the orders a second time would gain nothing)."""
    if not is_postgres():
        return None
    as_of = pd.Timestamp(as_of)
    cutoffs = feature_cutoffs(as_of, settings)
    calibration_end = selection_calibration_end(as_of)
    frames = read_order_summaries([(as_of, True), (calibration_end, True)])
    return EngineSummaries(
        at_as_of=frames[0], before=dict(zip(cutoffs, read_feature_summaries(cutoffs), strict=True)),
        selection=SelectionSummaries(calibration=frames[1],
                                     holdout=read_window_purchase_days(calibration_end, as_of)),
        monthly_cents=read_monthly_cents(month_start(as_of)))


# Fields before the product ids on a basket row (see _baskets_sql).
_BASKET_HEAD = 4
# COPY's text form of a basket row, "id<TAB>customer<TAB>time<TAB>lines<TAB>{p1,p2,...}", with
# every separator a blank: numpy then reads the whole block as one run of integers.
_BASKET_SEPARATORS = bytes.maketrans(b"\t{},", b"    ")


def _baskets_sql(as_of: pd.Timestamp) -> str:
    """One row per completed order up to ``as_of``, in order id order: its id, customer, time
    (microseconds since the epoch), number of lines and the product ids of its lines as an
    integer array. The array is left unsorted and may repeat a product: sorting and
    de-duplicating a million tiny groups one by one cost PostgreSQL a third of the read,
    numpy does it at once (:func:`read_baskets`). Orders before the earliest time pandas holds
    are left out, as :func:`_dates` leaves their lines out of the items frame."""
    return (
        "SELECT o.id, o.customer_id, (EXTRACT(EPOCH FROM o.ordered_at) * 1000000)::bigint, count(*), "
        f"array_agg(it.product_id) FROM {table_name(OrderItem)} it JOIN {table_name(Order)} o ON o.id = it.order_id "
        f"WHERE o.status = 'completed' AND o.ordered_at <= {_instant(as_of)} "
        f"AND o.ordered_at >= {_instant(NS_MIN)} GROUP BY o.id ORDER BY o.id")


def _parse_baskets(text: bytes) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(head fields, one row of :data:`_BASKET_HEAD` per order; number of product ids per
    order; the product ids one after the other) of a block of :func:`_baskets_sql`'s rows in
    COPY's text form. The integers are parsed in C in one call, and an order's number of
    products is the number of commas on its row plus one, counted with numpy: no Python object
    per order or line."""
    buffer = np.frombuffer(text, dtype=np.uint8)
    ends = np.flatnonzero(buffer == ord("\n"))
    commas = np.bincount(np.searchsorted(ends, np.flatnonzero(buffer == ord(","))), minlength=len(ends))
    sizes = commas[:len(ends)] + 1
    # Text mode (a separator given) is numpy's parser of delimited numbers; runs of blanks and
    # the line ends count as one separator.
    values = np.fromstring(text.translate(_BASKET_SEPARATORS), dtype=np.int64, sep=" ")
    fields = sizes + _BASKET_HEAD
    if len(values) != int(fields.sum()):
        raise ValueError("unexpected basket rows from the database")
    starts = np.cumsum(fields) - fields
    heads = starts[:, None] + np.arange(_BASKET_HEAD)
    is_product = np.ones(len(values), dtype=bool)
    is_product[heads.ravel()] = False
    return values[heads], sizes, values[is_product]


@dataclass(frozen=True)
class EngineBaskets:
    """What a run hands the engine's product part instead of the order lines
    (:func:`analytics.engine.pipeline.run_engine`'s ``basket_lines``)."""
    lines: pd.DataFrame
    order_lines: int    # order lines behind them, as a read of the lines would count

    def engine_arguments(self) -> dict:
        return {"basket_lines": self.lines}


def read_baskets(as_of: pd.Timestamp) -> EngineBaskets:
    """Every completed order's distinct products up to ``as_of``, grouped in PostgreSQL
    (:func:`_baskets_sql`) and streamed out one row per order."""
    heads, sizes, products = [np.empty((0, _BASKET_HEAD), dtype="int64")], [], []
    for text in _copy_lines(_baskets_sql(pd.Timestamp(as_of)), "FORMAT text"):
        head, size, product = _parse_baskets(text)
        heads.append(head)
        sizes.append(size)
        products.append(product)
    head = np.concatenate(heads)
    position = np.repeat(np.arange(len(head), dtype="int64"), np.concatenate([np.empty(0, "int64"), *sizes]))
    product_ids = np.concatenate([np.empty(0, "int64"), *products])
    # One integer per (order, product), sorted: each order's products in ascending order, a
    # repeat next to its first. The orders arrive sorted, so the stable sort (timsort) only
    # sorts within them; np.unique took 50 times as long on the same keys.
    span = int(product_ids.max()) + 1 if len(product_ids) else 1
    if product_ids.min(initial=0) < 0 or len(head) * span >= 2 ** 63:
        raise ValueError("product ids out of range for the basket key")
    keys = position * span + product_ids
    # Each step drops the arrays it no longer needs: at a million customers every one of them is
    # 150 MB, and they all stood beside the lines frame built from them.
    del position, product_ids, products, heads, sizes
    keys.sort(kind="stable")
    keys = keys[np.r_[True, keys[1:] != keys[:-1]]] if len(keys) else keys
    basket_sizes = np.bincount(keys // span, minlength=len(head))
    keys %= span
    lines = basket_lines_from_orders(
        order_ids=head[:, 0], customer_ids=head[:, 1],
        ordered_at=head[:, 2].astype("datetime64[us]").astype("datetime64[ns]"),
        basket_sizes=basket_sizes, product_ids=keys)
    return EngineBaskets(lines=lines, order_lines=int(head[:, 3].sum()))


def engine_baskets(as_of: pd.Timestamp) -> EngineBaskets | None:
    """The product part's baskets from PostgreSQL (:func:`read_baskets`); None elsewhere, where
    the engine builds them from the order lines it reads."""
    return read_baskets(as_of) if is_postgres() else None
