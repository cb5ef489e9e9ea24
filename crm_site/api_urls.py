"""The REST API under /api/: each app contributes its own urls."""
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

urlpatterns = [
    path("", include("customers.api.urls")),
    path("", include("intake.api_urls")),
    path("", include("webhooks.api_urls")),
    path("", include("analytics.api.urls")),
    path("", include("campaigns.api.urls")),
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
]
