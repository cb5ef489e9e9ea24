"""MBG/NBD (Batislam, Denizel & Filiztekin 2007) and the choice of the served purchase model.

No published MBG/NBD estimates on CDNOW were found to test against, so the likelihood is checked
against a direct numerical integration of the individual-level likelihood over the two priors,
the expectations against integration and simulation, and the fit for plausibility on CDNOW
(its log-likelihood must be in the range of BG/NBD's -9582.43) and recovery on simulated data.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate, optimize, stats
from scipy.special import beta as beta_fn
from scipy.special import gamma as gamma_fn

from analytics.engine import clv
from analytics.engine.clv_mbgnbd import _mbgnbd_data, _mbgnbd_negll_grad
from customers.demo.generator import generate_demo

DATA = Path(__file__).resolve().parents[2] / "data"
CAL_END = pd.Timestamp("1997-09-30")
HOLDOUT_END = pd.Timestamp("1998-06-30")
PARAMS = clv.MBGNBDParams(r=0.52, alpha=6.2, a=0.89, b=1.61, log_likelihood=0.0, n_customers=0)


@pytest.fixture(scope="module")
def published_summary() -> pd.DataFrame:
    return pd.read_csv(DATA / "cdnow_customers_summary.csv").set_index("ID")


@pytest.fixture(scope="module")
def cdnow_orders() -> pd.DataFrame:
    raw = pd.read_csv(DATA / "CDNOW_sample.txt", sep=r"\s+", header=None,
                      names=["master_id", "sample_id", "date", "cds", "dollars"])
    return pd.DataFrame({"order_id": np.arange(len(raw)), "customer_id": raw["sample_id"].astype("int64"),
                         "ordered_at": pd.to_datetime(raw["date"].astype(str), format="%Y%m%d"),
                         "total_amount": raw["dollars"].astype("float64"), "channel": ""})


def _direct_likelihood(p: clv.MBGNBDParams, x: int, t_x: float, T: float) -> float:
    """Integrate (1-q)^(x+1) lam^x e^(-lam T) + q (1-q)^x lam^x e^(-lam t_x) over
    lam ~ Gamma(r, alpha) and q ~ Beta(a, b), numerically, straight from the model's story.

    The substitutions lam = v^(1/r), q = u^(1/a) remove the densities' singularities at 0
    (r, a < 1): lam^(r-1) dlam = dv / r and q^(a-1) dq = du / a.
    """
    norm = p.alpha ** p.r / (gamma_fn(p.r) * p.r) / (beta_fn(p.a, p.b) * p.a)

    def integrand(v: float, u: float) -> float:
        lam, q = v ** (1 / p.r), u ** (1 / p.a)
        alive = (1 - q) ** (x + 1) * lam ** x * np.exp(-lam * T)
        gone = q * (1 - q) ** x * lam ** x * np.exp(-lam * t_x)
        return (alive + gone) * np.exp(-p.alpha * lam) * (1 - q) ** (p.b - 1)

    value, _ = integrate.dblquad(integrand, 0, 1, 0, np.inf, epsabs=0, epsrel=1e-10)
    return float(value * norm)


@pytest.mark.parametrize("x,t_x,T", [(0, 0.0, 30.0), (0, 0.0, 2.0), (1, 5.0, 30.0), (3, 20.0, 38.0)])
def test_likelihood_equals_direct_integration_of_the_model(x, t_x, T):
    summary = pd.DataFrame({"frequency": [float(x)], "recency": [t_x], "T": [T]})
    ours = clv.mbgnbd_log_likelihood(PARAMS, summary)
    assert ours == pytest.approx(np.log(_direct_likelihood(PARAMS, x, t_x, T)), abs=1e-5)


def test_likelihood_differs_from_bgnbd_only_through_the_dropout_at_the_first_purchase():
    """With a -> 0 (dropout almost impossible) both models tend to the same Poisson/Gamma NBD."""
    summary = pd.DataFrame({"frequency": [0.0, 2.0], "recency": [0.0, 10.0], "T": [20.0, 20.0]})
    tiny_a = dict(r=0.5, alpha=5.0, a=1e-7, b=2.0, log_likelihood=0.0, n_customers=0)
    assert clv.mbgnbd_log_likelihood(clv.MBGNBDParams(**tiny_a), summary) == pytest.approx(
        clv.bgnbd_log_likelihood(clv.BGNBDParams(**tiny_a), summary), abs=1e-5)
    # At ordinary parameters a one-time buyer is more likely under MBG/NBD: they may have left.
    one = summary.iloc[:1]
    bg = clv.BGNBDParams(**{**tiny_a, "a": 0.9})
    mbg = clv.MBGNBDParams(**{**tiny_a, "a": 0.9})
    assert clv.mbgnbd_log_likelihood(mbg, one) > clv.bgnbd_log_likelihood(bg, one)


def test_analytic_gradient_matches_finite_differences(published_summary):
    data = _mbgnbd_data(published_summary)
    for point in (np.log([0.3, 4.0, 0.8, 2.5]), np.log([1.5, 0.5, 3.0, 0.7])):
        err = optimize.check_grad(lambda v: _mbgnbd_negll_grad(v, data)[0],
                                  lambda v: _mbgnbd_negll_grad(v, data)[1], point)
        assert err < 1e-5


def test_cdnow_fit_is_plausible(published_summary):
    fit = clv.mbgnbd_fit(published_summary)
    bg = clv.bgnbd_fit(published_summary)
    assert fit.n_customers == 2357
    assert fit.log_likelihood == pytest.approx(clv.mbgnbd_log_likelihood(fit, published_summary), abs=1e-6)
    # Same data, same number of parameters: the two fits should explain it about equally well.
    assert abs(fit.log_likelihood - bg.log_likelihood) < 5
    assert 0.1 < fit.r < 2 and 1 < fit.alpha < 20 and 0.2 < fit.a < 3 and 0.5 < fit.b < 5
    # The optimum is a stationary point.
    _, grad = _mbgnbd_negll_grad(np.log([fit.r, fit.alpha, fit.a, fit.b]), _mbgnbd_data(published_summary))
    assert np.abs(grad).max() < 1e-5


@pytest.mark.parametrize("t", [1.0, 39.0, 78.0])
def test_unconditional_expectation_matches_numerical_integration(t):
    """E[X(t)] = E_q[(1-q)/q (1 - (alpha/(alpha + q t))^r)]: survive the first dropout chance,
    then BG/NBD's expectation given q (lambda integrated out)."""
    p = PARAMS

    def integrand(q: float) -> float:
        return (1 - q) / q * (1 - (p.alpha / (p.alpha + q * t)) ** p.r) * stats.beta.pdf(q, p.a, p.b)

    expected, _ = integrate.quad(integrand, 0, 1, limit=200)
    assert clv.mbgnbd_expected_repeat_purchases(p, t) == pytest.approx(expected, rel=1e-7)


