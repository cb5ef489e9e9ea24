"""MBG/NBD: BG/NBD with a chance to drop out right after the first purchase as well.

Modified BG/NBD -- Batislam, Denizel & Filiztekin (2007), "Empirical validation and comparison of
models for customer base analysis", International Journal of Research in Marketing 24(3); the
conditional expectation as corrected by Wagner & Hoppe (2008, "Erratum on the MBG/NBD model").
As in BG/NBD (:mod:`.clv_bgnbd`) a customer buys as a Poisson process with rate
lambda ~ Gamma(r, alpha) while alive and drops out with probability p ~ Beta(a, b) -- but the
dropout chances come at *every* purchase, the first (time 0) included, not only after repeats.

Why it is here: under BG/NBD a customer who never came back cannot have dropped out, so their
P(alive) is exactly 1 whatever the silence. Under MBG/NBD the same silence lowers P(alive).

Derivation (the model's individual-level likelihood, then integrated over the two priors).
A customer with x repeat purchases, the last at t_x, observed until T, either

* survived all x + 1 dropout chances and made no purchase in (t_x, T]:
  (1-p)^(x+1) lambda^x e^(-lambda T), or
* dropped out at the chance that followed their last purchase (at time 0 if x = 0):
  p (1-p)^x lambda^x e^(-lambda t_x).

The only difference from BG/NBD is the first term's extra (1-p) and that the second term also
exists for x = 0 (BG/NBD: e^(-lambda T) alone when x = 0). Integrating lambda and p out:

  L = Gamma(r+x) alpha^r / Gamma(r) * [ B(a, b+x+1)/B(a, b) (alpha+T)^-(r+x)
                                      + B(a+1, b+x)/B(a, b) (alpha+t_x)^-(r+x) ].

Given "alive" the posterior is lambda ~ Gamma(r+x, alpha+T), p ~ Beta(a, b+x+1), independent, so

* P(alive | x, t_x, T) = 1 / (1 + a/(b+x) ((alpha+T)/(alpha+t_x))^(r+x)) -- below 1 for every
  customer, one-time buyers included, and falling the longer they stay silent;
* E[Y(t) | x, t_x, T] = P(alive) (a+b+x)/(a-1) [1 - ((alpha+T)/(alpha+T+t))^(r+x)
  2F1(r+x, b+x+1; a+b+x; t/(alpha+T+t))], the BG/NBD expression with b replaced by b + 1;
  it is evaluated through the same Euler-transformed hypergeometric as BG/NBD.
* P(Y(t) > 0 | x, t_x, T) = P(alive) (1 - ((alpha+T)/(alpha+T+t))^(r+x)): an alive customer
  makes no purchase in t with probability E[e^(-lambda t)] under the Gamma posterior. The same
  formula holds for BG/NBD with its own P(alive); the model choice in :mod:`.clv` scores it.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import optimize
from scipy.special import betaln, digamma, expit, gammaln

from .clv_bgnbd import (
    DEFAULT_TIME_UNIT_DAYS,
    MIN_CUSTOMERS_FOR_BGNBD,
    MIN_REPEATERS_FOR_BGNBD,
    BGNBDParams,
    _as_arrays,
    _hyp_product,
    _wsum,
)
from .clv_mle import _LOG_BOUND, _OPTIMIZER_OPTIONS, InsufficientDataError, _check_not_degenerate


@dataclass(frozen=True)
class MBGNBDParams:
    """Maximum likelihood MBG/NBD parameters (same notation and meaning as BG/NBD's)."""

    r: float
    alpha: float
    a: float
    b: float
    log_likelihood: float
    n_customers: int
    time_unit_days: float = DEFAULT_TIME_UNIT_DAYS

    def as_dict(self) -> dict[str, float]:
        return {"r": self.r, "alpha": self.alpha, "a": self.a, "b": self.b,
                "log_likelihood": self.log_likelihood, "n_customers": self.n_customers,
                "time_unit_days": self.time_unit_days}


@dataclass(frozen=True)
class _MBGData:
    """Rows with identical (x, t_x, T) merged into weights; special functions per distinct x."""

    ux: np.ndarray
    w: np.ndarray
    x: np.ndarray
    t_x: np.ndarray
    T: np.ndarray
    ix: np.ndarray
    total_weight: float


def _mbgnbd_data(summary: pd.DataFrame) -> _MBGData:
    x, t_x, T = _as_arrays(summary)
    collapsed = (pd.DataFrame({"x": x, "t_x": np.where(x > 0, t_x, 0.0), "T": T})
                 .groupby(["x", "t_x", "T"], sort=True).size().reset_index(name="w"))
    cx = collapsed["x"].to_numpy()
    ux, inverse = np.unique(cx, return_inverse=True)
    weight = collapsed["w"].to_numpy(dtype="float64")
    return _MBGData(ux=ux, w=weight, x=cx, t_x=collapsed["t_x"].to_numpy(),
                    T=collapsed["T"].to_numpy(), ix=inverse, total_weight=float(weight.sum()))


def _mbgnbd_negll_grad(log_params: np.ndarray, d: _MBGData) -> tuple[float, np.ndarray]:
    """Mean negative log-likelihood and its gradient in log-parameters (module docstring).

      A1 = lnG(r+x) - lnG(r) + r ln(alpha)
      A2 = lnB(a, b+x+1) - lnB(a, b) - (r+x) ln(alpha+T)        (alive at T)
      A3 = lnB(a+1, b+x) - lnB(a, b) - (r+x) ln(alpha+t_x)      (dropped after the last purchase)
      LL = A1 + log(exp(A2) + exp(A3))
    With w3 = exp(A3 - LL + A1) the posterior weight of "dropped out", the digamma terms collapse
    as in BG/NBD: dLL/da = psi(a+b) - psi(a+b+x+1) + w3/a and
    dLL/db = psi(a+b) - psi(b) - psi(a+b+x+1) + psi(b+x+1) - w3/(b+x).
    """
    r, alpha, a, b = np.exp(log_params)
    ux = d.ux
    ln_b_ab = betaln(a, b)
    ln_alpha = np.log(alpha)
    wx = np.bincount(d.ix, weights=d.w, minlength=len(ux))
    c1 = gammaln(r + ux) - gammaln(r) + r * ln_alpha
    c2 = betaln(a, b + ux + 1) - ln_b_ab
    c3 = betaln(a + 1, b + ux) - ln_b_ab
    rx = r + d.x
    ln_aT = np.log(alpha + d.T)
    ln_atx = np.log(alpha + d.t_x)
    a2 = c2[d.ix] - rx * ln_aT
    a3 = c3[d.ix] - rx * ln_atx
    lse = np.logaddexp(a2, a3)
    w3 = np.exp(a3 - lse)
    w_w3 = d.w * w3
    w_w2 = d.w - w_w3
    ll = _wsum(wx, c1) + _wsum(d.w, lse)

    sum_w3_by_x = np.bincount(d.ix, weights=w_w3, minlength=len(ux))
    psi_ab = digamma(a + b)
    psi_abx = digamma(a + b + ux + 1)
    g_r = _wsum(wx, digamma(r + ux) - digamma(r) + ln_alpha) - _wsum(w_w2, ln_aT) - _wsum(w_w3, ln_atx)
    g_alpha = (d.total_weight * r / alpha
               - _wsum(rx, w_w2 / (alpha + d.T) + w_w3 / (alpha + d.t_x)))
    g_a = _wsum(wx, psi_ab - psi_abx) + sum_w3_by_x.sum() / a
    g_b = (_wsum(wx, psi_ab - digamma(b) - psi_abx + digamma(b + ux + 1))
           - _wsum(sum_w3_by_x, 1.0 / (b + ux)))
    grad = np.array([g_r * r, g_alpha * alpha, g_a * a, g_b * b])
    return -ll / d.total_weight, -grad / d.total_weight


def mbgnbd_log_likelihood(params: MBGNBDParams, summary: pd.DataFrame) -> float:
    """Total MBG/NBD log-likelihood of a summary frame under given parameters."""
    d = _mbgnbd_data(summary)
    value, _ = _mbgnbd_negll_grad(np.log([params.r, params.alpha, params.a, params.b]), d)
    return -value * d.total_weight


def mbgnbd_fit(summary: pd.DataFrame, *, time_unit_days: float = DEFAULT_TIME_UNIT_DAYS) -> MBGNBDParams:
    """Maximum likelihood MBG/NBD fit with L-BFGS-B on log-parameters.

    Same start point, box, minimum sample and degeneracy check as :func:`.clv_bgnbd.bgnbd_fit`.
    """
    if len(summary) < MIN_CUSTOMERS_FOR_BGNBD:
        raise InsufficientDataError(f"MBG/NBD needs at least {MIN_CUSTOMERS_FOR_BGNBD} customers")
    if int((summary["frequency"] > 0).sum()) < MIN_REPEATERS_FOR_BGNBD:
        raise InsufficientDataError(f"MBG/NBD needs at least {MIN_REPEATERS_FOR_BGNBD} repeat buyers")
    d = _mbgnbd_data(summary)
    mean_T = _wsum(d.w, d.T) / d.total_weight
    start = np.log([1.0, max(mean_T, 1e-3), 1.0, 1.0])
    res = optimize.minimize(_mbgnbd_negll_grad, start, args=(d,), jac=True, method="L-BFGS-B",
                            bounds=[(-_LOG_BOUND, _LOG_BOUND)] * 4, options=_OPTIMIZER_OPTIONS)
    _check_not_degenerate("MBG/NBD", ("r", "alpha", "a", "b"), res)
    r, alpha, a, b = np.exp(res.x)
    return MBGNBDParams(r=float(r), alpha=float(alpha), a=float(a), b=float(b),
                        log_likelihood=float(-res.fun * d.total_weight),
                        n_customers=int(d.total_weight), time_unit_days=time_unit_days)


def _mbg_p_alive(params: MBGNBDParams, x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> np.ndarray:
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    t_x = np.where(x > 0, t_x, 0.0)
    log_odds_dead = np.log(a / (b + x)) + (r + x) * np.log((alpha + T) / (alpha + t_x))
    return expit(-log_odds_dead)


def _mbg_conditional_expected(params: MBGNBDParams, x: np.ndarray, t_x: np.ndarray, T: np.ndarray,
                              t: np.ndarray) -> np.ndarray:
    a, b = params.a, params.b
    lead = (a + b + x) / (a - 1)
    # The alive posterior of p is Beta(a, b+x+1): BG/NBD's hypergeometric product with b + 1.
    shifted = BGNBDParams(r=params.r, alpha=params.alpha, a=a, b=b + 1, log_likelihood=0.0,
                          n_customers=0)
    return lead * (1.0 - _hyp_product(shifted, x, T, t)) * _mbg_p_alive(params, x, t_x, T)


def mbgnbd_p_alive(params: MBGNBDParams, summary: pd.DataFrame) -> pd.Series:
    """P(alive | x, t_x, T) = 1 / (1 + a/(b+x) ((alpha+T)/(alpha+t_x))^(r+x)) (module docstring)."""
    x, t_x, T = _as_arrays(summary)
    return pd.Series(_mbg_p_alive(params, x, t_x, T), index=summary.index, name="p_alive")


def mbgnbd_conditional_expected_purchases(params: MBGNBDParams, summary: pd.DataFrame,
                                          t: float) -> pd.Series:
    """E[Y(t) | x, t_x, T]: expected purchases in the next ``t`` units (module docstring)."""
    x, t_x, T = _as_arrays(summary)
    values = _mbg_conditional_expected(params, x, t_x, T, np.full_like(x, float(t)))
    return pd.Series(values, index=summary.index, name="expected_purchases")


def mbgnbd_expected_repeat_purchases(params: MBGNBDParams, t: np.ndarray | float) -> np.ndarray:
    """E[X(t)] for a new customer: the conditional expectation at x = t_x = T = 0, i.e.
    b/(a-1) [1 - (alpha/(alpha+t))^r 2F1(r, b+1; a+b; t/(alpha+t))]."""
    t = np.asarray(t, dtype="float64")
    zeros = np.zeros_like(t)
    return _mbg_conditional_expected(params, zeros, zeros, zeros, t)


def mbgnbd_simulate(params: MBGNBDParams, T: np.ndarray, *, seed: int) -> pd.DataFrame:
    """Draw (frequency, recency, T) under MBG/NBD: as :func:`.clv_bgnbd.bgnbd_simulate`, except
    the dropout that ends the purchases is counted from the first purchase, so J - 1 repeats
    (J geometric) can be zero."""
    rng = np.random.default_rng(seed)
    T = np.asarray(T, dtype="float64")
    n = len(T)
    lam = rng.gamma(params.r, 1.0 / params.alpha, size=n)
    p = rng.beta(params.a, params.b, size=n)
    arrivals = rng.poisson(lam * T)
    repeats_before_dropout = rng.geometric(np.clip(p, 1e-12, 1.0)) - 1
    x = np.minimum(arrivals, repeats_before_dropout)
    recency = np.zeros(n)
    has = x > 0
    recency[has] = T[has] * rng.beta(x[has], arrivals[has] - x[has] + 1)
    return pd.DataFrame({"frequency": x.astype("float64"), "recency": recency, "T": T},
                        index=pd.RangeIndex(n, name="customer_id"))

