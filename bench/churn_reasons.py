"""Time churn reasons (exact TreeSHAP of the calibrated fold models, plus the check against the
typical value) on 100,000 scored customers, single-threaded, and print JSON figures.

The model is fitted as the full run fits it (analytics.engine.churn) on a demo population large
enough to be served by one model; the scored matrix is that population's buyers resampled to
``N_ROWS`` rows. Timed on the same rows: the served model, the same candidate as a mean of the
calibration folds' models (how a small training set is served), and the logistic candidate.
The ``tree_shap`` block times the served tree model's TreeSHAP both ways on the same rows:
row by row, and shared per route through each tree (reasons.tree_shap).
Run from the repository root: ``.venv/bin/python bench/churn_reasons.py``.
"""
from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # one core: the figure the brief budgets for

import json  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from sklearn.base import clone  # noqa: E402
from sklearn.calibration import CalibratedClassifierCV  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from analytics.engine import churn, reasons  # noqa: E402
from analytics.engine.features import build_features, model_matrix  # noqa: E402
from customers.demo.generator import generate_demo  # noqa: E402

N_ROWS = 100_000
N_DEMO = 20_000  # a training set over churn.ONE_MODEL_MIN_SAMPLES rows, as at scale
SEED = 7
AS_OF = pd.Timestamp("2026-06-30")


def main() -> None:
    demo = generate_demo(N_DEMO, SEED, AS_OF)
    frames = {"customers": demo.customers, "orders": demo.orders, "feedback": demo.feedback,
              "interactions": demo.interactions}
    result = churn.predict_churn(**frames, as_of=AS_OF, seed=SEED)
    features = build_features(**frames, cutoff=AS_OF)
    buyers = features.loc[features["frequency"] > 0]
    pick = np.random.default_rng(SEED).choice(len(buyers), size=N_ROWS, replace=True)
    big = buyers.iloc[pick].reset_index(drop=True)
    x = model_matrix(big)[list(result.columns)]
    figures = {"rows": N_ROWS, "served_model": result.card.name, "n_fit": result.card.params["n_fit"]}
    # The served model, and the same candidate as a mean over the calibration folds (what a
    # training set below ONE_MODEL_MIN_SAMPLES gets), on the same rows.
    chosen = result.card.name.removeprefix("churn_").removesuffix("_calibrated")
    x_fit = x.iloc[:20_000]
    y = (result.scores["churn_risk"] != "low").astype(int).to_numpy()[pick[:20_000]]
    folds = CalibratedClassifierCV(clone(churn._candidates(SEED, list(result.columns))[chosen]),
                                   method="isotonic", cv=churn.CALIBRATION_FOLDS).fit(x_fit, y)
    models = {f"{chosen} served": result.model, f"{chosen} mean of folds": folds}
    if chosen != "logistic_regression":
        models["logistic_regression"] = churn._calibrated(
            churn._candidates(SEED, list(result.columns))["logistic_regression"], x_fit,
            pd.Series(y, index=x_fit.index), n_samples=len(x_fit), seed=SEED)
    for name, model in models.items():
        start = time.perf_counter()
        risk = churn.risk_band(pd.Series(model.predict_proba(x)[:, 1], index=x.index))
        scored = time.perf_counter()
        phi, _ = reasons.contributions(model, x)
        explained = time.perf_counter()
        found = reasons.churn_reasons(model, x, big, risk, result.typical)
        done = time.perf_counter()
        figures[name] = {
            "models": len(reasons.fold_estimators(model)),
            "predict_s": round(scored - start, 2),
            "contributions_s": round(explained - scored, 2),
            # churn_reasons alone: contributions again, the typical-value check, the lists.
            "reasons_total_s": round(done - explained, 2),
            "rows_per_s": round(N_ROWS / (done - explained)),
            "with_reasons_share": round(float(np.mean([len(r) > 0 for r in found])), 3),
        }
    figures["tree_shap"] = _tree_shap_shared_vs_row_by_row(result.model, x)
    print(json.dumps(figures, indent=2))


def _tree_shap_shared_vs_row_by_row(model, x: pd.DataFrame) -> dict:
    """The served tree model's contributions both ways on the same rows, in the run's chunks:
    shap on every row, and reasons.tree_shap (one row per route through each tree)."""
    import shap

    estimator = reasons.fold_estimators(model)[0]
    if not hasattr(estimator, "_predictors"):
        return {"skipped": "the served model is not a tree ensemble"}
    explainer = shap.TreeExplainer(estimator)
    rows = x.to_numpy(dtype="float64")
    start = time.perf_counter()
    every = reasons._shap_chunked(explainer, rows)
    row_by_row = time.perf_counter() - start
    start = time.perf_counter()
    shared = reasons.tree_shap(explainer, rows)
    shared_s = time.perf_counter() - start
    return {"trees": len(explainer.model.trees), "row_by_row_s": round(row_by_row, 2),
            "shared_s": round(shared_s, 2), "ratio": round(row_by_row / shared_s, 1),
            "max_abs_difference": float(np.abs(every - shared).max())}


if __name__ == "__main__":
    main()
