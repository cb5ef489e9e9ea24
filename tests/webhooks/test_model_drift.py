"""A model whose realised accuracy drifts is reported to a real receiver; replayed history is not."""
from __future__ import annotations

from datetime import timedelta

import pytest

from analytics.services import history
from tests.analytics.test_realised import AS_OF, _hand_case_in_the_database

from .conftest import verify


@pytest.mark.django_db
def test_drift_of_the_latest_scored_run_fires_model_drift(receiver, endpoint_for,
                                                          django_capture_on_commit_callbacks):
    target = receiver(200)
    endpoint = endpoint_for(target, events=["model.drift"])
    run = _hand_case_in_the_database()
    with django_capture_on_commit_callbacks(execute=True):
        history.realised_accuracy_evaluate(as_of=AS_OF + timedelta(days=95), emit=False)
    assert target.requests == []  # a backtest's evaluation alarms nobody
    with django_capture_on_commit_callbacks(execute=True):
        history.realised_accuracy_evaluate(as_of=AS_OF + timedelta(days=400))
    [request] = target.requests  # CLV drifted (a fifth of the predicted spend came in)
    assert verify(endpoint.secret, request.headers["X-CRM-Signature"], request.body)
    assert request.headers["X-CRM-Event"] == "model.drift"
    data = request.json["data"]
    assert data["model"] == "clv" and data["score_run"] == run.pk and data["drift"] == ["total_off"]
    assert data["metrics"]["actual_to_predicted"] == pytest.approx(0.2)
