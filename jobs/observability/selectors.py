"""Reads for the worker pages and the per-actor resource figures."""

from __future__ import annotations

from datetime import timedelta

from django.db import connection
from django.db.models import DurationField, ExpressionWrapper, F
from django.db.models.functions import Now
from django.utils import timezone

from jobs.models import Job, JobAttempt, JobStatus, Worker
from jobs.selectors import live_workers
from jobs.validation import string_problem

S = JobStatus
RECENT_ATTEMPTS = 20


def _seconds(delta) -> float | None:
    return None if delta is None else round(max(delta.total_seconds(), 0.0), 1)


def worker_get(worker_id: str) -> dict | None:
    """A worker process (live or not) with its current jobs and its last 20 attempts; None if unknown."""
    if string_problem(worker_id):  # no worker has such an id, and PostgreSQL refuses NUL in a query (a 500)
        return None
    worker = (
        Worker.objects.select_related("host")
        .annotate(
            heartbeat_age=ExpressionWrapper(Now() - F("heartbeat_at"), output_field=DurationField()),
            age=ExpressionWrapper(Now() - F("started_at"), output_field=DurationField()),
        )
        .filter(pk=worker_id)
        .first()
    )
    if worker is None:
        return None
    live = live_workers().filter(pk=worker_id).exists()
    if worker.stopped_at is not None:
        uptime, state = _seconds(worker.stopped_at - worker.started_at), "stopped"
    else:
        uptime, state = _seconds(worker.age), "live" if live else "silent"
    current = [
        {
            "id": str(row["id"]),
            "actor": row["actor_name"],
            "queue": row["queue_name"],
            "attempt": row["attempts"],
            "progress": row["progress"],
            "started_at": row["started_at"],
        }
        for row in Job.objects.filter(status=S.RUNNING, worker_id=worker.id)
        .order_by("started_at")
        .values("id", "actor_name", "queue_name", "attempts", "progress", "started_at")
    ]
    return {
        "id": worker.id,
        "host_id": worker.host_id or "",
        "hostname": worker.hostname,
        "pid": worker.pid,
        "queues": worker.queues,
        "threads": worker.threads,
        "state": state,
        "started_at": worker.started_at,
        "ready_at": worker.ready_at,
        "stopped_at": worker.stopped_at,
        "stop_reason": worker.stop_reason,
        "exit_code": worker.exit_code,
        "uptime_seconds": uptime,
        "heartbeat_age_seconds": _seconds(worker.heartbeat_age),
        "rss_bytes": worker.rss_bytes,
        "jobs_succeeded": worker.jobs_succeeded,
        "jobs_failed": worker.jobs_failed,
        "current_jobs": current,
        "recent_attempts": recent_attempts(worker),
    }


def recent_attempts(worker: Worker, *, limit: int = RECENT_ATTEMPTS) -> list[dict]:
    """The last ``limit`` attempts that finished in this process, newest first.

    Successes are the job rows themselves (read backwards along the finished-jobs index within the
    process's life, so the cost does not grow with the table); other outcomes are attempt rows.
    """
    until = worker.stopped_at or timezone.now() + timedelta(minutes=1)
    fields = ("id", "actor_name", "attempts", "started_at", "finished_at", "cpu_seconds", "peak_rss_bytes")
    succeeded = [
        {**_attempt(row["id"], row["actor_name"], row["attempts"], "succeeded", row), "error_type": ""}
        for row in Job.objects.filter(
            status=S.SUCCEEDED, worker_id=worker.id, finished_at__gte=worker.started_at, finished_at__lte=until
        )
        .order_by("-finished_at")
        .values(*fields)[:limit]
    ]
    others = [
        {
            **_attempt(row["job_id"], row["job__actor_name"], row["number"], row["outcome"], row),
            "error_type": row["error_type"],
        }
        for row in JobAttempt.objects.filter(worker_id=worker.id)
        .order_by("-finished_at")
        .values(
            "job_id",
            "job__actor_name",
            "number",
            "outcome",
            "started_at",
            "finished_at",
            "cpu_seconds",
            "peak_rss_bytes",
            "error_type",
        )[:limit]
    ]
    merged = sorted(succeeded + others, key=lambda a: a["finished_at"] or worker.started_at, reverse=True)
    return merged[:limit]


