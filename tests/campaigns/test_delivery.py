"""Campaign messages delivered to a real SMTP server (aiosmtpd) by the send task, in-process on
SQLite: who receives what, unsubscribe, at-most-once, bounces, tracking webhooks, schedules."""
from __future__ import annotations

import base64
import json
from datetime import timedelta
from decimal import Decimal
from urllib.parse import urlparse

import pytest
from celery.exceptions import Retry
from django.test import Client
from django.utils import timezone

from analytics.models import Recommendation, ScoreRun
from campaigns import delivery, services, tasks
from campaigns.models import Campaign, CampaignMember, CampaignMessage, MessageTemplate, OutboxMessage
from customers.models import Customer
from tests.factories import ProductFactory

from .conftest import make_customers

pytestmark = pytest.mark.django_db


def draft(user, **fields) -> Campaign:
    values = {"name": "Spring", "objective": Campaign.Objective.RETENTION, "kind": Campaign.Kind.MARKETING,
              "channel": Campaign.Channel.EMAIL, "control_share": Decimal("0.20"), "seed": 5,
              "frequency_cap_days": 0, "coupon_pattern": "SPRING-{code}", "discount_percent": Decimal("15")}
    values.update(fields)
    return services.campaign_create(created_by=user, fields=values, audience={})


def launch(campaign, user, capture):
    # The send task is queued after the launch commits; run those callbacks as a commit would.
    with capture(execute=True):
        return services.campaign_launch(campaign_id=campaign.pk, launched_by=user)


def treated_count(campaign) -> int:
    return campaign.members.filter(group="treatment").count()


def header(message, name: str) -> str:
    """A header's value unfolded (long headers arrive folded over lines)."""
    return " ".join(str(message[name]).split())


def unsubscribe_path(message) -> str:
    return urlparse(header(message, "List-Unsubscribe").strip("<>")).path


def body(message) -> str:
    part = next(p for p in message.walk() if p.get_content_type() == "text/plain")
    return part.get_payload(decode=True).decode(part.get_content_charset() or "utf-8")


@pytest.fixture
def audience(db):
    """20 consenting customers with addresses, and every kind the launch must leave out."""
    consenting = make_customers(20)
    no_consent = make_customers(4, start=100, consent=False)
    no_email = make_customers(2, start=200)
    Customer.objects.filter(pk__in=[c.pk for c in no_email]).update(email="")
    invalid = make_customers(3, start=300)
    Customer.objects.filter(pk__in=[c.pk for c in invalid]).update(email_invalid=True)
    return {"consenting": consenting, "no_consent": no_consent, "no_email": no_email, "invalid": invalid}


def test_one_message_per_treated_consenting_member_and_none_to_anyone_else(
        smtp_server, role_user, audience, django_capture_on_commit_callbacks):
    sales = role_user("Sales")
    campaign = launch(draft(sales), sales, django_capture_on_commit_callbacks)

    treated = CampaignMember.objects.filter(campaign=campaign, group="treatment").select_related("customer")
    control = CampaignMember.objects.filter(campaign=campaign, group="control").select_related("customer")
    assert treated.count() + control.count() == 20 and control.count() >= 3
    assert sorted(smtp_server.to()) == sorted(m.customer.email for m in treated)
    never = {m.customer.email for m in control} | {c.email for k in ("no_consent", "invalid")
                                                   for c in audience[k]}
    assert not never & set(smtp_server.to())
    campaign.refresh_from_db()
    assert campaign.exclusions == {"no_consent": 4, "no_email": 2, "email_invalid": 3}
    for message in smtp_server.messages:
        member = next(m for m in treated if m.customer.email == message["To"])
        text = body(message)
        assert member.customer.name in text and member.coupon_code in text
        assert header(message, "List-Unsubscribe").startswith("<http") and header(
            message, "List-Unsubscribe").endswith(">")
        assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert {p.get_content_type() for p in message.walk()} >= {"text/plain", "text/html"}
    statuses = set(CampaignMessage.objects.filter(campaign=campaign).values_list("status", flat=True))
    assert statuses == {"sent"}


