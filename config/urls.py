from django.contrib import admin
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect
from django.templatetags.static import static
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from config import health


def favicon(request):
    """Browsers ask for /favicon.ico on their own (the admin's and the docs' pages name no icon)."""
    return redirect(static("favicon.svg"))


api_v1 = [
    path("health", health.HealthApi.as_view(), name="health"),
    path("", include("jobs.urls")),
    path("", include("jobs.scheduling.urls")),
    path("", include("jobs.audit.urls")),
    path("", include("jobs.controls.urls")),
    path("", include("jobs.alerts.urls")),
    path("", include("jobs.metrics.urls")),
    path("", include("reports.urls")),
    path("", include("documents.urls")),
    path("", include("monitoring.urls")),
    path("", include("jobs.observability.urls")),
]

urlpatterns = [
    path("healthz", health.liveness, name="healthz"),
    path("favicon.ico", favicon, name="favicon"),
    path("admin/", admin.site.urls),
    # The schema needs a session or a token; the docs page a signed-in session. Swagger UI's assets
    # come from our own static files, and its start-up script is a separate file (no inline script:
    # the Content-Security-Policy allows none).
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", login_required(SpectacularSwaggerSplitView.as_view(url_name="schema")), name="api-docs"),
    path("api/v1/", include((api_v1, "api"), namespace="api")),
    path("reports/", include("reports.page_urls")),
    path("documents/", include("documents.page_urls")),
    path("monitoring/", include("monitoring.page_urls")),
    path("alerts/", include("jobs.alerts.page_urls")),
    path("", include("jobs.observability.page_urls")),
    path("", include("jobs.page_urls")),
]

handler400 = "config.api_errors.bad_request"
handler403 = "config.api_errors.permission_denied"
handler404 = "config.api_errors.not_found"
handler500 = "config.api_errors.server_error"
