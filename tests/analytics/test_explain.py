"""Churn reasons in words: the customer's own figures against the typical customer's."""
import math
import re

from django.utils import translation
from hypothesis import given
from hypothesis import strategies as st

from analytics.explain import reason_label


def test_days_are_whole_and_other_figures_keep_one_decimal():
    with translation.override("en"):
        assert reason_label({"feature": "recency_days", "value": 32.6, "typical": 121.7,
                             "direction": "up", "contribution": 0.4}) == (
            "no order for 32 days, a typical customer last ordered 121 days ago")
        assert reason_label({"feature": "mean_gap_days", "value": 32.6, "typical": 121.7}) == (
            "orders every 33 days on average, customers typically order every 122 days")
        text = reason_label({"feature": "orders_365d", "value": 2.5, "typical": 4,
                             "direction": "up", "contribution": 0.2})
        assert "2.5" in text and "365" in text


def test_counted_phrases_agree_with_each_figure():
    """"1 order so far", "1 day": each half of a reason agrees with its own figure; a figure with
    a decimal takes the plural; Chinese has one form."""
    with translation.override("en"):
        assert reason_label({"feature": "frequency", "value": 1, "typical": 6}) == (
            "1 order so far, a typical customer has 6")
        assert reason_label({"feature": "recency_days", "value": 1.2, "typical": 1}) == (
            "no order for 1 day, a typical customer last ordered 1 day ago")
        assert reason_label({"feature": "mean_gap_days", "value": 2, "typical": 1}) == (
            "orders every 2 days on average, customers typically order every 1 day")
        assert reason_label({"feature": "feedback_count", "value": 1.5, "typical": 1}) == (
            "1.5 pieces of feedback, a typical customer 1")
        assert reason_label({"feature": "orders_90d", "value": 1, "typical": 2.5}) == (
            "1 order in the last 90 days, a typical customer 2.5")
    with translation.override("zh-hans"):
        assert reason_label({"feature": "frequency", "value": 1, "typical": 6}) == (
            "至今共下单 1 次，一般客户为 6 次")
        assert reason_label({"feature": "recency_days", "value": 1, "typical": 43}) == (
            "已 1 天未下单，一般客户最近一次下单在 43 天前")


def test_the_chinese_churn_sentence_keeps_its_reasons_apart():
    """A reason's two halves are joined by a comma and the reasons by a semicolon (full-width in
    Chinese), so the reader sees where one reason ends; the sentence ends with a Chinese full stop."""
    from analytics.explain import churn_explanation
    from customers.models import Customer

    customer = Customer(churn_probability=0.63, churn_risk="high", recency_days=87, order_count=1,
                        churn_reasons=[{"feature": "spend_365d", "value": 3.3, "typical": 41.6, "direction": "up"},
                                       {"feature": "frequency", "value": 1, "typical": 6, "direction": "up"}])
    with translation.override("zh-hans"):
        sentence = churn_explanation(customer)
    assert sentence.endswith("近 365 天消费 3.3，一般客户为 41.6；至今共下单 1 次，一般客户为 6 次。"), sentence
    assert "; " not in sentence
    with translation.override("en"):
        assert churn_explanation(customer).endswith(
            "pushes the risk up: spent 3.3 in the last 365 days, a typical customer 41.6; "
            "1 order so far, a typical customer has 6.")


@given(days=st.floats(min_value=0, max_value=20_000, allow_nan=False),
       typical=st.floats(min_value=0, max_value=20_000, allow_nan=False))
def test_a_recency_reason_counts_the_days_the_stored_score_counts(days, typical):
    """The stored ``recency_days`` is the whole days gone by since the last order (the
    pipeline floors it) and the headline and list show it; the churn reason beside them reads
    the same float from the features, so it must show the same whole number of days."""
    with translation.override("en"):
        text = reason_label({"feature": "recency_days", "value": days, "typical": typical})
    own, other = (int(n) for n in re.findall(r"\d+", text))
    assert (own, other) == (math.floor(days), math.floor(typical))
