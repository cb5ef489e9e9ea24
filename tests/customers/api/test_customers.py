"""Customers and products over the API: PII by permission, filters, paging, upserts, errors."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext

from customers.models import PII_FIELDS, SCORE_FIELDS, Customer, Product

from .conftest import make_customers

pytestmark = pytest.mark.django_db


def test_service_never_sees_nor_searches_nor_filters_contact_details(api):
    customer = make_customers(3)[1]
    service, sales = api("Service"), api("Sales")

    row = service.get(f"/api/customers/{customer.pk}/").json()
    assert not set(PII_FIELDS) & set(row)
    assert row["name"] == customer.name and set(SCORE_FIELDS) <= set(row)
    assert all(not set(PII_FIELDS) & set(r) for r in service.get("/api/customers/").json()["results"])
    assert sales.get(f"/api/customers/{customer.pk}/").json()["email"] == customer.email

    # Searching or filtering by a hidden field must not reveal it.
    assert service.get("/api/customers/", {"search": customer.email}).json()["results"] == []
    assert len(service.get("/api/customers/", {"email": customer.email}).json()["results"]) == 3
    assert [r["id"] for r in sales.get("/api/customers/", {"search": customer.email}).json()["results"]] == [
        customer.pk
    ]
    assert [
        r["id"] for r in sales.get("/api/customers/", {"email": customer.email.upper()}).json()["results"]
    ] == [customer.pk]

    # A Manager may give a Service user the contact-details permission.
    service.user.user_permissions.add(Permission.objects.get(codename="view_pii"))
    assert api("Service").get(f"/api/customers/{customer.pk}/").json()["email"] == customer.email


def test_score_fields_are_read_only_and_contact_details_normalised(api):
    sales = api("Sales")
    response = sales.post(
        "/api/customers/",
        {
            "name": "Ada",
            "email": " ADA@Example.COM ",
            "phone": "138 0013 8000",
            "churn_probability": 0.99,
            "rfm_segment": "Champions",
            "marketing_consent": True,
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["email"] == "ada@example.com" and body["phone"] == "+8613800138000"
    assert body["churn_probability"] is None and body["rfm_segment"] is None
    assert body["marketing_consent_at"] is not None  # consent without a time means now
    patched = sales.patch(
        f"/api/customers/{body['id']}/", {"loyalty_score": 1, "city": "Hangzhou"}, format="json"
    )
    assert patched.status_code == 200 and patched.json()["city"] == "Hangzhou"
    assert Customer.objects.get(pk=body["id"]).loyalty_score is None


@pytest.mark.parametrize(
    "payload,field",
    [
        ({"name": "x", "email": "not-an-email"}, "email"),
        ({"name": "x", "phone": "12"}, "phone"),
        ({"email": "a@example.com"}, "name"),
        ({"name": "x", "status": "asleep"}, "status"),
        ({"name": "x", "attributes": [1, 2]}, "attributes"),
        ({"name": "x", "owner": 10**6}, "owner"),
        ({"name": "x", "birth_date": "1990-02-30"}, "birth_date"),
        ({"name": "y" * 201}, "name"),
    ],
)
def test_bad_input_gets_400_naming_the_field(api, payload, field):
    response = api("Sales").post("/api/customers/", payload, format="json")
    assert response.status_code == 400
    body = response.json()
    assert list(body) == [field] and all(isinstance(m, str) and m for m in body[field])


def test_malformed_json_and_bad_filters_are_400_not_500(api):
    sales = api("Sales")
    broken = sales.post("/api/customers/", "{not json", content_type="application/json")
    assert broken.status_code == 400 and list(broken.json()) == ["detail"]
    for params, field in (
        ({"churn_probability__gte": "high"}, "churn_probability__gte"),
        ({"rfm_segment": "Sleepers"}, "rfm_segment"),
        ({"last_order_at__lte": "yesterday"}, "last_order_at__lte"),
    ):
        response = sales.get("/api/customers/", params)
        assert response.status_code == 400 and field in response.json(), response.content
    assert sales.get("/api/customers/", {"cursor": "garbage"}).status_code == 404


def test_filters_on_scores_region_status_and_consent(api):
    make_customers(8)
    Customer.objects.filter(external_id="C3").update(status="churned", marketing_consent=True)
    sales = api("Sales")

    def ids(**params):
        return {r["external_id"] for r in sales.get("/api/customers/", params).json()["results"]}

    expected = set(Customer.objects.filter(churn_probability__gte=0.3).values_list("external_id", flat=True))
    assert ids(churn_probability__gte=0.3) == expected and expected
    assert ids(rfm_r=2) == {"C1", "C6"}
    assert ids(region="east") == {"C1", "C3", "C5", "C7"}
    assert ids(status="churned") == ids(marketing_consent="true") == {"C3"}


@pytest.mark.parametrize("ordering", ["-churn_probability", "churn_probability", "rfm_r", "-id"])
def test_keyset_pages_cover_every_customer_once_in_order_with_nulls_last(api, ordering):
    make_customers(11)
    sales = api("Sales")
    seen, url, params = [], "/api/customers/", {"ordering": ordering, "page_size": 3}
    while url:
        page = sales.get(url, params).json()
        seen.extend(page["results"])
        url, params = page["next"], None
    assert sorted(r["id"] for r in seen) == sorted(Customer.objects.values_list("id", flat=True))
    field, descending = ordering.lstrip("-"), ordering.startswith("-")
    values = [r[field] for r in seen]
    present = [v for v in values if v is not None]
    assert present == sorted(present, reverse=descending)
    assert values[len(present) :] == [None] * (len(values) - len(present))  # nulls last

    # And back again: the previous link of the last page returns the page before it.
    last = sales.get("/api/customers/", {"ordering": ordering, "page_size": 3}).json()
    second = sales.get(last["next"]).json()
    back = sales.get(second["previous"]).json()
    assert [r["id"] for r in back["results"]] == [r["id"] for r in last["results"]]
    assert back["previous"] is None


def _queries(client, url) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured)


@pytest.mark.parametrize(
    "url",
    [
        "/api/customers/",
        "/api/orders/",
        "/api/products/",
        "/api/feedback/",
        "/api/interactions/",
        "/api/score-runs/",
        "/api/bundles/",
        "/api/segments/",
    ],
)
def test_list_endpoints_run_the_same_queries_for_3_or_15_rows(api, catalogue, url):
    from analytics.models import AssociationRule, ScoreRun, SegmentProfile
    from customers.models import Feedback, Interaction

    manager = api("Manager")

    def grow(n, start):
        customers = make_customers(n, start=start, with_orders=True, products=catalogue)
        Feedback.objects.bulk_create(
            [Feedback(customer=c, created_at=c.created_at, text="ok") for c in customers]
        )
        Interaction.objects.bulk_create(
            [Interaction(customer=c, kind="call", occurred_at=c.created_at) for c in customers]
        )
        runs = ScoreRun.objects.bulk_create(
            [ScoreRun(as_of=c.created_at, kind="incremental") for c in customers]
        )
        SegmentProfile.objects.bulk_create(
            [
                SegmentProfile(run=r, cluster=1, label="high", size=1, mean_spend=1, revenue_share=0.1)
                for r in runs
            ]
        )
        AssociationRule.objects.bulk_create(
            [
                AssociationRule(
                    run=r, antecedents=[1], consequents=[2], support=0.1, confidence=0.5, lift=1.5
                )
                for r in runs
            ]
        )

    grow(3, 0)
    small = _queries(manager, url)
    grow(12, 100)
    assert _queries(manager, url) == small


def test_upsert_by_external_id_creates_then_updates_and_is_idempotent(api):
    sales = api("Sales")
    body = {"name": "Lin", "region": "North", "email": "lin@example.com"}
    first = sales.put("/api/customers/by-external-id/ERP-7/", body, format="json")
    assert first.status_code == 201 and first.json()["external_id"] == "ERP-7"
    again = sales.put("/api/customers/by-external-id/ERP-7/", body, format="json")
    assert again.status_code == 200 and again.json()["id"] == first.json()["id"]
    changed = sales.put("/api/customers/by-external-id/ERP-7/", {**body, "region": "South"}, format="json")
    assert changed.json()["region"] == "South" and changed.json()["email"] == "lin@example.com"
    assert Customer.objects.filter(external_id="ERP-7").count() == 1
    # The external id comes from the path only.
    moved = sales.put("/api/customers/by-external-id/ERP-7/", {**body, "external_id": "X"}, format="json")
    assert moved.json()["external_id"] == "ERP-7"
    assert api("Service").put("/api/customers/by-external-id/ERP-8/", body, format="json").status_code == 403


def test_products_upsert_by_sku_needs_a_manager(api):
    manager = api("Manager")
    created = manager.put(
        "/api/products/by-sku/TEA-1/", {"name": "Green tea", "price": "12.00"}, format="json"
    )
    assert created.status_code == 201 and created.json()["sku"] == "TEA-1"
    updated = manager.put(
        "/api/products/by-sku/TEA-1/", {"name": "Green tea", "price": "13.50"}, format="json"
    )
    assert updated.status_code == 200 and Product.objects.get(sku="TEA-1").price == 13.5
    assert manager.put("/api/products/by-sku/TEA-2/", {"name": "x", "price": "-1"}, format="json").json() == {
        "price": ["Ensure this value is greater than or equal to 0."]
    }
    assert api("Sales").put("/api/products/by-sku/TEA-1/", {"name": "x"}, format="json").status_code == 403


def test_upserting_a_merged_customer_updates_its_survivor(api):
    survivor, duplicate = make_customers(2)
    Customer.objects.filter(pk=duplicate.pk).update(merged_into=survivor)
    response = api("Sales").put(
        f"/api/customers/by-external-id/{duplicate.external_id}/",
        {"name": "Merged name", "city": "Suzhou"},
        format="json",
    )
    assert response.status_code == 200 and response.json()["id"] == survivor.pk
    survivor.refresh_from_db()
    assert (survivor.city, survivor.external_id) == ("Suzhou", "C0")
    refused = api("Sales").patch(f"/api/customers/{duplicate.pk}/", {"city": "X"}, format="json")
    assert refused.status_code == 400 and list(refused.json()) == ["id"]


def test_without_the_contact_details_permission_they_cannot_be_written(django_user_model):
    from rest_framework.test import APIClient

    clerk = django_user_model.objects.create_user("clerk", password="x")
    clerk.user_permissions.add(*Permission.objects.filter(codename__in=["view_customer", "change_customer"]))
    customer = make_customers(1)[0]
    client = APIClient()
    client.force_authenticate(clerk)
    response = client.patch(
        f"/api/customers/{customer.pk}/", {"email": "new@example.com", "city": "Xi'an"}, format="json"
    )
    assert response.status_code == 200 and "email" not in response.json()
    customer.refresh_from_db()
    assert (customer.email, customer.city) == ("c0@example.com", "Xi'an")


def test_datetime_filters_with_any_valid_offset_are_answered(api):
    """PostgreSQL refuses offsets past 15:59; Python accepts up to 23:59. Found by schemathesis."""
    customer = make_customers(1)[0]
    Customer.objects.filter(pk=customer.pk).update(last_order_at="2026-01-10T12:00:00Z")
    manager = api("Manager")
    response = manager.get("/api/customers/", {"last_order_at__gte": "2026-01-10T23:00:00+22:44"})
    assert response.status_code == 200, response.content
    assert [c["id"] for c in response.json()["results"]] == [customer.pk]  # 00:16 UTC the same day
    response = manager.get("/api/customers/", {"last_order_at__gte": "2026-01-11T11:00:00+22:44"})
    assert response.json()["results"] == []  # 12:16 UTC on the 10th: after the order
