"""Delivering a launched campaign's messages and recording what became of them.

Writes of the campaigns app about messages (the ``services`` of this sub-domain): queuing at
launch, sending by the worker, tracking events from the provider, the funnel read by the
results page.

At most once per member: each treated member has one :class:`CampaignMessage` row; a sender first
moves it from ``queued`` to ``sending`` with one conditional UPDATE (it wins only if the row was
still queued), then sends. A repeated or concurrent task finds nothing queued and sends nothing.
A worker that dies between the two leaves the row in ``sending``; after SENDING_TIMEOUT it is
marked failed, never re-sent (a duplicate is worse than a miss for marketing mail).
"""
from __future__ import annotations

import smtplib
import socket
import time
from dataclasses import dataclass
from datetime import timedelta
from email.utils import make_msgid

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.db import transaction
from django.db.models import Count, F, Q
from django.utils import timezone

from analytics.models import Recommendation
from customers.models import Customer, Product
from customers.services import (
    HARD_BOUNCE,
    SPAM_COMPLAINT,
    customer_email_invalidate,
    customer_marketing_consent_withdraw,
)

from . import messaging, sms
from .consent import unsubscribe_url
from .models import Campaign, CampaignMember, CampaignMessage, MessageTemplate

# Messages per batch: one query for their members and customers, one for their products, one
# SMTP connection; small enough that a task redelivered after a crash repeats little.
SEND_BATCH = 200
# A transiently failing message is tried this many times in all before it is marked failed.
MAX_ATTEMPTS = 5
# Backoff between task retries after a transient failure: 30 s, 60 s, 120 s... up to 15 min.
RETRY_BASE_SECONDS = 30
RETRY_MAX_SECONDS = 900
SENDING_TIMEOUT = timedelta(minutes=30)
# Messages claimed, and their outcomes written, together: three statements per chunk instead of
# two per message (each commit cost ~14 ms on the shared bench machine). A worker killed mid-chunk
# leaves at most this many messages in "sending", later marked failed and never sent twice.
CLAIM_CHUNK = 50
MESSAGE_CHANNELS = (Campaign.Channel.EMAIL, Campaign.Channel.SMS)


class TransientSendError(Exception):
    """The provider or the network failed in a way worth retrying later."""


def retry_countdown(retries: int) -> int:
    return min(RETRY_BASE_SECONDS * 2 ** retries, RETRY_MAX_SECONDS)


def messages_create(*, campaign: Campaign, members: list[CampaignMember]) -> int:
    """Queue one message per treated member (called inside campaign_launch's transaction)."""
    if campaign.kind != Campaign.Kind.MARKETING or campaign.channel not in MESSAGE_CHANNELS:
        return 0
    treated = [m for m in members if m.group == CampaignMember.Group.TREATMENT]
    field = "email" if campaign.channel == Campaign.Channel.EMAIL else "phone"
    addresses = dict(Customer.objects.filter(pk__in=[m.customer_id for m in treated])
                     .values_list("pk", field)) if treated else {}
    if treated and treated[0].pk is None:  # bulk_create on SQLite before 3.35 returns no ids
        treated = list(CampaignMember.objects.filter(campaign=campaign, group=CampaignMember.Group.TREATMENT))
    CampaignMessage.objects.bulk_create([
        CampaignMessage(campaign=campaign, member=m, channel=campaign.channel,
                        recipient=addresses.get(m.customer_id, "")) for m in treated], batch_size=1000)
    return len(treated)


def _templates(campaign_id: int) -> dict[str, messaging.Template]:
    return {t.language: messaging.Template(language=t.language, subject=t.subject, body_text=t.body_text,
                                           body_html=t.body_html)
            for t in MessageTemplate.objects.filter(campaign_id=campaign_id)}


def _products(product_ids) -> dict[int, dict]:
    return {pk: messaging.product_entry(name=name, sku=sku, price=price) for pk, name, sku, price in
            Product.objects.filter(pk__in=set(product_ids)).values_list("pk", "name", "sku", "price")}


def _context(campaign: Campaign, *, customer_id: int, name: str, coupon, offered, products) -> dict:
    return messaging.member_context(
        name=name, coupon=coupon, discount=campaign.discount_percent,
        products=[products[p] for p in offered if p in products], unsubscribe_url=unsubscribe_url(customer_id))


