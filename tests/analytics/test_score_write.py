"""The score writer's set-based paths (a temporary table and one ``UPDATE ... FROM``; on
PostgreSQL a full run's new score table swapped in) store exactly what the ORM's ``bulk_update``
stores, NULLs included; the run draws and stores the word clouds
and the pages only serve them."""
from __future__ import annotations

import json
from datetime import datetime, timezone

import numpy as np
import pandas as pd
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analytics import adapter, selectors
from analytics.engine.pipeline import CUSTOMER_PART, EngineSettings, run_engine
from analytics.models import ModelArtifact, ScoreRun
from analytics.services import results, runs
from analytics.services.feedback import feedback_analyse_pending
from analytics.services.figures import wordcloud_artifact_name
from crm_site.celery import app as celery_app
from customers.demo.loader import demo_seed
from customers.models import SCORE_FIELDS, Customer, CustomerScore, Feedback
from tests.conftest import scored_demo

AS_OF = "2026-10-01"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def scored(django_db_setup, django_db_blocker):
    yield from scored_demo(django_db_blocker, n_customers=150, seed=11, as_of=AS_OF)


def _raw_scores() -> list[tuple]:
    """Every customer's score columns as the database hands them back, without Django's
    conversions (so a number stored as text, or a timestamp in another format, shows)."""
    columns = ", ".join(connection.ops.quote_name(c) for c in SCORE_FIELDS)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT customer_id, {columns} FROM {CustomerScore._meta.db_table} ORDER BY customer_id")
        return cursor.fetchall()


def _orm_write(frame: pd.DataFrame) -> None:
    """The reference: each value set on a model instance, written by ``bulk_update``."""
    fields = {f.name: f for f in CustomerScore._meta.concrete_fields}
    integers = [c for c in frame.columns if fields[c].get_internal_type() in adapter._INTEGER_FIELDS]
    frame = frame.astype({c: "Int64" for c in integers})
    batch = []
    for pk, values in frame.to_dict("index").items():
        customer = CustomerScore(pk=pk)
        for column, value in values.items():
            if value is None or value is pd.NaT or value is pd.NA or (isinstance(value, float) and np.isnan(value)):
                value = None
            elif isinstance(value, pd.Timestamp):
                value = (value.tz_localize("UTC") if value.tzinfo is None else value).to_pydatetime()
            elif fields[column].get_internal_type() == "JSONField" and isinstance(value, str):
                value = json.loads(value)
            elif isinstance(value, np.generic):
                value = value.item()
            setattr(customer, column, value)
        batch.append(customer)
    CustomerScore.objects.bulk_update(batch, list(frame.columns), batch_size=500)


def _engine_scores() -> pd.DataFrame:
    """The customer scores a full run computes, as the writer receives them."""
    as_of = pd.Timestamp(AS_OF)
    frames = adapter.read_frames(as_of, with_products=False, without=("items",))
    output = run_engine(customers=frames.customers, orders=frames.orders, items=frames.items,
                        products=frames.products, feedback_frame=frames.feedback,
                        interactions=frames.interactions, as_of=as_of, settings=EngineSettings(),
                        rank_recommendations=False, parts=frozenset({CUSTOMER_PART}))
    scores = output.scores.copy()
    scores["scores_updated_at"] = pd.Timestamp(datetime(2026, 10, 1, 12, 30, 15, 123456, tzinfo=timezone.utc))
    return scores[[c for c in scores.columns if c in SCORE_FIELDS]]


@pytest.mark.django_db
def test_a_run_writes_exactly_what_bulk_update_wrote(scored):
    scores = _engine_scores()
    assert set(scores.columns) == set(SCORE_FIELDS)
    # NULLs must survive: customers without orders or feedback leave gaps in several columns.
    assert scores[["p_alive", "sentiment_score", "first_order_at"]].isna().any().all()
    assert adapter.write_scores(scores) == len(scores) == 150
    set_based = _raw_scores()
    Customer.objects.update(rfm_segment=None, churn_reasons=None, total_spent=0, p_alive=None,
                            scores_updated_at=None)
    assert adapter.write_scores(scores, replace=True) == 150
    assert _raw_scores() == set_based
    Customer.objects.update(rfm_segment=None, churn_reasons=None, total_spent=0, p_alive=None,
                            scores_updated_at=None)
    _orm_write(scores)
    assert _raw_scores() == set_based


_scores = st.fixed_dictionaries({
    "order_count": st.one_of(st.none(), st.integers(0, 500).map(float)),
    "total_spent": st.one_of(st.none(), st.floats(0, 1e7, allow_nan=False).map(lambda v: round(v, 2))),
    "p_alive": st.one_of(st.none(), st.floats(0, 1)),
    "churn_probability": st.one_of(st.none(), st.floats(0, 1)),
    "rfm_segment": st.one_of(st.none(), st.sampled_from(["Champions", "At Risk", "Hibernating"])),
    "churn_reasons": st.one_of(st.none(), st.lists(st.fixed_dictionaries(
        # PostgreSQL's text and jsonb hold no NUL character, whichever path writes them.
        {"feature": st.text(st.characters(blacklist_characters="\x00"), max_size=8), "direction": st.sampled_from(["up", "down"])}), max_size=2)
        .map(json.dumps)),
    "last_order_at": st.one_of(st.none(), st.datetimes(datetime(2000, 1, 1), datetime(2030, 1, 1))
                               .map(pd.Timestamp)),
})


