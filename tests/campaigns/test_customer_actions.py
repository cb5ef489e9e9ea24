"""The campaign side of the customer 360: hand-made service tasks, adding a customer to a
campaign without spoiling its uplift, and the panel the 360 page shows, per role."""
from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from campaigns import services
from campaigns.models import Campaign, CampaignMember, ServiceTask
from tests.factories import OrderFactory, ServiceTaskFactory

from .conftest import make_customers

pytestmark = pytest.mark.django_db


def draft(user, **fields) -> Campaign:
    values = {"name": "Spring", "objective": "win_back", "kind": "marketing", "frequency_cap_days": 0,
              "control_share": Decimal("0.5"), "seed": 7}
    values.update(fields)
    audience = values.pop("audience", {"value_segments": ["high"]})
    return services.campaign_create(created_by=user, fields=values, audience=audience)


def detail_url(customer) -> str:
    return reverse("customers:detail", args=[customer.pk])


# --- service tasks created by hand -------------------------------------------------------------

def test_service_creates_a_task_by_hand_that_the_queue_and_api_show(client, role_user, customers):
    agent, colleague = role_user("Service", "agent"), role_user("Service", "colleague")
    customer = customers[0]
    due = timezone.localdate() + timedelta(days=2)
    client.force_login(agent)
    response = client.post(reverse("campaigns:customer_task_create", args=[customer.pk]),
                           {"assignee": colleague.pk, "due_on": due.isoformat(),
                            "note": "Call about the refund"})
    assert response.status_code == 302 and response["Location"] == detail_url(customer) + "#service-tasks"
    task = ServiceTask.objects.get()
    assert (task.customer, task.assignee, task.created_by, task.due_on) == (customer, colleague, agent, due)
    assert task.campaign is None and task.member is None and task.note == "Call about the refund"
    assert task.status == "open"

    # The colleague finds it in the queue, marked as made by hand, and works it as usual.
    client.force_login(colleague)
    queue = client.get(reverse("campaigns:tasks")).content.decode()
    assert f'id="task-{task.pk}"' in queue and "Created by hand (agent)" in queue
    assert "Call about the refund" in queue
    client.post(reverse("campaigns:task_update", args=[task.pk]), {"status": "done", "outcome": "Refunded"})
    task.refresh_from_db()
    assert task.status == "done" and task.closed_at is not None

    from rest_framework.test import APIClient

    api = APIClient()
    api.force_authenticate(colleague)
    row = api.get("/api/service-tasks/").json()["results"][0]
    assert row["campaign"] is None and row["campaign_name"] is None
    assert row["note"] == "Call about the refund" and row["created_by"] == "agent"


@pytest.mark.parametrize("data,field", [
    ({"due_on": "2000-01-01"}, "due_on"),
    ({"note": "   "}, "What to do"),
    ({"due_on": "not a date"}, "Due"),
    ({"assignee": "999999"}, "Assign to"),
])
def test_bad_task_input_names_the_field_and_saves_nothing(client, role_user, customers, data, field):
    agent = role_user("Service", "agent")
    client.force_login(agent)
    payload = {"assignee": agent.pk, "due_on": timezone.localdate().isoformat(), "note": "Call back"}
    payload.update(data)
    response = client.post(reverse("campaigns:customer_task_create", args=[customers[0].pk]), payload,
                           follow=True)
    assert response.status_code == 200 and not ServiceTask.objects.exists()
    errors = [str(m) for m in response.context["messages"]]
    assert len(errors) == 1 and errors[0].startswith("The task was not created.")
    if field == "due_on":  # refused by the service, with its own reason
        assert "The due date must not be in the past." in errors[0]
    else:
        assert field in errors[0]


def test_task_service_refuses_an_assignee_outside_the_service_team(role_user, customers):
    manager, sales = role_user("Manager", "boss"), role_user("Sales")
    with pytest.raises(ValidationError) as error:
        services.service_task_create(customer_id=customers[0].pk, actor=manager, assignee_id=sales.pk,
                                     due_on=timezone.localdate(), note="x")
    assert set(error.value.message_dict) == {"assignee"}
    with pytest.raises(PermissionDenied):
        services.service_task_create(customer_id=customers[0].pk, actor=sales, assignee_id=manager.pk,
                                     due_on=timezone.localdate(), note="x")


def test_sales_may_not_create_tasks(client, role_user, customers):
    agent = role_user("Service", "agent")
    client.force_login(role_user("Sales"))
    response = client.post(reverse("campaigns:customer_task_create", args=[customers[0].pk]),
                           {"assignee": agent.pk, "due_on": timezone.localdate().isoformat(), "note": "x"})
    assert response.status_code == 403 and not ServiceTask.objects.exists()


