"""The metrics API: read-only, for any signed-in user, over the rollups."""

from drf_spectacular.utils import extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from jobs.metrics import selectors
from jobs.metrics.serializers import BreakdownInput, BreakdownOutput, SeriesInput, SeriesOutput


class MetricSeriesApi(APIView):
    @extend_schema(
        parameters=[SeriesInput],
        responses=SeriesOutput,
        summary="Throughput, failures and wait/run percentiles over 1h, 24h, 7d or 30d",
        description="Of every job, one queue, one actor, or one actor on one queue; from rollups written "
        "every minute (per minute for a day, per hour for 90 days), so they outlive pruned jobs.",
        operation_id="metrics_series",
    )
    def get(self, request):
        query = SeriesInput(data=request.query_params)
        query.is_valid(raise_exception=True)
        return Response(SeriesOutput(selectors.metric_series(**query.validated_data)).data)


class MetricBreakdownApi(APIView):
    @extend_schema(
        parameters=[BreakdownInput],
        responses=BreakdownOutput,
        summary="Succeeded and failed per queue or per actor, busiest first",
        operation_id="metrics_breakdown",
    )
    def get(self, request):
        query = BreakdownInput(data=request.query_params)
        query.is_valid(raise_exception=True)
        return Response(BreakdownOutput(selectors.metric_breakdown(**query.validated_data)).data)
