from django.urls import path

from jobs.controls import apis

urlpatterns = [
    path("queues/controls", apis.QueueControlListApi.as_view(), name="queue-control-list"),
    path("queues/<str:queue_name>/control", apis.QueueControlDetailApi.as_view(), name="queue-control-detail"),
    path("queues/<str:queue_name>/pause", apis.QueuePauseApi.as_view(), name="queue-pause"),
    path("queues/<str:queue_name>/resume", apis.QueueResumeApi.as_view(), name="queue-resume"),
    path("queues/<str:queue_name>/limits", apis.QueueLimitsApi.as_view(), name="queue-limits"),
    path("actors/controls", apis.ActorControlListApi.as_view(), name="actor-control-list"),
    path("actors/<str:actor_name>/limits", apis.ActorLimitsApi.as_view(), name="actor-limits"),
]
