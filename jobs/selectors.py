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


def job_list(
    *, status=None, actor=None, queue=None, error_type=None, created_after=None, created_before=None, search=None
) -> QuerySet:
    qs = Job.objects.all()
    if status:
        qs = qs.filter(status__in=status if isinstance(status, (list, tuple)) else [status])
    if actor:
        qs = qs.filter(actor_name=actor)
    if queue:
        qs = qs.filter(queue_name=queue)
    if error_type:
        qs = qs.filter(error_type=error_type)
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


def _percentile(values: list[float], fraction: float) -> float | None:
    if not values:
        return None
    values = sorted(values)
    index = min(int(round(fraction * (len(values) - 1))), len(values) - 1)
    return round(values[index], 3)


def job_stats(*, window_minutes: int = 60) -> dict:
    """Counts by status and queue, throughput per minute, p50/p95 wait and run times (the API's
    view of what the overview page shows, from the same SQL aggregates)."""
    now = timezone.now()
    since = now - timedelta(minutes=window_minutes)
    by_status, by_queue = dashboard_counts()
    latency = latency_percentiles(since=since)
    return {
        "by_status": by_status,
        "by_queue": by_queue,
        "throughput_per_minute": [
            {"minute": b["start"].isoformat(), "succeeded": b["succeeded"], "failed": b["failed"]}
            for b in throughput_buckets(since=since, until=now, bucket_seconds=60)
        ],
        "wait_seconds": latency["wait"],
        "run_seconds": latency["run"],
        "window_minutes": window_minutes,
    }


def _redis():
    return dramatiq.get_broker().client


def queue_overview(*, db_counts: dict[str, dict[str, int]] | None = None) -> list[dict]:
    """Per queue: messages waiting in Redis (ready and delayed), DB counts, oldest queued age.

    ``db_counts`` (queue → status → count) saves a second GROUP BY when the caller has it already.
    """
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
    db_counts = dashboard_counts()[1] if db_counts is None else db_counts
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


# --- Dashboard reads: SQL aggregates and keyset pages, a fixed number of queries at any row count ---


def dashboard_counts() -> tuple[dict[str, int], dict[str, dict[str, int]]]:
    """Counts by status and by queue and status, from one GROUP BY.

    COUNT(*), not COUNT(id): PostgreSQL then answers from the (queue_name, status) index alone,
    three times faster at a million rows.
    """
    by_status = {s.value: 0 for s in JobStatus}
    by_queue: dict[str, dict[str, int]] = {}
    for row in Job.objects.order_by().values("queue_name", "status").annotate(n=Count("*")):
        by_status[row["status"]] = by_status.get(row["status"], 0) + row["n"]
        by_queue.setdefault(row["queue_name"], {})[row["status"]] = row["n"]
    return by_status, by_queue


def throughput_buckets(*, since, until, bucket_seconds: int) -> list[dict]:
    """Succeeded and failed jobs per bucket between ``since`` and ``until``, zero-filled.

    Uses the (status, finished_at) index; ``bucket_seconds`` is 60 (TruncMinute) or 3600 (TruncHour).
    """
    from django.db.models.functions import TruncHour, TruncMinute

    trunc = TruncMinute if bucket_seconds == 60 else TruncHour
    start = since.replace(second=0, microsecond=0)
    if bucket_seconds == 3600:
        start = start.replace(minute=0)
    counts: dict = {}
    rows = (
        Job.objects.filter(status__in=(S.SUCCEEDED, S.FAILED), finished_at__gte=start, finished_at__lt=until)
        .order_by()
        .annotate(bucket=trunc("finished_at"))
        .values("bucket", "status")
        .annotate(n=Count("*"))
    )
    for row in rows:
        counts.setdefault(row["bucket"], {"succeeded": 0, "failed": 0})[row["status"]] = row["n"]
    buckets = []
    moment = start
    step = timedelta(seconds=bucket_seconds)
    while moment < until:
        found = counts.get(moment, {"succeeded": 0, "failed": 0})
        buckets.append({"start": moment, "succeeded": found["succeeded"], "failed": found["failed"]})
        moment += step
    return buckets


