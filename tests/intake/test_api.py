"""The REST endpoints: bulk import, duplicates, merges and undo, with their permissions."""
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from customers.models import Customer, Order
from intake.models import CustomerMerge
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def api():
    return APIClient()


def test_bulk_import_with_a_partly_bad_batch(api, role_user):
    api.force_authenticate(role_user("Sales"))
    records = [
        {"customer_id": "C1", "name": "Zhang Wei", "phone": "13800138000"},
        {"customer_id": "C2", "name": "Li Na", "email": "not-an-email"},
        {"客户编号": "C3", "姓名": "王芳", "邮箱": "wf@example.com"},
        {"customer_id": "C1", "name": "Zhang Wei again"},
    ]
    response = api.post("/api/imports/customers/", records, format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert {k: body[k] for k in ("total", "created", "updated", "unchanged", "rejected")} == {
        "total": 4, "created": 2, "updated": 0, "unchanged": 0, "rejected": 2}
    assert [(e["line"], e["field"]) for e in body["errors"]] == [(2, "email"), (4, "customer_id")]
    assert body["errors"][0]["row"]["email"] == "not-an-email"
    assert set(Customer.objects.values_list("external_id", flat=True)) == {"C1", "C3"}
    again = api.post("/api/imports/customers/", records, format="json").json()
    assert (again["unchanged"], again["rejected"]) == (2, 2)


def test_bulk_import_refuses_malformed_requests(api, role_user):
    api.force_authenticate(role_user("Sales"))
    too_many = [{"customer_id": f"C{i}", "name": "x"} for i in range(10_001)]
    response = api.post("/api/imports/customers/", too_many, format="json")
    assert response.status_code == 400 and "At most 10000 records" in response.json()["non_field_errors"][0]
    response = api.post("/api/imports/customers/", {"customer_id": "C1"}, format="json")
    assert response.status_code == 400 and "JSON list" in response.json()["non_field_errors"][0]
    response = api.post("/api/imports/customers/", [{"name": "a"}, "oops"], format="json")
    assert response.status_code == 400 and "Record 2" in response.json()["non_field_errors"][0]
    assert api.post("/api/imports/spaceships/", [], format="json").status_code == 404
    assert not Customer.objects.exists()


def test_bulk_orders_query_count_is_flat(api, role_user):
    api.force_authenticate(role_user("Sales"))
    Customer.objects.bulk_create([Customer(external_id=f"C{i}", name=f"N{i}") for i in range(100)])

    def count(n, offset):
        records = [{"order_id": f"O{offset + i}", "customer_id": f"C{i}", "ordered_at": "2025-01-01",
                    "amount": "10"} for i in range(n)]
        with CaptureQueriesContext(connection) as ctx:
            assert api.post("/api/imports/orders/", records, format="json").json()["created"] == n
        return len(ctx.captured_queries)

    count(1, 5000)  # the first request also loads the user's permissions
    # SQLite splits a bulk insert into batches of 999 parameters, so 100 rows may take a batch
    # or two more than 5 rows; a query per row would take 95 more.
    assert count(100, 1000) <= count(5, 0) + 2
    assert Order.objects.count() == 106


def test_service_cannot_import_or_merge(api, role_user):
    a, b = CustomerFactory(name="A"), CustomerFactory(name="B")
    api.force_authenticate(role_user("Service"))
    assert api.post("/api/imports/customers/", [{"customer_id": "X", "name": "x"}], format="json").status_code == 403
    assert api.post("/api/merges/", {"survivor": a.pk, "duplicate": b.pk}, format="json").status_code == 403
    assert api.get("/api/duplicates/").status_code == 200
    sales = role_user("Sales", username="sales")
    api.force_authenticate(sales)
    assert api.post("/api/merges/", {"survivor": a.pk, "duplicate": b.pk}, format="json").status_code == 403
    api.force_authenticate(None)
    assert api.post("/api/imports/customers/", [], format="json").status_code in (401, 403)
    assert not Customer.objects.filter(external_id="X").exists() and not CustomerMerge.objects.exists()


def test_duplicates_merge_and_undo_endpoints(api, role_user):
    when = datetime(2025, 1, 1, tzinfo=UTC)
    a = CustomerFactory(name="Zhang Wei", email="zw@example.com", city="")
    b = CustomerFactory(name="Zhang Wei", email="zw@example.com", city="Shanghai")
    order = Order.objects.create(customer=b, ordered_at=when, total_amount=Decimal(5))
    api.force_authenticate(role_user("Service"))
    listed = api.get("/api/duplicates/").json()
    assert listed["count"] == 1 and "email" not in listed["results"][0]["customer"]
    api.force_authenticate(role_user("Manager"))
    listed = api.get("/api/duplicates/").json()["results"][0]
    assert (listed["reason"], listed["customer"]["email"]) == ("email", "zw@example.com")

    bad = api.post("/api/merges/", {"survivor": a.pk, "duplicate": b.pk, "field_choices": {"city": "both"}},
                   format="json")
    assert bad.status_code == 400
    assert any(key.startswith("field_choices") for key in bad.json()), bad.json()
    bad = api.post("/api/merges/", {"survivor": a.pk, "duplicate": a.pk}, format="json")
    assert bad.status_code == 400 and "itself" in bad.json()["non_field_errors"][0]

    response = api.post("/api/merges/", {"survivor": a.pk, "duplicate": b.pk,
                                         "field_choices": {"city": "duplicate"}}, format="json")
    assert response.status_code == 201, response.content
    merge = response.json()
    assert merge["moved"]["records"]["orders"] == [order.pk]
    assert Customer.objects.get(pk=a.pk).city == "Shanghai"
    assert api.get("/api/duplicates/").json()["count"] == 0

    undo = api.post(f"/api/merges/{merge['id']}/undo/")
    assert undo.status_code == 200 and undo.json()["undone_at"]
    order.refresh_from_db()
    assert order.customer_id == b.pk and Customer.objects.get(pk=a.pk).city == ""
    assert api.post(f"/api/merges/{merge['id']}/undo/").status_code == 400
    assert api.post("/api/merges/999999/undo/").status_code == 404
