"""Input parsing for the staff pages: the interaction and saved-filter forms. The customer
list's filters are in customers/filters.py, shared with the API."""
from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from core.widgets import IsoDateTimeLocalInput

from .models import InteractionKind


class InteractionForm(forms.Form):
    kind = forms.ChoiceField(label=_("Kind"), choices=InteractionKind.choices)
    occurred_at = forms.DateTimeField(label=_("When"), required=False,
                                      widget=IsoDateTimeLocalInput(),
                                      help_text=_("Leave empty for now."))
    outcome = forms.CharField(label=_("Outcome"), max_length=200, required=False)
    note = forms.CharField(label=_("Note"), required=False, widget=forms.Textarea(attrs={"rows": 3}))


class SavedFilterForm(forms.Form):
    """Parses the "save this filter" form; the service validates the query itself."""

    name = forms.CharField(label=_("Name"), max_length=100)
    query = forms.CharField(required=False, max_length=1000, widget=forms.HiddenInput)
    shared = forms.BooleanField(label=_("Share with everyone"), required=False)
