"""/api/webhooks/: managers only; secrets shown on creation and on request; ping, log, redeliver."""
from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from webhooks import services
from webhooks.models import WebhookDelivery, WebhookEndpoint, WebhookEvent

from .conftest import verify

pytestmark = pytest.mark.django_db
ENDPOINTS = "/api/webhooks/endpoints/"
DELIVERIES = "/api/webhooks/deliveries/"


def test_a_manager_creates_an_endpoint_and_sees_its_secret_once_in_the_answer(api, receiver):
    manager = api("Manager")
    target = receiver(200)
    created = manager.post(ENDPOINTS, {"url": target.url, "events": ["campaign.finished"],
                                       "description": "Data warehouse"}, format="json")
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["secret"].startswith("whsec_") and len(body["secret"]) > 40
    assert body["events"] == ["campaign.finished"] and body["active"] is True and body["created_by"]
    assert WebhookEndpoint.objects.get(pk=body["id"]).secret == body["secret"]

    listed = manager.get(ENDPOINTS).json()["results"]
    assert [e["id"] for e in listed] == [body["id"]] and "secret" not in listed[0]
    assert "secret" not in manager.get(f"{ENDPOINTS}{body['id']}/").json()
    assert manager.get(f"{ENDPOINTS}{body['id']}/secret/").json() == {"secret": body["secret"]}
    rotated = manager.post(f"{ENDPOINTS}{body['id']}/rotate-secret/").json()["secret"]
    assert rotated != body["secret"] and WebhookEndpoint.objects.get(pk=body["id"]).secret == rotated

    changed = manager.patch(f"{ENDPOINTS}{body['id']}/", {"events": ["customer.churn_risk_high",
                                                                     "campaign.finished"]}, format="json")
    assert changed.status_code == 200
    assert changed.json()["events"] == ["campaign.finished", "customer.churn_risk_high"]
    assert manager.delete(f"{ENDPOINTS}{body['id']}/").status_code == 204
    assert not WebhookEndpoint.objects.exists()


@pytest.mark.parametrize("change,field,reason", [
    ({"url": "ftp://example.com/hook"}, "url", "http or https"),
    ({"url": "not a url"}, "url", "valid URL"),
    ({"events": []}, "events", "empty"),
    ({"events": ["customer.deleted"]}, "events.0", "not a valid choice"),
    ({"events": ["campaign.finished", "webhook.ping"]}, "events.1", "not a valid choice"),
    ({"events": "campaign.finished"}, "events", "list"),
])
def test_bad_input_gets_400_naming_the_field(api, change, field, reason):
    body = {"url": "https://example.com/hook", "events": ["campaign.finished"], **change}
    response = api("Manager").post(ENDPOINTS, body, format="json")
    assert response.status_code == 400
    assert list(response.json()) == [field] and reason in str(response.json()[field]), response.json()
    assert not WebhookEndpoint.objects.exists()


def test_ping_is_delivered_and_shows_in_the_endpoints_log(api, receiver, django_capture_on_commit_callbacks):
    manager = api("Manager")
    target = receiver(200)
    endpoint = manager.post(ENDPOINTS, {"url": target.url, "events": ["campaign.finished"]},
                            format="json").json()
    with django_capture_on_commit_callbacks(execute=True):
        ping = manager.post(f"{ENDPOINTS}{endpoint['id']}/ping/")
    assert ping.status_code == 202 and ping.json()["event_type"] == "webhook.ping"
    [request] = target.requests
    assert verify(endpoint["secret"], request.headers["X-CRM-Signature"], request.body)
    assert request.json["data"]["endpoint_id"] == endpoint["id"]

    other = services.webhook_endpoint_create(
        data={"url": "https://example.com/other", "events": ["campaign.finished"]}, created_by=None)
    services.webhook_ping(endpoint=other)  # not committed in this test: stays pending
    log = manager.get(DELIVERIES, {"endpoint": endpoint["id"]}).json()["results"]
    assert [(d["id"], d["status"], d["attempts"], d["last_status_code"]) for d in log] == [
        (ping.json()["id"], "succeeded", 1, 200)]
    assert "payload" not in log[0]
    detail = manager.get(f"{DELIVERIES}{log[0]['id']}/").json()
    assert detail["payload"]["type"] == "webhook.ping"
    assert detail["event_id"] == request.headers["X-CRM-Event-Id"]
    attempts = [(a["number"], a["status_code"], a["outcome"]) for a in detail["attempt_log"]]
    assert attempts == [(1, 200, "succeeded")]


