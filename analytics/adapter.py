"""The one place that moves data between the ORM and the engine.

Reading builds the engine's frames (:mod:`analytics.engine.frames`) with one query per table:
``COPY ... TO STDOUT`` on PostgreSQL, parsed by pandas, and a plain cursor elsewhere. Writing puts
customers' scores back inside one transaction. A full run on PostgreSQL writes a new score table
by COPY, builds its indexes and renames it in (:func:`core.table_swap.replace_table`); other
writes put the rows into a temporary table (COPY on PostgreSQL, one ``executemany`` on SQLite)
and one ``UPDATE ... FROM`` writes them. Either way the new scores appear all at once or not at
all.

The per-customer order summaries the customer models read (:mod:`analytics.engine.order_summary`)
are computed from one narrow read of the orders where PostgreSQL runs (three integers per order
in COPY's binary form, :mod:`analytics.aggregates`), not from the orders frame; elsewhere the
engine computes them from the orders frame, with the same code. Likewise the product part's baskets, each
order's distinct products (:mod:`analytics.engine.baskets`): PostgreSQL groups the order lines by
order and streams one row per order (:func:`engine_baskets`), not one per line.
"""
from __future__ import annotations

import io
import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from django.db import connection, transaction

from analytics.engine import frames as F
from core.db import copy_frame, is_postgres
from core.table_swap import Replacement, replacement_build
from customers import bounds
from customers.models import (
    SCORE_FIELDS,
    Customer,
    CustomerScore,
    Feedback,
    Interaction,
    Order,
    OrderItem,
    Product,
)
from customers.pii import pii_attribute_columns

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Frames:
    customers: pd.DataFrame
    orders: pd.DataFrame
    items: pd.DataFrame
    products: pd.DataFrame
    feedback: pd.DataFrame
    interactions: pd.DataFrame


def _read(sql: str, columns: Sequence[str], params: Sequence = ()) -> pd.DataFrame:
    """Run ``sql`` and return its rows as a frame with ``columns``."""
    with connection.cursor() as cursor:
        if is_postgres():
            # COPY streams text that pandas parses in C: several times faster than building a
            # Python tuple per row. Parameters are inlined by psycopg's client-side binding.
            query = cursor.cursor.mogrify(sql, params) if params else sql
            buffer = io.BytesIO()
            with cursor.cursor.copy(f"COPY ({query}) TO STDOUT WITH (FORMAT csv)") as copy:
                for block in copy:
                    buffer.write(block)
            buffer.seek(0)
            if buffer.getbuffer().nbytes == 0:
                return pd.DataFrame({c: [] for c in columns})
            return pd.read_csv(buffer, names=list(columns), header=None, keep_default_na=False,
                               na_values=[""], low_memory=False)
        cursor.execute(sql, params)
        return pd.DataFrame.from_records(cursor.fetchall(), columns=list(columns))


def table_name(model) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def _timestamp(column: str) -> str:
    """How a query selects a timestamp column: on PostgreSQL as whole microseconds since the
    epoch, which pandas parses as numbers (a million customers have 29 million order and line
    timestamps: as text they cost 1.5 GB of strings and most of the parse), elsewhere as is."""
    if is_postgres():
        return f"(EXTRACT(EPOCH FROM {column}) * 1000000)::bigint"
    return column


NS_MIN = pd.Timestamp("1677-09-22")
NS_MAX = pd.Timestamp("2262-04-10")


