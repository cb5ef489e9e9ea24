"""Serializers of the analytics API: score runs and the results they wrote (read-only)."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from analytics.models import AssociationRule, RealisedAccuracy, Recommendation, ScoreRun, SegmentProfile
from customers.api.serializers import DescribedModelSerializer, ProductBriefSerializer


class ScoreRunSerializer(DescribedModelSerializer):
    timings = serializers.DictField(
        child=serializers.FloatField(), read_only=True, help_text=_("Seconds spent in each stage.")
    )
    counts = serializers.DictField(read_only=True, help_text=_("Rows read and written, by kind."))
    peak_memory_mb = serializers.DictField(
        child=serializers.FloatField(), read_only=True,
        help_text=_("Peak resident memory of the fitting process after each stage, in MB."))
    model_cards = serializers.DictField(
        read_only=True,
        help_text=_("One card per model: its metrics on held-out data next to a naive baseline's."),
    )
    duration_seconds = serializers.FloatField(
        read_only=True, allow_null=True, help_text=_("Seconds from start to finish, once finished.")
    )

    class Meta:
        model = ScoreRun
        fields = (
            "id",
            "kind",
            "as_of",
            "status",
            "stage",
            "progress",
            "timings",
            "counts",
            "peak_memory_mb",
            "chunks_total",
            "chunks_done",
            "model_cards",
            "error",
            "requested_by",
            "created_at",
            "started_at",
            "finished_at",
            "duration_seconds",
        )
        read_only_fields = fields
        extra_kwargs = {
            "kind": {"help_text": _("Full (every customer) or incremental (customers with new events).")},
            "as_of": {"help_text": _("The date the scores describe; later events are ignored.")},
            "status": {"help_text": _("Queued, running, succeeded or failed.")},
            "stage": {"help_text": _("The stage the run is in, or 'done'.")},
            "progress": {"help_text": _("Percent done, 0 to 100.")},
            "chunks_total": {"help_text": _("Customer ranges the run ranks as separate tasks, in parallel "
                                            "on as many workers as there are.")},
            "chunks_done": {"help_text": _("Customer ranges ranked so far.")},
            "error": {"help_text": _("Why the run failed, if it did.")},
            "requested_by": {"help_text": _("Id of the user who asked for the run.")},
        }


class ScoreRunRequestSerializer(serializers.Serializer):
    as_of = serializers.DateTimeField(required=False, help_text=_("Score as of this time; defaults to now."))


class RecommendationSerializer(DescribedModelSerializer):
    product = ProductBriefSerializer(read_only=True, help_text=_("The recommended product."))
    because_of = ProductBriefSerializer(
        read_only=True,
        allow_null=True,
        help_text=_("A product the customer bought that led to this recommendation, if any."),
    )

    class Meta:
        model = Recommendation
        fields = ("rank", "product", "score", "because_of", "run")
        read_only_fields = fields
        extra_kwargs = {
            "rank": {"help_text": _("1 is the best recommendation.")},
            "score": {"help_text": _("Predicted preference; higher is better.")},
            "run": {"help_text": _("Id of the score run that made it.")},
        }


class SegmentProfileSerializer(DescribedModelSerializer):
    centre = serializers.DictField(
        child=serializers.FloatField(),
        read_only=True,
        help_text=_("Mean recency (days), frequency and total spend of the segment."),
    )

    class Meta:
        model = SegmentProfile
        fields = ("id", "run", "cluster", "label", "size", "mean_spend", "revenue_share", "centre", "rule")
        read_only_fields = fields
        extra_kwargs = {
            "run": {"help_text": _("Id of the score run that found the segment.")},
            "cluster": {"help_text": _("K-means cluster number.")},
            "label": {"help_text": _("Value label of the segment: high, medium or low.")},
            "size": {"help_text": _("Customers in the segment.")},
            "mean_spend": {"help_text": _("Mean total spend of its customers.")},
            "revenue_share": {"help_text": _("Share of all revenue, 0 to 1.")},
            "rule": {"help_text": _("A readable rule describing who is in the segment.")},
        }


class AssociationRuleSerializer(DescribedModelSerializer):
    antecedents = serializers.ListField(
        child=serializers.IntegerField(), read_only=True, help_text=_("Ids of the products bought first.")
    )
    consequents = serializers.ListField(
        child=serializers.IntegerField(),
        read_only=True,
        help_text=_("Ids of the products also bought with them."),
    )

    class Meta:
        model = AssociationRule
        fields = ("id", "run", "antecedents", "consequents", "support", "confidence", "lift")
        read_only_fields = fields
        extra_kwargs = {
            "run": {"help_text": _("Id of the score run that mined the rule.")},
            "support": {"help_text": _("Share of baskets holding all the products, 0 to 1.")},
            "confidence": {
                "help_text": _("Share of baskets with the antecedents that also hold the consequents.")
            },
            "lift": {
                "help_text": _(
                    "Confidence divided by the consequents' own frequency; above 1 means "
                    "bought together more than by chance."
                )
            },
        }


class RealisedAccuracySerializer(DescribedModelSerializer):
    as_of = serializers.DateTimeField(source="run.as_of", read_only=True,
                                      help_text=_("When the predictions were made (the run's date)."))
    run_kind = serializers.CharField(source="run.kind", read_only=True,
                                     help_text=_("Full run or backtest."))
    metrics = serializers.DictField(read_only=True, help_text=_(
        "Churn: roc_auc, brier, calibration_error and their baselines; orders and CLV: predicted_total, "
        "actual_total, actual_to_predicted, spearman, mean_absolute_error."))
    deciles = serializers.ListField(child=serializers.DictField(), read_only=True, help_text=_(
        "Per tenth of the customers by prediction (1 = lowest): customers, mean predicted, mean observed."))
    drift = serializers.ListField(child=serializers.CharField(), read_only=True, help_text=_(
        "How the predictions went wrong, if they did: roc_auc_below_baseline, calibration, total_off."))

    class Meta:
        model = RealisedAccuracy
        fields = ("id", "run", "as_of", "run_kind", "model", "horizon_days", "customers", "metrics", "deciles",
                  "drift", "evaluated_at")
        read_only_fields = fields
        extra_kwargs = {
            "run": {"help_text": _("Id of the score run whose predictions were checked.")},
            "model": {"help_text": _("churn, orders or clv.")},
            "horizon_days": {"help_text": _("Days after the run's date over which the outcome was observed.")},
            "customers": {"help_text": _("Customers whose predictions were checked.")},
            "evaluated_at": {"help_text": _("When the check was made.")},
        }
