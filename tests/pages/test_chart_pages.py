"""Issue 16 item 12 in a real browser, in English and Chinese: every chart on the dashboard and the
analytics and campaign pages titles each of its axes (a money axis with the currency), draws
only colours of the palette (static/css/crm.css), and draws high value and high churn risk in
different colours: before, "High value" was the red of high churn risk."""
from __future__ import annotations

import pytest
from django.conf import settings

from tests.pages.ui_data import campaign_world, scored_world

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
