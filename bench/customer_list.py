"""Benchmark the customer list page on PostgreSQL: prints JSON with server time per request.

Usage (a database of its own, seeded and scored)::

    createdb -h 127.0.0.1 -U postgres crm_bench
    export DATABASE_URL=postgres://postgres@127.0.0.1:5432/crm_bench
    .venv/bin/python manage.py migrate
    .venv/bin/python manage.py seed_demo --customers 100000 --seed 42
    .venv/bin/python manage.py recompute_scores --sync
    .venv/bin/python bench/customer_list.py --repeat 15

Each typical request (filters, sorts, a search, a deep page) is sent through Django's test
client as the demo manager (who sees contact details, so the search covers email and phone),
after one warm-up; the server time is the whole request inside Django (middleware, queries,
template), without a network. The table is ANALYZEd first: a full score run rewrites every
customer row, and on a server without autovacuum the planner would otherwise work from the
statistics of the unscored table. The target is 150 ms for a filtered page at 100,000 customers.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET_MS = 150
REQUESTS = (
    "",
    "churn_risk=high",
    "churn_risk=high&sort=-clv",
    "sort=-churn",
    "value_segment=high&lifecycle_stage=at_risk",
    "rfm_segment=At+Risk&sort=-orders",
    "churn_min=0.5&clv_min=100&sort=-recency",
    "marketing_consent=true&sort=-spent",
    "q=wang",
    "sort=-clv&page=150",
)


def result_text(html: str) -> str:
    """The page's own count line ("1,234 customers" or "More than 10,000 ...")."""
    match = re.search(r'id="result-count">([^<]*)<', html)
    return " ".join(match.group(1).split()) if match else ""


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=15, help="timed requests per query string")
    parser.add_argument("--user", default="manager", help="an existing user to log in as")
    args = parser.parse_args()
    if not os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://")):
        print("DATABASE_URL must point at a seeded PostgreSQL database", file=sys.stderr)
        return 2
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm_site.settings")
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from customers.models import Customer, CustomerScore

    with connection.cursor() as cursor:
        for model in (Customer, CustomerScore):
            cursor.execute(f"ANALYZE {model._meta.db_table}")
    # As production serves it: behind TLS (no redirect to https) and from collected static files.
    call_command("collectstatic", interactive=False, verbosity=0)
    client = Client(SERVER_NAME="127.0.0.1")
    client.force_login(get_user_model().objects.get(username=args.user))
    rows, every = [], []
    for query in REQUESTS:
        url = f"/customers/?{query}"
        response = client.get(url, secure=True)  # warm-up: connection, templates, plan cache
        if response.status_code != 200:
            print(f"{url} answered {response.status_code}", file=sys.stderr)
            return 1
        times, sql = [], []
        for _ in range(args.repeat):
            with CaptureQueriesContext(connection) as queries:
                started = time.perf_counter()
                client.get(url, secure=True)
                times.append((time.perf_counter() - started) * 1000)
            sql.append(sum(float(q["time"]) for q in queries.captured_queries) * 1000)
        every += times
        rows.append({"query": query or "(none)", "median_ms": round(statistics.median(times), 1),
                     "p95_ms": round(percentile(times, 0.95), 1),
                     "sql_median_ms": round(statistics.median(sql), 1), "queries": len(queries),
                     "result": result_text(response.content.decode())})
    summary = {
        "customers": Customer.objects.count(), "repeat": args.repeat, "requests": rows,
        "median_ms": round(statistics.median(every), 1), "p95_ms": round(percentile(every, 0.95), 1),
        "query_counts": sorted({row["queries"] for row in rows}), "target_ms": TARGET_MS,
    }
    summary["within_target"] = summary["p95_ms"] < TARGET_MS
    print(json.dumps(summary, indent=2))
    return 0 if summary["within_target"] else 1


if __name__ == "__main__":
    sys.exit(main())
