"""Staff pages of the intake: upload, preview, job progress, duplicates and merges.

Each view parses the request, calls a service in ``services`` or ``duplicates``, and renders.
"""
from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib import messages
from django.core.files.uploadhandler import FileUploadHandler, StopUpload
from django.core.paginator import Paginator
from django.db.models import Count
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.csrf import csrf_exempt, csrf_protect
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


class UploadTooLarge(StopUpload):
    """Raised by :class:`SizeLimitUploadHandler`; the view answers 400 with the reason."""


class SizeLimitUploadHandler(FileUploadHandler):
    """Stops an upload as soon as it passes IMPORT_MAX_UPLOAD_MB, before it is all received.

    Django otherwise writes the whole request body to a temporary file first, however large.
    """

    too_large = False

    def handle_raw_input(self, input_data, META, content_length, boundary, encoding=None):
        # Raising here would escape Django's parser as a server error: the first chunk stops it.
        self.declared_too_large = content_length > _upload_limit_bytes() + 64 * 1024

    def receive_data_chunk(self, raw_data, start):
        if getattr(self, "declared_too_large", False) or start + len(raw_data) > _upload_limit_bytes():
            self.too_large = True
            # The rest of the body is read and dropped, so the browser gets the answer.
            raise UploadTooLarge(connection_reset=False)
        return raw_data

    def file_complete(self, file_size):
        return None


def _upload_limit_bytes() -> int:
    return settings.IMPORT_MAX_UPLOAD_MB * 1024 * 1024


def _upload_too_large_message() -> str:
    return _("The file is larger than %(max)s MB, the most that may be uploaded. Split it into "
             "smaller files.") % {"max": settings.IMPORT_MAX_UPLOAD_MB}


@csrf_exempt
def import_upload(request: HttpRequest) -> HttpResponse:
    # The size limit must be in place before the body is read, which CSRF checking does: the
    # handler is installed first and the CSRF check runs after (csrf_protect below).
    limiter = SizeLimitUploadHandler(request)
    request.upload_handlers.insert(0, limiter)
    return _import_upload(request, limiter)


@csrf_protect
@import_required
def _import_upload(request: HttpRequest, limiter: SizeLimitUploadHandler) -> HttpResponse:
    form = UploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and limiter.too_large:
        form.full_clean()
        form.errors.pop("file", None)  # "required": the file was dropped as it arrived
        form.add_error("file", _upload_too_large_message())
    elif request.method == "POST" and form.is_valid():
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
    if job.status != ImportJob.Status.DRAFT or job.files_deleted_at is not None:
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
    try:
        with job.file.open("rb") as stream:
            preview = import_preview(kind=job.kind, stream=stream, name=job.file.name, user=request.user,
                                     mapping=mapping, options=ImportOptions.from_dict(job.options))
    except FileFormatError as exc:
        # A row the reader cannot take (a cell over 131,072 characters): say which, no traceback.
        messages.error(request, str(exc))
        form = UploadForm(initial={"kind": job.kind})
        jobs = ImportJob.objects.with_effective_status().select_related("created_by")[:RECENT_IMPORTS]
        return render(request, "intake/import.html", {"form": form, "jobs": jobs}, status=400)
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
    return render(request, "intake/job.html", {"job": job, "retention_days": settings.IMPORT_RETENTION_DAYS})


@import_required
def import_job_progress(request: HttpRequest, pk: int) -> JsonResponse:
    job = get_object_or_404(ImportJob.objects.with_effective_status(), pk=pk)
    return JsonResponse(job.as_progress())


def _private_file(stored, *, filename: str, content_type: str) -> FileResponse:
    """A job's stored file, read through the storage API, as a download (never inline)."""
    response = FileResponse(stored.storage.open(stored.name, "rb"), as_attachment=True,
                            filename=filename, content_type=content_type)
    response["Cache-Control"] = "private, no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response


def _job_with_file(request: HttpRequest, pk: int, field: str) -> ImportJob:
    """The job, for a person who may download its files: one who may import (Sales, Manager),
    the owner included only while they may. Service never: it holds no import permission."""
    job = get_object_or_404(ImportJob, pk=pk)
    if job.files_deleted_at is not None:
        days = settings.IMPORT_RETENTION_DAYS
        raise Http404(ngettext("The files of this import were deleted after %(days)s day.",
                               "The files of this import were deleted after %(days)s days.", days)
                      % {"days": days})
    if not getattr(job, field):
        raise Http404(_("This import rejected no rows.") if field == "errors_file" else
                      _("This import has no file."))
    return job


@import_required
def import_job_rejected(request: HttpRequest, pk: int) -> FileResponse:
    job = _job_with_file(request, pk, "errors_file")
    return _private_file(job.errors_file, filename=f"rejected-{job.pk}.csv", content_type="text/csv")


@import_required
def import_job_file(request: HttpRequest, pk: int) -> FileResponse:
    """The uploaded file itself, under the name it was uploaded with."""
    job = _job_with_file(request, pk, "file")
    return _private_file(job.file, filename=job.original_name or f"import-{job.pk}",
                         content_type="application/octet-stream")


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
