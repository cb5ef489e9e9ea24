"""Writes to customer, product and order records that integrations (the REST API) make.

Each service takes already-parsed values, validates the row with ``full_clean`` (so the rules in
the model hold whichever caller writes), saves inside a transaction, and saves existing rows with
``update_fields``. Upserts lock the matching row, and fall back to an update when a concurrent
request inserted the same key between our look-up and our insert.

Score fields are never accepted here: only the analytics pipeline writes them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from simple_history.utils import bulk_create_with_history

from .models import PII_FIELDS, SCORE_FIELDS, Customer, Order, OrderItem, Product

# Fields an integration may set on a customer. Everything else (scores, merge links, timestamps)
# is written by the system.
CUSTOMER_FIELDS = (
    "external_id",
    "name",
    *PII_FIELDS,
    "gender",
    "city",
    "region",
    "country",
    "channel",
    "signup_date",
    "owner",
    "marketing_consent",
    "marketing_consent_at",
    "language",
    "status",
    "attributes",
)
PRODUCT_FIELDS = ("sku", "name", "category", "price", "active")
ORDER_FIELDS = ("external_id", "customer", "ordered_at", "channel", "status", "total_amount")
# Totals may differ from the sum of the lines by rounding in the source system, no more.
TOTAL_TOLERANCE = Decimal("0.01")


def _check_fields(data: Mapping[str, Any], allowed: Sequence[str]) -> None:
    unknown = set(data) - set(allowed)
    if unknown:
        # A programming error in the caller, not bad user input: scores in particular must
        # never arrive here.
        raise TypeError(f"not writable here: {sorted(unknown)}")


def _apply(instance, data: Mapping[str, Any]) -> list[str]:
    """Set the values that differ and return the names of the fields that changed."""
    changed = []
    for field, value in data.items():
        if getattr(instance, field) != value:
            setattr(instance, field, value)
            changed.append(field)
    return changed


def _customer_consent(customer: Customer, data: Mapping[str, Any], changed: list[str]) -> None:
    # Consent given without a time is recorded as given now; consent withdrawn clears the time.
    if "marketing_consent" in changed or customer._state.adding:
        if customer.marketing_consent and not customer.marketing_consent_at:
            customer.marketing_consent_at = timezone.now()
            changed.append("marketing_consent_at")
        elif (
            not customer.marketing_consent
            and "marketing_consent_at" not in data
            and customer.marketing_consent_at
        ):
            customer.marketing_consent_at = None
            changed.append("marketing_consent_at")


@transaction.atomic
def customer_create(*, data: Mapping[str, Any]) -> Customer:
    """Create a customer from the profile fields in ``data``."""
    _check_fields(data, CUSTOMER_FIELDS)
    customer = Customer()
    _apply(customer, data)
    _customer_consent(customer, data, [])
    customer.full_clean()
    customer.save()
    return customer


@transaction.atomic
def customer_update(*, customer: Customer, data: Mapping[str, Any]) -> Customer:
    """Change the profile fields in ``data``; fields not named keep their values."""
    _check_fields(data, CUSTOMER_FIELDS)
    if customer.merged_into_id:
        raise ValidationError(
            {
                "id": _("This customer was merged into #%(id)s; change that record.")
                % {"id": customer.merged_into_id}
            }
        )
    changed = _apply(customer, data)
    _customer_consent(customer, data, changed)
    if "email" in changed and customer.email_invalid:
        # A new address gets a fresh chance; the bounce concerned the old one.
        customer.email_invalid = False
        changed.append("email_invalid")
    if not changed:
        return customer
    customer.full_clean()
    customer.save(update_fields=[*changed, "updated_at"])
    return customer


def _survivor(customer: Customer) -> Customer:
    seen = {customer.pk}
    while customer.merged_into_id:
        customer = Customer.objects.select_for_update().get(pk=customer.merged_into_id)
        if customer.pk in seen:  # a cycle would be a bug in merging; stop rather than loop
            break
        seen.add(customer.pk)
    return customer


def customer_upsert(*, external_id: str, data: Mapping[str, Any]) -> tuple[Customer, bool]:
    """Update the customer with this external id, or create it. Returns (customer, created).

    A customer merged into another is not updated: its survivor is.
    """
    data = {**data, "external_id": external_id}
    for attempt in range(2):
        try:
            with transaction.atomic():
                customer = Customer.objects.select_for_update().filter(external_id=external_id).first()
                if customer is not None and customer.merged_into_id:
                    # The source system still knows the duplicate's id: update the survivor,
                    # which keeps its own external id.
                    survivor = _survivor(customer)
                    return customer_update(
                        customer=survivor, data={k: v for k, v in data.items() if k != "external_id"}
                    ), False
                if customer is not None:
                    return customer_update(customer=customer, data=data), False
                return customer_create(data=data), True
        except IntegrityError:
            # A concurrent request created it after our look-up: the second pass updates it.
            if attempt:
                raise
    raise AssertionError("unreachable")


@transaction.atomic
def product_create(*, data: Mapping[str, Any]) -> Product:
    _check_fields(data, PRODUCT_FIELDS)
    product = Product()
    _apply(product, data)
    product.full_clean()
    product.save()
    return product


@transaction.atomic
def product_update(*, product: Product, data: Mapping[str, Any]) -> Product:
    _check_fields(data, PRODUCT_FIELDS)
    changed = _apply(product, data)
    if changed:
        product.full_clean()
        product.save(update_fields=changed)
    return product


def product_upsert(*, sku: str, data: Mapping[str, Any]) -> tuple[Product, bool]:
    """Update the product with this SKU, or create it. Returns (product, created)."""
    data = {**data, "sku": sku}
    for attempt in range(2):
        try:
            with transaction.atomic():
                product = Product.objects.select_for_update().filter(sku=sku).first()
                if product is not None:
                    return product_update(product=product, data=data), False
                return product_create(data=data), True
        except IntegrityError:
            if attempt:
                raise
    raise AssertionError("unreachable")


@dataclass(frozen=True)
class OrderLine:
    """One line of an order as an integration sends it; no unit price means the list price."""

    product: Product
    quantity: int
    unit_price: Decimal | None = None


def _order_lines(lines: Sequence[OrderLine]) -> list[OrderItem]:
    if not lines:
        raise ValidationError({"items": _("An order needs at least one item.")})
    return [
        OrderItem(
            product=line.product,
            quantity=line.quantity,
            unit_price=line.product.price if line.unit_price is None else line.unit_price,
        )
        for line in lines
    ]


def _order_total(items: list[OrderItem], total_amount: Decimal | None) -> Decimal:
    computed = sum((item.quantity * item.unit_price for item in items), Decimal(0))
    if total_amount is None:
        return computed
    if abs(total_amount - computed) > TOTAL_TOLERANCE:
        raise ValidationError(
            {
                "total_amount": _(
                    "The total %(total)s does not match the items, which add up to %(computed)s."
                )
                % {"total": total_amount, "computed": computed}
            }
        )
    return total_amount


def _order_save_items(order: Order, items: list[OrderItem]) -> None:
    for item in items:
        item.order = order
        item.full_clean(exclude=["order"])
    # With a history row per line (and the request's user), so a changed line is on record even
    # when the order's total stays the same.
    bulk_create_with_history(items, OrderItem)


def _check_customer(customer: Customer) -> None:
    if customer.merged_into_id:
        raise ValidationError(
            {
                "customer": _("Customer #%(id)s was merged into #%(into)s; use that one.")
                % {"id": customer.pk, "into": customer.merged_into_id}
            }
        )


@transaction.atomic
def order_create(
    *,
    customer: Customer,
    ordered_at: datetime,
    lines: Sequence[OrderLine],
    total_amount: Decimal | None = None,
    external_id: str | None = None,
    channel: str = "",
    status: str = "",
) -> Order:
    """Create an order with its items; the total is checked against the items, or computed."""
    _check_customer(customer)
    items = _order_lines(lines)
    order = Order(
        customer=customer,
        ordered_at=ordered_at,
        external_id=external_id or None,
        total_amount=_order_total(items, total_amount),
    )
    if channel:
        order.channel = channel
    if status:
        order.status = status
    order.full_clean()
    order.save()
    _order_save_items(order, items)
    return order


@transaction.atomic
def order_update(*, order: Order, data: Mapping[str, Any], lines: Sequence[OrderLine] | None = None) -> Order:
    """Change an order's fields; ``lines``, when given, replace all its items."""
    _check_fields(data, ORDER_FIELDS)
    data = dict(data)
    if "customer" in data:
        _check_customer(data["customer"])
    items = _order_lines(lines) if lines is not None else None
    if items is not None or "total_amount" in data:
        # New lines are checked against the total; a new total against the lines kept.
        data["total_amount"] = _order_total(
            items if items is not None else list(order.items.all()), data.get("total_amount")
        )
    changed = _apply(order, data)
    if changed:
        order.full_clean()
        order.save(update_fields=changed)
    if items is not None:
        # One by one, not a queryset delete: each removed line gets its history row. An order
        # has a few lines.
        for item in order.items.all():
            item.delete()
        _order_save_items(order, items)
    return order


def order_upsert(
    *,
    external_id: str,
    customer: Customer,
    ordered_at: datetime,
    lines: Sequence[OrderLine],
    total_amount: Decimal | None = None,
    channel: str = "",
    status: str = "",
) -> tuple[Order, bool]:
    """Replace the order with this external id (fields and items), or create it."""
    for attempt in range(2):
        try:
            with transaction.atomic():
                order = Order.objects.select_for_update().filter(external_id=external_id).first()
                if order is None:
                    return order_create(
                        customer=customer,
                        ordered_at=ordered_at,
                        lines=lines,
                        total_amount=total_amount,
                        external_id=external_id,
                        channel=channel,
                        status=status,
                    ), True
                data = {"customer": customer, "ordered_at": ordered_at, "total_amount": total_amount}
                if channel:
                    data["channel"] = channel
                if status:
                    data["status"] = status
                return order_update(order=order, data=data, lines=lines), False
        except IntegrityError:
            if attempt:
                raise
    raise AssertionError("unreachable")


assert not set(CUSTOMER_FIELDS) & set(SCORE_FIELDS), "score fields belong to the analytics pipeline"
