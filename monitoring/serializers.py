"""Input and output shapes of the monitoring API. Inputs check shape only: services check meaning."""

from rest_framework import serializers

from jobs.serializers import JobOutput
from monitoring.models import (
    Policy,
    Record,
    Rule,
    ScanRun,
    Severity,
    Violation,
    ViolationEvent,
    ViolationStatus,
    Waiver,
)


class PolicyInput(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    description = serializers.CharField(required=False, allow_blank=True, default="")
    text = serializers.CharField(required=False, allow_blank=True, default="", max_length=200_000)
    severity = serializers.ChoiceField(choices=Severity.choices, required=False, default=Severity.MEDIUM)
    enabled = serializers.BooleanField(required=False, default=True)
    sources = serializers.ListField(
        child=serializers.CharField(max_length=100), required=False, default=list, help_text="Empty: every source."
    )


class PolicyOutput(serializers.ModelSerializer):
    rule_count = serializers.IntegerField(read_only=True, default=None)

    class Meta:
        model = Policy
        fields = [
            "id",
            "name",
            "description",
            "text",
            "severity",
            "enabled",
            "sources",
            "version",
            "scanned_version",
            "rule_count",
            "created_at",
            "updated_at",
        ]


class RuleInput(serializers.Serializer):
    policy_id = serializers.IntegerField()
    field = serializers.CharField(required=False, allow_blank=True, default="", trim_whitespace=False)
    operator = serializers.CharField(max_length=20)
    value = serializers.JSONField(required=False, allow_null=True, default=None)
    value_type = serializers.CharField(required=False, allow_blank=True, default="")
    conditions = serializers.JSONField(required=False, default=list)
    message = serializers.CharField(required=False, allow_blank=True, default="", max_length=500)
    enabled = serializers.BooleanField(required=False, default=True)


class RulePatchInput(serializers.Serializer):
    field = serializers.CharField(required=False, allow_blank=True, trim_whitespace=False)
    operator = serializers.CharField(required=False, max_length=20)
    value = serializers.JSONField(required=False, allow_null=True)
    value_type = serializers.CharField(required=False, allow_blank=True)
    conditions = serializers.JSONField(required=False)
    message = serializers.CharField(required=False, allow_blank=True, max_length=500)
    enabled = serializers.BooleanField(required=False)


class RuleOutput(serializers.ModelSerializer):
    policy_id = serializers.IntegerField()

    class Meta:
        model = Rule
        fields = [
            "id",
            "policy_id",
            "field",
            "operator",
            "value",
            "value_type",
            "conditions",
            "message",
            "enabled",
            "source_sentence",
            "source_start",
            "source_end",
            "confirmed_at",
            "created_at",
            "updated_at",
        ]


class ScanInput(serializers.Serializer):
    policy_id = serializers.IntegerField(required=False, allow_null=True, default=None)


class ScanSubmittedOutput(serializers.Serializer):
    created = serializers.BooleanField(help_text="False: a scan of the same scope was live; this is that job.")
    job = JobOutput()


class ScanRunOutput(serializers.ModelSerializer):
    policy_id = serializers.IntegerField(allow_null=True)
    job_id = serializers.UUIDField(allow_null=True)

    class Meta:
        model = ScanRun
        fields = [
            "id",
            "job_id",
            "policy_id",
            "mode",
            "status",
            "watermark",
            "since",
            "started_at",
            "finished_at",
            "records_scanned",
            "rules_evaluated",
            "violations_opened",
            "violations_still_open",
            "violations_resolved",
            "violations_reopened",
            "duration_ms",
            "details",
            "error",
        ]


class ScanJobsInput(serializers.Serializer):
    limit = serializers.IntegerField(required=False, default=50, min_value=1, max_value=500)
    job_type = serializers.ChoiceField(choices=["full", "incremental", "extract"], required=False)
    status = serializers.CharField(required=False)


class ScanJobOutput(serializers.Serializer):
    job = JobOutput()
    scan = ScanRunOutput(allow_null=True)


class StatusOutput(serializers.Serializer):
    monitoring_active = serializers.BooleanField()
    scheduler = serializers.DictField()
    schedule = serializers.DictField(allow_null=True)
    next_scheduled_scan = serializers.DateTimeField(allow_null=True)
    last_scan = ScanRunOutput(allow_null=True)
    scans_today = serializers.IntegerField()
    running_scans = serializers.IntegerField()
    average_scan_duration_ms = serializers.IntegerField(allow_null=True)
    records = serializers.IntegerField()
    policies = serializers.IntegerField()
    rules = serializers.IntegerField()
    violations = serializers.DictField()
    violations_found_today = serializers.IntegerField()
    records_scanned_today = serializers.IntegerField()


class ViolationFilterInput(serializers.Serializer):
    status = serializers.MultipleChoiceField(choices=ViolationStatus.choices, required=False)
    severity = serializers.MultipleChoiceField(choices=Severity.choices, required=False)
    policy = serializers.IntegerField(required=False)
    rule = serializers.IntegerField(required=False)
    record = serializers.IntegerField(required=False)
    since = serializers.DateTimeField(required=False, help_text="First seen at or after.")
    until = serializers.DateTimeField(required=False, help_text="First seen before.")
    waived = serializers.BooleanField(required=False, allow_null=True, default=None)


class ViolationOutput(serializers.ModelSerializer):
    rule_id = serializers.IntegerField()
    record_id = serializers.IntegerField()
    policy_id = serializers.IntegerField()
    severity = serializers.CharField(source="policy.severity")
    record = serializers.CharField(source="record.__str__")
    waived = serializers.BooleanField(default=False)
    last_seen = serializers.DateTimeField(source="effective_last_seen")

    class Meta:
        model = Violation
        fields = [
            "id",
            "rule_id",
            "record_id",
            "record",
            "policy_id",
            "severity",
            "status",
            "waived",
            "status_changed_at",
            "first_seen",
            "last_seen",
            "resolved_at",
            "reopened_count",
            "evidence",
            "note",
            "opened_by_scan_id",
            "changed_by_scan_id",
        ]


class ViolationActionInput(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)


class ViolationBulkInput(serializers.Serializer):
    action = serializers.ChoiceField(choices=["acknowledge", "resolve", "mute", "reopen"])
    ids = serializers.ListField(child=serializers.IntegerField(), min_length=1, max_length=1000)
    reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)


