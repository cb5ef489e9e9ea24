"""A full run's writes on PostgreSQL: new score and recommendation tables, filled by COPY or from
the run's stage, indexed, and swapped in.

What the swap must keep: the table exactly as the migrations built it (columns, check
constraints, indexes, primary and foreign key, under their names), the trigger that gives every
new customer a score row, the rows of customers the write did not carry (created while it ran,
or merged and so left out), and no row for a customer deleted meanwhile.

Needs PostgreSQL (the ``services`` mark: skipped on a laptop without it, fails in CI).
"""
import threading
import time

import pandas as pd
import pytest
from django.db import connection, transaction
from django.utils import timezone

from analytics import adapter
from analytics.engine.recommend import fit_recommender
from analytics.models import Recommendation, ScoreRun
from analytics.services import artifacts, results, runs
from core.table_swap import replace_table, replacement_drop
from customers.models import Customer, CustomerScore
from tests.factories import CustomerFactory, ProductFactory

pytestmark = [pytest.mark.services, pytest.mark.django_db]

TABLE = CustomerScore._meta.db_table


def _schema() -> dict:
    return connection.introspection.get_constraints(connection.cursor(), TABLE)


def _tables() -> set[str]:
    return set(connection.introspection.table_names())


def test_the_swapped_table_is_the_one_the_migrations_built_and_keeps_its_trigger():
    kept, scored = CustomerFactory(), CustomerFactory()
    Customer.objects.filter(pk=kept.pk).update(churn_risk="low", order_count=4)
    before = _schema()
    # The primary key, the foreign key to the customer, the checks and the sort indexes.
    assert [c["foreign_key"] for c in before.values() if c["foreign_key"]] == [("customers_customer", "id")]
    assert sum(1 for c in before.values() if c["index"]) >= 19
    frame = pd.DataFrame({"churn_risk": ["high"], "churn_probability": [0.9], "order_count": [2.0]},
                         index=[scored.pk])
    assert adapter.write_scores(frame, replace=True) == 1

    assert _schema() == before
    assert f"{TABLE}_next" not in _tables()
    scored_row, kept_row = (Customer.objects.get(pk=c.pk) for c in (scored, kept))
    assert (scored_row.churn_risk, scored_row.churn_probability, scored_row.order_count) == ("high", 0.9, 2)
    assert (kept_row.churn_risk, kept_row.order_count) == ("low", 4)
    # The trigger still gives a new customer its row, in the new table.
    assert CustomerScore.objects.filter(pk=CustomerFactory().pk).exists()


def _statistics() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT stxname FROM pg_statistic_ext WHERE stxrelid = %s::regclass ORDER BY stxname",
                       [TABLE])
        return [row[0] for row in cursor.fetchall()]


