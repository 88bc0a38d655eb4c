"""Writes of the scheduler: create, edit, pause, resume, delete, run now, and the firing itself.

``schedule_fire`` is the only place a schedule produces a job: it locks the schedule row, submits
the job and inserts the (schedule, fire_time) run row in one transaction, so that a fire time
yields at most one job even when two schedulers fire it (the job is published on commit).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime

from django.db import IntegrityError, transaction
from django.utils import timezone

from jobs import registry, validation
from jobs.audit.services import audit_record
from jobs.errors import NotFound, UnknownActor, ValidationFailed
from jobs.models import LIVE_STATUSES, Job
from jobs.scheduling import triggers
from jobs.scheduling.errors import ScheduleBusy
from jobs.scheduling.models import OverlapPolicy, Schedule, ScheduleRun
from jobs.services import job_submit

logger = logging.getLogger(__name__)

# The fields a user may set, with the name the API uses for each in its errors.
EDITABLE_FIELDS = {
    "name": "name",
    "description": "description",
    "actor_name": "actor",
    "args": "args",
    "kwargs": "kwargs",
    "cron": "cron",
    "interval_seconds": "interval_seconds",
    "timezone": "timezone",
    "enabled": "enabled",
    "queue_name": "queue",
    "priority": "priority",
    "overlap": "overlap",
    "misfire_grace_seconds": "misfire_grace_seconds",
    "coalesce": "coalesce",
}
PRIORITY_RANGE = validation.PRIORITY_RANGE
MAX_MISFIRE_GRACE_SECONDS = 7 * 86400
# What a schedule of an internal actor keeps as the platform set it: its actor and arguments.
INTERNAL_FIXED_FIELDS = ("actor_name", "args", "kwargs", "queue_name", "priority")


# --- Validation -----------------------------------------------------------------------------------


def _invalid(field: str, reason: str, **details) -> ValidationFailed:
    return ValidationFailed(f"{field}: {reason}", details={"field": field, "reason": reason, **details})


def check_actor(actor_name: str) -> None:
    """Raises UnknownActor (400, with the valid actors) for an actor this process does not know."""
    if registry.get_spec(actor_name) is None:
        valid = registry.actor_names()
        raise UnknownActor(
            f"Unknown actor {actor_name!r}. Valid actors: {', '.join(valid)}.",
            details={"field": "actor", "valid_actors": valid},
        )


def _check_payload(args, kwargs, actor_name: str) -> None:
    """Plain JSON within the limits (jobs.validation), and a call that fits the actor's signature."""
    if not isinstance(args, list):
        raise _invalid("args", "must be a JSON array")
    if not isinstance(kwargs, dict):
        raise _invalid("kwargs", "must be a JSON object")
    args, kwargs = validation.validate_payload(args, kwargs)
    spec = registry.get_spec(actor_name)
    if spec is not None and spec.fn is not None:
        validation.validate_call(spec, args, kwargs)


def check_public_actor(actor_name: str) -> None:
    """For the API and forms: users schedule public actors only (ValidationFailed, UnknownActor)."""
    validation.validate_public_actor(actor_name)


def check_internal_schedule_edit(schedule: Schedule, changes: dict) -> None:
    """A schedule of an internal actor may be re-timed, paused or renamed, not given other work."""
    spec = registry.get_spec(schedule.actor_name)
    if spec is None or not spec.internal:
        return
    touched = [f for f in INTERNAL_FIXED_FIELDS if f in changes and changes[f] != getattr(schedule, f)]
    if touched:
        field = EDITABLE_FIELDS[touched[0]]
        raise _invalid(field, f"is fixed: {schedule.actor_name} is an internal actor, run as the platform set it")


