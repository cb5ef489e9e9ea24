"""Staff pages of the intake: upload, preview, job progress, duplicates and merges.

Each view parses the request, calls a service in ``services`` or ``duplicates``, and renders.
"""
from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Count
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from core.navigation import page_permission, user_may
from customers.models import Customer
from customers.permissions import can_view_pii

from . import duplicates as dedupe
from .fields import KINDS
from .models import CustomerMerge, ImportJob, ImportKind
from .quality import all_duplicate_pairs_remember, data_quality_report
from .readers import FileFormatError, open_table
from .services.importers import ImportOptions
from .services.jobs import import_job_start, import_job_upload, import_preview

RECENT_IMPORTS = 20
PAIRS_PER_PAGE = 50

import_required = page_permission("import")
merge_required = page_permission("merge")


# The import fields (intake/fields.py KINDS) as the mapping select shows them; the option
# values stay the field names.
FIELD_LABELS = {
    "customer_id": gettext_lazy("Customer id"), "name": gettext_lazy("Name"),
    "email": gettext_lazy("Email"), "phone": gettext_lazy("Phone"), "gender": gettext_lazy("Gender"),
    "birth_date": gettext_lazy("Birth date"), "city": gettext_lazy("City"),
    "region": gettext_lazy("Region"), "country": gettext_lazy("Country"),
    "channel": gettext_lazy("Channel"), "signup_date": gettext_lazy("Signup date"),
    "consent": gettext_lazy("Marketing consent"), "status": gettext_lazy("Status"),
    "sku": gettext_lazy("SKU"), "category": gettext_lazy("Category"), "price": gettext_lazy("Price"),
    "order_id": gettext_lazy("Order id"), "ordered_at": gettext_lazy("Ordered at"),
    "amount": gettext_lazy("Amount"), "quantity": gettext_lazy("Quantity"),
    "unit_price": gettext_lazy("Unit price"), "created_at": gettext_lazy("Created at"),
    "rating": gettext_lazy("Rating"), "text": gettext_lazy("Text"),
    "occurred_at": gettext_lazy("Occurred at"), "kind": gettext_lazy("Kind"),
    "outcome": gettext_lazy("Outcome"), "note": gettext_lazy("Note"),
}


def field_label(field: str) -> str:
    label = FIELD_LABELS.get(field)
    return str(label) if label else field.replace("_", " ").capitalize()


class UploadForm(forms.Form):
    kind = forms.ChoiceField(label=gettext_lazy("What the file holds"), choices=ImportKind.choices)
    file = forms.FileField(label=gettext_lazy("CSV or XLSX file"))
    create_missing_customers = forms.BooleanField(
        label=gettext_lazy("Create a customer for an unknown customer id (orders, feedback, interactions)"),
        required=False)


@import_required
def import_upload(request: HttpRequest) -> HttpResponse:
    form = UploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        try:
            job = import_job_upload(
                kind=form.cleaned_data["kind"], upload=form.cleaned_data["file"], user=request.user,
                options=ImportOptions(create_missing_customers=form.cleaned_data["create_missing_customers"]))
        except (FileFormatError, ValueError) as exc:
            form.add_error("file", str(exc))
        else:
            return redirect("intake:preview", pk=job.pk)
    jobs = ImportJob.objects.with_effective_status().select_related("created_by")[:RECENT_IMPORTS]
    return render(request, "intake/import.html", {"form": form, "jobs": jobs},
                  status=400 if form.errors else 200)


@import_required
def import_job_preview(request: HttpRequest, pk: int) -> HttpResponse:
    job = get_object_or_404(ImportJob, pk=pk)
    if job.status != ImportJob.Status.DRAFT:
        return redirect("intake:job", pk=job.pk)
    with job.file.open("rb") as stream:
        headers = open_table(stream, name=job.file.name).headers
    mapping = dict(job.mapping)
    if request.method == "POST":
        mapping = {h: request.POST.get(f"map-{i}", "") for i, h in enumerate(headers)}
        if request.POST.get("action") == "start":
            try:
                import_job_start(job=job, mapping=mapping, user=request.user)
            except ValueError as exc:
                messages.error(request, str(exc))
            else:
                return redirect("intake:job", pk=job.pk)
    with job.file.open("rb") as stream:
        preview = import_preview(kind=job.kind, stream=stream, name=job.file.name, user=request.user,
                                 mapping=mapping, options=ImportOptions.from_dict(job.options))
    columns = [{"index": i, "header": h, "field": preview.mapping.get(h, "")} for i, h in enumerate(headers)]
    result = preview.result
    return render(request, "intake/preview.html", {
        "job": job, "columns": columns,
        "fields": [(field, field_label(field)) for field in KINDS[job.kind].fields],
        "required": [field_label(field) for field in KINDS[job.kind].required], "preview": preview,
        "valid": result.created + result.updated + result.unchanged,
    })