def test_a_repeated_send_task_sends_nothing_twice(smtp_server, role_user, audience,
                                                   django_capture_on_commit_callbacks):
    sales = role_user("Sales")
    campaign = launch(draft(sales), sales, django_capture_on_commit_callbacks)
    first = len(smtp_server.messages)
    assert first == treated_count(campaign) > 0
    tasks.campaign_send.delay(campaign.pk)
    assert delivery.campaign_send(campaign_id=campaign.pk) == 0
    assert len(smtp_server.messages) == first
    # A message someone else already claimed is not sent either, even if it is handed over again.
    message = CampaignMessage.objects.filter(campaign=campaign).first()
    assert delivery._claim([message.pk]) == set()


def test_following_the_unsubscribe_link_turns_consent_off_and_keeps_them_out_later(
        smtp_server, role_user, audience, django_capture_on_commit_callbacks):
    sales = role_user("Sales")
    launch(draft(sales), sales, django_capture_on_commit_callbacks)
    message = smtp_server.messages[0]
    customer = Customer.objects.get(email=message["To"])
    link = unsubscribe_path(message)
    assert link in body(message)

    anonymous = Client()
    response = anonymous.get(link)
    assert response.status_code == 200
    customer.refresh_from_db()
    assert customer.marketing_consent is False
    latest = customer.history.order_by("-history_id").first()
    assert latest.history_change_reason == "unsubscribe link" and latest.marketing_consent is False

    later = launch(draft(sales, name="Summer"), sales, django_capture_on_commit_callbacks)
    assert not later.members.filter(customer=customer).exists()
    assert later.exclusions["no_consent"] == 5


def test_the_one_click_post_works_without_a_csrf_token_or_login(smtp_server, role_user, audience,
                                                                 django_capture_on_commit_callbacks):
    sales = role_user("Sales")
    launch(draft(sales), sales, django_capture_on_commit_callbacks)
    message = smtp_server.messages[0]
    client = Client(enforce_csrf_checks=True)
    response = client.post(unsubscribe_path(message),
                           {"List-Unsubscribe": "One-Click"})
    assert response.status_code == 200
    assert Customer.objects.get(email=message["To"]).marketing_consent is False


def test_a_hard_bounce_at_smtp_marks_the_address_invalid(smtp_server, role_user, audience,
                                                         django_capture_on_commit_callbacks):
    bouncing = audience["consenting"][0]
    smtp_server.refuse.add(bouncing.email)
    sales = role_user("Sales")
    campaign = launch(draft(sales, control_share=Decimal("0")), sales, django_capture_on_commit_callbacks)
    message = CampaignMessage.objects.get(campaign=campaign, member__customer=bouncing)
    assert message.status == "bounced" and "550" in message.error
    bouncing.refresh_from_db()
    assert bouncing.email_invalid is True
    assert bouncing.history.order_by("-history_id").first().history_change_reason == "hard bounce"
    assert len(smtp_server.messages) == 19


def test_a_transient_failure_is_retried_and_the_message_sent_once(smtp_server, role_user, audience,
                                                                  django_capture_on_commit_callbacks):
    smtp_server.busy = 1
    sales = role_user("Sales")
    # In-process tasks cannot wait for the backoff: the retry comes back as Retry, and the
    # test delivers it again as the broker would after the countdown.
    with pytest.raises(Retry):
        launch(draft(sales), sales, django_capture_on_commit_callbacks)
    campaign = Campaign.objects.get()
    assert len(smtp_server.messages) == 0
    assert CampaignMessage.objects.get(campaign=campaign, attempts=1, status="queued")
    tasks.campaign_send.delay(campaign.pk)
    n = treated_count(campaign)
    assert len(smtp_server.messages) == n and len(set(smtp_server.to())) == n
    retried = CampaignMessage.objects.get(campaign=campaign, attempts=2)
    assert retried.status == "sent"


