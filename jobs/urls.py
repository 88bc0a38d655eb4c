from django.urls import path

from jobs import apis
from jobs.bulk import apis as bulk_apis

urlpatterns = [
    path("jobs", apis.JobListApi.as_view(), name="job-list"),
    path("jobs/stats", apis.JobStatsApi.as_view(), name="job-stats"),
    path("jobs/retry", apis.JobBulkRetryApi.as_view(), name="job-bulk-retry"),
    path("jobs/purge", apis.JobPurgeApi.as_view(), name="job-purge"),
    path("jobs/bulk", bulk_apis.JobBulkApi.as_view(), name="job-bulk"),
    path("jobs/<str:job_id>", apis.JobDetailApi.as_view(), name="job-detail"),
    path("jobs/<str:job_id>/cancel", apis.JobCancelApi.as_view(), name="job-cancel"),
    path("jobs/<str:job_id>/retry", apis.JobRetryApi.as_view(), name="job-retry"),
    path("jobs/<str:job_id>/rerun", apis.JobRerunApi.as_view(), name="job-rerun"),
    path("queues", apis.QueueListApi.as_view(), name="queue-list"),
    path("workers", apis.WorkerListApi.as_view(), name="worker-list"),
    path("actors", apis.ActorListApi.as_view(), name="actor-list"),
]
