"""Files and import jobs: the preview, the upload, the job a worker runs, and its lease.

A job's worker streams the file through :func:`~intake.services.importers.import_run` and
records progress, counts and the rejected rows as it goes (a run-state row, see the models).
"""
from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import TextIO

from django.conf import settings
from django.core.files import File
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from core.failures import FailureKind, failure_detail, failure_kind
from core.leases import lease_expire, lease_renew, lease_until
from core.spreadsheets import safe_csv_writer
from customers.events import KINDS as RECORD_KINDS
from customers.events import records_changed_publish
from intake import fields as f
from intake.models import ImportJob, ImportKind
from intake.readers import FileFormatError, csv_check, is_xlsx, open_table

from .cleaning import Row, json_cell
from .importers import ImportOptions, ImportResult, import_run

logger = logging.getLogger(__name__)

# Rows of a file the preview page dry-runs to show valid/invalid counts before the real import.
PREVIEW_DRY_RUN_ROWS = 5_000
# Rows shown on the preview page, and the characters shown of each cell (a page of 10 rows x
# IMPORT_MAX_COLUMNS columns stays small however long the cells are).
PREVIEW_SAMPLE_ROWS = 10
PREVIEW_CELL_CHARS = 80
# How long a running job's lease lasts after each chunk (see the model for why ten minutes).
IMPORT_LEASE = ImportJob.lease_duration
# Errors kept in the job row for the job page; all of them go to the rejected-rows CSV.
JOB_ERRORS_KEPT = 50


def rejected_rows_writer(handle: TextIO, headers: list[str]) -> Callable[[Row], None]:
    """Write the header of the rejected-rows CSV to ``handle``; return the ``on_reject`` that
    adds a row.

    The columns are the file's own, then ``line`` and ``reasons``, so a person fixes the cells
    and imports the file again (the extra columns are not mapped to any field). The UI's
    download and ``import_data --rejected`` are this same file.
    """
    writer = safe_csv_writer(handle)
    writer.writerow([*headers, "line", "reasons"])

    def write(row: Row) -> None:
        writer.writerow([*(json_cell(row.raw.get(h)) for h in headers), row.line,
                         "; ".join(f"{name}: {reason}" for name, reason in row.errors)])

    return write


def import_file(*, kind: str, path: str, user, mapping: dict[str, str] | None = None,
                options: ImportOptions | None = None, dry_run: bool = False,
                keep_errors: int | None = None, on_reject=None, on_chunk=None,
                rejected_csv: TextIO | None = None, chunk_rows: int | None = None) -> ImportResult:
    """Import a CSV or XLSX file from disk (the ``import_data`` command).

    With ``rejected_csv`` (a text file opened with ``newline=""``) the rejected rows are written
    to it as :func:`rejected_rows_writer` does.
    """
    with open(path, "rb") as stream:
        if not is_xlsx(stream, path):
            # As at upload: a cell over the limit or a row too wide stops the command before any
            # row is saved.
            csv_check(stream)
        table = open_table(stream, name=path, size=os.path.getsize(path))
        mapping = f.mapping_validate(kind, mapping or f.mapping_detect(kind, table.headers), table.headers)
        if rejected_csv is not None:
            write_rejected = rejected_rows_writer(rejected_csv, table.headers)
            reject_callback = on_reject

            def on_reject(row: Row) -> None:
                write_rejected(row)
                if reject_callback:
                    reject_callback(row)

        return import_run(kind=kind, rows=table.rows, mapping=mapping, user=user, options=options,
                          dry_run=dry_run, keep_errors=keep_errors, on_reject=on_reject, on_chunk=on_chunk,
                          chunk_rows=chunk_rows)


@dataclass(frozen=True)
class Preview:
    headers: list[str]
    mapping: dict[str, str]
    sample: list[list[str]]
    result: ImportResult
    rows_checked: int
    mapping_error: str = ""


def import_preview(*, kind: str, stream, name: str, user, mapping: dict[str, str] | None = None,
                   options: ImportOptions | None = None) -> Preview:
    """Detected mapping, the first rows, and a dry run over the first rows of an upload."""
    table = open_table(stream, name=name)
    mapping = mapping or f.mapping_detect(kind, table.headers)
    head: list[tuple[int, dict]] = []
    for item in table.rows:
        head.append(item)
        if len(head) >= PREVIEW_DRY_RUN_ROWS:
            break
    sample = [[_shorten(f.text(raw.get(h))) for h in table.headers] for _line, raw in head[:PREVIEW_SAMPLE_ROWS]]
    try:
        mapping = f.mapping_validate(kind, mapping, table.headers)
    except ValueError as exc:
        return Preview(table.headers, {h: mapping.get(h, "") for h in table.headers}, sample,
                       ImportResult(), len(head), mapping_error=str(exc))
    result = import_run(kind=kind, rows=head, mapping=mapping, user=user, options=options,
                        dry_run=True, keep_errors=20)
    return Preview(table.headers, mapping, sample, result, len(head))


