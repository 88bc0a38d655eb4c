"""The bulk API: one request submits one background job; its progress is the job's."""

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.permissions import IsAdminUser
from rest_framework.response import Response
from rest_framework.views import APIView

from jobs.bulk.serializers import BulkInput
from jobs.bulk.services import jobs_bulk_submit
from jobs.serializers import JobOutput


class JobBulkApi(APIView):
    permission_classes = [IsAdminUser]

    @extend_schema(
        request=BulkInput,
        responses={
            202: OpenApiResponse(
                JobOutput,
                description="The bulk job: follow its progress and result at /api/v1/jobs/{id}.",
            ),
        },
        summary="Retry, cancel, delete or run now every job a filter matches, as one background job",
        description="Every page of the filter, not only the first: the job walks the matching jobs in "
        "batches of 500 and reports its progress. cancel and delete refuse an empty filter (400).",
        operation_id="jobs_bulk",
    )
    def post(self, request):
        payload = BulkInput(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        job = jobs_bulk_submit(action=data["action"], filters=dict(data["filter"]), user=request.user)
        return Response(JobOutput(job).data, status=202)
