"""Input and output shapes of the jobs API."""

from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from config.api_fields import AwareDateTimeField, ClosedInput, QueryInput, StrictCharField, StrictIntegerField
from jobs import registry
from jobs.models import Job, JobAttempt, JobStatus
from jobs.validation import PRIORITY_RANGE

MAX_PAGE_SIZE = 500


class ActorNameField(StrictCharField):
    """The name of an actor that users may submit (the schema lists them when it is made)."""

    def __init__(self, **kwargs):
        kwargs.setdefault("max_length", 200)
        super().__init__(**kwargs)


class ActorNameFieldExtension(OpenApiSerializerFieldExtension):
    target_class = ActorNameField

    def map_serializer_field(self, auto_schema, direction):
        return {"type": "string", "enum": registry.public_actor_names()}


@extend_schema_field({"type": "array", "items": {}, "description": "Positional arguments (JSON values)."})
class JSONArrayField(serializers.JSONField):
    default_error_messages = {"not_array": "Must be a JSON array."}

    def to_internal_value(self, data):
        if not isinstance(data, list):
            self.fail("not_array")
        return data


@extend_schema_field({"type": "object", "additionalProperties": {}, "description": "Keyword arguments."})
class JSONObjectField(serializers.JSONField):
    default_error_messages = {"not_object": "Must be a JSON object."}

    def to_internal_value(self, data):
        if not isinstance(data, dict):
            self.fail("not_object")
        return data


class JobSubmitInput(serializers.Serializer):
    actor = ActorNameField()
    args = JSONArrayField(required=False, default=list)
    kwargs = JSONObjectField(required=False, default=dict)
    queue = serializers.ChoiceField(choices=registry.QUEUES, required=False, allow_null=True, default=None)
    priority = StrictIntegerField(required=False, default=0, min_value=PRIORITY_RANGE[0], max_value=PRIORITY_RANGE[1])
    eta = AwareDateTimeField(required=False, allow_null=True, default=None)
    idempotency_key = StrictCharField(max_length=200, required=False, allow_null=True, default=None)
    max_retries = StrictIntegerField(required=False, allow_null=True, default=None, min_value=0, max_value=100)


@extend_schema_field(
    {"type": "array", "items": {"type": "string", "enum": list(JobStatus.values)}, "maxItems": len(JobStatus.values)}
)
class StatusesField(serializers.MultipleChoiceField):
    """Job statuses, each given once: ``?status=failed&status=cancelled``."""

    def __init__(self, **kwargs):
        super().__init__(choices=JobStatus.choices, **kwargs)


# Query strings stay short enough for gunicorn's request line (config/gunicorn.py), percent-encoded.
class PageInput(QueryInput):
    cursor = serializers.CharField(
        required=False, max_length=200, trim_whitespace=False, help_text="From a next or previous link."
    )
    page_size = serializers.IntegerField(required=False, min_value=1, max_value=MAX_PAGE_SIZE)


class JobFilterInput(PageInput):
    status = StatusesField(required=False)
    actor = serializers.CharField(required=False, max_length=200, trim_whitespace=False)
    queue = serializers.CharField(required=False, max_length=100, trim_whitespace=False)
    created_after = AwareDateTimeField(required=False)
    created_before = AwareDateTimeField(required=False)
    search = serializers.CharField(
        required=False,
        max_length=100,
        trim_whitespace=False,
        help_text="Text anywhere in the actor, error, idempotency key, args, kwargs or result "
        "(case-insensitive); `key:value` matches jobs whose kwargs or result hold that key with that JSON "
        "value (`order_id:42`, `region:eu`); a job id finds that job. Indexed on PostgreSQL.",
    )

    def selector_filters(self) -> dict:
        data = {key: value for key, value in self.validated_data.items() if key not in PageInput().fields}
        if "status" in data:
            data["status"] = sorted(data["status"])
        return data


class StatsInput(QueryInput):
    window_minutes = serializers.IntegerField(required=False, default=60, min_value=1, max_value=24 * 60)


class JobBulkRetryInput(ClosedInput):
    status = serializers.ChoiceField(choices=[JobStatus.FAILED, JobStatus.CANCELLED], default=JobStatus.FAILED)
    actor = StrictCharField(required=False, max_length=200)
    queue = StrictCharField(required=False, max_length=100)
    error_type = StrictCharField(required=False, max_length=200)
    created_after = AwareDateTimeField(required=False)
    created_before = AwareDateTimeField(required=False)


