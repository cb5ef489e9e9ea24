"""A failed import says what happened and what to do; the raw error stays for the administrator;
and what follows a successful import (scoring) cannot turn it into a failed one."""
from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import OperationalError
from django.urls import reverse

from analytics.models import ScoreRun
from analytics.services import runs
from customers.models import Customer
from intake.models import ImportJob
from intake.readers import SNIFF_BYTES, FileFormatError
from intake.services import importers, jobs
from intake.services.jobs import import_job_start, import_job_upload

pytestmark = pytest.mark.django_db

BODY = ("customer_id,name\n" + "".join(f"C{i},Name {i}\n" for i in range(6))).encode()
BUSY_EN = ("The database was busy; the import stopped after 2 rows were saved. Import the same file "
           "again: rows already imported are recognised and not duplicated.")
BUSY_ZH = "数据库繁忙，导入在保存了 2 行后停止。请重新导入同一个文件：已导入的行会被识别，不会重复。"


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)


def _start(role_user, body=BODY, django_capture_on_commit_callbacks=None):
    user = role_user("Sales")
    job = import_job_upload(kind="customers", upload=SimpleUploadedFile("c.csv", body), user=user)
    # A failing task is recorded on the job and logged, not raised into the page that started it.
    with django_capture_on_commit_callbacks(execute=True):
        import_job_start(job=job, mapping=job.mapping, user=user)
    job.refresh_from_db()
    return user, job


def _locked_on_the_second_chunk(monkeypatch):
    """The database refuses the second chunk's write, as SQLite does when another writer holds
    the lock past the busy timeout."""
    monkeypatch.setattr(importers, "CHUNK_ROWS", 2)
    monkeypatch.setattr(importers, "READ_AHEAD_CHUNKS", 0)
    real_import_run = jobs.import_run

    def import_run(**kwargs):
        on_chunk, calls = kwargs["on_chunk"], []

        def on_chunk_locked(result):
            calls.append(result.total)
            if len(calls) == 2:
                raise OperationalError("database is locked")
            on_chunk(result)

        return real_import_run(**{**kwargs, "on_chunk": on_chunk_locked})

    monkeypatch.setattr(jobs, "import_run", import_run)


def test_a_job_stopped_by_a_locked_database_says_so_in_both_languages(
        media, role_user, client, admin_client, monkeypatch, django_capture_on_commit_callbacks):
    _locked_on_the_second_chunk(monkeypatch)
    user, job = _start(role_user, django_capture_on_commit_callbacks=django_capture_on_commit_callbacks)
    assert job.status == ImportJob.Status.FAILED and job.error_kind == "database_busy"
    # The first chunk was saved, the second rolled back: the sentence counts what is there.
    assert (job.created, Customer.objects.count()) == (2, 2)
    client.force_login(user)
    progress = client.get(reverse("intake:job-progress", args=[job.pk])).json()
    assert (progress["status"], progress["error"]) == ("failed", BUSY_EN)
    for language, sentence in (("en", BUSY_EN), ("zh-hans", BUSY_ZH)):
        page = client.get(reverse("intake:job", args=[job.pk]), HTTP_ACCEPT_LANGUAGE=language).content.decode()
        assert sentence in page, language
        assert "OperationalError" not in page and "Traceback" not in page
        listing = client.get(reverse("intake:import"), HTTP_ACCEPT_LANGUAGE=language).content.decode()
        assert f'title="{sentence}"' in listing
    # The raw error, traceback included, is the administrator's: in the admin, read-only.
    assert job.error.startswith("Traceback") and job.error.endswith("OperationalError: database is locked")
    admin_page = admin_client.get(reverse("admin:intake_importjob_change", args=[job.pk])).content.decode()
    assert "OperationalError: database is locked" in admin_page and BUSY_EN in admin_page
    staff_job_page = admin_client.get(reverse("intake:job", args=[job.pk])).content.decode()
    assert reverse("admin:intake_importjob_change", args=[job.pk]) in staff_job_page


def test_a_file_that_breaks_halfway_is_refused_at_upload_naming_the_line(media, role_user):
    # Past the bytes the delimiter is sniffed from: the whole file's encoding is checked before
    # the job exists, so nothing is stored or saved, and the line named is the bad one.
    rows = SNIFF_BYTES // 1000 + 1
    body = ("customer_id,name\n" + "".join(f"C{i:04d},{'N' * 994}\n" for i in range(rows))).encode()
    body += b"C9,Bad \xff\n"
    with pytest.raises(FileFormatError, match=rf"^Line {rows + 2} is neither UTF-8 nor GB18030 text\.$"):
        import_job_upload(kind="customers", upload=SimpleUploadedFile("c.csv", body), user=role_user("Sales"))
    assert not ImportJob.objects.exists() and not Customer.objects.exists()


def test_a_job_whose_follow_up_run_fails_stays_succeeded(media, role_user, client, monkeypatch,
                                                         django_capture_on_commit_callbacks):
    def locked(*args, **kwargs):
        raise OperationalError("database is locked")

    # The import succeeds; the full run it sets off (in this process: tasks run eagerly, as on a
    # laptop without a broker) fails while writing the scores.
    monkeypatch.setattr(runs, "results_write", locked)
    user, job = _start(role_user, django_capture_on_commit_callbacks=django_capture_on_commit_callbacks)
    assert Customer.objects.count() == 6
    run = ScoreRun.objects.get()
    assert (run.status, run.stage, run.error_kind) == ("failed", "write", "database_busy")
    assert (job.status, job.error, job.error_kind) == (ImportJob.Status.SUCCEEDED, "", "")
    client.force_login(user)
    progress = client.get(reverse("intake:job-progress", args=[job.pk])).json()
    assert (progress["status"], progress["error"], progress["created"]) == ("succeeded", "", 6)


def test_a_failure_recorded_late_does_not_overwrite_a_finished_job(media, role_user,
                                                                   django_capture_on_commit_callbacks):
    _user, job = _start(role_user, django_capture_on_commit_callbacks=django_capture_on_commit_callbacks)
    assert job.status == ImportJob.Status.SUCCEEDED
    jobs._job_failed(job, OperationalError("database is locked"), "database_busy")
    job.refresh_from_db()
    assert (job.status, job.error) == (ImportJob.Status.SUCCEEDED, "")
