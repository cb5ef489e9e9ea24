"""Read CSV and XLSX files as a stream of ``(line, {header: cell})`` without loading them whole.

CSV: the encoding is UTF-8 (with or without a byte-order mark) or, failing that, GB18030 (a
superset of GBK/GB2312, what Excel on a Chinese Windows writes); the delimiter is sniffed from the
first lines by :class:`csv.Sniffer` among comma, semicolon, tab and bar. XLSX: the first sheet,
read with openpyxl in read-only mode, which streams rows instead of building the whole tree.
"""
from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import BinaryIO

from django.utils.translation import gettext as _

# Bytes read to guess the encoding and the delimiter: enough for a few hundred rows.
SNIFF_BYTES = 256 * 1024
DELIMITERS = ",;\t|"
XLSX_MAGIC = b"PK\x03\x04"


class FileFormatError(ValueError):
    """The file cannot be read at all (not a row problem)."""


@dataclass
class TableReader:
    headers: list[str]
    rows: Iterator[tuple[int, dict]]
    # Fraction of the file consumed so far, 0..1, for progress bars.
    fraction: Callable[[], float] = field(default=lambda: 0.0)
    encoding: str = ""
    delimiter: str = ""


def detect_encoding(sample: bytes) -> str:
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    try:
        # final=False: the sample may end in the middle of a multi-byte character.
        codecs.getincrementaldecoder("utf-8")().decode(sample, final=False)
        return "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        codecs.getincrementaldecoder("gb18030")().decode(sample, final=False)
        return "gb18030"
    except UnicodeDecodeError:
        raise FileFormatError(_("The file is neither UTF-8 nor GB18030 text.")) from None


def detect_delimiter(text_sample: str) -> str:
    lines = text_sample.splitlines()[:50]
    if len(lines) > 1 and not text_sample.endswith(("\n", "\r")):
        lines = lines[:-1]  # the last line of a sample may be cut short
    try:
        return csv.Sniffer().sniff("\n".join(lines), delimiters=DELIMITERS).delimiter
    except csv.Error:
        # One column, or a sample the sniffer cannot decide on: count candidates in the header.
        header = lines[0] if lines else ""
        counts = {d: header.count(d) for d in DELIMITERS}
        best = max(counts, key=counts.get)
        return best if counts[best] else ","


def _unique_headers(raw: list) -> list[str]:
    headers: list[str] = []
    for position, value in enumerate(raw, start=1):
        name = str(value).strip() if value is not None else ""
        name = name or f"column_{position}"
        while name in headers:
            name = f"{name}_{position}"
        headers.append(name)
    return headers


def read_csv(stream: BinaryIO, size: int | None = None) -> TableReader:
    sample = stream.read(SNIFF_BYTES)
    encoding = detect_encoding(sample)
    stream.seek(0)
    sample_text = sample.decode(encoding, errors="ignore")
    delimiter = detect_delimiter(sample_text)
    text_stream = io.TextIOWrapper(stream, encoding=encoding, newline="")
    reader = csv.reader(text_stream, delimiter=delimiter)
    try:
        headers = _unique_headers(next(reader))
    except StopIteration:
        raise FileFormatError(_("The file is empty.")) from None
    except UnicodeDecodeError:
        raise FileFormatError(_("The file is not %(encoding)s text.") % {"encoding": encoding}) from None
    except csv.Error as exc:  # a header cell over csv.field_size_limit() (131,072 characters)
        raise FileFormatError(_("Line %(line)s cannot be read: %(error)s")
                              % {"line": 1, "error": exc}) from None

    def rows() -> Iterator[tuple[int, dict]]:
        previous_end = reader.line_num
        try:
            for values in reader:
                line = previous_end + 1  # a quoted field may span lines: report where the row starts
                previous_end = reader.line_num
                if not any(v.strip() for v in values):
                    continue  # blank lines are not rows
                row = dict(zip(headers, values))
                if len(values) > len(headers):
                    row["__extra__"] = values[len(headers):]
                yield line, row
        except UnicodeDecodeError:
            raise FileFormatError(_("Line %(line)s is not %(encoding)s text.")
                                  % {"line": previous_end + 1, "encoding": encoding}) from None
        except csv.Error as exc:
            # A cell over csv.field_size_limit() (131,072 characters) or a broken quote: a clean
            # error naming the line rather than a traceback.
            raise FileFormatError(_("Line %(line)s cannot be read: %(error)s")
                                  % {"line": previous_end + 1, "error": exc}) from None

    def fraction() -> float:
        if not size:
            return 0.0
        try:
            return min(stream.tell() / size, 1.0)
        except (OSError, ValueError):
            return 0.0

    return TableReader(headers=headers, rows=rows(), fraction=fraction, encoding=encoding,
                       delimiter=delimiter)


def read_xlsx(stream: BinaryIO) -> TableReader:
    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        workbook = load_workbook(stream, read_only=True, data_only=True)
    except (InvalidFileException, KeyError, OSError, ValueError) as exc:
        raise FileFormatError(_("The XLSX file cannot be read: %(error)s") % {"error": exc}) from None
    sheet = workbook.worksheets[0]
    total = sheet.max_row or 0
    iterator = sheet.iter_rows(values_only=True)
    try:
        headers = _unique_headers(list(next(iterator)))
    except StopIteration:
        workbook.close()
        raise FileFormatError(_("The file is empty.")) from None
    position = {"line": 1}

    def rows() -> Iterator[tuple[int, dict]]:
        try:
            for line, values in enumerate(iterator, start=2):
                position["line"] = line
                if all(v is None or str(v).strip() == "" for v in values):
                    continue
                yield line, dict(zip(headers, values))
        finally:
            workbook.close()

    def fraction() -> float:
        return min(position["line"] / total, 1.0) if total else 0.0

    return TableReader(headers=headers, rows=rows(), fraction=fraction)


def open_table(stream: BinaryIO, name: str = "", size: int | None = None) -> TableReader:
    """Read ``stream`` (binary, seekable) as CSV or XLSX, chosen by its content, not its name."""
    magic = stream.read(4)
    stream.seek(0)
    if magic == XLSX_MAGIC or name.lower().endswith(".xlsx"):
        return read_xlsx(stream)
    return read_csv(stream, size=size)
