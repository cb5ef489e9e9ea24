"""Reads for the staff pages: the dashboard figures, the customer list and the customer 360.

Every function here reads precomputed score fields or aggregates in a fixed number of queries,
whatever the number of customers; nothing loops over customers in Python.
"""
from __future__ import annotations

from django.db.models import Case, Count, IntegerField, OuterRef, Prefetch, Q, QuerySet, Subquery, Value, When
from django.db.models.functions import Coalesce

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


def customer_360(*, pk: int, orders: int | None = None) -> Customer:
    """One customer with their orders and items, feedback, interactions and recommendations,
    each fetched once (a handful of queries whatever the history length).

    The orders are in ``order_rows`` (a list), only the ``orders`` newest when given (the page's
    default view; a good customer's full history made the page about 11,900 px tall), and
    ``order_total`` counts them all. A sliced prefetch needs ``to_attr``: Django filters the
    related manager's queryset otherwise, which a slice forbids.
    """
    # The recommendations belong to analytics; reach their model through the relation rather
    # than an import, so customers stays below analytics.
    recommendation = Customer._meta.get_field("recommendations").related_model
    order_rows = Order.objects.prefetch_related(Prefetch("items", queryset=OrderItem.objects.select_related("product")))
    if orders is not None:
        order_rows = order_rows[:orders]  # a window function per customer, still one query
    return (Customer.objects.select_related("owner", "merged_into")
            .annotate(order_total=Coalesce(Subquery(
                Order.objects.filter(customer=OuterRef("pk")).order_by().values("customer")
                .annotate(n=Count("pk")).values("n"), output_field=IntegerField()), 0))
            .prefetch_related(
                Prefetch("orders", queryset=order_rows, to_attr="order_rows"),
                Prefetch("feedback", queryset=Feedback.objects.select_related("product")),
                Prefetch("interactions", queryset=Interaction.objects.select_related("staff")),
                Prefetch("recommendations", queryset=recommendation.objects.select_related(
                    "product", "because_of").order_by("rank")),
            ).get(pk=pk))


# A query of only these characters with at least PHONE_MIN_DIGITS digits is read as a phone
# number; fewer digits (the "0001" of "UIT-0001") would match unrelated numbers by accident.
PHONE_CHARACTERS = frozenset("0123456789+-() ")
PHONE_MIN_DIGITS = 7


def _phone_digits(text: str) -> str:
    if not text or not set(text) <= PHONE_CHARACTERS:
        return ""
    digits = "".join(ch for ch in text if ch.isdigit())
    return digits if len(digits) >= PHONE_MIN_DIGITS else ""


def _identifier_match(text: str, *, pii: bool) -> Q:
    """The whole of ``text`` as an identifier: the external id or (for users who may see contact
    details) the email address exactly, or the phone number by its trailing digits (typed with or
    without the country code)."""
    condition = Q(external_id__iexact=text)
    if pii:
        condition |= Q(email__iexact=text)
        digits = _phone_digits(text)
        if digits:
            condition |= Q(phone__endswith=digits)
    return condition


def customer_search(queryset: QuerySet, *, text: str, user) -> QuerySet:
    """Customers matching ``text``, with exact identifier matches first.

    A customer matches when the whole text is one of their identifiers (external id, email,
    phone), or when every word of the text matches some field in any order: "walker laura"
    finds Laura Walker. A word matches the name anywhere, but identifiers only whole (an
    external id or email equal to the word, a phone number ending in a word of seven or more
    digits, an email containing a word that has an "@"), so "UIT-0001" does not also find
    whoever's phone number contains 0001. Email and phone count only for users who may see them
    (searching a hidden field would reveal it one guess at a time).

    The queryset gets a ``search_rank`` alias (0 for an identifier match, 1 otherwise) for the
    caller to order by first.
    """
    text = " ".join(text.split())
    if not text:
        return queryset
    pii = can_view_pii(user)
    exact = _identifier_match(text, pii=pii)
    every_word = Q()
    for word in text.split(" "):
        one = Q(name__icontains=word) | _identifier_match(word, pii=pii)
        if pii and "@" in word:
            one |= Q(email__icontains=word.lower())
        every_word &= one
    return (queryset.filter(exact | every_word)
            .alias(search_rank=Case(When(exact, then=Value(0)), default=Value(1))))


def saved_filters_for(user) -> QuerySet:
    """The user's own saved filters and those shared by managers, by name: one query."""
    from django.db.models.functions import Lower

    from .models import SavedFilter

    return (SavedFilter.objects.filter(Q(user=user) | Q(shared=True)).select_related("user")
            .order_by(Lower("name"), "pk"))
