"""Campaign messages sent by a real Celery worker to a real SMTP server (``-m services``)."""
from __future__ import annotations

from decimal import Decimal

import pytest

from campaigns import services, tasks
from campaigns.models import Campaign, CampaignMessage
from customers.models import Customer
from tests.conftest import start_worker, stop_worker, wait_until

from .conftest import make_customers

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]
QUEUE = "campaign-delivery-test"


@pytest.fixture(autouse=True)
def _roles(role_groups):
    """Transactional tests flush every table, the role groups included."""


@pytest.fixture
def delivery_worker(smtp_server, monkeypatch, django_db_setup):
    """A worker of its own, configured like production through the environment (EMAIL_HOST...)
    and consuming a queue of its own, so the suite's shared worker cannot take the send task."""
    from crm_site.celery import app

    for name, value in {"EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
                        "EMAIL_HOST": "127.0.0.1", "EMAIL_PORT": str(smtp_server.port),
                        "CAMPAIGN_SEND_RATE_PER_SECOND": "0"}.items():
        monkeypatch.setenv(name, value)
    previous_routes = app.conf.task_routes

    def route(routes):
        # Celery prepares the routing table and its router once, on first use (an earlier test
        # may have sent a task already): set the routes, then make it prepare them again.
        app.conf.task_routes = routes
        app.amqp.flush_routes()
        app.amqp.__dict__.pop("router", None)

    route({"campaigns.tasks.campaign_send": {"queue": QUEUE}})
    worker = start_worker("-Q", QUEUE, "--concurrency=1", log_name="celery-worker-campaign-send.log")
    yield smtp_server
    stop_worker(worker)
    route(previous_routes)


def test_the_worker_sends_one_message_per_treated_consenting_member(delivery_worker, role_user):
    make_customers(30)
    make_customers(5, start=100, consent=False)
    sales = role_user("Sales")
    campaign = services.campaign_create(created_by=sales, fields={
        "name": "Worker", "objective": Campaign.Objective.RETENTION, "channel": Campaign.Channel.EMAIL,
        "control_share": Decimal("0.2"), "seed": 3, "frequency_cap_days": 0,
        "coupon_pattern": "W-{code}"}, audience={})
    services.campaign_launch(campaign_id=campaign.pk, launched_by=sales)  # commits: the worker gets it

    treated = set(campaign.members.filter(group="treatment").values_list("customer__email", flat=True))
    wait_until(lambda: len(delivery_worker.messages) >= len(treated), timeout=60,
               failure=lambda: f"{len(delivery_worker.messages)} of {len(treated)} messages arrived")
    wait_until(lambda: not CampaignMessage.objects.filter(campaign=campaign).exclude(status="sent").exists(),
               timeout=30, failure="messages not all marked sent")
    assert sorted(delivery_worker.to()) == sorted(treated)
    assert not set(delivery_worker.to()) & set(
        Customer.objects.filter(marketing_consent=False).values_list("email", flat=True))
    assert all(m["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click" for m in delivery_worker.messages)

    # The task again, through the worker: nothing is sent twice.
    tasks.campaign_send.apply_async((campaign.pk,), queue=QUEUE).get(timeout=60)
    assert len(delivery_worker.messages) == len(treated)
