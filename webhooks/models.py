"""Models of the webhooks: endpoints, deliveries and their attempts.

A delivery is a run-state row in the sense of the house style: it records its status, how many
attempts were made, the last answer and when the next attempt is due, so a receiver that is down
is visible in the admin and a failed delivery can be sent again.
"""
from __future__ import annotations

import secrets
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from core.leases import Leased

from .addresses import HostRefused, check_host_for_registration

__all__ = ["SUBSCRIBABLE_EVENTS", "WebhookAttempt", "WebhookDelivery", "WebhookEndpoint", "WebhookEvent"]


class WebhookEvent(models.TextChoices):
    CHURN_RISK_HIGH = "customer.churn_risk_high", _("Customers' churn risk turned high")
    CAMPAIGN_FINISHED = "campaign.finished", _("A campaign finished")
    MODEL_DRIFT = "model.drift", _("A model's realised accuracy fell below its baseline or drifted")
    PING = "webhook.ping", _("Test event (ping)")


# Ping is sent on request to one endpoint; nobody subscribes to it.
SUBSCRIBABLE_EVENTS = (WebhookEvent.CHURN_RISK_HIGH, WebhookEvent.CAMPAIGN_FINISHED, WebhookEvent.MODEL_DRIFT)
SECRET_PREFIX = "whsec_"


def new_secret() -> str:
    """32 random bytes, URL-safe: the HMAC key shared with the receiver."""
    return SECRET_PREFIX + secrets.token_urlsafe(32)


# Room for the short outcome classes of webhooks/transport.py and the "not sent" notes; never a
# receiver's answer.
OUTCOME_MAX_LENGTH = 120


def validate_public_host(url: str) -> None:
    """Refuse a URL whose host is, or resolves to, a non-public address (addresses.py), unless
    WEBHOOK_ALLOW_PRIVATE_HOSTS. Runs on every door: the API's serializer, the admin's form and
    the services' full_clean all use the field's validators."""
    if settings.WEBHOOK_ALLOW_PRIVATE_HOSTS:
        return
    try:
        host = urlsplit(url).hostname
    except ValueError:
        return  # not a URL: URLValidator says so
    if not host:
        return
    try:
        check_host_for_registration(host)
    except HostRefused:
        raise ValidationError(
            _("Webhooks are sent only to public internet addresses; %(host)s is a local, private, "
              "link-local or reserved address, or resolves to one."),
            code="private_host", params={"host": host}) from None


class WebhookEndpoint(models.Model):
    url = models.URLField(
        _("target URL"), max_length=500,
        # Its own code: a form would replace the message of the generic "invalid" code with its own.
        validators=[URLValidator(schemes=["http", "https"], message=_("Enter an http or https URL."),
                                 code="scheme"), validate_public_host],
        help_text=_("Where events are POSTed; http or https."))
    description = models.CharField(_("description"), max_length=200, blank=True)
    # Stored as is: signing needs the key itself, so it cannot be hashed like a password.
    secret = models.CharField(_("signing secret"), max_length=100, default=new_secret, editable=False)
    events = models.JSONField(_("events"), default=list,
                              help_text=_("The event types sent to this endpoint."))
    active = models.BooleanField(_("active"), default=True,
                                 help_text=_("Inactive endpoints receive no new events."))
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("created by"), null=True,
                                   blank=True, on_delete=models.SET_NULL, related_name="webhook_endpoints")
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        # The table kept its name when the model left the customers app: no data moved.
        db_table = "customers_webhookendpoint"
        verbose_name = _("webhook endpoint")
        verbose_name_plural = _("webhook endpoints")
        ordering = ["id"]

    def __str__(self) -> str:
        return self.url

    def clean(self) -> None:
        events = self.events
        if not isinstance(events, list) or not events:
            raise ValidationError({"events": _("Choose at least one event.")})
        unknown = [e for e in events if e not in SUBSCRIBABLE_EVENTS]
        if unknown:
            raise ValidationError({"events": _("Unknown event type: %(types)s.") % {
                "types": ", ".join(map(str, unknown))}})
        self.events = sorted(set(events))

    def subscribes_to(self, event_type: str) -> bool:
        return event_type in self.events


