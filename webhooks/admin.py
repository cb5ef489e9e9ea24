"""Admin of the webhooks (loaded by customers.admin): endpoints, and the read-only delivery log.

Creating and changing an endpoint goes through the same services as the API; the admin's
permissions are the model permissions, which only the Manager role holds.
"""
from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from . import services
from .models import SUBSCRIBABLE_EVENTS, WebhookAttempt, WebhookDelivery, WebhookEndpoint


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    list_display = ("url", "description", "events", "active", "created_by", "created_at")
    list_select_related = ("created_by",)
    list_filter = ("active",)
    search_fields = ("url", "description")
    readonly_fields = ("secret", "created_by", "created_at")
    fields = ("url", "description", "events", "active", "secret", "created_by", "created_at")
    actions = ("send_ping", "rotate_secret")
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}

    def get_form(self, request, obj=None, **kwargs):
        form = super().get_form(request, obj, **kwargs)
        choices = ", ".join(str(e) for e in SUBSCRIBABLE_EVENTS)
        form.base_fields["events"].help_text = _("A JSON list of event types, from: %(choices)s.") % {
            "choices": choices}
        return form

    def save_model(self, request, obj, form, change):
        data = {name: form.cleaned_data[name] for name in services.ENDPOINT_FIELDS
                if name in form.cleaned_data}
        if change:
            services.webhook_endpoint_update(endpoint=WebhookEndpoint.objects.get(pk=obj.pk), data=data)
        else:
            created = services.webhook_endpoint_create(data=data, created_by=request.user)
            obj.pk, obj.secret = created.pk, created.secret

    def delete_model(self, request, obj):
        services.webhook_endpoint_delete(endpoint=obj)

    @admin.action(description=_("Send a test event (ping)"))
    def send_ping(self, request, queryset):
        for endpoint in queryset:
            services.webhook_ping(endpoint=endpoint)
        self.message_user(request, ngettext("Test event queued for %(n)d endpoint.",
                                            "Test events queued for %(n)d endpoints.",
                                            queryset.count()) % {"n": queryset.count()})

    @admin.action(description=_("Replace the signing secret"))
    def rotate_secret(self, request, queryset):
        for endpoint in queryset:
            services.webhook_endpoint_rotate_secret(endpoint=endpoint)
        self.message_user(request, _("New secrets made; open an endpoint to read its secret."))


class WebhookAttemptInline(admin.TabularInline):
    model = WebhookAttempt
    fields = ("number", "started_at", "duration_ms", "status_code", "outcome", "response")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    list_display = ("id", "event_type", "endpoint", "status", "attempts", "last_status_code", "created_at",
                    "next_attempt_at", "finished_at")
    list_select_related = ("endpoint",)
    list_filter = ("status", "event_type")
    search_fields = ("=event_id", "endpoint__url")
    inlines = (WebhookAttemptInline,)
    actions = ("redeliver",)
    show_full_result_count = False

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False  # a log: read-only; viewing needs the view permission

    @admin.action(description=_("Send again (redeliver)"), permissions=["redeliver"])
    def redeliver(self, request, queryset):
        sent = 0
        for delivery in queryset:
            try:
                services.webhook_delivery_redeliver(delivery=delivery)
                sent += 1
            except ValidationError:
                self.message_user(request, _("Delivery %(id)s is still pending; not sent again.") % {
                    "id": delivery.pk}, messages.WARNING)
        if sent:
            self.message_user(request, ngettext("%(n)d delivery queued again.",
                                                "%(n)d deliveries queued again.", sent) % {"n": sent})

    def has_redeliver_permission(self, request):
        return request.user.has_perm("webhooks.add_webhookdelivery")
