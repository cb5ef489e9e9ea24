"""Saved filters of the customer list: the service's rules and the list page's save, apply and
delete, per role."""
from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.urls import reverse

from customers.models import SavedFilter
from customers.services import saved_filter_create, saved_filter_delete

pytestmark = pytest.mark.django_db




def test_query_is_reduced_to_known_filters_in_a_stable_order(role_user, world):
    sales = role_user("Sales")
    saved = saved_filter_create(user=sales, name="  High   risk ",
                                query="?sort=-clv&page=3&churn_risk=high&region=&q=")
    assert saved.name == "High risk"
    assert saved.query == "churn_risk=high&sort=-clv"  # page and empty values dropped


@pytest.mark.parametrize("query,message", [
    ("churn_risk=high&next=/admin/", "Unknown filter parameters: next."),
    ("churn_risk=extreme", "Churn risk: Select a valid choice."),
    ("clv_min=50&clv_max=10", "Must not be below the lower bound."),
    ("churn_risk=high&churn_risk=low", "churn_risk is given more than once."),
    ("page=4", "Apply at least one filter or a sort order before saving."),
    ("q=" + "x" * 1000, "The filter is too long to save."),
])
def test_a_saved_filter_cannot_carry_anything_but_valid_list_filters(role_user, world, query, message):
    with pytest.raises(ValidationError) as error:
        saved_filter_create(user=role_user("Sales"), name="Mine", query=query)
    assert list(error.value.message_dict) == ["query"]
    assert message in " ".join(error.value.message_dict["query"])
    assert not SavedFilter.objects.exists()


def test_name_is_required_and_unique_per_user_ignoring_case(role_user, world):
    sales, other = role_user("Sales"), role_user("Sales", "other-sales")
    with pytest.raises(ValidationError) as error:
        saved_filter_create(user=sales, name="   ", query="churn_risk=high")
    assert "name" in error.value.message_dict
    saved_filter_create(user=sales, name="At risk", query="churn_risk=high")
    with pytest.raises(ValidationError, match="already have a saved filter named"):
        saved_filter_create(user=sales, name="AT RISK", query="churn_risk=low")
    saved_filter_create(user=other, name="At risk", query="churn_risk=low")  # another user: fine
    # The database refuses a duplicate that slips past the check (two tabs at once).
    with pytest.raises(IntegrityError), transaction.atomic():
        SavedFilter.objects.create(user=sales, name="at risk", query="churn_risk=low")


def test_only_managers_share_and_only_owners_delete(role_user, world):
    sales, manager = role_user("Sales"), role_user("Manager", "boss")
    with pytest.raises(PermissionDenied):
        saved_filter_create(user=sales, name="Team", query="churn_risk=high", shared=True)
    shared = saved_filter_create(user=manager, name="Team", query="churn_risk=high", shared=True)
    with pytest.raises(SavedFilter.DoesNotExist):
        saved_filter_delete(user=sales, saved_filter_id=shared.pk)
    saved_filter_delete(user=manager, saved_filter_id=shared.pk)
    assert not SavedFilter.objects.exists()


def test_list_page_saves_shows_applies_and_deletes(client, role_user, world):
    manager, sales = role_user("Manager", "boss"), role_user("Sales")
    saved_filter_create(user=manager, name="Team view", query="churn_risk=medium", shared=True)
    saved_filter_create(user=manager, name="Private view", query="churn_risk=low")
    client.force_login(sales)
    # No filter applied: nothing to save, so no save form.
    assert 'id="save-filter"' not in client.get("/customers/").content.decode()
    page = client.get("/customers/", {"churn_risk": "high", "sort": "-clv"}).content.decode()
    assert 'id="save-filter"' in page and 'id="id_saved_shared"' not in page  # Sales cannot share
    assert "Team view" in page and "shared by boss" in page and "Private view" not in page

    response = client.post(reverse("customers:saved_filter_save"),
                           {"name": "My high risk", "query": "churn_risk=high&sort=-clv&page=2"})
    saved = SavedFilter.objects.get(name="My high risk")
    assert response.status_code == 302 and response["Location"] == "/customers/?churn_risk=high&sort=-clv"
    assert saved.user == sales and saved.query == "churn_risk=high&sort=-clv" and not saved.shared

    # Applying it is following its link: the list shows the same customers as the filters did.
    applied = client.get(f"/customers/?{saved.query}")
    assert [c.name for c in applied.context["page"].object_list] == ["Customer 003", "Customer 000"]
    html = applied.content.decode()
    assert f'href="?{saved.query.replace("&", "&amp;")}"' in html

    # A duplicate name comes back as a message naming the field, with the filters kept.
    again = client.post(reverse("customers:saved_filter_save"),
                        {"name": "my high risk", "query": "churn_risk=low"}, follow=True)
    assert "Name: You already have a saved filter named my high risk." in again.content.decode()
    assert again.redirect_chain[-1][0] == "/customers/?churn_risk=low"
    bad = client.post(reverse("customers:saved_filter_save"), {"name": "Odd", "query": "evil=1"}, follow=True)
    assert "Filters: Unknown filter parameters: evil." in bad.content.decode()

    # Someone else's (even shared) filter cannot be deleted; one's own can.
    team = SavedFilter.objects.get(name="Team view")
    assert client.post(reverse("customers:saved_filter_delete", args=[team.pk])).status_code == 404
    response = client.post(reverse("customers:saved_filter_delete", args=[saved.pk]))
    assert response.status_code == 302 and not SavedFilter.objects.filter(pk=saved.pk).exists()
    assert client.get(reverse("customers:saved_filter_save")).status_code == 405


def test_manager_shares_a_filter_from_the_page(client, role_user, world):
    client.force_login(role_user("Manager", "boss"))
    page = client.get("/customers/", {"churn_risk": "high"}).content.decode()
    assert 'id="id_saved_shared"' in page
    client.post(reverse("customers:saved_filter_save"), {"name": "Everyone", "query": "churn_risk=high",
                                                         "shared": "on"})
    assert SavedFilter.objects.get(name="Everyone").shared


def test_saved_filters_need_login_and_the_list_permission(client, django_user_model, world):
    response = client.post(reverse("customers:saved_filter_save"), {"name": "x", "query": "sort=-clv"})
    assert response.status_code == 302 and "/login/" in response["Location"]
    client.force_login(django_user_model.objects.create_user("nobody"))
    assert client.post(reverse("customers:saved_filter_save"),
                       {"name": "x", "query": "sort=-clv"}).status_code == 403
    assert not SavedFilter.objects.exists()
