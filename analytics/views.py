"""Analytics pages: segments, churn, lifetime value, bundles, feedback, forecast and score runs.
They read results stored by the last successful run; none recomputes a model."""
from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from core.charts import NEUTRAL, RISK, SENTIMENT, chart, colour, money_title
from core.navigation import page_permission
from customers.models import Level

from . import cards, selectors
from .dashboard import (
    churn_histogram_chart,
    clv_histogram,
    clv_histogram_chart,
    counts_by,
    dashboard_summary,
    forecast_chart,
    level_chart,
    probability_histogram,
    rfm_chart,
    sentiment_by_month,
    sentiment_chart,
)
from .explain import feature_name
from .models import RealisedAccuracy, ScoreRun
from .services.figures import WORDCLOUD_LANGUAGES
from .services.runs import score_run_request


def _run_context() -> dict:
    run = selectors.latest_run()
    return {"run": run, "cards": run.model_cards if run else {}}


def home(request: HttpRequest) -> HttpResponse:
    """The dashboard: headline figures with their change, the score charts, the last run."""
    context = {
        **dashboard_summary(),
        "last_run": ScoreRun.objects.exclude(kind=ScoreRun.Kind.BACKTEST).select_related("requested_by").first(),
        "drift_messages": drift_messages(selectors.realised_drifting()),
    }
    return render(request, "home.html", context)


@page_permission("segments")
def segments(request: HttpRequest) -> HttpResponse:
    context = _run_context()
    summary = selectors.rfm_segment_summary()
    context.update(profiles=selectors.segment_profiles(context["run"]), grid=selectors.rfm_grid(),
                   rfm_segments=summary)
    if summary:
        context["charts"] = {"rfm": rfm_chart([s["label"] for s in summary], [s["n"] for s in summary])}
    return render(request, "analytics/segments.html", context)


@page_permission("churn")
def churn(request: HttpRequest) -> HttpResponse:
    context = _run_context()
    charts = {"risk": level_chart(*counts_by("churn_risk", ["high", "medium", "low"]),
                                  _("Customers"), colours=RISK)}
    labels, counts = probability_histogram("churn_probability")
    if any(counts):
        charts["histogram"] = churn_histogram_chart(labels, counts)
    reasons = selectors.top_churn_reasons(context["run"])
    context.update(charts={k: v for k, v in charts.items() if v},
                   reasons=[{"label": feature_name(f), "n": n} for f, n in reasons],
                   card=context["cards"].get("churn"))
    return render(request, "analytics/churn.html", context)


@page_permission("clv")
def clv(request: HttpRequest) -> HttpResponse:
    context = _run_context()
    charts = {}
    labels, counts = clv_histogram()
    if any(counts):
        charts["histogram"] = clv_histogram_chart(labels, counts)
    sample = selectors.alive_frequency_sample()
    if sample:
        charts["scatter"] = chart("scatter", [], [{"label": _("Customers (sample)"), "data": sample,
                                                   "backgroundColor": colour("series-1", 0.5),
                                                   "borderColor": NEUTRAL}],
                                  scales={"y": {"min": 0, "max": 1}}, x_title=_("Orders"),
                                  y_title=_("Probability alive (0–1)"))
    tiers = selectors.value_tiers()
    tier_names = dict(Level.choices)
    for tier in tiers:
        tier["label"] = tier_names.get(tier["value_tier"], tier["value_tier"])
    context.update(charts=charts, tiers=tiers, card=context["cards"].get("clv"),
                   sample_size=len(sample))
    return render(request, "analytics/clv.html", context)


@page_permission("bundles")
def bundles(request: HttpRequest) -> HttpResponse:
    context = _run_context()
    product_id = None
    raw = request.GET.get("product", "")
    error = ""
    if raw:
        try:
            product_id = int(raw)
        except ValueError:
            error = _("product: must be a product id (a whole number), not %(value)r.") % {"value": raw}
    context.update(rules=selectors.bundle_rules(context["run"], product_id=product_id),
                   products=selectors.bundle_products(context["run"]), product_id=product_id,
                   error=error, card=context["cards"].get("bundles"))
    return render(request, "analytics/bundles.html", context, status=400 if error else 200)


