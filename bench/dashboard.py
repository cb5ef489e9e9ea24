"""Benchmark the dashboard on PostgreSQL: server time of ``/dashboard/`` with the figures a run
stored, and of "My work" at ``/``.

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
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from django.urls import reverse

    from analytics.dashboard import dashboard_figures
    from analytics.models import ScoreRun
    from customers.models import Customer

    if not ScoreRun.objects.filter(status=ScoreRun.Status.SUCCEEDED).exclude(dashboard={}).exists():
        sys.exit("no run has stored dashboard figures here: run bench/recompute.py first")
    # As production serves it: behind TLS (no redirect to https) and from collected static files.
    call_command("collectstatic", interactive=False, verbosity=0)
    client = Client(SERVER_NAME="127.0.0.1")
    client.force_login(get_user_model().objects.get(username=args.user))
    result = {"customers": Customer.objects.count()}
    # The dashboard, and "My work" at "/" (each user's own queue, read live).
    pages = {"dashboard": reverse("dashboard"), "my_work": reverse("home")}
    for language in ("en", "zh-hans"):
        client.cookies["django_language"] = language
        for page, url in pages.items():
            warm = client.get(url, secure=True)  # warm-up: connection, templates, translations
            assert warm.status_code == 200, (url, warm.status_code)
            times = []
            for _ in range(args.repeat):
                with CaptureQueriesContext(connection) as queries:
                    started = time.perf_counter()
                    client.get(url, secure=True)
                    times.append((time.perf_counter() - started) * 1000)
            result[f"{page}_{language}"] = {"median_ms": round(statistics.median(times), 1),
                                            "p95_ms": round(percentile(times, 0.95), 1), "queries": len(queries)}
    started = time.perf_counter()
    dashboard_figures()
    result["live_figures_ms"] = round((time.perf_counter() - started) * 1000, 1)
    result["target_ms"] = TARGET_MS
    result["within_target"] = all(result[f"{page}_{lang}"]["p95_ms"] < TARGET_MS
                                  for page in pages for lang in ("en", "zh-hans"))
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
