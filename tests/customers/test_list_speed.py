"""What the customer list does to stay fast at 100,000 customers, and that it stays correct:
a capped count shown honestly, unscored customers last in every sort, regions by index."""
from __future__ import annotations

from decimal import Decimal

import pytest
from django.contrib.auth.models import AnonymousUser
from django.db import connection
from django.http import QueryDict
from django.test.utils import CaptureQueriesContext
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from customers import views
from customers.filters import SORTS, CustomerListFilter, region_choices
from customers.models import Customer, CustomerScore

pytestmark = pytest.mark.django_db

# Few distinct values, so sorts meet ties (the id decides) and unscored customers (last).
_SCORE = st.fixed_dictionaries({
    "name": st.sampled_from(["Ann", "Bo", "bo", "Cy", "Ann"]),
    "churn_probability": st.none() | st.sampled_from([0.0, 0.2, 0.5, 0.9]),
    "clv_12m": st.none() | st.sampled_from([Decimal("0.00"), Decimal("10.50"), Decimal("99.99")]),
    "total_spent": st.none() | st.sampled_from([Decimal("0.00"), Decimal("5.00"), Decimal("120.00")]),
    "recency_days": st.none() | st.integers(0, 3),
    "order_count": st.none() | st.integers(0, 3),
})


@settings(max_examples=15, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(rows=st.lists(_SCORE, min_size=1, max_size=9), churn_min=st.sampled_from(["", "0.2"]))
def test_the_order_is_the_same_whether_the_matches_or_the_sort_index_are_read_first(rows, churn_min):
    Customer.objects.all().delete()
    for row in rows:
        customer = Customer.objects.create(name=row["name"])
        CustomerScore.objects.filter(customer=customer).update(
            **{k: v for k, v in row.items() if k != "name"})
    for sort in SORTS:
        filterset = CustomerListFilter(QueryDict(f"sort={sort}&churn_min={churn_min}"),
                                       queryset=Customer.objects.live(), user=AnonymousUser())
        by_index = list(filterset.qs.values_list("id", flat=True))
        by_matches = list(filterset.matches_first(filterset.qs).values_list("id", flat=True))
        assert by_matches == by_index, sort


def _order_by(queries) -> str:
    page = [q["sql"] for q in queries if "ORDER BY" in q["sql"] and "LIMIT" in q["sql"]]
    return page[-1].split("ORDER BY", 1)[1]


def test_few_matches_are_sorted_after_they_are_read_and_many_through_the_sort_index(
        client, role_user, world, monkeypatch):
    client.force_login(role_user("Sales"))
    with CaptureQueriesContext(connection) as few:
        client.get("/customers/", {"sort": "-recency", "churn_min": "0.5"})
    assert '"recency_days" + 0' in _order_by(few)  # an expression: no index to walk
    monkeypatch.setattr(views, "LIST_COUNT_CAP", 1)
    with CaptureQueriesContext(connection) as many:
        client.get("/customers/", {"sort": "-recency"})
    assert "+ 0" not in _order_by(many) and "DESC" in _order_by(many)


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
