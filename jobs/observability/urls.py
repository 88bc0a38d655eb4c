from django.urls import path

from jobs.observability import apis

urlpatterns = [
    # Worker ids contain "/" ("host id/pid"): the path converter takes them whole.
    path("workers/<path:worker_id>", apis.WorkerDetailApi.as_view(), name="worker-detail"),
    path("actors/usage", apis.ActorUsageApi.as_view(), name="actor-usage"),
]
