"""Customers and their history: products, orders, feedback and service interactions.

A customer's scores belong to the analytics pipeline: it alone writes them (in bulk), they are
read-only everywhere else, and they stay null until the first run. They live in their own table
(:mod:`customers.scores`) and are read on the customer under the same names.
"""
from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Lower
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from . import bounds
from .normalise import normalise_email, normalise_phone

# E.164: a plus, a non-zero country digit, at most 15 digits in all.
E164_REGEX = r"^\+[1-9][0-9]{6,14}$"


class Channel(models.TextChoices):
    ERP = "erp", _("ERP")
    ECOMMERCE = "ecommerce", _("E-commerce")
    STORE = "store", _("Store")
    SOCIAL = "social", _("Social")
    PHONE = "phone", _("Phone")
    EMAIL = "email", _("Email")
    API = "api", _("API")
    MANUAL = "manual", _("Manual")
    OTHER = "other", _("Other")


class Gender(models.TextChoices):
    FEMALE = "female", _("Female")
    MALE = "male", _("Male")
    OTHER = "other", _("Other")


class Language(models.TextChoices):
    """Languages customers are written to in (campaign messages); blank means the default."""

    ENGLISH = "en", _("English")
    CHINESE = "zh-hans", _("Simplified Chinese")


class CustomerStatus(models.TextChoices):
    ACTIVE = "active", _("Active")
    CHURNED = "churned", _("Churned")


class Level(models.TextChoices):
    """High/medium/low, used by value segments, value tiers and churn risk."""

    HIGH = "high", _("High")
    MEDIUM = "medium", _("Medium")
    LOW = "low", _("Low")


class SatisfactionGroup(models.TextChoices):
    """The groups ``Customer.satisfaction_group`` holds: the analytics engine's codes
    (analytics/engine/feedback.py SATISFACTION_LABELS, from the least satisfied up)."""

    DISSATISFIED = "dissatisfied", _("Dissatisfied")
    NEUTRAL = "neutral", _("Neutral")
    SATISFIED = "satisfied", _("Satisfied")


class RfmSegment(models.TextChoices):
    CHAMPIONS = "Champions", _("Champions")
    LOYAL = "Loyal Customers", _("Loyal Customers")
    POTENTIAL_LOYALISTS = "Potential Loyalists", _("Potential Loyalists")
    NEW = "New Customers", _("New Customers")
    PROMISING = "Promising", _("Promising")
    NEED_ATTENTION = "Need Attention", _("Need Attention")
    ABOUT_TO_SLEEP = "About to Sleep", _("About to Sleep")
    AT_RISK = "At Risk", _("At Risk")
    CANT_LOSE = "Can't Lose Them", _("Can't Lose Them")
    HIBERNATING = "Hibernating", _("Hibernating")


class LifecycleStage(models.TextChoices):
    PROSPECT = "prospect", _("Prospect")
    NEW = "new", _("New")
    ACTIVE = "active", _("Active")
    AT_RISK = "at_risk", _("At risk")
    CHURNED = "churned", _("Churned")
    REACTIVATED = "reactivated", _("Reactivated")


# The fields of CustomerScore, read on Customer under the same names. Written only by the
# analytics pipeline; read-only in the admin, the UI and the API.
SCORE_FIELDS = (
    "order_count", "total_spent", "first_order_at", "last_order_at", "recency_days",
    "rfm_r", "rfm_f", "rfm_m", "rfm_segment", "value_segment", "value_tier",
    "churn_probability", "churn_risk", "churn_reasons", "p_alive", "expected_orders_90d",
    "clv_12m", "lifecycle_stage", "loyalty_score", "sentiment_score", "satisfaction_group",
    "scores_updated_at",
)
# Contact details shown only to users with the ``customers.view_pii`` permission.
PII_FIELDS = ("email", "phone", "birth_date")


