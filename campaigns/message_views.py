"""Staff pages for campaign messages (templates, preview, schedule, outbox, mailing list) and the
public unsubscribe page; split from views.py, which keeps the detail page's message context."""
from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_not_required, permission_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db import transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from core.spreadsheets import safe_csv_writer
from customers.models import Customer, Product
from customers.permissions import can_view_pii
from customers.services import UNSUBSCRIBE_LINK, customer_marketing_consent_withdraw

from . import delivery, services
from .consent import unsubscribe_customer_id
from .forms import MessageTemplateForm
from .models import MESSAGE_LANGUAGES, Campaign, OutboxMessage
from .views import _error_text, _exclusions, _message_previews


@permission_required("campaigns.change_campaign", raise_exception=True)
def campaign_messages_edit(request: HttpRequest, pk: int) -> HttpResponse:
    campaign = get_object_or_404(Campaign, pk=pk)
    if not campaign.is_editable:
        messages.error(request, _("A launched campaign cannot be changed."))
        return redirect("campaigns:detail", pk=pk)
    existing = {t.language: t for t in campaign.message_templates.all()}
    forms = {}
    for code, _label in MESSAGE_LANGUAGES:
        template = existing.get(code)
        initial = ({"subject": template.subject, "body_text": template.body_text,
                    "body_html": template.body_html} if template else {})
        forms[code] = MessageTemplateForm(request.POST if request.method == "POST" else None,
                                          initial=initial, prefix=code)
    if request.method == "POST" and all(form.is_valid() for form in forms.values()):
        try:
            with transaction.atomic():
                for code, form in forms.items():
                    current = form
                    services.message_template_save(campaign_id=campaign.pk, actor=request.user,
                                                   language=code, **form.cleaned_data)
        except ValidationError as exc:
            errors = exc.error_dict if hasattr(exc, "error_dict") else {None: exc.error_list}
            for field, field_errors in errors.items():
                current.add_error(field if field in current.fields else None, field_errors)
        else:
            messages.success(request, _("Messages saved."))
            return redirect("campaigns:detail", pk=pk)
    status = 400 if request.method == "POST" else 200
    return render(request, "campaigns/messages_edit.html", {
        "campaign": campaign, "language_forms": [(label, forms[code]) for code, label in MESSAGE_LANGUAGES],
        "variables_help": _(
            "Each customer gets the message in their language, or else in the default language. "
            "Available: {{ name }}, {{ coupon }}, {{ discount }}, {{ products }} (each with name, price "
            "and url), {{ sender.name }}, {{ sender.address }}, {{ unsubscribe_url }}. An unsubscribe "
            "footer is always added."),
    }, status=status)


@permission_required("campaigns.view_campaign", raise_exception=True)
def campaign_messages_preview_json(request: HttpRequest, pk: int) -> JsonResponse:
    """The rendered sample messages and who is left out, by reason."""
    campaign = get_object_or_404(Campaign, pk=pk)
    return JsonResponse({
        "exclusions": _exclusions(campaign),
        "previews": [{"label": str(p.label), "customer": p.customer, "language": p.language,
                      "subject": p.subject, "text": p.text, "html": p.html}
                     for p in (_message_previews(campaign)
                               if campaign.channel in delivery.MESSAGE_CHANNELS else [])],
    })


@require_POST
@permission_required("campaigns.change_campaign", raise_exception=True)
def campaign_schedule(request: HttpRequest, pk: int) -> HttpResponse:
    get_object_or_404(Campaign, pk=pk)
    try:
        campaign = services.campaign_schedule(campaign_id=pk, actor=request.user)
    except ValidationError as exc:
        messages.error(request, _error_text(exc))
    else:
        if campaign.status == Campaign.Status.SCHEDULED:
            messages.success(request, _("The campaign will launch itself on %(date)s.") % {
                "date": campaign.starts_on.isoformat()})
        else:
            messages.success(request, _("The campaign is a draft again."))
    return redirect("campaigns:detail", pk=pk)


OUTBOX_PER_PAGE = 50


@permission_required("campaigns.view_campaign", raise_exception=True)
def outbox_index(request: HttpRequest) -> HttpResponse:
    if not can_view_pii(request.user):  # recipients' addresses are contact details
        raise PermissionDenied
    page = Paginator(OutboxMessage.objects.only("pk", "to", "subject", "created_at"),
                     OUTBOX_PER_PAGE).get_page(request.GET.get("page"))
    return render(request, "campaigns/outbox.html", {"page": page})


@permission_required("campaigns.view_campaign", raise_exception=True)
def outbox_detail(request: HttpRequest, pk: int) -> HttpResponse:
    if not can_view_pii(request.user):
        raise PermissionDenied
    message = get_object_or_404(OutboxMessage, pk=pk)
    return render(request, "campaigns/outbox_detail.html", {"message": message})


@permission_required(["campaigns.view_campaign", "campaigns.view_campaignmember"], raise_exception=True)
def campaign_mail_list(request: HttpRequest, pk: int) -> HttpResponse:
    """The printable list of a direct-mail campaign: one row per treated member with the postal
    details we hold, the coupon and the offer."""
    campaign = get_object_or_404(Campaign, pk=pk)
    if campaign.launched_at is None or campaign.channel != Campaign.Channel.MAIL:
        return HttpResponse(_("Only a launched direct-mail campaign has a mailing list."), status=400,
                            content_type="text/plain; charset=utf-8")
    if not can_view_pii(request.user):
        raise PermissionDenied
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="campaign-{campaign.pk}-mailing.csv"'
    response.write("\ufeff")
    writer = safe_csv_writer(response)
    writer.writerow([_("Name"), _("City"), _("Region"), _("Country"), _("Coupon"), _("Offered products")])
    members = (campaign.members.filter(group="treatment").select_related("customer").order_by("pk"))
    names = dict(Product.objects.filter(pk__in={p for m in members for p in m.offered_products})
                 .values_list("pk", "name"))
    for member in members.iterator(chunk_size=2000):
        customer = member.customer
        writer.writerow([
            customer.name, customer.city, customer.region, customer.country, member.coupon_code or "",
            ", ".join(names.get(p, f"#{p}") for p in member.offered_products)])
    return response


@csrf_exempt
@login_not_required
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    """One click, no login (RFC 8058): GET from the link in the message, or POST from the mail
    client's unsubscribe button (``List-Unsubscribe-Post``; it sends no CSRF token, and needs
    none: the signed token is the credential, and unsubscribing is the only thing it can do)."""
    customer_id = unsubscribe_customer_id(token)
    if customer_id is None or not Customer.objects.filter(pk=customer_id).exists():
        return render(request, "campaigns/unsubscribe.html", {"invalid": True}, status=400)
    if request.method not in ("GET", "POST", "HEAD"):
        return HttpResponse(status=405)
    if request.method != "HEAD":
        customer_marketing_consent_withdraw(customer_id=customer_id, source=UNSUBSCRIBE_LINK)
    return render(request, "campaigns/unsubscribe.html", {"invalid": False})
