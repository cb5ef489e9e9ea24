"""Scores in plain words for the pages: the churn sentence on the customer 360, churn reasons,
feature labels in the reader's language.

A stored churn reason (analytics.engine.reasons) carries the feature key, the customer's own
value, the typical value among scored customers, the direction and the contribution. It is
rendered here in the customer's own numbers against the typical value, one phrase per feature
family; the numbers are filled in after translation so the catalogue holds one entry per phrase.
"""
from __future__ import annotations

import math
import re

from django.utils.translation import gettext, gettext_lazy, gettext_noop, ngettext, ngettext_lazy, pgettext
from django.utils.translation import gettext as _

from customers.models import Channel, Customer, Gender

from .engine.features import FEATURE_LABELS

_KNOWN_LABELS = frozenset(FEATURE_LABELS.values())

# Phrase per feature: own value first, the typical customer after the comma. Placeholders:
# %(value)s, %(typical)s (numbers formatted by _number), %(days)s for windowed counts.
# A phrase that counts something ("1 order", "2 days") is a pair of plural entries, the own part
# and the typical part, each choosing its form by its own figure (``ngettext_lazy`` reads the
# count from the "n" key); the rest are single entries with no count to agree with.
_PHRASES = {
    "recency_days": (
        ngettext_lazy("no order for %(value)s day", "no order for %(value)s days", "n"),
        ngettext_lazy("a typical customer last ordered %(typical)s day ago",
                      "a typical customer last ordered %(typical)s days ago", "n")),
    "mean_gap_days": (
        ngettext_lazy("orders every %(value)s day on average", "orders every %(value)s days on average", "n"),
        ngettext_lazy("customers typically order every %(typical)s day",
                      "customers typically order every %(typical)s days", "n")),
    "recency_gap_ratio": gettext_noop("time since the last order is %(value)s times their usual gap, typically %(typical)s times"),
    "frequency": (
        ngettext_lazy("%(value)s order so far", "%(value)s orders so far", "n"),
        gettext_lazy("a typical customer has %(typical)s")),
    "monetary_total": gettext_noop("spent %(value)s in total, a typical customer %(typical)s"),
    "monetary_mean": gettext_noop("average order of %(value)s, typically %(typical)s"),
    "tenure_days": (
        ngettext_lazy("a customer for %(value)s day", "a customer for %(value)s days", "n"),
        ngettext_lazy("typically %(typical)s day", "typically %(typical)s days", "n")),
    "orders_window": (
        ngettext_lazy("%(value)s order in the last %(days)s days", "%(value)s orders in the last %(days)s days", "n"),
        gettext_lazy("a typical customer %(typical)s")),
    "spend_window": gettext_noop("spent %(value)s in the last %(days)s days, a typical customer %(typical)s"),
    "order_trend_90d": (
        ngettext_lazy("%(value)s order in the last 90 days against the 90 days before",
                      "%(value)s orders in the last 90 days against the 90 days before", "n"),
        gettext_lazy("typically %(typical)s")),
    "complaints": (
        ngettext_lazy("%(value)s complaint in feedback", "%(value)s complaints in feedback", "n"),
        gettext_lazy("a typical customer %(typical)s")),
    "complaint_contacts": (
        ngettext_lazy("%(value)s complaint call or chat", "%(value)s complaint calls or chats", "n"),
        gettext_lazy("a typical customer %(typical)s")),
    "unresolved_contacts": (
        ngettext_lazy("%(value)s contact left unresolved", "%(value)s contacts left unresolved", "n"),
        gettext_lazy("a typical customer %(typical)s")),
    "mean_rating": gettext_noop("average rating %(value)s of 5, typically %(typical)s"),
    "mean_sentiment": gettext_noop("feedback sentiment %(value)s (-1 to 1), typically %(typical)s"),
    "feedback_count": (
        ngettext_lazy("%(value)s piece of feedback", "%(value)s pieces of feedback", "n"),
        gettext_lazy("a typical customer %(typical)s")),
    "category": gettext_noop("%(attribute)s is %(value)s, most customers: %(typical)s"),
    # Imported attributes (a contract business's tenure, contract, charges ...), by their own name.
    "attribute_level": gettext_noop("%(attribute)s: %(value)s, most customers: %(typical)s"),
    "attribute_number": gettext_noop("%(attribute)s: %(value)s, typically %(typical)s"),
}