def validate_fields(values: dict, *, check_actor_name: bool = True) -> None:
    """Check a schedule's fields as a whole; raises ValidationFailed naming the field and the reason."""
    name = str(values.get("name") or "").strip()
    if not name:
        raise _invalid("name", "may not be blank")
    if len(name) > 200:
        raise _invalid("name", "must be at most 200 characters")
    actor_name = values.get("actor_name") or ""
    if not actor_name:
        raise _invalid("actor", "may not be blank", valid_actors=registry.actor_names())
    if check_actor_name:
        check_actor(actor_name)
    _check_payload(values.get("args"), values.get("kwargs"), actor_name)
    try:
        triggers.build_trigger(
            cron=values.get("cron") or "", interval_seconds=values.get("interval_seconds"), tz=values.get("timezone")
        )
    except triggers.TriggerError as exc:
        raise _invalid(exc.field, exc.reason) from None
    queue = values.get("queue_name") or ""
    if queue and queue not in registry.QUEUES:
        raise _invalid("queue", f"unknown queue {queue!r}; valid queues: {', '.join(registry.QUEUES)}")
    priority = values.get("priority")
    if not isinstance(priority, int) or not PRIORITY_RANGE[0] <= priority <= PRIORITY_RANGE[1]:
        raise _invalid("priority", f"must be a whole number from {PRIORITY_RANGE[0]} to {PRIORITY_RANGE[1]}")
    if values.get("overlap") not in OverlapPolicy.values:
        raise _invalid("overlap", f"must be one of {', '.join(OverlapPolicy.values)}")
    grace = values.get("misfire_grace_seconds")
    if isinstance(grace, bool) or not isinstance(grace, int) or not 1 <= grace <= MAX_MISFIRE_GRACE_SECONDS:
        raise _invalid(
            "misfire_grace_seconds", f"must be a whole number of seconds from 1 to {MAX_MISFIRE_GRACE_SECONDS}"
        )


def _values_of(schedule: Schedule) -> dict:
    return {field: getattr(schedule, field) for field in EDITABLE_FIELDS}


def _next_run(schedule: Schedule, *, after: datetime) -> datetime | None:
    if not schedule.enabled:
        return None
    try:
        return triggers.next_fire_after(triggers.trigger_of(schedule), after)
    except triggers.TriggerError:
        return None


def _audit(user, action: str, schedule: Schedule, **detail) -> None:
    audit_record(
        user=user,
        action=action,
        target_type="schedule",
        target_id=schedule.pk,
        detail={"name": schedule.name, **detail},
    )


def _save(schedule: Schedule, *, check_actor_name: bool, user=None, action: str = "", changes=None) -> Schedule:
    validate_fields(_values_of(schedule), check_actor_name=check_actor_name)
    schedule.name = schedule.name.strip()
    if Schedule.objects.filter(name=schedule.name).exclude(pk=schedule.pk).exists():
        raise _invalid("name", f"a schedule named {schedule.name!r} already exists")
    schedule.next_run_at = _next_run(schedule, after=timezone.now())
    try:
        with transaction.atomic():
            schedule.save()
            if action:
                _audit(user, action, schedule, changes=sorted(changes or ()))
    except IntegrityError:
        raise _invalid("name", f"a schedule named {schedule.name!r} already exists") from None
    return schedule


# --- Create, edit, pause, resume, delete ----------------------------------------------------------


def schedule_create(
    *,
    name: str,
    actor_name: str,
    args=(),
    kwargs=None,
    cron: str = "",
    interval_seconds: int | None = None,
    timezone: str = "UTC",
    enabled: bool = True,
    queue_name: str = "",
    priority: int = 0,
    overlap: str = OverlapPolicy.SKIP,
    misfire_grace_seconds: int = 300,
    coalesce: bool = True,
    description: str = "",
    user=None,
) -> Schedule:
    """Create a schedule; a running scheduler picks it up at its next sync.

    Raises ValidationFailed (bad cron, interval, time zone, queue...), UnknownActor.
    """
    schedule = Schedule(
        name=name,
        description=description or "",
        actor_name=actor_name,
        args=list(args) if isinstance(args, tuple) else args,
        kwargs={} if kwargs is None else kwargs,
        cron=(cron or "").strip(),
        interval_seconds=interval_seconds,
        timezone=timezone or "UTC",
        enabled=enabled,
        queue_name=queue_name or "",
        priority=priority,
        overlap=overlap,
        misfire_grace_seconds=misfire_grace_seconds,
        coalesce=coalesce,
    )
    return _save(schedule, check_actor_name=True, user=user, action="schedule.create")


