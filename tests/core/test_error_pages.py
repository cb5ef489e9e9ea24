"""The 403, 404 and 500 pages: styled, in the user's language, with a way on; the API keeps its
JSON errors."""
from __future__ import annotations

import pytest
from django.db import connection
from django.test import Client, RequestFactory
from django.test.utils import CaptureQueriesContext
from django.utils import translation

from core.api.errors import server_error

pytestmark = pytest.mark.django_db


def test_403_names_the_role_and_links_to_the_pages_it_may_open(client, role_user):
    client.force_login(role_user("Sales", username="sam"))
    response = client.get("/analytics/churn/")
    assert response.status_code == 403
    html = response.content.decode()
    assert "You are signed in as sam with the role Sales." in html
    assert 'href="/customers/"' in html and 'class="topbar"' in html
    assert 'href="/analytics/churn/"' not in html.split('id="error-links"')[1]


def test_403_in_chinese(client, role_user):
    client.force_login(role_user("Service", username="wang"))
    response = client.get("/analytics/churn/", HTTP_ACCEPT_LANGUAGE="zh-hans")
    html = response.content.decode()
    assert response.status_code == 403
    assert '<html lang="zh-hans">' in html
    with translation.override("zh-hans"):
        assert translation.gettext("What you can do instead") in html
        assert translation.gettext("Service") in html
    assert "What you can do instead" not in html


def test_404_page_has_navigation_in_both_languages(client, role_user):
    client.force_login(role_user("Manager"))
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    assert 'id="error-404"' in response.content.decode()
    assert 'href="/customers/"' in response.content.decode()
    response = client.get("/no-such-page/", HTTP_ACCEPT_LANGUAGE="zh-hans")
    with translation.override("zh-hans"):
        assert translation.gettext("Page not found") in response.content.decode()


def test_500_page_reads_no_database_and_is_translated():
    request = RequestFactory().get("/customers/")
    for language in ("en", "zh-hans"):
        with translation.override(language), CaptureQueriesContext(connection) as queries:
            response = server_error(request)
            title = translation.gettext("Something went wrong")
        assert response.status_code == 500
        assert title in response.content.decode()
        assert f'<html lang="{language}">' in response.content.decode()
        assert len(queries) == 0


def test_a_crashing_page_answers_with_the_styled_500(role_user, monkeypatch):
    import customers.views

    def crash(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(customers.views, "customer_search", crash, raising=False)
    client = Client(raise_request_exception=False)
    client.force_login(role_user("Manager"))
    monkeypatch.setattr("customers.filters.customer_search", crash)
    response = client.get("/customers/", {"q": "x"})
    assert response.status_code == 500
    assert 'id="error-500"' in response.content.decode()


def test_the_api_keeps_json_errors(client, role_user):
    client.force_login(role_user("Service"))
    for url, code in (("/api/no-such-thing/", 404), ("/api/campaigns/", 403)):
        response = client.get(url)
        assert response.status_code == code, url
        assert response["Content-Type"].startswith("application/json")
        assert "detail" in response.json()
