"""What each kind of rule checks, and its parameters with their defaults and bounds.

A check reads the engine's tables at one moment (the database's clock) and returns every subject
whose condition holds now, with a one-line summary and the figures behind it. It writes nothing:
opening, keeping and resolving alerts is the services' work.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db.models import Count, Q

from jobs import registry
from jobs.alerts.models import AlertKind
from jobs.errors import ValidationFailed
from jobs.models import Job, JobStatus
from jobs.scheduling.models import Schedule
from jobs.selectors import live_workers
from jobs.selectors.system import waiting_by_queue

S = JobStatus


@dataclass(frozen=True)
class Finding:
    summary: str
    details: dict


@dataclass(frozen=True)
class Param:
    """An integer parameter, or (``choices`` given) a list of names; an empty list means all."""

    default: int | list
    minimum: int = 0
    maximum: int = 10**7
    help: str = ""
    choices: Callable[[], list[str]] | None = None

    def clean(self, name: str, value):
        if self.choices is not None:
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise ValidationFailed(f"{name} must be a list of names.", details={"field": name})
            unknown = sorted(set(value) - set(self.choices()))
            if unknown:
                raise ValidationFailed(
                    f"{name}: unknown {', '.join(unknown)}.", details={"field": name, "choices": self.choices()}
                )
            return sorted(set(value))
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValidationFailed(f"{name} must be a whole number.", details={"field": name})
        if not self.minimum <= value <= self.maximum:
            raise ValidationFailed(
                f"{name} must be between {self.minimum} and {self.maximum}.",
                details={"field": name, "minimum": self.minimum, "maximum": self.maximum},
            )
        return value


def _queues() -> list[str]:
    return list(registry.QUEUES)


@dataclass(frozen=True)
class Kind:
    check: Callable[[dict, datetime], dict[str, Finding]]
    params: dict[str, Param] = field(default_factory=dict)

    def clean(self, parameters: dict, *, base: dict | None = None) -> dict:
        """``base`` (defaults filled in) with ``parameters`` over it, every value checked.
        Raises ValidationFailed naming the first wrong or unknown parameter."""
        if not isinstance(parameters, dict):
            raise ValidationFailed("parameters must be an object.", details={"field": "parameters"})
        unknown = sorted(set(parameters) - set(self.params))
        if unknown:
            raise ValidationFailed(
                f"Unknown parameter(s) {', '.join(unknown)}; this kind takes {', '.join(self.params)}.",
                details={"field": "parameters", "unknown": unknown, "allowed": list(self.params)},
            )
        merged = {name: param.default for name, param in self.params.items()}
        merged.update({k: v for k, v in (base or {}).items() if k in self.params})
        merged.update(parameters)
        return {name: self.params[name].clean(name, value) for name, value in merged.items()}


# --- The checks -------------------------------------------------------------------------------


def stuck_jobs(params: dict, now: datetime) -> dict[str, Finding]:
    """Running jobs started longer ago than their actor's time limit plus a grace: the engine's own
    hard limit should have ended them, so something (a process, a host) is stuck."""
    grace = params["grace_seconds"]
    limits = {spec.name: spec.time_limit for spec in registry.all_specs()}
    shortest = min([*limits.values(), registry.DEFAULT_TIME_LIMIT])
    candidates = Job.objects.filter(
        status=S.RUNNING, started_at__lt=now - timedelta(seconds=shortest + grace)
    ).values_list("id", "actor_name", "started_at", "worker_id")
    found = {}
    for job_id, actor, started_at, worker_id in candidates:
        limit = limits.get(actor, registry.DEFAULT_TIME_LIMIT)
        running = (now - started_at).total_seconds()
        if running > limit + grace:
            found[f"job:{job_id}"] = Finding(
                summary=f"Job {job_id} of {actor} has run {int(running)} s, past its limit of {int(limit)} s",
                details={
                    "job_id": str(job_id),
                    "actor": actor,
                    "worker_id": worker_id,
                    "running_seconds": round(running, 1),
                    "time_limit_seconds": limit,
                    "grace_seconds": grace,
                },
            )
    return found


def queue_latency(params: dict, now: datetime) -> dict[str, Finding]:
    """Queues whose oldest job waiting to start (pending or queued, due) waited longer than allowed.
    A paused queue waits on purpose: an operator paused it (jobs.controls), no alert."""
    from jobs.controls.gate import cache as controls

    limit = params["max_wait_seconds"]
    paused = controls.get().paused  # the engine's own view of the pauses, as the queues page reads it
    queues = [q for q in (params["queues"] or _queues()) if q not in paused]
    found = {}
    for queue, waiting in waiting_by_queue(queues).items():
        if waiting.oldest_seconds > limit:
            found[f"queue:{queue}"] = Finding(
                summary=f"Queue {queue}: oldest waiting job waited {int(waiting.oldest_seconds)} s (limit {limit} s)",
                details={
                    "queue": queue,
                    "oldest_waiting_seconds": round(waiting.oldest_seconds, 1),
                    "waiting_jobs": waiting.count,
                    "max_wait_seconds": limit,
                },
            )
    return found


def failure_rate(params: dict, now: datetime) -> dict[str, Finding]:
    """Actors whose jobs that finished in the window failed more often than allowed, counted only
    once enough jobs finished (a single failure of a rare job is no rate)."""
    window, threshold, minimum = params["window_minutes"], params["threshold_percent"], params["min_jobs"]
    rows = (
        Job.objects.filter(status__in=(S.SUCCEEDED, S.FAILED), finished_at__gte=now - timedelta(minutes=window))
        .order_by()
        .values("actor_name")
        .annotate(finished=Count("id"), failed=Count("id", filter=Q(status=S.FAILED)))
    )
    found = {}
    for row in rows:
        if row["finished"] < max(minimum, 1):
            continue
        rate = 100.0 * row["failed"] / row["finished"]
        if rate > threshold:
            found[f"actor:{row['actor_name']}"] = Finding(
                summary=(
                    f"Actor {row['actor_name']}: {rate:.0f} % of {row['finished']} jobs failed in the last "
                    f"{window} min (limit {threshold} %)"
                ),
                details={
                    "actor": row["actor_name"],
                    "failed": row["failed"],
                    "finished": row["finished"],
                    "failure_percent": round(rate, 1),
                    "threshold_percent": threshold,
                    "window_minutes": window,
                },
            )
    return found


def missed_schedules(params: dict, now: datetime) -> dict[str, Finding]:
    """Active schedules whose next fire time passed more than a grace ago without a fire."""
    grace = params["grace_seconds"]
    late = Schedule.objects.filter(enabled=True, next_run_at__lt=now - timedelta(seconds=grace))
    found = {}
    for schedule in late.values("id", "name", "next_run_at", "last_run_at"):
        behind = (now - schedule["next_run_at"]).total_seconds()
        found[f"schedule:{schedule['id']}"] = Finding(
            summary=f"Schedule {schedule['name']!r} missed its fire time by {int(behind)} s",
            details={
                "schedule_id": schedule["id"],
                "schedule": schedule["name"],
                "next_run_at": schedule["next_run_at"].isoformat(),
                "last_run_at": schedule["last_run_at"].isoformat() if schedule["last_run_at"] else None,
                "late_seconds": round(behind, 1),
                "grace_seconds": grace,
            },
        )
    return found


def unserved_queues(params: dict, now: datetime) -> dict[str, Finding]:
    """Queues that no live worker process serves (its host's heartbeat within the liveness timeout)."""
    served = set()
    workers = list(live_workers().values_list("queues", flat=True))
    for queues in workers:
        # A worker started without a queue list consumes every queue.
        served.update(queues or _queues())
    return {
        f"queue:{queue}": Finding(
            summary=f"Queue {queue}: no live worker serves it",
            details={"queue": queue, "live_workers": len(workers)},
        )
        for queue in (params["queues"] or _queues())
        if queue not in served
    }


KINDS: dict[str, Kind] = {
    AlertKind.STUCK_JOB: Kind(
        stuck_jobs,
        {"grace_seconds": Param(120, 0, 7 * 86400, "Seconds past the actor's time limit before it counts.")},
    ),
    AlertKind.QUEUE_LATENCY: Kind(
        queue_latency,
        {
            "max_wait_seconds": Param(300, 1, 30 * 86400, "Age of the oldest waiting job that opens an alert."),
            "queues": Param([], help="Queues watched (empty: all).", choices=_queues),
        },
    ),
    AlertKind.FAILURE_RATE: Kind(
        failure_rate,
        {
            "threshold_percent": Param(50, 0, 99, "Failure share above which an alert opens."),
            "window_minutes": Param(15, 1, 24 * 60, "Jobs finished in this many minutes are counted."),
            "min_jobs": Param(10, 1, 10**6, "No rate below this many finished jobs."),
        },
    ),
    AlertKind.MISSED_SCHEDULE: Kind(
        missed_schedules,
        {"grace_seconds": Param(120, 0, 7 * 86400, "Seconds past a fire time before it counts as missed.")},
    ),
    AlertKind.NO_WORKER: Kind(
        unserved_queues, {"queues": Param([], help="Queues watched (empty: all).", choices=_queues)}
    ),
}


def kind_of(name: str) -> Kind:
    return KINDS[AlertKind(name)]
