"""A full score run on the database: every score field filled, one run at a time, all or nothing."""
from __future__ import annotations

import importlib
from datetime import datetime, timedelta, timezone

import pytest
from django.db import connection

from analytics import selectors
from analytics.models import (
    AssociationRule,
    ModelArtifact,
    Recommendation,
    RecommendationStage,
    RevenueForecast,
    ScoreRun,
    SegmentProfile,
)
from analytics.services import artifacts, figures, results, runs
from analytics.services.figures import wordcloud_artifact_name
from analytics.tasks import score_runs_expire
from core.table_swap import replacement_table
from customers.models import Customer, Feedback
from tests.conftest import scored_demo

AS_OF = datetime(2026, 10, 1, tzinfo=timezone.utc)
# What a finished run leaves behind: the models for rescoring and the word clouds it drew.
KEPT_ARTIFACTS = {artifacts.SNAPSHOT_ARTIFACT, wordcloud_artifact_name("en"), wordcloud_artifact_name("zh")}
# Filled for every customer with at least one order (p_alive: see the test).
BUYER_FIELDS = (
    "order_count", "total_spent", "first_order_at", "last_order_at", "recency_days", "rfm_r", "rfm_f",
    "rfm_m", "rfm_segment", "value_segment", "value_tier", "churn_probability", "churn_risk",
    "churn_reasons", "expected_orders_90d", "clv_12m", "lifecycle_stage", "loyalty_score",
    "scores_updated_at",
)


