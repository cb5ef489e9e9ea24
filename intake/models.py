"""Models of the intake: import jobs and customer merges.

Both are run-state rows in the sense of the house style: an import job records its status,
progress and counts as it goes, so a crashed import is visible; a merge records everything it
changed, so it can be undone.
"""
from __future__ import annotations

import os
import uuid
from datetime import timedelta

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext_lazy

from core.failures import FailureKind
from core.leases import LeasedJob

__all__ = ["CustomerMerge", "ImportJob", "ImportKind"]


class ImportKind(models.TextChoices):
    CUSTOMERS = "customers", _("Customers")
    PRODUCTS = "products", _("Products")
    ORDERS = "orders", _("Orders")
    FEEDBACK = "feedback", _("Feedback")
    INTERACTIONS = "interactions", _("Interactions")


def _upload_path(job: ImportJob, filename: str) -> str:
    """A random name in a folder no URL serves: nobody can guess another job's file.

    The person's own file name is kept in ``original_name``; the stored name keeps only the
    extension (``.csv`` or ``.xlsx``), which the readers use as a hint.
    """
    return f"imports/{uuid.uuid4().hex}{_extension(filename)}"


def _rejected_path(job: ImportJob, filename: str) -> str:
    return f"imports/rejected/{uuid.uuid4().hex}.csv"


def _extension(filename: str) -> str:
    extension = os.path.splitext(filename)[1].lower()
    return extension if extension in (".csv", ".xlsx", ".txt") else ""


