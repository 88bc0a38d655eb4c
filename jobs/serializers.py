"""Input and output shapes of the jobs API."""

from rest_framework import serializers

from jobs.models import Job, JobAttempt, JobStatus


class JobSubmitInput(serializers.Serializer):
    actor = serializers.CharField(max_length=200)
    args = serializers.JSONField(required=False, default=list)
    kwargs = serializers.JSONField(required=False, default=dict)
    queue = serializers.CharField(max_length=100, required=False, allow_null=True, default=None)
    priority = serializers.IntegerField(required=False, default=0, min_value=-100, max_value=100)
    eta = serializers.DateTimeField(required=False, allow_null=True, default=None)
    idempotency_key = serializers.CharField(max_length=200, required=False, allow_null=True, default=None)
    max_retries = serializers.IntegerField(required=False, allow_null=True, default=None, min_value=0, max_value=100)


class JobFilterInput(serializers.Serializer):
    status = serializers.MultipleChoiceField(choices=JobStatus.choices, required=False)
    actor = serializers.CharField(required=False)
    queue = serializers.CharField(required=False)
    created_after = serializers.DateTimeField(required=False)
    created_before = serializers.DateTimeField(required=False)
    search = serializers.CharField(required=False, max_length=200)


class JobBulkRetryInput(serializers.Serializer):
    status = serializers.ChoiceField(choices=[JobStatus.FAILED, JobStatus.CANCELLED], default=JobStatus.FAILED)
    actor = serializers.CharField(required=False)
    queue = serializers.CharField(required=False)
    error_type = serializers.CharField(required=False)
    created_after = serializers.DateTimeField(required=False)
    created_before = serializers.DateTimeField(required=False)


class JobPurgeInput(serializers.Serializer):
    actor = serializers.CharField(required=False)
    queue = serializers.CharField(required=False)
    error_type = serializers.CharField(required=False)
    created_before = serializers.DateTimeField(required=False)


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
        ]


class JobDetailOutput(JobOutput):
    attempt_log = AttemptOutput(many=True, read_only=True)

    class Meta(JobOutput.Meta):
        fields = [*JobOutput.Meta.fields, "args", "kwargs", "result", "dispatch_token", "attempt_log"]
