from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _

from core.navigation import register_nav, register_page

# Any one of the listed permissions opens the page. Chosen to give the roles of
# customers/roles.py what they need: Manager everything; Sales bundles (campaign builders use
# them); Service the feedback it handles.
PAGES = {
    "segments": ("analytics.view_segmentprofile",),
    "churn": ("analytics.view_segmentprofile",),
    "clv": ("analytics.view_segmentprofile",),
    "forecast": ("analytics.view_revenueforecast",),
    # Bundles are a selling aid: staff who take orders or build campaigns (Sales, Manager).
    "bundles": ("analytics.view_associationrule",),
    # Feedback analytics are for the staff who handle feedback (Service, Manager).
    "feedback": ("customers.change_feedback",),
    "runs": ("analytics.view_scorerun",),
    # How the served predictions turned out: for whoever reads the churn and CLV pages.
    "accuracy": ("analytics.view_segmentprofile",),
    "run_start": ("analytics.add_scorerun",),
}
NAVIGATION = (
    ("segments", "analytics:segments", _("Segments")),
    ("churn", "analytics:churn", _("Churn")),
    ("clv", "analytics:clv", _("Lifetime value")),
    ("bundles", "analytics:bundles", _("Bundles")),
    ("feedback", "analytics:feedback", _("Feedback")),
    ("forecast", "analytics:forecast", _("Forecast")),
    ("accuracy", "analytics:accuracy", _("How did we do?")),
    ("runs", "analytics:runs", _("Score runs")),
)


class AnalyticsConfig(AppConfig):
    name = "analytics"
    verbose_name = _("Analytics")

    def ready(self) -> None:
        from . import signals  # noqa: F401 - connects the rescore receivers

        for page, permissions in PAGES.items():
            register_page(page, *permissions)
        for order, (page, url_name, label) in enumerate(NAVIGATION, start=2):
            register_nav(page, url_name, label, order=order * 10)
