"""Webhook deliveries through a real Celery worker, on PostgreSQL and Redis (``-m services``)."""
from __future__ import annotations

import time

import pytest

from customers.webhooks import services
from customers.webhooks.models import WebhookDelivery

from .conftest import verify

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]


def _wait_for(delivery_id: int, timeout: float = 60) -> WebhookDelivery:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        delivery = WebhookDelivery.objects.get(pk=delivery_id)
        if delivery.status != WebhookDelivery.Status.PENDING:
            return delivery
        time.sleep(0.3)
    pytest.fail(f"delivery {delivery_id} still pending after {timeout} s")


def test_the_worker_retries_after_the_backoff_and_logs_both_attempts(celery_worker_process, receiver,
                                                                     endpoint_for):
    target = receiver(503, 200)
    endpoint = endpoint_for(target)
    delivery = services.webhook_ping(endpoint=endpoint)  # committed: the worker gets it now

    done = _wait_for(delivery.pk)
    assert (done.status, done.attempts, done.last_status_code) == ("succeeded", 2, 200)
    first, second = done.attempt_log.order_by("number")
    assert (first.status_code, first.outcome, second.outcome) == (503, "retry", "succeeded")
    # The retry waited for the first backoff step, not a moment more than the broker needs.
    waited = (second.started_at - first.started_at).total_seconds()
    assert services.RETRY_BASE_SECONDS <= waited <= services.RETRY_BASE_SECONDS * 1.1 + 5
    assert all(verify(endpoint.secret, r.headers["X-CRM-Signature"], r.body) for r in target.requests)
    assert [r.headers["X-CRM-Delivery-Attempt"] for r in target.requests] == ["1", "2"]
