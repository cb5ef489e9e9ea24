"""Who may call what: anonymous callers nowhere, each role as its permissions say."""

from __future__ import annotations

import re

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, resolve
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from .conftest import make_customers

METHODS = ("get", "post", "put", "patch", "delete")
# Served by drf-spectacular with its SERVE_PERMISSIONS setting, which is not this API's to set;
# see the settings change requested alongside this API.


def _sample(pattern) -> str:
    text = str(pattern.pattern)
    text = re.sub(r"\(\?P<format>[^)]*\)", "json", text)
    text = re.sub(r"\(\?P<\w+>[^)]*\)", "1", text)
    text = re.sub(r"<(?:\w+:)?\w+>", "1", text)
    return text.replace("^", "").replace("$", "").replace("\\.", ".").replace("/?", "/")


def api_urls() -> list[str]:
    urls = []

    def walk(patterns, prefix: str) -> None:
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                walk(pattern.url_patterns, prefix + _sample(pattern))
            elif isinstance(pattern, URLPattern):
                urls.append("/" + prefix + _sample(pattern))

    walk(get_resolver().url_patterns, "")
    return sorted(u for u in set(urls) if u.startswith("/api/"))


def test_the_resolver_lists_this_apis_routes():
    urls = api_urls()
    for expected in (
        "/api/customers/",
        "/api/customers/1/recommendations/",
        "/api/orders/1/",
        "/api/customers/by-external-id/1/",
        "/api/products/by-sku/1/",
        "/api/feedback/",
        "/api/interactions/",
        "/api/score-runs/",
        "/api/segments/",
        "/api/bundles/",
        "/api/token/",
    ):
        assert expected in urls
    for url in urls:
        resolve(url)  # every sample URL really maps to a view


@pytest.mark.django_db
@pytest.mark.parametrize("url", api_urls())
def test_anonymous_requests_are_rejected_everywhere(url):
    client = APIClient()
    for method in METHODS:
        response = getattr(client, method)(url, {}, format="json")
        assert response.status_code in (401, 403), (method, url, response.status_code)


@pytest.mark.django_db
def test_anonymous_gets_a_token_challenge_and_the_error_format():
    response = APIClient().get("/api/customers/")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"
    assert response.json() == {"detail": ["Authentication credentials were not provided."]}
    bad = APIClient(HTTP_AUTHORIZATION="Token not-a-real-token").get("/api/customers/")
    assert bad.status_code == 401 and list(bad.json()) == ["detail"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    "role,method,url,expected",
    [
        ("Service", "get", "/api/customers/", 200),
        ("Service", "post", "/api/customers/", 403),
        ("Service", "post", "/api/orders/", 403),
        ("Service", "get", "/api/score-runs/", 403),
        ("Service", "post", "/api/interactions/", 400),  # allowed: fails on the empty body instead
        ("Sales", "post", "/api/customers/", 400),
        ("Sales", "post", "/api/feedback/", 403),
        ("Sales", "post", "/api/products/", 403),
        ("Sales", "get", "/api/score-runs/", 200),
        ("Sales", "post", "/api/score-runs/", 403),
        ("Sales", "get", "/api/segments/", 403),
        ("Manager", "get", "/api/segments/", 200),
        ("Manager", "get", "/api/bundles/", 200),
    ],
)
def test_roles_decide_what_each_user_may_do(api, role, method, url, expected):
    response = getattr(api(role), method)(url, {}, format="json")
    assert response.status_code == expected, response.content


@pytest.mark.django_db
def test_only_a_manager_deletes_and_a_customer_with_orders_is_protected(api, catalogue):
    lone, buyer = make_customers(2)
    from customers.records import OrderLine, order_create

    order_create(customer=buyer, ordered_at=lone.created_at, lines=[OrderLine(catalogue[0], 1)])
    assert api("Sales").delete(f"/api/customers/{lone.pk}/").status_code == 403
    assert api("Manager").delete(f"/api/customers/{lone.pk}/").status_code == 204
    refused = api("Manager").delete(f"/api/customers/{buyer.pk}/")
    assert refused.status_code == 409 and list(refused.json()) == ["detail"]


@pytest.mark.django_db
def test_a_user_rotates_and_revokes_their_token_with_a_session(role_user):
    user = role_user("Service")
    client = APIClient()
    client.force_login(user)
    first = client.post("/api/token/")
    assert first.status_code == 201
    second = client.post("/api/token/")
    assert second.json()["token"] != first.json()["token"]
    assert Token.objects.get(user=user).key == second.json()["token"]

    with_old = APIClient(HTTP_AUTHORIZATION=f"Token {first.json()['token']}")
    assert with_old.get("/api/customers/").status_code == 401
    with_new = APIClient(HTTP_AUTHORIZATION=f"Token {second.json()['token']}")
    assert with_new.get("/api/customers/").status_code == 200
    # The token cannot mint its successor: only a session can.
    assert with_new.post("/api/token/").status_code in (401, 403)

    assert client.delete("/api/token/").status_code == 204
    assert not Token.objects.filter(user=user).exists()
    assert with_new.get("/api/customers/").status_code == 401


@pytest.mark.django_db
def test_requests_are_throttled_per_user(api, settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"user": "3/min"}}
    sales, service = api("Sales"), api("Service")
    assert [sales.get("/api/products/").status_code for _ in range(4)] == [200, 200, 200, 429]
    throttled = sales.get("/api/products/")
    assert throttled.status_code == 429 and "Retry-After" in throttled
    assert service.get("/api/products/").status_code == 200  # another user has their own budget
