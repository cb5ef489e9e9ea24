"""Finding unhappy customers (issue 16, item 4): satisfaction group, sentiment range, complaint
reason and negative feedback in the last N days, on the customer list and on /api/customers/
alike (customers.filters.CustomerFilter serves both), with bad values refused by a 400 that names
the filter."""
from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from customers.models import Customer
from tests.factories import CustomerFactory, FeedbackFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def unhappy():
    """Five customers whose feedback tells them apart:

    - Ada: dissatisfied, sentiment -0.7, complained about delivery 5 days ago;
    - Bo: dissatisfied, -0.4, complained about price (first reason) and service 40 days ago;
    - Cy: neutral, 0.0, a 1-star rating 10 days ago whose text the analysis found neutral
      (negative by its rating), reason product quality;
    - Di: satisfied, 0.8, praise only;
    - Ed: no feedback and no scores.
    """
    now = timezone.now()
    ada = CustomerFactory(name="Ada Unhappy", satisfaction_group="dissatisfied", sentiment_score=-0.7)
    bo = CustomerFactory(name="Bo Pricey", satisfaction_group="dissatisfied", sentiment_score=-0.4)
    cy = CustomerFactory(name="Cy Rated", satisfaction_group="neutral", sentiment_score=0.0)
    di = CustomerFactory(name="Di Happy", satisfaction_group="satisfied", sentiment_score=0.8)
    ed = CustomerFactory(name="Ed Quiet")
    FeedbackFactory(customer=ada, created_at=now - timedelta(days=5), rating=2, text="Parcel two weeks late",
                    sentiment_score=-0.7, sentiment_label="negative", complaint_reason="delivery",
                    complaint_reasons=["delivery"])
    FeedbackFactory(customer=ada, created_at=now - timedelta(days=300), rating=5, text="Fine",
                    sentiment_score=0.5, sentiment_label="positive")
    FeedbackFactory(customer=bo, created_at=now - timedelta(days=40), rating=2, text="Too dear and rude staff",
                    sentiment_score=-0.4, sentiment_label="negative", complaint_reason="price",
                    complaint_reasons=["price", "service"])
    FeedbackFactory(customer=cy, created_at=now - timedelta(days=10), rating=1, text="It is a cup",
                    sentiment_score=0.0, sentiment_label="neutral", complaint_reason="product quality",
                    complaint_reasons=["product quality"])
    FeedbackFactory(customer=di, created_at=now - timedelta(days=3), rating=5, text="Lovely",
                    sentiment_score=0.8, sentiment_label="positive")
    return {"ada": ada, "bo": bo, "cy": cy, "di": di, "ed": ed}


def names(response) -> list[str]:
    """First names of the customers a list page or an API page returns."""
    if hasattr(response, "context") and response.context and "page" in response.context:
        rows = [c.name for c in response.context["page"].object_list]
    else:
        rows = [row["name"] for row in response.json()["results"]]
    return sorted(name.split()[0] for name in rows)


CASES = [
    ({"satisfaction_group": "dissatisfied"}, ["Ada", "Bo"]),
    ({"satisfaction_group": "satisfied"}, ["Di"]),
    ({"sentiment_max": "-0.5"}, ["Ada"]),
    ({"sentiment_min": "-0.5", "sentiment_max": "0"}, ["Bo", "Cy"]),
    ({"complaint_reason": "delivery"}, ["Ada"]),
    # A complaint counts under every reason it has, not only its first.
    ({"complaint_reason": "service"}, ["Bo"]),
    ({"complaint_reason": "price"}, ["Bo"]),
    ({"negative_feedback_days": "7"}, ["Ada"]),
    # The 1-star rating counts as negative whatever the text's sentiment.
    ({"negative_feedback_days": "30"}, ["Ada", "Cy"]),
    ({"negative_feedback_days": "3650"}, ["Ada", "Bo", "Cy"]),
    # Together they ask for one complaint matching both: Bo's price complaint is 40 days old.
    ({"complaint_reason": "price", "negative_feedback_days": "30"}, []),
    ({"complaint_reason": "price", "negative_feedback_days": "60"}, ["Bo"]),
    ({"satisfaction_group": "dissatisfied", "negative_feedback_days": "30"}, ["Ada"]),
]


@pytest.mark.parametrize("params,expected", CASES)
def test_the_list_page_finds_unhappy_customers(client, role_user, unhappy, params, expected):
    client.force_login(role_user("Service"))
    response = client.get("/customers/", params)
    assert response.status_code == 200
    assert names(response) == expected


