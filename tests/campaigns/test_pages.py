"""Staff pages: who may see and do what, the live preview, and fixed query counts."""
from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from campaigns import services
from campaigns.models import Campaign, ServiceTask

from .conftest import make_customers

pytestmark = pytest.mark.django_db


def make_draft(user, **fields):
    values = {"name": "Spring", "objective": "win_back", "kind": "marketing", "frequency_cap_days": 0}
    values.update(fields)
    return services.campaign_create(created_by=user, fields=values, audience={"value_segments": ["high"]})


def form_data(**overrides):
    data = {"c-name": "Win back", "c-objective": "win_back", "c-kind": "marketing", "c-channel": "email",
            "c-discount_percent": "15", "c-coupon_pattern": "BACK-{code}", "c-recommend_products": "0",
            "c-cost_per_contact": "0.5", "c-attribution_days": "30", "c-task_due_days": "7",
            "c-frequency_cap_days": "14", "c-control_share": "0.1", "c-seed": "3",
            "a-rfm_segments": ["At Risk"], "a-churn_min": "0.2", "a-regions": "North, South"}
    data.update(overrides)
    return data


def test_login_is_required(client):
    response = client.get(reverse("campaigns:list"))
    assert response.status_code == 302 and "/login/" in response["Location"]


@pytest.mark.parametrize("role,status", [("Manager", 200), ("Sales", 200), ("Service", 403)])
def test_campaign_pages_by_role(client, role_user, customers, role, status):
    campaign = make_draft(role_user("Manager", "boss"))
    client.force_login(role_user(role))
    for name, args in (("list", []), ("detail", [campaign.pk]), ("playbooks", []), ("create", [])):
        assert client.get(reverse(f"campaigns:{name}", args=args)).status_code == status, name


@pytest.mark.parametrize("role,status", [("Manager", 200), ("Service", 200), ("Sales", 403)])
def test_task_queue_by_role(client, role_user, role, status):
    client.force_login(role_user(role))
    assert client.get(reverse("campaigns:tasks")).status_code == status


def test_sales_creates_and_launches_a_marketing_campaign(client, role_user, customers):
    client.force_login(role_user("Sales"))
    response = client.post(reverse("campaigns:create"), form_data())
    campaign = Campaign.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("campaigns:detail", args=[campaign.pk])
    assert campaign.audience == {"rfm_segments": ["At Risk"], "churn_min": 0.2, "regions": ["North", "South"]}
    assert campaign.discount_percent == Decimal("15")
    response = client.post(reverse("campaigns:launch", args=[campaign.pk]), follow=True)
    campaign.refresh_from_db()
    assert campaign.status == "running" and campaign.members.exists()
    assert "launched" in response.content.decode()
    # A launched campaign is no longer editable.
    response = client.post(reverse("campaigns:edit", args=[campaign.pk]), form_data(**{"c-name": "Changed"}))
    campaign.refresh_from_db()
    assert campaign.name == "Win back"


def test_bad_input_names_the_field(client, role_user):
    client.force_login(role_user("Sales"))
    response = client.post(reverse("campaigns:create"), form_data(**{
        "a-churn_min": "0.8", "a-churn_max": "0.2", "c-coupon_pattern": "NOCODE", "a-bought_any": "999"}))
    assert response.status_code == 200 and not Campaign.objects.exists()
    errors = response.context["audience_form"].errors
    assert "churn_max" in errors and "bought_any" in errors
    assert "coupon_pattern" in response.context["form"].errors


def test_sales_cannot_pick_a_service_campaign(client, role_user):
    client.force_login(role_user("Sales"))
    response = client.post(reverse("campaigns:create"), form_data(**{"c-kind": "service"}))
    assert response.status_code == 200 and "kind" in response.context["form"].errors
    assert not Campaign.objects.exists()


