"""The control group big enough to learn from (issue 17.6, 16.11): the smallest detectable uplift
before launch, the launch confirmation, and results that say "too early to tell"."""
from __future__ import annotations

from datetime import timedelta
from math import asin, exp, sin, sqrt

import pytest
from django.urls import reverse
from django.utils import timezone
from scipy.stats import norm
from statsmodels.stats.power import NormalIndPower
from statsmodels.stats.proportion import proportion_effectsize

from analytics.engine.power import mde_for_groups, power_check, power_for_groups, suggest_control_share
from campaigns import services
from campaigns.models import Campaign
from campaigns.selectors import (
    TYPICAL_UPLIFT_DEFAULTS,
    expected_conversion,
    typical_uplift,
)
from customers.models import Customer

from .conftest import make_customers

# The worked example: 2,000 customers, 10 % held out (1,800 treated, 200 control), 20 % expected
# to order in the window anyway.
N, SHARE, BASELINE, TREATED, CONTROL = 2000, 0.10, 0.20, 1800, 200


def test_mde_matches_statsmodels_and_the_hand_formula():
    mde = mde_for_groups(treated=TREATED, control=CONTROL, baseline=BASELINE)
    # statsmodels directly: the effect size at 80 % power, and the power at the MDE.
    h = NormalIndPower().solve_power(nobs1=TREATED, ratio=CONTROL / TREATED, alpha=0.05, power=0.8)
    assert proportion_effectsize(BASELINE + mde, BASELINE) == pytest.approx(h, rel=1e-9)
    assert NormalIndPower().power(proportion_effectsize(BASELINE + mde, BASELINE), nobs1=TREATED,
                                  ratio=CONTROL / TREATED, alpha=0.05) == pytest.approx(0.8, abs=1e-6)
    # By hand (the far tail left out, which moves the answer by far less than 0.01 points):
    # h = (z_0.975 + z_0.8) * sqrt(1/1800 + 1/200) = 2.8016 * 0.074536 = 0.20882
    h_hand = (norm.ppf(0.975) + norm.ppf(0.8)) * sqrt(1 / TREATED + 1 / CONTROL)
    p1 = sin(asin(sqrt(BASELINE)) + h_hand / 2) ** 2
    assert mde == pytest.approx(p1 - BASELINE, abs=1e-4)
    assert round(mde * 100, 2) == 8.94  # percentage points


def test_power_check_warns_and_suggests_a_control_share():
    # 3 points is what a retention campaign usually gets; 10 % of 2,000 detects only 8.9.
    check = power_check(audience=N, control_share=SHARE, baseline=BASELINE, typical_uplift=0.03)
    assert check.as_dict()["mde_pp"] == 8.94 and check.warning
    assert check.suggested_control_share is None and not check.detectable_with_some_share
    # 20,000 customers can: the suggestion is the smallest whole-percent share that does.
    big = power_check(audience=20_000, control_share=0.02, baseline=BASELINE, typical_uplift=0.03)
    share = big.suggested_control_share
    assert big.warning and share is not None and 0.02 < share <= 0.5

    def power_at(s):
        control = round(20_000 * s)
        return power_for_groups(treated=20_000 - control, control=control, baseline=BASELINE, uplift=0.03)

    assert power_at(share) >= 0.8 > power_at(share - 0.01)
    # With that share there is nothing to warn about.
    assert not power_check(audience=20_000, control_share=share, baseline=BASELINE, typical_uplift=0.03).warning


def test_nothing_detectable_with_a_control_group_of_one():
    check = power_check(audience=20, control_share=0.05, baseline=BASELINE, typical_uplift=0.03)
    assert check.control == 1 and check.mde is None and check.warning
    assert suggest_control_share(audience=20, baseline=BASELINE, uplift=0.03) is None
    # No scores: no estimate and no warning.
    assert not power_check(audience=N, control_share=SHARE, baseline=None, typical_uplift=0.03).warning


@pytest.mark.django_db
def test_expected_conversion_from_the_scores():
    make_customers(2, expected_orders_90d=0.9, churn_probability=0.5)  # BG/NBD expectation wins
    make_customers(2, start=10, expected_orders_90d=None, churn_probability=0.64)  # churn fallback
    make_customers(1, start=20, expected_orders_90d=None, churn_probability=None)  # left out
    mean, scored = expected_conversion(Customer.objects.all(), attribution_days=45)
    by_orders = 1 - exp(-0.9 * 45 / 90)
    by_churn = 1 - 0.64 ** (45 / 90)
    assert scored == 4
    assert mean == pytest.approx((2 * by_orders + 2 * by_churn) / 4)


def _finished(objective: str, uplift: float, user) -> Campaign:
    campaign = services.campaign_create(created_by=user, fields={"name": "Old", "objective": objective},
                                        audience={})
    Campaign.objects.filter(pk=campaign.pk).update(status=Campaign.Status.FINISHED,
                                                   results={"absolute_uplift": uplift})
    return campaign


@pytest.mark.django_db
def test_typical_uplift_from_finished_campaigns_else_the_default(role_user):
    manager = role_user("Manager")
    assert typical_uplift("retention") == (TYPICAL_UPLIFT_DEFAULTS["retention"], "default", 0)
    for value in (0.01, 0.05):
        _finished("retention", value, manager)
    assert typical_uplift("retention")[1] == "default"  # two are not enough
    _finished("retention", 0.02, manager)
    _finished("win_back", 0.5, manager)  # another objective does not count
    assert typical_uplift("retention") == (pytest.approx(0.02), "finished_campaigns", 3)


