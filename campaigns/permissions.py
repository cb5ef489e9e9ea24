"""Who may do what with campaigns and service tasks: one policy, called by every door (services,
forms, serializers, pages, the API, the customer 360's panel).

The queryset form of the same rules is ``Campaign.objects.restrict(user, action)`` and
``ServiceTask.objects.restrict(user, action)``; these functions answer for one object or kind.
"""

from __future__ import annotations

from .models import (
    MANAGE_SERVICE_CAMPAIGN,
    VIEW_ALL_SERVICE_TASKS,
    Campaign,
    ServiceTask,
)


def can_manage_campaign(user, campaign_or_kind: Campaign | str) -> bool:
    """Service campaigns (calls by the Service team) need ``campaigns.manage_service_campaign`` to
    be created, changed or launched; marketing campaigns need no more than the model permission."""
    kind = getattr(campaign_or_kind, "kind", campaign_or_kind)
    return kind != Campaign.Kind.SERVICE or user.has_perm(MANAGE_SERVICE_CAMPAIGN)


def can_change_campaign(user, campaign_or_kind: Campaign | str) -> bool:
    return user.has_perm("campaigns.change_campaign") and can_manage_campaign(user, campaign_or_kind)


def can_add_campaign(user, campaign_or_kind: Campaign | str) -> bool:
    return user.has_perm("campaigns.add_campaign") and can_manage_campaign(user, campaign_or_kind)


def campaign_kinds(user) -> list[tuple[str, str]]:
    """The kinds of campaign this user may create, as form choices."""
    return [(kind, label) for kind, label in Campaign.Kind.choices if can_manage_campaign(user, kind)]


def can_view_members(user) -> bool:
    return user.has_perm("campaigns.view_campaignmember")


def can_view_all_tasks(user) -> bool:
    """Managers see every service task; the Service team sees the tasks assigned to them."""
    return user.has_perm(VIEW_ALL_SERVICE_TASKS)


def can_change_task(user, task: ServiceTask) -> bool:
    return user.has_perm("campaigns.change_servicetask") and (
        task.assignee_id == user.pk or can_view_all_tasks(user))


def can_add_task(user) -> bool:
    return user.has_perm("campaigns.add_servicetask")


def starts_at_my_work(user) -> bool:
    """Service staff start their day at My work (their tasks and the open complaints) instead of
    the dashboard. Told by permissions, which every page has loaded already, rather than by a
    group query: the Service role works service tasks but runs no campaigns; managers, who do
    both, and sales, who run campaigns, start at the dashboard."""
    return user.has_perm("campaigns.view_servicetask") and not user.has_perm("campaigns.view_campaign")
