"""The Prometheus endpoint and the worker and actor pages."""

import hmac

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from jobs import registry
from jobs.observability import selectors
from jobs.observability.collector import jobs_registry
from jobs.views import _render


def metrics_access(request) -> int | None:
    """None when the request may read /metrics, else the status to answer (401 or 403)."""
    if settings.METRICS_PUBLIC:
        return None
    token = settings.METRICS_TOKEN
    scheme, _, credentials = request.headers.get("Authorization", "").partition(" ")
    if token and scheme.lower() == "bearer" and hmac.compare_digest(credentials.strip().encode(), token.encode()):
        return None
    if request.user.is_authenticated:
        return None if request.user.is_staff else 403
    return 401


def metrics(request):
    """Prometheus text exposition of the engine's figures (see jobs.observability.collector)."""
    if not settings.METRICS_ENABLED:
        raise Http404("Metrics are off.")
    refused = metrics_access(request)
    if refused is not None:
        response = HttpResponse(
            "Metrics need a bearer token or a staff session.\n", status=refused, content_type="text/plain"
        )
        if refused == 401:
            response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    return HttpResponse(generate_latest(jobs_registry()), content_type=CONTENT_TYPE_LATEST)


@login_required
def worker_detail(request, worker_id):
    worker = selectors.worker_get(worker_id)
    if worker is None:
        raise Http404("No such worker.")
    return _render(request, "jobs/worker_detail.html", {"w": worker})


@login_required
def actors(request):
    try:
        window = min(max(int(request.GET.get("window", 60)), 1), 24 * 60)
    except ValueError:
        window = 60
    usage = {row["actor"]: row for row in selectors.actor_usage(window_minutes=window)}
    rows = [{"name": s.name, "queue": s.queue_name, "usage": usage.pop(s.name, None)} for s in registry.all_specs()]
    rows += [{"name": name, "queue": "?", "usage": row} for name, row in sorted(usage.items())]  # no longer declared
    context = {"rows": rows, "window": window, "windows": [15, 60, 360, 1440]}
    return _render(request, "jobs/actors.html", context)
