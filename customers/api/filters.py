"""Query filters of the customer-records API (django-filter), search and ordering.

Numbers and dates filter by exact value and ranges (``churn_probability__gte=0.7``), choices by
value. Contact details (email, phone, birth date) are neither searchable nor filterable without
``customers.view_pii``: matching on a hidden field would reveal it one guess at a time.
"""

from __future__ import annotations

import django_filters
from django.utils.translation import gettext_lazy as _
from rest_framework.filters import SearchFilter

from core.api.filters import RANGE, UtcFilterSet, describe_filters, model_lookups
from customers.models import PII_FIELDS, SCORE_FIELDS, Customer, Feedback, Interaction, Order, Product
from customers.permissions import can_view_pii

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


class PiiFilterSetMixin:
    """Drops the contact-detail filters for users without ``customers.view_pii``."""

    pii_filters: tuple[str, ...] = ()

    def __init__(self, *args, request=None, **kwargs):
        super().__init__(*args, request=request, **kwargs)
        if not can_view_pii(request.user):
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
            **model_lookups(Customer, FILTERABLE_SCORE_FIELDS),
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
    describe_filters(_filterset)


class PiiSearchFilter(SearchFilter):
    """Search on the view's ``search_fields``, without contact details unless the user may see them."""

    def get_search_fields(self, view, request):
        fields = super().get_search_fields(view, request) or ()
        if can_view_pii(request.user):
            return fields
        return [f for f in fields if f.lstrip("^=@$") not in PII_FIELDS]
