"""Campaign writes shared by the staff pages, the API, the admin and the Celery task."""
from __future__ import annotations

import string
from datetime import date, timedelta
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone
from django.utils.crypto import get_random_string
from django.utils.translation import gettext as _

from analytics.models import AssociationRule, Recommendation
from customers.models import Customer, InteractionKind
from customers.roles import SERVICE
from customers.services import interaction_log
from webhooks.events import campaign_finished

from . import delivery, uplift
from .models import Campaign, CampaignMember, MessageTemplate, ServiceTask
from .permissions import can_add_task, can_change_task, can_manage_campaign
from .selectors import (
    SNAPSHOT_FIELDS,
    STRATIFY_BY,
    audience_breakdown,
    campaign_audience_stages,
    member_outcomes,
)

# Rows per INSERT: well under SQLite's bound-parameter limit (about 10 columns x 1,000 rows).
BULK_BATCH = 1_000
CALL_LIST_CHANNELS = (Campaign.Channel.PHONE, Campaign.Channel.IN_STORE)
# Coupon codes: no 0/O or 1/I, so a code read out on the phone is typed right.
COUPON_ALPHABET = "".join(c for c in string.ascii_uppercase + string.digits if c not in "01OI")
COUPON_LENGTH = 8
EDITABLE_FIELDS = (
    "name", "objective", "kind", "channel", "starts_on", "ends_on", "discount_percent",
    "coupon_pattern", "recommend_products", "bundle", "cost_per_contact", "attribution_days",
    "task_due_days", "frequency_cap_days", "control_share", "seed",
)


class CampaignError(ValidationError):
    """A campaign cannot do what was asked (launch twice, results before launch...)."""


def _check_kind_allowed(user, kind: str) -> None:
    if not can_manage_campaign(user, kind):
        raise PermissionDenied(_("Only managers create and launch service campaigns."))


def _apply(campaign: Campaign, fields: dict, audience: dict | None) -> list[str]:
    changed = []
    for name, value in fields.items():
        if name not in EDITABLE_FIELDS:
            raise ValueError(f"{name} is not an editable campaign field")
        setattr(campaign, name, value)
        changed.append(name)
    if "bundle" in fields:
        rule: AssociationRule | None = fields["bundle"]
        campaign.bundle_products = [int(p) for p in rule.consequents] if rule else []
        changed.append("bundle_products")
    if audience is not None:
        campaign.audience = audience
        changed.append("audience")
    campaign.full_clean()
    return changed


@transaction.atomic
def campaign_create(*, created_by, fields: dict, audience: dict, playbook: str = "") -> Campaign:
    """A new draft. ``fields`` and ``audience`` come validated from a form or serializer."""
    campaign = Campaign(created_by=created_by, playbook=playbook)
    _apply(campaign, fields, audience)
    _check_kind_allowed(created_by, campaign.kind)
    campaign.save()
    return campaign


@transaction.atomic
def campaign_update(*, campaign_id: int, actor, fields: dict, audience: dict | None = None) -> Campaign:
    """Change a campaign that has not been launched yet."""
    campaign = Campaign.objects.select_for_update().get(pk=campaign_id)
    if not campaign.is_editable:
        raise CampaignError(_("A launched campaign cannot be changed."), code="not_editable")
    _check_kind_allowed(actor, campaign.kind)
    changed = _apply(campaign, fields, audience)
    _check_kind_allowed(actor, campaign.kind)
    campaign.save(update_fields=changed)
    return campaign


def _snapshot(values: tuple) -> dict:
    snapshot = {}
    for name, value in zip(SNAPSHOT_FIELDS, values):
        snapshot[name] = float(value) if isinstance(value, Decimal) else value
    return snapshot


def _coupon_codes(pattern: str, count: int) -> list[str]:
    """``count`` codes unique among themselves and against every code already issued."""
    codes: set[str] = set()
    while len(codes) < count:
        fresh = {pattern.replace("{code}", get_random_string(COUPON_LENGTH, COUPON_ALPHABET))
                 for _ in range(count - len(codes))} - codes
        # A clash with an earlier campaign's code is rare (32^8 codes); drop and redraw those.
        for start in range(0, len(fresh), BULK_BATCH):
            batch = sorted(fresh)[start:start + BULK_BATCH]
            fresh -= set(CampaignMember.objects.filter(coupon_code__in=batch)
                         .values_list("coupon_code", flat=True))
        codes |= fresh
    return sorted(codes)


def _service_assignees() -> list:
    return list(get_user_model().objects.filter(groups__name=SERVICE, is_active=True)
                .order_by("pk").distinct())


