"""Nothing is lost: for any mix of good, bad and repeated rows, every row has exactly one outcome."""
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from customers.models import Customer, Order
from intake.services.importers import import_records
from tests.factories import ProductFactory

CUSTOMER_IDS = ["C1", "C2", "C3", "C404", ""]
DATES = ["2024-01-05", "20240105", "2024/1/5", "05.01.2024", "2024-13-01", "", "soon"]
AMOUNTS = ["12", "¥1,200.50", "$3", "-4", "9999999", "abc", ""]
SKUS = ["A", "B", "MISSING", ""]

order_rows = st.lists(st.fixed_dictionaries({
    "order_id": st.sampled_from(["O1", "O2", "O3", "O4", ""]),
    "customer_id": st.sampled_from(CUSTOMER_IDS),
    "ordered_at": st.sampled_from(DATES),
    "amount": st.sampled_from(AMOUNTS),
    "sku": st.sampled_from(SKUS),
    "quantity": st.sampled_from(["1", "2", "0", "x", ""]),
}), max_size=25)

customer_rows = st.lists(st.fixed_dictionaries({
    "customer_id": st.sampled_from(CUSTOMER_IDS),
    "name": st.sampled_from(["Li Na", "王芳", ""]),
    "email": st.sampled_from(["a@example.com", "A@EXAMPLE.COM", "bad", ""]),
    "phone": st.sampled_from(["13800138000", "+86 139 0013 9000", "123", ""]),
}), max_size=25)


@pytest.fixture
def shop(db):
    Customer.objects.bulk_create([Customer(external_id=c, name=c) for c in ("C1", "C2", "C3")])
    ProductFactory(sku="A", name="A", price=Decimal(5))
    ProductFactory(sku="B", name="B", price=Decimal(7))


def assert_counts_add_up(result, n):
    assert result.total == n
    assert result.created + result.updated + result.unchanged + result.rejected == n
    rejected_lines = {e["line"] for e in result.errors}
    assert len(rejected_lines) == result.rejected  # every rejected row has at least one reason
    assert rejected_lines <= set(range(1, n + 1))


@pytest.mark.django_db
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=order_rows, chunk=st.sampled_from([3, 5000]))
def test_order_counts_add_up(shop, rows, chunk, monkeypatch):
    monkeypatch.setattr("intake.services.importers.CHUNK_ROWS", chunk)
    result = import_records(kind="orders", records=rows, user=None, dry_run=True)
    assert_counts_add_up(result, len(rows))
    assert not Order.objects.exists()  # dry run


@pytest.mark.django_db
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=customer_rows)
def test_customer_counts_add_up_and_second_import_creates_nobody(shop, rows):
    # Rows of one file may name the same person by different keys with different values, so the
    # second import may still update; it must never create a customer a second time.
    first = import_records(kind="customers", records=rows, user=None, dry_run=False)
    assert_counts_add_up(first, len(rows))
    again = import_records(kind="customers", records=rows, user=None, dry_run=True)
    assert_counts_add_up(again, len(rows))
    assert again.created == 0
