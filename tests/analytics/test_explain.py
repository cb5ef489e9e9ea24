"""Churn reasons in words: the customer's own figures against the typical customer's."""
from django.utils import translation

from analytics.explain import reason_label


def test_days_are_whole_and_other_figures_keep_one_decimal():
    with translation.override("en"):
        assert reason_label({"feature": "recency_days", "value": 32.6, "typical": 121.7,
                             "direction": "up", "contribution": 0.4}) == (
            "no order for 33 days; a typical customer last ordered 122 days ago")
        text = reason_label({"feature": "orders_365d", "value": 2.5, "typical": 4,
                             "direction": "up", "contribution": 0.2})
        assert "2.5" in text and "365" in text
