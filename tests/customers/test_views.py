"""The dashboard, the customer list with its export, and the customer 360, per role."""
from __future__ import annotations

import csv
import io

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from analytics.models import ScoreRun
from core import navigation
from customers.models import Customer, Interaction
from customers.selectors import mask_email, mask_phone
from tests.factories import OrderFactory, OrderItemFactory
from tests.pages.ui_data import add_customers, make_products

pytestmark = pytest.mark.django_db




def client_for(client, role_user, role):
    client.force_login(role_user(role))
    return client


def test_pages_require_login(client, world):
    for url in ("/", "/customers/", f"/customers/{world[1][0].pk}/", "/customers/export.csv"):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith("/login/"), url


@pytest.mark.parametrize("role", ["Manager", "Sales", "Service"])
def test_dashboard_shows_kpis_charts_and_last_run(client, role_user, world, role):
    # At /dashboard/ for every role; / is a service agent's My work (tests/campaigns/test_service_start.py).
    response = client_for(client, role_user, role).get("/dashboard/")
    assert response.status_code == 200
    kpis = {k.key: k for k in response.context["kpis"]}
    assert kpis["customers"].value == 6
    assert kpis["active"].value == 6
    assert kpis["high_risk"].value == pytest.approx(100 * 2 / 6)
    assert float(kpis["mean_clv"].value) == pytest.approx(12.5)
    assert set(response.context["charts"]) == {"rfm", "value", "churn", "clv", "forecast", "sentiment"}
    html = response.content.decode()
    assert 'data-chart="chart-forecast"' in html and 'id="chart-forecast"' in html
    assert "vendor/chartjs/chart.umd.min.js" in html
    # Only users who may see runs get the link to the model cards.
    assert (reverse("analytics:run_detail", args=[world[0].pk]) in html) == (role != "Service")


def test_dashboard_reads_a_fixed_number_of_queries(client, role_user, world):
    from django.core.cache import cache

    client = client_for(client, role_user, "Manager")
    client.get("/")
    cache.clear()  # measure the computation, not the cached summary
    with CaptureQueriesContext(connection) as small:
        client.get("/")
    add_customers(20, start=100, run=world[0])
    cache.clear()
    with CaptureQueriesContext(connection) as large:
        client.get("/")
    assert len(large) == len(small) <= 25


def test_dashboard_reads_the_figures_the_last_run_stored(client, role_user, world):
    from analytics.dashboard import dashboard_figures
    from analytics.models import ScoreRun

    client = client_for(client, role_user, "Manager")

    def customers(response):
        return {k.key: k for k in response.context["kpis"]}["customers"].value

    # No run has stored figures: computed live once, then served from the cache.
    first = client.get("/")
    with CaptureQueriesContext(connection) as cached:
        again = client.get("/")
    assert len(cached) <= 9  # the runs, the last-run panel, realised-accuracy drift, session and user
    assert customers(again) == customers(first) == 6 and not again.context["figures_stored"]

    # A finished run stores its figures; the page shows them at once and scans nothing.
    add_customers(4, start=200, run=world[0])
    ScoreRun.objects.create(as_of=world[0].as_of, status="succeeded", dashboard=dashboard_figures())
    with CaptureQueriesContext(connection) as stored:
        response = client.get("/")
    assert customers(response) == 10 and response.context["figures_stored"]
    assert "Figures as of the last analysis run" in response.content.decode()
    scans = [q["sql"] for q in stored if '"customers_customer"' in q["sql"] or '"customers_order"' in q["sql"]]
    assert scans == [] and len(stored) <= 9  # with the realised-accuracy drift check


def test_empty_dashboard_offers_the_run_button_to_managers_only(client, role_user):
    Customer.objects.create(name="Unscored")
    manager = client_for(client, role_user, "Manager").get("/").content.decode()
    assert "No scores yet: run the analysis." in manager
    assert reverse("analytics:run_start") in manager
    client.logout()
    sales = client_for(client, role_user, "Sales").get("/").content.decode()
    assert "No scores yet: run the analysis." in sales
    assert reverse("analytics:run_start") not in sales


