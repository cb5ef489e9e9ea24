"""The navigation bar and page permissions, filled by each app from its ``AppConfig.ready()``.

Who may open which page is registered once (:func:`register_page`); the views check the same
entry through :func:`page_permission`, so the bar never shows a link that answers 403. Core
knows no app: the entries come from the apps that own the pages, and an entry whose URL name
does not resolve (an app not installed) is left out.

The start page at ``/`` is the dashboard, unless an app registered another for the user
(:func:`register_start_page`: a service agent's My work). The dashboard stays at ``/dashboard/``
for everyone, and the bar marks whichever page ``/`` shows as the current one.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps

from django.core.exceptions import ImproperlyConfigured, PermissionDenied
from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext_lazy as _

# page name -> permissions; any one of them opens the page.
PAGE_PERMISSIONS: dict[str, tuple[str, ...]] = {}


@dataclass(frozen=True)
class NavEntry:
    page: str
    url_name: str
    label: object
    order: int


NAV_ENTRIES: list[NavEntry] = []

# (page, URL name, who starts there): the first entry whose test the user passes is their start page.
START_PAGES: list[tuple[str, str, Callable]] = []


def register_page(page: str, *permissions: str) -> None:
    """Declare who may open ``page``: a user holding any one of ``permissions``."""
    if not permissions:
        raise ImproperlyConfigured(f"Page {page!r} needs at least one permission.")
    PAGE_PERMISSIONS[page] = tuple(permissions)


def register_nav(page: str, url_name: str, label, *, order: int) -> None:
    """Show a link to ``url_name`` in the bar (sorted by ``order``) to users who may open ``page``."""
    if page not in PAGE_PERMISSIONS:
        raise ImproperlyConfigured(f"Register page {page!r} before its navigation entry.")
    NAV_ENTRIES[:] = [e for e in NAV_ENTRIES if e.url_name != url_name]
    NAV_ENTRIES.append(NavEntry(page, url_name, label, order))
    NAV_ENTRIES.sort(key=lambda e: e.order)


def register_start_page(page: str, url_name: str, *, starts_here: Callable) -> None:
    """Serve ``url_name``'s page at ``/`` to users who may open ``page`` and for whom
    ``starts_here(user)`` is true; everyone else starts at the dashboard."""
    if page not in PAGE_PERMISSIONS:
        raise ImproperlyConfigured(f"Register page {page!r} before making it a start page.")
    START_PAGES[:] = [s for s in START_PAGES if s[1] != url_name]
    START_PAGES.append((page, url_name, starts_here))


def start_page(user) -> str | None:
    """The URL name of the page ``/`` shows ``user``; None for the dashboard."""
    for page, url_name, starts_here in START_PAGES:
        if user_may(user, page) and starts_here(user):
            return url_name
    return None


def user_may(user, page: str) -> bool:
    if page not in PAGE_PERMISSIONS:
        # A typo or an app that forgot to register must fail loudly, not open or close a page.
        raise ImproperlyConfigured(f"Page {page!r} is not registered.")
    return bool(user is not None and user.is_authenticated
                and any(user.has_perm(p) for p in PAGE_PERMISSIONS[page]))


def page_permission(page: str):
    """403 unless the user holds one of the permissions registered for ``page``."""
    def decorator(view):
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            if not user_may(request.user, page):
                raise PermissionDenied
            return view(request, *args, **kwargs)
        return wrapped
    return decorator


def navigation(request) -> dict:
    """Context processor: the bar's links and ``may.<page>`` for every registered page."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"nav_items": []}
    start = start_page(user)
    at_start = request.path == reverse("home")
    dashboard = reverse("dashboard")
    items = [{"url": dashboard, "label": _("Dashboard"),
              "active": request.path == dashboard or (at_start and start is None)}]
    for entry in NAV_ENTRIES:
        if not user_may(user, entry.page):
            continue
        try:
            url = reverse(entry.url_name)
        except NoReverseMatch:
            continue
        items.append({"url": url, "label": entry.label,
                      "active": request.path.startswith(url) or (at_start and entry.url_name == start)})
    return {"nav_items": items, "may": {page: user_may(user, page) for page in PAGE_PERMISSIONS}}
