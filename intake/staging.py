"""Set-based writes of an import chunk on PostgreSQL: COPY into a staging table, then SQL.

Creating a model instance per order, per order line and per history row, and binding each of
their values as a parameter of an ``INSERT``, took about two thirds of an orders import. Here a
chunk's orders and lines are streamed with COPY (``core.db.copy_frame``) into temporary
tables, and a handful of ``INSERT ... SELECT`` / ``UPDATE ... FROM`` statements write the orders,
their history rows and their lines, whatever the chunk's size.

The rules (which rows are valid, which orders are new or changed) are decided by the importer
before this module is called; this is only the writer, and writes exactly what the ORM path
writes, history rows included.
"""
from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
from django.db import connection
from django.utils import timezone

from core.db import BULK_CREATE_BATCH_SIZE, copy_frame, is_postgres
from customers.models import Order, OrderItem


@dataclass
class PlannedOrder:
    """An order the importer decided to write: its column values (``id`` None when new) and its
    lines as ``(product_pk, quantity, unit_price)``, or ``None`` to keep the stored lines."""

    values: dict
    items: list[tuple] | None


ORDER_STAGE = "intake_order_stage"
ITEM_STAGE = "intake_item_stage"


def _tables() -> dict[str, str]:
    q = connection.ops.quote_name
    return {"order": q(Order._meta.db_table), "history": q(Order.history.model._meta.db_table),
            "item": q(OrderItem._meta.db_table)}


def _stage_tables() -> None:
    # Temporary tables live as long as the connection; emptied before each chunk rather than
    # ON COMMIT, because a dry run writes all its chunks in one transaction.
    with connection.cursor() as cursor:
        cursor.execute(f"""CREATE TEMPORARY TABLE IF NOT EXISTS {ORDER_STAGE} (
            id bigint, external_id varchar(64) NOT NULL, customer_id bigint NOT NULL,
            ordered_at timestamptz NOT NULL, channel varchar(20) NOT NULL, status varchar(10) NOT NULL,
            total_amount numeric(14, 2) NOT NULL, replace_items boolean NOT NULL)""")
        cursor.execute(f"""CREATE TEMPORARY TABLE IF NOT EXISTS {ITEM_STAGE} (
            external_id varchar(64) NOT NULL, product_id bigint NOT NULL, quantity integer NOT NULL,
            unit_price numeric(12, 2) NOT NULL)""")
        cursor.execute(f"TRUNCATE {ORDER_STAGE}, {ITEM_STAGE}")


def _copy_plans(plans: list[PlannedOrder]) -> None:
    columns = ["id", "external_id", "customer_id", "ordered_at", "channel", "status", "total_amount"]
    orders = pd.DataFrame([[plan.values[c] for c in columns] for plan in plans], columns=columns)
    orders["id"] = orders["id"].astype("Int64")
    orders["replace_items"] = [plan.items is not None for plan in plans]
    # Aware datetimes of one zone become a DatetimeTZDtype column, which copy_frame writes in
    # UTC; a file mixing UTC offsets gives an object column of ISO strings with their offsets.
    orders["ordered_at"] = pd.Series(list(orders["ordered_at"]), dtype=object).map(
        lambda value: value.isoformat())
    copy_frame(ORDER_STAGE, orders)
    items = pd.DataFrame([(plan.values["external_id"], *item) for plan in plans for item in plan.items or ()],
                         columns=["external_id", "product_id", "quantity", "unit_price"])
    if len(items):
        copy_frame(ITEM_STAGE, items)


