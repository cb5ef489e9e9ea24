"""``seed_demo`` writes exactly the generated data (ids remapped) and the demo logins.

Runs on whatever database the settings pick: SQLite exercises ``bulk_create``; with
``DATABASE_URL`` pointing at PostgreSQL the same assertions cover the COPY path.
"""
from __future__ import annotations

from io import StringIO

import numpy as np
import pandas as pd
import pytest
from django.contrib.auth import authenticate
from django.core.management import CommandError, call_command
from django.db import connection
from django.db.models import F, Sum

from customers.demo.generator import generate_demo
from customers.models import Customer, Feedback, Interaction, Order, OrderItem, Product

N = 120
SEED = 4
AS_OF = "2026-11-01"


def _seed(*extra: str) -> str:
    out = StringIO()
    call_command("seed_demo", "--customers", str(N), "--seed", str(SEED), "--as-of", AS_OF, *extra,
                 stdout=out)
    return out.getvalue()


@pytest.fixture
def expected():
    return generate_demo(N, seed=SEED, as_of=pd.Timestamp(AS_OF))


def test_loads_every_generated_row(db, expected):
    output = _seed()
    assert Customer.objects.count() == N
    assert Order.objects.count() == len(expected.orders)
    assert OrderItem.objects.count() == len(expected.items)
    assert Feedback.objects.count() == len(expected.feedback)
    assert Interaction.objects.count() == len(expected.interactions)
    assert Product.objects.count() == len(expected.products)
    assert "password 'demo'" in output and "manager" in output


def test_rows_keep_their_values_and_links(db, expected):
    _seed()
    # Local ids map to database ids by one offset per table: C000017 still owns its orders.
    customer = Customer.objects.get(external_id="C000017")
    row = expected.customers.set_index("external_id").loc["C000017"]
    assert (customer.name, customer.email, customer.phone, customer.status) == (
        row["name"], row["email"], row["phone"], row["status"])
    assert customer.signup_date == row["signup_date"].date()
    want_orders = expected.orders[expected.orders["customer_id"] == row["customer_id"]]
    assert sorted(customer.orders.values_list("external_id", flat=True)) == sorted(want_orders["external_id"])
    # Order totals equal the sum of their lines in the database as well.
    # (Compared in Python: SQLite does the arithmetic in floating point.)
    pairs = Order.objects.annotate(lines=Sum(F("items__quantity") * F("items__unit_price")))
    gaps = [abs(float(total) - float(lines)) for total, lines in pairs.values_list("total_amount", "lines")]
    assert len(gaps) == len(expected.orders) and max(gaps) < 0.005
    total = float(Order.objects.aggregate(s=Sum("total_amount"))["s"])
    assert total == pytest.approx(expected.orders["total_amount"].sum(), abs=0.01)
    first = Order.objects.get(external_id="O0000001")
    want = expected.orders.iloc[0]
    assert first.ordered_at == want["ordered_at"].tz_localize("UTC").to_pydatetime()
    assert first.customer.external_id == f"C{want['customer_id']:06d}"
    # Blank strings stay blank (not NULL); missing dates stay NULL.
    assert Customer.objects.filter(email="").count() == (expected.customers["email"] == "").sum()
    no_birth_date = expected.customers["birth_date"].isna().sum()
    assert Customer.objects.filter(birth_date__isnull=True).count() == no_birth_date
    assert Feedback.objects.filter(rating__isnull=True).count() == expected.feedback["rating"].isna().sum()
    assert Feedback.objects.filter(order__isnull=True).count() == expected.feedback["order_id"].isna().sum()
    churned = Customer.objects.filter(status="churned")
    assert churned.count() == (expected.customers["status"] == "churned").sum()
    assert all("contract_cancelled_at" in c.attributes for c in churned)


def test_demo_logins_have_roles_and_interactions_have_staff(db):
    _seed()
    for username, role in (("manager", "Manager"), ("sales", "Sales"), ("service", "Service")):
        user = authenticate(username=username, password="demo")
        assert user is not None and user.is_staff
        assert list(user.groups.values_list("name", flat=True)) == [role]
    complaints = Interaction.objects.filter(kind="complaint")
    assert complaints.exists()
    assert not complaints.filter(staff__username="sales").exists()
    assert not Interaction.objects.filter(staff__isnull=True).exists()


def test_second_load_needs_flush_and_flush_replaces(db, expected):
    _seed()
    with pytest.raises(CommandError, match="--flush"):
        _seed()
    _seed("--flush")
    assert Customer.objects.count() == N
    assert Order.objects.count() == len(expected.orders)
    # Sequences continue above the loaded block: a new row does not collide with a demo id.
    extra = Customer.objects.create(name="After the demo")
    assert extra.pk > Customer.objects.exclude(pk=extra.pk).order_by("-pk").values_list("pk", flat=True)[0]


def test_loads_beside_existing_customers(db, expected):
    existing = Customer.objects.create(name="Real customer", external_id="REAL-1")
    _seed()
    assert Customer.objects.count() == N + 1
    loaded = Customer.objects.exclude(pk=existing.pk)
    assert loaded.order_by("pk").first().pk > existing.pk
    # Every order still points at the customer the generator gave it.
    pairs = pd.DataFrame(list(Order.objects.values_list("external_id", "customer__external_id")),
                         columns=["external_id", "customer"])
    want = expected.orders.assign(customer=expected.orders["customer_id"].map("C{:06d}".format))
    merged = pairs.merge(want[["external_id", "customer"]], on="external_id", suffixes=("", "_want"))
    assert len(merged) == len(expected.orders)
    assert np.array_equal(merged["customer"].to_numpy(), merged["customer_want"].to_numpy())


def test_constraints_survive_the_load(db):
    """On PostgreSQL the loader drops and rebuilds indexes and foreign keys: they must be back."""
    before = connection.introspection.get_constraints(connection.cursor(), Order._meta.db_table)
    _seed()
    after = connection.introspection.get_constraints(connection.cursor(), Order._meta.db_table)
    assert sorted(before) == sorted(after)