def _attempt(job_id, actor, number, outcome, row) -> dict:
    run = None
    if row["started_at"] and row["finished_at"]:
        run = round(max((row["finished_at"] - row["started_at"]).total_seconds(), 0.0), 3)
    return {
        "job_id": str(job_id),
        "actor": actor,
        "attempt": number,
        "outcome": outcome,
        "started_at": row["started_at"],
        "finished_at": row["finished_at"],
        "run_seconds": run,
        "cpu_seconds": row["cpu_seconds"],
        "peak_rss_bytes": row["peak_rss_bytes"],
    }


def worker_pools() -> list[dict]:
    """Live worker processes grouped by host: the pool's processes, threads, memory and load."""
    hosts: dict[str, dict] = {}
    for worker in live_workers().order_by("hostname", "pid"):
        key = worker.host_id or worker.hostname
        pool = hosts.setdefault(
            key,
            {
                "host_id": key,
                "hostname": worker.hostname,
                "processes": 0,
                "threads": 0,
                "running_jobs": 0,
                "rss_bytes": 0,
                "queues": set(),
            },
        )
        pool["processes"] += 1
        pool["threads"] += worker.threads
        pool["running_jobs"] += worker.running_jobs
        pool["rss_bytes"] += worker.rss_bytes or 0
        pool["queues"].update(worker.queues or [])
    return [{**pool, "queues": sorted(pool["queues"])} for pool in sorted(hosts.values(), key=lambda p: p["host_id"])]


# --- Per-actor resource figures --------------------------------------------------------------------

USAGE_SQL = """
SELECT actor, COUNT(*), AVG(cpu), PERCENTILE_CONT(0.95) WITHIN GROUP (ORDER BY cpu), MAX(cpu), MAX(peak), MAX(growth)
FROM (
    SELECT actor_name AS actor, cpu_seconds AS cpu, peak_rss_bytes AS peak, rss_growth_bytes AS growth
    FROM jobs_job WHERE status = 'succeeded' AND finished_at >= %s AND cpu_seconds IS NOT NULL
    UNION ALL
    SELECT j.actor_name, a.cpu_seconds, a.peak_rss_bytes, a.rss_growth_bytes
    FROM jobs_jobattempt a JOIN jobs_job j ON j.id = a.job_id
    WHERE a.finished_at >= %s AND a.cpu_seconds IS NOT NULL
) AS measured
GROUP BY actor ORDER BY actor
"""


def actor_usage(*, window_minutes: int = 60) -> list[dict]:
    """Per actor, over the attempts that finished in the last ``window_minutes`` and were measured:
    how many, CPU seconds (average, p95, max), peak RSS and its largest growth (bytes).

    PostgreSQL aggregates in SQL; other databases compute the same figures here.
    """
    since = timezone.now() - timedelta(minutes=window_minutes)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(USAGE_SQL, [since, since])
            rows = cursor.fetchall()
    else:
        rows = _usage_in_python(since)
    return [
        {
            "actor": actor,
            "attempts": count,
            "cpu_seconds_avg": round(avg, 6),
            "cpu_seconds_p95": round(p95, 6),
            "cpu_seconds_max": round(top, 6),
            "peak_rss_bytes_max": peak,
            "rss_growth_bytes_max": growth,
        }
        for actor, count, avg, p95, top, peak, growth in rows
    ]


def _usage_in_python(since) -> list[tuple]:
    samples: dict[str, list[tuple]] = {}
    fields = ("cpu_seconds", "peak_rss_bytes", "rss_growth_bytes")
    for actor, *usage in Job.objects.filter(
        status=S.SUCCEEDED, finished_at__gte=since, cpu_seconds__isnull=False
    ).values_list("actor_name", *fields):
        samples.setdefault(actor, []).append(usage)
    for actor, *usage in JobAttempt.objects.filter(finished_at__gte=since, cpu_seconds__isnull=False).values_list(
        "job__actor_name", *fields
    ):
        samples.setdefault(actor, []).append(usage)
    rows = []
    for actor in sorted(samples):
        cpus = sorted(s[0] for s in samples[actor])
        rows.append(
            (
                actor,
                len(cpus),
                sum(cpus) / len(cpus),
                _percentile_cont(cpus, 0.95),
                cpus[-1],
                max((s[1] for s in samples[actor] if s[1] is not None), default=None),
                max((s[2] for s in samples[actor] if s[2] is not None), default=None),
            )
        )
    return rows


def _percentile_cont(values: list[float], fraction: float) -> float:
    """PostgreSQL's percentile_cont: linear interpolation between the closest ranks."""
    position = fraction * (len(values) - 1)
    low = int(position)
    high = min(low + 1, len(values) - 1)
    return values[low] + (values[high] - values[low]) * (position - low)
