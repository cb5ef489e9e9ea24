"""Celery tasks of the webhooks: thin wrappers that take ids and call a service."""
from celery import shared_task


# acks_late: a worker killed mid-request leaves the message queued, and the delivery row's lease
# lets the redelivered message make the attempt again. The limits are far above the HTTP timeout
# (settings.WEBHOOK_TIMEOUT_SECONDS, at most 90 s) and below the lease (services.ATTEMPT_LEASE). max_retries=None: the
# service decides when to stop (services.MAX_ATTEMPTS) and how long to wait.
@shared_task(bind=True, acks_late=True, max_retries=None, time_limit=120, soft_time_limit=100)
def webhook_delivery_send(self, delivery_id: int, attempt: int = 1) -> int:
    from .services import webhook_delivery_attempt

    retry_in = webhook_delivery_attempt(delivery_id=delivery_id, attempt=attempt)
    if retry_in is None:
        return delivery_id
    if self.request.is_eager:
        # In-process (no broker): a raised Retry would reach the caller (eager errors propagate);
        # returned, Celery's apply() makes the next attempt at once, as nothing can wait.
        return self.retry(args=[delivery_id, attempt + 1], countdown=retry_in, throw=False)
    raise self.retry(args=[delivery_id, attempt + 1], countdown=retry_in)


@shared_task(acks_late=True, time_limit=600, soft_time_limit=540)
def webhook_deliveries_resume() -> int:
    """Periodic: queue again pending deliveries whose message was lost."""
    from .services import webhook_deliveries_resume as resume

    return resume()