def test_a_bounce_webhook_from_the_provider_marks_the_address_invalid(
        settings, smtp_server, role_user, audience, django_capture_on_commit_callbacks):
    settings.ANYMAIL = {"WEBHOOK_SECRET": "hook:secret-for-tests"}
    sales = role_user("Sales")
    campaign = launch(draft(sales), sales, django_capture_on_commit_callbacks)
    message = CampaignMessage.objects.filter(campaign=campaign).select_related("member__customer").first()
    customer = message.member.customer
    # Postmark's bounce webhook payload (https://postmarkapp.com/developer/webhooks/bounce-webhook).
    payload = {"RecordType": "Bounce", "Type": "HardBounce", "TypeCode": 1, "ID": 42,
               "MessageID": message.provider_id, "Email": customer.email, "BouncedAt": "2026-12-05T10:00:00Z",
               "Description": "The server was unable to deliver your message", "Details": "550 no such user",
               "Inactive": True, "CanActivate": True, "Subject": "x", "Tag": "", "ServerID": 1,
               "MessageStream": "outbound"}
    auth = "Basic " + base64.b64encode(b"hook:secret-for-tests").decode()
    anonymous = Client()
    refused = anonymous.post("/anymail/postmark/tracking/", json.dumps(payload), content_type="application/json")
    assert refused.status_code == 400 and not Customer.objects.get(pk=customer.pk).email_invalid
    response = anonymous.post("/anymail/postmark/tracking/", json.dumps(payload),
                              content_type="application/json", HTTP_AUTHORIZATION=auth)
    assert response.status_code == 200
    message.refresh_from_db()
    customer.refresh_from_db()
    assert message.status == "bounced" and customer.email_invalid is True
    # Opened after the bounce changes nothing: statuses only move forward.
    delivery.message_tracking_record(provider_id=message.provider_id, event_type="opened")
    message.refresh_from_db()
    assert message.status == "bounced"


def test_a_complaint_turns_consent_off_and_the_funnel_counts_opens_and_clicks(
        smtp_server, role_user, audience, django_capture_on_commit_callbacks):
    sales = role_user("Sales")
    campaign = launch(draft(sales), sales, django_capture_on_commit_callbacks)
    first, second, third = CampaignMessage.objects.filter(campaign=campaign).select_related("member")[:3]
    delivery.message_tracking_record(provider_id=first.provider_id, event_type="opened")
    delivery.message_tracking_record(provider_id=second.provider_id, event_type="clicked")
    delivery.message_tracking_record(provider_id=second.provider_id, event_type="opened")
    delivery.message_tracking_record(provider_id=third.provider_id, event_type="complained")
    complainer = Customer.objects.get(pk=third.member.customer_id)
    assert complainer.marketing_consent is False and complainer.email_invalid is True
    funnel = delivery.campaign_funnel(Campaign.objects.get(pk=campaign.pk))
    assert funnel["treatment"] | {"converted": None} == {
        "members": treated_count(campaign), "queued": 0, "reached": treated_count(campaign), "opened": 2, "clicked": 1, "bounced": 0, "failed": 0,
        "converted": None}
    assert funnel["control"]["members"] == 20 - treated_count(campaign) and funnel["control"]["reached"] == 0
    client = Client()
    client.force_login(sales)
    page = client.get(f"/campaigns/{campaign.pk}/results/")
    assert page.status_code == 200 and 'id="funnel-treatment"' in page.content.decode()


