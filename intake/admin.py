"""Admin pages of the intake: import jobs and merges, read-only (they are run records)."""
from __future__ import annotations

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from .models import CustomerMerge, ImportJob


@admin.register(ImportJob)
class ImportJobAdmin(admin.ModelAdmin):
    list_display = ("id", "kind", "status", "total", "created", "updated", "unchanged", "rejected",
                    "error_kind", "created_by", "created_at")
    list_select_related = ("created_by",)
    list_filter = ("kind", "status", "error_kind")
    # ``error`` holds the raw error (exception and traceback); the staff pages show the sentence.
    readonly_fields = ["error_message", *(f.name for f in ImportJob._meta.fields)]

    @admin.display(description=_("what the staff pages say"))
    def error_message(self, job: ImportJob) -> str:
        return job.get_error_message()


@admin.register(CustomerMerge)
class CustomerMergeAdmin(admin.ModelAdmin):
    list_display = ("id", "survivor", "duplicate", "merged_by", "merged_at", "undone_at")
    list_select_related = ("survivor", "duplicate", "merged_by")
    readonly_fields = [f.name for f in CustomerMerge._meta.fields]