class ImportJob(LeasedJob):
    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft (uploaded, not started)")
        PENDING = "pending", _("Pending")
        RUNNING = "running", _("Running")
        SUCCEEDED = "succeeded", _("Succeeded")
        FAILED = "failed", _("Failed")

    kind = models.CharField(_("kind"), max_length=20, choices=ImportKind.choices)
    # Empty once deleted after IMPORT_RETENTION_DAYS (``files_deleted_at``).
    file = models.FileField(_("file"), upload_to=_upload_path, blank=True)
    original_name = models.CharField(_("original file name"), max_length=255, blank=True)
    mapping = models.JSONField(_("column mapping"), default=dict, blank=True,
                               help_text=_("File column -> field; an empty field ignores the column."))
    options = models.JSONField(_("options"), default=dict, blank=True)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices,
                              default=Status.DRAFT)
    progress = models.PositiveSmallIntegerField(_("progress (%)"), default=0)
    total = models.PositiveIntegerField(_("rows read"), default=0)
    created = models.PositiveIntegerField(_("created"), default=0)
    updated = models.PositiveIntegerField(_("updated"), default=0)
    unchanged = models.PositiveIntegerField(_("unchanged"), default=0)
    rejected = models.PositiveIntegerField(_("rejected"), default=0)
    errors_file = models.FileField(_("rejected rows (CSV)"), upload_to=_rejected_path, blank=True)
    files_deleted_at = models.DateTimeField(
        _("files deleted at"), null=True, blank=True,
        help_text=_("When the upload and the rejected rows were deleted, after the retention period."))
    # The raw error (exception and traceback) for administrators; the pages show the sentence of
    # ``error_kind`` (core.leases.LeasedJob.get_error_message).
    error = models.TextField(_("error details"), blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("created by"),
                                   null=True, on_delete=models.SET_NULL, related_name="import_jobs")
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    # ``lease_expires_at`` (core.leases.LeasedJob): a running job holds this lease and renews it
    # after every chunk. A worker that dies stops renewing it; once it has passed, pages show the
    # job as failed and the beat's sweep marks it so (``import_jobs_expire``), so a job is never
    # "running" forever.

    ACTIVE = (Status.PENDING, Status.RUNNING)
    LEASED_STATUSES = (Status.RUNNING,)
    # A running job renews its lease after every chunk, which takes seconds; ten minutes allows for
    # a chunk slowed by a busy database many times over, and shows a job whose worker was killed as
    # failed within ten minutes (the score runs' lease is the same idea).
    lease_duration = timedelta(minutes=10)
    # Imports are idempotent (a row already imported is matched by its id and ends as unchanged),
    # so importing the same file again is the cure for most failures.
    failure_messages = {
        FailureKind.DATABASE_BUSY: ngettext_lazy(
            "The database was busy; the import stopped after %(rows)s row was saved. Import the same "
            "file again: rows already imported are recognised and not duplicated.",
            "The database was busy; the import stopped after %(rows)s rows were saved. Import the same "
            "file again: rows already imported are recognised and not duplicated.", "rows"),
        FailureKind.UNREADABLE_FILE: _(
            "The file could not be read: %(reason)s Correct the file (CSV in UTF-8 or GB18030, or "
            "XLSX) and import it again."),
        FailureKind.WORKER_LOST: ngettext_lazy(
            "The worker running this import stopped reporting progress (it was restarted, killed or "
            "ran out of memory) after %(rows)s row was saved. Import the same file again: rows already "
            "imported are recognised and not duplicated.",
            "The worker running this import stopped reporting progress (it was restarted, killed or "
            "ran out of memory) after %(rows)s rows were saved. Import the same file again: rows "
            "already imported are recognised and not duplicated.", "rows"),
        FailureKind.OUT_OF_RESOURCES: ngettext_lazy(
            "The import ran out of memory or time after %(rows)s row was saved. Split the file into "
            "smaller files and import them one after the other: rows already imported are recognised "
            "and not duplicated.",
            "The import ran out of memory or time after %(rows)s rows were saved. Split the file into "
            "smaller files and import them one after the other: rows already imported are recognised "
            "and not duplicated.", "rows"),
        FailureKind.UNEXPECTED: ngettext_lazy(
            "The import stopped after %(rows)s row was saved because of an unexpected error. Try "
            "again later; if it happens again, ask an administrator: the details are in the log.",
            "The import stopped after %(rows)s rows were saved because of an unexpected error. Try "
            "again later; if it happens again, ask an administrator: the details are in the log.",
            "rows"),
    }

    class Meta:
        # The table kept its name when the model left the customers app: no data moved.
        db_table = "customers_importjob"
        verbose_name = _("import job")
        verbose_name_plural = _("import jobs")
        ordering = ["-created_at", "-id"]
        permissions = [("view_data_quality", "Can see the data quality page")]
        constraints = [
            models.CheckConstraint(condition=models.Q(progress__lte=100), name="importjob_progress_max_100"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.original_name or self.file.name} ({self.get_status_display()})"

    @classmethod
    def lease_abandoned_q(cls, now) -> Q:
        # Started before leases existed: judged by when it started.
        return super().lease_abandoned_q(now) | Q(
            status__in=cls.LEASED_STATUSES, lease_expires_at__isnull=True, started_at__lt=now - cls.lease_duration)

    def failure_params(self) -> dict:
        # Counts are recorded after every chunk: those of a failed job are the rows saved.
        return {"rows": self.created + self.updated + self.unchanged}

    def as_progress(self) -> dict:
        """What the job page polls; with ``with_effective_status``, an abandoned job is failed."""
        status = getattr(self, "effective_status", self.status)
        return {
            "id": self.pk, "kind": self.kind, "status": status,
            "status_label": self.get_effective_status_display(), "progress": self.progress,
            "total": self.total, "created": self.created, "updated": self.updated,
            "unchanged": self.unchanged, "rejected": self.rejected,
            "error": self.get_error_message(),
            "finished": status not in self.ACTIVE,
        }


class CustomerMerge(models.Model):
    """One merge of ``duplicate`` into ``survivor``, with what it needs to be undone."""

    survivor = models.ForeignKey("customers.Customer", verbose_name=_("survivor"),
                                 on_delete=models.PROTECT, related_name="merges_received")
    duplicate = models.ForeignKey("customers.Customer", verbose_name=_("duplicate"),
                                  on_delete=models.PROTECT, related_name="merges_given")
    field_choices = models.JSONField(_("field choices"), default=dict, blank=True,
                                     help_text=_("Field -> 'survivor' or 'duplicate'."))
    survivor_before = models.JSONField(_("survivor's values before"), default=dict)
    duplicate_before = models.JSONField(_("duplicate's values before"), default=dict)
    moved = models.JSONField(_("moved records"), default=dict,
                             help_text=_("Ids of the orders, feedback and interactions moved."))
    merged_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("merged by"), null=True,
                                  on_delete=models.SET_NULL, related_name="customer_merges")
    merged_at = models.DateTimeField(_("merged at"), auto_now_add=True)
    undone_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("undone by"), null=True,
                                  blank=True, on_delete=models.SET_NULL, related_name="+")
    undone_at = models.DateTimeField(_("undone at"), null=True, blank=True)

    class Meta:
        # The table kept its name when the model left the customers app: no data moved.
        db_table = "customers_customermerge"
        verbose_name = _("customer merge")
        verbose_name_plural = _("customer merges")
        ordering = ["-merged_at", "-id"]

    def __str__(self) -> str:
        return f"{self.duplicate_id} -> {self.survivor_id}"
