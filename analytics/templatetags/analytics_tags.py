"""Template filters that put scores into words, for pages of other apps (the customer 360)."""
from __future__ import annotations

import re

from django import template
from django.utils.translation import gettext, gettext_noop, ngettext

from .. import cards, explain, headline

register = template.Library()


@register.filter
def churn_explanation(customer) -> str:
    return explain.churn_explanation(customer)


@register.filter
def usual_gap_days(customer) -> float | None:
    return explain.usual_gap_days(customer)


@register.filter
def translate_feature(name: str) -> str:
    return explain.translate_feature(name)


@register.filter
def customer_headline(customer) -> str:
    return headline.customer_headline(customer)


# The segment rules are written by the engine (analytics/engine/segments.py, no Django) in
# English and stored as text; each condition has one of these shapes, translated here for the
# page. Order and day counts are whole numbers (the engine rounds them, "1,200" with a thousands
# separator), so they choose the plural form: "at most 1 order". A rule of another shape is shown
# as stored.
_RULE = re.compile(r"^(high|medium|low) value: (.+)$")
_CONDITIONS = (
    (re.compile(r"^more than ([\d,]+) orders$"),
     lambda n: ngettext("more than %(n)s order", "more than %(n)s orders", n)),
    (re.compile(r"^at most ([\d,]+) orders$"),
     lambda n: ngettext("at most %(n)s order", "at most %(n)s orders", n)),
    (re.compile(r"^last order more than ([\d,]+) days ago$"),
     lambda n: ngettext("last order more than %(n)s day ago", "last order more than %(n)s days ago", n)),
    (re.compile(r"^ordered within the last ([\d,]+) days$"),
     lambda n: ngettext("ordered within the last %(n)s day", "ordered within the last %(n)s days", n)),
    (re.compile(r"^more than ([\d,.]+) spent$"), lambda n: gettext("more than %(n)s spent")),
    (re.compile(r"^at most ([\d,.]+) spent$"), lambda n: gettext("at most %(n)s spent")),
)
_LEVELS = {"high": gettext_noop("High value"), "medium": gettext_noop("Medium value"),
           "low": gettext_noop("Low value")}


def _count(text: str) -> int:
    """"1,200" -> 1200; an amount of money ("95.50") is not a count and gives 0."""
    digits = text.replace(",", "")
    return int(digits) if digits.isdigit() else 0


@register.filter
def segment_rule(rule: str) -> str:
    """"high value: more than 95 spent and at most 3 orders" in the reader's language."""
    match = _RULE.match(rule or "")
    if not match:
        return rule
    conditions = []
    for part in match.group(2).split(" and "):
        for pattern, message in _CONDITIONS:
            found = pattern.match(part.strip())
            if found:
                conditions.append(message(_count(found.group(1))) % {"n": found.group(1)})
                break
        else:
            return rule
    return gettext("%(segment)s: %(conditions)s") % {
        "segment": gettext(_LEVELS[match.group(1)]),
        "conditions": gettext("; ").join(conditions)}


@register.filter
def model_name(code: str) -> str:
    return cards.model_name(code)


@register.filter
def card_note(note: str) -> str:
    return cards.card_note(note)


@register.filter
def stage_label(stage: str) -> str:
    return cards.stage_label(stage)


@register.filter
def timing_label(key: str) -> str:
    return cards.timing_label(key)


@register.filter
def count_label(key: str) -> str:
    return cards.count_label(key)


@register.filter
def card_title(key: str) -> str:
    return cards.card_title(key)


@register.filter
def satisfaction_label(code: str) -> str:
    return cards.satisfaction_label(code)
