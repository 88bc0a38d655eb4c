"""Dashboard pages of the job engine: server-rendered, login required, actions for staff only.

Pages read through selectors and write through services. A page asked with ``?partial=1`` renders
only its live region, which the page's script swaps in every few seconds.
"""

import json
import uuid
from functools import wraps
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from jobs import registry, retention, selectors, services, validation
from jobs.audit import selectors as audit_selectors
from jobs.errors import ApplicationError, ValidationFailed
from jobs.forms import JobFilterForm, JobRerunForm, JobSubmitOptionsForm, encode_cursor
from jobs.models import JobStatus
from jobs.scheduling import selectors as schedule_selectors
from jobs.scheduling import services as schedule_services


def staff_action(view):
    """A POST that changes something: signed in, staff (403 otherwise); CSRF is the middleware's."""

    @login_required
    @require_POST
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not request.user.is_staff:
            raise PermissionDenied("Only staff may change jobs.")
        return view(request, *args, **kwargs)

    return wrapper


def _render(request, template: str, context: dict):
    """The full page, or only its live region (``templates/jobs/_<name>.html``) for ``?partial=1``."""
    if request.GET.get("partial"):
        folder, name = template.rsplit("/", 1)
        return render(request, f"{folder}/_{name}", context)
    query = request.GET.copy()
    query["partial"] = "1"
    context["live_url"] = f"{request.path}?{query.urlencode()}"
    return render(request, template, context)


def _back(request, fallback: str):
    target = request.POST.get("next", "")
    if url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        return redirect(target)
    return redirect(fallback)


# --- Charts ---------------------------------------------------------------------------------------

CHART_WIDTH, CHART_HEIGHT = 720, 160


def bar_chart(buckets: list[dict], *, label_format: str, label_every: int) -> dict:
    """Geometry of a stacked bar chart (succeeded under failed) in a CHART_WIDTH × CHART_HEIGHT box."""
    peak = max((b["succeeded"] + b["failed"] for b in buckets), default=0)
    scale = (CHART_HEIGHT - 20) / peak if peak else 0
    slot = CHART_WIDTH / max(len(buckets), 1)
    bars = []
    for i, bucket in enumerate(buckets):
        ok_h = bucket["succeeded"] * scale
        fail_h = bucket["failed"] * scale
        bars.append(
            {
                "x": round(i * slot + slot * 0.1, 2),
                "width": round(slot * 0.8, 2),
                "ok_y": round(CHART_HEIGHT - ok_h, 2),
                "ok_h": round(ok_h, 2),
                "fail_y": round(CHART_HEIGHT - ok_h - fail_h, 2),
                "fail_h": round(fail_h, 2),
                "title": f"{bucket['start']:%H:%M}: {bucket['succeeded']} succeeded, {bucket['failed']} failed",
                "label": bucket["start"].strftime(label_format) if i % label_every == 0 else "",
                # The last labels end at their bar's right edge: started there, they ran off the chart.
                "label_x": round((i + 1) * slot if i >= len(buckets) - label_every else i * slot, 2),
                "label_anchor": "end" if i >= len(buckets) - label_every else "start",
            }
        )
    return {"bars": bars, "peak": peak, "width": CHART_WIDTH, "height": CHART_HEIGHT}


# --- Pages ----------------------------------------------------------------------------------------


def duration_text(seconds: float | None) -> str:
    """A short duration: "42 s", "12 min 5 s", "3 h 20 min", "2 d 4 h"; "–" for None."""
    if seconds is None:
        return "–"
    seconds = int(seconds)
    for unit, size, smaller, smaller_size in (("d", 86400, "h", 3600), ("h", 3600, "min", 60), ("min", 60, "s", 1)):
        if seconds >= size:
            return f"{seconds // size} {unit} {seconds % size // smaller_size} {smaller}"
    return f"{seconds} s"


@login_required
def overview(request):
    data = selectors.dashboard_overview()
    for queue in data["queues"]:
        queue["oldest_waiting"] = duration_text(queue["oldest_waiting_seconds"])
    context = {
        "o": data,
        "hour_chart": bar_chart(data["last_hour"], label_format="%H:%M", label_every=10),
        "day_chart": bar_chart(data["last_day"], label_format="%H:00", label_every=4),
    }
    return _render(request, "jobs/overview.html", context)


