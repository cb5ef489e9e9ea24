"""The customer filters, declared once for the customer list page and /api/customers/.

:class:`CustomerFilter` holds every filter on a customer's fields: the API's lookups (exact
values, ranges on numbers and dates) and the filters both doors share (segments, region,
marketing consent), with the page's labels. Contact details (email, phone, birth date) are
neither searchable nor filterable without ``customers.view_pii``: matching on a hidden field
would reveal it one guess at a time. :class:`CustomerListFilter` is the page's presentation of
the same filters: its search box, the churn and CLV range shortcuts, the sort select, a region
select, and a form that shows only those.

Service staff look for unhappy customers through both doors: by satisfaction group, by sentiment
score range, by complaint reason and by negative feedback in the last N days. The two feedback
filters read feedback records, so they need ``customers.view_feedback`` as well; given together
they ask for one complaint that matches both ("about delivery, in the last 30 days").
"""
from __future__ import annotations

from datetime import timedelta

import django_filters
from django import forms
from django.db import connection
from django.db.models import Exists, F, OuterRef, Value
from django.db.models.functions import Concat
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.api.filters import RANGE, UtcFilterSet, annotated_filters, describe_filters

from .models import (
    PII_FIELDS,
    SCORE_FIELDS,
    ComplaintReason,
    Customer,
    CustomerScore,
    Feedback,
    Level,
    LifecycleStage,
    RfmSegment,
    SatisfactionGroup,
)
from .permissions import can_view_pii
from .selectors import customer_search

# JSON has no useful equality; churn reasons are read on the record instead.
FILTERABLE_SCORE_FIELDS = tuple(f for f in SCORE_FIELDS if f != "churn_reasons")

ANY = _("Any")

# Bounds of "negative feedback in the last N days": a day to ten years.
NEGATIVE_FEEDBACK_DAYS_MAX = 3650
# Ranges whose lower bound must not exceed the upper one, where the form has both.
RANGES = (("churn_min", "churn_max"), ("clv_min", "clv_max"), ("sentiment_min", "sentiment_max"))

SORTS = {
    "name": "name", "-name": "-name",
    "churn": "churn_probability", "-churn": "-churn_probability",
    "clv": "clv_12m", "-clv": "-clv_12m",
    "spent": "total_spent", "-spent": "-total_spent",
    "recency": "recency_days", "-recency": "-recency_days",
    "orders": "order_count", "-orders": "-order_count",
}
# The list's default order, which the sort select calls "Name".
DEFAULT_SORT = "name"


def sort_order(key: str, *, matches_first: bool = False) -> tuple:
    """ORDER BY for a sort key: unscored customers (nulls) last whichever the direction, and the
    id as tie-breaker so pages never overlap. Each order has a matching index (Customer.Meta and
    the score table's), so the first page of a sort reads 50 index entries instead of sorting
    every customer.

    That is only quick when matches come early in the sort index. A filter with few matches
    (a text search; scores that rarely go together, as high value and "at risk") may have
    them all at its far end, and PostgreSQL, expecting them spread evenly, walks most of the
    index: 297 ms of SQL for value segment high and lifecycle at risk (5,945 matches) at
    1,000,000 customers, 225 ms for a search at 100,000. ``matches_first`` sorts an expression
    instead of the bare column, which no index matches: the planner reads the matches through
    the filter's own indexes and sorts them (155 ms for the former).
    """
    field = SORTS[key]
    descending = field.startswith("-")
    name = field.lstrip("-")
    column = F(name)
    if matches_first:
        column = Concat(F(name), Value("")) if name == "name" else F(name) + 0
    if name == "name":  # never null; the (name, id) index serves both directions
        return (column.desc(), F("id").desc()) if descending else (column.asc(), F("id").asc())
    if descending:
        return (column.desc(nulls_last=True), F("id").asc())
    return (column.asc(nulls_last=True), F("id").asc())


