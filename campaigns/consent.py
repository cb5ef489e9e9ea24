"""One-click unsubscribe links (RFC 8058): a signed token naming the customer, no login needed.

The token is signed with SECRET_KEY (``django.core.signing``) and never expires: a link in a
message read a year later must still work. It carries only the customer's id, so it reveals no
contact details; it cannot be forged without the key.
"""
from __future__ import annotations

from django.conf import settings
from django.core import signing
from django.urls import reverse

SALT = "campaigns.unsubscribe"


def unsubscribe_token(customer_id: int) -> str:
    return signing.dumps(customer_id, salt=SALT)


def unsubscribe_customer_id(token: str) -> int | None:
    """The customer the token was made for, or None when it was not made by us."""
    try:
        value = signing.loads(token, salt=SALT)
    except signing.BadSignature:
        return None
    return value if isinstance(value, int) else None


def unsubscribe_url(customer_id: int) -> str:
    return settings.SITE_URL.rstrip("/") + reverse("unsubscribe", args=[unsubscribe_token(customer_id)])
