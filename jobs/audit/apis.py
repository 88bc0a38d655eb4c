"""The audit API: staff only, the list as cursor pages and the same filter as a CSV export."""

import csv
import json

from django.http import StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework.permissions import IsAdminUser
from rest_framework.views import APIView

from config.api_pagination import CreatedAtCursorPagination
from jobs.audit import selectors
from jobs.audit.serializers import AuditEntryOutput, AuditFilterInput, AuditPageInput, AuditPageOutput

CSV_COLUMNS = ("id", "at", "user", "action", "target_type", "target_id", "count", "detail")


class AuditCursorPagination(CreatedAtCursorPagination):
    """Keyset pages on (at, id), newest first."""

    ordering = ("-at", "-id")


class AuditListApi(APIView):
    permission_classes = [IsAdminUser]

    @extend_schema(
        parameters=[AuditPageInput],
        responses=AuditPageOutput,
        summary="Who did what, when, to what and to how many jobs (filters, cursor pagination; staff only)",
        operation_id="audit_list",
    )
    def get(self, request):
        query = AuditPageInput(data=request.query_params)
        query.is_valid(raise_exception=True)
        paginator = AuditCursorPagination()
        page = paginator.paginate_queryset(selectors.audit_list(**query.selector_filters()), request, view=self)
        return paginator.get_paginated_response(AuditEntryOutput(page, many=True).data)


class _Echo:
    def write(self, value):
        return value


def _csv_rows(queryset):
    writer = csv.writer(_Echo())
    yield writer.writerow(CSV_COLUMNS)
    for entry in queryset.iterator(chunk_size=2000):
        yield writer.writerow(
            [
                entry.pk,
                entry.at.isoformat(),
                entry.username,
                entry.action,
                entry.target_type,
                entry.target_id,
                entry.count,
                json.dumps(entry.detail, separators=(",", ":"), sort_keys=True),
            ]
        )


class AuditExportApi(APIView):
    permission_classes = [IsAdminUser]

    @extend_schema(
        parameters=[AuditFilterInput],
        responses={(200, "text/csv"): OpenApiTypes.STR},
        summary="Every audit row the filter matches, as CSV (streamed; staff only)",
        operation_id="audit_export",
    )
    def get(self, request):
        query = AuditFilterInput(data=request.query_params)
        query.is_valid(raise_exception=True)
        response = StreamingHttpResponse(
            _csv_rows(selectors.audit_list(**query.selector_filters())), content_type="text/csv; charset=utf-8"
        )
        response["Content-Disposition"] = 'attachment; filename="audit.csv"'
        return response
