"""Celery tasks of the campaigns app: thin wrappers that take ids and call a service."""
from celery import shared_task

from campaigns import services


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
