"""API writes for tests/core/test_sqlite_concurrency.py, in a process of their own.

``python tests/core/sqlite_api_writer.py OUT STOP DEADLINE``: threads, each with its own database
connection, update and create interactions through the REST API until the file STOP appears or
DEADLINE (a Unix time) passes; then OUT gets every write's start time, duration and status, and
every error.
"""
import json
import os
import sys
import threading
import time
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm_site.settings")

import django  # noqa: E402

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.db import connection  # noqa: E402
from rest_framework.authtoken.models import Token  # noqa: E402
from rest_framework.test import APIClient  # noqa: E402

from customers.models import Interaction  # noqa: E402

THREADS = 2


def main(out: str, stop: str, deadline: float) -> None:
    token, _ = Token.objects.get_or_create(user=get_user_model().objects.get(username="manager"))
    targets = list(Interaction.objects.order_by("pk").values("pk", "customer_id", "kind")[:20])
    connection.close()
    writes, errors = [], []

    def work(number: int) -> None:
        client = APIClient(HTTP_HOST="localhost")
        client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
        step = 0
        while not os.path.exists(stop) and time.time() < deadline:
            target = targets[(number + step * THREADS) % len(targets)]
            started = time.time()
            try:
                if step % 2:
                    response = client.post("/api/interactions/", {
                        "customer": target["customer_id"], "kind": target["kind"],
                        "note": f"writer {number} step {step}"}, format="json")
                else:
                    response = client.put(f"/api/interactions/{target['pk']}/", {
                        "customer": target["customer_id"], "kind": target["kind"],
                        "note": f"writer {number} step {step}"}, format="json")
                writes.append({"at": started, "seconds": time.time() - started, "status": response.status_code,
                               "body": "" if response.status_code < 300 else response.content.decode()[:500]})
            except Exception:
                errors.append(traceback.format_exc())
            step += 1
            time.sleep(0.05)
        connection.close()

    threads = [threading.Thread(target=work, args=(n,)) for n in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    Path(out).write_text(json.dumps({"writes": writes, "errors": errors}))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], float(sys.argv[3]))
