"""Insert many rows at once from a DataFrame: COPY on PostgreSQL, batched ``bulk_create`` elsewhere.

Used by the demo loader and by the analytics writer. Rows bypass ``save()``, signals and the
audit trail: only machine-written data (demo data, recommendations) goes through here.
"""
from __future__ import annotations

import io
import json
import re
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

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


def binding_cursor():
    """PostgreSQL: a psycopg cursor on this connection (and so in its transaction) that sends its
    parameters apart from the query (``%b`` for bytes in binary form) and may take results in
    binary form (``execute(..., binary=True)``). Django's own cursor binds parameters into the
    query text, where bytes go escaped to hex: a 60 MB payload held 480 MB of copies on its way
    out and 240 MB on its way back."""
    import psycopg

    connection.ensure_connection()
    return psycopg.Cursor(connection.connection)


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

    Rows whose every column has a binary form here go in COPY's binary form, built by numpy
    (:func:`_binary_copy`): numbers and booleans, text and JSON, timestamps with a time zone
    from aware datetime columns, and exact decimals from number columns when no
    ``float_format`` is asked for. At a million customers a run stages ten million
    recommendations and writes a million score rows this way; formatting them as CSV cost more
    than the COPY. Floats keep every digit, as ``bulk_create`` keeps them elsewhere; a decimal
    column gets what PostgreSQL makes of the float's shortest text, as from CSV.

    Other rows go as CSV, ``\\N`` for NULL: with ``NULL '\\N'`` an unquoted empty field is an
    empty string, which is what Django stores for blank CharFields; with the default NULL it
    would become NULL and break NOT NULL columns. Timezone-aware datetime columns are written in
    UTC.
    """
    connection.ensure_connection()
    fields = _binary_fields(table, rows, float_format)
    columns = ", ".join(connection.ops.quote_name(c) for c in rows.columns)
    if fields is not None:
        # Every value is checked before the COPY starts: a refused one leaves the transaction usable.
        with connection.connection.cursor() as cursor, cursor.copy(
                f"COPY {table} ({columns}) FROM STDIN WITH (FORMAT binary)") as copy:
            copy.write(_COPY_BINARY_HEADER)
            for chunk in _binary_chunks(fields, len(rows)):
                copy.write(_binary_copy(fields, chunk))
            copy.write(b"\xff\xff")
        return
    sql = f"COPY {table} ({columns}) FROM STDIN WITH (FORMAT csv, NULL '\\N')"
    rows = rows.copy()
    for column in rows.columns:
        if isinstance(rows[column].dtype, pd.DatetimeTZDtype):
            # numpy formats ISO-8601 in C; pandas' date_format calls strftime per value, which
            # made formatting the orders' timestamps take longer than the COPY itself.
            # Microseconds kept: a timestamp COPY writes must read back as the ORM would store it.
            utc = _utc_microseconds(rows[column])
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
# Text types: the value's UTF-8 bytes (jsonb's binary form is a version byte, then the text).
_TEXT_PREFIX = {"text": b"", "jsonb": b"\x01", "json": b""}
_VARCHAR = re.compile(r"^character varying(\(\d+\))?$")
_NUMERIC = re.compile(r"^numeric\((\d+),(\d+)\)$")
# timestamptz's binary value, in and out: microseconds since 2000-01-01 00:00 UTC, which is
# this many microseconds after the Unix epoch.
POSTGRES_EPOCH_US = 946_684_800_000_000
# Bytes of variable-length values per COPY write: the scatter's index is eight times as large.
_VARIABLE_CHUNK_BYTES = 8_000_000


@dataclass(frozen=True)
class _Field:
    """One column in COPY's binary form: NULL mask, and either ``fixed`` (rows x bytes, every
    value the same length) or ``blob`` (each value's bytes, one after another) with ``offsets``
    (where each row's value starts in it, and where the last ends)."""

    null: np.ndarray
    fixed: np.ndarray | None = None
    offsets: np.ndarray | None = None
    blob: np.ndarray | None = None


def _binary_fields(table: str, rows: pd.DataFrame, float_format: str | None) -> list[_Field] | None:
    """Each column of ``rows`` in COPY's binary form for its type in ``table``, or None when one
    of them has none here (dates, times, decimals from text, arrays: the rows go as CSV)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute "
                       "WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped", [table])
        types = dict(cursor.fetchall())
    fields = []
    for column in rows.columns:
        field = _binary_field(column, rows[column], types.get(column, ""), float_format)
        if field is None:
            return None
        fields.append(field)
    return fields


def _binary_field(column: str, series: pd.Series, kind: str, float_format: str | None) -> _Field | None:
    null = series.isna().to_numpy(dtype=bool)
    if kind in _BINARY_TYPES:
        dtype = np.dtype(_BINARY_TYPES[kind])
        values = _binary_values(column, series, dtype)
        return _Field(null, fixed=values.view(np.uint8).reshape(len(series), dtype.itemsize))
    if kind in _TEXT_PREFIX or _VARCHAR.match(kind):
        # Datetimes to text: CSV's form of them is its own (above); the rest is str() as CSV has it.
        if series.dtype.kind in "mM" or isinstance(series.dtype, pd.DatetimeTZDtype):
            return None
        return _text_field(series, null, _TEXT_PREFIX.get(kind, b""))
    if kind == "timestamp with time zone" and isinstance(series.dtype, pd.DatetimeTZDtype):
        since = _utc_microseconds(series).astype("int64") - POSTGRES_EPOCH_US
        values = np.where(null, 0, since).astype(">i8")
        return _Field(null, fixed=values.view(np.uint8).reshape(len(series), 8))
    numeric = _NUMERIC.match(kind)
    if numeric and float_format is None and series.dtype.kind in "fiu":
        return _numeric_field(series, null, int(numeric[1]), int(numeric[2]))
    return None


def _text_field(series: pd.Series, null: np.ndarray, prefix: bytes) -> _Field:
    """Text as CSV would carry it (``str`` of each value), each distinct value encoded once."""
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    encoded = [prefix + (u if isinstance(u, str) else str(u)).encode("utf-8") for u in uniques]
    sizes = np.array([len(e) for e in encoded] + [0], dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(sizes[codes])])   # code -1 (NULL) takes the trailing 0
    blob = np.frombuffer(b"".join([encoded[c] for c in codes[codes >= 0]]), dtype=np.uint8)
    return _Field(null | (codes < 0), offsets=offsets, blob=blob)


def _utc_microseconds(series: pd.Series) -> np.ndarray:
    """An aware datetime column as naive UTC to the microsecond (what PostgreSQL keeps)."""
    return series.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy("datetime64[us]")


def _numeric_field(series: pd.Series, null: np.ndarray, precision: int, scale: int) -> _Field | None:
    """numeric(precision, scale) from numbers: the value PostgreSQL reads from the number's
    shortest text, rounded half away from zero to ``scale`` places. None (CSV, where PostgreSQL
    decides) for what a float cannot carry exactly as a whole number of units, and for values
    the column cannot hold."""
    if precision > 15:
        return None
    units = 10 ** scale
    if series.dtype.kind == "f":
        x = series.to_numpy(dtype="float64", na_value=0.0)
        if not np.isfinite(x).all():
            return None
        scaled = np.abs(x) * units
        if len(x) and scaled.max() >= 10 ** precision:
            return None
        whole = np.floor(scaled + 0.5)
        # Within a few ulps of a tie the product may fall on either side: those few are rounded
        # from their text, as PostgreSQL rounds what CSV sends.
        for i in np.flatnonzero(np.abs(scaled - np.floor(scaled) - 0.5) <= np.maximum(scaled, 1.0) * 1e-12):
            text = Decimal(repr(float(x[i]))).copy_abs()
            whole[i] = float(text.quantize(Decimal(1).scaleb(-scale), rounding=ROUND_HALF_UP) * units)
        magnitude = whole.astype(np.int64)
        negative = (x < 0) & (magnitude > 0)
    else:
        x = series.to_numpy(dtype="int64", na_value=0)
        if len(x) and np.abs(x).max() >= 10 ** (precision - scale):
            return None
        magnitude, negative = np.abs(x) * units, x < 0
    magnitude = np.where(null, 0, magnitude)
    if len(magnitude) and magnitude.max() >= 10 ** precision:
        return None
    # Base-10000 digits: the whole part's groups, then the fraction's, padded to whole groups.
    whole_groups, fraction_groups = max(1, -(-(precision - scale) // 4)), -(-scale // 4)
    integral, fraction = magnitude // units, (magnitude % units) * 10 ** (4 * fraction_groups - scale)
    digits = [(integral // 10_000 ** k) % 10_000 for k in reversed(range(whole_groups))]
    digits += [(fraction // 10_000 ** k) % 10_000 for k in reversed(range(fraction_groups))]
    n = len(series)
    header = [np.full(n, whole_groups + fraction_groups), np.full(n, whole_groups - 1),
              np.where(negative, 0x4000, 0), np.full(n, scale)]
    values = np.column_stack(header + digits).astype(">u2")
    return _Field(null, fixed=values.view(np.uint8).reshape(n, 2 * values.shape[1]))


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


def _binary_chunks(fields: list[_Field], n: int) -> list[slice]:
    """Row ranges per COPY write: ``COPY_CHUNK_ROWS``, fewer where long texts would make the
    write's variable-length bytes pass ``_VARIABLE_CHUNK_BYTES``."""
    ends = sum((f.offsets[1:] for f in fields if f.offsets is not None), np.zeros(n, dtype=np.int64))
    bounds, start = [], 0
    while start < n:
        room = (ends[start - 1] if start else 0) + _VARIABLE_CHUNK_BYTES
        stop = min(n, start + COPY_CHUNK_ROWS, max(start + 1, int(np.searchsorted(ends, room, side="right"))))
        bounds.append(slice(start, stop))
        start = stop
    return bounds


def _binary_copy(fields: list[_Field], rows: slice) -> bytes:
    """``rows`` as COPY binary rows, in their order. Each row's length depends on its NULLs and
    texts, so every field is scattered to its offset in one buffer, one numpy assignment per
    column (per byte of a text column's values)."""
    n = rows.stop - rows.start
    nulls = [f.null[rows] for f in fields]
    sizes = [np.where(null, 0, f.fixed.shape[1] if f.fixed is not None
                      else np.diff(f.offsets[rows.start:rows.stop + 1]))
             for f, null in zip(fields, nulls, strict=True)]
    lengths = 2 + sum(4 + size for size in sizes)
    start = np.cumsum(lengths) - lengths
    out = np.empty(int(lengths.sum()), dtype=np.uint8)

    def put(positions: np.ndarray, data: np.ndarray) -> None:
        out[positions[:, None] + np.arange(data.shape[1])] = data

    put(start, np.full(n, len(fields), dtype=">i2").view(np.uint8).reshape(n, 2))
    position = start + 2
    for field, null, size in zip(fields, nulls, sizes, strict=True):
        put(position, np.where(null, -1, size).astype(">i4").view(np.uint8).reshape(n, 4))
        position = position + 4
        if field.fixed is not None:
            put(position[~null], field.fixed[rows][~null])
        elif size.sum():
            blob = field.blob[field.offsets[rows.start]:field.offsets[rows.stop]]
            source = np.cumsum(size) - size   # each value's first byte in this chunk's blob
            out[np.repeat(position - source, size) + np.arange(len(blob))] = blob
        position = position + size
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
