"""Demo campaigns that teach something: a year of past retention campaigns with randomised control
groups and a true effect that differs by customer.

The discount moves customers at medium churn risk (three in ten of them place an extra order in the
window), is spent on loyal customers who would have ordered anyway, and does not reach those
already gone. Each campaign's members carry the scores the models would have given them on its
launch date (a backtest run as of that date), so the uplift model learns from launch-time scores
as it does from real campaigns, and the "How did we do?" page has those runs to check as well.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

import numpy as np
import pandas as pd
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Count, Max, Q, Sum
from django.utils import timezone

from analytics.engine.churn import risk_band
from analytics.models import PredictionHistory
from analytics.services.runs import backtest_run
from customers.models import Customer, Order, OrderStatus

from .models import Campaign, CampaignMember
from .services import campaign_results_refresh
from .targeting import uplift_models_refresh
from .uplift import assign_control

# Launch dates, days before today: the last window closes months before the demo's "now".
LAUNCH_DAYS_AGO = (400, 310, 220, 130)
ATTRIBUTION_DAYS = 30
CONTROL_SHARE = Decimal("0.50")
# The true effect: extra conversion probability of a treated member by churn risk at launch.
MOVABLE_RISK = (0.3, 0.7)
EXTRA_CONVERSION = 0.3


def _launch(when: datetime, *, number: int, rng: np.random.Generator, creator) -> Campaign:
    run = backtest_run(as_of=when)
    served = {row["customer_id"]: row for row in PredictionHistory.objects.filter(run=run).values()}
    before = Q(orders__status=OrderStatus.COMPLETED, orders__ordered_at__lte=when)
    facts = {row["pk"]: row for row in Customer.objects.filter(
        merged_into__isnull=True, marketing_consent=True).annotate(
        n=Count("orders", filter=before), spent=Sum("orders__total_amount", filter=before),
        last=Max("orders__ordered_at", filter=before)).filter(n__gt=0).values("pk", "n", "spent", "last")}
    ids = sorted(pk for pk in facts if served.get(pk, {}).get("churn_probability") is not None)
    strata = risk_band(pd.Series([served[pk]["churn_probability"] for pk in ids], dtype=float)).tolist()
    control = assign_control(ids, strata, share=float(CONTROL_SHARE), seed=int(rng.integers(1 << 30)))
    campaign = Campaign.objects.create(
        name=f"Retention offer {when:%Y-%m} (demo)", objective=Campaign.Objective.RETENTION,
        kind=Campaign.Kind.MARKETING, channel=Campaign.Channel.EMAIL, status=Campaign.Status.RUNNING,
        discount_percent=Decimal("10"), attribution_days=ATTRIBUTION_DAYS, control_share=CONTROL_SHARE,
        starts_on=when.date(), created_by=creator, launched_by=creator, launched_at=when)
    members, extra_orders = [], []
    for pk, stratum in zip(ids, strata, strict=True):
        history, fact = served[pk], facts[pk]
        is_control = pk in control
        members.append(CampaignMember(
            campaign=campaign, customer_id=pk, stratum=stratum,
            group=CampaignMember.Group.CONTROL if is_control else CampaignMember.Group.TREATMENT,
            scores={"churn_probability": history["churn_probability"], "churn_risk": stratum,
                    "clv_12m": history["clv_12m"], "loyalty_score": history["loyalty_score"],
                    "recency_days": (when - fact["last"]).days, "order_count": fact["n"],
                    "total_spent": float(fact["spent"] or 0)},
            coupon_code=None if is_control else f"DEMO{number}-{pk}"))
        low, high = MOVABLE_RISK
        if not is_control and low <= history["churn_probability"] < high and rng.random() < EXTRA_CONVERSION:
            at = when + timedelta(days=float(rng.uniform(1, ATTRIBUTION_DAYS - 1)))
            value = Decimal(str(round(float(fact["spent"] or 0) / fact["n"] * rng.uniform(0.7, 1.2), 2)))
            extra_orders.append(Order(customer_id=pk, ordered_at=at, channel="ecommerce",
                                      status=OrderStatus.COMPLETED, total_amount=max(value, Decimal("5.00"))))
    CampaignMember.objects.bulk_create(members, batch_size=2000)
    Order.objects.bulk_create(extra_orders, batch_size=2000)
    campaign_results_refresh(campaign_id=campaign.pk, now=when + timedelta(days=ATTRIBUTION_DAYS + 1))
    return campaign


def demo_campaigns_seed(*, seed: int = 42, now: datetime | None = None) -> dict:
    """Past randomised campaigns with a heterogeneous effect, then their uplift models."""
    now = now or timezone.now()
    rng = np.random.default_rng(seed)
    creator = get_user_model().objects.filter(username="manager").first()
    launched = []
    for number, days in enumerate(LAUNCH_DAYS_AGO, start=1):
        with transaction.atomic():
            launched.append(_launch(now - timedelta(days=days), number=number, rng=rng, creator=creator))
    return {"campaigns": [c.pk for c in launched], "uplift_models": uplift_models_refresh()}
