"""What the score run's two parts need of the orders, read from PostgreSQL compact.

* the customer part's order summaries (:mod:`analytics.engine.order_summary`): per customer and
  cutoff, counts, cents, first and last orders and purchase-day gaps, all computed from one read
  of three integers per order, streamed in COPY's binary form (:func:`engine_order_summaries`);
* the product part's baskets (:mod:`analytics.engine.baskets`): each order's product ids as one
  integer array, grouped by the database (:func:`engine_baskets`).

Each has a path in the engine that computes the same from the frames
:func:`analytics.adapter.read_frames` returns (SQLite, tests); the PostgreSQL tests assert the two
agree exactly. Split from :mod:`analytics.adapter`, which reads and writes the tables.
"""
from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from django.db import connection

from analytics.adapter import NS_MAX, NS_MIN, as_utc, read_orders, table_name
from analytics.engine import order_summary as S
from analytics.engine.baskets import basket_lines_from_orders
from analytics.engine.clv import SelectionSummaries, selection_calibration_end
from analytics.engine.forecast import month_start
from analytics.engine.pipeline import EngineSettings, feature_cutoffs
from core.db import BINARY_COPY_SIGNATURE, POSTGRES_EPOCH_US, is_postgres
from customers.models import Order, OrderItem

# COPY's output is parsed this many bytes at a time: at a million customers the orders' ledger is
# 380 MB and the baskets' text about as much, which need not sit in memory beside their arrays.
COPY_PARSE_BYTES = 32 * 1024 * 1024


def _copy_lines(sql: str, options: str) -> Iterator[bytes]:
    """``COPY (sql) TO STDOUT`` as blocks of whole lines, about :data:`COPY_PARSE_BYTES`
    each (PostgreSQL only)."""
    pending = bytearray()
    with connection.cursor() as cursor, cursor.cursor.copy(f"COPY ({sql}) TO STDOUT WITH ({options})") as copy:
        for block in copy:
            pending += block
            if len(pending) >= COPY_PARSE_BYTES:
                end = pending.rfind(b"\n") + 1
                yield bytes(pending[:end])
                del pending[:end]
    if pending:
        yield bytes(pending)


# COPY's binary form of a ledger row (analytics.engine.order_summary.OrderLedger): a field count,
# then each field's length and value; three non-NULL eight-byte integers (customer, the time as
# microseconds since 2000-01-01 UTC, cents) make every row 38 bytes, which numpy reads in place.
_LEDGER_ROW = np.dtype([("fields", ">i2"), ("customer_length", ">i4"), ("customer_id", ">i8"),
                        ("at_length", ">i4"), ("at", ">i8"), ("cents_length", ">i4"), ("cents", ">i8")])


