"""An endpoint deleted while another request changes it: 404, not a server error."""
from __future__ import annotations

import pytest
from django.http import Http404

from webhooks.models import WebhookEndpoint
from webhooks.services import webhook_endpoint_create, webhook_endpoint_update


@pytest.mark.django_db
def test_changing_an_endpoint_deleted_meanwhile_is_not_found(settings):
    settings.WEBHOOK_ALLOW_PRIVATE_HOSTS = True
    endpoint = webhook_endpoint_create(data={"url": "https://hooks.example.com/crm", "events": ["campaign.finished"]},
                                       created_by=None)
    stale = WebhookEndpoint.objects.get(pk=endpoint.pk)
    WebhookEndpoint.objects.filter(pk=endpoint.pk).delete()  # the other request
    with pytest.raises(Http404):
        webhook_endpoint_update(endpoint=stale, data={"description": "changed"})


@pytest.mark.django_db
def test_the_api_answers_404_for_it(client, role_user, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_HOSTS = True
    endpoint = webhook_endpoint_create(data={"url": "https://hooks.example.com/crm", "events": ["campaign.finished"]},
                                       created_by=None)
    client.force_login(role_user("Manager"))
    WebhookEndpoint.objects.filter(pk=endpoint.pk).delete()
    response = client.patch(f"/api/webhooks/endpoints/{endpoint.pk}/", {"description": "x"},
                            content_type="application/json")
    assert response.status_code == 404
