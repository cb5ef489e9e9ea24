"""Write a generated :class:`~customers.demo.generator.DemoData` into the database, fast.

Why it looks like this
----------------------
A million orders through ``Model.save()`` would take hours, and even ``bulk_create`` spends most
of its time building model instances. On PostgreSQL the loader therefore streams each table
with ``COPY ... FROM STDIN`` (psycopg 3 ``cursor.copy``, see
https://www.psycopg.org/psycopg3/docs/basic/copy.html), formatted by pandas as CSV; elsewhere
(SQLite on a laptop) it falls back to ``bulk_create`` in batches.

The generator numbers customers and orders 1..n ("local" ids). The loader reserves a block of
database ids above the current maximum, writes rows with explicit ids (local id + offset) so
foreign keys can be computed with vector arithmetic instead of a lookup per row, and then resets
the tables' sequences so later inserts continue above the block. Tables are locked while this
happens on PostgreSQL, because a concurrent insert could otherwise take an id in the block.

Surprises worth knowing:

* Bulk writes skip ``save()``, signals and django-simple-history: demo rows have no history
  entries (``--flush`` clears the history tables too, so stale history cannot attach itself to a
  reused id).
* Once committed, the load publishes ``feedback_text_changed`` for every text not analysed yet
  (``customers.events``), so the feedback is analysed as it arrives, as from any other door.
* Products are a shared catalogue: existing SKUs are reused, only missing ones are inserted.
* The explicit cancellation date of a churned customer has no model field; it is stored in
  ``Customer.attributes["contract_cancelled_at"]``.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.color import no_style
from django.db import connection, models, transaction
from django.utils import timezone

from core.db import bulk_create_rows, copy_rows, drop_secondary_indexes, execute_all, is_postgres
from customers.demo.generator import DemoData, generate_demo
from customers.events import feedback_text_changed_publish
from customers.models import Customer, CustomerScore, Feedback, Interaction, Order, OrderItem, Product
from customers.roles import ROLES

DEMO_PASSWORD = "demo"
# One demo login per role; usernames are the role in lower case.
DEMO_USERS = {role.lower(): role for role in ROLES}

# Children before parents, for deleting.
FLUSH_ORDER = (OrderItem, Feedback, Interaction, Order, Customer, Product)


@dataclass(frozen=True)
class LoadResult:
    """What a load wrote: row counts and seconds per stage (``generate`` when generated here)."""

    counts: dict[str, int]
    timings: dict[str, float]
    users: dict[str, str] = field(default_factory=dict)   # username -> role
    method: str = ""                                        # "copy" or "bulk_create"


class DemoDataExists(Exception):
    """The demo's external ids are already taken; load with ``flush=True`` to replace them."""


def _utc(values: pd.Series) -> pd.Series:
    return values.dt.tz_localize("UTC")


def _max_id(model: type[models.Model]) -> int:
    return model.objects.aggregate(m=models.Max("pk"))["m"] or 0


def demo_staff_ensure() -> dict[str, models.Model]:
    """Create (or reset) one staff login per role, each with the password ``demo``.

    The role groups come from the data migration ``customers.0002_roles``; a missing group means
    the database was not migrated, which should fail loudly rather than create powerless users.
    """
    User = get_user_model()
    users = {}
    for username, role in DEMO_USERS.items():
        group = Group.objects.get(name=role)
        user, _ = User.objects.get_or_create(username=username, defaults={"is_staff": True})
        user.is_staff = True
        user.set_password(DEMO_PASSWORD)
        user.save(update_fields=["is_staff", "password"])
        user.groups.add(group)
        users[role] = user
    return users


def _flush() -> None:
    """Delete every customer, order, item, feedback, interaction and product (and their history)."""
    history_models = [m.history.model for m in (Customer, Order, Feedback)]
    if is_postgres():
        tables = [m._meta.db_table for m in (*FLUSH_ORDER, *history_models)]
        with connection.cursor() as cursor:
            # CASCADE also empties rows of other apps that point at customers (campaign members).
            cursor.execute(f"TRUNCATE {', '.join(connection.ops.quote_name(t) for t in tables)} "
                           "RESTART IDENTITY CASCADE")
        return
    # The ORM honours on_delete of other apps' foreign keys; history goes last because deleting
    # through the ORM writes a "deleted" history row per object.
    for model in (*FLUSH_ORDER, *history_models):
        model.objects.all().delete()


