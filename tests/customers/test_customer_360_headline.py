"""The customer 360 leads with the headline, and a popularity pick says so instead of naming a
product, in both languages."""
from __future__ import annotations

import pytest

from analytics.models import Recommendation
from tests.pages.ui_data import make_products

pytestmark = pytest.mark.django_db


def _page(client, role_user, customer, language="en") -> str:
    client.force_login(role_user("Sales"))
    response = client.get(f"/customers/{customer.pk}/", HTTP_ACCEPT_LANGUAGE=language)
    assert response.status_code == 200
    return response.content.decode()


def test_headline_leads_the_page_and_agrees_with_the_churn_line(client, role_user, world):
    customer = world[1][0]  # high risk, high value tier, active stage, consent, 2 orders 140 days ago
    html = _page(client, role_user, customer)
    headline = ("Churn risk high (72 %): a high-value customer in the active stage, 2 orders, the last one "
                "140 days ago — suggested next action: a personal retention call from their account owner.")
    assert f'<p class="headline" id="headline">{headline}</p>' in html
    assert html.index('id="headline"') < html.index('id="profile"') < html.index('id="scores"')
    assert "Churn risk high (72 %)" in html[html.index('id="explain-churn"'):]


def test_headline_in_chinese(client, role_user, world):
    customer = world[1][1]  # medium risk, no marketing consent
    html = _page(client, role_user, customer, "zh-hans")
    assert ("流失风险中（45 %）：处于“活跃”阶段的中价值客户，共 2 笔订单，最近一笔在 140 天前——建议下一步："
            "客户未同意接收营销信息，不发优惠；等客户下次联系时用心服务。") in html


def test_unscored_customer_gets_an_honest_headline(client, role_user, world):
    from tests.factories import CustomerFactory

    html = _page(client, role_user, CustomerFactory(name="Fresh"))
    assert '<p class="headline" id="headline">Not scored yet:' in html


@pytest.mark.parametrize("language, reason, popular", [
    ("en", "because they bought Green tea", "popular with our customers"),
    ("zh-hans", "因为购买过 Green tea", "很受我们客户欢迎"),
])
def test_popularity_pick_names_no_product(client, role_user, world, language, reason, popular):
    run, customers = world
    customer = customers[0]
    Recommendation.objects.create(customer=customer, product=make_products()[2], rank=2, score=0.5,
                                  because_of=None, run=run)
    html = _page(client, role_user, customer, language)
    card = html[html.index('id="recommendations"'):html.index('id="log-interaction"')]
    assert f"Tea cup — <span class=\"muted\">{reason}</span>" in card
    assert f"Tea pot — <span class=\"muted\">{popular}</span>" in card
