"""Lifecycle stages on hand-made customers whose stage is known, plus properties."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from analytics.engine import clv, lifecycle

AS_OF = pd.Timestamp("2024-06-30")
DATA = Path(__file__).resolve().parents[2] / "data"

# customer_id -> (status, days-before-AS_OF of each order, p_alive or None, expected stage, reason)
CASES: dict[int, tuple[str, list[int], float | None, str, str]] = {
    1: ("active", [], None, "prospect", "no_orders"),
    2: ("active", [5], None, "new", "first_order_recent"),
    3: ("active", [5, 35, 65, 95], 0.9, "active", "within_usual_gap"),
    4: ("active", [70, 100, 130], None, "at_risk", "silent_over_2x_gap"),
    5: ("active", [150, 180, 210], None, "churned", "silent_over_4x_gap"),
    6: ("active", [10, 200, 230, 260], 0.8, "reactivated", "returned_after_long_gap"),
    7: ("churned", [3, 33, 63], 0.99, "churned", "status_churned"),
    8: ("active", [20, 50, 80], 0.3, "at_risk", "p_alive_low"),
    # Silent for 5x the gap, but BG/NBD still thinks they are probably alive: at risk, not churned.
    9: ("active", [150, 180, 210], 0.9, "at_risk", "silent_over_2x_gap"),
    10: ("active", [150, 180, 210], 0.05, "churned", "silent_over_4x_gap"),
    # One order long ago: population gap (30 days) applies; p_alive = 1 is ignored for them.
    11: ("active", [400], 1.0, "churned", "silent_over_4x_gap"),
    12: ("active", [45], 1.0, "active", "within_usual_gap"),
    # Two orders a day apart: the 1-day rhythm is floored to MIN_TYPICAL_GAP_DAYS (7).
    13: ("active", [10, 11], None, "active", "within_usual_gap"),
    # Two orders on the same day are one purchase day, so still "new".
    14: ("active", [5, 5], None, "new", "first_order_recent"),
    # Only an order after as_of: a prospect at as_of.
    15: ("active", [-3], None, "prospect", "no_orders"),
    16: ("churned", [], None, "churned", "status_churned"),
}


def build_frames() -> tuple[pd.DataFrame, pd.DataFrame, pd.Series]:
    customers = pd.DataFrame({
        "customer_id": np.array(list(CASES), dtype="int64"),
        "signup_date": AS_OF - pd.Timedelta(days=500),
        "status": [c[0] for c in CASES.values()],
        "gender": "", "region": "", "city": "", "channel": "", "consent": True,
    })
    rows = [(cid, AS_OF - pd.Timedelta(days=d) + pd.Timedelta(hours=9)) for cid, c in CASES.items()
            for d in c[1]]
    orders = pd.DataFrame(rows, columns=["customer_id", "ordered_at"])
    orders.insert(0, "order_id", np.arange(len(orders), dtype="int64"))
    orders["total_amount"] = 25.0
    orders["channel"] = "web"
    p_alive = pd.Series({cid: c[2] for cid, c in CASES.items() if c[2] is not None}, dtype="float64")
    return customers, orders, p_alive


def test_hand_made_customers_get_their_known_stage():
    customers, orders, p_alive = build_frames()
    out = lifecycle.lifecycle_stages(customers, orders, as_of=AS_OF, p_alive=p_alive)
    assert list(out.columns) == lifecycle.LIFECYCLE_COLUMNS
    assert list(out.index) == list(CASES)
    for cid, (_, _, _, stage, reason) in CASES.items():
        assert (out.loc[cid, "lifecycle_stage"], out.loc[cid, "lifecycle_reason"]) == (stage, reason), cid


def test_gap_details():
    customers, orders, p_alive = build_frames()
    out = lifecycle.lifecycle_stages(customers, orders, as_of=AS_OF, p_alive=p_alive)
    assert out.loc[3, "typical_gap_days"] == 30.0 and out.loc[3, "gap_source"] == "own"
    assert out.loc[13, "typical_gap_days"] == lifecycle.MIN_TYPICAL_GAP_DAYS
    # Population fallback = median of everyone's own typical gap (30 days here).
    assert out.loc[11, "gap_source"] == "population" and out.loc[11, "typical_gap_days"] == 30.0
    assert out.loc[14, "purchase_days"] == 1
    assert out.loc[4, "recency_days"] == 70.0  # whole purchase days: the 9 am time is dropped
    assert np.isnan(out.loc[1, "recency_days"]) and out.loc[1, "gap_source"] == ""
    assert np.isnan(out.loc[4, "p_alive"])


def test_without_p_alive_the_recency_rules_decide():
    customers, orders, _ = build_frames()
    out = lifecycle.lifecycle_stages(customers, orders, as_of=AS_OF)
    assert out.loc[8, "lifecycle_stage"] == "active"     # was at_risk only through p_alive
    assert out.loc[9, "lifecycle_stage"] == "churned"    # no p_alive to hold them back
    assert out.loc[4, "lifecycle_stage"] == "at_risk"


def test_new_window_and_reactivation_window_edges():
    customers = pd.DataFrame({"customer_id": [1, 2, 3], "status": "active"})
    day = pd.Timedelta(days=1)
    orders = pd.DataFrame({
        "order_id": range(6),
        "customer_id": [1, 2, 2, 2, 3, 3],
        "ordered_at": [AS_OF - 31 * day, AS_OF - 31 * day, AS_OF - 300 * day, AS_OF - 330 * day,
                       AS_OF - 30 * day, AS_OF - 60 * day],
        "total_amount": 1.0, "channel": "",
    })
    out = lifecycle.lifecycle_stages(customers, orders, as_of=AS_OF)
    assert out.loc[1, "lifecycle_stage"] != "new"            # 31 days > NEW_CUSTOMER_DAYS
    assert out.loc[2, "lifecycle_stage"] != "reactivated"    # came back 31 days ago: window over
    assert out.loc[3, "lifecycle_stage"] == "active"         # regular 30-day rhythm


def test_same_input_same_output_and_row_order_does_not_matter():
    customers, orders, p_alive = build_frames()
    one = lifecycle.lifecycle_stages(customers, orders, as_of=AS_OF, p_alive=p_alive)
    two = lifecycle.lifecycle_stages(customers, orders.sample(frac=1, random_state=3), as_of=AS_OF,
                                     p_alive=p_alive.sample(frac=1, random_state=4))
    pd.testing.assert_frame_equal(one, two)


def test_with_bgnbd_p_alive_on_cdnow():
    raw = pd.read_csv(DATA / "CDNOW_sample.txt", sep=r"\s+", header=None,
                      names=["master_id", "sample_id", "date", "cds", "dollars"])
    orders = pd.DataFrame({
        "order_id": np.arange(len(raw), dtype="int64"),
        "customer_id": raw["sample_id"].astype("int64"),
        "ordered_at": pd.to_datetime(raw["date"].astype(str), format="%Y%m%d"),
        "total_amount": raw["dollars"].astype("float64"), "channel": "",
    })
    as_of = pd.Timestamp("1997-09-30")
    alive = clv.clv_score(orders, as_of=as_of).customers["p_alive"]
    customers = pd.DataFrame({"customer_id": np.arange(1, 2400, dtype="int64"), "status": "active"})
    out = lifecycle.lifecycle_stages(customers, orders, as_of=as_of, p_alive=alive)
    assert set(out["lifecycle_stage"]) <= set(lifecycle.LIFECYCLE_STAGES)
    assert (out.loc[2358:, "lifecycle_stage"] == "prospect").all()   # ids with no orders
    counts = out["lifecycle_stage"].value_counts()
    assert counts.get("new", 0) == 0          # CDNOW's cohort was acquired in Jan-Mar 1997
    assert {"active", "at_risk", "churned"} <= set(counts.index)
    repeat_churned = out[(out["lifecycle_stage"] == "churned") & (out["purchase_days"] >= 2)]
    assert (repeat_churned["p_alive"] < lifecycle.CHURN_P_ALIVE).all()


# customer_id of CASES -> (churn risk band, expected stage, reason) once the churn model has spoken.
RISK_CASES: dict[int, tuple[str, str, str]] = {
    3: ("low", "active", "low_churn_risk"),
    # A high churn risk is never "active", even within the usual gap.
    8: ("high", "at_risk", "high_churn_risk"),
    # Silent 5x the gap with a high risk: churned. With a low risk the model, which sees the
    # silence against the rhythm itself, says they will probably buy: active.
    5: ("high", "churned", "high_risk_silent_over_4x_gap"),
    4: ("medium", "at_risk", "medium_risk_silent_over_2x_gap"),
    13: ("low", "active", "low_churn_risk"),
    # BG/NBD still thinks them probably alive: at risk, not churned.
    9: ("high", "at_risk", "high_churn_risk"),
    10: ("high", "churned", "high_risk_silent_over_4x_gap"),
    # p_alive 1 of a one-time buyer is not informative.
    11: ("high", "churned", "high_risk_silent_over_4x_gap"),
    12: ("medium", "active", "medium_risk_within_usual_gap"),
    # Status, no orders, a first order and a comeback are facts the band does not override.
    7: ("low", "churned", "status_churned"),
    2: ("high", "new", "first_order_recent"),
    6: ("high", "reactivated", "returned_after_long_gap"),
}


def test_churn_risk_band_decides_between_active_at_risk_and_churned():
    customers, orders, p_alive = build_frames()
    risk = pd.Series({cid: band for cid, (band, _, _) in RISK_CASES.items()})
    out = lifecycle.lifecycle_stages(customers, orders, as_of=AS_OF, p_alive=p_alive, churn_risk=risk)
    for cid, (band, stage, reason) in RISK_CASES.items():
        assert (out.loc[cid, "lifecycle_stage"], out.loc[cid, "lifecycle_reason"]) == (stage, reason), cid
        assert out.loc[cid, "churn_risk"] == band
    # Customers without a band keep the silence rules.
    assert out.loc[1, "churn_risk"] == "" and out.loc[1, "lifecycle_stage"] == "prospect"
    assert (out.loc[14, "lifecycle_stage"], out.loc[14, "churn_risk"]) == ("new", "")


def test_medium_risk_with_low_p_alive_is_at_risk():
    customers, orders, p_alive = build_frames()
    out = lifecycle.lifecycle_stages(customers, orders, as_of=AS_OF, p_alive=p_alive,
                                     churn_risk=pd.Series({8: "medium", 3: "medium"}))
    assert (out.loc[8, "lifecycle_stage"], out.loc[8, "lifecycle_reason"]) == ("at_risk", "p_alive_low")
    assert (out.loc[3, "lifecycle_stage"], out.loc[3, "lifecycle_reason"]) == (
        "active", "medium_risk_within_usual_gap")
