"""Serializers of the customer-records API: they parse and render; services write.

Score fields are read-only. Contact details (``PII_FIELDS``) are left out of the fields, in and
out, for users without ``customers.view_pii``; the schema lists them, marked as such.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.exceptions import FieldDoesNotExist
from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from customers import bounds
from customers.models import (
    PII_FIELDS,
    SCORE_FIELDS,
    ComplaintReason,
    Customer,
    CustomerScore,
    Feedback,
    Interaction,
    Order,
    OrderItem,
    Product,
    SentimentLabel,
)
from customers.normalise import normalise_email, normalise_phone
from customers.permissions import can_view_pii
from customers.pii import hidden_attributes, visible_attributes
from customers.records import CUSTOMER_FIELDS, OrderLine

# What each score means, for the schema. Fields not named here are described by their model
# field's verbose name.
FIELD_HELP = {
    "id": _("Identifier of the record in this CRM."),
    "order_count": _("Completed orders up to the last score run."),
    "total_spent": _("Sum of completed orders up to the last score run."),
    "first_order_at": _("Time of the first completed order."),
    "last_order_at": _("Time of the most recent completed order."),
    "recency_days": _("Days from the last order to the score run's as-of date."),
    "rfm_r": _("RFM recency quintile, 1 (longest ago) to 5 (most recent)."),
    "rfm_f": _("RFM frequency quintile, 1 (fewest orders) to 5 (most)."),
    "rfm_m": _("RFM monetary quintile, 1 (lowest spend) to 5 (highest)."),
    "rfm_segment": _("Named RFM segment from the R and F scores (Champions, At Risk, ...)."),
    "value_segment": _("K-means value segment of recency, frequency and spend: high, medium or low."),
    "value_tier": _("Tier by predicted 12-month value: high, medium or low."),
    "churn_probability": _("Probability, 0 to 1, that the customer places no order within the churn window."),
    "churn_risk": _("Churn probability banded into high, medium or low."),
    "churn_reasons": _("The features that push the churn probability up or down most, with their weights."),
    "p_alive": _("BG/NBD probability, 0 to 1, that the customer is still active."),
    "expected_orders_90d": _("BG/NBD expected number of orders in the next 90 days."),
    "clv_12m": _("Predicted customer lifetime value over the next 12 months (BG/NBD and Gamma-Gamma)."),
    "lifecycle_stage": _("Prospect, new, active, at risk, churned or reactivated."),
    "loyalty_score": _("Loyalty, 0 to 1, from repeat purchases, tenure and satisfaction."),
    "sentiment_score": _("Mean sentiment of the customer's feedback, -1 (negative) to 1 (positive)."),
    "satisfaction_group": _("Satisfaction group from ratings and sentiment."),
    "scores_updated_at": _("When the analytics pipeline last wrote these scores."),
    "email": _("Email address, stored lower-case. Only with the contact-details permission."),
    "phone": _(
        "Phone number, normalised to E.164 (for example +8613800138000). Only with the "
        "contact-details permission."
    ),
    "birth_date": _("Date of birth. Only with the contact-details permission."),
    "merged_into": _("The surviving record this customer was merged into, if any."),
    "owner": _("Id of the staff user who owns the customer."),
    "attributes": _("Imported columns the model does not know, as a JSON object."),
}


class DescribedModelSerializer(serializers.ModelSerializer):
    """Every field carries a description: from ``FIELD_HELP``, the model's help text or its name."""

    def get_fields(self):
        fields = super().get_fields()
        model = self.Meta.model
        for name, field in fields.items():
            if field.help_text:
                continue
            if name in FIELD_HELP:
                field.help_text = FIELD_HELP[name]
                continue
            try:
                model_field = model._meta.get_field(field.source if field.source != "*" else name)
                verbose = str(model_field.verbose_name)
                field.help_text = verbose[:1].upper() + verbose[1:] + "."
            except FieldDoesNotExist:  # a computed field without a model field
                field.help_text = name.replace("_", " ").capitalize() + "."
        return fields


def _is_schema_generation(context) -> bool:
    return getattr(context.get("view"), "swagger_fake_view", False)


