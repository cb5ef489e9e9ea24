"""Reads for the staff pages: the dashboard figures, the customer list and the customer 360.

Every function here reads precomputed score fields or aggregates in a fixed number of queries,
whatever the number of customers; nothing loops over customers in Python.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.db.models import Avg, Count, Max, Prefetch, Q, QuerySet, Sum
from django.db.models.functions import TruncMonth
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from .models import (
    Customer,
    Feedback,
    Interaction,
    LifecycleStage,
    Order,
    OrderItem,
    OrderStatus,
    RfmSegment,
)

# The churn engine stores reasons with English feature names (analytics/engine/features.py
# FEATURE_LABELS); the same names are listed here so the catalogue can translate them.
FEATURE_TRANSLATIONS = {
    "days since last order": gettext_lazy("days since last order"),
    "number of orders": gettext_lazy("number of orders"),
    "total spend": gettext_lazy("total spend"),
    "average order value": gettext_lazy("average order value"),
    "days as a customer": gettext_lazy("days as a customer"),
    "average days between orders": gettext_lazy("average days between orders"),
    "time since last order compared with usual gap": gettext_lazy("time since last order compared with usual gap"),
    "orders in last 30 days": gettext_lazy("orders in last 30 days"),
    "orders in last 90 days": gettext_lazy("orders in last 90 days"),
    "orders in last 365 days": gettext_lazy("orders in last 365 days"),
    "spend in last 30 days": gettext_lazy("spend in last 30 days"),
    "spend in last 90 days": gettext_lazy("spend in last 90 days"),
    "spend in last 365 days": gettext_lazy("spend in last 365 days"),
    "orders last 90 days minus the 90 days before": gettext_lazy("orders last 90 days minus the 90 days before"),
    "complaints in feedback": gettext_lazy("complaints in feedback"),
    "complaint calls and chats": gettext_lazy("complaint calls and chats"),
    "contacts with us": gettext_lazy("contacts with us"),
    "average rating given": gettext_lazy("average rating given"),
    "average feedback sentiment": gettext_lazy("average feedback sentiment"),
    "feedback left": gettext_lazy("feedback left"),
}

ACTIVE_STAGES = (LifecycleStage.ACTIVE, LifecycleStage.NEW, LifecycleStage.REACTIVATED)
# Ten equal-width buckets give a readable histogram for probabilities in [0, 1].
PROBABILITY_BUCKETS = 10
CLV_BUCKETS = 10


def can_view_pii(user) -> bool:
    return user.has_perm("customers.view_pii")


def mask_email(value: str) -> str:
    """``li.wei@example.com`` -> ``l***@example.com``: enough to recognise, not to contact."""
    if not value:
        return ""
    local, _sep, domain = value.partition("@")
    return f"{local[:1]}***@{domain}" if domain else "***"


def mask_phone(value: str) -> str:
    """Keep the last two digits: ``+8613800138000`` -> ``***********00``."""
    if not value:
        return ""
    return "*" * max(len(value) - 2, 3) + value[-2:]


def percent_change(current: float | Decimal | None, previous: float | Decimal | None) -> float | None:
    if current is None or not previous:
        return None
    return round((float(current) - float(previous)) / float(previous) * 100, 1)


@dataclass(frozen=True)
class Kpi:
    key: str
    label: str
    value: object
    change: float | None = None  # percent against the previous period
    hint: str = ""


def kpi_figures(*, now: datetime | None = None) -> dict[str, float | int | None]:
    """The raw numbers behind the headline figures, in two aggregate queries (JSON-safe)."""
    now = now or timezone.now()
    day30, day60 = now - timedelta(days=30), now - timedelta(days=60)
    day365, day730 = now - timedelta(days=365), now - timedelta(days=730)
    customers = Customer.objects.live().aggregate(
        total=Count("id"),
        signups_30=Count("id", filter=Q(signup_date__gte=day30.date())),
        signups_prev_30=Count("id", filter=Q(signup_date__gte=day60.date(), signup_date__lt=day30.date())),
        active=Count("id", filter=Q(lifecycle_stage__in=ACTIVE_STAGES)),
        scored=Count("id", filter=Q(churn_risk__isnull=False)),
        high_risk=Count("id", filter=Q(churn_risk="high")),
        mean_clv=Avg("clv_12m"),
    )
    completed = Order.objects.filter(status=OrderStatus.COMPLETED)
    orders = completed.aggregate(
        revenue_30=Sum("total_amount", filter=Q(ordered_at__gte=day30)),
        revenue_prev_30=Sum("total_amount", filter=Q(ordered_at__gte=day60, ordered_at__lt=day30)),
        revenue_365=Sum("total_amount", filter=Q(ordered_at__gte=day365)),
        revenue_prev_365=Sum("total_amount", filter=Q(ordered_at__gte=day730, ordered_at__lt=day365)),
        buyers_90=Count("customer", distinct=True, filter=Q(ordered_at__gte=now - timedelta(days=90))),
        buyers_prev_90=Count("customer", distinct=True, filter=Q(
            ordered_at__gte=now - timedelta(days=180), ordered_at__lt=now - timedelta(days=90))),
    )
    return {k: (float(v) if isinstance(v, Decimal) else v) for k, v in {**customers, **orders}.items()}


def dashboard_kpis(figures: dict | None = None) -> list[Kpi]:
    """Headline figures, each with its change against the period before."""
    f = figures if figures is not None else kpi_figures()
    high_share = (f["high_risk"] / f["scored"] * 100) if f["scored"] else None
    return [
        Kpi("customers", _("Customers"), f["total"],
            percent_change(f["signups_30"], f["signups_prev_30"]),
            _("change: sign-ups in the last 30 days against the 30 days before")),
        Kpi("active", _("Active customers"), f["active"],
            percent_change(f["buyers_90"], f["buyers_prev_90"]),
            _("lifecycle active, new or reactivated; change: buyers in the last 90 days against the 90 before")),
        Kpi("revenue_30", _("Revenue, last 30 days"), f["revenue_30"] or 0,
            percent_change(f["revenue_30"], f["revenue_prev_30"]),
            _("completed orders; change against the 30 days before")),
        Kpi("revenue_365", _("Revenue, last 365 days"), f["revenue_365"] or 0,
            percent_change(f["revenue_365"], f["revenue_prev_365"]),
            _("completed orders; change against the year before")),
        Kpi("mean_clv", _("Mean 12-month CLV"), f["mean_clv"], None,
            _("expected spend in the next 12 months, over scored customers")),
        Kpi("high_risk", _("At high churn risk"), high_share, None,
            _("share of scored customers")),
    ]


def dashboard_figures(*, now: datetime | None = None) -> dict:
    """Every number the dashboard shows, without labels (they follow the reader's language).

    JSON-safe: each score run stores it when it finishes (analytics.services), and the dashboard
    reads that instead of scanning the customers and orders tables on every visit.
    """
    months = sentiment_by_month(now=now)
    updated = scores_updated_at()
    return {
        "computed_at": (now or timezone.now()).isoformat(),
        "kpis": kpi_figures(now=now),
        "rfm": counts_by("rfm_segment", RFM_ORDER),
        "value": counts_by("value_segment", ["high", "medium", "low"]),
        "churn": probability_histogram("churn_probability"),
        "clv": clv_histogram(),
        "sentiment": [{"month": m["month"].strftime("%Y-%m"), "mean": float(m["mean"]), "n": m["n"]}
                      for m in months],
        "scores_updated_at": updated.isoformat() if updated else None,
    }


def counts_by(field: str, order: list[str] | None = None) -> tuple[list[str], list[int]]:
    """Customers per value of a score field, in ``order`` when given (one query)."""
    rows = dict(Customer.objects.live().exclude(**{f"{field}__isnull": True})
                .values_list(field).annotate(n=Count("id")).values_list(field, "n"))
    keys = [k for k in (order or sorted(rows)) if k in rows]
    return keys, [rows[k] for k in keys]


def probability_histogram(field: str, buckets: int = PROBABILITY_BUCKETS) -> tuple[list[str], list[int]]:
    """Customers per equal-width bucket of a probability field, in one aggregate query."""
    width = 1 / buckets
    aggregates = {}
    for i in range(buckets):
        low, high = i * width, (i + 1) * width
        condition = Q(**{f"{field}__gte": low}) & (Q(**{f"{field}__lte": 1}) if i == buckets - 1
                                                   else Q(**{f"{field}__lt": high}))
        aggregates[f"b{i}"] = Count("id", filter=condition)
    result = Customer.objects.live().aggregate(**aggregates)
    labels = [f"{round(i * width * 100)}–{round((i + 1) * width * 100)} %" for i in range(buckets)]
    return labels, [result[f"b{i}"] for i in range(buckets)]


def clv_histogram(buckets: int = CLV_BUCKETS) -> tuple[list[str], list[int]]:
    """Customers per CLV bucket up to the 99th-percentile-ish top (the maximum is usually an
    outlier, so the last bucket is open-ended). Two queries."""
    live = Customer.objects.live().filter(clv_12m__isnull=False)
    count = live.count()
    if not count:
        return [], []
    # The value at rank 99 % caps the scale; one indexed query on clv_12m.
    cap_index = min(count - 1, int(count * 0.99))
    cap = float(live.order_by("clv_12m").values_list("clv_12m", flat=True)[cap_index]) or 1.0
    width = cap / buckets
    aggregates = {}
    for i in range(buckets):
        low = i * width
        condition = Q(clv_12m__gte=low) if i == buckets - 1 else Q(clv_12m__gte=low, clv_12m__lt=low + width)
        aggregates[f"b{i}"] = Count("id", filter=condition)
    result = live.aggregate(**aggregates)
    labels = [f"{i * width:,.0f}–{(i + 1) * width:,.0f}" for i in range(buckets - 1)]
    labels.append(f"≥ {(buckets - 1) * width:,.0f}")
    return labels, [result[f"b{i}"] for i in range(buckets)]


def sentiment_by_month(*, months: int = 24, now: datetime | None = None) -> list[dict]:
    """Mean feedback sentiment and counts per month over the last ``months`` months."""
    since = (now or timezone.now()) - timedelta(days=31 * months)
    return list(Feedback.objects.filter(created_at__gte=since, sentiment_score__isnull=False)
                .annotate(month=TruncMonth("created_at")).values("month")
                .annotate(mean=Avg("sentiment_score"), n=Count("id"),
                          negative=Count("id", filter=Q(sentiment_label="negative")))
                .order_by("month"))


def scores_updated_at() -> datetime | None:
    return Customer.objects.live().aggregate(at=Max("scores_updated_at"))["at"]


RFM_ORDER = [choice.value for choice in RfmSegment]


def customer_360(*, pk: int) -> Customer:
    """One customer with their orders and items, feedback, interactions and recommendations,
    each fetched once (a handful of queries whatever the history length)."""
    from analytics.models import Recommendation

    return (Customer.objects.select_related("owner", "merged_into")
            .prefetch_related(
                Prefetch("orders", queryset=Order.objects.prefetch_related(
                    Prefetch("items", queryset=OrderItem.objects.select_related("product")))),
                Prefetch("feedback", queryset=Feedback.objects.select_related("product")),
                Prefetch("interactions", queryset=Interaction.objects.select_related("staff")),
                Prefetch("recommendations", queryset=Recommendation.objects.select_related(
                    "product", "because_of").order_by("rank")),
            ).get(pk=pk))


def customer_search(queryset: QuerySet, *, text: str, user) -> QuerySet:
    """Search by name and external id, and by email and phone only for users who may see them
    (searching a hidden field would reveal it one guess at a time)."""
    text = text.strip()
    if not text:
        return queryset
    condition = Q(name__icontains=text) | Q(external_id__iexact=text)
    if can_view_pii(user):
        condition |= Q(email__icontains=text.lower())
        digits = "".join(ch for ch in text if ch.isdigit())
        if len(digits) >= 4:
            condition |= Q(phone__contains=digits)
    return queryset.filter(condition)


def churn_explanation(customer: Customer) -> str:
    """A plain sentence for a customer's churn score: the risk, the probability, the days since
    the last order against their own usual gap, and the model's top reasons."""
    if customer.churn_probability is None:
        return _("Not scored yet: the customer has no orders or the analysis has not run.")
    parts = [_("Churn risk %(risk)s (%(p).0f %%)") % {
        "risk": str(customer.get_churn_risk_display() or _("unknown")).lower(),
        "p": customer.churn_probability * 100}]
    gap = usual_gap_days(customer)
    if customer.recency_days is not None:
        if gap:
            ratio = customer.recency_days / gap
            parts.append(_("no order for %(days)d days, about %(ratio).1fx their usual gap of %(gap)d days") % {
                "days": customer.recency_days, "ratio": ratio, "gap": round(gap)})
        else:
            parts.append(_("no order for %(days)d days (only one order so far)") % {"days": customer.recency_days})
    reasons = [reason_label(r) for r in (customer.churn_reasons or [])]
    if reasons:
        parts.append(_("main reasons: %(reasons)s") % {"reasons": ", ".join(reasons)})
    return "; ".join(parts) + "."


def usual_gap_days(customer: Customer) -> float | None:
    """Mean days between orders, from the first and last order dates and the order count."""
    if not (customer.order_count and customer.order_count > 1 and customer.first_order_at
            and customer.last_order_at):
        return None
    span = (customer.last_order_at - customer.first_order_at).total_seconds() / 86400
    return span / (customer.order_count - 1) or None


def reason_label(reason: dict) -> str:
    """One churn reason, translated when the feature is known: "days since last order (high)"."""
    direction = _("high") if reason.get("direction") == "high" else _("low")
    return f"{translate_feature(reason.get('feature', ''))} ({direction})"


def translate_feature(name: str) -> str:
    return str(FEATURE_TRANSLATIONS.get(name, name))


def saved_filters_for(user) -> QuerySet:
    """The user's own saved filters and those shared by managers, by name: one query."""
    from django.db.models.functions import Lower

    from .models import SavedFilter

    return (SavedFilter.objects.filter(Q(user=user) | Q(shared=True)).select_related("user")
            .order_by(Lower("name"), "pk"))
