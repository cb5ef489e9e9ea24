"""The importers of each kind, and the service that runs them over rows a chunk at a time.

See the package's docstring for what an import promises (counts that add up, idempotent re-runs,
duplicates rejected across the whole file).
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import numpy as np
from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _
from simple_history.utils import bulk_create_with_history

from core.db import BULK_CREATE_BATCH_SIZE, is_postgres
from customers.events import feedback_text_changed_publish
from customers.models import Customer, Feedback, Interaction, Order, OrderItem, Product
from intake import fields as f
from intake import staging
from intake.readahead import read_ahead
from intake.seen import SeenKeys, key_hashes
from intake.staging import PlannedOrder

from .cleaning import CREATED, REJECTED, UNCHANGED, UPDATED, Row, RowCleaner, json_cell, row_chunks

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
            staging.rows_update(Customer, list(to_update.values()), sorted(changed_fields), self.user)


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
        staging.rows_update(Product, to_update, ["name", "category", "price"], self.user)


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
        if is_postgres():
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
            staging.rows_update(Order, orders, ["customer", "ordered_at", "total_amount", "channel", "status"],
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
                  for chunk in row_chunks(rows, chunk_rows or CHUNK_ROWS, group_of))
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
                                          "row": {k: json_cell(v) for k, v in row.raw.items()
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