def orders_write(*, new: list[PlannedOrder], changed: list[PlannedOrder], user) -> None:
    """Insert ``new`` orders and update ``changed`` ones, with history rows and order lines."""
    if not new and not changed:
        return
    _stage_tables()
    _copy_plans(new + changed)
    t = _tables()
    user_pk = getattr(user, "pk", None)
    now = timezone.now()
    columns = "external_id, customer_id, ordered_at, channel, status, total_amount"
    with connection.cursor() as cursor:
        if changed:
            cursor.execute(f"""
                DELETE FROM {t['item']} WHERE order_id IN (
                    SELECT id FROM {ORDER_STAGE} WHERE id IS NOT NULL AND replace_items)""")
        # One statement: the orders written come back from RETURNING, so their history rows and
        # lines join on those few thousand rows instead of looking each order up again. History
        # rows are what simple_history's bulk_history_create writes: "+" for a new order, "~" for
        # a changed one, the importing user, an empty change reason.
        cursor.execute(f"""
            WITH inserted AS (
                INSERT INTO {t['order']} ({columns})
                SELECT {columns} FROM {ORDER_STAGE} WHERE id IS NULL ORDER BY external_id
                RETURNING id, {columns}
            ), updated AS (
                UPDATE {t['order']} AS o SET customer_id = s.customer_id, ordered_at = s.ordered_at,
                       channel = s.channel, status = s.status, total_amount = s.total_amount
                  FROM {ORDER_STAGE} s WHERE s.id IS NOT NULL AND o.id = s.id
                RETURNING o.id, o.external_id, o.customer_id, o.ordered_at, o.channel, o.status,
                          o.total_amount, s.replace_items
            ), written AS (
                SELECT id, {columns}, '+' AS history_type, true AS new_items FROM inserted
                UNION ALL
                SELECT id, {columns}, '~', replace_items FROM updated
            ), history AS (
                INSERT INTO {t['history']} (id, {columns}, history_date, history_change_reason,
                                            history_type, history_user_id)
                SELECT id, {columns}, %s, '', history_type, %s FROM written
            )
            INSERT INTO {t['item']} (order_id, product_id, quantity, unit_price)
            SELECT w.id, i.product_id, i.quantity, i.unit_price
              FROM {ITEM_STAGE} i JOIN written w ON w.external_id = i.external_id
             WHERE w.new_items""", [now, user_pk])


def rows_by_keys(model, key: str, keys, columns: list[str]) -> list[tuple]:
    """``columns`` of the rows of ``model`` whose ``key`` is one of ``keys``, as tuples.

    On PostgreSQL the keys travel as one array parameter (``= ANY(%s)``): with Django's
    ``IN (%s, %s, ...)`` building and parsing a statement of thousands of placeholders took longer
    than running it. (Joining ``unnest(%s)`` instead, to make the planner probe the index rather
    than scan, measured slower over a million-line import: 150 against 80 ms a chunk.) Elsewhere
    the ORM's ``__in``. ``columns`` are attnames.
    """
    keys = list(keys)
    if not keys:
        return []
    if not is_postgres():
        return list(model.objects.filter(**{f"{key}__in": keys}).values_list(*columns))
    field = model._meta.get_field(key)
    numeric = field.get_internal_type() in ("AutoField", "BigAutoField", "ForeignKey")
    array_type = "bigint[]" if numeric else "text[]"
    q = connection.ops.quote_name
    with connection.cursor() as cursor:
        names = ", ".join(q(model._meta.get_field(c).column) for c in columns)
        cursor.execute(f"SELECT {names} FROM {q(model._meta.db_table)} "
                       f"WHERE {q(field.column)} = ANY(%s::{array_type})", [keys])
        return cursor.fetchall()


def rows_update(model, objs: list, fields: list[str], user) -> None:
    """Update ``fields`` of ``objs`` in bulk, recording history rows for audited models.

    Django's ``bulk_update`` builds a ``CASE WHEN pk=... THEN ...`` per field and row; at 5,000
    rows that took 4 ms a row, longer than everything else an import does. On PostgreSQL one
    ``UPDATE ... FROM (VALUES ...)`` per batch does the same work in the database.
    """
    if not objs:
        return
    if not is_postgres():
        model.objects.bulk_update(objs, fields, batch_size=BULK_CREATE_BATCH_SIZE)
    else:
        meta = model._meta
        columns = [meta.get_field(name) for name in fields]
        quote = connection.ops.quote_name
        pk = meta.pk
        names = ", ".join(quote(c.column) for c in [pk, *columns])
        assignments = ", ".join(f"{quote(c.column)} = v.{quote(c.column)}" for c in columns)
        row_sql = "(" + ", ".join(f"%s::{c.db_type(connection)}" for c in [pk, *columns]) + ")"
        with connection.cursor() as cursor:
            for start in range(0, len(objs), BULK_CREATE_BATCH_SIZE):
                batch = objs[start:start + BULK_CREATE_BATCH_SIZE]
                params = []
                for obj in batch:
                    params.append(obj.pk)
                    params.extend(c.get_db_prep_save(getattr(obj, c.attname), connection) for c in columns)
                cursor.execute(
                    f"UPDATE {quote(meta.db_table)} AS t SET {assignments} "
                    f"FROM (VALUES {', '.join([row_sql] * len(batch))}) AS v({names}) "
                    f"WHERE t.{quote(pk.column)} = v.{quote(pk.column)}", params)
    history = getattr(model, "history", None)
    if history is not None:
        history.bulk_history_create(objs, batch_size=BULK_CREATE_BATCH_SIZE, update=True,
                                    default_user=user)
