"""Customers' scores, in a table of their own: one row per customer, written only by the
analytics pipeline (a full run writes a new table and swaps it in, a customer's rescoring
updates its row). ``customers.models`` imports this module once ``Customer`` exists; read the
scores on the customer under the same names (``Customer.objects.filter(churn_risk="high")``).
"""
from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils.encoding import force_str
from django.utils.translation import gettext_lazy as _

from . import bounds
from .models import (
    SCORE_FIELDS,
    Customer,
    Level,
    LifecycleStage,
    RfmSegment,
    SatisfactionGroup,
)


def _score_range(field: str, low: float, high: float) -> models.CheckConstraint:
    return models.CheckConstraint(
        condition=Q(**{f"{field}__isnull": True}) | Q(**{f"{field}__gte": low, f"{field}__lte": high}),
        name=f"score_{field}_range",
    )


class CustomerScore(models.Model):
    """A customer's scores: one row per customer (a database trigger adds it with the customer),
    written only by the analytics pipeline. A full run writes a new table and swaps it in
    (analytics.adapter.scores_write_prepare); single customers' rescoring updates rows.

    Read them on the customer, under the same names: :class:`CustomerManager` annotates them, and
    an instance loaded any other way reads its score row.
    """

    customer = models.OneToOneField(Customer, verbose_name=_("customer"), primary_key=True,
                                    on_delete=models.CASCADE, related_name="score")
    order_count = models.PositiveIntegerField(_("orders"), null=True, blank=True)
    total_spent = models.DecimalField(_("total spent"), max_digits=14, decimal_places=2,
                                      null=True, blank=True)
    first_order_at = models.DateTimeField(_("first order"), null=True, blank=True)
    last_order_at = models.DateTimeField(_("last order"), null=True, blank=True)
    recency_days = models.PositiveIntegerField(_("days since last order"), null=True, blank=True)
    rfm_r = models.PositiveSmallIntegerField(_("RFM recency"), null=True, blank=True)
    rfm_f = models.PositiveSmallIntegerField(_("RFM frequency"), null=True, blank=True)
    rfm_m = models.PositiveSmallIntegerField(_("RFM monetary"), null=True, blank=True)
    rfm_segment = models.CharField(_("RFM segment"), max_length=32, choices=RfmSegment.choices,
                                   null=True, blank=True)
    value_segment = models.CharField(_("value segment"), max_length=10, choices=Level.choices,
                                     null=True, blank=True)
    value_tier = models.CharField(_("value tier"), max_length=10, choices=Level.choices,
                                  null=True, blank=True)
    churn_probability = models.FloatField(_("churn probability"), null=True, blank=True)
    churn_risk = models.CharField(_("churn risk"), max_length=10, choices=Level.choices,
                                  null=True, blank=True)
    churn_reasons = models.JSONField(_("churn reasons"), null=True, blank=True)
    p_alive = models.FloatField(_("probability alive"), null=True, blank=True)
    expected_orders_90d = models.FloatField(_("expected orders in 90 days"), null=True, blank=True)
    clv_12m = models.DecimalField(_("12-month CLV"), max_digits=14, decimal_places=2,
                                  null=True, blank=True)
    lifecycle_stage = models.CharField(_("lifecycle stage"), max_length=12,
                                       choices=LifecycleStage.choices, null=True, blank=True)
    loyalty_score = models.FloatField(_("loyalty"), null=True, blank=True)
    sentiment_score = models.FloatField(_("sentiment"), null=True, blank=True)
    satisfaction_group = models.CharField(_("satisfaction group"), max_length=20,
                                          choices=SatisfactionGroup.choices, null=True, blank=True)
    scores_updated_at = models.DateTimeField(_("scores updated at"), null=True, blank=True)


    class Meta:
        verbose_name = _("customer scores")
        verbose_name_plural = _("customer scores")
        constraints = [
            models.CheckConstraint(condition=Q(total_spent__isnull=True) | Q(total_spent__gte=0),
                                   name="score_total_spent_non_negative"),
            models.CheckConstraint(condition=Q(clv_12m__isnull=True) | Q(clv_12m__gte=0),
                                   name="score_clv_non_negative"),
            bounds.at_most("total_spent", "score", bounds.MAX_AGGREGATE, nullable=True),
            bounds.at_most("clv_12m", "score", bounds.MAX_AGGREGATE, nullable=True),
            _score_range("rfm_r", 1, 5),
            _score_range("rfm_f", 1, 5),
            _score_range("rfm_m", 1, 5),
            _score_range("churn_probability", 0, 1),
            _score_range("p_alive", 0, 1),
            _score_range("loyalty_score", 0, 1),
            _score_range("sentiment_score", -1, 1),
        ]
        indexes = [
            models.Index(fields=[field], name=f"score_{field}_idx") for field in (
                "rfm_segment", "value_segment", "value_tier", "churn_risk", "lifecycle_stage",
                "last_order_at", "loyalty_score", "p_alive", "sentiment_score",
            )
        ] + [
            # One per sort order of the customer list (customers.filters.sort_order), with the
            # customer tie-breaker: the first page of a sort is an index read, not a sort of every
            # row. Ascending ones also serve the range filters on the same field.
            models.Index(fields=[field, "customer"], name=f"score_{field}_idx") for field in (
                "churn_probability", "clv_12m", "total_spent", "recency_days", "order_count",
            )
        ]
        # PostgreSQL also gets (field DESC NULLS LAST, customer) indexes for the descending sorts:
        # customers/migrations/0014_customer_score.py (SQLite cannot build them).

    def __str__(self) -> str:
        return str(self.customer_id)


