"""Admin pages of the analytics: score runs, read-only (they are run records).

The admin is where the raw error of a failed run is read (exception, message and traceback);
the staff pages show the sentence for its kind of failure.
"""
from __future__ import annotations

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from .models import ScoreRun


@admin.register(ScoreRun)
class ScoreRunAdmin(admin.ModelAdmin):
    list_display = ("id", "kind", "status", "stage", "progress", "error_kind", "as_of", "requested_by",
                    "created_at", "finished_at")
    list_select_related = ("requested_by",)
    list_filter = ("kind", "status", "error_kind")
    readonly_fields = ["error_message", *(f.name for f in ScoreRun._meta.fields)]

    def has_add_permission(self, request) -> bool:
        return False  # a run is requested from the runs page, which takes the lock

    @admin.display(description=_("what the staff pages say"))
    def error_message(self, run: ScoreRun) -> str:
        return run.get_error_message()