class PiiHidingMixin:
    """Leaves contact details out, in both directions, for users without ``customers.view_pii``."""

    def get_fields(self):
        fields = super().get_fields()
        request = self.context.get("request")
        if _is_schema_generation(self.context) or request is None or can_view_pii(request.user):
            return fields
        for name in PII_FIELDS:
            fields.pop(name, None)
        return fields

    def _hides_pii(self) -> bool:
        request = self.context.get("request")
        return request is not None and not can_view_pii(request.user)

    def to_representation(self, instance):
        data = super().to_representation(instance)
        # Imported columns holding contact or identity data (customers.pii) go the way of the
        # contact fields.
        if "attributes" in data and self._hides_pii():
            data["attributes"] = visible_attributes(data["attributes"], user=self.context["request"].user)
        return data


class CustomerSerializer(PiiHidingMixin, DescribedModelSerializer):
    class Meta:
        model = Customer
        fields = ("id", *CUSTOMER_FIELDS, "merged_into", "created_at", "updated_at", *SCORE_FIELDS)
        read_only_fields = ("merged_into", "created_at", "updated_at", *SCORE_FIELDS)
        extra_kwargs = {"owner": {"queryset": get_user_model().objects.filter(is_active=True)}}

    def build_field(self, field_name, info, model_class, nested_depth):
        # The scores are the score table's fields, read on the customer under the same names:
        # typed (and in the schema) as those fields.
        if field_name in SCORE_FIELDS:
            return self.build_standard_field(field_name, CustomerScore._meta.get_field(field_name))
        return super().build_field(field_name, info, model_class, nested_depth)

    def validate_email(self, value: str) -> str:
        try:
            return normalise_email(value)
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.messages) from exc

    def validate_phone(self, value: str) -> str:
        try:
            return normalise_phone(value)
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.messages) from exc

    def validate_attributes(self, value):
        if not isinstance(value, dict):
            raise serializers.ValidationError(_("Must be a JSON object."))
        if self.instance is not None and not isinstance(self.instance, list | tuple) and self._hides_pii():
            # The attributes this user cannot see are kept, not erased by a write that omits them.
            value = {**value, **hidden_attributes(self.instance.attributes,
                                                  user=self.context["request"].user)}
        return value


class CustomerUpsertSerializer(CustomerSerializer):
    """The customer body of ``PUT /customers/by-external-id/<external_id>/``: the id is in the path."""

    class Meta(CustomerSerializer.Meta):
        read_only_fields = ("external_id", *CustomerSerializer.Meta.read_only_fields)


class ProductSerializer(DescribedModelSerializer):
    class Meta:
        model = Product
        fields = ("id", "sku", "name", "category", "price", "active")
        extra_kwargs = {
            "sku": {"help_text": _("Stock-keeping unit: the product's key in the source system.")},
            "price": {"help_text": _("List price; order lines without a unit price use it."), "min_value": 0,
                      "max_value": bounds.MAX_AMOUNT},
        }


class ProductUpsertSerializer(ProductSerializer):
    class Meta(ProductSerializer.Meta):
        read_only_fields = ("sku",)


class ProductBriefSerializer(DescribedModelSerializer):
    class Meta:
        model = Product
        fields = ("id", "sku", "name", "category", "price")
        read_only_fields = fields


class OrderItemSerializer(DescribedModelSerializer):
    product = serializers.CharField(
        source="product.sku",
        max_length=64,
        help_text=_("SKU of the product; it must exist (create it with PUT /api/products/by-sku/<sku>/)."),
    )
    product_name = serializers.CharField(
        source="product.name", read_only=True, help_text=_("Name of the product.")
    )
    quantity = serializers.IntegerField(min_value=1, max_value=bounds.MAX_QUANTITY, help_text=_("Units bought."))
    unit_price = serializers.DecimalField(
        max_digits=12,
        decimal_places=2,
        min_value=0,
        max_value=bounds.MAX_AMOUNT,
        required=False,
        help_text=_("Price of one unit; defaults to the product's list price."),
    )
    line_total = serializers.DecimalField(
        max_digits=14, decimal_places=2, read_only=True, help_text=_("Quantity times unit price.")
    )

    class Meta:
        model = OrderItem
        fields = ("id", "product", "product_name", "quantity", "unit_price", "line_total")


