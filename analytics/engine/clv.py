"""Customer lifetime value: BG/NBD for purchase counts, Gamma-Gamma for spend.

Why these two models: they need nothing but each customer's purchase history (how many repeat
purchase days, when the last one was, how long we have known them, what they spend), they are
the standard probabilistic "buy till you die" pair, and both have published maximum likelihood
answers on the CDNOW sample that the tests reproduce.

* BG/NBD -- Fader, Hardie & Lee (2005), "Counting your customers the easy way: an alternative to
  the Pareto/NBD model", Marketing Science 24(2). While alive a customer buys as a Poisson process
  with rate lambda ~ Gamma(r, alpha); after every repeat purchase they drop out with probability
  p ~ Beta(a, b).
* Gamma-Gamma -- Fader & Hardie (2013), "The Gamma-Gamma model of monetary value" (note). The
  values of one customer's purchases are Gamma(p, nu) around that customer's mean, and
  nu ~ Gamma(q, gamma) across customers. It assumes spend is independent of purchase frequency;
  :func:`clv_evaluate` reports the observed correlation so a reader can judge that assumption.

Conventions follow the papers (and the ``lifetimes`` package): purchases by one customer on the
same calendar day are one purchase; ``frequency`` counts repeat purchase days (the first day is
not a repeat); ``recency`` is the time from the first to the last purchase day; ``T`` the time
from the first purchase day to ``as_of``; ``monetary_value`` is the mean value of the repeat
purchase days (0 when there are none). Time is measured in ``time_unit_days`` (7 = weeks, as in
the papers; 1 = days).

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

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import optimize
from scipy.special import betaln, digamma, expit, gammaln, hyp2f1
from sklearn.linear_model import LinearRegression
from sklearn.metrics import mean_absolute_error, root_mean_squared_error

from .frames import ModelCard

WEEK_DAYS = 7.0
# The papers and the CDNOW reference answers use weeks; weekly data also keeps alpha near 1-10.
DEFAULT_TIME_UNIT_DAYS = WEEK_DAYS
# Average Gregorian month, so twelve months are exactly one year.
DAYS_PER_MONTH = 365.25 / 12
DEFAULT_ANNUAL_DISCOUNT_RATE = 0.10
# Compounding the annual rate monthly: (1 + m)^12 == 1.10.
DEFAULT_MONTHLY_DISCOUNT_RATE = (1 + DEFAULT_ANNUAL_DISCOUNT_RATE) ** (1 / 12) - 1
DEFAULT_HORIZON_MONTHS = 12

# Value tiers by CLV rank: the top 20 % are "high" (a Pareto-style head that usually carries most
# of the value), the next 30 % "medium", the remaining half "low".
HIGH_TIER_SHARE = 0.20
MEDIUM_TIER_SHARE = 0.30
VALUE_TIERS = ("high", "medium", "low")

# Below these counts the four BG/NBD parameters (or three Gamma-Gamma ones) are not identified
# well enough to be worth reporting; callers get an explicit error or the documented fallback.
MIN_CUSTOMERS_FOR_BGNBD = 20
MIN_REPEATERS_FOR_BGNBD = 5
MIN_REPEATERS_FOR_GAMMA_GAMMA = 10

# Log-parameter box for L-BFGS-B: exp(+-12) spans 6e-6 .. 1.6e5, wide enough for days or weeks,
# narrow enough that a degenerate sample cannot send a parameter to overflow.
_LOG_BOUND = 12.0
# Tight tolerances: the likelihood surface is flat along r/alpha, and the published parameters
# are quoted to 4 significant digits.
_OPTIMIZER_OPTIONS = {"maxiter": 2000, "ftol": 1e-14, "gtol": 1e-9}
# A fitted log-parameter this close to the box means the likelihood kept improving towards a
# boundary (e.g. every repeat buyer bought exactly once more, so p -> 1): the data cannot
# identify the model and its predictions would be meaningless (or NaN in 2F1), so we refuse.
_DEGENERATE_LOG = _LOG_BOUND - 1.0
# An optimizer that gave up (L-BFGS-B "ABNORMAL" line search) with a parameter this far out was
# still heading for the boundary: seen on the same degenerate data on two machines, stopping at
# log a = 10.7 on one and beyond 11 on the other. Sound fits (CDNOW) stay within |log| < 2.
_DEGENERATE_LOG_UNCONVERGED = _LOG_BOUND / 2

# Holdout evaluation: share of customers whose holdout outcomes train the regression baseline;
# the rest are scored by both models. The BG/NBD/Gamma-Gamma fit never sees holdout data at all.
BASELINE_TRAIN_SHARE = 0.5

SUMMARY_COLUMNS = ["frequency", "recency", "T", "monetary_value"]


class InsufficientDataError(ValueError):
    """Raised when there are too few customers or repeat buyers to fit a model."""


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


@dataclass(frozen=True)
class CLVResult:
    """Per-customer predictions plus the fitted parameters they came from."""

    customers: pd.DataFrame
    bgnbd: BGNBDParams
    gamma_gamma: GammaGammaParams | None
    notes: str = ""
    settings: dict[str, Any] = field(default_factory=dict)


# --------------------------------------------------------------------------------------------
# Summary frames
# --------------------------------------------------------------------------------------------

def _purchase_days(orders: pd.DataFrame, *, start: pd.Timestamp | None, end: pd.Timestamp) -> pd.DataFrame:
    """One row per customer and calendar day with the day's total, for orders in (start, end]."""
    ordered_at = pd.to_datetime(orders["ordered_at"])
    mask = ordered_at <= end
    if start is not None:
        mask &= ordered_at > start
    frame = pd.DataFrame({
        "customer_id": orders["customer_id"].to_numpy()[mask.to_numpy()],
        "day": ordered_at[mask].dt.normalize().to_numpy(),
        "amount": orders["total_amount"].astype("float64").to_numpy()[mask.to_numpy()],
    })
    return frame.groupby(["customer_id", "day"], sort=True, as_index=False)["amount"].sum()