class EventOutput(serializers.ModelSerializer):
    user = serializers.CharField(source="user.username", allow_null=True, default=None)

    class Meta:
        model = ViolationEvent
        fields = ["id", "violation_id", "from_status", "to_status", "at", "scan_id", "user", "note"]


class WaiverInput(serializers.Serializer):
    policy_id = serializers.IntegerField(required=False, allow_null=True, default=None)
    rule_id = serializers.IntegerField(required=False, allow_null=True, default=None)
    record_id = serializers.IntegerField(required=False, allow_null=True, default=None)
    condition = serializers.JSONField(required=False, allow_null=True, default=None)
    reason = serializers.CharField(max_length=5000)
    owner = serializers.CharField(max_length=200)
    expires_at = serializers.DateTimeField()


class WaiverOutput(serializers.ModelSerializer):
    created_by = serializers.CharField(source="created_by.username", allow_null=True, default=None)
    active = serializers.SerializerMethodField()

    class Meta:
        model = Waiver
        fields = [
            "id",
            "policy_id",
            "rule_id",
            "record_id",
            "condition",
            "reason",
            "owner",
            "expires_at",
            "active",
            "created_by",
            "created_at",
        ]

    def get_active(self, waiver) -> bool:
        from django.utils import timezone

        return waiver.expires_at > timezone.now()


class RecordOutput(serializers.ModelSerializer):
    class Meta:
        model = Record
        fields = ["id", "source", "external_id", "data", "created_at", "updated_at", "deleted_at"]


class RecordDetailOutput(RecordOutput):
    violations = serializers.SerializerMethodField()

    class Meta(RecordOutput.Meta):
        fields = [*RecordOutput.Meta.fields, "violations"]

    def get_violations(self, record) -> list[dict]:
        return ViolationOutput(self.context.get("violations", []), many=True).data


class RecordUploadInput(serializers.Serializer):
    file = serializers.FileField()
    source = serializers.CharField(max_length=100)
    format = serializers.ChoiceField(choices=["csv", "jsonl"], required=False, allow_null=True, default=None)
    id_field = serializers.CharField(required=False, default="id", max_length=200)


class ImportOutput(serializers.Serializer):
    rows = serializers.IntegerField()
    created = serializers.IntegerField()
    updated = serializers.IntegerField()
    unchanged = serializers.IntegerField()
    restored = serializers.IntegerField()
    error_count = serializers.IntegerField()
    errors = serializers.ListField(child=serializers.DictField())


class PreviewInput(serializers.Serializer):
    field = serializers.CharField(required=False, allow_blank=True, trim_whitespace=False)
    operator = serializers.CharField(required=False, max_length=20)
    value = serializers.JSONField(required=False, allow_null=True)
    value_type = serializers.CharField(required=False, allow_blank=True)
    conditions = serializers.JSONField(required=False)
