"""Helpers for the intake tests: write files in a given encoding, delimiter or as XLSX."""
from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from openpyxl import Workbook


def write_csv(path: Path, rows: list[list], *, encoding: str = "utf-8", delimiter: str = ",") -> Path:
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=delimiter, lineterminator="\n").writerows(rows)
    path.write_bytes(buffer.getvalue().encode(encoding))
    return path


def write_xlsx(path: Path, rows: list[list]) -> Path:
    book = Workbook()
    sheet = book.active
    for row in rows:
        sheet.append(row)
    book.save(path)
    return path


@pytest.fixture
def csv_file(tmp_path):
    counter = {"n": 0}

    def make(rows, **kwargs) -> Path:
        counter["n"] += 1
        return write_csv(tmp_path / f"file{counter['n']}.csv", rows, **kwargs)

    return make
