from django.urls import path

from jobs.observability import views

app_name = "observability"
urlpatterns = [
    path("metrics", views.metrics, name="metrics"),
    path("workers/<path:worker_id>/", views.worker_detail, name="worker_detail"),
    path("actors/", views.actors, name="actors"),
]
