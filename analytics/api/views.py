"""Viewsets of the analytics API: score runs (read, and start one) and their results (read)."""

from __future__ import annotations

import django_filters
from django.utils.translation import gettext_lazy as _
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import generics, mixins, status, viewsets
from rest_framework.response import Response

from analytics.models import AssociationRule, RealisedAccuracy, Recommendation, ScoreRun, SegmentProfile
from analytics.services.runs import score_run_request
from core.api.filters import SingleFieldOrderingFilter
from core.api.idempotency import IdempotencyMixin
from core.api.pagination import KeysetPagination
from core.api.views import IDEMPOTENCY_PARAMETER, ApiViewMixin
from customers.models import Customer

from .serializers import (
    AssociationRuleSerializer,
    RealisedAccuracySerializer,
    RecommendationSerializer,
    ScoreRunRequestSerializer,
    ScoreRunSerializer,
    SegmentProfileSerializer,
)


class ScoreRunFilter(django_filters.FilterSet):
    class Meta:
        model = ScoreRun
        fields = {"status": ["exact"], "kind": ["exact"]}


@extend_schema_view(
    create=extend_schema(
        request=ScoreRunRequestSerializer,
        responses={202: ScoreRunSerializer},
        parameters=[IDEMPOTENCY_PARAMETER],
        description=str(
            _(
                "Start a full score run in the background, or return the one already queued "
                "or running (only one runs at a time). Follow its progress with GET."
            )
        ),
    ),
)
class ScoreRunViewSet(
    ApiViewMixin,
    IdempotencyMixin,
    mixins.CreateModelMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """Score runs: what each computed, how far it got, how long it took and its model cards."""

    queryset = ScoreRun.objects.all()
    serializer_class = ScoreRunSerializer
    pagination_class = KeysetPagination
    filter_backends = (DjangoFilterBackend, SingleFieldOrderingFilter)
    filterset_class = ScoreRunFilter
    ordering = "-id"
    ordering_fields = ("id",)

    def create(self, request, *args, **kwargs):
        parsed = ScoreRunRequestSerializer(data=request.data)
        parsed.is_valid(raise_exception=True)
        run = score_run_request(as_of=parsed.validated_data.get("as_of"), requested_by=request.user)
        return Response(
            ScoreRunSerializer(run, context=self.get_serializer_context()).data,
            status=status.HTTP_202_ACCEPTED,
        )


class SegmentProfileViewSet(ApiViewMixin, viewsets.ReadOnlyModelViewSet):
    """The value segments found by the last score run (a handful of rows: not paginated)."""

    queryset = SegmentProfile.objects.all()
    serializer_class = SegmentProfileSerializer
    pagination_class = None
    filter_backends = ()


class AssociationRuleFilter(django_filters.FilterSet):
    product = django_filters.NumberFilter(
        method="filter_product", help_text=_("Rules that name this product id on either side.")
    )
    min_lift = django_filters.NumberFilter(
        field_name="lift", lookup_expr="gte", help_text=_("Lift at least this.")
    )
    min_confidence = django_filters.NumberFilter(
        field_name="confidence", lookup_expr="gte", help_text=_("Confidence at least this.")
    )

    class Meta:
        model = AssociationRule
        fields = ("product", "min_lift", "min_confidence")

    def filter_product(self, queryset, name, value):
        # The product ids are JSON lists, which SQLite cannot search by containment. The rules of
        # a run number in the hundreds, so their ids are read and matched here: two queries in all.
        product = int(value)
        matching = [
            pk
            for pk, before, after in queryset.values_list("id", "antecedents", "consequents")
            if product in before or product in after
        ]
        return queryset.filter(pk__in=matching)


class RealisedAccuracyFilter(django_filters.FilterSet):
    class Meta:
        model = RealisedAccuracy
        fields = {"model": ["exact"], "run": ["exact"]}


class RealisedAccuracyViewSet(ApiViewMixin, viewsets.ReadOnlyModelViewSet):
    """How the served predictions turned out: each model's predictions of a run, checked against
    what happened over their horizon (the "How did we do?" page), newest run first."""

    queryset = RealisedAccuracy.objects.select_related("run")
    serializer_class = RealisedAccuracySerializer
    pagination_class = KeysetPagination
    filter_backends = (DjangoFilterBackend, SingleFieldOrderingFilter)
    filterset_class = RealisedAccuracyFilter
    ordering = "-id"
    ordering_fields = ("id",)


class AssociationRuleViewSet(ApiViewMixin, viewsets.ReadOnlyModelViewSet):
    """Bundles: products bought together, strongest (highest lift) first."""

    queryset = AssociationRule.objects.all()
    serializer_class = AssociationRuleSerializer
    pagination_class = KeysetPagination
    filter_backends = (DjangoFilterBackend, SingleFieldOrderingFilter)
    filterset_class = AssociationRuleFilter
    ordering = "-lift"
    ordering_fields = ("id", "lift", "confidence", "support")


class CustomerRecommendationsView(ApiViewMixin, generics.GenericAPIView):
    """``/api/customers/<id>/recommendations/``: served here, beside the model that holds them,
    under the customer's URL (reading it takes the customer view permission)."""

    queryset = Customer.objects.all()
    pagination_class = None
    filter_backends = ()

    @extend_schema(
        responses={200: RecommendationSerializer(many=True)},
        description=str(_("Products recommended to this customer by the last score run, best first.")),
        operation_id="customers_recommendations_retrieve",
        tags=["customers"],
    )
    def get(self, request, pk):
        customer = self.get_object()
        rows = (Recommendation.objects.filter(customer=customer)
                .select_related("product", "because_of").order_by("rank"))
        return Response(RecommendationSerializer(rows, many=True).data)
