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
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import BinaryIO

from django.conf import settings
from django.utils.translation import gettext as _

# Bytes read to guess the encoding and the delimiter: enough for a few hundred rows.
SNIFF_BYTES = 256 * 1024
# Bytes decoded at a time when the whole file's encoding is checked.
SCAN_BYTES = 1024 * 1024
DELIMITERS = ",;\t|"
XLSX_MAGIC = b"PK\x03\x04"
# An XLSX part over this size (unpacked) that packed more than MAX_PACK_RATIO times is refused.
SUSPICIOUS_PART_BYTES = 32 * 1024 * 1024
MAX_PACK_RATIO = 200


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
    # CSV only: the same rows as lists of cells, blank ones included (read one or the other).
    lines: Iterator[tuple[int, list[str]]] | None = None


def detect_encoding(sample: bytes) -> str:
    """The encoding of a sample (UTF-8 first, then GB18030); see :func:`scan_encoding` for a file."""
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


def _first_bad_line(stream: BinaryIO, encoding: str) -> tuple[int | None, bool]:
    """Decode the whole of ``stream`` strictly; return the line of the first byte that does not
    decode (None if all do) and whether any non-ASCII text decoded before it.

    Line numbers count newline bytes, which neither UTF-8 nor GB18030 uses inside a character,
    so they are the lines an editor shows (and the lines the CSV reader reports).
    """
    stream.seek(0)
    lines_before, non_ascii, carry = 0, False, b""
    while True:
        chunk = stream.read(SCAN_BYTES)
        data = carry + chunk
        # Decode whole lines only, so no character is cut in two between reads.
        cut = len(data) if not chunk else data.rfind(b"\n") + 1
        data, carry = data[:cut], data[cut:]
        try:
            data.decode(encoding)
        except UnicodeDecodeError as exc:
            good = data[:exc.start]
            return lines_before + good.count(b"\n") + 1, non_ascii or not good.isascii()
        if not chunk:
            return None, non_ascii
        lines_before += data.count(b"\n")
        non_ascii = non_ascii or not data.isascii()


def scan_encoding(stream: BinaryIO) -> str:
    """The encoding of the whole file, checked byte by byte before any row is read.

    UTF-8 (with or without a byte-order mark) when the whole file decodes as UTF-8; GB18030 when
    it all decodes as GB18030 and its UTF-8 check failed before any non-ASCII text. A file that
    starts in UTF-8 and turns into another encoding further down is refused, naming the line, so
    no row of it is saved: guessing would import the rest as garbled text.
    """
    stream.seek(0)
    head = stream.read(len(codecs.BOM_UTF8))
    utf8 = "utf-8-sig" if head == codecs.BOM_UTF8 else "utf-8"
    bad_line, saw_utf8_text = _first_bad_line(stream, utf8)
    stream.seek(0)
    if bad_line is None:
        return utf8
    if saw_utf8_text or utf8 == "utf-8-sig":
        raise FileFormatError(_(
            "Line %(line)s is not UTF-8 text, although the lines before it are. Save the whole "
            "file in one encoding (UTF-8 or GB18030) and upload it again.") % {"line": bad_line})
    gb_line, _seen = _first_bad_line(stream, "gb18030")
    stream.seek(0)
    if gb_line is None:
        return "gb18030"
    raise FileFormatError(_("Line %(line)s is neither UTF-8 nor GB18030 text.")
                          % {"line": max(bad_line, gb_line)})


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


def max_columns() -> int:
    return settings.IMPORT_MAX_COLUMNS


def max_cell_chars() -> int:
    return settings.IMPORT_MAX_CELL_CHARS


def _check_columns(count: int, line: int) -> None:
    if count > max_columns():
        raise FileFormatError(_(
            "Line %(line)s has %(count)s columns; at most %(max)s are accepted. Remove the columns "
            "you do not import, or split the file.") % {"line": line, "count": count, "max": max_columns()})


def _check_cells(values, headers: list[str], line: int) -> None:
    limit = max_cell_chars()
    for position, value in enumerate(values):
        if isinstance(value, str) and len(value) > limit:
            column = headers[position] if position < len(headers) else position + 1
            raise FileFormatError(_(
                "Line %(line)s, column %(column)s holds %(count)s characters; a cell may hold at most "
                "%(max)s.") % {"line": line, "column": column, "count": len(value), "max": limit})


def _too_long_cell(line: int) -> FileFormatError:
    return FileFormatError(_("Line %(line)s holds a cell of more than %(max)s characters.")
                           % {"line": line, "max": max_cell_chars()})


