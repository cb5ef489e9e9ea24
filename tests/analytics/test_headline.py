"""The customer 360 headline (analytics/headline.py): its rules, and properties that must hold for
every combination of stored fields, in English and Chinese."""
from __future__ import annotations

from decimal import Decimal

import pytest
from django.utils import translation
from hypothesis import given, settings
from hypothesis import strategies as st

from analytics import headline
from customers.models import Customer, Level, LifecycleStage

LEVELS = [level.value for level in Level]
STAGES = [stage.value for stage in LifecycleStage]
# The churn line's wording, per band, in each language (locale/zh_Hans/LC_MESSAGES/django.po).
RISK_WORDS = {"en": {"high": "Churn risk high", "medium": "Churn risk medium", "low": "Churn risk low"},
              "zh-hans": {"high": "流失风险高", "medium": "流失风险中", "low": "流失风险低"}}
SAFE_WORDS = {"en": "nothing to do", "zh-hans": "暂时无需跟进"}
RETENTION_WORDS = {"en": ("retention", "win-back"), "zh-hans": ("挽留", "召回优惠")}


def _no_orders(customer: Customer) -> bool:
    """A prospect: no orders and no churn score (a contract customer scored by the explicit
    churn model without orders has a contract to keep)."""
    scored = customer.churn_risk is not None and customer.churn_probability is not None
    return customer.lifecycle_stage == "prospect" or (not scored and (
        customer.order_count == 0 or (customer.order_count is None and customer.lifecycle_stage is not None)))


def _customer(**fields) -> Customer:
    base = dict(name="Test", status="active", marketing_consent=True, order_count=3, recency_days=40,
                churn_probability=0.2, churn_risk="low", value_tier="medium", value_segment="medium",
                lifecycle_stage="active", clv_12m=Decimal("120.00"), p_alive=0.8)
    return Customer(**{**base, **fields})


customers = st.builds(
    lambda **f: Customer(name="Generated", **f),
    status=st.sampled_from(["active", "churned"]),
    marketing_consent=st.booleans(),
    order_count=st.one_of(st.none(), st.integers(0, 60)),
    recency_days=st.one_of(st.none(), st.integers(0, 2000)),
    churn_probability=st.one_of(st.none(), st.floats(0, 1)),
    churn_risk=st.one_of(st.none(), st.sampled_from(LEVELS)),
    value_tier=st.one_of(st.none(), st.sampled_from(LEVELS)),
    value_segment=st.one_of(st.none(), st.sampled_from(LEVELS)),
    lifecycle_stage=st.one_of(st.none(), st.sampled_from(STAGES)),
    clv_12m=st.one_of(st.none(), st.decimals(0, 100000, places=2)),
    p_alive=st.one_of(st.none(), st.floats(0, 1)),
)


@settings(max_examples=400, deadline=None)
@given(customers)
def test_the_action_never_contradicts_risk_stage_or_consent(customer):
    action = headline.headline_action(customer)
    scored = customer.churn_risk is not None and customer.churn_probability is not None
    prospect = _no_orders(customer)
    if not scored and not prospect and customer.status == "active":
        assert action == headline.NOT_SCORED
        return
    assert action != headline.NOT_SCORED
    # "Nothing to do" only for a low band, an active status and a stage that has not lapsed.
    if action == headline.NOTHING:
        assert customer.churn_risk == "low" and customer.status == "active"
        assert customer.lifecycle_stage not in ("at_risk", "churned", "prospect")
    if customer.churn_risk == "high" or customer.status == "churned":
        assert action != headline.NOTHING
    # Nothing to retain or win back from someone who never ordered.
    if prospect:
        assert action in (headline.WELCOME, headline.NO_CONSENT, headline.LEFT_BEFORE_ORDERING)
    if action in (headline.RETENTION_CALL, headline.RETENTION_OFFER):
        assert customer.churn_risk == "high" and customer.status == "active" and not prospect
    if action == headline.WIN_BACK:
        assert customer.status == "churned" or (customer.churn_risk == "high"
                                                and customer.lifecycle_stage == "churned")
    if action == headline.RETENTION_CALL:
        assert (customer.value_tier or customer.value_segment) == "high"
    # A second-purchase nudge is for someone who has not lapsed, at a band that is not high.
    if action == headline.SECOND_PURCHASE:
        assert customer.churn_risk in ("medium", "low")
        assert customer.lifecycle_stage not in ("at_risk", "churned")
    # No offer of any kind without marketing consent.
    if not customer.marketing_consent:
        assert action not in headline.OUTREACH


