"""The frames the engine reads, and the model card every model returns.

Input frames (built by the ORM adapter, or by tests and the demo generator):

``customers``  customer_id (int64), signup_date (datetime64[ns]), status ("active" | "churned"),
               gender, region, city, channel (str, may be empty), consent (bool);
               optional: attributes (dict per customer, the imported columns the CRM has no
               field for; see analytics.engine.attributes)
``orders``     order_id (int64), customer_id (int64), ordered_at (datetime64[ns]),
               total_amount (float64), channel (str)
``items``      order_id (int64), customer_id (int64), product_id (int64), quantity (int64),
               unit_price (float64), ordered_at (datetime64[ns])
``products``   product_id (int64), sku (str), name (str), category (str), price (float64)
``feedback``   feedback_id (int64), customer_id (int64), created_at (datetime64[ns]),
               rating (float64, NaN when absent), text (str), language ("en" | "zh" | ""),
               sentiment_score (float64 in -1..1, NaN until analysed), complaint_reason (str)
``interactions`` customer_id (int64), occurred_at (datetime64[ns]),
               kind ("call" | "email" | "chat" | "visit" | "complaint"), outcome (str)

Timestamps are timezone-naive UTC.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

CUSTOMER_COLUMNS = ["customer_id", "signup_date", "status", "gender", "region", "city", "channel", "consent"]
ORDER_COLUMNS = ["order_id", "customer_id", "ordered_at", "total_amount", "channel"]
ITEM_COLUMNS = ["order_id", "customer_id", "product_id", "quantity", "unit_price", "ordered_at"]
PRODUCT_COLUMNS = ["product_id", "sku", "name", "category", "price"]
FEEDBACK_COLUMNS = [
    "feedback_id", "customer_id", "created_at", "rating", "text", "language",
    "sentiment_score", "complaint_reason",
]
INTERACTION_COLUMNS = ["customer_id", "occurred_at", "kind", "outcome"]


@dataclass(frozen=True)
class ModelCard:
    """What a fitted model reports about itself.

    ``metrics`` holds the model's own figures on held-out data and ``baseline`` the same figures
    for the naive baseline it must beat (keys ``baseline_<metric>`` are added by :meth:`as_dict`).
    """

    name: str
    metrics: dict[str, float] = field(default_factory=dict)
    baseline: dict[str, float] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)
    notes: str = ""

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, **self.metrics}
        out.update({f"baseline_{k}": v for k, v in self.baseline.items()})
        out["params"] = self.params
        if self.notes:
            out["notes"] = self.notes
        return out


def empty_frame(columns: list[str]) -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype="object") for c in columns})
