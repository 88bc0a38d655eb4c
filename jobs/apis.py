"""The jobs API: thin views over services (writes) and selectors (reads)."""

from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import IsAdminUser, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from config.api_pagination import CreatedAtCursorPagination
from jobs import selectors, services, validation
from jobs.errors import NotFound
from jobs.models import JobStatus
from jobs.serializers import (
    JobBulkRetryInput,
    JobDetailOutput,
    JobFilterInput,
    JobOutput,
    JobPageOutput,
    JobPurgeInput,
    JobRerunInput,
    JobSubmitInput,
    QueueOutput,
    StatsInput,
)


class JobCursorPagination(CreatedAtCursorPagination):
    """Keyset pagination on (created_at, id): constant cost at any depth of a million rows."""


class StaffForWrites(IsAuthenticated):
    """Anyone signed in may read; only staff may submit, cancel or retry."""

    def has_permission(self, request, view):
        if not super().has_permission(request, view):
            return False
        return request.method in ("GET", "HEAD", "OPTIONS") or request.user.is_staff


class JobListApi(APIView):
    permission_classes = [StaffForWrites]

    @extend_schema(
        parameters=[JobFilterInput],
        responses=JobPageOutput,
        summary="List jobs (filters, cursor pagination)",
        operation_id="jobs_list",
    )
    def get(self, request):
        filters = JobFilterInput(data=request.query_params)
        filters.is_valid(raise_exception=True)
        paginator = JobCursorPagination()
        page = paginator.paginate_queryset(selectors.job_list(**filters.selector_filters()), request, view=self)
        return paginator.get_paginated_response(JobOutput(page, many=True).data)

    @extend_schema(
        request=JobSubmitInput,
        responses={
            201: JobOutput,
            200: OpenApiResponse(JobOutput, description="The live job that already has this idempotency key."),
        },
        summary="Submit a job (public actors only; arguments checked against the actor's signature)",
        description="Strings in args and kwargs may not contain NUL (\\u0000) or lone surrogates; "
        f"nesting is limited to {validation.MAX_DEPTH} levels.",
    )
    def post(self, request):
        payload = JobSubmitInput(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        # Users submit public actors only; job_submit validates the payload and the call.
        spec = validation.validate_public_actor(data["actor"])
        submitted = services.job_submit(
            actor_name=spec.name,
            args=data["args"],
            kwargs=data["kwargs"],
            queue=data["queue"],
            priority=data["priority"],
            eta=data["eta"],
            idempotency_key=data["idempotency_key"],
            max_retries=data["max_retries"],
        )
        return Response(JobOutput(submitted.job).data, status=201 if submitted.created else 200)


class JobDetailApi(APIView):
    @extend_schema(responses=JobDetailOutput, summary="A job with every attempt")
    def get(self, request, job_id):
        job = selectors.job_get(job_id)
        if job is None:
            raise NotFound(f"Job {job_id} does not exist.")
        return Response(JobDetailOutput(job).data)


class JobCancelApi(APIView):
    permission_classes = [IsAdminUser]

    @extend_schema(
        request=None,
        responses={200: JobOutput, 409: OpenApiResponse(description="The job has finished already.")},
        summary="Cancel a waiting or running job (409 if finished)",
    )
    def post(self, request, job_id):
        return Response(JobOutput(services.job_cancel(job_id=job_id, user=request.user)).data)


class JobRetryApi(APIView):
    permission_classes = [IsAdminUser]

    @extend_schema(
        request=None,
        responses={200: JobOutput, 409: OpenApiResponse(description="The job is neither failed nor cancelled.")},
        summary="Retry a failed or cancelled job (409 otherwise)",
    )
    def post(self, request, job_id):
        return Response(JobOutput(services.job_retry(job_id=job_id, user=request.user)).data)


class JobRerunApi(APIView):
    permission_classes = [IsAdminUser]

    @extend_schema(
        request=JobRerunInput,
        responses={
            201: JobOutput,
            409: OpenApiResponse(description="The job has not finished yet."),
        },
        summary="Run a copy of a finished job with edited arguments, linked to it (rerun_of)",
        description="The arguments are checked like a submit's: the actor's signature, the payload limits.",
    )
    def post(self, request, job_id):
        payload = JobRerunInput(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        copy = services.job_rerun(job_id=job_id, args=data["args"], kwargs=data["kwargs"], user=request.user)
        return Response(JobOutput(copy).data, status=201)


class JobBulkRetryApi(APIView):
    permission_classes = [IsAdminUser]

    @extend_schema(
        request=JobBulkRetryInput,
        responses={
            200: inline_serializer("BulkRetryOutput", {"retried": serializers.IntegerField()}),
            409: OpenApiResponse(description="A job's idempotency key was taken by a new job meanwhile."),
        },
        summary="Retry every failed (or cancelled) job that matches a filter",
        operation_id="jobs_bulk_retry",
    )
    def post(self, request):
        payload = JobBulkRetryInput(data=request.data)
        payload.is_valid(raise_exception=True)
        jobs = selectors.job_list(**payload.validated_data)
        retried = services.jobs_retry_bulk(jobs, user=request.user, detail={"filter": request.data})
        return Response({"retried": retried})


class JobPurgeApi(APIView):
    permission_classes = [IsAdminUser]

    @extend_schema(
        request=JobPurgeInput,
        responses=inline_serializer("PurgeOutput", {"purged": serializers.IntegerField()}),
        summary="Delete dead (failed) jobs that match a filter",
        operation_id="jobs_purge_failed",
    )
    def post(self, request):
        payload = JobPurgeInput(data=request.data)
        payload.is_valid(raise_exception=True)
        dead = selectors.job_list(status=[JobStatus.FAILED], **payload.validated_data)
        return Response(
            {"purged": services.jobs_purge_failed(dead, user=request.user, detail={"filter": request.data})}
        )


class JobStatsApi(APIView):
    @extend_schema(
        parameters=[StatsInput],
        responses=inline_serializer(
            "JobStats",
            {
                "by_status": serializers.DictField(child=serializers.IntegerField()),
                "counts_age_seconds": serializers.FloatField(
                    help_text="How old the counts are: 0 when counted for this request; at a million jobs "
                    "and more, counts are made again every few seconds, not for every request."
                ),
                "by_queue": serializers.DictField(),
                "throughput_per_minute": serializers.ListField(child=serializers.DictField()),
                "wait_seconds": serializers.DictField(),
                "run_seconds": serializers.DictField(),
                "window_minutes": serializers.IntegerField(),
            },
        ),
        summary="Counts, throughput per minute and wait/run percentiles",
    )
    def get(self, request):
        query = StatsInput(data=request.query_params)
        query.is_valid(raise_exception=True)
        return Response(selectors.job_stats(window_minutes=query.validated_data["window_minutes"]))


class QueueListApi(APIView):
    @extend_schema(
        responses=QueueOutput(many=True),
        summary="Per queue: depth and the age of the oldest waiting job (for autoscalers)",
        description="Depth counts jobs waiting to start (pending + queued); oldest_waiting_seconds is the "
        "queue latency. An external autoscaler (a Kubernetes HPA on an external metric, a dyno autoscaler) "
        "polls this to scale worker hosts; see the README's autoscaling section.",
    )
    def get(self, request):
        return Response(QueueOutput(selectors.queue_overview(), many=True).data)


class WorkerListApi(APIView):
    @extend_schema(responses=inline_serializer("WorkerInfo", {"id": serializers.CharField()}, many=True))
    def get(self, request):
        return Response(selectors.worker_overview())


class ActorListApi(APIView):
    @extend_schema(responses=inline_serializer("ActorInfo", {"name": serializers.CharField()}, many=True))
    def get(self, request):
        return Response(selectors.actor_overview())
