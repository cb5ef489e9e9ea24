"""Query filters of the customer-records API (django-filter), search and ordering.

Numbers and dates filter by exact value and ranges (``churn_probability__gte=0.7``), choices by
value. The customers' filters are customers.filters.CustomerFilter, shared with the customer
list page. Contact details (email, phone, birth date) are neither searchable nor filterable
without ``customers.view_pii``: matching on a hidden field would reveal it one guess at a time.
"""

from __future__ import annotations

from rest_framework.filters import SearchFilter

from core.api.filters import RANGE, UtcFilterSet, describe_filters
from customers.filters import FILTERABLE_SCORE_FIELDS
from customers.models import PII_FIELDS, Feedback, Interaction, Order, Product
from customers.permissions import can_view_pii

ORDERABLE_CUSTOMER_FIELDS = (
    "id",
    "name",
    "created_at",
    "updated_at",
    "signup_date",
    *FILTERABLE_SCORE_FIELDS,
)


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


for _filterset in (ProductFilter, OrderFilter, FeedbackFilter, InteractionFilter):
    describe_filters(_filterset)


class PiiSearchFilter(SearchFilter):
    """Search on the view's ``search_fields``, without contact details unless the user may see them."""

    def get_search_fields(self, view, request):
        fields = super().get_search_fields(view, request) or ()
        if can_view_pii(request.user):
            return fields
        return [f for f in fields if f.lstrip("^=@$") not in PII_FIELDS]
