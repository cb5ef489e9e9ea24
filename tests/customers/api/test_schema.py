"""The OpenAPI schema: valid, every field described, and true to what the API answers.

The fuzzing test drives the real WSGI application with schemathesis: for each operation of this
API it sends up to 10 generated requests as a Manager and checks that none gets a 5xx and that
every documented response matches its schema. The full fuzz (every operation, all phases, four
checks, a live server on demo data) is scripts/fuzz, run by CI after the tests.
"""

from __future__ import annotations

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from drf_spectacular.validation import validate_schema
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from .conftest import make_customers

pytestmark = pytest.mark.django_db
OWN_PATHS = r"^/api/(customers|products|orders|feedback|interactions|score-runs|segments|bundles|token|webhooks)/"
OWN_SCHEMAS = (
    "Customer",
    "Product",
    "Order",
    "OrderItem",
    "Feedback",
    "Interaction",
    "ScoreRun",
    "Recommendation",
    "SegmentProfile",
    "AssociationRule",
    "TokenResponse",
    "WebhookEndpoint",
    "WebhookEndpointCreated",
    "WebhookSecret",
    "WebhookDelivery",
    "WebhookDeliveryDetail",
    "WebhookAttempt",
)


def _schema(client) -> dict:
    response = client.get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    return response.json()


def test_the_schema_is_valid_openapi_and_describes_every_field(api):
    schema = _schema(api("Manager"))
    validate_schema(schema)
    components = schema["components"]["schemas"]
    undescribed = [
        f"{name}.{field}"
        for name, component in components.items()
        if name.removeprefix("Patched").removesuffix("Request") in OWN_SCHEMAS
        for field, spec in component.get("properties", {}).items()
        if not spec.get("description")
    ]
    assert undescribed == []
    customer = components["Customer"]["properties"]
    assert customer["churn_probability"]["readOnly"] and "contact-details" in customer["email"]["description"]
    assert "churn_probability" not in components["CustomerRequest"]["properties"]
    list_params = {p["name"]: p for p in schema["paths"]["/api/customers/"]["get"]["parameters"]}
    assert {
        "cursor",
        "ordering",
        "search",
        "churn_probability__gte",
        "region",
        "status",
        "marketing_consent",
        "rfm_segment",
        "last_order_at__lte",
    } <= set(list_params)
    assert all(p.get("description") for name, p in list_params.items())
    post = schema["paths"]["/api/orders/"]["post"]
    assert "Idempotency-Key" in {p["name"] for p in post["parameters"]}
    # The one error shape is documented on every operation of this API.
    assert {"400", "401", "403", "422", "429"} <= set(post["responses"])
    assert post["responses"]["400"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Error"
    }
    assert components["Error"]["additionalProperties"] == {"type": "array", "items": {"type": "string"}}


@pytest.fixture
def wsgi_app():
    # Like Django's test client: keep the test's transaction open across requests.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield get_wsgi_application()
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


def test_fuzzed_requests_get_no_server_error_and_answers_match_the_schema(api, catalogue, wsgi_app):
    manager = api("Manager")
    auth = {"Authorization": manager._credentials["HTTP_AUTHORIZATION"]}
    make_customers(3, with_orders=True, products=catalogue)
    schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", wsgi_app, headers=auth)
    schema = schema.include(path_regex=OWN_PATHS)

    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 30
    for operation in operations:

        @given(case=operation.as_strategy())
        @hypothesis_settings(
            max_examples=10,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def exercise(case):
            case.call_and_validate(headers=auth, checks=[not_a_server_error, response_schema_conformance])

        exercise()