@import_required
def import_job_detail(request: HttpRequest, pk: int) -> HttpResponse:
    job = get_object_or_404(ImportJob.objects.with_effective_status().select_related("created_by"), pk=pk)
    return render(request, "intake/job.html", {"job": job})


@import_required
def import_job_progress(request: HttpRequest, pk: int) -> JsonResponse:
    job = get_object_or_404(ImportJob.objects.with_effective_status(), pk=pk)
    return JsonResponse(job.as_progress())


@import_required
def import_job_rejected(request: HttpRequest, pk: int) -> FileResponse:
    job = get_object_or_404(ImportJob, pk=pk)
    if not job.errors_file:
        raise Http404(_("This import rejected no rows."))
    return FileResponse(job.errors_file.open("rb"), as_attachment=True, filename=f"rejected-{job.pk}.csv",
                        content_type="text/csv")


@page_permission("data_quality")
def data_quality(request: HttpRequest) -> HttpResponse:
    return render(request, "intake/quality.html", {"report": data_quality_report()})


@page_permission("duplicates")
def duplicate_list(request: HttpRequest) -> HttpResponse:
    pairs = dedupe.duplicate_pairs()
    all_duplicate_pairs_remember(len(pairs))
    page = Paginator(pairs, PAIRS_PER_PAGE).get_page(request.GET.get("page"))
    ids = {pk for pair in page for pk in (pair.customer_id, pair.other_id)}
    customers = Customer.objects.annotate(n_orders=Count("orders", distinct=True)).in_bulk(ids)
    rows = [{"pair": pair, "a": customers[pair.customer_id], "b": customers[pair.other_id]} for pair in page]
    merges = CustomerMerge.objects.select_related("survivor", "duplicate", "merged_by")[:20]
    return render(request, "intake/duplicates.html", {
        "page": page, "rows": rows, "merges": merges, "pair_count": len(pairs),
        "show_pii": can_view_pii(request.user),
        "can_merge": user_may(request.user, "merge"),
    })


@merge_required
def merge_customers(request: HttpRequest, survivor: int, duplicate: int) -> HttpResponse:
    live = Customer.objects.live().select_related("owner")
    survivor_obj = get_object_or_404(live, pk=survivor)
    duplicate_obj = get_object_or_404(live, pk=duplicate)
    if request.method == "POST":
        choices = {name: request.POST.get(f"choice-{name}", "survivor") for name in dedupe.MERGE_FIELDS}
        try:
            merge = dedupe.customer_merge(survivor=survivor_obj, duplicate=duplicate_obj,
                                          field_choices=choices, user=request.user)
        except ValueError as exc:
            messages.error(request, str(exc))
        else:
            messages.success(request, _("%(duplicate)s (#%(duplicate_id)s) was merged into %(survivor)s "
                                        "(#%(survivor_id)s).")
                             % {"duplicate": duplicate_obj, "survivor": survivor_obj,
                                "duplicate_id": duplicate_obj.pk, "survivor_id": survivor_obj.pk})
            return redirect(f"{_duplicates_url()}#merge-{merge.pk}")
    rows = []
    for name in dedupe.MERGE_FIELDS:
        a, b = getattr(survivor_obj, name), getattr(duplicate_obj, name)
        rows.append({"name": name, "label": Customer._meta.get_field(name).verbose_name,
                     "survivor": a, "duplicate": b, "same": a == b,
                     "take_duplicate": a in (None, "", {}) and b not in (None, "", {})})
    return render(request, "intake/merge.html", {"survivor": survivor_obj, "duplicate": duplicate_obj,
                                                 "rows": rows})


@merge_required
@require_POST
def merge_undo(request: HttpRequest, pk: int) -> HttpResponse:
    merge = get_object_or_404(CustomerMerge, pk=pk)
    try:
        dedupe.customer_merge_undo(merge=merge, user=request.user)
    except ValueError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, _("The merge was undone."))
    return redirect("intake:duplicates")


def _duplicates_url() -> str:
    from django.urls import reverse

    return reverse("intake:duplicates")
