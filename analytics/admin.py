"""Admin pages of the analytics: score runs, read-only (they are run records).

The admin is where the raw error of a failed run is read (exception, message and traceback);
the staff pages show the sentence for its kind of failure.
"""
from __future__ import annotations

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from core.admin_display import record_names, stored_json

from .cards import stage_label
from .models import ScoreRun

JSON_FIELDS = ("timings", "counts", "dashboard", "peak_memory_mb", "model_cards", "error_params")


@admin.register(ScoreRun)
class ScoreRunAdmin(admin.ModelAdmin):
    list_display = ("id", "kind", "status", "stage_name", "progress", "error_kind", "as_of", "requested_by",
                    "created_at", "finished_at")
    list_select_related = ("requested_by",)
    list_filter = ("kind", "status", "error_kind")
    # The stage is stored as the engine's code ("done"); shown as the runs page names it. The JSON
    # records (model cards, timings ...) are shown as code.
    fields = ["error_message", *record_names(("stage_name" if f.name == "stage" else f.name
                                              for f in ScoreRun._meta.fields), JSON_FIELDS)]
    readonly_fields = fields
    timings_record = stored_json(ScoreRun, "timings")
    counts_record = stored_json(ScoreRun, "counts")
    dashboard_record = stored_json(ScoreRun, "dashboard")
    peak_memory_mb_record = stored_json(ScoreRun, "peak_memory_mb")
    model_cards_record = stored_json(ScoreRun, "model_cards")
    error_params_record = stored_json(ScoreRun, "error_params")

    def has_add_permission(self, request) -> bool:
        return False  # a run is requested from the runs page, which takes the lock

    @admin.display(description=_("stage"), ordering="stage")
    def stage_name(self, run: ScoreRun) -> str:
        return stage_label(run.stage)

    @admin.display(description=_("what the staff pages say"))
    def error_message(self, run: ScoreRun) -> str:
        return run.get_error_message()
