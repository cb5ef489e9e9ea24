"""Send a 10,000-member e-mail campaign to a local SMTP server and print the rate reached.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/crm_bench .venv/bin/python bench/campaign_send.py \
        [--customers 10000] [--rate 0]

Makes ``--customers`` consenting customers with addresses (external ids ``CSB-...``) unless they
exist, starts an aiosmtpd server on localhost that accepts everything, launches a campaign to
all of them with no control group (one message each), and sends it in this process through
Django's SMTP backend with the per-second limit ``--rate`` (0: none, to measure what the code and
SMTP reach). Prints one JSON object: launch seconds, send seconds, messages received and
messages a second. Removes the campaign and its messages afterwards (the customers stay).
"""
from __future__ import annotations

import argparse
import json
import os
import socket
import sys
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm_site.settings")
os.environ["TASKS_EAGER"] = "false"  # the send is timed on its own below, not inside the launch


REGION = "campaign-send-bench"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=10_000)
    parser.add_argument("--rate", type=float, default=0.0)
    parser.add_argument("--profile", action="store_true", help="print the top functions by time")
    args = parser.parse_args()

    import django

    django.setup()
    import logging

    logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd logs every SMTP command
    from aiosmtpd.controller import Controller
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.db import transaction

    from campaigns import delivery, services
    from campaigns.models import Campaign
    from customers.models import Customer

    class Handler:
        received = 0

        async def handle_DATA(self, server, session, envelope):
            Handler.received += 1
            return "250 OK"

    with socket.socket() as probe:  # a free port (aiosmtpd's readiness check cannot use port 0)
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(Handler(), hostname="127.0.0.1", port=port)
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.CAMPAIGN_SEND_RATES = {"email": args.rate, "sms": args.rate}

    existing = Customer.objects.filter(external_id__startswith="CSB-").count()
    Customer.objects.bulk_create([
        Customer(external_id=f"CSB-{i}", name=f"Bench {i}", email=f"bench{i}@example.com",
                 marketing_consent=True, value_segment="medium", region=REGION)
        for i in range(existing, args.customers)], batch_size=2000)
    user, _ = get_user_model().objects.get_or_create(username="bench-campaign-send",
                                                     defaults={"is_superuser": True})
    campaign = services.campaign_create(created_by=user, fields={
        "name": "Bench send", "objective": Campaign.Objective.RETENTION, "channel": Campaign.Channel.EMAIL,
        "control_share": Decimal("0"), "frequency_cap_days": 0, "coupon_pattern": "B-{code}"},
        audience={"regions": [REGION]})
    members = Customer.objects.filter(region=REGION).count()
    try:
        started = time.perf_counter()
        with transaction.atomic():
            services.campaign_launch(campaign_id=campaign.pk, launched_by=user)
        launched = time.perf_counter()
        if args.profile:
            import cProfile
            import pstats

            profile = cProfile.Profile()
            sent = profile.runcall(delivery.campaign_send, campaign_id=campaign.pk)
            pstats.Stats(profile, stream=sys.stderr).sort_stats("cumulative").print_stats(25)
        else:
            sent = delivery.campaign_send(campaign_id=campaign.pk)
        finished = time.perf_counter()
        time.sleep(0.5)  # the server counts the last message after answering it
        print(json.dumps({
            "customers": members, "database": settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[1],
            "rate_limit": args.rate, "launch_seconds": round(launched - started, 2),
            "send_seconds": round(finished - launched, 2), "sent": sent, "received": Handler.received,
            "messages_per_second": round(sent / (finished - launched), 1),
        }))
    finally:
        campaign.delete()
        controller.stop()


if __name__ == "__main__":
    main()
