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
    """Stream ``rows`` into ``model``'s table with COPY; money-like floats to two decimals in CSV."""
    copy_frame(connection.ops.quote_name(model._meta.db_table), rows, float_format="%.2f")


def copy_frame(table: str, rows: pd.DataFrame, *, float_format: str | None = None) -> None:
    """Stream ``rows`` into ``table`` (an SQL name) with COPY.

    Rows whose every column is a number or a boolean in the table go in COPY's binary form,
    built by numpy (:func:`_binary_copy`): at a million customers a run stages ten million
    recommendations this way, and formatting them as CSV cost more than the COPY. Floats then
    keep every digit, as ``bulk_create`` keeps them elsewhere; ``float_format`` applies to CSV.

    Other rows go as CSV, ``\\N`` for NULL: with ``NULL '\\N'`` an unquoted empty field is an
    empty string, which is what Django stores for blank CharFields; with the default NULL it
    would become NULL and break NOT NULL columns. Timezone-aware datetime columns are written in
    UTC.
    """
    connection.ensure_connection()
    formats = _binary_formats(table, list(rows.columns))
    columns = ", ".join(connection.ops.quote_name(c) for c in rows.columns)
    if formats is not None:
        # Every value is checked before the COPY starts: a refused one leaves the transaction usable.
        fields = [(rows[column].isna().to_numpy(), _binary_values(column, rows[column], dtype))
                  for column, dtype in zip(rows.columns, formats, strict=True)]
        with connection.connection.cursor() as cursor, cursor.copy(
                f"COPY {table} ({columns}) FROM STDIN WITH (FORMAT binary)") as copy:
            copy.write(_COPY_BINARY_HEADER)
            for start in range(0, len(rows), COPY_CHUNK_ROWS):
                chunk = slice(start, start + COPY_CHUNK_ROWS)
                copy.write(_binary_copy([(null[chunk], values[chunk]) for null, values in fields]))
            copy.write(b"\xff\xff")
        return
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
    with connection.connection.cursor() as cursor, cursor.copy(sql) as copy:
        for start in range(0, len(rows), COPY_CHUNK_ROWS):
            buffer = io.StringIO()
            rows.iloc[start:start + COPY_CHUNK_ROWS].to_csv(
                buffer, header=False, index=False, na_rep="\\N", float_format=float_format)
            copy.write(buffer.getvalue())


# COPY's binary form (https://www.postgresql.org/docs/current/sql-copy.html, "Binary Format"):
# a signature, a flags word and an empty header extension; then per row a 16-bit field count
# and per field a 32-bit length (-1 for NULL) and the value in network byte order; -1 at the end.
BINARY_COPY_SIGNATURE = b"PGCOPY\n\xff\r\n\x00"
_COPY_BINARY_HEADER = BINARY_COPY_SIGNATURE + bytes(8)
# The column types whose binary value is a plain big-endian number numpy can write.
_BINARY_TYPES = {"bigint": ">i8", "integer": ">i4", "smallint": ">i2", "double precision": ">f8",
                 "real": ">f4", "boolean": "?"}


def _binary_formats(table: str, columns: list[str]) -> list[np.dtype] | None:
    """numpy's big-endian form of each column's type in ``table``, or None when one of them has
    no such form (text, numeric, dates: those go as CSV)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute "
                       "WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped", [table])
        types = dict(cursor.fetchall())
    found = [_BINARY_TYPES.get(types.get(column, "")) for column in columns]
    return None if None in found else [np.dtype(f) for f in found]


def _binary_values(column: str, series: pd.Series, dtype: np.dtype) -> np.ndarray:
    """``series`` in ``dtype``, NULLs as 0 (their field is left out). A value the column cannot
    hold is refused, as PostgreSQL refuses it in CSV, instead of being cut or wrapped round."""
    if dtype.kind == "b":
        return series.to_numpy(dtype="bool", na_value=False).astype(dtype)
    if dtype.kind == "f":
        return series.to_numpy(dtype="float64", na_value=0.0).astype(dtype)
    numbers = series.to_numpy(dtype="float64" if series.dtype.kind == "f" else "int64", na_value=0)
    bounds = np.iinfo(dtype)
    if len(numbers) and (numbers.min() < bounds.min or numbers.max() > bounds.max
                         or (numbers.dtype.kind == "f" and not np.array_equal(numbers, np.round(numbers)))):
        raise ValueError(f"{column}: a value is not a whole number within the column's range "
                         f"({bounds.min} to {bounds.max})")
    return numbers.astype("int64").astype(dtype)


def _binary_copy(columns: list[tuple[np.ndarray, np.ndarray]]) -> bytes:
    """Rows as COPY binary rows, in their order, from each column's (NULL mask, values in their
    binary dtype). Each row's length depends on its NULLs, so every field is scattered to its
    offset in one buffer, one numpy assignment per column."""
    n = len(columns[0][0])
    fields = [(null, values.view(np.uint8).reshape(n, values.dtype.itemsize), values.dtype.itemsize)
              for null, values in columns]
    lengths = 2 + sum(4 + np.where(null, 0, size) for null, _, size in fields)
    start = np.cumsum(lengths) - lengths
    out = np.empty(int(lengths.sum()), dtype=np.uint8)

    def put(positions: np.ndarray, data: np.ndarray) -> None:
        out[positions[:, None] + np.arange(data.shape[1])] = data

    put(start, np.full(n, len(fields), dtype=">i2").view(np.uint8).reshape(n, 2))
    position = start + 2
    for null, data, size in fields:
        put(position, np.where(null, -1, size).astype(">i4").view(np.uint8).reshape(n, 4))
        position = position + 4
        put(position[~null], data[~null])
        position = position + np.where(null, 0, size)
    return out.tobytes()


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