@pytest.mark.django_db
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(_scores, min_size=1, max_size=4))
def test_any_scores_with_gaps_are_stored_as_the_orm_stores_them(rows):
    customers = [Customer.objects.create(name=f"c{i}") for i in range(len(rows))]
    frame = pd.DataFrame(rows, index=[c.pk for c in customers])
    frame = frame.astype({c: "float64" for c in ("order_count", "total_spent", "p_alive", "churn_probability")})
    _orm_write(frame)
    expected = _raw_scores()
    Customer.objects.filter(pk__in=frame.index).update(order_count=7, total_spent=1, p_alive=0.5,
                                                        rfm_segment="Promising", churn_reasons=[])
    assert adapter.write_scores(frame) == len(rows)
    assert _raw_scores() == expected
    Customer.objects.filter(pk__in=frame.index).update(order_count=3, total_spent=2, p_alive=0.25,
                                                        rfm_segment="Champions", churn_reasons=[1])
    assert adapter.write_scores(frame, replace=True) == len(rows)
    assert _raw_scores() == expected
    Customer.objects.filter(pk__in=frame.index).delete()


@pytest.mark.django_db
def test_the_demo_feedback_is_analysed_when_loaded(django_capture_on_commit_callbacks):
    """The load publishes its feedback after commit; analysed there and then when tasks run
    in-process (the embedded worker or a CI worker does the same from the queue), so the first
    run finds nothing left to analyse."""
    # Set and put back by hand: pytest's monkeypatch.setitem leaves Celery's settings eager.
    eager = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    try:
        with django_capture_on_commit_callbacks(execute=True):
            demo_seed(n_customers=60, seed=5, as_of=pd.Timestamp(AS_OF), flush=True)
    finally:
        celery_app.conf.task_always_eager = eager
    assert Feedback.objects.exclude(text="").count() > 10
    assert not Feedback.objects.exclude(text="").filter(sentiment_score__isnull=True).exists()
    assert feedback_analyse_pending() == 0


@pytest.mark.django_db
def test_the_run_stores_both_word_clouds(scored):
    assert scored["status"] == "succeeded", scored["error"]
    assert Feedback.objects.filter(language="zh").exists() and Feedback.objects.filter(language="en").exists()
    stored = dict(ModelArtifact.objects.filter(run_id=scored["id"]).values_list("name", "payload"))
    for language in ("en", "zh"):
        assert bytes(stored[wordcloud_artifact_name(language)])[:8] == PNG_MAGIC, language
    assert "wordclouds" in scored["timings"]


@pytest.mark.django_db
def test_the_word_cloud_is_served_as_stored_without_reading_feedback(scored, client, role_user):
    client.force_login(role_user("Service"))
    page = client.get(reverse("analytics:feedback"))
    assert page.context["wordclouds"] == {"en", "zh"}
    assert reverse("analytics:wordcloud", args=["zh"]) in page.content.decode()
    # Change every text: a cloud drawn on the visit would now differ from the stored one.
    Feedback.objects.update(text="zebra crossing zebra")
    feedback_table = Feedback._meta.db_table
    for language in ("en", "zh"):
        with CaptureQueriesContext(connection) as queries:
            response = client.get(reverse("analytics:wordcloud", args=[language]))
        assert response.status_code == 200 and response["Content-Type"] == "image/png"
        stored = ModelArtifact.objects.get(run_id=scored["id"], name=wordcloud_artifact_name(language))
        assert response.content == bytes(stored.payload)
        assert not [q["sql"] for q in queries.captured_queries if feedback_table in q["sql"]]


@pytest.mark.django_db
def test_a_failed_run_keeps_serving_the_previous_word_clouds(scored, monkeypatch):
    before = {language: selectors.wordcloud_png(language) for language in ("en", "zh")}
    scores_before = _raw_scores()
    Feedback.objects.update(text="zebra crossing zebra")

    def explode(*args, **kwargs):
        raise RuntimeError("disk full while writing")

    monkeypatch.setattr(results, "_publish_recommendations", explode)
    with pytest.raises(RuntimeError):
        runs.score_run_request(as_of=datetime(2026, 10, 2, tzinfo=timezone.utc), run_now=True)
    failed = ScoreRun.objects.first()
    assert failed.status == "failed"
    # The failed run drew its clouds (before its write) but the pages serve the last good run's.
    assert ModelArtifact.objects.filter(run=failed, name__startswith="wordcloud_").exists()
    assert {language: selectors.wordcloud_png(language) for language in ("en", "zh")} == before
    assert _raw_scores() == scores_before
