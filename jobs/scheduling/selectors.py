"""Reads of the scheduler for the API, the admin, the pages and the scheduler process."""

from __future__ import annotations

import time
from datetime import datetime

import dramatiq
from django.db.models import QuerySet

from jobs.scheduling import triggers
from jobs.scheduling.models import Schedule, ScheduleRun


def schedule_list(*, enabled: bool | None = None, actor: str | None = None) -> QuerySet:
    """Schedules with their last job (status) in the same query."""
    qs = Schedule.objects.select_related("last_job")
    if enabled is not None:
        qs = qs.filter(enabled=enabled)
    if actor:
        qs = qs.filter(actor_name=actor)
    return qs.order_by("name")


def schedule_get(schedule_id) -> Schedule | None:
    try:
        return Schedule.objects.select_related("last_job").get(pk=schedule_id)
    except (Schedule.DoesNotExist, ValueError, TypeError):
        return None


def schedule_runs(schedule_id, *, limit: int = 20) -> QuerySet:
    return ScheduleRun.objects.filter(schedule_id=schedule_id).select_related("job").order_by("-fire_time")[:limit]


def schedules_for_runner() -> list[Schedule]:
    """The enabled schedules, with what the scheduler needs to plan them."""
    return list(
        Schedule.objects.filter(enabled=True).only(
            "id",
            "name",
            "cron",
            "interval_seconds",
            "timezone",
            "misfire_grace_seconds",
            "coalesce",
            "next_run_at",
            "updated_at",
        )
    )


def trigger_in_words(schedule: Schedule) -> str:
    return triggers.describe(cron=schedule.cron, interval_seconds=schedule.interval_seconds)


def upcoming_fire_times(schedule: Schedule, *, count: int = 5, now: datetime | None = None) -> list[datetime]:
    """The next ``count`` fire times of the schedule's rule (empty when the rule is invalid)."""
    try:
        return triggers.upcoming_fire_times(triggers.trigger_of(schedule), count=count, now=now)
    except triggers.TriggerError:
        return []


def leader_key() -> str:
    return f"{dramatiq.get_broker().namespace}:scheduler:leader"


def scheduler_leader() -> dict:
    """Which scheduler process holds the leader lease, and for how much longer."""
    client = dramatiq.get_broker().client
    try:
        pipe = client.pipeline()
        pipe.get(leader_key())
        pipe.pttl(leader_key())
        holder, ttl_ms = pipe.execute()
    except Exception as exc:
        return {"active": None, "detail": f"redis unavailable: {exc}"}
    return {
        "active": holder.decode() if isinstance(holder, bytes) else holder,
        "lease_remaining_seconds": round(ttl_ms / 1000, 1) if ttl_ms and ttl_ms > 0 else None,
        "checked_at": time.time(),
    }