class CustomerQuerySet(models.QuerySet):
    def live(self) -> CustomerQuerySet:
        """Customers that have not been merged into another record."""
        return self.filter(merged_into__isnull=True)

    def update(self, **kwargs) -> int:
        """Update the matching customers; score names write their score rows."""
        given = {name: kwargs.pop(name) for name in list(kwargs) if name in SCORE_FIELDS}
        updated = 0
        if given:
            updated = scores.CustomerScore.objects.filter(customer__in=self.values("pk")).update(**given)
        if kwargs or not given:
            updated = super().update(**kwargs)
        return updated

    update.alters_data = True

    def only(self, *fields) -> CustomerQuerySet:
        # The scores are always read with the customer (they are the manager's annotations).
        return super().only(*([name for name in fields if name not in SCORE_FIELDS] or ["id"]))

    def defer(self, *fields) -> CustomerQuerySet:
        return super().defer(*[name for name in fields if name not in SCORE_FIELDS])

    def bulk_create(self, objs, *args, **kwargs):
        objs = super().bulk_create(objs, *args, **kwargs)
        scores.write_pending_scores(objs)
        return objs


class CustomerManager(models.Manager.from_queryset(CustomerQuerySet)):
    """Customers with their scores under the scores' own names (``Customer.objects.filter(
    churn_risk="high").order_by("-clv_12m")``), read through an inner join on the score table:
    every customer has a score row (a database trigger adds it), and the inner join lets the
    score table's indexes drive the list's sorts."""

    def get_queryset(self) -> CustomerQuerySet:
        return super().get_queryset().filter(score__isnull=False).annotate(
            **{name: F(f"score__{name}") for name in SCORE_FIELDS})


class Customer(models.Model):
    external_id = models.CharField(
        _("external id"), max_length=64, unique=True, null=True, blank=True,
        help_text=_("Identifier in the source system (ERP, shop); imports and the API match on it."),
    )
    name = models.CharField(_("name"), max_length=200)
    email = models.EmailField(_("email"), blank=True, db_index=True)
    phone = models.CharField(_("phone"), max_length=20, blank=True, db_index=True,
                             help_text=_("E.164, for example +8613800138000."))
    gender = models.CharField(_("gender"), max_length=10, choices=Gender.choices, blank=True)
    birth_date = models.DateField(_("birth date"), null=True, blank=True,
                                  validators=[bounds.birth_date])
    city = models.CharField(_("city"), max_length=100, blank=True)
    region = models.CharField(_("region"), max_length=100, blank=True, db_index=True)
    country = models.CharField(_("country"), max_length=100, blank=True)
    channel = models.CharField(_("source channel"), max_length=20, choices=Channel.choices,
                               default=Channel.MANUAL)
    signup_date = models.DateField(_("signup date"), null=True, blank=True,
                                   validators=[bounds.event_date])
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("owner"), null=True,
                              blank=True, on_delete=models.SET_NULL, related_name="owned_customers")
    marketing_consent = models.BooleanField(_("marketing consent"), default=False)
    marketing_consent_at = models.DateTimeField(_("consent given at"), null=True, blank=True,
                                                validators=[bounds.event_date])
    language = models.CharField(_("language"), max_length=8, choices=Language.choices, blank=True,
                                default="", db_default="",
                                help_text=_("Language of messages; blank for the default."))
    # Set when mail to the address bounced hard or was reported as spam (campaigns' delivery
    # tracking); campaigns then leave the customer out of e-mail until the address changes.
    # db_default as well: bulk loads by COPY (the demo, the benches) leave the column out.
    email_invalid = models.BooleanField(_("e-mail address invalid"), default=False, db_default=False)
    status = models.CharField(
        _("status"), max_length=10, choices=CustomerStatus.choices, default=CustomerStatus.ACTIVE,
        help_text=_("Churned only when known explicitly, for example a cancelled contract."),
    )
    attributes = models.JSONField(_("attributes"), default=dict, blank=True,
                                  help_text=_("Imported columns the model does not know."))
    merged_into = models.ForeignKey("self", verbose_name=_("merged into"), null=True, blank=True,
                                    on_delete=models.SET_NULL, related_name="merged_from")
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    history = HistoricalRecords(excluded_fields=["updated_at"])
    objects = CustomerManager()

    class Meta:
        verbose_name = _("customer")
        verbose_name_plural = _("customers")
        ordering = ["id"]
        permissions = [
            ("view_pii", "Can see customers' contact details"),
            ("export_customer", "Can export customer lists"),
            ("import_data", "Can import data"),
            ("merge_customer", "Can merge duplicate customers"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(email=Lower("email")), name="customer_email_lower"),
            models.CheckConstraint(condition=Q(phone="") | Q(phone__regex=E164_REGEX),
                                   name="customer_phone_e164"),
            models.CheckConstraint(condition=~Q(external_id=""), name="customer_external_id_not_blank"),
            bounds.date_floor("birth_date", "customer", nullable=True),
            bounds.date_floor("signup_date", "customer", nullable=True),
            bounds.date_floor("marketing_consent_at", "customer", nullable=True),
        ]
        indexes = [
            # The list's default sort, by name with the id tie-breaker: its first page is an
            # index read. The score sorts are indexed on CustomerScore.
            models.Index(fields=["name", "id"], name="customer_name_idx"),
        ]
        # PostgreSQL also gets trigram indexes for the search: customers/migrations/0004_*.py.

    def __str__(self) -> str:
        return self.name or self.external_id or f"#{self.pk}"

    def clean(self) -> None:
        errors = {}
        for field, normalise in (("email", normalise_email), ("phone", normalise_phone)):
            try:
                setattr(self, field, normalise(getattr(self, field)))
            except ValidationError as exc:
                errors[field] = exc.messages
        if errors:
            raise ValidationError(errors)

    def save(self, *args, **kwargs) -> None:
        # Every path that saves one record (admin, API, import, shell) stores the normalised
        # forms; an invalid value fails here rather than reaching the database constraint.
        self.email = normalise_email(self.email)
        self.phone = normalise_phone(self.phone)
        self.external_id = self.external_id or None
        update_fields = kwargs.get("update_fields")
        if update_fields is not None:
            given = self.__dict__.get("_scores") or {}
            written = {name: given.get(name) for name in update_fields if name in SCORE_FIELDS}
            kwargs["update_fields"] = [name for name in update_fields if name not in SCORE_FIELDS]
            if written:
                scores.CustomerScore.objects.filter(pk=self.pk).update(**written)
            if not kwargs["update_fields"]:
                return
        adding = self._state.adding
        super().save(*args, **kwargs)
        if adding:
            scores.write_pending_scores([self])

    def refresh_from_db(self, using=None, fields=None, from_queryset=None) -> None:
        if fields is None or set(fields) & set(SCORE_FIELDS):
            self.__dict__.pop("_scores", None)
            self._state.fields_cache.pop("score", None)
        if fields is not None:
            fields = [name for name in fields if name not in SCORE_FIELDS]
            if not fields:
                return
        super().refresh_from_db(using=using, fields=fields, from_queryset=from_queryset)


