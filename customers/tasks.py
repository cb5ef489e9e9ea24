"""Celery tasks of the customers app (autodiscovery looks for this module)."""
from .intake.tasks import import_job_execute
from .webhooks.tasks import webhook_deliveries_resume, webhook_delivery_send

__all__ = ["import_job_execute", "webhook_deliveries_resume", "webhook_delivery_send"]
