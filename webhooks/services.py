"""Webhook writes: endpoints, emitting events, and delivering them with retries.

Delivery is at least once. Each delivery row is sent by a Celery task that carries the attempt
number it is meant to make; the row is the source of truth for which attempt is due, so a message
the broker hands out twice (Redis re-delivers unacknowledged messages after its visibility
timeout, which the longer retry delays exceed) makes no second request. The receiver can still
see an event twice (a worker killed after the receiver answered and before we recorded it), and
deduplicates on the ``X-CRM-Event-Id`` header.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import logging
import random
import time
import uuid
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _

from core.leases import lease_until

from . import transport
from .models import WebhookAttempt, WebhookDelivery, WebhookEndpoint, WebhookEvent, new_secret
from .transport import HttpAnswer

logger = logging.getLogger(__name__)

# Six attempts: the first, then retries after about 10 s, 1 min, 6 min, 36 min and 3.6 h, so a
# receiver that is down for a deploy or for a few hours still gets the event (the last attempt
# comes about 4 h 20 min after the first); longer than that, something is broken that a person
# must look at, and the delivery is marked failed and can be sent again from the admin or the API.
MAX_ATTEMPTS = 6
RETRY_BASE_SECONDS = 10
RETRY_FACTOR = 6
# Up to this share is added at random to each delay, so the deliveries that failed together
# when a receiver went down do not all come back at the same second.
RETRY_JITTER = 0.1
# Each attempt has WEBHOOK_TIMEOUT_SECONDS in all (resolving, connecting, sending, the answer's
# status and headers: transport.py). A receiver should answer at once and do its work later; one
# that takes longer is treated like one that is down.
# How long an attempt may be in flight before its worker is presumed dead and another may make
# it again: above the task's hard time limit (tasks.py), so a live attempt never loses its claim.
ATTEMPT_LEASE = timedelta(minutes=3)

SIGNATURE_HEADER = "X-CRM-Signature"
EVENT_HEADER = "X-CRM-Event"
EVENT_ID_HEADER = "X-CRM-Event-Id"
ATTEMPT_HEADER = "X-CRM-Delivery-Attempt"
USER_AGENT = "CRM-Webhooks/1.0"

ENDPOINT_FIELDS = ("url", "description", "events", "active")


# --- Endpoints --------------------------------------------------------------------------------

def _check_fields(data: Mapping[str, Any]) -> None:
    unknown = set(data) - set(ENDPOINT_FIELDS)
    if unknown:
        raise TypeError(f"not writable here: {sorted(unknown)}")


@transaction.atomic
def webhook_endpoint_create(*, data: Mapping[str, Any], created_by) -> WebhookEndpoint:
    """A new endpoint with a fresh signing secret (generated here, never chosen by the caller)."""
    _check_fields(data)
    endpoint = WebhookEndpoint(created_by=created_by, **data)
    endpoint.full_clean()
    endpoint.save()
    return endpoint


@transaction.atomic
def webhook_endpoint_update(*, endpoint: WebhookEndpoint, data: Mapping[str, Any]) -> WebhookEndpoint:
    """Change the URL, description, events or active flag. Deliveries already made keep theirs."""
    _check_fields(data)
    # Locked for the change; deleted meanwhile (another request), it is simply not there any more.
    current = WebhookEndpoint.objects.select_for_update().filter(pk=endpoint.pk).first()
    if current is None:
        raise Http404(_("This webhook endpoint does not exist any more."))
    endpoint = current
    changed = [name for name, value in data.items() if getattr(endpoint, name) != value]
    if not changed:
        return endpoint
    for name in changed:
        setattr(endpoint, name, data[name])
    endpoint.full_clean()
    endpoint.save(update_fields=changed)
    return endpoint


@transaction.atomic
def webhook_endpoint_rotate_secret(*, endpoint: WebhookEndpoint) -> WebhookEndpoint:
    """Replace the signing secret; attempts from now on are signed with the new one."""
    endpoint.secret = new_secret()
    endpoint.save(update_fields=["secret"])
    return endpoint


@transaction.atomic
def webhook_endpoint_delete(*, endpoint: WebhookEndpoint) -> None:
    """Delete the endpoint and its delivery log; a pending delivery is then not attempted."""
    endpoint.delete()


def subscribed_endpoints(event_type: str) -> list[WebhookEndpoint]:
    # Endpoints are few; filtering the JSON list in Python works the same on every database.
    active = WebhookEndpoint.objects.filter(active=True).order_by("pk")
    return [endpoint for endpoint in active if endpoint.subscribes_to(event_type)]


# --- Emitting ---------------------------------------------------------------------------------

def _queue(delivery_id: int, attempt: int = 1) -> None:
    from .tasks import webhook_delivery_send

    # After commit: nothing is sent for a change that is rolled back, and the worker finds the row.
    transaction.on_commit(partial(webhook_delivery_send.delay, delivery_id, attempt))


def _envelope(event_type: str, event_id: uuid.UUID, data: Mapping[str, Any], now: datetime) -> dict:
    envelope = {"id": str(event_id), "type": str(event_type), "created_at": now.isoformat(), "data": data}
    # Through JSON once, so dates and decimals are stored as the strings the receiver will see.
    return json.loads(json.dumps(envelope, cls=DjangoJSONEncoder))


@transaction.atomic
def webhook_event_emit(*, event_type: str, data: Mapping[str, Any],
                       endpoints: Iterable[WebhookEndpoint] | None = None) -> list[WebhookDelivery]:
    """Record one event for every active endpoint subscribed to it and queue its delivery.

    The deliveries share one event id. Payloads must hold no contact details (no email, no phone):
    the callers build them from ids, external ids and scores.
    """
    targets = list(endpoints) if endpoints is not None else subscribed_endpoints(event_type)
    if not targets:
        return []
    now = timezone.now()
    event_id = uuid.uuid4()
    payload = _envelope(event_type, event_id, data, now)
    deliveries = WebhookDelivery.objects.bulk_create([
        WebhookDelivery(endpoint=endpoint, event_type=event_type, event_id=event_id, payload=payload,
                        next_attempt_at=now)
        for endpoint in targets
    ])
    for delivery in deliveries:
        _queue(delivery.pk)
    return deliveries


def webhook_ping(*, endpoint: WebhookEndpoint) -> WebhookDelivery:
    """Send a test event to one endpoint, whatever it subscribes to and even when inactive."""
    data = {"endpoint_id": endpoint.pk, "message": "Test event from the CRM."}
    return webhook_event_emit(event_type=WebhookEvent.PING, data=data, endpoints=[endpoint])[0]


@transaction.atomic
def webhook_delivery_redeliver(*, delivery: WebhookDelivery) -> WebhookDelivery:
    """Send a finished delivery's event again, as a new delivery with the same event id."""
    if delivery.status == WebhookDelivery.Status.PENDING:
        raise ValidationError(
            {"status": _("This delivery is still pending; wait until it succeeds or fails.")})
    again = WebhookDelivery.objects.create(
        endpoint_id=delivery.endpoint_id, event_type=delivery.event_type, event_id=delivery.event_id,
        payload=delivery.payload, redelivery_of=delivery, next_attempt_at=timezone.now())
    _queue(again.pk)
    return again