class JobRerunInput(serializers.Serializer):
    args = JSONArrayField(required=False, default=None, help_text="Positional arguments; the original's if left out.")
    kwargs = JSONObjectField(required=False, default=None, help_text="Keyword arguments; the original's if left out.")


class JobPurgeInput(ClosedInput):
    actor = StrictCharField(required=False, max_length=200)
    queue = StrictCharField(required=False, max_length=100)
    error_type = StrictCharField(required=False, max_length=200)
    created_before = AwareDateTimeField(required=False)


class AttemptOutput(serializers.ModelSerializer):
    class Meta:
        model = JobAttempt
        fields = [
            "number",
            "outcome",
            "worker_id",
            "started_at",
            "finished_at",
            "error_type",
            "error_message",
            "traceback",
            "charged",
            "late_outcome",
            "late_at",
            "cpu_seconds",
            "peak_rss_bytes",
            "rss_growth_bytes",
        ]


class JobOutput(serializers.ModelSerializer):
    actor = serializers.CharField(source="actor_name")
    queue = serializers.CharField(source="queue_name")
    max_retries = serializers.IntegerField()
    next_retry_at = serializers.DateTimeField(read_only=True, allow_null=True)

    class Meta:
        model = Job
        fields = [
            "id",
            "actor",
            "queue",
            "priority",
            "status",
            "attempts",
            "uncharged_attempts",
            "max_retries",
            "progress",
            "progress_message",
            "created_at",
            "eta",
            "enqueued_at",
            "started_at",
            "finished_at",
            "next_retry_at",
            "cancel_requested_at",
            "worker_id",
            "error_type",
            "error_message",
            "idempotency_key",
            "parent_id",
            "rerun_of_id",
        ]


class JobDetailOutput(JobOutput):
    attempt_log = AttemptOutput(many=True, read_only=True)
    row_expires_at = serializers.DateTimeField(
        read_only=True, allow_null=True, help_text="When the daily prune deletes this job (JOBS_RETENTION)."
    )
    result_expires_at = serializers.DateTimeField(
        read_only=True, allow_null=True, help_text="When the daily prune clears its result (JOBS_RESULT_TTL)."
    )
    reruns = serializers.SerializerMethodField(help_text="Copies an operator submitted from this job, newest first.")

    class Meta(JobOutput.Meta):
        fields = [
            *JobOutput.Meta.fields,
            "args",
            "kwargs",
            "result",
            "dispatch_token",
            "attempt_log",
            "row_expires_at",
            "result_expires_at",
            "reruns",
            # What the successful attempt cost (the others': in attempt_log).
            "cpu_seconds",
            "peak_rss_bytes",
            "rss_growth_bytes",
        ]

    def get_reruns(self, job) -> list[str]:
        return [str(pk) for pk in job.reruns.order_by("-created_at", "-id").values_list("pk", flat=True)[:100]]


class JobPageOutput(serializers.Serializer):
    next = serializers.URLField(allow_null=True, help_text="The next (older) page, if any.")
    previous = serializers.URLField(allow_null=True, help_text="The previous (newer) page, if any.")
    results = JobOutput(many=True)


class QueueOutput(serializers.Serializer):
    """One queue's load: what an external autoscaler (a Kubernetes HPA, a dyno autoscaler) scales on."""

    name = serializers.CharField()
    paused = serializers.BooleanField(help_text="Paused by an operator: accepts jobs, starts none (jobs.controls).")
    depth = serializers.IntegerField(help_text="Jobs waiting to start: pending + queued.")
    oldest_waiting_seconds = serializers.FloatField(
        allow_null=True, help_text="How long the oldest waiting job has waited (database clock); null when none waits."
    )
    broker_ready = serializers.IntegerField(
        allow_null=True, help_text="Messages ready in Redis, not yet fetched by a worker; null when Redis is down."
    )
    pending = serializers.IntegerField()
    queued = serializers.IntegerField()
    running = serializers.IntegerField()
    retrying = serializers.IntegerField()
    scheduled = serializers.IntegerField()
    failed = serializers.IntegerField()
