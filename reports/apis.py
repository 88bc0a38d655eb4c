"""The reports API: trigger a report, poll its status, download it, list reports, upload store data."""

from django.conf import settings
from django.http import FileResponse
from django.urls import NoReverseMatch, reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from config.api_pagination import CreatedAtCursorPagination
from jobs.apis import StaffForWrites
from jobs.errors import NotFound, PayloadTooLarge, ValidationFailed
from reports import files, selectors, services, store_input
from reports.errors import ReportNotReady
from reports.models import ReportKind, ReportStatus
from reports.serializers import (
    ReportListInput,
    ReportOutput,
    ReportPageOutput,
    ReportStatusInput,
    ReportStatusOutput,
    ReportTriggerInput,
    ReportTriggerOutput,
    StoreDataImportOutput,
)

DOWNLOAD_NAMES = {ReportKind.STORE_UPTIME: "store-uptime-report", ReportKind.TASK_EXECUTION: "task-execution-report"}
# Room for the multipart framing (boundaries, part headers) around the files themselves.
MULTIPART_OVERHEAD_BYTES = 64 * 1024
UPLOAD_FIELDS = {
    "store_status": store_input.STORE_STATUS,
    "menu_hours": store_input.MENU_HOURS,
    "timezones": store_input.TIMEZONES,
}


UPLOAD_REQUEST_SCHEMA = {
    "type": "object",
    "description": "At least one of the three files; nothing else.",
    "minProperties": 1,
    "additionalProperties": False,
    "properties": {
        field: {"type": "string", "format": "binary", "description": name} for field, name in UPLOAD_FIELDS.items()
    },
}


def download_url(request, report) -> str:
    for name in ("api:report-download", "report-download"):
        try:
            return request.build_absolute_uri(reverse(name, kwargs={"report_id": str(report.id)}))
        except NoReverseMatch:
            continue
    raise NoReverseMatch("report-download is not routed")


class ReportCursorPagination(CreatedAtCursorPagination):
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
        responses={200: ReportStatusOutput, 404: OpenApiResponse(description="Unknown report, or not yours")},
        summary="A report's status; url points to the CSV once it is COMPLETE",
    )
    def get(self, request):
        query = ReportStatusInput(data=request.query_params)
        query.is_valid(raise_exception=True)
        report = selectors.report_get_or_404(query.validated_data["report_id"], user=request.user)
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


def _complete_report(report_id, user):
    report = selectors.report_get_or_404(report_id, user=user)
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
        responses={
            (200, "text/csv"): OpenApiTypes.BINARY,
            404: OpenApiResponse(description="Unknown report, or not yours"),
            409: OpenApiResponse(description="The report is pending, running or failed"),
        },
        summary="Download a COMPLETE report's CSV (409 while it is pending, running or failed)",
    )
    def get(self, request, report_id):
        report = _complete_report(report_id, request.user)
        filename = f"{DOWNLOAD_NAMES[report.kind]}-{report.id}.csv"
        return FileResponse(
            _open(report.csv_file), as_attachment=True, filename=filename, content_type="text/csv; charset=utf-8"
        )


class ReportMetadataApi(APIView):
    @extend_schema(
        responses={
            200: OpenApiTypes.OBJECT,
            404: OpenApiResponse(description="Unknown report, or not yours"),
            409: OpenApiResponse(description="The report is pending, running or failed"),
        },
        summary="A COMPLETE report's JSON metadata (algorithm, parameters, now, counts, timings)",
    )
    def get(self, request, report_id):
        report = _complete_report(report_id, request.user)
        filename = f"{DOWNLOAD_NAMES[report.kind]}-{report.id}.json"
        return FileResponse(
            _open(report.metadata_file), as_attachment=False, filename=filename, content_type="application/json"
        )


class ReportListApi(APIView):
    @extend_schema(
        parameters=[ReportListInput],
        responses=ReportPageOutput,
        summary="Reports you may read, newest first (cursor pagination): staff all, others their own",
        operation_id="reports_list",
    )
    def get(self, request):
        query = ReportListInput(data=request.query_params)
        query.is_valid(raise_exception=True)
        queryset = selectors.report_list(user=request.user)
        if query.validated_data.get("kind"):
            queryset = queryset.filter(kind=query.validated_data["kind"])
        paginator = ReportCursorPagination()
        page = paginator.paginate_queryset(queryset, request, view=self)
        return paginator.get_paginated_response(ReportOutput(page, many=True).data)


class StoreDataUploadApi(APIView):
    """Small imports in the request; large ones with ``manage.py import_store_data`` (its own process).

    The body's declared size is checked before any of it is read or stored; each file's lines,
    columns and bytes are checked while it is parsed, in bounded chunks.
    """

    permission_classes = [StaffForWrites]
    parser_classes = [MultiPartParser]

    @extend_schema(
        request={"multipart/form-data": UPLOAD_REQUEST_SCHEMA},
        responses={
            200: StoreDataImportOutput,
            400: OpenApiResponse(description="A file is refused (bad rows, lines, columns); nothing was imported"),
            413: OpenApiResponse(description="The upload is over FILE_UPLOAD_MAX_SIZE"),
        },
        summary="Upload store_status.csv, menu_hours.csv and/or timezones.csv (all or nothing)",
    )
    def post(self, request):
        limit = settings.FILE_UPLOAD_MAX_SIZE
        try:
            declared = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            declared = 0
        if declared > limit + MULTIPART_OVERHEAD_BYTES:
            raise PayloadTooLarge(
                f"The upload has {declared} bytes; the limit is {limit}. Import larger files with "
                "manage.py import_store_data.",
                details={"limit": limit},
            )
        unknown = sorted(set(request.FILES) - set(UPLOAD_FIELDS))
        if unknown:
            raise ValidationFailed(
                f"Unknown file fields: {', '.join(unknown)}. Use {', '.join(UPLOAD_FIELDS)}.",
                details={"fields": list(UPLOAD_FIELDS)},
            )
        if not request.FILES:
            raise ValidationFailed(f"Upload at least one of the files {', '.join(UPLOAD_FIELDS)}.")
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
