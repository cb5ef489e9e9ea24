from django.apps import AppConfig
from django.db.models.signals import post_migrate


class CustomersConfig(AppConfig):
    name = "customers"
    verbose_name = "Customers"

    def ready(self) -> None:
        from .roles import sync_roles_after_migrate

        # Later apps (campaigns, analytics) add permissions after the roles migration ran;
        # re-syncing after every migrate keeps the role groups complete.
        post_migrate.connect(sync_roles_after_migrate, dispatch_uid="customers.sync_roles")