def _customer_rows(data: DemoData, offset: int, now: pd.Timestamp) -> pd.DataFrame:
    c = data.customers
    signup = _utc(c["signup_date"])
    attributes = np.full(len(c), "{}", dtype=object)
    churned = c["churned_at"].notna().to_numpy()
    attributes[churned] = [json.dumps({"contract_cancelled_at": t.isoformat() + "Z"})
                           for t in c.loc[churned, "churned_at"]]
    return pd.DataFrame({
        "id": c["customer_id"].to_numpy() + offset,
        "external_id": c["external_id"],
        "name": c["name"],
        "email": c["email"],
        "phone": c["phone"],
        "gender": c["gender"],
        "birth_date": c["birth_date"],
        "city": c["city"],
        "region": c["region"],
        "country": c["country"],
        "channel": c["channel"],
        "signup_date": signup.dt.date,
        "marketing_consent": c["consent"],
        "marketing_consent_at": _utc(c["consent_at"]),
        "status": c["status"],
        "attributes": attributes,
        "created_at": signup,
        "updated_at": now,
    })


def _order_rows(data: DemoData, order_offset: int, customer_offset: int) -> pd.DataFrame:
    o = data.orders
    return pd.DataFrame({
        "id": o["order_id"].to_numpy() + order_offset,
        "external_id": o["external_id"],
        "customer_id": o["customer_id"].to_numpy() + customer_offset,
        "ordered_at": _utc(o["ordered_at"]),
        "channel": o["channel"],
        "status": o["status"],
        "total_amount": o["total_amount"],
    })


def _item_rows(data: DemoData, order_offset: int, product_ids: np.ndarray) -> pd.DataFrame:
    i = data.items
    return pd.DataFrame({
        "order_id": i["order_id"].to_numpy() + order_offset,
        "product_id": product_ids[i["product_id"].to_numpy()],
        "quantity": i["quantity"],
        "unit_price": i["unit_price"],
    })


def _feedback_rows(data: DemoData, order_offset: int, customer_offset: int,
                   product_ids: np.ndarray) -> pd.DataFrame:
    f = data.feedback
    product = f["product_id"].astype("float64").to_numpy()
    has_product = ~np.isnan(product)
    product_db = pd.array(np.where(has_product, product_ids[np.nan_to_num(product).astype(np.int64)], 0),
                          dtype="Int64")
    product_db[~has_product] = pd.NA
    return pd.DataFrame({
        "customer_id": f["customer_id"].to_numpy() + customer_offset,
        "order_id": f["order_id"] + order_offset,
        "product_id": product_db,
        "created_at": _utc(f["created_at"]),
        "channel": f["channel"],
        "rating": f["rating"].astype("Int64"),
        "text": f["text"],
        "language": f["language"],
        "sentiment_score": f["sentiment_score"],
        "sentiment_label": "",
        "complaint_reason": f["complaint_reason"],
        "complaint_reasons": [json.dumps([r] if r else []) for r in f["complaint_reason"]],
    })


def _interaction_rows(data: DemoData, customer_offset: int, staff: dict[str, models.Model]) -> pd.DataFrame:
    i = data.interactions
    staff_id = i["staff_role"].map({role: user.pk for role, user in staff.items()}).astype("Int64")
    return pd.DataFrame({
        "customer_id": i["customer_id"].to_numpy() + customer_offset,
        "staff_id": staff_id,
        "kind": i["kind"],
        "occurred_at": _utc(i["occurred_at"]),
        "outcome": i["outcome"],
        "note": i["note"],
    })


def _products(data: DemoData, write) -> tuple[np.ndarray, int]:
    """Database id per local product id (index 0 unused); inserts only SKUs not yet present."""
    existing = dict(Product.objects.filter(sku__in=list(data.products["sku"])).values_list("sku", "pk"))
    missing = data.products[~data.products["sku"].isin(list(existing))]
    if len(missing):
        offset = _max_id(Product)
        rows = pd.DataFrame({
            "id": np.arange(offset + 1, offset + 1 + len(missing), dtype=np.int64),
            "sku": missing["sku"], "name": missing["name"], "category": missing["category"],
            "price": missing["price"], "active": missing["active"],
        })
        write(Product, rows)
        existing.update(zip(rows["sku"], rows["id"].tolist()))
    ids = np.zeros(int(data.products["product_id"].max()) + 1, dtype=np.int64)
    ids[data.products["product_id"].to_numpy()] = data.products["sku"].map(existing).to_numpy(dtype=np.int64)
    return ids, len(missing)


