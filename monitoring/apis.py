"""The monitoring API under /api/v1/monitoring/: thin views over services (writes) and selectors (reads)."""

from django.conf import settings
from drf_spectacular.utils import OpenApiResponse, PolymorphicProxySerializer, extend_schema
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from config import health
from config.api_pagination import CreatedAtCursorPagination
from jobs.apis import StaffForWrites
from jobs.errors import PayloadTooLarge
from monitoring import imports, preview, selectors, services
from monitoring import serializers as s


def _valid(serializer_class, data):
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


# Room for the multipart framing (boundaries, part headers, the other fields) around the file.
MULTIPART_OVERHEAD_BYTES = 64 * 1024
NOT_FOUND = OpenApiResponse(description="No such object (one the body names, or the path).")
CONFLICT = OpenApiResponse(description="The object is not in a state that allows this.")


class ViolationPages(CreatedAtCursorPagination):
    """Keyset pages on (first_seen, id); a cursor that is not the API's own is a 404, never a 500."""

    ordering = ("-first_seen", "-id")


class RecordPages(CreatedAtCursorPagination):
    ordering = ("-updated_at", "-id")


class MonitoringApi(APIView):
    permission_classes = [StaffForWrites]


# --- Status, scans, health ---------------------------------------------------------------------------


class StatusApi(MonitoringApi):
    @extend_schema(responses=s.StatusOutput, summary="Monitoring at a glance: last scan, schedule, violations")
    def get(self, request):
        return Response(s.StatusOutput(selectors.monitoring_status()).data)


class ScanApi(MonitoringApi):
    @extend_schema(
        request=s.ScanInput,
        responses={202: s.ScanSubmittedOutput, 200: s.ScanSubmittedOutput, 404: NOT_FOUND},
        summary="Start a full scan (of one policy or all); a live scan of the same scope is returned instead",
    )
    def post(self, request):
        data = _valid(s.ScanInput, request.data)
        submitted = services.scan_request(policy_id=data["policy_id"])
        body = s.ScanSubmittedOutput({"created": submitted.created, "job": submitted.job}).data
        return Response(body, status=202 if submitted.created else 200)


class ScanJobsApi(MonitoringApi):
    @extend_schema(parameters=[s.ScanJobsInput], responses=s.ScanJobOutput(many=True), summary="Scan history")
    def get(self, request):
        data = _valid(s.ScanJobsInput, request.query_params)
        rows = selectors.scan_jobs(limit=data["limit"], job_type=data.get("job_type"), status=data.get("status"))
        return Response(s.ScanJobOutput(rows, many=True).data)


class ScanRunListApi(MonitoringApi):
    @extend_schema(responses=s.ScanRunOutput(many=True), summary="Scans, newest first (the last 100)")
    def get(self, request):
        return Response(s.ScanRunOutput(selectors.scan_runs(limit=100), many=True).data)


class HealthApi(MonitoringApi):
    @extend_schema(
        responses={200: health.HealthApi.OutputSerializer, 503: health.HealthApi.OutputSerializer},
        summary="Workers, scheduler, Redis, database and the continuous scan schedule (200 or 503)",
    )
    def get(self, request):
        report = health.redacted(selectors.monitoring_health())  # error texts name hosts: the log has them
        return Response(report, status=200 if report["status"] == "ok" else 503)


# --- Policies and rules ------------------------------------------------------------------------------


class PolicyListApi(MonitoringApi):
    @extend_schema(responses=s.PolicyOutput(many=True), summary="Policies")
    def get(self, request):
        return Response(s.PolicyOutput(selectors.policy_list(), many=True).data)

    @extend_schema(request=s.PolicyInput, responses={201: s.PolicyOutput}, summary="Create a policy")
    def post(self, request):
        policy = services.policy_create(**_valid(s.PolicyInput, request.data))
        return Response(s.PolicyOutput(policy).data, status=201)


