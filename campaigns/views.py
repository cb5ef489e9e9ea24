"""Staff pages for campaigns: parse input, call a service or selector, render."""
from __future__ import annotations

from datetime import timedelta

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import Count
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from core import formatting
from core.charts import SERIES, axis_title, chart, money_title
from core.navigation import page_permission, user_may
from core.spreadsheets import safe_csv_writer
from customers.models import ComplaintReason, Customer, Level, Product
from customers.permissions import can_view_pii

from . import delivery, services, tasks
from .forms import (
    AudienceForm,
    CampaignAddForm,
    CampaignForm,
    PowerForm,
    ServiceTaskCreateForm,
    ServiceTaskForm,
    product_names,
)
from .models import MAX_FREQUENCY_CAP_DAYS, Campaign, CampaignMessage, ServiceTask, UpliftModel
from .permissions import can_add_campaign, can_change_campaign, can_view_members
from .playbooks import playbooks
from .selectors import (
    OPEN_COMPLAINT_DAYS,
    TINY_CONTROL,
    audience_breakdown,
    audience_power,
    audience_preview,
    audience_queryset,
    audience_stages,
    campaign_audience_stages,
    campaign_breakdown,
    campaign_list,
    launch_summary,
    member_outcomes,
    open_complaints,
    results_status,
    service_task_queue,
)

MEMBERS_PER_PAGE = 50
TASKS_PER_PAGE = 50
# Rows of each list on My work; the task queue and the customer list have the rest.
MY_WORK_ROWS = 30
# Members read per database round trip when writing the results CSV; the offered products'
# names are looked up once per chunk.
CSV_CHUNK = 2000


def _chunks(items, size: int):
    chunk = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _error_text(exc: ValidationError) -> str:
    return " ".join(exc.messages)


def _offer(data) -> dict:
    """The campaign form's offer as the audience's profit rule reads it; a value the campaign form
    will refuse anyway is left out here."""
    offer = {}
    for key, field, scale in (("discount", "c-discount_percent", 0.01), ("contact_cost", "c-cost_per_contact", 1),
                              ("days", "c-attribution_days", 1)):
        try:
            value = float(data.get(field) or "")
        except ValueError:
            continue
        if value >= 0:
            offer[key] = int(value) if key == "days" else value * scale
    return offer


@permission_required("campaigns.view_campaign", raise_exception=True)
def campaign_index(request: HttpRequest) -> HttpResponse:
    page = Paginator(campaign_list(request.user), 50).get_page(request.GET.get("page"))
    return render(request, "campaigns/list.html", {"page": page})


@permission_required("campaigns.view_campaign", raise_exception=True)
def uplift_models(request: HttpRequest) -> HttpResponse:
    """Whom campaigns change, per objective: the chosen uplift model's held-out Qini curve
    against random targeting, its interval, and whether it is better than random at all."""
    models = []
    for model in UpliftModel.objects.all():
        curve = model.card.get("curve", {})
        models.append({"model": model, "chart": chart("line", [f"{round(100 * s)} %" for s in curve.get("share", [])], [
            {"label": _("Targeting by predicted uplift"), "data": curve.get("model", []), "fill": False,
             "backgroundColor": SERIES[1]},
            {"label": _("Random targeting"), "data": curve.get("random", []), "fill": False,
             "borderDash": [6, 4], "backgroundColor": SERIES[0]}],
            x_title=_("Held-out members contacted (%)"), y_title=_("Extra conversions (members)"))})
    return render(request, "campaigns/uplift.html", {"models": models})