@login_required
def job_list(request):
    form = JobFilterForm(request.GET)
    if not form.is_valid():
        result = {"rows": [], "newer": None, "older": None}
    else:
        size = form.cleaned_data.get("size") or 50
        after, before = form.cursor()
        qs = selectors.job_list(**form.selector_filters())
        result = selectors.job_list_page(qs, after=after, before=before, size=size)
    filters = request.GET.copy()
    for key in ("after", "before", "partial"):
        filters.pop(key, None)

    def link(**cursor) -> str:
        return "?" + urlencode({**filters.dict(), **cursor})

    context = {
        "form": form,
        "rows": result["rows"],
        "older_url": link(after=encode_cursor(result["older"])) if result["older"] else None,
        "newer_url": link(before=encode_cursor(result["newer"])) if result["newer"] else None,
        "first_url": link() if result["newer"] else None,
        "actor_names": registry.actor_names(),
        # Only the newest page refreshes itself: deeper pages stay put while the user reads them.
        "at_top": not (request.GET.get("after") or request.GET.get("before")),
        # The filter, carried to "apply to all matching" (jobs.bulk.views).
        "filter_hidden": [(k, v) for k, v in filters.items() if k in JobFilterForm.FILTER_KEYS and v],
    }
    return _render(request, "jobs/list.html", context)


@login_required
def job_submit(request):
    """Staff submit a public actor's job: its parameters from its signature, validated like the API."""
    if not request.user.is_staff:
        raise PermissionDenied("Only staff may submit jobs.")
    actors = [spec for spec in registry.all_specs() if not spec.internal]
    chosen = request.POST.get("actor") or request.GET.get("actor") or ""
    spec = next((s for s in actors if s.name == chosen), None)
    options = JobSubmitOptionsForm(request.POST if request.method == "POST" else None)
    error, status = None, 200
    if request.method == "POST":
        try:
            spec = validation.validate_public_actor(chosen)
            if not options.is_valid():
                raise ValidationFailed(
                    "Check the options: " + "; ".join(f"{k}: {' '.join(v)}" for k, v in options.errors.items())
                )
            texts = {name[2:]: value for name, value in request.POST.items() if name.startswith("p_")}
            args, kwargs = validation.form_call(spec, texts)
            data = options.cleaned_data
            submitted = services.job_submit(
                actor_name=spec.name,
                args=args,
                kwargs=kwargs,
                queue=data["queue"] or None,
                priority=data["priority"],
                eta=data["eta"],
                idempotency_key=data["idempotency_key"] or None,
            )
        except ApplicationError as exc:
            error, status = exc, exc.status_code
        else:
            verb = "Submitted" if submitted.created else "The idempotency key matched"
            messages.success(request, f"{verb} job {submitted.job.pk}.")
            return redirect("jobs:detail", submitted.job.pk)
    context = {
        "actors": actors,
        "spec": spec,
        "summary": validation.actor_summary(spec) if spec else "",
        "fields": [
            {"parameter": p, "value": request.POST.get(f"p_{p.name}", "")}
            for p in (validation.actor_parameters(spec) if spec else [])
        ],
        "options": options,
        "error": error,
    }
    return render(request, "jobs/submit.html", context, status=status)


@login_required
def job_detail(request, job_id):
    job = selectors.job_get(job_id)
    if job is None:
        raise Http404("No such job.")
    attempts = list(job.attempt_log.all())
    context = {
        "job": job,
        "args_json": json.dumps(job.args, indent=2),
        "kwargs_json": json.dumps(job.kwargs, indent=2),
        "result_json": None if job.result is None else json.dumps(job.result, indent=2),
        "attempts": attempts,
        "current_attempt": _current_attempt(job, attempts),
        "children": selectors.job_children(job.pk),
        "can_retry": job.status in services.RETRYABLE,
        "can_cancel": not job.is_terminal and not job.cancel_requested_at,
        "reruns": selectors.job_reruns(job.pk),
        "audit_entries": audit_selectors.audit_for_target("job", job.pk) if request.user.is_staff else [],
    }
    return _render(request, "jobs/detail.html", context)


def _current_attempt(job, attempts) -> dict | None:
    """The attempt the job row itself describes (running or succeeded), which has no JobAttempt row."""
    if not job.attempts or any(a.number == job.attempts for a in attempts):
        return None
    return {
        "number": job.attempts,
        "status": job.status,
        "worker_id": job.worker_id,
        "started_at": job.started_at,
        "finished_at": job.finished_at if job.status == JobStatus.SUCCEEDED else None,
    }


@staff_action
def job_retry(request, job_id):
    try:
        services.job_retry(job_id=job_id, user=request.user)
        messages.success(request, "The job will run again.")
    except ApplicationError as exc:
        messages.error(request, exc.message)
    return _back(request, reverse("jobs:detail", args=[job_id]))


@login_required
def job_rerun(request, job_id):
    """A copy of a finished job with edited arguments (staff): the form, then the new job's page."""
    if not request.user.is_staff:
        raise PermissionDenied("Only staff may run jobs.")
    job = selectors.job_get(job_id)
    if job is None:
        raise Http404("No such job.")
    if request.method == "POST":
        form = JobRerunForm(request.POST)
        if form.is_valid():
            try:
                data = form.cleaned_data
                copy = services.job_rerun(job_id=job.pk, args=data["args"], kwargs=data["kwargs"], user=request.user)
            except ApplicationError as exc:
                form.add_error(None, exc.message)
            else:
                messages.success(request, "Submitted a copy with the edited arguments.")
                return redirect("jobs:detail", copy.pk)
    else:
        form = JobRerunForm(
            initial={"args": json.dumps(job.args, indent=2), "kwargs": json.dumps(job.kwargs, indent=2)}
        )
    return render(request, "jobs/rerun.html", {"job": job, "form": form})


