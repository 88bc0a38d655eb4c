"""The reports API: trigger a report, poll its status, download it, list reports, upload store data."""

from django.conf import settings
from django.http import FileResponse
from django.urls import NoReverseMatch, reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.pagination import CursorPagination
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from jobs.apis import StaffForWrites
from jobs.errors import NotFound, PayloadTooLarge, ValidationFailed
from reports import files, selectors, services, store_input
from reports.errors import ReportNotReady
from reports.models import ReportKind, ReportStatus
from reports.serializers import (
    ReportOutput,
    ReportStatusInput,
    ReportStatusOutput,
    ReportTriggerInput,
    ReportTriggerOutput,
    StoreDataImportOutput,
    StoreDataUploadInput,
)

DOWNLOAD_NAMES = {ReportKind.STORE_UPTIME: "store-uptime-report", ReportKind.TASK_EXECUTION: "task-execution-report"}
UPLOAD_FIELDS = {
    "store_status": store_input.STORE_STATUS,
    "menu_hours": store_input.MENU_HOURS,
    "timezones": store_input.TIMEZONES,
}


def download_url(request, report) -> str:
    for name in ("api:report-download", "report-download"):
        try:
            return request.build_absolute_uri(reverse(name, kwargs={"report_id": str(report.id)}))
        except NoReverseMatch:
            continue
    raise NoReverseMatch("report-download is not routed")


class ReportCursorPagination(CursorPagination):
    ordering = ("-created_at", "-id")
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200


class ReportTriggerApi(APIView):
    permission_classes = [StaffForWrites]

    @extend_schema(
        request=ReportTriggerInput,
        responses={202: ReportTriggerOutput},
        summary="Start a report in the background (store uptime by default; since/until for task execution)",
    )
    def post(self, request):
        payload = ReportTriggerInput(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        parameters = {}
        if data["kind"] == ReportKind.TASK_EXECUTION:
            parameters = {"since": data["since"], "until": data["until"]}
        elif data["since"] or data["until"]:
            raise ValidationFailed("since and until apply to the task_execution report only.")
        report = services.report_request(kind=data["kind"], requested_by=request.user, parameters=parameters)
        body = {"report_id": str(report.id), "status": report.status, "task_id": str(report.job_id)}
        return Response(ReportTriggerOutput(body).data, status=202)


class ReportStatusApi(APIView):
    @extend_schema(
        parameters=[ReportStatusInput],
        responses={200: ReportStatusOutput, 404: OpenApiResponse(description="Unknown report")},
        summary="A report's status; url points to the CSV once it is COMPLETE",
    )
    def get(self, request):
        query = ReportStatusInput(data=request.query_params)
        query.is_valid(raise_exception=True)
        report = selectors.report_get_or_404(query.validated_data["report_id"])
        state = selectors.report_state(report)
        body = {
            "report_id": report.id,
            "status": state.status,
            "url": download_url(request, report) if state.status == ReportStatus.COMPLETE else None,
            "kind": report.kind,
            "progress": state.progress,
            "progress_message": state.progress_message,
            "error": state.error,
            "row_count": report.row_count,
            "task_id": str(report.job_id) if report.job_id else None,
            "created_at": report.created_at,
            "finished_at": report.finished_at,
        }
        return Response(ReportStatusOutput(body).data)


def _complete_report(report_id):
    report = selectors.report_get_or_404(report_id)
    state = selectors.report_state(report)
    if state.status != ReportStatus.COMPLETE:
        reason = f": {state.error}" if state.error else ""
        raise ReportNotReady(
            f"Report {report.id} is {state.status}{reason}; its files exist once it is COMPLETE.",
            details={"status": state.status},
        )
    return report


def _open(name: str):
    try:
        return open(files.path_of(name), "rb")
    except (OSError, ValueError):
        raise NotFound("The report's file is no longer available.") from None


class ReportDownloadApi(APIView):
    @extend_schema(
        responses={(200, "text/csv"): OpenApiTypes.BINARY, 404: None, 409: None},
        summary="Download a COMPLETE report's CSV (409 while it is pending, running or failed)",
    )
    def get(self, request, report_id):
        report = _complete_report(report_id)
        filename = f"{DOWNLOAD_NAMES[report.kind]}-{report.id}.csv"
        return FileResponse(
            _open(report.csv_file), as_attachment=True, filename=filename, content_type="text/csv; charset=utf-8"
        )


class ReportMetadataApi(APIView):
    @extend_schema(
        responses={200: OpenApiTypes.OBJECT, 404: None, 409: None},
        summary="A COMPLETE report's JSON metadata (algorithm, parameters, now, counts, timings)",
    )
    def get(self, request, report_id):
        report = _complete_report(report_id)
        filename = f"{DOWNLOAD_NAMES[report.kind]}-{report.id}.json"
        return FileResponse(
            _open(report.metadata_file), as_attachment=False, filename=filename, content_type="application/json"
        )


class ReportListApi(APIView):
    @extend_schema(
        parameters=[OpenApiParameter("kind", str, required=False, enum=ReportKind.values)],
        responses=ReportOutput(many=True),
        summary="Reports, newest first (cursor pagination)",
    )
    def get(self, request):
        queryset = selectors.report_list()
        kind = request.query_params.get("kind")
        if kind:
            queryset = queryset.filter(kind=kind)
        paginator = ReportCursorPagination()
        page = paginator.paginate_queryset(queryset, request, view=self)
        return paginator.get_paginated_response(ReportOutput(page, many=True).data)


class StoreDataUploadApi(APIView):
    permission_classes = [StaffForWrites]
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(
        request={"multipart/form-data": StoreDataUploadInput},
        responses={200: StoreDataImportOutput, 400: None, 413: None},
        summary="Upload store_status.csv, menu_hours.csv and/or timezones.csv (all or nothing)",
    )
    def post(self, request):
        unknown = sorted(set(request.FILES) - set(UPLOAD_FIELDS))
        if unknown:
            raise ValidationFailed(
                f"Unknown file fields: {', '.join(unknown)}. Use {', '.join(UPLOAD_FIELDS)}.",
                details={"fields": list(UPLOAD_FIELDS)},
            )
        if not request.FILES:
            raise ValidationFailed(f"Upload at least one of the files {', '.join(UPLOAD_FIELDS)}.")
        limit = settings.FILE_UPLOAD_MAX_SIZE
        sources = {}
        for field, name in UPLOAD_FIELDS.items():
            upload = request.FILES.get(field)
            if upload is None:
                continue
            if upload.size > limit:
                raise PayloadTooLarge(
                    f"{name} has {upload.size} bytes; the limit is {limit}.", details={"limit": limit}
                )
            sources[name] = upload.file
        result = services.store_data_import(sources=sources)
        return Response(StoreDataImportOutput(result.as_dict()).data)
