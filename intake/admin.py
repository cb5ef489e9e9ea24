"""Admin pages of the intake: import jobs and merges, read-only (they are run records)."""
from __future__ import annotations

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from .models import CustomerMerge, ImportJob


def _download_link(stored, url: str) -> str:
    return format_html('<a href="{}">{}</a>', url, _("Download")) if stored else "-"


@admin.register(ImportJob)
class ImportJobAdmin(admin.ModelAdmin):
    list_display = ("id", "kind", "status", "total", "created", "updated", "unchanged", "rejected",
                    "error_kind", "created_by", "created_at")
    list_select_related = ("created_by",)
    list_filter = ("kind", "status", "error_kind")
    # ``error`` holds the raw error (exception and traceback); the staff pages show the sentence.
    # The files are linked through the import views, which check the role: no URL serves media.
    exclude = ("file", "errors_file")
    readonly_fields = ["error_message", "file_download", "rejected_download",
                       *(f.name for f in ImportJob._meta.fields if f.name not in ("file", "errors_file"))]

    @admin.display(description=_("file"))
    def file_download(self, job: ImportJob) -> str:
        return _download_link(job.file, reverse("intake:job-file", args=[job.pk]))

    @admin.display(description=_("rejected rows (CSV)"))
    def rejected_download(self, job: ImportJob) -> str:
        return _download_link(job.errors_file, reverse("intake:job-rejected", args=[job.pk]))

    @admin.display(description=_("what the staff pages say"))
    def error_message(self, job: ImportJob) -> str:
        return job.get_error_message()


@admin.register(CustomerMerge)
class CustomerMergeAdmin(admin.ModelAdmin):
    list_display = ("id", "survivor", "duplicate", "merged_by", "merged_at", "undone_at")
    list_select_related = ("survivor", "duplicate", "merged_by")
    readonly_fields = [f.name for f in CustomerMerge._meta.fields]
