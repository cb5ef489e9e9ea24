"""Jobs that failed before ``error_kind`` existed get the kind their raw error shows."""
import pytest
from django.apps import apps
from django.utils import timezone

from analytics.models import ScoreRun
from core.failures import legacy_failures_classify
from intake.models import ImportJob

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("error, kind", [
    ("OperationalError: database is locked", "database_busy"),
    ("the worker stopped renewing its lease at 12:00", "worker_lost"),
    ("Traceback ... MemoryError", "out_of_resources"),
    ("KeyError: 'x'", "unexpected"),
])
def test_a_legacy_failed_run_gets_the_kind_its_error_shows(error, kind):
    failed = ScoreRun.objects.create(as_of=timezone.now(), status="failed", error=error)
    done = ScoreRun.objects.create(as_of=timezone.now(), status="succeeded", error=error)
    legacy_failures_classify(app_label="analytics", model_name="ScoreRun")(apps, None)
    failed.refresh_from_db()
    done.refresh_from_db()
    assert (failed.error_kind, done.error_kind) == (kind, "")


def test_a_kind_already_recorded_is_kept():
    job = ImportJob.objects.create(kind="customers", status="failed", error="database is locked",
                                   error_kind="unreadable_file")
    legacy_failures_classify(app_label="intake", model_name="ImportJob")(apps, None)
    job.refresh_from_db()
    assert job.error_kind == "unreadable_file"
