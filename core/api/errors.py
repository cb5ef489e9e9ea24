"""One error format for the whole API: ``{"field": ["message", ...]}``.

Every error body is an object whose keys name what was wrong (a field, ``items.0.quantity`` for a
nested one, ``non_field_errors`` for the input as a whole, ``detail`` for errors that are not about
the input: authentication, permission, not found, throttling) and whose values are lists of
messages. Clients parse one shape whatever went wrong.

Django's own ``ValidationError`` (raised by services and ``Model.full_clean``) becomes a 400 in
the same shape, and a delete refused by a protected foreign key becomes a 409, so neither reaches
the client as a 500.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import DataError
from django.db.models import ProtectedError, RestrictedError
from django.http import JsonResponse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views import defaults
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import ResolvedComponent
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import exception_handler as drf_exception_handler


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = gettext_lazy("The request conflicts with the current state of the resource.")
    default_code = "conflict"


def flatten_errors(detail: Any, prefix: str = "") -> dict[str, list[str]]:
    """Turn DRF's nested error detail into ``{"dotted.field": [messages]}``."""
    errors: dict[str, list[str]] = {}

    def walk(value: Any, key: str) -> None:
        if isinstance(value, dict):
            for name, inner in value.items():
                # A nested serializer's or list's own errors belong to the field that holds it.
                nested = key if key and name == api_settings.NON_FIELD_ERRORS_KEY else f"{key}.{name}"
                walk(inner, nested if key else str(name))
        elif isinstance(value, (list, tuple)):
            if all(not isinstance(item, (dict, list, tuple)) for item in value):
                errors.setdefault(key or api_settings.NON_FIELD_ERRORS_KEY, []).extend(
                    str(item) for item in value
                )
            else:
                for index, item in enumerate(value):
                    if item:  # DRF reports valid list items as empty dicts
                        walk(item, f"{key}.{index}" if key else str(index))
        else:
            errors.setdefault(key or "detail", []).append(str(value))

    walk(detail, prefix)
    return errors


def _django_validation_detail(exc: DjangoValidationError) -> dict[str, list[str]]:
    if hasattr(exc, "error_dict"):
        return {
            (api_settings.NON_FIELD_ERRORS_KEY if field == "__all__" else field): messages
            for field, messages in exc.message_dict.items()
        }
    return {api_settings.NON_FIELD_ERRORS_KEY: exc.messages}


def exception_handler(exc: Exception, context: dict) -> Response | None:
    """DRF ``EXCEPTION_HANDLER``: DRF's handling, then the one error shape."""
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(_django_validation_detail(exc))
    elif isinstance(exc, DjangoPermissionDenied) and exc.args:
        # A service's refusal says why ("You may not merge customers."); DRF's own conversion
        # would replace that with a generic message.
        exc = exceptions.PermissionDenied(str(exc.args[0]))
    elif isinstance(exc, DataError):
        # A value the database cannot store or compare (out of its range). Validation should
        # have caught it first; answer 400 rather than 500 if it did not.
        exc = exceptions.ValidationError(
            {api_settings.NON_FIELD_ERRORS_KEY: [_("A value is out of the range the database accepts.")]})
    elif isinstance(exc, (ProtectedError, RestrictedError)):
        exc = Conflict(
            _("This record is still referenced by other records (for example orders) and cannot be deleted.")
        )
    response = drf_exception_handler(exc, context)
    if response is None:
        return None  # an unexpected error: let it surface as a 500 and be logged
    response.data = flatten_errors(response.data)
    return response


class ErrorResponseAutoSchema(AutoSchema):
    """drf-spectacular schema that documents the error responses in the one error shape.

    Use it as a view's ``schema`` (or as ``DEFAULT_SCHEMA_CLASS``) so clients, and schemathesis,
    see the error bodies each operation may return.
    """

    ERRORS = {
        "400": gettext_lazy("The input is invalid: each key names a field, each value lists what is wrong."),
        "401": gettext_lazy("No valid credentials were sent."),
        "403": gettext_lazy("The user's role does not allow this."),
        "404": gettext_lazy("No such record, or an invalid cursor."),
        "409": gettext_lazy(
            "Conflicts with the current state (for example a delete of a record still referenced)."
        ),
        "422": gettext_lazy("The Idempotency-Key was used before with a different body."),
        "429": gettext_lazy("Too many requests; retry after the number of seconds in Retry-After."),
    }

    def _error_component(self) -> ResolvedComponent:
        component = ResolvedComponent(
            name="Error",
            type=ResolvedComponent.SCHEMA,
            object="Error",
            schema={
                "type": "object",
                "description": str(
                    gettext_lazy(
                        "Keys name the field at fault (dotted for nested ones, 'non_field_errors' for the "
                        "input as a whole, 'detail' for errors not about a field); values list messages."
                    )
                ),
                "additionalProperties": {"type": "array", "items": {"type": "string"}},
            },
        )
        self.registry.register_on_missing(component)
        return component

    def _get_response_bodies(self, direction="response"):
        bodies = super()._get_response_bodies(direction)
        if direction != "response":
            return bodies
        codes = ["401", "403", "404", "429"]
        if self.method in ("POST", "PUT", "PATCH") or self._is_list_view():
            codes.append("400")
        if self.method == "DELETE":
            codes.append("409")
        if self.method == "POST":
            codes.append("422")
        reference = self._error_component().ref
        for code in sorted(codes):
            bodies.setdefault(
                code,
                {
                    "content": {"application/json": {"schema": reference}},
                    "description": str(self.ERRORS[code]),
                },
            )
        return bodies


def _is_api(request) -> bool:
    return request.path.startswith("/api/")


def permission_denied(request, exception=None):
    """``handler403``: JSON under /api/; elsewhere templates/403.html, which names the user's
    role and links to the pages that role may open."""
    if _is_api(request):
        return JsonResponse({"detail": [_("You do not have permission to perform this action.")]},
                            status=status.HTTP_403_FORBIDDEN)
    return defaults.permission_denied(request, exception)


def not_found(request, exception=None):
    """``handler404``: a path under /api/ that no route matches (``/api/customers/0.5/``) gets the
    API's JSON error, not the HTML page; elsewhere templates/404.html with the navigation."""
    if _is_api(request):
        return JsonResponse({"detail": [_("Not found.")]}, status=status.HTTP_404_NOT_FOUND)
    return defaults.page_not_found(request, exception)


def server_error(request):
    """``handler500``: an unexpected error under /api/ still answers in the API's JSON shape;
    elsewhere templates/500.html, which reads neither the database nor context processors."""
    if _is_api(request):
        return JsonResponse(
            {"detail": [_("A server error occurred.")]}, status=status.HTTP_500_INTERNAL_SERVER_ERROR)
    return defaults.server_error(request)
