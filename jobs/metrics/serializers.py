"""Input and output shapes of the metrics API."""

from rest_framework import serializers

from config.api_fields import QueryInput
from jobs.metrics.selectors import DEFAULT_WINDOW, WINDOWS


class SeriesInput(QueryInput):
    window = serializers.ChoiceField(choices=list(WINDOWS), default=DEFAULT_WINDOW)
    queue = serializers.CharField(required=False, max_length=100, help_text="One queue; leave out for every queue.")
    actor = serializers.CharField(required=False, max_length=200, help_text="One actor; leave out for every actor.")


class BreakdownInput(QueryInput):
    window = serializers.ChoiceField(
        choices=list(WINDOWS), default=DEFAULT_WINDOW, help_text="At most the last 24 hours of it are summed."
    )
    by = serializers.ChoiceField(choices=["queue", "actor"], default="queue")


class PercentilesOutput(serializers.Serializer):
    p50 = serializers.FloatField(allow_null=True)
    p95 = serializers.FloatField(allow_null=True)
    p99 = serializers.FloatField(allow_null=True)


class SummaryOutput(serializers.Serializer):
    succeeded = serializers.IntegerField()
    failed = serializers.IntegerField()
    failure_rate = serializers.FloatField(allow_null=True, help_text="Percent of finished jobs that failed.")
    wait_seconds = PercentilesOutput(help_text="Enqueued → started (log-scale histograms: within about 33 %).")
    run_seconds = PercentilesOutput(help_text="Started → finished.")


class PointOutput(SummaryOutput):
    start = serializers.DateTimeField()


class SeriesOutput(serializers.Serializer):
    window = serializers.CharField()
    queue = serializers.CharField(help_text='"" for every queue')
    actor = serializers.CharField(help_text='"" for every actor')
    step_seconds = serializers.IntegerField()
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()
    points = PointOutput(many=True)
    totals = SummaryOutput()


class BreakdownRowOutput(serializers.Serializer):
    name = serializers.CharField()
    succeeded = serializers.IntegerField()
    failed = serializers.IntegerField()
    failure_rate = serializers.FloatField(allow_null=True)


class BreakdownOutput(serializers.Serializer):
    by = serializers.CharField()
    window = serializers.CharField()
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()
    rows = BreakdownRowOutput(many=True)
