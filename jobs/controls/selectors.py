"""Reads of the controls for pages and the API: every known queue and actor, with or without a row."""

from __future__ import annotations

from django.db.models import Count, Q

from jobs import registry
from jobs.controls.models import ActorControl, QueueControl
from jobs.models import Job, JobStatus

S = JobStatus


def _counts(field_name: str) -> dict[str, dict[str, int]]:
    rows = (
        Job.objects.filter(status__in=(S.RUNNING, S.PENDING, S.QUEUED))
        .order_by()
        .values(field_name)
        .annotate(
            running=Count("id", filter=Q(status=S.RUNNING)),
            waiting=Count("id", filter=Q(status__in=(S.PENDING, S.QUEUED))),
        )
    )
    return {row[field_name]: {"running": row["running"], "waiting": row["waiting"]} for row in rows}


def queue_control_list() -> list[dict]:
    """Every queue with its control (defaults when it has none) and its running and waiting jobs."""
    controls = {c.queue_name: c for c in QueueControl.objects.all()}
    counts = _counts("queue_name")
    return [_queue_row(name, controls.get(name), counts.get(name, {})) for name in registry.QUEUES]


def queue_control_get(queue_name: str) -> dict | None:
    if queue_name not in registry.QUEUES:
        return None
    control = QueueControl.objects.filter(queue_name=queue_name).first()
    counts = _counts("queue_name").get(queue_name, {})
    return _queue_row(queue_name, control, counts)


def _queue_row(name: str, control: QueueControl | None, counts: dict) -> dict:
    return {
        "queue": name,
        "paused": bool(control and control.paused),
        "paused_at": control.paused_at if control else None,
        "max_concurrency": control.max_concurrency if control else None,
        "rate_limit": control.rate_limit if control else None,
        "rate_period": control.rate_period if control else 1.0,
        "ready_window": control.ready_window if control else None,
        "running": counts.get("running", 0),
        "waiting": counts.get("waiting", 0),
        "updated_at": control.updated_at if control else None,
    }


def actor_control_list() -> list[dict]:
    """Every registered actor with its limits (none when it has no row) and its running jobs."""
    controls = {c.actor_name: c for c in ActorControl.objects.all()}
    counts = _counts("actor_name")
    return [_actor_row(spec, controls.get(spec.name), counts.get(spec.name, {})) for spec in registry.all_specs()]


def actor_control_get(actor_name: str) -> dict | None:
    spec = registry.get_spec(actor_name)
    if spec is None:
        return None
    control = ActorControl.objects.filter(actor_name=actor_name).first()
    return _actor_row(spec, control, _counts("actor_name").get(actor_name, {}))


def _actor_row(spec, control: ActorControl | None, counts: dict) -> dict:
    return {
        "actor": spec.name,
        "queue": spec.queue_name,
        "max_concurrency": control.max_concurrency if control else None,
        "rate_limit": control.rate_limit if control else None,
        "rate_period": control.rate_period if control else 1.0,
        "running": counts.get("running", 0),
        "waiting": counts.get("waiting", 0),
        "updated_at": control.updated_at if control else None,
    }