@transaction.atomic
def campaign_launch(*, campaign_id: int, launched_by) -> Campaign:
    """Freeze the audience into members, hold out the control group and hand out the offers.

    The row lock makes a double click (or the page and the API at once) launch only once. The
    whole launch is one transaction: a failure leaves a draft with no members.

    The audience is :func:`campaigns.selectors.campaign_audience_stages`'s, as the preview and the
    confirmation page counted it; how many each rule left out is kept in ``campaign.exclusions``. ``launched_by=None`` is the scheduler
    launching a campaign a permitted user scheduled (:func:`campaign_schedule`). E-mail and SMS
    messages are queued for the treated members and sent by a worker once the launch commits.
    """
    campaign = Campaign.objects.select_for_update().get(pk=campaign_id)
    if not campaign.is_editable:
        raise CampaignError(_("This campaign has already been launched."), code="launched")
    if launched_by is not None:
        _check_kind_allowed(launched_by, campaign.kind)
    now = timezone.now()
    # The same stages the preview and the confirmation page counted, so launch makes a member of
    # every customer they showed (and of nobody else).
    stages = campaign_audience_stages(campaign, now=now)
    campaign.exclusions = audience_breakdown(filters=campaign.audience, kind=campaign.kind,
                                             stages=stages)["removed"]
    customers = stages[-1][1]
    rows = list(customers.order_by("pk").values_list("pk", *SNAPSHOT_FIELDS))
    if not rows:
        raise CampaignError(_("The audience is empty: widen the filters before launching."),
                            code="empty_audience")
    stratum_at = SNAPSHOT_FIELDS.index(STRATIFY_BY) + 1
    control = uplift.assign_control([r[0] for r in rows], [r[stratum_at] for r in rows],
                                    share=float(campaign.control_share), seed=campaign.seed)
    treated = [r[0] for r in rows if r[0] not in control]

    marketing = campaign.kind == Campaign.Kind.MARKETING
    offers: dict[int, list[int]] = {}
    if marketing and campaign.bundle_products:
        offers = dict.fromkeys(treated, list(campaign.bundle_products))
    elif marketing and campaign.recommend_products:
        recommended = (Recommendation.objects
                       .filter(customer_id__in=customers.values("pk"), rank__lte=campaign.recommend_products)
                       .order_by("customer_id", "rank").values_list("customer_id", "product_id"))
        for customer_id, product_id in recommended:
            offers.setdefault(customer_id, []).append(product_id)
    coupons = iter(_coupon_codes(campaign.coupon_pattern, len(treated))
                   if marketing and campaign.coupon_pattern else [])

    members = []
    for pk, *scores in rows:
        is_control = pk in control
        members.append(CampaignMember(
            campaign=campaign, customer_id=pk, stratum=scores[stratum_at - 1] or "",
            group=CampaignMember.Group.CONTROL if is_control else CampaignMember.Group.TREATMENT,
            scores=_snapshot(scores),
            coupon_code=None if is_control else next(coupons, None),
            offered_products=[] if is_control else offers.get(pk, [])))
    CampaignMember.objects.bulk_create(members, batch_size=BULK_BATCH)
    queued = delivery.messages_create(campaign=campaign, members=members)

    # Phone and in-store marketing campaigns become call lists: a service task per treated member.
    if campaign.kind == Campaign.Kind.SERVICE or campaign.channel in CALL_LIST_CHANNELS:
        assignees = _service_assignees()
        if not assignees:
            raise CampaignError(_("No active user is in the Service group to take the tasks."),
                                code="no_assignees")
        due_on = (now + timedelta(days=campaign.task_due_days)).date()
        treated_members = [m for m in members if m.group == CampaignMember.Group.TREATMENT]
        ServiceTask.objects.bulk_create([
            ServiceTask(campaign=campaign, member=member, customer_id=member.customer_id,
                        assignee=assignees[i % len(assignees)], due_on=due_on,
                        note=_call_note(campaign, member))
            for i, member in enumerate(treated_members)
        ], batch_size=BULK_BATCH)

    campaign.status = Campaign.Status.RUNNING
    campaign.launched_at = now
    campaign.launched_by = launched_by
    campaign.save(update_fields=["status", "launched_at", "launched_by", "exclusions"])
    if queued:
        # After commit: the worker must find the members and messages this transaction wrote.
        transaction.on_commit(lambda: _send_task().delay(campaign.pk))
    return campaign


