"""Lifecycle stage of every customer: prospect, new, active, at_risk, churned, reactivated.

Why rules and not a model: the stage is a label staff act on ("call the at-risk ones"), so it must
be explainable in one sentence, and each customer's row carries a ``lifecycle_reason`` saying
which rule fired. The stage reads the churn model's risk band
(:func:`analytics.engine.churn.risk_band`) together with silence against the customer's *own*
rhythm, so the page cannot show "Churned" next to a low churn risk, or "Active" next to a high
one. 60 days without an order is alarming
for a weekly buyer and normal for a twice-a-year one.

Definitions (days are calendar days; orders on one day count as one purchase day; only orders at
or before ``as_of`` exist):

* typical gap -- median of the customer's gaps between purchase days, floored at
  ``MIN_TYPICAL_GAP_DAYS``. Customers with a single purchase day have no gap of their own and use
  the population fallback: the median of everyone's typical gap (``DEFAULT_TYPICAL_GAP_DAYS``
  when nobody has bought twice).
* silence -- days since the last purchase day, compared with the typical gap.
* churn risk -- the band of the calibrated churn probability (low / medium / high), as stored.
* p_alive -- BG/NBD P(alive) from :mod:`analytics.engine.clv`. BG/NBD gives exactly 1 to anyone
  without a repeat purchase (they cannot have dropped out yet under the model), so p_alive is
  only used for customers with at least two purchase days. Missing values mean "no opinion".

Rules, first match wins:

1. ``churned`` -- the customer's status is "churned" (staff or the customer said so; this beats
   any inference, even a recent order).
2. ``prospect`` -- no order yet, and no churn risk.
2a. No order but a churn risk (the explicit churn model of a contract business scores customers
   from their status and attributes, orders or not; :mod:`analytics.engine.churn`): there is no
   silence to read, so the band alone decides: ``at_risk`` if high, ``active`` otherwise.
3. ``new`` -- one purchase day, within the last ``NEW_CUSTOMER_DAYS``.
4. ``reactivated`` -- last purchase within ``REACTIVATION_WINDOW_DAYS``, and the gap before it was
   longer than ``AT_RISK_GAP_MULTIPLE`` x the typical gap measured on the *earlier* gaps (the
   silence would have made them at risk or churned before they came back).

With a churn risk (every buyer, whenever the churn model could be fitted), the band decides:

5. ``churned`` -- high risk, silent for more than ``CHURN_GAP_MULTIPLE`` x typical gap, and p_alive
   (where informative) below ``AT_RISK_P_ALIVE``: every score agrees they are gone.
6. ``at_risk`` -- high risk otherwise (``high_churn_risk``).
7. ``at_risk`` -- p_alive below ``AT_RISK_P_ALIVE`` (BG/NBD thinks them more likely gone than not).
8. ``at_risk`` -- medium risk and silent for more than ``AT_RISK_GAP_MULTIPLE`` x typical gap.
9. ``active`` -- low risk, or medium risk within the usual gap.

Hence, by construction: a stage ``churned`` not set by status has a high churn risk; a stage
``active`` never has one. And since the risk rises with silence (the churn model is monotone in
it, see :mod:`analytics.engine.churn`) while p_alive falls, a longer silence never moves a
customer from churned to at_risk or from at_risk to active.

Without a churn risk (the churn model could not be fitted), silence and p_alive alone decide:

5'. ``churned`` -- silent for more than ``CHURN_GAP_MULTIPLE`` x typical gap, and p_alive below
    ``CHURN_P_ALIVE`` (or not informative).
6'. ``at_risk`` -- silent for more than ``AT_RISK_GAP_MULTIPLE`` x typical gap, or p_alive below
    ``AT_RISK_P_ALIVE``.
7'. ``active`` -- everyone else.

The multiples 2x / 4x are business heuristics chosen here ("skipped one purchase" / "skipped
about three"), not published constants. The p_alive cuts are likewise a business choice: BG/NBD
P(alive) falls smoothly as silence grows, with no natural cut-off, so 0.5 reads "more likely gone
than not" and 0.1 "almost surely gone". Change them here, in one place; the help text of the
customer page (templates/customers/detail.html, ``#scores``) and README.md repeat them.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from .order_summary import order_summary

LIFECYCLE_STAGES = ("prospect", "new", "active", "at_risk", "churned", "reactivated")

# A first purchase is "new" for a month: long enough for a welcome journey, short enough that the
# stage means something.
NEW_CUSTOMER_DAYS = 30
# A returning customer stays "reactivated" for a month after coming back, then is judged normally.
REACTIVATION_WINDOW_DAYS = 30
# Silence beyond 2x the usual gap = a purchase was skipped; beyond 4x = several were.
AT_RISK_GAP_MULTIPLE = 2.0
CHURN_GAP_MULTIPLE = 4.0
# p_alive thresholds, see module docstring.
AT_RISK_P_ALIVE = 0.5
CHURN_P_ALIVE = 0.1
# Two purchases on consecutive days would otherwise set a 1-day rhythm and flag the customer
# as at risk after three quiet days.
MIN_TYPICAL_GAP_DAYS = 7.0
# Used only when no customer has bought twice, so there is no population rhythm to borrow.
DEFAULT_TYPICAL_GAP_DAYS = 30.0

LIFECYCLE_COLUMNS = ["lifecycle_stage", "lifecycle_reason", "purchase_days", "recency_days",
                     "typical_gap_days", "gap_source", "p_alive", "churn_risk"]


def _gap_stats(orders: pd.DataFrame, as_of: pd.Timestamp, summary: pd.DataFrame | None = None) -> pd.DataFrame:
    """Per customer: purchase days, first/last day, median gap, last gap, median of earlier gaps,
    read from the orders' summary at ``as_of`` (computed from ``orders`` when not given)."""
    if summary is None:
        summary = order_summary(orders, cutoff=as_of, inclusive=True)
    return pd.DataFrame({
        "purchase_days": summary["purchase_days"],
        "first_day": summary["first_day"],
        "last_day": summary["last_day"],
        "median_gap": summary["median_gap_days"],
        "last_gap": summary["last_gap_days"],
        "median_earlier_gap": summary["median_earlier_gap_days"],
    }, index=summary.index)


