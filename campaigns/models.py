"""Campaigns act on the scores: an audience frozen at launch, a holdout control group, offers or
service tasks for the treated members, and the measured uplift afterwards.

A launched campaign never changes its membership: each :class:`CampaignMember` keeps a snapshot
of the scores that put the customer in the audience, so results stay explainable after the
analytics pipeline rescores everyone.
"""
from __future__ import annotations

import secrets
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


def random_seed() -> int:
    """A fresh seed per campaign: with one shared seed, overlapping audiences would put the same
    customers in every control group. Stored, so the draw can be reproduced."""
    return secrets.randbelow(2**31)


# Permissions this app adds to Django's model permissions (Meta.permissions below); the policy
# that reads them is campaigns/permissions.py.
MANAGE_SERVICE_CAMPAIGN = "campaigns.manage_service_campaign"
VIEW_ALL_SERVICE_TASKS = "campaigns.view_all_servicetask"
ACTIONS = ("view", "add", "change", "delete")


def _model_permission(model, action: str) -> str:
    if action not in ACTIONS:
        raise ValueError(f"unknown action {action!r}; one of {', '.join(ACTIONS)}")
    return f"{model._meta.app_label}.{action}_{model._meta.model_name}"


# Longest frequency cap a campaign or an audience preview takes (page, API and model alike).
MAX_FREQUENCY_CAP_DAYS = 365

class CampaignQuerySet(models.QuerySet):
    def restrict(self, user, action: str = "view") -> CampaignQuerySet:
        """Campaigns ``user`` may ``action`` ("view", "change"...): all of them with the model
        permission, nothing without it; service campaigns only with ``manage_service_campaign``
        for any action but "view" (the queryset form of ``permissions.can_manage_campaign``)."""
        if not user.has_perm(_model_permission(self.model, action)):
            return self.none()
        if action == "view" or user.has_perm(MANAGE_SERVICE_CAMPAIGN):
            return self
        return self.exclude(kind=Campaign.Kind.SERVICE)


