"""COPY in binary form: rows of numbers and booleans reach PostgreSQL exactly as the frame holds
them, NULLs in any place, in their order; a value the column cannot hold is refused, not cut;
text, JSON, timestamps and decimals go in as the CSV path puts them; rows with a column of
another type (a date) still go as CSV.

Needs PostgreSQL (the ``services`` mark: skipped on a laptop without it, fails in CI).
"""
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest
from django.db import connection, transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.db import copy_frame

pytestmark = [pytest.mark.services, pytest.mark.django_db]

COLUMNS = {"big": "bigint", "whole": "integer", "small": "smallint", "ratio": "double precision",
           "single": "real", "flag": "boolean"}


def _temporary_table(name: str, columns: dict[str, str]):
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE TEMPORARY TABLE {name} (id serial, "
                       + ", ".join(f"{column} {kind}" for column, kind in columns.items()) + ")")
    yield name
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE {name}")


@pytest.fixture
def table():
    yield from _temporary_table("copy_probe", {**COLUMNS, "label": "text", "day": "date"})


def _read(columns: list[str], table: str = "copy_probe") -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {', '.join(columns)} FROM {table} ORDER BY id")
        return cursor.fetchall()


def _maybe(values):
    return st.one_of(st.none(), values)


_ROWS = st.lists(st.tuples(
    _maybe(st.integers(-2 ** 63, 2 ** 63 - 1)), _maybe(st.integers(-2 ** 31, 2 ** 31 - 1)),
    _maybe(st.integers(-2 ** 15, 2 ** 15 - 1)), _maybe(st.floats(allow_nan=False, allow_infinity=True)),
    _maybe(st.floats(width=32, allow_nan=False, allow_infinity=False)), _maybe(st.booleans())), max_size=40)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=_ROWS)
def test_numbers_and_nulls_round_trip_exactly_and_in_order(table, rows):
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE copy_probe RESTART IDENTITY")
    names = list(COLUMNS)
    frame = pd.DataFrame({
        "big": pd.array([r[0] for r in rows], dtype="Int64"),
        "whole": pd.array([r[1] for r in rows], dtype="Int64"),
        "small": pd.array([r[2] for r in rows], dtype="Int64"),
        "ratio": pd.array([r[3] for r in rows], dtype="Float64"),
        "single": pd.array([r[4] for r in rows], dtype="Float64"),
        "flag": pd.array([r[5] for r in rows], dtype="boolean"),
    })
    copy_frame(table, frame)
    stored = _read(names)
    assert len(stored) == len(rows)
    for got, sent in zip(stored, rows, strict=True):
        assert got[:3] == sent[:3] and got[5] == sent[5]
        assert got[3] == sent[3] or (got[3] is None and sent[3] is None)
        # real holds a 32-bit float: the value sent, rounded to 32 bits, comes back.
        assert (got[4] is None) == (sent[4] is None)
        assert sent[4] is None or np.float32(got[4]) == np.float32(sent[4])


def test_plain_numpy_columns_and_a_float_column_of_whole_numbers_go_in(table):
    frame = pd.DataFrame({"big": np.array([3, 4], dtype="int64"), "small": [7.0, np.nan],
                          "ratio": [0.1234567891234, np.nan]})
    copy_frame(table, frame)
    assert _read(["big", "small", "ratio"]) == [(3, 7, 0.1234567891234), (4, None, None)]


@pytest.mark.parametrize(("column", "value"), [("small", 40_000), ("whole", 2 ** 31), ("small", 1.5),
                                               ("big", float("inf"))])
def test_a_value_the_column_cannot_hold_is_refused_with_its_column(table, column, value):
    with pytest.raises(ValueError, match=column):
        copy_frame(table, pd.DataFrame({column: [1, value]}))
    assert _read(["id"]) == []


def test_rows_with_a_date_go_as_csv(table):
    copy_frame(table, pd.DataFrame({"big": [1, 2], "label": ["a,b", ""], "day": ["2026-01-02", None]}))
    assert _read(["big", "label", "day::text"]) == [(1, "a,b", "2026-01-02"), (2, "", None)]


def test_text_with_commas_and_empty_strings_goes_in(table):
    copy_frame(table, pd.DataFrame({"big": [1, 2], "label": ["a,b", ""]}))
    assert _read(["big", "label"]) == [(1, "a,b"), (2, "")]


# Text, JSON, timestamps with a time zone and decimals go in binary form too. The oracle is the
# CSV path: the same frame with one more column that has no binary form (a date) goes as CSV.
TYPED = {"label": "text", "code": "varchar(8)", "doc": "jsonb", "at": "timestamptz", "money": "numeric(14,2)",
         "whole_money": "numeric(14,2)"}


