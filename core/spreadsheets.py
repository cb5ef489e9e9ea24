"""The one way the product writes a spreadsheet cell: text that a spreadsheet would run as a
formula is neutralised.

CSV and XLSX files the product writes (the customer export, the rejected rows of an import,
campaign results) carry text that came from users and imported files. Excel, LibreOffice and
Google Sheets run a cell beginning with ``=``, ``+``, ``-`` or ``@`` as a formula, and a leading
tab or carriage return lets one slip past a naive check ("CSV injection", OWASP:
https://owasp.org/www-community/attacks/CSV_Injection). Such text gets a leading ``'``, which
spreadsheet programs show as text and do not evaluate. Real numbers stay numbers: ``-5`` (an
int, a Decimal, or the text ``"-5"``) is written unchanged, while ``"-5+A1"`` or ``"=1+1"`` is
neutralised.

Every writer in the product goes through :func:`safe_csv_writer` or :func:`safe_row`.
"""
from __future__ import annotations

import csv
import re
from collections.abc import Iterable
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
# A plain number written as text (what a CSV holds for an amount, a quantity, a negative
# balance): spreadsheets read it as that number, never as a formula.
_PLAIN_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")


def safe_cell(value: Any) -> Any:
    """``value`` as a spreadsheet may receive it: risky text gets a leading ``'``."""
    if value is None or isinstance(value, (bool, int, float, Decimal, date, datetime, time)):
        return value
    text = value if isinstance(value, str) else str(value)
    if text.startswith(FORMULA_PREFIXES) and not _PLAIN_NUMBER.fullmatch(text):
        return "'" + text
    return text


def safe_row(values: Iterable[Any]) -> list[Any]:
    return [safe_cell(value) for value in values]


class SafeCsvWriter:
    """A :func:`csv.writer` whose rows go through :func:`safe_row`."""

    def __init__(self, handle, **kwargs):
        self._writer = csv.writer(handle, **kwargs)

    def writerow(self, row: Iterable[Any]):
        return self._writer.writerow(safe_row(row))

    def writerows(self, rows: Iterable[Iterable[Any]]) -> None:
        for row in rows:
            self.writerow(row)


def safe_csv_writer(handle, **kwargs) -> SafeCsvWriter:
    """Like :func:`csv.writer` (same arguments), with every cell passed through :func:`safe_cell`."""
    return SafeCsvWriter(handle, **kwargs)
