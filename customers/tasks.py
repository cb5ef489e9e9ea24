"""Celery tasks of the customers app (autodiscovery looks for this module)."""
from .intake.tasks import import_job_execute

__all__ = ["import_job_execute"]