def clv_summary(orders: pd.DataFrame, *, as_of: pd.Timestamp,
                time_unit_days: float = DEFAULT_TIME_UNIT_DAYS) -> pd.DataFrame:
    """Build the (frequency, recency, T, monetary_value) frame, indexed by customer_id.

    Only orders with ``ordered_at <= as_of`` count. Same-day orders of one customer merge into one
    purchase whose value is their sum, as in FHL 2005 and the CDNOW reference summary. ``T`` runs
    from the first purchase day to ``as_of`` itself. Extra column ``first_purchase_at`` is kept
    because cohort forecasts need it.
    """
    as_of = pd.Timestamp(as_of)
    days = _purchase_days(orders, start=None, end=as_of)
    if days.empty:
        out = pd.DataFrame({c: pd.Series(dtype="float64") for c in SUMMARY_COLUMNS})
        out["first_purchase_at"] = pd.Series(dtype="datetime64[ns]")
        out.index.name = "customer_id"
        return out
    grouped = days.groupby("customer_id", sort=True)
    first = grouped["day"].min()
    last = grouped["day"].max()
    n_days = grouped.size()
    total = grouped["amount"].sum()
    # The first purchase day's value is excluded from monetary_value: in Fader & Hardie (2013)
    # zbar averages repeat transactions only (the CDNOW zbar column matches this; tests check).
    first_amount = days.drop_duplicates("customer_id", keep="first").set_index("customer_id")["amount"]
    frequency = (n_days - 1).astype("float64")
    unit = pd.Timedelta(days=time_unit_days)
    with np.errstate(invalid="ignore", divide="ignore"):
        monetary = np.where(frequency > 0, (total - first_amount) / frequency.where(frequency > 0, 1), 0.0)
    out = pd.DataFrame({
        "frequency": frequency,
        "recency": (last - first) / unit,
        "T": (as_of - first) / unit,
        "monetary_value": monetary,
        "first_purchase_at": first,
    })
    out.index.name = "customer_id"
    return out


def clv_holdout_summary(orders: pd.DataFrame, *, calibration_end: pd.Timestamp,
                        holdout_end: pd.Timestamp,
                        time_unit_days: float = DEFAULT_TIME_UNIT_DAYS) -> pd.DataFrame:
    """Calibration summary plus what each calibration customer actually did afterwards.

    Adds ``frequency_holdout`` (purchase days in (calibration_end, holdout_end]),
    ``monetary_holdout`` (total spend in that window) and ``duration_holdout`` (window length in
    time units). Customers first seen in the holdout window are not included: the models say
    nothing about acquisition.
    """
    calibration_end = pd.Timestamp(calibration_end)
    holdout_end = pd.Timestamp(holdout_end)
    if holdout_end <= calibration_end:
        raise ValueError("holdout_end must be after calibration_end")
    cal = clv_summary(orders, as_of=calibration_end, time_unit_days=time_unit_days)
    hold_days = _purchase_days(orders, start=calibration_end, end=holdout_end)
    hold = hold_days.groupby("customer_id").agg(frequency_holdout=("day", "size"),
                                                 monetary_holdout=("amount", "sum"))
    cal = cal.join(hold, how="left")
    cal["frequency_holdout"] = cal["frequency_holdout"].fillna(0).astype("float64")
    cal["monetary_holdout"] = cal["monetary_holdout"].fillna(0.0)
    cal["duration_holdout"] = (holdout_end - calibration_end) / pd.Timedelta(days=time_unit_days)
    return cal


# --------------------------------------------------------------------------------------------
# BG/NBD
# --------------------------------------------------------------------------------------------

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