def region_choices() -> list[tuple[str, str]]:
    """Distinct regions by a loose index scan: one index probe per region instead of reading the
    whole table (SELECT DISTINCT took about 80 ms at 100,000 customers)."""

    table = connection.ops.quote_name(Customer._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(f"""
            WITH RECURSIVE regions(region) AS (
                SELECT MIN(region) FROM {table} WHERE region > ''
                UNION ALL
                SELECT (SELECT MIN(region) FROM {table} WHERE region > regions.region)
                FROM regions WHERE regions.region IS NOT NULL
            )
            SELECT region FROM regions WHERE region IS NOT NULL""")
        return [(row[0], row[0]) for row in cursor.fetchall()]



class IntegerFilter(django_filters.NumberFilter):
    """A whole number ("1.5" is a form error, not 1)."""

    field_class = forms.IntegerField


class PiiFilterSetMixin:
    """Drops the contact-detail filters for users without ``customers.view_pii``, and the
    feedback filters for users without ``customers.view_feedback``.

    The user comes from ``request`` (the API's filter backend passes it) or ``user`` (the page).
    """

    pii_filters: tuple[str, ...] = ()
    feedback_filters: tuple[str, ...] = ()

    def __init__(self, *args, request=None, user=None, **kwargs):
        super().__init__(*args, request=request, **kwargs)
        self.user = user if user is not None else getattr(request, "user", None)
        hidden = set()
        if not can_view_pii(self.user):
            hidden.update(self.pii_filters)
        if not (self.user is not None and self.user.has_perm("customers.view_feedback")):
            hidden.update(self.feedback_filters)
        for name in [n for n in self.filters if n.split("__")[0] in hidden]:
            del self.filters[name]  # its query parameter is then ignored


# The score filters, as Meta.fields would make them if the scores were the customer's own fields.
ScoreFilterSet = type("ScoreFilterSet", (UtcFilterSet,),
                      annotated_filters(CustomerScore, FILTERABLE_SCORE_FIELDS))


class CustomerFilter(PiiFilterSetMixin, ScoreFilterSet):
    """Filters on a customer's fields, for the API and (through CustomerListFilter) the page."""

    pii_filters = PII_FIELDS
    feedback_filters = ("complaint_reason", "negative_feedback_days")
    rfm_segment = django_filters.ChoiceFilter(empty_label=ANY, label=_("RFM segment"), choices=RfmSegment.choices)
    value_segment = django_filters.ChoiceFilter(empty_label=ANY, label=_("Value segment"), choices=Level.choices)
    value_tier = django_filters.ChoiceFilter(empty_label=ANY, label=_("Value tier"), choices=Level.choices)
    churn_risk = django_filters.ChoiceFilter(empty_label=ANY, label=_("Churn risk"), choices=Level.choices)
    lifecycle_stage = django_filters.ChoiceFilter(empty_label=ANY, label=_("Lifecycle stage"),
                                                  choices=LifecycleStage.choices)
    region = django_filters.CharFilter(
        field_name="region", lookup_expr="iexact", label=_("Region"), help_text=_("Region, any case.")
    )
    marketing_consent = django_filters.BooleanFilter(label=_("Marketing consent"))
    satisfaction_group = django_filters.ChoiceFilter(
        empty_label=ANY, label=_("Satisfaction group"), choices=SatisfactionGroup.choices,
        help_text=_("Satisfaction group from ratings and sentiment: dissatisfied, neutral or satisfied."))
    sentiment_min = django_filters.NumberFilter(
        field_name="sentiment_score", lookup_expr="gte", label=_("Sentiment from (−1 to 1)"),
        min_value=-1, max_value=1, help_text=_("Mean feedback sentiment at least this (−1 to 1)."))
    sentiment_max = django_filters.NumberFilter(
        field_name="sentiment_score", lookup_expr="lte", label=_("Sentiment to (−1 to 1)"),
        min_value=-1, max_value=1, help_text=_("Mean feedback sentiment at most this (−1 to 1)."))
    complaint_reason = django_filters.ChoiceFilter(
        empty_label=ANY, label=_("Complaint reason"), choices=ComplaintReason.choices, method="complaints",
        help_text=_("Customers with a complaint classified under this reason (needs the feedback "
                    "permission)."))
    negative_feedback_days = IntegerFilter(
        label=_("Negative feedback in the last N days"), method="complaints",
        min_value=1, max_value=NEGATIVE_FEEDBACK_DAYS_MAX,
        help_text=_("Customers with negative feedback (analysed as negative, or rated 1 or 2 stars) in "
                    "the last N days, 1 to 3650 (needs the feedback permission)."))
    email = django_filters.CharFilter(
        field_name="email",
        lookup_expr="iexact",
        help_text=_("Email address, any case (needs the contact-details permission)."),
    )
    phone = django_filters.CharFilter(
        field_name="phone", help_text=_("Phone number in E.164 (needs the contact-details permission).")
    )

    class Meta:
        model = Customer
        fields = {
            "external_id": ["exact"],
            "status": ["exact"],
            "channel": ["exact"],
            "city": ["iexact"],
            "country": ["iexact"],
            "owner": ["exact"],
            "signup_date": RANGE,
            "birth_date": RANGE,
        }


    def get_form_class(self):
        base = super().get_form_class()

        class RangeForm(base):
            def clean(self):
                cleaned = super().clean()
                for low, high in RANGES:
                    if cleaned.get(low) is not None and cleaned.get(high) is not None and cleaned[low] > cleaned[high]:
                        self.add_error(high, _("Must not be below the lower bound."))
                return cleaned

        return RangeForm

    def complaints(self, queryset, name, value):
        """Customers with a complaint matching the complaint reason and the negative-feedback
        window, whichever of the two are given: one EXISTS for both filters, so together they
        ask for a single complaint that matches both. Both filters call this; the second call
        changes nothing."""
        if getattr(self, "_complaints_applied", False):
            return queryset
        self._complaints_applied = True
        data = self.form.cleaned_data
        complaints = Feedback.objects.negative().filter(customer=OuterRef("pk"))
        if data.get("complaint_reason"):
            complaints = complaints.about(data["complaint_reason"])
        if data.get("negative_feedback_days"):
            since = timezone.now() - timedelta(days=data["negative_feedback_days"])
            complaints = complaints.filter(created_at__gte=since)
        return queryset.filter(Exists(complaints))


describe_filters(CustomerFilter, CustomerScore)  # the API's descriptions; the page keeps its labels


class CustomerListFilter(CustomerFilter):
    """The customer list page and its CSV export: the shared filters plus the page's search,
    range shortcuts and sort; invalid values come back as form errors naming the field, never as
    a server error."""

    # What the page's form shows, in this order; the API's other lookups are not on the page.
    PAGE_FILTERS = (
        "q", "rfm_segment", "value_segment", "value_tier", "churn_risk", "lifecycle_stage",
        "churn_min", "churn_max", "clv_min", "clv_max", "satisfaction_group", "sentiment_min",
        "sentiment_max", "complaint_reason", "negative_feedback_days", "region", "marketing_consent", "sort",
    )

    q = django_filters.CharFilter(label=_("Search"), method="search")
    churn_min = django_filters.NumberFilter(field_name="churn_probability", lookup_expr="gte",
                                            label=_("Churn probability from (0–1)"), min_value=0, max_value=1)
    churn_max = django_filters.NumberFilter(field_name="churn_probability", lookup_expr="lte",
                                            label=_("Churn probability to (0–1)"), min_value=0, max_value=1)
    clv_min = django_filters.NumberFilter(field_name="clv_12m", lookup_expr="gte", label=_("CLV from"), min_value=0)
    clv_max = django_filters.NumberFilter(field_name="clv_12m", lookup_expr="lte", label=_("CLV to"), min_value=0)
    # A select of the regions there are (the API's region filter takes any text, any case).
    region = django_filters.ChoiceFilter(empty_label=ANY, label=_("Region"), choices=[])
    sort = django_filters.ChoiceFilter(
        label=_("Sort by"), method="sort_by", empty_label=_("Name"),
        choices=[("-churn", _("Churn probability, highest first")), ("churn", _("Churn probability, lowest first")),
                 ("-clv", _("CLV, highest first")), ("clv", _("CLV, lowest first")),
                 ("-spent", _("Total spent, highest first")), ("recency", _("Most recent order first")),
                 ("-recency", _("Longest without an order first")), ("-orders", _("Most orders first")),
                 ("-name", _("Name, Z to A"))])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.filters = {name: self.filters[name] for name in self.PAGE_FILTERS if name in self.filters}
        # Without a sort parameter (or any parameter) the list is by name, as the sort select says.
        self.queryset = self.queryset.order_by(*sort_order(DEFAULT_SORT))
        self.filters["region"].extra["choices"] = region_choices()
        self.filters["marketing_consent"].field.widget = forms.Select(choices=[
            ("", _("Any")), ("true", _("Yes")), ("false", _("No"))])

    def search(self, queryset, name, value):
        return customer_search(queryset, text=value, user=self.user)

    def _searching(self) -> bool:
        return self.is_bound and bool((self.form.cleaned_data.get("q") or "").strip())

    def sort_by(self, queryset, name, value):
        return queryset.order_by(*sort_order(value, matches_first=self._searching()))

    def matches_first(self, queryset):
        """``queryset`` (this filter's result) in the same order, sorted so the planner reads
        the matches before it sorts (see :func:`sort_order`). The list calls it once it has
        counted few matches; a search is sorted so from the start."""
        if self._searching():
            return queryset
        key = self.form.cleaned_data.get("sort") if self.is_bound else None
        return queryset.order_by(*sort_order(key or DEFAULT_SORT, matches_first=True))

    def filter_queryset(self, queryset):
        searching = self._searching()
        if searching:
            queryset = queryset.order_by(*sort_order(DEFAULT_SORT, matches_first=True))
        queryset = super().filter_queryset(queryset)
        if searching:  # exact identifier matches first (customer_search), then the chosen order
            queryset = queryset.order_by(F("search_rank").asc(), *queryset.query.order_by)
        return queryset