@page_permission("feedback")
def feedback(request: HttpRequest) -> HttpResponse:
    months = sentiment_by_month()
    charts = {}
    if months:
        labels = [m["month"].strftime("%Y-%m") for m in months]
        charts["sentiment"] = sentiment_chart(labels, [round(m["mean"], 3) for m in months])
        charts["volume"] = chart("bar", labels, [
            {"label": _("Feedback"), "data": [m["n"] for m in months], "backgroundColor": NEUTRAL},
            {"label": _("Negative"), "data": [m["negative"] for m in months],
             "backgroundColor": SENTIMENT["negative"]}], x_title=_("Month"), y_title=_("Feedback items"))
    return render(request, "analytics/feedback.html", {
        "charts": charts, "summary": selectors.feedback_summary(),
        "groups": selectors.complaint_groups(), "feedback_languages": selectors.feedback_languages(),
        "wordclouds": selectors.wordclouds_stored(),
    })


@page_permission("feedback")
def wordcloud(request: HttpRequest, language: str) -> HttpResponse:
    if language not in WORDCLOUD_LANGUAGES:
        raise Http404(_("No word cloud for language %(language)s.") % {"language": language})
    png = selectors.wordcloud_png(language)  # drawn by the last run, never here
    if png is None:
        raise Http404(_("No word cloud yet: the next analysis run draws it."))
    response = HttpResponse(png, content_type="image/png")
    response["Cache-Control"] = "private, max-age=600"
    return response


@page_permission("forecast")
def forecast(request: HttpRequest) -> HttpResponse:
    context = _run_context()
    rows = selectors.latest_forecast()
    context.update(rows=[r for r in rows if r.forecast is not None], card=context["cards"].get("forecast"),
                   charts={"forecast": forecast_chart(rows)} if rows else {})
    return render(request, "analytics/forecast.html", context)


def drift_messages(rows: list[RealisedAccuracy]) -> list[str]:
    """One plain sentence per way a model's latest scored predictions went wrong."""
    messages_ = []
    for row in rows:
        when = row.run.as_of.date().isoformat()
        m = row.metrics
        for reason in row.drift:
            if reason == "roc_auc_below_baseline":
                messages_.append(_(
                    "Churn: the probabilities served on %(date)s ranked who then left worse than days since "
                    "the last order alone (ROC-AUC %(auc).2f against %(baseline).2f).") % {
                    "date": when, "auc": m["roc_auc"], "baseline": m["baseline_roc_auc"]})
            elif reason == "calibration":
                messages_.append(_(
                    "Churn: the probabilities served on %(date)s were off by %(error).0f points on average "
                    "from the share of customers that then left.") % {
                    "date": when, "error": 100 * m["calibration_error"]})
            elif reason == "total_off":
                messages_.append(_(
                    "%(model)s: over the %(days)s days after %(date)s customers did %(ratio).2f times what "
                    "was predicted.") % {
                    "model": row.get_model_display(), "days": row.horizon_days, "date": when,
                    "ratio": m["actual_to_predicted"]})
    return messages_


# What each realised figure is called on the page, and whether higher is better.
REALISED_METRICS = {
    "churn": (("roc_auc", True), ("baseline_roc_auc", True), ("brier", False), ("baseline_brier", False),
              ("calibration_error", False), ("churn_rate", None)),
    "orders": (("actual_to_predicted", None), ("spearman", True), ("mean_absolute_error", False)),
    "clv": (("actual_to_predicted", None), ("spearman", True), ("mean_absolute_error", False)),
}


