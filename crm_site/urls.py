from django.conf import settings
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required
from django.urls import include, path
from django.views.i18n import set_language

from analytics.views import home

urlpatterns = [
    path("", home, name="home"),
    path("", include("customers.urls")),
    path("data/", include("intake.urls")),
    path("analytics/", include("analytics.urls")),
    path("campaigns/", include("campaigns.urls")),
    path("api/", include("crm_site.api_urls")),
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    # The language switcher also serves the login page.
    path("i18n/setlang/", login_not_required(set_language), name="set_language"),
    path("admin/", admin.site.urls),
]

# Under /api/ a refusal, an unmatched path or an unexpected error answers in the API's JSON error shape.
handler403 = "core.api.errors.permission_denied"
handler404 = "core.api.errors.not_found"
handler500 = "core.api.errors.server_error"

if settings.DEBUG:
    from django.conf.urls.static import static

    urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)