class PolicyDetailApi(MonitoringApi):
    @extend_schema(responses=s.PolicyOutput, summary="A policy")
    def get(self, request, policy_id):
        return Response(s.PolicyOutput(selectors.policy_get(policy_id)).data)

    @extend_schema(request=s.PolicyInput(partial=True), responses=s.PolicyOutput, summary="Change a policy")
    def patch(self, request, policy_id):
        serializer = s.PolicyInput(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        changes = {k: v for k, v in serializer.validated_data.items() if k in request.data}
        return Response(s.PolicyOutput(services.policy_update(policy_id=policy_id, **changes)).data)

    @extend_schema(responses={204: None}, summary="Delete a policy with its rules and violations")
    def delete(self, request, policy_id):
        services.policy_delete(policy_id=policy_id)
        return Response(status=204)


class ExtractRulesApi(MonitoringApi):
    @extend_schema(
        request=None,
        responses={
            202: s.ScanSubmittedOutput,
            200: s.ScanSubmittedOutput,
            409: OpenApiResponse(description="The policy has no text to extract rules from."),
        },
        summary="Extract rules from the policy's text in the background (they start disabled)",
    )
    def post(self, request, policy_id):
        submitted = services.extract_request(policy_id=policy_id)
        body = s.ScanSubmittedOutput({"created": submitted.created, "job": submitted.job}).data
        return Response(body, status=202 if submitted.created else 200)


class RuleListApi(MonitoringApi):
    @extend_schema(parameters=[s.RuleFilterInput], responses=s.RuleOutput(many=True), summary="Rules (filter: policy)")
    def get(self, request):
        data = _valid(s.RuleFilterInput, request.query_params)
        return Response(s.RuleOutput(selectors.rule_list(policy=data.get("policy")), many=True).data)

    @extend_schema(
        request=s.RuleInput,
        responses={201: s.RuleOutput, 404: NOT_FOUND},
        summary="Create a rule (400 names the field)",
    )
    def post(self, request):
        data = dict(_valid(s.RuleInput, request.data))
        rule = services.rule_create(policy_id=data.pop("policy_id"), **data)
        return Response(s.RuleOutput(rule).data, status=201)


class RuleDetailApi(MonitoringApi):
    @extend_schema(responses=s.RuleOutput, summary="A rule")
    def get(self, request, rule_id):
        return Response(s.RuleOutput(selectors.rule_get(rule_id)).data)

    @extend_schema(request=s.RulePatchInput, responses=s.RuleOutput, summary="Change or enable/disable a rule")
    def patch(self, request, rule_id):
        changes = _valid(s.RulePatchInput, request.data)
        return Response(s.RuleOutput(services.rule_update(rule_id=rule_id, **changes)).data)

    @extend_schema(responses={204: None}, summary="Delete a rule with its violations")
    def delete(self, request, rule_id):
        services.rule_delete(rule_id=rule_id)
        return Response(status=204)


class RulePreviewApi(APIView):
    permission_classes = [IsAuthenticated]  # a preview writes nothing: any signed-in user may ask

    @extend_schema(
        request=s.PreviewInput,
        responses={200: OpenApiResponse(dict, description="The records it would open, keep and resolve")},
        summary="What the rule (or the rule with these changes) would open and resolve now; writes nothing",
    )
    def post(self, request, rule_id):
        changes = _valid(s.PreviewInput, request.data)
        return Response(preview.rule_preview(rule_id=rule_id, changes=changes))


# --- Violations --------------------------------------------------------------------------------------


class ViolationListApi(MonitoringApi):
    @extend_schema(
        parameters=[s.ViolationFilterInput],
        responses=s.ViolationPageOutput,
        summary="Violations (filters, cursor pagination)",
        operation_id="v1_monitoring_violations_list",
    )
    def get(self, request):
        filters = s.ViolationFilterInput(data=request.query_params)
        filters.is_valid(raise_exception=True)
        paginator = ViolationPages()
        page = paginator.paginate_queryset(selectors.violation_list(**filters.selector_filters()), request, view=self)
        return paginator.get_paginated_response(s.ViolationOutput(page, many=True).data)


class ViolationDetailApi(MonitoringApi):
    @extend_schema(responses=s.ViolationOutput, summary="A violation with its evidence")
    def get(self, request, violation_id):
        return Response(s.ViolationOutput(selectors.violation_get(violation_id)).data)


class ViolationEventsApi(MonitoringApi):
    @extend_schema(responses=s.EventOutput(many=True), summary="A violation's history of status changes")
    def get(self, request, violation_id):
        violation = selectors.violation_get(violation_id)
        return Response(s.EventOutput(selectors.violation_events(violation.pk), many=True).data)


class ViolationActionApi(MonitoringApi):
    action = ""
    input_class = s.ViolationActionInput

    @extend_schema(
        request=s.ViolationActionInput,
        responses={200: s.ViolationOutput, 409: CONFLICT},
        summary="Change a violation's status (409 if its status does not allow it)",
    )
    def post(self, request, violation_id):
        data = _valid(self.input_class, request.data)
        services.violation_act(violation_id=violation_id, action=self.action, user=request.user, note=data["reason"])
        return Response(s.ViolationOutput(selectors.violation_get(violation_id)).data)


class ViolationMuteApi(ViolationActionApi):
    input_class = s.ViolationMuteInput

    @extend_schema(
        request=s.ViolationMuteInput,
        responses={200: s.ViolationOutput, 409: CONFLICT},
        summary="Mute a violation, with a reason (409 if its status does not allow it)",
    )
    def post(self, request, violation_id):
        return super().post(request, violation_id)


class ViolationBulkApi(MonitoringApi):
    @extend_schema(
        request=PolymorphicProxySerializer(
            component_name="ViolationBulkRequest",
            serializers=[s.ViolationBulkInput, s.ViolationBulkMuteInput],
            resource_type_field_name=None,
        ),
        responses=s.ViolationBulkOutput,
        summary="Acknowledge, resolve, reopen or mute (with a reason) many; those that do not allow it are skipped",
    )
    def post(self, request):
        mute = isinstance(request.data, dict) and request.data.get("action") == "mute"
        data = _valid(s.ViolationBulkMuteInput if mute else s.ViolationBulkInput, request.data)
        changed = services.violations_act_bulk(
            violation_ids=data["ids"], action=data["action"], user=request.user, note=data["reason"]
        )
        return Response(s.ViolationBulkOutput({"changed": changed, "selected": len(data["ids"])}).data)


# --- Waivers and records -----------------------------------------------------------------------------


class WaiverListApi(MonitoringApi):
    @extend_schema(parameters=[s.WaiverFilterInput], responses=s.WaiverOutput(many=True), summary="Waivers")
    def get(self, request):
        data = _valid(s.WaiverFilterInput, request.query_params)
        return Response(s.WaiverOutput(selectors.waiver_list(active=data.get("active")), many=True).data)

    @extend_schema(
        request=s.WaiverInput,
        responses={201: s.WaiverOutput, 404: NOT_FOUND},
        summary="Waive violations until a date (of a policy or a rule; a record and a condition narrow it)",
    )
    def post(self, request):
        waiver = services.waiver_create(**_valid(s.WaiverInput, request.data), user=request.user)
        return Response(s.WaiverOutput(waiver).data, status=201)


class WaiverDetailApi(MonitoringApi):
    @extend_schema(responses=s.WaiverOutput, summary="A waiver")
    def get(self, request, waiver_id):
        return Response(s.WaiverOutput(selectors.waiver_get(waiver_id)).data)

    @extend_schema(responses=s.WaiverOutput, summary="Revoke a waiver: it expires now and stays on record")
    def delete(self, request, waiver_id):
        return Response(s.WaiverOutput(services.waiver_revoke(waiver_id=waiver_id)).data)


class RecordListApi(MonitoringApi):
    @extend_schema(
        parameters=[s.RecordFilterInput],
        responses=s.RecordPageOutput,
        summary="Records (source, search in the id; cursor pagination)",
        operation_id="v1_monitoring_records_list",
    )
    def get(self, request):
        data = _valid(s.RecordFilterInput, request.query_params)
        qs = selectors.record_list(source=data.get("source"), search=data.get("search"))
        paginator = RecordPages()
        page = paginator.paginate_queryset(qs, request, view=self)
        return paginator.get_paginated_response(s.RecordOutput(page, many=True).data)


class RecordDetailApi(MonitoringApi):
    @extend_schema(responses=s.RecordDetailOutput, summary="A record with its violations")
    def get(self, request, record_id):
        record = selectors.record_get(record_id)
        violations = list(selectors.violation_list(record=record.pk)[:500])
        return Response(s.RecordDetailOutput(record, context={"violations": violations}).data)

    @extend_schema(responses=s.RecordOutput, summary="Delete a record: the next scan resolves its violations")
    def delete(self, request, record_id):
        return Response(s.RecordOutput(services.record_delete(record_id=record_id)).data)


class RecordUploadApi(MonitoringApi):
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(
        request={"multipart/form-data": s.RecordUploadInput},
        responses={200: s.ImportOutput},
        summary="Import records from CSV or JSON lines (upsert by source and id; bad rows reported by line)",
    )
    def post(self, request):
        limit = settings.FILE_UPLOAD_MAX_SIZE
        try:
            declared = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            declared = 0
        if declared > limit + MULTIPART_OVERHEAD_BYTES:  # refused before the body is read and stored
            raise PayloadTooLarge(f"The upload has {declared} bytes; the limit is {limit}.", details={"limit": limit})
        data = _valid(s.RecordUploadInput, request.data)
        upload = data["file"]
        if upload.size > limit:
            raise PayloadTooLarge(f"The file has {upload.size} bytes; the limit is {limit}.", details={"limit": limit})
        fmt = imports.format_of(upload.name, data.get("format"))
        result = imports.records_import(source=data["source"], stream=upload.file, fmt=fmt, id_field=data["id_field"])
        return Response(s.ImportOutput(result.as_dict()).data)
