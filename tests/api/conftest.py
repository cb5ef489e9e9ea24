"""Fixtures of the API tests: token-authenticated clients per role and a small data set."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.core.cache import cache
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from customers.models import Customer
from tests.factories import OrderFactory, ProductFactory

WHEN = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _fresh_cache():
    # Throttle counters and idempotency records live in the cache.
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def api(role_user):
    """``api("Sales")``: an APIClient sending that role's token."""
    made = {}

    def make(role: str) -> APIClient:
        if role not in made:
            user = role_user(role)
            client = APIClient()
            client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
            client.user = user
            made[role] = client
        return made[role]

    return make


@pytest.fixture
def catalogue(db):
    return [
        ProductFactory(sku=f"SKU-{i}", name=f"Product {i}", category="tea", price=Decimal("10.50") + i)
        for i in range(3)
    ]


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