# --- Delivering -------------------------------------------------------------------------------

def signature(*, secret: str, timestamp: int, body: bytes) -> str:
    """``sha256=<hex>``: HMAC-SHA256 of ``"<timestamp>.<body>"`` keyed with the endpoint's secret.

    The timestamp is inside the signed text so a receiver can refuse old (replayed) requests.
    """
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"sha256={mac.hexdigest()}"


def _body(payload: Mapping[str, Any]) -> bytes:
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()


def _post(url: str, body: bytes, headers: Mapping[str, str]) -> HttpAnswer:
    return transport.post(url, body, headers, deadline_seconds=settings.WEBHOOK_TIMEOUT_SECONDS,
                          allow_private=settings.WEBHOOK_ALLOW_PRIVATE_HOSTS)


def retry_delay(attempt: int) -> float:
    """Seconds to wait after failed attempt ``attempt`` (1-based): exponential, with jitter."""
    delay = RETRY_BASE_SECONDS * RETRY_FACTOR ** (attempt - 1)
    return delay * (1 + random.uniform(0, RETRY_JITTER))


def _outcome(answer: HttpAnswer, attempt: int) -> tuple[str, float | None]:
    """(outcome, seconds until the next attempt or None)."""
    code = answer.status_code
    if code is not None and 200 <= code < 300:
        return WebhookAttempt.Outcome.SUCCEEDED, None
    # Network errors, 5xx and 429 are the receiver's temporary trouble; any other answer
    # (a 3xx, 400, 401, 404...) will be the same next time.
    retryable = answer.network_error or (code is not None and (code >= 500 or code == 429))
    if not retryable or attempt >= MAX_ATTEMPTS:
        return WebhookAttempt.Outcome.FAILED, None
    delay = retry_delay(attempt)
    if answer.retry_after is not None:
        delay = max(delay, answer.retry_after)
    return WebhookAttempt.Outcome.RETRY, delay


