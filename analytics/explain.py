"""Scores in plain words for the pages: the churn sentence on the customer 360, churn reasons,
feature labels in the reader's language.
"""
from __future__ import annotations

from django.utils.translation import gettext
from django.utils.translation import gettext as _

from customers.models import Customer

from .engine.features import FEATURE_LABELS

_KNOWN_LABELS = frozenset(FEATURE_LABELS.values())


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
    """A stored English feature label in the reader's language (the engine's
    :data:`~analytics.engine.features.FEATURE_LABELS` are in the catalogue); other names as
    they are."""
    return gettext(name) if name in _KNOWN_LABELS else name
