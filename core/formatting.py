"""Numbers as staff read them: money with the currency, counts with thousands separators and no
decimals, in the active language's conventions.

One place for every page (templates use the filters in core/templatetags/units.py), so the
dashboard, the customer list and page and the analytics pages show 26,330 the same way. The
conventions come from the Unicode CLDR through Babel (https://babel.pocoo.org/en/latest/numbers.html):
``format_currency(26330, "CNY", locale="zh_Hans")`` is ``¥26,330.00``, in English ``CN¥26,330.00``.
Exports are not formatted: they keep raw numbers and name the currency in the column header.
"""
from __future__ import annotations

import math
from decimal import Decimal
from functools import lru_cache

from babel import Locale
from babel.numbers import format_currency, format_decimal
from django.conf import settings
from django.utils import translation

EMPTY = "—"


@lru_cache(maxsize=16)
def babel_locale(language: str | None) -> Locale:
    """Django's language code (``zh-hans``) as a Babel locale (``zh_Hans``); English otherwise."""
    try:
        return Locale.parse(translation.to_locale(language or settings.LANGUAGE_CODE))
    except (ValueError, LookupError):
        return Locale.parse("en")


def _locale() -> Locale:
    return babel_locale(translation.get_language())


def _number(value) -> float | Decimal | None:
    if value is None or value == "":
        return None
    try:
        number = value if isinstance(value, Decimal) else float(value)
    except (TypeError, ValueError):
        return None
    if isinstance(number, float) and not math.isfinite(number):
        return None
    return number


def currency_code() -> str:
    return settings.CURRENCY


def money(value, *, decimals: bool = True) -> str:
    """``26330`` -> ``CN¥26,330.00`` (English) or ``¥26,330.00`` (Chinese); ``—`` for none.

    ``decimals=False`` rounds to whole units for large figures (KPIs, totals)."""
    number = _number(value)
    if number is None:
        return EMPTY
    if decimals:
        return format_currency(number, currency_code(), locale=_locale())
    return format_currency(round(number), currency_code(), locale=_locale(),
                           format_type="standard", currency_digits=False,
                           decimal_quantization=True, format="¤#,##0")


def count(value) -> str:
    """A count: ``2000`` -> ``2,000``; never decimals (``3.000`` -> ``3``); ``—`` for none."""
    number = _number(value)
    if number is None:
        return EMPTY
    return format_decimal(round(number), locale=_locale())


def decimal(value, digits: int = 2) -> str:
    """A measurement with a fixed number of decimals and grouping: ``2158.5`` -> ``2,158.50``."""
    number = _number(value)
    if number is None:
        return EMPTY
    pattern = "#,##0" + ("." + "0" * digits if digits > 0 else "")
    return format_decimal(number, format=pattern, locale=_locale(), decimal_quantization=True)


def significant(value: float | None, digits: int = 4) -> float | None:
    """Round to ``digits`` significant digits for exports: 0.6129337263893438 -> 0.6129."""
    if value is None or isinstance(value, bool):
        return value
    if not isinstance(value, float) or value == 0 or not math.isfinite(value):
        return value
    return round(value, digits - 1 - math.floor(math.log10(abs(value))))
