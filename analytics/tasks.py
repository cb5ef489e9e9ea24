"""Celery tasks of the analytics app: thin wrappers that take ids and call a service.

A full run is a chain of chords. ``score_run_full`` starts it (feedback analysis), then the two
engine parts fit in parallel (``score_run_part``: the customer models, and the recommender with
the bundles), each model once; ``score_run_rank`` then fans out ``score_run_chunk`` tasks that rank
customer id ranges on whichever workers are free, and ``score_run_finish`` writes everything in
one transaction. The finish sends ``score_run_draw``, which draws the word clouds, to the other
workers as it starts: the only time a worker is otherwise idle. Every task of a run goes to the
queue its first task came from, so a deployment can give score runs workers of their own. More
workers, shorter runs.

acks_late + reject_on_worker_lost (settings): a worker killed mid-task leaves the message on
the queue and another worker runs it again; each service is safe to repeat (a fitted run is not
refitted, a chunk replaces its own staged rows, a finished run is not rewritten), and only the
finish writes what readers see, in one transaction. No automatic retry on exceptions: a failing
run is recorded as failed with its error for a person to read, and re-running it would fail the
same way. Time limits: the fit of a million customers takes about ten minutes here; three hours
is a ceiling that only a stuck task reaches.
"""
from datetime import datetime

from celery import chord, shared_task
from celery.signals import worker_init

from analytics.engine.reasons import explainer_import
from analytics.services import feedback, rescore, runs
from analytics.services.artifacts import PENDING_PARTS

RUN_TIME_LIMIT = 3 * 3600


@worker_init.connect
def _worker_imports(**_kwargs) -> None:
    """Before a worker takes tasks (a prefork pool's children inherit it)."""
    explainer_import()


def _queue(task) -> dict:
    """Send a run's next tasks where its current one came from."""
    queue = (task.request.delivery_info or {}).get("routing_key")
    return {"queue": queue} if queue else {}


@shared_task(bind=True, acks_late=True, time_limit=RUN_TIME_LIMIT, soft_time_limit=RUN_TIME_LIMIT - 300)
def score_run_full(self, run_id: int) -> int:
    if self.app.conf.task_always_eager:
        # No broker (a laptop): nothing to fan out to, run every part here.
        runs.score_run_execute(run_id=run_id)
        return run_id
    if runs.score_run_start(run_id=run_id):
        route = _queue(self)
        fits = [score_run_part.si(run_id, part).set(**route) for part in PENDING_PARTS]
        chord(fits)(score_run_rank.si(run_id).set(**route))
    return run_id


@shared_task(acks_late=True, time_limit=RUN_TIME_LIMIT, soft_time_limit=RUN_TIME_LIMIT - 300)
def score_run_part(run_id: int, part: str) -> bool:
    return runs.score_run_fit_part(run_id=run_id, part=part)


@shared_task(acks_late=True, time_limit=RUN_TIME_LIMIT, soft_time_limit=RUN_TIME_LIMIT - 300)
def score_run_draw(run_id: int) -> bool:
    return runs.score_run_draw(run_id=run_id)


@shared_task(bind=True, acks_late=True, time_limit=RUN_TIME_LIMIT, soft_time_limit=RUN_TIME_LIMIT - 300)
def score_run_rank(self, run_id: int) -> int:
    ranges = runs.score_run_plan(run_id=run_id)
    if ranges is not None:
        route = _queue(self)
        chord(score_run_chunk.si(run_id, first, last).set(**route) for first, last in ranges)(
            score_run_finish.si(run_id).set(**route))
    return run_id


@shared_task(acks_late=True, time_limit=RUN_TIME_LIMIT, soft_time_limit=RUN_TIME_LIMIT - 300)
def score_run_chunk(run_id: int, first_id: int, last_id: int) -> int:
    return runs.score_run_rank_chunk(run_id=run_id, first_id=first_id, last_id=last_id)


@shared_task(bind=True, acks_late=True, time_limit=RUN_TIME_LIMIT, soft_time_limit=RUN_TIME_LIMIT - 300)
def score_run_finish(self, run_id: int) -> int:
    # Drawn by a free worker while this one writes; the finish draws them itself if they are
    # not stored by the time it commits (one worker, or a busy queue).
    score_run_draw.si(run_id).apply_async(**_queue(self))
    runs.score_run_finish(run_id=run_id)
    return run_id


@shared_task(time_limit=60, soft_time_limit=50)
def score_runs_expire() -> int:
    """Periodic: mark full runs whose worker died (their lease ran out) as failed."""
    return runs.score_runs_expire()


@shared_task
def score_run_nightly() -> int:
    """Beat's nightly full run; joins the active run instead of starting a second one."""
    return runs.score_run_request().pk


@shared_task(acks_late=True, autoretry_for=(ConnectionError,), retry_backoff=True, max_retries=5)
def feedback_analyse(feedback_ids: list[int] | None) -> int:
    return feedback.feedback_analyse_pending(feedback_ids=feedback_ids)


@shared_task(acks_late=True, autoretry_for=(ConnectionError,), retry_backoff=True, max_retries=5)
def customer_rescore(customer_ids: list[int]) -> int:
    return rescore.customer_rescore(customer_ids=customer_ids)


@shared_task(time_limit=RUN_TIME_LIMIT, soft_time_limit=RUN_TIME_LIMIT - 300)
def backtest_replay(dates: list[str]) -> int:
    """``manage.py backtest --queue``: replay the customer models as of each ISO date on a worker."""
    replayed, _realised = runs.backtest_replay(dates=[datetime.fromisoformat(when) for when in dates])
    return len(replayed)