@pytest.mark.parametrize("params,expected", CASES)
def test_the_api_finds_the_same_customers(api, unhappy, params, expected):
    response = api("Service").get("/api/customers/", params)
    assert response.status_code == 200, response.content
    assert names(response) == expected


def test_the_filter_panel_offers_the_new_filters_with_translated_choices(client, role_user, unhappy):
    client.force_login(role_user("Service"))
    html = client.get("/customers/").content.decode()
    for field in ("satisfaction_group", "sentiment_min", "sentiment_max", "complaint_reason",
                  "negative_feedback_days"):
        assert f'name="{field}"' in html, field
    assert '<option value="product quality">Product quality</option>' in html
    assert '<option value="dissatisfied">Dissatisfied</option>' in html
    assert 'min="1"' in html and 'max="3650"' in html
    html = client.get("/customers/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "投诉原因" in html and "满意度分组" in html and '<option value="dissatisfied">不满意</option>' in html


BAD = [
    ({"sentiment_min": "-2"}, "sentiment_min", "Sentiment from"),
    ({"sentiment_max": "very"}, "sentiment_max", "Sentiment to"),
    ({"sentiment_min": "0.5", "sentiment_max": "-0.5"}, "sentiment_max", "Must not be below the lower bound."),
    ({"complaint_reason": "smell"}, "complaint_reason", "Complaint reason"),
    ({"satisfaction_group": "ecstatic"}, "satisfaction_group", "Satisfaction group"),
    ({"negative_feedback_days": "0"}, "negative_feedback_days", "Negative feedback in the last N days"),
    ({"negative_feedback_days": "3651"}, "negative_feedback_days", "Negative feedback in the last N days"),
    ({"negative_feedback_days": "1.5"}, "negative_feedback_days", "Negative feedback in the last N days"),
]


@pytest.mark.parametrize("params,field,label", BAD)
def test_bad_values_are_a_400_naming_the_filter(client, api, unhappy, params, field, label):
    service = api("Service")
    client.force_login(service.user)
    page = client.get("/customers/", params)
    assert page.status_code == 400
    alert = page.content.decode().split('role="alert"')[1].split("</div>")[0]
    assert label in alert
    response = service.get("/api/customers/", params)
    assert response.status_code == 400
    assert list(response.json()) == [field], response.content


def test_the_feedback_filters_need_the_feedback_permission(client, api, unhappy, django_user_model):
    """A user who may see customers but not their feedback cannot learn who complained."""
    user = django_user_model.objects.create_user("viewer", password="pw")
    user.user_permissions.add(Permission.objects.get(codename="view_customer"))
    client.force_login(user)
    response = client.get("/customers/", {"complaint_reason": "delivery", "negative_feedback_days": "7"})
    assert response.status_code == 200
    assert names(response) == ["Ada", "Bo", "Cy", "Di", "Ed"]  # the parameters are ignored
    assert 'name="complaint_reason"' not in response.content.decode()
    # The score filters stay: they read the customer's own fields, which the user sees.
    assert names(client.get("/customers/", {"satisfaction_group": "satisfied"})) == ["Di"]


def test_the_filters_keep_the_list_to_a_fixed_number_of_queries(client, role_user, unhappy):
    client.force_login(role_user("Manager"))
    params = {"negative_feedback_days": "3650", "complaint_reason": "delivery", "sentiment_max": "0"}
    with CaptureQueriesContext(connection) as few:
        assert names(client.get("/customers/", params)) == ["Ada"]
    now = timezone.now()
    for i in range(20):
        customer = CustomerFactory(name=f"Late {i}", sentiment_score=-0.5)
        FeedbackFactory(customer=customer, created_at=now - timedelta(days=1 + i), rating=1, text="late",
                        sentiment_label="negative", complaint_reason="delivery", complaint_reasons=["delivery"])
    with CaptureQueriesContext(connection) as many:
        response = client.get("/customers/", params)
    assert len(response.context["page"].object_list) == 21
    assert len(many) == len(few)


def test_a_saved_filter_keeps_the_new_filters(client, role_user, unhappy):
    client.force_login(role_user("Service"))
    query = "complaint_reason=delivery&negative_feedback_days=30"
    response = client.post("/customers/saved-filters/", {"name": "Late parcels", "query": query})
    assert response.status_code == 302
    assert names(client.get(response["Location"])) == ["Ada"]
    assert Customer.objects.count() == 5


def test_the_satisfaction_choices_are_the_codes_the_analysis_writes():
    from analytics.engine.feedback import SATISFACTION_LABELS
    from customers.models import SatisfactionGroup

    assert tuple(SatisfactionGroup.values) == SATISFACTION_LABELS
