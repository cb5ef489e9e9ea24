"""Campaign numbers with their units (#16 item 6): money in the product's currency through
core.formatting, counts with separators and no decimals, plurals, human labels for codes."""
from __future__ import annotations

import csv
import io
from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from campaigns import services
from campaigns.forms import AudienceForm, CampaignForm
from campaigns.messaging import format_price
from campaigns.models import Campaign, UpliftModel
from tests.factories import OrderFactory

from .conftest import make_customers

pytestmark = pytest.mark.django_db


def _draft(user, **fields) -> Campaign:
    values = {"name": "Autumn", "objective": "retention", "kind": "marketing", "frequency_cap_days": 0,
              "cost_per_contact": "0.50", "control_share": "0.20", "attribution_days": 1}
    values.update(fields)
    return services.campaign_create(created_by=user, fields=values, audience={})


def _chinese(client):
    client.cookies["django_language"] = "zh-hans"
    return client


def _results_with_data(sales) -> Campaign:
    customers = make_customers(30)
    campaign = services.campaign_launch(campaign_id=_draft(sales).pk, launched_by=sales)
    for customer in customers[:10]:
        OrderFactory(customer=customer, ordered_at=campaign.launched_at + timedelta(hours=1),
                     total_amount=Decimal("1234.5"))
    return services.campaign_results_refresh(campaign_id=campaign.pk, now=timezone.now())


def test_results_money_carries_the_currency_in_both_languages(client, role_user):
    sales = role_user("Sales")
    campaign = _results_with_data(sales)
    client.force_login(sales)
    html = client.get(reverse("campaigns:results", args=[campaign.pk])).content.decode()
    cost = campaign.results["cost"]
    assert f'id="cost">CN¥{round(cost):,}<' in html
    assert 'id="incremental-revenue">CN¥' in html or 'id="incremental-revenue">-CN¥' in html
    assert "95 % CI - .. -" not in html and "offer CN¥" in html
    html = _chinese(client).get(reverse("campaigns:results", args=[campaign.pk])).content.decode()
    assert f'id="cost">¥{round(cost):,}<' in html


def test_launch_confirmation_and_detail_show_money_counts_and_plurals(client, role_user, settings):
    sales = role_user("Sales")
    make_customers(1_001)
    campaign = _draft(sales, cost_per_contact="3")
    client.force_login(sales)
    html = client.get(reverse("campaigns:launch", args=[campaign.pk])).content.decode()
    assert 'id="launch-audience">1,001<' in html
    treated = int(html.split('id="launch-treated">')[1].split("<")[0].replace(",", ""))
    assert 790 < treated < 810  # a fifth held out
    assert f'id="launch-cost">CN¥{treated * 3:,}.00<' in html
    detail = client.get(reverse("campaigns:detail", args=[campaign.pk])).content.decode()
    assert 'id="cost-per-contact">CN¥3.00<' in detail
    assert "1,001 customers today" in detail and 'data-rule="matched">1,001<' in detail
    assert "<dd>1 day</dd>" in detail and "1 days" not in detail
    settings.CURRENCY = "USD"
    assert 'id="cost-per-contact">$3.00<' in client.get(reverse("campaigns:detail", args=[campaign.pk])).content.decode()


def test_the_results_csv_names_the_currency_in_its_header(client, role_user, settings):
    sales = role_user("Sales")
    campaign = _results_with_data(sales)
    client.force_login(sales)
    rows = list(csv.reader(io.StringIO(client.get(reverse("campaigns:results_csv", args=[campaign.pk]))
                                       .content.decode())))
    assert "revenue_in_window_CNY" in rows[0] and "revenue_in_window" not in rows[0]
    settings.CURRENCY = "EUR"
    header = client.get(reverse("campaigns:results_csv", args=[campaign.pk])).content.decode().splitlines()[0]
    assert "revenue_in_window_EUR" in header


def test_form_labels_name_the_currency_and_the_churn_bands_come_from_the_engine(settings):
    from analytics.engine.churn import HIGH_RISK_THRESHOLD, MEDIUM_RISK_THRESHOLD

    assert CampaignForm().fields["cost_per_contact"].label == "Cost per contact (CNY)"
    audience = AudienceForm()
    assert audience.fields["clv_min"].label == "12-month CLV from (CNY)"
    help_text = str(audience.fields["churn_risks"].help_text)
    assert f"high from {round(HIGH_RISK_THRESHOLD * 100)} %" in help_text
    assert f"medium from {round(MEDIUM_RISK_THRESHOLD * 100)} %" in help_text


def test_message_prices_use_the_one_currency_setting(settings):
    settings.CURRENCY = "USD"
    assert format_price(Decimal("1299.5")) == "$1,299.50"
    settings.CURRENCY = "CNY"
    assert format_price(Decimal("1299.5")) == "¥1,299.50"


def test_uplift_candidates_are_named_not_coded(client, role_user):
    UpliftModel.objects.create(objective="retention", fitted_at=timezone.now(), campaigns=4, members=2_000,
                               credible=False, payload=b"", card={"name": "two_models", "qini": 0.01,
                                                                  "qini_interval": [-0.01, 0.03],
                                                                  "candidates": {"two_models": 0.01,
                                                                                 "class_transformation": 0.0}})
    client.force_login(role_user("Sales"))
    html = client.get(reverse("campaigns:uplift")).content.decode()
    assert "Two models (gradient boosting)" in html and "Class transformation (gradient boosting)" in html
    assert "<code>two_models</code>" not in html
    html = _chinese(client).get(reverse("campaigns:uplift")).content.decode()
    assert "双模型（梯度提升）" in html
