"""Django admin for campaigns. Members and tasks come from launching or from the services the
customer 360 calls, never from the admin, so their admin pages are read-only; launching from the
admin goes through the same service."""
from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils.translation import gettext_lazy as _

from core.admin_display import record_names, stored_json

from . import services
from .models import Campaign, CampaignMember, ServiceTask


@admin.action(description=_("Launch the selected campaigns"), permissions=["change"])
def launch_campaigns(modeladmin, request, queryset):
    for campaign in queryset.only("pk"):
        try:
            services.campaign_launch(campaign_id=campaign.pk, launched_by=request.user)
        except (ValidationError, PermissionDenied) as exc:
            modeladmin.message_user(request, f"{campaign}: {' '.join(getattr(exc, 'messages', [str(exc)]))}",
                                    messages.ERROR)


@admin.register(Campaign)
class CampaignAdmin(admin.ModelAdmin):
    list_display = ("name", "objective", "kind", "channel", "status", "launched_at", "created_by")
    list_filter = ("status", "kind", "objective", "channel")
    search_fields = ("name",)
    list_select_related = ("created_by",)
    raw_id_fields = ("bundle",)
    # The results as stored (codes and numbers) are shown as code; the results page puts them in words.
    readonly_fields = ("status", "bundle_products", "created_by", "created_at", "launched_at",
                       "launched_by", "results_record", "results_updated_at", "playbook")
    results_record = stored_json(Campaign, "results")
    audience_record = stored_json(Campaign, "audience")
    exclude = ("results",)  # written by the results service only
    actions = [launch_campaigns]

    def get_fields(self, request, obj=None):
        fields = super().get_fields(request, obj)
        if obj is not None and not obj.is_editable:
            # A launched campaign's audience as it was stored, as code; its page says it in words.
            return record_names(fields, ("audience",))
        return fields

    def get_readonly_fields(self, request, obj=None):
        readonly = tuple(super().get_readonly_fields(request, obj))
        return (*readonly, "audience_record") if obj is not None and not obj.is_editable else readonly

    def save_model(self, request, obj, form, change):
        if not change:
            obj.created_by = request.user
        if obj.bundle_id and "bundle" in form.changed_data:
            obj.bundle_products = [int(p) for p in obj.bundle.consequents]
        super().save_model(request, obj, form, change)

    def has_change_permission(self, request, obj=None):
        # A launched campaign is a record of what was done: read-only.
        if obj is not None and not obj.is_editable:
            return False
        return super().has_change_permission(request, obj)


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(CampaignMember)
class CampaignMemberAdmin(ReadOnlyAdmin):
    list_display = ("campaign", "customer", "group", "stratum", "coupon_code", "added_by_hand")
    list_filter = ("group", "added_by_hand")
    list_select_related = ("campaign", "customer")
    search_fields = ("coupon_code", "customer__name", "customer__external_id")
    show_full_result_count = False


@admin.register(ServiceTask)
class ServiceTaskAdmin(ReadOnlyAdmin):
    list_display = ("campaign", "customer", "assignee", "status", "due_on", "closed_at")
    list_filter = ("status",)
    list_select_related = ("campaign", "customer", "assignee")
    search_fields = ("customer__name", "outcome")
    show_full_result_count = False
