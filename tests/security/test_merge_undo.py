"""Issue #20, item 12: merge then undo must lose nothing.

A merge records exactly what it changed; undo takes back that and nothing else, refuses (with
the reason, in the service, the API and the page) where a later change conflicts, moves every
related record (whatever model points at Customer), writes history for moved rows, and has both
customers rescored.
"""
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from django.db import transaction
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rest_framework.test import APIClient

from campaigns.models import Campaign, CampaignMember, ServiceTask
from customers.events import records_changed
from customers.models import Customer, Interaction, Order
from intake.duplicates import MERGE_FIELDS, customer_merge, customer_merge_undo
from intake.models import CustomerMerge
from tests.conftest import scored_demo
from tests.factories import (
    CustomerFactory,
    FeedbackFactory,
    InteractionFactory,
    OrderFactory,
    ServiceTaskFactory,
)

WHEN = datetime(2025, 5, 1, tzinfo=UTC)
OLD = datetime(2020, 1, 1, tzinfo=UTC)


def _campaign(name="Spring") -> Campaign:
    return Campaign.objects.create(name=name, objective=Campaign.Objective.RETENTION)


def _pair():
    survivor = CustomerFactory(name="Zhang Wei", external_id="S1", city="", birth_date=None)
    duplicate = CustomerFactory(name="Zhang W.", external_id="D1", city="Shanghai",
                                birth_date=date(1990, 1, 5))
    return survivor, duplicate


@pytest.fixture
def manager(role_user):
    return role_user("Manager")


@pytest.mark.django_db
def test_undo_keeps_edits_made_after_the_merge_to_fields_it_did_not_fill(manager):
    survivor, duplicate = _pair()
    merge = customer_merge(survivor=survivor, duplicate=duplicate, user=manager,
                           field_choices={"city": "duplicate", "name": "survivor"})
    survivor.refresh_from_db()
    survivor.region = "East"
    survivor.name = "Zhang Wei (VIP)"
    survivor.save(update_fields=["region", "name", "updated_at"])

    customer_merge_undo(merge=merge, user=manager)
    survivor.refresh_from_db()
    assert survivor.city == ""  # what the merge filled is taken back
    assert (survivor.name, survivor.region) == ("Zhang Wei (VIP)", "East")  # later edits stay


@pytest.mark.django_db
def test_undo_refuses_when_a_filled_field_was_edited_since(manager, client):
    survivor, duplicate = _pair()
    merge = customer_merge(survivor=survivor, duplicate=duplicate, user=manager,
                           field_choices={"city": "duplicate"})
    Customer.objects.filter(pk=survivor.pk).update(city="Hangzhou")

    with pytest.raises(ValueError, match="city was changed after the merge"):
        customer_merge_undo(merge=merge, user=manager)
    api = APIClient()
    api.force_authenticate(manager)
    response = api.post(f"/api/merges/{merge.pk}/undo/")
    assert response.status_code == 400
    assert "city was changed after the merge" in response.json()["non_field_errors"][0]
    client.force_login(manager)
    page = client.post(reverse("intake:merge-undo", args=[merge.pk]), follow=True)
    assert "city was changed after the merge" in page.content.decode()

    survivor.refresh_from_db()
    merge.refresh_from_db()
    assert survivor.city == "Hangzhou" and merge.undone_at is None
    assert Customer.objects.get(pk=duplicate.pk).merged_into_id == survivor.pk


@pytest.mark.django_db
def test_undo_refuses_when_a_moved_record_was_edited_or_deleted_since(manager):
    survivor, duplicate = _pair()
    order = OrderFactory(customer=duplicate, ordered_at=WHEN, total_amount=Decimal(10))
    note = InteractionFactory(customer=duplicate, occurred_at=WHEN, note="called")
    merge = customer_merge(survivor=survivor, duplicate=duplicate, user=manager, field_choices={})

    Order.objects.filter(pk=order.pk).update(total_amount=Decimal(99))
    with pytest.raises(ValueError, match=rf"edited after the merge \(orders\): #{order.pk}"):
        customer_merge_undo(merge=merge, user=manager)
    Order.objects.filter(pk=order.pk).update(total_amount=Decimal(10))  # edited back: undo may go
    Interaction.objects.filter(pk=note.pk).delete()
    with pytest.raises(ValueError, match=rf"deleted after the merge \(interactions\): #{note.pk}"):
        customer_merge_undo(merge=merge, user=manager)
    assert Order.objects.get(pk=order.pk).customer_id == survivor.pk  # nothing half-done


