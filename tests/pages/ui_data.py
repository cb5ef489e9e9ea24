"""A small scored data set for the staff-page tests: what a finished analysis run leaves behind
(score fields, a ScoreRun with model cards, segments, rules, a forecast, recommendations)."""
from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from django.utils import timezone

from analytics.models import (
    AssociationRule,
    RealisedAccuracy,
    Recommendation,
    RevenueForecast,
    ScoreRun,
    SegmentProfile,
)
from campaigns.models import Campaign, UpliftModel
from customers.models import Customer, Product
from tests.factories import (
    CustomerFactory,
    FeedbackFactory,
    InteractionFactory,
    OrderFactory,
    OrderItemFactory,
)

MODEL_CARDS = {
    "churn": {"name": "churn_logistic_regression_calibrated", "roc_auc": 0.86, "baseline_roc_auc": 0.80,
              "brier": 0.15, "baseline_brier": 0.14, "params": {"horizon_days": 90},
              "notes": "baseline: recency rank (AUC, PR-AUC, lift); churn rate by recency decile (Brier)"},
    "forecast": {"name": "forecast.revenue", "mape": 0.1, "baseline_mape": 0.2},
    "bundles": {"name": "bundles.association_rules", "hit_rate": 0.19, "baseline_hit_rate": 0.03},
    "clv": {"name": "clv", "bgnbd": {"r": 0.78}},
    "segments": {"name": "kmeans_rfm_segments", "silhouette": 0.38, "baseline_silhouette": 0.22},
}


def add_customers(n: int, *, start: int = 0, products: list[Product] | None = None,
                  run: ScoreRun | None = None) -> list[Customer]:
    """``n`` scored customers, each with two orders, feedback, an interaction and a recommendation."""
    now = timezone.now()
    products = products or make_products()
    customers = []
    for i in range(start, start + n):
        risk = ("high", "medium", "low")[i % 3]
        customer = CustomerFactory(
            name=f"Customer {i:03d}", external_id=f"C{i:03d}", email=f"person{i}@example.com",
            phone=f"+8613800{i:06d}", region=("North", "South")[i % 2], marketing_consent=i % 2 == 0,
            signup_date=(now - timedelta(days=400)).date(), order_count=2, total_spent=Decimal("40.00"),
            first_order_at=now - timedelta(days=220), last_order_at=now - timedelta(days=140),
            recency_days=140, rfm_r=1 + i % 5, rfm_f=1 + (i // 5) % 5, rfm_m=3,
            rfm_segment=("At Risk", "Champions", "Hibernating")[i % 3], value_segment=risk,
            value_tier=risk, churn_probability=(0.72, 0.45, 0.1)[i % 3], churn_risk=risk,
            churn_reasons=[{"feature": "recency_days", "value": 140.2, "typical": 43.0, "direction": "up",
                            "contribution": 2.0}],
            p_alive=0.4, expected_orders_90d=0.3, clv_12m=Decimal(10 + i), lifecycle_stage="active",
            loyalty_score=0.5, sentiment_score=0.2, scores_updated_at=now,
        )
        for days in (220, 140):
            order = OrderFactory(customer=customer, ordered_at=now - timedelta(days=days),
                                 total_amount=Decimal("20.00"))
            OrderItemFactory(order=order, product=products[0], quantity=2, unit_price=Decimal("10.00"))
        FeedbackFactory(customer=customer, created_at=now - timedelta(days=30), rating=1,
                        text="The delivery was late and the box was broken", language="en",
                        sentiment_score=-0.6, sentiment_label="negative", complaint_reason="delivery")
        InteractionFactory(customer=customer, kind="call", occurred_at=now - timedelta(days=10),
                           outcome="Called back")
        if run is not None:
            Recommendation.objects.create(customer=customer, product=products[1], rank=1, score=1.0,
                                          because_of=products[0], run=run)
        customers.append(customer)
    return customers


def make_products() -> list[Product]:
    return [Product.objects.get_or_create(sku=sku, defaults={"name": name, "price": Decimal(10)})[0]
            for sku, name in (("TEA", "Green tea"), ("CUP", "Tea cup"), ("POT", "Tea pot"))]


def make_run() -> ScoreRun:
    now = timezone.now()
    run = ScoreRun.objects.create(kind="full", as_of=now, status="succeeded", progress=100, stage="done",
                                  started_at=now, finished_at=now, model_cards=MODEL_CARDS,
                                  timings={"churn": 0.5}, counts={"customers": 6})
    SegmentProfile.objects.create(run=run, cluster=0, label="high", size=2, mean_spend=40.0, revenue_share=0.6,
                                  centre={}, rule="high value: more than 4 orders")
    products = make_products()
    AssociationRule.objects.create(run=run, antecedents=[products[0].pk], consequents=[products[1].pk],
                                   support=0.05, confidence=0.4, lift=3.5)
    AssociationRule.objects.create(run=run, antecedents=[products[2].pk], consequents=[products[1].pk],
                                   support=0.02, confidence=0.3, lift=2.0)
    for k in range(6):
        month = date(2026, 1 + k, 1)
        future = k >= 4
        RevenueForecast.objects.create(run=run, month=month, actual=None if future else 100.0 + k,
                                       forecast=120.0 if future else None,
                                       lower=100.0 if future else None, upper=140.0 if future else None)
    return run


def scored_world(n: int = 6) -> tuple[ScoreRun, list[Customer]]:
    run = make_run()
    return run, add_customers(n, products=make_products(), run=run)


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
