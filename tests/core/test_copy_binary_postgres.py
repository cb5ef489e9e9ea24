"""COPY in binary form: rows of numbers and booleans reach PostgreSQL exactly as the frame holds
them, NULLs in any place, in their order; a value the column cannot hold is refused, not cut;
rows with another type of column still go as CSV.

Needs PostgreSQL (the ``services`` mark: skipped on a laptop without it, fails in CI).
"""
import numpy as np
import pandas as pd
import pytest
from django.db import connection
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.db import copy_frame

pytestmark = [pytest.mark.services, pytest.mark.django_db]

COLUMNS = {"big": "bigint", "whole": "integer", "small": "smallint", "ratio": "double precision",
           "single": "real", "flag": "boolean"}


@pytest.fixture
def table():
    with connection.cursor() as cursor:
        cursor.execute("CREATE TEMPORARY TABLE copy_probe (id serial, "
                       + ", ".join(f"{name} {kind}" for name, kind in COLUMNS.items()) + ", label text)")
    yield "copy_probe"
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE copy_probe")


def _read(columns: list[str]) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {', '.join(columns)} FROM copy_probe ORDER BY id")
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


def test_rows_with_text_go_as_csv(table):
    copy_frame(table, pd.DataFrame({"big": [1, 2], "label": ["a,b", ""]}))
    assert _read(["big", "label"]) == [(1, "a,b"), (2, "")]
