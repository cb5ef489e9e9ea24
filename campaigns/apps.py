from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _

from core.navigation import register_nav, register_page, register_start_page


class CampaignsConfig(AppConfig):
    name = "campaigns"
    verbose_name = _("Campaigns")

    def ready(self) -> None:
        register_page("campaigns", "campaigns.view_campaign")
        register_page("tasks", "campaigns.view_servicetask")
        register_page("my_work", "campaigns.view_servicetask")
        register_nav("my_work", "campaigns:my_work", _("My work"), order=5)
        from .permissions import starts_at_my_work

        register_start_page("my_work", "campaigns:my_work", starts_here=starts_at_my_work)
        register_nav("campaigns", "campaigns:list", _("Campaigns"), order=90)
        register_nav("tasks", "campaigns:tasks", _("Service tasks"), order=100)
        from anymail.signals import tracking

        from .signals import on_tracking

        tracking.connect(on_tracking, dispatch_uid="campaigns.tracking")