def test_live_preview(client, role_user, customers):
    client.force_login(role_user("Sales"))
    response = client.get(reverse("campaigns:preview"), {"a-value_segments": "high", "c-kind": "marketing"})
    high = [c for c in customers if c.value_segment == "high"]
    assert response.status_code == 200
    assert response.json()["size"] == len(high)
    assert response.json()["clv_total"] == pytest.approx(float(sum(c.clv_12m for c in high)))
    bad = client.get(reverse("campaigns:preview"), {"a-churn_min": "2"})
    assert bad.status_code == 400 and "churn_min" in bad.json()["errors"]


def test_results_page_csv_and_refresh(client, role_user, customers, django_capture_on_commit_callbacks):
    sales = role_user("Sales")
    campaign = services.campaign_launch(campaign_id=make_draft(sales, coupon_pattern="X-{code}").pk,
                                        launched_by=sales)
    client.force_login(sales)
    with django_capture_on_commit_callbacks(execute=True) as queued:
        response = client.post(reverse("campaigns:results_refresh", args=[campaign.pk]))
    assert response.status_code == 302 and len(queued) == 1
    response = client.get(response["Location"])
    campaign.refresh_from_db()
    assert campaign.results["treatment_members"] + campaign.results["control_members"] == 20
    # Refreshed on launch day, before anyone ordered: no uplift figures yet (issue 16.11).
    assert 'id="too-early"' in response.content.decode()
    assert 'id="uplift"' not in response.content.decode()
    csv_response = client.get(reverse("campaigns:results_csv", args=[campaign.pk]))
    lines = csv_response.content.decode().strip().splitlines()
    assert lines[0].startswith("customer_id,customer,group") and len(lines) == 21
    assert "@" not in csv_response.content.decode()  # no contact details


def test_list_and_queue_query_counts_do_not_grow(client, role_user):
    manager = role_user("Manager", "boss")
    agent = role_user("Service", "agent")
    make_customers(12)
    for _ in range(2):
        services.campaign_launch(campaign_id=make_draft(manager, kind="service").pk, launched_by=manager)
    client.force_login(agent)
    with CaptureQueriesContext(connection) as few:
        assert client.get(reverse("campaigns:tasks")).status_code == 200
    client.force_login(manager)
    with CaptureQueriesContext(connection) as few_campaigns:
        client.get(reverse("campaigns:list"))
    make_customers(30, start=100)
    for _ in range(3):
        services.campaign_launch(campaign_id=make_draft(manager, kind="service").pk, launched_by=manager)
    client.force_login(agent)
    with CaptureQueriesContext(connection) as many:
        response = client.get(reverse("campaigns:tasks"))
    assert len(response.context["page"].object_list) > 10
    assert len(many) == len(few)
    client.force_login(manager)
    with CaptureQueriesContext(connection) as many_campaigns:
        client.get(reverse("campaigns:list"))
    assert len(many_campaigns) == len(few_campaigns)


def test_service_user_works_own_tasks_only(client, role_user, customers):
    manager = role_user("Manager", "boss")
    agent, other = role_user("Service", "agent"), role_user("Service", "other")
    campaign = services.campaign_launch(campaign_id=make_draft(manager, kind="service").pk,
                                        launched_by=manager)
    mine = ServiceTask.objects.filter(campaign=campaign, assignee=agent).first()
    theirs = ServiceTask.objects.filter(campaign=campaign, assignee=other).first()
    client.force_login(agent)
    page = client.get(reverse("campaigns:tasks")).content.decode()
    assert f'id="task-{mine.pk}"' in page and f'id="task-{theirs.pk}"' not in page
    assert "+86" not in page  # no view_pii: no phone column
    client.post(reverse("campaigns:task_update", args=[mine.pk]), {"status": "done", "outcome": "Sorted"})
    mine.refresh_from_db()
    assert (mine.status, mine.outcome) == ("done", "Sorted")
    response = client.post(reverse("campaigns:task_update", args=[theirs.pk]), {"status": "done"})
    assert response.status_code == 404
    theirs.refresh_from_db()
    assert theirs.status == "open"