def test_redeliver_sends_a_finished_delivery_again_and_refuses_a_pending_one(
        api, receiver, endpoint_for, django_capture_on_commit_callbacks):
    manager = api("Manager")
    target = receiver(400, 200)
    endpoint = endpoint_for(target)
    with django_capture_on_commit_callbacks(execute=True):
        failed = services.webhook_ping(endpoint=endpoint)
    with django_capture_on_commit_callbacks(execute=True):
        again = manager.post(f"{DELIVERIES}{failed.pk}/redeliver/")
    assert again.status_code == 202, again.content
    assert again.json()["redelivery_of"] == failed.pk and again.json()["event_id"] == str(failed.event_id)
    assert WebhookDelivery.objects.get(pk=again.json()["id"]).status == "succeeded"
    assert len(target.requests) == 2

    pending = services.webhook_ping(endpoint=endpoint)  # its task runs only after a commit
    refused = manager.post(f"{DELIVERIES}{pending.pk}/redeliver/")
    assert refused.status_code == 400 and list(refused.json()) == ["status"]


@pytest.mark.parametrize("role", ["Sales", "Service"])
def test_other_roles_are_refused_everywhere(api, role, endpoint_for, receiver):
    endpoint = endpoint_for(receiver(200))
    delivery = services.webhook_ping(endpoint=endpoint)
    client = api(role)
    for method, url in [
        ("get", ENDPOINTS), ("post", ENDPOINTS), ("get", f"{ENDPOINTS}{endpoint.pk}/"),
        ("patch", f"{ENDPOINTS}{endpoint.pk}/"), ("delete", f"{ENDPOINTS}{endpoint.pk}/"),
        ("get", f"{ENDPOINTS}{endpoint.pk}/secret/"), ("post", f"{ENDPOINTS}{endpoint.pk}/rotate-secret/"),
        ("post", f"{ENDPOINTS}{endpoint.pk}/ping/"), ("get", DELIVERIES),
        ("get", f"{DELIVERIES}{delivery.pk}/"),
        ("post", f"{DELIVERIES}{delivery.pk}/redeliver/"),
    ]:
        response = getattr(client, method)(url, {}, format="json")
        assert response.status_code == 403, (method, url, response.status_code)
        assert list(response.json()) == ["detail"]
    assert WebhookDelivery.objects.count() == 1 and WebhookEndpoint.objects.get().secret == endpoint.secret


def test_anonymous_requests_are_refused(endpoint_for, receiver):
    endpoint = endpoint_for(receiver(200))
    client = APIClient()
    for url in (ENDPOINTS, f"{ENDPOINTS}{endpoint.pk}/secret/", DELIVERIES):
        assert client.get(url).status_code == 401
    assert client.post(f"{ENDPOINTS}{endpoint.pk}/ping/").status_code == 401
    assert not WebhookDelivery.objects.exists()


def test_reading_an_endpoint_is_not_enough_to_read_its_secret(role_user, endpoint_for, receiver):
    from django.contrib.auth.models import Permission

    endpoint = endpoint_for(receiver(200))
    auditor = role_user("Sales", "auditor")
    auditor.user_permissions.add(Permission.objects.get(codename="view_webhookendpoint"))
    client = APIClient()
    client.force_authenticate(auditor)
    assert client.get(f"{ENDPOINTS}{endpoint.pk}/").status_code == 200
    assert client.get(f"{ENDPOINTS}{endpoint.pk}/secret/").status_code == 403


def test_the_delivery_log_takes_the_same_queries_for_3_or_30_rows(api, endpoint_for, receiver):
    manager = api("Manager")
    endpoint = endpoint_for(receiver(200))
    manager.get(DELIVERIES)  # authentication caches warmed

    def count(n: int) -> int:
        WebhookDelivery.objects.all().delete()
        for _ in range(n):
            services.webhook_event_emit(event_type=WebhookEvent.PING, data={}, endpoints=[endpoint])
        with CaptureQueriesContext(connection) as queries:
            assert len(manager.get(DELIVERIES).json()["results"]) == n
        return len(queries)

    assert count(3) == count(30)
