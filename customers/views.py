"""Staff pages for customers: the customer list with its CSV export, and the customer 360.
Views parse input, call a selector or a service, and render."""
from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from core.formatting import significant
from core.navigation import page_permission, user_may
from core.spreadsheets import safe_csv_writer

from . import selectors
from .filters import CustomerListFilter
from .forms import InteractionForm, SavedFilterForm
from .models import Customer, Level, LifecycleStage, RfmSegment, SavedFilter
from .permissions import can_view_pii
from .services import (
    interaction_log,
    saved_filter_create,
    saved_filter_delete,
    token_revoke,
    token_rotate,
)

PAGE_SIZE = 50
# The customer list counts matches up to this many; beyond it, "more than 10,000" (200 pages).
LIST_COUNT_CAP = 10_000
# Rows fetched per database round trip while streaming an export: large enough to keep the
# query count low, small enough to keep memory flat on a million-row list.
EXPORT_CHUNK = 2000
# Orders the customer page lists unless asked for all (?orders=all): the newest, lines folded.
RECENT_ORDERS = 5


def _filtered(request: HttpRequest) -> CustomerListFilter:
    return CustomerListFilter(request.GET or None, queryset=Customer.objects.live().select_related("owner"),
                          user=request.user)


class CappedPaginator(Paginator):
    """Counts at most ``LIST_COUNT_CAP`` rows, so a broad filter at 100,000 customers does not
    pay for an exact COUNT(*) of every match on every page view (the count dominated the list's
    time). Past the cap the page says "more than N" and pages stop there; the export still
    writes every match."""

    @property
    def count(self) -> int:
        if not hasattr(self, "_capped_count"):
            self._capped_count = self.object_list.order_by()[:LIST_COUNT_CAP + 1].count()
        return min(self._capped_count, LIST_COUNT_CAP)

    @property
    def capped(self) -> bool:
        return self.count > 0 and self._capped_count > LIST_COUNT_CAP


def _label_choices(customers) -> None:
    """Translated labels of the choice fields, looked up once per page. Model.get_FOO_display()
    hashes the whole (lazily translated) choices list on every call: 200 calls a page cost
    about a third of the list's rendering time."""
    labels = {name: {key: str(label) for key, label in choices} for name, choices in (
        ("rfm_segment", RfmSegment.choices), ("value_segment", Level.choices),
        ("churn_risk", Level.choices), ("lifecycle_stage", LifecycleStage.choices))}
    for customer in customers:
        for name, names in labels.items():
            value = getattr(customer, name)
            setattr(customer, f"{name}_label", names.get(value, value) if value else "")


@page_permission("customers")
def customer_list(request: HttpRequest) -> HttpResponse:
    filterset = _filtered(request)
    paginator = CappedPaginator(filterset.qs, PAGE_SIZE)
    if not paginator.capped:  # few enough to sort them all: read the matches, not the sort index
        paginator.object_list = filterset.matches_first(paginator.object_list)
    page = paginator.get_page(request.GET.get("page"))
    _label_choices(page.object_list)
    status = 400 if filterset.is_bound and filterset.form.errors else 200
    return render(request, "customers/list.html", {
        "filter": filterset, "page": page, "may_pii": can_view_pii(request.user),
        "total": paginator.count, "capped": paginator.capped,
        "saved_filters": list(selectors.saved_filters_for(request.user)),
    }, status=status)


def _list_url(query: str = "") -> str:
    return reverse("customers:list") + (f"?{query}" if query else "")


@page_permission("customers")
@require_POST
def saved_filter_save(request: HttpRequest) -> HttpResponse:
    """Keep the list's current filters under a name; errors come back as a message naming the
    field, with the user's filters still applied."""
    form = SavedFilterForm(request.POST)
    query = request.POST.get("query", "")
    if not form.is_valid():
        messages.error(request, _("The filter was not saved. %(errors)s") % {"errors": "; ".join(
            f"{form.fields[f].label}: {' '.join(e)}" for f, e in form.errors.items())})
        return redirect(_list_url(query))
    try:
        saved = saved_filter_create(user=request.user, name=form.cleaned_data["name"],
                                    query=form.cleaned_data["query"], shared=form.cleaned_data["shared"])
    except ValidationError as exc:
        labels = {"name": _("Name"), "query": _("Filters")}
        messages.error(request, _("The filter was not saved. %(errors)s") % {"errors": "; ".join(
            f"{labels.get(f, f)}: {' '.join(e)}" for f, e in exc.message_dict.items())})
        return redirect(_list_url(query))
    messages.success(request, _("Filter saved as %(name)s.") % {"name": saved.name})
    return redirect(_list_url(saved.query))


