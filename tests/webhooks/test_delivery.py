"""Delivering webhooks to a real HTTP receiver: signature, retries, the log, duplicates, rollback."""
from __future__ import annotations

import socket
from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from webhooks import services
from webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEvent
from webhooks.tasks import webhook_delivery_send

from .conftest import verify

pytestmark = pytest.mark.django_db


def queued(endpoint, event_type=WebhookEvent.PING):
    """A delivery recorded and its task queued for a commit that, in a test, does not come."""
    return services.webhook_event_emit(event_type=event_type, data={}, endpoints=[endpoint])[0]


def emit(endpoint, capture, **data):
    with capture(execute=True):
        return services.webhook_event_emit(event_type=WebhookEvent.CAMPAIGN_FINISHED,
                                           data={"campaign": {"id": 1}, **data}, endpoints=[endpoint])[0]


def test_the_request_is_signed_with_the_secret_and_names_the_event(
        receiver, endpoint_for, django_capture_on_commit_callbacks):
    target = receiver(200)
    endpoint = endpoint_for(target)
    delivery = emit(endpoint, django_capture_on_commit_callbacks)

    [request] = target.requests
    header = request.headers["X-CRM-Signature"]
    assert header.startswith("t=") and ",sha256=" in header
    assert verify(endpoint.secret, header, request.body)
    assert not verify("whsec_another-secret", header, request.body)
    assert not verify(endpoint.secret, header, request.body + b" ")  # a changed body fails
    assert request.headers["X-CRM-Event"] == "campaign.finished"
    assert request.headers["X-CRM-Event-Id"] == str(delivery.event_id)
    assert request.headers["Content-Type"].startswith("application/json")
    assert request.json == {"id": str(delivery.event_id), "type": "campaign.finished",
                            "created_at": request.json["created_at"], "data": {"campaign": {"id": 1}}}

    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("succeeded", 1, 200)
    assert delivery.last_response == "HTTP 200 (success)" and delivery.finished_at and delivery.locked_until is None
    [attempt] = delivery.attempt_log.all()
    assert (attempt.number, attempt.status_code, attempt.outcome) == (1, 200, "succeeded")


def test_a_500_is_retried_and_both_attempts_are_logged(receiver, endpoint_for,
                                                       django_capture_on_commit_callbacks):
    target = receiver(500, 200)
    endpoint = endpoint_for(target)
    delivery = emit(endpoint, django_capture_on_commit_callbacks)

    assert [r.headers["X-CRM-Delivery-Attempt"] for r in target.requests] == ["1", "2"]
    assert {r.headers["X-CRM-Event-Id"] for r in target.requests} == {str(delivery.event_id)}
    assert all(verify(endpoint.secret, r.headers["X-CRM-Signature"], r.body) for r in target.requests)
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("succeeded", 2, 200)
    assert list(delivery.attempt_log.values_list("number", "status_code", "outcome")) == [
        (1, 500, "retry"), (2, 200, "succeeded")]


def test_a_400_is_not_retried(receiver, endpoint_for, django_capture_on_commit_callbacks):
    target = receiver(400, 200, body=b'{"error": "unknown event"}')
    delivery = emit(endpoint_for(target), django_capture_on_commit_callbacks)

    assert len(target.requests) == 1
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("failed", 1, 400)
    assert delivery.last_response == "HTTP 400 (client error)"  # the receiver's body is not kept
    assert list(delivery.attempt_log.values_list("outcome", flat=True)) == ["failed"]


def test_a_redirect_is_not_followed(receiver, endpoint_for, django_capture_on_commit_callbacks):
    elsewhere = receiver(200)
    target = receiver(302, headers={"Location": elsewhere.url})
    delivery = emit(endpoint_for(target), django_capture_on_commit_callbacks)
    assert len(target.requests) == 1 and elsewhere.requests == []
    delivery.refresh_from_db()
    assert (delivery.status, delivery.last_status_code) == ("failed", 302)


def test_429_is_retried_until_the_attempts_run_out(receiver, endpoint_for,
                                                   django_capture_on_commit_callbacks):
    target = receiver(429)
    delivery = emit(endpoint_for(target), django_capture_on_commit_callbacks)
    assert len(target.requests) == services.MAX_ATTEMPTS
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("failed", services.MAX_ATTEMPTS)
    assert list(delivery.attempt_log.values_list("outcome", flat=True)) == ["retry"] * 5 + ["failed"]


def test_a_refused_connection_is_a_network_error_and_retried(endpoint_for,
                                                             django_capture_on_commit_callbacks):
    with socket.socket() as probe:  # a port nobody listens on once closed
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]

    class Nowhere:
        url = f"http://127.0.0.1:{port}/hook"

    delivery = emit(endpoint_for(Nowhere), django_capture_on_commit_callbacks)
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("failed", services.MAX_ATTEMPTS)
    assert delivery.last_status_code is None
    assert "refused" in delivery.last_response.lower()


def test_retry_delays_grow_exponentially_with_a_little_jitter():
    for attempt, base in enumerate((10, 60, 360, 2160, 12960), start=1):
        delays = [services.retry_delay(attempt) for _ in range(50)]
        assert all(base <= d <= base * (1 + services.RETRY_JITTER) for d in delays)
        assert len(set(delays)) > 1
    answer = services.HttpAnswer(503, "", retry_after=900)
    assert services._outcome(answer, 1) == ("retry", 900)  # Retry-After beats a shorter backoff
    assert services._outcome(services.HttpAnswer(503, ""), services.MAX_ATTEMPTS) == ("failed", None)
    assert services._outcome(services.HttpAnswer(404, ""), 1) == ("failed", None)