def _ledger_rows(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(customer ids, times in nanoseconds since the epoch, cents) of a block of ledger rows."""
    if ((rows["fields"] != 3).any() or (rows["customer_length"] != 8).any() or (rows["at_length"] != 8).any()
            or (rows["cents_length"] != 8).any()):
        raise ValueError("unexpected order rows from the database")
    return (rows["customer_id"].astype("int64"), (rows["at"].astype("int64") + POSTGRES_EPOCH_US) * 1000,
            rows["cents"].astype("int64"))


def read_order_ledger(until: pd.Timestamp, *, customer_ids: Sequence[int] | None = None) -> S.OrderLedger:
    """The completed orders placed at or before ``until`` as an
    :class:`~analytics.engine.order_summary.OrderLedger`, from which every order summary of a run
    is computed.

    On PostgreSQL three integer columns are streamed with ``COPY ... (FORMAT binary)`` and read by
    numpy in place, 32 MB at a time: no text to parse, no Python object per order. Aggregating in
    the database instead (``GROUP BY`` and window functions) took 190 s of one core at ten
    million orders, most of it the per-day and per-customer aggregates' bookkeeping (README, "The
    order summary in numpy"). Elsewhere the ledger is built from :func:`read_orders`' frame.
    Orders whose time pandas cannot hold are left out on both paths, as :func:`read_orders` does.
    """
    restrict = "" if customer_ids is None else (
        f" AND customer_id IN ({','.join(str(int(i)) for i in customer_ids) or 'NULL'})")
    if not is_postgres():
        return S.OrderLedger.from_orders(read_orders(until, restrict, inclusive=True))
    sql = (f"SELECT customer_id::bigint, ordered_at, round(total_amount * 100)::bigint FROM {table_name(Order)} "
           f"WHERE status = 'completed' AND ordered_at <= {_instant(until)} AND ordered_at >= {_instant(NS_MIN)} "
           f"AND ordered_at <= {_instant(NS_MAX)}{restrict}")
    parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    pending = bytearray()
    header = True
    with connection.cursor() as cursor, cursor.cursor.copy(f"COPY ({sql}) TO STDOUT (FORMAT binary)") as copy:
        for block in copy:
            pending += block
            if header and len(pending) >= 19:
                if bytes(pending[:len(BINARY_COPY_SIGNATURE)]) != BINARY_COPY_SIGNATURE:
                    raise ValueError("unexpected COPY header from the database")
                del pending[:19 + int.from_bytes(pending[15:19], "big")]
                header = False
            if not header and len(pending) >= COPY_PARSE_BYTES:
                whole = len(pending) // _LEDGER_ROW.itemsize * _LEDGER_ROW.itemsize
                parts.append(_ledger_rows(np.frombuffer(bytes(pending[:whole]), dtype=_LEDGER_ROW)))
                del pending[:whole]
    if header or len(pending) < 2 or bytes(pending[-2:]) != b"\xff\xff":
        raise ValueError("incomplete COPY from the database")
    parts.append(_ledger_rows(np.frombuffer(bytes(pending[:-2]), dtype=_LEDGER_ROW)))
    customer, at, cents = (np.concatenate([part[i] for part in parts]) for i in range(3))
    del parts, pending
    return S.OrderLedger.of(customer, at, cents)


def read_order_summary(cutoff: pd.Timestamp, *, inclusive: bool = False,
                       customer_ids: Sequence[int] | None = None) -> pd.DataFrame:
    """Per-customer order summary before ``cutoff`` (:mod:`analytics.engine.order_summary`) of
    the orders :func:`read_order_ledger` reads."""
    return read_order_summaries([(cutoff, inclusive)], customer_ids=customer_ids)[0]


def read_order_summaries(cutoffs: Sequence[tuple[pd.Timestamp, bool]], *,
                         customer_ids: Sequence[int] | None = None) -> list[pd.DataFrame]:
    """The order summaries at several ``(cutoff, inclusive)`` pairs, in their order, from one read
    of the orders up to the latest."""
    ledger = read_order_ledger(max(cutoff for cutoff, _ in cutoffs), customer_ids=customer_ids)
    return [ledger.summary(cutoff, inclusive=inclusive) for cutoff, inclusive in cutoffs]


def _instant(value: pd.Timestamp) -> str:
    return "'" + as_utc(pd.Timestamp(value)).isoformat() + "'::timestamptz"


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
    """Everything the engine's customer part reads of the orders, from one read of them on
    PostgreSQL (:func:`read_order_ledger`): the full summaries at ``as_of`` and at the CLV
    calibration end, the feature summaries at every feature cutoff, the CLV holdout window's
    purchase days and the monthly revenue. None elsewhere, where the engine summarises the
    orders frame it holds (reading the orders a second time would gain nothing)."""
    if not is_postgres():
        return None
    as_of = pd.Timestamp(as_of)
    cutoffs = feature_cutoffs(as_of, settings)
    calibration_end = selection_calibration_end(as_of)
    ledger = read_order_ledger(as_of)
    return EngineSummaries(
        at_as_of=ledger.summary(as_of, inclusive=True),
        before={cutoff: ledger.summary(cutoff, days=False) for cutoff in cutoffs},
        selection=SelectionSummaries(calibration=ledger.summary(calibration_end, inclusive=True),
                                     holdout=ledger.window_purchase_days(start=calibration_end, end=as_of)),
        monthly_cents=ledger.monthly_cents(before=month_start(as_of)))


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
