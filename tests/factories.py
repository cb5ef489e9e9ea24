"""factory_boy factories for the CRM's records.

Defaults are deliberately bare: a customer gets a name and nothing else (no e-mail, phone or
city), so a factory never makes two rows look like duplicates, fall into a filter or carry a score
that a test did not ask for. A value a test depends on is passed at the call site.
"""
from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.utils import timezone
from factory.django import DjangoModelFactory, Password

from campaigns.models import ServiceTask
from customers.models import Customer, Feedback, Interaction, Order, OrderItem, Product

TEST_PASSWORD = "pw-for-tests"


def utc_at(text: str) -> datetime:
    """An ISO date or date-time read as UTC: ``utc_at("2026-09-30 23:59")``."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


class UserFactory(DjangoModelFactory):
    """A staff user; ``UserFactory(role="Sales")`` also puts them in that role group
    (customers/roles.py), which must exist already (the ``role_groups`` fixture)."""

    class Meta:
        model = get_user_model()
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user-{n}")
    password = Password(TEST_PASSWORD)
    is_staff = True

    @factory.post_generation
    def role(user, create, extracted, **kwargs):
        if create and extracted:
            user.groups.add(Group.objects.get(name=extracted))


class CustomerFactory(DjangoModelFactory):
    class Meta:
        model = Customer

    name = factory.Sequence(lambda n: f"Customer {n}")


class ProductFactory(DjangoModelFactory):
    class Meta:
        model = Product

    sku = factory.Sequence(lambda n: f"SKU-{n}")
    name = factory.Sequence(lambda n: f"Product {n}")
    price = Decimal("10.00")


class OrderFactory(DjangoModelFactory):
    """An order; ``OrderFactory(products=[...])`` adds one line of quantity 1 at list price per
    product (the total is whatever ``total_amount`` says, as in the data the imports write)."""

    class Meta:
        model = Order
        skip_postgeneration_save = True

    customer = factory.SubFactory(CustomerFactory)
    ordered_at = factory.LazyFunction(timezone.now)
    total_amount = Decimal("10.00")

    @factory.post_generation
    def products(order, create, extracted, **kwargs):
        if create and extracted:
            OrderItem.objects.bulk_create(
                [OrderItem(order=order, product=p, quantity=1, unit_price=p.price) for p in extracted])


class OrderItemFactory(DjangoModelFactory):
    class Meta:
        model = OrderItem

    order = factory.SubFactory(OrderFactory)
    product = factory.SubFactory(ProductFactory)
    quantity = 1
    unit_price = factory.LazyAttribute(lambda item: item.product.price)


class FeedbackFactory(DjangoModelFactory):
    class Meta:
        model = Feedback

    customer = factory.SubFactory(CustomerFactory)
    created_at = factory.LazyFunction(timezone.now)
    rating = 4
    text = "Good"


class InteractionFactory(DjangoModelFactory):
    class Meta:
        model = Interaction

    customer = factory.SubFactory(CustomerFactory)
    kind = "call"
    occurred_at = factory.LazyFunction(timezone.now)


class ServiceTaskFactory(DjangoModelFactory):
    class Meta:
        model = ServiceTask

    customer = factory.SubFactory(CustomerFactory)
    due_on = factory.LazyFunction(timezone.localdate)