def _check_not_degenerate(model: str, names: tuple[str, ...], res: optimize.OptimizeResult) -> None:
    if not np.isfinite(res.fun) or np.any(~np.isfinite(res.x)):
        raise InsufficientDataError(f"{model} fit did not converge: {res.message}")
    limit = _DEGENERATE_LOG if res.success else _DEGENERATE_LOG_UNCONVERGED
    stuck = [n for n, v in zip(names, res.x) if abs(v) > limit]
    if stuck:
        raise InsufficientDataError(
            f"{model} fit ran to a boundary ({', '.join(stuck)}): too little or too uniform data")


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


# --------------------------------------------------------------------------------------------
# Gamma-Gamma
# --------------------------------------------------------------------------------------------

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


# --------------------------------------------------------------------------------------------
# CLV, tiers, end-to-end scoring and evaluation
# --------------------------------------------------------------------------------------------

def clv_from_models(bgnbd: BGNBDParams, expected_spend: pd.Series, summary: pd.DataFrame, *,
                    horizon_months: int = DEFAULT_HORIZON_MONTHS,
                    monthly_discount_rate: float = DEFAULT_MONTHLY_DISCOUNT_RATE) -> pd.Series:
    """Discounted value of the next ``horizon_months``: sum over months m of
    (E[Y(m)] - E[Y(m-1)]) * E[spend] / (1 + d)^m.

    Monthly discrete discounting as in ``lifetimes``' ``customer_lifetime_value`` (purchases in a
    month are valued at that month's end); it is a step approximation of the continuous
    discounted expected transactions of Fader, Hardie & Lee (2005, "RFM and CLV: using iso-value
    curves", JMR 42(4)).
    """
    x, t_x, T = _as_arrays(summary)
    periods_per_month = DAYS_PER_MONTH / bgnbd.time_unit_days
    cumulative = np.vstack([
        _conditional_expected(bgnbd, x, t_x, T, np.full_like(x, m * periods_per_month))
        for m in range(1, horizon_months + 1)
    ])
    monthly = np.diff(np.vstack([np.zeros_like(x), cumulative]), axis=0)
    discount = (1 + monthly_discount_rate) ** -np.arange(1, horizon_months + 1)
    value = (monthly * discount[:, None]).sum(axis=0) * expected_spend.reindex(summary.index).to_numpy()
    return pd.Series(value, index=summary.index, name="clv")


def value_tier(clv: pd.Series) -> pd.Series:
    """high / medium / low by CLV rank (HIGH_TIER_SHARE, MEDIUM_TIER_SHARE).

    Ranks are unique: ties in CLV are broken by customer_id (lower id ranks lower), so equal
    inputs always give equal tiers and the tier sizes are exact.
    """
    n = len(clv)
    if n == 0:
        return pd.Series([], index=clv.index, name="value_tier", dtype="object")
    order = np.lexsort((-np.asarray(clv.index, dtype="int64"), -clv.to_numpy(dtype="float64")))
    position = np.empty(n, dtype="int64")
    position[order] = np.arange(n)  # 0 = best
    n_high = int(round(HIGH_TIER_SHARE * n))
    n_medium = int(round((HIGH_TIER_SHARE + MEDIUM_TIER_SHARE) * n)) - n_high
    tiers = np.where(position < n_high, "high",
                     np.where(position < n_high + n_medium, "medium", "low"))
    return pd.Series(tiers, index=clv.index, name="value_tier")


def _spend_model(summary: pd.DataFrame, orders_mean: float) -> tuple[GammaGammaParams | None, pd.Series, str]:
    try:
        gg = gamma_gamma_fit(summary)
        if gg.q > 1:
            return gg, gamma_gamma_expected_spend(gg, summary), ""
        note = "Gamma-Gamma q <= 1 (no finite mean); used the mean purchase value instead."
    except InsufficientDataError as exc:
        gg = None
        note = f"{exc}; used the mean purchase value instead."
    return gg, pd.Series(orders_mean, index=summary.index, name="expected_avg_spend"), note


