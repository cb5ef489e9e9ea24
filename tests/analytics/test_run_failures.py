"""A failed score run says what happened and what to do, in the reader's language; the raw error
stays for the administrator; and "Run analysis now" says what is true when the page shows it."""
from __future__ import annotations

import pytest
from django.contrib.messages import get_messages
from django.db import OperationalError
from django.urls import reverse
from django.utils import timezone

from analytics.engine.clv import InsufficientDataError
from analytics.models import ScoreRun
from analytics.services import runs
from core.failures import FailureKind, failure_kind
from tests.pages.ui_data import scored_world

BUSY_EN = ("The database was busy, so the analysis stopped; the scores of the previous run are "
           "unchanged. Run the analysis again (after a large import has finished).")
BUSY_ZH = "数据库繁忙，分析已停止；上一次分析的评分保持不变。请重新运行分析（如有大批量导入，等它完成后再运行）。"


@pytest.fixture
def manager(client, role_user):
    client.force_login(role_user("Manager"))
    return client


@pytest.fixture
def locked_write(monkeypatch):
    """The database refuses the run's final write, as SQLite does when another writer holds the
    lock past the busy timeout."""
    def locked(*args, **kwargs):
        raise OperationalError("database is locked")

    monkeypatch.setattr(runs, "results_write", locked)


def _messages(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


@pytest.mark.django_db
def test_a_run_failing_in_the_write_stage_says_so_in_both_languages(manager, admin_client, locked_write):
    scored_world(6)
    with pytest.raises(OperationalError):
        runs.score_run_request(run_now=True)
    run = ScoreRun.objects.filter(status="failed").get()
    assert (run.stage, run.progress, run.error_kind) == ("write", 92, FailureKind.DATABASE_BUSY)
    assert run.error.startswith("Traceback") and run.error.endswith("OperationalError: database is locked")
    status = manager.get(reverse("analytics:run_status", args=[run.pk])).json()
    assert (status["status"], status["finished"], status["error"]) == ("failed", True, BUSY_EN)
    for language, sentence, stopped in (("en", BUSY_EN, "Stopped at 92 %"), ("zh-hans", BUSY_ZH, "停止于 92 %")):
        page = manager.get(reverse("analytics:run_detail", args=[run.pk]),
                           HTTP_ACCEPT_LANGUAGE=language).content.decode()
        assert sentence in page and stopped in page, language
        assert "OperationalError" not in page and "Traceback" not in page
        listing = manager.get(reverse("analytics:runs"), HTTP_ACCEPT_LANGUAGE=language).content.decode()
        assert stopped in listing and "· write" not in listing
    admin_page = admin_client.get(reverse("admin:analytics_scorerun_change", args=[run.pk])).content.decode()
    assert "OperationalError: database is locked" in admin_page and BUSY_EN in admin_page
    staff_page = admin_client.get(reverse("analytics:run_detail", args=[run.pk])).content.decode()
    assert reverse("admin:analytics_scorerun_change", args=[run.pk]) in staff_page


@pytest.mark.django_db
def test_an_abandoned_run_reads_as_failed_with_the_reason(manager):
    run = ScoreRun.objects.create(as_of=timezone.now(), status="running", progress=40, stage="churn",
                                  lease_expires_at=timezone.now() - timezone.timedelta(seconds=1))
    status = manager.get(reverse("analytics:run_status", args=[run.pk])).json()
    assert (status["status"], status["finished"]) == ("failed", True)
    assert status["error"].startswith("The worker running the analysis stopped reporting progress")
    page = manager.get(reverse("analytics:run_detail", args=[run.pk])).content.decode()
    assert status["error"] in page
    # Reading wrote nothing: recording it is the beat's sweep's job.
    run.refresh_from_db()
    assert (run.status, run.error_kind) == ("running", "")
    assert runs.score_runs_expire() == 1
    run.refresh_from_db()
    assert (run.status, run.error_kind) == ("failed", FailureKind.WORKER_LOST)


# Transactional: the run is queued after the commit and, tasks running in this process, it has
# finished before the request returns, exactly as on a laptop without a broker.
@pytest.mark.django_db(transaction=True)
def test_run_start_says_the_run_finished_when_it_ran_in_process(manager):
    scored_world(6)
    response = manager.post(reverse("analytics:run_start"), follow=True)
    run = ScoreRun.objects.filter(status="succeeded").order_by("-pk").first()
    assert response.redirect_chain[-1][0] == reverse("analytics:run_detail", args=[run.pk])
    assert _messages(response) == [f"Analysis run #{run.pk} finished: the scores are up to date."]
    assert "queued" not in response.content.decode()


@pytest.mark.django_db(transaction=True)
def test_run_start_says_the_run_failed_and_why(manager, locked_write):
    scored_world(6)
    response = manager.post(reverse("analytics:run_start"), follow=True)
    assert response.status_code == 200
    run = ScoreRun.objects.filter(status="failed").get()
    assert _messages(response) == [f"Analysis run #{run.pk} failed: {BUSY_EN}"]


@pytest.mark.django_db
def test_run_start_says_queued_or_running_while_the_run_waits(manager):
    scored_world(6)
    # Inside the test's transaction the task is only sent after a commit that never comes: the
    # run waits in the queue, as it does for a worker.
    response = manager.post(reverse("analytics:run_start"), follow=True)
    run = ScoreRun.objects.get(status="queued")
    assert _messages(response) == [f"Analysis run #{run.pk} is queued; its progress is shown below."]
    assert reverse("analytics:run_status", args=[run.pk]) in response.content.decode()
    ScoreRun.objects.filter(pk=run.pk).update(status="running")
    response = manager.post(reverse("analytics:run_start"), follow=True)
    assert _messages(response) == [f"Analysis run #{run.pk} is running; its progress is shown below."]


@pytest.mark.parametrize(("error", "kind"), [
    (OperationalError("database is locked"), FailureKind.DATABASE_BUSY),
    (OperationalError("deadlock detected"), FailureKind.DATABASE_BUSY),
    (OperationalError("canceling statement due to statement timeout"), FailureKind.OUT_OF_RESOURCES),
    (OperationalError("no such table: customers_customer"), FailureKind.UNEXPECTED),
    (MemoryError(), FailureKind.OUT_OF_RESOURCES),
    (RuntimeError("disk full"), FailureKind.UNEXPECTED),
])
def test_failure_kinds(error, kind):
    assert failure_kind(error) == kind


def test_a_wrapped_driver_error_is_recognised():
    try:
        try:
            raise OperationalError("database is locked")
        except OperationalError as inner:
            raise RuntimeError("writing the scores failed") from inner
    except RuntimeError as outer:
        assert failure_kind(outer) == FailureKind.DATABASE_BUSY


def test_not_enough_history_is_its_own_kind():
    assert runs._failure_kind(InsufficientDataError("BG/NBD needs at least 20 customers")) == \
        FailureKind.NOT_ENOUGH_HISTORY
    assert runs._failure_kind(ValueError("the 90-day window has only one class; not enough history to "
                                         "fit churn")) == FailureKind.NOT_ENOUGH_HISTORY