def test_list_filters_sorts_and_paginates(client, role_user, world):
    client = client_for(client, role_user, "Sales")
    response = client.get("/customers/", {"churn_risk": "high", "sort": "-clv"})
    names = [c.name for c in response.context["page"].object_list]
    assert names == ["Customer 003", "Customer 000"]
    response = client.get("/customers/", {"churn_min": "0.4", "churn_max": "0.5", "region": "North"})
    assert [c.name for c in response.context["page"].object_list] == ["Customer 004"]
    response = client.get("/customers/", {"clv_min": "14", "marketing_consent": "true"})
    assert [c.name for c in response.context["page"].object_list] == ["Customer 004"]


def test_list_rejects_bad_filters_with_400_naming_the_field(client, role_user, world):
    client = client_for(client, role_user, "Sales")
    response = client.get("/customers/", {"churn_min": "lots"})
    assert response.status_code == 400
    assert "Churn probability from" in response.content.decode()
    response = client.get("/customers/", {"clv_min": "50", "clv_max": "10"})
    assert response.status_code == 400
    assert "Must not be below the lower bound." in response.content.decode()
    response = client.get("/customers/", {"churn_risk": "extreme"})
    assert response.status_code == 400


def test_search_by_contact_details_needs_view_pii(client, role_user, world):
    sales = client_for(client, role_user, "Sales")
    found = sales.get("/customers/", {"q": "person2@example.com"}).context["page"].object_list
    assert [c.name for c in found] == ["Customer 002"]
    client.logout()
    service = client_for(client, role_user, "Service")
    response = service.get("/customers/", {"q": "person2@example.com"})
    assert list(response.context["page"].object_list) == []
    assert "person" not in response.content.decode().split('id="result-count"')[1]
    by_name = service.get("/customers/", {"q": "customer 002"}).context["page"].object_list
    assert [c.name for c in by_name] == ["Customer 002"]


def test_list_runs_a_constant_number_of_queries(client, role_user, world, django_user_model):
    client = client_for(client, role_user, "Manager")
    owner = django_user_model.objects.create_user("owner")
    Customer.objects.update(owner=owner)
    with CaptureQueriesContext(connection) as small:
        assert client.get("/customers/").status_code == 200
    for customer in add_customers(30, start=200, run=world[0]):
        customer.owner = owner
        customer.save(update_fields=["owner"])
    with CaptureQueriesContext(connection) as large:
        response = client.get("/customers/")
    assert len(response.context["page"].object_list) == 36
    assert len(large) == len(small)


def test_export_requires_permission(client, role_user, world):
    response = client_for(client, role_user, "Service").get("/customers/export.csv")
    assert response.status_code == 403


def read_csv(response):
    body = b"".join(response.streaming_content).decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(body)))


