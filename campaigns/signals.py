"""Delivery tracking from e-mail providers: anymail normalises each provider's webhook into one
``tracking`` signal (https://anymail.dev/en/stable/sending/tracking/), handled here."""
from __future__ import annotations

from .delivery import message_tracking_record


def on_tracking(sender, event, esp_name, **kwargs) -> None:
    message_tracking_record(provider_id=event.message_id or "", event_type=event.event_type,
                            recipient=event.recipient or "")
