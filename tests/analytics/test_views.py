"""The analytics pages: who may open which, what they show, and the run controls."""
from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from analytics.models import ScoreRun
from analytics.services.figures import wordclouds_store
from tests.pages.ui_data import add_customers, make_products, scored_world

pytestmark = pytest.mark.django_db


PAGES = ["segments", "churn", "clv", "bundles", "feedback", "forecast", "runs"]
ALLOWED = {
    "Manager": set(PAGES),
    "Sales": {"bundles", "runs"},
    "Service": {"feedback"},
}


@pytest.fixture
def world():
    return scored_world(6)


@pytest.mark.parametrize("role", ["Manager", "Sales", "Service"])
def test_access_per_role(client, role_user, world, role):
    client.force_login(role_user(role))
    for page in PAGES:
        response = client.get(reverse(f"analytics:{page}"))
        expected = 200 if page in ALLOWED[role] else 403
        assert response.status_code == expected, (role, page)


def test_anonymous_is_sent_to_login(client, world):
    response = client.get(reverse("analytics:segments"))
    assert response.status_code == 302 and response["Location"].startswith("/login/")


@pytest.fixture
def manager(client, role_user):
    client.force_login(role_user("Manager"))
    return client


def test_segments_page(manager, world):
    response = manager.get(reverse("analytics:segments"))
    html = response.content.decode()
    assert "High value: more than 4 orders" in html  # the stored rule, translated for the page
    grid = response.context["grid"]
    assert sum(cell["n"] for row in grid["rows"] for cell in row["cells"]) == 6
    assert [row["r"] for row in grid["rows"]] == [5, 4, 3, 2, 1]
    segments = {s["key"]: s for s in response.context["rfm_segments"]}
    assert segments["At Risk"]["n"] == 2
    assert "Personal win-back" in html


def test_churn_page_aggregates_reasons_and_shows_the_card(manager, world):
    response = manager.get(reverse("analytics:churn"))
    assert response.context["reasons"] == [{"label": "days since last order", "n": 4}]
    html = response.content.decode()
    assert "churn_logistic_regression_calibrated" in html
    assert "ROC AUC (higher is better)" in html and "0.860" in html and "0.800" in html


def test_clv_page(manager, world):
    response = manager.get(reverse("analytics:clv"))
    assert response.context["sample_size"] == 6
    assert {t["value_tier"] for t in response.context["tiers"]} == {"high", "medium", "low"}
    assert set(response.context["charts"]) == {"histogram", "scatter"}


def test_bundles_names_products_and_filters(client, role_user, world):
    client.force_login(role_user("Sales"))
    response = client.get(reverse("analytics:bundles"))
    rules = response.context["rules"]
    assert [[p.name for p in r["if_bought"]] for r in rules] == [["Green tea"], ["Tea pot"]]
    pot = make_products()[2]
    filtered = client.get(reverse("analytics:bundles"), {"product": pot.pk}).context["rules"]
    assert [r["lift"] for r in filtered] == [2.0]
    bad = client.get(reverse("analytics:bundles"), {"product": "tea"})
    assert bad.status_code == 400 and "product: must be a product id" in bad.content.decode()


def test_feedback_page_and_word_cloud(client, role_user, world):
    client.force_login(role_user("Service"))
    response = client.get(reverse("analytics:feedback"))
    groups = response.context["groups"]
    assert [(g["reason"], g["n"]) for g in groups] == [("delivery", 6)]
    assert response.context["feedback_languages"] == {"en": 6}
    # No run has drawn the clouds yet: the page says so, and the image is not drawn on a visit.
    assert "No word cloud yet: the next analysis run draws it." in response.content.decode()
    assert reverse("analytics:wordcloud", args=["en"]) not in response.content.decode()
    assert client.get(reverse("analytics:wordcloud", args=["en"])).status_code == 404
    assert wordclouds_store(run_id=world[0].pk, timings={}) == 1  # English only
    response = client.get(reverse("analytics:feedback"))
    assert reverse("analytics:wordcloud", args=["en"]) in response.content.decode()
    assert reverse("analytics:wordcloud", args=["zh"]) not in response.content.decode()
    png = client.get(reverse("analytics:wordcloud", args=["en"]))
    assert png.status_code == 200 and png["Content-Type"] == "image/png"
    assert png.content[:8] == b"\x89PNG\r\n\x1a\n"
    assert client.get(reverse("analytics:wordcloud", args=["zh"])).status_code == 404
    assert client.get(reverse("analytics:wordcloud", args=["fr"])).status_code == 404


def test_forecast_page(manager, world):
    response = manager.get(reverse("analytics:forecast"))
    assert len(response.context["rows"]) == 2
    chart = response.context["charts"]["forecast"]
    assert chart["data"]["datasets"][1]["data"][-1] == 120.0


def test_pages_show_empty_states_before_any_run(manager):
    for page in ("segments", "churn", "clv", "bundles", "forecast"):
        html = manager.get(reverse(f"analytics:{page}")).content.decode()
        assert "No scores yet: run the analysis." in html, page
        assert reverse("analytics:run_start") in html


def test_list_pages_keep_a_fixed_query_count(manager, world):
    counts = {}
    for page in ("segments", "churn", "clv", "bundles", "feedback", "runs"):
        manager.get(reverse(f"analytics:{page}"))  # fill the caches
        with CaptureQueriesContext(connection) as context:
            manager.get(reverse(f"analytics:{page}"))
        counts[page] = len(context)
    add_customers(15, start=300, run=world[0])
    for page, small in counts.items():
        with CaptureQueriesContext(connection) as context:
            manager.get(reverse(f"analytics:{page}"))
        assert len(context) == small, page


def test_run_detail_and_status(manager, world):
    run = world[0]
    html = manager.get(reverse("analytics:run_detail", args=[run.pk])).content.decode()
    assert "Brier score (lower is better)" in html
    status = manager.get(reverse("analytics:run_status", args=[run.pk])).json()
    assert status == {"id": run.pk, "status": "succeeded", "status_label": "Succeeded", "stage": "done", "stage_label": "done",
                      "progress": 100, "finished": True, "error": ""}


def test_run_start_joins_the_active_run(manager, world):
    active = ScoreRun.objects.create(kind="full", as_of=timezone.now(), status="running", progress=40,
                                     stage="churn", lease_expires_at=timezone.now() + timezone.timedelta(minutes=5))
    response = manager.post(reverse("analytics:run_start"))
    assert response.status_code == 302
    assert response["Location"] == reverse("analytics:run_detail", args=[active.pk])
    page = manager.get(response["Location"]).content.decode()
    assert reverse("analytics:run_status", args=[active.pk]) in page  # the bar polls while it runs
    assert ScoreRun.objects.count() == 2


def test_run_start_needs_permission_and_post(client, role_user, world):
    client.force_login(role_user("Sales"))
    assert client.post(reverse("analytics:run_start")).status_code == 403
    client.force_login(role_user("Manager", username="boss"))
    assert client.get(reverse("analytics:run_start")).status_code == 405
