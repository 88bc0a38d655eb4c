"""The jobs list's "apply to all N matching": a confirmation page with the count, then one bulk job."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from jobs.bulk.services import APPLICABLE, jobs_bulk_submit, matching_jobs
from jobs.errors import ApplicationError
from jobs.forms import JobFilterForm

VERBS = {"retry": "Retry", "cancel": "Cancel", "delete": "Delete", "run_now": "Run now"}
FORM_KEYS = ("status", "actor", "queue", "created_after", "created_before", "search")


def _filters(form: JobFilterForm) -> dict:
    criteria = form.selector_filters()
    if criteria.get("status"):
        criteria["status"] = [criteria["status"]]
    return {key: value for key, value in criteria.items() if value}


def _staff(request):
    if not request.user.is_staff:
        raise PermissionDenied("Only staff may change jobs.")


@login_required
def bulk_confirm(request):
    _staff(request)
    action = request.GET.get("action", "")
    form = JobFilterForm(request.GET)
    if action not in APPLICABLE or not form.is_valid():
        messages.error(request, "Choose an action, and a filter the jobs list accepts.")
        return redirect("jobs:list")
    filters = _filters(form)
    context = {
        "action": action,
        "verb": VERBS[action],
        "count": matching_jobs(action=action, filters=filters).count(),
        "criteria": filters,
        "hidden": [(key, request.GET[key]) for key in FORM_KEYS if request.GET.get(key)],
        "states": ", ".join(APPLICABLE[action]),
        "list_query": request.GET.urlencode(),
    }
    return render(request, "jobs/bulk_confirm.html", context)


@login_required
@require_POST
def bulk_apply(request):
    _staff(request)
    form = JobFilterForm(request.POST)
    if not form.is_valid():
        messages.error(request, "The filter is not valid: nothing was done.")
        return redirect("jobs:list")
    try:
        job = jobs_bulk_submit(action=request.POST.get("action", ""), filters=_filters(form), user=request.user)
    except ApplicationError as exc:
        messages.error(request, exc.message)
        return redirect("jobs:list")
    messages.success(request, "Started: this job applies the action to every matching job; its progress shows here.")
    return redirect("jobs:detail", job.pk)