def _clause_separator() -> str:
    """Between the clauses of the churn sentence and between its reasons. Chinese joins a
    reason's own figure and the typical customer's with a comma, so the reasons stay apart."""
    return pgettext("between the clauses of a sentence", "; ")


ATTRIBUTE_PREFIX = "attr:"  # analytics.engine.attributes.PREFIX
_ATTRIBUTES = {"channel": gettext_noop("channel"), "region": gettext_noop("region"),
               "gender": gettext_noop("gender")}
# The coded values of those attributes, by their choices' translated labels; regions are names.
_ATTRIBUTE_CHOICES = {"channel": dict(Channel.choices), "gender": dict(Gender.choices)}
# engine.features.feature_label writes a one-hot column "channel=erp" as "channel is erp".
_ONE_HOT_LABEL = re.compile(r"^(\w+) is (.*)$")


def churn_explanation(customer: Customer) -> str:
    """A plain sentence for a customer's churn score: the risk, the probability, the days since
    the last order against their own usual gap, and what pushes the risk up (at-risk customers)
    or keeps it down (low risk), in their own numbers against a typical customer's."""
    if customer.churn_probability is None:
        return _("Not scored yet: the customer has no orders or the analysis has not run.")
    parts = [_("Churn risk %(risk)s (%(p).0f %%)") % {
        "risk": str(customer.get_churn_risk_display() or _("unknown")).lower(),
        "p": customer.churn_probability * 100}]
    gap = usual_gap_days(customer)
    if customer.recency_days is not None:
        if gap:
            ratio = customer.recency_days / gap
            no_order = ngettext("no order for %(days)d day", "no order for %(days)d days",
                                customer.recency_days) % {"days": customer.recency_days}
            parts.append(ngettext(
                "%(no_order)s, about %(ratio).1fx their usual gap of %(gap)d day",
                "%(no_order)s, about %(ratio).1fx their usual gap of %(gap)d days",
                round(gap)) % {"no_order": no_order, "ratio": ratio, "gap": round(gap)})
        else:
            parts.append(ngettext("no order for %(days)d day (only one order so far)",
                                  "no order for %(days)d days (only one order so far)",
                                  customer.recency_days) % {"days": customer.recency_days})
    stored = customer.churn_reasons or []
    reasons = [reason_label(r) for r in stored]
    if reasons:
        protective = all(r.get("direction") == "down" for r in stored)
        template = _("keeps the risk down: %(reasons)s") if protective else _("pushes the risk up: %(reasons)s")
        parts.append(template % {"reasons": _clause_separator().join(reasons)})
    return _clause_separator().join(parts) + pgettext("end of a sentence", ".")


def usual_gap_days(customer: Customer) -> float | None:
    """Mean days between orders, from the first and last order dates and the order count."""
    if not (customer.order_count and customer.order_count > 1 and customer.first_order_at
            and customer.last_order_at):
        return None
    span = (customer.last_order_at - customer.first_order_at).total_seconds() / 86400
    return span / (customer.order_count - 1) or None


# Features that count the days elapsed since something: shown as whole days gone by (32.6 days
# since the last order is "32 days"), as the stored ``recency_days`` score counts them, so a
# reason never says "33 days" beside a headline's "32 days ago".
_ELAPSED_DAYS = frozenset({"recency_days", "tenure_days"})


def _number(value, *, whole: bool = False, elapsed: bool = False) -> str:
    """A figure as staff read it: whole numbers bare, others to one decimal; ``whole`` rounds
    (days are counted, not measured: "33 days", never "32.6 days"); ``elapsed`` counts the whole
    days gone by."""
    if value is None:
        return "?"
    value = float(value)
    if elapsed and math.isfinite(value):
        return f"{math.floor(value):d}"
    if whole or abs(value - round(value)) < 0.05 or abs(value) >= 100:
        return f"{round(value):d}"
    return f"{value:.1f}"


