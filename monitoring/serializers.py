"""Input and output shapes of the monitoring API. Inputs check shape only: services check meaning."""

from django.core.validators import RegexValidator
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from config.api_fields import AwareDateTimeField, QueryInput, StrictBooleanField, StrictCharField, StrictIntegerField
from jobs.models import JobStatus
from jobs.serializers import JobOutput, PageInput
from monitoring import rules as R
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

# An id filter in a bigint's range: a larger number overflows SQLite's integers (a 500), not "no match".
ID_RANGE = {"min_value": 1, "max_value": 2**63 - 1}
# Names, owners and reasons hold more than blanks (the services strip them): the schema says so too.
NOT_BLANK = RegexValidator(r"\S", message="May not be blank.")


@extend_schema_field(
    {
        "type": "array",
        "items": {"type": "object", "additionalProperties": {}},
        "maxItems": R.MAX_GROUP_SIZE,
        "description": "The conditions of an all/any/none group (each a rule's field, operator, value…).",
    }
)
class ConditionsField(serializers.JSONField):
    default_error_messages = {"not_conditions": "Must be a JSON array of objects."}

    def to_internal_value(self, data):
        if not isinstance(data, list) or not all(isinstance(item, dict) for item in data):
            self.fail("not_conditions")
        return data


@extend_schema_field({"type": "object", "additionalProperties": {}, "nullable": True})
class ConditionField(serializers.JSONField):
    default_error_messages = {"not_object": "Must be a JSON object or null."}

    def to_internal_value(self, data):
        if not isinstance(data, dict):
            self.fail("not_object")
        return data


class PolicyInput(serializers.Serializer):
    name = StrictCharField(max_length=200, validators=[NOT_BLANK])
    description = StrictCharField(required=False, allow_blank=True, default="", max_length=5000)
    text = StrictCharField(required=False, allow_blank=True, default="", max_length=200_000)
    severity = serializers.ChoiceField(choices=Severity.choices, required=False, default=Severity.MEDIUM)
    enabled = StrictBooleanField(required=False, default=True)
    sources = serializers.ListField(
        child=StrictCharField(min_length=1, max_length=100),
        required=False,
        default=list,
        help_text="Empty: every source.",
    )


class PolicyOutput(serializers.ModelSerializer):
    rule_count = serializers.IntegerField(read_only=True, allow_null=True, default=None)

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


OPERATOR_CHOICES = list(R.OPERATORS)
VALUE_TYPE_CHOICES = ["", *R.VALUE_TYPES]
# The services' words, so that a bad rule reads the same however it is refused.
OPERATOR_ERRORS = {"invalid_choice": f"unknown operator {{input!r}}; valid operators: {', '.join(R.OPERATORS)}"}
VALUE_TYPE_ERRORS = {"invalid_choice": f"unknown value type {{input!r}}; valid types: {', '.join(R.VALUE_TYPES)}"}


class RuleInput(serializers.Serializer):
    policy_id = StrictIntegerField()
    field = StrictCharField(required=False, allow_blank=True, default="", max_length=R.MAX_PATH_LENGTH)
    operator = serializers.ChoiceField(choices=OPERATOR_CHOICES, error_messages=OPERATOR_ERRORS)
    value = serializers.JSONField(required=False, allow_null=True, default=None)
    value_type = serializers.ChoiceField(
        choices=VALUE_TYPE_CHOICES, required=False, allow_blank=True, error_messages=VALUE_TYPE_ERRORS, default=""
    )
    conditions = ConditionsField(required=False, default=list)
    message = StrictCharField(required=False, allow_blank=True, default="", max_length=500)
    enabled = StrictBooleanField(required=False, default=True)


class RulePatchInput(serializers.Serializer):
    field = StrictCharField(required=False, allow_blank=True, max_length=R.MAX_PATH_LENGTH)
    operator = serializers.ChoiceField(choices=OPERATOR_CHOICES, required=False, error_messages=OPERATOR_ERRORS)
    value = serializers.JSONField(required=False, allow_null=True)
    value_type = serializers.ChoiceField(
        choices=VALUE_TYPE_CHOICES, required=False, allow_blank=True, error_messages=VALUE_TYPE_ERRORS
    )
    conditions = ConditionsField(required=False)
    message = StrictCharField(required=False, allow_blank=True, max_length=500)
    enabled = StrictBooleanField(required=False)


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
    policy_id = StrictIntegerField(required=False, allow_null=True, default=None)


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


class ScanJobsInput(QueryInput):
    limit = serializers.IntegerField(required=False, default=50, min_value=1, max_value=500)
    job_type = serializers.ChoiceField(choices=["full", "incremental", "extract"], required=False)
    status = serializers.ChoiceField(choices=JobStatus.choices, required=False)


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


