"""The campaigns API: create, preview, launch, results, and the service task queue."""
from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from campaigns.models import Campaign, ServiceTask

from .conftest import make_customers

pytestmark = pytest.mark.django_db

NEW = {"name": "API campaign", "objective": "retention", "kind": "marketing", "channel": "email",
       "coupon_pattern": "API-{code}", "control_share": "0.25", "seed": 9, "frequency_cap_days": 0,
       "audience": {"value_segments": ["high", "low"], "churn_max": 0.5}}


@pytest.fixture
def api():
    return APIClient()


def test_anonymous_is_refused(api):
    assert api.get("/api/campaigns/").status_code in (401, 403)
    assert api.get("/api/service-tasks/").status_code in (401, 403)


def test_sales_creates_previews_launches_and_reads_results(api, role_user, customers,
                                                           django_capture_on_commit_callbacks):
    api.force_authenticate(role_user("Sales"))
    preview = api.post("/api/campaigns/audience-preview/", {"audience": NEW["audience"]}, format="json")
    expected = [c for c in customers if c.value_segment in ("high", "low") and c.churn_probability <= 0.5]
    assert preview.status_code == 200 and preview.json()["size"] == len(expected)
    created = api.post("/api/campaigns/", NEW, format="json")
    assert created.status_code == 201, created.json()
    pk = created.json()["id"]
    assert created.json()["status"] == "draft" and created.json()["created_by"] == "test-sales"
    not_launched = api.get(f"/api/campaigns/{pk}/results/")
    assert not_launched.status_code == 400 and list(not_launched.json()) == ["non_field_errors"]
    launched = api.post(f"/api/campaigns/{pk}/launch/")
    assert launched.status_code == 200 and launched.json()["status"] == "running"
    campaign = Campaign.objects.get(pk=pk)
    assert campaign.members.count() == len(expected)
    again = api.post(f"/api/campaigns/{pk}/launch/")
    # The documented error shape: a refusal about the request as a whole is a non-field error.
    assert again.status_code == 400 and list(again.json()) == ["non_field_errors"]
    assert "launched" in again.json()["non_field_errors"][0]
    assert api.patch(f"/api/campaigns/{pk}/", {"name": "x"}, format="json").status_code == 400
    with django_capture_on_commit_callbacks(execute=True):  # the task runs in-process in tests
        assert api.post(f"/api/campaigns/{pk}/results/").status_code == 202
    results = api.get(f"/api/campaigns/{pk}/results/").json()
    assert results["results"]["treatment_members"] + results["results"]["control_members"] == len(expected)
    members = api.get(f"/api/campaigns/{pk}/members/").json()
    assert members["count"] == len(expected)
    assert {m["group"] for m in members["results"]} == {"treatment", "control"}


@pytest.mark.parametrize("payload,field", [
    ({**NEW, "audience": {"churn_min": 3}}, "audience"),
    ({**NEW, "audience": {"shoe_size": 42}}, "audience"),
    ({**NEW, "control_share": "0.95"}, "control_share"),
    ({**NEW, "coupon_pattern": "NO-CODE"}, "coupon_pattern"),
    ({**NEW, "objective": "world_peace"}, "objective"),
])
def test_bad_input_is_a_400_naming_the_field(api, role_user, payload, field):
    api.force_authenticate(role_user("Sales"))
    response = api.post("/api/campaigns/", payload, format="json")
    # The API's one error format names nested fields with dots ("audience.churn_min").
    named = {key.split(".")[0] for key in response.json()}
    assert response.status_code == 400 and field in named, response.json()


def test_roles_on_the_campaign_api(api, role_user, customers):
    api.force_authenticate(role_user("Service"))
    assert api.get("/api/campaigns/").status_code == 403
    assert api.post("/api/campaigns/", NEW, format="json").status_code == 403
    api.force_authenticate(role_user("Sales"))
    assert api.post("/api/campaigns/", {**NEW, "kind": "service"}, format="json").status_code == 400
    api.force_authenticate(role_user("Manager", "boss"))
    assert api.post("/api/campaigns/", {**NEW, "kind": "service"}, format="json").status_code == 201
    assert api.get("/api/campaigns/").json()["count"] == 1


