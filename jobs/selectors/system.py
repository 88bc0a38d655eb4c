"""Reads about the system: queues, worker hosts and processes, actors, the scheduler, health."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta

import dramatiq
import psutil
from django.conf import settings
from django.db import connection
from django.db.models import Count, DurationField, ExpressionWrapper, F, Min, QuerySet
from django.db.models.functions import Now

from jobs import broker, registry
from jobs.models import Job, JobStatus, Worker

S = JobStatus


def scheduler_heartbeat_key() -> str:
    """Namespaced like the broker's keys, so that test runs never see each other's schedulers."""
    return f"{dramatiq.get_broker().namespace}:scheduler:heartbeat"


SCHEDULER_HEARTBEAT_EXPIRY = 60  # seconds; the scheduler writes its heartbeat key with this expiry


def _redis():
    return dramatiq.get_broker().client


@dataclass(frozen=True)
class Waiting:
    count: int
    oldest_seconds: float  # how long the oldest has waited, by the database's clock (never < 0)


def waiting_by_queue(queues=None) -> dict[str, Waiting]:
    """Jobs waiting to start (pending or queued) per queue that has any: how many, and how long the
    oldest has been due. The one place that measures a queue's wait: the queues page, the latency
    alert and autoscaling all read it."""
    rows = Job.objects.filter(status__in=(S.PENDING, S.QUEUED))
    if queues is not None:
        rows = rows.filter(queue_name__in=list(queues))
    rows = (
        rows.order_by()
        .values("queue_name")
        .annotate(
            count=Count("id"),
            waited=ExpressionWrapper(Now() - Min("available_at"), output_field=DurationField()),
        )
    )
    return {
        row["queue_name"]: Waiting(count=row["count"], oldest_seconds=max(row["waited"].total_seconds(), 0.0))
        for row in rows
    }


def queue_overview(*, db_counts: dict[str, dict[str, int]] | None = None) -> list[dict]:
    """Per queue: messages waiting in Redis, the database's counts, and the age of the oldest job
    waiting to start (database clock).

    ``db_counts`` (queue → status → count) saves a second GROUP BY when the caller has it already.
    """
    from jobs.selectors.stats import dashboard_counts

    waiting = waiting_by_queue()
    db_counts = dashboard_counts()[1] if db_counts is None else db_counts
    try:
        depths = broker.queue_depths(list(registry.QUEUES))
    except Exception:
        depths = {}
    from jobs.controls.gate import cache as controls

    paused = controls.get().paused  # the engine's own cached view: no query most of the time
    result = []
    for queue in registry.QUEUES:
        counts = db_counts.get(queue, {})
        oldest = waiting[queue].oldest_seconds if queue in waiting else None
        result.append(
            {
                "name": queue,
                "paused": queue in paused,
                "broker_ready": depths.get(queue),
                "pending": counts.get(S.PENDING, 0),
                "queued": counts.get(S.QUEUED, 0),
                "running": counts.get(S.RUNNING, 0),
                "retrying": counts.get(S.RETRYING, 0),
                "scheduled": counts.get(S.SCHEDULED, 0),
                "failed": counts.get(S.FAILED, 0),
                "depth": counts.get(S.PENDING, 0) + counts.get(S.QUEUED, 0),
                "oldest_waiting_seconds": round(oldest, 1) if oldest is not None else None,
            }
        )
    return result


def queue_backlog(*, queues, host_id: str):
    """What an autoscaling host weighs: jobs waiting to start in ``queues`` (pending or queued), the
    oldest one's wait (database clock), and the jobs running in the host's processes, per process."""
    from jobs.worker.autoscale import Load

    waiting = waiting_by_queue(queues).values()
    running = dict(
        Job.objects.filter(status=S.RUNNING, worker_id__startswith=f"{host_id}/")
        .order_by()
        .values_list("worker_id")
        .annotate(n=Count("id"))
    )
    return Load(
        waiting=sum(w.count for w in waiting),
        oldest_wait=max((w.oldest_seconds for w in waiting), default=None),
        running=sum(running.values()),
        running_by_worker=running,
    )


def autoscale_events(*, limit: int = 20) -> list:
    """The latest changes autoscaling hosts made to their number of processes (audit trail)."""
    from jobs.audit.models import AuditEntry
    from jobs.worker.autoscale import AUDIT_ACTION

    return list(AuditEntry.objects.filter(action=AUDIT_ACTION).order_by("-at", "-id")[:limit])


def live_workers() -> QuerySet:
    """Worker processes not stopped whose host (or, unsupervised, the process itself) was heard
    within the liveness timeout, by the database's clock."""
    cutoff = Now() - timedelta(seconds=settings.JOBS["LIVENESS_TIMEOUT"])
    return Worker.objects.filter(stopped_at__isnull=True, heartbeat_at__gte=cutoff).select_related("host")