def _staged(run_id: int | None = None) -> int:
    """Rows ranking tasks staged that no finish published: in the stage table, or on PostgreSQL
    in the new recommendations table they COPY into (gone once it is swapped in)."""
    if connection.vendor != "postgresql":
        stage = RecommendationStage.objects.all()
        return (stage if run_id is None else stage.filter(run_id=run_id)).count()
    table = replacement_table(Recommendation._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass(%s)", [table])
        if cursor.fetchone()[0] is None:
            return 0
        cursor.execute(f"SELECT count(*) FILTER (WHERE %s IS NULL OR run_id = %s) FROM {table}",
                       [run_id, run_id])
        return cursor.fetchone()[0]


@pytest.fixture(scope="module")
def scored_db(django_db_setup, django_db_blocker):
    """400 demo customers scored once by ``recompute_scores --sync --format json``."""
    yield from scored_demo(django_db_blocker, n_customers=400, seed=7)


@pytest.mark.django_db
def test_full_run_fills_every_score_of_every_buyer(scored_db):
    assert scored_db["status"] == "succeeded", scored_db["error"]
    assert scored_db["counts"]["scored"] == Customer.objects.count() == 400
    buyers = Customer.objects.filter(orders__status="completed", orders__ordered_at__lte=AS_OF).distinct()
    assert buyers.count() > 300
    for field in BUYER_FIELDS:
        assert not buyers.filter(**{f"{field}__isnull": True}).exists(), field
    # p_alive is left empty only where the purchase model cannot tell: buyers with one purchase day
    # (BG/NBD) or whose only purchase day is too recent (either model); repeat buyers always get one.
    served = scored_db["models"]["clv"]["params"]["purchase_model"]
    unknown = list(buyers.filter(p_alive__isnull=True).values_list("first_order_at", "last_order_at"))
    assert len(unknown) < buyers.count() / 2
    for first, last in unknown:
        assert first.date() == last.date()
        if served == "mbgnbd":
            assert AS_OF - first < timedelta(days=28)
    prospects = Customer.objects.exclude(pk__in=buyers)
    assert set(prospects.values_list("lifecycle_stage", flat=True)) <= {"prospect", "churned"}
    with_feedback = Customer.objects.filter(feedback__isnull=False).distinct()
    assert not with_feedback.filter(satisfaction_group__isnull=True).exists()
    # Scores obey the ranges the database also enforces.
    for customer in buyers.only(*BUYER_FIELDS)[:50]:
        assert 1 <= customer.rfm_r <= 5 and 0 <= customer.churn_probability <= 1
        assert isinstance(customer.churn_reasons, list)
        assert all(set(r) == {"feature", "value", "typical", "direction", "contribution"}
                   for r in customer.churn_reasons)


@pytest.mark.django_db
def test_run_reports_model_cards_against_baselines(scored_db):
    models = scored_db["models"]
    churn, loyalty, segments = models["churn"], models["loyalty"], models["segments"]
    assert churn["roc_auc"] > 0.5 and "baseline_roc_auc" in churn
    assert loyalty["roc_auc"] > loyalty["baseline_roc_auc"]
    assert segments["silhouette"] > segments["baseline_silhouette"]
    assert scored_db["timings"]["read_customers"] >= 0 and scored_db["timings"]["read_products"] >= 0 and "write" in scored_db["timings"]


@pytest.mark.django_db
def test_run_writes_recommendations_segments_rules_and_forecast(scored_db):
    assert Recommendation.objects.count() == scored_db["counts"]["recommendations"] > 0
    assert SegmentProfile.objects.count() >= 3
    assert set(SegmentProfile.objects.values_list("label", flat=True)) >= {"high", "low"}
    assert AssociationRule.objects.exists()
    assert RevenueForecast.objects.filter(forecast__isnull=False).count() == 12
    # Feedback is analysed once, on the record itself.
    assert not Feedback.objects.exclude(text="").filter(sentiment_score__isnull=True).exists()


@pytest.mark.django_db
def test_a_second_request_joins_the_active_run():
    active = ScoreRun.objects.create(as_of=AS_OF, status="running",
                                     lease_expires_at=datetime.now(timezone.utc) + timedelta(minutes=5))
    assert runs.score_run_request(as_of=AS_OF).pk == active.pk
    assert ScoreRun.objects.filter(status__in=ScoreRun.ACTIVE).count() == 1


@pytest.mark.django_db
def test_an_abandoned_run_loses_its_lock():
    stale = ScoreRun.objects.create(as_of=AS_OF, status="running",
                                    lease_expires_at=datetime.now(timezone.utc) - timedelta(seconds=1))
    fresh = runs.score_run_request(as_of=AS_OF)
    stale.refresh_from_db()
    assert fresh.pk != stale.pk
    assert stale.status == "failed" and "lease" in stale.error


@pytest.mark.django_db
def test_the_beat_sweep_fails_an_abandoned_run_and_only_that(settings):
    stale = ScoreRun.objects.create(as_of=AS_OF, status="running",
                                    lease_expires_at=datetime.now(timezone.utc) - timedelta(seconds=1))
    alive = ScoreRun.objects.create(kind="incremental", as_of=AS_OF, status="running",
                                    lease_expires_at=datetime.now(timezone.utc) + timedelta(minutes=5))
    assert score_runs_expire.apply().get() == 1
    stale.refresh_from_db()
    alive.refresh_from_db()
    assert stale.status == "failed" and "lease" in stale.error and stale.finished_at is not None
    assert alive.status == "running"
    # Every periodic task the schedule names exists.
    tasks = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert {"analytics.tasks.score_runs_expire", "intake.tasks.import_jobs_expire"} <= tasks
    for name in tasks:
        module, _dot, attr = name.rpartition(".")
        assert getattr(importlib.import_module(module), attr).name == name


@pytest.mark.django_db
def test_a_failed_run_leaves_the_previous_scores_whole(scored_db, monkeypatch):
    before = list(Customer.objects.order_by("pk").values_list("pk", "rfm_segment", "clv_12m", "churn_probability"))
    recs_before = Recommendation.objects.count()

    def explode(*args, **kwargs):
        raise RuntimeError("disk full while writing")

    # Fail in the middle of the finishing write, after the new scores went into the customers
    # table inside the write's transaction.
    monkeypatch.setattr(results, "_publish_recommendations", explode)
    with pytest.raises(RuntimeError):
        runs.score_run_request(as_of=AS_OF + timedelta(days=30), run_now=True)
    run = ScoreRun.objects.first()
    assert run.status == "failed" and "disk full" in run.error
    after = list(Customer.objects.order_by("pk").values_list("pk", "rfm_segment", "clv_12m", "churn_probability"))
    assert after == before
    assert Recommendation.objects.count() == recs_before


@pytest.mark.django_db
def test_a_new_order_rescores_its_customer_with_the_stored_models(scored_db, django_capture_on_commit_callbacks):
    from decimal import Decimal

    from django.utils import timezone

    from customers.models import Order

    customer = Customer.objects.filter(order_count__gte=2, status="active").order_by("-recency_days").first()
    before = Customer.objects.get(pk=customer.pk)
    assert before.recency_days > 30
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        Order.objects.create(customer=customer, ordered_at=timezone.now(), total_amount=Decimal("80.00"))
    assert len(callbacks) == 1
    after = Customer.objects.get(pk=customer.pk)
    assert after.order_count == before.order_count + 1
    assert after.recency_days == 0
    assert after.rfm_r == 5
    assert after.scores_updated_at > before.scores_updated_at
    assert after.churn_probability < before.churn_probability
    assert after.lifecycle_stage in ("active", "reactivated")
    # The reasons moved with the probability: they now speak of the order just placed.
    recency = [r for r in after.churn_reasons if r["feature"] == "recency_days"]
    assert all(r["value"] < 1 for r in recency)
    assert after.churn_reasons != before.churn_reasons


@pytest.mark.django_db
def test_an_order_rolled_back_queues_no_rescore(scored_db, django_capture_on_commit_callbacks):
    from decimal import Decimal

    from django.db import transaction
    from django.utils import timezone

    from customers.models import Order

    customer = Customer.objects.filter(order_count__gte=1).first()
    before = Customer.objects.values("order_count", "scores_updated_at").get(pk=customer.pk)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        with pytest.raises(RuntimeError), transaction.atomic():
            Order.objects.create(customer=customer, ordered_at=timezone.now(), total_amount=Decimal("5"))
            raise RuntimeError("payment declined")
    assert callbacks == []
    assert Customer.objects.values("order_count", "scores_updated_at").get(pk=customer.pk) == before


def _recommendations() -> list[tuple]:
    return list(Recommendation.objects.order_by("customer_id", "rank").values_list(
        "customer_id", "rank", "product_id", "because_of_id"))


@pytest.mark.django_db
def test_chunks_ranked_in_any_order_and_twice_give_the_same_run(scored_db):
    """Fit once, rank and explain customer ranges as separate tasks would (out of order, one
    redelivered), finish: the recommendations and churn reasons are exactly those of a run done
    in one piece."""
    whole = runs.score_run_request(as_of=AS_OF, run_now=True)
    assert whole.status == "succeeded" and whole.chunks_total == 1
    expected = _recommendations()
    columns = ("pk", "rfm_segment", "clv_12m", "churn_probability", "churn_reasons")
    scores = list(Customer.objects.order_by("pk").values_list(*columns))
    assert sum(1 for *_, reasons in scores if reasons) > 300

    run = ScoreRun.objects.create(as_of=AS_OF, lease_expires_at=datetime.now(timezone.utc) + timedelta(minutes=5))
    ranges = runs.score_run_fit(run_id=run.pk, chunk_size=70)
    assert len(ranges) == 6 and ranges[0][0] == Customer.objects.order_by("pk").first().pk
    assert runs.score_run_fit(run_id=run.pk) is None  # a redelivered fit does not refit
    for first, last in [*reversed(ranges), ranges[2]]:
        runs.score_run_rank_chunk(run_id=run.pk, first_id=first, last_id=last)
    run.refresh_from_db()
    assert run.status == "running" and run.chunks_done == 7 and run.progress <= 90
    assert _recommendations() == expected  # nothing visible before the finish
    done = runs.score_run_finish(run_id=run.pk)
    assert done.status == "succeeded" and done.counts["recommendations"] == len(expected)
    assert _recommendations() == expected
    assert list(Customer.objects.order_by("pk").values_list(*columns)) == scores
    assert _staged() == 0
    assert set(ModelArtifact.objects.values_list("run_id", "name")) == {(run.pk, name) for name in KEPT_ARTIFACTS}
    assert {"read_customers", "read_products", "churn", "recommendations", "ranking", "write"} <= set(done.timings)
    assert done.model_cards["recommendations"]["params"]["share_popular"] is not None
    # The dashboard's figures, stored once for every page view until the next run.
    assert done.dashboard["kpis"]["total"] == 400 and sum(done.dashboard["rfm"][1]) > 300


@pytest.mark.django_db
def test_a_failing_chunk_fails_the_run_and_changes_nothing(scored_db, monkeypatch):
    before = _recommendations()
    run = ScoreRun.objects.create(as_of=AS_OF, lease_expires_at=datetime.now(timezone.utc) + timedelta(minutes=5))
    ranges = runs.score_run_fit(run_id=run.pk, chunk_size=200)
    staged = runs.score_run_rank_chunk(run_id=run.pk, first_id=ranges[0][0], last_id=ranges[0][1])

    def explode(*args, **kwargs):
        raise MemoryError("out of memory ranking")

    monkeypatch.setattr(runs, "recommend_top_n", explode)
    with pytest.raises(MemoryError):
        runs.score_run_rank_chunk(run_id=run.pk, first_id=ranges[1][0], last_id=ranges[1][1])
    run.refresh_from_db()
    assert run.status == "failed" and "out of memory" in run.error
    # The chord body would not run; a late call finds the run failed and writes nothing.
    assert runs.score_run_finish(run_id=run.pk).status == "failed"
    assert _recommendations() == before
    # The next run clears what the failed one staged.
    assert _staged(run.pk) == staged > 0
    monkeypatch.undo()
    runs.score_run_request(as_of=AS_OF, run_now=True)
    assert _staged() == 0


@pytest.mark.django_db
def test_a_range_left_unexplained_fails_the_run_and_changes_nothing(scored_db):
    """A churn probability is never written without its reasons: a finish that finds a range of
    customers the chunks did not explain fails, and the previous scores stay whole."""
    columns = ("pk", "churn_probability", "churn_reasons", "scores_updated_at")
    before = list(Customer.objects.order_by("pk").values_list(*columns))
    run = ScoreRun.objects.create(as_of=AS_OF, lease_expires_at=datetime.now(timezone.utc) + timedelta(minutes=5))
    ranges = runs.score_run_fit(run_id=run.pk, chunk_size=200)
    assert len(ranges) == 2
    runs.score_run_rank_chunk(run_id=run.pk, first_id=ranges[1][0], last_id=ranges[1][1])
    with pytest.raises(RuntimeError, match=f"{ranges[0][0]}_{ranges[0][1]}"):
        runs.score_run_finish(run_id=run.pk)
    run.refresh_from_db()
    assert run.status == "failed" and "churn reasons missing" in run.error
    assert list(Customer.objects.order_by("pk").values_list(*columns)) == before


@pytest.mark.django_db
def test_parts_cut_into_different_ranges_still_rank_and_explain_everyone(scored_db):
    """Customers imported between the two parts' reads make their ranges differ: the chunks take
    every range either part cut, and the run still ranks and explains every customer."""
    expected = _recommendations()
    run = ScoreRun.objects.create(as_of=AS_OF, lease_expires_at=datetime.now(timezone.utc) + timedelta(minutes=5))
    assert runs.score_run_start(run_id=run.pk)
    assert runs.score_run_fit_part(run_id=run.pk, part="products", chunk_size=100)
    assert runs.score_run_fit_part(run_id=run.pk, part="customers", chunk_size=150)
    ranges = runs.score_run_plan(run_id=run.pk)
    # 4 ranges of 100 and 3 of 150; (301, 400) is in both and runs once.
    assert len(ranges) == len(set(ranges)) == 6
    for first, last in ranges:
        runs.score_run_rank_chunk(run_id=run.pk, first_id=first, last_id=last)
    done = runs.score_run_finish(run_id=run.pk)
    assert done.status == "succeeded", done.error
    assert _recommendations() == expected
    scored = Customer.objects.filter(churn_probability__isnull=False)
    assert scored.count() > 300 and not scored.filter(churn_reasons__isnull=True).exists()


@pytest.mark.django_db
def test_parts_fit_in_any_order_and_redeliveries_repeat_nothing(scored_db, monkeypatch):
    """The two engine parts run as separate tasks (two workers at once); a redelivered start,
    part or plan message finds its work done and does not do it again."""
    run = ScoreRun.objects.create(as_of=AS_OF, lease_expires_at=datetime.now(timezone.utc) + timedelta(minutes=5))
    assert runs.score_run_start(run_id=run.pk)
    assert not runs.score_run_start(run_id=run.pk)  # would fan out a second time
    run.refresh_from_db()
    assert run.status == "running" and "feedback_analysis" in run.timings

    # The products part first, as a free worker may take it.
    assert runs.score_run_fit_part(run_id=run.pk, part="products", chunk_size=100)
    assert runs.score_run_fit_part(run_id=run.pk, part="customers", chunk_size=100)

    def refit(*args, **kwargs):
        raise AssertionError("a stored part was fitted again")

    # The word clouds are drawn by a task of their own (sent as the finish starts), once.
    assert runs.score_run_draw(run_id=run.pk)
    monkeypatch.setattr(runs, "run_engine", refit)
    monkeypatch.setattr(figures, "wordclouds_store", refit)
    assert runs.score_run_fit_part(run_id=run.pk, part="customers")
    assert runs.score_run_draw(run_id=run.pk)
    monkeypatch.undo()
    with pytest.raises(ValueError, match="unknown engine part"):
        runs.score_run_fit_part(run_id=run.pk, part="everything")

    ranges = runs.score_run_plan(run_id=run.pk)
    assert len(ranges) == 4 and runs.score_run_plan(run_id=run.pk) is None
    run.refresh_from_db()
    assert run.chunks_total == 4 and run.progress == 82
    assert run.counts["customers"] == 400 and run.counts["orders"] > 0 and run.counts["order_lines"] > 0
    assert {"read_customers", "read_products", "churn", "recommendations", "bundles"} <= set(run.timings)
    assert {"churn", "recommendations"} <= set(run.peak_memory_mb)
    for first, last in ranges:
        runs.score_run_rank_chunk(run_id=run.pk, first_id=first, last_id=last)
    monkeypatch.setattr(figures, "wordclouds_store", refit)   # drawn already: the finish takes them
    done = runs.score_run_finish(run_id=run.pk)
    monkeypatch.undo()
    assert done.status == "succeeded" and done.counts["recommendations"] > 0 and done.counts["rules"] >= 0
    assert "wordclouds" in done.timings
    assert set(ModelArtifact.objects.values_list("name", flat=True)) == KEPT_ARTIFACTS


@pytest.mark.django_db
def test_the_finish_draws_the_word_clouds_no_worker_drew(scored_db):
    """The word clouds' own task is sent as the finish starts; on a single busy worker it comes
    after the finish, so the finish draws them itself before the scores are swapped in, and the
    late task then finds the run ended."""
    run = ScoreRun.objects.create(as_of=AS_OF,
                                  lease_expires_at=datetime.now(timezone.utc) + timedelta(minutes=5))
    assert runs.score_run_start(run_id=run.pk)
    for part in ("customers", "products"):
        assert runs.score_run_fit_part(run_id=run.pk, part=part, chunk_size=200)
    for first, last in runs.score_run_plan(run_id=run.pk):
        runs.score_run_rank_chunk(run_id=run.pk, first_id=first, last_id=last)
    assert not ModelArtifact.objects.filter(run=run, name__startswith="wordcloud_").exists()
    done = runs.score_run_finish(run_id=run.pk)
    assert done.status == "succeeded" and "wordclouds" in done.timings
    assert selectors.wordclouds_stored() == {"en", "zh"}
    assert not runs.score_run_draw(run_id=run.pk)


@pytest.mark.django_db
def test_word_clouds_that_cannot_be_drawn_cost_the_clouds_not_the_run(scored_db, monkeypatch):
    """Drawing fails (the figures' store refused) in the task and again in the finish: the run
    still succeeds with its scores, without clouds, and says so nowhere as a failure."""
    run = ScoreRun.objects.create(as_of=AS_OF,
                                  lease_expires_at=datetime.now(timezone.utc) + timedelta(minutes=5))
    assert runs.score_run_start(run_id=run.pk)
    for part in ("customers", "products"):
        assert runs.score_run_fit_part(run_id=run.pk, part=part, chunk_size=200)

    def refused(*args, **kwargs):
        raise RuntimeError("the figures' store refused")

    monkeypatch.setattr(figures, "artifact_store", refused)
    assert not runs.score_run_draw(run_id=run.pk)
    assert ScoreRun.objects.get(pk=run.pk).status == "running"
    monkeypatch.undo()
    for first, last in runs.score_run_plan(run_id=run.pk):
        runs.score_run_rank_chunk(run_id=run.pk, first_id=first, last_id=last)
    monkeypatch.setattr(figures, "wordclouds_store", refused)
    done = runs.score_run_finish(run_id=run.pk)
    assert done.status == "succeeded" and done.error == "" and "wordclouds" not in done.timings
    assert not ModelArtifact.objects.filter(run=run, name__startswith="wordcloud_").exists()
    assert Customer.objects.exclude(churn_probability=None).exists()