@permission_required("campaigns.view_campaign", raise_exception=True)
def campaign_detail(request: HttpRequest, pk: int) -> HttpResponse:
    campaign = get_object_or_404(Campaign.objects.select_related("created_by", "launched_by"), pk=pk)
    members = None
    if can_view_members(request.user):
        members = Paginator(campaign.members.select_related("customer").order_by("pk"),
                            MEMBERS_PER_PAGE).get_page(request.GET.get("page"))
    products: dict[int, str] = {}
    if members is not None:
        # One query for the names of every product offered on this page.
        wanted = {pid for member in members.object_list for pid in member.offered_products}
        products = dict(Product.objects.filter(pk__in=wanted).values_list("pk", "name"))
        segments = dict(Level.choices)
        for member in members.object_list:
            member.offer_names = [products.get(pid, f"#{pid}") for pid in member.offered_products]
            # The stored code ("high") in words, in the page's language.
            member.segment_label = segments.get(member.scores.get("value_segment"),
                                                member.scores.get("value_segment"))
    audience_items = _audience_items(campaign.audience)
    preview, stages = None, None
    if campaign.is_editable:
        stages = campaign_audience_stages(campaign)
        preview = audience_preview(stages[-1][1])
    breakdown = campaign_breakdown(campaign, stages=stages)
    return render(request, "campaigns/detail.html", {
        "campaign": campaign, "members": members, "preview": preview, "audience_items": audience_items,
        "breakdown": breakdown_rows(breakdown),
        "bundle_names": list(product_names(campaign.bundle_products).values()),
        "can_change": can_change_campaign(request.user, campaign), **messages_context(campaign),
    })


def _audience_items(audience: dict) -> list[tuple[str, str]]:
    """The stored audience in words: each filter's label and its values' labels ("Value
    segments: High, Medium"), product names instead of ids. One query for the products."""
    fields = AudienceForm.base_fields
    names = product_names(pid for key in ("bought_any", "not_bought_any") for pid in audience.get(key, []))
    items = []
    for key, value in audience.items():
        field = fields.get(key)
        if key in ("bought_any", "not_bought_any"):
            value = [names.get(int(pid), f"#{pid}") for pid in value]
        elif field is not None and hasattr(field, "choices") and isinstance(value, list):
            labels = dict(field.choices)
            value = [labels.get(v, v) for v in value]
        items.append((field.label if field is not None else key,
                      ", ".join(map(str, value)) if isinstance(value, list) else value))
    return items


def _edit(request: HttpRequest, campaign: Campaign | None) -> HttpResponse:
    initial_audience = campaign.audience if campaign else {}
    if request.method == "POST":
        form = CampaignForm(request.POST, instance=campaign, user=request.user, prefix="c")
        audience_form = AudienceForm(request.POST, prefix="a", objective=request.POST.get("c-objective"),
                                     offer=_offer(request.POST))
        if form.is_valid() and audience_form.is_valid():
            fields = {name: form.cleaned_data[name] for name in form.Meta.fields}
            try:
                if campaign is None:
                    campaign = services.campaign_create(created_by=request.user, fields=fields,
                                                        audience=audience_form.audience())
                else:
                    campaign = services.campaign_update(campaign_id=campaign.pk, actor=request.user,
                                                        fields=fields, audience=audience_form.audience())
            except ValidationError as exc:
                form.add_error(None, exc)
            else:
                messages.success(request, _("Campaign saved."))
                return redirect("campaigns:detail", pk=campaign.pk)
    else:
        form = CampaignForm(instance=campaign, user=request.user, prefix="c")
        audience_form = AudienceForm(initial=initial_audience, prefix="a")
    return render(request, "campaigns/edit.html", {
        "form": form, "audience_form": audience_form, "campaign": campaign,
        "picker_config": _picker_config(audience_form),
        # The audience breakdown's words for the page's script (as in campaigns/_breakdown.html).
        "breakdown_words": {"matched": _("Match the filters"), "audience": _("Audience")}})


def _picker_config(audience_form: AudienceForm) -> dict:
    """What static/js/product-picker.js needs: the API to search and the names of the products
    already chosen (one query), and its few words in the page's language."""
    chosen = []
    for name in ("bought_any", "not_bought_any"):
        value = (audience_form[name].data if audience_form.is_bound
                 else audience_form.initial.get(name, []))
        if isinstance(value, str):
            value = value.split(",")
        chosen += [str(v).strip() for v in value or [] if str(v).strip().isdigit()]
    return {"url": reverse("api-product-list"),
            "names": {str(pk): name for pk, name in product_names(chosen).items()},
            # %s is the product's name.
            "remove": _("Remove %s"), "empty": _("No product found."),
            "search": _("Search products by name or SKU")}


@permission_required("campaigns.add_campaign", raise_exception=True)
def campaign_create(request: HttpRequest) -> HttpResponse:
    return _edit(request, None)


@permission_required("campaigns.change_campaign", raise_exception=True)
def campaign_edit(request: HttpRequest, pk: int) -> HttpResponse:
    campaign = get_object_or_404(Campaign, pk=pk)
    if not campaign.is_editable:
        messages.error(request, _("A launched campaign cannot be changed."))
        return redirect("campaigns:detail", pk=pk)
    return _edit(request, campaign)


