"""REST endpoints of the intake: bulk imports, duplicate candidates, merges and their undo."""
from __future__ import annotations

from django.shortcuts import get_object_or_404
from django.urls import reverse
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api.pagination import PagePagination
from core.api.permissions import HasPermissions
from core.api.views import ApiViewMixin
from customers.models import Customer
from customers.permissions import can_view_pii

from . import duplicates as dedupe
from .fields import KINDS
from .models import CustomerMerge, ImportJob
from .quality import all_duplicate_pairs_remember, data_quality_report
from .services.importers import ImportOptions, import_records

# Records per POST: a batch this size validates and writes in a few seconds, well inside a
# request timeout; larger loads belong in a file import, which runs as a background job.
MAX_BATCH = 10_000


class IntakeView(ApiViewMixin, APIView):
    """The house API view (authentication, throttling, the one error shape); these views have no
    model queryset, so the permissions they need are named in ``required_permissions``."""

    permission_classes = (HasPermissions,)
    required_permissions: tuple[str, ...] = ()


ImportResultSerializer = inline_serializer("ImportResult", {
    "total": serializers.IntegerField(), "created": serializers.IntegerField(),
    "updated": serializers.IntegerField(), "unchanged": serializers.IntegerField(),
    "rejected": serializers.IntegerField(),
    "errors": serializers.ListField(child=serializers.DictField()),
})


class ImportView(IntakeView):
    """Import a JSON list of records of one kind; the answer counts every record's outcome."""

    required_permissions = ("customers.import_data",)
    bulk_body = True  # up to API_BULK_MAX_BODY_SIZE (core.api.bodysize)

    @extend_schema(
        request={"application/json": {"type": "array", "maxItems": MAX_BATCH,
                                      "items": {"type": "object", "additionalProperties": True}}},
        responses={200: ImportResultSerializer},
        parameters=[OpenApiParameter("create_missing_customers", bool, description="Create stub customers for unknown ids."),
                    OpenApiParameter("dry_run", bool, description="Validate and count only.")],
    )
    def post(self, request, kind: str):
        if kind not in KINDS:
            return Response({"kind": [f"Unknown kind {kind!r}; one of {', '.join(KINDS)}."]},
                            status=status.HTTP_404_NOT_FOUND)
        records = request.data
        if not isinstance(records, list):
            return Response({"non_field_errors": ["Send a JSON list of records."]}, status=400)
        if len(records) > MAX_BATCH:
            return Response({"non_field_errors": [(f"At most {MAX_BATCH} records per request; got "
                                                   f"{len(records)}. Import larger sets as a file.")]},
                            status=400)
        bad = next((i for i, r in enumerate(records, start=1) if not isinstance(r, dict)), None)
        if bad is not None:
            return Response({"non_field_errors": [f"Record {bad} is not a JSON object."]}, status=400)
        flag = lambda name: str(request.query_params.get(name, "")).lower() in ("1", "true", "yes")
        result = import_records(kind=kind, records=records, user=request.user,
                                options=ImportOptions(create_missing_customers=flag("create_missing_customers")),
                                dry_run=flag("dry_run"))
        return Response(result.as_dict())


class DuplicateCustomerSerializer(serializers.ModelSerializer):
    class Meta:
        model = Customer
        fields = ["id", "external_id", "name", "city", "email", "phone"]

    def to_representation(self, instance):
        data = super().to_representation(instance)
        if not can_view_pii(self.context["request"].user):
            data.pop("email")
            data.pop("phone")
        return data


class DuplicateListView(IntakeView):
    """Pairs of live customers that may be the same person, best first."""

    required_permissions = ("customers.view_customer",)

    @extend_schema(responses={200: inline_serializer("DuplicatePage", {
        "count": serializers.IntegerField(), "next": serializers.CharField(allow_null=True),
        "previous": serializers.CharField(allow_null=True),
        "results": serializers.ListField(child=serializers.DictField())})})
    def get(self, request):
        paginator = PagePagination()
        pairs = dedupe.duplicate_pairs()
        all_duplicate_pairs_remember(len(pairs))
        page = paginator.paginate_queryset(pairs, request, view=self)
        ids = {pk for pair in page for pk in (pair.customer_id, pair.other_id)}
        customers = Customer.objects.in_bulk(ids)
        context = {"request": request}
        results = [{
            "score": pair.score, "reason": pair.reason,
            "customer": DuplicateCustomerSerializer(customers[pair.customer_id], context=context).data,
            "other": DuplicateCustomerSerializer(customers[pair.other_id], context=context).data,
        } for pair in page]
        return paginator.get_paginated_response(results)


