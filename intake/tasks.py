"""Celery tasks of the intake: thin wrappers that take ids and call a service."""
from celery import shared_task


# acks_late: a worker killed mid-import leaves the message queued; the job row is then
# "running" and the service will not start it twice (re-running is safe anyway: imports are
# idempotent, so a person can re-import the same file).
@shared_task(acks_late=True, time_limit=4 * 3600, soft_time_limit=4 * 3600 - 300)
def import_job_execute(job_id: int) -> int:
    # Imported here: this module is loaded with the models, before the app registry is ready.
    from .services.jobs import import_job_run

    import_job_run(job_id=job_id)
    return job_id


@shared_task(time_limit=60, soft_time_limit=50)
def import_jobs_expire() -> int:
    """Periodic: mark running jobs whose worker died (their lease ran out) as failed."""
    from .services.jobs import import_jobs_expire as expire

    return expire()


@shared_task(time_limit=3600, soft_time_limit=3500)
def import_files_expire() -> int:
    """Periodic: delete uploads and rejected-rows files older than IMPORT_RETENTION_DAYS."""
    from .services.jobs import import_files_expire as expire

    return expire()
