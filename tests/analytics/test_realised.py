"""The learning loop's first half: predictions kept per run, checked against what then happened."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from io import StringIO

import numpy as np
import pytest
from django.core.management import CommandError, call_command
from django.test import override_settings
from sklearn.metrics import roc_auc_score

from analytics.engine import realised
from analytics.models import PredictionHistory, ScoreRun
from analytics.services import history
from customers.models import Customer, Order
from tests.conftest import scored_demo
from tests.factories import CustomerFactory, OrderFactory

# The hand-computed case: 50 customers, 25 predicted at 0.8 (20 of them left) and 25 at 0.2 (5 of
# them left), each tenth of the customers by prediction holding exactly its predicted share.
#   ROC-AUC: of the 25 x 25 (left, stayed) pairs, 20 x 20 rank right, 20 x 5 + 5 x 20 tie (half
#            each), 5 x 5 rank wrong: (400 + 100) / 625 = 0.8.
#   Brier:   0.8 group 20 x 0.2^2 + 5 x 0.8^2 = 4.0, 0.2 group the same: 8 / 50 = 0.16.
#   Calibration error: every tenth's observed share equals its prediction: 0.
HIGH = [1, 1, 1, 1, 0] * 5     # the 0.8 customers, in tenths of 5 with 4 leavers each
LOW = [1, 0, 0, 0, 0] * 5      # the 0.2 customers, 1 leaver in each tenth
PROBABILITY = np.array([0.2] * 25 + [0.8] * 25)
LEFT = np.array(LOW + HIGH)


def test_realised_churn_matches_the_hand_computation():
    result = realised.churn_realised(PROBABILITY, LEFT, days_silent=np.full(50, 10.0), horizon_days=90,
                                     max_calibration_error=0.1)
    assert result.n == 50 and result.metrics["churned"] == 25
    assert result.metrics["roc_auc"] == pytest.approx(0.8)
    assert result.metrics["brier"] == pytest.approx(0.16)
    assert result.metrics["calibration_error"] == pytest.approx(0.0)
    assert [row["observed"] for row in result.deciles] == [0.2] * 5 + [0.8] * 5
    assert result.metrics["baseline_roc_auc"] == 0.5 and result.drift == []


def test_a_model_worse_than_silence_alone_or_off_in_calibration_drifts():
    # Silence ranks the leavers perfectly; the served probabilities are the hand case's.
    result = realised.churn_realised(PROBABILITY, LEFT, days_silent=LEFT * 100.0, horizon_days=90,
                                     max_calibration_error=0.1)
    assert result.metrics["baseline_roc_auc"] == 1.0 and "roc_auc_below_baseline" in result.drift
    off = realised.churn_realised(np.clip(PROBABILITY + 0.15, 0, 1), LEFT, days_silent=np.zeros(50),
                                  horizon_days=90, max_calibration_error=0.1)
    assert off.metrics["calibration_error"] == pytest.approx(0.15) and "calibration" in off.drift


def test_volumes_compare_totals_and_deciles():
    predicted = np.array([1.0] * 40)
    actual = np.array([0.0] * 20 + [1.0] * 20)
    result = realised.volume_realised("orders", predicted, actual, horizon_days=90, max_ratio=1.5)
    assert result.metrics["predicted_total"] == 40 and result.metrics["actual_total"] == 20
    assert result.metrics["actual_to_predicted"] == 0.5 and result.drift == ["total_off"]
    assert result.metrics["mean_absolute_error"] == 0.5
    within = realised.volume_realised("orders", predicted, np.ones(40) * 1.2, horizon_days=90, max_ratio=1.5)
    assert within.drift == []


AS_OF = datetime(2025, 3, 1, tzinfo=timezone.utc)


def _hand_case_in_the_database() -> ScoreRun:
    """The hand case as customers: every one ordered ten days before the run; those who stayed
    order once more within 90 days, for 40.00; the run predicted one order and 100.00 each."""
    run = ScoreRun.objects.create(kind=ScoreRun.Kind.BACKTEST, as_of=AS_OF, status=ScoreRun.Status.SUCCEEDED)
    rows = []
    for probability, left in zip(PROBABILITY, LEFT, strict=True):
        customer = CustomerFactory()
        OrderFactory(customer=customer, ordered_at=AS_OF - timedelta(days=10))
        if not left:
            OrderFactory(customer=customer, ordered_at=AS_OF + timedelta(days=30), total_amount=Decimal("40.00"))
        rows.append(PredictionHistory(run=run, customer_id=customer.pk, churn_probability=float(probability),
                                      expected_orders_90d=1.0, clv_12m=100.0))
    PredictionHistory.objects.bulk_create(rows)
    return run


@pytest.mark.django_db
def test_realised_accuracy_from_the_database_matches_the_hand_computation():
    run = _hand_case_in_the_database()
    # 95 days on: churn and orders are due, CLV (365 days) not yet.
    created = history.realised_accuracy_evaluate(as_of=AS_OF + timedelta(days=95), emit=False)
    by_model = {row.model: row for row in created}
    assert set(by_model) == {"churn", "orders"}
    churn = by_model["churn"]
    assert churn.run == run and churn.customers == 50 and churn.metrics["churned"] == 25
    assert churn.metrics["roc_auc"] == pytest.approx(0.8) and churn.metrics["brier"] == pytest.approx(0.16)
    # Everyone was silent for the same ten days: silence cannot rank anyone.
    assert churn.metrics["baseline_roc_auc"] == pytest.approx(0.5) and churn.drift == []
    orders = by_model["orders"]
    assert orders.metrics["actual_total"] == 25 and orders.metrics["predicted_total"] == 50
    assert orders.drift == ["total_off"]
    # Scored once: the same date again adds nothing; a year on adds CLV only.
    assert history.realised_accuracy_evaluate(as_of=AS_OF + timedelta(days=95), emit=False) == []
    [clv] = history.realised_accuracy_evaluate(as_of=AS_OF + timedelta(days=400), emit=False)
    assert clv.model == "clv" and clv.metrics["actual_total"] == 25 * 40 and clv.metrics["predicted_total"] == 5000


@pytest.mark.django_db
@override_settings(PREDICTION_HISTORY_EVERY_DAYS=7, PREDICTION_HISTORY_RETENTION_DAYS=30)
def test_full_runs_keep_history_once_a_week_and_old_history_is_dropped():
    import pandas as pd

    customers = [CustomerFactory() for _ in range(3)]
    scores = pd.DataFrame({"churn_probability": [0.1, 0.5, None], "p_alive": [0.9, 0.4, None],
                           "expected_orders_90d": [1.2, 0.3, None], "clv_12m": [Decimal("12.50"), 3, None],
                           "loyalty_score": [0.9, 0.5, None]}, index=[c.pk for c in customers])
    first = ScoreRun.objects.create(as_of=AS_OF, status=ScoreRun.Status.SUCCEEDED)
    assert history.prediction_history_store(run=first, scores=scores) == 2  # nothing predicted: no row
    kept = PredictionHistory.objects.get(run=first, customer_id=customers[0].pk)
    assert (kept.churn_probability, kept.clv_12m, kept.expected_orders_90d) == (0.1, 12.5, 1.2)
    next_day = ScoreRun.objects.create(as_of=AS_OF + timedelta(days=1), status=ScoreRun.Status.SUCCEEDED)
    assert history.prediction_history_store(run=next_day, scores=scores) == 0
    a_week_on = ScoreRun.objects.create(as_of=AS_OF + timedelta(days=7), status=ScoreRun.Status.SUCCEEDED)
    assert history.prediction_history_store(run=a_week_on, scores=scores) == 2
    assert history.prediction_history_prune(now=AS_OF + timedelta(days=32)) == 2
    assert set(PredictionHistory.objects.values_list("run_id", flat=True)) == {a_week_on.pk}


@pytest.fixture(scope="module")
def demo_db(django_db_setup, django_db_blocker):
    yield from scored_demo(django_db_blocker, n_customers=300, seed=11)


@pytest.mark.django_db
def test_a_backtest_of_the_demo_fills_realised_accuracy_and_leaves_the_scores_alone(demo_db):
    assert demo_db["status"] == "succeeded"
    full = ScoreRun.objects.get(kind=ScoreRun.Kind.FULL)
    assert PredictionHistory.objects.filter(run=full).count() == demo_db["counts"]["history"] > 250
    before = dict(Customer.objects.values_list("pk", "churn_probability"))
    out = StringIO()
    call_command("backtest", "--from", "2025-05-01", "--to", "2025-08-01", "--every", "45d",
                 "--format", "json", stdout=out)
    report = json.loads(out.getvalue())
    assert [r["as_of"][:10] for r in report["runs"]] == ["2025-05-01", "2025-06-15", "2025-07-30"]
    assert all(r["status"] == "succeeded" and r["history"] > 100 for r in report["runs"])
    assert dict(Customer.objects.values_list("pk", "churn_probability")) == before
    assert ScoreRun.objects.filter(kind=ScoreRun.Kind.BACKTEST).count() == 3

    # Each backtest is scored for every model (today is more than a year after each date), and the
    # churn figures agree with a plain recount from the orders.
    first = ScoreRun.objects.filter(kind=ScoreRun.Kind.BACKTEST).order_by("as_of").first()
    assert set(first.realised.values_list("model", flat=True)) == {"churn", "orders", "clv"}
    churn = first.realised.get(model="churn")
    window = timedelta(days=90)
    orders = list(Order.objects.filter(status="completed").values_list("customer_id", "ordered_at"))
    bought_before = {c for c, at in orders if at <= first.as_of}
    came_back = {c for c, at in orders if first.as_of < at <= first.as_of + window}
    served = {h.customer_id: h.churn_probability for h in PredictionHistory.objects.filter(run=first)
              if h.churn_probability is not None and h.customer_id in bought_before}
    ids = sorted(served)
    left = [int(c not in came_back) for c in ids]
    assert churn.customers == len(ids) and churn.metrics["churned"] == sum(left)
    assert churn.metrics["roc_auc"] == pytest.approx(roc_auc_score(left, [served[c] for c in ids]), abs=1e-4)
    # Replayed history never rings the drift webhook; the run list shows the backtests.
    assert ScoreRun.objects.filter(kind=ScoreRun.Kind.BACKTEST, status="succeeded").count() == 3


@pytest.mark.django_db
def test_backtest_refuses_what_it_cannot_replay(demo_db):
    for args, message in [
        (["--from", "2019-01-01"], "before the first order"),
        (["--from", "2026-01-01", "--to", "2025-01-01"], "before the last"),
        (["--from", "2025-05-01", "--every", "0d"], "not a step"),
        (["--from", "2025-05-01", "--every", "1d"], "at most 60"),
        (["--from", "May"], "not a date"),
        (["--from", "2025-05-01", "--to", "2099-01-01"], "future"),
    ]:
        with pytest.raises(CommandError, match=message):
            call_command("backtest", *args, stdout=StringIO())


@pytest.mark.django_db
def test_how_did_we_do_page_shows_each_model_and_the_dashboard_warns_on_drift(client, role_user):
    run = _hand_case_in_the_database()
    history.realised_accuracy_evaluate(as_of=AS_OF + timedelta(days=400), emit=False)
    client.force_login(role_user("Manager"))
    page = client.get("/analytics/accuracy/")
    assert page.status_code == 200
    text = page.content.decode()
    for model in ("realised-churn", "realised-orders", "realised-clv"):
        assert f'id="{model}"' in text
    assert "0.800" in text and "0.160" in text  # ROC-AUC and Brier of the hand case
    # Orders came in at half the prediction: the dashboard says so in words.
    home = client.get("/").content.decode()
    assert 'id="model-drift"' in home and "0.50 times what was predicted" in home
    assert sorted(r.model for r in run.realised.all() if r.drift) == ["clv", "orders"]
    client.force_login(role_user("Service"))
    assert client.get("/analytics/accuracy/").status_code == 403


@pytest.mark.django_db
def test_the_api_lists_realised_accuracy_per_model(client, role_user):
    run = _hand_case_in_the_database()
    history.realised_accuracy_evaluate(as_of=AS_OF + timedelta(days=95), emit=False)
    client.force_login(role_user("Manager"))
    page = client.get("/api/realised-accuracy/", {"model": "churn"})
    assert page.status_code == 200
    [row] = page.json()["results"]
    assert row["run"] == run.pk and row["run_kind"] == "backtest" and row["customers"] == 50
    assert row["metrics"]["roc_auc"] == pytest.approx(0.8) and len(row["deciles"]) == 10
    client.force_login(role_user("Service"))
    assert client.get("/api/realised-accuracy/").status_code == 403
