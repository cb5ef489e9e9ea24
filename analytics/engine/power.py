"""How small an uplift a campaign can detect before it is launched: pure statistics, no Django.

A campaign measures the difference of two conversion rates (treated against control, see
``campaigns/uplift.py``). Before launch the question is whether the control group is big enough
for that difference to be told apart from chance. The minimum detectable effect (MDE) answers
it: the smallest rise in the conversion rate that a two-sided test at ``alpha`` would find with
probability ``power``.

Method: the normal approximation for two independent proportions on Cohen's arcsine scale,
``h = 2 asin(sqrt(p1)) - 2 asin(sqrt(p0))`` (Cohen 1988, "Statistical Power Analysis for the
Behavioral Sciences", ch. 6), solved for ``h`` with statsmodels' ``NormalIndPower`` (the
inverse of ``statsmodels.stats.proportion.proportion_effectsize``) and turned back into a rate
``p1 = sin(asin(sqrt(p0)) + h / 2) ** 2``. The MDE is ``p1 - p0``, reported in percentage points.
By hand, ignoring the far tail: ``h = (z_{1-alpha/2} + z_{power}) * sqrt(1/n_treated + 1/n_control)``.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from math import asin, floor, pi, sin, sqrt

from statsmodels.stats.power import NormalIndPower

ALPHA = 0.05
POWER = 0.80
# Control shares tried when suggesting one: whole percent from 1 % to 50 %. Past 50 % the
# control group outgrows the treated one and the MDE rises again, so a larger share never helps.
SUGGESTED_SHARES = tuple(s / 100 for s in range(1, 51))


def _control_size(n: int, share: float) -> int:
    # The same rounding as campaigns.uplift.control_size (half up); duplicated because the
    # engine imports nothing of the project.
    return floor(n * share + 0.5)


def mde_for_groups(*, treated: int, control: int, baseline: float, alpha: float = ALPHA,
                   power: float = POWER) -> float | None:
    """Smallest rise of the conversion rate (a fraction, 0.03 = 3 points) detectable with these
    group sizes, or None when no rise up to a rate of 100 % is detectable (or a group is empty)."""
    if treated < 1 or control < 1 or not 0 <= baseline < 1:
        return None
    h = NormalIndPower().solve_power(effect_size=None, nobs1=treated, alpha=alpha, power=power,
                                     ratio=control / treated, alternative="two-sided")
    angle = asin(sqrt(baseline)) + float(h) / 2
    if angle >= pi / 2:
        return None
    return sin(angle) ** 2 - baseline


def power_for_groups(*, treated: int, control: int, baseline: float, uplift: float,
                     alpha: float = ALPHA) -> float:
    """Probability that a two-sided test at ``alpha`` detects a true rise of ``uplift``."""
    if treated < 1 or control < 1:
        return 0.0
    target = min(baseline + uplift, 1.0)
    h = 2 * asin(sqrt(target)) - 2 * asin(sqrt(baseline))
    return float(NormalIndPower().power(effect_size=h, nobs1=treated, alpha=alpha,
                                        ratio=control / treated, alternative="two-sided"))


@dataclass(frozen=True)
class PowerCheck:
    audience: int
    control_share: float
    treated: int
    control: int
    baseline_conversion: float | None
    mde: float | None  # fraction; None: nothing detectable (or no baseline)
    typical_uplift: float | None
    warning: bool  # the MDE is larger than the uplift the objective usually gets
    suggested_control_share: float | None  # smallest share that detects the typical uplift
    detectable_with_some_share: bool
    alpha: float = ALPHA
    power: float = POWER

    def as_dict(self) -> dict:
        data = asdict(self)
        # Percentage points for people and for the JSON; the fractions stay for code.
        data["mde_pp"] = None if self.mde is None else round(self.mde * 100, 2)
        data["typical_uplift_pp"] = (None if self.typical_uplift is None
                                     else round(self.typical_uplift * 100, 2))
        return data


def suggest_control_share(*, audience: int, baseline: float, uplift: float,
                          alpha: float = ALPHA, power: float = POWER) -> float | None:
    """The smallest control share (whole percent, at most 50 %) at which the campaign detects a
    rise of ``uplift`` with ``power``; None when no share can with this audience."""
    if uplift <= 0 or audience < 2:
        return None
    for share in SUGGESTED_SHARES:
        control = _control_size(audience, share)
        if power_for_groups(treated=audience - control, control=control, baseline=baseline,
                            uplift=uplift, alpha=alpha) >= power:
            return share
    return None


def power_check(*, audience: int, control_share: float, baseline: float | None,
                typical_uplift: float | None, alpha: float = ALPHA,
                power: float = POWER) -> PowerCheck:
    """The MDE of a campaign of ``audience`` customers holding out ``control_share``, compared
    with the uplift its objective usually gets (``typical_uplift``, a fraction)."""
    control = _control_size(audience, control_share)
    treated = audience - control
    mde = suggested = None
    detectable = False
    if baseline is not None:
        mde = mde_for_groups(treated=treated, control=control, baseline=baseline, alpha=alpha,
                             power=power)
        if typical_uplift is not None:
            suggested = suggest_control_share(audience=audience, baseline=baseline,
                                              uplift=typical_uplift, alpha=alpha, power=power)
            detectable = suggested is not None
    warning = (baseline is not None and typical_uplift is not None
               and (mde is None or mde > typical_uplift))
    return PowerCheck(audience=audience, control_share=control_share, treated=treated,
                      control=control, baseline_conversion=baseline, mde=mde,
                      typical_uplift=typical_uplift, warning=warning,
                      suggested_control_share=suggested if warning else None,
                      detectable_with_some_share=detectable, alpha=alpha, power=power)
