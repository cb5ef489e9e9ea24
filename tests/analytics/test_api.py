"""Score runs, recommendations, segments and bundles over the API."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from analytics.models import AssociationRule, Recommendation, ScoreRun, SegmentProfile
from tests.customers.api.conftest import make_customers

pytestmark = pytest.mark.django_db


def test_posting_a_run_queues_one_and_a_second_post_returns_the_same_run(
    api, django_capture_on_commit_callbacks
):
    manager = api("Manager")
    with django_capture_on_commit_callbacks() as callbacks:
        first = manager.post("/api/score-runs/", {"as_of": "2026-10-01T00:00:00Z"}, format="json")
        second = manager.post("/api/score-runs/", {}, format="json")
    assert first.status_code == second.status_code == 202
    assert first.json()["id"] == second.json()["id"] and first.json()["status"] == "queued"
    assert len(callbacks) == 1  # one task queued, after commit
    assert ScoreRun.objects.count() == 1
    detail = api("Sales").get(f"/api/score-runs/{first.json()['id']}/").json()
    assert {"progress", "stage", "model_cards", "timings", "counts"} <= set(detail)
    bad = manager.post("/api/score-runs/", {"as_of": "last week"}, format="json")
    assert bad.status_code == 400 and list(bad.json()) == ["as_of"]


def test_recommendations_bundles_and_segments(api, catalogue):
    customer = make_customers(1)[0]
    run = ScoreRun.objects.create(as_of=datetime(2026, 10, 1, tzinfo=UTC), status="succeeded")
    Recommendation.objects.bulk_create(
        [
            Recommendation(customer=customer, product=catalogue[2], rank=2, score=0.4, run=run),
            Recommendation(
                customer=customer, product=catalogue[1], rank=1, score=0.9, run=run, because_of=catalogue[0]
            ),
        ]
    )
    rules = AssociationRule.objects.bulk_create(
        [
            AssociationRule(
                run=run,
                antecedents=[catalogue[0].pk],
                consequents=[catalogue[1].pk],
                support=0.1,
                confidence=0.6,
                lift=2.5,
            ),
            AssociationRule(
                run=run,
                antecedents=[catalogue[1].pk],
                consequents=[catalogue[2].pk],
                support=0.1,
                confidence=0.4,
                lift=1.2,
            ),
        ]
    )
    SegmentProfile.objects.create(
        run=run,
        cluster=0,
        label="high",
        size=10,
        mean_spend=900,
        revenue_share=0.6,
        centre={"recency_days": 12.0},
        rule="spend > 500",
    )

    recs = api("Service").get(f"/api/customers/{customer.pk}/recommendations/").json()
    assert [(r["rank"], r["product"]["sku"]) for r in recs] == [(1, "SKU-1"), (2, "SKU-2")]
    assert recs[0]["because_of"]["sku"] == "SKU-0" and recs[1]["because_of"] is None

    manager = api("Manager")
    assert [r["id"] for r in manager.get("/api/bundles/").json()["results"]] == [rules[0].pk, rules[1].pk]
    by_product = manager.get("/api/bundles/", {"product": catalogue[2].pk}).json()["results"]
    assert [r["id"] for r in by_product] == [rules[1].pk]
    assert manager.get("/api/bundles/", {"min_lift": 2}).json()["results"][0]["lift"] == 2.5
    assert manager.get("/api/segments/").json()[0]["rule"] == "spend > 500"
