"""What Django's error reports (the DEBUG page, error e-mails) may show of settings and requests.

Django's own filter hides settings whose names contain API, TOKEN, KEY, SECRET, PASS or SIGNATURE.
A broker URL (``CELERY_BROKER_URL=redis://:password@host``), ``DATABASE_URL``, a cache's
``LOCATION`` or a DSN holds a password under none of those words, and under ``runserver`` the
request's META carries the whole process environment. This filter also hides every setting or
META key naming a URL, a broker, a database, a DSN, a credential or authentication, and blanks the
password of any URL in whatever value it still shows.
"""
from __future__ import annotations

import re

from django.views.debug import SafeExceptionReporterFilter

# scheme://user:password@host -> scheme://user:********@host
_URL_PASSWORD = re.compile(r"(?P<head>[a-zA-Z][a-zA-Z0-9+.-]*://[^:/@\s]*:)[^@\s]*@")


def hide_url_passwords(text: str) -> str:
    return _URL_PASSWORD.sub(lambda m: m.group("head") + SafeExceptionReporterFilter.cleansed_substitute + "@",
                             text)


class CredentialHidingFilter(SafeExceptionReporterFilter):
    hidden_settings = re.compile(
        "API|TOKEN|KEY|SECRET|PASS|SIGNATURE|HTTP_COOKIE|COOKIE|AUTH|CREDENTIAL|URL|BROKER|BACKEND"
        "|DATABASE|DSN|LOCATION|REDIS|CELERY",
        flags=re.IGNORECASE)

    def cleanse_setting(self, key, value):
        cleansed = super().cleanse_setting(key, value)
        if isinstance(cleansed, str):  # also a lazy string (some apps put those in settings)
            return hide_url_passwords(str(cleansed))
        return cleansed