def test_a_campaign_task_still_needs_both_campaign_and_member(role_user, customers):
    from django.db import IntegrityError, transaction

    manager = role_user("Manager", "boss")
    campaign = draft(manager)
    with pytest.raises(IntegrityError), transaction.atomic():
        ServiceTask.objects.create(campaign=campaign, customer=customers[0], due_on=timezone.localdate())


# --- adding a customer to a campaign ----------------------------------------------------------

def test_adding_to_a_draft_includes_the_customer_in_the_random_draw(role_user, customers):
    sales = role_user("Sales")
    campaign = draft(sales)  # high value segment only
    outsider = next(c for c in customers if c.value_segment == "low")
    added = services.campaign_member_add(campaign_id=campaign.pk, customer_id=outsider.pk, actor=sales)
    assert added == campaign
    campaign.refresh_from_db()
    assert campaign.audience == {"value_segments": ["high"], "include_customers": [outsider.pk]}
    with pytest.raises(ValidationError, match="already included"):
        services.campaign_member_add(campaign_id=campaign.pk, customer_id=outsider.pk, actor=sales)
    campaign = services.campaign_launch(campaign_id=campaign.pk, launched_by=sales)
    member = campaign.members.get(customer=outsider)
    # Drawn like anyone: not flagged, counted in the results, in whichever group the seed put them.
    assert member.added_by_hand is False
    assert campaign.members.count() == 21
    assert member.stratum == "low"


def test_include_survives_editing_the_campaign_on_its_page(client, role_user, customers):
    sales = role_user("Sales")
    campaign = draft(sales)
    services.campaign_member_add(campaign_id=campaign.pk, customer_id=customers[1].pk, actor=sales)
    client.force_login(sales)
    html = client.get(reverse("campaigns:edit", args=[campaign.pk])).content.decode()
    assert f'name="a-include_customers" value="{customers[1].pk}"' in html
    from tests.campaigns.test_pages import form_data

    response = client.post(reverse("campaigns:edit", args=[campaign.pk]), form_data(**{
        "a-include_customers": str(customers[1].pk)}))
    assert response.status_code == 302
    campaign.refresh_from_db()
    assert campaign.audience["include_customers"] == [customers[1].pk]
    bad = client.post(reverse("campaigns:edit", args=[campaign.pk]), form_data(**{
        "a-include_customers": "999999"}))
    assert "include_customers" in bad.context["audience_form"].errors


def test_adding_to_a_running_campaign_treats_the_customer_outside_the_measurement(role_user, customers):
    sales = role_user("Sales")
    campaign = services.campaign_launch(campaign_id=draft(sales, coupon_pattern="S-{code}").pk,
                                        launched_by=sales)
    outsider = next(c for c in customers if c.value_segment == "low")
    member = services.campaign_member_add(campaign_id=campaign.pk, customer_id=outsider.pk, actor=sales)
    assert isinstance(member, CampaignMember)
    assert (member.group, member.added_by_hand, member.added_by) == ("treatment", True, sales)
    assert member.coupon_code.startswith("S-") and member.scores["value_segment"] == "low"
    with pytest.raises(ValidationError, match="already in this campaign"):
        services.campaign_member_add(campaign_id=campaign.pk, customer_id=outsider.pk, actor=sales)

    # The hand-added customer buys at once; the measured groups do not. Their order must not
    # show up as uplift.
    OrderFactory(customer=outsider, ordered_at=campaign.launched_at + timedelta(days=1),
                 total_amount=Decimal("80"))
    results = services.campaign_results_refresh(campaign_id=campaign.pk).results
    drawn = campaign.members.filter(added_by_hand=False)
    assert results["treatment_members"] == drawn.filter(group="treatment").count() == 10
    assert results["control_members"] == 10
    assert results["treatment_converters"] == 0 and results["absolute_uplift"] == 0
    assert results["added_by_hand"] == 1


def test_adding_to_a_running_service_campaign_gives_the_least_busy_agent_a_task(role_user, customers):
    manager = role_user("Manager", "boss")
    busy, free = role_user("Service", "a-busy"), role_user("Service", "b-free")
    campaign = draft(manager, kind="service", control_share=Decimal("0.9"))
    campaign = services.campaign_launch(campaign_id=campaign.pk, launched_by=manager)
    # Launch split two tasks between them; give the first one more.
    ServiceTaskFactory(customer=customers[5], assignee=busy, due_on=timezone.localdate(),
                       created_by=manager, note="extra")
    outsider = next(c for c in customers if c.value_segment == "low")
    member = services.campaign_member_add(campaign_id=campaign.pk, customer_id=outsider.pk, actor=manager)
    task = member.task
    assert task.assignee == free and task.campaign == campaign
    assert task.due_on == timezone.localdate() + timedelta(days=campaign.task_due_days)


