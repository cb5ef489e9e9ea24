"""The import service: one path for files, the command line, the API and the Celery task.

Every row read ends as exactly one of created / updated / unchanged / rejected, so the counts
always add up to the rows read. Rows are validated and written a chunk at a time: each chunk
preloads what it needs to match (customers by external id, email and phone; products by SKU;
orders by order id) in a few queries and writes with bulk statements (orders on PostgreSQL: COPY
into staging tables and set-based SQL, see ``staging``), so the number of queries does not grow
with the rows in a chunk, and memory does not grow with the file. The next chunks are read and
validated in a thread while the database writes the current one (``readahead``).

Re-importing a file changes nothing: customers match on external id, then normalised email, then
phone; products on SKU; orders on order id; feedback and interactions (which have no id in the
source systems) on their customer, time and content.

A row whose identity key (customer id, SKU, order id + SKU, ...) appeared earlier anywhere in
the file is rejected naming that line (``seen`` keeps the keys compactly). The lines of one
order must be next to each other in a file longer than a chunk; they always are in ERP and shop
exports (a stray later line of an order with the same SKU is rejected as a duplicate).
"""
from __future__ import annotations

import csv
import logging
import os
import tempfile
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TextIO

import numpy as np
from django.conf import settings
from django.core.files import File
from django.core.files.uploadedfile import UploadedFile
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _
from simple_history.utils import bulk_create_with_history

from core.db import BULK_CREATE_BATCH_SIZE
from customers.events import KINDS as RECORD_KINDS
from customers.events import feedback_text_changed_publish, records_changed_publish
from customers.models import Customer, Feedback, Interaction, Order, OrderItem, Product

from . import fields as f
from . import staging
from .models import ImportJob, ImportKind
from .readahead import read_ahead
from .readers import FileFormatError, open_table
from .seen import SeenKeys, key_hashes
from .staging import PlannedOrder

logger = logging.getLogger(__name__)

# Rows validated and written per transaction. The preload queries for 5,000 rows bind at most
# 15,000 parameters (customers: external id, email, phone), under SQLite's 32,766 limit; a chunk's
# objects take a few MB, so memory stays flat however long the file is; and a failure or a kill
# loses at most one chunk's work, which the idempotent re-run then redoes.
CHUNK_ROWS = 5_000
# Customer ids remembered by an import of orders, feedback or interactions (about 150 bytes
# each, so at most 30 MB); past this the memory starts again empty.
CUSTOMER_IDS_KEPT = 200_000
# Chunks read and validated ahead, in a thread, while the database writes the current one: two
# keep the database busy without holding more than three chunks' rows (a few MB) at once.
READ_AHEAD_CHUNKS = 2
# Rows of a file the preview page dry-runs to show valid/invalid counts before the real import.
PREVIEW_DRY_RUN_ROWS = 5_000
# Rows shown on the preview page.
PREVIEW_SAMPLE_ROWS = 10
# Distinct (field, cell) pairs whose parse is remembered during an import: about 30 MB at most
# (a key, a value and the dict slot take roughly 300 bytes).
PARSE_CACHE_ENTRIES = 100_000
# Fields whose cells are mostly distinct (ids, free text) and cheap to check: not remembered.
UNCACHED_FIELDS = frozenset({"customer_id", "order_id", "sku", "name", "text", "note", "outcome"})
# A running job renews its lease after every chunk, which takes seconds; ten minutes allows for a
# chunk slowed by a busy database many times over, and shows a job whose worker was killed as
# failed within ten minutes (the score runs' LEASE in analytics/services.py is the same idea).
IMPORT_LEASE = timedelta(minutes=10)
# Errors kept in the job row for the job page; all of them go to the rejected-rows CSV.
JOB_ERRORS_KEPT = 50

CREATED, UPDATED, UNCHANGED, REJECTED = "created", "updated", "unchanged", "rejected"


@dataclass
class ImportOptions:
    # Orders, feedback and interactions naming an unknown customer id: create a stub customer
    # (name = the id) instead of rejecting the row.
    create_missing_customers: bool = False

    @classmethod
    def from_dict(cls, data: dict | None) -> ImportOptions:
        data = data or {}
        return cls(create_missing_customers=bool(data.get("create_missing_customers")))


@dataclass
class ImportResult:
    total: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    errors: list[dict] = field(default_factory=list)
    # None keeps every error; a number keeps that many (the rest still reach ``on_reject``).
    keep_errors: int | None = None

    def as_dict(self) -> dict:
        return {"total": self.total, "created": self.created, "updated": self.updated,
                "unchanged": self.unchanged, "rejected": self.rejected, "errors": self.errors}


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


def _json_cell(value):
    return f.text(value) if value is not None else ""


# --- row cleaning ------------------------------------------------------------------------

def _short(n: int):
    return lambda name, value: f.parse_short_text(name, value, max_length=n)


