"""``{% load units %}``: money, counts and decimals in the active language (core/formatting.py)."""
from __future__ import annotations

from django import template

from core import formatting

register = template.Library()


@register.filter
def money(value) -> str:
    return formatting.money(value)


@register.filter
def money0(value) -> str:
    """Money in whole units, for headline figures."""
    return formatting.money(value, decimals=False)


@register.filter
def count(value) -> str:
    return formatting.count(value)


@register.filter
def decimal(value, digits: int = 2) -> str:
    return formatting.decimal(value, int(digits))


@register.simple_tag
def currency_code() -> str:
    return formatting.currency_code()
