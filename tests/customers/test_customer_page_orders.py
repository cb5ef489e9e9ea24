"""The customer page's order history (issue 16, item 7): the five newest orders with their lines
folded, "show all N orders" for the rest, and feedback, interactions and tasks before it; counts
in words that agree with their number ("1 order", "1 day ago") in English and Chinese."""
from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from campaigns.models import ServiceTask
from customers.models import Customer
from tests.factories import CustomerFactory, OrderFactory, OrderItemFactory
from tests.pages.ui_data import make_products

pytestmark = pytest.mark.django_db


def add_orders(customer, n: int) -> None:
    products = make_products()
    now = timezone.now()
    for k in range(n):
        order = OrderFactory(customer=customer, ordered_at=now - timedelta(days=10 + k), total_amount=Decimal(20 + k),
                             external_id=f"{customer.pk}-{k}")
        for product in products[: 1 + k % 3]:
            OrderItemFactory(order=order, product=product, quantity=1, unit_price=Decimal(10))


def order_dates(html: str) -> list[str]:
    section = html[html.index('id="orders"'):]
    return re.findall(r'<li class="order"><details><summary><time datetime="[^"]+">([0-9-]+)</time>', section)


@pytest.fixture
def loyal(world):
    customer = world[1][0]  # two orders 140 and 220 days ago, feedback and an interaction
    add_orders(customer, 58)
    ServiceTask.objects.create(customer=customer, due_on=timezone.localdate(), note="Thank them")
    return customer


def test_the_page_lists_the_five_newest_orders_folded_and_links_to_all(client, role_user, loyal):
    client.force_login(role_user("Manager"))
    html = client.get(f"/customers/{loyal.pk}/").content.decode()
    newest = [(timezone.now() - timedelta(days=10 + k)).date().isoformat() for k in range(5)]
    assert order_dates(html) == newest
    assert html.count("<details>") == 5  # each order's lines folded
    assert "<h2>60 orders</h2>" in html
    assert '<a id="show-all-orders" href="?orders=all#orders">Show all 60 orders</a>' in html
    assert "The 5 newest orders; open one to see its lines." in html
    assert "3 lines" in html and "1 line<" in html
    # Feedback, interactions and tasks come before the order history.
    orders_at = html.index('id="orders"')
    for section in ('id="feedback"', 'id="interactions"', 'id="service-tasks"', 'id="log-interaction"'):
        assert html.index(section) < orders_at, section

    html = client.get(f"/customers/{loyal.pk}/", {"orders": "all"}).content.decode()
    assert len(order_dates(html)) == 60
    assert "show-all-orders" not in html and 'id="show-recent-orders"' in html
    assert "Show only the 5 newest orders" in html


def test_a_short_history_has_no_show_all_link(client, role_user, world):
    client.force_login(role_user("Sales"))
    customer = world[1][1]
    html = client.get(f"/customers/{customer.pk}/").content.decode()
    assert len(order_dates(html)) == 2 and "<h2>2 orders</h2>" in html
    assert "show-all-orders" not in html and "newest orders; open one" not in html
    single = CustomerFactory(name="Once")
    add_orders(single, 1)
    html = client.get(f"/customers/{single.pk}/").content.decode()
    assert "<h2>1 order</h2>" in html and "1 line<" in html


def test_the_order_history_reads_a_fixed_number_of_queries(client, role_user, world):
    client.force_login(role_user("Sales"))
    customer = world[1][2]
    counts = {}
    for label, extra in (("few", 0), ("many", 40)):
        add_orders(customer, extra)
        for params in ({}, {"orders": "all"}):
            with CaptureQueriesContext(connection) as queries:
                assert client.get(f"/customers/{customer.pk}/", params).status_code == 200
            counts[label, bool(params)] = len(queries)
    assert counts["few", False] == counts["many", False]
    assert counts["few", True] == counts["many", True]


@pytest.mark.parametrize("language,expected", [
    ("en", ["usually orders every 2 days", "; last order 1 day ago.", "3 orders, the last one 1 day ago",
            "no order for 1 day, about 0.5x their usual gap of 2 days"]),
    ("zh-hans", ["通常每 2 天下单一次", "；上次下单在 1 天前。", "共 3 笔订单，最近一笔在 1 天前",
                 "已 1 天未下单，约为其通常间隔（2 天）的 0.5 倍"]),
])
def test_one_day_is_a_day_not_days(client, role_user, world, settings, language, expected):
    customer = world[1][0]
    now = timezone.now()
    Customer.objects.filter(pk=customer.pk).update(order_count=3, recency_days=1, first_order_at=now - timedelta(days=5),
                                                   last_order_at=now - timedelta(days=1))
    client.force_login(role_user("Sales"))
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
    html = client.get(f"/customers/{customer.pk}/").content.decode()
    for text in expected:
        assert text in html
    assert "1 days" not in html


def test_the_order_history_in_chinese(client, role_user, loyal, settings):
    client.force_login(role_user("Manager"))
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "zh-hans"
    html = client.get(f"/customers/{loyal.pk}/").content.decode()
    assert "<h2>60 笔订单</h2>" in html and "显示全部 60 笔订单" in html and "最新的 5 笔订单" in html
    assert "本页内容" in html and "订单记录" in html
