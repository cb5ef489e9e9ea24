"""The dashboard: headline figures with their change, and the score charts.

Every number here is an aggregate over precomputed score fields or orders, in a fixed number of
queries whatever the number of customers. A full run stores :func:`dashboard_figures` when it
finishes (``analytics.services.results``), and the dashboard reads that instead of scanning the tables
on every visit.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

import pandas as pd
from django.core.cache import cache
from django.db.models import Avg, Count, Max, Q, Sum
from django.db.models.functions import TruncMonth
from django.utils import timezone
from django.utils.translation import gettext as _

from core.charts import NEUTRAL, RISK, SERIES, VALUE, chart, choice_labels, colour, money_title
from customers.models import Customer, Feedback, Level, LifecycleStage, Order, OrderStatus, RfmSegment

from .engine.churn import risk_band
from .models import RevenueForecast, ScoreRun
from .selectors import latest_forecast

ACTIVE_STAGES = (LifecycleStage.ACTIVE, LifecycleStage.NEW, LifecycleStage.REACTIVATED)
# Ten equal-width buckets give a readable histogram for probabilities in [0, 1].
PROBABILITY_BUCKETS = 10
CLV_BUCKETS = 10
RFM_ORDER = [choice.value for choice in RfmSegment]


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

    JSON-safe: each score run stores it when it finishes (analytics.services.results), and the dashboard
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


def forecast_chart(rows: list[RevenueForecast]) -> dict:
    def series(attr):
        return [None if getattr(r, attr) is None else round(getattr(r, attr), 2) for r in rows]

    band, band_edge = colour("series-2", 0.15), colour("series-2", 0.4)
    return chart("line", [r.month.strftime("%Y-%m") for r in rows], [
        {"label": _("Actual revenue"), "data": series("actual"), "backgroundColor": SERIES[0]},
        {"label": _("Forecast"), "data": series("forecast"), "backgroundColor": SERIES[1],
         "borderDash": [6, 4]},
        {"label": _("Interval, upper"), "data": series("upper"), "backgroundColor": band,
         "borderColor": band_edge, "pointRadius": 0, "fill": False},
        {"label": _("Interval, lower"), "data": series("lower"), "backgroundColor": band,
         "borderColor": band_edge, "pointRadius": 0, "fill": "-1"},
    ], x_title=_("Month"), y_title=money_title(_("Revenue")))


def level_chart(keys: list[str], counts: list[int], label: str, *, colours: dict[str, str]) -> dict | None:
    """Customers by level (low, medium, high) of one scale: churn risk in ``RISK`` colours, value in
    ``VALUE`` colours, never the one in the other's."""
    if not keys:
        return None
    return chart("doughnut", choice_labels(Level.choices, keys), [
        {"label": label, "data": counts, "backgroundColor": [colours[k] for k in keys]}])


def churn_histogram_chart(labels: list[str], counts: list[int]) -> dict:
    """Customers per tenth of churn probability, each bar in its risk band's colour: one dataset
    per band (drawn ungrouped, so a bar stays centred), which gives the legend its three keys."""
    width = 1 / len(counts)
    levels = list(risk_band(pd.Series([(i + 0.5) * width for i in range(len(counts))])))
    names = {"low": _("Low risk"), "medium": _("Medium risk"), "high": _("High risk")}
    datasets = [{"label": names[level], "data": [n if levels[i] == level else None for i, n in enumerate(counts)],
                 "backgroundColor": RISK[level], "grouped": False}
                for level in ("low", "medium", "high") if level in levels]
    return chart("bar", labels, datasets, plugins={"legend": {"display": True}},
                 x_title=_("Churn probability (%)"), y_title=_("Customers"))


def clv_histogram_chart(labels: list[str], counts: list[int]) -> dict:
    return chart("bar", labels, [{"label": _("Customers"), "data": counts, "backgroundColor": VALUE["medium"]}],
                 x_title=money_title(_("12-month CLV")), y_title=_("Customers"))


def rfm_chart(labels: list[str], counts: list[int]) -> dict:
    return chart("bar", labels, [{"label": _("Customers"), "data": counts, "backgroundColor": NEUTRAL}],
                 indexAxis="y", x_title=_("Customers"), y_title=_("RFM segment"))


def sentiment_chart(months: list[str], means: list[float]) -> dict:
    return chart("line", months, [{"label": _("Mean sentiment (−1 to 1)"), "data": means}],
                 scales={"y": {"min": -1, "max": 1}}, x_title=_("Month"),
                 y_title=_("Mean sentiment (−1 negative to 1 positive)"))


def dashboard_charts(figures: dict) -> dict:
    """Chart.js configurations from :func:`dashboard_figures`, labelled in the
    current language."""
    charts = {}
    keys, counts = figures["rfm"]
    if keys:
        charts["rfm"] = rfm_chart(choice_labels(RfmSegment.choices, keys), counts)
    charts["value"] = level_chart(*figures["value"], _("Customers"), colours=VALUE)
    labels, counts = figures["churn"]
    if any(counts):
        charts["churn"] = churn_histogram_chart(labels, counts)
    labels, counts = figures["clv"]
    if any(counts):
        charts["clv"] = clv_histogram_chart(labels, counts)
    rows = latest_forecast()
    if rows:
        charts["forecast"] = forecast_chart(rows)
    months = figures["sentiment"]
    if months:
        charts["sentiment"] = sentiment_chart([m["month"] for m in months], [round(m["mean"], 3) for m in months])
    return {k: v for k, v in charts.items() if v}


# Before any full run has stored its figures, the dashboard computes them live: about 2 s at
# 100,000 customers on PostgreSQL, so they are kept this long. Once a run has stored figures
# they are shown until the next run, so orders imported in between appear after that run.
DASHBOARD_CACHE_SECONDS = 300


def dashboard_summary() -> dict:
    """Headline figures and charts: those the last score run stored, else computed live."""
    stored = (ScoreRun.objects.filter(status=ScoreRun.Status.SUCCEEDED, kind=ScoreRun.Kind.FULL)
              .exclude(dashboard={}).values_list("dashboard", flat=True).first())
    figures = stored
    if figures is None:
        key = "dashboard:live:v2"
        figures = cache.get(key)
        if figures is None:
            figures = dashboard_figures()
            cache.set(key, figures, DASHBOARD_CACHE_SECONDS)
    updated = figures["scores_updated_at"]
    return {"kpis": dashboard_kpis(figures["kpis"]), "charts": dashboard_charts(figures),
            "scores_updated_at": datetime.fromisoformat(updated) if updated else None,
            "figures_computed_at": datetime.fromisoformat(figures["computed_at"]),
            "figures_stored": stored is not None}
