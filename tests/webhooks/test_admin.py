"""The admin: managers create endpoints and read the delivery log, which is read-only."""
from __future__ import annotations

import pytest

from webhooks import services
from webhooks.models import WebhookDelivery, WebhookEndpoint

pytestmark = pytest.mark.django_db


def test_a_manager_adds_an_endpoint_with_a_generated_secret(client, role_user, receiver):
    manager = role_user("Manager")
    client.force_login(manager)
    target = receiver(200)
    page = client.get("/admin/webhooks/webhookendpoint/add/")
    assert page.status_code == 200 and b"customer.churn_risk_high" in page.content
    response = client.post("/admin/webhooks/webhookendpoint/add/", {
        "url": target.url, "description": "BI", "events": '["campaign.finished"]', "active": "on"})
    assert response.status_code == 302, response.content
    endpoint = WebhookEndpoint.objects.get()
    assert endpoint.created_by == manager and endpoint.secret.startswith("whsec_")
    change_page = client.get(f"/admin/webhooks/webhookendpoint/{endpoint.pk}/change/")
    assert endpoint.secret.encode() in change_page.content

    bad = client.post("/admin/webhooks/webhookendpoint/add/", {
        "url": "ftp://example.com/", "events": '["nothing"]', "active": "on"})
    assert bad.status_code == 200 and b"Enter an http or https URL." in bad.content
    assert b"Unknown event type: nothing." in bad.content
    assert WebhookEndpoint.objects.count() == 1


def test_deliveries_are_read_only_and_can_be_sent_again(client, role_user, receiver, endpoint_for,
                                                        django_capture_on_commit_callbacks):
    client.force_login(role_user("Manager"))
    target = receiver(400, 200)
    with django_capture_on_commit_callbacks(execute=True):
        failed = services.webhook_ping(endpoint=endpoint_for(target))
    page = client.get(f"/admin/webhooks/webhookdelivery/{failed.pk}/change/")
    assert page.status_code == 200 and b"Save" not in page.content  # view only
    assert client.get("/admin/webhooks/webhookdelivery/add/").status_code == 403
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/admin/webhooks/webhookdelivery/", {
            "action": "redeliver", "_selected_action": [failed.pk]})
    assert response.status_code == 302
    again = WebhookDelivery.objects.get(redelivery_of=failed)
    assert again.status == "succeeded" and again.event_id == failed.event_id and len(target.requests) == 2


@pytest.mark.parametrize("role", ["Sales", "Service"])
def test_other_roles_do_not_see_webhooks_in_the_admin(client, role_user, role):
    client.force_login(role_user(role))
    for url in ("/admin/webhooks/webhookendpoint/", "/admin/webhooks/webhookdelivery/"):
        assert client.get(url).status_code == 403
    assert b"webhook" not in client.get("/admin/").content.lower()
