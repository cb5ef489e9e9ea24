"""BG/NBD: how many purchases a customer will make, and whether they are still alive.

BG/NBD -- Fader, Hardie & Lee (2005), "Counting your customers the easy way: an alternative to
the Pareto/NBD model", Marketing Science 24(2). While alive a customer buys as a Poisson process
with rate lambda ~ Gamma(r, alpha); after every repeat purchase they drop out with probability
p ~ Beta(a, b).

Inputs are the (frequency, recency, T) summary of :func:`analytics.engine.clv.clv_summary`, whose
conventions follow the papers (see :mod:`analytics.engine.clv`).

Surprising details worth knowing:

* The likelihood only depends on ``frequency`` through a handful of distinct integers, so every
  special function is evaluated once per distinct frequency, not once per customer; rows with
  identical (frequency, recency, T) are collapsed into weights, and customers without a repeat
  purchase (usually the majority) skip the two-term part. With the analytic gradient a fit takes
  a few dozen evaluations; see ``bench/clv_fit.py`` for 100,000-customer timings.
* The conditional expectation (FHL 2005, eq. 10) multiplies ``(1 - z)^(r+x)`` by
  ``2F1(r+x, b+x; a+b+x-1; z)``. For heavy buyers the hypergeometric factor grows like
  ``(1 - z)^(a-1-r-x)`` and the product is a tiny number times a huge one. We use Euler's
  transformation (Abramowitz & Stegun 15.3.3) so the product becomes
  ``(1 - z)^(a-1) 2F1(a+b-1-r, a-1; a+b+x-1; z)``, whose series has small, convergent terms.
  The tests check it against numerical integration and a direct series sum.
* When the fitted ``a`` is below 1 (it is on CDNOW) the leading factor ``(a+b+x-1)/(a-1)`` is
  negative and so is the bracket; the product is positive. ``a == 1`` exactly is a removable
  singularity that a maximum likelihood fit does not hit in practice.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import optimize
from scipy.special import betaln, digamma, expit, gammaln, hyp2f1

from .clv_mle import _LOG_BOUND, _OPTIMIZER_OPTIONS, InsufficientDataError, _check_not_degenerate

WEEK_DAYS = 7.0
# The papers and the CDNOW reference answers use weeks; weekly data also keeps alpha near 1-10.
DEFAULT_TIME_UNIT_DAYS = WEEK_DAYS

# Below these counts the four BG/NBD parameters are not identified well enough to be worth
# reporting; callers get an explicit error (:class:`InsufficientDataError`).
MIN_CUSTOMERS_FOR_BGNBD = 20
MIN_REPEATERS_FOR_BGNBD = 5


@dataclass(frozen=True)
class BGNBDParams:
    """Maximum likelihood BG/NBD parameters (FHL 2005 notation)."""

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
class _BGNBDData:
    """Precomputed, collapsed arrays for the likelihood (see module docstring).

    Rows with identical (x, t_x, T) are merged into weights. Customers without a repeat purchase
    are kept apart: their likelihood has a single term, so they skip the logaddexp/exp work that
    dominates the cost for repeat buyers.
    """

    ux: np.ndarray          # distinct frequencies (may include 0)
    wx: np.ndarray          # total weight per distinct frequency
    w0: np.ndarray          # x == 0 rows: weight and T
    T0: np.ndarray
    w: np.ndarray           # x > 0 rows: weight, x, t_x, T, index into ux
    x: np.ndarray
    t_x: np.ndarray
    T: np.ndarray
    ix: np.ndarray
    total_weight: float


def _as_arrays(summary: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    x = summary["frequency"].to_numpy(dtype="float64")
    t_x = summary["recency"].to_numpy(dtype="float64")
    T = summary["T"].to_numpy(dtype="float64")
    if np.any(x < 0) or np.any(t_x < 0) or np.any(t_x > T + 1e-9) or np.any(np.round(x) != x):
        raise ValueError("summary needs integer frequency >= 0 and 0 <= recency <= T")
    return x, t_x, T


def _bgnbd_data(summary: pd.DataFrame) -> _BGNBDData:
    x, t_x, T = _as_arrays(summary)
    collapsed = (pd.DataFrame({"x": x, "t_x": t_x, "T": T})
                 .groupby(["x", "t_x", "T"], sort=True).size().reset_index(name="w"))
    cx = collapsed["x"].to_numpy()
    weight = collapsed["w"].to_numpy(dtype="float64")
    ux, inverse = np.unique(cx, return_inverse=True)
    rep = cx > 0
    return _BGNBDData(
        ux=ux, wx=np.bincount(inverse, weights=weight, minlength=len(ux)),
        w0=weight[~rep], T0=collapsed["T"].to_numpy()[~rep],
        w=weight[rep], x=cx[rep], t_x=collapsed["t_x"].to_numpy()[rep],
        T=collapsed["T"].to_numpy()[rep], ix=inverse[rep], total_weight=float(weight.sum()),
    )


def _bgnbd_negll_grad(log_params: np.ndarray, d: _BGNBDData) -> tuple[float, np.ndarray]:
    """Mean negative log-likelihood and its gradient in log-parameters.

    Per customer (FHL 2005, eq. 6), in logs:
      A1 = lnG(r+x) - lnG(r) + r ln(alpha)
      A2 = lnB(a, b+x) - lnB(a, b) - (r+x) ln(alpha+T)
      A3 = lnB(a+1, b+x-1) - lnB(a, b) - (r+x) ln(alpha+t_x)      (only when x > 0)
      LL = A1 + log(exp(A2) + exp(A3))
    The gradient uses w3 = exp(A3 - logaddexp(A2, A3)), the posterior weight of "dropped out after
    the last purchase"; digamma differences in a and b collapse because w2 + w3 = 1, e.g.
    dLL/da = psi(a+b) - psi(a+b+x) + w3 / a.
    """
    r, alpha, a, b = np.exp(log_params)
    ux = d.ux
    xm = np.maximum(ux, 1.0)  # keeps the x == 0 entry of the A3 terms finite; it gets no weight
    ln_b_ab = betaln(a, b)
    ln_alpha = np.log(alpha)
    c1 = gammaln(r + ux) - gammaln(r) + r * ln_alpha
    c2 = betaln(a, b + ux) - ln_b_ab
    c3 = betaln(a + 1, b + xm - 1) - ln_b_ab
    # Customers without repeat purchases: LL = A1 + A2 with x = 0 (and c2 = 0 at x = 0).
    ln_aT0 = np.log(alpha + d.T0)
    # Repeat buyers.
    rx = r + d.x
    ln_aT = np.log(alpha + d.T)
    ln_atx = np.log(alpha + d.t_x)
    a2 = c2[d.ix] - rx * ln_aT
    a3 = c3[d.ix] - rx * ln_atx
    lse = np.logaddexp(a2, a3)
    w3 = np.exp(a3 - lse)
    w_w3 = d.w * w3
    w_w2 = d.w - w_w3
    ll = _wsum(d.wx, c1) - r * _wsum(d.w0, ln_aT0) + _wsum(d.w, lse)

    sum_w3_by_x = np.bincount(d.ix, weights=w_w3, minlength=len(ux))
    psi_ab = digamma(a + b)
    psi_abx = digamma(a + b + ux)
    g_r = (_wsum(d.wx, digamma(r + ux) - digamma(r) + ln_alpha) - _wsum(d.w0, ln_aT0)
           - _wsum(w_w2, ln_aT) - _wsum(w_w3, ln_atx))
    g_alpha = (d.total_weight * r / alpha - r * _wsum(d.w0, 1.0 / (alpha + d.T0))
               - _wsum(rx, w_w2 / (alpha + d.T) + w_w3 / (alpha + d.t_x)))
    g_a = _wsum(d.wx, psi_ab - psi_abx) + sum_w3_by_x.sum() / a
    g_b = (_wsum(d.wx, psi_ab - digamma(b) - psi_abx + digamma(b + ux))
           - _wsum(sum_w3_by_x, 1.0 / (b + xm - 1)))
    grad = np.array([g_r * r, g_alpha * alpha, g_a * a, g_b * b])
    return -ll / d.total_weight, -grad / d.total_weight


def _wsum(weights: np.ndarray, values: np.ndarray) -> float:
    """Weighted sum without BLAS: on a small shared machine a threaded ``np.dot`` on 1-D arrays
    was measured slower than the plain loop ``einsum`` runs."""
    return float(np.einsum("i,i->", weights, values))



def bgnbd_log_likelihood(params: BGNBDParams, summary: pd.DataFrame) -> float:
    """Total BG/NBD log-likelihood of a summary frame under given parameters."""
    d = _bgnbd_data(summary)
    value, _ = _bgnbd_negll_grad(np.log([params.r, params.alpha, params.a, params.b]), d)
    return -value * d.total_weight


def bgnbd_fit(summary: pd.DataFrame, *, time_unit_days: float = DEFAULT_TIME_UNIT_DAYS) -> BGNBDParams:
    """Maximum likelihood BG/NBD fit (FHL 2005, eq. 7) with L-BFGS-B on log-parameters.

    ``summary`` needs ``frequency``, ``recency`` and ``T`` in units of ``time_unit_days``.
    The start point (r=1, alpha=mean T, a=1, b=1) is deliberately neutral: alpha is a time scale,
    so it starts on the data's own scale whatever the unit.

    Raises :class:`InsufficientDataError` for too few customers or repeat buyers, and when the
    optimum runs to the parameter box. That happens on small samples (a few dozen customers):
    a and b growing together without bound means "every customer has the same dropout
    probability", a limit the Beta prior only reaches at infinity, and 2F1 with such arguments is
    not worth trusting. Callers should fall back to RFM for such shops.
    """
    if len(summary) < MIN_CUSTOMERS_FOR_BGNBD:
        raise InsufficientDataError(f"BG/NBD needs at least {MIN_CUSTOMERS_FOR_BGNBD} customers")
    if int((summary["frequency"] > 0).sum()) < MIN_REPEATERS_FOR_BGNBD:
        raise InsufficientDataError(f"BG/NBD needs at least {MIN_REPEATERS_FOR_BGNBD} repeat buyers")
    d = _bgnbd_data(summary)
    mean_T = (_wsum(d.w0, d.T0) + _wsum(d.w, d.T)) / d.total_weight
    start = np.log([1.0, max(mean_T, 1e-3), 1.0, 1.0])
    res = optimize.minimize(_bgnbd_negll_grad, start, args=(d,), jac=True, method="L-BFGS-B",
                            bounds=[(-_LOG_BOUND, _LOG_BOUND)] * 4, options=_OPTIMIZER_OPTIONS)
    _check_not_degenerate("BG/NBD", ("r", "alpha", "a", "b"), res)
    r, alpha, a, b = np.exp(res.x)
    return BGNBDParams(r=float(r), alpha=float(alpha), a=float(a), b=float(b),
                       log_likelihood=float(-res.fun * d.total_weight),
                       n_customers=int(d.total_weight), time_unit_days=time_unit_days)


def bgnbd_expected_repeat_purchases(params: BGNBDParams, t: np.ndarray | float) -> np.ndarray:
    """E[X(t)]: expected repeat purchases of a new customer in ``t`` time units (FHL 2005, eq. 9).

    E[X(t)] = (a+b-1)/(a-1) * [1 - (alpha/(alpha+t))^r 2F1(r, b; a+b-1; t/(alpha+t))].
    Evaluated through the same Euler-transformed hypergeometric as the conditional version (it is
    that formula at x = t_x = T = 0).
    """
    t = np.asarray(t, dtype="float64")
    zeros = np.zeros_like(t)
    return _conditional_expected(params, zeros, zeros, zeros, t)


def _hyp_product(params: BGNBDParams, x: np.ndarray, T: np.ndarray, t: np.ndarray) -> np.ndarray:
    """((alpha+T)/(alpha+T+t))^(r+x) * 2F1(r+x, b+x; a+b+x-1; z), z = t/(alpha+T+t),
    via Euler's transformation 2F1(A,B;C;z) = (1-z)^(C-A-B) 2F1(C-A, C-B; C; z)."""
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    one_minus_z = (alpha + T) / (alpha + T + t)
    z = t / (alpha + T + t)
    return one_minus_z ** (a - 1) * hyp2f1(a + b - 1 - r, a - 1, a + b + x - 1, z)


