"""Query filters of the customer-records API (django-filter), search and ordering.

Numbers and dates filter by exact value and ranges (``churn_probability__gte=0.7``), choices by
value. Contact details (email, phone, birth date) are neither searchable nor filterable without
``customers.view_pii``: matching on a hidden field would reveal it one guess at a time.
"""

from __future__ import annotations

from datetime import datetime
from datetime import timezone as dt_timezone

import django_filters
from django.core.exceptions import FieldDoesNotExist
from django.db import models
from django.utils.translation import gettext_lazy as _
from rest_framework.filters import OrderingFilter, SearchFilter

from customers.models import PII_FIELDS, SCORE_FIELDS, Customer, Feedback, Interaction, Order, Product

from .permissions import can_view_pii

RANGE = ["exact", "gte", "lte"]
# JSON has no useful equality; churn reasons are read on the record instead.
FILTERABLE_SCORE_FIELDS = tuple(f for f in SCORE_FIELDS if f != "churn_reasons")
ORDERABLE_CUSTOMER_FIELDS = (
    "id",
    "name",
    "created_at",
    "updated_at",
    "signup_date",
    *FILTERABLE_SCORE_FIELDS,
)


def _lookups(model: type[models.Model], names) -> dict[str, list[str]]:
    lookups = {}
    for name in names:
        field = model._meta.get_field(name)
        ranged = (
            isinstance(field, (models.IntegerField, models.FloatField, models.DecimalField, models.DateField))
            and not field.choices
        )
        lookups[name] = RANGE if ranged else ["exact"]
    return lookups


def _describe(filterset: django_filters.FilterSet) -> None:
    """Give every filter a description for the schema, from its model field's verbose name."""
    model = filterset._meta.model
    for filter_ in filterset.base_filters.values():
        if filter_.extra.get("help_text"):
            continue
        field_name, lookup = filter_.field_name, filter_.lookup_expr
        try:
            verbose = str(model._meta.get_field(field_name).verbose_name)
        except FieldDoesNotExist:  # a method filter: it carries its own help text
            continue
        text = {
            "exact": verbose,
            "gte": f"{verbose} at least",
            "lte": f"{verbose} at most",
            "iexact": f"{verbose} (any case)",
        }.get(lookup, f"{verbose} ({lookup})")
        filter_.extra["help_text"] = text
        filter_.label = text


class UtcFilterSet(django_filters.FilterSet):
    """Compares dates and times in UTC.

    A filter value may carry any offset Python accepts (up to +/-23:59), but PostgreSQL refuses
    offsets beyond +/-15:59 ("time zone displacement out of range"), which made such a query a
    500. Converted to UTC first, every valid instant is accepted.
    """

    def filter_queryset(self, queryset):
        for name, value in list(self.form.cleaned_data.items()):
            if isinstance(value, datetime) and value.tzinfo is not None:
                self.form.cleaned_data[name] = value.astimezone(dt_timezone.utc)
        return super().filter_queryset(queryset)


class PiiFilterSetMixin:
    """Drops the contact-detail filters for users without ``customers.view_pii``."""

    pii_filters: tuple[str, ...] = ()

    def __init__(self, *args, request=None, **kwargs):
        super().__init__(*args, request=request, **kwargs)
        if not can_view_pii(request):
            for name in [n for n in self.filters if n.split("__")[0] in self.pii_filters]:
                del self.filters[name]  # its query parameter is then ignored


class CustomerFilter(PiiFilterSetMixin, UtcFilterSet):
    pii_filters = PII_FIELDS
    region = django_filters.CharFilter(
        field_name="region", lookup_expr="iexact", help_text=_("Region, any case.")
    )
    email = django_filters.CharFilter(
        field_name="email",
        lookup_expr="iexact",
        help_text=_("Email address, any case (needs the contact-details permission)."),
    )
    phone = django_filters.CharFilter(
        field_name="phone", help_text=_("Phone number in E.164 (needs the contact-details permission).")
    )

    class Meta:
        model = Customer
        fields = {
            "external_id": ["exact"],
            "status": ["exact"],
            "channel": ["exact"],
            "marketing_consent": ["exact"],
            "city": ["iexact"],
            "country": ["iexact"],
            "owner": ["exact"],
            "signup_date": RANGE,
            "birth_date": RANGE,
            **_lookups(Customer, FILTERABLE_SCORE_FIELDS),
        }


class ProductFilter(UtcFilterSet):
    class Meta:
        model = Product
        fields = {"sku": ["exact"], "category": ["exact"], "active": ["exact"], "price": RANGE}


class OrderFilter(UtcFilterSet):
    class Meta:
        model = Order
        fields = {
            "customer": ["exact"],
            "external_id": ["exact"],
            "status": ["exact"],
            "channel": ["exact"],
            "ordered_at": RANGE,
            "total_amount": RANGE,
        }


class FeedbackFilter(UtcFilterSet):
    class Meta:
        model = Feedback
        fields = {
            "customer": ["exact"],
            "order": ["exact"],
            "product": ["exact"],
            "channel": ["exact"],
            "rating": RANGE,
            "sentiment_label": ["exact"],
            "complaint_reason": ["exact"],
            "created_at": RANGE,
        }


class InteractionFilter(UtcFilterSet):
    class Meta:
        model = Interaction
        fields = {"customer": ["exact"], "staff": ["exact"], "kind": ["exact"], "occurred_at": RANGE}


for _filterset in (CustomerFilter, ProductFilter, OrderFilter, FeedbackFilter, InteractionFilter):
    _describe(_filterset)


class PiiSearchFilter(SearchFilter):
    """Search on the view's ``search_fields``, without contact details unless the user may see them."""

    def get_search_fields(self, view, request):
        fields = super().get_search_fields(view, request) or ()
        if can_view_pii(request):
            return fields
        return [f for f in fields if f.lstrip("^=@$") not in PII_FIELDS]


class SingleFieldOrderingFilter(OrderingFilter):
    """Ordering by one field (the keyset pagination adds the id as tie-breaker)."""

    ordering_description = _("Sort by one field; prefix with '-' for descending. Ties are ordered by id.")
