from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _

from core.navigation import register_nav, register_page


class CustomersConfig(AppConfig):
    name = "customers"
    verbose_name = _("Customers")

    def ready(self) -> None:
        from . import events
        from .roles import sync_roles_after_migrate
        from .scores import score_row_trigger_after_migrate

        # Later apps (campaigns, analytics) add permissions after the roles migration ran;
        # re-syncing after every migrate keeps the role groups complete.
        post_migrate.connect(sync_roles_after_migrate, dispatch_uid="customers.sync_roles")

        post_migrate.connect(score_row_trigger_after_migrate, sender=self, dispatch_uid="customers.score_rows")

        events.connect()

        register_page("customers", "customers.view_customer")
        register_page("export", "customers.export_customer")
        register_page("log_interaction", "customers.add_interaction")
        register_nav("customers", "customers:list", _("Customers"), order=10)
