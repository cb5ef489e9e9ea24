"""Time the churn webhook on a full run's scale, on the database DATABASE_URL names.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/crm_bench .venv/bin/python bench/webhooks_churn.py \
        [--customers 100000] [--turning 20000]

Makes ``--customers`` customers (external ids ``WHB-...``, a fifth of them at high churn risk)
unless they exist, an endpoint pointing at a local ``http.server``, and measures:

* the write alone: one UPDATE moving ``--turning`` customers to high churn risk;
* the same write inside ``churn_risk_high_watch`` (the two reads of who is high, the events
  of up to 500 customers each and their delivery rows), in its own transaction;
* the delivery of those events after the commit, in-process (tasks run eagerly here), to the
  local receiver: requests and bytes received.

Prints one JSON object, then removes the endpoint, its deliveries and puts the risks back.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm_site.settings")
os.environ["TASKS_EAGER"] = "true"  # deliver in this process, so the timing includes it
# The receiver is on 127.0.0.1, which webhooks refuse unless told otherwise (README "Security").
os.environ["WEBHOOK_ALLOW_PRIVATE_HOSTS"] = "true"


def receiver() -> tuple[ThreadingHTTPServer, dict]:
    seen = {"requests": 0, "bytes": 0}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            seen["requests"] += 1
            seen["bytes"] += len(self.rfile.read(int(self.headers["Content-Length"])))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, seen


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--turning", type=int, default=20_000)
    args = parser.parse_args()

    import django

    django.setup()
    from django.db import transaction

    from customers.models import Customer
    from webhooks.events import SOURCE_FULL_RUN, churn_risk_high_watch
    from webhooks.models import WebhookDelivery
    from webhooks.services import webhook_endpoint_create

    mine = Customer.objects.filter(external_id__startswith="WHB-")
    if mine.count() != args.customers:
        mine.delete()
        reasons = [{"feature": "recency_ratio", "direction": "up", "weight": 0.41},
                   {"feature": "frequency", "direction": "down", "weight": 0.22}]
        Customer.objects.bulk_create([
            Customer(name=f"Bench {i}", external_id=f"WHB-{i}", churn_probability=(i % 100) / 100,
                     churn_risk="high" if i % 5 == 0 else "medium", churn_reasons=reasons)
            for i in range(args.customers)], batch_size=5_000)
    medium = mine.filter(churn_risk="medium").order_by("pk")
    turning = list(medium.values_list("pk", flat=True)[: args.turning])

    def write(risk: str) -> None:
        Customer.objects.filter(pk__in=turning).update(churn_risk=risk)

    with transaction.atomic():
        start = time.perf_counter()
        write("high")
        write_alone = time.perf_counter() - start
        transaction.set_rollback(True)

    server, seen = receiver()
    endpoint = webhook_endpoint_create(data={"url": f"http://127.0.0.1:{server.server_port}/",
                                             "events": ["customer.churn_risk_high"]}, created_by=None)
    try:
        committed_at = 0.0
        start = time.perf_counter()
        with transaction.atomic():
            with churn_risk_high_watch(source=SOURCE_FULL_RUN):
                write("high")
            watched = time.perf_counter() - start
            committed_at = time.perf_counter()
        delivered = time.perf_counter() - committed_at  # the commit, then its callbacks: the deliveries
        deliveries = WebhookDelivery.objects.filter(endpoint=endpoint)
        print(json.dumps({
            "customers": Customer.objects.count(),
            "turning_high": len(turning),
            "write_alone_s": round(write_alone, 3),
            "write_with_watch_s": round(watched, 3),
            "watch_overhead_s": round(watched - write_alone, 3),
            "events": deliveries.count(),
            "succeeded": deliveries.filter(status="succeeded").count(),
            "delivery_s": round(delivered, 3),
            "requests_received": seen["requests"],
            "mean_body_kb": round(seen["bytes"] / max(seen["requests"], 1) / 1024, 1),
        }, indent=2))
    finally:
        endpoint.delete()
        write("medium")
        server.shutdown()


if __name__ == "__main__":
    main()
