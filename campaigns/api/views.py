"""REST endpoints for campaigns and service tasks: parse, call a service or selector, render."""
from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, permissions, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from core.api.idempotency import IdempotencyMixin

from .. import services, tasks
from ..models import ServiceTask
from ..selectors import audience_preview, audience_queryset, campaign_list
from .serializers import (
    AudiencePreviewResultSerializer,
    AudiencePreviewSerializer,
    CampaignMemberSerializer,
    CampaignSerializer,
    ServiceTaskCreateSerializer,
    ServiceTaskSerializer,
)


class ModelPermissions(permissions.DjangoModelPermissions):
    """Django's model permissions, with reads needing ``view_<model>`` too."""

    perms_map = {
        **permissions.DjangoModelPermissions.perms_map,
        "GET": ["%(app_label)s.view_%(model_name)s"],
        "HEAD": ["%(app_label)s.view_%(model_name)s"],
        "OPTIONS": ["%(app_label)s.view_%(model_name)s"],
    }


def _as_api_error(exc: DjangoValidationError) -> serializers.ValidationError:
    if hasattr(exc, "error_dict"):
        return serializers.ValidationError(exc.message_dict)
    return serializers.ValidationError({"detail": exc.messages})


class CampaignViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin,
                      mixins.UpdateModelMixin, viewsets.GenericViewSet):
    serializer_class = CampaignSerializer
    permission_classes = [ModelPermissions]
    filterset_fields = ["status", "kind", "objective"]

    def get_queryset(self):
        return campaign_list(self.request.user).select_related("launched_by")

    def perform_create(self, serializer):
        data = dict(serializer.validated_data)
        audience = data.pop("audience", {})
        try:
            serializer.instance = services.campaign_create(
                created_by=self.request.user, fields=data, audience=audience)
        except DjangoValidationError as exc:
            raise _as_api_error(exc) from exc

    def perform_update(self, serializer):
        data = dict(serializer.validated_data)
        audience = data.pop("audience", None)
        try:
            serializer.instance = services.campaign_update(
                campaign_id=serializer.instance.pk, actor=self.request.user, fields=data,
                audience=audience)
        except DjangoValidationError as exc:
            raise _as_api_error(exc) from exc

    @extend_schema(request=None, responses=CampaignSerializer)
    @action(detail=True, methods=["post"])
    def launch(self, request, pk=None):
        """Freeze the audience, hold out the control group and hand out offers or tasks."""
        campaign = self.get_object()
        try:
            campaign = services.campaign_launch(campaign_id=campaign.pk, launched_by=request.user)
        except DjangoValidationError as exc:
            raise _as_api_error(exc) from exc
        return Response(self.get_serializer(self.get_queryset().get(pk=campaign.pk)).data)

    @extend_schema(request=AudiencePreviewSerializer, responses=AudiencePreviewResultSerializer)
    @action(detail=False, methods=["post"], url_path="audience-preview")
    def audience_preview(self, request):
        """Audience size and 12-month CLV at stake for a definition, without saving anything."""
        params = AudiencePreviewSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        customers = audience_queryset(filters=params.validated_data["audience"],
                                      kind=params.validated_data["kind"],
                                      frequency_cap_days=params.validated_data["frequency_cap_days"])
        return Response(audience_preview(customers))

    @extend_schema(request=None, responses=CampaignSerializer)
    @action(detail=True, methods=["get", "post"])
    def results(self, request, pk=None):
        """GET the stored results; POST queues a refresh (202) and returns what is stored."""
        campaign = self.get_object()
        if campaign.launched_at is None:
            raise serializers.ValidationError({"detail": "The campaign has not been launched yet."})
        if request.method == "POST":
            transaction.on_commit(lambda: tasks.campaign_results_refresh.delay(campaign.pk))
            return Response({"status": "queued"}, status=status.HTTP_202_ACCEPTED)
        return Response({"id": campaign.pk, "status": campaign.status,
                         "results_updated_at": campaign.results_updated_at,
                         "results": campaign.results})

    @extend_schema(responses=CampaignMemberSerializer(many=True))
    @action(detail=True, methods=["get"])
    def members(self, request, pk=None):
        if not request.user.has_perm("campaigns.view_campaignmember"):
            self.permission_denied(request)
        campaign = self.get_object()
        page = self.paginate_queryset(campaign.members.order_by("pk"))
        return self.get_paginated_response(CampaignMemberSerializer(page, many=True).data)


class ServiceTaskViewSet(IdempotencyMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin,
                         mixins.UpdateModelMixin,
                         viewsets.GenericViewSet):
    """The caller's own service tasks (every task for managers); update status and outcome;
    create one by hand for a customer (no campaign), as on the customer 360."""

    serializer_class = ServiceTaskSerializer
    permission_classes = [ModelPermissions]
    filterset_fields = ["status", "campaign"]
    http_method_names = ["get", "post", "patch", "head", "options"]

    def get_queryset(self):
        return ServiceTask.objects.for_queue(self.request.user)

    @extend_schema(request=ServiceTaskCreateSerializer, responses={201: ServiceTaskSerializer})
    def create(self, request):
        params = ServiceTaskCreateSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        data = params.validated_data
        try:
            task = services.service_task_create(
                customer_id=data["customer"], actor=request.user, assignee_id=data["assignee"],
                due_on=data["due_on"], note=data["note"])
        except DjangoValidationError as exc:
            raise _as_api_error(exc) from exc
        task = (ServiceTask.objects.select_related("campaign", "customer", "assignee", "created_by")
                .get(pk=task.pk))
        return Response(ServiceTaskSerializer(task).data, status=status.HTTP_201_CREATED)

    def perform_update(self, serializer):
        data = serializer.validated_data
        try:
            serializer.instance = services.service_task_update(
                task_id=serializer.instance.pk, actor=self.request.user,
                status=data.get("status", serializer.instance.status), outcome=data.get("outcome"))
        except DjangoValidationError as exc:
            raise _as_api_error(exc) from exc
