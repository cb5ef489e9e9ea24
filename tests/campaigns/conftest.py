"""Customers with scores already set, as the analytics pipeline would leave them."""
from __future__ import annotations

from decimal import Decimal

import pytest

from customers.models import Customer

SEGMENTS = ("high", "medium", "low")


def make_customers(n: int, *, start: int = 0, consent: bool = True, **scores) -> list[Customer]:
    """``n`` scored customers; value segments cycle high/medium/low unless given."""
    rows = []
    for i in range(start, start + n):
        values = {
            "value_segment": SEGMENTS[i % 3], "value_tier": SEGMENTS[i % 3],
            "rfm_segment": "Champions" if i % 2 else "At Risk",
            "churn_probability": round((i % 10) / 10, 2), "clv_12m": Decimal(100 + i),
            "lifecycle_stage": "active", "sentiment_score": 0.1, "region": "North" if i % 2 else "South",
        }
        values.update(scores)
        # An address for the e-mail and SMS channels: launch leaves out customers without one.
        rows.append(Customer(name=f"Customer {i}", external_id=f"T{i}", marketing_consent=consent,
                             email=f"customer{i}@example.com", phone=f"+8613800{i:06d}", **values))
    return Customer.objects.bulk_create(rows)


@pytest.fixture
def customers(db):
    return make_customers(60)
