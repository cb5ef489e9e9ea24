"""Run state and the results of the analytics pipeline that do not live on Customer.

A :class:`ScoreRun` row records each run; everything else here is written by a run and keeps the
id of the run that wrote it, so a page can show results and the run they came from together.
"""
from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from core.failures import FailureKind
from core.leases import LeasedJob


class ScoreRun(LeasedJob):
    class Kind(models.TextChoices):
        FULL = "full", _("Full")
        INCREMENTAL = "incremental", _("Incremental")
        # Fitted as of a past date to record what it would have predicted (``backtest``); it
        # writes prediction history only, never the customers' scores.
        BACKTEST = "backtest", _("Backtest")

    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Running")
        SUCCEEDED = "succeeded", _("Succeeded")
        FAILED = "failed", _("Failed")

    ACTIVE = (Status.QUEUED, Status.RUNNING)
    ENDED = (Status.SUCCEEDED, Status.FAILED)
    LEASED_STATUSES = ACTIVE
    # Longer than any single stage takes at a million customers (the longest, churn, takes
    # minutes), short enough that a run whose worker was killed is taken over within a quarter of
    # an hour.
    lease_duration = timedelta(minutes=15)
    # A run writes its results in one transaction at the end: a failed run leaves the previous
    # scores whole, and running it again is safe.
    failure_messages = {
        FailureKind.DATABASE_BUSY: _(
            "The database was busy, so the analysis stopped; the scores of the previous run are "
            "unchanged. Run the analysis again (after a large import has finished)."),
        FailureKind.WORKER_LOST: _(
            "The worker running the analysis stopped reporting progress (it was restarted, killed or "
            "ran out of memory); the scores of the previous run are unchanged. Run the analysis "
            "again; if it stops again, ask an administrator."),
        FailureKind.NOT_ENOUGH_HISTORY: _(
            "There is not enough order history to fit the models yet; the scores of the previous run "
            "are unchanged. Import more orders (several months, with customers who bought more than "
            "once), then run the analysis again."),
        FailureKind.OUT_OF_RESOURCES: _(
            "The analysis ran out of memory or time; the scores of the previous run are unchanged. "
            "Ask an administrator to give the workers more memory or time: the details are in the log."),
        FailureKind.UNEXPECTED: _(
            "The analysis stopped because of an unexpected error; the scores of the previous run are "
            "unchanged. Run it again; if it fails again, ask an administrator: the details are in the "
            "log."),
    }

    kind = models.CharField(_("kind"), max_length=12, choices=Kind.choices, default=Kind.FULL)
    as_of = models.DateTimeField(_("as of"))
    status = models.CharField(_("status"), max_length=10, choices=Status.choices,
                              default=Status.QUEUED)
    stage = models.CharField(_("stage"), max_length=40, blank=True)
    progress = models.PositiveSmallIntegerField(_("progress (%)"), default=0)
    timings = models.JSONField(_("seconds per stage"), default=dict, blank=True)
    counts = models.JSONField(_("row counts"), default=dict, blank=True)
    # Every number of the dashboard, computed once when the run finishes (customers.selectors
    # dashboard_figures), so the page reads one row instead of scanning customers and orders.
    dashboard = models.JSONField(_("dashboard figures"), default=dict, blank=True)
    peak_memory_mb = models.JSONField(_("peak memory after each stage (MB)"), default=dict, blank=True)
    model_cards = models.JSONField(_("model cards"), default=dict, blank=True)
    # The raw error (exception and traceback) for administrators; the pages show the sentence of
    # ``error_kind`` (core.leases.LeasedJob.get_error_message).
    error = models.TextField(_("error details"), blank=True)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                     on_delete=models.SET_NULL, related_name="+",
                                     verbose_name=_("requested by"))
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    # ``lease_expires_at`` (core.leases.LeasedJob) is the lock: an active full run holds it until
    # that moment; each stage extends it. A run whose worker died stops extending it, and the next
    # request (or the beat's sweep) marks it failed.
    # A full run fits its models once, then ranks customers in chunks that several workers take
    # in parallel; these count them for the progress bar.
    chunks_total = models.PositiveIntegerField(_("chunks"), default=0)
    chunks_done = models.PositiveIntegerField(_("chunks done"), default=0)
    fitted_at = models.DateTimeField(_("models fitted at"), null=True, blank=True)

    class Meta:
        verbose_name = _("score run")
        verbose_name_plural = _("score runs")
        ordering = ["-created_at", "-id"]
        constraints = [
            # At most one full run queued or running, enforced by the database.
            models.UniqueConstraint(fields=["kind"], condition=Q(kind="full", status__in=["queued", "running"]),
                                    name="one_active_full_run"),
            models.CheckConstraint(condition=Q(progress__lte=100), name="scorerun_progress_max_100"),
        ]

    def __str__(self) -> str:
        return _("%(kind)s run #%(id)s (%(status)s)") % {
            "kind": self.get_kind_display(), "id": self.pk, "status": self.get_status_display()}

    @property
    def duration_seconds(self) -> float | None:
        if self.started_at and self.finished_at:
            return (self.finished_at - self.started_at).total_seconds()
        return None


class ModelArtifact(models.Model):
    """A fitted model of a run, kept so one customer can be rescored without refitting."""

    run = models.ForeignKey(ScoreRun, on_delete=models.CASCADE, related_name="artifacts")
    name = models.CharField(max_length=40)
    payload = models.BinaryField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["run", "name"], name="artifact_unique_per_run")]