class ViolationFilterInput(PageInput):
    status = serializers.MultipleChoiceField(choices=ViolationStatus.choices, required=False)
    severity = serializers.MultipleChoiceField(choices=Severity.choices, required=False)
    policy = serializers.IntegerField(required=False, **ID_RANGE)
    rule = serializers.IntegerField(required=False, **ID_RANGE)
    record = serializers.IntegerField(required=False, **ID_RANGE)
    since = AwareDateTimeField(required=False, help_text="First seen at or after.")
    until = AwareDateTimeField(required=False, help_text="First seen before.")
    waived = serializers.BooleanField(required=False)

    def selector_filters(self) -> dict:
        data = {key: value for key, value in self.validated_data.items() if key not in PageInput().fields}
        for key in ("status", "severity"):
            if key in data:
                data[key] = sorted(data[key])
        return data


class RuleFilterInput(QueryInput):
    policy = serializers.IntegerField(required=False, **ID_RANGE)


class WaiverFilterInput(QueryInput):
    active = serializers.BooleanField(required=False, help_text="Leave out: every waiver.")


class RecordFilterInput(PageInput):
    source = serializers.CharField(required=False, max_length=100, trim_whitespace=False)
    search = serializers.CharField(required=False, max_length=200, trim_whitespace=False, help_text="In the id.")


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
    reason = StrictCharField(required=False, allow_blank=True, default="", max_length=2000)


class ViolationMuteInput(serializers.Serializer):
    reason = StrictCharField(max_length=2000, validators=[NOT_BLANK], help_text="Why it is muted (required).")


class ViolationBulkInput(serializers.Serializer):
    action = serializers.ChoiceField(choices=["acknowledge", "resolve", "reopen"])
    ids = serializers.ListField(child=StrictIntegerField(), min_length=1, max_length=1000)
    reason = StrictCharField(required=False, allow_blank=True, default="", max_length=2000)


class ViolationBulkMuteInput(serializers.Serializer):
    action = serializers.ChoiceField(choices=["mute"])
    ids = serializers.ListField(child=StrictIntegerField(), min_length=1, max_length=1000)
    reason = StrictCharField(max_length=2000, validators=[NOT_BLANK], help_text="Why they are muted (required).")


class ViolationBulkOutput(serializers.Serializer):
    changed = serializers.IntegerField(help_text="How many changed (the others do not allow the action, or are gone).")
    selected = serializers.IntegerField()


class EventOutput(serializers.ModelSerializer):
    user = serializers.CharField(source="user.username", allow_null=True, default=None)

    class Meta:
        model = ViolationEvent
        fields = ["id", "violation_id", "from_status", "to_status", "at", "scan_id", "user", "note"]


class WaiverInput(serializers.Serializer):
    policy_id = StrictIntegerField(required=False, allow_null=True, default=None, help_text="This or rule_id.")
    rule_id = StrictIntegerField(required=False, allow_null=True, default=None, help_text="This or policy_id.")
    record_id = StrictIntegerField(required=False, allow_null=True, default=None)
    condition = ConditionField(required=False, allow_null=True, default=None)
    reason = StrictCharField(max_length=5000, validators=[NOT_BLANK])
    owner = StrictCharField(max_length=200, validators=[NOT_BLANK])
    expires_at = AwareDateTimeField(help_text="In the future.")


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
    format = serializers.ChoiceField(
        choices=["csv", "jsonl"], required=False, help_text="Leave out: taken from the file's name."
    )
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
    field = StrictCharField(required=False, allow_blank=True, max_length=R.MAX_PATH_LENGTH)
    operator = serializers.ChoiceField(choices=OPERATOR_CHOICES, required=False, error_messages=OPERATOR_ERRORS)
    value = serializers.JSONField(required=False, allow_null=True)
    value_type = serializers.ChoiceField(
        choices=VALUE_TYPE_CHOICES, required=False, allow_blank=True, error_messages=VALUE_TYPE_ERRORS
    )
    conditions = ConditionsField(required=False)


class ViolationPageOutput(serializers.Serializer):
    next = serializers.URLField(allow_null=True, help_text="The next (older) page, if any.")
    previous = serializers.URLField(allow_null=True, help_text="The previous (newer) page, if any.")
    results = ViolationOutput(many=True)


class RecordPageOutput(serializers.Serializer):
    next = serializers.URLField(allow_null=True, help_text="The next (older) page, if any.")
    previous = serializers.URLField(allow_null=True, help_text="The previous (newer) page, if any.")
    results = RecordOutput(many=True)
