"""``manage.py seed_demo``: fill the database with a realistic demo data set.

The data come from the pure generator in :mod:`customers.demo.generator` and are written by
:func:`customers.demo.loader.demo_seed` (COPY on PostgreSQL, batched ``bulk_create`` elsewhere).
"""
from __future__ import annotations

import json

import pandas as pd
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from customers.demo.loader import DEMO_PASSWORD, DemoDataExists, demo_seed

DEFAULT_CUSTOMERS = 2_000   # a few seconds even on SQLite; --customers 100000 for the full demo
DEFAULT_SEED = 42


def _as_of(raw: str | None) -> pd.Timestamp:
    if raw is None:
        # Today (UTC midnight): the demo's history ends where the calendar does.
        return pd.Timestamp(timezone.now().date())
    try:
        value = pd.Timestamp(raw)
    except ValueError as exc:
        raise CommandError(f"--as-of {raw!r} is not a date (use YYYY-MM-DD)") from exc
    if value.tzinfo is not None:
        value = value.tz_convert("UTC").tz_localize(None)
    return value


class Command(BaseCommand):
    help = ("Generate demo customers with orders, feedback and interactions, and create demo "
            "logins manager/sales/service (password 'demo').")

    def add_arguments(self, parser):
        parser.add_argument("--customers", type=int, default=DEFAULT_CUSTOMERS,
                            help=f"number of customers (default {DEFAULT_CUSTOMERS}; ~10 orders each)")
        parser.add_argument("--seed", type=int, default=DEFAULT_SEED,
                            help="random seed; the same seed and --as-of give the same data")
        parser.add_argument("--as-of", dest="as_of", default=None,
                            help="last day of the generated history, YYYY-MM-DD (default: today)")
        parser.add_argument("--flush", action="store_true",
                            help="first delete ALL customers, orders, feedback, interactions and products")
        parser.add_argument("--json", action="store_true", help="print counts and timings as JSON")

    def handle(self, *args, customers, seed, as_of, flush, json: bool = False, **options):
        if customers < 1:
            raise CommandError("--customers must be at least 1")
        try:
            result = demo_seed(n_customers=customers, seed=seed, as_of=_as_of(as_of), flush=flush)
        except DemoDataExists as exc:
            raise CommandError(f"{exc} (pass --flush to replace the existing data)") from exc
        if json:
            self.stdout.write(_json({"counts": result.counts, "timings": result.timings,
                                     "method": result.method}))
        else:
            counts = ", ".join(f"{n:,} {name.replace('_', ' ')}" for name, n in result.counts.items())
            self.stdout.write(self.style.SUCCESS(f"Loaded {counts} via {result.method} "
                                                 f"in {sum(result.timings.values()):.1f} s."))
        self.stdout.write("Demo logins (password '%s'):" % DEMO_PASSWORD)
        for username, role in result.users.items():
            self.stdout.write(f"  {username:<8} {role}")


def _json(payload) -> str:
    return json.dumps(payload, indent=2)