class OrderSerializer(DescribedModelSerializer):
    customer = serializers.PrimaryKeyRelatedField(
        queryset=Customer.objects.all(), help_text=_("Id of the customer who placed the order.")
    )
    items = OrderItemSerializer(
        many=True, allow_empty=False, help_text=_("The order's lines; on update they replace all lines.")
    )
    total_amount = serializers.DecimalField(
        max_digits=14,
        decimal_places=2,
        min_value=0,
        max_value=bounds.MAX_AMOUNT,
        required=False,
        allow_null=True,
        help_text=_(
            "Order total. When sent it must match the sum of the lines (within 0.01); "
            "when left out it is computed from them."
        ),
    )

    class Meta:
        model = Order
        fields = ("id", "external_id", "customer", "ordered_at", "channel", "status", "total_amount", "items")
        extra_kwargs = {"external_id": {"help_text": _("Identifier of the order in the source system.")}}

    def validate_items(self, items):
        # One query for all the SKUs of the order, not one per line.
        skus = {item["product"]["sku"] for item in items}
        products = Product.objects.in_bulk(skus, field_name="sku")
        errors = {
            index: {"product": [_("No product with SKU %(sku)s.") % {"sku": item["product"]["sku"]}]}
            for index, item in enumerate(items)
            if item["product"]["sku"] not in products
        }
        if errors:
            raise serializers.ValidationError(errors)
        return [
            OrderLine(
                product=products[item["product"]["sku"]],
                quantity=item["quantity"],
                unit_price=item.get("unit_price"),
            )
            for item in items
        ]


class OrderUpsertSerializer(OrderSerializer):
    class Meta(OrderSerializer.Meta):
        read_only_fields = ("external_id",)


class FeedbackSerializer(DescribedModelSerializer):
    # Blank until the record is analysed (and blank for feedback that is not a complaint):
    # declared here so the schema's enums include "".
    sentiment_label = serializers.ChoiceField(
        choices=SentimentLabel.choices, allow_blank=True, read_only=True,
        help_text=_("Positive, neutral or negative; blank until analysed."))
    complaint_reason = serializers.ChoiceField(
        choices=ComplaintReason.choices, allow_blank=True, read_only=True,
        help_text=_("What a complaint is about; blank when the feedback is not a complaint."))
    rating = serializers.IntegerField(
        min_value=1,
        max_value=5,
        required=False,
        allow_null=True,
        help_text=_("Rating from 1 (worst) to 5 (best)."),
    )

    class Meta:
        model = Feedback
        fields = (
            "id",
            "customer",
            "order",
            "product",
            "created_at",
            "channel",
            "rating",
            "text",
            "language",
            "sentiment_score",
            "sentiment_label",
            "complaint_reason",
        )
        read_only_fields = ("language", "sentiment_score", "sentiment_label", "complaint_reason")
        extra_kwargs = {
            "created_at": {"required": False, "help_text": _("When it was given; defaults to now.")},
            "channel": {"required": False},
            "customer": {"help_text": _("Id of the customer who gave the feedback.")},
            "order": {"help_text": _("Id of the order it is about, if any; it must be the customer's.")},
            "product": {"help_text": _("Id of the product it is about, if any.")},
            "text": {
                "help_text": _(
                    "The feedback in the customer's words; its sentiment is analysed after it is stored."
                )
            },
            "language": {"help_text": _("Language detected by the analysis (en, zh).")},
            "sentiment_score": {
                "help_text": _(
                    "Sentiment, -1 (negative) to 1 (positive), filled by "
                    "the analysis shortly after the record is stored."
                )
            },
            "complaint_reason": {"help_text": _("Complaint reason found in the text, if any.")},
        }

    def validate(self, attrs):
        order = attrs.get("order")
        # On a partial update the customer may be left out: the record keeps its own.
        customer = attrs.get("customer") or getattr(self.instance, "customer", None)
        if order is not None and customer is not None and order.customer_id != customer.pk:
            raise serializers.ValidationError({"order": [_("This order belongs to another customer.")]})
        return attrs


class InteractionSerializer(DescribedModelSerializer):
    class Meta:
        model = Interaction
        fields = ("id", "customer", "staff", "kind", "occurred_at", "outcome", "note")
        read_only_fields = ("staff",)
        extra_kwargs = {
            "occurred_at": {"required": False, "help_text": _("When it happened; defaults to now.")},
            "staff": {"help_text": _("Id of the staff user who logged it (the caller).")},
            "customer": {"help_text": _("Id of the customer.")},
        }
