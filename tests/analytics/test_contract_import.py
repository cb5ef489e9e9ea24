"""A contract business end to end: customers imported from a CSV with a status and attribute
columns and no orders, then a full score run: every customer gets a churn probability from the
explicit churn model (analytics.engine.churn, label "explicit")."""
from __future__ import annotations

import csv
from datetime import datetime, timezone

import numpy as np
import pytest
from django.utils import translation

from analytics.explain import feature_name, reason_label
from analytics.models import ScoreRun
from analytics.services import runs
from customers.models import Customer
from intake.services.jobs import import_file

pytestmark = pytest.mark.django_db

AS_OF = datetime(2026, 10, 1, tzinfo=timezone.utc)


def contract_csv(path, n: int = 400, seed: int = 3):
    rng = np.random.default_rng(seed)
    rows = [["customer_id", "name", "status", "Contract", "tenure", "MonthlyCharges", "PaymentMethod"]]
    for i in range(n):
        contract = rng.choice(["Month-to-month", "One year", "Two year"], p=[0.55, 0.25, 0.2])
        tenure = int(rng.integers(1, 73))
        charges = round(float(rng.uniform(20, 115)), 2)
        logit = {"Month-to-month": 1.0, "One year": -0.8, "Two year": -2.0}[contract] - 0.04 * (tenure - 30) - 0.8
        churned = rng.random() < 1 / (1 + np.exp(-logit))
        rows.append([f"T{i:05d}", f"Customer {i}", "churned" if churned else "active", contract,
                     str(tenure), str(charges), rng.choice(["Electronic check", "Mailed check", "Credit card"])])
    with open(path, "w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows(rows)
    return rows


def test_imported_contract_customers_all_get_a_churn_probability(tmp_path, settings):
    settings.CELERY_TASK_ALWAYS_EAGER = True
    rows = contract_csv(tmp_path / "customers.csv")
    result = import_file(kind="customers", path=str(tmp_path / "customers.csv"), user=None)
    assert result.created == len(rows) - 1
    stored = Customer.objects.get(external_id="T00000")
    assert set(stored.attributes) == {"Contract", "tenure", "MonthlyCharges", "PaymentMethod"}
    churned = Customer.objects.filter(status="churned").count()
    assert churned >= 50 and not Customer.objects.filter(orders__isnull=False).exists()

    run = runs.score_run_request(as_of=AS_OF, run_now=True)
    assert run.status == ScoreRun.Status.SUCCEEDED, run.error
    assert not Customer.objects.filter(churn_probability__isnull=True).exists()
    assert not Customer.objects.filter(churn_risk__isnull=True).exists()
    # Status churned stays churned; the others are active or at risk by their band, not prospects.
    assert set(Customer.objects.filter(status="churned").values_list("lifecycle_stage", flat=True)) == {"churned"}
    stages = set(Customer.objects.filter(status="active").values_list("lifecycle_stage", flat=True))
    assert stages <= {"active", "at_risk"} and stages
    assert not Customer.objects.filter(status="active", churn_risk="high").exclude(lifecycle_stage="at_risk").exists()
    features = {r["feature"] for reasons in Customer.objects.values_list("churn_reasons", flat=True)
                for r in reasons or []}
    assert features and all(f.startswith("attr:") for f in features)


def test_attribute_reasons_read_as_the_attribute_and_its_value():
    level = {"feature": "attr:Contract", "value": "Two year", "typical": "Month-to-month",
             "direction": "down", "contribution": -1.2}
    number = {"feature": "attr:tenure", "value": 2.0, "typical": 29.0, "direction": "up", "contribution": 0.9}
    with translation.override("en"):
        assert reason_label(level) == "Contract: Two year, most customers: Month-to-month"
        assert reason_label(number) == "tenure: 2, typically 29"
        assert feature_name("attr:Contract") == "Contract"
    with translation.override("zh-hans"):
        assert reason_label(level) == "Contract：Two year，多数客户为 Month-to-month"
        assert reason_label(number) == "tenure：2，一般客户为 29"
