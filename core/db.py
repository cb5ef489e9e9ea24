"""Insert many rows at once from a DataFrame: COPY on PostgreSQL, batched ``bulk_create`` elsewhere.

Used by the demo loader and by the analytics writer. Rows bypass ``save()``, signals and the
audit trail: only machine-written data (demo data, recommendations) goes through here.
"""
from __future__ import annotations

import io
import json
from decimal import Decimal

import numpy as np
import pandas as pd
from django.db import connection, models

# Rows per INSERT for bulk_create on SQLite and other non-PostgreSQL back ends: large enough that
# statement overhead is small, small enough to stay well under SQLite's 32,766 bound parameters
# (about 25 columns x 1,000 rows) and to keep memory flat.
BULK_CREATE_BATCH_SIZE = 1_000
# Rows formatted per COPY write: about 20-40 MB of CSV, so 2 million order lines never sit in
# memory twice as text.
COPY_CHUNK_ROWS = 250_000


def is_postgres() -> bool:
    return connection.vendor == "postgresql"


def bulk_insert(model: type[models.Model], rows: pd.DataFrame) -> None:
    """Insert ``rows`` (columns named by attname, e.g. ``customer_id``) into ``model``'s table."""
    if rows.empty:
        return
    if is_postgres():
        copy_rows(model, rows)
    else:
        bulk_create_rows(model, rows)


def copy_rows(model: type[models.Model], rows: pd.DataFrame) -> None:
    """Stream ``rows`` into ``model``'s table with COPY; money-like floats to two decimals."""
    copy_frame(connection.ops.quote_name(model._meta.db_table), rows, float_format="%.2f")


def copy_frame(table: str, rows: pd.DataFrame, *, float_format: str | None = None) -> None:
    """Stream ``rows`` into ``table`` (an SQL name) with COPY (CSV, ``\\N`` for NULL).

    With ``NULL '\\N'`` an unquoted empty field is an empty string, which is what Django stores
    for blank CharFields; with the default NULL it would become NULL and break NOT NULL columns.
    Timezone-aware datetime columns are written in UTC.
    """
    columns = ", ".join(connection.ops.quote_name(c) for c in rows.columns)
    sql = f"COPY {table} ({columns}) FROM STDIN WITH (FORMAT csv, NULL '\\N')"
    rows = rows.copy()
    for column in rows.columns:
        if isinstance(rows[column].dtype, pd.DatetimeTZDtype):
            # numpy formats ISO-8601 in C; pandas' date_format calls strftime per value, which
            # made formatting the orders' timestamps take longer than the COPY itself.
            # Microseconds kept: a timestamp COPY writes must read back as the ORM would store it.
            utc = rows[column].dt.tz_convert("UTC").dt.tz_localize(None).to_numpy("datetime64[us]")
            text = np.char.add(np.datetime_as_string(utc, unit="us"), "Z").astype(object)
            text[np.isnat(utc)] = None
            rows[column] = text
    connection.ensure_connection()
    with connection.connection.cursor() as cursor, cursor.copy(sql) as copy:
        for start in range(0, len(rows), COPY_CHUNK_ROWS):
            buffer = io.StringIO()
            rows.iloc[start:start + COPY_CHUNK_ROWS].to_csv(
                buffer, header=False, index=False, na_rep="\\N", float_format=float_format)
            copy.write(buffer.getvalue())


def drop_secondary_indexes(tables: list[str]) -> list[str]:
    """Drop foreign keys, unique constraints and secondary indexes of ``tables`` (PostgreSQL).

    Returns the statements that recreate them, to run once the rows are in. This is PostgreSQL's
    "Populating a Database" advice (https://www.postgresql.org/docs/current/populate.html):
    building an index or validating a foreign key once over the loaded table is far cheaper than
    maintaining it row by row. Django creates foreign keys DEFERRABLE INITIALLY DEFERRED, so
    without this each of the ~3 million references is checked by a trigger at COMMIT (about a
    minute for the full demo). Definitions are read back from the catalogue, so exactly what the
    migrations created is restored. Runs inside the load's transaction: a failure rolls the drops
    back too. Primary keys and check constraints stay.
    """
    q = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(
            """SELECT c.conrelid::regclass::text, c.conname, c.contype, pg_get_constraintdef(c.oid)
                 FROM pg_constraint c
                WHERE c.conrelid = ANY(%s::regclass[]) AND c.contype IN ('f', 'u')""", [tables])
        constraints = cursor.fetchall()
        cursor.execute(
            """SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid)
                 FROM pg_index i
                WHERE i.indrelid = ANY(%s::regclass[]) AND NOT i.indisprimary
                  AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)""",
            [tables])
        indexes = cursor.fetchall()
        # ALTER TABLE refuses a table with deferred checks still pending from earlier writes in
        # this transaction (a caller's own atomic block): run those checks now.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        for table, name, _, _ in constraints:
            cursor.execute(f"ALTER TABLE {table} DROP CONSTRAINT {q(name)}")
        for name, _ in indexes:
            cursor.execute(f"DROP INDEX {name}")
    # Unique constraints before foreign keys: a foreign key may rely on a unique index.
    ordered = sorted(constraints, key=lambda c: c[2] != "u")
    return ([definition for _, definition in indexes]
            + [f"ALTER TABLE {table} ADD CONSTRAINT {q(name)} {definition}"
               for table, name, _, definition in ordered]
            + ["SET CONSTRAINTS ALL DEFERRED"])   # back to Django's INITIALLY DEFERRED behaviour


def execute_all(statements: list[str]) -> None:
    with connection.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement)


def _python_value(value):
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float) and np.isnan(value):
        return None
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    if isinstance(value, np.generic):
        return value.item()
    return value


def bulk_create_rows(model: type[models.Model], rows: pd.DataFrame) -> None:
    decimal_columns = {f.attname for f in model._meta.concrete_fields if isinstance(f, models.DecimalField)}
    json_columns = {f.attname for f in model._meta.concrete_fields if isinstance(f, models.JSONField)}
    columns = list(rows.columns)
    for start in range(0, len(rows), BULK_CREATE_BATCH_SIZE):
        batch = []
        for record in rows.iloc[start:start + BULK_CREATE_BATCH_SIZE].itertuples(index=False, name=None):
            values = {}
            for column, value in zip(columns, record):
                value = _python_value(value)
                if column in decimal_columns and value is not None:
                    value = Decimal(f"{value:.2f}")
                elif column in json_columns:
                    value = json.loads(value)
                values[column] = value
            batch.append(model(**values))
        model.objects.bulk_create(batch, batch_size=BULK_CREATE_BATCH_SIZE)