def test_a_scheduled_campaign_launches_itself_on_its_date_and_finishes_after_its_window(
        smtp_server, role_user, audience, django_capture_on_commit_callbacks):
    sales = role_user("Sales")
    today = timezone.localdate()
    campaign = draft(sales, starts_on=today + timedelta(days=3), attribution_days=7)
    services.campaign_schedule(campaign_id=campaign.pk, actor=sales)
    assert Campaign.objects.get(pk=campaign.pk).status == "scheduled"

    now = timezone.now()
    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.campaign_schedule_tick.delay().get()["launched"] == []
        assert services.campaign_schedule_tick(now=now + timedelta(days=2))["launched"] == []
    assert smtp_server.messages == []
    with django_capture_on_commit_callbacks(execute=True):
        ticked = services.campaign_schedule_tick(now=now + timedelta(days=3))
    assert ticked["launched"] == [campaign.pk]
    campaign.refresh_from_db()
    assert campaign.status == "running" and campaign.launched_by is None
    assert len(smtp_server.messages) == treated_count(campaign)
    ticked = services.campaign_schedule_tick(now=campaign.launched_at + timedelta(days=7, minutes=1))
    assert ticked["finished"] == [campaign.pk]
    assert Campaign.objects.get(pk=campaign.pk).status == "finished"


def test_the_customers_language_chooses_the_template(smtp_server, role_user, audience,
                                                     django_capture_on_commit_callbacks):
    sales = role_user("Sales")
    campaign = draft(sales, control_share=Decimal("0"))
    services.message_template_save(campaign_id=campaign.pk, actor=sales, language="en",
                                   subject="Hello {{ name }}", body_text="Code {{ coupon }}")
    services.message_template_save(campaign_id=campaign.pk, actor=sales, language="zh-hans",
                                   subject="您好 {{ name }}", body_text="优惠码 {{ coupon }}")
    chinese = audience["consenting"][1]
    Customer.objects.filter(pk=chinese.pk).update(language="zh-hans")
    launch(campaign, sales, django_capture_on_commit_callbacks)
    by_to = {m["To"]: m for m in smtp_server.messages}
    from email.header import decode_header, make_header

    assert str(make_header(decode_header(by_to[chinese.email]["Subject"]))) == f"您好 {chinese.name}"
    assert "退订" in body(by_to[chinese.email])
    other = audience["consenting"][2]
    assert by_to[other.email]["Subject"] == f"Hello {other.name}"


def test_html_is_escaped_and_templates_cannot_reach_outside_their_context(role_user, db):
    from campaigns import messaging

    template = messaging.Template(language="en", subject="Hi {{ name }}", body_text="{{ name }}",
                                  body_html="<p>{{ name }}</p>")
    context = messaging.member_context(name="<script>alert(1)</script>", coupon=None, discount=0,
                                       products=[], unsubscribe_url="https://crm.example/u/x/")
    rendered = messaging.render(template, context)
    assert "<script>" not in rendered.html and "&lt;script&gt;" in rendered.html
    assert rendered.text.startswith("<script>")  # plain text is not HTML
    for source in ("{% load static %}", "{% include 'base.html' %}", "{% debug %}", "{% extends 'x' %}",
                   "{% if %}"):
        assert "body_text" in messaging.template_errors(subject="s", body_text=source, body_html="")


def test_bad_templates_are_refused_with_the_field_and_reason(role_user, db):
    sales = role_user("Sales")
    campaign = draft(sales)
    client = Client()
    client.force_login(sales)
    response = client.post(f"/campaigns/{campaign.pk}/messages/", {
        "en-subject": "Hi", "en-body_text": "{% include 'campaigns/detail.html' %}",
        "zh-hans-subject": "", "zh-hans-body_text": "", "zh-hans-body_html": ""})
    assert response.status_code == 400 and "include" in response.content.decode()
    assert not MessageTemplate.objects.exists()
    response = client.post(f"/campaigns/{campaign.pk}/messages/", {
        "en-subject": "Hi {{ name }}", "en-body_text": "Dear {{ name }}",
        "zh-hans-subject": "", "zh-hans-body_text": "", "zh-hans-body_html": ""})
    assert response.status_code == 302 and MessageTemplate.objects.get().language == "en"


