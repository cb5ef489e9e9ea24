"""Size limits of API request bodies, answered in the API's error shape.

Django refuses a body over ``DATA_UPLOAD_MAX_MEMORY_SIZE`` (2.5 MB) with its HTML 400 page, deep
inside the request; the documented bulk endpoints (10,000 records a request) need more. This
middleware decides before the view runs: a view whose class sets ``bulk_body = True`` may take
up to ``API_BULK_MAX_BODY_SIZE``, every other API view up to ``DATA_UPLOAD_MAX_MEMORY_SIZE``; a
larger body gets a JSON 413. It must come before ``CsrfViewMiddleware``, which may read the body.
"""
from __future__ import annotations

import io

from django.conf import settings
from django.http import JsonResponse
from django.utils.translation import gettext as _
from rest_framework import status


def _limit(view_func) -> int | None:
    view_class = getattr(view_func, "cls", None) or getattr(view_func, "view_class", None)
    if getattr(view_class, "bulk_body", False):
        return settings.API_BULK_MAX_BODY_SIZE
    return settings.DATA_UPLOAD_MAX_MEMORY_SIZE


class ApiBodySizeMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        if not request.path.startswith("/api/") or request.method in ("GET", "HEAD", "OPTIONS"):
            return None
        limit = _limit(view_func)
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if limit is not None and length > limit:
            return JsonResponse(
                {"detail": [_("The request body is %(size)s bytes; this endpoint takes at most %(limit)s.")
                            % {"size": length, "limit": limit}]},
                status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE)
        default = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        if default is not None and length > default:
            # A bulk body within its own limit: read it now, so Django's general limit (checked
            # when the body is first read) does not refuse it later.
            request._body = request.read(length)
            request._stream = io.BytesIO(request._body)
        return None
