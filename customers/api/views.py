"""Viewsets of the customer-records API: parse with a serializer, call a service, render.

Each list runs a fixed number of queries whatever its length (related rows are selected or
prefetched up front); each write goes through a service in ``customers.records`` or
``customers.services``, the same ones the staff UI and the imports use.
"""

from __future__ import annotations

from django.db.models import Prefetch
from django.utils.translation import gettext_lazy as _
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework.decorators import action

from core.api.filters import SingleFieldOrderingFilter
from core.api.views import IDEMPOTENCY_PARAMETER, RecordViewSet
from customers import records
from customers.filters import CustomerFilter
from customers.models import Customer, Feedback, Interaction, Order, OrderItem, Product
from customers.services import (
    feedback_delete,
    feedback_record,
    feedback_update,
    interaction_delete,
    interaction_log,
    interaction_update,
)

from . import filters
from .serializers import (
    CustomerSerializer,
    CustomerUpsertSerializer,
    FeedbackSerializer,
    InteractionSerializer,
    OrderSerializer,
    OrderUpsertSerializer,
    ProductSerializer,
    ProductUpsertSerializer,
)


@extend_schema_view(
    create=extend_schema(parameters=[IDEMPOTENCY_PARAMETER]),
    destroy=extend_schema(
        description=str(_("Delete a customer who has no orders, feedback or interactions; otherwise 409."))
    ),
)
class CustomerViewSet(RecordViewSet):
    """Customers with their scores. Score fields are read-only: the analytics pipeline writes them."""

    queryset = Customer.objects.all()
    serializer_class = CustomerSerializer
    filterset_class = CustomerFilter  # shared with the customer list page
    filter_backends = (DjangoFilterBackend, filters.PiiSearchFilter, SingleFieldOrderingFilter)
    search_fields = ("name", "=external_id", "email", "=phone")
    ordering_fields = filters.ORDERABLE_CUSTOMER_FIELDS

    def perform_create(self, serializer):
        serializer.instance = records.customer_create(data=serializer.validated_data)

    def perform_update(self, serializer):
        serializer.instance = records.customer_update(
            customer=serializer.instance, data=serializer.validated_data
        )

    @extend_schema(
        request=CustomerUpsertSerializer,
        responses={200: CustomerSerializer, 201: CustomerSerializer},
        parameters=[
            OpenApiParameter(
                "external_id",
                OpenApiTypes.STR,
                OpenApiParameter.PATH,
                description=str(_("The customer's id in the source system.")),
            )
        ],
        description=str(
            _(
                "Create the customer with this external id, or update it (201 or 200). "
                "Fields left out keep their values."
            )
        ),
    )
    @action(
        detail=False,
        methods=["put"],
        url_path=r"by-external-id/(?P<external_id>[^/]+)",
        serializer_class=CustomerUpsertSerializer,
    )
    def upsert(self, request, external_id: str):
        exists = Customer.objects.filter(external_id=external_id).exists()
        if not exists:
            self._require_add(Customer)
        serializer = CustomerUpsertSerializer(data=request.data, context=self.get_serializer_context())
        serializer.is_valid(raise_exception=True)
        customer, created = records.customer_upsert(external_id=external_id, data=serializer.validated_data)
        return self._respond(customer, created, CustomerSerializer)


@extend_schema_view(create=extend_schema(parameters=[IDEMPOTENCY_PARAMETER]))
class ProductViewSet(RecordViewSet):
    """The catalogue. An integration keeps it in step with PUT /api/products/by-sku/<sku>/."""

    queryset = Product.objects.all()
    serializer_class = ProductSerializer
    filterset_class = filters.ProductFilter
    filter_backends = (DjangoFilterBackend, filters.PiiSearchFilter, SingleFieldOrderingFilter)
    search_fields = ("=sku", "name")
    ordering_fields = ("id", "sku", "name", "price")

    def perform_create(self, serializer):
        serializer.instance = records.product_create(data=serializer.validated_data)

    def perform_update(self, serializer):
        serializer.instance = records.product_update(
            product=serializer.instance, data=serializer.validated_data
        )

    @extend_schema(
        request=ProductUpsertSerializer,
        responses={200: ProductSerializer, 201: ProductSerializer},
        parameters=[
            OpenApiParameter(
                "sku", OpenApiTypes.STR, OpenApiParameter.PATH, description=str(_("The product's SKU."))
            )
        ],
        description=str(_("Create the product with this SKU, or update it (201 or 200).")),
    )
    @action(
        detail=False,
        methods=["put"],
        url_path=r"by-sku/(?P<sku>[^/]+)",
        serializer_class=ProductUpsertSerializer,
    )
    def upsert(self, request, sku: str):
        if not Product.objects.filter(sku=sku).exists():
            self._require_add(Product)
        serializer = ProductUpsertSerializer(data=request.data, context=self.get_serializer_context())
        serializer.is_valid(raise_exception=True)
        product, created = records.product_upsert(sku=sku, data=serializer.validated_data)
        return self._respond(product, created, ProductSerializer)


