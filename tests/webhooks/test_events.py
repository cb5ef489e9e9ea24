"""Churn risk turning high, in a full run or an incremental rescore, reaches a real receiver once."""
from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from analytics.services.rescore import customer_rescore
from analytics.services.runs import score_run_request
from customers.models import Customer
from customers.services import interaction_log
from tests.conftest import scored_demo
from webhooks import events
from webhooks.models import WebhookDelivery

from .conftest import verify

AS_OF = datetime(2026, 10, 1, tzinfo=UTC)
PII = {"email", "phone", "name", "birth_date"}


@pytest.fixture(scope="module")
def scored_db(django_db_setup, django_db_blocker):
    """300 demo customers scored once, before any endpoint exists (so that run emits nothing)."""
    for result in scored_demo(django_db_blocker, n_customers=300, seed=11):
        assert result["status"] == "succeeded"
        yield


def high_ids() -> list[int]:
    return sorted(Customer.objects.filter(churn_risk="high").values_list("pk", flat=True))


def churned_customers(target) -> list[int]:
    received = target.events("customer.churn_risk_high")
    return [customer["id"] for event in received for customer in event["data"]["customers"]]


@pytest.mark.django_db
def test_a_full_run_reports_the_newly_high_customers_once_in_batches(
        scored_db, receiver, endpoint_for, monkeypatch, django_capture_on_commit_callbacks):
    target = receiver(200)
    endpoint = endpoint_for(target, events=["customer.churn_risk_high"])
    high = high_ids()
    assert len(high) >= 30
    # Half of them were not high before this run (as if the last run had scored them lower);
    # the others were high already and must not be reported again.
    newly = high[::2]
    Customer.objects.filter(pk__in=newly[: len(newly) // 2]).update(churn_risk="low")
    Customer.objects.filter(pk__in=newly[len(newly) // 2:]).update(churn_risk=None)
    monkeypatch.setattr(events, "CHURN_EVENT_BATCH", 7)

    already_high = sorted(set(high) - set(newly))

    with django_capture_on_commit_callbacks(execute=True):
        run = score_run_request(as_of=AS_OF, run_now=True)
    assert run.status == "succeeded", run.error
    high_after = high_ids()
    # The same data scores (nearly) the same: a borderline customer may flip, as the database
    # can hand the rows to the models in another order after the updates above.
    assert len(set(high_after) ^ set(high)) <= len(high) // 20

    reported = churned_customers(target)
    expected = sorted(set(high_after) - set(already_high))
    assert sorted(reported) == expected  # each newly high customer once, nobody else
    assert len(set(expected) & set(newly)) >= 0.9 * len(newly)
    received = target.events()
    assert len(received) == -(-len(expected) // 7)
    assert [e["data"]["batch"] for e in received] == [
        {"number": i, "of": len(received)} for i in range(1, len(received) + 1)]
    assert {e["data"]["source"] for e in received} == {"full_run"}
    assert {e["data"]["score_run_id"] for e in received} == {run.pk}
    assert len({e["id"] for e in received}) == len(received)
    assert all(verify(endpoint.secret, r.headers["X-CRM-Signature"], r.body) for r in target.requests)
    first = received[0]["data"]["customers"][0]
    customer = Customer.objects.get(pk=first["id"])
    assert first["external_id"] == customer.external_id
    assert first["churn_probability"] == pytest.approx(customer.churn_probability)
    assert first["churn_reasons"] == customer.churn_reasons and first["churn_reasons"]
    assert not PII & set(first)
    assert customer.email not in json.dumps(received)


@pytest.mark.django_db
def test_a_full_run_without_subscribers_records_no_delivery(scored_db, receiver, endpoint_for):
    endpoint_for(receiver(200), events=["campaign.finished"])
    Customer.objects.filter(pk__in=high_ids()[:5]).update(churn_risk="low")
    score_run_request(as_of=AS_OF, run_now=True)
    assert not WebhookDelivery.objects.exists()


@pytest.mark.django_db
def test_an_incremental_rescore_reports_a_customer_turning_high_once(
        scored_db, receiver, endpoint_for, django_capture_on_commit_callbacks):
    target = receiver(200)
    endpoint_for(target, events=["customer.churn_risk_high"])
    candidates = high_ids()[:4] + list(Customer.objects.exclude(churn_risk="high").exclude(churn_risk=None)
                                       .values_list("pk", flat=True)[:4])
    customer_rescore(customer_ids=candidates, as_of=AS_OF)  # the rescore's own view first
    high = [pk for pk in candidates if Customer.objects.get(pk=pk).churn_risk == "high"]
    assert len(high) >= 2 and len(high) < len(candidates)
    turning, staying = high[0], high[1:]
    Customer.objects.filter(pk=turning).update(churn_risk="medium")

    with django_capture_on_commit_callbacks(execute=True):
        customer_rescore(customer_ids=candidates, as_of=AS_OF)
        customer_rescore(customer_ids=candidates, as_of=AS_OF)  # nothing new the second time
    assert churned_customers(target) == [turning]
    [event] = target.events()
    assert event["data"]["source"] == "rescore" and event["data"]["batch"] == {"number": 1, "of": 1}
    assert set(staying).isdisjoint(churned_customers(target))


@pytest.mark.django_db
def test_a_logged_interaction_rescores_and_reports_the_customer(
        scored_db, receiver, endpoint_for, django_capture_on_commit_callbacks):
    target = receiver(200)
    endpoint_for(target, events=["customer.churn_risk_high"])
    # A customer gone quiet for a long time is high at any later date.
    quiet = Customer.objects.filter(churn_risk="high").order_by("-recency_days").first()
    Customer.objects.filter(pk=quiet.pk).update(churn_risk="low")
    with django_capture_on_commit_callbacks(execute=True):
        interaction_log(customer=quiet, staff=None, kind="call", outcome="no answer")
    quiet.refresh_from_db()
    assert quiet.churn_risk == "high"
    assert churned_customers(target) == [quiet.pk]