def _call_note(campaign: Campaign, member: CampaignMember) -> str:
    """What the caller offers a marketing call-list member: the campaign and the coupon."""
    if campaign.kind != Campaign.Kind.MARKETING:
        return ""
    if member.coupon_code:
        return _("%(campaign)s: offer coupon %(coupon)s (%(discount)s %% off).") % {
            "campaign": campaign.name, "coupon": member.coupon_code, "discount": campaign.discount_percent}
    return _("%(campaign)s: present the offer.") % {"campaign": campaign.name}


def _send_task():
    from .tasks import campaign_send  # tasks import this module; resolved at call time

    return campaign_send


@transaction.atomic
def campaign_schedule(*, campaign_id: int, actor) -> Campaign:
    """Let the scheduler launch the campaign on its start date (or back to draft if scheduled)."""
    campaign = Campaign.objects.select_for_update().get(pk=campaign_id)
    if not campaign.is_editable:
        raise CampaignError(_("This campaign has already been launched."), code="launched")
    _check_kind_allowed(actor, campaign.kind)
    if campaign.status == Campaign.Status.SCHEDULED:
        campaign.status = Campaign.Status.DRAFT
    else:
        if campaign.starts_on is None:
            raise ValidationError({"starts_on": _("Set a start date to schedule the campaign.")})
        campaign.status = Campaign.Status.SCHEDULED
    campaign.save(update_fields=["status"])
    return campaign


def campaign_schedule_tick(*, now=None) -> dict[str, list[int]]:
    """The periodic job: launch scheduled campaigns whose start date has come, and refresh (and
    so finish, firing ``campaign.finished``) running campaigns whose attribution window has closed.
    Each campaign in its own transaction; one that cannot launch (empty audience) stays scheduled
    and is tried again at the next tick."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    launched, finished, failed = [], [], []
    for campaign_id in Campaign.objects.filter(status=Campaign.Status.SCHEDULED, starts_on__lte=today) \
            .values_list("pk", flat=True):
        try:
            campaign_launch(campaign_id=campaign_id, launched_by=None)
        except ValidationError:
            failed.append(campaign_id)
        else:
            launched.append(campaign_id)
    for campaign in Campaign.objects.filter(status=Campaign.Status.RUNNING, launched_at__isnull=False) \
            .only("pk", "launched_at", "attribution_days"):
        if campaign.launched_at + timedelta(days=campaign.attribution_days) <= now:
            campaign_results_refresh(campaign_id=campaign.pk, now=now)
            finished.append(campaign.pk)
    return {"launched": launched, "finished": finished, "failed": failed}


@transaction.atomic
def campaign_results_refresh(*, campaign_id: int, now=None) -> Campaign:
    """Measure conversions and revenue in the attribution window, treatment against control.

    Safe to run any number of times: it recomputes from the orders and overwrites the stored
    results. Once the window has closed the campaign is marked finished.
    """
    campaign = Campaign.objects.select_for_update().get(pk=campaign_id)
    if campaign.launched_at is None:
        raise CampaignError(_("The campaign has not been launched yet."), code="not_launched")
    now = now or timezone.now()
    totals = {group: [0, 0, Decimal("0")] for group in CampaignMember.Group.values}
    # Members added by hand after launch were not randomised: measured apart, never in the uplift.
    outcomes = member_outcomes(campaign)
    for group, orders, revenue in outcomes.filter(added_by_hand=False).values_list(
            "group", "window_orders", "window_revenue"):
        total = totals[group]
        total[0] += 1
        total[1] += 1 if orders else 0
        total[2] += revenue or Decimal("0")
    outcome = {group: uplift.GroupOutcome(members=n, converters=c, revenue=float(r))
               for group, (n, c, r) in totals.items()}
    result = uplift.campaign_uplift(
        treatment=outcome[CampaignMember.Group.TREATMENT], control=outcome[CampaignMember.Group.CONTROL],
        discount_percent=(float(campaign.discount_percent)
                          if campaign.kind == Campaign.Kind.MARKETING else 0.0),
        cost_per_contact=float(campaign.cost_per_contact))
    window_end = campaign.launched_at + timedelta(days=campaign.attribution_days)
    campaign.results = {**result.as_dict(), "window_end": window_end.isoformat(),
                        "window_closed": now >= window_end,
                        "added_by_hand": outcomes.filter(added_by_hand=True).count()}
    campaign.results_updated_at = now
    fields = ["results", "results_updated_at"]
    if now >= window_end and campaign.status == Campaign.Status.RUNNING:
        campaign.status = Campaign.Status.FINISHED
        fields.append("status")
    campaign.save(update_fields=fields)
    if "status" in fields:
        _emit_finished(campaign, now)
    return campaign


def _emit_finished(campaign: Campaign, now) -> None:
    """``campaign.finished`` for webhook receivers: the campaign's facts and results, no customers."""
    campaign_finished(campaign={
        "id": campaign.pk, "name": campaign.name, "objective": campaign.objective, "kind": campaign.kind,
        "channel": campaign.channel, "launched_at": campaign.launched_at, "finished_at": now,
        "attribution_days": campaign.attribution_days,
    }, results=campaign.results)


