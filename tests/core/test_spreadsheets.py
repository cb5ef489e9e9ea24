"""core/spreadsheets.py: formula text is neutralised, numbers and plain text are not."""
import csv
import io
from datetime import date
from decimal import Decimal

import pytest

from core.spreadsheets import safe_cell, safe_csv_writer, safe_row


@pytest.mark.parametrize("text", ["=1+1", "+1+1", "-5+A1", "@SUM(A1)", "\t=1", "\r=1", "=", "-",
                                  "+cmd|' /C calc'!A0", "-1e5x", "--5"])
def test_formula_text_gets_a_quote(text):
    assert safe_cell(text) == "'" + text


@pytest.mark.parametrize("value", [-5, 5, 0, -1.5, Decimal("-12.30"), True, None, date(2024, 1, 5),
                                   "-5", "+5", "-1.25", "-.5", "1e5", "-2E-3", "Zhang Wei", "张伟",
                                   "a=b", "", "'=already quoted"])
def test_numbers_and_plain_text_are_unchanged(value):
    assert safe_cell(value) == value


def test_other_objects_become_text():
    class Thing:
        def __str__(self):
            return "=evil()"

    assert safe_cell(Thing()) == "'=evil()"


def test_writer_writes_safe_rows():
    buffer = io.StringIO()
    writer = safe_csv_writer(buffer, lineterminator="\n")
    writer.writerow(["=1+1", -5, "-5"])
    writer.writerows([["@x", Decimal("1.5")]])
    assert list(csv.reader(io.StringIO(buffer.getvalue()))) == [["'=1+1", "-5", "-5"], ["'@x", "1.5"]]
    assert safe_row(["+1", 1]) == ["+1", 1]
