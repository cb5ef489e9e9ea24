"""The unsubscribe link is the one page besides login open without a login: it must do nothing
but unsubscribe the customer it was signed for."""
from __future__ import annotations

import pytest
from django.core import signing
from django.test import Client
from django.urls import reverse

from campaigns.consent import unsubscribe_token, unsubscribe_url
from customers.models import Customer

pytestmark = pytest.mark.django_db


@pytest.fixture
def two_customers(db):
    return (Customer.objects.create(name="Ann", email="ann@example.com", marketing_consent=True),
            Customer.objects.create(name="Bo", email="bo@example.com", marketing_consent=True))


def consent(customer) -> bool:
    return Customer.objects.get(pk=customer.pk).marketing_consent


def test_a_forged_or_altered_token_changes_nothing(two_customers):
    ann, bo = two_customers
    client = Client()
    forged = signing.dumps(bo.pk, salt="some.other.salt")
    for token in (str(bo.pk), forged, unsubscribe_token(ann.pk)[:-2] + "xx", "MQ", "a" * 500):
        response = client.get(reverse("unsubscribe", args=[token]))
        assert response.status_code == 400
    assert consent(ann) and consent(bo)


def test_a_token_unsubscribes_its_own_customer_only(two_customers):
    ann, bo = two_customers
    response = Client().post(reverse("unsubscribe", args=[unsubscribe_token(ann.pk)]))
    assert response.status_code == 200
    assert not consent(ann) and consent(bo)


def test_the_link_is_absolute_and_carries_no_contact_details(two_customers, settings):
    settings.SITE_URL = "https://crm.example.com"
    ann, _ = two_customers
    url = unsubscribe_url(ann.pk)
    assert url.startswith("https://crm.example.com/unsubscribe/")
    assert "ann" not in url.lower() and "example.com/unsubscribe" in url


def test_other_campaign_pages_still_need_a_login(two_customers):
    client = Client()
    for path in ("/campaigns/", "/campaigns/outbox/", "/campaigns/1/messages/preview.json"):
        response = client.get(path)
        assert response.status_code == 302 and "/login/" in response["Location"]


def test_the_tracking_webhook_refuses_requests_without_the_shared_secret(two_customers, settings):
    settings.ANYMAIL = {"WEBHOOK_SECRET": "hook:right"}
    payload = '{"RecordType": "SpamComplaint", "Type": "SpamComplaint", "MessageID": "x", "Email": "ann@example.com"}'
    import base64

    wrong = "Basic " + base64.b64encode(b"hook:wrong").decode()
    response = Client().post("/anymail/postmark/tracking/", payload, content_type="application/json",
                             HTTP_AUTHORIZATION=wrong)
    assert response.status_code == 400
    assert consent(two_customers[0])