@page_permission("customers")
@require_POST
def saved_filter_remove(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        saved_filter_delete(user=request.user, saved_filter_id=pk)
    except SavedFilter.DoesNotExist:
        raise Http404(_("You have no saved filter with id %(id)s.") % {"id": pk}) from None
    messages.success(request, _("Saved filter deleted."))
    return redirect(_list_url(request.POST.get("query", "")))


MONEY_COLUMNS = frozenset({"total_spent", "clv_12m"})
ROUNDED_COLUMNS = frozenset({"churn_probability", "p_alive", "loyalty_score", "sentiment_score"})
# Four significant digits: more than the models' accuracy, few enough to read.
EXPORT_SIGNIFICANT_DIGITS = 4


class _Echo:
    def write(self, value):
        return value


@page_permission("export")
def customer_export(request: HttpRequest) -> HttpResponse:
    """The filtered list as CSV; contact columns only for users who may see them."""
    filterset = _filtered(request)
    if filterset.is_bound and not filterset.form.is_valid():
        return HttpResponse("\n".join(f"{field}: {' '.join(errors)}"
                                      for field, errors in filterset.form.errors.items()),
                            status=400, content_type="text/plain; charset=utf-8")
    columns = ["id", "external_id", "name"]
    if can_view_pii(request.user):
        columns += ["email", "phone", "birth_date"]
    columns += ["city", "region", "country", "marketing_consent", "order_count", "total_spent",
                "last_order_at", "recency_days", "rfm_segment", "value_segment", "value_tier",
                "churn_probability", "churn_risk", "clv_12m", "p_alive", "lifecycle_stage",
                "loyalty_score", "sentiment_score"]
    rows = filterset.qs.values_list(*columns).iterator(chunk_size=EXPORT_CHUNK)
    writer = safe_csv_writer(_Echo())
    # Raw numbers (a spreadsheet formats them), with the currency named in the amounts' headers
    # and model outputs rounded to what they can claim (0.6129, not 0.6129337263893438).
    header = [f"{c}_{settings.CURRENCY}" if c in MONEY_COLUMNS else c for c in columns]
    kinds = ["score" if c in ROUNDED_COLUMNS else "money" if c in MONEY_COLUMNS else "" for c in columns]

    def cell(value, kind: str):
        if value is None:
            return ""
        if kind == "score":
            return significant(value, EXPORT_SIGNIFICANT_DIGITS)
        if kind == "money" and isinstance(value, float):
            return round(value, 2)  # CLV is a float; amounts are stored to the cent
        return value

    def stream():
        yield "\ufeff"  # a byte-order mark so spreadsheet programs read the Chinese names as UTF-8
        yield writer.writerow(header)
        for row in rows:
            yield writer.writerow([cell(v, k) for v, k in zip(row, kinds, strict=True)])

    stamp = timezone.now().strftime("%Y%m%d-%H%M")
    response = StreamingHttpResponse(stream(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="customers-{stamp}.csv"'
    return response


@page_permission("customers")
@require_http_methods(["GET", "POST"])
def customer_detail(request: HttpRequest, pk: int) -> HttpResponse:
    all_orders = request.GET.get("orders") == "all"
    try:
        customer = selectors.customer_360(pk=pk, orders=None if all_orders else RECENT_ORDERS)
    except Customer.DoesNotExist:
        raise Http404(_("No customer with id %(id)s.") % {"id": pk}) from None
    form = InteractionForm()
    status = 200
    if request.method == "POST":
        if not user_may(request.user, "log_interaction"):
            raise PermissionDenied
        form = InteractionForm(request.POST)
        if form.is_valid():
            try:
                interaction_log(customer=customer, staff=request.user, **form.cleaned_data)
            except ValidationError as exc:
                for field, errors in exc.message_dict.items():
                    form.add_error(field if field in form.fields else None, errors)
            else:
                messages.success(request, _("Interaction logged."))
                return redirect("customers:detail", pk=customer.pk)
        status = 400
    may_pii = can_view_pii(request.user)
    contact = {
        "email": customer.email if may_pii else selectors.mask_email(customer.email),
        "phone": customer.phone if may_pii else selectors.mask_phone(customer.phone),
        "birth_date": customer.birth_date if may_pii else ("****-**-**" if customer.birth_date else ""),
    }
    return render(request, "customers/detail.html", {
        "customer": customer, "contact": contact, "may_pii": may_pii, "form": form,
        "orders": customer.order_rows, "order_total": customer.order_total, "all_orders": all_orders,
        "recent_orders": RECENT_ORDERS,
        "feedback": list(customer.feedback.all()),
        "interactions": list(customer.interactions.all()),
        "recommendations": list(customer.recommendations.all()),
    }, status=status)


@require_http_methods(["GET", "POST"])
def api_token(request: HttpRequest) -> HttpResponse:
    """Every signed-in user's own API token: create or replace it (the key is shown once, on
    this response only) or revoke it. What the token may do follows the user's role."""
    from rest_framework.authtoken.models import Token

    new_key = None
    if request.method == "POST":
        action = request.POST.get("action")
        if action == "rotate":
            new_key = token_rotate(user=request.user).key
            messages.success(request, _("New API token created; the previous one no longer works."))
        elif action == "revoke":
            if token_revoke(user=request.user):
                messages.success(request, _("API token revoked."))
            return redirect("api_token")
        else:
            return HttpResponse(_("Unknown action: choose rotate or revoke."), status=400)
    token = Token.objects.filter(user=request.user).only("created").first()
    return render(request, "customers/api_token.html", {"token": token, "new_key": new_key})
