"""Role groups, their permissions, and the admin as each role sees it."""
from datetime import datetime, timezone
from decimal import Decimal

import pytest
from django.contrib.auth.models import Group
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from customers.models import Customer, Feedback, Interaction, Order, Product
from tests.factories import (
    CustomerFactory,
    FeedbackFactory,
    InteractionFactory,
    OrderFactory,
    OrderItemFactory,
    ProductFactory,
)

WHEN = datetime(2026, 1, 5, 10, 0, tzinfo=timezone.utc)
MODELS = {"customer": Customer, "product": Product, "order": Order, "feedback": Feedback,
          "interaction": Interaction}


@pytest.fixture
def records(db):
    product = ProductFactory(sku="TEA-1", name="Green tea", category="Tea", price=Decimal("12"))
    customers = []
    for i in range(6):
        customer = CustomerFactory(name=f"Customer {i}", email=f"c{i}@example.com",
                                   phone=f"+861380013800{i}", external_id=f"C{i}")
        order = OrderFactory(customer=customer, ordered_at=WHEN, total_amount=Decimal("24"))
        OrderItemFactory(order=order, product=product, quantity=2, unit_price=Decimal("12"))
        FeedbackFactory(customer=customer, order=order, created_at=WHEN, rating=4, text="Good tea")
        InteractionFactory(customer=customer, kind="call", occurred_at=WHEN, outcome="ok")
        customers.append(customer)
    return customers


@pytest.mark.django_db
def test_roles_exist_with_their_permissions():
    perms = {g.name: {f"{p.content_type.app_label}.{p.codename}" for p in g.permissions.all()}
             for g in Group.objects.prefetch_related("permissions__content_type")}
    assert set(perms) == {"Manager", "Sales", "Service"}
    assert {"customers.view_pii", "customers.merge_customer", "customers.delete_customer"} <= perms["Manager"]
    assert {"customers.change_customer", "customers.add_order", "customers.view_pii"} <= perms["Sales"]
    assert "customers.change_feedback" not in perms["Sales"]
    assert {"customers.view_customer", "customers.change_feedback", "customers.add_interaction"} <= perms["Service"]
    assert not {"customers.change_customer", "customers.view_pii", "customers.import_data",
                "customers.merge_customer"} & perms["Service"]


@pytest.mark.django_db
@pytest.mark.parametrize("role", ["Manager", "Sales", "Service"])
def test_admin_pages_render_for_each_role(client, role_user, records, role):
    client.force_login(role_user(role))
    for model in MODELS:
        response = client.get(reverse(f"admin:customers_{model}_changelist"))
        assert response.status_code == 200, (role, model)
        obj = MODELS[model].objects.first()
        response = client.get(reverse(f"admin:customers_{model}_change", args=[obj.pk]))
        assert response.status_code == 200, (role, model)


@pytest.mark.django_db
def test_service_cannot_edit_customers_but_sales_can(client, role_user, records):
    customer = records[0]
    url = reverse("admin:customers_customer_change", args=[customer.pk])
    client.force_login(role_user("Service"))
    client.post(url, {"name": "Hacked"})
    customer.refresh_from_db()
    assert customer.name == "Customer 0"
    assert client.get(reverse("admin:customers_customer_add")).status_code == 403
    client.force_login(role_user("Sales"))
    assert client.get(reverse("admin:customers_customer_add")).status_code == 200


@pytest.mark.django_db
def test_contact_details_are_hidden_from_service(client, role_user, records):
    list_url = reverse("admin:customers_customer_changelist")
    change_url = reverse("admin:customers_customer_change", args=[records[0].pk])
    client.force_login(role_user("Service"))
    assert "c0@example.com" not in client.get(list_url).content.decode()
    assert "+8613800138000" not in client.get(change_url).content.decode()
    # Searching by email would reveal it one guess at a time.
    assert "Customer 0" not in client.get(list_url, {"q": "c0@example.com"}).content.decode()
    client.force_login(role_user("Manager"))
    assert "c0@example.com" in client.get(list_url).content.decode()


@pytest.mark.django_db
def test_score_fields_are_read_only_in_the_admin(client, role_user, records):
    client.force_login(role_user("Manager"))
    form = client.get(reverse("admin:customers_customer_change", args=[records[0].pk])).context["adminform"]
    assert "churn_probability" not in form.form.fields
    assert "name" in form.form.fields


@pytest.mark.django_db
@pytest.mark.parametrize("model", ["customer", "order", "feedback", "interaction"])
def test_admin_lists_run_a_constant_number_of_queries(client, role_user, records, model):
    client.force_login(role_user("Manager"))
    url = reverse(f"admin:customers_{model}_changelist")
    client.get(url)
    with CaptureQueriesContext(connection) as few:
        client.get(url)
    # Triple the rows: the count of queries must not move.
    for customer in records:
        for n in range(2):
            clone = CustomerFactory(name=f"{customer.name}-{n}")
            order = OrderFactory(customer=clone, ordered_at=WHEN, total_amount=Decimal("1"))
            FeedbackFactory(customer=clone, order=order, created_at=WHEN, rating=3, text="")
            InteractionFactory(customer=clone, kind="email", occurred_at=WHEN)
    with CaptureQueriesContext(connection) as many:
        client.get(url)
    assert len(many) == len(few), [q["sql"] for q in many.captured_queries]


@pytest.mark.django_db
def test_anonymous_users_are_sent_to_login(client):
    for url in ("/", reverse("admin:index")):
        response = client.get(url)
        assert response.status_code == 302
        assert "login" in response["Location"]
    assert client.get(reverse("login")).status_code == 200
