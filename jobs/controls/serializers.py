"""Input and output shapes of the controls API."""

from rest_framework import serializers

from config.api_fields import StrictIntegerField
from jobs.controls.services import MAX_LIMIT, MAX_PERIOD


class StrictFloatField(serializers.FloatField):
    default_error_messages = {"not_a_number": "Must be a JSON number."}

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int | float):
            self.fail("not_a_number")
        return super().to_internal_value(data)


def _limit(help_text: str):
    return StrictIntegerField(required=False, allow_null=True, min_value=1, max_value=MAX_LIMIT, help_text=help_text)


class ActorLimitsInput(serializers.Serializer):
    """Fields left out keep their value; null removes a limit."""

    max_concurrency = _limit("At most this many running at once on all hosts; null: no limit.")
    rate_limit = _limit("At most this many starts in any window of rate_period seconds; null: no limit.")
    rate_period = StrictFloatField(
        required=False, allow_null=True, min_value=0.001, max_value=MAX_PERIOD, help_text="Seconds (default 1)."
    )

    def validate(self, attrs):
        unknown = set(self.initial_data) - set(self.fields) if isinstance(self.initial_data, dict) else set()
        if unknown:
            raise serializers.ValidationError({name: ["Unknown field."] for name in sorted(unknown)})
        return attrs


class QueueLimitsInput(ActorLimitsInput):
    ready_window = _limit(
        "At most this many messages wait in Redis (the rest in the database, highest priority first); "
        "null: no window (a concurrency limit then serves as the window)."
    )


class QueueControlOutput(serializers.Serializer):
    queue = serializers.CharField()
    paused = serializers.BooleanField()
    paused_at = serializers.DateTimeField(allow_null=True)
    max_concurrency = serializers.IntegerField(allow_null=True)
    rate_limit = serializers.IntegerField(allow_null=True)
    rate_period = serializers.FloatField()
    ready_window = serializers.IntegerField(allow_null=True)
    running = serializers.IntegerField(help_text="Jobs of the queue running now.")
    waiting = serializers.IntegerField(help_text="Jobs of the queue pending or queued.")
    updated_at = serializers.DateTimeField(allow_null=True)


class ActorControlOutput(serializers.Serializer):
    actor = serializers.CharField()
    queue = serializers.CharField(help_text="The actor's declared queue.")
    max_concurrency = serializers.IntegerField(allow_null=True)
    rate_limit = serializers.IntegerField(allow_null=True)
    rate_period = serializers.FloatField()
    running = serializers.IntegerField()
    waiting = serializers.IntegerField()
    updated_at = serializers.DateTimeField(allow_null=True)