def test_conditional_expectation_matches_simulated_holdout():
    rng = np.random.default_rng(11)
    n = 20000
    T = rng.uniform(27, 39, n)
    lam = rng.gamma(PARAMS.r, 1 / PARAMS.alpha, n)
    q = rng.beta(PARAMS.a, PARAMS.b, n)
    # Event by event: a dropout chance at time 0 and after every purchase.
    alive = rng.random(n) >= q
    clock, x, last, hold = np.zeros(n), np.zeros(n), np.zeros(n), np.zeros(n)
    while alive.any():
        idx = np.flatnonzero(alive)
        clock[idx] += rng.exponential(1 / lam[idx])
        over = clock[idx] > T[idx] + 39.0
        alive[idx[over]] = False
        buy = idx[~over]
        cal = clock[buy] <= T[buy]
        x[buy[cal]] += 1
        last[buy[cal]] = clock[buy[cal]]
        hold[buy[~cal]] += 1
        alive[buy[rng.random(len(buy)) < q[buy]]] = False
    summary = pd.DataFrame({"frequency": x, "recency": last, "T": T})
    predicted = clv.mbgnbd_conditional_expected_purchases(PARAMS, summary, 39.0).to_numpy()
    p_any = clv.purchase_p_any(PARAMS, summary, 39.0).to_numpy()
    for group in (x == 0, x > 0):
        se = hold[group].std() / np.sqrt(group.sum())
        assert abs(predicted[group].mean() - hold[group].mean()) < 4 * se
        bought = (hold[group] > 0).mean()
        assert abs(p_any[group].mean() - bought) < 4 * np.sqrt(bought * (1 - bought) / group.sum())


def test_fit_recovers_simulated_parameters():
    truth = clv.MBGNBDParams(r=0.5, alpha=5.0, a=0.8, b=2.5, log_likelihood=0.0, n_customers=0)
    T = np.random.default_rng(3).uniform(20, 52, 30000)
    fit = clv.mbgnbd_fit(clv.mbgnbd_simulate(truth, T, seed=4))
    assert fit.r == pytest.approx(truth.r, rel=0.10)
    assert fit.alpha == pytest.approx(truth.alpha, rel=0.10)
    assert fit.a == pytest.approx(truth.a, rel=0.25)
    assert fit.b == pytest.approx(truth.b, rel=0.25)


def test_one_time_buyer_p_alive_known_answer_and_silence_lowers_it():
    rows = pd.DataFrame({"frequency": [0.0] * 3, "recency": [0.0] * 3, "T": [0.0, 10.0, 40.0]})
    alive = clv.mbgnbd_p_alive(PARAMS, rows).to_numpy()
    r, al, a, b = PARAMS.r, PARAMS.alpha, PARAMS.a, PARAMS.b
    assert alive[0] == pytest.approx(b / (a + b))  # the prior: survived the first dropout chance
    assert alive[2] == pytest.approx(1 / (1 + a / b * ((al + 40) / al) ** r))
    assert alive[0] > alive[1] > alive[2]


