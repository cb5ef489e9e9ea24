"""The campaign side of the customer 360: campaign history, service tasks and the two actions.

customers/ must not import campaigns/, so the 360 template loads this library instead and the
panel renders here, from campaign selectors, with forms that post to campaign views. Each section
is shown only to users whose role may see it; each action only to users who may perform it (the
views refuse the others with 403).
"""
from __future__ import annotations

from datetime import timedelta

from django import template
from django.utils import timezone

from ..forms import CampaignAddForm, ServiceTaskCreateForm
from ..permissions import can_add_task
from ..selectors import campaigns_open_to, customer_campaign_history, customer_service_tasks

register = template.Library()

# A hand-made task is due in this many days unless the user picks another date.
DEFAULT_TASK_DUE_DAYS = 3


@register.inclusion_tag("campaigns/_customer_panel.html", takes_context=True)
def customer_campaign_panel(context, customer) -> dict:
    user = context["request"].user
    may_see_campaigns = user.has_perm("campaigns.view_campaign")
    may_see_tasks = user.has_perm("campaigns.view_servicetask")
    may_add_task = can_add_task(user) and not customer.merged_into_id
    addable, included = ([], [])
    if may_see_campaigns:
        addable, included = campaigns_open_to(customer_id=customer.pk, user=user)
    task_form = None
    if may_add_task:
        task_form = ServiceTaskCreateForm(initial={
            "due_on": timezone.localdate() + timedelta(days=DEFAULT_TASK_DUE_DAYS),
            "assignee": user.pk})
    add_form = None
    if addable and not customer.merged_into_id:
        add_form = CampaignAddForm()
        add_form.fields["campaign"].choices = [
            (c.pk, f"{c.name} ({c.get_status_display()})") for c in addable]
    return {
        "customer": customer,
        "csrf_token": context.get("csrf_token"),
        "may_see_campaigns": may_see_campaigns,
        "may_see_tasks": may_see_tasks,
        "memberships": customer_campaign_history(customer.pk) if may_see_campaigns else [],
        "included": included,
        "tasks": customer_service_tasks(customer.pk) if may_see_tasks else [],
        "task_form": task_form,
        "add_form": add_form,
    }
