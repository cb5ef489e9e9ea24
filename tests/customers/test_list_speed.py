"""What the customer list does to stay fast at 100,000 customers, and that it stays correct:
a capped count shown honestly, unscored customers last in every sort, regions by index."""
from __future__ import annotations

import pytest

from customers import views
from customers.filters import region_choices
from customers.models import Customer

pytestmark = pytest.mark.django_db




def test_count_past_the_cap_says_more_than_and_pages_stop_there(client, role_user, world, monkeypatch):
    monkeypatch.setattr(views, "LIST_COUNT_CAP", 4)
    monkeypatch.setattr(views, "PAGE_SIZE", 2)
    client.force_login(role_user("Sales"))
    response = client.get("/customers/")
    assert response.context["capped"] is True and response.context["total"] == 4
    assert "More than 4 customers match; the pages show the first 4." in response.content.decode()
    assert response.context["page"].paginator.num_pages == 2
    # Under the cap the exact number is shown.
    exact = client.get("/customers/", {"churn_risk": "high"})
    assert exact.context["capped"] is False and "2 customers" in exact.content.decode()


def test_unscored_customers_come_last_in_every_sort(client, role_user, world):
    Customer.objects.create(name="Aaron Unscored")
    client.force_login(role_user("Sales"))
    for sort in ("-churn", "churn", "-clv", "clv", "-spent", "recency", "-recency", "-orders"):
        names = [c.name for c in client.get("/customers/", {"sort": sort}).context["page"].object_list]
        assert names[-1] == "Aaron Unscored", sort
    by_churn = [c.churn_probability for c in
                client.get("/customers/", {"sort": "-churn"}).context["page"].object_list][:-1]
    assert by_churn == sorted(by_churn, reverse=True)


def test_default_order_is_by_name_as_the_sort_select_says(client, role_user, world):
    Customer.objects.create(name="Aaron Unscored")
    client.force_login(role_user("Sales"))
    names = [c.name for c in client.get("/customers/").context["page"].object_list]
    assert names == sorted(names) and names[0] == "Aaron Unscored"
    reverse_names = [c.name for c in client.get("/customers/", {"sort": "-name"}).context["page"].object_list]
    assert reverse_names == names[::-1]
    # A search sorts its matches the same way.
    searched = [c.name for c in client.get("/customers/", {"q": "customer", "sort": "-name"})
                .context["page"].object_list]
    assert searched == [n for n in names[::-1] if n.startswith("Customer")]


def test_region_choices_are_every_distinct_region_in_order(world):
    Customer.objects.create(name="No region")
    Customer.objects.create(name="East one", region="East")
    assert region_choices() == [("East", "East"), ("North", "North"), ("South", "South")]


def test_saved_filters_add_one_query_whatever_their_number(client, role_user, world):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from customers.services import saved_filter_create

    manager = role_user("Manager", "boss")
    sales = role_user("Sales")
    client.force_login(sales)
    saved_filter_create(user=sales, name="one", query="churn_risk=high")
    with CaptureQueriesContext(connection) as few:
        client.get("/customers/", {"sort": "-clv"})
    for i in range(5):
        saved_filter_create(user=sales, name=f"mine {i}", query=f"clv_min={i}")
        saved_filter_create(user=manager, name=f"team {i}", query=f"clv_max={i + 10}", shared=True)
    with CaptureQueriesContext(connection) as many:
        response = client.get("/customers/", {"sort": "-clv"})
    assert len(response.context["saved_filters"]) == 11
    assert len(many) == len(few)
