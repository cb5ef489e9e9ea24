"""Benchmark the dashboard on PostgreSQL: server time of ``/`` with the figures a run stored.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/crm_bench .venv/bin/python bench/dashboard.py

Needs a database where a full run has succeeded (``bench/recompute.py`` leaves one). Times the
page through Django's test client as the demo manager, after one warm-up, in English and
Chinese, and for comparison the live computation the page falls back to before any run has
stored its figures. Prints JSON. The target is 200 ms at 100,000 customers.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm_site.settings")
TARGET_MS = 200

from customer_list import percentile  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--user", default="manager")
    args = parser.parse_args()

    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from analytics.dashboard import dashboard_figures
    from analytics.models import ScoreRun
    from customers.models import Customer

    if not ScoreRun.objects.filter(status=ScoreRun.Status.SUCCEEDED).exclude(dashboard={}).exists():
        sys.exit("no run has stored dashboard figures here: run bench/recompute.py first")
    client = Client(SERVER_NAME="127.0.0.1")
    client.force_login(get_user_model().objects.get(username=args.user))
    result = {"customers": Customer.objects.count()}
    for language in ("en", "zh-hans"):
        client.cookies["django_language"] = language
        warm = client.get("/")  # warm-up: connection, templates, translations
        assert warm.status_code == 200, warm.status_code
        times = []
        for _ in range(args.repeat):
            with CaptureQueriesContext(connection) as queries:
                started = time.perf_counter()
                client.get("/")
                times.append((time.perf_counter() - started) * 1000)
        result[language] = {"median_ms": round(statistics.median(times), 1),
                            "p95_ms": round(percentile(times, 0.95), 1), "queries": len(queries)}
    started = time.perf_counter()
    dashboard_figures()
    result["live_figures_ms"] = round((time.perf_counter() - started) * 1000, 1)
    result["target_ms"] = TARGET_MS
    result["within_target"] = all(result[lang]["p95_ms"] < TARGET_MS for lang in ("en", "zh-hans"))
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
