"""BG/NBD vs MBG/NBD on held-out periods; prints JSON figures.

* CDNOW (tests/data): calibration weeks 1-39, holdout weeks 40-78 (FHL 2005's split). Both models
  fitted on calibration; per-customer holdout metrics (:func:`holdout_metrics`) and the
  cumulative repeat purchases expected at week 78 (actual: 4,339).
* Demo data (``customers.demo.generator.generate_demo``): fitted at ``as_of - H`` and scored on
  the next H days, for H = 90 and 180, plus the calibration of P(alive) against "bought again in
  the holdout" by P(alive) decile (one-time buyers under BG/NBD have P(alive) = 1).

Run from the repository root: ``.venv/bin/python bench/clv_models.py [n_customers]``.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from analytics.engine import clv  # noqa: E402
from analytics.engine.clv_purchase import holdout_metrics  # noqa: E402

SEED = 7
DEMO_AS_OF = pd.Timestamp("2025-06-30")


def cdnow_orders() -> pd.DataFrame:
    raw = pd.read_csv(ROOT / "tests" / "data" / "CDNOW_sample.txt", sep=r"\s+", header=None,
                      names=["master_id", "sample_id", "date", "cds", "dollars"])
    return pd.DataFrame({"customer_id": raw["sample_id"].astype("int64"),
                         "ordered_at": pd.to_datetime(raw["date"].astype(str), format="%Y%m%d"),
                         "total_amount": raw["dollars"].astype("float64")})


def calibration_table(p_alive: np.ndarray, bought: np.ndarray) -> list[dict[str, float]]:
    """Mean P(alive) and share who bought again, by P(alive) decile (ties stay together)."""
    frame = pd.DataFrame({"p": p_alive, "bought": bought})
    frame["bin"] = pd.qcut(frame["p"].rank(method="first"), 10, labels=False)
    rows = frame.groupby("bin").agg(p_alive=("p", "mean"), bought_again=("bought", "mean"),
                                    n=("p", "size"))
    return [{k: round(float(v), 4) for k, v in row.items()} for _, row in rows.iterrows()]


def compare(data: pd.DataFrame, time_unit_days: float) -> dict[str, object]:
    out: dict[str, object] = {"n_customers": len(data),
                              "one_time_buyers": int((data["frequency"] == 0).sum())}
    bought = (data["frequency_holdout"] > 0).to_numpy(dtype="float64")
    for name, fit in (("bgnbd", clv.bgnbd_fit), ("mbgnbd", clv.mbgnbd_fit)):
        params = fit(data, time_unit_days=time_unit_days)
        entry: dict[str, object] = {k: round(v, 4) for k, v in params.as_dict().items()
                                    if k in ("r", "alpha", "a", "b", "log_likelihood")}
        entry.update({k: round(v, 4) for k, v in holdout_metrics(params, data).items() if v is not None})
        alive = clv.purchase_p_alive(params, data).to_numpy()
        once = data["frequency"].to_numpy() == 0
        entry["p_alive_brier_vs_bought_again"] = round(float(np.mean((alive - bought) ** 2)), 4)
        entry["one_time_buyers_p_alive_mean"] = round(float(alive[once].mean()), 4)
        entry["one_time_buyers_bought_again"] = round(float(bought[once].mean()), 4)
        entry["p_alive_calibration"] = calibration_table(alive, bought)
        out[name] = entry
    return out


def main() -> None:
    from customers.demo.generator import generate_demo

    n = int(sys.argv[1]) if len(sys.argv) > 1 else 20_000
    orders = cdnow_orders()
    cdnow = clv.clv_holdout_summary(orders, calibration_end=pd.Timestamp("1997-09-30"),
                                    holdout_end=pd.Timestamp("1998-06-30"))
    report: dict[str, object] = {"cdnow": compare(cdnow, 7.0)}
    trial_week = (cdnow["first_purchase_at"] - pd.Timestamp("1997-01-01")) / pd.Timedelta(weeks=1)
    for name, fit, expected in (("bgnbd", clv.bgnbd_fit, clv.bgnbd_expected_repeat_purchases),
                                ("mbgnbd", clv.mbgnbd_fit, clv.mbgnbd_expected_repeat_purchases)):
        params = fit(cdnow)
        report["cdnow"][name]["cumulative_week78_expected"] = round(
            float(expected(params, 78 - trial_week.to_numpy()).sum()), 1)
    report["cdnow"]["cumulative_week78_actual"] = float(
        cdnow["frequency"].sum() + cdnow["frequency_holdout"].sum())

    demo = generate_demo(n, seed=SEED, as_of=DEMO_AS_OF)
    demo_orders = demo.orders[["customer_id", "ordered_at", "total_amount"]]
    for days in (90, 180):
        data = clv.clv_holdout_summary(demo_orders, calibration_end=DEMO_AS_OF - pd.Timedelta(days=days),
                                       holdout_end=DEMO_AS_OF)
        report[f"demo_{n}_holdout_{days}d"] = compare(data, 7.0)
    chosen, selection = clv.choose_purchase_model(demo_orders, as_of=DEMO_AS_OF)
    report["demo_served_model"] = chosen
    report["cdnow_served_model"] = clv.choose_purchase_model(orders, as_of=pd.Timestamp("1997-09-30"))[0]
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
