"""Gamma-Gamma: how much a customer spends per purchase.

Gamma-Gamma -- Fader & Hardie (2013), "The Gamma-Gamma model of monetary value" (note). The
values of one customer's purchases are Gamma(p, nu) around that customer's mean, and
nu ~ Gamma(q, gamma) across customers. It assumes spend is independent of purchase frequency;
:func:`analytics.engine.clv.clv_evaluate` reports the observed correlation so a reader can judge
that assumption.

Inputs are the (frequency, monetary_value) columns of :func:`analytics.engine.clv.clv_summary`:
``monetary_value`` is the mean value of the repeat purchase days, as in the paper.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import optimize
from scipy.special import digamma, gammaln

from .clv_mle import _LOG_BOUND, _OPTIMIZER_OPTIONS, InsufficientDataError, _check_not_degenerate

# Below this count the three Gamma-Gamma parameters are not identified well enough to be worth
# reporting; callers get an explicit error or the documented fallback (the mean purchase value,
# see :func:`analytics.engine.clv.clv_score`).
MIN_REPEATERS_FOR_GAMMA_GAMMA = 10


@dataclass(frozen=True)
class GammaGammaParams:
    """Maximum likelihood Gamma-Gamma parameters (Fader & Hardie 2013 notation; ``gamma`` is the
    scale of the Gamma prior on nu)."""

    p: float
    q: float
    gamma: float
    log_likelihood: float
    n_customers: int

    @property
    def population_mean_spend(self) -> float:
        """E[Z] = p * gamma / (q - 1): the spend per purchase expected of an unseen customer."""
        return self.p * self.gamma / (self.q - 1)

    def as_dict(self) -> dict[str, float]:
        return {"p": self.p, "q": self.q, "gamma": self.gamma,
                "log_likelihood": self.log_likelihood, "n_customers": self.n_customers}


def _gg_negll_grad(log_params: np.ndarray, x: np.ndarray, z: np.ndarray) -> tuple[float, np.ndarray]:
    """Mean negative log-likelihood of zbar given x (Fader & Hardie 2013, marginal density of zbar):

    ln f = lnG(px+q) - lnG(px) - lnG(q) + q ln(gamma) + (px-1) ln(zbar) + px ln(x)
           - (px+q) ln(gamma + x zbar)
    """
    p, q, g = np.exp(log_params)
    px = p * x
    ln_gxz = np.log(g + x * z)
    ln_z = np.log(z)
    ln_x = np.log(x)
    ll = (gammaln(px + q) - gammaln(px) - gammaln(q) + q * np.log(g) + (px - 1) * ln_z
          + px * ln_x - (px + q) * ln_gxz)
    psi_pxq = digamma(px + q)
    g_p = np.sum(x * (psi_pxq - digamma(px) + ln_z + ln_x - ln_gxz))
    g_q = np.sum(psi_pxq - digamma(q) + np.log(g) - ln_gxz)
    g_g = np.sum(q / g - (px + q) / (g + x * z))
    n = len(x)
    return -float(ll.sum()) / n, -np.array([g_p * p, g_q * q, g_g * g]) / n


def gamma_gamma_fit(summary: pd.DataFrame) -> GammaGammaParams:
    """Maximum likelihood Gamma-Gamma fit on customers with a repeat purchase and positive spend.

    Customers with ``frequency == 0`` carry no spend information under the model (monetary_value
    covers repeat purchases only); non-positive means (refunds) are outside the model's support.
    """
    mask = (summary["frequency"] > 0) & (summary["monetary_value"] > 0)
    if int(mask.sum()) < MIN_REPEATERS_FOR_GAMMA_GAMMA:
        raise InsufficientDataError(
            f"Gamma-Gamma needs at least {MIN_REPEATERS_FOR_GAMMA_GAMMA} repeat buyers with spend")
    x = summary.loc[mask, "frequency"].to_numpy(dtype="float64")
    z = summary.loc[mask, "monetary_value"].to_numpy(dtype="float64")
    # Start with q = 2 (finite mean) and p*gamma/(q-1) equal to the observed mean spend.
    start = np.log([1.0, 2.0, max(float(z.mean()), 1e-6)])
    res = optimize.minimize(_gg_negll_grad, start, args=(x, z), jac=True, method="L-BFGS-B",
                            bounds=[(-_LOG_BOUND, _LOG_BOUND)] * 3, options=_OPTIMIZER_OPTIONS)
    _check_not_degenerate("Gamma-Gamma", ("p", "q", "gamma"), res)
    p, q, g = np.exp(res.x)
    return GammaGammaParams(p=float(p), q=float(q), gamma=float(g),
                            log_likelihood=float(-res.fun * len(x)), n_customers=len(x))


def gamma_gamma_expected_spend(params: GammaGammaParams, summary: pd.DataFrame) -> pd.Series:
    """E[Z | zbar, x] = (gamma + x zbar) p / (p x + q - 1) (Fader & Hardie 2013).

    A weighted average of the population mean p*gamma/(q-1) and the customer's own zbar, with
    the customer's weight growing with x. Customers without repeats get the population mean.
    Requires q > 1; with q <= 1 the spend distribution has no mean and we refuse.
    """
    if params.q <= 1:
        raise ValueError("Gamma-Gamma q <= 1: expected spend is undefined")
    x = summary["frequency"].to_numpy(dtype="float64")
    z = np.where(x > 0, summary["monetary_value"].to_numpy(dtype="float64"), 0.0)
    values = (params.gamma + x * z) * params.p / (params.p * x + params.q - 1)
    return pd.Series(values, index=summary.index, name="expected_avg_spend")
