"""REST API of the webhooks under /api/webhooks/: endpoints, their delivery log, ping, redeliver.

Every operation needs the webhook model permissions, which only the Manager role holds. The
signing secret is in the answer to the create and to the secret endpoints, never in a list.
"""
from __future__ import annotations

from django.db.models import Prefetch
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied
from rest_framework.response import Response

from core.api import filters
from core.api.idempotency import IdempotencyMixin
from core.api.views import IDEMPOTENCY_PARAMETER, ReadOnlyViewSet, RecordViewSet
from customers.api.serializers import DescribedModelSerializer

from . import services
from .models import SUBSCRIBABLE_EVENTS, WebhookAttempt, WebhookDelivery, WebhookEndpoint

SECRET_PERMISSION = "webhooks.change_webhookendpoint"


class WebhookEndpointSerializer(DescribedModelSerializer):
    events = serializers.ListField(
        child=serializers.ChoiceField(choices=[(e.value, e.label) for e in SUBSCRIBABLE_EVENTS]),
        allow_empty=False, max_length=len(SUBSCRIBABLE_EVENTS) * 2,
        help_text=_("The event types sent to this endpoint: customer.churn_risk_high, campaign.finished."))

    class Meta:
        model = WebhookEndpoint
        fields = ("id", "url", "description", "events", "active", "created_by", "created_at")
        read_only_fields = ("created_by", "created_at")
        extra_kwargs = {
            "url": {"help_text": _("Where events are POSTed (http or https); each request is signed.")},
            "description": {"help_text": _("What this endpoint is for, for the people managing it.")},
            "active": {"help_text": _("Inactive endpoints receive no events; their pending retries stop.")},
            "created_by": {"help_text": _("Id of the user who created the endpoint.")},
            "created_at": {"help_text": _("When the endpoint was created.")},
        }


SECRET_HELP = _("Key of the HMAC-SHA256 signature in the X-CRM-Signature header. Keep it secret.")


class WebhookEndpointCreatedSerializer(WebhookEndpointSerializer):
    secret = serializers.CharField(read_only=True, help_text=SECRET_HELP)

    class Meta(WebhookEndpointSerializer.Meta):
        fields = (*WebhookEndpointSerializer.Meta.fields, "secret")


class WebhookSecretSerializer(serializers.Serializer):
    secret = serializers.CharField(read_only=True, help_text=SECRET_HELP)


class WebhookAttemptSerializer(DescribedModelSerializer):
    class Meta:
        model = WebhookAttempt
        fields = ("number", "started_at", "duration_ms", "status_code", "outcome", "response")
        read_only_fields = fields
        extra_kwargs = {
            "number": {"help_text": _("1 for the first attempt, 2 for the first retry, ...")},
            "status_code": {
                "help_text": _("HTTP status the receiver answered; empty after a network error.")},
            "response": {"help_text": _("The attempt's status, such as HTTP 503 (server error) or timed "
                                        "out; the receiver's answer itself is never kept.")},
            "outcome": {"help_text": _("Succeeded, failed and retried later, or failed for good.")},
        }


DELIVERY_FIELDS = ("id", "endpoint", "event_type", "event_id", "status", "attempts", "last_status_code",
                   "last_response", "created_at", "last_attempt_at", "next_attempt_at", "finished_at",
                   "redelivery_of")
DELIVERY_HELP = {
    "endpoint": {"help_text": _("Id of the endpoint the event is sent to.")},
    "event_type": {
        "help_text": _("What happened: customer.churn_risk_high, campaign.finished or webhook.ping.")},
    "event_id": {"help_text": _("The event's id, sent as X-CRM-Event-Id; the same on every retry and "
                                "redelivery, so receivers can drop duplicates.")},
    "status": {"help_text": _("Pending until an attempt succeeds or the attempts run out.")},
    "attempts": {"help_text": _("Attempts made so far (at most 6).")},
    "last_status_code": {"help_text": _("HTTP status of the last attempt; empty after a network error.")},
    "last_response": {"help_text": _("The last attempt's status, such as HTTP 503 (server error) or "
                                     "timed out; the receiver's answer itself is never kept.")},
    "next_attempt_at": {"help_text": _("When the next attempt is due, while the delivery is pending.")},
    "redelivery_of": {"help_text": _("The delivery this one sends again, if it is a redelivery.")},
}


class WebhookDeliverySerializer(DescribedModelSerializer):
    class Meta:
        model = WebhookDelivery
        fields = DELIVERY_FIELDS
        read_only_fields = fields
        extra_kwargs = DELIVERY_HELP


class WebhookDeliveryDetailSerializer(WebhookDeliverySerializer):
    payload = serializers.JSONField(read_only=True, help_text=_(
        "The JSON body sent: id, type, created_at and data. It holds ids and scores, no contact details."))
    attempt_log = WebhookAttemptSerializer(many=True, read_only=True,
                                           help_text=_("Every attempt, first first."))

    class Meta(WebhookDeliverySerializer.Meta):
        fields = (*DELIVERY_FIELDS, "payload", "attempt_log")


