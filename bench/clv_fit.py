"""Time the BG/NBD, MBG/NBD and Gamma-Gamma fits on 100,000 customers and print JSON figures.

Two samples, both seeded:

* ``cdnow_resampled`` -- rows of the CDNOW calibration summary (tests/data) drawn with
  replacement. Realistic: recency and T repeat, so rows collapse into weights.
* ``simulated`` -- a BG/NBD population with the published CDNOW parameters and continuous T
  (uniform 27-39 weeks). The worst case for row collapsing: almost every row is distinct.

If ``lifetimes`` (0.11.3) is importable -- it is not a project dependency; put a throwaway venv's
site-packages on PYTHONPATH -- its ``BetaGeoFitter`` is timed on the same samples and the ratio
printed. Run from the repository root: ``.venv/bin/python bench/clv_fit.py``.
"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from analytics.engine import clv  # noqa: E402

N_CUSTOMERS = 100_000
SEED = 20050401  # any fixed value; fixed so runs compare like with like
REPEATS = 3      # report the best of three: the machine is shared, the minimum is the least noisy
PUBLISHED = clv.BGNBDParams(r=0.2426, alpha=4.4136, a=0.7929, b=2.4259, log_likelihood=-9582.43,
                            n_customers=2357)


def samples() -> dict[str, pd.DataFrame]:
    rng = np.random.default_rng(SEED)
    cdnow = pd.read_csv(ROOT / "tests" / "data" / "cdnow_customers_summary_with_transactions.csv")
    cdnow = cdnow.rename(columns={"x": "frequency", "t_x": "recency", "zbar": "monetary_value"})
    resampled = cdnow.iloc[rng.integers(0, len(cdnow), N_CUSTOMERS)].reset_index(drop=True)
    simulated = clv.bgnbd_simulate(PUBLISHED, rng.uniform(27.0, 39.0, N_CUSTOMERS), seed=SEED)
    return {"cdnow_resampled": resampled, "simulated": simulated}


def best_time(fn) -> tuple[float, object]:
    best, result = float("inf"), None
    for _ in range(REPEATS):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def main() -> None:
    try:
        from lifetimes import BetaGeoFitter
    except ImportError:
        BetaGeoFitter = None
    report: dict[str, object] = {"n_customers": N_CUSTOMERS, "seed": SEED, "repeats": REPEATS}
    for name, frame in samples().items():
        seconds, fit = best_time(lambda: clv.bgnbd_fit(frame))
        entry: dict[str, object] = {
            "bgnbd_fit_seconds": round(seconds, 4),
            "distinct_rows": int(frame.groupby(["frequency", "recency", "T"]).ngroups),
            "repeat_buyers": int((frame["frequency"] > 0).sum()),
            "bgnbd_params": {k: round(v, 5) for k, v in fit.as_dict().items()
                             if k in ("r", "alpha", "a", "b", "log_likelihood")},
        }
        mbg_seconds, mbg = best_time(lambda: clv.mbgnbd_fit(frame))
        entry["mbgnbd_fit_seconds"] = round(mbg_seconds, 4)
        entry["mbgnbd_params"] = {k: round(v, 5) for k, v in mbg.as_dict().items()
                                  if k in ("r", "alpha", "a", "b", "log_likelihood")}
        if "monetary_value" in frame:
            gg_seconds, gg = best_time(lambda: clv.gamma_gamma_fit(frame))
            entry["gamma_gamma_fit_seconds"] = round(gg_seconds, 4)
            entry["gamma_gamma_params"] = {k: round(v, 5) for k, v in gg.as_dict().items()
                                           if k in ("p", "q", "gamma")}
        if BetaGeoFitter is not None:
            lt_seconds, lt = best_time(lambda: BetaGeoFitter().fit(
                frame["frequency"], frame["recency"], frame["T"]))
            entry["lifetimes_fit_seconds"] = round(lt_seconds, 4)
            entry["lifetimes_params"] = {k: round(float(v), 5) for k, v in lt.params_.items()}
            entry["lifetimes_over_ours"] = round(lt_seconds / seconds, 2)
        report[name] = entry
    report["lifetimes_available"] = BetaGeoFitter is not None
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
