"""A service agent's start page (issue 16, item 4): My work at ``/`` (their open tasks, overdue
first, and the customers with an open complaint), while managers and sales keep the dashboard at
``/``; the dashboard stays at ``/dashboard/`` for everyone and My work at /campaigns/my-work/ for
whoever works service tasks."""
from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from campaigns.models import ServiceTask
from campaigns.selectors import OPEN_COMPLAINT_DAYS, open_complaints
from campaigns.services import service_task_update
from tests.factories import CustomerFactory, FeedbackFactory

pytestmark = pytest.mark.django_db


def complain(customer, *, days_ago: int, rating: int = 1, label: str = "negative", text: str = "Awful",
             reason: str = "service"):
    return FeedbackFactory(customer=customer, created_at=timezone.now() - timedelta(days=days_ago), rating=rating,
                           text=text, sentiment_label=label, sentiment_score=-0.6 if label == "negative" else 0.0,
                           complaint_reason=reason, complaint_reasons=[reason] if reason else [])


@pytest.fixture
def desk(role_user):
    """A service agent with three open tasks (one overdue, one due today, one next week), a closed
    one, and a colleague's task; and customers in every complaint situation."""
    agent = role_user("Service", "agent")
    colleague = role_user("Service", "colleague")
    today = timezone.localdate()
    ann, ben, cat, dan, eve, fay = (CustomerFactory(name=n) for n in ("Ann", "Ben", "Cat", "Dan", "Eve", "Fay"))
    tasks = {
        "week": ServiceTask.objects.create(customer=ann, assignee=agent, due_on=today + timedelta(days=7),
                                           note="Follow up"),
        "overdue": ServiceTask.objects.create(customer=ben, assignee=agent, due_on=today - timedelta(days=3),
                                              note="Call back about the refund"),
        "today": ServiceTask.objects.create(customer=cat, assignee=agent, due_on=today, note="Send a voucher"),
        "done": ServiceTask.objects.create(customer=dan, assignee=agent, due_on=today, status="done",
                                           closed_at=timezone.now()),
        "theirs": ServiceTask.objects.create(customer=eve, assignee=colleague, due_on=today, note="Not mine"),
    }
    complain(ann, days_ago=2, text="Nobody answered the phone")           # open, and has an open task
    complain(ben, days_ago=20, label="neutral", rating=2, reason="price",  # open: rated 2 stars
             text="Too expensive for what it is")
    complain(dan, days_ago=5, text="Broken lid")                          # answered: task closed since
    complain(eve, days_ago=OPEN_COMPLAINT_DAYS + 5, text="Long ago")       # too old for My work
    FeedbackFactory(customer=fay, created_at=timezone.now(), rating=5, text="Lovely")  # praise
    return {"agent": agent, "tasks": tasks, "customers": {c.name: c for c in (ann, ben, cat, dan, eve, fay)}}


def test_a_service_agent_starts_at_my_work(client, desk):
    client.force_login(desk["agent"])
    response = client.get("/")
    assert response.status_code == 200
    assert response.templates[0].name == "campaigns/my_work.html"
    tasks = desk["tasks"]
    # Their own open tasks by due date: overdue first; closed and other people's tasks left out.
    assert [t.pk for t in response.context["tasks"]] == [tasks["overdue"].pk, tasks["today"].pk, tasks["week"].pk]
    html = response.content.decode()
    assert "Overdue by 3 days" in html and "Not mine" not in html
    customers = desk["customers"]
    assert [c.name for c in response.context["complaints"]] == ["Ann", "Ben"]
    for name in ("Ann", "Ben", "Cat"):
        assert f'href="/customers/{customers[name].pk}/"' in html
    assert "Too expensive for what it is" in html and "Broken lid" not in html and "Long ago" not in html
    assert f'href="/customers/?negative_feedback_days={OPEN_COMPLAINT_DAYS}"' in html
    # The bar marks My work as the page shown, and still offers the dashboard.
    nav = {str(item["label"]): item for item in response.context["nav_items"]}
    assert nav["My work"]["active"] and not nav["Dashboard"]["active"]
    assert nav["Dashboard"]["url"] == "/dashboard/"
    # The login lands here too.
    client.logout()
    response = client.post("/login/", {"username": "agent", "password": "pw-for-tests"}, follow=True)
    assert response.templates[0].name == "campaigns/my_work.html"


def test_my_work_in_chinese(client, desk):
    client.force_login(desk["agent"])
    html = client.get("/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "我的工作" in html and "已逾期 3 天" in html and "2 位客户有未处理的投诉" in html


@pytest.mark.parametrize("role", ["Manager", "Sales"])
def test_managers_and_sales_keep_the_dashboard_at_the_root(client, role_user, desk, role):
    client.force_login(role_user(role))
    response = client.get("/")
    assert response.status_code == 200
    assert response.templates[0].name == "home.html"
    nav = {str(item["label"]): item for item in response.context["nav_items"]}
    assert nav["Dashboard"]["active"]
    assert ("My work" in nav) == (role == "Manager")


@pytest.mark.parametrize("role,dashboard,my_work", [
    ("Manager", 200, 200), ("Sales", 200, 403), ("Service", 200, 200)])
def test_each_role_reaches_what_it_may(client, role_user, desk, role, dashboard, my_work):
    client.force_login(role_user(role))
    assert client.get("/dashboard/").status_code == dashboard
    assert client.get("/campaigns/my-work/").status_code == my_work
    client.logout()
    for url in ("/", "/dashboard/", "/campaigns/my-work/"):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith("/login/"), url


def test_a_manager_sees_their_own_tasks_on_my_work(client, role_user, desk):
    manager = role_user("Manager")
    mine = ServiceTask.objects.create(customer=desk["customers"]["Fay"], assignee=manager,
                                      due_on=timezone.localdate(), note="Manager's call")
    client.force_login(manager)
    response = client.get("/campaigns/my-work/")
    assert [t.pk for t in response.context["tasks"]] == [mine.pk]
    assert [c.name for c in response.context["complaints"]] == ["Ann", "Ben"]


def test_closing_a_task_answers_the_complaint_and_a_new_complaint_reopens_it(desk):
    ann = desk["customers"]["Ann"]
    assert ann in open_complaints()
    service_task_update(task_id=desk["tasks"]["week"].pk, actor=desk["agent"], status="done", outcome="Sorted")
    assert ann not in open_complaints()
    complain(ann, days_ago=0, text="It broke again")
    reopened = open_complaints().get(pk=ann.pk)
    assert reopened.complaint_text == "It broke again" and reopened.open_tasks == 0


def test_my_work_reads_a_fixed_number_of_queries(client, desk):
    client.force_login(desk["agent"])
    with CaptureQueriesContext(connection) as few:
        client.get("/")
    for i in range(15):
        customer = CustomerFactory(name=f"Unhappy {i}")
        complain(customer, days_ago=i)
        ServiceTask.objects.create(customer=customer, assignee=desk["agent"], due_on=timezone.localdate())
    with CaptureQueriesContext(connection) as many:
        response = client.get("/")
    assert len(response.context["complaints"]) == 17 and len(response.context["tasks"]) == 18
    assert len(many) == len(few)
