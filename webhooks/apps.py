from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    """Endpoints, signed deliveries with retries and the delivery log; other apps emit events
    through ``webhooks.events``."""

    name = "webhooks"
    verbose_name = "Webhooks"
