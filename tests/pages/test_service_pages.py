"""A service agent's day in a real browser, in English and Chinese (issue 16, item 4): they land
on My work, find the unhappy customers through the customer list's filters, and follow a
complaint quote on the Feedback page through to the customer."""
from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlparse

import pytest
from django.utils import timezone

from campaigns.models import ServiceTask
from customers.models import Customer
from tests.factories import CustomerFactory, FeedbackFactory
from tests.pages.ui_data import scored_world

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

TEXT = {
    "en": {"my_work": "My work", "overdue": "Overdue by 2 days", "complaints": "3 customers with an open complaint",
           "count": "1 customer", "feedback": "Feedback"},
    "zh-hans": {"my_work": "我的工作", "overdue": "已逾期 2 天", "complaints": "3 位客户有未处理的投诉",
                "count": "1 位客户", "feedback": "反馈"},
}


def switch_language(page, code: str) -> None:
    with page.expect_navigation():
        page.select_option("#language", code)


def unhappy_world(agent):
    """Three scored customers, each with a delivery complaint 30 days ago (ui_data); Customer 000
    dissatisfied, 001 neutral; a customer whose only complaint (about price) is 200 days old; a
    happy one; and an overdue task of the agent's about Customer 001."""
    _run, customers = scored_world(3)
    Customer.objects.filter(pk=customers[0].pk).update(satisfaction_group="dissatisfied", sentiment_score=-0.6)
    Customer.objects.filter(pk=customers[1].pk).update(satisfaction_group="neutral", sentiment_score=0.0)
    old = CustomerFactory(name="Old Grudge", satisfaction_group="dissatisfied", sentiment_score=-0.5)
    FeedbackFactory(customer=old, created_at=timezone.now() - timedelta(days=200), rating=1, text="Too dear",
                    sentiment_score=-0.5, sentiment_label="negative", complaint_reason="price")
    happy = CustomerFactory(name="Happy Hal", satisfaction_group="satisfied", sentiment_score=0.8)
    FeedbackFactory(customer=happy, created_at=timezone.now(), rating=5, text="Lovely", sentiment_score=0.8,
                    sentiment_label="positive")
    task = ServiceTask.objects.create(customer=customers[1], assignee=agent, note="Call about the late parcel",
                                      due_on=timezone.localdate() - timedelta(days=2))
    return customers, task


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_a_service_agent_finds_unhappy_customers(page, login, role_user, language, tmp_path):
    agent = role_user("Service", "agent")
    customers, task = unhappy_world(agent)
    text = TEXT[language]
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    login(agent)
    if language != "en":
        switch_language(page, language)

    # The start page is My work: the overdue task first, then the open complaints.
    assert urlparse(page.url).path == "/"
    assert page.locator("h1").inner_text() == text["my_work"]
    assert page.locator("nav.mainnav a[aria-current=page]").inner_text() == text["my_work"]
    row = page.locator(f"#my-task-{task.pk}")
    assert text["overdue"] in row.inner_text() and "Call about the late parcel" in row.inner_text()
    assert page.locator("#open-complaints h2").inner_text() == text["complaints"]
    assert page.locator("#open-complaints li").count() == 3  # not the 200-day-old complaint
    page.screenshot(path=str(tmp_path / f"my-work-{language}.png"), full_page=True)

    # Who complained about delivery lately and is dissatisfied? Through the list's filters.
    page.click("#open-complaints a#negative-feedback-customers")
    assert page.locator("#id_negative_feedback_days").input_value() == "90"
    page.select_option("#id_complaint_reason", "delivery")
    page.select_option("#id_satisfaction_group", "dissatisfied")
    page.fill("#id_sentiment_max", "-0.5")
    with page.expect_navigation():
        page.click("form.filters button[type=submit]")
    assert page.locator("#result-count").inner_text() == text["count"]
    assert page.locator("table.list tbody tr").count() == 1
    assert page.locator("table.list tbody td.col-name a").inner_text() == "Customer 000"

    # A complaint quote on the Feedback page leads to the customer who wrote it.
    page.goto("/analytics/feedback/")
    quote = page.locator("a.quote").first
    assert "The delivery was late" in quote.inner_text()
    with page.expect_navigation():
        quote.click()
    assert page.locator("h1").inner_text().startswith("Customer 00")
    assert "The delivery was late and the box was broken" in page.locator("#feedback").inner_text()
    assert page.locator("#feedback h2").inner_text() == text["feedback"]
    assert errors == []
