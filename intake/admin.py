"""Admin pages of the intake: import jobs and merges, read-only (they are run records)."""
from __future__ import annotations

from django.contrib import admin

from .models import CustomerMerge, ImportJob


@admin.register(ImportJob)
class ImportJobAdmin(admin.ModelAdmin):
    list_display = ("id", "kind", "status", "total", "created", "updated", "unchanged", "rejected",
                    "created_by", "created_at")
    list_select_related = ("created_by",)
    list_filter = ("kind", "status")
    readonly_fields = [f.name for f in ImportJob._meta.fields]


@admin.register(CustomerMerge)
class CustomerMergeAdmin(admin.ModelAdmin):
    list_display = ("id", "survivor", "duplicate", "merged_by", "merged_at", "undone_at")
    list_select_related = ("survivor", "duplicate", "merged_by")
    readonly_fields = [f.name for f in CustomerMerge._meta.fields]
