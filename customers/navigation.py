"""The navigation bar, built per user from their permissions.

Who may open which page is written once, in :data:`PAGE_PERMISSIONS`; the views check the same
entries, so the bar never shows a link that answers 403. An entry whose URL name does not exist
(an app not installed yet) is left out.
"""
from __future__ import annotations

from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext_lazy as _

# Any one of the listed permissions opens the page. Chosen to give the roles of
# customers/roles.py what they need: Manager everything; Sales customers, campaigns and
# bundles (campaign builders use bundles); Service customers, feedback and service tasks.
PAGE_PERMISSIONS: dict[str, tuple[str, ...]] = {
    "customers": ("customers.view_customer",),
    "export": ("customers.export_customer",),
    "log_interaction": ("customers.add_interaction",),
    "import": ("customers.import_data",),
    "duplicates": ("customers.merge_customer",),
    "data_quality": ("customers.view_data_quality",),
    "segments": ("analytics.view_segmentprofile",),
    "churn": ("analytics.view_segmentprofile",),
    "clv": ("analytics.view_segmentprofile",),
    "forecast": ("analytics.view_revenueforecast",),
    # Bundles are a selling aid: staff who take orders or build campaigns (Sales, Manager).
    "bundles": ("analytics.view_associationrule",),
    # Feedback analytics are for the staff who handle feedback (Service, Manager).
    "feedback": ("customers.change_feedback",),
    "runs": ("analytics.view_scorerun",),
    "run_start": ("analytics.add_scorerun",),
    "campaigns": ("campaigns.view_campaign",),
    "tasks": ("campaigns.view_servicetask",),
}

NAV_ENTRIES: tuple[tuple[str, str, object], ...] = (
    ("customers", "customers:list", _("Customers")),
    ("segments", "analytics:segments", _("Segments")),
    ("churn", "analytics:churn", _("Churn")),
    ("clv", "analytics:clv", _("Lifetime value")),
    ("bundles", "analytics:bundles", _("Bundles")),
    ("feedback", "analytics:feedback", _("Feedback")),
    ("forecast", "analytics:forecast", _("Forecast")),
    ("runs", "analytics:runs", _("Score runs")),
    ("campaigns", "campaigns:list", _("Campaigns")),
    ("tasks", "campaigns:tasks", _("Service tasks")),
    ("import", "intake:import", _("Data import")),
    ("duplicates", "intake:duplicates", _("Duplicates")),
    ("data_quality", "intake:quality", _("Data quality")),
)


def user_may(user, page: str) -> bool:
    return user.is_authenticated and any(user.has_perm(p) for p in PAGE_PERMISSIONS[page])


def navigation(request) -> dict:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"nav_items": []}
    items = [{"url": reverse("home"), "label": _("Dashboard"), "active": request.path == "/"}]
    for page, url_name, label in NAV_ENTRIES:
        if not user_may(user, page):
            continue
        try:
            url = reverse(url_name)
        except NoReverseMatch:
            continue
        items.append({"url": url, "label": label, "active": request.path.startswith(url)})
    return {"nav_items": items, "may": {page: user_may(user, page) for page in PAGE_PERMISSIONS}}