class _KeepOpen:
    """The caller's binary stream, for a text wrapper that must not close it: a wrapper closes
    what it wraps when it is collected, and an upload is read through, then read again or stored."""

    def __init__(self, stream: BinaryIO):
        self._stream = stream

    def __getattr__(self, name):
        return getattr(self._stream, name)

    def close(self) -> None:
        pass

    @property
    def closed(self) -> bool:
        return self._stream.closed

    def read1(self, size: int = -1) -> bytes:
        read1 = getattr(self._stream, "read1", None)
        return read1(size) if read1 is not None else self._stream.read(size)

    def readable(self) -> bool:
        return True


def _csv_reader(text_stream, delimiter: str):
    # The csv module stops at a field over its limit (in C, before building it) with csv.Error,
    # which the readers turn into the line's error. The limit is process-wide; every reader of
    # the product sets it to the same setting.
    csv.field_size_limit(max_cell_chars())
    return csv.reader(text_stream, delimiter=delimiter)


def csv_check(stream: BinaryIO) -> None:
    """Read a whole CSV once, as fast as the csv module goes, for what only the whole file shows:
    a cell over the limit or a row with too many columns (the encoding is checked on opening).

    The upload runs it, so such a file is refused before a job exists rather than stopping the
    import after thousands of rows were saved.
    """
    table = read_csv(stream)
    try:
        for _line in table.lines:
            pass
    finally:
        stream.seek(0)


def read_csv(stream: BinaryIO, size: int | None = None) -> TableReader:
    # The whole file's encoding, before any row: a file that changes encoding half way is
    # refused naming the line, instead of failing after thousands of rows were saved.
    encoding = scan_encoding(stream)
    sample = stream.read(SNIFF_BYTES)
    stream.seek(0)
    sample_text = sample.decode(encoding, errors="ignore")
    delimiter = detect_delimiter(sample_text)
    text_stream = io.TextIOWrapper(_KeepOpen(stream), encoding=encoding, newline="")
    reader = _csv_reader(text_stream, delimiter)
    try:
        raw_headers = next(reader)
    except StopIteration:
        raise FileFormatError(_("The file is empty.")) from None
    except UnicodeDecodeError:
        raise FileFormatError(_("The file is not %(encoding)s text.") % {"encoding": encoding}) from None
    except csv.Error:
        raise _too_long_cell(1) from None
    _check_columns(len(raw_headers), 1)
    _check_cells(raw_headers, [], 1)
    headers = _unique_headers(raw_headers)

    def lines() -> Iterator[tuple[int, list[str]]]:
        """``(line, cells)`` of each row, blank lines included: the csv module's rows, checked."""
        previous_end = reader.line_num
        limit = max_columns()
        try:
            for values in reader:
                line = previous_end + 1  # a quoted field may span lines: report where the row starts
                previous_end = reader.line_num
                if len(values) > limit:
                    _check_columns(len(values), line)
                yield line, values
        except UnicodeDecodeError:
            raise FileFormatError(_("Line %(line)s is not %(encoding)s text.")
                                  % {"line": previous_end + 1, "encoding": encoding}) from None
        except csv.Error:
            raise _too_long_cell(previous_end + 1) from None

    def rows() -> Iterator[tuple[int, dict]]:
        for line, values in raw:
            if not any(v.strip() for v in values):
                continue  # blank lines are not rows
            row = dict(zip(headers, values))
            if len(values) > len(headers):
                row["__extra__"] = values[len(headers):]
            yield line, row

    raw = lines()

    def fraction() -> float:
        if not size:
            return 0.0
        try:
            return min(stream.tell() / size, 1.0)
        except (OSError, ValueError):
            return 0.0

    return TableReader(headers=headers, rows=rows(), fraction=fraction, encoding=encoding,
                       delimiter=delimiter, lines=raw)


