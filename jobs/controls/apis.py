"""The controls API: read for anyone signed in, changes for staff (each audited)."""

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from jobs.apis import StaffForWrites
from jobs.controls import selectors, services
from jobs.controls.serializers import ActorControlOutput, ActorLimitsInput, QueueControlOutput, QueueLimitsInput
from jobs.errors import NotFound

NO_QUEUE = OpenApiResponse(description="No such queue.")
NO_ACTOR = OpenApiResponse(description="No such actor.")


def _queue_or_404(queue_name: str) -> dict:
    row = selectors.queue_control_get(queue_name)
    if row is None:
        raise NotFound(f"Queue {queue_name!r} does not exist.")
    return row


def _actor_or_404(actor_name: str) -> dict:
    row = selectors.actor_control_get(actor_name)
    if row is None:
        raise NotFound(f"Actor {actor_name!r} does not exist.")
    return row


class QueueControlListApi(APIView):
    permission_classes = [StaffForWrites]

    @extend_schema(
        responses=QueueControlOutput(many=True),
        summary="Every queue: paused or not, its limits, its running and waiting jobs",
        operation_id="queue_controls_list",
    )
    def get(self, request):
        return Response(QueueControlOutput(selectors.queue_control_list(), many=True).data)


class QueueControlDetailApi(APIView):
    permission_classes = [StaffForWrites]

    @extend_schema(responses={200: QueueControlOutput, 404: NO_QUEUE}, summary="One queue's controls")
    def get(self, request, queue_name):
        return Response(QueueControlOutput(_queue_or_404(queue_name)).data)


class QueuePauseApi(APIView):
    permission_classes = [StaffForWrites]

    @extend_schema(
        request=None,
        responses={200: QueueControlOutput, 404: NO_QUEUE},
        summary="Pause a queue: it accepts jobs but starts none (running ones finish); on all hosts within 2 s",
    )
    def post(self, request, queue_name):
        services.queue_pause(queue_name=queue_name, user=request.user)
        return Response(QueueControlOutput(_queue_or_404(queue_name)).data)


class QueueResumeApi(APIView):
    permission_classes = [StaffForWrites]

    @extend_schema(
        request=None,
        responses={200: QueueControlOutput, 404: NO_QUEUE},
        summary="Resume a paused queue: its backlog starts, highest priority first",
    )
    def post(self, request, queue_name):
        services.queue_resume(queue_name=queue_name, user=request.user)
        return Response(QueueControlOutput(_queue_or_404(queue_name)).data)


class QueueLimitsApi(APIView):
    permission_classes = [StaffForWrites]

    @extend_schema(
        request=QueueLimitsInput,
        responses={200: QueueControlOutput, 404: NO_QUEUE},
        summary="Change a queue's concurrency limit, rate limit or ready window (null removes one)",
    )
    def post(self, request, queue_name):
        services.check_queue(queue_name)
        payload = QueueLimitsInput(data=request.data)
        payload.is_valid(raise_exception=True)
        services.queue_set_limits(queue_name=queue_name, user=request.user, **payload.validated_data)
        return Response(QueueControlOutput(_queue_or_404(queue_name)).data)


class ActorControlListApi(APIView):
    permission_classes = [StaffForWrites]

    @extend_schema(
        responses=ActorControlOutput(many=True),
        summary="Every actor with its limits and running jobs",
        operation_id="actor_controls_list",
    )
    def get(self, request):
        return Response(ActorControlOutput(selectors.actor_control_list(), many=True).data)


class ActorLimitsApi(APIView):
    permission_classes = [StaffForWrites]

    @extend_schema(
        request=ActorLimitsInput,
        responses={200: ActorControlOutput, 404: NO_ACTOR},
        summary="Change an actor's concurrency or rate limit, on every queue (null removes one)",
    )
    def post(self, request, actor_name):
        services.check_actor(actor_name)
        payload = ActorLimitsInput(data=request.data)
        payload.is_valid(raise_exception=True)
        services.actor_set_limits(actor_name=actor_name, user=request.user, **payload.validated_data)
        return Response(ActorControlOutput(_actor_or_404(actor_name)).data)