def _dates(frame: pd.DataFrame, *columns: str) -> pd.DataFrame:
    """Parse ``columns`` as naive UTC timestamps and drop the rows whose time pandas cannot hold
    (before 1677-09-21 or after 2262-04-11): one such row used to fail every score run. The
    model's bounds keep them out now; rows older than the bounds are left out and counted in
    the log."""
    for column in columns:
        if pd.api.types.is_numeric_dtype(frame[column]):  # microseconds (see _timestamp)
            values = pd.to_datetime(frame[column], unit="us", errors="coerce")
        else:
            # Other databases give text ("2026-01-05 10:23:11", a fraction only where there is
            # one) or datetimes. ISO8601 parses every such form in C; "mixed" guesses value by
            # value and took 12 times as long.
            values = pd.to_datetime(frame[column], utc=True, format="ISO8601", errors="coerce")
            values = values.dt.tz_convert(None)
        # pandas 3 may parse year 1 at microsecond resolution; nanoseconds cannot hold it.
        values = values.where((values >= NS_MIN) & (values <= NS_MAX))
        frame[column] = values.astype("datetime64[ns]")
        unreadable = frame[column].isna()
        if unreadable.any():
            logger.warning("left out %d rows whose %s is out of range", int(unreadable.sum()), column)
            frame = frame[~unreadable].reset_index(drop=True)
    return frame


_EMPTY_JSON = frozenset({"", "{}", "null"})


def _attributes(values: pd.Series) -> pd.Series:
    """The attributes JSON column as one dict per customer: PostgreSQL's COPY gives the jsonb as
    text, SQLite's cursor the stored text (or a dict). Empty objects, the usual case, share one
    read-only dict instead of being parsed one by one."""
    empty: dict = {}

    def parse(value):
        if isinstance(value, dict):
            return value
        if value is None or (isinstance(value, float) and np.isnan(value)) or str(value).strip() in _EMPTY_JSON:
            return empty
        parsed = json.loads(value)
        return parsed if isinstance(parsed, dict) else empty

    return values.map(parse).astype(object)


def _without_pii(records: pd.Series) -> pd.Series:
    """The attributes without the columns that hold contact or identity data for any customer
    (``customers.pii``): an e-mail, a phone or an ID number identifies a customer and must not
    become a model input, nor appear among the churn reasons."""
    pii = pii_attribute_columns(records)
    if not pii:
        return records
    return records.map(lambda a: {k: v for k, v in a.items() if k not in pii} if pii & a.keys() else a
                       ).astype(object)


def read_orders(cutoff: pd.Timestamp, restrict: str = "", *, inclusive: bool = False) -> pd.DataFrame:
    """Completed orders placed before ``cutoff`` (at or before it with ``inclusive``), in id
    order; ``restrict`` is an extra SQL condition on the orders table."""
    cutoff = pd.Timestamp(cutoff)
    aware = cutoff.tz_localize("UTC") if cutoff.tzinfo is None else cutoff
    orders = _read(
        f"SELECT id, customer_id, {_timestamp('ordered_at')}, total_amount, channel FROM {table_name(Order)} "
        f"WHERE status = 'completed' AND ordered_at {'<=' if inclusive else '<'} %s{restrict} ORDER BY id",
        F.ORDER_COLUMNS, [aware.isoformat()])
    orders = _dates(orders, "ordered_at")
    orders["total_amount"] = orders["total_amount"].astype(float)
    # A handful of channel names over ten million orders: one string object per order cost
    # about 600 MB at a million customers, a category costs 10 MB.
    orders["channel"] = orders["channel"].astype("category")
    for column in ("order_id", "customer_id"):
        orders[column] = orders[column].astype("int64")
    return orders