class Product(models.Model):
    sku = models.CharField(_("SKU"), max_length=64, unique=True)
    name = models.CharField(_("name"), max_length=200)
    category = models.CharField(_("category"), max_length=100, blank=True, db_index=True)
    price = models.DecimalField(_("price"), max_digits=12, decimal_places=2, default=0,
                                validators=[bounds.max_amount])
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("product")
        verbose_name_plural = _("products")
        ordering = ["sku"]
        constraints = [
            models.CheckConstraint(condition=Q(price__gte=0), name="product_price_non_negative"),
            bounds.at_most("price", "product", bounds.MAX_AMOUNT),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.sku})"


class OrderStatus(models.TextChoices):
    COMPLETED = "completed", _("Completed")
    PENDING = "pending", _("Pending")
    CANCELLED = "cancelled", _("Cancelled")
    REFUNDED = "refunded", _("Refunded")


class Order(models.Model):
    external_id = models.CharField(_("external id"), max_length=64, unique=True, null=True,
                                   blank=True)
    # PROTECT: deleting a customer must never silently delete their purchase history.
    customer = models.ForeignKey(Customer, verbose_name=_("customer"), on_delete=models.PROTECT,
                                 related_name="orders")
    ordered_at = models.DateTimeField(_("ordered at"), validators=[bounds.event_date])
    channel = models.CharField(_("channel"), max_length=20, choices=Channel.choices,
                               default=Channel.STORE)
    status = models.CharField(_("status"), max_length=10, choices=OrderStatus.choices,
                              default=OrderStatus.COMPLETED)
    total_amount = models.DecimalField(_("total amount"), max_digits=14, decimal_places=2,
                                       validators=[bounds.max_amount])
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("order")
        verbose_name_plural = _("orders")
        ordering = ["-ordered_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(total_amount__gte=0),
                                   name="order_total_amount_non_negative"),
            models.CheckConstraint(condition=~Q(external_id=""), name="order_external_id_not_blank"),
            bounds.at_most("total_amount", "order", bounds.MAX_AMOUNT),
            bounds.date_floor("ordered_at", "order"),
        ]
        indexes = [
            models.Index(fields=["customer", "ordered_at"], name="order_customer_date_idx"),
            models.Index(fields=["ordered_at"], name="order_date_idx"),
        ]

    def __str__(self) -> str:
        return self.external_id or f"#{self.pk}"

    def save(self, *args, **kwargs) -> None:
        self.external_id = self.external_id or None
        super().save(*args, **kwargs)