def clv_score(orders: pd.DataFrame, *, as_of: pd.Timestamp,
              time_unit_days: float = DEFAULT_TIME_UNIT_DAYS,
              horizon_months: int = DEFAULT_HORIZON_MONTHS,
              monthly_discount_rate: float = DEFAULT_MONTHLY_DISCOUNT_RATE) -> CLVResult:
    """Fit BG/NBD and Gamma-Gamma on all history up to ``as_of`` and score every customer.

    Output columns (index customer_id): frequency, recency, T, monetary_value, p_alive,
    expected_purchases (over the horizon), expected_avg_spend, clv, value_tier.
    Raises :class:`InsufficientDataError` when BG/NBD cannot be fitted; a Gamma-Gamma failure
    falls back to the mean purchase-day value (and says so in ``notes``).
    """
    summary = clv_summary(orders, as_of=as_of, time_unit_days=time_unit_days)
    bg = bgnbd_fit(summary, time_unit_days=time_unit_days)
    days = _purchase_days(orders, start=None, end=pd.Timestamp(as_of))
    gg, spend, note = _spend_model(summary, float(days["amount"].mean()))
    horizon = horizon_months * DAYS_PER_MONTH / time_unit_days
    out = summary[SUMMARY_COLUMNS].copy()
    out["p_alive"] = bgnbd_p_alive(bg, summary)
    out["expected_purchases"] = bgnbd_conditional_expected_purchases(bg, summary, horizon)
    out["expected_avg_spend"] = spend
    out["clv"] = clv_from_models(bg, spend, summary, horizon_months=horizon_months,
                                 monthly_discount_rate=monthly_discount_rate)
    out["value_tier"] = value_tier(out["clv"])
    return CLVResult(customers=out, bgnbd=bg, gamma_gamma=gg, notes=note,
                     settings={"as_of": pd.Timestamp(as_of), "time_unit_days": time_unit_days,
                               "horizon_months": horizon_months,
                               "monthly_discount_rate": monthly_discount_rate})


def _errors(prefix: str, actual: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    return {f"{prefix}_mae": float(mean_absolute_error(actual, predicted)),
            f"{prefix}_rmse": float(root_mean_squared_error(actual, predicted))}


def clv_evaluate(orders: pd.DataFrame, *, calibration_end: pd.Timestamp, holdout_end: pd.Timestamp,
                 time_unit_days: float = DEFAULT_TIME_UNIT_DAYS, seed: int = 0) -> ModelCard:
    """Calibration/holdout check of BG/NBD + Gamma-Gamma against a regression baseline.

    The probabilistic models are fitted on orders up to ``calibration_end`` only and predict, per
    customer, holdout purchase days and holdout spend (expected purchases x expected spend).
    The baseline is sklearn ``LinearRegression`` from (frequency, recency, T, monetary_value) to
    the holdout outcome. Because a regression must see outcomes to learn, customers are split at
    random (``seed``): ``BASELINE_TRAIN_SHARE`` of them train the baseline, and both models are
    scored on the remaining customers only. This favours the baseline (it learns from the very
    period it is scored on); the BG/NBD model never sees any holdout data.
    """
    data = clv_holdout_summary(orders, calibration_end=calibration_end, holdout_end=holdout_end,
                               time_unit_days=time_unit_days)
    bg = bgnbd_fit(data, time_unit_days=time_unit_days)
    cal_days = _purchase_days(orders, start=None, end=pd.Timestamp(calibration_end))
    gg, spend, note = _spend_model(data, float(cal_days["amount"].mean()))
    duration = float(data["duration_holdout"].iloc[0])
    pred_purchases = bgnbd_conditional_expected_purchases(bg, data, duration).to_numpy()
    pred_spend = pred_purchases * spend.to_numpy()

    rng = np.random.default_rng(seed)
    is_train = rng.permutation(len(data)) < int(round(BASELINE_TRAIN_SHARE * len(data)))
    test = ~is_train
    features = data[SUMMARY_COLUMNS].to_numpy(dtype="float64")
    metrics: dict[str, float] = {}
    baseline: dict[str, float] = {}
    for prefix, target, predicted in (("purchases", "frequency_holdout", pred_purchases),
                                      ("spend", "monetary_holdout", pred_spend)):
        y = data[target].to_numpy(dtype="float64")
        reg = LinearRegression().fit(features[is_train], y[is_train])
        metrics.update(_errors(prefix, y[test], predicted[test]))
        baseline.update(_errors(prefix, y[test], reg.predict(features[test])))
    metrics["n_eval_customers"] = float(test.sum())
    baseline["n_eval_customers"] = float(test.sum())

    repeaters = data[data["frequency"] > 0]
    corr = (float(np.corrcoef(repeaters["frequency"], repeaters["monetary_value"])[0, 1])
            if len(repeaters) > 2 else float("nan"))
    params: dict[str, Any] = {"bgnbd": bg.as_dict(),
                              "gamma_gamma": gg.as_dict() if gg else None,
                              "frequency_spend_correlation": corr,
                              "calibration_end": str(pd.Timestamp(calibration_end)),
                              "holdout_end": str(pd.Timestamp(holdout_end)), "seed": seed}
    notes = ("BG/NBD + Gamma-Gamma fitted on calibration only; baseline LinearRegression trained on "
             f"{BASELINE_TRAIN_SHARE:.0%} of customers' holdout outcomes; all errors on the rest. "
             + note).strip()
    return ModelCard(name="clv_bgnbd_gamma_gamma", metrics=metrics, baseline=baseline,
                     params=params, notes=notes)
