"""Changing and deleting feedback and interactions: roles, errors, re-analysis and rescoring."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from customers.models import Customer, Feedback, Interaction, Order
from customers.services import feedback_record, interaction_log

from .conftest import make_customers
from tests.conftest import scored_demo

OLD = datetime(2020, 1, 1, tzinfo=UTC)


@pytest.fixture
def feedback(db, django_capture_on_commit_callbacks):
    customer = make_customers(1)[0]
    with django_capture_on_commit_callbacks(execute=True):
        item = feedback_record(customer=customer, text="Wonderful service, I love this shop!", rating=5)
    item.refresh_from_db()
    assert item.sentiment_label == "positive"
    return item


@pytest.mark.django_db
def test_a_changed_text_is_analysed_again(api, feedback, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = api("Service").patch(
            f"/api/feedback/{feedback.pk}/",
            {"text": "Terrible. The parcel arrived broken and late, awful delivery.", "rating": 1},
            format="json",
        )
        assert response.status_code == 200, response.content
        # Answered before the analysis: the old sentiment is gone, not shown against the new text.
        assert response.json()["sentiment_score"] is None and response.json()["sentiment_label"] == ""
    feedback.refresh_from_db()
    assert feedback.rating == 1 and feedback.text.startswith("Terrible")
    assert feedback.sentiment_label == "negative" and feedback.sentiment_score < 0
    assert feedback.complaint_reason == "delivery" and feedback.language == "en"


@pytest.mark.django_db
def test_a_change_that_leaves_text_and_rating_keeps_the_analysis(api, feedback,
                                                                  django_capture_on_commit_callbacks):
    before = feedback.sentiment_score
    with django_capture_on_commit_callbacks(execute=True):
        response = api("Manager").patch(f"/api/feedback/{feedback.pk}/", {"channel": "store"}, format="json")
    assert response.status_code == 200 and response.json()["channel"] == "store"
    assert response.json()["sentiment_score"] == before


@pytest.mark.django_db
def test_bad_changes_get_400_naming_the_field(api, feedback):
    service = api("Service")
    other = make_customers(1, start=5)[0]
    foreign = Order.objects.create(customer=other, ordered_at=timezone.now(), total_amount=1)
    url = f"/api/feedback/{feedback.pk}/"
    cases = [
        ({"order": foreign.pk}, "order"),  # another customer's order
        ({"customer": other.pk, "order": Order.objects.create(
            customer=feedback.customer, ordered_at=timezone.now(), total_amount=1).pk}, "order"),
        ({"rating": 0}, "rating"),
        ({"customer": 10**9}, "customer"),
        ({"created_at": "yesterday"}, "created_at"),
    ]
    for body, field in cases:
        response = service.patch(url, body, format="json")
        assert response.status_code == 400 and list(response.json()) == [field], (body, response.json())
    survivor = make_customers(1, start=9)[0]
    Customer.objects.filter(pk=other.pk).update(merged_into=survivor)
    moved = service.patch(url, {"customer": other.pk}, format="json")
    assert moved.status_code == 400 and list(moved.json()) == ["customer"]
    assert service.put(url, {"text": "only text"}, format="json").json().keys() == {"customer"}
    feedback.refresh_from_db()
    assert feedback.customer_id != other.pk and feedback.rating == 5


@pytest.mark.django_db
def test_roles_decide_who_changes_and_who_deletes_feedback(api, feedback):
    url = f"/api/feedback/{feedback.pk}/"
    assert api("Sales").patch(url, {"rating": 4}, format="json").status_code == 403
    assert api("Sales").delete(url).status_code == 403
    assert api("Service").delete(url).status_code == 403
    assert api("Service").patch(url, {"rating": 4}, format="json").status_code == 200
    assert api("Manager").delete(url).status_code == 204
    assert not Feedback.objects.filter(pk=feedback.pk).exists()
    assert api("Manager").delete(url).status_code == 404


@pytest.mark.django_db
def test_roles_decide_who_changes_and_who_deletes_interactions(api):
    customer, other = make_customers(2)
    logger = api("Service")
    created = logger.post("/api/interactions/", {"customer": customer.pk, "kind": "call"},
                          format="json").json()
    url = f"/api/interactions/{created['id']}/"
    assert api("Sales").patch(url, {"note": "x"}, format="json").status_code == 403  # may add, not change
    changed = api("Service").patch(url, {"note": "Called back, solved", "kind": "complaint",
                                         "customer": other.pk}, format="json")
    assert changed.status_code == 200, changed.content
    assert (changed.json()["note"], changed.json()["kind"], changed.json()["customer"]) == (
        "Called back, solved", "complaint", other.pk)
    assert changed.json()["staff"] == logger.user.pk  # who logged it stays
    assert api("Service").patch(url, {"kind": "fax"}, format="json").json().keys() == {"kind"}
    assert api("Service").delete(url).status_code == 403
    assert api("Manager").delete(url).status_code == 204
    assert not Interaction.objects.exists()


@pytest.fixture(scope="module")
def scored_db(django_db_setup, django_db_blocker):
    """200 demo customers scored once, so a rescore has stored models to use."""
    for result in scored_demo(django_db_blocker, n_customers=200, seed=13):
        assert result["status"] == "succeeded"
        yield


@pytest.mark.django_db
def test_deleting_feedback_or_an_interaction_rescores_the_customer(
        scored_db, api, django_capture_on_commit_callbacks):
    manager = api("Manager")
    for model, url in ((Feedback, "/api/feedback/"), (Interaction, "/api/interactions/")):
        record = model.objects.filter(customer__score__order_count__gt=0).first()
        # Older than any rescore (the run above may have been in this same second).
        Customer.objects.filter(pk=record.customer_id).update(scores_updated_at=OLD)
        with django_capture_on_commit_callbacks(execute=True):
            assert manager.delete(f"{url}{record.pk}/").status_code == 204
        customer = Customer.objects.get(pk=record.customer_id)
        assert customer.scores_updated_at > OLD, model
        assert customer.churn_probability is not None


@pytest.mark.django_db
def test_moving_an_interaction_rescores_both_customers(scored_db, api, django_capture_on_commit_callbacks):
    first, second = Customer.objects.filter(order_count__gt=0).order_by("pk")[:2]
    service = api("Service")  # the author may move their own interaction
    author = get_user_model().objects.get(username="test-service")
    interaction = interaction_log(customer=first, staff=author, kind="complaint", note="Wrong customer")
    Customer.objects.filter(pk__in=[first.pk, second.pk]).update(scores_updated_at=OLD)
    with django_capture_on_commit_callbacks(execute=True):
        response = service.patch(f"/api/interactions/{interaction.pk}/", {"customer": second.pk},
                                        format="json")
    assert response.status_code == 200
    for pk in (first.pk, second.pk):
        assert Customer.objects.get(pk=pk).scores_updated_at > OLD
