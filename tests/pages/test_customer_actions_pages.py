"""The campaign history, service tasks and their actions on the customer 360, and saved filters
on the customer list, in a real browser as each role; no console errors anywhere."""
from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from campaigns import services as campaign_services
from campaigns.models import Campaign, ServiceTask
from customers.models import SavedFilter
from tests.pages.ui_data import scored_world

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def console_errors(page):
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: (errors.append(f"{msg.text} {msg.location}")
                                    if msg.type == "error" else None))
    return errors


def campaign(user, **fields) -> Campaign:
    values = {"name": "Tea lovers", "objective": "upsell", "kind": "marketing", "frequency_cap_days": 0,
              "control_share": Decimal("0"), "coupon_pattern": "TEA-{code}",
              "discount_percent": Decimal("10")}
    values.update(fields)
    return campaign_services.campaign_create(created_by=user, fields=values,
                                             audience={"value_segments": ["high"]})


def test_service_creates_a_task_from_the_360(page, login, role_user, console_errors, tmp_path):
    _run, customers = scored_world(3)
    agent, colleague = role_user("Service", "agent"), role_user("Service", "colleague")
    customer = customers[1]
    login(agent)
    page.goto(f"/customers/{customer.pk}/")
    assert page.locator("#campaign-history").count() == 0  # Service does not see campaigns
    assert "No service tasks for this customer." in page.locator("#service-tasks").inner_text()
    due = timezone.localdate() + timedelta(days=4)
    page.select_option("#create-task select[name=assignee]", str(colleague.pk))
    page.fill("#create-task input[name=due_on]", due.isoformat())
    page.fill("#create-task textarea[name=note]", "Call about the broken tea pot")
    with page.expect_navigation():
        page.click("#create-task button[type=submit]")
    assert f"Service task created for {customer.name}." in page.locator(".messages").inner_text()
    task = ServiceTask.objects.get()
    tasks = page.locator("#service-tasks").inner_text()
    assert "Call about the broken tea pot" in tasks and f"due {due:%Y-%m-%d}" in tasks
    assert "colleague" in tasks
    assert "created by hand (agent)" in tasks
    page.screenshot(path=str(tmp_path / "customer-360-service.png"), full_page=True)

    # A date in the past is refused with the reason, and nothing is saved.
    page.fill("#create-task input[name=due_on]", "2001-01-01")
    page.fill("#create-task textarea[name=note]", "Too late")
    with page.expect_navigation():
        page.click("#create-task button[type=submit]")
    assert "The due date must not be in the past." in page.locator(".messages").inner_text()
    assert ServiceTask.objects.count() == 1

    # The colleague sees it in their queue.
    page.context.clear_cookies()
    login(colleague)
    page.goto("/campaigns/tasks/")
    assert "Call about the broken tea pot" in page.locator(f"#task-{task.pk}").inner_text()
    assert console_errors == []


def test_sales_sees_campaign_history_and_adds_to_a_campaign(page, login, role_user, console_errors, tmp_path):
    _run, customers = scored_world(6)
    sales = role_user("Sales")
    high = customers[0]  # value segment high, marketing consent
    running = campaign_services.campaign_launch(campaign_id=campaign(sales).pk, launched_by=sales)
    member = running.members.get(customer=high)
    draft = campaign(sales, name="Autumn tea", coupon_pattern="")
    login(sales)
    page.goto(f"/customers/{high.pk}/")
    assert page.locator("#service-tasks").count() == 0 and page.locator("#create-task").count() == 0
    row = page.locator(f"#membership-{running.pk}").inner_text()
    assert "Tea lovers" in row and member.coupon_code in row and "10 % off" in row and "Running" in row
    options = page.locator("#add-to-campaign select option").all_inner_texts()
    assert "Autumn tea (Draft)" in options and not any("Tea lovers" in o for o in options)

    page.select_option("#add-to-campaign select", str(draft.pk))
    with page.expect_navigation():
        page.click("#add-to-campaign button[type=submit]")
    assert "will be in Autumn tea when it is launched" in page.locator(".messages").inner_text()
    assert "Autumn tea" in page.locator("#pending-includes").inner_text()
    draft.refresh_from_db()
    assert draft.audience["include_customers"] == [high.pk]

    # A running campaign takes a customer outside its audience as a hand-added treated member.
    low = customers[2]
    page.goto(f"/customers/{low.pk}/")
    assert "Not in any launched campaign yet." in page.locator("#campaign-history").inner_text()
    page.select_option("#add-to-campaign select", str(running.pk))
    with page.expect_navigation():
        page.click("#add-to-campaign button[type=submit]")
    assert "left out of the uplift figures" in page.locator(".messages").inner_text()
    assert "added by hand" in page.locator(f"#membership-{running.pk}").inner_text()
    page.screenshot(path=str(tmp_path / "customer-360-sales.png"), full_page=True)
    assert console_errors == []


