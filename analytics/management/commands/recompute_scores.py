"""``manage.py recompute_scores``: start a full score run (or join the one already running)."""
from __future__ import annotations

import json
import time

import pandas as pd
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from analytics.models import ScoreRun
from analytics.services.runs import score_run_as_of_check, score_run_request, score_runs_expire


def run_as_json(run: ScoreRun) -> dict:
    return {
        "id": run.pk, "kind": run.kind, "status": run.status, "as_of": run.as_of.isoformat(),
        "stage": run.stage, "progress": run.progress, "counts": run.counts, "timings": run.timings,
        "peak_memory_mb": run.peak_memory_mb, "chunks": run.chunks_total,
        "duration_seconds": run.duration_seconds, "models": run.model_cards, "error": run.error,
    }


# How often a waiting command looks at the run's row: a cheap read by primary key.
WAIT_POLL_SECONDS = 0.5


class Command(BaseCommand):
    help = "Recompute every customer's scores (RFM, segments, churn, CLV, lifecycle, ...)."

    def add_arguments(self, parser):
        parser.add_argument("--as-of", help="score as of this date (YYYY-MM-DD); default now")
        parser.add_argument("--sync", action="store_true",
                            help="run in this process and wait, instead of queueing for a worker")
        parser.add_argument("--wait", action="store_true",
                            help="queue for a worker, print its progress and wait until the run ends")
        parser.add_argument("--timeout", type=float, default=1800,
                            help="with --wait, or --sync joining a run already going: give up after "
                                 "this many seconds (default 1800)")
        parser.add_argument("--format", choices=["text", "json"], default="text")

    def handle(self, *args, as_of=None, sync=False, wait=False, timeout=1800.0, format="text", **options):
        if sync and wait:
            raise CommandError("--sync runs here and --wait waits for a worker: pass one of them")
        when = None
        if as_of:
            try:
                when = pd.Timestamp(as_of)
            except ValueError as exc:
                raise CommandError(f"--as-of {as_of!r} is not a date (use YYYY-MM-DD)") from exc
            when = (when.tz_localize("UTC") if when.tzinfo is None else when).to_pydatetime()
            try:  # the same rule as POST /api/score-runs/
                when = score_run_as_of_check(as_of=when)
            except ValidationError as exc:
                raise CommandError("--as-of: " + " ".join(exc.message_dict["as_of"])) from exc
        try:
            run = score_run_request(as_of=when, run_now=sync)
        except Exception:
            run = ScoreRun.objects.filter(kind=ScoreRun.Kind.FULL).first()
            if format == "json" and run is not None:
                self.stdout.write(json.dumps(run_as_json(run)))
            raise
        if sync and run.status not in ScoreRun.ENDED:
            # Another process's run was already going and this one joined it. --sync promises to
            # return when a run has ended (a script runs the next step on its scores), so follow
            # that run to its end; its lease running out (the process died) also ends it.
            if format != "json":
                self.stdout.write(f"Run #{run.pk} was already running elsewhere; waiting for it to end.")
            run = self._wait(run, timeout, quiet=format == "json", expire=True)
        elif wait:
            run = self._wait(run, timeout, quiet=format == "json")
        if format == "json":
            self.stdout.write(json.dumps(run_as_json(run)))
            if run.status == ScoreRun.Status.FAILED:
                raise CommandError(f"Run #{run.pk} failed")  # the exit status says it too
            return
        self.stdout.write(f"Run #{run.pk}: {run.get_status_display()}"
                          + (f" in {run.duration_seconds:.1f} s" if run.duration_seconds else ""))
        for name, card in sorted(run.model_cards.items()):
            if "skipped" in card:
                self.stdout.write(f"  {name}: skipped ({card['skipped']})")
        if run.status == ScoreRun.Status.FAILED:
            raise CommandError(run.error)

    def _wait(self, run: ScoreRun, timeout: float, *, quiet: bool, expire: bool = False) -> ScoreRun:
        """Follow a queued run until it ends, printing each new stage and progress.

        ``expire``: record the run as failed once its lease runs out (its process died), as the
        beat sweep would; a --sync caller may have no beat beside it.
        """
        deadline = time.monotonic() + timeout
        shown = None
        while run.status not in ScoreRun.ENDED:
            if time.monotonic() > deadline:
                raise CommandError(f"Run #{run.pk} did not end within {timeout:.0f} s "
                                   f"(is a worker running? `celery -A crm_site worker`)")
            now = (run.status, run.stage, run.progress)
            if now != shown and not quiet:
                self.stdout.write(f"  run #{run.pk}: {run.get_status_display()} {run.progress} %"
                                  + (f" · {run.stage}" if run.stage else ""))
                shown = now
            time.sleep(WAIT_POLL_SECONDS)
            if expire:
                score_runs_expire()
            run.refresh_from_db()
        return run
