"""Dashboard pages of the reports app (server-rendered, login required; triggering is for staff).

Staff see every report; other users the reports they requested (``selectors.readable_by``).
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from jobs.errors import ApplicationError
from reports import selectors, services
from reports.models import ReportKind

PAGE_SIZE = 50


@require_GET
@login_required
def report_list(request):
    reports = list(selectors.report_list(user=request.user)[:PAGE_SIZE])
    rows = [(report, selectors.report_state(report)) for report in reports]
    return render(
        request,
        "reports/list.html",
        {"rows": rows, "kinds": ReportKind.choices, "store_data": selectors.store_data_counts()},
    )


@require_GET
@login_required
def report_detail(request, report_id):
    report = selectors.report_get(report_id, user=request.user)
    if report is None:
        raise Http404("No such report.")
    return render(request, "reports/detail.html", {"report": report, "state": selectors.report_state(report)})


@require_POST
@login_required
def report_trigger(request):
    if not request.user.is_staff:
        raise PermissionDenied("Only staff may start reports.")
    kind = request.POST.get("kind", ReportKind.STORE_UPTIME)
    parameters = {}
    if kind == ReportKind.TASK_EXECUTION:
        parameters = {key: request.POST.get(key) or None for key in ("since", "until")}
    try:
        report = services.report_request(kind=kind, requested_by=request.user, parameters=parameters)
    except ApplicationError as exc:
        messages.error(request, exc.message)
        return redirect("reports:list")
    return redirect("reports:detail", report_id=report.id)