@transaction.atomic
def service_task_update(*, task_id: int, actor, status: str, outcome: str | None = None) -> ServiceTask:
    """Move a service task along its workflow; closing it logs the call on the customer."""
    task = ServiceTask.objects.select_for_update().select_related("customer").get(pk=task_id)
    if not can_change_task(actor, task):
        raise PermissionDenied(_("This task is assigned to someone else."))
    fields = []
    if status != task.status:
        if status not in ServiceTask.TRANSITIONS.get(task.status, set()):
            raise ValidationError({"status": _("A task cannot go from %(old)s to %(new)s.") % {
                "old": task.get_status_display(), "new": status}})
        task.status = status
        fields.append("status")
        closed = status in (ServiceTask.Status.DONE, ServiceTask.Status.UNREACHABLE)
        task.closed_at = timezone.now() if closed else None
        fields.append("closed_at")
    if outcome is not None and outcome != task.outcome:
        task.outcome = outcome
        fields.append("outcome")
    if fields:
        task.save(update_fields=[*fields, "updated_at"])
        if "status" in fields and task.closed_at:
            interaction_log(customer=task.customer, staff=actor, kind=InteractionKind.CALL,
                            outcome=task.get_status_display()[:200], note=task.outcome)
    return task


def service_assignees():
    """Who may be given a service task: active members of the Service group."""
    return (get_user_model().objects.filter(groups__name=SERVICE, is_active=True)
            .order_by("username").distinct())


@transaction.atomic
def service_task_create(*, customer_id: int, actor, assignee_id: int, due_on: date,
                        note: str) -> ServiceTask:
    """A task a person creates for one customer (from the customer 360), outside any campaign.

    It has no campaign and no member, so it never counts in a campaign's treatment or control.
    """
    if not can_add_task(actor):
        raise PermissionDenied(_("Your role cannot create service tasks."))
    errors = {}
    customer = Customer.objects.live().filter(pk=customer_id).first()
    if customer is None:
        errors["customer"] = _("This customer does not exist or was merged into another record.")
    assignee = service_assignees().filter(pk=assignee_id).first()
    if assignee is None:
        errors["assignee"] = _("Choose an active member of the Service team.")
    if due_on < timezone.localdate():
        errors["due_on"] = _("The due date must not be in the past.")
    if not note.strip():
        errors["note"] = _("Say what should be done.")
    if errors:
        raise ValidationError(errors)
    task = ServiceTask(customer=customer, assignee=assignee, due_on=due_on, note=note.strip(),
                       created_by=actor)
    task.full_clean()
    task.save()
    return task


