"""Control groups and campaign uplift: pure statistics, no Django.

Control assignment is stratified: within every stratum (the value segment) the same share of
customers is held out, so treatment and control have the same mix of high- and low-value
customers and the comparison is not skewed by chance on a small audience.

The confidence interval of the difference of two conversion rates is Newcombe's hybrid score
interval (Newcombe 1998, "Interval estimation for the difference between independent
proportions", Statistics in Medicine 17:873-890, method 10), built from the two Wilson intervals.
Unlike the Wald interval it stays inside [-1, 1] and keeps its coverage when a rate is near 0 or
the groups are small, which is the usual case for a control group. Computed by statsmodels'
``confint_proportions_2indep(method="newcomb")``.
"""
from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import asdict, dataclass
from math import floor

import numpy as np
from statsmodels.stats.proportion import confint_proportions_2indep

CI_METHOD = "newcomb"
CI_LEVEL = 0.95


# Katz et al. (1978): log(RR) +/- z * sqrt(1/a - 1/n1 + 1/c - 1/n0).
RELATIVE_CI_METHOD = "log"


def control_size(n: int, share: float) -> int:
    """Members of a stratum of ``n`` held out: ``share * n`` rounded half up."""
    return int(floor(n * share + 0.5))


def assign_control(ids: Sequence[int], strata: Sequence[Hashable], *, share: float,
                   seed: int) -> set[int]:
    """Return the ids held out as control: ``share`` of each stratum, drawn at random.

    Reproducible: the same ids, strata, share and seed give the same control group whatever
    order the ids come in (they are sorted first, strata are visited in sorted order).
    """
    if not 0 <= share < 1:
        raise ValueError("share must be in [0, 1)")
    if len(ids) != len(strata):
        raise ValueError("ids and strata must have the same length")
    by_stratum: dict[str, list[int]] = {}
    for member_id, stratum in zip(ids, strata):
        by_stratum.setdefault("" if stratum is None else str(stratum), []).append(int(member_id))
    rng = np.random.default_rng(seed)
    control: set[int] = set()
    for stratum in sorted(by_stratum):
        members = np.array(sorted(by_stratum[stratum]), dtype=np.int64)
        size = control_size(len(members), share)
        if size:
            control.update(int(i) for i in rng.choice(members, size=size, replace=False))
    return control


@dataclass(frozen=True)
class GroupOutcome:
    members: int
    converters: int
    revenue: float  # completed orders in the window; only converters contribute

    @property
    def conversion_rate(self) -> float | None:
        return self.converters / self.members if self.members else None

    @property
    def revenue_per_member(self) -> float | None:
        return self.revenue / self.members if self.members else None


@dataclass(frozen=True)
class Uplift:
    treatment_members: int
    treatment_converters: int
    treatment_rate: float | None
    treatment_revenue: float
    control_members: int
    control_converters: int
    control_rate: float | None
    control_revenue: float
    absolute_uplift: float | None
    absolute_uplift_low: float | None
    absolute_uplift_high: float | None
    relative_uplift: float | None
    incremental_conversions: float | None
    incremental_revenue: float | None
    offer_cost: float
    contact_cost: float
    cost: float
    roi: float | None
    ci_method: str = CI_METHOD
    ci_level: float = CI_LEVEL
    # Relative uplift = rate ratio - 1; its interval is the Katz log interval of the ratio.
    relative_uplift_low: float | None = None
    relative_uplift_high: float | None = None
    relative_ci_method: str = RELATIVE_CI_METHOD

    def as_dict(self) -> dict:
        return asdict(self)


def campaign_uplift(*, treatment: GroupOutcome, control: GroupOutcome, discount_percent: float,
                    cost_per_contact: float) -> Uplift:
    """Uplift of the treated group over the control group, with its cost and return.

    - absolute uplift: treatment rate - control rate, with the Newcombe 95 % interval;
    - relative uplift: absolute uplift / control rate (None when the control rate is 0);
    - incremental revenue: (revenue per treated member - revenue per control member)
      x treated members, i.e. what the treated group earned beyond what it would have without
      the campaign;
    - cost: the discount given away (discount % of the treated converters' revenue) plus
      the per-contact cost of every treated member;
    - ROI: (incremental revenue - cost) / cost (None when nothing was spent).
    """
    t_rate, c_rate = treatment.conversion_rate, control.conversion_rate
    absolute = low = high = relative = incr_conv = incr_rev = rel_low = rel_high = None
    if t_rate is not None and c_rate is not None:
        absolute = t_rate - c_rate
        low, high = confint_proportions_2indep(
            treatment.converters, treatment.members, control.converters, control.members,
            method=CI_METHOD, compare="diff", alpha=1 - CI_LEVEL)
        low, high = float(low), float(high)
        relative = absolute / c_rate if c_rate > 0 else None
        if control.converters > 0 and treatment.converters > 0:
            ratio_low, ratio_high = confint_proportions_2indep(
                treatment.converters, treatment.members, control.converters, control.members,
                method=RELATIVE_CI_METHOD, compare="ratio", alpha=1 - CI_LEVEL)
            rel_low, rel_high = float(ratio_low) - 1, float(ratio_high) - 1
        incr_conv = absolute * treatment.members
        incr_rev = (treatment.revenue_per_member - control.revenue_per_member) * treatment.members
    offer_cost = discount_percent / 100 * treatment.revenue
    contact_cost = cost_per_contact * treatment.members
    cost = offer_cost + contact_cost
    roi = (incr_rev - cost) / cost if incr_rev is not None and cost > 0 else None
    return Uplift(
        treatment_members=treatment.members, treatment_converters=treatment.converters,
        treatment_rate=t_rate, treatment_revenue=treatment.revenue,
        control_members=control.members, control_converters=control.converters,
        control_rate=c_rate, control_revenue=control.revenue,
        absolute_uplift=absolute, absolute_uplift_low=low, absolute_uplift_high=high,
        relative_uplift=relative, incremental_conversions=incr_conv, incremental_revenue=incr_rev,
        offer_cost=offer_cost, contact_cost=contact_cost, cost=cost, roi=roi,
        relative_uplift_low=rel_low, relative_uplift_high=rel_high,
    )
