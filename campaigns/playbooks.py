"""Ready-made campaigns built from the scores: each playbook is an audience and an offer that
a user turns into a draft with one click, then adjusts before launching."""
from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from django.utils.translation import gettext_lazy as _

from analytics.models import AssociationRule
from customers.models import Level, RfmSegment

from .models import Campaign

# "High churn risk" for the retention playbook: the churn model's probability above this.
HIGH_CHURN = 0.6
# Feedback younger than this counts as recent for service recovery.
RECENT_FEEDBACK_DAYS = 30


@dataclass(frozen=True)
class Playbook:
    key: str
    name: str
    description: str
    audience: dict
    fields: dict = field(default_factory=dict)
    available: bool = True
    reason_unavailable: str = ""


def _strongest_rule() -> AssociationRule | None:
    return AssociationRule.objects.order_by("-lift", "-confidence", "pk").first()


def playbooks() -> list[Playbook]:
    """The playbooks as they stand today (the bundle one follows the latest rules)."""
    rule = _strongest_rule()
    return [
        Playbook(
            key="retention_call", name=_("Retention call for valuable customers at risk"),
            description=_("High lifetime value and a high churn probability: a service colleague "
                          "calls before the customer drifts away."),
            audience={"value_tiers": [Level.HIGH], "churn_min": HIGH_CHURN},
            fields={"objective": Campaign.Objective.RETENTION, "kind": Campaign.Kind.SERVICE,
                    "channel": Campaign.Channel.PHONE}),
        Playbook(
            key="vip_early_access", name=_("VIP early access for Champions"),
            description=_("Recent, frequent, big spenders get early access to new products."),
            audience={"rfm_segments": [RfmSegment.CHAMPIONS]},
            fields={"objective": Campaign.Objective.VIP_CARE, "kind": Campaign.Kind.MARKETING,
                    "channel": Campaign.Channel.EMAIL, "recommend_products": 3}),
        Playbook(
            key="win_back", name=_("Win-back offer"),
            description=_("Customers who used to buy well but have gone quiet (At Risk, Can't Lose "
                          "Them) get a discount to come back."),
            audience={"rfm_segments": [RfmSegment.AT_RISK, RfmSegment.CANT_LOSE]},
            fields={"objective": Campaign.Objective.WIN_BACK, "kind": Campaign.Kind.MARKETING,
                    "channel": Campaign.Channel.EMAIL, "discount_percent": Decimal("15"),
                    "coupon_pattern": "COMEBACK-{code}", "recommend_products": 3}),
        Playbook(
            key="service_recovery", name=_("Service recovery after negative feedback"),
            description=_("Customers who left negative feedback in the last 30 days get a call "
                          "from service."),
            audience={"negative_feedback_days": RECENT_FEEDBACK_DAYS},
            fields={"objective": Campaign.Objective.SERVICE_RECOVERY, "kind": Campaign.Kind.SERVICE,
                    "channel": Campaign.Channel.PHONE, "task_due_days": 3}),
        Playbook(
            key="cross_sell_bundle", name=_("Cross-sell the strongest bundle"),
            description=_("Customers who bought one side of the strongest association rule but "
                          "never the other are offered the rest of the bundle."),
            audience={"bought_any": list(rule.antecedents), "not_bought_any": list(rule.consequents)}
            if rule else {},
            fields={"objective": Campaign.Objective.UPSELL, "kind": Campaign.Kind.MARKETING,
                    "channel": Campaign.Channel.EMAIL, "bundle": rule, "discount_percent": Decimal("10"),
                    "coupon_pattern": "BUNDLE-{code}"},
            available=rule is not None,
            reason_unavailable=_("No association rules yet: run the analysis first.")),
    ]


def playbook_get(key: str) -> Playbook | None:
    return next((p for p in playbooks() if p.key == key), None)