@permission_required("campaigns.view_campaign", raise_exception=True)
def audience_preview_json(request: HttpRequest) -> JsonResponse:
    """Live audience size and CLV at stake for the filters being edited (GET, form-encoded)."""
    audience_form = AudienceForm(request.GET, prefix="a", objective=request.GET.get("c-objective"),
                                 offer=_offer(request.GET))
    if not audience_form.is_valid():
        return JsonResponse({"errors": audience_form.errors}, status=400)
    kind = request.GET.get("c-kind", Campaign.Kind.MARKETING)
    if kind not in Campaign.Kind.values:
        return JsonResponse({"errors": {"kind": [_("Unknown campaign kind.")]}}, status=400)
    try:
        cap = int(request.GET.get("c-frequency_cap_days") or 0)
    except ValueError:
        return JsonResponse({"errors": {"frequency_cap_days": [_("Enter a whole number.")]}}, status=400)
    if not 0 <= cap <= MAX_FREQUENCY_CAP_DAYS:
        # A huge cap overflowed the date arithmetic (a 500); the same bound as the API's.
        return JsonResponse({"errors": {"frequency_cap_days": [
            _("Enter a number from 0 to %(max)s.") % {"max": MAX_FREQUENCY_CAP_DAYS}]}}, status=400)
    power_form = PowerForm(request.GET, prefix="c")
    if not power_form.is_valid():
        return JsonResponse({"errors": power_form.errors}, status=400)
    channel = request.GET.get("c-channel", Campaign._meta.get_field("channel").default)
    if channel not in Campaign.Channel.values:
        return JsonResponse({"errors": {"channel": [_("Unknown channel.")]}}, status=400)
    exclude = request.GET.get("campaign")
    audience = audience_form.audience()
    # The campaign's own stages, as launching it would apply them (campaign_audience_stages).
    stages = audience_stages(filters=audience, kind=kind, channel=channel, frequency_cap_days=cap,
                             exclude_campaign_id=int(exclude) if exclude and exclude.isdigit() else None)
    customers = stages[-1][1]
    preview = audience_preview(customers)
    preview["clv_total_display"] = formatting.money(preview["clv_total"], decimals=False)
    preview["breakdown"] = breakdown_rows(audience_breakdown(filters=audience, kind=kind, stages=stages))
    preview["power"] = audience_power(customers, size=preview["size"], **power_form.parameters())
    return JsonResponse(preview)


@permission_required("campaigns.change_campaign", raise_exception=True)
def campaign_launch(request: HttpRequest, pk: int) -> HttpResponse:
    """GET: what launching would do (audience, control group, cost, the power check), to confirm;
    POST: launch."""
    campaign = get_object_or_404(Campaign, pk=pk)
    if request.method == "GET":
        if not campaign.is_editable:
            messages.error(request, _("This campaign has already been launched."))
            return redirect("campaigns:detail", pk=pk)
        summary = launch_summary(campaign)
        return render(request, "campaigns/launch_confirm.html",
                      {"campaign": campaign, "summary": summary, "breakdown": breakdown_rows(summary["breakdown"]),
                       "schedule": request.GET.get("schedule") == "1", "tiny_control": TINY_CONTROL})
    if request.method != "POST":
        return HttpResponseNotAllowed(["GET", "POST"])
    try:
        campaign = services.campaign_launch(campaign_id=pk, launched_by=request.user)
    except ValidationError as exc:
        messages.error(request, _error_text(exc))
    else:
        messages.success(request, _("Campaign launched to %(n)d customers.") % {
            "n": campaign.members.count()})
    return redirect("campaigns:detail", pk=pk)


