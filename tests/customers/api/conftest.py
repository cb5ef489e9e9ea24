"""The API tests' small data set (the token clients per role are in tests/conftest.py)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from customers.models import Customer
from tests.factories import OrderFactory

WHEN = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def make_customers(n: int, *, start: int = 0, with_orders: bool = False, products=()) -> list[Customer]:
    customers = Customer.objects.bulk_create(
        [
            Customer(
                external_id=f"C{start + i}",
                name=f"Customer {start + i}",
                email=f"c{start + i}@example.com",
                phone=f"+861380013{start + i:04d}",
                region="East" if i % 2 else "West",
                churn_probability=None if i % 4 == 0 else round(i / (n + 1), 3),
                rfm_r=(i % 5) + 1,
            )
            for i in range(n)
        ]
    )
    if with_orders:
        for customer in customers:
            # One line per product, quantity 1 at list price.
            OrderFactory(customer=customer, ordered_at=WHEN, total_amount=Decimal(0),
                         external_id=f"O{customer.pk}", products=products)
    return customers
