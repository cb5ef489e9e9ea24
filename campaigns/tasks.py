"""Celery tasks of the campaigns app: thin wrappers that take ids and call a service."""
from celery import shared_task

from campaigns import delivery, services


# Recomputing results is idempotent (it overwrites the stored figures), so a redelivery after a
# lost worker is harmless; the row lock in the service keeps two runs from interleaving.
@shared_task(acks_late=True, time_limit=600, soft_time_limit=540)
def campaign_results_refresh(campaign_id: int) -> int:
    services.campaign_results_refresh(campaign_id=campaign_id)
    return campaign_id


@shared_task(acks_late=True, time_limit=3600, soft_time_limit=3300)
def campaign_results_refresh_running() -> list[int]:
    """Periodic: results of every running campaign; finishes those whose window has closed."""
    return services.campaign_results_refresh_running()


# Safe to repeat: each message is claimed (queued -> sending) before it leaves, so a redelivered
# or duplicated task sends nothing twice. Transient provider failures retry with backoff.
@shared_task(bind=True, acks_late=True, max_retries=delivery.MAX_ATTEMPTS, time_limit=6 * 3600,
             soft_time_limit=6 * 3600 - 300)
def campaign_send(self, campaign_id: int) -> int:
    try:
        return delivery.campaign_send(campaign_id=campaign_id)
    except delivery.TransientSendError as exc:
        raise self.retry(exc=exc, countdown=delivery.retry_countdown(self.request.retries)) from exc


@shared_task(acks_late=True, time_limit=3600, soft_time_limit=3300)
def campaign_schedule_tick() -> dict:
    """Periodic: launch scheduled campaigns on their date; finish those whose window closed."""
    return services.campaign_schedule_tick()
