"""Dashboard pages of the job engine (server-rendered, login required)."""

from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from jobs import selectors


@login_required
def overview(request):
    return render(
        request,
        "jobs/overview.html",
        {
            "stats": selectors.job_stats(),
            "queues": selectors.queue_overview(),
            "workers": selectors.worker_overview(),
            "health": selectors.system_health(),
        },
    )
