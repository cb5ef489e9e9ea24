"""Webhook deliveries through a real Celery worker, on PostgreSQL and Redis (``-m services``)."""
from __future__ import annotations

import threading
from datetime import UTC, datetime

import pandas as pd
import pytest
from django.db import connection

from analytics.services.rescore import customer_rescore
from analytics.services.runs import score_run_request
from customers.demo.loader import demo_seed
from customers.models import Customer
from tests.conftest import wait_until
from webhooks import services
from webhooks.models import WebhookDelivery

from .conftest import verify

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _roles(role_groups):
    """Transactional tests flush every table, the role groups the demo logins need included."""


def _wait_for(delivery_id: int, timeout: float = 60) -> WebhookDelivery:
    def finished():
        delivery = WebhookDelivery.objects.get(pk=delivery_id)
        return delivery if delivery.status != WebhookDelivery.Status.PENDING else None

    return wait_until(finished, timeout=timeout, interval=0.3,
                      failure=f"delivery {delivery_id} still pending after {timeout} s")


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


def test_two_rescores_of_a_customer_at_once_report_it_once(receiver, endpoint_for):
    as_of = datetime(2026, 10, 1, tzinfo=UTC)
    demo_seed(n_customers=200, seed=17, as_of=pd.Timestamp("2026-10-01"))
    assert score_run_request(as_of=as_of, run_now=True).status == "succeeded"
    endpoint_for(receiver(200), events=["customer.churn_risk_high"])
    turning = Customer.objects.filter(churn_risk="high").order_by("pk").first()
    Customer.objects.filter(pk=turning.pk).update(churn_risk="medium")

    barrier, errors = threading.Barrier(2), []

    def rescore():
        try:
            barrier.wait()
            customer_rescore(customer_ids=[turning.pk], as_of=as_of)
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=rescore) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert Customer.objects.get(pk=turning.pk).churn_risk == "high"
    reported = [c["id"] for d in WebhookDelivery.objects.all() for c in d.payload["data"]["customers"]]
    assert reported == [turning.pk]
