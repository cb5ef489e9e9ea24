from functools import wraps

import anymail.urls
from anymail.exceptions import AnymailConfigurationError
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse, HttpResponseNotFound
from django.urls import URLPattern, include, path, resolve, reverse
from django.views.i18n import set_language

from analytics.views import home
from campaigns.message_views import unsubscribe
from core.navigation import start_page


def _configured_only(view):
    """A provider's tracking webhook answers 404 when that provider is not configured here:
    anymail raises a configuration error (a 500) for a provider without its secret or key."""
    @wraps(view)
    def wrapped(request, *args, **kwargs):
        try:
            return view(request, *args, **kwargs)
        except AnymailConfigurationError:
            return HttpResponseNotFound("This provider's tracking webhook is not configured.",
                                        content_type="text/plain; charset=utf-8")
    return wrapped


def _public(patterns):
    """anymail's tracking webhooks, open without a login: each authenticates the provider itself
    (ANYMAIL WEBHOOK_SECRET basic auth or the provider's signature)."""
    for pattern in patterns:
        if isinstance(pattern, URLPattern) and "tracking" in str(pattern.pattern):
            yield URLPattern(pattern.pattern, login_not_required(_configured_only(pattern.callback)),
                             pattern.default_args, pattern.name)


def start(request: HttpRequest) -> HttpResponse:
    """``/``: the page registered as the user's start page (a service agent's My work), served
    here rather than redirected to; the dashboard for everyone else."""
    url_name = start_page(request.user)
    if url_name is None:
        return home(request)
    return resolve(reverse(url_name)).func(request)


urlpatterns = [
    path("", start, name="home"),
    path("dashboard/", home, name="dashboard"),
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
    # The one-click unsubscribe link of campaign messages: no login (RFC 8058).
    path("unsubscribe/<str:token>/", unsubscribe, name="unsubscribe"),
    path("anymail/", include((list(_public(anymail.urls.urlpatterns)), "anymail"))),
]

# Under /api/ a refusal, an unmatched path or an unexpected error answers in the API's JSON error shape.
handler403 = "core.api.errors.permission_denied"
handler404 = "core.api.errors.not_found"
handler500 = "core.api.errors.server_error"

# MEDIA_ROOT is never served by URL, not even with DEBUG on: it holds uploaded import files and
# their rejected rows, with names and contact details. They reach a person only through the
# import views, which check who asks (intake/views.py).
