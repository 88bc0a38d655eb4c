"""The schedules API: thin views over the scheduler's services (writes) and selectors (reads)."""

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from jobs.apis import StaffForWrites
from jobs.errors import NotFound
from jobs.scheduling import selectors, services
from jobs.scheduling.serializers import ScheduleDetailOutput, ScheduleInput, ScheduleOutput, ScheduleRunOutput
from jobs.serializers import JobOutput


def _schedule_or_404(schedule_id):
    schedule = selectors.schedule_get(schedule_id)
    if schedule is None:
        raise NotFound(f"Schedule {schedule_id} does not exist.")
    return schedule


class ScheduleListApi(APIView):
    permission_classes = [StaffForWrites]

    @extend_schema(responses=ScheduleOutput(many=True), summary="List schedules with their next and last run")
    def get(self, request):
        return Response(ScheduleOutput(selectors.schedule_list(), many=True).data)

    @extend_schema(
        request=ScheduleInput, responses={201: ScheduleDetailOutput}, summary="Create a schedule (public actors only)"
    )
    def post(self, request):
        payload = ScheduleInput(data=request.data)
        payload.is_valid(raise_exception=True)
        fields = payload.to_service_kwargs()
        services.check_public_actor(fields["actor_name"])
        schedule = services.schedule_create(user=request.user, **fields)
        return Response(ScheduleDetailOutput(_schedule_or_404(schedule.pk)).data, status=201)


class ScheduleDetailApi(APIView):
    permission_classes = [StaffForWrites]

    @extend_schema(responses=ScheduleDetailOutput, summary="A schedule with its next five fire times")
    def get(self, request, schedule_id):
        return Response(ScheduleDetailOutput(_schedule_or_404(schedule_id)).data)

    @extend_schema(
        request=ScheduleInput(partial=True),
        responses=ScheduleDetailOutput,
        summary="Edit a schedule (a built-in schedule of an internal actor keeps its actor and arguments)",
    )
    def patch(self, request, schedule_id):
        payload = ScheduleInput(data=request.data, partial=True)
        payload.is_valid(raise_exception=True)
        changes = payload.to_service_kwargs()
        if "actor_name" in changes:
            services.check_public_actor(changes["actor_name"])
        services.check_internal_schedule_edit(_schedule_or_404(schedule_id), changes)
        services.schedule_update(schedule_id=schedule_id, user=request.user, **changes)
        return Response(ScheduleDetailOutput(_schedule_or_404(schedule_id)).data)

    @extend_schema(request=None, responses={204: None}, summary="Delete a schedule (its jobs stay)")
    def delete(self, request, schedule_id):
        services.schedule_delete(schedule_id=schedule_id, user=request.user)
        return Response(status=204)


class SchedulePauseApi(APIView):
    permission_classes = [StaffForWrites]

    @extend_schema(request=None, responses=ScheduleDetailOutput, summary="Pause a schedule")
    def post(self, request, schedule_id):
        services.schedule_pause(schedule_id=schedule_id, user=request.user)
        return Response(ScheduleDetailOutput(_schedule_or_404(schedule_id)).data)


class ScheduleResumeApi(APIView):
    permission_classes = [StaffForWrites]

    @extend_schema(request=None, responses=ScheduleDetailOutput, summary="Resume a paused schedule")
    def post(self, request, schedule_id):
        services.schedule_resume(schedule_id=schedule_id, user=request.user)
        return Response(ScheduleDetailOutput(_schedule_or_404(schedule_id)).data)


class ScheduleRunNowApi(APIView):
    permission_classes = [StaffForWrites]

    @extend_schema(
        request=None,
        responses={201: JobOutput, 409: OpenApiResponse(description="The previous job still waits or runs.")},
        summary="Run a schedule now (409 while its previous job runs and its overlap policy is skip)",
    )
    def post(self, request, schedule_id):
        return Response(
            JobOutput(services.schedule_run_now(schedule_id=schedule_id, user=request.user)).data, status=201
        )


class ScheduleRunListApi(APIView):
    permission_classes = [StaffForWrites]

    @extend_schema(responses=ScheduleRunOutput(many=True), summary="The latest fire times of a schedule and their jobs")
    def get(self, request, schedule_id):
        _schedule_or_404(schedule_id)
        return Response(ScheduleRunOutput(selectors.schedule_runs(schedule_id, limit=50), many=True).data)