def test_adding_respects_consent_finished_campaigns_and_roles(role_user, customers):
    sales = role_user("Sales")
    no_consent = make_customers(1, start=500, consent=False)[0]
    campaign = draft(sales)
    with pytest.raises(ValidationError, match="marketing consent"):
        services.campaign_member_add(campaign_id=campaign.pk, customer_id=no_consent.pk, actor=sales)
    Campaign.objects.filter(pk=campaign.pk).update(status="finished")
    with pytest.raises(ValidationError, match="finished"):
        services.campaign_member_add(campaign_id=campaign.pk, customer_id=customers[0].pk, actor=sales)
    service_campaign = draft(role_user("Manager", "boss"), kind="service")
    with pytest.raises(PermissionDenied):
        services.campaign_member_add(campaign_id=service_campaign.pk, customer_id=customers[0].pk,
                                     actor=sales)
    with pytest.raises(PermissionDenied):
        services.campaign_member_add(campaign_id=campaign.pk, customer_id=customers[0].pk,
                                     actor=role_user("Service"))


def test_add_view_redirects_back_with_a_message_and_refuses_other_roles(client, role_user, customers):
    sales = role_user("Sales")
    campaign = draft(sales)
    customer = customers[2]
    client.force_login(sales)
    url = reverse("campaigns:customer_campaign_add", args=[customer.pk])
    response = client.post(url, {"campaign": campaign.pk})
    assert response.status_code == 302 and response["Location"] == detail_url(customer) + "#campaign-history"
    page = client.get(response["Location"]).content.decode()
    assert "will be in Spring when it is launched" in page
    assert 'id="pending-includes"' in page
    bad = client.post(url, {"campaign": "999999"}, follow=True)
    assert "Not added. Campaign: Select a valid choice." in bad.content.decode()
    client.force_login(role_user("Service"))
    assert client.post(url, {"campaign": campaign.pk}).status_code == 403


# --- the panel on the 360 page ----------------------------------------------------------------

def panel(client, user, customer) -> str:
    client.force_login(user)
    response = client.get(detail_url(customer))
    assert response.status_code == 200
    return response.content.decode()


def test_panel_shows_history_and_actions_by_role(client, role_user, customers):
    manager, sales, agent = role_user("Manager", "boss"), role_user("Sales"), role_user("Service", "agent")
    launched = services.campaign_launch(campaign_id=draft(sales, coupon_pattern="S-{code}",
                                                          discount_percent=Decimal("15")).pk,
                                        launched_by=sales)
    draft(sales, name="Autumn")
    member = launched.members.filter(group="treatment").select_related("customer").first()
    customer = member.customer
    services.service_task_create(customer_id=customer.pk, actor=agent, assignee_id=agent.pk,
                                 due_on=timezone.localdate(), note="Ask about the tea pot")

    html = panel(client, sales, customer)
    assert 'id="campaign-history"' in html and member.coupon_code in html and "15 % off" in html
    assert 'id="add-to-campaign"' in html and "Autumn (Draft)" in html
    assert "Spring (Running)" not in html  # already a member
    assert 'id="service-tasks"' not in html and 'id="create-task"' not in html

    html = panel(client, agent, customer)
    assert 'id="campaign-history"' not in html and 'id="add-to-campaign"' not in html
    assert 'id="service-tasks"' in html and "Ask about the tea pot" in html and 'id="create-task"' in html

    html = panel(client, manager, customer)
    for part in ('id="campaign-history"', 'id="add-to-campaign"', 'id="service-tasks"', 'id="create-task"'):
        assert part in html

    control = launched.members.filter(group="control").first().customer
    assert "held out: do not contact about this campaign" in panel(client, sales, control)


def test_360_query_count_does_not_grow_with_campaigns_and_tasks(client, role_user, customers):
    manager, agent = role_user("Manager", "boss"), role_user("Service", "agent")
    customer = next(c for c in customers if c.value_segment == "high")
    client.force_login(manager)
    with CaptureQueriesContext(connection) as few:
        client.get(detail_url(customer))
    for i in range(3):
        campaign = services.campaign_launch(campaign_id=draft(manager, name=f"C{i}", seed=i,
                                                              control_share=Decimal("0")).pk,
                                            launched_by=manager)
        draft(manager, name=f"D{i}")
        services.service_task_create(customer_id=customer.pk, actor=manager, assignee_id=agent.pk,
                                     due_on=timezone.localdate(), note=f"task {i}")
    assert CampaignMember.objects.filter(customer=customer).count() == 3
    with CaptureQueriesContext(connection) as many:
        html = client.get(detail_url(customer)).content.decode()
    assert html.count('id="membership-') == 3 and html.count('id="customer-task-') == 3
    assert len(many) == len(few)
    assert campaign.pk