@dataclass(frozen=True)
class Preview:
    label: str
    customer: str
    language: str
    subject: str
    text: str
    html: str


def messages_preview(*, campaign: Campaign, samples: list[tuple[str, Customer, list[int], str | None]]
                     ) -> list[Preview]:
    """Render the campaign's message for sample customers (label, customer, offered products,
    coupon) exactly as the sender would."""
    templates = _templates(campaign.pk)
    products = _products(p for _l, _c, offered, _k in samples for p in offered)
    previews = []
    for label, customer, offered, coupon in samples:
        template = messaging.choose_template(templates, customer.language)
        context = _context(campaign, customer_id=customer.pk, name=customer.name, coupon=coupon,
                           offered=offered, products=products)
        if campaign.channel == Campaign.Channel.SMS:
            text = messaging.render_sms(template, context)
            previews.append(Preview(label, customer.name, template.language, "", text, ""))
        else:
            rendered = messaging.render(template, context)
            previews.append(Preview(label, customer.name, rendered.language, rendered.subject,
                                    rendered.text, rendered.html))
    return previews


class _RateLimiter:
    """At most ``rate`` sends a second from this task (0: no limit)."""

    def __init__(self, rate: float):
        self.interval = 1 / rate if rate > 0 else 0
        self.next_at = time.monotonic()

    def wait(self) -> None:
        if not self.interval:
            return
        now = time.monotonic()
        if self.next_at > now:
            time.sleep(self.next_at - now)
        self.next_at = max(self.next_at, now) + self.interval


@transaction.atomic
def _claim(message_ids: list[int]) -> set[int]:
    """queued -> sending, for those of ``message_ids`` nobody else holds; returns the ones won.

    The rows are locked while they change (SKIP LOCKED: a concurrent sender takes other rows
    rather than waiting), and only rows still queued are taken, so a message is claimed once.
    SQLite ignores the lock clause; its IMMEDIATE transactions already run one writer at a time.
    """
    won = list(CampaignMessage.objects.select_for_update(skip_locked=True)
               .filter(pk__in=message_ids, status=CampaignMessage.Status.QUEUED).values_list("pk", flat=True))
    CampaignMessage.objects.filter(pk__in=won).update(
        status=CampaignMessage.Status.SENDING, attempts=F("attempts") + 1, updated_at=timezone.now())
    return set(won)


def _release(message_ids: list[int]) -> None:
    """Claimed but not attempted (the chunk stopped at a transient failure): back to the queue."""
    if message_ids:
        CampaignMessage.objects.filter(pk__in=message_ids, status=CampaignMessage.Status.SENDING).update(
            status=CampaignMessage.Status.QUEUED, attempts=F("attempts") - 1, updated_at=timezone.now())


_RESULT_FIELDS = ["status", "provider_id", "sent_at", "error", "updated_at"]


def _record(results: list[CampaignMessage]) -> None:
    """Write a chunk's outcomes in one statement."""
    now = timezone.now()
    for message in results:
        message.updated_at = now
    if results:
        CampaignMessage.objects.bulk_update(results, _RESULT_FIELDS)


def _outcome(message: CampaignMessage, status: str, *, provider_id: str = "", error: str = "",
             sent: bool = False) -> CampaignMessage:
    message.status, message.provider_id, message.error = status, provider_id[:255], error[:2000]
    message.sent_at = timezone.now() if sent else None
    return message


