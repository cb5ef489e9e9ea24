"""Issue 20 item 21: ``recompute_scores --sync`` started while another process's run is going
waits for that run to end, and its exit status is that run's outcome."""
from __future__ import annotations

import threading
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connections
from django.utils import timezone

from analytics.models import ScoreRun

pytestmark = pytest.mark.django_db(transaction=True)


def _running_run(lease: timedelta) -> ScoreRun:
    """The first process's run, as its row looks while that process works on it."""
    now = timezone.now()
    return ScoreRun.objects.create(kind=ScoreRun.Kind.FULL, status=ScoreRun.Status.RUNNING, as_of=now,
                                   started_at=now, lease_expires_at=now + lease)


def _second_sync_command(*args: str) -> tuple[threading.Thread, dict]:
    outcome: dict = {}

    def run() -> None:
        out = StringIO()
        try:
            call_command("recompute_scores", "--sync", *args, stdout=out)
            outcome["exit"] = 0
        except CommandError as exc:
            outcome["exit"], outcome["error"] = 1, str(exc)
        finally:
            outcome["out"] = out.getvalue()
            connections.close_all()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, outcome


def test_second_sync_waits_until_the_first_run_succeeds():
    run = _running_run(timedelta(minutes=10))
    thread, outcome = _second_sync_command()
    thread.join(2.0)
    assert thread.is_alive(), f"returned before the run ended: {outcome}"
    ScoreRun.objects.filter(pk=run.pk).update(status=ScoreRun.Status.SUCCEEDED, finished_at=timezone.now())
    thread.join(10)
    assert not thread.is_alive()
    assert outcome["exit"] == 0, outcome
    assert f"Run #{run.pk}: Succeeded" in outcome["out"]
    assert ScoreRun.objects.count() == 1  # it joined; it did not start a second run


def test_second_sync_exits_non_zero_when_the_joined_run_fails():
    run = _running_run(timedelta(minutes=10))
    thread, outcome = _second_sync_command("--format", "json")
    thread.join(1.5)
    assert thread.is_alive()
    ScoreRun.objects.filter(pk=run.pk).update(status=ScoreRun.Status.FAILED, finished_at=timezone.now(),
                                              error="the first process's run broke")
    thread.join(10)
    assert not thread.is_alive()
    assert outcome["exit"] == 1, outcome
    assert '"status": "failed"' in outcome["out"]


def test_a_joined_run_whose_process_died_ends_when_its_lease_runs_out():
    run = _running_run(timedelta(seconds=2))  # nobody renews it: its process is gone
    thread, outcome = _second_sync_command()
    thread.join(15)
    assert not thread.is_alive()
    assert outcome["exit"] == 1, outcome
    run.refresh_from_db()
    assert run.status == ScoreRun.Status.FAILED