def latency_percentiles(*, since) -> dict:
    """p50/p95 wait (enqueued → started) and run (started → finished) of jobs finished since ``since``.

    PostgreSQL computes exact percentiles in SQL; other databases use the newest 5,000 rows.
    """
    finished = Job.objects.filter(status__in=(S.SUCCEEDED, S.FAILED), finished_at__gte=since)
    if connection.vendor == "postgresql":
        sql = (
            "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY EXTRACT(EPOCH FROM started_at - enqueued_at)),"
            " percentile_cont(0.95) WITHIN GROUP (ORDER BY EXTRACT(EPOCH FROM started_at - enqueued_at)),"
            " percentile_cont(0.5) WITHIN GROUP (ORDER BY EXTRACT(EPOCH FROM finished_at - started_at)),"
            " percentile_cont(0.95) WITHIN GROUP (ORDER BY EXTRACT(EPOCH FROM finished_at - started_at))"
            f" FROM {Job._meta.db_table} WHERE status IN (%s, %s) AND finished_at >= %s AND started_at IS NOT NULL"
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, [S.SUCCEEDED.value, S.FAILED.value, since])
            values = [None if v is None else round(max(float(v), 0.0), 3) for v in cursor.fetchone()]
        return {"wait": {"p50": values[0], "p95": values[1]}, "run": {"p50": values[2], "p95": values[3]}}
    waits, runs = [], []
    rows = finished.order_by("-finished_at").values_list("enqueued_at", "started_at", "finished_at")[:5000]
    for enqueued_at, started_at, finished_at in rows:
        if started_at and enqueued_at:
            waits.append(max((started_at - enqueued_at).total_seconds(), 0.0))
        if started_at:
            runs.append(max((finished_at - started_at).total_seconds(), 0.0))
    return {
        "wait": {"p50": _percentile(waits, 0.5), "p95": _percentile(waits, 0.95)},
        "run": {"p50": _percentile(runs, 0.5), "p95": _percentile(runs, 0.95)},
    }


def dashboard_overview() -> dict:
    """Everything the overview page shows, in a fixed number of queries."""
    now = timezone.now()
    by_status, by_queue = dashboard_counts()
    last_hour = throughput_buckets(since=now - timedelta(hours=1), until=now, bucket_seconds=60)
    last_day = throughput_buckets(since=now - timedelta(hours=24), until=now, bucket_seconds=3600)
    succeeded = sum(b["succeeded"] for b in last_hour)
    failed = sum(b["failed"] for b in last_hour)
    workers = worker_overview()
    return {
        "now": now,
        "by_status": by_status,
        "total": sum(by_status.values()),
        "last_hour": last_hour,
        "last_day": last_day,
        "finished_last_hour": succeeded + failed,
        "failed_last_hour": failed,
        "failure_rate": round(100.0 * failed / (succeeded + failed), 1) if succeeded + failed else None,
        "latency": latency_percentiles(since=now - timedelta(hours=1)),
        "queues": queue_overview(db_counts=by_queue),
        "workers": workers,
        "scheduler": scheduler_status(),
    }


LIST_FIELDS = (
    "id",
    "actor_name",
    "queue_name",
    "status",
    "attempts",
    "max_attempts",
    "progress",
    "created_at",
    "started_at",
    "finished_at",
    "error_type",
)


def job_list_page(qs: QuerySet, *, after=None, before=None, size: int = 50) -> dict:
    """One keyset page of ``qs`` on (created_at, id), newest first: the same cost at any depth.

    ``after`` / ``before`` are (created_at, id) of the row the page follows or precedes.
    Returns rows, and the keys of the first and last rows when newer or older rows exist.
    """
    qs = qs.only(*LIST_FIELDS)
    if before is not None:
        created_at, pk = before
        # "created_at >= t" is the part an index can range-scan; the tie on t is settled by id.
        rows = list(
            qs.filter(created_at__gte=created_at)
            .exclude(created_at=created_at, pk__lte=pk)
            .order_by("created_at", "id")[: size + 1]
        )
        has_newer, has_older = len(rows) > size, True
        rows = list(reversed(rows[:size]))
    else:
        if after is not None:
            created_at, pk = after
            qs = qs.filter(created_at__lte=created_at).exclude(created_at=created_at, pk__gte=pk)
        rows = list(qs.order_by("-created_at", "-id")[: size + 1])
        has_newer, has_older = after is not None, len(rows) > size
        rows = rows[:size]
    return {
        "rows": rows,
        "newer": (rows[0].created_at, rows[0].pk) if rows and has_newer else None,
        "older": (rows[-1].created_at, rows[-1].pk) if rows and has_older else None,
    }


def jobs_by_ids(ids) -> QuerySet:
    return Job.objects.filter(pk__in=list(ids))


def job_children(job_id, *, limit: int = 50) -> list[Job]:
    return list(Job.objects.filter(parent_id=job_id).only(*LIST_FIELDS).order_by("-created_at", "-id")[:limit])


def dead_letter_jobs(*, actor: str | None = None, error_type: str | None = None) -> QuerySet:
    qs = Job.objects.filter(status=S.FAILED)
    if actor is not None:
        qs = qs.filter(actor_name=actor)
    if error_type is not None:
        qs = qs.filter(error_type=error_type)
    return qs


def dead_letter_groups(*, limit: int = 200) -> list[dict]:
    """Failed jobs grouped by actor and error type, largest group first, with a sample message."""
    from django.db.models import Max

    return list(
        dead_letter_jobs()
        .order_by()
        .values("actor_name", "error_type")
        .annotate(n=Count("*"), first=Min("finished_at"), last=Max("finished_at"), sample=Max("error_message"))
        .order_by("-n", "actor_name", "error_type")[:limit]
    )


def host_metrics() -> dict:
    """CPU, memory and disk of the web host (psutil) and Redis's own figures."""
    import os

    import psutil

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
