"""Reads for campaigns: the audience a definition selects, its live preview, and members'
outcomes. Every function runs a fixed number of queries, whatever the audience size.

An audience definition is a plain dict (stored as JSON on the campaign) validated by
:class:`campaigns.forms.AudienceForm`; the keys are listed in :data:`AUDIENCE_KEYS`.
"""
from __future__ import annotations

import pickle
import zlib
from datetime import datetime, timedelta
from decimal import Decimal

import numpy as np
import pandas as pd
from django.db.models import (
    Avg,
    Case,
    Count,
    Exists,
    F,
    FloatField,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce, Exp, Power
from django.utils import timezone

from analytics.engine.power import PowerCheck, power_check
from analytics.engine.uplift import FittedUplift, incremental_profit, uplift_predict
from customers.models import Customer, Feedback, Interaction, Order, OrderStatus, Product

from .models import Campaign, CampaignMember, ServiceTask, UpliftModel
from .permissions import can_change_campaign
from .uplift import control_size

# Lists match any of their values; *_min/*_max are inclusive bounds.
AUDIENCE_KEYS = (
    "rfm_segments", "value_segments", "value_tiers", "churn_risks", "lifecycle_stages", "regions",
    "churn_min", "churn_max", "clv_min", "clv_max", "sentiment_min", "sentiment_max",
    "no_contact_days", "negative_feedback_days", "bought_any", "not_bought_any",
    "include_customers", "uplift_top_n", "uplift_positive_profit", "uplift_margin", "uplift_objective",
    "uplift_discount", "uplift_contact_cost", "uplift_days",
)
# Scores frozen on each member at launch.
SNAPSHOT_FIELDS = (
    "rfm_segment", "value_segment", "value_tier", "churn_probability", "churn_risk", "clv_12m",
    "lifecycle_stage", "sentiment_score", "loyalty_score", "recency_days", "order_count",
    "total_spent",
)
# Control groups are stratified by this score so treatment and control have the same value mix.
STRATIFY_BY = "value_segment"


# Why a customer matching the filters is left out of the audience, in the order the rules apply;
# each removal is counted among those the rules before it let through. The address rules of a
# marketing message: a customer must have somewhere to receive it.
ADDRESS_RULES = {
    Campaign.Channel.EMAIL: (("no_email", Q(email="")), ("email_invalid", Q(email_invalid=True))),
    Campaign.Channel.SMS: (("no_phone", Q(phone="")),),
}
REMOVAL_RULES = ("no_consent", "frequency_cap", "no_email", "email_invalid", "no_phone",
                 "uplift_profit", "uplift_top_n")


def audience_matched(*, filters: dict, now: datetime | None = None) -> QuerySet[Customer]:
    """The live customers an audience definition's filters select, as the customer list would
    count them (and the customers added by hand), before consent, frequency cap, address and
    uplift rules."""
    now = now or timezone.now()
    customers = Customer.objects.live()
    lookups = {
        "rfm_segments": "rfm_segment__in", "value_segments": "value_segment__in",
        "value_tiers": "value_tier__in", "churn_risks": "churn_risk__in",
        "lifecycle_stages": "lifecycle_stage__in",
        "regions": "region__in",
        "churn_min": "churn_probability__gte", "churn_max": "churn_probability__lte",
        "clv_min": "clv_12m__gte", "clv_max": "clv_12m__lte",
        "sentiment_min": "sentiment_score__gte", "sentiment_max": "sentiment_score__lte",
    }
    conditions = {lookup: filters[key] for key, lookup in lookups.items()
                  if filters.get(key) not in (None, "", [])}
    customers = customers.filter(**conditions)
    if filters.get("no_contact_days"):
        since = now - timedelta(days=int(filters["no_contact_days"]))
        customers = customers.exclude(Exists(Interaction.objects.filter(
            customer=OuterRef("pk"), occurred_at__gte=since)))
    if filters.get("negative_feedback_days"):
        since = now - timedelta(days=int(filters["negative_feedback_days"]))
        customers = customers.filter(Exists(Feedback.objects.negative().filter(
            customer=OuterRef("pk"), created_at__gte=since)))
    completed_with = lambda products: Order.objects.filter(  # noqa: E731
        customer=OuterRef("pk"), status=OrderStatus.COMPLETED, items__product_id__in=products)
    if filters.get("bought_any"):
        customers = customers.filter(Exists(completed_with(filters["bought_any"])))
    if filters.get("not_bought_any"):
        customers = customers.exclude(Exists(completed_with(filters["not_bought_any"])))
    if filters.get("include_customers"):
        # Customers added by hand join whatever the filters select; the rules after this still
        # apply to them, and the control draw at launch treats them like anyone.
        customers = Customer.objects.live().filter(
            Q(pk__in=customers.values("pk")) | Q(pk__in=filters["include_customers"]))
    return customers


def audience_stages(*, filters: dict, kind: str, channel: str = "", frequency_cap_days: int = 0,
                    exclude_campaign_id: int | None = None,
                    now: datetime | None = None) -> list[tuple[str, QuerySet[Customer]]]:
    """The audience rule by rule: ``("matched", customers)`` then ``(rule, customers left)`` for
    each rule of :data:`REMOVAL_RULES` that applies, the last being the audience.

    Marketing campaigns reach only customers who gave marketing consent; the frequency cap
    leaves out customers treated by another campaign launched in the last ``frequency_cap_days``
    (control members received nothing, so they do not count as contacted); an e-mail or SMS
    campaign needs an address it can send to. The uplift rules come last so that they choose
    among customers the campaign can actually reach. ``channel`` blank: no address rule (an
    audience defined without a campaign).
    """
    now = now or timezone.now()
    customers = audience_matched(filters=filters, now=now)
    stages = [("matched", customers)]
    marketing = kind == Campaign.Kind.MARKETING
    if marketing:
        customers = customers.filter(marketing_consent=True)
        stages.append(("no_consent", customers))
    if frequency_cap_days:
        recent = CampaignMember.objects.filter(
            customer=OuterRef("pk"), group=CampaignMember.Group.TREATMENT,
            campaign__launched_at__gte=now - timedelta(days=frequency_cap_days))
        if exclude_campaign_id:
            recent = recent.exclude(campaign_id=exclude_campaign_id)
        customers = customers.exclude(Exists(recent))
        stages.append(("frequency_cap", customers))
    if marketing:
        for rule, missing in ADDRESS_RULES.get(channel, ()):
            customers = customers.exclude(missing)
            stages.append((rule, customers))
    if filters.get("uplift_positive_profit"):
        customers = uplift_profitable(
            customers, objective=filters.get("uplift_objective", ""), margin=float(filters.get("uplift_margin") or 0),
            discount=float(filters.get("uplift_discount") or 0),
            contact_cost=float(filters.get("uplift_contact_cost") or 0), days=int(filters.get("uplift_days") or 30))
        stages.append(("uplift_profit", customers))
    if filters.get("uplift_top_n"):
        # Last: the N the campaign most likely changes among those the other rules let through.
        customers = uplift_top(customers, objective=filters.get("uplift_objective", ""),
                               n=int(filters["uplift_top_n"]))
        stages.append(("uplift_top_n", customers))
    return stages


def audience_queryset(*, filters: dict, kind: str, channel: str = "", frequency_cap_days: int = 0,
                      exclude_campaign_id: int | None = None,
                      now: datetime | None = None) -> QuerySet[Customer]:
    """The customers an audience definition selects today: what the preview counts and launch
    makes members of (:func:`audience_stages`)."""
    return audience_stages(filters=filters, kind=kind, channel=channel, frequency_cap_days=frequency_cap_days,
                           exclude_campaign_id=exclude_campaign_id, now=now)[-1][1]


def audience_breakdown(*, filters: dict, kind: str, channel: str = "", frequency_cap_days: int = 0,
                       exclude_campaign_id: int | None = None, now: datetime | None = None,
                       stages: list[tuple[str, QuerySet[Customer]]] | None = None) -> dict:
    """How many customers the filters match, how many each rule then leaves out, and the audience:
    ``matched == audience + sum(removed.values())``. One count per stage (at most eight queries);
    pass ``stages`` already built to avoid building them twice."""
    if stages is None:
        stages = audience_stages(filters=filters, kind=kind, channel=channel,
                                 frequency_cap_days=frequency_cap_days,
                                 exclude_campaign_id=exclude_campaign_id, now=now)
    counts = [(rule, customers.count()) for rule, customers in stages]
    removed = {rule: before - after for (_rule, before), (rule, after) in zip(counts, counts[1:])}
    return {"matched": counts[0][1], "removed": removed, "audience": counts[-1][1]}


# The numeric scores frozen on members at launch (campaigns.selectors.SNAPSHOT_FIELDS) that the
# models read; the current customer fields of the same names are what they predict from.
UPLIFT_FEATURES = ("churn_probability", "clv_12m", "sentiment_score", "loyalty_score", "recency_days",
                   "order_count", "total_spent")


def uplift_features(rows: list[dict]) -> pd.DataFrame:
    frame = pd.DataFrame.from_records(rows, columns=list(UPLIFT_FEATURES))
    return frame.apply(pd.to_numeric, errors="coerce").astype(float)


def uplift_model_load(model: UpliftModel) -> FittedUplift:
    return pickle.loads(zlib.decompress(bytes(model.payload)))  # noqa: S301 - written by uplift_model_fit


def uplift_model_credible(objective: str) -> UpliftModel | None:
    """The objective's uplift model if it is better than random targeting, else None."""
    return UpliftModel.objects.filter(objective=objective, credible=True).first() if objective else None


def predicted_uplift(*, model: UpliftModel, customer_ids: list[int]) -> dict[int, float]:
    """Predicted incremental conversion probability of each customer, from their current scores."""
    rows = list(Customer.objects.filter(pk__in=customer_ids).order_by("pk").values("pk", *UPLIFT_FEATURES))
    if not rows:
        return {}
    scores = uplift_predict(uplift_model_load(model), uplift_features(rows))
    return {row["pk"]: float(score) for row, score in zip(rows, scores, strict=True)}


def uplift_profit(*, model: UpliftModel, customer_ids: list[int], margin: float, discount: float,
                  contact_cost: float, days: int) -> dict[int, float]:
    """Expected profit of contacting each customer (``analytics.engine.uplift.incremental_profit``):
    their usual order value is spent / orders; their conversion without the campaign, the chance
    of an order in ``days`` from their expected orders in 90 days."""
    lift = predicted_uplift(model=model, customer_ids=customer_ids)
    rows = list(Customer.objects.filter(pk__in=lift).order_by("pk")
                .values_list("pk", "total_spent", "order_count", "expected_orders_90d"))
    if not rows:
        return {}
    ids = [row[0] for row in rows]
    value = np.array([float(spent or 0) / count if count else 0.0 for _pk, spent, count, _e in rows])
    base = 1 - np.exp(-np.array([float(e or 0) for *_rest, e in rows]) * days / 90)
    # The discount is given on the order value of every conversion the offer gets.
    profit = incremental_profit(np.array([lift[pk] for pk in ids]), order_value=value, margin=margin,
                                offer_cost=value * discount, contact_cost=contact_cost, conversion=base)
    return dict(zip(ids, profit.tolist(), strict=True))


def uplift_profitable(customers: QuerySet[Customer], *, objective: str, margin: float, discount: float,
                      contact_cost: float, days: int) -> QuerySet[Customer]:
    """The customers of ``customers`` whose predicted incremental profit is positive (nobody
    without a credible model, as :func:`uplift_top`)."""
    model = uplift_model_credible(objective)
    if model is None:
        return customers.none()
    profit = uplift_profit(model=model, customer_ids=list(customers.values_list("pk", flat=True)),
                           margin=margin, discount=discount, contact_cost=contact_cost, days=days)
    return Customer.objects.filter(pk__in=[pk for pk, value in profit.items() if value > 0])


def uplift_top(customers: QuerySet[Customer], *, objective: str, n: int) -> QuerySet[Customer]:
    """The ``n`` customers of ``customers`` with the highest predicted incremental conversions.

    Nobody when the objective has no credible model (any more): an audience that asked for the
    customers a model picks is never silently widened to everyone.
    """
    model = uplift_model_credible(objective)
    if model is None:
        return customers.none()
    scores = predicted_uplift(model=model, customer_ids=list(customers.values_list("pk", flat=True)))
    chosen = sorted(scores, key=lambda pk: (-scores[pk], pk))[:n]
    return Customer.objects.filter(pk__in=chosen)


def audience_preview(customers: QuerySet[Customer]) -> dict:
    """Size, CLV at stake and the value-segment mix: two queries."""
    totals = customers.aggregate(size=Count("pk"), clv_total=Sum("clv_12m"))
    by_segment = dict(customers.order_by().values_list(STRATIFY_BY).annotate(n=Count("pk")))
    return {
        "size": totals["size"],
        "clv_total": float(totals["clv_total"] or Decimal("0")),
        "by_value_segment": {(key or "unscored"): n for key, n in by_segment.items()},
    }


# The uplift an objective usually gets, in conversion-rate points, until enough campaigns of that
# objective have finished to measure it here (MIN_FINISHED_FOR_TYPICAL). Assumed, not measured:
# modest figures in the range reported for retail e-mail and retention programmes, so the
# warning errs towards "the control group is too small" rather than away from it.
TYPICAL_UPLIFT_DEFAULTS = {
    Campaign.Objective.RETENTION: 0.03,
    Campaign.Objective.WIN_BACK: 0.02,
    Campaign.Objective.UPSELL: 0.02,
    Campaign.Objective.VIP_CARE: 0.03,
    Campaign.Objective.SERVICE_RECOVERY: 0.05,
}
MIN_FINISHED_FOR_TYPICAL = 3
# The churn model and the BG/NBD expectation both look 90 days ahead.
SCORE_HORIZON_DAYS = 90
BASELINE_METHOD = ("mean P(order in window): 1 - exp(-expected_orders_90d * days / 90), "
                   "else 1 - churn_probability ** (days / 90)")


def expected_conversion(customers: QuerySet[Customer], *, attribution_days: int) -> tuple[float | None, int]:
    """The audience's expected conversion in the attribution window: the mean over its customers
    of the probability of at least one order in ``attribution_days``, and how many customers had
    a score to say it. One query.

    Per customer, orders are taken as a Poisson process at the rate the scores give:
    ``1 - exp(-expected_orders_90d * days / 90)`` from the BG/NBD expectation; where that is
    missing, ``1 - churn_probability ** (days / 90)`` (churn = no order in the next 90 days).
    Customers with neither score are left out of the mean.
    """
    scale = attribution_days / SCORE_HORIZON_DAYS
    per_customer = Case(
        When(expected_orders_90d__isnull=False,
             then=Value(1.0) - Exp(F("expected_orders_90d") * Value(-scale))),
        When(churn_probability__isnull=False,
             then=Value(1.0) - Power(F("churn_probability"), Value(scale))),
        default=None, output_field=FloatField())
    row = customers.aggregate(
        p=Avg(per_customer),
        n=Count("pk", filter=Q(expected_orders_90d__isnull=False) | Q(churn_probability__isnull=False)))
    return (None if row["p"] is None else float(row["p"])), row["n"]


def typical_uplift(objective: str | None) -> tuple[float | None, str, int]:
    """(uplift, source, campaigns): the median absolute uplift of finished campaigns with this
    objective once at least MIN_FINISHED_FOR_TYPICAL have one, else the documented default."""
    measured = sorted(
        float(results["absolute_uplift"]) for results in Campaign.objects.filter(
            objective=objective, status=Campaign.Status.FINISHED).values_list("results", flat=True)
        if isinstance(results, dict) and results.get("absolute_uplift") is not None)
    if len(measured) >= MIN_FINISHED_FOR_TYPICAL:
        middle = len(measured) // 2
        median = (measured[middle] if len(measured) % 2
                  else (measured[middle - 1] + measured[middle]) / 2)
        return median, "finished_campaigns", len(measured)
    return TYPICAL_UPLIFT_DEFAULTS.get(objective), "default", len(measured)


def audience_power(customers: QuerySet[Customer], *, size: int, objective: str | None,
                   control_share: float, attribution_days: int) -> dict:
    """The power check of :mod:`analytics.engine.power` for an audience, as JSON: the smallest
    uplift the campaign can detect, what its objective usually gets, and a better control share."""
    baseline, scored = expected_conversion(customers, attribution_days=attribution_days)
    typical, source, finished = typical_uplift(objective)
    check: PowerCheck = power_check(audience=size, control_share=control_share, baseline=baseline,
                                    typical_uplift=typical)
    return {**check.as_dict(), "baseline_method": BASELINE_METHOD, "scored_customers": scored,
            "attribution_days": attribution_days, "objective": objective,
            "typical_uplift_source": source, "finished_campaigns": finished}


def campaign_audience_stages(campaign: Campaign, *, now: datetime | None = None) -> list[tuple[str, QuerySet[Customer]]]:
    """A campaign's audience rule by rule, with its own kind, channel and frequency cap: the one
    definition the preview, the launch confirmation and the launch itself all use."""
    return audience_stages(filters=campaign.audience, kind=campaign.kind, channel=campaign.channel,
                           frequency_cap_days=campaign.frequency_cap_days,
                           exclude_campaign_id=campaign.pk, now=now)


def campaign_breakdown(campaign: Campaign, *, stages: list[tuple[str, QuerySet[Customer]]] | None = None) -> dict:
    """:func:`audience_breakdown` of a campaign: today's before launch; once launched, the members
    drawn then and what each rule left out, as stored at launch (members added by hand later are
    not counted)."""
    if campaign.is_editable:
        return audience_breakdown(filters=campaign.audience, kind=campaign.kind,
                                  stages=stages or campaign_audience_stages(campaign))
    drawn = campaign.members.filter(added_by_hand=False).count()
    removed = campaign.exclusions or {}
    return {"matched": drawn + sum(removed.values()), "removed": removed, "audience": drawn}


def launch_summary(campaign: Campaign) -> dict:
    """What launching would do today, for the confirmation page: audience, control and treated
    sizes (per stratum, as the draw at launch rounds them), the contact cost and the power check.
    A fixed handful of queries."""
    stages = campaign_audience_stages(campaign)
    customers = stages[-1][1]
    preview = audience_preview(customers)
    share = float(campaign.control_share)
    control = sum(control_size(n, share) for n in preview["by_value_segment"].values())
    treated = preview["size"] - control
    return {**preview, "control": control, "treated": treated,
            "breakdown": campaign_breakdown(campaign, stages=stages),
            "contact_cost": campaign.cost_per_contact * treated,
            "power": audience_power(customers, size=preview["size"], objective=campaign.objective,
                                    control_share=share, attribution_days=campaign.attribution_days)}


# Below this many control members the results page warns that the control group is tiny: the
# Wilson interval of a rate from fewer than 100 people is wider than +/- 10 points whatever the
# rate, so a difference of a few points cannot show.
TINY_CONTROL = 100


def results_status(campaign: Campaign) -> dict:
    """How far a campaign's stored results can be read: ``too_early`` until the attribution window
    has data (no refresh yet, or no conversion in either group while the window is open), and
    ``tiny_control`` from launch day when the control group is too small for a useful interval
    (counted from the members until the first refresh: one query then, none after)."""
    results = campaign.results or {}
    converters = (results.get("treatment_converters") or 0) + (results.get("control_converters") or 0)
    too_early = not results or (not results.get("window_closed") and converters == 0)
    control = results.get("control_members")
    if control is None:
        control = (campaign.members.filter(group=CampaignMember.Group.CONTROL, added_by_hand=False).count()
                   if campaign.launched_at else 0)
    return {"too_early": too_early, "tiny_control": campaign.launched_at is not None and control < TINY_CONTROL,
            "control_members": control,
            "ci_includes_zero": (results.get("absolute_uplift_low") is not None
                                 and results["absolute_uplift_low"] <= 0 <= results["absolute_uplift_high"])}


def campaign_list(user) -> QuerySet[Campaign]:
    """Campaigns a user may see, with their member counts: one query for the page."""
    return (Campaign.objects.restrict(user, "view").select_related("created_by")
            .annotate(treatment_count=Count("members", filter=Q(members__group="treatment")),
                      control_count=Count("members", filter=Q(members__group="control")))
            .order_by("-created_at", "-id"))


def member_outcomes(campaign: Campaign) -> QuerySet[CampaignMember]:
    """Each member with their completed orders and revenue inside the attribution window.

    One query with a join; the window starts at launch and lasts ``attribution_days``.
    """
    start = campaign.launched_at
    end = start + timedelta(days=campaign.attribution_days)
    in_window = Q(customer__orders__status=OrderStatus.COMPLETED,
                  customer__orders__ordered_at__gte=start, customer__orders__ordered_at__lt=end)
    return (CampaignMember.objects.filter(campaign=campaign).order_by("pk")
            .annotate(window_orders=Count("customer__orders", filter=in_window),
                      window_revenue=Sum("customer__orders__total_amount", filter=in_window)))


# At most this many open campaigns are offered in the 360's "add to a campaign" list; more
# than that would make an unusable select, and the newest are the ones staff are working on.
OPEN_CAMPAIGN_CHOICES = 50


def customer_campaign_history(customer_id: int) -> list[CampaignMember]:
    """Every campaign a customer was a member of, newest first, with the offered products' names
    in ``offer_names``: two queries."""
    members = list(CampaignMember.objects.filter(customer_id=customer_id)
                   .select_related("campaign", "added_by").order_by("-created_at", "-pk"))
    wanted = {pid for member in members for pid in member.offered_products}
    names = dict(Product.objects.filter(pk__in=wanted).values_list("pk", "name")) if wanted else {}
    for member in members:
        member.offer_names = [names.get(pid, f"#{pid}") for pid in member.offered_products]
    return members


def customer_service_tasks(customer_id: int) -> list:
    """A customer's service tasks, open ones first, then by due date: one query."""
    return list(ServiceTask.objects.filter(customer_id=customer_id)
                .select_related("campaign", "assignee", "created_by")
                .annotate(closed=Case(When(status__in=ServiceTask.OPEN_STATUSES, then=Value(0)),
                                      default=Value(1), output_field=IntegerField()))
                .order_by("closed", "due_on", "pk"))


def campaigns_open_to(*, customer_id: int, user) -> tuple[list[Campaign], list[Campaign]]:
    """For the 360: (campaigns ``user`` may add the customer to, unlaunched campaigns that already
    include them by hand). One query; the include lists are JSON, checked in Python because
    SQLite cannot search inside JSON arrays."""
    if not user.has_perm("campaigns.view_campaign"):
        return [], []
    candidates = (Campaign.objects.exclude(status=Campaign.Status.FINISHED)
                  .exclude(members__customer_id=customer_id).order_by("-created_at", "-pk"))
    addable, included = [], []
    for campaign in candidates[:OPEN_CAMPAIGN_CHOICES]:
        if customer_id in (campaign.audience or {}).get("include_customers", []):
            included.append(campaign)
        elif can_change_campaign(user, campaign):
            addable.append(campaign)
    return addable, included


def service_task_queue(user, *, open_only: bool = True) -> QuerySet[ServiceTask]:
    """The service tasks ``user`` may see (their own, or every task for managers), by due date so
    overdue ones come first, with what a row shows in the same query: the task queue and My work."""
    tasks = ServiceTask.objects.restrict(user, "view").with_related().order_by("due_on", "pk")
    return tasks.open() if open_only else tasks


# How far back My work looks for complaints: older unanswered feedback is found through the
# customer list's "negative feedback in the last N days" filter, not kept on today's start page.
OPEN_COMPLAINT_DAYS = 90


def open_complaints(*, now: datetime | None = None, days: int = OPEN_COMPLAINT_DAYS) -> QuerySet[Customer]:
    """Customers with an open complaint, newest complaint first.

    A complaint is negative feedback (``Feedback.objects.negative()``: analysed as negative or
    rated 1-2 stars) from the last ``days`` days. It is open until a service task for the
    customer is closed (done, or the customer unreachable) after it; a later complaint opens it
    again. Each customer carries ``complaint_at``, ``complaint_text`` and ``complaint_reason`` of
    the latest complaint, and ``open_tasks``, the number of their open tasks. The customers are
    narrowed to recent complainers first, so the per-customer subqueries run only for those.
    """
    since = (now or timezone.now()) - timedelta(days=days)
    recent = Feedback.objects.negative().filter(created_at__gte=since)
    latest = recent.filter(customer=OuterRef("pk")).order_by("-created_at", "-pk")
    answered = ServiceTask.objects.filter(customer=OuterRef("pk"), closed_at__gte=OuterRef("complaint_at")).exclude(
        status__in=ServiceTask.OPEN_STATUSES)
    open_tasks = (ServiceTask.objects.open().filter(customer=OuterRef("pk")).order_by()
                  .values("customer").annotate(n=Count("pk")).values("n"))
    return (Customer.objects.live().filter(pk__in=recent.values("customer_id"))
            .annotate(complaint_at=Subquery(latest.values("created_at")[:1]),
                      complaint_text=Subquery(latest.values("text")[:1]),
                      complaint_reason=Subquery(latest.values("complaint_reason")[:1]))
            .exclude(Exists(answered))
            .annotate(open_tasks=Coalesce(Subquery(open_tasks, output_field=IntegerField()), 0))
            .order_by("-complaint_at", "pk"))
