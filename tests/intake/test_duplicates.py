"""Duplicate detection, merge, and undo that puts every record back."""
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from customers.models import Customer, Feedback, Interaction, Order
from intake.duplicates import customer_merge, customer_merge_undo, duplicate_pairs
from intake.models import CustomerMerge
from tests.factories import CustomerFactory, FeedbackFactory, InteractionFactory, OrderFactory

pytestmark = pytest.mark.django_db
WHEN = datetime(2025, 5, 1, tzinfo=UTC)


def history(c: Customer, n: int = 2) -> None:
    for i in range(n):
        OrderFactory(customer=c, ordered_at=WHEN, total_amount=Decimal(10 + i))
        FeedbackFactory(customer=c, created_at=WHEN, rating=4, text=f"good {i}")
        InteractionFactory(customer=c, kind="call", occurred_at=WHEN)


def test_pairs_by_email_phone_and_similar_name_in_same_city():
    a = CustomerFactory(name="Zhang Wei", email="zw@example.com", city="Shanghai")
    b = CustomerFactory(name="Wei Zhang", email="ZW@example.com", city="Beijing")
    c = CustomerFactory(name="Li Na", phone="+8613800138000", city="Shanghai")
    d = CustomerFactory(name="Li  Na", phone="13800138000", city="Hangzhou")
    e = CustomerFactory(name="Wang Fangg", city="Beijing")
    f = CustomerFactory(name="Wang Fang", city="beijing ")
    CustomerFactory(name="Wang Fang", city="Shenzhen")  # same name, other city: not a candidate
    CustomerFactory(name="Wang Fei", city="Beijing")  # same surname and city, different person
    # merged already: ignored
    merged = CustomerFactory(name="Zhang Wei", email="zw@example.com", merged_into=a)
    found = {(p.customer_id, p.other_id): (p.reason, round(p.score)) for p in duplicate_pairs()}
    assert found[(a.pk, b.pk)] == ("email", 100)
    assert found[(c.pk, d.pk)] == ("phone", 100)
    assert found[(e.pk, f.pk)][0] == "name" and 90 <= found[(e.pk, f.pk)][1] < 100
    assert len(found) == 3, found
    assert all(merged.pk not in pair for pair in found)


def test_merge_then_undo_restores_every_record(role_user):
    manager = role_user("Manager")
    survivor = CustomerFactory(name="Zhang Wei", external_id="C1", email="zw@example.com", city="",
                               birth_date=None)
    duplicate = CustomerFactory(name="Zhang W.", external_id="C2", email="zw@example.com", city="Shanghai",
                                birth_date=date(1990, 1, 5), attributes={"vip": "gold"})
    older = CustomerFactory(name="Z. Wei", merged_into=duplicate)
    history(survivor, 1)
    history(duplicate, 3)
    before = {model: sorted(model.objects.values_list("pk", "customer_id")) for model in (Order, Feedback, Interaction)}

    merge = customer_merge(survivor=survivor, duplicate=duplicate, user=manager,
                           field_choices={"city": "duplicate", "birth_date": "duplicate", "name": "survivor"})
    survivor.refresh_from_db()
    duplicate.refresh_from_db()
    assert (survivor.city, survivor.birth_date, survivor.name) == ("Shanghai", date(1990, 1, 5), "Zhang Wei")
    assert duplicate.merged_into == survivor
    assert Customer.objects.get(pk=older.pk).merged_into == survivor
    for model in (Order, Feedback, Interaction):
        assert set(model.objects.values_list("customer_id", flat=True)) == {survivor.pk}
    assert len(merge.moved["records"]["orders"]) == 3 and merge.merged_by == manager

    customer_merge_undo(merge=merge, user=manager)
    survivor.refresh_from_db()
    duplicate.refresh_from_db()
    assert (survivor.city, survivor.birth_date) == ("", None)
    assert duplicate.merged_into is None and duplicate.attributes == {"vip": "gold"}
    assert Customer.objects.get(pk=older.pk).merged_into == duplicate
    for model in (Order, Feedback, Interaction):
        assert sorted(model.objects.values_list("pk", "customer_id")) == before[model]
    merge.refresh_from_db()
    assert merge.undone_by == manager and merge.undone_at
    with pytest.raises(ValueError, match="already undone"):
        customer_merge_undo(merge=merge, user=manager)


