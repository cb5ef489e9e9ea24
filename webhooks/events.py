"""Events other apps raise: the score pipeline (churn risk turning high, a model's realised accuracy
drifting) and campaigns (finished).

The score pipeline wraps its write of churn scores in :func:`churn_risk_high_watch`; campaigns
call :func:`campaign_finished` (customers never import campaigns, so campaigns pass the facts).
"""
from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from django.db import transaction

from customers.models import Customer, Level

from .models import WebhookEvent
from .services import subscribed_endpoints, webhook_event_emit

# Customers per churn event. A full run can turn thousands of customers high at once; one HTTP
# call per customer would flood the receiver and the queue, one call for all of them could be
# megabytes the receiver refuses. 500 customers make a body of about 100 KB.
CHURN_EVENT_BATCH = 500
SOURCE_FULL_RUN, SOURCE_RESCORE = "full_run", "rescore"


def _high_ids(customer_ids: Sequence[int] | None, *, lock: bool = False) -> set[int]:
    rows = Customer.objects.all() if customer_ids is None else Customer.objects.filter(pk__in=customer_ids)
    if lock:
        # Every row about to be written, not only the high ones, in id order (no deadlock
        # between two rescores): a second rescore of the customer waits here and then reads
        # what the first one committed.
        locked = rows.select_for_update().order_by("pk").values_list("pk", "churn_risk")
        return {pk for pk, risk in locked if risk == Level.HIGH}
    return set(rows.filter(churn_risk=Level.HIGH).values_list("pk", flat=True))


@contextmanager
def churn_risk_high_watch(*, source: str, customer_ids: Sequence[int] | None = None,
                          score_run_id: int | None = None) -> Iterator[None]:
    """Emit ``customer.churn_risk_high`` for the customers whose risk becomes high in the block.

    Compares who is high before and after the block, in one transaction with it, so the events
    are committed with the scores or not at all. ``customer_ids`` limits the comparison to the
    customers an incremental rescore writes; their rows are locked first, so two rescores of one
    customer at once emit once. (A rescore that commits while a full run is writing can still
    make both report the same customer: the full run does not lock every row up front, which
    would cost a write per customer.) Costs nothing when no endpoint subscribes to the event.
    """
    if not subscribed_endpoints(WebhookEvent.CHURN_RISK_HIGH):
        yield
        return
    with transaction.atomic():
        before = _high_ids(customer_ids, lock=customer_ids is not None)
        yield
        newly_high = sorted(_high_ids(customer_ids) - before)
        if newly_high:
            churn_risk_high_emit(customer_ids=newly_high, source=source, score_run_id=score_run_id)


def churn_risk_high_emit(*, customer_ids: Sequence[int], source: str, score_run_id: int | None = None) -> int:
    """One event per ``CHURN_EVENT_BATCH`` customers; returns the number of events."""
    batches = [customer_ids[i:i + CHURN_EVENT_BATCH] for i in range(0, len(customer_ids), CHURN_EVENT_BATCH)]
    for number, batch in enumerate(batches, start=1):
        # Ids, scores and reasons only: no name, email or phone leaves the CRM this way.
        rows = (Customer.objects.filter(pk__in=batch).order_by("pk")
                .values("id", "external_id", "churn_probability", "churn_reasons", "scores_updated_at"))
        webhook_event_emit(event_type=WebhookEvent.CHURN_RISK_HIGH, data={
            "source": source,
            "score_run_id": score_run_id,
            "batch": {"number": number, "of": len(batches)},
            "customers": list(rows),
        })
    return len(batches)


def campaign_finished(*, campaign: Mapping[str, Any], results: Mapping[str, Any]) -> None:
    """Emit ``campaign.finished`` with the campaign's facts and measured results."""
    webhook_event_emit(event_type=WebhookEvent.CAMPAIGN_FINISHED,
                       data={"campaign": dict(campaign), "results": dict(results)})


def model_drift(*, model: str, run_id: int, as_of, horizon_days: int, drift: Sequence[str],
                metrics: Mapping[str, Any]) -> None:
    """Emit ``model.drift``: the predictions a run served for ``model`` turned out worse than the
    baseline, or off in calibration or volume, once their horizon had passed."""
    webhook_event_emit(event_type=WebhookEvent.MODEL_DRIFT, data={
        "model": model, "score_run": run_id, "as_of": as_of.isoformat(), "horizon_days": horizon_days,
        "drift": list(drift), "metrics": dict(metrics)})
