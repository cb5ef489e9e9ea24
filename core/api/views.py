"""The base classes of every API view: authentication, role permissions, throttling, the one
error shape, idempotent POSTs and keyset pagination, set once here.
"""

from __future__ import annotations

from django.db import transaction
from django.utils.translation import gettext_lazy as _
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework import status, viewsets
from rest_framework.authentication import SessionAuthentication, TokenAuthentication
from rest_framework.exceptions import PermissionDenied
from rest_framework.metadata import SimpleMetadata
from rest_framework.response import Response

from .errors import ErrorResponseAutoSchema, exception_handler
from .filters import SingleFieldOrderingFilter
from .idempotency import IdempotencyMixin
from .pagination import KeysetPagination
from .permissions import RoleModelPermissions
from .throttling import ApiUserRateThrottle

IDEMPOTENCY_PARAMETER = OpenApiParameter(
    "Idempotency-Key",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    required=False,
    description=str(
        _(
            "Makes a retried POST safe: the first successful response is replayed for 24 h "
            "for the same key and body; the same key with another body gets 422."
        )
    ),
)


class ApiMetadata(SimpleMetadata):
    """``OPTIONS`` on every endpoint. To describe ``PUT`` DRF first looks the object up by its
    primary key; an upsert route (``by-external-id/<id>``, ``by-sku/<sku>``) has no primary key in
    its URL (it creates the record when absent), so its input is described without the lookup."""

    def determine_actions(self, request, view):
        lookup = getattr(view, "lookup_url_kwarg", None) or getattr(view, "lookup_field", None)
        if lookup is None or lookup in getattr(view, "kwargs", {}) or not hasattr(view, "get_object"):
            return super().determine_actions(request, view)
        view.get_object = lambda: None  # this request's view instance only
        try:
            return super().determine_actions(request, view)
        finally:
            del view.get_object


class ApiViewMixin:
    """Authentication, permissions, throttling and the error format of every endpoint here.

    Set on the views rather than relying on ``REST_FRAMEWORK`` settings alone, so the API behaves
    the same whatever the settings file says: token first, so an anonymous request gets 401 with
    a ``WWW-Authenticate: Token`` challenge.
    """

    authentication_classes = (TokenAuthentication, SessionAuthentication)
    permission_classes = (RoleModelPermissions,)
    throttle_classes = (ApiUserRateThrottle,)
    schema = ErrorResponseAutoSchema()
    metadata_class = ApiMetadata

    def get_exception_handler(self):
        return exception_handler


class RecordViewSet(ApiViewMixin, IdempotencyMixin, viewsets.ModelViewSet):
    pagination_class = KeysetPagination
    filter_backends = (DjangoFilterBackend, SingleFieldOrderingFilter)
    ordering = "id"
    http_method_names = ("get", "post", "put", "patch", "delete", "head", "options")

    def dispatch(self, request, *args, **kwargs):
        """A write is all or nothing: an error answer (4xx, or a 500 raised out of here) leaves
        nothing saved, so a client's retry with the same Idempotency-Key cannot save a copy."""
        if request.method in ("GET", "HEAD", "OPTIONS"):
            return super().dispatch(request, *args, **kwargs)
        with transaction.atomic():
            response = super().dispatch(request, *args, **kwargs)
            if response.status_code >= 400:
                transaction.set_rollback(True)
        return response

    def _respond(self, instance, created: bool, serializer_class=None) -> Response:
        serializer_class = serializer_class or self.get_serializer_class()
        data = serializer_class(instance, context=self.get_serializer_context()).data
        return Response(data, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)

    def _require_add(self, model) -> None:
        # PUT needs "change"; an upsert that creates also needs "add".
        codename = f"{model._meta.app_label}.add_{model._meta.model_name}"
        if not self.request.user.has_perm(codename):
            raise PermissionDenied(_("You may update but not create these records."))


class ReadOnlyViewSet(ApiViewMixin, viewsets.ReadOnlyModelViewSet):
    """A read-only list and detail in the house manner (keyset pagination, one-field ordering)."""

    pagination_class = KeysetPagination
    filter_backends = (DjangoFilterBackend, SingleFieldOrderingFilter)
    ordering = "id"