class SegmentProfile(models.Model):
    """One K-means value segment of a run: its centre, size, spend and a readable rule."""

    run = models.ForeignKey(ScoreRun, on_delete=models.CASCADE, related_name="segments")
    cluster = models.PositiveSmallIntegerField()
    label = models.CharField(max_length=10)
    size = models.PositiveIntegerField()
    mean_spend = models.FloatField()
    revenue_share = models.FloatField()
    centre = models.JSONField(default=dict)
    rule = models.TextField(blank=True)

    class Meta:
        ordering = ["-mean_spend"]


class Recommendation(models.Model):
    """A product ranked for a customer by the last full run: ten rows per customer, the whole
    table rebuilt by each run's ranking tasks and swapped in by its finish
    (``results._publish_recommendations``).

    Two foreign keys carry no index of their own, since each index is built again over every row
    by each run (ten million at a million customers): the customer's, which the unique
    (customer, rank) index serves, and the run's, which is the same for every row.
    """

    customer = models.ForeignKey("customers.Customer", on_delete=models.CASCADE, db_index=False,
                                 related_name="recommendations")
    product = models.ForeignKey("customers.Product", on_delete=models.CASCADE, related_name="+")
    rank = models.PositiveSmallIntegerField()
    score = models.FloatField()
    because_of = models.ForeignKey("customers.Product", null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+")
    run = models.ForeignKey(ScoreRun, on_delete=models.CASCADE, db_index=False, related_name="+")

    class Meta:
        ordering = ["customer", "rank"]
        constraints = [
            models.UniqueConstraint(fields=["customer", "rank"], name="recommendation_rank_unique"),
        ]


class RecommendationStage(models.Model):
    """Recommendations of a run still in progress, written by its chunk tasks, on SQLite.

    No foreign keys: chunks insert without checking keys row by row, and the run's final
    transaction moves the rows into :class:`Recommendation` in one ``INSERT ... SELECT``, so
    readers never see a half-ranked run. On PostgreSQL the chunks COPY straight into the new
    recommendations table that the final transaction swaps in (``results.recommendations_stage``).
    """

    run_id = models.BigIntegerField()
    customer_id = models.BigIntegerField()
    product_id = models.BigIntegerField()
    rank = models.PositiveSmallIntegerField()
    score = models.FloatField()
    because_of_id = models.BigIntegerField(null=True)

    class Meta:
        indexes = [models.Index(fields=["run_id", "customer_id"], name="recstage_run_customer")]


class AssociationRule(models.Model):
    """A bundle: customers who buy the antecedent products also buy the consequent."""

    run = models.ForeignKey(ScoreRun, on_delete=models.CASCADE, related_name="rules")
    antecedents = models.JSONField(help_text="product ids")
    consequents = models.JSONField(help_text="product ids")
    support = models.FloatField()
    confidence = models.FloatField()
    lift = models.FloatField()

    class Meta:
        ordering = ["-lift"]


class RevenueForecast(models.Model):
    """Monthly revenue: actual history and the forecast with its interval."""

    run = models.ForeignKey(ScoreRun, on_delete=models.CASCADE, related_name="forecast")
    month = models.DateField()
    actual = models.FloatField(null=True, blank=True)
    forecast = models.FloatField(null=True, blank=True)
    lower = models.FloatField(null=True, blank=True)
    upper = models.FloatField(null=True, blank=True)

    class Meta:
        ordering = ["month"]


class PredictionHistory(models.Model):
    """What a run predicted for one customer, kept to be checked against what then happened.

    One narrow row per customer per run (no foreign key to the customer: a customer deleted
    later still counts in the run's accuracy), keyed by (run, customer) with no other index.
    """

    pk = models.CompositePrimaryKey("run", "customer_id")
    run = models.ForeignKey(ScoreRun, on_delete=models.CASCADE, related_name="predictions")
    customer_id = models.BigIntegerField()
    churn_probability = models.FloatField(null=True)
    p_alive = models.FloatField(null=True)
    expected_orders_90d = models.FloatField(null=True)
    clv_12m = models.FloatField(null=True)
    loyalty_score = models.FloatField(null=True)

    class Meta:
        verbose_name = _("prediction history")
        verbose_name_plural = _("prediction history")


class RealisedAccuracy(models.Model):
    """One model's predictions in one run, scored against what happened over its horizon."""

    class Model(models.TextChoices):
        CHURN = "churn", _("Churn")
        ORDERS = "orders", _("Expected orders")
        CLV = "clv", _("Lifetime value")

    run = models.ForeignKey(ScoreRun, on_delete=models.CASCADE, related_name="realised")
    model = models.CharField(_("model"), max_length=10, choices=Model.choices)
    horizon_days = models.PositiveIntegerField(_("horizon (days)"))
    customers = models.PositiveIntegerField(_("customers"))
    metrics = models.JSONField(_("metrics"), default=dict)
    deciles = models.JSONField(_("by decile"), default=list)
    drift = models.JSONField(_("drift"), default=list, blank=True)
    evaluated_at = models.DateTimeField(_("evaluated at"))

    class Meta:
        ordering = ["run__as_of"]
        verbose_name = _("realised accuracy")
        verbose_name_plural = _("realised accuracy")
        constraints = [models.UniqueConstraint(fields=["run", "model"], name="realised_unique_per_run")]