def _smtp_failure(exc: Exception) -> tuple[str, bool]:
    """(status, transient) for an exception raised while sending one e-mail."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _msg in exc.recipients.values()]
        if codes and all(400 <= code < 500 for code in codes):
            return CampaignMessage.Status.QUEUED, True
        return CampaignMessage.Status.BOUNCED, False
    if isinstance(exc, smtplib.SMTPResponseException):
        return (CampaignMessage.Status.QUEUED, True) if 400 <= exc.smtp_code < 500 else (
            CampaignMessage.Status.FAILED, False)
    if isinstance(exc, (smtplib.SMTPServerDisconnected, smtplib.SMTPConnectError, socket.timeout,
                        ConnectionError, OSError)):
        return CampaignMessage.Status.QUEUED, True
    try:
        from anymail.exceptions import AnymailAPIError, AnymailRecipientsRefused
    except ImportError:  # pragma: no cover - anymail is a product dependency
        return CampaignMessage.Status.FAILED, False
    if isinstance(exc, AnymailRecipientsRefused):
        return CampaignMessage.Status.BOUNCED, False
    if isinstance(exc, AnymailAPIError):
        status = getattr(exc, "status_code", None)
        return (CampaignMessage.Status.QUEUED, True) if status is None or status >= 500 or status == 429 else (
            CampaignMessage.Status.FAILED, False)
    return CampaignMessage.Status.FAILED, False


def _expire_stuck(campaign_id: int) -> None:
    CampaignMessage.objects.filter(
        campaign_id=campaign_id, status=CampaignMessage.Status.SENDING,
        updated_at__lt=timezone.now() - SENDING_TIMEOUT,
    ).update(status=CampaignMessage.Status.FAILED, error="worker lost while sending", updated_at=timezone.now())


def campaign_send(*, campaign_id: int) -> int:
    """Send every queued message of the campaign; returns how many left.

    Runs outside one big transaction on purpose: each message's claim and result commit at once,
    so a crash loses at most the message in flight. Raises :class:`TransientSendError` when the
    provider failed in a way worth retrying (the caller, a Celery task, retries with backoff).
    """
    campaign = Campaign.objects.get(pk=campaign_id)
    if campaign.channel not in MESSAGE_CHANNELS:
        return 0
    _expire_stuck(campaign_id)
    rate = settings.CAMPAIGN_SEND_RATES.get(campaign.channel, settings.CAMPAIGN_SEND_RATE_PER_SECOND)
    limiter = _RateLimiter(rate)
    templates = _templates(campaign_id)
    sent = 0
    last_id = 0
    while True:
        batch = list(CampaignMessage.objects.filter(
            campaign_id=campaign_id, status=CampaignMessage.Status.QUEUED, pk__gt=last_id)
            .select_related("member__customer").order_by("pk")[:SEND_BATCH])
        if not batch:
            return sent
        last_id = batch[-1].pk
        products = _products(p for m in batch for p in m.member.offered_products)
        if campaign.channel == Campaign.Channel.EMAIL:
            sent += _send_email_batch(campaign, batch, templates, products, limiter)
        else:
            sent += _send_sms_batch(campaign, batch, templates, products, limiter)


def _message_for(campaign, message, templates, products):
    customer = message.member.customer
    template = messaging.choose_template(templates, customer.language)
    context = _context(campaign, customer_id=customer.pk, name=customer.name,
                       coupon=message.member.coupon_code, offered=message.member.offered_products,
                       products=products)
    return template, context


def _chunks(items: list, size: int):
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _send_chunks(batch, send_one) -> int:
    """Claim ``batch`` CLAIM_CHUNK messages at a time, send each claimed one with ``send_one``
    (which returns its outcome, or raises TransientSendError after recording its own outcome
    in the list it is given), and write the outcomes of each chunk at once."""
    sent = 0
    for chunk in _chunks(batch, CLAIM_CHUNK):
        claimed = _claim([m.pk for m in chunk])
        results: list[CampaignMessage] = []
        attempted: set[int] = set()
        try:
            for message in chunk:
                if message.pk not in claimed:
                    continue
                attempted.add(message.pk)
                outcome = send_one(message, results)
                results.append(outcome)
                sent += outcome.status == CampaignMessage.Status.SENT
        finally:
            _record(results)
            _release([pk for pk in claimed if pk not in attempted])
            for outcome in results:
                if outcome.status == CampaignMessage.Status.BOUNCED and outcome.channel == Campaign.Channel.EMAIL:
                    customer_email_invalidate(customer_id=outcome.member.customer_id, source=HARD_BOUNCE)
    return sent


def _send_email_batch(campaign, batch, templates, products, limiter) -> int:
    connection = get_connection(fail_silently=False)
    try:
        connection.open()
    except Exception as exc:
        _status, transient = _smtp_failure(exc)
        raise TransientSendError(str(exc)) if transient else exc
    domain = settings.DEFAULT_FROM_EMAIL.rpartition("@")[2].strip(">") or None

    def send_one(message, results):
        customer = message.member.customer
        if not customer.marketing_consent or customer.email_invalid or not customer.email:
            # Consent withdrawn (or the address bounced) between launch and sending.
            return _outcome(message, CampaignMessage.Status.FAILED, error="no consent or no valid address")
        template, context = _message_for(campaign, message, templates, products)
        rendered = messaging.render(template, context)
        message_id = make_msgid(domain=domain)
        email = EmailMultiAlternatives(
            subject=rendered.subject, body=rendered.text, to=[customer.email], connection=connection,
            headers={
                "Message-ID": message_id,
                # RFC 2369 / RFC 8058: mail clients show an unsubscribe button that POSTs here.
                "List-Unsubscribe": f"<{context['unsubscribe_url']}>",
                "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            })
        email.attach_alternative(rendered.html, "text/html")
        limiter.wait()
        try:
            email.send()
        except Exception as exc:  # noqa: BLE001 - classified below, never swallowed silently
            status, transient = _smtp_failure(exc)
            if transient and message.attempts + 1 >= MAX_ATTEMPTS:
                status, transient = CampaignMessage.Status.FAILED, False
            if transient:
                results.append(_outcome(message, CampaignMessage.Status.QUEUED, error=str(exc)))
                raise TransientSendError(str(exc)) from exc
            return _outcome(message, status, error=str(exc))
        anymail_status = getattr(email, "anymail_status", None)
        provider_id = anymail_status.message_id if anymail_status and anymail_status.message_id else message_id
        return _outcome(message, CampaignMessage.Status.SENT, provider_id=str(provider_id), sent=True)

    try:
        return _send_chunks(batch, send_one)
    finally:
        connection.close()


def _send_sms_batch(campaign, batch, templates, products, limiter) -> int:
    backend = sms.get_backend()

    def send_one(message, results):
        customer = message.member.customer
        if not customer.marketing_consent or not customer.phone:
            return _outcome(message, CampaignMessage.Status.FAILED, error="no consent or no phone")
        template, context = _message_for(campaign, message, templates, products)
        body = messaging.render_sms(template, context)
        limiter.wait()
        try:
            provider_id = backend.send(to=customer.phone, body=body)
        except sms.SmsError as exc:
            if exc.transient and message.attempts + 1 < MAX_ATTEMPTS:
                results.append(_outcome(message, CampaignMessage.Status.QUEUED, error=str(exc)))
                raise TransientSendError(str(exc)) from exc
            return _outcome(message, CampaignMessage.Status.FAILED, error=str(exc))
        return _outcome(message, CampaignMessage.Status.SENT, provider_id=str(provider_id), sent=True)

    return _send_chunks(batch, send_one)


# anymail's normalised event types (https://anymail.dev/en/stable/sending/tracking/#event-types)
# mapped to our statuses; the others (queued, deferred, autoresponded, unknown) change nothing.
TRACKING_STATUS = {
    "sent": CampaignMessage.Status.SENT,
    "delivered": CampaignMessage.Status.DELIVERED,
    "opened": CampaignMessage.Status.OPENED,
    "clicked": CampaignMessage.Status.CLICKED,
    "bounced": CampaignMessage.Status.BOUNCED,
    "rejected": CampaignMessage.Status.BOUNCED,
    "complained": CampaignMessage.Status.COMPLAINED,
    "failed": CampaignMessage.Status.FAILED,
    "unsubscribed": None,
}


@transaction.atomic
def message_tracking_record(*, provider_id: str, event_type: str, recipient: str = "") -> CampaignMessage | None:
    """Apply one tracking event (from anymail's ``tracking`` signal) to the message it concerns.

    Statuses only move forward (an "opened" arriving after "clicked" changes nothing). A hard
    bounce marks the address invalid; a complaint also turns marketing consent off; an
    "unsubscribed" event from the provider turns consent off.
    """
    if not provider_id:
        return None
    message = (CampaignMessage.objects.select_for_update().select_related("member")
               .filter(provider_id=provider_id).first())
    if message is None:
        return None
    customer_id = message.member.customer_id
    if event_type == "unsubscribed":
        customer_marketing_consent_withdraw(customer_id=customer_id, source="provider unsubscribe")
        return message
    status = TRACKING_STATUS.get(event_type)
    if status is None:
        return message
    if CampaignMessage.RANK[status] > CampaignMessage.RANK[message.status]:
        message.status = status
        message.save(update_fields=["status", "updated_at"])
    if status in (CampaignMessage.Status.BOUNCED, CampaignMessage.Status.COMPLAINED) \
            and message.channel == Campaign.Channel.EMAIL:
        customer_email_invalidate(customer_id=customer_id,
                                  source=SPAM_COMPLAINT if status == CampaignMessage.Status.COMPLAINED
                                  else HARD_BOUNCE)
    if status == CampaignMessage.Status.COMPLAINED:
        customer_marketing_consent_withdraw(customer_id=customer_id, source=SPAM_COMPLAINT)
    return message


def campaign_funnel(campaign: Campaign) -> dict | None:
    """Reached, opened, clicked and converted per group, for the results page: one query plus
    the stored results. None when the campaign sends no messages."""
    if campaign.channel not in MESSAGE_CHANNELS or campaign.kind != Campaign.Kind.MARKETING:
        return None
    s = CampaignMessage.Status
    counts = CampaignMessage.objects.filter(campaign=campaign, member__added_by_hand=False).aggregate(
        queued=Count("pk", filter=Q(status__in=[s.QUEUED, s.SENDING])),
        reached=Count("pk", filter=Q(status__in=CampaignMessage.REACHED)),
        opened=Count("pk", filter=Q(status__in=[s.OPENED, s.CLICKED])),
        clicked=Count("pk", filter=Q(status=s.CLICKED)),
        bounced=Count("pk", filter=Q(status=s.BOUNCED)),
        failed=Count("pk", filter=Q(status=s.FAILED)),
    )
    results = campaign.results or {}
    members = dict(campaign.members.filter(added_by_hand=False).values_list("group")
                   .annotate(n=Count("pk")).order_by())
    return {
        "treatment": {"members": members.get("treatment", 0), **counts,
                      "converted": results.get("treatment_converters")},
        # The control group is never contacted: nothing reached, opened or clicked by design.
        "control": {"members": members.get("control", 0), "reached": 0, "opened": 0, "clicked": 0,
                    "converted": results.get("control_converters")},
    }


SAMPLE_COUPON_CODE = "SAMPLE23"


def preview_samples(campaign: Campaign) -> list[tuple[str, Customer, list[int], str | None]]:
    """Sample members for the preview: a treated member with recommended products (or the
    bundle) and one without. Before launch they come from today's audience, after launch from
    the members. A handful of queries, whatever the audience size."""
    from django.utils.translation import gettext as _

    from .selectors import campaign_audience_stages

    with_label, without_label = _("Treated, with recommendations"), _("Treated, without recommendations")
    if campaign.launched_at:
        treated = campaign.members.filter(group=CampaignMember.Group.TREATMENT).select_related("customer")
        samples = []
        with_offer = treated.exclude(offered_products=[]).order_by("pk").first()
        without = treated.filter(offered_products=[]).order_by("pk").first()
        for label, member in ((with_label, with_offer), (without_label, without)):
            if member:
                samples.append((label, member.customer, list(member.offered_products), member.coupon_code))
        return samples
    customers = campaign_audience_stages(campaign)[-1][1].order_by("pk")
    coupon = (campaign.coupon_pattern.replace("{code}", SAMPLE_COUPON_CODE)
              if campaign.kind == Campaign.Kind.MARKETING and campaign.coupon_pattern else None)
    samples = []
    if campaign.bundle_products:
        first = customers.first()
        if first:
            samples.append((with_label, first, list(campaign.bundle_products), coupon))
        return samples
    recommended = Recommendation.objects.filter(customer_id__in=customers.values("pk"))
    if campaign.recommend_products:
        first_id = recommended.order_by("customer_id").values_list("customer_id", flat=True).first()
        if first_id:
            offered = list(Recommendation.objects.filter(
                customer_id=first_id, rank__lte=campaign.recommend_products)
                .order_by("rank").values_list("product_id", flat=True))
            samples.append((with_label, Customer.objects.get(pk=first_id), offered, coupon))
        without = customers.exclude(pk__in=recommended.values("customer_id")).first()
    else:
        without = customers.first()
    if without:
        samples.append((without_label, without, [], coupon))
    return samples
