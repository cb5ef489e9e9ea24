"""A campaign whose attribution window closes is reported to a real receiver, once."""
from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.serializers.json import DjangoJSONEncoder

from campaigns import services as campaigns
from campaigns.models import Campaign
from customers.models import Customer

from .conftest import verify


@pytest.mark.django_db
def test_a_campaign_finishing_is_reported_once(receiver, endpoint_for, role_user,
                                               django_capture_on_commit_callbacks):
    target = receiver(200)
    endpoint = endpoint_for(target, events=["campaign.finished"])
    # An e-mail campaign reaches only customers with an address.
    Customer.objects.bulk_create([Customer(name=f"C{i}", external_id=f"W{i}", marketing_consent=True,
                                           email=f"c{i}@example.com", churn_probability=0.5,
                                           value_segment="high") for i in range(20)])
    sales = role_user("Sales")
    campaign = campaigns.campaign_create(created_by=sales, fields={
        "name": "Win back", "objective": Campaign.Objective.WIN_BACK, "kind": Campaign.Kind.MARKETING,
        "control_share": Decimal("0.20"), "seed": 3, "frequency_cap_days": 0, "attribution_days": 14,
    }, audience={})
    campaign = campaigns.campaign_launch(campaign_id=campaign.pk, launched_by=sales)

    with django_capture_on_commit_callbacks(execute=True):
        campaigns.campaign_results_refresh(campaign_id=campaign.pk,
                                           now=campaign.launched_at + timedelta(days=2))
    assert target.requests == []  # still running
    closed = campaign.launched_at + timedelta(days=15)
    with django_capture_on_commit_callbacks(execute=True):
        campaigns.campaign_results_refresh(campaign_id=campaign.pk, now=closed)
        campaigns.campaign_results_refresh(campaign_id=campaign.pk, now=closed)  # finished already
    [request] = target.requests
    assert verify(endpoint.secret, request.headers["X-CRM-Signature"], request.body)
    data = request.json["data"]
    assert data["campaign"]["id"] == campaign.pk and data["campaign"]["name"] == "Win back"
    assert data["campaign"]["finished_at"] == DjangoJSONEncoder().default(closed)
    treated = campaign.members.filter(group="treatment").count()
    assert data["results"]["treatment_members"] == treated > 0 and data["results"]["window_closed"] is True
    assert Campaign.objects.get(pk=campaign.pk).status == "finished"
    assert request.headers["X-CRM-Event"] == "campaign.finished"