def _get_for_update(schedule_id) -> Schedule:
    try:
        return Schedule.objects.select_for_update().get(pk=schedule_id)
    except (Schedule.DoesNotExist, ValueError, TypeError):
        raise NotFound(f"Schedule {schedule_id} does not exist.") from None


def schedule_update(*, schedule_id, user=None, **changes) -> Schedule:
    """Change some fields of a schedule; the running scheduler applies it within its sync interval.

    Giving ``cron`` clears ``interval_seconds`` and the reverse, unless both are given. The actor is
    checked when it changes or when the schedule gets enabled.
    """
    unknown = sorted(set(changes) - set(EDITABLE_FIELDS))
    if unknown:
        raise ValidationFailed(f"Unknown field(s): {', '.join(unknown)}.", details={"field": unknown[0]})
    if changes.get("cron") and "interval_seconds" not in changes:
        changes["interval_seconds"] = None
    if changes.get("interval_seconds") is not None and "cron" not in changes:
        changes["cron"] = ""
    with transaction.atomic():
        schedule = _get_for_update(schedule_id)
        was_enabled, old_actor = schedule.enabled, schedule.actor_name
        for field, value in changes.items():
            if field == "cron":
                value = (value or "").strip()
            elif field in ("kwargs",) and value is None:
                value = {}
            elif field in ("args",) and value is None:
                value = []
            elif field in ("description", "queue_name") and value is None:
                value = ""
            setattr(schedule, field, value)
        check = schedule.actor_name != old_actor or (schedule.enabled and not was_enabled)
        return _save(schedule, check_actor_name=check, user=user, action="schedule.update", changes=changes)


def schedule_pause(*, schedule_id, user=None) -> Schedule:
    """Stop firing; the running scheduler drops it within its sync interval, and no fire goes out meanwhile."""
    with transaction.atomic():
        schedule = _get_for_update(schedule_id)
        if schedule.enabled:
            schedule.enabled = False
            schedule.next_run_at = None
            schedule.save(update_fields=["enabled", "next_run_at", "updated_at"])
        _audit(user, "schedule.pause", schedule)
    return schedule


def schedule_resume(*, schedule_id, user=None) -> Schedule:
    """Fire again from the next fire time on; fire times of the pause are not caught up."""
    with transaction.atomic():
        schedule = _get_for_update(schedule_id)
        if not schedule.enabled:
            check_actor(schedule.actor_name)
            schedule.enabled = True
            schedule.next_run_at = _next_run(schedule, after=timezone.now())
            schedule.save(update_fields=["enabled", "next_run_at", "updated_at"])
        _audit(user, "schedule.resume", schedule)
    return schedule


def schedule_delete(*, schedule_id, user=None) -> None:
    """Delete a schedule and its run records; the jobs it produced stay."""
    with transaction.atomic():
        schedule = _get_for_update(schedule_id)
        _audit(user, "schedule.delete", schedule, actor=schedule.actor_name)
        schedule.delete()


# --- Firing ---------------------------------------------------------------------------------------


class Outcome:
    FIRED = "fired"
    ALREADY_FIRED = "already_fired"  # another scheduler (or an earlier attempt) fired this time
    SKIPPED = "skipped"  # overlap policy: the previous job is still waiting or running
    DISABLED = "disabled"
    STALE = "stale"  # the schedule changed since the caller loaded it
    MISSING = "missing"


@dataclass(frozen=True)
class FireResult:
    outcome: str
    job: Job | None = None
    previous_job_id: object = None


