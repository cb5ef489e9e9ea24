"""Orders with their lines, feedback and interactions; Idempotency-Key on POST."""

from __future__ import annotations

import hashlib
import json
from decimal import Decimal
from unittest import mock

import pytest
from django.core.cache import cache

from customers.models import Feedback, Order, OrderItem

from .conftest import make_customers

pytestmark = pytest.mark.django_db


def _order(customer, catalogue, **extra):
    return {
        "customer": customer.pk,
        "ordered_at": "2026-06-01T10:00:00Z",
        "items": [
            {"product": catalogue[0].sku, "quantity": 2},
            {"product": catalogue[1].sku, "quantity": 1, "unit_price": "5.00"},
        ],
        **extra,
    }


def test_an_order_and_its_lines_are_created_in_one_post_with_the_total_computed(api, catalogue):
    customer = make_customers(1)[0]
    response = api("Sales").post("/api/orders/", _order(customer, catalogue), format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    expected = catalogue[0].price * 2 + Decimal("5.00")
    assert Decimal(body["total_amount"]) == expected
    assert [(i["product"], i["quantity"], i["unit_price"]) for i in body["items"]] == [
        (catalogue[0].sku, 2, str(catalogue[0].price)),
        (catalogue[1].sku, 1, "5.00"),
    ]
    assert OrderItem.objects.filter(order_id=body["id"]).count() == 2


@pytest.mark.parametrize(
    "change,field",
    [
        ({"total_amount": "1.00"}, "total_amount"),
        ({"items": []}, "items"),
        ({"items": [{"product": "NOPE", "quantity": 1}]}, "items.0.product"),
        ({"items": [{"product": "SKU-0", "quantity": 0}]}, "items.0.quantity"),
        ({"customer": 10**9}, "customer"),
        ({"ordered_at": "soon"}, "ordered_at"),
    ],
)
def test_a_bad_order_gets_400_naming_the_field_and_writes_nothing(api, catalogue, change, field):
    customer = make_customers(1)[0]
    response = api("Sales").post("/api/orders/", {**_order(customer, catalogue), **change}, format="json")
    assert response.status_code == 400
    assert list(response.json()) == [field], response.json()
    assert not Order.objects.exists()


def test_order_upsert_replaces_the_lines(api, catalogue):
    customer = make_customers(1)[0]
    sales = api("Sales")
    url = "/api/orders/by-external-id/SHOP-1/"
    first = sales.put(url, _order(customer, catalogue, total_amount=None), format="json")
    assert first.status_code == 201, first.content
    second = sales.put(
        url,
        {**_order(customer, catalogue), "items": [{"product": catalogue[2].sku, "quantity": 3}]},
        format="json",
    )
    assert second.status_code == 200 and second.json()["id"] == first.json()["id"]
    assert [i["product"] for i in second.json()["items"]] == [catalogue[2].sku]
    assert Decimal(second.json()["total_amount"]) == catalogue[2].price * 3
    assert Order.objects.count() == 1 and OrderItem.objects.count() == 1


def test_idempotency_key_replays_the_first_response_and_rejects_another_body(api, catalogue):
    customer = make_customers(1)[0]
    sales = api("Sales")
    body = _order(customer, catalogue)
    first = sales.post("/api/orders/", body, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    retry = sales.post("/api/orders/", body, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert first.status_code == retry.status_code == 201
    assert retry.json() == first.json() and retry["Idempotent-Replayed"] == "true"
    assert Order.objects.count() == 1

    other = sales.post(
        "/api/orders/",
        {**body, "ordered_at": "2026-06-02T10:00:00Z"},
        format="json",
        HTTP_IDEMPOTENCY_KEY="k-1",
    )
    assert other.status_code == 422 and list(other.json()) == ["detail"]
    # Keys are per user and per path; without a key every POST creates.
    assert (
        api("Manager").post("/api/orders/", body, format="json", HTTP_IDEMPOTENCY_KEY="k-1").status_code
        == 201
    )
    assert sales.post("/api/orders/", body, format="json").status_code == 201
    assert Order.objects.count() == 3


def test_an_error_is_not_kept_so_the_corrected_request_may_reuse_the_key(api, catalogue):
    customer = make_customers(1)[0]
    sales = api("Sales")
    bad = sales.post(
        "/api/orders/",
        {**_order(customer, catalogue), "total_amount": "1.00"},
        format="json",
        HTTP_IDEMPOTENCY_KEY="k-2",
    )
    assert bad.status_code == 400
    good = sales.post("/api/orders/", _order(customer, catalogue), format="json", HTTP_IDEMPOTENCY_KEY="k-2")
    assert good.status_code == 201
    assert sales.post(
        "/api/orders/", _order(customer, catalogue), format="json", HTTP_IDEMPOTENCY_KEY=""
    ).json() == {"Idempotency-Key": ["Must be 1 to 255 characters."]}


def test_feedback_is_stored_and_its_analysis_queued_after_commit(api, django_capture_on_commit_callbacks):
    customer = make_customers(1)[0]
    service = api("Service")
    with mock.patch("analytics.tasks.feedback_analyse.delay") as delay:
        with django_capture_on_commit_callbacks() as callbacks:
            response = service.post(
                "/api/feedback/",
                {"customer": customer.pk, "rating": 2, "text": "Delivery was late again"},
                format="json",
            )
        assert response.status_code == 201, response.content
        assert callbacks and not delay.called  # queued only once the row is committed
        for callback in callbacks:
            callback()
        delay.assert_called_once_with([response.json()["id"]])
    assert Feedback.objects.get(pk=response.json()["id"]).rating == 2
    assert api("Service").post(
        "/api/feedback/", {"customer": customer.pk, "rating": 6}, format="json"
    ).json() == {"rating": ["Ensure this value is less than or equal to 5."]}


def test_feedback_about_another_customers_order_is_refused(api, catalogue):
    customer, other = make_customers(2)
    order = Order.objects.create(customer=other, ordered_at="2026-01-01T00:00:00Z", total_amount=1)
    response = api("Service").post(
        "/api/feedback/", {"customer": customer.pk, "order": order.pk, "text": "fine"}, format="json"
    )
    assert response.status_code == 400 and list(response.json()) == ["order"]


def test_an_interaction_is_logged_by_the_caller(api):
    customer = make_customers(1)[0]
    service = api("Service")
    response = service.post(
        "/api/interactions/",
        {"customer": customer.pk, "kind": "complaint", "note": "Parcel damaged"},
        format="json",
    )
    assert response.status_code == 201
    assert response.json()["staff"] == service.user.pk and response.json()["occurred_at"]
    listed = service.get("/api/interactions/", {"customer": customer.pk, "kind": "complaint"}).json()
    assert [r["id"] for r in listed["results"]] == [response.json()["id"]]
    assert service.post(
        "/api/interactions/", {"customer": customer.pk, "kind": "fax"}, format="json"
    ).json().keys() == {"kind"}


def test_patching_an_order_checks_a_new_total_against_the_kept_lines(api, catalogue):
    customer = make_customers(1)[0]
    sales = api("Sales")
    order = sales.post("/api/orders/", _order(customer, catalogue), format="json").json()
    item_ids = [i["id"] for i in order["items"]]
    wrong = sales.patch(f"/api/orders/{order['id']}/", {"total_amount": "0.50"}, format="json")
    assert wrong.status_code == 400 and list(wrong.json()) == ["total_amount"]
    kept = sales.patch(f"/api/orders/{order['id']}/", {"status": "refunded"}, format="json")
    assert kept.status_code == 200 and kept.json()["status"] == "refunded"
    assert [i["id"] for i in kept.json()["items"]] == item_ids
    assert (
        api("Service").patch(f"/api/orders/{order['id']}/", {"status": "pending"}, format="json").status_code
        == 403
    )


def test_a_retry_while_the_first_request_runs_gets_409(api, catalogue):
    customer = make_customers(1)[0]
    sales = api("Sales")
    # What the first request leaves in the cache while it is still being handled.
    scope = f"{sales.user.pk}\nk-3\n/api/orders/"
    body = _order(customer, catalogue)
    fingerprint = hashlib.sha256(json.dumps(body).encode()).hexdigest()
    cache.set(
        "idempotency:" + hashlib.sha256(scope.encode()).hexdigest(),
        {"fingerprint": fingerprint, "pending": True},
    )
    response = sales.post(
        "/api/orders/", json.dumps(body), content_type="application/json", HTTP_IDEMPOTENCY_KEY="k-3"
    )
    assert response.status_code == 409 and list(response.json()) == ["detail"]
    assert not Order.objects.exists()
