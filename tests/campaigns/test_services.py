"""Launching, offers, tasks and results through the services, on a real database."""
from __future__ import annotations

from collections import Counter
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from analytics.models import AssociationRule, Recommendation, ScoreRun
from campaigns import services
from campaigns.models import Campaign, CampaignMember, ServiceTask
from customers.models import Customer, Interaction, Order, OrderItem
from tests.factories import FeedbackFactory, InteractionFactory, ProductFactory

from .conftest import make_customers

pytestmark = pytest.mark.django_db


def draft(user, **fields) -> Campaign:
    values = {"name": "Test", "objective": Campaign.Objective.RETENTION, "kind": Campaign.Kind.MARKETING,
              "control_share": Decimal("0.20"), "seed": 11, "frequency_cap_days": 0}
    values.update(fields)
    audience = values.pop("audience", {})
    return services.campaign_create(created_by=user, fields=values, audience=audience)


def launch(campaign, user) -> Campaign:
    return services.campaign_launch(campaign_id=campaign.pk, launched_by=user)


def groups(campaign) -> dict[str, set[int]]:
    result = {"treatment": set(), "control": set()}
    for customer_id, group in campaign.members.values_list("customer_id", "group"):
        result[group].add(customer_id)
    return result


def test_control_group_is_stratified_by_value_segment(role_user, customers):
    campaign = launch(draft(role_user("Sales")), role_user("Manager", "boss"))
    members = list(campaign.members.all())
    assert len(members) == 60 and campaign.status == Campaign.Status.RUNNING
    control = Counter(m.stratum for m in members if m.group == "control")
    # 20 customers per segment, 20 % held out of each.
    assert control == {"high": 4, "medium": 4, "low": 4}
    assert all(m.coupon_code is None and m.offered_products == [] for m in members if m.group == "control")


def test_same_seed_gives_the_same_membership(role_user, customers):
    sales = role_user("Sales")
    first = groups(launch(draft(sales, seed=5), sales))
    second = groups(launch(draft(sales, seed=5), sales))
    third = groups(launch(draft(sales, seed=6), sales))
    assert first == second
    assert first["control"] != third["control"] and len(third["control"]) == len(first["control"])


def test_marketing_reaches_only_consenting_customers(role_user, customers):
    make_customers(9, start=100, consent=False)
    sales = role_user("Sales")
    marketing = launch(draft(sales), sales)
    assert marketing.members.count() == 60
    assert not marketing.members.filter(customer__marketing_consent=False).exists()
    role_user("Service", "agent")
    manager = role_user("Manager", "boss")
    service = launch(draft(manager, kind=Campaign.Kind.SERVICE), manager)
    assert service.members.count() == 69  # a service call needs no marketing consent


def test_frequency_cap_skips_recently_treated_customers(role_user, customers):
    sales = role_user("Sales")
    first = launch(draft(sales, audience={"regions": ["North"]}), sales)
    treated = groups(first)["treatment"]
    second = launch(draft(sales, frequency_cap_days=14), sales)
    members = set(second.members.values_list("customer_id", flat=True))
    assert members == {c.pk for c in customers} - treated  # control members were not contacted
    # Once the earlier campaigns are older than the cap, everyone is eligible again.
    Campaign.objects.update(launched_at=timezone.now() - timedelta(days=15))
    third = launch(draft(sales, frequency_cap_days=14), sales)
    assert third.members.count() == 60


def test_audience_filters(role_user, customers):
    sales = role_user("Sales")
    old = timezone.now() - timedelta(days=200)
    InteractionFactory(customer=customers[0], kind="call", occurred_at=timezone.now())
    InteractionFactory(customer=customers[3], kind="call", occurred_at=old)
    FeedbackFactory(customer=customers[6], created_at=timezone.now(), rating=1, text="bad")
    campaign = launch(draft(sales, audience={
        "value_segments": ["high"], "churn_min": 0.0, "churn_max": 0.5, "no_contact_days": 30}), sales)
    expected = {c.pk for c in customers if c.value_segment == "high" and c.churn_probability <= 0.5
                and c != customers[0]}
    assert set(campaign.members.values_list("customer_id", flat=True)) == expected
    recovery = launch(draft(sales, audience={"negative_feedback_days": 30}), sales)
    assert list(recovery.members.values_list("customer_id", flat=True)) == [customers[6].pk]


def test_coupons_are_unique_and_follow_the_pattern(role_user, customers):
    sales = role_user("Sales")
    first = launch(draft(sales, coupon_pattern="SPRING-{code}", discount_percent=Decimal("10")), sales)
    second = launch(draft(sales, coupon_pattern="SPRING-{code}"), sales)
    codes = list(CampaignMember.objects.filter(group="treatment").values_list("coupon_code", flat=True))
    assert len(codes) == 2 * 48 and len(set(codes)) == len(codes)
    assert all(code.startswith("SPRING-") and len(code) == 15 for code in codes)
    assert first.members.filter(group="control", coupon_code__isnull=False).count() == 0
    assert second.members.exclude(coupon_code=None).count() == 48


