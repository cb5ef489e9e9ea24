"""Cleaning an import's rows: each cell parsed by its field's rule into a value or a reason.

A :class:`Row` carries one line of a file from its raw cells to its outcome (created, updated,
unchanged or rejected, set by the importers in ``importers``).
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from django.utils.translation import gettext as _

from intake import fields as f

# Distinct (field, cell) pairs whose parse is remembered during an import: about 30 MB at most
# (a key, a value and the dict slot take roughly 300 bytes).
PARSE_CACHE_ENTRIES = 100_000
# Fields whose cells are mostly distinct (ids, free text) and cheap to check: not remembered.
UNCACHED_FIELDS = frozenset({"customer_id", "order_id", "sku", "name", "text", "note", "outcome"})

CREATED, UPDATED, UNCHANGED, REJECTED = "created", "updated", "unchanged", "rejected"


@dataclass
class Row:
    line: int
    raw: dict
    values: dict = field(default_factory=dict)
    extra: dict = field(default_factory=dict)  # unmapped columns (customers.attributes)
    errors: list[tuple[str, str]] = field(default_factory=list)
    outcome: str = ""

    def reject(self, field_name: str, reason: str) -> None:
        self.errors.append((field_name, str(reason)))
        self.outcome = REJECTED


def json_cell(value):
    """A cell as the text the rejected rows and the errors show."""
    return f.text(value) if value is not None else ""


def _short(n: int):
    return lambda name, value: f.parse_short_text(name, value, max_length=n)


PARSERS: dict[str, dict[str, Callable]] = {
    "customers": {
        "customer_id": f.parse_identifier, "name": _short(200), "email": f.parse_email,
        "phone": f.parse_phone, "gender": f.parse_gender, "birth_date": f.parse_birth_date,
        "city": _short(100), "region": _short(100), "country": _short(100),
        "channel": f.parse_channel, "signup_date": f.parse_date, "consent": f.parse_bool,
        "status": f.parse_customer_status,
    },
    "products": {"sku": f.parse_identifier, "name": _short(200), "category": _short(100),
                 "price": f.parse_amount},
    "orders": {
        "order_id": f.parse_identifier, "customer_id": f.parse_identifier,
        "ordered_at": f.parse_datetime, "amount": f.parse_amount, "sku": f.parse_identifier,
        "quantity": lambda name, value: f.parse_int(name, value, low=1, high=f.MAX_QUANTITY),
        "unit_price": f.parse_amount, "channel": f.parse_channel, "status": f.parse_order_status,
    },
    "feedback": {
        "customer_id": f.parse_identifier, "created_at": f.parse_datetime,
        "rating": lambda name, value: f.parse_int(name, value, low=1, high=5),
        "text": _short(10_000), "channel": f.parse_channel, "order_id": f.parse_identifier,
        "sku": f.parse_identifier,
    },
    "interactions": {
        "customer_id": f.parse_identifier, "occurred_at": f.parse_datetime,
        "kind": f.parse_interaction_kind, "outcome": _short(200), "note": _short(10_000),
    },
}


class ParseCache(dict):
    """Parsed value (or :class:`~intake.fields.FieldError`) per field and raw cell.

    Export files repeat cells a great deal: the same day on thousands of lines, the same SKU,
    channel, price. Parsing each distinct cell once per import is the column-wise speed-up
    without a second, vectorised implementation of every rule (which could drift from this one):
    a cell gets exactly the value or reason the parser gives it. Bounded by
    :data:`PARSE_CACHE_ENTRIES` so a file of all-distinct values does not grow it without end.
    """

    def parse(self, parser: Callable, target: str, value):
        if target in UNCACHED_FIELDS:
            try:
                return parser(target, value)
            except f.FieldError as exc:
                return exc
        key = (target, type(value), value)
        try:
            hit = self[key]
        except KeyError:
            try:
                hit = parser(target, value)
            except f.FieldError as exc:
                hit = exc
            if len(self) >= PARSE_CACHE_ENTRIES:
                self.clear()
            self[key] = hit
        except TypeError:  # an unhashable cell (never from CSV or XLSX): parse it every time
            try:
                return parser(target, value)
            except f.FieldError as exc:
                return exc
        return hit


class RowCleaner:
    """Turns ``(line, raw row)`` into a :class:`Row` of parsed values and per-field reasons.

    Built once per import: the column -> (field, parser) lookups are resolved once, and the
    :class:`ParseCache` lives as long as the import.
    """

    def __init__(self, kind: str, mapping: dict[str, str]):
        parsers = PARSERS[kind]
        self.columns = {header: (target, parsers[target]) for header, target in mapping.items() if target}
        self.keep_extra = kind == "customers"
        self.required = f.KINDS[kind].required
        self.cache = ParseCache()

    def __call__(self, line: int, raw: dict) -> Row:
        row = Row(line=line, raw=raw)
        values, columns, parse = row.values, self.columns, self.cache.parse
        for header, value in raw.items():
            column = columns.get(header)
            if column is None:
                if self.keep_extra and header != "__extra__" and f.text(value):
                    row.extra[header] = f.text(value)
                continue
            target, parser = column
            parsed = parse(parser, target, value)
            if isinstance(parsed, f.FieldError):
                row.reject(parsed.field, parsed.reason)
            elif parsed is not None and parsed != "":
                values[target] = parsed
        for required in self.required:
            if required not in values and not any(name == required for name, _r in row.errors):
                row.reject(required, _("is required."))
        return row

# --- chunking ----------------------------------------------------------------------------

def row_chunks(rows: Iterable[tuple[int, dict]], size: int,
            group_of: Callable[[dict], str] | None) -> Iterator[list[tuple[int, dict]]]:
    """Yield lists of ``size`` rows; with ``group_of``, never split a run of rows of one group."""
    chunk: list[tuple[int, dict]] = []
    for item in rows:
        if len(chunk) >= size and (group_of is None or group_of(item[1]) != group_of(chunk[-1][1])):
            yield chunk
            chunk = []
        chunk.append(item)
    if chunk:
        yield chunk