def test_a_pending_retry_records_when_it_is_due(receiver, endpoint_for):
    target = receiver(503)
    delivery = queued(endpoint_for(target))
    before = timezone.now()
    retry_in = services.webhook_delivery_attempt(delivery_id=delivery.pk, attempt=1)
    delivery.refresh_from_db()
    assert delivery.status == "pending" and delivery.attempts == 1 and delivery.locked_until is None
    assert 10 <= retry_in <= 11
    due = delivery.next_attempt_at
    assert before + timedelta(seconds=10) <= due <= timezone.now() + timedelta(seconds=11)


def test_a_duplicate_or_stale_message_sends_nothing(receiver, endpoint_for,
                                                     django_capture_on_commit_callbacks):
    target = receiver(200)
    delivery = emit(endpoint_for(target), django_capture_on_commit_callbacks)
    webhook_delivery_send.apply(args=[delivery.pk, 1])  # the broker hands the message out again
    webhook_delivery_send.apply(args=[delivery.pk, 3])
    webhook_delivery_send.apply(args=[10**9, 1])  # deleted meanwhile
    assert len(target.requests) == 1
    assert WebhookAttempt.objects.filter(delivery=delivery).count() == 1


def test_an_attempt_whose_worker_died_is_made_again_after_its_lease(receiver, endpoint_for):
    target = receiver(200)
    delivery = queued(endpoint_for(target))
    # What a worker killed during the request leaves: attempt 1 claimed, nothing recorded.
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        attempts=1, locked_until=timezone.now() + timedelta(minutes=1))
    webhook_delivery_send.apply(args=[delivery.pk, 1])
    assert target.requests == []  # still within its lease: the first worker may be alive
    WebhookDelivery.objects.filter(pk=delivery.pk).update(locked_until=timezone.now() - timedelta(seconds=1))
    webhook_delivery_send.apply(args=[delivery.pk, 1])
    assert len(target.requests) == 1
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("succeeded", 1)


def test_a_rolled_back_transaction_sends_nothing(receiver, endpoint_for, django_capture_on_commit_callbacks):
    target = receiver(200)
    endpoint = endpoint_for(target)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        with pytest.raises(RuntimeError), transaction.atomic():
            queued(endpoint, WebhookEvent.CAMPAIGN_FINISHED)
            raise RuntimeError("the change that raised the event fails")
    assert callbacks == [] and target.requests == []
    assert not WebhookDelivery.objects.exists()


def test_events_go_to_active_subscribers_only(receiver, endpoint_for, django_capture_on_commit_callbacks):
    churn, campaigns, off = receiver(200), receiver(200), receiver(200)
    endpoint_for(churn, events=["customer.churn_risk_high"])
    endpoint_for(campaigns, events=["campaign.finished"])
    endpoint_for(off, events=["campaign.finished"], active=False)
    with django_capture_on_commit_callbacks(execute=True):
        services.webhook_event_emit(event_type=WebhookEvent.CAMPAIGN_FINISHED, data={})
    assert (len(churn.requests), len(campaigns.requests), len(off.requests)) == (0, 1, 0)


def test_a_deactivated_endpoint_gets_no_retry_but_still_a_ping(receiver, endpoint_for,
                                                               django_capture_on_commit_callbacks):
    target = receiver(200)
    endpoint = endpoint_for(target)
    pending = queued(endpoint, WebhookEvent.CAMPAIGN_FINISHED)
    services.webhook_endpoint_update(endpoint=endpoint, data={"active": False})
    webhook_delivery_send.apply(args=[pending.pk, 1])
    pending.refresh_from_db()
    assert pending.status == "failed" and "deactivated" in pending.last_response and target.requests == []
    with django_capture_on_commit_callbacks(execute=True):
        services.webhook_ping(endpoint=endpoint)
    assert [r.headers["X-CRM-Event"] for r in target.requests] == ["webhook.ping"]


def test_the_sweep_queues_deliveries_whose_message_was_lost(receiver, endpoint_for,
                                                            django_capture_on_commit_callbacks):
    target = receiver(200)
    endpoint = endpoint_for(target)
    # Created, but their messages never ran (the broker lost them).
    lost, recent = queued(endpoint), queued(endpoint)
    WebhookDelivery.objects.filter(pk=lost.pk).update(next_attempt_at=timezone.now() - timedelta(minutes=30))
    with django_capture_on_commit_callbacks(execute=True):
        assert services.webhook_deliveries_resume() == 1
    assert [r.headers["X-CRM-Event-Id"] for r in target.requests] == [str(lost.event_id)]
    assert WebhookDelivery.objects.get(pk=recent.pk).status == "pending"


def test_redelivery_sends_the_same_event_again_as_a_new_delivery(receiver, endpoint_for,
                                                                 django_capture_on_commit_callbacks):
    target = receiver(400, 200)
    first = emit(endpoint_for(target), django_capture_on_commit_callbacks)
    first.refresh_from_db()
    with django_capture_on_commit_callbacks(execute=True):
        again = services.webhook_delivery_redeliver(delivery=first)
    again.refresh_from_db()
    assert (again.status, again.event_id, again.redelivery_of_id) == ("succeeded", first.event_id, first.pk)
    assert [r.headers["X-CRM-Event-Id"] for r in target.requests] == [str(first.event_id)] * 2
    assert target.requests[0].body == target.requests[1].body