def test_offers_carry_recommendations_or_the_bundle(role_user, customers):
    sales = role_user("Sales")
    products = [ProductFactory(sku=f"P{i}", name=f"P{i}") for i in range(4)]
    run = ScoreRun.objects.create(as_of=timezone.now(), status="succeeded")
    Recommendation.objects.bulk_create([
        Recommendation(customer=c, product=products[rank], rank=rank + 1, score=1.0, run=run)
        for c in customers for rank in range(3)])
    recs = launch(draft(sales, recommend_products=2), sales)
    offered = {tuple(m.offered_products) for m in recs.members.filter(group="treatment")}
    assert offered == {(products[0].pk, products[1].pk)}
    rule = AssociationRule.objects.create(run=run, antecedents=[products[0].pk],
                                          consequents=[products[3].pk], support=0.1, confidence=0.5,
                                          lift=3.0)
    bundle = launch(draft(sales, bundle=rule, recommend_products=2), sales)
    assert bundle.bundle_products == [products[3].pk]
    offered = {tuple(m.offered_products) for m in bundle.members.filter(group="treatment")}
    assert offered == {(products[3].pk,)}


def test_snapshots_do_not_change_when_scores_change(role_user, customers):
    sales = role_user("Sales")
    campaign = launch(draft(sales, audience={"value_segments": ["high"]}), sales)
    before = {m.customer_id: m.scores for m in campaign.members.all()}
    assert before[customers[0].pk]["value_segment"] == "high"
    assert before[customers[0].pk]["clv_12m"] == 100.0
    Customer.objects.update(value_segment="low", clv_12m=Decimal("1"), churn_probability=0.99)
    make_customers(3, start=500, value_segment="high")
    after = {m.customer_id: m.scores for m in Campaign.objects.get(pk=campaign.pk).members.all()}
    assert after == before
    with pytest.raises(ValidationError):
        launch(campaign, sales)  # launching twice is refused, membership untouched
    assert campaign.members.count() == len(before)


def test_launch_runs_a_fixed_number_of_queries(role_user):
    sales = role_user("Sales")
    # Both audiences fit in one INSERT batch, so any difference is a query per member.
    make_customers(10)
    small = draft(sales, coupon_pattern="A-{code}")
    with CaptureQueriesContext(connection) as few:
        launch(small, sales)
    make_customers(40, start=1000)
    large = draft(sales, coupon_pattern="B-{code}")
    with CaptureQueriesContext(connection) as many:
        launch(large, sales)
    assert large.members.count() == 50
    assert len(many) == len(few), [q["sql"][:80] for q in many.captured_queries]


def test_service_campaign_creates_round_robin_tasks(role_user, customers):
    manager = role_user("Manager", "boss")
    agents = [role_user("Service", f"agent{i}") for i in range(3)]
    role_user("Service", "away", is_active=False)
    campaign = launch(draft(manager, kind=Campaign.Kind.SERVICE, task_due_days=5), manager)
    tasks = list(ServiceTask.objects.filter(campaign=campaign).order_by("pk"))
    assert len(tasks) == 48  # treatment only
    assert Counter(t.assignee_id for t in tasks) == {a.pk: 16 for a in agents}
    assert {t.due_on for t in tasks} == {(campaign.launched_at + timedelta(days=5)).date()}
    assert not ServiceTask.objects.filter(member__group="control").exists()


def test_sales_cannot_create_or_launch_service_campaigns(role_user, customers):
    sales = role_user("Sales")
    with pytest.raises(PermissionDenied):
        draft(sales, kind=Campaign.Kind.SERVICE)
    campaign = draft(role_user("Manager", "boss"), kind=Campaign.Kind.SERVICE)
    with pytest.raises(PermissionDenied):
        launch(campaign, sales)


def test_service_launch_without_service_staff_fails_cleanly(role_user, customers):
    manager = role_user("Manager", "boss")
    campaign = draft(manager, kind=Campaign.Kind.SERVICE)
    with pytest.raises(ValidationError, match="Service group"):
        launch(campaign, manager)
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.DRAFT and not campaign.members.exists()


