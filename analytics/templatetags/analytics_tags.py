"""Template filters that put scores into words, for pages of other apps (the customer 360)."""
from __future__ import annotations

from django import template

from .. import explain, headline

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
