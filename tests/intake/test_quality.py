"""The data quality report: its counts, its query count, the page, the API and who may see them."""
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from customers.models import Customer, Feedback, Order, Product
from intake.duplicates import customer_merge
from intake.models import ImportJob
from intake.quality import data_quality_report
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def world():
    today = timezone.localdate()
    Customer.objects.bulk_create([
        Customer(external_id="C1", name="Zhang Wei", email="zw@example.com", phone="+8613800138000",
                 gender="male", birth_date=date(1990, 1, 5), city="上海", region="SH", country="CN",
                 signup_date=date(2020, 1, 1)),
        Customer(external_id="C2", name="Li Na", birth_date=today + timedelta(days=3), city="北京"),
        # More than 120 years ago yet after 1900, the floor the database holds (customers.bounds).
        Customer(name="Wang Fang", birth_date=date(1901, 5, 1), signup_date=today + timedelta(days=1)),
        Customer(external_id="C4", name="Zhao Lei", email="zl@example.com", city="北京",
                 birth_date=date(2000, 1, 1), signup_date=date(1999, 1, 1)),
    ])
    c1 = Customer.objects.get(external_id="C1")
    Product.objects.bulk_create([Product(sku="A", name="Tea", category="drinks", price=Decimal(5)),
                                 Product(sku="B", name="Cup", category="", price=Decimal(0)),
                                 Product(sku="C", name="Gold", category="x", price=Decimal(2_000_000))])
    now = timezone.now()
    Order.objects.bulk_create([
        Order(external_id="O1", customer=c1, ordered_at=now - timedelta(days=2), total_amount=Decimal(20)),
        Order(external_id="O2", customer=c1, ordered_at=now + timedelta(days=30), total_amount=Decimal(5)),
        Order(customer=c1, ordered_at=now - timedelta(days=1), total_amount=Decimal("3000000")),
    ])
    Feedback.objects.bulk_create([Feedback(customer=c1, created_at=now, rating=5, text="good"),
                                  Feedback(customer=c1, created_at=now, rating=None, text="")])
    return c1


def checks(report, table):
    found = next(t for t in report.tables if t.key == table)
    return found.total, {c.key: c.count for c in found.missing}, {c.key: c.count for c in found.out_of_range}


def test_report_counts_missing_and_implausible_values(world, role_user):
    report = data_quality_report()
    total, missing, bad = checks(report, "customers")
    assert total == 4
    assert missing == {"external_id": 1, "name": 0, "email": 2, "phone": 3, "gender": 3, "birth_date": 0,
                       "city": 1, "region": 3, "country": 3, "signup_date": 1}
    assert bad == {"birth_date_future": 1, "birth_date_too_old": 1, "signup_date_future": 1,
                   "signup_before_birth": 1}
    total, missing, bad = checks(report, "orders")
    assert (total, missing) == (3, {"external_id": 1})
    assert bad == {"amount_negative": 0, "amount_absurd": 1, "ordered_at_future": 1, "ordered_at_too_old": 0}
    assert checks(report, "products")[1:] == ({"name": 0, "category": 1}, {"price_zero": 1, "price_absurd": 1})
    assert checks(report, "feedback")[1:] == ({"rating": 1, "text": 1},
                                              {"rating_outside_1_5": 0, "created_at_future": 0})
    assert next(t for t in report.tables if t.key == "customers").missing[2].percent == 50.0


def test_merged_customers_and_the_duplicate_counts(world, role_user, client, django_capture_on_commit_callbacks):
    manager = role_user("Manager")
    twin = CustomerFactory(external_id="C9", name="Zhang Wei", email="zw@example.com")
    CustomerFactory(external_id="C10", name="Other", phone="+8613800138000")  # C1's phone
    CustomerFactory(external_id="C11", name="Zhao Leii", city="北京")  # C4's name, one letter more
    report = data_quality_report()
    assert (report.duplicate_pairs, report.all_duplicate_pairs) == (2, None)
    # The duplicates page lists every pair, similar names too; the report then shows that total.
    client.force_login(manager)
    assert client.get(reverse("intake:duplicates")).status_code == 200
    assert data_quality_report().all_duplicate_pairs["count"] == 3
    with django_capture_on_commit_callbacks(execute=True):
        customer_merge(survivor=world, duplicate=twin, field_choices={}, user=manager)
    report = data_quality_report()
    assert (report.duplicate_pairs, report.all_duplicate_pairs) == (1, None)  # the merge dropped the total
    assert checks(report, "customers")[0] == 6  # the merged-away record is not counted


def test_one_aggregate_query_per_table(world):
    with CaptureQueriesContext(connection) as first:
        data_quality_report()
    Customer.objects.bulk_create([Customer(name=f"N{i}") for i in range(50)])
    with CaptureQueriesContext(connection) as second:
        data_quality_report()
    # One aggregate for each of the four tables, the pairs sharing an email or phone, the recent
    # imports; a report only reads (abandoned jobs are shown failed, not written so).
    assert len(first) == len(second) == 6
    assert not any(q["sql"].upper().startswith("UPDATE") for q in first.captured_queries)
    assert sum("COUNT(" in q["sql"].upper() for q in first.captured_queries) == 5


def test_page_and_api_for_managers_only(world, role_user, client, settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)
    manager = role_user("Manager")
    ImportJob.objects.create(kind="orders", original_name="orders-2024.csv", status="succeeded", total=10,
                             created=7, unchanged=1, rejected=2, created_by=manager)
    client.force_login(manager)
    page = client.get(reverse("intake:quality"))
    assert page.status_code == 200
    html = page.content.decode()
    assert "orders-2024.csv" in html and reverse("intake:duplicates") in html
    assert "Out of range: birth date in the future" in html
    api = APIClient()
    api.force_authenticate(manager)
    body = api.get("/api/data-quality/").json()
    assert [t["key"] for t in body["tables"]] == ["customers", "orders", "products", "feedback"]
    customers = body["tables"][0]
    assert customers["total"] == 4
    assert {"key": "email", "label": "email", "count": 2, "percent": 50.0} in customers["missing"]
    assert body["duplicates_url"] == reverse("intake:duplicates")
    assert (body["duplicate_pairs"], body["all_duplicate_pairs"]) == (0, None)
    job = body["recent_imports"][0]
    assert (job["original_name"], job["created_by"], job["rejected"]) == ("orders-2024.csv", manager.username, 2)
    for role in ("Sales", "Service"):
        user = role_user(role)
        client.force_login(user)
        assert client.get(reverse("intake:quality")).status_code == 403
        api.force_authenticate(user)
        assert api.get("/api/data-quality/").status_code == 403
    api.force_authenticate(None)
    assert api.get("/api/data-quality/").status_code in (401, 403)
