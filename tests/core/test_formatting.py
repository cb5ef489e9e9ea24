"""Money, counts and decimals in both languages (core/formatting.py), the CURRENCY setting and
the customer export's raw numbers."""
from __future__ import annotations

import csv
import io
from decimal import Decimal

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.utils import translation

from core import formatting
from crm_site.env import env, to_currency


@pytest.mark.parametrize(("language", "expected"), [("en", "CN¥26,330.50"), ("zh-hans", "¥26,330.50")])
def test_money_carries_the_currency_in_the_language(language, expected):
    with translation.override(language):
        assert formatting.money(Decimal("26330.5")) == expected
        assert formatting.money(None) == "—"


def test_money_follows_the_currency_setting(settings):
    settings.CURRENCY = "USD"
    with translation.override("en"):
        assert formatting.money(92) == "$92.00"
        assert formatting.money(26330.4, decimals=False) == "$26,330"
    with translation.override("zh-hans"):
        assert formatting.money(92) == "US$92.00"


def test_counts_have_separators_and_never_decimals():
    for language in ("en", "zh-hans"):
        with translation.override(language):
            assert formatting.count(2000) == "2,000"
            assert formatting.count(3.0) == "3"
            assert formatting.count(2158.0) == "2,158"
            assert formatting.count(None) == "—"
            assert formatting.decimal(2158.456, 1) == "2,158.5"


def test_significant_digits_for_exports():
    assert formatting.significant(0.6129337263893438) == 0.6129
    assert formatting.significant(0.000123456) == 0.0001235
    assert formatting.significant(None) is None
    assert formatting.significant(3) == 3


def test_the_currency_setting_is_checked(monkeypatch):
    monkeypatch.setenv("CURRENCY", "usd")
    assert env("CURRENCY", "CNY", to_currency) == "USD"
    monkeypatch.setenv("CURRENCY", "XXQ")
    with pytest.raises(ImproperlyConfigured, match="CURRENCY"):
        env("CURRENCY", "CNY", to_currency)


@pytest.mark.django_db
def test_the_export_keeps_raw_numbers_and_names_the_currency(client, role_user):
    from tests.pages.ui_data import scored_world

    scored_world(3)
    from customers.models import Customer

    Customer.objects.update(churn_probability=0.6129337263893438)
    client.force_login(role_user("Manager"))
    body = b"".join(client.get("/customers/export.csv").streaming_content).decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(body)))
    assert "total_spent_CNY" in rows[0] and "clv_12m_CNY" in rows[0] and "total_spent" not in rows[0]
    assert {row["churn_probability"] for row in rows} == {"0.6129"}
