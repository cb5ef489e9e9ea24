"""Under /api/ even a path no route matches, or an unexpected error, answers in the API's JSON
error shape (schemathesis sent ``/api/customers/0.5/`` and got Django's HTML page)."""
import json

import pytest
from django.test import Client

from core.api.errors import server_error

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("url", ["/api/customers/0.5/", "/api/webhooks/endpoints/x.y/secret/",
                                 "/api/no-such-thing/"])
def test_an_unmatched_api_path_gets_a_json_404(api, url):
    for method in ("get", "put", "delete"):
        response = getattr(api("Manager"), method)(url)
        assert response.status_code == 404
        assert response["Content-Type"] == "application/json"
        assert response.json() == {"detail": ["Not found."]}


def test_outside_the_api_the_404_is_still_the_html_page(api):
    client = Client()
    client.force_login(api("Manager").user)
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


def test_a_server_error_under_the_api_is_json(rf):
    response = server_error(rf.get("/api/customers/"))
    assert response.status_code == 500
    assert response["Content-Type"] == "application/json"
    assert json.loads(response.content) == {"detail": ["A server error occurred."]}
    assert server_error(rf.get("/customers/"))["Content-Type"].startswith("text/html")