class Campaign(models.Model):
    class Objective(models.TextChoices):
        RETENTION = "retention", _("Retention")
        WIN_BACK = "win_back", _("Win-back")
        UPSELL = "upsell", _("Upsell / cross-sell")
        VIP_CARE = "vip_care", _("VIP care")
        SERVICE_RECOVERY = "service_recovery", _("Service recovery")

    class Kind(models.TextChoices):
        MARKETING = "marketing", _("Marketing")
        SERVICE = "service", _("Service")

    class Channel(models.TextChoices):
        EMAIL = "email", _("Email")
        SMS = "sms", _("SMS")
        PHONE = "phone", _("Phone call")
        APP = "app", _("App push")
        MAIL = "mail", _("Direct mail")
        IN_STORE = "in_store", _("In store")

    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        SCHEDULED = "scheduled", _("Scheduled")
        RUNNING = "running", _("Running")
        FINISHED = "finished", _("Finished")

    EDITABLE = (Status.DRAFT, Status.SCHEDULED)

    name = models.CharField(_("name"), max_length=200)
    objective = models.CharField(_("objective"), max_length=20, choices=Objective.choices)
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices, default=Kind.MARKETING)
    channel = models.CharField(_("channel"), max_length=10, choices=Channel.choices,
                               default=Channel.EMAIL)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices,
                              default=Status.DRAFT)
    # Offer (marketing campaigns).
    discount_percent = models.DecimalField(
        _("discount (%)"), max_digits=5, decimal_places=2, default=Decimal("0"),
        validators=[MinValueValidator(0), MaxValueValidator(100)])
    coupon_pattern = models.CharField(
        _("coupon code pattern"), max_length=40, blank=True,
        help_text=_("For example SPRING-{code}; {code} becomes eight random characters. "
                    "Blank: no coupons."))
    recommend_products = models.PositiveSmallIntegerField(
        _("recommended products per member"), default=0,
        validators=[MaxValueValidator(10)],
        help_text=_("Offer each member their top recommendations; 0 for none."))
    bundle = models.ForeignKey("analytics.AssociationRule", verbose_name=_("bundle"), null=True,
                               blank=True, on_delete=models.SET_NULL, related_name="+")
    # Bundles are replaced by each score run; the products are copied here when the bundle is
    # chosen so the offer survives the rule.
    bundle_products = models.JSONField(_("bundle products"), default=list, blank=True)
    cost_per_contact = models.DecimalField(
        _("cost per contact"), max_digits=10, decimal_places=2, default=Decimal("0"),
        validators=[MinValueValidator(0)],
        help_text=_("What reaching one treated member costs (message, call time)."))
    # Timing and measurement.
    starts_on = models.DateField(_("start"), null=True, blank=True)
    ends_on = models.DateField(_("end"), null=True, blank=True)
    attribution_days = models.PositiveSmallIntegerField(
        _("attribution window (days)"), default=30,
        validators=[MinValueValidator(1), MaxValueValidator(365)])
    task_due_days = models.PositiveSmallIntegerField(
        _("service task due after (days)"), default=7,
        validators=[MinValueValidator(1), MaxValueValidator(90)])
    # Audience.
    audience = models.JSONField(_("audience filters"), default=dict, blank=True)
    frequency_cap_days = models.PositiveSmallIntegerField(
        _("frequency cap (days)"), default=14, validators=[MaxValueValidator(MAX_FREQUENCY_CAP_DAYS)],
        help_text=_("Skip customers contacted by another campaign in this many days; 0 to allow."))
    control_share = models.DecimalField(
        _("control share"), max_digits=3, decimal_places=2, default=Decimal("0.10"),
        validators=[MinValueValidator(0), MaxValueValidator(Decimal("0.9"))],
        help_text=_("Share of the audience held out, receiving nothing, to measure uplift."))
    seed = models.PositiveIntegerField(_("random seed"), default=random_seed)
    playbook = models.CharField(_("playbook"), max_length=40, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("created by"),
                                   null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    launched_at = models.DateTimeField(_("launched at"), null=True, blank=True)
    launched_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("launched by"),
                                    null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="+")
    # Customers the filters matched but launch left out, by rule in the order they apply
    # (campaigns.selectors.REMOVAL_RULES: no_consent, frequency_cap, no_email, email_invalid,
    # no_phone, uplift_profit, uplift_top_n): written once by campaign_launch.
    exclusions = models.JSONField(_("left out at launch"), default=dict, blank=True)
    # Precomputed by campaign_results_refresh; pages read this, not the orders.
    results = models.JSONField(_("results"), default=dict, blank=True)
    results_updated_at = models.DateTimeField(_("results updated at"), null=True, blank=True)

    objects = CampaignQuerySet.as_manager()

    class Meta:
        verbose_name = _("campaign")
        verbose_name_plural = _("campaigns")
        ordering = ["-created_at", "-id"]
        permissions = [
            ("manage_service_campaign", "Can create and launch service campaigns"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(control_share__gte=0, control_share__lte=Decimal("0.9")),
                                   name="campaign_control_share_range"),
            models.CheckConstraint(condition=Q(discount_percent__gte=0, discount_percent__lte=100),
                                   name="campaign_discount_range"),
            models.CheckConstraint(
                condition=Q(starts_on__isnull=True) | Q(ends_on__isnull=True)
                | Q(ends_on__gte=models.F("starts_on")),
                name="campaign_ends_after_start"),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        errors = {}
        if self.starts_on and self.ends_on and self.ends_on < self.starts_on:
            errors["ends_on"] = _("The end date must not be before the start date.")
        if self.coupon_pattern and "{code}" not in self.coupon_pattern:
            errors["coupon_pattern"] = _("The pattern must contain {code}.")
        if errors:
            raise ValidationError(errors)

    @property
    def is_editable(self) -> bool:
        return self.status in self.EDITABLE


class CampaignMember(models.Model):
    class Group(models.TextChoices):
        TREATMENT = "treatment", _("Treatment")
        CONTROL = "control", _("Control")

    campaign = models.ForeignKey(Campaign, verbose_name=_("campaign"), on_delete=models.CASCADE,
                                 related_name="members")
    customer = models.ForeignKey("customers.Customer", verbose_name=_("customer"),
                                 on_delete=models.PROTECT, related_name="campaign_members")
    group = models.CharField(_("group"), max_length=10, choices=Group.choices)
    stratum = models.CharField(_("stratum"), max_length=20, blank=True)
    scores = models.JSONField(_("scores at launch"), default=dict)
    coupon_code = models.CharField(_("coupon code"), max_length=60, null=True, blank=True,
                                   unique=True)
    offered_products = models.JSONField(_("offered products"), default=list, blank=True)
    # A member added by a person to a running campaign (from the customer 360) was not drawn at
    # random into treatment or control, so counting them would bias the uplift: they receive the
    # offer but campaign_results_refresh leaves them out of the measurement.
    added_by_hand = models.BooleanField(_("added by hand"), default=False)
    added_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("added by"), null=True,
                                 blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(_("added at"), auto_now_add=True)

    class Meta:
        verbose_name = _("campaign member")
        verbose_name_plural = _("campaign members")
        ordering = ["campaign", "id"]
        constraints = [
            models.UniqueConstraint(fields=["campaign", "customer"], name="member_once_per_campaign"),
            # The control group receives nothing: no coupon, no offer.
            models.CheckConstraint(condition=Q(group="treatment") | Q(coupon_code__isnull=True),
                                   name="member_control_has_no_coupon"),
            # Nobody is put in a control group by hand: that is only ever the random draw.
            models.CheckConstraint(condition=Q(group="treatment") | Q(added_by_hand=False),
                                   name="member_by_hand_is_treated"),
        ]
        indexes = [models.Index(fields=["customer", "group"], name="member_customer_group_idx")]

    def __str__(self) -> str:
        return _("Customer %(customer)s in campaign %(campaign)s (%(group)s)") % {
            "customer": self.customer_id, "campaign": self.campaign_id, "group": self.get_group_display()}


class ServiceTaskQuerySet(models.QuerySet):
    def restrict(self, user, action: str = "view") -> ServiceTaskQuerySet:
        """Tasks ``user`` may ``action``: with the model permission, their own tasks, or every
        task for someone allowed to see them all (the queryset form of
        ``permissions.can_change_task``)."""
        if not user.has_perm(_model_permission(self.model, action)):
            return self.none()
        if user.has_perm(VIEW_ALL_SERVICE_TASKS):
            return self
        return self.filter(assignee=user)

    def with_related(self) -> ServiceTaskQuerySet:
        """What a task's row shows: its campaign, customer and people, in the same query."""
        return self.select_related("campaign", "customer", "assignee", "created_by")

    def open(self) -> ServiceTaskQuerySet:
        return self.filter(status__in=ServiceTask.OPEN_STATUSES)


class ServiceTask(models.Model):
    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        IN_PROGRESS = "in_progress", _("In progress")
        DONE = "done", _("Done")
        UNREACHABLE = "unreachable", _("Unreachable")

    OPEN_STATUSES = (Status.OPEN, Status.IN_PROGRESS)
    # The workflow: which status may follow which. A closed task can be reopened.
    TRANSITIONS = {
        Status.OPEN: {Status.IN_PROGRESS, Status.DONE, Status.UNREACHABLE},
        Status.IN_PROGRESS: {Status.OPEN, Status.DONE, Status.UNREACHABLE},
        Status.DONE: {Status.IN_PROGRESS},
        Status.UNREACHABLE: {Status.IN_PROGRESS, Status.OPEN},
    }

    # A task comes either from a launched service campaign (campaign and member set) or from a
    # person on the customer 360 (both empty, created_by set). Hand-made tasks have no member, so
    # they never enter a campaign's treatment or control counts.
    campaign = models.ForeignKey(Campaign, verbose_name=_("campaign"), null=True, blank=True,
                                 on_delete=models.CASCADE, related_name="tasks")
    member = models.OneToOneField(CampaignMember, verbose_name=_("member"), null=True, blank=True,
                                  on_delete=models.CASCADE, related_name="task")
    customer = models.ForeignKey("customers.Customer", verbose_name=_("customer"),
                                 on_delete=models.PROTECT, related_name="service_tasks")
    assignee = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("assigned to"),
                                 null=True, blank=True, on_delete=models.SET_NULL,
                                 related_name="service_tasks")
    status = models.CharField(_("status"), max_length=12, choices=Status.choices,
                              default=Status.OPEN)
    due_on = models.DateField(_("due"))
    note = models.TextField(_("what to do"), blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("created by"),
                                   null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    outcome = models.TextField(_("outcome notes"), blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)

    objects = ServiceTaskQuerySet.as_manager()

    class Meta:
        verbose_name = _("service task")
        verbose_name_plural = _("service tasks")
        ordering = ["due_on", "id"]
        permissions = [("view_all_servicetask", "Can see every user's service tasks")]
        indexes = [
            models.Index(fields=["assignee", "status", "due_on"], name="task_queue_idx"),
            models.Index(fields=["customer", "due_on"], name="task_customer_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(campaign__isnull=True, member__isnull=True)
                | Q(campaign__isnull=False, member__isnull=False),
                name="task_campaign_and_member_together"),
        ]

    def __str__(self) -> str:
        source = self.campaign_id or _("by hand")
        return f"{source}: {self.customer_id} ({self.get_status_display()})"


MESSAGE_LANGUAGES = (("en", _("English")), ("zh-hans", _("Simplified Chinese")))


class MessageTemplate(models.Model):
    """A campaign's message in one language: Django template syntax, rendered in a sandbox
    (:mod:`campaigns.messaging`) with only the member's own context."""

    campaign = models.ForeignKey(Campaign, verbose_name=_("campaign"), on_delete=models.CASCADE,
                                 related_name="message_templates")
    language = models.CharField(_("language"), max_length=8, choices=MESSAGE_LANGUAGES)
    subject = models.CharField(_("subject"), max_length=200)
    body_text = models.TextField(_("plain-text body"), max_length=20_000)
    body_html = models.TextField(_("HTML body"), max_length=50_000, blank=True,
                                 help_text=_("Blank: the plain text, as HTML."))

    class Meta:
        verbose_name = _("message template")
        verbose_name_plural = _("message templates")
        ordering = ["campaign", "language"]
        constraints = [
            models.UniqueConstraint(fields=["campaign", "language"], name="message_template_once_per_language"),
            models.CheckConstraint(condition=~Q(subject=""), name="message_template_subject_not_blank"),
        ]

    def __str__(self) -> str:
        return f"{self.campaign_id} {self.language}"

    def clean(self) -> None:
        from .messaging import template_errors

        errors = template_errors(subject=self.subject, body_text=self.body_text, body_html=self.body_html)
        if errors:
            raise ValidationError(errors)


class CampaignMessage(models.Model):
    """The one message a treated member receives on the campaign's channel, and what became of it.

    One row per member (the one-to-one is the unique constraint): a repeated send task finds the
    row already past ``queued`` and sends nothing. ``sending`` is taken by an atomic
    ``UPDATE ... WHERE status='queued'`` before the message leaves, so two workers never both send it.
    """

    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        SENDING = "sending", _("Sending")
        SENT = "sent", _("Sent")
        DELIVERED = "delivered", _("Delivered")
        OPENED = "opened", _("Opened")
        CLICKED = "clicked", _("Clicked")
        BOUNCED = "bounced", _("Bounced")
        COMPLAINED = "complained", _("Complained")
        FAILED = "failed", _("Failed")

    # How far along the funnel each status is: tracking events arrive out of order (an open
    # after a click), and a later event never moves a message back.
    RANK = {Status.QUEUED: 0, Status.SENDING: 1, Status.SENT: 2, Status.DELIVERED: 3,
            Status.OPENED: 4, Status.CLICKED: 5, Status.FAILED: 6, Status.BOUNCED: 7,
            Status.COMPLAINED: 8}
    REACHED = (Status.SENT, Status.DELIVERED, Status.OPENED, Status.CLICKED, Status.COMPLAINED)

    campaign = models.ForeignKey(Campaign, verbose_name=_("campaign"), on_delete=models.CASCADE,
                                 related_name="messages")
    member = models.OneToOneField(CampaignMember, verbose_name=_("member"), on_delete=models.CASCADE,
                                  related_name="message")
    channel = models.CharField(_("channel"), max_length=10, choices=Campaign.Channel.choices)
    status = models.CharField(_("status"), max_length=12, choices=Status.choices, default=Status.QUEUED)
    recipient = models.CharField(_("recipient"), max_length=254, blank=True)
    # Message-ID header (SMTP) or the provider's id (anymail, Twilio): tracking events find the
    # row by it.
    provider_id = models.CharField(_("provider message id"), max_length=255, blank=True, db_index=True)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    error = models.TextField(_("last error"), blank=True)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("campaign message")
        verbose_name_plural = _("campaign messages")
        ordering = ["campaign", "id"]
        indexes = [models.Index(fields=["campaign", "status"], name="message_campaign_status_idx")]

    def __str__(self) -> str:
        return f"{self.member_id} {self.get_status_display()}"


class OutboxMessage(models.Model):
    """An e-mail kept by the embedded default backend (:class:`campaigns.mail.OutboxBackend`)
    instead of being sent, for staff to read in the UI."""

    from_email = models.CharField(_("from"), max_length=254)
    to = models.TextField(_("to"))
    subject = models.CharField(_("subject"), max_length=998)
    body_text = models.TextField(_("plain text"), blank=True)
    body_html = models.TextField(_("HTML"), blank=True)
    headers = models.JSONField(_("headers"), default=dict, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = _("outbox message")
        verbose_name_plural = _("outbox messages")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.subject
class UpliftModel(models.Model):
    """Whom campaigns of one objective change: a model fitted on the randomised members of the
    finished campaigns with that objective (their scores at launch, treated or not, converted or
    not), with its held-out Qini coefficient and interval. ``credible`` is False when the interval
    includes 0: then it is no better than random targeting and the form will not offer it."""

    objective = models.CharField(_("objective"), max_length=20, choices=Campaign.Objective.choices, unique=True)
    fitted_at = models.DateTimeField(_("fitted at"))
    campaigns = models.PositiveIntegerField(_("campaigns"))
    members = models.PositiveIntegerField(_("members"))
    credible = models.BooleanField(_("better than random"))
    card = models.JSONField(_("model card"), default=dict)
    payload = models.BinaryField()

    class Meta:
        verbose_name = _("uplift model")
        verbose_name_plural = _("uplift models")
        ordering = ["objective"]

    def __str__(self) -> str:
        return f"{self.get_objective_display()} ({self.card.get('name', '')})"
