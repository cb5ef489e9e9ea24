"""Rescoring a few customers with the models of the last full run (its scoring snapshot)."""
from __future__ import annotations

from datetime import datetime

import pandas as pd
from django.conf import settings
from django.core.cache import cache
from django.utils import timezone

from analytics import adapter
from analytics.engine.incremental import ScoringSnapshot, rescore
from analytics.models import ModelArtifact, ScoreRun
from webhooks.events import SOURCE_RESCORE, churn_risk_high_watch

from .artifacts import SNAPSHOT_ARTIFACT, unpickle_payload

# Events for one customer within this many seconds share one rescore: an order with ten lines
# and its feedback arrive together, and the rescore reads whatever is committed when it runs.
RESCORE_DEBOUNCE_SECONDS = 3
_snapshot_cache: dict[int, ScoringSnapshot] = {}


def customer_rescore_queue(*, customer_ids) -> None:
    """Queue a rescore of these customers (debounced). Called with committed changes only: the
    customers' events are sent after commit (``customers.events``)."""
    from analytics.tasks import customer_rescore

    fresh = [i for i in sorted({int(i) for i in customer_ids})
             if cache.add(f"rescore-pending:{i}", 1, RESCORE_DEBOUNCE_SECONDS)]
    if fresh:
        customer_rescore.apply_async(args=[fresh], countdown=0 if settings.CELERY_TASK_ALWAYS_EAGER
                                     else RESCORE_DEBOUNCE_SECONDS)


def _latest_snapshot() -> tuple[int, ScoringSnapshot] | None:
    artifact = (ModelArtifact.objects.filter(name=SNAPSHOT_ARTIFACT, run__status=ScoreRun.Status.SUCCEEDED)
                .order_by("-run_id").only("run_id").first())
    if artifact is None:
        return None
    if artifact.run_id not in _snapshot_cache:
        payload = ModelArtifact.objects.values_list("payload", flat=True).get(pk=artifact.pk)
        _snapshot_cache.clear()  # keep one snapshot in memory per process
        _snapshot_cache[artifact.run_id] = unpickle_payload(payload)
    return artifact.run_id, _snapshot_cache[artifact.run_id]


def customer_rescore(*, customer_ids, as_of: datetime | None = None) -> int:
    """Recompute RFM, CLV, churn, loyalty and lifecycle of a few customers with the stored models.

    Returns the number of customers written; 0 when no full run has produced models yet.
    """
    latest = _latest_snapshot()
    if latest is None:
        return 0
    run_id, snapshot = latest
    for i in customer_ids:
        cache.delete(f"rescore-pending:{int(i)}")
    when = pd.Timestamp(as_of or timezone.now()).tz_convert("UTC").tz_localize(None)
    frames = adapter.read_frames(when, customer_ids=list(customer_ids), with_products=False,
                                 without=("items",))  # rescoring never reads order lines
    if frames.customers.empty:
        return 0
    scores = rescore(snapshot, customers=frames.customers, orders=frames.orders,
                     feedback=frames.feedback, interactions=frames.interactions, as_of=when)
    scores["scores_updated_at"] = pd.Timestamp(timezone.now())
    with churn_risk_high_watch(source=SOURCE_RESCORE, customer_ids=list(customer_ids)):
        return adapter.write_scores(scores)