def idempotency_key(schedule_id, fire_time: datetime) -> str:
    return f"schedule:{schedule_id}:{fire_time.astimezone(UTC).isoformat()}"


def schedule_fire(
    *, schedule_id, fire_time: datetime, version: datetime | None = None, manual: bool = False
) -> FireResult:
    """Submit the job of one fire time, at most once per (schedule, fire time).

    ``version`` is the ``updated_at`` the caller scheduled from: a changed schedule is not fired
    (STALE) so that an edit takes effect even before the scheduler reloads it. A manual run fires
    a disabled schedule too. Raises UnknownActor and the job engine's other submit errors.
    """
    fire_time = fire_time.astimezone(UTC)
    try:
        with transaction.atomic():
            schedule = Schedule.objects.select_for_update().filter(pk=schedule_id).first()
            if schedule is None:
                return FireResult(Outcome.MISSING)
            if version is not None and schedule.updated_at != version:
                return FireResult(Outcome.STALE)
            if not schedule.enabled and not manual:
                return FireResult(Outcome.DISABLED)
            if (
                schedule.overlap == OverlapPolicy.SKIP
                and schedule.last_job_id
                and Job.objects.filter(pk=schedule.last_job_id, status__in=LIVE_STATUSES).exists()
            ):
                return FireResult(Outcome.SKIPPED, previous_job_id=schedule.last_job_id)
            submitted = job_submit(
                actor_name=schedule.actor_name,
                args=schedule.args,
                kwargs=schedule.kwargs,
                queue=schedule.queue_name or None,
                priority=schedule.priority,
                idempotency_key=idempotency_key(schedule.pk, fire_time),
            )
            if not submitted.created:
                return FireResult(Outcome.ALREADY_FIRED, submitted.job)
            ScheduleRun.objects.create(schedule=schedule, fire_time=fire_time, manual=manual, job=submitted.job)
            runtime = {"last_run_at": fire_time, "last_job": submitted.job}
            if not manual:
                runtime["next_run_at"] = _next_run(schedule, after=fire_time)
            Schedule.objects.filter(pk=schedule.pk).update(**runtime)
    except IntegrityError:
        if ScheduleRun.objects.filter(schedule_id=schedule_id, fire_time=fire_time).exists():
            return FireResult(Outcome.ALREADY_FIRED)
        raise
    return FireResult(Outcome.FIRED, submitted.job)


def schedule_run_now(*, schedule_id, user=None) -> Job:
    """Fire a schedule at once, outside its trigger (also when paused).

    Raises NotFound, ScheduleBusy (409) when the overlap policy is skip and the previous job is
    still waiting or running, UnknownActor when the actor is not registered.
    """
    with transaction.atomic():
        result = schedule_fire(schedule_id=schedule_id, fire_time=timezone.now(), manual=True)
        if result.outcome == Outcome.FIRED:
            audit_record(
                user=user,
                action="schedule.run_now",
                target_type="schedule",
                target_id=schedule_id,
                detail={"job_id": str(result.job.pk)},
            )
    if result.outcome == Outcome.MISSING:
        raise NotFound(f"Schedule {schedule_id} does not exist.")
    if result.outcome == Outcome.SKIPPED:
        raise ScheduleBusy(
            f"The previous job {result.previous_job_id} of this schedule is still waiting or running; "
            "its overlap policy is skip.",
            details={"previous_job_id": str(result.previous_job_id)},
        )
    if result.job is None:
        raise ScheduleBusy(f"Schedule {schedule_id} was not run ({result.outcome}).")
    return result.job


def schedule_record_next_run(*, schedule_id, version: datetime, next_run_at: datetime | None) -> bool:
    """What the active scheduler plans next, for the pages and for the next leader's catch-up.

    Leaves a schedule edited since ``version`` alone; does not touch ``updated_at``.
    """
    return bool(
        Schedule.objects.filter(pk=schedule_id, updated_at=version)
        .exclude(next_run_at=next_run_at)
        .update(next_run_at=next_run_at)
    )