def test_merge_refuses_bad_input_and_users_without_permission(role_user):
    a, b = CustomerFactory(name="A"), CustomerFactory(name="B")
    manager = role_user("Manager")
    with pytest.raises(ValueError, match="itself"):
        customer_merge(survivor=a, duplicate=a, field_choices={}, user=manager)
    with pytest.raises(ValueError, match="^colour: not a field"):
        customer_merge(survivor=a, duplicate=b, field_choices={"colour": "duplicate"}, user=manager)
    with pytest.raises(ValueError, match="^city: choose"):
        customer_merge(survivor=a, duplicate=b, field_choices={"city": "both"}, user=manager)
    for role in ("Sales", "Service"):
        with pytest.raises(PermissionDenied):
            customer_merge(survivor=a, duplicate=b, field_choices={}, user=role_user(role, username=role))
    assert not CustomerMerge.objects.exists()


def test_undo_an_earlier_merge_waits_for_the_later_one(role_user):
    manager = role_user("Manager")
    a, b, c = CustomerFactory(name="A"), CustomerFactory(name="B"), CustomerFactory(name="C")
    first = customer_merge(survivor=a, duplicate=b, field_choices={}, user=manager)
    second = customer_merge(survivor=c, duplicate=a, field_choices={}, user=manager)
    with pytest.raises(ValueError, match=f"later merge #{second.pk}"):
        customer_merge_undo(merge=first, user=manager)
    customer_merge_undo(merge=second, user=manager)
    customer_merge_undo(merge=first, user=manager)
    assert not Customer.objects.filter(merged_into__isnull=False).exists()


def test_merged_away_external_id_leads_imports_to_the_survivor(role_user):
    from intake.services.importers import import_records

    a, b = CustomerFactory(name="A", external_id="C1"), CustomerFactory(name="B", external_id="C2")
    customer_merge(survivor=a, duplicate=b, field_choices={}, user=role_user("Manager"))
    result = import_records(kind="orders", user=None, records=[
        {"order_id": "O1", "customer_id": "C2", "ordered_at": "2025-01-01", "amount": "5"}])
    assert result.created == 1
    assert Order.objects.get().customer == a


def test_duplicates_page_and_merge_pages(client, role_user):
    for i in range(4):
        CustomerFactory(name=f"Chen Jie{i}", email=f"cj{i}@example.com", city="Xiamen",
                        phone=f"+861380013800{i}")
        CustomerFactory(name=f"Chen Jie{i}", email=f"cj{i}@example.com", city="Fuzhou")
    manager = role_user("Manager")
    client.force_login(manager)
    client.get(reverse("intake:duplicates"))
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(reverse("intake:duplicates"))
    assert response.status_code == 200
    assert len(ctx.captured_queries) <= 12, [q["sql"] for q in ctx.captured_queries]
    assert response.content.decode().count("<td>same email</td>") == 4
    a, b = Customer.objects.filter(name="Chen Jie0").order_by("pk")
    page = client.get(reverse("intake:merge", args=[a.pk, b.pk]))
    assert page.status_code == 200 and "choice-city" in page.content.decode()
    response = client.post(reverse("intake:merge", args=[a.pk, b.pk]), {"choice-city": "duplicate"})
    assert response.status_code == 302
    a.refresh_from_db()
    assert a.city == "Fuzhou"
    merge = CustomerMerge.objects.get()
    assert client.post(reverse("intake:merge-undo", args=[merge.pk])).status_code == 302
    a.refresh_from_db()
    assert a.city == "Xiamen"


def test_service_sees_duplicates_without_contact_details_and_cannot_merge(client, role_user):
    a = CustomerFactory(name="Chen Jie", email="cj@example.com", city="Xiamen")
    b = CustomerFactory(name="Chen Jie", email="cj@example.com", city="Xiamen")
    client.force_login(role_user("Service"))
    page = client.get(reverse("intake:duplicates")).content.decode()
    assert "Chen Jie" in page and "cj@example.com" not in page and "Review and merge" not in page
    assert client.get(reverse("intake:merge", args=[a.pk, b.pk])).status_code == 403
    assert client.post(reverse("intake:merge", args=[a.pk, b.pk])).status_code == 403