def read_frames(as_of: pd.Timestamp, customer_ids: Sequence[int] | None = None,
                with_products: bool = True, without: Sequence[str] = ()) -> Frames:
    """Everything the engine needs up to ``as_of``, optionally for ``customer_ids`` only.
    Frames named in ``without`` ("orders", "items", "interactions") come back empty, unread.

    Rows come in id order: PostgreSQL returns an unordered scan in physical order, which every
    UPDATE of scores reshuffles, and the models' samples and ties must not depend on that.
    """
    as_of_aware = pd.Timestamp(as_of).tz_localize("UTC") if pd.Timestamp(as_of).tzinfo is None else as_of

    def only(column: str, frame: str = "") -> str:
        """An extra condition restricting ``column`` to the requested customers, if any."""
        if frame in without:
            return " AND 1 = 0"
        if customer_ids is None:
            return ""
        return f" AND {column} IN ({','.join(str(int(i)) for i in customer_ids) or 'NULL'})"

    c, o, i, p = table_name(Customer), table_name(Order), table_name(OrderItem), table_name(Product)
    fb, it = table_name(Feedback), table_name(Interaction)

    customers = _read(
        f"SELECT id, signup_date, status, gender, region, city, channel, marketing_consent, attributes "
        f"FROM {c} WHERE merged_into_id IS NULL{only('id')} ORDER BY id",
        [*F.CUSTOMER_COLUMNS, "attributes"])
    customers["attributes"] = _without_pii(_attributes(customers["attributes"]))
    # An out-of-range signup date reads as unknown rather than failing the run.
    signup = pd.to_datetime(customers["signup_date"], errors="coerce")
    customers["signup_date"] = signup.where((signup >= NS_MIN) & (signup <= NS_MAX)).astype("datetime64[ns]")
    customers["consent"] = customers["consent"].map(
        lambda v: v in (True, "t", "true", 1, "1")).astype(bool)
    for column in ("status", "gender", "region", "city", "channel"):
        customers[column] = customers[column].astype(object).fillna("").astype(str)

    cutoff = as_of_aware.isoformat()
    orders = read_orders(as_of_aware, only('customer_id', 'orders'), inclusive=True)

    items = _read(
        f"SELECT it.order_id, o.customer_id, it.product_id, it.quantity, it.unit_price, "
        f"{_timestamp('o.ordered_at')} "
        f"FROM {i} it JOIN {o} o ON o.id = it.order_id "
        f"WHERE o.status = 'completed' AND o.ordered_at <= %s{only('o.customer_id', 'items')} ORDER BY it.id",
        F.ITEM_COLUMNS, [cutoff])
    items = _dates(items, "ordered_at")
    items["unit_price"] = items["unit_price"].astype(float)

    products = _read(f"SELECT id, sku, name, category, price FROM {p}"
                     + ("" if with_products else " WHERE 1 = 0") + " ORDER BY id", F.PRODUCT_COLUMNS)
    products["price"] = products["price"].astype(float)

    # A text is read only where it was never analysed: the engine's one use of it is scoring it
    # then (satisfaction), and everywhere else its stored score stands for it. At a million
    # customers the texts were most of the feedback frame in both parts (about 300 of 406 MB).
    feedback = _read(
        f"SELECT id, customer_id, {_timestamp('created_at')}, rating, "
        f"CASE WHEN sentiment_score IS NULL THEN text ELSE '' END, language, sentiment_score, "
        f"complaint_reason FROM {fb} WHERE created_at <= %s{only('customer_id')} ORDER BY id",
        F.FEEDBACK_COLUMNS, [cutoff])
    feedback = _dates(feedback, "created_at")
    for column in ("rating", "sentiment_score"):
        feedback[column] = pd.to_numeric(feedback[column], errors="coerce").astype(float)
    for column in ("text", "language", "complaint_reason"):
        feedback[column] = feedback[column].astype(object).fillna("").astype(str)

    interactions = _read(
        f"SELECT customer_id, {_timestamp('occurred_at')}, kind, outcome FROM {it} "
        f"WHERE occurred_at <= %s{only('customer_id', 'interactions')} ORDER BY id",
        F.INTERACTION_COLUMNS, [cutoff])
    interactions = _dates(interactions, "occurred_at")

    for frame, column in ((customers, "customer_id"), (orders, "order_id"), (orders, "customer_id"),
                          (items, "order_id"), (items, "customer_id"), (items, "product_id"),
                          (items, "quantity"), (products, "product_id"), (feedback, "feedback_id"),
                          (feedback, "customer_id"), (interactions, "customer_id")):
        frame[column] = frame[column].astype("int64")
    return Frames(customers, orders, items, products, feedback, interactions)