def _population_gap(own_gap: pd.Series) -> float:
    gap = float(own_gap.median()) if own_gap.notna().any() else DEFAULT_TYPICAL_GAP_DAYS
    return max(gap, MIN_TYPICAL_GAP_DAYS)


def population_gap(orders: pd.DataFrame, *, as_of: pd.Timestamp, summary: pd.DataFrame | None = None) -> float:
    """The typical gap between purchase days across all customers: the fallback rhythm."""
    stats = _gap_stats(orders, pd.Timestamp(as_of), summary)
    return _population_gap(stats["median_gap"].clip(lower=MIN_TYPICAL_GAP_DAYS))


def _select(conditions: list[np.ndarray], labels: list[str], *, default: str) -> np.ndarray:
    """``np.select`` of labels, as an object array of the labels themselves: a fixed-width
    string array is a copy of the longest label per row (120 MB at a million customers) that
    pandas then turns into a new string object per row."""
    choices = np.array([*labels, default], dtype=object)
    return choices[np.select(conditions, list(range(len(labels))), default=len(labels))]


def lifecycle_stages(customers: pd.DataFrame, orders: pd.DataFrame, *, as_of: pd.Timestamp,
                     p_alive: pd.Series | None = None, churn_risk: pd.Series | None = None,
                     population_gap_days: float | None = None,
                     summary: pd.DataFrame | None = None) -> pd.DataFrame:
    """Lifecycle stage for every row of ``customers``, indexed by customer_id.

    Columns: lifecycle_stage (one of ``LIFECYCLE_STAGES``), lifecycle_reason (which rule fired),
    purchase_days, recency_days (days from the last order to ``as_of``; NaN for prospects),
    typical_gap_days, gap_source ("own" | "population" | "" for prospects), p_alive (as given,
    NaN when unknown), churn_risk (the band given, "" when unknown). Orders of customers missing
    from ``customers`` are ignored. ``churn_risk`` is the churn model's band per customer
    (:func:`analytics.engine.churn.risk_band`); customers without one are judged by silence and
    p_alive alone.
    ``population_gap_days`` overrides the population's typical gap, for rescoring a few customers
    with the figure of the last full run (see :func:`population_gap`). ``summary`` is the
    orders' summary at ``as_of`` when the caller has it (see :func:`_gap_stats`).
    """
    as_of = pd.Timestamp(as_of)
    ids = pd.Index(customers["customer_id"].astype("int64"), name="customer_id")
    stats = _gap_stats(orders, as_of, summary).reindex(ids)

    own_gap = stats["median_gap"].clip(lower=MIN_TYPICAL_GAP_DAYS)
    population_gap = (population_gap_days if population_gap_days is not None
                      else _population_gap(own_gap))
    typical_gap = own_gap.fillna(population_gap)
    earlier_gap = stats["median_earlier_gap"].clip(lower=MIN_TYPICAL_GAP_DAYS).fillna(population_gap)

    n_days = stats["purchase_days"].fillna(0).astype("int64")
    has_orders = n_days > 0
    recency = (as_of - stats["last_day"]) / pd.Timedelta(days=1)
    since_first = (as_of - stats["first_day"]) / pd.Timedelta(days=1)

    alive = (p_alive.reindex(ids).astype("float64") if p_alive is not None
             else pd.Series(np.nan, index=ids))
    # p_alive only carries information for repeat buyers (module docstring).
    informative = alive.notna() & (n_days >= 2)
    risk = (churn_risk.reindex(ids).fillna("").astype(str) if churn_risk is not None
            else pd.Series("", index=ids, dtype="object"))
    has_risk = (risk != "").to_numpy()
    high, medium = (risk == "high").to_numpy(), (risk == "medium").to_numpy()
    alive_low = (informative & (alive < AT_RISK_P_ALIVE)).to_numpy()
    silent_2x = (recency > AT_RISK_GAP_MULTIPLE * typical_gap).to_numpy()
    silent_4x = (recency > CHURN_GAP_MULTIPLE * typical_gap).to_numpy()
    status = customers["status"].fillna("").astype(str).str.lower().to_numpy()

    conditions = [
        ("churned", "status_churned", status == "churned"),
        ("prospect", "no_orders", (~has_orders).to_numpy() & ~has_risk),
        ("at_risk", "no_orders_high_churn_risk", (~has_orders).to_numpy() & high),
        ("active", "no_orders_churn_risk_not_high", (~has_orders).to_numpy()),
        ("new", "first_order_recent", ((n_days == 1) & (since_first <= NEW_CUSTOMER_DAYS)).to_numpy()),
        ("reactivated", "returned_after_long_gap",
         ((n_days >= 2) & (recency <= REACTIVATION_WINDOW_DAYS)
          & (stats["last_gap"] > AT_RISK_GAP_MULTIPLE * earlier_gap)).to_numpy()),
        # The churn risk band decides (rules 5-9 of the module docstring).
        ("churned", "high_risk_silent_over_4x_gap",
         high & silent_4x & (~informative | (alive < AT_RISK_P_ALIVE)).to_numpy()),
        ("at_risk", "high_churn_risk", high),
        ("at_risk", "p_alive_low", has_risk & alive_low),
        ("at_risk", "medium_risk_silent_over_2x_gap", medium & silent_2x),
        ("active", "medium_risk_within_usual_gap", medium),
        ("active", "low_churn_risk", has_risk),
        # No churn model: silence and p_alive alone (rules 5'-7').
        ("churned", "silent_over_4x_gap",
         silent_4x & (~informative | (alive < CHURN_P_ALIVE)).to_numpy()),
        ("at_risk", "silent_over_2x_gap", silent_2x),
        ("at_risk", "p_alive_low", alive_low),
    ]
    stage = _select([c for _, _, c in conditions], [s for s, _, _ in conditions], default="active")
    reason = _select([c for _, _, c in conditions], [r for _, r, _ in conditions], default="within_usual_gap")

    out = pd.DataFrame({
        "lifecycle_stage": stage,
        "lifecycle_reason": reason,
        "purchase_days": n_days.to_numpy(),
        "recency_days": recency.to_numpy(),
        "typical_gap_days": typical_gap.where(has_orders).to_numpy(),
        "gap_source": _select([~has_orders.to_numpy(), stats["median_gap"].notna().to_numpy()], ["", "own"],
                              default="population"),
        "p_alive": alive.to_numpy(),
        "churn_risk": risk.to_numpy(),
    }, index=ids)
    return out[LIFECYCLE_COLUMNS]
