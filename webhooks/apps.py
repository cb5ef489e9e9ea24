from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class WebhooksConfig(AppConfig):
    """Endpoints, signed deliveries with retries and the delivery log; other apps emit events
    through ``webhooks.events``."""

    name = "webhooks"
    verbose_name = _("Webhooks")
