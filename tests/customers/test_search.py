"""The customer search (customers/selectors.py): every word in any order, identifiers whole and
ranked first, contact details only for users who may see them."""
from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from customers.models import Customer
from customers.selectors import customer_search
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def people():
    return {
        "laura": CustomerFactory(name="Laura Walker", external_id="UIT-0001",
                                 email="laura.walker@example.com", phone="+8613800138000"),
        # Her phone number contains 0001: the old search found her for "UIT-0001".
        "other": CustomerFactory(name="Zhang Wei", external_id="UIT-0777",
                                 email="zhang@example.com", phone="+8613900010001"),
        "walker": CustomerFactory(name="Tom Walker", external_id="UIT-0002",
                                  email="tom@example.com"),
        # A name that contains another customer's external id: found, but ranked after the id.
        "namesake": CustomerFactory(name="Shop UIT-0002 Annex", external_id="UIT-0900"),
    }


def names(user, text: str) -> list[str]:
    found = customer_search(Customer.objects.order_by("name"), text=text, user=user)
    if text.strip():
        found = found.order_by("search_rank", "name")
    return list(found.values_list("name", flat=True))


def test_every_word_matches_in_any_order(people, role_user):
    sales = role_user("Sales")
    assert names(sales, "walker laura") == ["Laura Walker"]
    assert names(sales, "  LAURA   walker ") == ["Laura Walker"]
    assert names(sales, "walker") == ["Laura Walker", "Tom Walker"]
    assert names(sales, "walker nobody") == []


def test_an_identifier_matches_whole_and_only_its_customer(people, role_user):
    sales = role_user("Sales")
    assert names(sales, "UIT-0001") == ["Laura Walker"]
    assert names(sales, "uit-0001") == ["Laura Walker"]
    assert names(sales, "UIT-000") == ["Shop UIT-0002 Annex"]  # by name; ids only whole
    assert names(sales, "laura.walker@example.com") == ["Laura Walker"]
    assert names(sales, "13800138000") == ["Laura Walker"]  # without the country code
    assert names(sales, "+86 138 0013 8000") == ["Laura Walker"]
    assert names(sales, "0001") == []  # too few digits to be a phone number


def test_exact_identifier_matches_come_first(people, role_user):
    sales = role_user("Sales")
    # Both match: Tom by his external id, the annex by its name; the identifier ranks first
    # although "Shop ..." sorts before "Tom ..." by name.
    assert names(sales, "UIT-0002") == ["Tom Walker", "Shop UIT-0002 Annex"]


def test_contact_details_are_not_searched_without_pii_permission(people, role_user):
    service = role_user("Service")
    assert names(service, "laura.walker@example.com") == []
    assert names(service, "13800138000") == []
    assert names(service, "UIT-0001") == ["Laura Walker"]
    assert names(service, "walker laura") == ["Laura Walker"]


def test_the_list_page_ranks_identifiers_first_with_the_same_query_count(client, people, role_user):
    client.force_login(role_user("Manager"))
    with CaptureQueriesContext(connection) as plain:
        client.get("/customers/", {"q": "walker"})
    with CaptureQueriesContext(connection) as ranked:
        response = client.get("/customers/", {"q": "UIT-0002", "sort": "name"})
    assert [c.name for c in response.context["page"].object_list] == ["Tom Walker", "Shop UIT-0002 Annex"]
    assert len(ranked) == len(plain)
    response = client.get("/customers/", {"q": "walker laura"})
    assert [c.name for c in response.context["page"].object_list] == ["Laura Walker"]