@page_permission("accuracy")
def accuracy(request: HttpRequest) -> HttpResponse:
    """How did we do? Each model's served predictions against what then happened, run by run,
    beside the fit-time model card of the latest run."""
    context = _run_context()
    models = []
    for model, label in RealisedAccuracy.Model.choices:
        rows = list(selectors.realised_rows(model))
        if not rows:
            models.append({"key": model, "label": label, "rows": [], "horizon": None})
            continue
        latest = rows[-1]
        dates = [row.run.as_of.date().isoformat() for row in rows]
        if model == RealisedAccuracy.Model.CHURN:
            trend = chart("line", dates, [
                {"label": _("ROC-AUC of the served probabilities"), "data": [r.metrics.get("roc_auc") for r in rows]},
                {"label": _("ROC-AUC of days since the last order (baseline)"),
                 "data": [r.metrics.get("baseline_roc_auc") for r in rows]}],
                x_title=_("Date of the prediction"), y_title=_("ROC-AUC (0.5 = chance, 1 = perfect)"))
            by_decile = chart("line", [str(d["decile"]) for d in latest.deciles], [
                {"label": _("Predicted churn probability"), "data": [d["predicted"] for d in latest.deciles]},
                {"label": _("Share that churned"), "data": [d["observed"] for d in latest.deciles]}],
                x_title=_("Tenth of customers by prediction (1 = lowest)"), y_title=_("Probability or share (0–1)"))
        else:
            trend = chart("line", dates, [
                {"label": _("Actual / predicted"), "data": [r.metrics.get("actual_to_predicted") for r in rows]}],
                x_title=_("Date of the prediction"), y_title=_("Actual / predicted (1 = exact)"))
            per_customer = (money_title(_("Spend per customer")) if model == RealisedAccuracy.Model.CLV
                            else _("Orders per customer"))
            by_decile = chart("bar", [str(d["decile"]) for d in latest.deciles], [
                {"label": _("Predicted per customer"), "data": [d["predicted"] for d in latest.deciles]},
                {"label": _("Actual per customer"), "data": [d["observed"] for d in latest.deciles]}],
                x_title=_("Tenth of customers by prediction (1 = lowest)"), y_title=per_customer)
        models.append({
            "key": model, "label": label, "rows": rows, "latest": latest, "horizon": latest.horizon_days,
            "metrics": [m for m, _better in REALISED_METRICS[model]], "trend": trend, "deciles": by_decile,
            "card": context["cards"].get("clv" if model != RealisedAccuracy.Model.CHURN else "churn")})
    context.update(models=models, drift_messages=drift_messages(selectors.realised_drifting()))
    return render(request, "analytics/accuracy.html", context)


@page_permission("runs")
def runs(request: HttpRequest) -> HttpResponse:
    return render(request, "analytics/runs.html", {"runs": selectors.score_runs()})


@page_permission("runs")
def run_detail(request: HttpRequest, pk: int) -> HttpResponse:
    run = get_object_or_404(ScoreRun.objects.with_effective_status().select_related("requested_by"), pk=pk)
    return render(request, "analytics/run_detail.html", {"run": run})


@page_permission("runs")
def run_status(request: HttpRequest, pk: int) -> JsonResponse:
    """Polled every two seconds by the progress bar."""
    run = get_object_or_404(ScoreRun.objects.with_effective_status(), pk=pk)
    status = run.effective_status
    return JsonResponse({"id": run.pk, "status": status, "status_label": run.get_effective_status_display(),
                         "stage": run.stage, "stage_label": cards.stage_label(run.stage), "progress": run.progress,
                         "finished": status not in ScoreRun.ACTIVE, "error": run.get_error_message()})


@require_POST
@page_permission("run_start")
def run_start(request: HttpRequest) -> HttpResponse:
    """Queue a full run (or join the active one) and show its progress.

    The message says what is true when the page shows it: where tasks run in this process the
    run has already finished (or failed) by the time the request returns.
    """
    run = score_run_request(requested_by=request.user)
    say = {"id": run.pk}
    if run.status == ScoreRun.Status.SUCCEEDED:
        messages.success(request, _("Analysis run #%(id)s finished: the scores are up to date.") % say)
    elif run.status == ScoreRun.Status.FAILED:
        messages.error(request, _("Analysis run #%(id)s failed: %(reason)s") % {
            **say, "reason": run.get_error_message()})
    elif run.status == ScoreRun.Status.RUNNING:
        messages.info(request, _("Analysis run #%(id)s is running; its progress is shown below.") % say)
    else:
        messages.info(request, _("Analysis run #%(id)s is queued; its progress is shown below.") % say)
    return redirect("analytics:run_detail", pk=run.pk)