def _sql_type(field) -> str:
    internal = field.get_internal_type()
    return {
        "PositiveIntegerField": "integer", "PositiveSmallIntegerField": "smallint",
        "FloatField": "double precision", "DecimalField": "numeric",
        "DateTimeField": "timestamptz", "JSONField": "jsonb", "CharField": "text",
    }[internal]


def as_utc(value: pd.Timestamp) -> pd.Timestamp:
    """The engine's timestamps are naive UTC; the database wants them marked as such."""
    return value.tz_localize("UTC") if value.tzinfo is None else value.tz_convert("UTC")


_INTEGER_FIELDS = {"IntegerField", "PositiveIntegerField", "PositiveSmallIntegerField", "SmallIntegerField",
                   "BigIntegerField"}


def _sqlite_stage(stage: str, fields: dict, frame: pd.DataFrame) -> None:
    """Fill a temporary table ``stage`` on SQLite with ``frame``'s rows, in one ``executemany``.

    Each value goes through its field's ``get_db_prep_save``, exactly as the ORM binds it, so the
    ``UPDATE ... FROM`` stores what ``bulk_update`` stored. The columns are untyped: the value
    keeps the form it was bound in until the UPDATE assigns it to the real column, whose type
    affinity then converts it as it would convert a bound parameter.
    """
    columns = list(frame.columns)
    json_columns = {c for c in columns if fields[c].get_internal_type() == "JSONField"}
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE TEMPORARY TABLE {stage} (id INTEGER PRIMARY KEY, {', '.join(columns)})")
    prepared = [frame.index.to_numpy(dtype="int64").tolist()]
    for column in columns:
        prep = fields[column].get_db_prep_save
        values = []
        for value in frame[column].astype(object).tolist():
            if value is None or value is pd.NaT or value is pd.NA or (
                    isinstance(value, float) and np.isnan(value)):
                values.append(None)
                continue
            if isinstance(value, pd.Timestamp):
                value = as_utc(value).to_pydatetime()
            elif column in json_columns and isinstance(value, str):
                value = json.loads(value)
            elif isinstance(value, np.generic):
                value = value.item()
            values.append(prep(value, connection))
        prepared.append(values)
    placeholders = ", ".join(["%s"] * (len(columns) + 1))
    with connection.cursor() as cursor:
        cursor.executemany(f"INSERT INTO {stage} VALUES ({placeholders})", list(zip(*prepared)))


@transaction.atomic
def write_rows(model, frame: pd.DataFrame) -> int:
    """Update ``model`` rows from ``frame`` (indexed by primary key, columns named as fields).

    The rows go into a temporary table (COPY on PostgreSQL, one ``executemany`` on SQLite), then
    one ``UPDATE ... FROM`` writes them all (SQLite has it since 3.33). JSON columns hold JSON
    text already. Returns rows written.
    """
    if frame.empty:
        return 0
    fields = {f.name: f for f in model._meta.concrete_fields}
    key = model._meta.pk.column
    columns = list(frame.columns)
    integers = [c for c in columns if fields[c].get_internal_type() in _INTEGER_FIELDS]
    if integers:
        # Frames assembled column by column hold counts as floats (3.0), which an integer
        # column refuses to COPY; nullable Int64 keeps the gaps as NULL.
        frame = frame.astype({c: "Int64" for c in integers})
    stage = f"stage_{model._meta.db_table}"
    with connection.cursor() as cursor:
        # A caller's outer transaction may already hold this temporary table.
        cursor.execute(f"DROP TABLE IF EXISTS {'' if is_postgres() else 'temp.'}{stage}")
    if is_postgres():
        with connection.cursor() as cursor:
            cursor.execute(
                f"CREATE TEMPORARY TABLE {stage} (id bigint PRIMARY KEY, "
                + ", ".join(f"{c} {_sql_type(fields[c])}" for c in columns) + ") ON COMMIT DROP")
        rows = frame.reset_index(names="id")
        for column in columns:
            if fields[column].get_internal_type() == "DateTimeField":
                rows[column] = pd.to_datetime(rows[column], utc=True)
        copy_frame(stage, rows)
    else:
        _sqlite_stage(stage, fields, frame)
    with connection.cursor() as cursor:
        if is_postgres():
            # Two writers of overlapping rows (a run's feedback analysis and the task analysing new
            # feedback) would each lock rows in the order its UPDATE meets them and can deadlock:
            # take the row locks first, in id order, so the second waits for the first instead.
            cursor.execute(f"SELECT t.{key} FROM {table_name(model)} AS t JOIN {stage} AS s ON t.{key} = s.id "
                           f"ORDER BY t.{key} FOR UPDATE OF t")
        cursor.execute(
            f"UPDATE {table_name(model)} AS t SET " + ", ".join(f"{c} = s.{c}" for c in columns)
            + f" FROM {stage} AS s WHERE t.{key} = s.id")
        written = cursor.rowcount
        if not is_postgres():
            cursor.execute(f"DROP TABLE temp.{stage}")  # PostgreSQL drops it at COMMIT
    return written