@pytest.mark.django_db
def test_service_tasks_and_campaign_memberships_move_and_come_back(manager):
    survivor, duplicate = _pair()
    both, only_duplicate = _campaign("Both"), _campaign("Only duplicate")
    kept_member = CampaignMember.objects.create(campaign=both, customer=survivor, group="treatment")
    clashing = CampaignMember.objects.create(campaign=both, customer=duplicate, group="control")
    moving = CampaignMember.objects.create(campaign=only_duplicate, customer=duplicate, group="treatment")
    task = ServiceTaskFactory(customer=duplicate)

    merge = customer_merge(survivor=survivor, duplicate=duplicate, user=manager, field_choices={})
    assert ServiceTask.objects.get(pk=task.pk).customer_id == survivor.pk
    assert CampaignMember.objects.get(pk=moving.pk).customer_id == survivor.pk
    # The same campaign on both: the duplicate's membership cannot move, and stays, on record.
    assert CampaignMember.objects.get(pk=clashing.pk).customer_id == duplicate.pk
    assert CampaignMember.objects.get(pk=kept_member.pk).customer_id == survivor.pk
    assert merge.moved["kept"] == {"campaign_members": [clashing.pk]}

    customer_merge_undo(merge=merge, user=manager)
    assert ServiceTask.objects.get(pk=task.pk).customer_id == duplicate.pk
    assert CampaignMember.objects.get(pk=moving.pk).customer_id == duplicate.pk
    assert CampaignMember.objects.get(pk=clashing.pk).customer_id == duplicate.pk
    assert CampaignMember.objects.get(pk=kept_member.pk).customer_id == survivor.pk


@pytest.mark.django_db
def test_merge_and_undo_write_history_for_moved_records(manager):
    survivor, duplicate = _pair()
    order = OrderFactory(customer=duplicate, ordered_at=WHEN, total_amount=Decimal(10))
    feedback = FeedbackFactory(customer=duplicate, created_at=WHEN, rating=4, text="fine")
    merge = customer_merge(survivor=survivor, duplicate=duplicate, user=manager, field_choices={})
    customer_merge_undo(merge=merge, user=manager)

    for record in (order, feedback):
        entries = list(record.history.order_by("history_id"))[-2:]
        assert [e.customer_id for e in entries] == [survivor.pk, duplicate.pk]
        assert all(e.history_user == manager and e.history_type == "~" for e in entries)
        assert f"merge #{merge.pk}" in entries[0].history_change_reason
        assert f"merge #{merge.pk}" in entries[1].history_change_reason
        assert entries[0].history_change_reason != entries[1].history_change_reason


@pytest.mark.django_db
def test_merge_and_undo_ask_for_both_customers_to_be_rescored(manager, django_capture_on_commit_callbacks):
    survivor, duplicate = _pair()
    heard = []

    def listener(sender, customer_ids, kinds, actor=None, **kwargs):
        heard.append((customer_ids, actor))

    records_changed.connect(listener, dispatch_uid="test-merge-listener")
    try:
        with django_capture_on_commit_callbacks(execute=True):
            merge = customer_merge(survivor=survivor, duplicate=duplicate, user=manager, field_choices={})
        with django_capture_on_commit_callbacks(execute=True):
            customer_merge_undo(merge=merge, user=manager)
    finally:
        records_changed.disconnect(dispatch_uid="test-merge-listener")
    expected = frozenset({survivor.pk, duplicate.pk})
    assert heard == [(expected, manager), (expected, manager)]


# --- property: merge then undo with nothing in between changes nothing --------------------

