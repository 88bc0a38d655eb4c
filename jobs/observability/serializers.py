"""Output shapes of the worker and actor-usage API."""

from rest_framework import serializers

from config.api_fields import QueryInput


class WorkerJobOutput(serializers.Serializer):
    id = serializers.UUIDField()
    actor = serializers.CharField()
    queue = serializers.CharField()
    attempt = serializers.IntegerField()
    progress = serializers.IntegerField()
    started_at = serializers.DateTimeField(allow_null=True)


class WorkerAttemptOutput(serializers.Serializer):
    job_id = serializers.UUIDField()
    actor = serializers.CharField()
    attempt = serializers.IntegerField()
    outcome = serializers.CharField(help_text="succeeded, failed, timeout, lost or cancelled")
    error_type = serializers.CharField()
    started_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)
    run_seconds = serializers.FloatField(allow_null=True)
    cpu_seconds = serializers.FloatField(allow_null=True, help_text="CPU time of the thread that ran it.")
    peak_rss_bytes = serializers.IntegerField(allow_null=True, help_text="The process's peak RSS at its end.")


class WorkerDetailOutput(serializers.Serializer):
    id = serializers.CharField()
    host_id = serializers.CharField()
    hostname = serializers.CharField()
    pid = serializers.IntegerField()
    queues = serializers.ListField(child=serializers.CharField())
    threads = serializers.IntegerField()
    state = serializers.ChoiceField(choices=["live", "silent", "stopped"])
    started_at = serializers.DateTimeField()
    ready_at = serializers.DateTimeField(allow_null=True)
    stopped_at = serializers.DateTimeField(allow_null=True)
    stop_reason = serializers.CharField()
    exit_code = serializers.IntegerField(allow_null=True)
    uptime_seconds = serializers.FloatField(allow_null=True)
    heartbeat_age_seconds = serializers.FloatField(allow_null=True)
    rss_bytes = serializers.IntegerField(allow_null=True, help_text="Resident memory at its last report.")
    jobs_succeeded = serializers.IntegerField()
    jobs_failed = serializers.IntegerField()
    current_jobs = WorkerJobOutput(many=True)
    recent_attempts = WorkerAttemptOutput(many=True)


class ActorUsageInput(QueryInput):
    window_minutes = serializers.IntegerField(required=False, default=60, min_value=1, max_value=24 * 60)


class ActorUsageOutput(serializers.Serializer):
    actor = serializers.CharField()
    attempts = serializers.IntegerField(help_text="Measured attempts that finished in the window.")
    cpu_seconds_avg = serializers.FloatField()
    cpu_seconds_p95 = serializers.FloatField()
    cpu_seconds_max = serializers.FloatField()
    peak_rss_bytes_max = serializers.IntegerField(allow_null=True)
    rss_growth_bytes_max = serializers.IntegerField(allow_null=True)