def _phrase_key(feature: str) -> str | None:
    for family, prefix in (("orders_window", "orders_"), ("spend_window", "spend_")):
        if feature.startswith(prefix) and feature.endswith("d") and feature[len(prefix):-1].isdigit():
            return family
    return feature if feature in _PHRASES else None


def reason_label(reason: dict) -> str:
    """One churn reason in the reader's language, in the customer's own numbers against the
    typical customer: "no order for 43 days; a typical customer last ordered 10 days ago"."""
    feature = str(reason.get("feature", ""))
    if "value" not in reason:  # stored before reasons carried values; gone after the next run
        direction = _("high") if reason.get("direction") == "high" else _("low")
        return f"{translate_feature(feature)} ({direction})"
    if feature.startswith(ATTRIBUTE_PREFIX):  # "Contract: Month-to-month; most customers: Two year"
        value, typical = reason.get("value"), reason.get("typical")
        numeric = isinstance(value, (int, float)) and not isinstance(value, bool)
        return gettext(_PHRASES["attribute_number" if numeric else "attribute_level"]) % {
            "attribute": feature[len(ATTRIBUTE_PREFIX):],
            "value": _number(value) if numeric else value,
            "typical": (_number(typical) if numeric else typical) if typical is not None else "?"}
    if feature in _ATTRIBUTES:
        return gettext(_PHRASES["category"]) % {
            "attribute": gettext(_ATTRIBUTES[feature]), "value": reason.get("value"),
            "typical": reason.get("typical") or "?"}
    key = _phrase_key(feature)
    whole, elapsed = feature.endswith("_days"), feature in _ELAPSED_DAYS
    numbers = {"value": _number(reason.get("value"), whole=whole, elapsed=elapsed),
               "typical": _number(reason.get("typical"), whole=whole, elapsed=elapsed)}
    if key is None:
        return f"{translate_feature(FEATURE_LABELS.get(feature, feature))}: {numbers['value']} ({numbers['typical']})"
    if key.endswith("_window"):
        numbers["days"] = feature.split("_")[1][:-1]
    phrase = _PHRASES[key]
    if isinstance(phrase, str):
        return gettext(phrase) % numbers
    own, typical = phrase
    return _("%(own)s, %(typical)s") % {
        "own": own % {**numbers, "n": _plural_count(numbers["value"])},
        "typical": typical % {**numbers, "n": _plural_count(numbers["typical"])}}


def _plural_count(figure: str) -> int:
    """The count a phrase's plural form agrees with: the figure as shown ("1" -> 1, "-3" -> 3).
    A figure with a decimal ("1.5", "0.5") is never one of anything, so it takes the form for 2
    (English says "1.5 days", "0.5 days"); a missing one ("?") too."""
    try:
        return abs(int(figure))
    except ValueError:
        return 2


def feature_name(key: str) -> str:
    """The readable, translated name of a reason's feature key ("recency_days", "channel")."""
    if key in _ATTRIBUTES:
        return gettext(_ATTRIBUTES[key])
    if key.startswith(ATTRIBUTE_PREFIX):  # an imported column: its own name, as imported
        return key[len(ATTRIBUTE_PREFIX):]
    return translate_feature(FEATURE_LABELS.get(key, key))


def translate_feature(name: str) -> str:
    """A stored English feature label in the reader's language (the engine's
    :data:`~analytics.engine.features.FEATURE_LABELS` are in the catalogue); other names as
    they are."""
    if name in _KNOWN_LABELS:
        return gettext(name)
    match = _ONE_HOT_LABEL.match(name)  # "channel is erp", from a one-hot column "channel=erp"
    if match and match.group(1) in _ATTRIBUTES:
        attribute, value = match.groups()
        choices = _ATTRIBUTE_CHOICES.get(attribute, {})
        return gettext("%(attribute)s is %(value)s") % {
            "attribute": gettext(_ATTRIBUTES[attribute]),
            "value": str(choices[value]) if value in choices else value}
    return name
