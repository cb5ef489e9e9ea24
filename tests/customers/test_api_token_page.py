"""The staff page where every user creates, replaces and revokes their own API token."""
from __future__ import annotations

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db


def _api_status(key: str) -> int:
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return api.get("/api/customers/").status_code


def test_anonymous_visitors_are_sent_to_the_login(client):
    response = client.get("/account/api-token/")
    assert response.status_code == 302 and "/login/" in response["Location"]
    assert client.post("/account/api-token/", {"action": "rotate"}).status_code == 302
    assert not Token.objects.exists()


def test_create_replace_and_revoke_a_token(client, role_user):
    user = role_user("Sales")
    client.force_login(user)
    assert "You have no API token." in client.get("/account/api-token/").content.decode()

    first = client.post("/account/api-token/", {"action": "rotate"})
    key = first.context["new_key"]
    assert first.status_code == 200 and key in first.content.decode()
    assert _api_status(key) == 200  # the token acts as the Sales user

    page = client.get("/account/api-token/").content.decode()
    assert "You have a token, created" in page and key not in page  # shown once only

    second = client.post("/account/api-token/", {"action": "rotate"}).context["new_key"]
    assert second != key and _api_status(key) == 401 and _api_status(second) == 200

    revoked = client.post("/account/api-token/", {"action": "revoke"})
    assert revoked.status_code == 302 and _api_status(second) == 401
    assert not Token.objects.filter(user=user).exists()


def test_an_unknown_action_is_refused(client, role_user):
    client.force_login(role_user("Service"))
    response = client.post("/account/api-token/", {"action": "print"})
    assert response.status_code == 400 and "rotate or revoke" in response.content.decode()
    assert not Token.objects.exists()