class WebhookDeliveryFilter(filters.UtcFilterSet):
    class Meta:
        model = WebhookDelivery
        fields = {"endpoint": ["exact"], "status": ["exact"], "event_type": ["exact"], "event_id": ["exact"],
                  "created_at": filters.RANGE}


filters.describe_filters(WebhookDeliveryFilter)


@extend_schema_view(
    create=extend_schema(parameters=[IDEMPOTENCY_PARAMETER],
                         responses={201: WebhookEndpointCreatedSerializer},
                         description=str(_("Create an endpoint. The answer holds its signing secret."))),
    destroy=extend_schema(description=str(_("Delete an endpoint with its delivery log."))),
)
class WebhookEndpointViewSet(RecordViewSet):
    """Endpoints that receive signed webhook events."""

    queryset = WebhookEndpoint.objects.all()
    serializer_class = WebhookEndpointSerializer
    ordering_fields = ("id",)

    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        endpoint = services.webhook_endpoint_create(data=serializer.validated_data, created_by=request.user)
        data = WebhookEndpointCreatedSerializer(endpoint, context=self.get_serializer_context()).data
        return Response(data, status=status.HTTP_201_CREATED)

    def perform_update(self, serializer):
        serializer.instance = services.webhook_endpoint_update(endpoint=serializer.instance,
                                                               data=serializer.validated_data)

    def perform_destroy(self, instance):
        services.webhook_endpoint_delete(endpoint=instance)

    def _require_secret_permission(self) -> None:
        # Reading the endpoint is not enough to read or replace the key that signs for it.
        if not self.request.user.has_perm(SECRET_PERMISSION):
            raise PermissionDenied(_("You may not see or change this endpoint's secret."))

    @extend_schema(request=None, responses={200: WebhookSecretSerializer}, filters=False,
                   description=str(_("The endpoint's signing secret.")))
    @action(detail=True, methods=["get"], filter_backends=(), pagination_class=None)
    def secret(self, request, pk=None):
        endpoint = self.get_object()
        self._require_secret_permission()
        return Response({"secret": endpoint.secret})

    @extend_schema(request=None, responses={200: WebhookSecretSerializer},
                   description=str(_("Replace the signing secret; the old one stops signing at once.")))
    @action(detail=True, methods=["post"], url_path="rotate-secret", filter_backends=(),
            pagination_class=None)
    def rotate_secret(self, request, pk=None):
        endpoint = self.get_object()
        self._require_secret_permission()
        endpoint = services.webhook_endpoint_rotate_secret(endpoint=endpoint)
        return Response({"secret": endpoint.secret})

    @extend_schema(request=None, responses={202: WebhookDeliverySerializer},
                   description=str(_("Send a test event (webhook.ping) to this endpoint.")))
    @action(detail=True, methods=["post"], filter_backends=(), pagination_class=None)
    def ping(self, request, pk=None):
        delivery = services.webhook_ping(endpoint=self.get_object())
        return Response(WebhookDeliverySerializer(delivery, context=self.get_serializer_context()).data,
                        status=status.HTTP_202_ACCEPTED)


@extend_schema_view(
    list=extend_schema(description=str(_("The delivery log, newest first; filter by endpoint for one "
                                         "endpoint's deliveries. Payloads are in the detail."))),
)
class WebhookDeliveryViewSet(IdempotencyMixin, ReadOnlyViewSet):
    """Deliveries of webhook events and their attempts."""

    queryset = WebhookDelivery.objects.all()
    serializer_class = WebhookDeliverySerializer
    filterset_class = WebhookDeliveryFilter
    ordering = "-id"
    ordering_fields = ("id", "created_at")

    def get_queryset(self):
        rows = super().get_queryset()
        if self.action == "retrieve":
            return rows.prefetch_related(Prefetch("attempt_log", WebhookAttempt.objects.order_by("number")))
        if self.action == "list":
            return rows.defer("payload")  # up to ~100 KB each: in the detail only
        return rows

    def get_serializer_class(self):
        return WebhookDeliveryDetailSerializer if self.action == "retrieve" else WebhookDeliverySerializer

    @extend_schema(request=None, responses={202: WebhookDeliverySerializer}, filters=False,
                   description=str(_("Send a finished delivery's event again (same event id), as a new "
                                     "delivery. A pending delivery gets 400.")))
    @action(detail=True, methods=["post"], filter_backends=(), pagination_class=None)
    def redeliver(self, request, pk=None):
        again = services.webhook_delivery_redeliver(delivery=self.get_object())
        return Response(WebhookDeliverySerializer(again, context=self.get_serializer_context()).data,
                        status=status.HTTP_202_ACCEPTED)


__all__ = ["WebhookDeliveryViewSet", "WebhookEndpointViewSet"]
