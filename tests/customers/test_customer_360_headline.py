"""The customer 360: a popularity pick says so instead of naming a product, in both languages."""
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


@pytest.mark.parametrize("language, reason, popular", [
    ("en", "because they bought Green tea", "popular with customers like them"),
    ("zh-hans", "因为购买过 Green tea", "同类客户都爱买"),
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
