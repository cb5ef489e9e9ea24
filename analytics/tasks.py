"""Celery tasks of the analytics app: thin wrappers that take ids and call a service."""
from celery import shared_task

from analytics import services


# acks_late + reject_on_worker_lost (settings): a worker killed mid-run leaves the message on the
# queue and another worker re-runs it; the run's writes are one transaction, so nothing half-done
# is ever visible. No automatic retry on exceptions: a failing run is recorded as failed with its
# error for a person to read, and re-running it would fail the same way.
@shared_task(acks_late=True, time_limit=3 * 3600, soft_time_limit=3 * 3600 - 300)
def score_run_full(run_id: int) -> int:
    services.score_run_execute(run_id=run_id)
    return run_id


@shared_task
def score_run_nightly() -> int:
    """Beat's nightly full run; joins the active run instead of starting a second one."""
    return services.score_run_request().pk


@shared_task(acks_late=True, autoretry_for=(ConnectionError,), retry_backoff=True, max_retries=5)
def feedback_analyse(feedback_ids: list[int]) -> int:
    return services.feedback_analyse_pending(feedback_ids=feedback_ids)


@shared_task(acks_late=True, autoretry_for=(ConnectionError,), retry_backoff=True, max_retries=5)
def customer_rescore(customer_ids: list[int]) -> int:
    return services.customer_rescore(customer_ids=customer_ids)