class OrderItem(models.Model):
    order = models.ForeignKey(Order, verbose_name=_("order"), on_delete=models.CASCADE,
                              related_name="items")
    product = models.ForeignKey(Product, verbose_name=_("product"), on_delete=models.PROTECT,
                                related_name="order_items")
    quantity = models.PositiveIntegerField(_("quantity"), validators=[bounds.max_quantity])
    unit_price = models.DecimalField(_("unit price"), max_digits=12, decimal_places=2,
                                     validators=[bounds.max_amount])
    # A changed line with an unchanged total leaves no trace on the order: the lines keep their own.
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("order item")
        verbose_name_plural = _("order items")
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gt=0), name="orderitem_quantity_positive"),
            models.CheckConstraint(condition=Q(unit_price__gte=0),
                                   name="orderitem_unit_price_non_negative"),
            bounds.at_most("quantity", "orderitem", bounds.MAX_QUANTITY),
            bounds.at_most("unit_price", "orderitem", bounds.MAX_AMOUNT),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} x {self.product_id}"

    @property
    def line_total(self):
        return self.quantity * self.unit_price


class SentimentLabel(models.TextChoices):
    POSITIVE = "positive", _("Positive")
    NEUTRAL = "neutral", _("Neutral")
    NEGATIVE = "negative", _("Negative")


class ComplaintReason(models.TextChoices):
    PRICE = "price", _("Price")
    SERVICE = "service", _("Service")
    QUALITY = "product quality", _("Product quality")
    DELIVERY = "delivery", _("Delivery")
    OTHER = "other", _("Other")


# Feedback rated this many stars or fewer is negative whatever its text says (the analytics
# engine treats such feedback as a complaint too: engine/feedback.py LOW_RATING).
NEGATIVE_RATING_MAX = 2


class FeedbackQuerySet(models.QuerySet):
    def negative(self) -> FeedbackQuerySet:
        """Complaints: feedback analysed as negative or rated 1-2 stars. The campaign audiences,
        the customer filters and the service start page all count negative feedback this way."""
        return self.filter(Q(sentiment_label=SentimentLabel.NEGATIVE) | Q(rating__lte=NEGATIVE_RATING_MAX))

    def about(self, reason: str) -> FeedbackQuerySet:
        """Feedback classified under ``reason`` (a ComplaintReason value), as its first reason or
        any other. The reasons are a JSON list of plain codes and SQLite has no JSON containment,
        so the list is matched as text, on the quoted code: ``"price"`` is never part of another
        code's quoted form."""
        return self.filter(Q(complaint_reason=reason) | Q(complaint_reasons__icontains=f'"{reason}"'))


