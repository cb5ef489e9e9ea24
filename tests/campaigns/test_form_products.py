"""The campaign form in words, not database ids (issue 16.2, 16.3): bundles and products by name,
the churn-risk option, audience values named in words, the results CSV with product names."""
from __future__ import annotations

import csv
import io
import json
import re

import pytest
from django.urls import reverse
from django.utils import timezone

from analytics.models import AssociationRule, ScoreRun
from campaigns import services
from campaigns.forms import CampaignForm
from campaigns.models import Campaign
from campaigns.selectors import audience_queryset
from customers.models import Customer
from tests.factories import ProductFactory

from .conftest import make_customers

pytestmark = pytest.mark.django_db


@pytest.fixture
def tea():
    return {name: ProductFactory(name=name) for name in ("Green tea", "Honey", "Teapot")}


def test_bundle_choices_show_product_names_and_lift(tea):
    run = ScoreRun.objects.create(as_of=timezone.now(), status="succeeded")
    rule = AssociationRule.objects.create(
        run=run, antecedents=[tea["Green tea"].pk, tea["Honey"].pk], consequents=[tea["Teapot"].pk],
        support=0.01, confidence=0.4, lift=35.1467)
    labels = dict(CampaignForm().fields["bundle"].choices)
    assert labels[rule.pk] == "Green tea + Honey -> Teapot (lift 35.15)"


def test_churn_risk_band_selects_like_the_customer_list():
    make_customers(9)
    Customer.objects.filter(churn_probability__gte=0.7).update(churn_risk="high")
    Customer.objects.filter(churn_probability__lt=0.7).update(churn_risk="low")
    chosen = audience_queryset(filters={"churn_risks": ["high"]}, kind="marketing")
    assert set(chosen.values_list("churn_probability", flat=True)) == {0.7, 0.8}


def test_form_and_detail_speak_in_names(client, role_user, tea):
    sales = role_user("Sales")
    client.force_login(sales)
    response = client.post(reverse("campaigns:create"), {
        "c-name": "Tea lovers", "c-objective": "upsell", "c-kind": "marketing", "c-channel": "email",
        "c-discount_percent": "0", "c-recommend_products": "0", "c-cost_per_contact": "0",
        "c-attribution_days": "30", "c-task_due_days": "7", "c-frequency_cap_days": "0",
        "c-control_share": "0.1", "c-seed": "1",
        "a-value_tiers": ["high", "medium"], "a-churn_risks": ["high"],
        "a-bought_any": f"{tea['Green tea'].pk}, {tea['Honey'].pk}"})
    assert response.status_code == 302
    campaign = Campaign.objects.get()
    assert campaign.audience["churn_risks"] == ["high"]
    assert campaign.audience["bought_any"] == [tea["Green tea"].pk, tea["Honey"].pk]
    detail = client.get(reverse("campaigns:detail", args=[campaign.pk])).content.decode()
    assert "<dt>Value tiers</dt><dd>High, Medium</dd>" in detail
    assert "<dt>Churn risk</dt><dd>High</dd>" in detail
    assert "<dt>Bought any of</dt><dd>Green tea, Honey</dd>" in detail
    # The edit page hands the picker the chosen products' names and the products API.
    edit = client.get(reverse("campaigns:edit", args=[campaign.pk])).content.decode()
    config = json.loads(re.search(r'<script id="product-picker-config" type="application/json">(.*?)</script>',
                                  edit).group(1))
    assert config["url"] == "/api/products/"
    assert config["names"] == {str(tea["Green tea"].pk): "Green tea", str(tea["Honey"].pk): "Honey"}
    assert 'data-product-picker="1"' in edit and "js/product-picker.js" in edit


def test_unknown_product_id_is_a_field_error(client, role_user):
    client.force_login(role_user("Sales"))
    response = client.get(reverse("campaigns:preview"), {"a-bought_any": "999999"})
    assert response.status_code == 400 and "bought_any" in response.json()["errors"]


def test_results_csv_names_the_offered_products(client, role_user, tea):
    make_customers(6)
    sales = role_user("Sales")
    run = ScoreRun.objects.create(as_of=timezone.now(), status="succeeded")
    rule = AssociationRule.objects.create(run=run, antecedents=[tea["Green tea"].pk],
                                          consequents=[tea["Honey"].pk, tea["Teapot"].pk],
                                          support=0.01, confidence=0.4, lift=2.0)
    draft = services.campaign_create(created_by=sales, fields={
        "name": "Bundle", "objective": "upsell", "bundle": rule, "frequency_cap_days": 0,
        "control_share": "0"}, audience={})
    campaign = services.campaign_launch(campaign_id=draft.pk, launched_by=sales)
    client.force_login(sales)
    response = client.get(reverse("campaigns:results_csv", args=[campaign.pk]))
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert len(rows) == 6
    assert {row["offered_products"] for row in rows} == {"Honey; Teapot"}
    assert {row["offered_product_ids"] for row in rows} == {f"{tea['Honey'].pk} {tea['Teapot'].pk}"}
    detail = client.get(reverse("campaigns:detail", args=[campaign.pk])).content.decode()
    assert "<dd>Honey + Teapot</dd>" in detail
    # Members' value segments in words, not the stored codes.
    assert "<td>High</td>" in detail and "<td>high</td>" not in detail