def _p_alive(params: BGNBDParams, x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> np.ndarray:
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    xm = np.maximum(x, 1.0)
    log_odds_dead = np.log(a / (b + xm - 1)) + (r + x) * np.log((alpha + T) / (alpha + t_x))
    return np.where(x > 0, expit(-log_odds_dead), 1.0)


def _conditional_expected(params: BGNBDParams, x: np.ndarray, t_x: np.ndarray, T: np.ndarray,
                          t: np.ndarray) -> np.ndarray:
    a, b = params.a, params.b
    lead = (a + b + x - 1) / (a - 1)
    return lead * (1.0 - _hyp_product(params, x, T, t)) * _p_alive(params, x, t_x, T)


def bgnbd_conditional_expected_purchases(params: BGNBDParams, summary: pd.DataFrame,
                                         t: float) -> pd.Series:
    """E[Y(t) | x, t_x, T]: expected purchases in the next ``t`` units (FHL 2005, eq. 10).

    Written as lead * (1 - hypergeometric product) * P(alive); the 1/(1 + a/(b+x-1) * ...)
    denominator of eq. 10 is exactly P(alive), computed through a logistic so that it underflows
    gracefully to 0 for customers who are almost surely gone.
    """
    x, t_x, T = _as_arrays(summary)
    values = _conditional_expected(params, x, t_x, T, np.full_like(x, float(t)))
    return pd.Series(values, index=summary.index, name="expected_purchases")


def bgnbd_p_alive(params: BGNBDParams, summary: pd.DataFrame) -> pd.Series:
    """P(alive | x, t_x, T) = 1 / (1 + [x > 0] a/(b+x-1) ((alpha+T)/(alpha+t_x))^(r+x)).

    From the derivation of eq. 10 in FHL 2005 (spelled out in Fader, Hardie & Lee, "Computing
    P(alive) using the BG/NBD model", 2008 note). A customer with no repeat purchase is alive with
    probability 1 under BG/NBD -- a known quirk of the model, not a bug: dropout can only happen
    right after a repeat purchase.
    """
    x, t_x, T = _as_arrays(summary)
    return pd.Series(_p_alive(params, x, t_x, T), index=summary.index, name="p_alive")


def bgnbd_simulate(params: BGNBDParams, T: np.ndarray, *, seed: int) -> pd.DataFrame:
    """Draw (frequency, recency, T) for customers observed for ``T`` units under BG/NBD.

    Vectorised: a customer's repeat purchases while alive are the first J arrivals of a Poisson
    process, where J (the purchase after which they drop out) is geometric with success p; the
    observed count is min(N(T), J), and the k-th of N uniform arrival times on [0, T] is
    T * Beta(k, N - k + 1).
    """
    rng = np.random.default_rng(seed)
    T = np.asarray(T, dtype="float64")
    n = len(T)
    lam = rng.gamma(params.r, 1.0 / params.alpha, size=n)
    p = rng.beta(params.a, params.b, size=n)
    arrivals = rng.poisson(lam * T)
    dropout_after = rng.geometric(np.clip(p, 1e-12, 1.0))
    x = np.minimum(arrivals, dropout_after)
    recency = np.zeros(n)
    has = x > 0
    recency[has] = T[has] * rng.beta(x[has], arrivals[has] - x[has] + 1)
    return pd.DataFrame({"frequency": x.astype("float64"), "recency": recency, "T": T},
                        index=pd.RangeIndex(n, name="customer_id"))
