"""Issue #20, item 15: audit gaps.

A Service user rewrote a Manager's complaint note and moved it to another customer, and nothing
recorded it (the interaction still showed the Manager as author); an order line changed with an
unchanged total left no trace. Now interactions and order lines keep history with the editing
user, the author is set by the server and never rewritten, and only the author or a Manager may
change or delete an interaction.
"""
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from customers.models import Interaction, OrderItem
from customers.services import interaction_log
from tests.factories import CustomerFactory, OrderFactory, OrderItemFactory, ProductFactory

pytestmark = pytest.mark.django_db
WHEN = datetime(2025, 5, 1, tzinfo=UTC)


@pytest.fixture
def people(role_user):
    return {role: role_user(role, username=role.lower()) for role in ("Manager", "Sales", "Service")}


def client_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def complaint(people):
    return interaction_log(customer=CustomerFactory(), staff=people["Manager"], kind="complaint",
                           occurred_at=WHEN, note="Parcel arrived broken; refund promised.")


def test_service_cannot_rewrite_or_move_or_delete_a_managers_interaction(people, complaint):
    other = CustomerFactory()
    service = client_for(people["Service"])
    response = service.patch(f"/api/interactions/{complaint.pk}/",
                             {"note": "Customer was satisfied.", "customer": other.pk}, format="json")
    assert response.status_code == 403
    assert service.delete(f"/api/interactions/{complaint.pk}/").status_code == 403
    complaint.refresh_from_db()
    assert complaint.note == "Parcel arrived broken; refund promised."
    assert complaint.customer_id != other.pk
    assert [h.history_type for h in complaint.history.all()] == ["+"]


def test_the_author_edits_and_the_history_names_the_editor(people):
    service_user = people["Service"]
    service = client_for(service_user)
    customer = CustomerFactory()
    created = service.post("/api/interactions/", {"customer": customer.pk, "kind": "call",
                                                  "note": "first", "staff": people["Manager"].pk},
                           format="json")
    assert created.status_code == 201
    interaction = Interaction.objects.get(pk=created.json()["id"])
    assert interaction.staff == service_user  # the server sets the author, not the request body

    response = service.patch(f"/api/interactions/{interaction.pk}/",
                             {"note": "second", "staff": people["Manager"].pk}, format="json")
    assert response.status_code == 200
    interaction.refresh_from_db()
    assert interaction.note == "second" and interaction.staff == service_user
    latest = interaction.history.latest()
    assert (latest.history_type, latest.note, latest.history_user) == ("~", "second", service_user)


def test_a_manager_edits_someone_elses_interaction_and_the_author_stays(people):
    author = people["Service"]
    interaction = interaction_log(customer=CustomerFactory(), staff=author, kind="chat", note="asked")
    manager = client_for(people["Manager"])
    response = manager.patch(f"/api/interactions/{interaction.pk}/", {"note": "asked about refund"},
                             format="json")
    assert response.status_code == 200
    interaction.refresh_from_db()
    assert interaction.staff == author
    history = list(interaction.history.order_by("history_id"))
    assert [(h.history_type, h.history_user, h.note) for h in history] == [
        ("+", author, "asked"), ("~", people["Manager"], "asked about refund")]
    assert client_for(people["Manager"]).delete(f"/api/interactions/{interaction.pk}/").status_code == 204
    assert Interaction.history.filter(id=interaction.pk, history_type="-").get().history_user == people["Manager"]


def test_admin_sets_the_author_and_keeps_others_interactions_read_only(people, complaint, client):
    client.force_login(people["Service"])
    url = reverse("admin:customers_interaction_change", args=[complaint.pk])
    client.post(url, {"customer": complaint.customer_id, "kind": "call", "occurred_at_0": "2025-05-01",
                      "occurred_at_1": "10:00:00", "note": "rewritten"})
    complaint.refresh_from_db()
    assert complaint.note == "Parcel arrived broken; refund promised."
    delete = client.post(reverse("admin:customers_interaction_delete", args=[complaint.pk]), {"post": "yes"})
    assert delete.status_code == 403
    assert Interaction.objects.filter(pk=complaint.pk).exists()

    customer = CustomerFactory()
    response = client.post(reverse("admin:customers_interaction_add"), {
        "customer": customer.pk, "kind": "call", "occurred_at_0": "2025-05-02", "occurred_at_1": "09:00:00",
        "outcome": "", "note": "logged in the admin", "staff": people["Manager"].pk})
    assert response.status_code == 302, response.content.decode()[:2000]
    logged = Interaction.objects.get(note="logged in the admin")
    assert logged.staff == people["Service"]


def test_an_order_line_change_with_the_same_total_is_on_record(people):
    a = ProductFactory(sku="A", price=Decimal(5))
    b = ProductFactory(sku="B", price=Decimal(5))
    order = OrderFactory(customer=CustomerFactory(), ordered_at=WHEN, total_amount=Decimal(10))
    OrderItemFactory(order=order, product=a, quantity=2, unit_price=Decimal(5))
    sales = client_for(people["Sales"])
    response = sales.patch(f"/api/orders/{order.pk}/", {"items": [{"product": "B", "quantity": 2}]},
                           format="json")
    assert response.status_code == 200, response.json()
    order.refresh_from_db()
    assert order.total_amount == Decimal(10)  # the order's own row did not change
    lines = OrderItem.history.filter(order_id=order.pk).order_by("history_id")
    assert [(h.history_type, h.product_id, h.history_user) for h in lines if h.history_user] == [
        ("-", a.pk, people["Sales"]), ("+", b.pk, people["Sales"])]