@pytest.mark.parametrize("language", ["en", "zh-hans"])
@settings(max_examples=300, deadline=None)
@given(customer=customers)
def test_the_sentence_states_the_stored_band_and_numbers_and_nothing_else(language, customer):
    with translation.override(language):
        text = headline.customer_headline(customer)
        action = headline.headline_action(customer)
        stage = customer.get_lifecycle_stage_display() if customer.lifecycle_stage else None
    assert "\n" not in text and text.count("—") <= 2
    if action == headline.NOT_SCORED:
        assert text.startswith("Not scored yet" if language == "en" else "尚未评分")
        return
    scored = customer.churn_risk is not None and customer.churn_probability is not None
    for band, words in RISK_WORDS[language].items():
        assert (words in text) == (scored and band == customer.churn_risk), (band, text)
    if scored:
        assert f"{customer.churn_probability * 100:.0f} %" in text
    if customer.churn_risk == "high":
        assert SAFE_WORDS[language] not in text
    if action in (headline.WELCOME, headline.NO_CONSENT, headline.LEFT_BEFORE_ORDERING):
        assert not any(word in text for word in RETENTION_WORDS[language]), text
    prospect = _no_orders(customer)
    if stage:
        assert str(stage).lower() in text
    if customer.order_count and not prospect:
        assert f"{customer.order_count} " in text
        if customer.recency_days is not None:
            assert f"{customer.recency_days} " in text


@pytest.mark.parametrize("fields, action, english", [
    (dict(churn_risk="high", churn_probability=0.72, value_tier="high", lifecycle_stage="at_risk",
          order_count=5, recency_days=140),
     headline.RETENTION_CALL,
     "Churn risk high (72 %): a high-value customer in the at risk stage, 5 orders, the last one 140 days "
     "ago — suggested next action: a personal retention call from their account owner."),
    (dict(churn_risk="high", churn_probability=0.9, value_tier="low", lifecycle_stage="churned"),
     headline.WIN_BACK, None),
    (dict(churn_risk="high", churn_probability=0.6, value_tier="medium", lifecycle_stage="active"),
     headline.RETENTION_OFFER, None),
    (dict(status="churned", churn_risk="low", churn_probability=0.1, lifecycle_stage="churned"),
     headline.WIN_BACK, None),
    (dict(churn_risk="medium", churn_probability=0.4, order_count=1, lifecycle_stage="new", recency_days=12),
     headline.SECOND_PURCHASE,
     "Churn risk medium (40 %): a medium-value customer in the new stage, 1 order, placed 12 days ago — "
     "suggested next action: a nudge towards a second purchase."),
    (dict(churn_risk="low", churn_probability=0.08), headline.NOTHING, None),
    # A contract customer scored without orders (explicit churn label): the band decides.
    (dict(churn_risk="high", churn_probability=0.7, order_count=0, recency_days=None, value_tier=None,
          value_segment=None, lifecycle_stage="at_risk"),
     headline.RETENTION_OFFER,
     "Churn risk high (70 %): a customer in the at risk stage — suggested next action: a retention "
     "offer before they lapse."),
    (dict(churn_risk="low", churn_probability=0.1, order_count=0, recency_days=None, value_tier=None,
          value_segment=None, lifecycle_stage="active"), headline.NOTHING, None),
    (dict(churn_risk="low", churn_probability=0.08, lifecycle_stage="at_risk"), headline.CHECK_IN, None),
    (dict(churn_risk="high", churn_probability=0.8, value_tier="high", marketing_consent=False),
     headline.NO_CONSENT, None),
    (dict(lifecycle_stage="prospect", order_count=0, churn_risk=None, churn_probability=None,
          value_tier=None, value_segment=None, recency_days=None),
     headline.WELCOME,
     "A prospect with no orders yet — suggested next action: a welcome offer for a first purchase."),
    # Explicitly churned before ever ordering (the churn model leaves them unscored).
    (dict(status="churned", lifecycle_stage="churned", order_count=None, churn_risk=None,
          churn_probability=None, value_tier=None, value_segment=None, recency_days=None),
     headline.LEFT_BEFORE_ORDERING,
     "A customer in the churned stage with no orders yet — suggested next action: no offer, as they are "
     "marked as churned and have never ordered."),
    # Explicitly churned, with orders: a win-back offer even before the churn model has run.
    (dict(status="churned", lifecycle_stage=None, churn_risk=None, churn_probability=None, value_tier=None,
          value_segment=None, order_count=4, recency_days=300),
     headline.WIN_BACK,
     "A customer, marked as churned, 4 orders, the last one 300 days ago — suggested next action: a "
     "win-back offer."),
    # A one-order customer whose stage has lapsed gets a check-in, not a second-purchase nudge.
    (dict(churn_risk="medium", churn_probability=0.53, order_count=1, lifecycle_stage="churned"),
     headline.CHECK_IN, None),
    (dict(lifecycle_stage=None, churn_risk=None, churn_probability=None, value_tier=None,
          value_segment=None, order_count=None, recency_days=None),
     headline.NOT_SCORED,
     "Not scored yet: they have no orders, or the analysis has not run since their latest data, so there "
     "is no suggestion until it has."),
])
def test_rules_on_typical_customers(fields, action, english):
    customer = _customer(**fields)
    assert headline.headline_action(customer) == action
    if english:
        with translation.override("en"):
            assert headline.customer_headline(customer) == english


def test_chinese_sentence_reads_naturally():
    customer = _customer(churn_risk="high", churn_probability=0.72, value_tier="high", lifecycle_stage="active",
                         order_count=2, recency_days=140)
    with translation.override("zh-hans"):
        text = headline.customer_headline(customer)
    assert text == ("流失风险高（72 %）：处于“活跃”阶段的高价值客户，共 2 笔订单，最近一笔在 140 天前"
                    "——建议下一步：由客户负责人亲自致电挽留。")
