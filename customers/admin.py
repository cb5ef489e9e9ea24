"""Django admin for the customer records.

Score fields are read-only (only the analytics pipeline writes them), contact details are hidden
from users without ``customers.view_pii``, and every list page selects its related rows up front
so that it runs a fixed number of queries however many rows it shows.
"""
from __future__ import annotations

from django.contrib import admin
from django.utils.translation import gettext_lazy as _
from simple_history.admin import SimpleHistoryAdmin

from customers.permissions import can_change_interaction, can_view_pii

from .models import (
    PII_FIELDS,
    SCORE_FIELDS,
    Customer,
    Feedback,
    Interaction,
    Order,
    OrderItem,
    Product,
)


class PiiHidingMixin:
    """Drops contact-detail fields from forms and lists for users who may not see them."""

    pii_list_fields: tuple[str, ...] = ()

    def get_fields(self, request, obj=None):
        fields = super().get_fields(request, obj)
        return fields if can_view_pii(request.user) else [f for f in fields if f not in PII_FIELDS]

    def get_fieldsets(self, request, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        if can_view_pii(request.user):
            return fieldsets
        return [(name, {**opts, "fields": [f for f in opts["fields"] if f not in PII_FIELDS]})
                for name, opts in fieldsets]

    def get_list_display(self, request):
        columns = super().get_list_display(request)
        return columns if can_view_pii(request.user) else [c for c in columns if c not in self.pii_list_fields]

    def get_search_fields(self, request):
        fields = super().get_search_fields(request)
        # Searching by a hidden field would reveal it one guess at a time.
        return fields if can_view_pii(request.user) else [f for f in fields if f not in PII_FIELDS]


class OrderInline(admin.TabularInline):
    model = Order
    fields = ("external_id", "ordered_at", "channel", "status", "total_amount")
    readonly_fields = fields
    extra = 0
    show_change_link = True
    can_delete = False
    ordering = ("-ordered_at",)

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Customer)
class CustomerAdmin(PiiHidingMixin, SimpleHistoryAdmin):
    list_display = (
        "name", "external_id", "email", "phone", "region", "status", "order_count", "total_spent",
        "rfm_segment", "value_segment", "churn_risk", "churn_probability", "clv_12m",
        "lifecycle_stage", "owner",
    )
    pii_list_fields = ("email", "phone")
    list_select_related = ("owner",)
    search_fields = ("name", "external_id", "email", "phone")
    list_filter = ("status", "rfm_segment", "value_segment", "value_tier", "churn_risk",
                   "lifecycle_stage", "channel", "marketing_consent", "region")
    readonly_fields = (*SCORE_FIELDS, "merged_into", "created_at", "updated_at")
    raw_id_fields = ("owner",)
    inlines = (OrderInline,)
    fieldsets = (
        (_("Profile"), {"fields": ["external_id", "name", "email", "phone", "gender", "birth_date",
                                   "city", "region", "country", "channel", "signup_date", "owner",
                                   "status", "attributes", "merged_into"]}),
        (_("Consent"), {"fields": ["marketing_consent", "marketing_consent_at"]}),
        (_("Scores"), {"fields": list(SCORE_FIELDS)}),
        (_("Record"), {"fields": ["created_at", "updated_at"]}),
    )
    show_full_result_count = False


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    list_display = ("sku", "name", "category", "price", "active")
    search_fields = ("sku", "name")
    list_filter = ("category", "active")


class OrderItemInline(admin.TabularInline):
    model = OrderItem
    extra = 0
    raw_id_fields = ("product",)


@admin.register(Order)
class OrderAdmin(SimpleHistoryAdmin):
    list_display = ("external_id", "customer", "ordered_at", "channel", "status", "total_amount")
    list_select_related = ("customer",)
    search_fields = ("external_id", "customer__name", "customer__external_id")
    list_filter = ("status", "channel")
    date_hierarchy = "ordered_at"
    raw_id_fields = ("customer",)
    inlines = (OrderItemInline,)
    show_full_result_count = False


@admin.register(Feedback)
class FeedbackAdmin(SimpleHistoryAdmin):
    list_display = ("customer", "created_at", "channel", "rating", "language", "sentiment_label",
                    "sentiment_score", "complaint_reason")
    list_select_related = ("customer",)
    search_fields = ("text", "customer__name", "customer__external_id")
    list_filter = ("sentiment_label", "complaint_reason", "language", "channel", "rating")
    readonly_fields = ("language", "sentiment_score", "sentiment_label", "complaint_reason")
    raw_id_fields = ("customer", "order", "product")
    show_full_result_count = False


@admin.register(Interaction)
class InteractionAdmin(SimpleHistoryAdmin):
    """The author (``staff``) is whoever logs the interaction, never a form value; someone else's
    interaction is read-only here except for managers (``can_change_interaction``)."""

    list_display = ("customer", "kind", "occurred_at", "staff", "outcome")
    list_select_related = ("customer", "staff")
    search_fields = ("note", "outcome", "customer__name", "customer__external_id")
    list_filter = ("kind",)
    raw_id_fields = ("customer",)
    readonly_fields = ("staff",)
    show_full_result_count = False

    def has_change_permission(self, request, obj=None):
        if obj is not None and not can_change_interaction(request.user, obj):
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        if obj is not None and not can_change_interaction(request.user, obj):
            return False
        return super().has_delete_permission(request, obj)

    def save_model(self, request, obj, form, change):
        if not change:
            obj.staff = request.user
        super().save_model(request, obj, form, change)