def results_chart(results: dict) -> dict:
    """Treatment against control: the conversion rate on the left axis, revenue per member on the
    right one."""
    groups = ("treatment", "control")
    rate_title, revenue_title = _("Conversion rate (%)"), money_title(_("Revenue per member"))
    return chart("bar", [_("Treatment"), _("Control")], [
        {"label": rate_title, "yAxisID": "rate", "backgroundColor": SERIES[0],
         "data": [round((results.get(f"{g}_rate") or 0) * 100, 2) for g in groups]},
        {"label": revenue_title, "yAxisID": "revenue", "backgroundColor": SERIES[1],
         "data": [round(results[f"{g}_revenue"] / results[f"{g}_members"], 2) if results.get(f"{g}_members") else 0
                  for g in groups]},
    ], x_title=_("Group"), scales={
        "rate": {"position": "left", "beginAtZero": True, "title": axis_title(rate_title)},
        "revenue": {"position": "right", "beginAtZero": True, "grid": {"drawOnChartArea": False},
                    "title": axis_title(revenue_title)}})


@permission_required("campaigns.view_campaign", raise_exception=True)
def campaign_results(request: HttpRequest, pk: int) -> HttpResponse:
    campaign = get_object_or_404(Campaign, pk=pk)
    results = campaign.results or {}

    def points(value):  # a difference of rates, shown in percentage points
        return None if value is None else f"{value * 100:+.1f}"

    def percent(value):
        return None if value is None else f"{value * 100:+.0f} %"

    status = results_status(campaign)
    context = {"campaign": campaign, "results": results, **status, "funnel": delivery.campaign_funnel(campaign)}
    if status["too_early"]:
        context["window_end"] = (results.get("window_end", "")[:10] if results else
                                 (campaign.launched_at + timedelta(days=campaign.attribution_days)).date().isoformat()
                                 if campaign.launched_at else "")
    elif results:
        context.update(
            uplift_pp=points(results.get("absolute_uplift")),
            ci_low=points(results.get("absolute_uplift_low")),
            ci_high=points(results.get("absolute_uplift_high")),
            relative=percent(results.get("relative_uplift")), roi=percent(results.get("roi")),
            relative_low=percent(results.get("relative_uplift_low")),
            relative_high=percent(results.get("relative_uplift_high")),
            chart=results_chart(results))
    return render(request, "campaigns/results.html", context)


@require_POST
@permission_required("campaigns.view_campaign", raise_exception=True)
def campaign_results_refresh(request: HttpRequest, pk: int) -> HttpResponse:
    campaign = get_object_or_404(Campaign, pk=pk)
    if campaign.launched_at is None:
        messages.error(request, _("The campaign has not been launched yet."))
        return redirect("campaigns:detail", pk=pk)
    transaction.on_commit(lambda: tasks.campaign_results_refresh.delay(pk))
    messages.success(request, _("Results are being refreshed."))
    return redirect("campaigns:results", pk=pk)


@permission_required(["campaigns.view_campaign", "campaigns.view_campaignmember"], raise_exception=True)
def campaign_results_csv(request: HttpRequest, pk: int) -> HttpResponse:
    """One row per member: group, coupon, offer and outcome in the window. No contact details."""
    campaign = get_object_or_404(Campaign, pk=pk)
    if campaign.launched_at is None:
        return HttpResponse(_("The campaign has not been launched yet."), status=400,
                            content_type="text/plain; charset=utf-8")
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="campaign-{campaign.pk}-results.csv"'
    writer = safe_csv_writer(response)
    writer.writerow(["customer_id", "customer", "group", "stratum", "coupon_code", "offered_products",
                     # Raw numbers, the currency named in the header (core.formatting's rule for exports).
                     "offered_product_ids", "orders_in_window", f"revenue_in_window_{formatting.currency_code()}",
                     "converted",
                     "added_by_hand"])
    rows = member_outcomes(campaign).select_related("customer")
    names: dict[int, str] = {}
    for chunk in _chunks(rows.iterator(chunk_size=CSV_CHUNK), CSV_CHUNK):
        # The names of the products offered in this chunk that are not known yet: one query.
        names |= product_names({pid for m in chunk for pid in m.offered_products} - set(names))
        for member in chunk:
            writer.writerow([member.customer_id, member.customer.name, member.group, member.stratum,
                             member.coupon_code or "",
                             "; ".join(names.get(pid, f"#{pid}") for pid in member.offered_products),
                             " ".join(map(str, member.offered_products)),
                             member.window_orders, member.window_revenue or 0,
                             int(member.window_orders > 0), int(member.added_by_hand)])
    return response