def test_the_preview_renders_a_member_with_and_one_without_recommendations(role_user, audience, settings):
    settings.CAMPAIGN_PRODUCT_URL = "https://shop.example/p/{sku}"
    sales = role_user("Sales")
    campaign = draft(sales, recommend_products=2)
    product = ProductFactory(name="Green tea", price=Decimal("1299.5"))
    recommended = audience["consenting"][0]
    run = ScoreRun.objects.create(as_of=timezone.now(), status="succeeded")
    Recommendation.objects.create(run=run, customer=recommended, product=product, rank=1, score=0.9)
    client = Client()
    client.force_login(sales)
    data = client.get(f"/campaigns/{campaign.pk}/messages/preview.json").json()
    assert data["exclusions"] == {"no_consent": 4, "no_email": 2, "email_invalid": 3}
    with_offer, without = data["previews"]
    assert with_offer["customer"] == recommended.name
    assert "Green tea: ¥1,299.50 https://shop.example/p/" in with_offer["text"]
    assert "SPRING-SAMPLE23" in with_offer["text"] and "Green tea" not in without["text"]
    page = client.get(f"/campaigns/{campaign.pk}/").content.decode()
    assert 'id="campaign-messages"' in page and 'id="audience-breakdown"' in page and "Green tea" in page


def test_the_embedded_default_keeps_messages_in_the_outbox(settings, role_user, audience,
                                                           django_capture_on_commit_callbacks):
    settings.EMAIL_BACKEND = "campaigns.mail.OutboxBackend"
    sales = role_user("Sales")
    launch(draft(sales), sales, django_capture_on_commit_callbacks)
    assert OutboxMessage.objects.count() == treated_count(Campaign.objects.get())
    kept = OutboxMessage.objects.first()
    assert kept.headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click" and kept.body_html
    client = Client()
    client.force_login(role_user("Manager", "boss"))
    assert kept.subject in client.get("/campaigns/outbox/").content.decode()
    assert client.get(f"/campaigns/outbox/{kept.pk}/").status_code == 200


def test_sms_goes_through_the_file_backend(settings, tmp_path, role_user, audience,
                                           django_capture_on_commit_callbacks):
    settings.SMS_FILE_DIR = str(tmp_path)
    settings.CAMPAIGN_SEND_RATES = {"email": 0, "sms": 0}
    sales = role_user("Sales")
    campaign = launch(draft(sales, channel=Campaign.Channel.SMS), sales, django_capture_on_commit_callbacks)
    lines = [json.loads(line) for f in tmp_path.iterdir() for line in f.read_text().splitlines()]
    treated_phones = set(campaign.members.filter(group="treatment").values_list("customer__phone", flat=True))
    assert sorted(line["to"] for line in lines) == sorted(treated_phones)
    assert all("/unsubscribe/" in line["body"] for line in lines)


def test_phone_campaigns_become_call_lists(role_user, audience, django_capture_on_commit_callbacks):
    sales = role_user("Sales")
    role_user("Service", "agent")
    campaign = launch(draft(sales, channel=Campaign.Channel.PHONE), sales, django_capture_on_commit_callbacks)
    assert campaign.tasks.count() == campaign.members.filter(group="treatment").count() == 19
    assert all("SPRING-" in note for note in campaign.tasks.values_list("note", flat=True))
    assert not CampaignMessage.objects.exists()


def test_the_direct_mail_list_is_safe_against_formula_injection(role_user, audience,
                                                                django_capture_on_commit_callbacks):
    Customer.objects.filter(pk=audience["consenting"][0].pk).update(name="=HYPERLINK(\"http://x\")")
    sales = role_user("Manager", "boss")
    campaign = launch(draft(sales, channel=Campaign.Channel.MAIL, control_share=Decimal("0")), sales,
                      django_capture_on_commit_callbacks)
    client = Client()
    client.force_login(sales)
    response = client.get(f"/campaigns/{campaign.pk}/mailing.csv")
    text = response.content.decode("utf-8-sig")
    assert response.status_code == 200 and "'=HYPERLINK" in text
    assert "\n=HYPERLINK" not in text and len(text.strip().splitlines()) == 1 + 25