@transaction.atomic
def campaign_member_add(*, campaign_id: int, customer_id: int, actor) -> Campaign | CampaignMember:
    """Add one customer to a campaign by hand, without spoiling its uplift measurement.

    - A draft or scheduled campaign gets the customer as an explicit include in its audience
      (``include_customers``). At launch they go through the same random draw as everyone else,
      so they may land in the control group; the comparison stays randomised and honest.
    - A running campaign has already drawn its groups. The customer becomes a treated member
      flagged ``added_by_hand`` (with a coupon, offer or service task like the others), and the
      results leave such members out: a person chose them, so they are not comparable with the
      control group.
    - A finished campaign is a closed record and takes nobody.

    Marketing consent is required for marketing campaigns either way. Returns the campaign (draft)
    or the new member (running).
    """
    campaign = Campaign.objects.select_for_update().get(pk=campaign_id)
    if not actor.has_perm("campaigns.change_campaign"):
        raise PermissionDenied(_("Your role cannot change campaigns."))
    _check_kind_allowed(actor, campaign.kind)
    customer = Customer.objects.live().filter(pk=customer_id).first()
    if customer is None:
        raise ValidationError({"customer": _(
            "This customer does not exist or was merged into another record.")})
    if campaign.kind == Campaign.Kind.MARKETING and not customer.marketing_consent:
        raise CampaignError(_("%(name)s has not given marketing consent.") % {"name": customer.name},
                            code="no_consent")
    if campaign.status == Campaign.Status.FINISHED:
        raise CampaignError(_("A finished campaign takes no new members."), code="finished")

    if campaign.is_editable:
        included = list(campaign.audience.get("include_customers", []))
        if customer.pk in included:
            raise CampaignError(_("%(name)s is already included in this campaign.") % {
                "name": customer.name}, code="already_member")
        campaign.audience = {**campaign.audience, "include_customers": [*included, customer.pk]}
        campaign.save(update_fields=["audience"])
        return campaign

    if campaign.members.filter(customer=customer).exists():
        raise CampaignError(_("%(name)s is already in this campaign.") % {"name": customer.name},
                            code="already_member")
    scores = Customer.objects.filter(pk=customer.pk).values_list(*SNAPSHOT_FIELDS).get()
    marketing = campaign.kind == Campaign.Kind.MARKETING
    offered: list[int] = []
    if marketing and campaign.bundle_products:
        offered = list(campaign.bundle_products)
    elif marketing and campaign.recommend_products:
        offered = list(Recommendation.objects.filter(
            customer=customer, rank__lte=campaign.recommend_products)
            .order_by("rank").values_list("product_id", flat=True))
    coupon = (_coupon_codes(campaign.coupon_pattern, 1)[0]
              if marketing and campaign.coupon_pattern else None)
    member = CampaignMember(
        campaign=campaign, customer=customer, group=CampaignMember.Group.TREATMENT,
        stratum=scores[SNAPSHOT_FIELDS.index(STRATIFY_BY)] or "", scores=_snapshot(scores),
        coupon_code=coupon, offered_products=offered, added_by_hand=True, added_by=actor)
    member.save()
    if campaign.kind == Campaign.Kind.SERVICE:
        assignee = _least_busy_assignee()
        if assignee is None:
            raise CampaignError(_("No active user is in the Service group to take the tasks."),
                                code="no_assignees")
        ServiceTask.objects.create(
            campaign=campaign, member=member, customer=customer, assignee=assignee,
            due_on=timezone.localdate() + timedelta(days=campaign.task_due_days))
    return member


def _least_busy_assignee():
    """The Service user with the fewest open tasks (ties by username), for a task added late."""
    return (service_assignees()
            .annotate(open_tasks=Count("service_tasks", filter=Q(
                service_tasks__status__in=ServiceTask.OPEN_STATUSES)))
            .order_by("open_tasks", "username").first())


def campaign_create_from_playbook(*, key: str, created_by) -> Campaign:
    """A draft from a playbook, named after it and dated, for the user to review and launch."""
    from .playbooks import playbook_get

    playbook = playbook_get(key)
    if playbook is None:
        raise ValidationError({"playbook": _("Unknown playbook %(key)s.") % {"key": key}})
    if not playbook.available:
        raise CampaignError(str(playbook.reason_unavailable), code="unavailable")
    name = f"{playbook.name} {timezone.localdate():%Y-%m-%d}"
    return campaign_create(created_by=created_by, fields={"name": name, **playbook.fields},
                           audience=dict(playbook.audience), playbook=key)


def campaign_results_refresh_running(*, now=None) -> list[int]:
    """Refresh every running campaign (the periodic job); each in its own transaction, so one
    failing campaign does not hold back the others."""
    ids = list(Campaign.objects.filter(status=Campaign.Status.RUNNING).values_list("pk", flat=True))
    for campaign_id in ids:
        campaign_results_refresh(campaign_id=campaign_id, now=now)
    return ids


@transaction.atomic
def message_template_save(*, campaign_id: int, actor, language: str, subject: str, body_text: str,
                          body_html: str = "") -> MessageTemplate | None:
    """Set (or, with an empty subject and body, remove) the campaign's message in one language."""
    campaign = Campaign.objects.select_for_update().get(pk=campaign_id)
    if not campaign.is_editable:
        raise CampaignError(_("A launched campaign cannot be changed."), code="not_editable")
    _check_kind_allowed(actor, campaign.kind)
    existing = MessageTemplate.objects.filter(campaign=campaign, language=language).first()
    if not subject.strip() and not body_text.strip() and not body_html.strip():
        if existing:
            existing.delete()
        return None
    template = existing or MessageTemplate(campaign=campaign, language=language)
    template.subject, template.body_text, template.body_html = subject.strip(), body_text, body_html
    template.full_clean()
    if existing:
        template.save(update_fields=["subject", "body_text", "body_html"])
    else:
        template.save()
    return template