PARSERS: dict[str, dict[str, Callable]] = {
    "customers": {
        "customer_id": f.parse_identifier, "name": _short(200), "email": f.parse_email,
        "phone": f.parse_phone, "gender": f.parse_gender, "birth_date": f.parse_date,
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

def _chunks(rows: Iterable[tuple[int, dict]], size: int,
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



def _bulk_update(model, objs: list, fields: list[str], user) -> None:
    """Update ``fields`` of ``objs`` in bulk, recording history rows for audited models.

    Django's ``bulk_update`` builds a ``CASE WHEN pk=... THEN ...`` per field and row; at 5,000
    rows that took 4 ms a row, longer than everything else an import does. On PostgreSQL one
    ``UPDATE ... FROM (VALUES ...)`` per batch does the same work in the database.
    """
    if not objs:
        return
    if connection.vendor != "postgresql":
        model.objects.bulk_update(objs, fields, batch_size=BULK_CREATE_BATCH_SIZE)
    else:
        meta = model._meta
        columns = [meta.get_field(name) for name in fields]
        quote = connection.ops.quote_name
        pk = meta.pk
        names = ", ".join(quote(c.column) for c in [pk, *columns])
        assignments = ", ".join(f"{quote(c.column)} = v.{quote(c.column)}" for c in columns)
        row_sql = "(" + ", ".join(f"%s::{c.db_type(connection)}" for c in [pk, *columns]) + ")"
        with connection.cursor() as cursor:
            for start in range(0, len(objs), BULK_CREATE_BATCH_SIZE):
                batch = objs[start:start + BULK_CREATE_BATCH_SIZE]
                params = []
                for obj in batch:
                    params.append(obj.pk)
                    params.extend(c.get_db_prep_save(getattr(obj, c.attname), connection) for c in columns)
                cursor.execute(
                    f"UPDATE {quote(meta.db_table)} AS t SET {assignments} "
                    f"FROM (VALUES {', '.join([row_sql] * len(batch))}) AS v({names}) "
                    f"WHERE t.{quote(pk.column)} = v.{quote(pk.column)}", params)
    history = getattr(model, "history", None)
    if history is not None:
        history.bulk_history_create(objs, batch_size=BULK_CREATE_BATCH_SIZE, update=True,
                                    default_user=user)


# --- per-kind importers --------------------------------------------------------------------

class _Importer(ABC):
    kind = ""

    def __init__(self, *, mapping: dict[str, str], options: ImportOptions, user, dry_run: bool):
        self.mapping = mapping
        self.options = options
        self.user = user
        self.dry_run = dry_run
        # Identity keys of the rows accepted so far, for duplicates across chunks.
        self.seen = SeenKeys()
        # Customer external id -> pk, of the customers this import has already looked up.
        self.customer_pks: dict[str, int] = {}

    @abstractmethod
    def run_chunk(self, rows: list[Row]) -> None:
        """Validate and write one chunk; every row ends created, updated, unchanged or rejected."""

    def _reject_duplicates(self, rows: list[Row], key: Callable[[Row], object], field_name: str) -> None:
        """Reject the second and later rows with the same key anywhere in the file.

        Within the chunk keys are compared exactly; against earlier chunks through the compact
        hashes of :class:`~intake.seen.SeenKeys`. The reason names the first line.
        """
        first_line: dict = {}
        for row in rows:
            if row.outcome == REJECTED:
                continue
            k = key(row)
            if k is None:
                continue
            if k in first_line:
                row.reject(field_name, _("duplicates line %(line)s of the file.") % {"line": first_line[k]})
            else:
                first_line[k] = row.line
        if not first_line:
            return
        hashes = key_hashes(list(first_line))
        earlier = self.seen.first_lines(hashes)
        by_line = {row.line: row for row in rows}
        for line, previous in zip(first_line.values(), earlier.tolist()):
            if previous:
                by_line[line].reject(field_name,
                                     _("duplicates line %(line)s of the file.") % {"line": previous})
        new = earlier == 0
        self.seen.add(hashes[new], np.fromiter(first_line.values(), dtype=np.uint32)[new])

    def _customers_by_external_id(self, rows: list[Row]) -> dict[str, int]:
        """Resolve ``customer_id`` to pks; create stubs or reject unknown ones per the options.

        Orders, feedback and interactions name the same customers chunk after chunk (a million
        order lines, 50,000 customers), so the ids found are remembered for the import, up to
        :data:`CUSTOMER_IDS_KEPT`, and only new ones are looked up.
        """
        wanted = {row.values["customer_id"] for row in rows if row.outcome != REJECTED}
        known = self.customer_pks
        found = {ext: known[ext] for ext in wanted if ext in known}
        # A merged-away customer's id leads to the customer it was merged into.
        found.update({ext: merged_into or pk for ext, merged_into, pk in staging.rows_by_keys(
            Customer, "external_id", wanted - found.keys(), ["external_id", "merged_into", "id"])})
        missing = sorted(wanted - set(found))
        if missing and self.options.create_missing_customers:
            stubs = [Customer(external_id=ext, name=ext, channel="other") for ext in missing]
            bulk_create_with_history(stubs, Customer, batch_size=BULK_CREATE_BATCH_SIZE,
                                     default_user=self.user)
            found.update(Customer.objects.filter(external_id__in=missing).values_list("external_id", "pk"))
        if len(known) + len(found) > CUSTOMER_IDS_KEPT:
            known.clear()
        known.update(found)
        for row in rows:
            if row.outcome != REJECTED and row.values["customer_id"] not in found:
                row.reject("customer_id", _("no customer has the id %(id)r (import the customers "
                                            "first, or allow creating missing customers).")
                           % {"id": row.values["customer_id"]})
        return found


class CustomerImporter(_Importer):
    kind = "customers"
    # File field -> model field, for the fields copied as they are.
    COPIED = {"name": "name", "email": "email", "phone": "phone", "gender": "gender",
              "birth_date": "birth_date", "city": "city", "region": "region", "country": "country",
              "channel": "channel", "signup_date": "signup_date", "status": "status",
              "consent": "marketing_consent"}

    def run_chunk(self, rows: list[Row]) -> None:
        for row in rows:
            if row.outcome != REJECTED and not ({"customer_id", "email", "phone"} & row.values.keys()):
                row.reject("customer_id", _("a customer row needs a customer id, email or phone, "
                                            "so that importing it again finds the same customer."))

        def key(row: Row):
            v = row.values
            return ("id", v["customer_id"]) if "customer_id" in v else (
                ("email", v["email"]) if "email" in v else ("phone", v["phone"]))

        self._reject_duplicates(rows, key, "customer_id")
        live = [row for row in rows if row.outcome != REJECTED]
        ext_ids = {r.values["customer_id"] for r in live if "customer_id" in r.values}
        emails = {r.values["email"] for r in live if "email" in r.values}
        phones = {r.values["phone"] for r in live if "phone" in r.values}
        query = Q(external_id__in=ext_ids) | Q(email__in=emails) | Q(phone__in=phones)
        # Live customers first, so a merged-away record is never the one updated.
        existing = list(Customer.objects.filter(query).order_by("merged_into_id", "pk")) if live else []
        by_ext = {c.external_id: c for c in existing if c.external_id}
        by_email: dict[str, Customer] = {}
        by_phone: dict[str, Customer] = {}
        for customer in existing:
            if customer.email:
                by_email.setdefault(customer.email, customer)
            if customer.phone:
                by_phone.setdefault(customer.phone, customer)

        to_create: list[Customer] = []
        to_update: dict[int, Customer] = {}
        changed_fields: set[str] = set()
        claimed: dict[int, int] = {}
        now = timezone.now()
        for row in live:
            values = row.values
            ext = values.get("customer_id")
            customer = by_ext.get(ext) if ext else None
            if customer is None:
                for candidate in (by_email.get(values.get("email")), by_phone.get(values.get("phone"))):
                    # A record that already has another external id is another customer.
                    if candidate is not None and (not ext or not candidate.external_id):
                        customer = candidate
                        break
            if customer is None:
                if "name" not in values:
                    row.reject("name", _("is required for a new customer."))
                    continue
                new = Customer(external_id=ext or None, attributes=row.extra)
                for source, target in self.COPIED.items():
                    if source in values:
                        setattr(new, target, values[source])
                if new.marketing_consent:
                    new.marketing_consent_at = now
                to_create.append(new)
                row.outcome = CREATED
                continue
            if customer.pk in claimed:
                row.reject("customer_id", _("matches the same customer as line %(line)s.")
                           % {"line": claimed[customer.pk]})
                continue
            claimed[customer.pk] = row.line
            changes = []
            if ext and customer.external_id != ext:
                customer.external_id = ext
                changes.append("external_id")
            for source, target in self.COPIED.items():
                if source in values and getattr(customer, target) != values[source]:
                    setattr(customer, target, values[source])
                    changes.append(target)
            if "marketing_consent" in changes:
                customer.marketing_consent_at = now if customer.marketing_consent else None
                changes.append("marketing_consent_at")
            if row.extra and any(customer.attributes.get(k) != v for k, v in row.extra.items()):
                customer.attributes = {**customer.attributes, **row.extra}
                changes.append("attributes")
            if changes:
                customer.updated_at = now
                changes.append("updated_at")
                changed_fields.update(changes)
                to_update[customer.pk] = customer
                row.outcome = UPDATED
            else:
                row.outcome = UNCHANGED
        if to_create:
            bulk_create_with_history(to_create, Customer, batch_size=BULK_CREATE_BATCH_SIZE,
                                     default_user=self.user)
        if to_update:
            _bulk_update(Customer, list(to_update.values()), sorted(changed_fields), self.user)


class ProductImporter(_Importer):
    kind = "products"

    def run_chunk(self, rows: list[Row]) -> None:
        self._reject_duplicates(rows, lambda r: r.values.get("sku"), "sku")
        live = [row for row in rows if row.outcome != REJECTED]
        existing = Product.objects.in_bulk([r.values["sku"] for r in live], field_name="sku")
        to_create, to_update = [], []
        for row in live:
            product = existing.get(row.values["sku"])
            if product is None:
                to_create.append(Product(sku=row.values["sku"], name=row.values["name"],
                                         category=row.values.get("category", ""),
                                         price=row.values.get("price", 0)))
                row.outcome = CREATED
                continue
            changed = False
            for name in ("name", "category", "price"):
                if name in row.values and getattr(product, name) != row.values[name]:
                    setattr(product, name, row.values[name])
                    changed = True
            if changed:
                to_update.append(product)
            row.outcome = UPDATED if changed else UNCHANGED
        Product.objects.bulk_create(to_create, batch_size=BULK_CREATE_BATCH_SIZE)
        _bulk_update(Product, to_update, ["name", "category", "price"], self.user)


# Order columns read back to compare a file's order with the stored one (id first, then the
# external id, which is the match key).
ORDER_COLUMNS = ("id", "external_id", "customer", "ordered_at", "channel", "status", "total_amount")
ORDER_FIELDS = ("id", "external_id", "customer_id", "ordered_at", "channel", "status", "total_amount")
ORDER_DEFAULTS = {"channel": Order._meta.get_field("channel").default,
                  "status": Order._meta.get_field("status").default}


class OrderImporter(_Importer):
    """One row per order line; the rows of one order share its order id.

    ``amount`` is the order's total, repeated on its lines (or given once); without it the total
    is the sum of the lines. A row without ``sku`` is an order known only by its total. If any
    line of an order is rejected, the whole order is, so no order is stored half.
    """

    kind = "orders"
    HEADER = ("customer_id", "ordered_at", "amount", "channel", "status")

    def run_chunk(self, rows: list[Row]) -> None:
        for row in rows:
            if row.outcome != REJECTED and "sku" not in row.values and "amount" not in row.values:
                row.reject("amount", _("is required on a row without a SKU."))
        self._reject_duplicates(rows, lambda r: (r.values.get("order_id"), r.values.get("sku")), "sku")
        groups: dict[str, list[Row]] = {}
        for row in rows:
            if "order_id" in row.values:
                groups.setdefault(row.values["order_id"], []).append(row)
        # Lines of one order must agree on the order's own fields.
        for lines in groups.values():
            first = next((r for r in lines if r.outcome != REJECTED), None)
            for row in lines:
                if row is first or row.outcome == REJECTED:
                    continue
                for name in self.HEADER:
                    if name in row.values and name in first.values and row.values[name] != first.values[name]:
                        row.reject(name, _("differs from line %(line)s of the same order.") % {"line": first.line})
                        break
        live = [row for row in rows if row.outcome != REJECTED]
        customers = self._customers_by_external_id(live)
        skus = {r.values["sku"] for r in live if "sku" in r.values}
        # SKU -> (pk, list price); tuples, not model instances: a chunk names thousands.
        products = {sku: (pk, price) for sku, pk, price in staging.rows_by_keys(
            Product, "sku", skus, ["sku", "id", "price"])}
        for row in live:
            if "sku" in row.values and row.values["sku"] not in products:
                row.reject("sku", _("no product has the SKU %(sku)r.") % {"sku": row.values["sku"]})
        for order_id, lines in groups.items():
            bad = next((r for r in lines if r.outcome == REJECTED), None)
            if bad is not None:
                for row in lines:
                    if row.outcome != REJECTED:
                        row.reject("order_id", _("line %(line)s of the same order was rejected.")
                                   % {"line": bad.line})
        wanted_ids = [order_id for order_id, lines in groups.items() if lines[0].outcome != REJECTED]
        existing = {values[1]: values for values in staging.rows_by_keys(
            Order, "external_id", wanted_ids, list(ORDER_COLUMNS))}
        stored_items: dict[int, list[tuple]] = {}
        for order_pk, *item in staging.rows_by_keys(OrderItem, "order", [v[0] for v in existing.values()],
                                                    ["order", "product", "quantity", "unit_price"]):
            stored_items.setdefault(order_pk, []).append(tuple(item))

        new_orders: list[PlannedOrder] = []
        changed_orders: list[PlannedOrder] = []
        for order_id in wanted_ids:
            lines = groups[order_id]
            head = dict.fromkeys(self.HEADER)
            for row in reversed(lines):  # the first line that gives a value wins
                head.update({name: row.values[name] for name in self.HEADER if name in row.values})
            items = []
            for r in lines:
                if "sku" in r.values:
                    product_pk, list_price = products[r.values["sku"]]
                    items.append((product_pk, r.values.get("quantity", 1),
                                  r.values.get("unit_price", list_price)))
            total = head["amount"]
            if total is None:
                total = sum((quantity * price for _p, quantity, price in items), start=0)
            stored = existing.get(order_id)
            values = dict(zip(ORDER_FIELDS, stored)) if stored else {
                "id": None, "external_id": order_id, **ORDER_DEFAULTS}
            wanted = {"customer_id": customers[head["customer_id"]], "ordered_at": head["ordered_at"],
                      "total_amount": total}
            if head["channel"]:
                wanted["channel"] = head["channel"]
            if head["status"]:
                wanted["status"] = head["status"]
            if stored is None:
                new_orders.append(PlannedOrder({**values, **wanted}, items))
                for row in lines:
                    row.outcome = CREATED
                continue
            changed = any(values[k] != v for k, v in wanted.items())
            replace_items = bool(items) and sorted(stored_items.get(stored[0], [])) != sorted(items)
            if changed or replace_items:
                changed_orders.append(PlannedOrder({**values, **wanted}, items if replace_items else None))
            for row in lines:
                row.outcome = UPDATED if (changed or replace_items) else UNCHANGED
        if connection.vendor == "postgresql":
            staging.orders_write(new=new_orders, changed=changed_orders, user=self.user)
        else:
            self._write_orm(new_orders, changed_orders)

    def _write_orm(self, new_orders: list[PlannedOrder], changed_orders: list[PlannedOrder]) -> None:
        """Model instances and bulk statements: the path for SQLite (and any other database)."""
        if new_orders:
            created = bulk_create_with_history(
                [Order(**{k: v for k, v in plan.values.items() if k != "id"}) for plan in new_orders],
                Order, batch_size=BULK_CREATE_BATCH_SIZE, default_user=self.user)
            OrderItem.objects.bulk_create(
                [OrderItem(order=order, product_id=product_pk, quantity=quantity, unit_price=price)
                 for order, plan in zip(created, new_orders) for product_pk, quantity, price in plan.items],
                batch_size=BULK_CREATE_BATCH_SIZE)
        if changed_orders:
            orders = [Order(**plan.values) for plan in changed_orders]
            _bulk_update(Order, orders, ["customer", "ordered_at", "total_amount", "channel", "status"],
                         self.user)
            replaced = [plan for plan in changed_orders if plan.items is not None]
            if replaced:
                OrderItem.objects.filter(order_id__in=[plan.values["id"] for plan in replaced]).delete()
                OrderItem.objects.bulk_create(
                    [OrderItem(order_id=plan.values["id"], product_id=product_pk, quantity=quantity,
                               unit_price=price)
                     for plan in replaced for product_pk, quantity, price in plan.items],
                    batch_size=BULK_CREATE_BATCH_SIZE)


class FeedbackImporter(_Importer):
    """Feedback has no id in source systems: a row matches a stored record with the same
    customer, time, rating and text, and is then unchanged; it is never updated."""

    kind = "feedback"

    def run_chunk(self, rows: list[Row]) -> None:
        def key(row: Row):
            v = row.values
            return (v["customer_id"], v["created_at"], v.get("rating"), v.get("text", ""))

        self._reject_duplicates(rows, key, "created_at")
        live = [row for row in rows if row.outcome != REJECTED]
        customers = self._customers_by_external_id(live)
        order_ids = {r.values["order_id"] for r in live if "order_id" in r.values}
        orders = dict(Order.objects.filter(external_id__in=order_ids).values_list("external_id", "pk")) \
            if order_ids else {}
        skus = {r.values["sku"] for r in live if "sku" in r.values}
        products = dict(Product.objects.filter(sku__in=skus).values_list("sku", "pk")) if skus else {}
        live = [row for row in live if row.outcome != REJECTED]
        for row in live:
            if "order_id" in row.values and row.values["order_id"] not in orders:
                row.reject("order_id", _("no order has the id %(id)r.") % {"id": row.values["order_id"]})
            elif "sku" in row.values and row.values["sku"] not in products:
                row.reject("sku", _("no product has the SKU %(sku)r.") % {"sku": row.values["sku"]})
        live = [row for row in live if row.outcome != REJECTED]
        pks = {customers[r.values["customer_id"]] for r in live}
        times = {r.values["created_at"] for r in live}
        stored = set(Feedback.objects.filter(customer_id__in=pks, created_at__in=times)
                     .values_list("customer_id", "created_at", "rating", "text")) if live else set()
        new = []
        for row in live:
            v = row.values
            customer_pk = customers[v["customer_id"]]
            if (customer_pk, v["created_at"], v.get("rating"), v.get("text", "")) in stored:
                row.outcome = UNCHANGED
                continue
            feedback = Feedback(customer_id=customer_pk, created_at=v["created_at"], rating=v.get("rating"),
                                text=v.get("text", ""), order_id=orders.get(v.get("order_id")),
                                product_id=products.get(v.get("sku")))
            if "channel" in v:
                feedback.channel = v["channel"]
            new.append(feedback)
            row.outcome = CREATED
        if new:
            created = bulk_create_with_history(new, Feedback, batch_size=BULK_CREATE_BATCH_SIZE,
                                               default_user=self.user)
            ids = [fb.pk for fb in created if fb.text]
            if ids and not self.dry_run:
                feedback_text_changed_publish(feedback_ids=ids)


class InteractionImporter(_Importer):
    """Matched like feedback: same customer, time, kind and note is the same interaction."""

    kind = "interactions"

    def run_chunk(self, rows: list[Row]) -> None:
        def key(row: Row):
            v = row.values
            return (v["customer_id"], v["occurred_at"], v["kind"], v.get("note", ""))

        self._reject_duplicates(rows, key, "occurred_at")
        live = [row for row in rows if row.outcome != REJECTED]
        customers = self._customers_by_external_id(live)
        live = [row for row in live if row.outcome != REJECTED]
        pks = {customers[r.values["customer_id"]] for r in live}
        times = {r.values["occurred_at"] for r in live}
        stored = set(Interaction.objects.filter(customer_id__in=pks, occurred_at__in=times)
                     .values_list("customer_id", "occurred_at", "kind", "note")) if live else set()
        new = []
        for row in live:
            v = row.values
            customer_pk = customers[v["customer_id"]]
            if (customer_pk, v["occurred_at"], v["kind"], v.get("note", "")) in stored:
                row.outcome = UNCHANGED
                continue
            new.append(Interaction(customer_id=customer_pk, occurred_at=v["occurred_at"], kind=v["kind"],
                                   outcome=v.get("outcome", ""), note=v.get("note", "")))
            row.outcome = CREATED
        Interaction.objects.bulk_create(new, batch_size=BULK_CREATE_BATCH_SIZE)


IMPORTERS: dict[str, type[_Importer]] = {
    "customers": CustomerImporter, "products": ProductImporter, "orders": OrderImporter,
    "feedback": FeedbackImporter, "interactions": InteractionImporter,
}


# --- the service --------------------------------------------------------------------------

def import_run(*, kind: str, rows: Iterable[tuple[int, dict]], mapping: dict[str, str], user,
               options: ImportOptions | None = None, dry_run: bool = False,
               keep_errors: int | None = None,
               on_reject: Callable[[Row], None] | None = None,
               on_chunk: Callable[[ImportResult], None] | None = None,
               chunk_rows: int | None = None) -> ImportResult:
    """Import ``rows`` (``(line, {column: cell})``) of ``kind``; see the module docstring.

    ``mapping`` maps each column to a field of the kind, or ``""`` to leave it out (customers
    keep left-out columns in ``attributes``). With ``dry_run`` everything is validated and
    matched, in a transaction that is rolled back, so the counts are exactly those a real run
    would report.
    """
    if kind not in IMPORTERS:
        raise ValueError(_("Unknown import kind %(kind)r.") % {"kind": kind})
    importer = IMPORTERS[kind](mapping=mapping, options=options or ImportOptions(), user=user,
                               dry_run=dry_run)
    result = ImportResult(keep_errors=keep_errors)
    order_column = next((h for h, t in mapping.items() if t == "order_id"), None)
    group_of = (lambda raw: f.text(raw.get(order_column))) if kind == "orders" and order_column else None

    clean = RowCleaner(kind, mapping)

    def run_all() -> None:
        chunks = ([clean(line, raw) for line, raw in chunk]
                  for chunk in _chunks(rows, chunk_rows or CHUNK_ROWS, group_of))
        for cleaned in read_ahead(chunks, depth=READ_AHEAD_CHUNKS):
            with transaction.atomic():
                importer.run_chunk(cleaned)
                _tally(result, cleaned, on_reject)
                if on_chunk:
                    # Inside the chunk's transaction: a job's progress row commits with the
                    # rows it counts, and a job that lost its lease rolls its last chunk back.
                    on_chunk(result)
            if settings.DEBUG and not connection.force_debug_cursor:
                # With DEBUG on, Django keeps the last 9,000 queries' SQL; a chunk's bulk inserts
                # are hundreds of kB each, so a long import grew by hundreds of MB. A test that
                # counts queries sets force_debug_cursor and keeps its log.
                connection.queries_log.clear()

    if dry_run:
        with transaction.atomic():
            run_all()
            transaction.set_rollback(True)
    else:
        run_all()
    return result


def _tally(result: ImportResult, rows: list[Row], on_reject) -> None:
    for row in rows:
        result.total += 1
        if row.outcome == REJECTED or row.errors:
            result.rejected += 1
            for field_name, reason in row.errors:
                if result.keep_errors is None or len(result.errors) < result.keep_errors:
                    result.errors.append({"line": row.line, "field": field_name, "reason": reason,
                                          "row": {k: _json_cell(v) for k, v in row.raw.items()
                                                  if k != "__extra__"}})
            if on_reject:
                on_reject(row)
        elif row.outcome == CREATED:
            result.created += 1
        elif row.outcome == UPDATED:
            result.updated += 1
        elif row.outcome == UNCHANGED:
            result.unchanged += 1
        else:  # every importer sets an outcome; an empty one is a bug, not a lost row
            raise AssertionError(f"line {row.line} has no outcome")


def import_records(*, kind: str, records: list[dict], user, options: ImportOptions | None = None,
                   dry_run: bool = False) -> ImportResult:
    """Import JSON records (the API): keys are field names or known header aliases, record by
    record (one record may say ``customer_id``, the next ``客户编号``).

    ``line`` in errors is the 1-based position of the record in the list, and ``row`` the record
    with its keys translated to field names.
    """
    fields = set(f.KINDS[kind].fields)

    def canonical(record: dict) -> dict:
        out: dict = {}
        detected = f.mapping_detect(kind, list(record))
        for key, value in record.items():
            name = key if key in fields else (detected[key] or key)
            if name in out and name in fields:
                continue  # two spellings of one field in a record: the first wins
            out[name] = value
        return out

    translated = [canonical(record) for record in records]
    headers: list[str] = []
    for record in translated:
        headers.extend(k for k in record if k not in headers)
    mapping = {h: (h if h in fields else "") for h in headers}
    rows = ((position, record) for position, record in enumerate(translated, start=1))
    return import_run(kind=kind, rows=rows, mapping=mapping, user=user, options=options, dry_run=dry_run)


# --- files and jobs -----------------------------------------------------------------------

def rejected_rows_writer(handle: TextIO, headers: list[str]) -> Callable[[Row], None]:
    """Write the header of the rejected-rows CSV to ``handle``; return the ``on_reject`` that
    adds a row.

    The columns are the file's own, then ``line`` and ``reasons``, so a person fixes the cells
    and imports the file again (the extra columns are not mapped to any field). The UI's
    download and ``import_data --rejected`` are this same file.
    """
    writer = csv.writer(handle)
    writer.writerow([*headers, "line", "reasons"])

    def write(row: Row) -> None:
        writer.writerow([*(_json_cell(row.raw.get(h)) for h in headers), row.line,
                         "; ".join(f"{name}: {reason}" for name, reason in row.errors)])

    return write


def import_file(*, kind: str, path: str, user, mapping: dict[str, str] | None = None,
                options: ImportOptions | None = None, dry_run: bool = False,
                keep_errors: int | None = None, on_reject=None, on_chunk=None,
                rejected_csv: TextIO | None = None, chunk_rows: int | None = None) -> ImportResult:
    """Import a CSV or XLSX file from disk (the ``import_data`` command).

    With ``rejected_csv`` (a text file opened with ``newline=""``) the rejected rows are written
    to it as :func:`rejected_rows_writer` does.
    """
    with open(path, "rb") as stream:
        table = open_table(stream, name=path, size=os.path.getsize(path))
        mapping = f.mapping_validate(kind, mapping or f.mapping_detect(kind, table.headers), table.headers)
        if rejected_csv is not None:
            write_rejected = rejected_rows_writer(rejected_csv, table.headers)
            reject_callback = on_reject

            def on_reject(row: Row) -> None:
                write_rejected(row)
                if reject_callback:
                    reject_callback(row)

        return import_run(kind=kind, rows=table.rows, mapping=mapping, user=user, options=options,
                          dry_run=dry_run, keep_errors=keep_errors, on_reject=on_reject, on_chunk=on_chunk,
                          chunk_rows=chunk_rows)


@dataclass(frozen=True)
class Preview:
    headers: list[str]
    mapping: dict[str, str]
    sample: list[list[str]]
    result: ImportResult
    rows_checked: int
    mapping_error: str = ""


def import_preview(*, kind: str, stream, name: str, user, mapping: dict[str, str] | None = None,
                   options: ImportOptions | None = None) -> Preview:
    """Detected mapping, the first rows, and a dry run over the first rows of an upload."""
    table = open_table(stream, name=name)
    mapping = mapping or f.mapping_detect(kind, table.headers)
    head: list[tuple[int, dict]] = []
    for item in table.rows:
        head.append(item)
        if len(head) >= PREVIEW_DRY_RUN_ROWS:
            break
    sample = [[f.text(raw.get(h)) for h in table.headers] for _line, raw in head[:PREVIEW_SAMPLE_ROWS]]
    try:
        mapping = f.mapping_validate(kind, mapping, table.headers)
    except ValueError as exc:
        return Preview(table.headers, {h: mapping.get(h, "") for h in table.headers}, sample,
                       ImportResult(), len(head), mapping_error=str(exc))
    result = import_run(kind=kind, rows=head, mapping=mapping, user=user, options=options,
                        dry_run=True, keep_errors=20)
    return Preview(table.headers, mapping, sample, result, len(head))


def import_job_upload(*, kind: str, upload: UploadedFile, user,
                      options: ImportOptions | None = None) -> ImportJob:
    """Store an upload as a draft job with its detected mapping (the preview step)."""
    if kind not in ImportKind.values:
        raise ValueError(_("Unknown import kind %(kind)r.") % {"kind": kind})
    upload.seek(0)
    table = open_table(upload, name=upload.name)  # refuses an unreadable file before storing it
    upload.seek(0)
    name = os.path.basename(upload.name)
    with transaction.atomic():
        job = ImportJob(kind=kind, original_name=name[:255], mapping=f.mapping_detect(kind, table.headers),
                        options={"create_missing_customers": bool(options and options.create_missing_customers)},
                        created_by=user)
        job.file.save(name, upload, save=False)
        job.save()
    return job


def import_job_start(*, job: ImportJob, mapping: dict[str, str], user) -> ImportJob:
    """Confirm a draft job with its final mapping and queue it after commit."""
    from .tasks import import_job_execute

    with job.file.open("rb") as stream:
        headers = open_table(stream, name=job.file.name).headers
    mapping = f.mapping_validate(job.kind, mapping, headers)
    with transaction.atomic():
        started = ImportJob.objects.filter(pk=job.pk, status=ImportJob.Status.DRAFT).update(
            mapping=mapping, status=ImportJob.Status.PENDING)
        if not started:
            raise ValueError(_("This import was already started."))
        # After commit: the worker must find the job row in its pending state.
        transaction.on_commit(lambda: import_job_execute.delay(job.pk))
    job.refresh_from_db()
    return job


# Imports of these kinds change what the scores are computed from.
SCORED_KINDS = RECORD_KINDS


class ImportJobLeaseLost(RuntimeError):
    """The job's lease expired and it was marked failed while this worker still ran it."""


def import_jobs_expire() -> int:
    """Mark running jobs whose worker stopped renewing the lease as failed; returns how many.

    Called wherever jobs are shown (the import page, a job's page and its progress poll, the
    data quality page), as the score runs do on every request, so a job whose worker was killed
    shows as failed, with the reason, within :data:`IMPORT_LEASE` of its last chunk.
    """
    now = timezone.now()
    stale = (Q(lease_expires_at__lt=now)
             # Started before leases existed: judged by when it started.
             | Q(lease_expires_at__isnull=True, started_at__lt=now - IMPORT_LEASE))
    return ImportJob.objects.filter(stale, status=ImportJob.Status.RUNNING).update(
        status=ImportJob.Status.FAILED, finished_at=now,
        error=_("The worker running this import stopped reporting progress (it was killed or lost). "
                "Rows of the chunks it finished were saved; import the same file again to complete "
                "it: rows already saved end as unchanged."))


def import_job_run(*, job_id: int) -> ImportJob:
    """Run a pending job: stream its file in chunks, record progress, counts and rejected rows.

    Only a pending job starts (the conditional update is the guard against two workers running
    the same job); a redelivered message for a finished job does nothing. Every chunk renews the
    job's lease; if the lease was lost meanwhile (the job was marked failed as abandoned), the
    worker stops rather than overwrite that.
    """
    started = ImportJob.objects.filter(pk=job_id, status=ImportJob.Status.PENDING).update(
        status=ImportJob.Status.RUNNING, started_at=timezone.now(),
        lease_expires_at=timezone.now() + IMPORT_LEASE)
    job = ImportJob.objects.get(pk=job_id)
    if not started:
        return job
    running = ImportJob.objects.filter(pk=job_id, status=ImportJob.Status.RUNNING)
    rejected_file = tempfile.NamedTemporaryFile(  # noqa: SIM115 - closed and removed in finally
        "w+", suffix=".csv", newline="", encoding="utf-8-sig", delete=False)
    try:
        with job.file.open("rb") as stream:
            table = open_table(stream, name=job.file.name, size=job.file.size)

            def on_chunk(result: ImportResult) -> None:
                renewed = running.update(
                    progress=int(table.fraction() * 99), total=result.total, created=result.created,
                    updated=result.updated, unchanged=result.unchanged, rejected=result.rejected,
                    lease_expires_at=timezone.now() + IMPORT_LEASE)
                if not renewed:
                    raise ImportJobLeaseLost(job_id)

            result = import_run(kind=job.kind, rows=table.rows, mapping=job.mapping, user=job.created_by,
                                options=ImportOptions.from_dict(job.options), keep_errors=0,
                                on_reject=rejected_rows_writer(rejected_file, table.headers),
                                on_chunk=on_chunk)
        rejected_file.flush()
        if result.rejected:
            with open(rejected_file.name, "rb") as handle:
                job.errors_file.save(f"rejected-{job.pk}.csv", File(handle), save=False)
        finished = running.update(
            total=result.total, created=result.created, updated=result.updated,
            unchanged=result.unchanged, rejected=result.rejected, errors_file=job.errors_file.name or "",
            status=ImportJob.Status.SUCCEEDED, progress=100, finished_at=timezone.now(),
            lease_expires_at=None)
        if not finished:
            raise ImportJobLeaseLost(job_id)
        job.refresh_from_db()
        if job.kind in SCORED_KINDS and (result.created or result.updated):
            # Bulk writes send no signals: publish the change for everyone (analytics answers a
            # bulk change with one full run).
            records_changed_publish(customer_ids=None, kinds=[job.kind], actor=job.created_by)
    except ImportJobLeaseLost:
        logger.warning("Import job %s lost its lease (marked failed as abandoned); stopped", job_id)
        job.refresh_from_db()
    except (FileFormatError, ValueError, OSError) as exc:
        logger.warning("Import job %s failed: %s", job_id, exc)
        _job_failed(job, str(exc))
    except Exception as exc:
        logger.exception("Import job %s failed", job_id)
        _job_failed(job, f"{type(exc).__name__}: {exc}")
        raise
    finally:
        rejected_file.close()
        os.unlink(rejected_file.name)
    return job


def _job_failed(job: ImportJob, message: str) -> None:
    job.refresh_from_db(fields=["total", "created", "updated", "unchanged", "rejected"])
    job.status, job.error, job.finished_at = ImportJob.Status.FAILED, message, timezone.now()
    job.lease_expires_at = None
    job.save(update_fields=["status", "error", "finished_at", "lease_expires_at"])