@permission_required("campaigns.view_campaign", raise_exception=True)
def playbook_index(request: HttpRequest) -> HttpResponse:
    rows = []
    for playbook in playbooks():
        preview = None
        if playbook.available:
            fields = Campaign._meta
            preview = audience_preview(audience_queryset(
                filters=playbook.audience, kind=playbook.fields.get("kind", Campaign.Kind.MARKETING),
                channel=playbook.fields.get("channel", fields.get_field("channel").default),
                frequency_cap_days=playbook.fields.get("frequency_cap_days",
                                                       fields.get_field("frequency_cap_days").default)))
        allowed = can_add_campaign(request.user, playbook.fields.get("kind", Campaign.Kind.MARKETING))
        rows.append({"playbook": playbook, "preview": preview, "allowed": allowed})
    return render(request, "campaigns/playbooks.html", {"rows": rows})


@require_POST
@permission_required("campaigns.add_campaign", raise_exception=True)
def playbook_use(request: HttpRequest, key: str) -> HttpResponse:
    try:
        campaign = services.campaign_create_from_playbook(key=key, created_by=request.user)
    except ValidationError as exc:
        messages.error(request, _error_text(exc))
        return redirect("campaigns:playbooks")
    messages.success(request, _("Draft created from the playbook: review it, then launch."))
    return redirect("campaigns:detail", pk=campaign.pk)


@permission_required("campaigns.view_servicetask", raise_exception=True)
def task_queue(request: HttpRequest) -> HttpResponse:
    show = request.GET.get("show", "open")
    tasks_qs = service_task_queue(request.user, open_only=show != "all")
    page = Paginator(tasks_qs, TASKS_PER_PAGE).get_page(request.GET.get("page"))
    return render(request, "campaigns/tasks.html", {
        "page": page, "show": show, "statuses": ServiceTask.Status.choices,
        "can_view_pii": can_view_pii(request.user),
        "can_change": request.user.has_perm("campaigns.change_servicetask"),
    })


@page_permission("my_work")
def my_work(request: HttpRequest) -> HttpResponse:
    """A service agent's start page: their open tasks by due date, overdue first, and the
    customers with an open complaint (campaigns.selectors.open_complaints)."""
    queue = service_task_queue(request.user).filter(assignee=request.user)
    complaints = open_complaints()
    reasons = dict(ComplaintReason.choices)
    complaint_rows = list(complaints[:MY_WORK_ROWS])
    for customer in complaint_rows:
        customer.complaint_reason_label = reasons.get(customer.complaint_reason, "")
    today = timezone.localdate()
    task_rows = list(queue[:MY_WORK_ROWS])
    for task in task_rows:
        task.days_overdue = (today - task.due_on).days
    return render(request, "campaigns/my_work.html", {
        "tasks": task_rows, "task_total": queue.count(),
        "complaints": complaint_rows, "complaint_total": complaints.count(),
        "complaint_days": OPEN_COMPLAINT_DAYS,
    })


@require_POST
@permission_required("campaigns.change_servicetask", raise_exception=True)
def task_update(request: HttpRequest, pk: int) -> HttpResponse:
    task = get_object_or_404(ServiceTask.objects.restrict(request.user, "change"), pk=pk)
    form = ServiceTaskForm(request.POST)
    if not form.is_valid():
        messages.error(request, "; ".join(f"{field}: {' '.join(errors)}"
                                          for field, errors in form.errors.items()))
    else:
        try:
            services.service_task_update(task_id=task.pk, actor=request.user,
                                         status=form.cleaned_data["status"],
                                         outcome=form.cleaned_data["outcome"])
        except ValidationError as exc:
            messages.error(request, _error_text(exc))
        else:
            messages.success(request, _("Task updated."))
    return redirect("campaigns:tasks")


# Actions of the customer 360. The 360 page belongs to customers/, which must not import this
# app; it loads the campaign panel through the campaign_tags template library, and these views
# do the work and send the user back to the 360.


def _form_errors(form) -> str:
    return "; ".join(f"{form.fields[field].label if field in form.fields else field}: {' '.join(errors)}"
                     for field, errors in form.errors.items())


def _customer_for_action(request: HttpRequest, pk: int) -> Customer:
    if not user_may(request.user, "customers"):
        raise PermissionDenied
    customer = Customer.objects.live().filter(pk=pk).first()
    if customer is None:
        raise Http404(_("No customer with id %(id)s.") % {"id": pk})
    return customer


