"""API shapes for campaigns and service tasks. Validation only: writes go through services."""
from __future__ import annotations

from decimal import Decimal

from rest_framework import serializers

from ..forms import AudienceForm
from ..models import MAX_FREQUENCY_CAP_DAYS, Campaign, CampaignMember, ServiceTask
from ..permissions import can_manage_campaign
from ..services import EDITABLE_FIELDS


def validate_audience(value) -> dict:
    """The same rules as the page: :class:`campaigns.forms.AudienceForm`."""
    if not isinstance(value, dict):
        raise serializers.ValidationError("Must be an object of filters.")
    unknown = sorted(set(value) - set(AudienceForm.base_fields))
    if unknown:
        raise serializers.ValidationError(f"Unknown filters: {', '.join(unknown)}.")
    form = AudienceForm(data=value)
    if not form.is_valid():
        raise serializers.ValidationError({
            field: [e["message"] for e in errors] for field, errors in form.errors.get_json_data().items()})
    return form.audience()


class CampaignSerializer(serializers.ModelSerializer):
    audience = serializers.JSONField(required=False, default=dict)
    # Null when the user was deleted, and (launched_by) until the campaign is launched.
    created_by = serializers.StringRelatedField(allow_null=True)
    launched_by = serializers.StringRelatedField(allow_null=True)

    class Meta:
        model = Campaign
        fields = ["id", *EDITABLE_FIELDS, "status", "audience", "bundle_products", "playbook",
                  "created_by", "created_at", "launched_at", "launched_by", "exclusions", "results",
                  "results_updated_at"]
        read_only_fields = ["status", "bundle_products", "playbook", "created_at", "launched_at",
                            "exclusions", "results", "results_updated_at"]

    def validate_audience(self, value):
        return validate_audience(value)

    def validate_kind(self, value):
        request = self.context.get("request")
        if request and not can_manage_campaign(request.user, value):
            raise serializers.ValidationError("Only managers create service campaigns.")
        return value


class CampaignResultsSerializer(serializers.Serializer):
    """What ``GET /api/campaigns/<id>/results/`` answers: the results stored by the last refresh."""

    id = serializers.IntegerField()
    status = serializers.ChoiceField(choices=Campaign.Status.choices)
    results_updated_at = serializers.DateTimeField(allow_null=True)
    results = serializers.JSONField(help_text="Treated and control outcomes, uplift and its interval.")
    too_early = serializers.BooleanField(
        help_text="True until the attribution window has data (no refresh yet, or no conversion in "
                  "either group while the window is open): the uplift figures mean nothing yet.")
    tiny_control = serializers.BooleanField(
        help_text="The control group holds fewer than 100 customers: the interval is very wide.")


class RefreshQueuedSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=[("queued", "queued")])


class AudiencePreviewSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=Campaign.Kind.choices, default=Campaign.Kind.MARKETING)
    frequency_cap_days = serializers.IntegerField(min_value=0, max_value=MAX_FREQUENCY_CAP_DAYS, default=0)
    channel = serializers.ChoiceField(choices=Campaign.Channel.choices, default=Campaign.Channel.EMAIL,
                                      help_text="A marketing e-mail or SMS leaves out customers without an address.")
    audience = serializers.JSONField(default=dict)
    # For the power check (the smallest detectable uplift); the model's defaults when left out.
    objective = serializers.ChoiceField(choices=Campaign.Objective.choices, required=False, allow_null=True,
                                        help_text="Compare the detectable uplift with what this objective usually gets.")
    control_share = serializers.DecimalField(max_digits=3, decimal_places=2, min_value=Decimal(0),
                                             max_value=Decimal("0.9"), default=Decimal("0.10"))
    attribution_days = serializers.IntegerField(min_value=1, max_value=365, default=30)

    def validate_audience(self, value):
        return validate_audience(value)


class PowerCheckSerializer(serializers.Serializer):
    """The smallest uplift the campaign can detect (80 % power, 5 % two-sided, two proportions)."""

    audience = serializers.IntegerField()
    control_share = serializers.FloatField()
    treated = serializers.IntegerField()
    control = serializers.IntegerField()
    baseline_conversion = serializers.FloatField(
        allow_null=True, help_text="Expected conversion in the window from the audience's scores.")
    baseline_method = serializers.CharField()
    scored_customers = serializers.IntegerField()
    attribution_days = serializers.IntegerField()
    objective = serializers.CharField(allow_null=True)
    mde = serializers.FloatField(allow_null=True, help_text="Minimum detectable effect, a fraction.")
    mde_pp = serializers.FloatField(allow_null=True, help_text="The same in percentage points; null "
                                    "when no uplift is detectable.")
    typical_uplift = serializers.FloatField(allow_null=True)
    typical_uplift_pp = serializers.FloatField(allow_null=True)
    typical_uplift_source = serializers.ChoiceField(choices=["finished_campaigns", "default"])
    finished_campaigns = serializers.IntegerField()
    warning = serializers.BooleanField(help_text="The detectable uplift is larger than the typical one.")
    suggested_control_share = serializers.FloatField(allow_null=True)
    detectable_with_some_share = serializers.BooleanField()
    alpha = serializers.FloatField()
    power = serializers.FloatField()


class AudienceBreakdownSerializer(serializers.Serializer):
    matched = serializers.IntegerField(help_text="Live customers the filters match.")
    removed = serializers.DictField(child=serializers.IntegerField(),
                                    help_text="How many each rule then left out, in the order the rules apply.")
    audience = serializers.IntegerField(help_text="matched less every removal: the size.")


class AudiencePreviewResultSerializer(serializers.Serializer):
    size = serializers.IntegerField()
    clv_total = serializers.FloatField()
    by_value_segment = serializers.DictField(child=serializers.IntegerField())
    breakdown = AudienceBreakdownSerializer()
    power = PowerCheckSerializer()


class CampaignMemberSerializer(serializers.ModelSerializer):
    class Meta:
        model = CampaignMember
        fields = ["id", "customer", "group", "stratum", "scores", "coupon_code", "offered_products",
                  "added_by_hand"]


class ServiceTaskSerializer(serializers.ModelSerializer):
    # Null for a task created by hand on the customer 360 (it belongs to no campaign).
    campaign_name = serializers.CharField(source="campaign.name", read_only=True, allow_null=True)
    customer_name = serializers.CharField(source="customer.name", read_only=True)
    assignee = serializers.StringRelatedField()
    created_by = serializers.StringRelatedField()

    class Meta:
        model = ServiceTask
        fields = ["id", "campaign", "campaign_name", "customer", "customer_name", "assignee",
                  "status", "due_on", "note", "created_by", "outcome", "created_at", "updated_at",
                  "closed_at"]
        read_only_fields = ["campaign", "customer", "due_on", "note", "created_at", "updated_at",
                            "closed_at"]


class ServiceTaskCreateSerializer(serializers.Serializer):
    """A task by hand for one customer, as on the customer 360; the service checks the rest."""

    customer = serializers.IntegerField(min_value=1, help_text="Id of the customer.")
    assignee = serializers.IntegerField(min_value=1, help_text="Id of an active Service user.")
    due_on = serializers.DateField(help_text="Due date; today or later.")
    note = serializers.CharField(max_length=2000, help_text="What should be done.")