def test_service_task_api(api, role_user):
    manager = role_user("Manager", "boss")
    agent, other = role_user("Service", "agent"), role_user("Service", "other")
    make_customers(10)
    api.force_authenticate(manager)
    pk = api.post("/api/campaigns/", {**NEW, "kind": "service", "audience": {}}, format="json").json()["id"]
    assert api.post(f"/api/campaigns/{pk}/launch/").status_code == 200
    assert api.get("/api/service-tasks/").json()["count"] == ServiceTask.objects.count() == 7

    api.force_authenticate(agent)
    with CaptureQueriesContext(connection) as queries:
        listed = api.get("/api/service-tasks/").json()
    assert listed["count"] == 4 and len(queries) <= 6  # own tasks only, no query per task
    mine = listed["results"][0]["id"]
    theirs = ServiceTask.objects.filter(assignee=other).first().pk
    updated = api.patch(f"/api/service-tasks/{mine}/", {"status": "unreachable", "outcome": "No answer"},
                        format="json")
    assert updated.status_code == 200 and updated.json()["status"] == "unreachable"
    assert updated.json()["closed_at"] is not None
    bad = api.patch(f"/api/service-tasks/{mine}/", {"status": "done"}, format="json")
    assert bad.status_code == 400 and "status" in bad.json()
    assert api.patch(f"/api/service-tasks/{theirs}/", {"status": "done"}, format="json").status_code == 404
    api.force_authenticate(role_user("Sales"))
    assert api.get("/api/service-tasks/").status_code == 403


def test_schema_builds(api, role_user):
    api.force_authenticate(role_user("Manager", "boss"))
    response = api.get("/api/schema/")
    assert response.status_code == 200
    body = response.content.decode()
    assert "/api/campaigns/{id}/launch/" in body and "/api/service-tasks/" in body


def test_service_task_created_by_hand_through_the_api(api, role_user):
    from django.utils import timezone

    agent, sales = role_user("Service", "agent"), role_user("Sales")
    customer = make_customers(1)[0]
    today = timezone.localdate().isoformat()
    api.force_authenticate(agent)
    created = api.post("/api/service-tasks/", {"customer": customer.pk, "assignee": agent.pk,
                                               "due_on": today, "note": "Call back"}, format="json")
    assert created.status_code == 201
    body = created.json()
    assert (body["campaign"], body["customer"], body["note"], body["created_by"]) == (
        None, customer.pk, "Call back", "agent")
    assert ServiceTask.objects.get(pk=body["id"]).assignee == agent
    # A retry with the same Idempotency-Key is answered from the first response, not doubled.
    payload = {"customer": customer.pk, "assignee": agent.pk, "due_on": today, "note": "Retry me"}
    first = api.post("/api/service-tasks/", payload, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    again = api.post("/api/service-tasks/", payload, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert again.status_code == 201 and again["Idempotent-Replayed"] == "true"
    assert again.json()["id"] == first.json()["id"]
    ServiceTask.objects.filter(note="Retry me").delete()
    bad = api.post("/api/service-tasks/", {"customer": customer.pk, "assignee": sales.pk,
                                           "due_on": "2001-01-01", "note": "x"}, format="json")
    assert bad.status_code == 400 and set(bad.json()) == {"assignee", "due_on"}
    blank = api.post("/api/service-tasks/", {"customer": customer.pk, "assignee": agent.pk,
                                             "due_on": today, "note": " "}, format="json")
    assert blank.status_code == 400 and set(blank.json()) == {"note"}
    missing = api.post("/api/service-tasks/", {"customer": 999999, "assignee": agent.pk,
                                               "due_on": today, "note": "x"}, format="json")
    assert missing.status_code == 400 and "customer" in missing.json()
    api.force_authenticate(sales)
    refused = api.post("/api/service-tasks/", {"customer": customer.pk, "assignee": agent.pk,
                                               "due_on": today, "note": "x"}, format="json")
    assert refused.status_code == 403
    assert ServiceTask.objects.count() == 1


def test_the_schema_says_what_campaign_answers_hold(role_user):
    """A draft's launched_by is null and results answer their own shape: the schema says so."""
    client = APIClient()
    client.force_authenticate(role_user("Manager"))
    schema = client.get("/api/schema/", {"format": "json"}).json()
    campaign = schema["components"]["schemas"]["Campaign"]["properties"]
    assert campaign["launched_by"].get("nullable") and campaign["created_by"].get("nullable")
    results = schema["paths"]["/api/campaigns/{id}/results/"]
    assert results["get"]["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "/CampaignResults")
    assert "202" in results["post"]["responses"]
