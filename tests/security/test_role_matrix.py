"""Every admin, UI and API URL, requested as each role and anonymously, with lookups on hidden
fields: anonymous is always turned away, and Service never reads the demo customer's contact
details (e-mail, phone, birth date, contact or identity attributes) in any response.

The URLs come from the URL configuration and the admin registry, so a page added later is
covered without editing this file."""
from __future__ import annotations

import re

import pytest
from django.contrib import admin
from django.urls import NoReverseMatch, URLPattern, URLResolver, get_resolver, reverse
from django.utils.html import escape

from campaigns.models import Campaign, ServiceTask
from customers.models import Feedback, Interaction, Order
from tests.security.pii_fixture import demo_customer, leaked

pytestmark = pytest.mark.django_db

ROLES = ("Manager", "Sales", "Service")
# Public on purpose, or not a page: the login form, language switch, the media files (another
# item of the issue), format-suffix duplicates of API routes.
SKIPPED_NAMES = {"login", "logout", "set_language", None}
HIDDEN_LOOKUPS = [
    {"email__startswith": "jack"}, {"phone__contains": "1381234"}, {"birth_date": "1985-03-14"},
    {"email__regex": "^jack"}, {"customer__email__startswith": "jack"},
    {"customer__phone__contains": "1381234"}, {"attributes__id_card__startswith": "1101"},
    {"o": "3"}, {"o": "-4"}, {"q": "jack.green@example"}, {"q": "1381234"},
]
UI_AND_API_LOOKUPS = [
    {"search": "jack.green@example"}, {"q": "jack.green@example"}, {"email": "jack.green@example.com"},
    {"phone": "+8613812345678"}, {"ordering": "email"}, {"ordering": "-phone"}, {"sort": "email"},
    {"email__startswith": "jack"}, {"customer__email": "jack.green@example.com"},
]


def _walk(patterns, prefix="", namespace=""):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            ns = f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace
            yield from _walk(pattern.url_patterns, prefix + str(pattern.pattern), ns)
        elif isinstance(pattern, URLPattern):
            yield prefix + str(pattern.pattern), namespace, pattern


def _site_urls(ids: dict[str, int]) -> list[str]:
    """Every UI and API URL but the admin's, with ids of the fixture's records filled in."""
    urls = []
    for route, namespace, pattern in _walk(get_resolver().url_patterns):
        if route.startswith("admin/") or pattern.name in SKIPPED_NAMES or "format" in pattern.pattern.regex.groupindex:
            continue
        kwargs = {}
        for name in pattern.pattern.regex.groupindex:
            if name == "pk":
                kwargs[name] = next((pk for key, pk in ids.items() if key in route), ids["customers"])
            else:
                kwargs[name] = {"external_id": "O-1" if "orders" in route else "C-JG", "sku": "TEA-1",
                                "kind": "customers", "language": "en", "key": "winback"}.get(name, "x")
        url = _reverse_or_none(f"{namespace}{pattern.name}", kwargs)
        if url is not None:
            urls.append(url)
    return sorted(set(urls))


def _reverse_or_none(name: str, kwargs: dict) -> str | None:
    """None when a converter refuses the filler value: there is nothing to request then."""
    try:
        return reverse(name, kwargs=kwargs)
    except NoReverseMatch:
        return None


def _admin_urls() -> list[str]:
    urls = []
    for model, model_admin in admin.site._registry.items():
        info = (model._meta.app_label, model._meta.model_name)
        urls.append(reverse("admin:{}_{}_changelist".format(*info)))
        obj = model._default_manager.order_by("pk").first()
        if obj is None:
            continue
        urls.append(reverse("admin:{}_{}_change".format(*info), args=[obj.pk]))
        urls.append(reverse("admin:{}_{}_history".format(*info), args=[obj.pk]))
        history = getattr(model, "history", None)
        if history is not None and hasattr(model_admin, "history_form_view"):
            for record in history.filter(pk=obj.pk):
                urls.append(reverse("admin:{}_{}_simple_history".format(*info), args=[obj.pk, record.pk]))
    return urls


@pytest.fixture
def world(db, role_groups):
    customer = demo_customer()
    ids = {"customers": customer.pk, "orders": Order.objects.get().pk, "feedback": Feedback.objects.get().pk,
           "interactions": Interaction.objects.get().pk, "tasks": ServiceTask.objects.get().pk,
           "service-tasks": ServiceTask.objects.get().pk, "campaigns": Campaign.objects.get().pk}
    return customer, ids


def _with_lookups(url: str, lookups: list[dict]) -> list[tuple[str, dict]]:
    return [(url, {})] + [(url, params) for params in lookups]


def test_anonymous_is_turned_away_everywhere(client, world):
    _customer, ids = world
    for url in _site_urls(ids) + _admin_urls():
        response = client.get(url)
        if response.status_code in (301, 302):
            assert re.search(r"/login/", response["Location"]), (url, response["Location"])
        elif url.startswith("/unsubscribe/"):
            assert response.status_code == 400, (url, response.status_code)  # a forged link: refused
        elif url.startswith("/anymail/"):
            # E-mail providers' tracking webhooks authenticate the provider, not a person: refused
            # without its credentials, or not there at all for a provider not configured here.
            assert response.status_code in (400, 401, 403, 404, 405), (url, response.status_code)
        else:
            assert response.status_code in (401, 403, 405), (url, response.status_code)


@pytest.mark.parametrize("role", ROLES)
def test_no_server_error_and_service_reads_no_contact_details(client, role_user, world, role):
    _customer, ids = world
    client.force_login(role_user(role))
    requests = [r for url in _site_urls(ids) for r in _with_lookups(url, UI_AND_API_LOOKUPS)]
    requests += [r for url in _admin_urls() for r in _with_lookups(url, HIDDEN_LOOKUPS if "/change" not in url
                                                                   and "/history" not in url else [])]
    seen = 0
    for url, params in requests:
        response = client.get(url, params)
        assert response.status_code < 500, (role, url, params, response.status_code)
        if role != "Service":
            continue
        body = b"".join(response.streaming_content) if response.streaming else response.content
        text = body.decode("utf-8", "replace")
        # The page's own address, query included, comes back in the language switcher's "next"
        # field: the prober's own text, not a disclosure. Everything else counts.
        text = text.replace(f'name="next" type="hidden" value="{escape(response.wsgi_request.get_full_path())}"', "")
        found = leaked(text)
        assert not found, (url, params, found)
        seen += response.status_code == 200
    if role == "Service":
        assert seen > 50  # the matrix did reach pages, not only refusals
