"""Shared fixtures for the analytics engine tests (no Django, no database).

Thread limits come first: these machines have 2 cores shared by several workers, and OpenMP
(K-means, histogram gradient boosting) spinning on busy cores made a 1-second fit take 20 s.
The variables must be set before scikit-learn loads its OpenMP runtime, hence at import time.
"""
from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import pandas as pd  # noqa: E402
import pytest  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parents[3]
if str(REPO_ROOT) not in sys.path:  # plain `pytest` (not `python -m pytest`) does not add it
    sys.path.insert(0, str(REPO_ROOT))

from customers.demo.generator import generate_demo  # noqa: E402

AS_OF = pd.Timestamp("2026-06-30")
# 2,000 customers: about 1,900 buyers and 1,600 labelled rows per churn window, enough for
# stable AUC differences, while all model fits in a test file stay within a few seconds.
DEMO_CUSTOMERS = 2000
DEMO_SEED = 11


@pytest.fixture(scope="session", autouse=True)
def _single_threaded_numerics():
    """Belt and braces for the environment variables above: if something imported scikit-learn
    before this conftest, its thread pools are already sized, and only threadpoolctl shrinks them."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):
        yield


@pytest.fixture(scope="session")
def as_of() -> pd.Timestamp:
    return AS_OF


@pytest.fixture(scope="session")
def demo():
    """Realistic demo data (customers.demo.generator), generated once per test session."""
    return generate_demo(DEMO_CUSTOMERS, DEMO_SEED, AS_OF)


@pytest.fixture(scope="session")
def small_demo():
    """A smaller data set for determinism checks that run a model twice."""
    return generate_demo(600, 5, AS_OF)


def _make_frames(
    orders: list[tuple[int, str, float]],
    customers: list[dict] | None = None,
    feedback: list[dict] | None = None,
    interactions: list[tuple] | None = None,
) -> dict[str, pd.DataFrame]:
    """Hand-made frames in the engine schema.

    ``orders``: (customer_id, "YYYY-MM-DD", amount). Customers default to one per id seen,
    signed up on 2025-01-01, active, with fixed attributes; pass dicts to override fields.
    ``feedback``: dicts with customer_id, created_at and optional rating, sentiment_score,
    complaint_reason. ``interactions``: (customer_id, "YYYY-MM-DD", kind[, outcome]).
    """
    ids = sorted({o[0] for o in orders} | {c["customer_id"] for c in customers or []})
    base = {c["customer_id"]: c for c in customers or []}
    cust = pd.DataFrame(
        [
            {
                "customer_id": i, "signup_date": pd.Timestamp("2025-01-01"), "status": "active",
                "gender": "female" if i % 2 else "male", "region": "North" if i % 3 else "South",
                "city": "", "channel": "online", "consent": True, **base.get(i, {}),
            }
            for i in ids
        ]
    )
    cust["signup_date"] = pd.to_datetime(cust["signup_date"])
    order_frame = pd.DataFrame(
        {
            "order_id": range(1, len(orders) + 1),
            "customer_id": [o[0] for o in orders],
            "ordered_at": pd.to_datetime([o[1] for o in orders]),
            "total_amount": [float(o[2]) for o in orders],
            "channel": "online",
        }
    ).astype({"order_id": "int64", "customer_id": "int64"})
    fb_rows = [
        {"feedback_id": n, "rating": float("nan"), "text": "", "language": "en",
         "sentiment_score": float("nan"), "complaint_reason": "", **row}
        for n, row in enumerate(feedback or [], start=1)
    ]
    fb = pd.DataFrame(
        fb_rows,
        columns=["feedback_id", "customer_id", "created_at", "rating", "text", "language",
                 "sentiment_score", "complaint_reason"],
    )
    fb["created_at"] = pd.to_datetime(fb["created_at"])
    it = pd.DataFrame([(*row, "")[:4] for row in interactions or []],
                      columns=["customer_id", "occurred_at", "kind", "outcome"])
    it["occurred_at"] = pd.to_datetime(it["occurred_at"])
    return {"customers": cust, "orders": order_frame, "feedback": fb, "interactions": it}


@pytest.fixture(scope="session")
def make_frames():
    """The hand-made frame builder (:func:`_make_frames`), as a fixture so tests need no import."""
    return _make_frames