def test_export_writes_the_filtered_list(client, role_user, world):
    response = client_for(client, role_user, "Sales").get("/customers/export.csv", {"churn_risk": "high"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    rows = read_csv(response)
    assert [r["name"] for r in rows] == ["Customer 000", "Customer 003"]
    assert rows[0]["email"] == "person0@example.com"
    assert rows[0]["churn_probability"] == "0.72"


def test_export_leaves_out_contact_details_without_view_pii(client, role_user, world):
    from django.contrib.auth.models import Permission

    user = role_user("Service")
    user.user_permissions.add(Permission.objects.get(codename="export_customer"))
    client.force_login(user)
    rows = read_csv(client.get("/customers/export.csv"))
    assert len(rows) == 6
    assert not {"email", "phone", "birth_date"} & set(rows[0])


def test_export_rejects_bad_filters(client, role_user, world):
    response = client_for(client, role_user, "Sales").get("/customers/export.csv", {"clv_min": "x"})
    assert response.status_code == 400
    assert b"clv_min" in response.content


def test_customer_360_for_sales_shows_everything(client, role_user, world):
    customer = world[1][0]
    response = client_for(client, role_user, "Sales").get(f"/customers/{customer.pk}/")
    html = response.content.decode()
    assert response.status_code == 200
    assert "person0@example.com" in html
    assert "Churn risk high (72 %)" in html
    assert "no order for 140 days, about 1.8x their usual gap of 80 days" in html
    assert "pushes the risk up: no order for 140 days, a typical customer last ordered 43 days ago" in html
    assert "because they bought Green tea" in html
    assert "2 × Green tea @ CN¥10.00" in html
    assert "The delivery was late" in html and "Called back" in html


def test_customer_360_masks_contact_details_for_service(client, role_user, world):
    customer = world[1][0]
    html = client_for(client, role_user, "Service").get(f"/customers/{customer.pk}/").content.decode()
    assert "person0@example.com" not in html and customer.phone not in html
    assert mask_email(customer.email) == "p***@example.com"
    assert "p***@example.com" in html
    assert mask_phone(customer.phone) in html


def test_customer_360_query_count_does_not_grow_with_history(client, role_user, world):
    client = client_for(client, role_user, "Sales")
    customer = world[1][0]
    with CaptureQueriesContext(connection) as small:
        client.get(f"/customers/{customer.pk}/")
    product = make_products()[2]
    for _i in range(5):
        order = OrderFactory(customer=customer, ordered_at=customer.last_order_at, total_amount=5)
        OrderItemFactory(order=order, product=product, quantity=1, unit_price=5)
    with CaptureQueriesContext(connection) as large:
        client.get(f"/customers/{customer.pk}/")
    assert len(large) == len(small)


def test_log_interaction_through_the_service(client, role_user, world):
    customer = world[1][1]
    user = role_user("Service")
    client.force_login(user)
    response = client.post(f"/customers/{customer.pk}/", {"kind": "complaint", "outcome": "Refund offered",
                                                          "note": "Parcel lost"})
    assert response.status_code == 302
    interaction = Interaction.objects.get(customer=customer, kind="complaint")
    assert interaction.staff == user and interaction.outcome == "Refund offered"


def test_log_interaction_rejects_bad_input(client, role_user, world):
    customer = world[1][1]
    client = client_for(client, role_user, "Sales")
    response = client.post(f"/customers/{customer.pk}/", {"kind": "telepathy"})
    assert response.status_code == 400
    assert "Select a valid choice" in response.content.decode()
    assert not Interaction.objects.filter(customer=customer, kind="telepathy").exists()


def test_unknown_customer_is_404(client, role_user, world):
    assert client_for(client, role_user, "Sales").get("/customers/999999/").status_code == 404


def test_navigation_follows_the_role(client, role_user, world):
    def labels(role):
        client.force_login(role_user(role))
        items = [str(item["label"]) for item in client.get("/").context["nav_items"]]
        client.logout()
        return items

    manager, sales, service = labels("Manager"), labels("Sales"), labels("Service")
    assert {"Customers", "Segments", "Churn", "Bundles", "Feedback", "Forecast", "Score runs"} <= set(manager)
    assert "Bundles" in sales and "Feedback" not in sales and "Segments" not in sales
    assert "Feedback" in service and "Bundles" not in service and "Score runs" not in service
    assert ScoreRun.objects.count() == 1


def test_navigation_skips_pages_whose_url_does_not_exist(rf, role_user, monkeypatch):
    monkeypatch.setattr(navigation, "NAV_ENTRIES", [*navigation.NAV_ENTRIES, navigation.NavEntry(
        "customers", "nowhere:page", "Not built yet", 999)])
    request = rf.get("/")
    request.user = role_user("Manager")
    labels = [str(item["label"]) for item in navigation.navigation(request)["nav_items"]]
    assert "Customers" in labels and "Not built yet" not in labels


@pytest.mark.parametrize("language,known,unknown", [
    ("en", "40 % likely still active", "not enough purchase history to tell whether they are still active"),
    ("zh-hans", "仍活跃的可能性 40 %", "购买记录还太少，暂时无法判断是否仍活跃"),
])
def test_customer_360_says_when_p_alive_is_unknown(client, role_user, world, settings, language, known, unknown):
    """p_alive is NULL where the purchase model cannot tell; the page says so instead of a number."""
    client = client_for(client, role_user, "Sales")
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
    customer = world[1][0]
    html = client.get(f"/customers/{customer.pk}/").content.decode()
    assert known in html and unknown not in html
    Customer.objects.filter(pk=customer.pk).update(p_alive=None)
    html = client.get(f"/customers/{customer.pk}/").content.decode()
    assert unknown in html and known not in html


def test_the_list_counts_with_a_thousands_separator(client, role_user):
    """"1,001 customers", not "1001 customers" (#16 item 6), and "1,001 位客户" in Chinese."""
    Customer.objects.bulk_create(Customer(name=f"Customer {i}") for i in range(1001))
    manager = client_for(client, role_user, "Manager")
    assert '<p class="muted" id="result-count">1,001 customers</p>' in manager.get("/customers/").content.decode()
    manager.post("/i18n/setlang/", {"language": "zh-hans", "next": "/"})
    assert '<p class="muted" id="result-count">1,001 位客户</p>' in manager.get("/customers/").content.decode()
