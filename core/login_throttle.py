"""What a locked-out login sees (django-axes' ``AXES_LOCKOUT_CALLABLE``).

django-axes counts failed logins per username and client address and, past
``LOGIN_FAILURE_LIMIT``, refuses that pair for ``LOGIN_LOCKOUT_MINUTES`` (settings.py). Every
door that checks a password goes through ``django.contrib.auth.authenticate`` with the request,
so the staff login page and the admin's login are both counted. The refusal is the login page
again, with a message saying why and for how long, and status 429 (Too Many Requests).
"""
from __future__ import annotations

import math

from axes.backends import AxesStandaloneBackend
from django.conf import settings
from django.contrib.auth.forms import AuthenticationForm
from django.shortcuts import render
from django.utils.translation import ngettext


def lockout_minutes() -> int:
    return max(1, math.ceil(settings.AXES_COOLOFF_TIME.total_seconds() / 60))


def locked_out_response(request, response=None, credentials=None):
    minutes = lockout_minutes()
    message = ngettext(
        "Too many failed logins for this account from your address. Logging in is blocked for "
        "%(minutes)d minute; try again later.",
        "Too many failed logins for this account from your address. Logging in is blocked for "
        "%(minutes)d minutes; try again later.",
        minutes) % {"minutes": minutes}
    context = {"form": AuthenticationForm(request), "locked_out_message": message,
               "next": request.POST.get("next", "") if request.method == "POST" else ""}
    return render(request, "registration/login.html", context, status=429)


class LoginThrottleBackend(AxesStandaloneBackend):
    """django-axes' backend, for calls that come with a request.

    ``authenticate()`` without a request (a management command, the shell, a test checking a
    password) is no login over HTTP: there is no address to count against, and axes' own backend
    refuses it with an error. It passes here, to the password check of the next backend.
    """

    def authenticate(self, request, username=None, password=None, **kwargs):
        if request is None:
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)
