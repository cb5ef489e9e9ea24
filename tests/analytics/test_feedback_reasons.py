"""Complaint reasons end to end: the analysis writes every reason, the page counts a text in each."""
from __future__ import annotations

import pytest

from analytics import selectors
from analytics.services.feedback import feedback_analyse_pending
from customers.models import Feedback
from tests.factories import FeedbackFactory

pytestmark = pytest.mark.django_db


def test_analysis_writes_all_reasons_and_groups_count_each():
    both = FeedbackFactory(text="Far too expensive and it broke after one day.", rating=1)
    late = FeedbackFactory(text="Delivery was late again, terrible.", rating=1)
    praise = FeedbackFactory(text="Lovely staff, great prices, thank you!", rating=5)
    assert feedback_analyse_pending() == 3
    both.refresh_from_db(), late.refresh_from_db(), praise.refresh_from_db()
    assert set(both.complaint_reasons) == {"price", "product quality"}
    assert both.complaint_reason == both.complaint_reasons[0]
    assert late.complaint_reasons == ["delivery"] and late.complaint_reason == "delivery"
    assert praise.complaint_reasons == [] and praise.complaint_reason == ""
    # A row analysed before reasons were listed counts under its one reason.
    legacy = FeedbackFactory(text="old row", rating=1, sentiment_score=-0.5, sentiment_label="negative",
                             complaint_reason="service")
    Feedback.objects.filter(pk__in=[both.pk, late.pk]).update(sentiment_label="negative")
    groups = {g["reason"]: g for g in selectors.complaint_groups()}
    assert groups["price"]["n"] == 1 and groups["product quality"]["n"] == 1
    assert groups["delivery"]["n"] == 1 and groups["service"]["n"] == 1
    quote = {"text": both.text, "customer_id": both.customer_id}
    assert groups["price"]["examples"] == [quote] == groups["product quality"]["examples"]
    assert groups["service"]["examples"] == [{"text": legacy.text, "customer_id": legacy.customer_id}]


def test_the_feedback_page_links_each_quote_to_its_customer(client, role_user, django_user_model):
    from django.contrib.auth.models import Permission

    late = FeedbackFactory(text="Delivery was late again", rating=1, sentiment_score=-0.6,
                           sentiment_label="negative", complaint_reason="delivery", complaint_reasons=["delivery"])
    client.force_login(role_user("Service"))
    html = client.get("/analytics/feedback/").content.decode()
    assert f'<a class="quote" href="/customers/{late.customer_id}/">“Delivery was late again”</a>' in html
    assert 'href="/customers/?complaint_reason=delivery"' in html
    # Someone who handles feedback but may not open customer pages reads the quote without a link.
    reader = django_user_model.objects.create_user("reader")
    reader.user_permissions.add(Permission.objects.get(codename="change_feedback"))
    client.force_login(reader)
    html = client.get("/analytics/feedback/").content.decode()
    assert "“Delivery was late again”" in html
    assert f"/customers/{late.customer_id}/" not in html and "complaint_reason=" not in html