@pytest.fixture
def typed_table():
    yield from _temporary_table("copy_typed", {**TYPED, "day": "date"})


def _both_ways(table: str, frame: pd.DataFrame) -> tuple[list[tuple], list[tuple]]:
    """What the binary path stored and what the CSV path stored, for the same frame."""
    from core.db import _binary_fields

    stored = []
    as_csv = frame.assign(day=pd.Series([None] * len(frame), dtype=object))
    for rows, binary in ((frame, True), (as_csv, False)):
        with connection.cursor() as cursor:
            cursor.execute(f"TRUNCATE {table} RESTART IDENTITY")
        assert (_binary_fields(table, rows, None) is not None) == binary
        copy_frame(table, rows)
        stored.append(_read(list(frame.columns), table))
    return stored[0], stored[1]


# Not a carriage return: CSV cannot carry one unquoted (binary can, see below).
_CHARACTERS = st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00\r")
_TEXT = st.text(_CHARACTERS, max_size=30)
_MONEY = st.one_of(st.floats(-1e11, 1e11, allow_nan=False),
                   st.integers(-10 ** 7, 10 ** 7).map(lambda n: n / 1000))
_TYPED_ROWS = st.lists(st.tuples(
    _maybe(_TEXT), _maybe(st.text(_CHARACTERS, max_size=8)),
    _maybe(st.dictionaries(st.text(_CHARACTERS, max_size=5), st.one_of(st.integers(), _TEXT), max_size=3)),
    _maybe(st.datetimes(min_value=pd.Timestamp("1900-01-01").to_pydatetime(),
                        max_value=pd.Timestamp("2200-01-01").to_pydatetime())),
    _maybe(_MONEY), _maybe(st.integers(-10 ** 11, 10 ** 11))), max_size=30)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=_TYPED_ROWS)
def test_text_json_timestamps_and_decimals_go_in_as_csv_would_put_them(typed_table, rows):
    import json

    frame = pd.DataFrame({
        "label": pd.Series([r[0] for r in rows], dtype=object),
        "code": pd.Series([r[1] for r in rows], dtype="string"),
        "doc": pd.Series([None if r[2] is None else json.dumps(r[2]) for r in rows], dtype=object),
        "at": pd.to_datetime(pd.Series([r[3] for r in rows], dtype="datetime64[us]")).dt.tz_localize("UTC"),
        "money": pd.Series([r[4] for r in rows], dtype="float64"),
        "whole_money": pd.array([r[5] for r in rows], dtype="Int64"),
    })
    binary, csv = _both_ways(typed_table, frame)
    assert binary == csv
    assert len(binary) == len(rows)


def test_decimals_on_a_tie_round_as_postgresql_rounds_their_text(typed_table):
    ties = [0.125, 1.005, 2.675, -0.125, 0.005, -0.005, 1e-05, 123.45000000000002, 99999999999.99,
            -99999999999.995 + 0.001, 0.0, -0.0, 1.115, 8.345]
    binary, csv = _both_ways(typed_table, pd.DataFrame({"money": ties}))
    assert binary == csv
    assert binary[1][0] == Decimal("1.01") and binary[3][0] == Decimal("-0.13")


def test_long_texts_are_written_in_several_pieces_in_order(typed_table, monkeypatch):
    import core.db

    monkeypatch.setattr(core.db, "_VARIABLE_CHUNK_BYTES", 50)
    labels = [("x" * (i % 37)) + str(i) if i % 5 else None for i in range(300)]
    frame = pd.DataFrame({"label": labels, "money": np.arange(300) / 7})
    assert len(core.db._binary_chunks(core.db._binary_fields(typed_table, frame, None), 300)) > 50
    binary, csv = _both_ways(typed_table, frame)
    assert binary == csv and [r[0] for r in binary] == labels


def test_a_carriage_return_in_text_goes_in(typed_table):
    copy_frame(typed_table, pd.DataFrame({"label": ["line one\r\nline two", "a\rb"]}))
    assert _read(["label"], typed_table) == [("line one\r\nline two",), ("a\rb",)]


def test_a_decimal_the_column_cannot_hold_is_left_to_postgresql(typed_table):
    from psycopg.errors import NumericValueOutOfRange

    with pytest.raises(NumericValueOutOfRange), transaction.atomic():
        copy_frame(typed_table, pd.DataFrame({"money": [1.0, 1e13]}))
    assert _read(["money"], typed_table) == []
