"""The demo customer whose contact details the security tests look for in every response."""
from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from campaigns.models import Campaign, CampaignMember, ServiceTask
from tests.factories import (
    CustomerFactory,
    FeedbackFactory,
    InteractionFactory,
    OrderFactory,
    OrderItemFactory,
    ProductFactory,
)

WHEN = datetime(2026, 1, 5, 10, 0, tzinfo=UTC)
EMAIL, OLD_EMAIL = "jack.green@example.com", "jack.old@example.net"
PHONE, OLD_PHONE = "+8613812345678", "+8613798765432"
BIRTH_DATE = date(1985, 3, 14)
# Imported columns: contact and identity data by name, one by content only, one harmless.
PII_ATTRIBUTES = {
    "contact_email": "jack.backup@example.org",
    "secondary_phone": "+44 20 7946 0958",
    "home_address": "12 Elm Street, Springfield",
    "id_card": "11010519491231002X",
    "passport": "E12345678",
    "wechat": "jackgreen_wx",
    "remarks": "call 13912345678 after six",
}
PLAIN_ATTRIBUTES = {"contract_type": "Two year", "tenure": 14}
# Strings that must not appear in any response body for a user without view_pii.
SECRETS = [EMAIL, OLD_EMAIL, PHONE, OLD_PHONE, "1985-03-14", "March 14, 1985", "14 March 1985",
           "jack.backup@example.org", "7946 0958", "12 Elm Street", "11010519491231002X",
           "E12345678", "jackgreen_wx", "13912345678"]


def demo_customer():
    """The customer, with a history of changed contact details, an order, feedback, an
    interaction, a campaign membership and a service task."""
    customer = CustomerFactory(name="Jack Green", external_id="C-JG", email=OLD_EMAIL, phone=OLD_PHONE,
                               attributes={"contact_email": "old.backup@example.org", **PLAIN_ATTRIBUTES})
    customer.email, customer.phone, customer.birth_date = EMAIL, PHONE, BIRTH_DATE
    customer.attributes = {**PII_ATTRIBUTES, **PLAIN_ATTRIBUTES}
    customer.save()
    product = ProductFactory(sku="TEA-1", name="Green tea", price=Decimal(12))
    order = OrderFactory(customer=customer, external_id="O-1", ordered_at=WHEN, total_amount=Decimal(24))
    OrderItemFactory(order=order, product=product, quantity=2, unit_price=Decimal(12))
    FeedbackFactory(customer=customer, order=order, created_at=WHEN, rating=4, text="Good tea")
    InteractionFactory(customer=customer, kind="call", occurred_at=WHEN, outcome="ok")
    campaign = Campaign.objects.create(name="Winback")
    member = CampaignMember.objects.create(campaign=campaign, customer=customer, group="treatment")
    ServiceTask.objects.create(campaign=campaign, member=member, customer=customer, due_on=WHEN.date())
    return customer


def leaked(body: str) -> list[str]:
    return [secret for secret in SECRETS if secret in body]
