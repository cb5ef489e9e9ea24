"""Form widgets whose values the browser's native inputs accept in every language.

An ``<input type="date">`` takes only ISO 8601 (``2026-12-02``) whatever the page's language, but
Django renders a date with the active language's first input format (``2026/12/02`` in
Simplified Chinese), which the browser rejects and shows as empty. These widgets fix the format,
so the value is the same in English and Chinese. Number inputs need no widget: their fields are
not localized (``localize=False``, Django's default), so they render dot decimals and no
thousands separator.
"""
from __future__ import annotations

from django import forms

ISO_DATE = "%Y-%m-%d"
# datetime-local takes "YYYY-MM-DDTHH:MM" (seconds are optional; minutes are what staff type).
ISO_DATETIME_LOCAL = "%Y-%m-%dT%H:%M"


class IsoDateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, attrs=None):
        super().__init__(attrs=attrs, format=ISO_DATE)


class IsoDateTimeLocalInput(forms.DateTimeInput):
    input_type = "datetime-local"

    def __init__(self, attrs=None):
        super().__init__(attrs=attrs, format=ISO_DATETIME_LOCAL)
