from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from config import health

api_v1 = [
    path("health", health.HealthApi.as_view(), name="health"),
    path("", include("jobs.urls")),
    path("", include("jobs.scheduling.urls")),
    path("", include("reports.urls")),
    path("", include("documents.urls")),
    path("", include("monitoring.urls")),
]

urlpatterns = [
    path("healthz", health.liveness, name="healthz"),
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("api/v1/", include((api_v1, "api"), namespace="api")),
    path("reports/", include("reports.page_urls")),
    path("documents/", include("documents.page_urls")),
    path("monitoring/", include("monitoring.page_urls")),
    path("", include("jobs.page_urls")),
]