def test_task_workflow_and_outcome(role_user, customers):
    manager = role_user("Manager", "boss")
    agent, other = role_user("Service", "agent"), role_user("Service", "other")
    campaign = launch(draft(manager, kind=Campaign.Kind.SERVICE), manager)
    task = ServiceTask.objects.filter(campaign=campaign, assignee=agent).first()
    with pytest.raises(PermissionDenied):
        services.service_task_update(task_id=task.pk, actor=other, status="in_progress")
    services.service_task_update(task_id=task.pk, actor=agent, status="in_progress")
    task = services.service_task_update(task_id=task.pk, actor=agent, status="done",
                                        outcome="Happy again")
    assert task.status == "done" and task.closed_at is not None and task.outcome == "Happy again"
    call = Interaction.objects.get(customer=task.customer)
    assert call.staff == agent and call.note == "Happy again"
    with pytest.raises(ValidationError) as error:
        services.service_task_update(task_id=task.pk, actor=agent, status="unreachable")
    assert "status" in error.value.message_dict


def test_results_on_constructed_orders(role_user):
    sales = role_user("Sales")
    make_customers(50)  # segments of 17/17/16: 20 % of each, rounded, holds out 3 + 3 + 3
    campaign = launch(draft(sales, discount_percent=Decimal("10"), cost_per_contact=Decimal("1"),
                            attribution_days=30), sales)
    g = groups(campaign)
    treated, control = sorted(g["treatment"]), sorted(g["control"])
    assert (len(treated), len(control)) == (41, 9)
    product = ProductFactory(sku="X", name="X")
    inside = campaign.launched_at + timedelta(days=3)

    def order(customer_id, when, amount, status="completed"):
        o = Order.objects.create(customer_id=customer_id, ordered_at=when, total_amount=Decimal(amount),
                                 status=status)
        OrderItem.objects.create(order=o, product=product, quantity=1, unit_price=Decimal(amount))

    for customer_id in treated[:8]:  # 8 converters, 100 each; one orders twice
        order(customer_id, inside, "100")
    order(treated[0], inside, "50")
    order(control[0], inside, "90")  # 1 control converter
    order(treated[20], campaign.launched_at - timedelta(days=1), "999")  # before launch
    order(treated[21], campaign.launched_at + timedelta(days=31), "999")  # after the window
    order(treated[22], inside, "999", status="cancelled")  # not completed
    campaign = services.campaign_results_refresh(campaign_id=campaign.pk)
    r = campaign.results
    assert (r["treatment_members"], r["treatment_converters"]) == (41, 8)
    assert (r["control_members"], r["control_converters"]) == (9, 1)
    assert r["treatment_revenue"] == pytest.approx(850)
    assert r["absolute_uplift"] == pytest.approx(8 / 41 - 1 / 9)
    # (850/41 - 90/9) x 41 = 850 - 410 = 440; cost 10 % of 850 + 41 x 1 = 126.
    assert r["incremental_revenue"] == pytest.approx(440)
    assert r["cost"] == pytest.approx(126)
    assert r["roi"] == pytest.approx((440 - 126) / 126)
    assert campaign.status == Campaign.Status.RUNNING
    later = services.campaign_results_refresh(campaign_id=campaign.pk,
                                              now=campaign.launched_at + timedelta(days=31))
    assert later.status == Campaign.Status.FINISHED and later.results["window_closed"] is True


def test_playbooks_create_drafts(role_user, customers):
    manager = role_user("Manager", "boss")
    campaign = services.campaign_create_from_playbook(key="win_back", created_by=manager)
    assert campaign.status == "draft" and campaign.playbook == "win_back"
    assert campaign.audience == {"rfm_segments": ["At Risk", "Can't Lose Them"]}
    assert campaign.coupon_pattern == "COMEBACK-{code}"
    # Each draft draws its own seed, so overlapping audiences do not share one control group.
    again = services.campaign_create_from_playbook(key="win_back", created_by=manager)
    assert again.seed != campaign.seed
    with pytest.raises(ValidationError):
        services.campaign_create_from_playbook(key="cross_sell_bundle", created_by=manager)  # no rules
    with pytest.raises(PermissionDenied):
        services.campaign_create_from_playbook(key="retention_call", created_by=role_user("Sales"))


def test_periodic_refresh_finishes_campaigns_whose_window_closed(role_user, customers):
    from campaigns.tasks import campaign_results_refresh_running

    sales = role_user("Sales")
    old = launch(draft(sales, attribution_days=7), sales)
    fresh = launch(draft(sales, attribution_days=30), sales)
    draft(sales)  # not launched: left alone
    Campaign.objects.filter(pk=old.pk).update(launched_at=timezone.now() - timedelta(days=8))
    refreshed = campaign_results_refresh_running.delay().get()
    assert sorted(refreshed) == sorted([old.pk, fresh.pk])
    statuses = dict(Campaign.objects.values_list("pk", "status"))
    assert statuses[old.pk] == "finished" and statuses[fresh.pk] == "running"
    assert Campaign.objects.get(pk=fresh.pk).results["treatment_members"] == 48