def _order_queryset():
    # The lines and their products in one more query for the whole page.
    return Order.objects.prefetch_related(
        Prefetch("items", queryset=OrderItem.objects.select_related("product").order_by("id"))
    )


@extend_schema_view(create=extend_schema(parameters=[IDEMPOTENCY_PARAMETER]))
class OrderViewSet(RecordViewSet):
    """Orders with their lines, created in one request; the total is checked or computed."""

    queryset = _order_queryset()
    serializer_class = OrderSerializer
    filterset_class = filters.OrderFilter
    ordering_fields = ("id", "ordered_at", "total_amount")

    def _fields(self, data):
        return {name: value for name, value in data.items() if name != "items"}

    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        order = records.order_create(
            customer=data["customer"],
            ordered_at=data["ordered_at"],
            lines=data["items"],
            total_amount=data.get("total_amount"),
            external_id=data.get("external_id"),
            channel=data.get("channel", ""),
            status=data.get("status", ""),
        )
        return self._respond(_order_queryset().get(pk=order.pk), created=True)

    def update(self, request, *args, **kwargs):
        partial = kwargs.pop("partial", False)
        order = self.get_object()
        serializer = self.get_serializer(order, data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        records.order_update(order=order, data=self._fields(data), lines=data.get("items"))
        return self._respond(_order_queryset().get(pk=order.pk), created=False)

    @extend_schema(
        request=OrderUpsertSerializer,
        responses={200: OrderSerializer, 201: OrderSerializer},
        parameters=[
            OpenApiParameter(
                "external_id",
                OpenApiTypes.STR,
                OpenApiParameter.PATH,
                description=str(_("The order's id in the source system.")),
            )
        ],
        description=str(
            _("Create the order with this external id, or replace it and all its lines (201 or 200).")
        ),
    )
    @action(
        detail=False,
        methods=["put"],
        url_path=r"by-external-id/(?P<external_id>[^/]+)",
        serializer_class=OrderUpsertSerializer,
    )
    def upsert(self, request, external_id: str):
        if not Order.objects.filter(external_id=external_id).exists():
            self._require_add(Order)
        serializer = OrderUpsertSerializer(data=request.data, context=self.get_serializer_context())
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        order, created = records.order_upsert(
            external_id=external_id,
            customer=data["customer"],
            ordered_at=data["ordered_at"],
            lines=data["items"],
            total_amount=data.get("total_amount"),
            channel=data.get("channel", ""),
            status=data.get("status", ""),
        )
        return self._respond(_order_queryset().get(pk=order.pk), created, OrderSerializer)


FEEDBACK_CHANGE = str(_("Change feedback; a new text or rating is analysed again and the customer rescored."))


@extend_schema_view(
    create=extend_schema(
        parameters=[IDEMPOTENCY_PARAMETER],
        description=str(_("Store feedback; its sentiment is analysed in the background once it is saved.")),
    ),
    update=extend_schema(description=FEEDBACK_CHANGE),
    partial_update=extend_schema(description=FEEDBACK_CHANGE),
    destroy=extend_schema(description=str(_("Delete feedback; its customer is rescored without it."))),
)
class FeedbackViewSet(RecordViewSet):
    """Customer feedback with the sentiment and complaint reason found in it."""

    queryset = Feedback.objects.all()
    serializer_class = FeedbackSerializer
    filterset_class = filters.FeedbackFilter
    ordering_fields = ("id", "created_at", "rating")

    def perform_create(self, serializer):
        data = serializer.validated_data
        serializer.instance = feedback_record(
            customer=data["customer"],
            text=data.get("text", ""),
            rating=data.get("rating"),
            created_at=data.get("created_at"),
            channel=data.get("channel", ""),
            order=data.get("order"),
            product=data.get("product"),
        )

    def perform_update(self, serializer):
        serializer.instance = feedback_update(feedback=serializer.instance, data=serializer.validated_data)

    def perform_destroy(self, instance):
        feedback_delete(feedback=instance)


@extend_schema_view(
    create=extend_schema(parameters=[IDEMPOTENCY_PARAMETER]),
    destroy=extend_schema(
        description=str(_("Delete a logged interaction; its customer is rescored without it."))
    ),
)
class InteractionViewSet(RecordViewSet):
    """Calls, emails, chats, visits and complaints logged with customers."""

    queryset = Interaction.objects.all()
    serializer_class = InteractionSerializer
    filterset_class = filters.InteractionFilter
    ordering_fields = ("id", "occurred_at")

    def perform_create(self, serializer):
        data = serializer.validated_data
        serializer.instance = interaction_log(
            customer=data["customer"],
            staff=self.request.user,
            kind=data["kind"],
            occurred_at=data.get("occurred_at"),
            outcome=data.get("outcome", ""),
            note=data.get("note", ""),
        )

    def perform_update(self, serializer):
        serializer.instance = interaction_update(
            interaction=serializer.instance, data=serializer.validated_data, user=self.request.user
        )

    def perform_destroy(self, instance):
        interaction_delete(interaction=instance, user=self.request.user)


__all__ = ["CustomerViewSet", "FeedbackViewSet", "InteractionViewSet", "OrderViewSet", "ProductViewSet"]
