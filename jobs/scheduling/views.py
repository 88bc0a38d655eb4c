"""Dashboard pages to create and edit schedules (staff), with the next five fire times previewed.

The list and its pause, resume, run-now and delete buttons are on ``jobs:schedules``.
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import redirect, render

from jobs.errors import ApplicationError
from jobs.scheduling import selectors, services, triggers
from jobs.scheduling.forms import ERROR_FIELD_TO_FORM, ScheduleForm


def _preview(form: ScheduleForm, schedule) -> tuple[list, str]:
    """The next five fire times of the rule in the form (or of the saved schedule), and the rule in words."""
    values = form.cleaned_data if form.is_bound and form.is_valid() else None
    if values is None and schedule is None:
        return [], ""
    cron = values.get("cron", "") if values else schedule.cron
    interval = values.get("interval_seconds") if values else schedule.interval_seconds
    tz = (values.get("timezone") if values else schedule.timezone) or "UTC"
    try:
        trigger = triggers.build_trigger(cron=cron, interval_seconds=interval, tz=tz)
    except triggers.TriggerError:
        return [], ""
    return triggers.upcoming_fire_times(trigger, count=5), triggers.describe(cron=cron, interval_seconds=interval)


@login_required
def schedule_edit(request, schedule_id=None):
    if not request.user.is_staff:
        raise PermissionDenied("Only staff may change schedules.")
    schedule = None
    if schedule_id is not None:
        schedule = selectors.schedule_get(schedule_id)
        if schedule is None:
            raise Http404("No such schedule.")
    form = ScheduleForm(request.POST or None, instance=schedule)
    if request.method == "POST" and "preview" not in request.POST and form.is_valid():
        fields = {f: form.cleaned_data[f] for f in services.EDITABLE_FIELDS if f in form.cleaned_data}
        try:
            if schedule is None:
                saved = services.schedule_create(user=request.user, **fields)
            else:
                saved = services.schedule_update(schedule_id=schedule.pk, user=request.user, **fields)
        except ApplicationError as exc:
            field = ERROR_FIELD_TO_FORM.get((exc.details or {}).get("field"), (exc.details or {}).get("field"))
            form.add_error(field if field in form.fields else None, exc.message)
        else:
            messages.success(request, f"Saved {saved.name}.")
            return redirect("jobs:schedules")
    fire_times, rule = _preview(form, schedule)
    context = {"form": form, "schedule": schedule, "fire_times": fire_times, "rule": rule}
    return render(request, "jobs/schedule_form.html", context)
