"""Reads for the staff pages: the dashboard figures, the customer list and the customer 360.

Every function here reads precomputed score fields or aggregates in a fixed number of queries,
whatever the number of customers; nothing loops over customers in Python.
"""
from __future__ import annotations

from django.db.models import Prefetch, Q, QuerySet

from .models import (
    Customer,
    Feedback,
    Interaction,
    Order,
    OrderItem,
)
from .permissions import can_view_pii


def mask_email(value: str) -> str:
    """``li.wei@example.com`` -> ``l***@example.com``: enough to recognise, not to contact."""
    if not value:
        return ""
    local, _sep, domain = value.partition("@")
    return f"{local[:1]}***@{domain}" if domain else "***"


def mask_phone(value: str) -> str:
    """Keep the last two digits: ``+8613800138000`` -> ``***********00``."""
    if not value:
        return ""
    return "*" * max(len(value) - 2, 3) + value[-2:]


def customer_360(*, pk: int) -> Customer:
    """One customer with their orders and items, feedback, interactions and recommendations,
    each fetched once (a handful of queries whatever the history length)."""
    # The recommendations belong to analytics; reach their model through the relation rather
    # than an import, so customers stays below analytics.
    recommendation = Customer._meta.get_field("recommendations").related_model
    return (Customer.objects.select_related("owner", "merged_into")
            .prefetch_related(
                Prefetch("orders", queryset=Order.objects.prefetch_related(
                    Prefetch("items", queryset=OrderItem.objects.select_related("product")))),
                Prefetch("feedback", queryset=Feedback.objects.select_related("product")),
                Prefetch("interactions", queryset=Interaction.objects.select_related("staff")),
                Prefetch("recommendations", queryset=recommendation.objects.select_related(
                    "product", "because_of").order_by("rank")),
            ).get(pk=pk))


def customer_search(queryset: QuerySet, *, text: str, user) -> QuerySet:
    """Search by name and external id, and by email and phone only for users who may see them
    (searching a hidden field would reveal it one guess at a time)."""
    text = text.strip()
    if not text:
        return queryset
    condition = Q(name__icontains=text) | Q(external_id__iexact=text)
    if can_view_pii(user):
        condition |= Q(email__icontains=text.lower())
        digits = "".join(ch for ch in text if ch.isdigit())
        if len(digits) >= 4:
            condition |= Q(phone__contains=digits)
    return queryset.filter(condition)


def saved_filters_for(user) -> QuerySet:
    """The user's own saved filters and those shared by managers, by name: one query."""
    from django.db.models.functions import Lower

    from .models import SavedFilter

    return (SavedFilter.objects.filter(Q(user=user) | Q(shared=True)).select_related("user")
            .order_by(Lower("name"), "pk"))