def demo_load(*, data: DemoData, flush: bool = False) -> LoadResult:
    """Load ``data`` in one transaction; with ``flush`` first delete all CRM data it replaces.

    Raises :class:`DemoDataExists` when the demo's customer or order external ids are already in
    the database (a second load without ``flush`` would break their uniqueness).
    """
    postgres = is_postgres()
    write = copy_rows if postgres else bulk_create_rows
    timings: dict[str, float] = {}
    counts: dict[str, int] = {}

    def timed(stage: str, fn, *args):
        started = time.perf_counter()
        result = fn(*args)
        timings[stage] = round(time.perf_counter() - started, 3)
        return result

    with transaction.atomic():
        if flush:
            timed("flush", _flush)
        if postgres:
            # Keep other writers out while the id block is reserved and filled (see module doc).
            tables = ", ".join(connection.ops.quote_name(m._meta.db_table) for m in FLUSH_ORDER)
            with connection.cursor() as cursor:
                cursor.execute(f"LOCK TABLE {tables} IN SHARE ROW EXCLUSIVE MODE")
        first_customer, first_order = data.customers["external_id"].iloc[0], data.orders["external_id"]
        if (Customer.objects.filter(external_id=first_customer).exists()
                or (len(first_order) and Order.objects.filter(external_id=first_order.iloc[0]).exists())):
            raise DemoDataExists(f"customer {first_customer} already exists; load with flush=True")
        staff = timed("users", demo_staff_ensure)
        customer_offset, order_offset = _max_id(Customer), _max_id(Order)
        now = pd.Timestamp(timezone.now())

        product_ids, counts["products"] = timed("products", _products, data, write)
        restore: list[str] = []
        if postgres:
            # The score table too: the customers' trigger adds a row per customer to it.
            bulk_tables = [m._meta.db_table for m in (Customer, CustomerScore, Order, OrderItem, Feedback,
                                                      Interaction)]
            restore = timed("drop_indexes", drop_secondary_indexes, bulk_tables)
        stages = (
            ("customers", Customer, lambda: _customer_rows(data, customer_offset, now)),
            ("orders", Order, lambda: _order_rows(data, order_offset, customer_offset)),
            ("order_items", OrderItem, lambda: _item_rows(data, order_offset, product_ids)),
            ("feedback", Feedback, lambda: _feedback_rows(data, order_offset, customer_offset, product_ids)),
            ("interactions", Interaction, lambda: _interaction_rows(data, customer_offset, staff)),
        )
        for stage, model, build in stages:
            rows = timed(f"{stage}_prepare", build)
            timed(stage, write, model, rows)
            counts[stage] = len(rows)
        if restore:
            timed("rebuild_indexes", execute_all, restore)

        started = time.perf_counter()
        with connection.cursor() as cursor:
            for statement in connection.ops.sequence_reset_sql(no_style(), [Customer, Order, Product]):
                cursor.execute(statement)
        timings["sequences"] = round(time.perf_counter() - started, 3)
        committing = time.perf_counter()
    timings["commit"] = round(time.perf_counter() - committing, 3)
    if postgres:
        # Fresh statistics, or the planner treats the million-row tables as empty for a while.
        started = time.perf_counter()
        with connection.cursor() as cursor:
            for model in FLUSH_ORDER:
                cursor.execute(f"ANALYZE {connection.ops.quote_name(model._meta.db_table)}")
        timings["analyze"] = round(time.perf_counter() - started, 3)
    # Feedback is analysed once, as it arrives, whatever the door: a worker does it in the
    # background, or without a broker (eager tasks) this call does, rather than the first score
    # run (on SQLite 5-13 s of a 2,000-customer run went to the demo's feedback).
    timed("feedback_event", lambda: feedback_text_changed_publish(feedback_ids=None))
    users = {user.get_username(): role for role, user in staff.items()}
    return LoadResult(counts=counts, timings=timings, users=users,
                      method="copy" if postgres else "bulk_create")


def demo_seed(*, n_customers: int, seed: int, as_of: pd.Timestamp, flush: bool = False) -> LoadResult:
    """Generate and load a demo data set; ``timings`` gains a ``generate`` stage."""
    started = time.perf_counter()
    data = generate_demo(n_customers, seed=seed, as_of=as_of)
    generate_seconds = round(time.perf_counter() - started, 3)
    result = demo_load(data=data, flush=flush)
    return LoadResult(counts=result.counts, timings={"generate": generate_seconds, **result.timings},
                      users=result.users, method=result.method)


__all__ = ["DEMO_PASSWORD", "DemoDataExists", "LoadResult",
           "demo_load", "demo_seed", "demo_staff_ensure"]