class Feedback(models.Model):
    customer = models.ForeignKey(Customer, verbose_name=_("customer"), on_delete=models.PROTECT,
                                 related_name="feedback")
    order = models.ForeignKey(Order, verbose_name=_("order"), null=True, blank=True,
                              on_delete=models.SET_NULL, related_name="feedback")
    product = models.ForeignKey(Product, verbose_name=_("product"), null=True, blank=True,
                                on_delete=models.SET_NULL, related_name="feedback")
    created_at = models.DateTimeField(_("created at"), validators=[bounds.event_date])
    channel = models.CharField(_("channel"), max_length=20, choices=Channel.choices,
                               default=Channel.ECOMMERCE)
    rating = models.PositiveSmallIntegerField(_("rating"), null=True, blank=True)
    text = models.TextField(_("text"), blank=True, max_length=bounds.MAX_FEEDBACK_TEXT,
                            validators=[bounds.max_feedback_text])
    language = models.CharField(_("language"), max_length=8, blank=True)
    # Filled by analytics once, when the record arrives (they depend on this record alone).
    sentiment_score = models.FloatField(_("sentiment"), null=True, blank=True)
    sentiment_label = models.CharField(_("sentiment label"), max_length=10,
                                       choices=SentimentLabel.choices, blank=True)
    complaint_reason = models.CharField(_("complaint reason"), max_length=20,
                                        choices=ComplaintReason.choices, blank=True)
    # Every reason of a complaint, most probable first (ComplaintReason values); the first is
    # ``complaint_reason``, kept on its own so filters and indexes stay simple.
    complaint_reasons = models.JSONField(_("complaint reasons"), default=list, blank=True)
    history = HistoricalRecords()
    objects = FeedbackQuerySet.as_manager()

    class Meta:
        verbose_name = _("feedback")
        verbose_name_plural = _("feedback")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(rating__isnull=True) | Q(rating__gte=1, rating__lte=5),
                                   name="feedback_rating_1_5"),
            models.CheckConstraint(
                condition=Q(sentiment_score__isnull=True)
                | Q(sentiment_score__gte=-1, sentiment_score__lte=1),
                name="feedback_sentiment_range"),
            bounds.date_floor("created_at", "feedback"),
            bounds.length_at_most("text", "feedback", bounds.MAX_FEEDBACK_TEXT),
        ]
        indexes = [
            models.Index(fields=["customer", "created_at"], name="feedback_customer_date_idx"),
            models.Index(fields=["created_at"], name="feedback_date_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.customer_id} {self.created_at:%Y-%m-%d}"


class InteractionKind(models.TextChoices):
    CALL = "call", _("Call")
    EMAIL = "email", _("Email")
    CHAT = "chat", _("Chat")
    VISIT = "visit", _("Visit")
    COMPLAINT = "complaint", _("Complaint")


class Interaction(models.Model):
    customer = models.ForeignKey(Customer, verbose_name=_("customer"), on_delete=models.PROTECT,
                                 related_name="interactions")
    staff = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("staff"), null=True,
                              blank=True, on_delete=models.SET_NULL, related_name="interactions")
    kind = models.CharField(_("kind"), max_length=10, choices=InteractionKind.choices)
    occurred_at = models.DateTimeField(_("occurred at"), validators=[bounds.event_date])
    outcome = models.CharField(_("outcome"), max_length=200, blank=True)
    note = models.TextField(_("note"), blank=True, max_length=bounds.MAX_NOTE,
                            validators=[bounds.max_note])
    # Who changed what, and when: ``staff`` stays the author, the history names each editor.
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("interaction")
        verbose_name_plural = _("interactions")
        permissions = [("change_others_interaction", "Can change interactions logged by others")]
        ordering = ["-occurred_at", "-id"]
        constraints = [
            bounds.date_floor("occurred_at", "interaction"),
            bounds.length_at_most("note", "interaction", bounds.MAX_NOTE),
        ]
        indexes = [
            models.Index(fields=["customer", "occurred_at"], name="interaction_cust_date_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.occurred_at:%Y-%m-%d}"


class SavedFilter(models.Model):
    """A named query string of the customer list, kept for its owner (and for everyone when a
    manager shares it). Only the list's own filter and sort parameters are stored: see
    :func:`customers.services.saved_filter_create`."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("owner"),
                             on_delete=models.CASCADE, related_name="saved_filters")
    name = models.CharField(_("name"), max_length=100)
    query = models.CharField(_("query"), max_length=1000)
    shared = models.BooleanField(_("shared with everyone"), default=False)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("saved filter")
        verbose_name_plural = _("saved filters")
        ordering = ["name", "id"]
        permissions = [("share_savedfilter", "Can share saved customer filters with everyone")]
        constraints = [
            models.UniqueConstraint(Lower("name"), "user", name="savedfilter_name_once_per_user"),
        ]
        indexes = [models.Index(fields=["shared"], name="savedfilter_shared_idx")]

    def __str__(self) -> str:
        return self.name



from . import scores  # noqa: E402  (the score table refers back to Customer)

CustomerScore = scores.CustomerScore