# Money aggregates and the largest value their columns hold (customers.bounds.MAX_AGGREGATE).
_CAPPED_SCORES = ("total_spent", "clv_12m")


def write_scores(scores: pd.DataFrame, *, replace: bool = False) -> int:
    """Write customers' scores (``scores`` indexed by customer id) in one transaction; see
    :func:`scores_write_prepare`. Returns rows written."""
    with transaction.atomic():
        return scores_write_prepare(scores, replace=replace)()


def scores_write_prepare(scores: pd.DataFrame, *, replace: bool = False) -> Callable[[], int]:
    """Prepare the write of customers' scores (``scores`` indexed by customer id) and return the
    function that makes it, to call in the same transaction; it returns rows written.

    ``replace`` (a full run, on PostgreSQL): a new score table holding these rows is built now,
    with its indexes, and the function swaps it in (:mod:`core.table_swap`): customers not in
    ``scores`` keep their row as it was, and so do the score columns ``scores`` lacks. A caller
    with other writes to make between the two keeps the customer pages' wait to the swap.
    Otherwise the function updates the rows.

    Money aggregates are capped at what their columns hold: a sum past 14 digits stored on
    SQLite made every later read of the customer fail, and PostgreSQL refuses it outright.
    """
    scores = scores[[c for c in scores.columns if c in SCORE_FIELDS]]
    capped = [c for c in _CAPPED_SCORES if c in scores.columns]
    if capped:
        scores = scores.copy()
        for column in capped:
            scores[column] = pd.to_numeric(scores[column], errors="coerce").clip(
                lower=0, upper=float(bounds.MAX_AGGREGATE))
    if not (replace and is_postgres()) or scores.empty:
        return lambda: write_rows(CustomerScore, scores)
    replacement = _scores_replacement(scores)

    def swap_in() -> int:
        timings = replacement.swap_in(key="customer_id")
        logger.info("score table replaced: %s", {k: round(v, 3) for k, v in timings.items()})
        return len(scores)

    return swap_in


def _scores_replacement(scores: pd.DataFrame) -> Replacement:
    fields = {f.name: f for f in CustomerScore._meta.concrete_fields}
    missing = [c for c in SCORE_FIELDS if c not in scores.columns]
    rows = scores.astype({c: "Int64" for c in scores.columns
                          if fields[c].get_internal_type() in _INTEGER_FIELDS})
    rows = rows.reset_index(names="customer_id")
    rows["customer_id"] = rows["customer_id"].astype("int64")
    for column in scores.columns:
        if fields[column].get_internal_type() == "DateTimeField":
            rows[column] = pd.to_datetime(rows[column], utc=True)

    def load(new: str) -> None:
        copy_frame(new, rows)
        if missing:   # columns this write does not carry keep their values
            with connection.cursor() as cursor:
                cursor.execute(f"UPDATE {new} AS n SET " + ", ".join(f"{c} = t.{c}" for c in missing)
                               + f" FROM {table_name(CustomerScore)} AS t WHERE t.customer_id = n.customer_id")

    return replacement_build(CustomerScore._meta.db_table, load)