# ---------------------------------------------------------------- served p_alive

_positive = st.floats(0.05, 20.0)


@settings(max_examples=200, deadline=None)
@given(model=st.sampled_from(["bgnbd", "mbgnbd"]), r=_positive, alpha=st.floats(0.1, 100.0),
       a=_positive, b=st.floats(0.05, 50.0), x=st.integers(0, 60), T=st.floats(0.0, 200.0),
       fractions=st.lists(st.floats(0.0, 1.0), min_size=2, max_size=6))
def test_served_p_alive_invariants(model, r, alpha, a, b, x, T, fractions):
    """A later last purchase never lowers p_alive; p_alive is in [0, 1] or NaN; a one-time buyer
    is never shown as certain."""
    cls = clv.MBGNBDParams if model == "mbgnbd" else clv.BGNBDParams
    params = cls(r=r, alpha=alpha, a=a, b=b, log_likelihood=0.0, n_customers=0)
    t_x = np.sort(np.array(fractions)) * T if x > 0 else np.zeros(len(fractions))
    rows = pd.DataFrame({"frequency": float(x), "recency": t_x, "T": T})
    served = clv.served_p_alive(params, rows).to_numpy()
    known = served[~np.isnan(served)]
    assert ((known >= 0) & (known <= 1)).all()
    if x == 0:
        assert np.isnan(served).all() or (served < 1).all()
    else:
        assert not np.isnan(served).any()  # repeat buyers always get a number
        assert (np.diff(served) >= -1e-12).all()


def test_served_p_alive_is_empty_where_the_model_cannot_tell():
    rows = pd.DataFrame({"frequency": [0.0, 0.0, 2.0], "recency": [0.0, 0.0, 3.0], "T": [2.0, 30.0, 30.0]})
    bg = clv.BGNBDParams(r=0.24, alpha=4.4, a=0.79, b=2.4, log_likelihood=0.0, n_customers=0)
    as_bg = clv.served_p_alive(bg, rows)
    assert as_bg.iloc[:2].isna().all() and 0 < as_bg.iloc[2] < 1
    as_mbg = clv.served_p_alive(PARAMS, rows)
    # Two weeks since the only purchase is too soon to read anything into the silence.
    assert 2 * 7 < clv.MIN_OBSERVED_DAYS < 30 * 7
    assert np.isnan(as_mbg.iloc[0]) and 0 < as_mbg.iloc[1] < 1 and 0 < as_mbg.iloc[2] < 1


# ---------------------------------------------------------------- the choice at fit time

def test_clv_score_records_the_choice_and_serves_the_chosen_model(cdnow_orders):
    result = clv.clv_score(cdnow_orders, as_of=CAL_END)
    sel = result.selection
    chosen, again = clv.choose_purchase_model(cdnow_orders, as_of=CAL_END)
    assert sel["purchase_model"] == chosen == again["purchase_model"] == clv.model_name(result.purchase)
    metric = sel["selection_metric"]
    loser = clv.MBGNBD if chosen == clv.BGNBD else clv.BGNBD
    assert sel[f"{chosen}_holdout_{metric}"] <= sel[f"{loser}_holdout_{metric}"]
    for name in (clv.BGNBD, clv.MBGNBD):
        for key in ("repeat_brier", "purchases_mae", "purchases_expected", "purchases_actual"):
            assert np.isfinite(sel[f"{name}_holdout_{key}"]), (name, key)
    frame = result.customers
    summary = clv.clv_summary(cdnow_orders, as_of=CAL_END)
    pd.testing.assert_series_equal(frame["p_alive"], clv.served_p_alive(result.purchase, summary),
                                   check_names=False)
    pd.testing.assert_series_equal(frame["expected_purchases"],
                                   clv.purchase_expected(result.purchase, summary, 365.25 / 7),
                                   check_names=False)
    one_timers = frame["frequency"] == 0
    assert (frame.loc[one_timers, "p_alive"].isna() | (frame.loc[one_timers, "p_alive"] < 1)).all()
    assert frame.loc[~one_timers, "p_alive"].notna().all()


def test_demo_data_serves_mbgnbd_and_one_time_buyers_get_probabilities():
    as_of = pd.Timestamp("2025-06-30")
    orders = generate_demo(3000, seed=5, as_of=as_of).orders
    result = clv.clv_score(orders, as_of=as_of)
    assert result.selection["purchase_model"] == clv.MBGNBD
    assert result.selection["mbgnbd_holdout_repeat_brier"] < result.selection["bgnbd_holdout_repeat_brier"]
    frame = result.customers
    settled = (frame["frequency"] == 0) & (frame["T"] * 7 >= clv.MIN_OBSERVED_DAYS)
    assert settled.sum() > 50
    values = frame.loc[settled, "p_alive"]
    assert values.notna().all() and (values < 1).all() and (values > 0).all()
    # The purchase model's forecast of the last 90 days was close in total.
    assert abs(result.selection["mbgnbd_holdout_purchases_total_error"]) < 0.15