def _xlsx_check_parts(stream: BinaryIO) -> None:
    """Refuse an XLSX that would unpack to more than the setting allows (a zip bomb), or that
    holds a cell over the cell limit, before openpyxl parses anything.

    openpyxl streams a sheet in read-only mode, but builds each cell's text whole, and loads all
    shared strings (where Excel puts text cells) at once: a 200 KB file holding one 200 MB cell
    took gigabytes. So the sheets and the shared strings are first read here in chunks, measuring the longest text
    between two tags (a cell's text cannot hold ``<``) without building it. XML with a DOCTYPE
    (entity expansion) is refused; openpyxl itself parses through defusedxml, which is installed.
    """
    try:
        archive = zipfile.ZipFile(stream)
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise FileFormatError(_("The XLSX file cannot be read: %(error)s") % {"error": exc}) from None
    with archive:
        limit_mb = settings.IMPORT_MAX_XLSX_UNCOMPRESSED_MB
        unpacked = sum(info.file_size for info in archive.infolist())
        if unpacked > limit_mb * 1024 * 1024:
            raise FileFormatError(_(
                "The XLSX file unpacks to %(size)s MB; at most %(max)s MB are accepted. Save it as "
                "CSV, or split it.") % {"size": unpacked // (1024 * 1024), "max": limit_mb})
        for info in archive.infolist():
            # Spreadsheet XML packs 5 to 20 times; a large part packed far tighter is a run of
            # one repeated character (a bomb, or one huge cell openpyxl would build whole).
            if (info.file_size > SUSPICIOUS_PART_BYTES
                    and info.file_size > MAX_PACK_RATIO * max(info.compress_size, 1)):
                raise FileFormatError(_(
                    "The XLSX file holds a part that unpacks %(ratio)s times over (%(size)s MB); it "
                    "is refused as a possible zip bomb. Save it as CSV and upload that.")
                    % {"ratio": info.file_size // max(info.compress_size, 1),
                       "size": info.file_size // (1024 * 1024)})
        for info in archive.infolist():
            name = info.filename.lower()
            if name == "xl/sharedstrings.xml" or (name.startswith("xl/worksheets/") and name.endswith(".xml")):
                try:
                    with archive.open(info) as part:
                        _scan_xml_part(part)
                except FileFormatError:
                    raise
                except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
                    raise FileFormatError(_("The XLSX file cannot be read: %(error)s")
                                          % {"error": exc}) from None
    stream.seek(0)


def _utf8_chars(data: bytes) -> int:
    # Characters in UTF-8 bytes: every byte but the continuation bytes (0b10xxxxxx).
    return len(data) - sum(data.count(bytes([b])) for b in range(0x80, 0xC0))


def _scan_xml_part(part) -> None:
    limit = max_cell_chars()
    carry = 0  # characters of the text run that continues from the previous chunk
    while chunk := part.read(SCAN_BYTES):
        if b"<!DOCTYPE" in chunk or b"<!ENTITY" in chunk:
            raise FileFormatError(_("The XLSX file holds a document type declaration; it is refused."))
        pieces = chunk.split(b"<")
        # The common case, decided in C: no run between tags comes near the limit.
        if carry + max(map(len, pieces)) <= limit:
            pieces_to_check = ()
        else:
            pieces_to_check = pieces
        for position, piece in enumerate(pieces_to_check):
            before = carry if position == 0 else 0
            if position:
                piece = piece[piece.find(b">") + 1:]  # the tag's own name and attributes
            # Bytes are an upper bound of characters: count exactly only past the limit.
            if before + len(piece) > limit and before + _utf8_chars(piece) > limit:
                raise FileFormatError(_(
                    "The XLSX file holds a cell of more than %(max)s characters. Shorten it and "
                    "upload the file again.") % {"max": limit})
        last = pieces[-1] if len(pieces) == 1 else pieces[-1][pieces[-1].find(b">") + 1:]
        carry = (carry if len(pieces) == 1 else 0) + _utf8_chars(last)


def read_xlsx(stream: BinaryIO) -> TableReader:
    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    _xlsx_check_parts(stream)
    try:
        workbook = load_workbook(stream, read_only=True, data_only=True)
    except (InvalidFileException, KeyError, OSError, ValueError) as exc:
        raise FileFormatError(_("The XLSX file cannot be read: %(error)s") % {"error": exc}) from None
    sheet = workbook.worksheets[0]
    total = sheet.max_row or 0
    iterator = sheet.iter_rows(values_only=True)
    try:
        raw_headers = list(next(iterator))
    except StopIteration:
        workbook.close()
        raise FileFormatError(_("The file is empty.")) from None
    # A sheet's rows are as wide as its declared dimension, which formatting alone can widen:
    # count the columns up to the last header that holds something.
    used = max((i + 1 for i, v in enumerate(raw_headers) if v not in (None, "")), default=0)
    try:
        _check_columns(used, 1)
        _check_cells(raw_headers, [], 1)
    except FileFormatError:
        workbook.close()
        raise
    headers = _unique_headers(raw_headers)
    position = {"line": 1}

    def rows() -> Iterator[tuple[int, dict]]:
        try:
            for line, values in enumerate(iterator, start=2):
                position["line"] = line
                if all(v is None or str(v).strip() == "" for v in values):
                    continue
                _check_cells(values, headers, line)
                yield line, dict(zip(headers, values))
        finally:
            workbook.close()

    def fraction() -> float:
        return min(position["line"] / total, 1.0) if total else 0.0

    return TableReader(headers=headers, rows=rows(), fraction=fraction)


def is_xlsx(stream: BinaryIO, name: str = "") -> bool:
    magic = stream.read(4)
    stream.seek(0)
    return magic == XLSX_MAGIC or name.lower().endswith(".xlsx")


def open_table(stream: BinaryIO, name: str = "", size: int | None = None) -> TableReader:
    """Read ``stream`` (binary, seekable) as CSV or XLSX, chosen by its content, not its name."""
    if is_xlsx(stream, name):
        return read_xlsx(stream)
    return read_csv(stream, size=size)
