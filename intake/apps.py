from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _

from core.navigation import register_nav, register_page


class IntakeConfig(AppConfig):
    """Reading files, cleaning, import jobs, duplicates and merges, data quality."""

    name = "intake"
    verbose_name = _("Intake")

    def ready(self) -> None:
        register_page("import", "customers.import_data")
        # Anyone who sees customers may review duplicate candidates (contact details follow the
        # PII rule); merging them takes the merge permission.
        register_page("duplicates", "customers.view_customer")
        register_page("merge", "customers.merge_customer")
        register_page("data_quality", "intake.view_data_quality")
        register_nav("import", "intake:import", _("Data import"), order=110)
        register_nav("duplicates", "intake:duplicates", _("Duplicates"), order=120)
        register_nav("data_quality", "intake:quality", _("Data quality"), order=130)
