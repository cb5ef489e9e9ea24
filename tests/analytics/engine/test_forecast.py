"""Monthly revenue forecast: known sums, model choice by history length, beats the naive baselines."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analytics.engine.forecast import (
    FORECAST_COLUMNS,
    MIN_MONTHS_FOR_SEASONAL,
    MIN_MONTHS_FOR_TREND,
    forecast_revenue,
    monthly_revenue,
)

ORDER_COLUMNS = ["order_id", "customer_id", "ordered_at", "total_amount", "channel"]
START = pd.Timestamp("2021-01-01")


def synthetic_orders(
    n_months: int, *, seed: int = 0, trend: float = 150.0, season: float = 2500.0, noise: float = 400.0
) -> pd.DataFrame:
    """Four orders a month whose monthly total is level + trend * t + season * sin + noise."""
    rng = np.random.default_rng(seed)
    rows = []
    for t, month in enumerate(pd.date_range(START, periods=n_months, freq="MS")):
        total = 10_000 + trend * t + season * np.sin(2 * np.pi * month.month / 12) + rng.normal(0, noise)
        for k in range(4):
            ordered_at = month + pd.Timedelta(days=3 + 7 * k, hours=10)
            rows.append((len(rows) + 1, k + 1, ordered_at, total / 4, "web"))
    return pd.DataFrame(rows, columns=ORDER_COLUMNS)


def as_of_after(n_months: int) -> pd.Timestamp:
    """A moment a few days into the month after the last synthetic month."""
    return START + pd.DateOffset(months=n_months) + pd.Timedelta(days=2)


def test_monthly_revenue_known_sums_and_complete_months_only():
    orders = pd.DataFrame(
        [
            (1, 1, pd.Timestamp("2024-01-05"), 100.0, "web"),
            (2, 2, pd.Timestamp("2024-01-31 23:59"), 50.0, "shop"),
            (3, 1, pd.Timestamp("2024-03-10"), 70.0, "web"),
            (4, 3, pd.Timestamp("2024-04-02"), 999.0, "web"),  # partial month holding as_of
            (5, 3, pd.Timestamp("2024-05-02"), 999.0, "web"),  # after as_of
        ],
        columns=ORDER_COLUMNS,
    )
    revenue = monthly_revenue(orders, as_of=pd.Timestamp("2024-04-15"))
    expected_index = pd.DatetimeIndex(["2024-01-01", "2024-02-01", "2024-03-01"], name="month")
    assert revenue.index.equals(expected_index) and revenue.index.name == "month"
    assert revenue.index.freqstr == "MS"
    assert revenue.tolist() == [150.0, 0.0, 70.0]
    # at midnight on the first of a month, the month before is complete
    assert monthly_revenue(orders, as_of=pd.Timestamp("2024-04-01")).index[-1] == pd.Timestamp("2024-03-01")
    assert monthly_revenue(orders, as_of=pd.Timestamp("2024-03-31")).index[-1] == pd.Timestamp("2024-02-01")


def test_seasonal_holt_winters_beats_seasonal_naive():
    result = forecast_revenue(synthetic_orders(48, seed=3), as_of=as_of_after(48))
    assert result.method == "holt_winters_seasonal"
    card = result.card
    assert card.params["holdout_months"] == 12
    assert card.metrics["mape"] < card.baseline["mape"]
    assert card.metrics["mape"] < 0.06  # noise is 400 on ~17,000, about 2.4 %
    assert card.metrics["interval_coverage"] >= 0.75

    forecast = result.forecast
    assert list(forecast.columns) == FORECAST_COLUMNS
    assert len(forecast) == 12
    assert forecast.index[0] == pd.Timestamp("2025-01-01")
    assert (forecast["lower"] <= forecast["forecast"]).all()
    assert (forecast["forecast"] <= forecast["upper"]).all()
    width = forecast["upper"] - forecast["lower"]
    assert (width.diff().dropna() >= -1e-6).all()  # intervals widen with the horizon
    # the season survives: the peak month (sin max in March/April) beats the trough (Sept/Oct)
    by_month = forecast["forecast"].groupby(forecast.index.month).mean()
    assert by_month.loc[[3, 4]].mean() > by_month.loc[[9, 10]].mean() + 3000


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_seasonal_model_beats_baseline_across_seeds(seed):
    card = forecast_revenue(synthetic_orders(36, seed=seed), as_of=as_of_after(36)).card
    assert card.metrics["mape"] < card.baseline["mape"]


def test_trend_only_below_two_years_beats_last_value():
    orders = synthetic_orders(20, seed=5, trend=400.0, season=0.0, noise=250.0)
    result = forecast_revenue(orders, as_of=as_of_after(20))
    assert MIN_MONTHS_FOR_TREND <= 20 < MIN_MONTHS_FOR_SEASONAL
    assert result.method == "holt_trend"
    assert result.card.params["holdout_months"] == 6
    assert result.card.metrics["mape"] < result.card.baseline["mape"]
    assert result.forecast["forecast"].iloc[-1] > result.history.iloc[-1]  # the trend carries on


def test_few_months_fall_back_to_naive_without_backtest():
    result = forecast_revenue(synthetic_orders(5), as_of=as_of_after(5))
    assert result.method == "naive"
    assert result.card.metrics == {} and result.card.baseline == {}
    assert np.allclose(result.forecast["forecast"], result.history.iloc[-1])
    assert result.forecast["upper"].is_monotonic_increasing

    single = forecast_revenue(synthetic_orders(1), as_of=as_of_after(1))
    assert len(single.forecast) == 12
    assert single.forecast[["lower", "upper"]].isna().all().all()  # spread unknown, not zero


def test_no_complete_month_gives_clear_empty_result():
    orders = synthetic_orders(1)
    result = forecast_revenue(orders, as_of=pd.Timestamp("2021-01-20"))  # January still running
    assert result.method == "none" and result.is_empty
    assert list(result.forecast.columns) == FORECAST_COLUMNS
    assert "No complete month" in result.card.notes

    nothing = forecast_revenue(pd.DataFrame(columns=ORDER_COLUMNS), as_of=pd.Timestamp("2024-01-01"))
    assert nothing.is_empty and nothing.history.empty


def test_deterministic():
    orders = synthetic_orders(30, seed=9)
    a = forecast_revenue(orders, as_of=as_of_after(30))
    b = forecast_revenue(orders, as_of=as_of_after(30))
    pd.testing.assert_frame_equal(a.forecast, b.forecast)
    assert a.card == b.card


def test_negative_forecasts_are_clipped():
    orders = synthetic_orders(14, seed=1, trend=-700.0, season=0.0, noise=100.0)
    result = forecast_revenue(orders, as_of=as_of_after(14))
    assert (result.history > 0).all()
    assert result.forecast["forecast"].iloc[0] > 0
    assert result.forecast["forecast"].iloc[-1] == 0.0  # the falling trend crosses zero, clipped
    assert (result.forecast.fillna(0) >= 0).all().all()


def test_a_model_that_loses_its_backtest_serves_the_naive_forecast():
    # Seasonal data with under two years of history: the trend-only model cannot follow the season.
    orders = synthetic_orders(20, seed=3, trend=0.0, season=3000.0, noise=100.0)
    result = forecast_revenue(orders, as_of=as_of_after(20))
    assert result.card.metrics["mape"] > result.card.baseline["mape"]
    assert result.card.params["served"] == result.method == "naive"
    assert np.allclose(result.forecast["forecast"], result.history.iloc[-1])
    assert (result.forecast["upper"] > result.forecast["lower"]).all()
