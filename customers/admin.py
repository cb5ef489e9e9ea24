"""Django admin for the customer records.

Score fields are read-only (only the analytics pipeline writes them), contact details are hidden
from users without ``customers.view_pii`` (by the site, ``customers.admin_site``, on every
admin), and every list page selects its related rows up front so that it runs a fixed number of
queries however many rows it shows. The user and token admins are the ones a Manager works in.
"""
from __future__ import annotations

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.models import Group, Permission
from django.core.exceptions import PermissionDenied
from django.utils.translation import gettext_lazy as _
from rest_framework.authtoken.admin import TokenAdmin
from rest_framework.authtoken.models import TokenProxy
from simple_history.admin import SimpleHistoryAdmin

from core.admin_display import field_display, record_names, stored_json
from customers.permissions import can_change_interaction

from .admin_site import PiiAdminMixin
from .models import (
    SCORE_FIELDS,
    Customer,
    CustomerScore,
    Feedback,
    Interaction,
    Order,
    OrderItem,
    Product,
)


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
class CustomerAdmin(PiiAdminMixin, SimpleHistoryAdmin):
    list_display = (
        "name", "external_id", "email", "phone", "region", "status", "order_count", "total_spent",
        "rfm_segment", "value_segment", "churn_risk", "churn_probability", "clv_12m",
        "lifecycle_stage", "owner",
    )
    list_select_related = ("owner",)
    search_fields = ("name", "external_id", "email", "phone")
    list_filter = ("status", "score__rfm_segment", "score__value_segment", "score__value_tier",
                   "score__churn_risk", "score__lifecycle_stage", "channel", "marketing_consent", "region")
    # The churn reasons as the engine stored them (feature codes and numbers), shown as code; the
    # customer page puts them into words.
    score_fields = record_names(SCORE_FIELDS, ("churn_reasons",))
    churn_reasons_record = stored_json(CustomerScore, "churn_reasons")
    readonly_fields = (*score_fields, "merged_into", "created_at", "updated_at")
    raw_id_fields = ("owner",)
    inlines = (OrderInline,)
    fieldsets = (
        (_("Profile"), {"fields": ["external_id", "name", "email", "phone", "gender", "birth_date",
                                   "city", "region", "country", "channel", "signup_date", "owner",
                                   "status", "attributes", "merged_into"]}),
        (_("Consent"), {"fields": ["marketing_consent", "marketing_consent_at"]}),
        (_("Scores"), {"fields": score_fields}),
        (_("Record"), {"fields": ["created_at", "updated_at"]}),
    )
    show_full_result_count = False


# The scores live in their own table: each shows as its field there, its column sorted through it.
for _name in SCORE_FIELDS:
    setattr(CustomerAdmin, _name, field_display(CustomerScore, _name, ordering=f"score__{_name}"))


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



class _StaffUserAdmin(UserAdmin):
    """The user admin a Manager works in: grant roles and permissions (``customers.view_pii``)
    to staff, never more than the Manager holds, and never superuser status.

    A user who is not a superuser cannot change a superuser's account (nor its password), sees
    ``is_superuser`` read-only, and may grant only groups and permissions they hold themselves,
    so no one can raise their own or anyone else's rights above their own.
    """

    def get_readonly_fields(self, request, obj=None):
        readonly = list(super().get_readonly_fields(request, obj))
        if not request.user.is_superuser:
            readonly += ["is_superuser", "last_login", "date_joined"]
        return readonly

    def has_change_permission(self, request, obj=None):
        if obj is not None and obj.is_superuser and not request.user.is_superuser:
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        if obj is not None and obj.is_superuser and not request.user.is_superuser:
            return False
        return super().has_delete_permission(request, obj)

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        if not request.user.is_superuser and db_field.name in ("user_permissions", "groups"):
            held = request.user.get_all_permissions()
            permissions = Permission.objects.select_related("content_type")
            allowed = [p.pk for p in permissions
                       if f"{p.content_type.app_label}.{p.codename}" in held]
            if db_field.name == "user_permissions":
                kwargs["queryset"] = Permission.objects.filter(pk__in=allowed)
            else:
                # A group whose every permission the editor holds.
                kwargs["queryset"] = Group.objects.exclude(
                    pk__in=Permission.objects.exclude(pk__in=allowed)
                    .filter(group__isnull=False).values("group"))
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    def save_model(self, request, obj, form, change):
        if not request.user.is_superuser and obj.is_superuser:
            raise PermissionDenied
        super().save_model(request, obj, form, change)


class _StaffTokenAdmin(TokenAdmin):
    """API tokens as a Manager sees them: who has one and since when, and revoking it (delete).
    The key itself is shown only to superusers: a Manager who could read another user's key
    could act as that user. Superusers' tokens are listed to superusers only."""

    def get_list_display(self, request):
        if request.user.is_superuser:
            return super().get_list_display(request)
        return ("key_shown", "user", "created")

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        return queryset if request.user.is_superuser else queryset.filter(user__is_superuser=False)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "user" and not request.user.is_superuser:
            kwargs["queryset"] = get_user_model().objects.filter(is_superuser=False)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    @admin.display(description=_("key"))
    def key_shown(self, token) -> str:
        # Only the start: enough to tell two tokens apart, not to use one.
        return f"{token.key[:4]}…"


admin.site.unregister(get_user_model())
admin.site.register(get_user_model(), _StaffUserAdmin)
admin.site.unregister(TokenProxy)
admin.site.register(TokenProxy, _StaffTokenAdmin)