def test_manager_sees_every_section_at_tablet_width(page, login, role_user, console_errors, tmp_path):
    _run, customers = scored_world(3)
    manager, agent = role_user("Manager", "boss"), role_user("Service", "agent")
    campaign_services.service_task_create(customer_id=customers[0].pk, actor=manager, assignee_id=agent.pk,
                                          due_on=timezone.localdate(), note="Say thank you")
    campaign(manager)
    login(manager)
    page.set_viewport_size({"width": 800, "height": 1000})
    page.goto(f"/customers/{customers[0].pk}/")
    for section in ("#campaign-history", "#add-to-campaign", "#service-tasks", "#create-task"):
        assert page.locator(section).is_visible(), section
    assert page.evaluate("document.documentElement.scrollWidth") <= 800
    page.screenshot(path=str(tmp_path / "customer-360-manager-tablet.png"), full_page=True)
    assert console_errors == []


def test_saved_filters_are_saved_shared_applied_and_deleted(page, login, role_user, console_errors, tmp_path):
    scored_world(6)
    manager, sales = role_user("Manager", "boss"), role_user("Sales")
    login(manager)
    page.goto("/customers/")
    page.select_option("#id_churn_risk", "high")
    page.select_option("#id_sort", "-clv")
    with page.expect_navigation():
        page.click("form.filters button[type=submit]")
    assert page.locator("#result-count").inner_text() == "2 customers"
    page.fill("#id_saved_name", "High risk, best first")
    page.check("#id_saved_shared")
    with page.expect_navigation():
        page.click("#save-filter button[type=submit]")
    assert "Filter saved as High risk, best first." in page.locator(".messages").inner_text()
    saved = SavedFilter.objects.get()
    assert saved.shared and saved.query == "churn_risk=high&sort=-clv"

    page.context.clear_cookies()
    login(sales)
    page.goto("/customers/")
    assert page.locator("#result-count").inner_text() == "6 customers"
    item = page.locator(f"#saved-filter-{saved.pk}")
    assert "shared by boss" in item.inner_text() and item.locator("button").count() == 0
    with page.expect_navigation():
        item.locator("a").click()
    assert page.locator("#result-count").inner_text() == "2 customers"
    names = page.locator("table.list tbody tr td:first-child a").all_inner_texts()
    assert names == ["Customer 003", "Customer 000"]
    assert page.locator("#id_churn_risk").input_value() == "high"

    # Sales saves a private one (no share box for Sales), then deletes it.
    assert page.locator("#id_saved_shared").count() == 0
    page.fill("#id_saved_name", "Mine")
    with page.expect_navigation():
        page.click("#save-filter button[type=submit]")
    mine = SavedFilter.objects.get(name="Mine")
    page.screenshot(path=str(tmp_path / "saved-filters.png"), full_page=True)
    with page.expect_navigation():
        page.locator(f"#saved-filter-{mine.pk} button").click()
    assert "Saved filter deleted." in page.locator(".messages").inner_text()
    assert page.locator(f"#saved-filter-{mine.pk}").count() == 0
    assert console_errors == []