class MergeInputSerializer(serializers.Serializer):
    survivor = serializers.PrimaryKeyRelatedField(queryset=Customer.objects.all())
    duplicate = serializers.PrimaryKeyRelatedField(queryset=Customer.objects.all())
    field_choices = serializers.DictField(child=serializers.ChoiceField(["survivor", "duplicate"]),
                                          required=False, default=dict)


class MergeSerializer(serializers.ModelSerializer):
    class Meta:
        model = CustomerMerge
        fields = ["id", "survivor", "duplicate", "field_choices", "moved", "merged_by", "merged_at",
                  "undone_at", "undone_by"]


class MergeCreateView(IntakeView):
    """Merge one customer into another; the answer is the merge record (with what moved)."""

    required_permissions = ("customers.merge_customer",)

    @extend_schema(request=MergeInputSerializer, responses={201: MergeSerializer})
    def post(self, request):
        data = MergeInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            merge = dedupe.customer_merge(user=request.user, **data.validated_data)
        except ValueError as exc:
            return Response({"non_field_errors": [str(exc)]}, status=400)
        return Response(MergeSerializer(merge).data, status=status.HTTP_201_CREATED)


class MergeUndoView(IntakeView):
    """Undo a merge: both customers and all their records are as they were before it."""

    required_permissions = ("customers.merge_customer",)

    @extend_schema(request=None, responses={200: MergeSerializer})
    def post(self, request, pk: int):
        merge = get_object_or_404(CustomerMerge, pk=pk)
        try:
            merge = dedupe.customer_merge_undo(merge=merge, user=request.user)
        except ValueError as exc:
            return Response({"non_field_errors": [str(exc)]}, status=400)
        return Response(MergeSerializer(merge).data)


class QualityCheckSerializer(serializers.Serializer):
    key = serializers.CharField(help_text="Stable name of the check, e.g. email or birth_date_future.")
    label = serializers.CharField(help_text="The check in the user's language.")
    count = serializers.IntegerField(help_text="Records failing the check.")
    percent = serializers.FloatField(help_text="count as a percentage of the table's records.")


class QualityTableSerializer(serializers.Serializer):
    key = serializers.ChoiceField(["customers", "orders", "products", "feedback"])
    label = serializers.CharField()
    total = serializers.IntegerField(help_text="Records in the table (customers: not merged away).")
    missing = QualityCheckSerializer(many=True, help_text="Records with the field empty, per field.")
    out_of_range = QualityCheckSerializer(many=True,
                                          help_text="Records with an implausible value, per check.")


class QualityImportSerializer(serializers.ModelSerializer):
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    url = serializers.SerializerMethodField(help_text="The job's page in the staff UI.")
    # A job whose worker died shows as failed as soon as its lease has passed, before the beat
    # sweep records it (the report annotates it; reading writes nothing).
    status = serializers.ChoiceField(source="effective_status", choices=ImportJob.Status.choices,
                                     read_only=True)
    # What happened and what to do, in the request's language (the raw error is the admin's).
    error = serializers.CharField(source="get_error_message", read_only=True,
                                  help_text="Why a failed import stopped and what to do; empty otherwise.")

    class Meta:
        model = ImportJob
        fields = ["id", "kind", "original_name", "status", "created_by", "created_at", "finished_at",
                  "total", "created", "updated", "unchanged", "rejected", "error", "url"]

    def get_url(self, job) -> str:
        return reverse("intake:job", args=[job.pk])


class QualityReportSerializer(serializers.Serializer):
    generated_at = serializers.DateTimeField()
    tables = QualityTableSerializer(many=True)
    duplicate_pairs = serializers.IntegerField(
        help_text="Pairs of customers sharing an email or phone, awaiting review.")
    all_duplicate_pairs = serializers.SerializerMethodField(
        help_text="All candidate pairs, similar names included, as the duplicates page or endpoint "
                  "last counted them in the past five minutes; null if neither did.")
    duplicates_url = serializers.SerializerMethodField(help_text="The duplicates page in the staff UI.")
    recent_imports = QualityImportSerializer(many=True)

    def get_all_duplicate_pairs(self, report) -> int | None:
        return report.all_duplicate_pairs["count"] if report.all_duplicate_pairs else None

    def get_duplicates_url(self, report) -> str:
        return reverse("intake:duplicates")


class DataQualityView(IntakeView):
    """Missing and out-of-range values per table, duplicates awaiting review, recent imports.

    The same report as the data quality page; one aggregate query per table.
    """

    required_permissions = ("intake.view_data_quality",)

    @extend_schema(responses={200: QualityReportSerializer})
    def get(self, request):
        return Response(QualityReportSerializer(data_quality_report()).data)
