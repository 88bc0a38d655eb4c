from django.urls import path

from jobs.metrics import apis

urlpatterns = [
    path("metrics/series", apis.MetricSeriesApi.as_view(), name="metric-series"),
    path("metrics/breakdown", apis.MetricBreakdownApi.as_view(), name="metric-breakdown"),
]