def worker_overview() -> list[dict]:
    """Live worker processes with their host, heartbeat age and the jobs they run now."""
    workers = list(
        live_workers().annotate(
            heartbeat_age=ExpressionWrapper(Now() - F("heartbeat_at"), output_field=DurationField()),
            age=ExpressionWrapper(Now() - F("started_at"), output_field=DurationField()),
        )
    )
    running = {}
    for row in Job.objects.filter(status=S.RUNNING, worker_id__in=[w.id for w in workers]).values(
        "id", "worker_id", "actor_name", "progress"
    ):
        running.setdefault(row["worker_id"], []).append(
            {"id": str(row["id"]), "actor": row["actor_name"], "progress": row["progress"]}
        )
    return [
        {
            "id": w.id,
            "host_id": w.host_id or "",
            "hostname": w.hostname,
            "pid": w.pid,
            "queues": w.queues,
            "threads": w.threads,
            "started_at": w.started_at,
            "heartbeat_age_seconds": round(max(w.heartbeat_age.total_seconds(), 0.0), 1),
            "uptime_seconds": round(max(w.age.total_seconds(), 0.0), 1),
            "rss_bytes": w.rss_bytes,
            "jobs_succeeded": w.jobs_succeeded,
            "jobs_failed": w.jobs_failed,
            "running_jobs": running.get(w.id, []),
        }
        for w in workers
    ]


def actor_overview() -> list[dict]:
    return [spec.describe() for spec in registry.all_specs()]


def scheduler_status() -> dict:
    try:
        raw = _redis().get(scheduler_heartbeat_key())
    except Exception as exc:
        return {"ok": False, "detail": f"redis unavailable: {exc}"}
    if not raw:
        return {"ok": False, "detail": "no scheduler heartbeat"}
    # Redis's clock, not this host's: the key is written with an expiry, its remaining life tells its age.
    age = max(SCHEDULER_HEARTBEAT_EXPIRY - _redis().ttl(scheduler_heartbeat_key()), 0)
    return {"ok": age < 30, "heartbeat_age_seconds": round(age, 1)}


def system_health() -> dict:
    checks: dict[str, dict] = {}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        checks["database"] = {"ok": True, "vendor": connection.vendor}
    except Exception as exc:
        checks["database"] = {"ok": False, "detail": str(exc)[:200]}
    try:
        _redis().ping()
        checks["redis"] = {"ok": True}
    except Exception as exc:
        checks["redis"] = {"ok": False, "detail": str(exc)[:200]}
    try:
        workers = live_workers().count() if checks["database"]["ok"] else 0
        checks["workers"] = {"ok": workers > 0, "live": workers}
    except Exception as exc:
        checks["workers"] = {"ok": False, "detail": str(exc)[:200]}
    checks["scheduler"] = scheduler_status() if checks["redis"]["ok"] else {"ok": False, "detail": "redis down"}
    return {"status": "ok" if all(c["ok"] for c in checks.values()) else "unavailable", "checks": checks}


# --- Dashboard reads: SQL aggregates and keyset pages, a fixed number of queries at any row count ---


def host_metrics() -> dict:
    """CPU, memory and disk of the web host (psutil) and Redis's own figures."""
    disk = psutil.disk_usage(str(settings.BASE_DIR))
    memory = psutil.virtual_memory()
    metrics = {
        "cpu_percent": psutil.cpu_percent(interval=None),
        "cpu_count": psutil.cpu_count(),
        "load_average": [round(x, 2) for x in os.getloadavg()] if hasattr(os, "getloadavg") else None,
        "memory_percent": memory.percent,
        "memory_used": memory.total - memory.available,
        "memory_total": memory.total,
        "disk_percent": disk.percent,
        "disk_used": disk.used,
        "disk_total": disk.total,
        "process_rss": psutil.Process().memory_info().rss,
        "redis": None,
    }
    try:
        info = _redis().info()
        metrics["redis"] = {
            "version": info.get("redis_version"),
            "used_memory": info.get("used_memory"),
            "connected_clients": info.get("connected_clients"),
            "uptime_seconds": info.get("uptime_in_seconds"),
        }
    except Exception:
        pass
    return metrics
