"""Writes of the controls: pause, resume, limits (each audited in its own transaction), and the
hold of a job a control kept from starting."""

from __future__ import annotations

from datetime import timedelta

from django.db import transaction
from django.db.models import F
from django.db.models.functions import Now

from jobs import registry, states
from jobs.audit.services import audit_record
from jobs.controls.gate import cache
from jobs.controls.models import ActorControl, QueueControl
from jobs.errors import NotFound, ValidationFailed
from jobs.models import JobStatus

UNSET = object()
MAX_LIMIT = 1_000_000
MAX_PERIOD = 86_400.0
QUEUE_LIMIT_FIELDS = ("max_concurrency", "rate_limit", "rate_period", "ready_window")
ACTOR_LIMIT_FIELDS = ("max_concurrency", "rate_limit", "rate_period")


def check_queue(queue_name: str) -> str:
    if queue_name not in registry.QUEUES:
        raise NotFound(f"Queue {queue_name!r} does not exist.", details={"valid_queues": list(registry.QUEUES)})
    return queue_name


def check_actor(actor_name: str) -> str:
    if registry.get_spec(actor_name) is None:
        raise NotFound(f"Actor {actor_name!r} does not exist.")
    return actor_name


def _changed() -> None:
    """This process sees the change at once; the others within their refresh interval."""
    cache.clear()
    transaction.on_commit(cache.clear)


def queue_pause(*, queue_name: str, user=None) -> QueueControl:
    """Stop starting the queue's jobs (they are still accepted); running ones finish."""
    check_queue(queue_name)
    with transaction.atomic():
        control, _ = QueueControl.objects.select_for_update().get_or_create(queue_name=queue_name)
        was_paused = control.paused
        if not was_paused:
            control.paused = True
            control.paused_at = Now()
            control.save(update_fields=["paused", "paused_at", "updated_at"])
            control.refresh_from_db()
        audit_record(
            user=user,
            action="queue.pause",
            target_type="queue",
            target_id=queue_name,
            detail={"was_paused": was_paused},
        )
        _changed()
    return control


def queue_resume(*, queue_name: str, user=None) -> QueueControl:
    """Start the queue's jobs again: the dispatcher publishes its backlog, highest priority first."""
    check_queue(queue_name)
    with transaction.atomic():
        control, _ = QueueControl.objects.select_for_update().get_or_create(queue_name=queue_name)
        was_paused = control.paused
        if was_paused:
            control.paused = False
            control.paused_at = None
            control.save(update_fields=["paused", "paused_at", "updated_at"])
        audit_record(
            user=user,
            action="queue.resume",
            target_type="queue",
            target_id=queue_name,
            detail={"was_paused": was_paused},
        )
        _changed()
    return control


def _clean_limits(changes: dict, allowed: tuple[str, ...]) -> dict:
    cleaned = {}
    for name, value in changes.items():
        if value is UNSET:
            continue
        if name not in allowed:
            raise ValidationFailed(f"Unknown limit {name!r}.", details={"field": name})
        if name == "rate_period":
            if value is None:
                value = 1.0
            if isinstance(value, bool) or not isinstance(value, int | float) or not 0.001 <= value <= MAX_PERIOD:
                raise ValidationFailed(
                    f"rate_period must be between 0.001 and {MAX_PERIOD:g} seconds.", details={"field": name}
                )
            cleaned[name] = float(value)
        elif value is not None and (
            isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_LIMIT
        ):
            raise ValidationFailed(
                f"{name} must be a whole number from 1 to {MAX_LIMIT}, or null for no limit.", details={"field": name}
            )
        else:
            cleaned[name] = value
    return cleaned


def _snapshot(control, fields) -> dict:
    return {name: getattr(control, name) for name in fields}


def _limits_apply(model, *, key: dict, changes: dict, fields, user, action: str, target_type: str):
    """Write a queue's or an actor's cleaned limit changes under its row lock, audited before/after."""
    with transaction.atomic():
        control, _ = model.objects.select_for_update().get_or_create(**key)
        before = _snapshot(control, fields)
        for name, value in changes.items():
            setattr(control, name, value)
        control.save()
        audit_record(
            user=user,
            action=action,
            target_type=target_type,
            target_id=next(iter(key.values())),
            detail={"before": before, "after": _snapshot(control, fields)},
        )
        _changed()
    return control


def queue_set_limits(
    *,
    queue_name: str,
    user=None,
    max_concurrency=UNSET,
    rate_limit=UNSET,
    rate_period=UNSET,
    ready_window=UNSET,
) -> QueueControl:
    """Change a queue's limits at run time (None removes one; an omitted one is kept)."""
    check_queue(queue_name)
    changes = _clean_limits(
        {
            "max_concurrency": max_concurrency,
            "rate_limit": rate_limit,
            "rate_period": rate_period,
            "ready_window": ready_window,
        },
        QUEUE_LIMIT_FIELDS,
    )
    return _limits_apply(
        QueueControl,
        key={"queue_name": queue_name},
        changes=changes,
        fields=QUEUE_LIMIT_FIELDS,
        user=user,
        action="queue.limit",
        target_type="queue",
    )


def actor_set_limits(
    *, actor_name: str, user=None, max_concurrency=UNSET, rate_limit=UNSET, rate_period=UNSET
) -> ActorControl:
    """Change an actor's limits at run time, across all the queues its jobs run on."""
    check_actor(actor_name)
    changes = _clean_limits(
        {"max_concurrency": max_concurrency, "rate_limit": rate_limit, "rate_period": rate_period},
        ACTOR_LIMIT_FIELDS,
    )
    return _limits_apply(
        ActorControl,
        key={"actor_name": actor_name},
        changes=changes,
        fields=ACTOR_LIMIT_FIELDS,
        user=user,
        action="actor.limit",
        target_type="actor",
    )


def job_hold(*, job_id, token: int, delay: float, reason: str = "") -> bool:
    """Give back a job a control kept from starting: pending again with a new token (its message is
    dropped), available after ``delay`` seconds, no attempt counted; ``reason`` shows as its progress
    message until it starts. False when the message was stale."""
    return states.transition(
        job_id,
        "hold",
        JobStatus.PENDING,
        where={"dispatch_token": token, "cancel_requested_at__isnull": True},
        dispatch_token=F("dispatch_token") + 1,
        enqueued_at=None,
        available_at=Now() + timedelta(seconds=max(delay, 0.0)),
        progress_message=f"held back: {reason}"[:200] if reason else "",
    )