def _claim(delivery_id: int, attempt: int) -> WebhookDelivery | None:
    """Take attempt ``attempt`` of the delivery, or None when it is not this message's to make.

    It is this message's when the previous attempts are recorded (``attempts == attempt - 1``),
    or when this same attempt was claimed by a worker that died (its lease has run out). Anything
    else is a duplicate or stale message, or a finished delivery.
    """
    with transaction.atomic():
        delivery = (WebhookDelivery.objects.select_for_update().select_related("endpoint")
                    .filter(pk=delivery_id).first())
        if delivery is None or delivery.status != WebhookDelivery.Status.PENDING:
            return None
        now = timezone.now()
        lost = delivery.attempts == attempt and delivery.lease_expired(now)
        if delivery.attempts != attempt - 1 and not lost:
            return None
        if not delivery.endpoint.active and delivery.event_type != WebhookEvent.PING:
            delivery.status = WebhookDelivery.Status.FAILED
            delivery.last_response = _("Not sent: the endpoint was deactivated.")
            delivery.finished_at, delivery.next_attempt_at, delivery.locked_until = now, None, None
            delivery.save(update_fields=["status", "last_response", "finished_at", "next_attempt_at",
                                         "locked_until"])
            return None
        delivery.attempts = attempt
        delivery.last_attempt_at = now
        delivery.locked_until = lease_until(ATTEMPT_LEASE, now)
        delivery.next_attempt_at = None
        delivery.save(update_fields=["attempts", "last_attempt_at", "locked_until", "next_attempt_at"])
        return delivery


@transaction.atomic
def _record(delivery_id: int, attempt: int, started_at: datetime, duration_ms: int,
            answer: HttpAnswer, outcome: str, retry_in: float | None) -> bool:
    delivery = WebhookDelivery.objects.select_for_update().filter(pk=delivery_id).first()
    if delivery is None or delivery.attempts != attempt or delivery.status != WebhookDelivery.Status.PENDING:
        return False  # deleted with its endpoint meanwhile, or another worker took the attempt over
    WebhookAttempt.objects.create(delivery=delivery, number=attempt, started_at=started_at,
                                  duration_ms=duration_ms, status_code=answer.status_code,
                                  response=answer.text, outcome=outcome)
    now = timezone.now()
    delivery.last_status_code = answer.status_code
    delivery.last_response = answer.text
    delivery.locked_until = None
    if outcome == WebhookAttempt.Outcome.RETRY:
        delivery.next_attempt_at = now + timedelta(seconds=retry_in)
    else:
        delivery.status = (WebhookDelivery.Status.SUCCEEDED if outcome == WebhookAttempt.Outcome.SUCCEEDED
                           else WebhookDelivery.Status.FAILED)
        delivery.finished_at = now
        delivery.next_attempt_at = None
    delivery.save(update_fields=["last_status_code", "last_response", "locked_until", "next_attempt_at",
                                 "status", "finished_at"])
    return True


def webhook_delivery_attempt(*, delivery_id: int, attempt: int) -> float | None:
    """Make attempt ``attempt`` of a delivery and record it.

    Returns the seconds to wait before the next attempt, or None when there is none to make
    (succeeded, failed for good, or not this message's attempt). The HTTP request is made
    outside any transaction: no row lock is held while a slow receiver answers.
    """
    delivery = _claim(delivery_id, attempt)
    if delivery is None:
        return None
    body = _body(delivery.payload)
    timestamp = int(time.time())
    headers = {
        "Content-Type": "application/json; charset=utf-8",
        "User-Agent": USER_AGENT,
        EVENT_HEADER: delivery.event_type,
        EVENT_ID_HEADER: str(delivery.event_id),
        ATTEMPT_HEADER: str(attempt),
        SIGNATURE_HEADER: f"t={timestamp},"
                          + signature(secret=delivery.endpoint.secret, timestamp=timestamp, body=body),
    }
    started_at = timezone.now()
    clock = time.perf_counter()
    answer = _post(delivery.endpoint.url, body, headers)
    duration_ms = int((time.perf_counter() - clock) * 1000)
    outcome, retry_in = _outcome(answer, attempt)
    if not _record(delivery.pk, attempt, started_at, duration_ms, answer, outcome, retry_in):
        return None
    if outcome != WebhookAttempt.Outcome.SUCCEEDED:
        # The endpoint's id, not its URL: a URL may carry the receiver's own access token.
        logger.warning("webhook delivery %s attempt %s to endpoint %s: %s", delivery.pk, attempt,
                       delivery.endpoint_id, answer.text)
    return retry_in


# Messages lost before a worker took them (the broker was flushed, or the process died between
# the commit and queueing) would leave a delivery pending for ever; the periodic sweep re-queues
# them. It waits this long past the due time so it does not race the message already queued.
RESUME_GRACE = timedelta(minutes=10)


def webhook_deliveries_resume(*, now: datetime | None = None) -> int:
    """Queue again the pending deliveries whose message seems lost. Returns how many."""
    now = now or timezone.now()
    stale = now - RESUME_GRACE
    resumed = 0
    pending = WebhookDelivery.objects.filter(status=WebhookDelivery.Status.PENDING)
    with transaction.atomic():
        # Its worker died mid-attempt: make that attempt again.
        for pk, attempts in pending.abandoned(now).values_list("pk", "attempts"):
            _queue(pk, attempts)
            resumed += 1
        # Between attempts: the message of the next one was lost.
        for pk, attempts in pending.filter(locked_until__isnull=True, next_attempt_at__lt=stale).values_list(
                "pk", "attempts"):
            _queue(pk, attempts + 1)
            resumed += 1
    return resumed
