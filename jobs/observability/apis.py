"""The worker and actor-usage API: thin views over the observability selectors (reads only)."""

from drf_spectacular.utils import extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from jobs.errors import NotFound
from jobs.observability import selectors
from jobs.observability.serializers import ActorUsageInput, ActorUsageOutput, WorkerDetailOutput


class WorkerDetailApi(APIView):
    @extend_schema(
        responses=WorkerDetailOutput,
        summary="A worker process: host, PID, queues, threads, uptime, memory, current and recent jobs",
        operation_id="workers_retrieve_detail",
    )
    def get(self, request, worker_id):
        worker = selectors.worker_get(worker_id)
        if worker is None:
            raise NotFound(f"Worker {worker_id} does not exist.")
        return Response(WorkerDetailOutput(worker).data)


class ActorUsageApi(APIView):
    @extend_schema(
        parameters=[ActorUsageInput],
        responses=ActorUsageOutput(many=True),
        summary="CPU time and memory per actor over the attempts of the last window_minutes",
        operation_id="actors_usage",
    )
    def get(self, request):
        query = ActorUsageInput(data=request.query_params)
        query.is_valid(raise_exception=True)
        usage = selectors.actor_usage(window_minutes=query.validated_data["window_minutes"])
        return Response(ActorUsageOutput(usage, many=True).data)