def _estimated_rows(where: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (FORMAT JSON) SELECT 1 FROM {TABLE} WHERE {where}")
        return cursor.fetchone()[0][0]["Plan"]["Plan Rows"]


def test_the_planner_knows_which_labels_go_together_after_every_swap():
    """Half the customers are of high value and a third at risk, but only 30 are both: taken as
    independent, the two filters would be expected to match 500 of the 3,000. The statistics of
    each pair of label columns survive the swap under their names and are computed for the new
    rows, so the estimate is the 30 there are."""
    before = _statistics()
    assert "score_value_segment_lifecycle_stage_mcv" in before and len(before) == 15
    customers = Customer.objects.bulk_create([Customer(name=f"C{i}") for i in range(3000)])
    at_risk = [i % 3 == 0 for i in range(3000)]
    high = [(i % 3 != 0 and i % 2 == 0) or i < 90 for i in range(3000)]   # the 30 at risk below 90
    frame = pd.DataFrame({"value_segment": ["high" if h else "low" for h in high],
                          "lifecycle_stage": ["at_risk" if r else "active" for r in at_risk]},
                         index=[c.pk for c in customers])
    for _ in range(2):   # a first swap, and one of the table that swap built
        adapter.write_scores(frame, replace=True)
        assert _statistics() == before
        assert CustomerScore.objects.filter(value_segment="high", lifecycle_stage="at_risk").count() == 30
        assert 15 <= _estimated_rows("value_segment = 'high' AND lifecycle_stage = 'at_risk'") <= 60


def test_customers_created_or_deleted_while_the_table_is_built_are_right_after_the_swap(
        django_capture_on_commit_callbacks):
    staying, leaving = CustomerFactory(), CustomerFactory()
    Customer.objects.filter(pk=staying.pk).update(value_tier="medium")
    arrived = []

    def load(new: str) -> None:
        with connection.cursor() as cursor:
            cursor.execute(f"INSERT INTO {new} (customer_id, value_tier) VALUES (%s, 'high'), (%s, 'low')",
                           [staying.pk, leaving.pk])
        # Meanwhile a customer arrives (its trigger writes its row into the old table) and one
        # goes (its row leaves the old table; the new one still has it).
        arrived.append(Customer.objects.create(name="Arrived", value_tier="low"))
        Customer.objects.filter(pk=leaving.pk).delete()

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        timings = replace_table(TABLE, load, key="customer_id")
    assert len(callbacks) == 1   # the orphan's row goes, and the foreign key is validated, after the commit

    assert set(timings) == {"load", "indexes", "swap"}
    assert CustomerScore.objects.get(pk=staying.pk).value_tier == "high"
    assert CustomerScore.objects.get(pk=arrived[0].pk).value_tier == "low"
    assert not CustomerScore.objects.filter(pk=leaving.pk).exists()
    assert Customer.objects.count() == CustomerScore.objects.count() == 2
    with connection.cursor() as cursor:
        cursor.execute("SELECT bool_and(convalidated) FROM pg_constraint WHERE conrelid = %s::regclass "
                       "AND contype = 'f'", [TABLE])
        assert cursor.fetchone()[0] is True


def test_the_list_reads_the_swapped_scores_through_the_join():
    customers = [CustomerFactory() for _ in range(5)]
    merged = CustomerFactory(merged_into=customers[0])
    Customer.objects.filter(pk=merged.pk).update(churn_risk="medium")
    frame = pd.DataFrame({"churn_probability": [0.1, 0.5, 0.9, 0.3, 0.7],
                          "churn_risk": ["low", "medium", "high", "low", "high"]},
                         index=[c.pk for c in customers])
    adapter.write_scores(frame, replace=True)
    ordered = list(Customer.objects.live().filter(churn_risk="high").order_by("-churn_probability")
                   .values_list("pk", flat=True))
    assert ordered == [customers[2].pk, customers[4].pk]
    # The merged customer was not in the write: its row is as it was.
    assert Customer.objects.get(pk=merged.pk).churn_risk == "medium"


def test_recommendations_swap_in_run_after_run_and_lose_what_went_meanwhile(django_capture_on_commit_callbacks):
    """The live recommendations are swapped in the same way, from the new table the run's chunks
    COPYed into: twice in a row (the second new table gets its own id sequence), with the
    table's unique constraint and foreign keys back under their names, a deleted product's rows
    gone and a deleted reason product cleared."""
    customers = [CustomerFactory() for _ in range(2)]
    products = [ProductFactory() for _ in range(3)]
    table = Recommendation._meta.db_table
    before = connection.introspection.get_constraints(connection.cursor(), table)
    for attempt in range(2):
        run = ScoreRun.objects.create(as_of=timezone.now(), status="succeeded")
        _stage(run, customers, products[:2], because_of=products[2])
        with django_capture_on_commit_callbacks(execute=True):
            assert results._publish_recommendations(run.pk) == 4
        assert f"{table}_next" not in _tables()
        assert connection.introspection.get_constraints(connection.cursor(), table) == before
        assert set(Recommendation.objects.values_list("run_id", flat=True)) == {run.pk}
    # New rows still get ids from the swapped-in table's own sequence.
    Recommendation.objects.filter(rank=2).delete()
    Recommendation.objects.create(customer=customers[0], product=products[2], rank=2, score=0.1, run=run)

    def load(new: str) -> None:
        with connection.cursor() as cursor:
            cursor.execute(f"INSERT INTO {new} (customer_id, product_id, rank, score, because_of_id, run_id) "
                           f"SELECT customer_id, product_id, rank, score, because_of_id, run_id FROM {table}")
        # Meanwhile a product (the reason for every row) and a recommended product go.
        Recommendation.objects.filter(product=products[2]).delete()
        products[2].delete()

    with django_capture_on_commit_callbacks(execute=True):
        replace_table(table, load, key=None)
    rows = list(Recommendation.objects.order_by("customer_id", "rank").values_list("product_id", "because_of_id"))
    assert rows == [(products[0].pk, None), (products[0].pk, None)]


def _stage(run: ScoreRun, customers, products, *, because_of=None, opened: bool = False) -> None:
    """What a run's plan and one ranking chunk do: open the new table, COPY the chunk's rows."""
    if not opened:
        results.recommendations_stage_open(run.pk)
    rows = [(run.pk, c.pk, p.pk, rank, 1.0 / rank, because_of and because_of.pk)
            for c in customers for rank, p in enumerate(products, start=1)]
    frame = pd.DataFrame(rows, columns=["run_id", "customer_id", "product_id", "rank", "score",
                                        "because_of_id"])
    results.recommendations_stage(frame.astype({"because_of_id": "Int64"}))


def test_rows_a_late_chunk_of_an_earlier_run_copied_in_are_not_swapped_in():
    """A ranking task of a run whose lease ran out may still COPY into the table the next run's
    plan created: the finish keeps the run's own rows only."""
    customers = [CustomerFactory() for _ in range(2)]
    products = [ProductFactory() for _ in range(2)]
    stale = ScoreRun.objects.create(as_of=timezone.now(), status="failed")
    run = ScoreRun.objects.create(as_of=timezone.now(), status="succeeded")
    _stage(run, customers, products)
    _stage(stale, customers[:1], products, opened=True)
    with transaction.atomic():
        assert results._publish_recommendations(run.pk) == 4
    assert set(Recommendation.objects.values_list("run_id", flat=True)) == {run.pk}
    assert Recommendation.objects.count() == 4


@pytest.mark.django_db(transaction=True)
def test_recommendations_built_beside_the_write_are_swapped_in_or_dropped_with_a_failed_run():
    """The table built ahead, on the thread's own connection, is the stage's rows under the
    migrations' schema once swapped in; a write that fails after it was built leaves the live
    recommendations as they were and no table under the building name."""
    customers = [CustomerFactory() for _ in range(3)]
    products = [ProductFactory() for _ in range(2)]
    table = Recommendation._meta.db_table
    before = connection.introspection.get_constraints(connection.cursor(), table)
    run = ScoreRun.objects.create(as_of=timezone.now(), status="succeeded")
    _stage(run, customers, products)

    ahead = results.recommendations_build_ahead(run.pk)
    assert ahead is not None
    _, rows, _ = ahead.result(timeout=60)
    assert rows == 6 and f"{table}_next" in _tables()   # committed by the other connection
    timings = {}
    with transaction.atomic():
        assert results._publish_recommendations(run.pk, ahead, timings) == 6
    assert timings["write_recommendations_ahead"] > 0
    assert f"{table}_next" not in _tables()
    assert connection.introspection.get_constraints(connection.cursor(), table) == before
    assert sorted(Recommendation.objects.values_list("customer_id", "rank", "product_id")) == sorted(
        (c.pk, rank, p.pk) for c in customers for rank, p in enumerate(products, start=1))

    failing = ScoreRun.objects.create(as_of=timezone.now(), status="failed")
    _stage(failing, customers[:1], products[:1])
    ahead = results.recommendations_build_ahead(failing.pk)
    with pytest.raises(RuntimeError), transaction.atomic():
        results._publish_recommendations(failing.pk, ahead, {})
        raise RuntimeError("the write fails after the swap, before the commit")
    results.recommendations_ahead_discard(ahead)
    assert f"{table}_next" not in _tables()
    assert Recommendation.objects.count() == 6
    assert set(Recommendation.objects.values_list("run_id", flat=True)) == {run.pk}


def test_inside_a_callers_transaction_the_write_builds_the_recommendations_itself():
    # pytest-django's transaction holds rows another connection could not see.
    assert results.recommendations_build_ahead(1) is None


@pytest.mark.django_db(transaction=True)
def test_discarding_what_was_built_ahead_never_hides_the_runs_own_failure(monkeypatch):
    """The discard runs in the failed run's except clause, before the failure is recorded: a
    failing build, and a failing drop, are logged there, not raised in the failure's place."""
    run = ScoreRun.objects.create(as_of=timezone.now(), status="failed")
    _stage(run, [CustomerFactory()], [ProductFactory()])

    def broken(*args, **kwargs):
        raise RuntimeError("connection lost")

    monkeypatch.setattr(results, "replacement_index", broken)
    results.recommendations_ahead_discard(results.recommendations_build_ahead(run.pk))
    monkeypatch.setattr(results, "replacement_drop", broken)
    results.recommendations_ahead_discard(results.recommendations_build_ahead(run.pk))


@pytest.mark.django_db(transaction=True)
def test_a_chunk_delivered_twice_at_once_stages_its_rows_once(monkeypatch):
    """Two deliveries of one ranking chunk running together (a broker redelivering a message
    whose worker is slow, not dead): the second takes the range's ratings only after the first
    has committed them away, and stages nothing."""
    customers = [CustomerFactory() for _ in range(3)]
    products = [ProductFactory() for _ in range(4)]
    run = ScoreRun.objects.create(as_of=timezone.now(), status="running")
    ratings = pd.DataFrame({"customer_id": [customers[0].pk, customers[1].pk, customers[2].pk],
                            "product_id": [products[0].pk, products[1].pk, products[0].pk],
                            "rating": [5.0, 4.0, 3.0]})
    ids = [c.pk for c in customers]
    artifacts.artifact_store(run.pk, artifacts.PENDING_RECOMMENDER,
                             fit_recommender(ratings, [p.pk for p in products]))
    artifacts.chunk_ratings_store(run.pk, [(min(ids), max(ids))], pd.Series(ids), ratings)
    results.recommendations_stage_open(run.pk)
    staging, stage = threading.Event(), results.recommendations_stage

    def slow_stage(rows):
        stage(rows)
        staging.set()      # the first delivery holds its transaction open a while longer
        time.sleep(1)

    monkeypatch.setattr(runs, "recommendations_stage", slow_stage)
    staged = []

    def deliver():
        try:
            staged.append(runs._rank_chunk(run.pk, min(ids), max(ids)))
        finally:
            connection.close()

    first = threading.Thread(target=deliver)
    first.start()
    assert staging.wait(timeout=60)
    second = threading.Thread(target=deliver)
    second.start()
    first.join(timeout=60)
    second.join(timeout=60)
    assert sorted(staged) == [0, 3 * 3]   # each customer ranks the three products it lacks
    assert results._recommendations_index(run.pk)[1] == 9
    replacement_drop(Recommendation._meta.db_table)


@pytest.mark.django_db(transaction=True)
def test_a_finish_waits_for_the_worker_drawing_its_clouds_instead_of_drawing_them_again(monkeypatch):
    """The clouds' task is still drawing when the finish comes to take them: the finish waits
    for it and takes what it drew; the clouds are drawn once."""
    from analytics.services import figures

    run = ScoreRun.objects.create(as_of=timezone.now(), status="running")
    drawing, calls = threading.Event(), []

    def draw(*, run_id, timings):
        calls.append(run_id)
        drawing.set()
        time.sleep(0.5)
        timings["wordclouds"] = 0.5
        return 2

    monkeypatch.setattr(figures, "wordclouds_store", draw)

    def worker():
        try:
            assert figures.score_run_draw(run_id=run.pk)
        finally:
            connection.close()

    task = threading.Thread(target=worker)
    task.start()
    assert drawing.wait(10)
    timings = {}
    with transaction.atomic():
        figures.figures_take(run.pk, timings)
    task.join()
    assert calls == [run.pk] and timings == {"wordclouds": 0.5}
