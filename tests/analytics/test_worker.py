"""Score runs through a real Celery worker, on PostgreSQL and Redis (``-m services``)."""
from __future__ import annotations

import threading
import time

import pandas as pd
import pytest
from django.db import connection

from analytics.models import ModelArtifact, ScoreRun
from analytics.services import runs
from customers.demo.loader import demo_seed
from customers.models import Customer
from tests.conftest import wait_until

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _roles(role_groups):
    """Transactional tests flush every table, the role groups the demo logins need included."""


def _wait_for(run_id: int, timeout: float = 240) -> ScoreRun:
    def ended():
        run = ScoreRun.objects.get(pk=run_id)
        return run if run.status in ScoreRun.ENDED else None

    return wait_until(ended, timeout=timeout, interval=0.5, failure=lambda: (
        f"run {run_id} did not finish in {timeout} s: {ScoreRun.objects.get(pk=run_id).status}"))


def test_a_queued_run_is_executed_by_the_worker(celery_worker_process):
    demo_seed(n_customers=300, seed=5, as_of=pd.Timestamp("2026-10-01"))
    run = runs.score_run_request()
    assert run.status == ScoreRun.Status.QUEUED
    done = _wait_for(run.pk)
    assert done.status == ScoreRun.Status.SUCCEEDED, done.error
    assert done.progress == 100 and done.counts["scored"] == 300
    # Fitted once, ranked as three chunk tasks (100 customers each, see start_worker), finished.
    assert done.chunks_total == done.chunks_done == 3
    assert done.counts["recommendations"] == 3000
    # The word clouds were drawn beside the write (by their own task, or by the finish if it
    # came first), and kept.
    assert "wordclouds" in done.timings
    assert ModelArtifact.objects.filter(run_id=done.pk, name__startswith="wordcloud_").count() == 2
    # The worker's finish built the recommendations table on a connection of its own, beside
    # the score write, and swapped it in: nothing of it is left under its building name.
    assert done.timings["write_recommendations_ahead"] > 0
    assert "analytics_recommendation_next" not in connection.introspection.table_names()
    buyers = Customer.objects.filter(order_count__gt=0)
    assert buyers.count() > 200
    assert not buyers.filter(churn_probability__isnull=True).exists()
    assert not buyers.filter(clv_12m__isnull=True).exists()


def test_concurrent_requests_make_one_run(celery_worker_process):
    Customer.objects.create(name="Only one")
    ids, errors = [], []
    barrier = threading.Barrier(4)

    def request():
        try:
            barrier.wait()
            ids.append(runs.score_run_request(run_now=False).pk)
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=request) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert len(set(ids)) == 1
    assert ScoreRun.objects.count() == 1
    _wait_for(ids[0])


def test_killing_the_worker_mid_run_leaves_the_old_scores(celery_worker_process):
    """A worker killed during a run: old scores intact, the run taken over once its lease ends."""
    import os
    import signal
    from datetime import timedelta

    from django.utils import timezone

    from analytics.tasks import score_run_full
    from tests.conftest import start_worker, stop_worker

    demo_seed(n_customers=300, seed=9, as_of=pd.Timestamp("2026-10-01"))
    first = runs.score_run_request(run_now=True)
    assert first.status == ScoreRun.Status.SUCCEEDED
    before = list(Customer.objects.order_by("pk").values_list("pk", "clv_12m", "churn_probability",
                                                               "scores_updated_at"))

    # A worker of its own, on its own queue, running tasks in its main process (solo pool) so
    # that SIGKILL stops the run mid-way like a crashed machine would.
    victim = start_worker("--pool=solo", "--queues=kill-test", log_name="celery-worker-kill.log")
    run = ScoreRun.objects.create(as_of=timezone.now(), lease_expires_at=timezone.now() + timedelta(minutes=5))
    score_run_full.apply_async(args=[run.pk], queue="kill-test")
    def going():
        run.refresh_from_db()
        return run.status == ScoreRun.Status.RUNNING and run.progress >= 5

    try:
        wait_until(going, timeout=120, failure=lambda: f"the run never got going: {run.status} {run.stage}")
    except pytest.fail.Exception:
        stop_worker(victim)
        raise
    os.kill(victim.pid, signal.SIGKILL)
    victim.wait(timeout=10)

    # Every task of the run went to the victim's queue: the shared worker, idle on the default
    # queue, must not pick up a part or a chunk and finish the run behind the victim's back.
    time.sleep(3)
    run.refresh_from_db()
    assert run.status == ScoreRun.Status.RUNNING  # nobody will finish it ...
    after = list(Customer.objects.order_by("pk").values_list("pk", "clv_12m", "churn_probability",
                                                              "scores_updated_at"))
    assert after == before  # ... and nothing of it is visible

    # Its lease runs out; the next request takes over and the shared worker completes a new run.
    ScoreRun.objects.filter(pk=run.pk).update(lease_expires_at=timezone.now() - timedelta(seconds=1))
    fresh = runs.score_run_request()
    run.refresh_from_db()
    assert run.status == ScoreRun.Status.FAILED and "lease" in run.error
    assert _wait_for(fresh.pk).status == ScoreRun.Status.SUCCEEDED


def test_a_new_order_is_scored_by_the_worker_within_seconds(celery_worker_process):
    from decimal import Decimal

    from django.utils import timezone

    from customers.models import Order

    demo_seed(n_customers=300, seed=11, as_of=pd.Timestamp("2026-10-01"))
    assert runs.score_run_request(run_now=True).status == ScoreRun.Status.SUCCEEDED
    customer = Customer.objects.filter(order_count__gte=2, status="active").order_by("-recency_days").first()
    before = customer.order_count
    Order.objects.create(customer=customer, ordered_at=timezone.now(), total_amount=Decimal("42.00"))
    def rescored():
        customer.refresh_from_db()
        return customer.order_count == before + 1

    wait_until(rescored, timeout=30, failure="the worker did not rescore the customer in 30 s")
    assert customer.recency_days == 0
