"""Time apriori against FP-growth on Groceries, to pick the default miner in bundles.py.

Run from the repository root:  .venv/bin/python bench/bundles.py

Both miners return the same itemsets (checked below), so the choice only affects speed. Each
timing is the best of ``REPEATS`` runs, to damp noise from other jobs on a shared machine.

Measured 2026-11 (mlxtend 0.25, 2 shared cores), seconds, best of 3:

    support  itemsets  apriori  fpgrowth
    0.01        333    0.10     0.26
    0.006       747    0.25     0.56
    0.003      2226    0.48     1.04
    0.001     13492    2.26     0.84   (a noisier rerun: 2.80 vs 2.89)

Hence ``APRIORI_MIN_SUPPORT = 0.003`` in analytics/engine/bundles.py.
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from mlxtend.frequent_patterns import apriori, association_rules, fpgrowth  # noqa: E402

from analytics.engine.bundles import _one_hot, baskets_from_lines  # noqa: E402

GROCERIES = ROOT / "tests" / "data" / "groceries.csv"
SUPPORTS = (0.01, 0.006, 0.003, 0.001)
REPEATS = 3  # best of three: enough to skip a stall, cheap enough to run often


def best_time(fn) -> tuple[float, object]:
    best, result = float("inf"), None
    for _ in range(REPEATS):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def main() -> None:
    baskets = baskets_from_lines(GROCERIES.read_text().splitlines())
    onehot = _one_hot(baskets)
    print(f"{len(baskets)} baskets, {onehot.shape[1]} items")
    print(f"{'support':>8} {'itemsets':>9} {'apriori s':>10} {'fpgrowth s':>11} {'rules s':>8} faster")
    for support in SUPPORTS:
        t_ap, sets_ap = best_time(lambda: apriori(onehot, min_support=support, use_colnames=True))
        t_fp, sets_fp = best_time(lambda: fpgrowth(onehot, min_support=support, use_colnames=True))
        assert set(sets_ap["itemsets"]) == set(sets_fp["itemsets"]), "miners disagree"
        t_rules, _ = best_time(
            lambda: association_rules(
                sets_fp, num_itemsets=len(baskets), metric="confidence", min_threshold=0.25
            )
        )
        faster = "apriori" if t_ap < t_fp else "fpgrowth"
        print(f"{support:>8} {len(sets_fp):>9} {t_ap:>10.3f} {t_fp:>11.3f} {t_rules:>8.3f} {faster}")


if __name__ == "__main__":
    main()
