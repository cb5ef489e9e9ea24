"""Customers with scores already set, as the analytics pipeline would leave them."""
from __future__ import annotations

from decimal import Decimal

import pytest

from customers.models import Customer

SEGMENTS = ("high", "medium", "low")


def make_customers(n: int, *, start: int = 0, consent: bool = True, **scores) -> list[Customer]:
    """``n`` scored customers; value segments cycle high/medium/low unless given."""
    rows = []
    for i in range(start, start + n):
        values = {
            "value_segment": SEGMENTS[i % 3], "value_tier": SEGMENTS[i % 3],
            "rfm_segment": "Champions" if i % 2 else "At Risk",
            "churn_probability": round((i % 10) / 10, 2), "clv_12m": Decimal(100 + i),
            "lifecycle_stage": "active", "sentiment_score": 0.1, "region": "North" if i % 2 else "South",
        }
        values.update(scores)
        # An address for the e-mail and SMS channels: launch leaves out customers without one.
        rows.append(Customer(name=f"Customer {i}", external_id=f"T{i}", marketing_consent=consent,
                             email=f"customer{i}@example.com", phone=f"+8613800{i:06d}", **values))
    return Customer.objects.bulk_create(rows)


@pytest.fixture
def customers(db):
    return make_customers(60)


class SmtpHandler:
    """aiosmtpd handler keeping every message; addresses in ``refuse`` get a 550 (a hard bounce),
    and the first ``busy`` RCPTs get 451 (a transient failure)."""

    def __init__(self):
        import email

        self._parse = email.message_from_bytes
        self.messages = []
        self.refuse: set[str] = set()
        self.busy = 0

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refuse:
            return "550 5.1.1 No such user"
        if self.busy > 0:
            self.busy -= 1
            return "451 4.3.0 Try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(self._parse(envelope.original_content or envelope.content))
        return "250 Message accepted"

    def to(self) -> list[str]:
        return [m["To"] for m in self.messages]


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def smtp_server(settings):
    """A real SMTP server on localhost, and Django's SMTP backend pointed at it."""
    from aiosmtpd.controller import Controller

    handler = SmtpHandler()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", controller.port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.CAMPAIGN_SEND_RATES = {"email": 0, "sms": 0}
    handler.port = controller.port
    yield handler
    controller.stop()
