"""Issue 16 item 12 in a real browser, in English and Chinese: every chart on the dashboard and the
analytics and campaign pages titles each of its axes (a money axis with the currency), draws
only colours of the palette (static/css/crm.css), and draws high value and high churn risk in
different colours: before, "High value" was the red of high churn risk."""
from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from analytics.models import RealisedAccuracy, ScoreRun
from campaigns.models import Campaign, UpliftModel
from tests.pages.ui_data import scored_world

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Each drawn chart as the browser holds it: its axes (every scale Chart.js made, with its title)
# and the colours of its datasets, which charts.js has resolved from the palette's names.
CHARTS_JS = """() => Object.values(Chart.instances).map(c => ({
  name: c.canvas.dataset.chart, type: c.config.type, labels: c.data.labels.map(String),
  axes: Object.values(c.scales).map(s => ({id: s.id, title: s.options.title.display ? s.options.title.text : ""})),
  datasets: c.data.datasets.map(d => ({label: d.label,
    colours: [d.backgroundColor, d.borderColor].flat().filter(v => typeof v === "string")}))}))"""
PALETTE_JS = """names => Object.fromEntries(names.map(n =>
  [n, getComputedStyle(document.documentElement).getPropertyValue("--" + n).trim().toUpperCase()]))"""
PALETTE_NAMES = ["risk-low", "risk-medium", "risk-high", "value-low", "value-medium", "value-high",
                 "sentiment-negative", "sentiment-neutral", "sentiment-positive", "series-1", "series-2"]
HIGH = {"en": "High", "zh-hans": "高"}


def switch_language(page, code: str) -> None:
    with page.expect_navigation():
        page.select_option("#language", code)


def campaign_world(manager) -> Campaign:
    """What the campaign and accuracy pages chart: a finished campaign's results, an uplift model's
    Qini curve, and realised accuracy for each model."""
    now = timezone.now()
    campaign = Campaign.objects.create(
        name="Spring win-back", objective="retention", status="finished", created_by=manager,
        launched_at=now - timedelta(days=40), attribution_days=30,
        results={"treatment_members": 400, "control_members": 200, "treatment_converters": 60,
                 "control_converters": 20, "treatment_rate": 0.15, "control_rate": 0.10,
                 "treatment_revenue": 6000.0, "control_revenue": 2000.0, "absolute_uplift": 0.05,
                 "absolute_uplift_low": 0.0, "absolute_uplift_high": 0.1, "relative_uplift": 0.5,
                 "incremental_revenue": 2000.0, "cost": 500.0, "offer_cost": 300.0, "contact_cost": 200.0,
                 "roi": 3.0, "window_end": (now - timedelta(days=10)).isoformat(), "window_closed": True})
    UpliftModel.objects.create(
        objective="retention", fitted_at=now, campaigns=3, members=1200, credible=True, payload=b"",
        card={"name": "two_models", "qini": 0.05, "qini_interval": [0.01, 0.09], "candidates": {"two_models": 0.05},
              "curve": {"share": [0, 0.5, 1], "model": [0, 30, 40], "random": [0, 20, 40]}})
    for k in range(2):
        run = ScoreRun.objects.create(kind="backtest", as_of=now - timedelta(days=400 - 30 * k), status="succeeded")
        deciles = [{"decile": d, "predicted": d / 10, "observed": d / 11} for d in range(1, 11)]
        for model, metrics in (("churn", {"roc_auc": 0.8, "baseline_roc_auc": 0.7}),
                               ("orders", {"actual_to_predicted": 1.1}), ("clv", {"actual_to_predicted": 0.9})):
            RealisedAccuracy.objects.create(run=run, model=model, horizon_days=90, customers=6, metrics=metrics,
                                            deciles=deciles, evaluated_at=now)
    return campaign


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_every_chart_titles_its_axes_and_draws_the_palette(page, login, role_user, language):
    scored_world(6)
    manager = role_user("Manager")
    campaign = campaign_world(manager)
    page.emulate_media(reduced_motion="reduce")
    login(manager)
    if language != "en":
        switch_language(page, language)
    palette = page.evaluate(PALETTE_JS, PALETTE_NAMES)
    assert all(value.startswith("#") and len(value) == 7 for value in palette.values()), palette
    allowed = set(palette.values())
    allowed |= {f"rgba({int(v[1:3], 16)},{int(v[3:5], 16)},{int(v[5:7], 16)},{a})"
                for v in palette.values() for a in ("0.15", "0.4", "0.5")}

    pages = {"/": 6, "/analytics/segments/": 1, "/analytics/churn/": 2, "/analytics/clv/": 2,
             "/analytics/feedback/": 2, "/analytics/forecast/": 1, "/analytics/accuracy/": 6,
             "/campaigns/uplift/": 1, f"/campaigns/{campaign.pk}/results/": 1}
    drawn = {}
    for url, expected in pages.items():
        page.goto(url)
        charts = page.evaluate(CHARTS_JS)
        assert len(charts) == expected, url
        for chart in charts:
            drawn[chart["name"]] = chart
            where = f"{url} {chart['name']}"
            if chart["type"] != "doughnut":
                assert chart["axes"] and all(axis["title"].strip() for axis in chart["axes"]), where
            for dataset in chart["datasets"]:
                assert set(dataset["colours"]) <= allowed, (where, dataset)

    # Money axes name the currency.
    currency = settings.CURRENCY
    money_axes = {"chart-clv": "x", "chart-forecast": "y", "chart-results": "revenue", "chart-deciles-clv": "y"}
    for name, axis in money_axes.items():
        titles = {a["id"]: a["title"] for a in drawn[name]["axes"]}
        assert currency in titles[axis], (name, titles)

    # High value (dashboard) and high churn risk (churn page) in their own scales' colours.
    value = drawn["chart-value"]
    high_value = value["datasets"][0]["colours"][value["labels"].index(HIGH[language])]
    risk = drawn["chart-risk"]
    high_risk = risk["datasets"][0]["colours"][risk["labels"].index(HIGH[language])]
    assert high_value == palette["value-high"]
    assert high_risk == palette["risk-high"]
    assert high_value != high_risk
    # The churn histogram colours its bars by risk band, the last band in high risk's colour.
    assert drawn["chart-churn"]["datasets"][-1]["colours"][0] == palette["risk-high"]