VALUES = {
    "name": st.sampled_from(["Li Na", "王芳", ""]),
    "city": st.sampled_from(["Shanghai", "Beijing", ""]),
    "region": st.sampled_from(["East", ""]),
    "birth_date": st.sampled_from([None, date(1990, 1, 5), date(1985, 7, 1)]),
    "marketing_consent": st.booleans(),
    "attributes": st.sampled_from([{}, {"vip": "gold"}, {"vip": "silver", "n": 2}]),
}
customer_values = st.fixed_dictionaries(VALUES)
records = st.fixed_dictionaries({
    "orders": st.integers(0, 3), "feedback": st.integers(0, 2), "interactions": st.integers(0, 2),
    "tasks": st.integers(0, 2), "campaigns": st.sets(st.sampled_from([0, 1, 2]), max_size=3),
})


def _state() -> dict:
    """Every row of the two customers and of every model pointing at Customer, as plain data."""
    state = {}
    for model in {Customer, *(rel.related_model for rel in Customer._meta.related_objects)} - {CustomerMerge}:
        # updated_at says when a row was last saved, and the undo saves: everything else must match.
        names = [f.attname for f in model._meta.concrete_fields if f.attname != "updated_at"]
        state[model._meta.label] = list(model._default_manager.order_by("pk").values_list(*names))
    return state


@pytest.mark.django_db
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(survivor_values=customer_values, duplicate_values=customer_values,
       survivor_records=records, duplicate_records=records,
       choices=st.dictionaries(st.sampled_from(sorted(VALUES)), st.sampled_from(["survivor", "duplicate"])),
       older=st.booleans())
def test_merge_then_undo_restores_everything(manager, survivor_values, duplicate_values, survivor_records,
                                             duplicate_records, choices, older):
    assert set(VALUES) <= set(MERGE_FIELDS)
    with transaction.atomic():
        campaigns = [_campaign(f"C{i}") for i in range(3)]
        survivor = CustomerFactory(**survivor_values)
        duplicate = CustomerFactory(**duplicate_values)
        if older:
            CustomerFactory(name="earlier duplicate", merged_into=duplicate)
        for customer, wanted in ((survivor, survivor_records), (duplicate, duplicate_records)):
            for i in range(wanted["orders"]):
                OrderFactory(customer=customer, ordered_at=WHEN, total_amount=Decimal(10 + i))
            for i in range(wanted["feedback"]):
                FeedbackFactory(customer=customer, created_at=WHEN, rating=3, text=f"text {i}")
            for _i in range(wanted["interactions"]):
                InteractionFactory(customer=customer, occurred_at=WHEN)
            for _i in range(wanted["tasks"]):
                ServiceTaskFactory(customer=customer)
            for i in sorted(wanted["campaigns"]):
                CampaignMember.objects.create(campaign=campaigns[i], customer=customer, group="treatment")
        before = _state()

        merge = customer_merge(survivor=survivor, duplicate=duplicate, field_choices=choices, user=manager)
        customer_merge_undo(merge=merge, user=manager)

        assert _state() == before
        transaction.set_rollback(True)  # the next example starts from an empty database


@pytest.fixture(scope="module")
def scored_db(django_db_setup, django_db_blocker):
    """Demo customers scored once, so a rescore has stored models to use."""
    for result in scored_demo(django_db_blocker, n_customers=120, seed=21):
        assert result["status"] == "succeeded"
        yield


@pytest.mark.django_db
def test_the_survivor_is_rescored_with_the_moved_orders(scored_db, role_user, django_capture_on_commit_callbacks):
    survivor, duplicate = Customer.objects.filter(order_count__gt=0).order_by("pk")[:2]
    orders = survivor.orders.count() + duplicate.orders.count()
    Customer.objects.filter(pk__in=[survivor.pk, duplicate.pk]).update(scores_updated_at=OLD)
    with django_capture_on_commit_callbacks(execute=True):
        customer_merge(survivor=survivor, duplicate=duplicate, user=role_user("Manager"), field_choices={})
    survivor.refresh_from_db()
    assert survivor.scores_updated_at > OLD
    assert survivor.order_count == orders
