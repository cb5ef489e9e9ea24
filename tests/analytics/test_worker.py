"""Score runs through a real Celery worker, on PostgreSQL and Redis (``-m services``)."""
from __future__ import annotations

import threading
import time

import pandas as pd
import pytest
from django.db import connection

from analytics import services
from analytics.models import ScoreRun
from customers.demo.loader import demo_seed
from customers.models import Customer

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]


def _wait_for(run_id: int, timeout: float = 240) -> ScoreRun:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = ScoreRun.objects.get(pk=run_id)
        if run.status in (ScoreRun.Status.SUCCEEDED, ScoreRun.Status.FAILED):
            return run
        time.sleep(0.5)
    pytest.fail(f"run {run_id} did not finish in {timeout} s: {ScoreRun.objects.get(pk=run_id).status}")


def test_a_queued_run_is_executed_by_the_worker(celery_worker_process):
    demo_seed(n_customers=300, seed=5, as_of=pd.Timestamp("2026-10-01"))
    run = services.score_run_request()
    assert run.status == ScoreRun.Status.QUEUED
    done = _wait_for(run.pk)
    assert done.status == ScoreRun.Status.SUCCEEDED, done.error
    assert done.progress == 100 and done.counts["scored"] == 300
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
            ids.append(services.score_run_request(run_now=False).pk)
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
