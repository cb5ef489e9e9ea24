"""A real HTTP receiver for webhook tests: a local ``http.server`` on a thread.

It answers each request with the next status of its script (the last one repeats) and keeps every
request it received, so a test checks what really went over the wire.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from dataclasses import dataclass
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from webhooks.services import webhook_endpoint_create


@dataclass
class Received:
    headers: Message  # looked up without regard to case, as HTTP headers are
    body: bytes

    @property
    def json(self) -> dict:
        return json.loads(self.body)


def verify(secret: str, header: str, body: bytes, tolerance: int = 300) -> bool:
    """The receiver's check, as the README shows it: timestamp fresh and signature equal."""
    parts = dict(item.split("=", 1) for item in header.split(","))
    timestamp = int(parts["t"])
    if abs(time.time() - timestamp) > tolerance:
        return False
    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, parts["sha256"])


class Receiver:
    def __init__(self, statuses=(200,), body: bytes = b'{"ok": true}', headers=None):
        self.statuses = list(statuses)
        self.body = body
        self.extra_headers = headers or {}
        self.requests: list[Received] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's naming
                length = int(self.headers.get("Content-Length", 0))
                receiver.requests.append(Received(self.headers, self.rfile.read(length)))
                index = min(len(receiver.requests), len(receiver.statuses)) - 1
                self.send_response(receiver.statuses[index])
                for name, value in receiver.extra_headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(receiver.body)))
                self.end_headers()
                self.wfile.write(receiver.body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}/hooks/crm"

    def events(self, event_type: str | None = None) -> list[dict]:
        return [r.json for r in self.requests if event_type is None or r.headers["X-CRM-Event"] == event_type]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(autouse=True)
def _local_receivers_allowed(settings):
    """The receivers here listen on 127.0.0.1, which webhooks refuse unless told otherwise
    (tests/security/test_webhook_ssrf.py tests the refusal)."""
    settings.WEBHOOK_ALLOW_PRIVATE_HOSTS = True


@pytest.fixture
def receiver():
    """``receiver(500, 200)``: a running receiver answering 500, then 200 from then on."""
    made = []

    def make(*statuses, **kwargs) -> Receiver:
        made.append(Receiver(statuses or (200,), **kwargs))
        return made[-1]

    yield make
    for item in made:
        item.close()


@pytest.fixture
def endpoint_for(db):
    """``endpoint_for(receiver, events=[...])``: an active endpoint pointing at the receiver."""

    def make(target: Receiver, events=("customer.churn_risk_high", "campaign.finished"), **data):
        data = {"url": target.url, "events": list(events), **data}
        return webhook_endpoint_create(data=data, created_by=None)

    return make
