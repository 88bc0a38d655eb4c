"""Reads of the job engine for the API, the pages and the commands."""

from __future__ import annotations

import time
from datetime import timedelta

import dramatiq
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection
from django.db.models import Count, Min, Q, QuerySet
from django.utils import timezone
from dramatiq.common import dq_name

from jobs import registry
from jobs.models import Job, JobStatus, Worker

S = JobStatus


def scheduler_heartbeat_key() -> str:
    """Namespaced like the broker's keys, so that test runs never see each other's schedulers."""
    return f"{dramatiq.get_broker().namespace}:scheduler:heartbeat"


def job_list(*, status=None, actor=None, queue=None, created_after=None, created_before=None, search=None) -> QuerySet:
    qs = Job.objects.all()
    if status:
        qs = qs.filter(status__in=status if isinstance(status, (list, tuple)) else [status])
    if actor:
        qs = qs.filter(actor_name=actor)
    if queue:
        qs = qs.filter(queue_name=queue)
    if created_after:
        qs = qs.filter(created_at__gte=created_after)
    if created_before:
        qs = qs.filter(created_at__lt=created_before)
    if search:
        term = search.strip()
        match = Q(actor_name__icontains=term) | Q(error_message__icontains=term) | Q(idempotency_key=term)
        try:
            import uuid

            match |= Q(pk=uuid.UUID(term))
        except ValueError:
            pass
        qs = qs.filter(match)
    return qs.defer("result", "args", "kwargs")


def job_get(job_id) -> Job | None:
    try:
        return Job.objects.select_related("parent").prefetch_related("attempt_log").get(pk=job_id)
    except (Job.DoesNotExist, ValueError, TypeError, ValidationError):
        return None


def counts_by_status(qs: QuerySet | None = None) -> dict[str, int]:
    qs = Job.objects.all() if qs is None else qs
    counts = {s.value: 0 for s in JobStatus}
    for row in qs.order_by().values("status").annotate(n=Count("pk")):
        counts[row["status"]] = row["n"]
    return counts


def counts_by_queue() -> dict[str, dict[str, int]]:
    result: dict[str, dict[str, int]] = {}
    for row in Job.objects.order_by().values("queue_name", "status").annotate(n=Count("pk")):
        result.setdefault(row["queue_name"], {})[row["status"]] = row["n"]
    return result


def _percentile(values: list[float], fraction: float) -> float | None:
    if not values:
        return None
    values = sorted(values)
    index = min(int(round(fraction * (len(values) - 1))), len(values) - 1)
    return round(values[index], 3)


def job_stats(*, window_minutes: int = 60) -> dict:
    """Counts by status and queue, throughput per minute, p50/p95 wait and run times."""
    now = timezone.now()
    since = now - timedelta(minutes=window_minutes)
    finished = Job.objects.filter(finished_at__gte=since, status__in=(S.SUCCEEDED, S.FAILED))
    per_minute: dict[str, dict[str, int]] = {}
    waits, runs = [], []
    # Bounded sample: the newest 5,000 finished jobs of the window give stable percentiles.
    rows = finished.order_by("-finished_at").values_list("status", "enqueued_at", "started_at", "finished_at")[:5000]
    for status, enqueued_at, started_at, finished_at in rows:
        minute = finished_at.replace(second=0, microsecond=0).isoformat()
        bucket = per_minute.setdefault(minute, {"succeeded": 0, "failed": 0})
        bucket[status] += 1
        if started_at and enqueued_at:
            waits.append(max((started_at - enqueued_at).total_seconds(), 0.0))
        if started_at and finished_at:
            runs.append(max((finished_at - started_at).total_seconds(), 0.0))
    return {
        "by_status": counts_by_status(),
        "by_queue": counts_by_queue(),
        "throughput_per_minute": [{"minute": m, **per_minute[m]} for m in sorted(per_minute)],
        "wait_seconds": {"p50": _percentile(waits, 0.5), "p95": _percentile(waits, 0.95)},
        "run_seconds": {"p50": _percentile(runs, 0.5), "p95": _percentile(runs, 0.95)},
        "window_minutes": window_minutes,
    }


def _redis():
    return dramatiq.get_broker().client


def queue_overview() -> list[dict]:
    """Per queue: messages waiting in Redis (ready and delayed), DB counts, oldest queued age."""
    broker = dramatiq.get_broker()
    namespace = getattr(broker, "namespace", "dramatiq")
    now = timezone.now()
    oldest = {
        row["queue_name"]: row["oldest"]
        for row in Job.objects.filter(status__in=(S.PENDING, S.QUEUED))
        .order_by()
        .values("queue_name")
        .annotate(oldest=Min("created_at"))
    }
    db_counts = counts_by_queue()
    redis_depth: dict[str, tuple[int | None, int | None]] = {}
    try:
        pipe = _redis().pipeline()
        for queue in registry.QUEUES:
            pipe.llen(f"{namespace}:{queue}")
            pipe.hlen(f"{namespace}:{dq_name(queue)}.msgs")
        values = pipe.execute()
        for i, queue in enumerate(registry.QUEUES):
            redis_depth[queue] = (values[2 * i], values[2 * i + 1])
    except Exception:
        redis_depth = {}
    result = []
    for queue in registry.QUEUES:
        ready, delayed = redis_depth.get(queue, (None, None))
        counts = db_counts.get(queue, {})
        first = oldest.get(queue)
        result.append(
            {
                "name": queue,
                "broker_ready": ready,
                "broker_delayed": delayed,
                "pending": counts.get(S.PENDING, 0),
                "queued": counts.get(S.QUEUED, 0),
                "running": counts.get(S.RUNNING, 0),
                "retrying": counts.get(S.RETRYING, 0),
                "scheduled": counts.get(S.SCHEDULED, 0),
                "failed": counts.get(S.FAILED, 0),
                "oldest_waiting_seconds": round((now - first).total_seconds(), 1) if first else None,
            }
        )
    return result


def live_workers() -> QuerySet:
    cutoff = timezone.now() - timedelta(seconds=settings.JOBS["HEARTBEAT_TIMEOUT"])
    return Worker.objects.filter(stopped_at__isnull=True, heartbeat_at__gte=cutoff)


def worker_overview() -> list[dict]:
    now = timezone.now()
    workers = list(live_workers())
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
            "hostname": w.hostname,
            "pid": w.pid,
            "queues": w.queues,
            "threads": w.threads,
            "started_at": w.started_at,
            "heartbeat_age_seconds": round((now - w.heartbeat_at).total_seconds(), 1),
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
    age = time.time() - float(raw)
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
