"""One leased-job helper: a row that a worker holds while it works, by renewing a lease.

A worker that is killed stops renewing; once the lease has run out the row is presumed
abandoned. Score runs and import jobs are then marked failed (by the beat schedule's sweep, never
by a page that shows them: reads annotate an effective status instead, see
:meth:`LeaseQuerySet.with_effective_status`); a webhook delivery's attempt is made again.

The models keep their own columns: ``lease_field`` names the one that holds the lease
(``WebhookDelivery.locked_until``); :class:`LeasedJob` declares ``lease_expires_at`` exactly as
the models had it, and the kind of a failure (:mod:`core.failures`), which a lease that ran out
sets to "the worker stopped".
"""
from __future__ import annotations

from datetime import datetime, timedelta

from django.db import models
from django.db.models import Case, F, Q, Value, When
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .failures import FailureKind, failure_message


class LeaseQuerySet(models.QuerySet):
    def abandoned(self, now: datetime | None = None) -> LeaseQuerySet:
        """Rows whose worker stopped renewing the lease (see ``Model.lease_abandoned_q``)."""
        return self.filter(self.model.lease_abandoned_q(now or timezone.now()))

    def with_effective_status(self, now: datetime | None = None) -> LeaseQuerySet:
        """Annotate ``effective_status``, ``effective_error`` and ``effective_error_kind``: what
        :func:`lease_expire` would leave, so a page shows an abandoned job as failed, with the
        reason, without writing (reads stay reads)."""
        model = self.model
        dead = model.lease_abandoned_q(now or timezone.now())
        return self.annotate(
            effective_status=Case(When(dead, then=Value(model.LEASE_FAILED_STATUS)), default=F("status"),
                                  output_field=models.CharField()),
            effective_error=Case(When(dead, then=Value(str(model.lease_abandoned_error))), default=F("error"),
                                 output_field=models.TextField()),
            effective_error_kind=Case(When(dead, then=Value(FailureKind.WORKER_LOST.value)),
                                      default=F("error_kind"), output_field=models.CharField()),
        )


class Leased(models.Model):
    """A row held under a lease kept in the column ``lease_field`` (the model declares it)."""

    lease_field = "lease_expires_at"
    # How long a worker holds the lease before it must renew it; None: the caller says.
    lease_duration: timedelta | None = None

    objects = LeaseQuerySet.as_manager()

    class Meta:
        abstract = True

    @classmethod
    def lease_abandoned_q(cls, now: datetime) -> Q:
        return Q(**{f"{cls.lease_field}__lt": now})

    def lease_expired(self, now: datetime | None = None) -> bool:
        until = getattr(self, self.lease_field)
        return until is not None and until < (now or timezone.now())


class LeasedJob(Leased):
    """A job row (``status``, ``error``, ``finished_at``) whose lease is held while its status is
    one of ``LEASED_STATUSES``, and which fails when the lease runs out.

    A failed job keeps the raw error in ``error`` (for the admin and the log) and the kind of
    failure in ``error_kind`` with ``error_params``; pages show :meth:`get_error_message`, the
    model's sentence for that kind (``failure_messages``, see :mod:`core.failures`).
    """

    lease_expires_at = models.DateTimeField(_("lease expires at"), null=True, blank=True)
    error_kind = models.CharField(_("kind of failure"), max_length=20, choices=FailureKind.choices,
                                  blank=True)
    error_params = models.JSONField(_("failure details for the message"), default=dict, blank=True)

    LEASED_STATUSES: tuple[str, ...] = ()
    LEASE_FAILED_STATUS = "failed"
    # The raw error recorded for a job whose lease ran out; the page shows the model's sentence
    # for ``FailureKind.WORKER_LOST``.
    lease_abandoned_error = "Abandoned: the worker stopped renewing its lease (killed or lost)."
    # FailureKind -> lazy sentence; FailureKind.UNEXPECTED is required.
    failure_messages: dict = {}

    class Meta:
        abstract = True

    @classmethod
    def lease_abandoned_q(cls, now: datetime) -> Q:
        return super().lease_abandoned_q(now) & Q(status__in=cls.LEASED_STATUSES)

    def get_effective_status_display(self) -> str:
        """The status a page shows: failed once the lease ran out (needs ``with_effective_status``)."""
        status = getattr(self, "effective_status", self.status)
        return str(dict(self._meta.get_field("status").flatchoices).get(status, status))

    def failure_params(self) -> dict:
        """Parameters of the sentence taken from the row itself (counts, stage); a model adds its own."""
        return {}

    def get_error_message(self) -> str:
        """What a failed job's page says happened and what to do, in the active language; empty
        unless the job failed (effectively: an abandoned job reads as failed)."""
        if getattr(self, "effective_status", self.status) != self.LEASE_FAILED_STATUS:
            return ""
        kind = getattr(self, "effective_error_kind", self.error_kind) or FailureKind.UNEXPECTED
        return failure_message(self.failure_messages, kind, {**self.failure_params(), **self.error_params})


def lease_until(duration: timedelta, now: datetime | None = None) -> datetime:
    return (now or timezone.now()) + duration


def lease_renew(queryset: models.QuerySet, *, duration: timedelta | None = None, now: datetime | None = None,
                **fields) -> int:
    """Push the lease of ``queryset``'s rows forward, writing ``fields`` in the same UPDATE.

    Returns the rows renewed: 0 tells a worker that filtered on the state it holds (``running``)
    that it lost the lease meanwhile.
    """
    model = queryset.model
    duration = duration or model.lease_duration
    return queryset.update(**{model.lease_field: lease_until(duration, now)}, **fields)


def lease_expire(queryset: models.QuerySet, *, error: str | None = None, now: datetime | None = None) -> int:
    """Mark the jobs of ``queryset`` whose lease ran out as failed, with ``error`` (by default the
    model's ``lease_abandoned_error``); returns how many. One UPDATE: safe to run anywhere, any
    number of times, but it writes, so it runs from the beat schedule and write paths only."""
    now = now or timezone.now()
    model = queryset.model
    return queryset.abandoned(now).update(status=model.LEASE_FAILED_STATUS, finished_at=now,
                                          error=str(error or model.lease_abandoned_error),
                                          error_kind=FailureKind.WORKER_LOST, error_params={})