@staff_action
def job_cancel(request, job_id):
    try:
        job = services.job_cancel(job_id=job_id, user=request.user)
        messages.success(request, "Cancelled." if job.status == JobStatus.CANCELLED else "Cancel requested.")
    except ApplicationError as exc:
        messages.error(request, exc.message)
    return _back(request, reverse("jobs:detail", args=[job_id]))


@staff_action
def jobs_bulk(request):
    ids = _valid_ids(request.POST.getlist("ids"))
    action = request.POST.get("action")
    if not ids:
        messages.error(request, "Select jobs first.")
    elif action == "retry":
        try:
            count = services.jobs_retry_bulk(
                selectors.jobs_by_ids(ids), user=request.user, detail={"selected": len(ids)}
            )
        except ApplicationError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(
                request, f"Retried {count} of {len(ids)} selected job(s); only failed or cancelled ones run again."
            )
    elif action == "cancel":
        done = services.jobs_cancel_bulk(ids, user=request.user)
        messages.success(request, f"Cancelled {done} of {len(ids)} selected job(s); finished ones stay as they are.")
    else:
        messages.error(request, "Unknown action.")
    return _back(request, reverse("jobs:list"))


def _valid_ids(values) -> list[str]:
    ids = []
    for value in values[:1000]:
        try:
            ids.append(str(uuid.UUID(value)))
        except ValueError:
            continue
    return ids


@login_required
def dead_letters(request):
    kept_for = retention.policy().rows["failed"]
    return _render(request, "jobs/dead_letters.html", {"groups": selectors.dead_letter_groups(), "kept_for": kept_for})


@staff_action
def dead_letters_action(request):
    scope = {}
    if request.POST.get("scope") != "all":
        scope = {"actor": request.POST.get("actor", ""), "error_type": request.POST.get("error_type", "")}
    qs = selectors.dead_letter_jobs(**scope)
    action = request.POST.get("action")
    if action == "retry":
        try:
            count = services.jobs_retry_bulk(qs, user=request.user, audit_action="dead_letters.retry", detail=scope)
            messages.success(request, f"Retried {count} dead job(s).")
        except ApplicationError as exc:
            messages.error(request, exc.message)
    elif action == "purge":
        count = services.jobs_purge_failed(qs, user=request.user, detail=scope)
        messages.success(request, f"Purged {count} dead job(s).")
    else:
        messages.error(request, "Unknown action.")
    return redirect("jobs:dead_letters")


@login_required
def schedules(request):
    rows = [
        {
            "schedule": schedule,
            "rule": schedule_selectors.trigger_in_words(schedule),
        }
        for schedule in schedule_selectors.schedule_list()
    ]
    context = {"rows": rows, "leader": schedule_selectors.scheduler_leader(), "scheduler": selectors.scheduler_status()}
    return _render(request, "jobs/schedules.html", context)


SCHEDULE_ACTIONS = {
    "pause": (schedule_services.schedule_pause, "Paused"),
    "resume": (schedule_services.schedule_resume, "Resumed"),
    "run": (schedule_services.schedule_run_now, "Started"),
    "delete": (schedule_services.schedule_delete, "Deleted"),
}


@staff_action
def schedule_action(request, schedule_id):
    service, verb = SCHEDULE_ACTIONS.get(request.POST.get("action"), (None, ""))
    if service is None:
        messages.error(request, "Unknown action.")
    else:
        try:
            service(schedule_id=schedule_id, user=request.user)
            messages.success(request, f"{verb}.")
        except ApplicationError as exc:
            messages.error(request, exc.message)
    return redirect("jobs:schedules")


@login_required
def workers(request):
    from jobs.observability.selectors import worker_pools

    workers = selectors.worker_overview()
    for worker in workers:
        worker["uptime"] = duration_text(worker["uptime_seconds"])
    context = {"workers": workers, "pools": worker_pools(), "autoscale_events": selectors.autoscale_events()}
    return _render(request, "jobs/workers.html", context)


_cpu_primed = {"done": False}


def cpu_percent() -> float:
    """CPU use since the last call. psutil's first call in a process has no earlier sample and
    says 0.0: the first one here waits a fifth of a second for a real figure instead."""
    import psutil

    if not _cpu_primed["done"]:
        _cpu_primed["done"] = True
        return psutil.cpu_percent(interval=0.2)
    return psutil.cpu_percent(interval=None)


@login_required
def system_health(request):
    cpu = cpu_percent()
    host = selectors.host_metrics()
    host["cpu_percent"] = cpu
    context = {"health": selectors.system_health(), "host": host}
    return _render(request, "jobs/health.html", context)
