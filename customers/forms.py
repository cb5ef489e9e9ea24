"""Input parsing for the staff pages: the customer list filters and the interaction form."""
from __future__ import annotations

import django_filters
from django import forms
from django.utils.translation import gettext_lazy as _

from .models import Customer, InteractionKind, Level, LifecycleStage, RfmSegment
from .selectors import customer_search

ANY = _("Any")

SORTS = {
    "name": "name", "-name": "-name",
    "churn": "churn_probability", "-churn": "-churn_probability",
    "clv": "clv_12m", "-clv": "-clv_12m",
    "spent": "total_spent", "-spent": "-total_spent",
    "recency": "recency_days", "-recency": "-recency_days",
    "orders": "order_count", "-orders": "-order_count",
}


class CustomerFilter(django_filters.FilterSet):
    """Filters of the customer list and its CSV export; invalid values come back as form
    errors naming the field, never as a server error."""

    q = django_filters.CharFilter(label=_("Search"), method="search")
    rfm_segment = django_filters.ChoiceFilter(empty_label=ANY, label=_("RFM segment"), choices=RfmSegment.choices)
    value_segment = django_filters.ChoiceFilter(empty_label=ANY, label=_("Value segment"), choices=Level.choices)
    value_tier = django_filters.ChoiceFilter(empty_label=ANY, label=_("Value tier"), choices=Level.choices)
    churn_risk = django_filters.ChoiceFilter(empty_label=ANY, label=_("Churn risk"), choices=Level.choices)
    lifecycle_stage = django_filters.ChoiceFilter(empty_label=ANY, label=_("Lifecycle stage"), choices=LifecycleStage.choices)
    churn_min = django_filters.NumberFilter(field_name="churn_probability", lookup_expr="gte",
                                            label=_("Churn probability from (0–1)"), min_value=0, max_value=1)
    churn_max = django_filters.NumberFilter(field_name="churn_probability", lookup_expr="lte",
                                            label=_("Churn probability to (0–1)"), min_value=0, max_value=1)
    clv_min = django_filters.NumberFilter(field_name="clv_12m", lookup_expr="gte", label=_("CLV from"), min_value=0)
    clv_max = django_filters.NumberFilter(field_name="clv_12m", lookup_expr="lte", label=_("CLV to"), min_value=0)
    region = django_filters.ChoiceFilter(empty_label=ANY, label=_("Region"), choices=[])
    marketing_consent = django_filters.BooleanFilter(label=_("Marketing consent"))
    sort = django_filters.ChoiceFilter(
        label=_("Sort by"), method="sort_by", empty_label=_("Name"),
        choices=[("-churn", _("Churn probability, highest first")), ("churn", _("Churn probability, lowest first")),
                 ("-clv", _("CLV, highest first")), ("clv", _("CLV, lowest first")),
                 ("-spent", _("Total spent, highest first")), ("recency", _("Most recent order first")),
                 ("-recency", _("Longest without an order first")), ("-orders", _("Most orders first")),
                 ("-name", _("Name, Z to A"))])

    class Meta:
        model = Customer
        fields: tuple[str, ...] = ()

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        regions = (Customer.objects.live().exclude(region="").order_by("region")
                   .values_list("region", flat=True).distinct())
        self.filters["region"].extra["choices"] = [(r, r) for r in regions]
        self.filters["marketing_consent"].field.widget = forms.Select(choices=[
            ("", _("Any")), ("true", _("Yes")), ("false", _("No"))])

    def search(self, queryset, name, value):
        return customer_search(queryset, text=value, user=self.user)

    def sort_by(self, queryset, name, value):
        return queryset.order_by(SORTS[value], "id")

    def clean_ranges(self) -> None:
        data = self.form.cleaned_data
        for low, high in (("churn_min", "churn_max"), ("clv_min", "clv_max")):
            if data.get(low) is not None and data.get(high) is not None and data[low] > data[high]:
                self.form.add_error(high, _("Must not be below the lower bound."))

    @property
    def qs(self):
        if not hasattr(self, "_qs"):
            if self.is_bound and self.form.is_valid():
                self.clean_ranges()
            super().qs  # noqa: B018 - fills self._qs
        return self._qs


class InteractionForm(forms.Form):
    kind = forms.ChoiceField(label=_("Kind"), choices=InteractionKind.choices)
    occurred_at = forms.DateTimeField(label=_("When"), required=False,
                                      widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
                                      help_text=_("Leave empty for now."))
    outcome = forms.CharField(label=_("Outcome"), max_length=200, required=False)
    note = forms.CharField(label=_("Note"), required=False, widget=forms.Textarea(attrs={"rows": 3}))