class WebhookDelivery(Leased):
    """One event sent to one endpoint, with up to ``MAX_ATTEMPTS`` attempts (services.py)."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        SUCCEEDED = "succeeded", _("Succeeded")
        FAILED = "failed", _("Failed")

    endpoint = models.ForeignKey(WebhookEndpoint, verbose_name=_("endpoint"), on_delete=models.CASCADE,
                                 related_name="deliveries")
    event_type = models.CharField(_("event type"), max_length=40, choices=WebhookEvent.choices)
    event_id = models.UUIDField(_("event id"), db_index=True,
                                help_text=_("Same on every attempt and redelivery of the event."))
    payload = models.JSONField(_("payload"))
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    last_status_code = models.PositiveSmallIntegerField(_("last HTTP status"), null=True, blank=True)
    last_response = models.CharField(
        _("last status detail"), max_length=OUTCOME_MAX_LENGTH, blank=True,
        help_text=_("The last attempt's status, such as HTTP 503 (server error) or timed out; the "
                    "receiver's answer itself is never kept."))
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    last_attempt_at = models.DateTimeField(_("last attempt at"), null=True, blank=True)
    next_attempt_at = models.DateTimeField(_("next attempt at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    # While an attempt is in flight: when its worker is presumed dead (see services.py).
    locked_until = models.DateTimeField(_("attempt in flight until"), null=True, blank=True,
                                        editable=False)
    redelivery_of = models.ForeignKey("self", verbose_name=_("redelivery of"), null=True, blank=True,
                                      on_delete=models.SET_NULL, related_name="redeliveries")

    # An attempt's lease (core.leases): a worker that died mid-attempt leaves it to run out, and
    # the attempt is then made again (not failed: the request may never have reached the receiver).
    lease_field = "locked_until"

    class Meta:
        # The table kept its name when the model left the customers app: no data moved.
        db_table = "customers_webhookdelivery"
        verbose_name = _("webhook delivery")
        verbose_name_plural = _("webhook deliveries")
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["endpoint", "-id"], name="webhookdelivery_endpoint_idx"),
            models.Index(fields=["status", "next_attempt_at"], name="webhookdelivery_due_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} -> {self.endpoint_id} ({self.get_status_display()})"


class WebhookAttempt(models.Model):
    """One HTTP request of a delivery and what came of it."""

    class Outcome(models.TextChoices):
        SUCCEEDED = "succeeded", _("Succeeded")
        RETRY = "retry", _("Failed, will retry")
        FAILED = "failed", _("Failed, not retried")

    delivery = models.ForeignKey(WebhookDelivery, verbose_name=_("delivery"), on_delete=models.CASCADE,
                                 related_name="attempt_log")
    number = models.PositiveSmallIntegerField(_("attempt"))
    started_at = models.DateTimeField(_("started at"))
    duration_ms = models.PositiveIntegerField(_("duration (ms)"))
    status_code = models.PositiveSmallIntegerField(_("HTTP status"), null=True, blank=True)
    response = models.CharField(
        _("status detail"), max_length=OUTCOME_MAX_LENGTH, blank=True,
        help_text=_("The attempt's status, such as HTTP 503 (server error) or timed out; the "
                    "receiver's answer itself is never kept."))
    outcome = models.CharField(_("outcome"), max_length=10, choices=Outcome.choices)

    class Meta:
        # The table kept its name when the model left the customers app: no data moved.
        db_table = "customers_webhookattempt"
        verbose_name = _("webhook attempt")
        verbose_name_plural = _("webhook attempts")
        ordering = ["delivery", "number"]
        constraints = [
            models.UniqueConstraint(fields=["delivery", "number"], name="webhookattempt_unique_number"),
        ]

    def __str__(self) -> str:
        return f"{self.delivery_id} #{self.number} {self.get_outcome_display()}"
