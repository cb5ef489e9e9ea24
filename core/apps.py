from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CoreConfig(AppConfig):
    """What every app uses and no app owns: API plumbing, database helpers, leases, charts and
    the navigation registry. It imports no other app of the project."""

    name = "core"
    verbose_name = _("Core")
