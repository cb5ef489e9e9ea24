"""REST endpoints for campaigns and service tasks: parse, call a service or selector, render."""
from __future__ import annotations

from django.db import transaction
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.settings import api_settings

from core.api.idempotency import IdempotencyMixin
from core.api.pagination import PagePagination
from core.api.views import IDEMPOTENCY_PARAMETER, ApiViewMixin

from .. import services, tasks
from ..models import ServiceTask
from ..permissions import can_view_members
from ..selectors import (
    audience_breakdown,
    audience_power,
    audience_preview,
    audience_stages,
    campaign_list,
    results_status,
)
from .serializers import (
    AudiencePreviewResultSerializer,
    AudiencePreviewSerializer,
    CampaignMemberSerializer,
    CampaignResultsSerializer,
    CampaignSerializer,
    RefreshQueuedSerializer,
    ServiceTaskCreateSerializer,
    ServiceTaskSerializer,
)

# Services raise Django's ValidationError and PermissionDenied; the core exception handler turns
# them into 400 and 403 in the one error shape, so the views here do not catch them.


@extend_schema_view(create=extend_schema(parameters=[IDEMPOTENCY_PARAMETER]))
class CampaignViewSet(ApiViewMixin, IdempotencyMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin,
                      mixins.CreateModelMixin, mixins.UpdateModelMixin, viewsets.GenericViewSet):
    serializer_class = CampaignSerializer
    pagination_class = PagePagination
    filterset_fields = ["status", "kind", "objective"]

    def get_queryset(self):
        return campaign_list(self.request.user).select_related("launched_by")

    def perform_create(self, serializer):
        data = dict(serializer.validated_data)
        audience = data.pop("audience", {})
        serializer.instance = services.campaign_create(
            created_by=self.request.user, fields=data, audience=audience)

    def perform_update(self, serializer):
        data = dict(serializer.validated_data)
        audience = data.pop("audience", None)
        serializer.instance = services.campaign_update(
            campaign_id=serializer.instance.pk, actor=self.request.user, fields=data,
            audience=audience)

    @extend_schema(request=None, responses=CampaignSerializer)
    @action(detail=True, methods=["post"])
    def launch(self, request, pk=None):
        """Freeze the audience, hold out the control group and hand out offers or tasks."""
        campaign = self.get_object()
        campaign = services.campaign_launch(campaign_id=campaign.pk, launched_by=request.user)
        return Response(self.get_serializer(self.get_queryset().get(pk=campaign.pk)).data)

    @extend_schema(request=AudiencePreviewSerializer, responses=AudiencePreviewResultSerializer)
    @action(detail=False, methods=["post"], url_path="audience-preview")
    def audience_preview(self, request):
        """Audience size, 12-month CLV at stake and the smallest uplift the campaign could detect
        (``power``) for a definition, without saving anything."""
        params = AudiencePreviewSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        data = params.validated_data
        stages = audience_stages(filters=data["audience"], kind=data["kind"], channel=data["channel"],
                                 frequency_cap_days=data["frequency_cap_days"])
        customers = stages[-1][1]
        preview = audience_preview(customers)
        preview["breakdown"] = audience_breakdown(filters=data["audience"], kind=data["kind"], stages=stages)
        preview["power"] = audience_power(
            customers, size=preview["size"], objective=data.get("objective"),
            control_share=float(data["control_share"]), attribution_days=data["attribution_days"])
        return Response(preview)

    @extend_schema(request=None, responses={200: CampaignResultsSerializer, 202: RefreshQueuedSerializer})
    @action(detail=True, methods=["get", "post"])
    def results(self, request, pk=None):
        """GET the stored results; POST queues a refresh (202) and returns what is stored."""
        campaign = self.get_object()
        if campaign.launched_at is None:
            raise serializers.ValidationError(
                {api_settings.NON_FIELD_ERRORS_KEY: ["The campaign has not been launched yet."]})
        if request.method == "POST":
            transaction.on_commit(lambda: tasks.campaign_results_refresh.delay(campaign.pk))
            return Response({"status": "queued"}, status=status.HTTP_202_ACCEPTED)
        reading = results_status(campaign)
        return Response({"id": campaign.pk, "status": campaign.status,
                         "results_updated_at": campaign.results_updated_at,
                         "results": campaign.results, "too_early": reading["too_early"],
                         "tiny_control": reading["tiny_control"]})

    @extend_schema(responses=CampaignMemberSerializer(many=True))
    @action(detail=True, methods=["get"])
    def members(self, request, pk=None):
        if not can_view_members(request.user):
            self.permission_denied(request)
        campaign = self.get_object()
        page = self.paginate_queryset(campaign.members.order_by("pk"))
        return self.get_paginated_response(CampaignMemberSerializer(page, many=True).data)


@extend_schema_view(create=extend_schema(parameters=[IDEMPOTENCY_PARAMETER]))
class ServiceTaskViewSet(ApiViewMixin, IdempotencyMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin,
                         mixins.UpdateModelMixin, viewsets.GenericViewSet):
    """The caller's own service tasks (every task for managers); update status and outcome;
    create one by hand for a customer (no campaign), as on the customer 360."""

    serializer_class = ServiceTaskSerializer
    pagination_class = PagePagination
    filterset_fields = ["status", "campaign"]
    http_method_names = ["get", "post", "patch", "head", "options"]

    def get_queryset(self):
        return ServiceTask.objects.restrict(self.request.user, "view").with_related()

    @extend_schema(request=ServiceTaskCreateSerializer, responses={201: ServiceTaskSerializer})
    def create(self, request):
        params = ServiceTaskCreateSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        data = params.validated_data
        task = services.service_task_create(
            customer_id=data["customer"], actor=request.user, assignee_id=data["assignee"],
            due_on=data["due_on"], note=data["note"])
        task = ServiceTask.objects.with_related().get(pk=task.pk)
        return Response(ServiceTaskSerializer(task).data, status=status.HTTP_201_CREATED)

    def perform_update(self, serializer):
        data = serializer.validated_data
        serializer.instance = services.service_task_update(
            task_id=serializer.instance.pk, actor=self.request.user,
            status=data.get("status", serializer.instance.status), outcome=data.get("outcome"))
