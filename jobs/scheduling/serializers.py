"""Input and output shapes of the schedules API. Field checks beyond types live in the services."""

from rest_framework import serializers

from config.api_fields import ClosedInput, StrictBooleanField, StrictCharField, StrictIntegerField
from jobs import registry
from jobs.scheduling import selectors
from jobs.scheduling.models import OverlapPolicy, Schedule, ScheduleRun
from jobs.scheduling.services import MAX_MISFIRE_GRACE_SECONDS
from jobs.scheduling.triggers import MAX_INTERVAL_SECONDS
from jobs.serializers import ActorNameField, JSONArrayField, JSONObjectField
from jobs.validation import PRIORITY_RANGE

# API name → model/service name.
INPUT_TO_FIELD = {"actor": "actor_name", "queue": "queue_name"}


class ScheduleInput(ClosedInput):
    name = StrictCharField(max_length=200)
    description = StrictCharField(required=False, allow_blank=True, default="", max_length=5000)
    actor = ActorNameField(help_text="A public actor; internal ones are the platform's own.")
    args = JSONArrayField(required=False, default=list)
    kwargs = JSONObjectField(required=False, default=dict)
    cron = StrictCharField(max_length=200, required=False, allow_blank=True, default="")
    interval_seconds = StrictIntegerField(
        required=False, allow_null=True, default=None, min_value=1, max_value=MAX_INTERVAL_SECONDS
    )
    timezone = StrictCharField(max_length=64, required=False, default="UTC")
    enabled = StrictBooleanField(required=False, default=True)
    queue = serializers.ChoiceField(choices=registry.QUEUES, required=False, allow_blank=True, default="")
    priority = StrictIntegerField(required=False, default=0, min_value=PRIORITY_RANGE[0], max_value=PRIORITY_RANGE[1])
    overlap = serializers.ChoiceField(choices=OverlapPolicy.choices, required=False, default=OverlapPolicy.SKIP)
    misfire_grace_seconds = StrictIntegerField(
        required=False, default=300, min_value=1, max_value=MAX_MISFIRE_GRACE_SECONDS
    )
    coalesce = StrictBooleanField(required=False, default=True)

    def to_service_kwargs(self) -> dict:
        """The validated data under the services' argument names (only the fields sent, when partial)."""
        return {INPUT_TO_FIELD.get(name, name): value for name, value in self.validated_data.items()}


class LastJobOutput(serializers.Serializer):
    id = serializers.UUIDField()
    status = serializers.CharField()
    finished_at = serializers.DateTimeField(allow_null=True)


class ScheduleOutput(serializers.ModelSerializer):
    actor = serializers.CharField(source="actor_name")
    queue = serializers.CharField(source="queue_name")
    trigger_description = serializers.SerializerMethodField()
    last_job = LastJobOutput(allow_null=True)

    class Meta:
        model = Schedule
        fields = [
            "id",
            "name",
            "description",
            "actor",
            "args",
            "kwargs",
            "cron",
            "interval_seconds",
            "timezone",
            "trigger_description",
            "enabled",
            "queue",
            "priority",
            "overlap",
            "misfire_grace_seconds",
            "coalesce",
            "last_run_at",
            "next_run_at",
            "last_job",
            "created_at",
            "updated_at",
        ]

    def get_trigger_description(self, schedule) -> str:
        return selectors.trigger_in_words(schedule)


class ScheduleRunOutput(serializers.ModelSerializer):
    job_id = serializers.UUIDField()
    job_status = serializers.CharField(source="job.status")

    class Meta:
        model = ScheduleRun
        fields = ["fire_time", "manual", "job_id", "job_status", "created_at"]


class ScheduleDetailOutput(ScheduleOutput):
    upcoming_fire_times = serializers.SerializerMethodField()

    class Meta(ScheduleOutput.Meta):
        fields = [*ScheduleOutput.Meta.fields, "upcoming_fire_times"]

    def get_upcoming_fire_times(self, schedule) -> list[str]:
        return [moment.isoformat() for moment in selectors.upcoming_fire_times(schedule, count=5)]
