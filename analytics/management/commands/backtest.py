"""``manage.py backtest --from DATE --every 30d``: replay the customer models as of past dates.

Each date gets a run of kind "backtest" that keeps what the models would have predicted then
(prediction history) and writes no customer's scores; afterwards every kept run whose horizon has
passed is scored against what happened (realised accuracy), so an installation with years of
orders sees how its models do on its first day.
"""
from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from analytics.services.runs import backtest_plan, backtest_replay

_STEP = re.compile(r"^\s*(\d+)\s*([dw])\s*$")


def _date(option: str, raw: str) -> datetime:
    try:
        stamp = datetime.fromisoformat(raw.strip())
    except ValueError as exc:
        raise CommandError(f"{option} {raw!r} is not a date (use YYYY-MM-DD)") from exc
    return stamp.replace(tzinfo=UTC) if stamp.tzinfo is None else stamp


def _step(raw: str) -> timedelta:
    match = _STEP.match(raw)
    if not match or int(match.group(1)) == 0:
        raise CommandError(f"--every {raw!r} is not a step such as 30d or 4w")
    number, unit = int(match.group(1)), match.group(2)
    return timedelta(days=number * (7 if unit == "w" else 1))


class Command(BaseCommand):
    help = "Fit the customer models as of past dates and check their predictions against what happened."

    def add_arguments(self, parser):
        parser.add_argument("--from", dest="start", required=True, help="first date (YYYY-MM-DD)")
        parser.add_argument("--to", dest="end", help="last date (YYYY-MM-DD); default today")
        parser.add_argument("--every", default="30d", help="step between dates: 30d, 4w ... (default 30d)")
        parser.add_argument("--queue", action="store_true", help="send the backtest to a worker instead of running it here")
        parser.add_argument("--format", choices=["text", "json"], default="text")

    def handle(self, *args, start, end=None, every="30d", queue=False, format="text", **options):
        try:
            dates = backtest_plan(start=_date("--from", start), end=_date("--to", end) if end else timezone.now(),
                                  step=_step(every))
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        if queue:
            from analytics.tasks import backtest_replay as task

            task.delay([when.isoformat() for when in dates])
            self.stdout.write(f"Queued a backtest of {len(dates)} dates for the worker.")
            return

        def show(run):
            if format == "text":
                self.stdout.write(f"Backtest run #{run.pk} as of {run.as_of.date().isoformat()}: "
                                  f"{run.get_status_display()}, {run.counts.get('history', 0)} predictions kept")

        runs, realised = backtest_replay(dates=dates, on_run=show)
        if format == "json":
            self.stdout.write(json.dumps({
                "runs": [{"id": r.pk, "as_of": r.as_of.isoformat(), "status": r.status,
                          "history": r.counts.get("history", 0)} for r in runs],
                "realised": [{"run": r.run_id, "model": r.model, "customers": r.customers,
                              "metrics": r.metrics, "drift": r.drift} for r in realised],
            }))
            return
        for row in realised:
            self.stdout.write(f"  {row.run.as_of.date().isoformat()} {row.model}: {row.customers} customers, "
                              + ", ".join(f"{k} {v}" for k, v in row.metrics.items() if k != "seconds"))
