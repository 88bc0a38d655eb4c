"""The Queues page: pause and resume queues, change queue and actor limits (staff; audited)."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render

from jobs.controls import selectors, services
from jobs.controls.forms import ActorLimitsForm, QueueLimitsForm
from jobs.errors import ApplicationError
from jobs.views import staff_action


@login_required
def queues(request):
    return render(
        request,
        "jobs/queues.html",
        {"queues": selectors.queue_control_list(), "actors": selectors.actor_control_list()},
    )


def _form_errors(form) -> str:
    return "; ".join(f"{name}: {' '.join(errors)}" for name, errors in form.errors.items())


@staff_action
def queue_action(request, queue_name):
    action = request.POST.get("action")
    try:
        if action == "pause":
            services.queue_pause(queue_name=queue_name, user=request.user)
            messages.success(request, f"Queue {queue_name} paused.")
        elif action == "resume":
            services.queue_resume(queue_name=queue_name, user=request.user)
            messages.success(request, f"Queue {queue_name} resumed.")
        elif action == "limits":
            form = QueueLimitsForm(request.POST)
            if form.is_valid():
                services.queue_set_limits(queue_name=queue_name, user=request.user, **form.cleaned_data)
                messages.success(request, f"Limits of queue {queue_name} saved.")
            else:
                messages.error(request, _form_errors(form))
        else:
            messages.error(request, "Unknown action.")
    except ApplicationError as exc:
        messages.error(request, exc.message)
    return redirect("jobs:queues")


@staff_action
def actor_limits(request, actor_name):
    form = ActorLimitsForm(request.POST)
    try:
        if form.is_valid():
            services.actor_set_limits(actor_name=actor_name, user=request.user, **form.cleaned_data)
            messages.success(request, f"Limits of actor {actor_name} saved.")
        else:
            messages.error(request, _form_errors(form))
    except ApplicationError as exc:
        messages.error(request, exc.message)
    return redirect("jobs:queues")