@require_POST
@permission_required("campaigns.add_servicetask", raise_exception=True)
def customer_task_create(request: HttpRequest, pk: int) -> HttpResponse:
    customer = _customer_for_action(request, pk)
    form = ServiceTaskCreateForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("The task was not created. %(errors)s") % {"errors": _form_errors(form)})
    else:
        try:
            services.service_task_create(customer_id=customer.pk, actor=request.user,
                                         assignee_id=form.cleaned_data["assignee"].pk,
                                         due_on=form.cleaned_data["due_on"], note=form.cleaned_data["note"])
        except ValidationError as exc:
            messages.error(request, _("The task was not created. %(errors)s") % {"errors": _error_text(exc)})
        else:
            messages.success(request, _("Service task created for %(name)s.") % {"name": customer.name})
    return redirect(reverse("customers:detail", args=[customer.pk]) + "#service-tasks")


@require_POST
@permission_required("campaigns.change_campaign", raise_exception=True)
def customer_campaign_add(request: HttpRequest, pk: int) -> HttpResponse:
    customer = _customer_for_action(request, pk)
    form = CampaignAddForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Not added. %(errors)s") % {"errors": _form_errors(form)})
    else:
        campaign = form.cleaned_data["campaign"]
        try:
            result = services.campaign_member_add(campaign_id=campaign.pk, customer_id=customer.pk,
                                                  actor=request.user)
        except ValidationError as exc:
            messages.error(request, _("Not added. %(errors)s") % {"errors": _error_text(exc)})
        else:
            if isinstance(result, Campaign):
                messages.success(request, _(
                    "%(name)s will be in %(campaign)s when it is launched (treated or control, by the "
                    "same random draw as everyone).") % {"name": customer.name, "campaign": campaign.name})
            else:
                messages.success(request, _(
                    "%(name)s was added to %(campaign)s as a treated member, marked as added by hand "
                    "and left out of the uplift figures.") % {"name": customer.name,
                                                               "campaign": campaign.name})
    return redirect(reverse("customers:detail", args=[customer.pk]) + "#campaign-history")


# Messages: templates, preview, outbox, printable list; and the unsubscribe page.


def _message_previews(campaign: Campaign) -> list:
    return delivery.messages_preview(campaign=campaign, samples=delivery.preview_samples(campaign))


def _exclusions(campaign: Campaign) -> dict[str, int]:
    """How many each audience rule leaves out: today's before launch, as stored after."""
    return campaign_breakdown(campaign)["removed"]


# What each audience rule leaves out (campaigns.selectors.REMOVAL_RULES), in words.
REMOVAL_LABELS = {
    "no_consent": gettext_lazy("No marketing consent"),
    "frequency_cap": gettext_lazy("Treated by another campaign within the frequency cap"),
    "no_email": gettext_lazy("No e-mail address"),
    "email_invalid": gettext_lazy("E-mail address invalid (bounced or complained)"),
    "no_phone": gettext_lazy("No phone number"),
    "uplift_profit": gettext_lazy("Predicted incremental profit not positive"),
    "uplift_top_n": gettext_lazy("Not among those the campaign most likely changes"),
}


def breakdown_rows(breakdown: dict) -> dict:
    """An audience breakdown (campaigns.selectors.audience_breakdown) for a page or the preview
    JSON: each rule's label in the page's language, every rule kept even when it removed nobody."""
    return {"matched": breakdown["matched"], "audience": breakdown["audience"],
            "removed": [{"rule": rule, "count": n, "label": _("Left out: %(reason)s") % {
                "reason": REMOVAL_LABELS.get(rule, rule)}} for rule, n in breakdown["removed"].items()]}


def messages_context(campaign: Campaign) -> dict:
    """What templates/campaigns/_messages.html shows on the detail page."""
    sends = campaign.kind == Campaign.Kind.MARKETING and campaign.channel in delivery.MESSAGE_CHANNELS
    status_counts = {}
    if campaign.launched_at and sends:
        status_counts = dict(campaign.messages.values_list("status").annotate(n=Count("pk")).order_by())
    return {
        "sends_messages": sends,
        "message_templates": list(campaign.message_templates.all()),
        "message_previews": _message_previews(campaign) if sends else [],
        "message_status_counts": [(label, status_counts.get(value, 0))
                                  for value, label in CampaignMessage.Status.choices if status_counts],
    }
