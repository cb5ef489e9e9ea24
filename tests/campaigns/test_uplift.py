"""The pure statistics: control assignment and uplift, checked against known answers."""
from collections import Counter

import pytest

from campaigns.uplift import GroupOutcome, assign_control, campaign_uplift, control_size


def test_control_is_the_share_of_every_stratum():
    ids = list(range(1, 301))
    strata = ["high"] * 50 + ["medium"] * 100 + ["low"] * 150
    control = assign_control(ids, strata, share=0.1, seed=7)
    by_stratum = Counter(strata[i - 1] for i in control)
    assert by_stratum == {"high": 5, "medium": 10, "low": 15}


def test_rounding_is_half_up_per_stratum():
    assert [control_size(n, 0.1) for n in (4, 5, 14, 15, 0)] == [0, 1, 1, 2, 0]
    control = assign_control([1, 2, 3, 4, 5, 6], ["a"] * 5 + [None], share=0.1, seed=1)
    assert len(control) == 1 and 6 not in control  # 0.5 of "a" rounds up, 0.1 of None rounds down


def test_same_seed_same_control_whatever_the_order():
    ids = list(range(1, 201))
    strata = [("high", "low")[i % 2] for i in ids]
    first = assign_control(ids, strata, share=0.2, seed=42)
    shuffled = list(zip(ids, strata))[::-1]
    again = assign_control([i for i, _ in shuffled], [s for _, s in shuffled], share=0.2, seed=42)
    other_seed = assign_control(ids, strata, share=0.2, seed=43)
    assert first == again
    assert first != other_seed and len(first) == len(other_seed) == 40


def test_share_out_of_range_is_refused():
    with pytest.raises(ValueError):
        assign_control([1], ["a"], share=1.0, seed=0)


def test_newcombe_interval_matches_the_published_example():
    # Newcombe (1998), Table II, example (a): 56/70 vs 48/80, method 10: 0.0524 to 0.3339.
    result = campaign_uplift(treatment=GroupOutcome(members=70, converters=56, revenue=0.0),
                             control=GroupOutcome(members=80, converters=48, revenue=0.0),
                             discount_percent=0, cost_per_contact=0)
    assert result.absolute_uplift == pytest.approx(0.8 - 0.6)
    assert result.absolute_uplift_low == pytest.approx(0.0524, abs=5e-5)
    assert result.absolute_uplift_high == pytest.approx(0.3339, abs=5e-5)
    assert result.relative_uplift == pytest.approx(0.2 / 0.6)
    assert result.ci_method == "newcomb"


def test_revenue_cost_and_roi_worked_by_hand():
    # Treatment: 200 members, 30 bought for 6,000 in all. Control: 50 members, 5 bought for 500.
    # Rates 0.15 and 0.10: uplift 0.05 (5 points), relative 0.5, 10 incremental conversions.
    # Revenue per member 30 vs 10: incremental revenue (30 - 10) x 200 = 4,000.
    # Cost: 10 % discount on 6,000 = 600, plus 2 per contact x 200 = 400; 1,000 in all.
    # ROI = (4,000 - 1,000) / 1,000 = 3.
    result = campaign_uplift(treatment=GroupOutcome(members=200, converters=30, revenue=6000.0),
                             control=GroupOutcome(members=50, converters=5, revenue=500.0),
                             discount_percent=10, cost_per_contact=2)
    assert result.treatment_rate == pytest.approx(0.15)
    assert result.control_rate == pytest.approx(0.10)
    assert result.absolute_uplift == pytest.approx(0.05)
    assert result.relative_uplift == pytest.approx(0.5)
    assert result.incremental_conversions == pytest.approx(10)
    assert result.incremental_revenue == pytest.approx(4000)
    assert result.offer_cost == pytest.approx(600)
    assert result.contact_cost == pytest.approx(400)
    assert result.cost == pytest.approx(1000)
    assert result.roi == pytest.approx(3)
    # A small control group: the interval is wide and straddles 0.
    assert result.absolute_uplift_low < 0 < result.absolute_uplift_high


def test_no_control_conversions_and_no_cost():
    result = campaign_uplift(treatment=GroupOutcome(members=10, converters=2, revenue=100.0),
                             control=GroupOutcome(members=10, converters=0, revenue=0.0),
                             discount_percent=0, cost_per_contact=0)
    assert result.relative_uplift is None and result.roi is None
    assert result.absolute_uplift == pytest.approx(0.2)
    assert -1 <= result.absolute_uplift_low < 0.2 < result.absolute_uplift_high <= 1


def test_empty_control_gives_no_uplift():
    result = campaign_uplift(treatment=GroupOutcome(members=10, converters=2, revenue=100.0),
                             control=GroupOutcome(members=0, converters=0, revenue=0.0),
                             discount_percent=5, cost_per_contact=1)
    assert result.absolute_uplift is None and result.incremental_revenue is None
    assert result.cost == pytest.approx(15)


def test_relative_uplift_interval_is_the_katz_log_interval_worked_by_hand():
    # 56/70 vs 48/80: RR = 0.8 / 0.6; log(RR) +/- 1.959964 * sqrt(1/56 - 1/70 + 1/48 - 1/80).
    import math

    result = campaign_uplift(treatment=GroupOutcome(members=70, converters=56, revenue=0.0),
                             control=GroupOutcome(members=80, converters=48, revenue=0.0),
                             discount_percent=0, cost_per_contact=0)
    half = 1.959964 * math.sqrt(1 / 56 - 1 / 70 + 1 / 48 - 1 / 80)
    ratio = 0.8 / 0.6
    assert result.relative_uplift_low == pytest.approx(ratio * math.exp(-half) - 1, abs=1e-4)
    assert result.relative_uplift_high == pytest.approx(ratio * math.exp(half) - 1, abs=1e-4)
    assert result.relative_uplift_low < result.relative_uplift < result.relative_uplift_high