@pytest.mark.django_db
def test_preview_json_reports_the_power_check(client, role_user):
    make_customers(60, expected_orders_90d=0.3)
    client.force_login(role_user("Sales"))
    response = client.get(reverse("campaigns:preview"), {
        "c-kind": "marketing", "c-objective": "retention", "c-control_share": "0.10",
        "c-attribution_days": "30"})
    assert response.status_code == 200
    power = response.json()["power"]
    assert power["audience"] == 60 and power["control"] == 6 and power["treated"] == 54
    assert power["baseline_conversion"] == pytest.approx(1 - exp(-0.1))
    assert power["typical_uplift_pp"] == 3.0 and power["typical_uplift_source"] == "default"
    assert power["warning"] is True and power["suggested_control_share"] is None
    expected = mde_for_groups(treated=54, control=6, baseline=1 - exp(-0.1))
    assert power["mde_pp"] == round(expected * 100, 2)
    bad = client.get(reverse("campaigns:preview"), {"c-control_share": "0.95"})
    assert bad.status_code == 400 and "control_share" in bad.json()["errors"]


@pytest.mark.django_db
def test_api_audience_preview_reports_the_power_check(api, customers):
    client = api("Sales")
    response = client.post("/api/campaigns/audience-preview/", {
        "audience": {"value_segments": ["high"]}, "objective": "win_back", "control_share": "0.5",
        "attribution_days": 60}, format="json")
    assert response.status_code == 200
    power = response.json()["power"]
    assert power["audience"] == 20 and power["control"] == 10 and power["attribution_days"] == 60
    assert power["objective"] == "win_back" and power["typical_uplift_pp"] == 2.0
    bad = client.post("/api/campaigns/audience-preview/", {"control_share": "2", "attribution_days": 0},
                      format="json")
    assert bad.status_code == 400
    assert "control_share" in str(bad.json()) and "attribution_days" in str(bad.json())


def _draft(user, **fields):
    values = {"name": "Autumn", "objective": "retention", "kind": "marketing", "frequency_cap_days": 0,
              "cost_per_contact": "0.50", "control_share": "0.10"}
    values.update(fields)
    return services.campaign_create(created_by=user, fields=values, audience={})


@pytest.mark.django_db
def test_launch_asks_for_confirmation_with_audience_control_and_cost(client, role_user, customers):
    sales = role_user("Sales")
    campaign = _draft(sales)
    client.force_login(sales)
    page = client.get(reverse("campaigns:launch", args=[campaign.pk]))
    assert page.status_code == 200
    html = page.content.decode()
    # 60 customers, 20 per value segment: 2 held out in each.
    assert 'id="launch-audience">60<' in html and 'id="launch-control">6 (10 %)<' in html
    assert 'id="launch-treated">54<' in html and 'id="launch-cost">CN¥27.00' in html
    assert "launch-power-warning" in html  # 60 customers cannot show a 3-point uplift
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.DRAFT and not campaign.members.exists()
    detail = client.get(reverse("campaigns:detail", args=[campaign.pk])).content.decode()
    assert f'href="{reverse("campaigns:launch", args=[campaign.pk])}"' in detail
    client.post(reverse("campaigns:launch", args=[campaign.pk]))
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.RUNNING and campaign.members.count() == 60


@pytest.mark.django_db
def test_results_on_launch_day_say_too_early_to_tell(client, role_user):
    make_customers(30)
    sales = role_user("Sales")
    campaign = services.campaign_launch(campaign_id=_draft(sales).pk, launched_by=sales)
    client.force_login(sales)
    html = client.get(reverse("campaigns:results", args=[campaign.pk])).content.decode()
    assert "Too early to tell" in html
    services.campaign_results_refresh(campaign_id=campaign.pk)
    html = client.get(reverse("campaigns:results", args=[campaign.pk])).content.decode()
    assert "Too early to tell" in html
    assert "-100 %" not in html and 'id="roi"' not in html and 'id="relative-uplift"' not in html
    # One control member per value segment: 3 in all, and the page says so.
    assert 'id="tiny-control"' in html and "only 3 customers" in html


@pytest.mark.django_db
def test_results_with_data_show_the_interval_in_words(client, role_user):
    from tests.factories import OrderFactory

    customers = make_customers(30)
    sales = role_user("Sales")
    campaign = services.campaign_launch(campaign_id=_draft(sales, control_share="0.20").pk, launched_by=sales)
    for customer in customers[:10]:
        OrderFactory(customer=customer, ordered_at=campaign.launched_at + timedelta(hours=1))
    services.campaign_results_refresh(campaign_id=campaign.pk, now=timezone.now())
    client.force_login(sales)
    html = client.get(reverse("campaigns:results", args=[campaign.pk])).content.decode()
    assert "Too early to tell" not in html
    assert 'id="interval-plain"' in html and "percentage points" in html
    assert 'id="tiny-control"' in html


@pytest.mark.django_db
def test_results_api_says_too_early_and_tiny_control(api, role_user):
    make_customers(30)
    client = api("Sales")
    draft = client.post("/api/campaigns/", {"name": "Api", "objective": "retention", "frequency_cap_days": 0,
                                            "audience": {}}, format="json").json()
    client.post(f"/api/campaigns/{draft['id']}/launch/")
    services.campaign_results_refresh(campaign_id=draft["id"])
    body = client.get(f"/api/campaigns/{draft['id']}/results/").json()
    assert body["too_early"] is True and body["tiny_control"] is True
    assert body["results"]["control_members"] == 3