def upload_size_check(size: int | None) -> None:
    """Refuse a file over IMPORT_MAX_UPLOAD_MB (the upload handler stops one as it arrives)."""
    limit = settings.IMPORT_MAX_UPLOAD_MB
    if size is not None and size > limit * 1024 * 1024:
        raise FileFormatError(_("The file is %(size)s MB; at most %(max)s MB may be uploaded. Split it "
                                "into smaller files.") % {"size": -(-size // (1024 * 1024)), "max": limit})


def _shorten(text: str) -> str:
    return text if len(text) <= PREVIEW_CELL_CHARS else text[:PREVIEW_CELL_CHARS - 1] + "…"


def import_job_upload(*, kind: str, upload: UploadedFile, user,
                      options: ImportOptions | None = None) -> ImportJob:
    """Store an upload as a draft job with its detected mapping (the preview step)."""
    if kind not in ImportKind.values:
        raise ValueError(_("Unknown import kind %(kind)r.") % {"kind": kind})
    upload_size_check(upload.size)
    upload.seek(0)
    table = open_table(upload, name=upload.name)  # refuses an unreadable file before storing it
    # A CSV is read through once here: a cell over the limit or a row too wide is refused now,
    # naming its line, rather than stopping the import after thousands of rows were saved. (An
    # XLSX's cells were measured by open_table, without parsing its rows.)
    upload.seek(0)
    if not is_xlsx(upload, upload.name):
        csv_check(upload)
    upload.seek(0)
    name = os.path.basename(upload.name)
    with transaction.atomic():
        job = ImportJob(kind=kind, original_name=name[:255], mapping=f.mapping_detect(kind, table.headers),
                        options={"create_missing_customers": bool(options and options.create_missing_customers)},
                        created_by=user)
        job.file.save(name, upload, save=False)
        job.save()
    return job


def import_job_start(*, job: ImportJob, mapping: dict[str, str], user) -> ImportJob:
    """Confirm a draft job with its final mapping and queue it after commit."""
    from intake.tasks import import_job_execute

    with job.file.open("rb") as stream:
        headers = open_table(stream, name=job.file.name).headers
    mapping = f.mapping_validate(job.kind, mapping, headers)
    with transaction.atomic():
        started = ImportJob.objects.filter(pk=job.pk, status=ImportJob.Status.DRAFT).update(
            mapping=mapping, status=ImportJob.Status.PENDING)
        if not started:
            raise ValueError(_("This import was already started."))
        # After commit: the worker must find the job row in its pending state. Robust: where tasks
        # run in this process (eager Celery) a failing import is recorded on the job and logged;
        # the person is shown the job's page with the reason, not a server error.
        transaction.on_commit(lambda: import_job_execute.delay(job.pk), robust=True)
    job.refresh_from_db()
    return job


def import_files_expire(*, now=None) -> int:
    """Delete uploads and rejected-rows files older than IMPORT_RETENTION_DAYS; returns how many
    jobs lost their files.

    The job rows stay (counts, status, who imported what) with ``files_deleted_at`` set, so the
    pages say why a file is no longer there. Running and pending jobs keep their file whatever
    their age. Files are deleted through the storage API, and each job is marked after its files
    are gone: a crash half way leaves a job to be retried by the next run, never a job that says
    its files are gone while they are still stored.
    """
    now = now or timezone.now()
    cutoff = now - timedelta(days=settings.IMPORT_RETENTION_DAYS)
    jobs = (ImportJob.objects.filter(created_at__lt=cutoff, files_deleted_at__isnull=True)
            .exclude(status__in=ImportJob.ACTIVE).only("pk", "file", "errors_file"))
    expired = 0
    for job in jobs.iterator(chunk_size=500):
        for stored in (job.file, job.errors_file):
            if stored.name:
                stored.storage.delete(stored.name)
        ImportJob.objects.filter(pk=job.pk).update(file="", errors_file="", files_deleted_at=now)
        expired += 1
    if expired:
        logger.info("Deleted the files of %s import jobs older than %s days", expired,
                    settings.IMPORT_RETENTION_DAYS)
    return expired


# Imports of these kinds change what the scores are computed from.
SCORED_KINDS = RECORD_KINDS


class ImportJobLeaseLost(RuntimeError):
    """The job's lease expired and it was marked failed while this worker still ran it."""


def import_jobs_expire() -> int:
    """Mark running jobs whose worker stopped renewing the lease as failed; returns how many.

    Run by the beat schedule (``intake.tasks.import_jobs_expire``), not by the pages: they show
    such a job as failed, with the reason, as soon as its lease has run out
    (``ImportJob.objects.with_effective_status``), within :data:`IMPORT_LEASE` of its last chunk.
    """
    return lease_expire(ImportJob.objects.all())


def import_job_run(*, job_id: int) -> ImportJob:
    """Run a pending job: stream its file in chunks, record progress, counts and rejected rows.

    Only a pending job starts (the conditional update is the guard against two workers running
    the same job); a redelivered message for a finished job does nothing. Every chunk renews the
    job's lease; if the lease was lost meanwhile (the job was marked failed as abandoned), the
    worker stops rather than overwrite that.
    """
    started = ImportJob.objects.filter(pk=job_id, status=ImportJob.Status.PENDING).update(
        status=ImportJob.Status.RUNNING, started_at=timezone.now(), lease_expires_at=lease_until(IMPORT_LEASE))
    job = ImportJob.objects.get(pk=job_id)
    if not started:
        return job
    running = ImportJob.objects.filter(pk=job_id, status=ImportJob.Status.RUNNING)
    rejected_file = tempfile.NamedTemporaryFile(  # noqa: SIM115 - closed and removed in finally
        "w+", suffix=".csv", newline="", encoding="utf-8-sig", delete=False)
    try:
        with job.file.open("rb") as stream:
            table = open_table(stream, name=job.file.name, size=job.file.size)

            def on_chunk(result: ImportResult) -> None:
                renewed = lease_renew(
                    running, duration=IMPORT_LEASE,
                    progress=int(table.fraction() * 99), total=result.total, created=result.created,
                    updated=result.updated, unchanged=result.unchanged, rejected=result.rejected)
                if not renewed:
                    raise ImportJobLeaseLost(job_id)

            result = import_run(kind=job.kind, rows=table.rows, mapping=job.mapping, user=job.created_by,
                                options=ImportOptions.from_dict(job.options), keep_errors=0,
                                on_reject=rejected_rows_writer(rejected_file, table.headers),
                                on_chunk=on_chunk)
        rejected_file.flush()
        if result.rejected:
            with open(rejected_file.name, "rb") as handle:
                job.errors_file.save(f"rejected-{job.pk}.csv", File(handle), save=False)
        finished = running.update(
            total=result.total, created=result.created, updated=result.updated,
            unchanged=result.unchanged, rejected=result.rejected, errors_file=job.errors_file.name or "",
            status=ImportJob.Status.SUCCEEDED, progress=100, finished_at=timezone.now(),
            lease_expires_at=None)
        if not finished:
            raise ImportJobLeaseLost(job_id)
        job.refresh_from_db()
    except ImportJobLeaseLost:
        logger.warning("Import job %s lost its lease (marked failed as abandoned); stopped", job_id)
        job.refresh_from_db()
    except (FileFormatError, UnicodeError, ValueError, OSError) as exc:
        # The file (or its mapping) does not fit: its message says where, for the person to fix.
        logger.warning("Import job %s failed: %s", job_id, exc, exc_info=True)
        # (Its message is in the worker's language; an OSError's names a path: keep only its reason.)
        reason = f"{exc.strerror}." if isinstance(exc, OSError) and exc.strerror else str(exc)
        _job_failed(job, exc, FailureKind.UNREADABLE_FILE, {"reason": reason})
    except Exception as exc:
        logger.exception("Import job %s failed", job_id)
        _job_failed(job, exc, failure_kind(exc))
        raise
    finally:
        rejected_file.close()
        os.unlink(rejected_file.name)
    if job.status == ImportJob.Status.SUCCEEDED:
        _import_job_followups(job)
    return job


def _import_job_followups(job: ImportJob) -> None:
    """Tell analytics the records changed, once the job is recorded as succeeded.

    What follows (a score run, or a rescore) is work of its own with its own record: where tasks
    run in this process (eager Celery) it runs right here, and its failure is the run's, shown on
    the run's page; it must not turn the import that succeeded into a failed one.
    """
    if job.kind not in SCORED_KINDS or not (job.created or job.updated):
        return
    try:
        # Bulk writes send no signals: publish the change for everyone (analytics answers a bulk
        # change with one full run).
        records_changed_publish(customer_ids=None, kinds=[job.kind], actor=job.created_by)
    except Exception:
        logger.exception("Import job %s succeeded; what follows it (scoring) failed", job.pk)


def _job_failed(job: ImportJob, exc: BaseException, kind: str, params: dict | None = None) -> None:
    """Record a running job as failed: the raw error for the admin, its kind for the pages.

    Only a running job: one already recorded as succeeded or failed (as abandoned) keeps its state.
    """
    ImportJob.objects.filter(pk=job.pk, status=ImportJob.Status.RUNNING).update(
        status=ImportJob.Status.FAILED, error=failure_detail(exc), error_kind=kind,
        error_params=params or {}, finished_at=timezone.now(), lease_expires_at=None)
    job.refresh_from_db()