def write_pending_scores(customers) -> None:
    """Write the scores given to new customers (``Customer(churn_risk=...)``) to their score
    rows, which the database trigger created empty."""
    pending = [c for c in customers if c.__dict__.get("_scores") and c.pk is not None]
    if not pending:
        return
    names = sorted({name for c in pending for name in c.__dict__["_scores"]})
    CustomerScore.objects.bulk_update(
        [CustomerScore(customer_id=c.pk, **{name: c.__dict__["_scores"].get(name) for name in names})
         for c in pending], names)


def _score_attribute(name: str) -> property:
    """``Customer.<name>``: the value loaded with the customer (the manager's annotation, or a
    value given to a new customer), else the one in its score row."""

    def read(customer):
        scores = customer.__dict__.get("_scores")
        if scores is not None and name in scores:
            return scores[name]
        if customer._state.adding or customer.pk is None:
            return None
        return getattr(customer.score, name)

    def write(customer, value) -> None:
        customer.__dict__.setdefault("_scores", {})[name] = value

    field = CustomerScore._meta.get_field(name)
    read.short_description = field.verbose_name
    return property(read, write)


def _score_display(name: str):
    """``Customer.get_<name>_display()``, as Django makes it for a field with choices."""
    field = CustomerScore._meta.get_field(name)

    def display(customer):
        value = getattr(customer, name)
        return force_str(dict(field.flatchoices).get(value, value), strings_only=True)

    return display


for _name in SCORE_FIELDS:
    setattr(Customer, _name, _score_attribute(_name))
    if CustomerScore._meta.get_field(_name).choices:
        setattr(Customer, f"get_{_name}_display", _score_display(_name))


# Every customer has a score row from the moment it exists, whatever inserts it (the ORM, a
# COPY, raw SQL): a trigger adds the row. On PostgreSQL one statement-level trigger per INSERT
# (a COPY of a million customers adds their rows in one statement); SQLite has only row triggers.
# Installed by the migration that made the table and again after every migrate: rebuilding a
# table on SQLite (how it alters one) drops its triggers.
_TRIGGER = "customers_customer_score_row"
_SCORE_TRIGGER_SQL = {
    "postgresql": [
        f"""CREATE OR REPLACE FUNCTION {_TRIGGER}() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                INSERT INTO customers_customerscore (customer_id) SELECT id FROM new_customers
                ON CONFLICT DO NOTHING;
                RETURN NULL;
            END $$""",
        f"DROP TRIGGER IF EXISTS {_TRIGGER} ON customers_customer",
        f"""CREATE TRIGGER {_TRIGGER} AFTER INSERT ON customers_customer
            REFERENCING NEW TABLE AS new_customers FOR EACH STATEMENT EXECUTE FUNCTION {_TRIGGER}()""",
    ],
    "sqlite": [
        f"DROP TRIGGER IF EXISTS {_TRIGGER}",
        f"""CREATE TRIGGER {_TRIGGER} AFTER INSERT ON customers_customer BEGIN
                INSERT OR IGNORE INTO customers_customerscore (customer_id) VALUES (NEW.id);
            END""",
    ],
}


def score_row_trigger_install(connection) -> None:
    """(Re)create the trigger that gives every new customer its score row."""
    with connection.cursor() as cursor:
        for statement in _SCORE_TRIGGER_SQL[connection.vendor]:
            cursor.execute(statement)


def score_row_trigger_after_migrate(sender, using="default", **kwargs) -> None:
    from django.db import connections

    connection = connections[using]
    if "customers_customerscore" in connection.introspection.table_names():
        score_row_trigger_install(connection)
        with connection.cursor() as cursor:   # rows for customers a trigger-less spell left out
            cursor.execute("INSERT INTO customers_customerscore (customer_id) SELECT c.id FROM customers_customer c "
                           "WHERE NOT EXISTS (SELECT 1 FROM customers_customerscore s WHERE s.customer_id = c.id)")
