"""``Idempotency-Key`` for POST: a retried request gets the first response instead of a duplicate.

An integration that times out cannot know whether its POST was applied. Sending the same
``Idempotency-Key`` header with the retry makes it safe: the first successful (2xx) response is
kept in the Django cache for 24 hours, keyed by user, key and path, and replayed, with an
``Idempotent-Replayed: true`` header, for every retry with the same body. The same key with a
different body is a client bug and gets 422; a retry that arrives while the first request is
still running gets 409. Error responses are not kept: the client may correct the input and retry
with the same key. A write view runs in one transaction (``core.api.views.RecordViewSet``), so a
request that failed saved nothing and its retry cannot make a second copy.

The cache must be shared by all web processes for this to hold across them (``REDIS_URL``); the
local-memory default only covers one process.
"""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta

from django.core.cache import cache
from django.http.request import RawPostDataException
from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions, status
from rest_framework.response import Response

from core.api.errors import Conflict

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
KEEP_FOR = timedelta(hours=24)
# How long a key stays claimed by a request that has not answered yet. Longer than any POST
# takes; if the process dies mid-request the key frees itself after this.
CLAIM_FOR = timedelta(minutes=2)
MAX_KEY_LENGTH = 255


class IdempotencyKeyReused(exceptions.APIException):
    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    default_detail = _("This Idempotency-Key was already used with a different request body.")
    default_code = "idempotency_key_reused"


class _Replay(Exception):
    def __init__(self, response: Response):
        super().__init__("replay")
        self.response = response


class IdempotencyMixin:
    """Mix into an ``APIView``/viewset before it; applies to the methods in ``idempotent_methods``."""

    idempotent_methods = ("POST",)

    def _idempotency_fingerprint(self, request) -> str:
        try:
            body = request._request.body
        except RawPostDataException:  # already streamed (multipart): use what was parsed
            body = json.dumps(request.data, sort_keys=True, default=str).encode()
        return hashlib.sha256(body).hexdigest()

    def initial(self, request, *args, **kwargs):
        self._idempotency_claim = None
        key = request.headers.get(HEADER)
        fingerprint = None
        if key is not None and request.method in self.idempotent_methods:
            # Read the body before authentication may stream it (CSRF checks read forms).
            fingerprint = self._idempotency_fingerprint(request)
        # Authentication, permissions and throttles first: a replay needs the same rights.
        super().initial(request, *args, **kwargs)
        if fingerprint is None:
            return
        key = key.strip()
        if not key or len(key) > MAX_KEY_LENGTH:
            raise exceptions.ValidationError(
                {HEADER: [_("Must be 1 to %(max)s characters.") % {"max": MAX_KEY_LENGTH}]}
            )
        scope = f"{request.user.pk}\n{key}\n{request.path}"
        cache_key = "idempotency:" + hashlib.sha256(scope.encode()).hexdigest()
        claim = {"fingerprint": fingerprint, "pending": True}
        if cache.add(cache_key, claim, timeout=CLAIM_FOR.total_seconds()):
            self._idempotency_claim = (cache_key, fingerprint)
            return
        stored = cache.get(cache_key)
        if stored is None:  # expired between add and get: treat as first use
            cache.set(cache_key, claim, timeout=CLAIM_FOR.total_seconds())
            self._idempotency_claim = (cache_key, fingerprint)
            return
        if stored["fingerprint"] != fingerprint:
            raise IdempotencyKeyReused()
        if stored.get("pending"):
            raise Conflict(_("A request with this Idempotency-Key is still being processed; retry later."))
        raise _Replay(
            Response(
                stored["data"],
                status=stored["status"],
                headers={**stored["headers"], REPLAYED_HEADER: "true"},
            )
        )

    def handle_exception(self, exc):
        if isinstance(exc, _Replay):
            return exc.response
        try:
            return super().handle_exception(exc)
        except Exception:
            # An unexpected error (a 500): nothing was kept (the write view's transaction rolls
            # back), so free the key at once for the client's retry rather than answering 409
            # until the claim expires.
            claim = getattr(self, "_idempotency_claim", None)
            if claim is not None:
                self._idempotency_claim = None
                cache.delete(claim[0])
            raise

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        claim = getattr(self, "_idempotency_claim", None)
        if claim is None:
            return response
        self._idempotency_claim = None
        cache_key, fingerprint = claim
        if 200 <= response.status_code < 300:
            headers = {name: response[name] for name in ("Location",) if response.has_header(name)}
            cache.set(
                cache_key,
                {
                    "fingerprint": fingerprint,
                    "status": response.status_code,
                    "data": response.data,
                    "headers": headers,
                },
                timeout=KEEP_FOR.total_seconds(),
            )
        else:
            cache.delete(cache_key)
        return response
