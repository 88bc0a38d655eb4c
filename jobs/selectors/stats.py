"""The dashboard's and the stats API's figures: SQL aggregates, a fixed number of queries at any row count."""

from __future__ import annotations

import logging
import threading
import time
from datetime import timedelta

from django.db import connection
from django.db.models import Count
from django.db.models.functions import TruncHour, TruncMinute
from django.utils import timezone

from jobs.models import Job, JobStatus

S = JobStatus
logger = logging.getLogger(__name__)


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
    (by_status, by_queue), age = counts_with_age()
    latency = latency_percentiles(since=since)
    return {
        "by_status": by_status,
        "counts_age_seconds": round(age, 1),
        "by_queue": by_queue,
        "throughput_per_minute": [
            {"minute": b["start"].isoformat(), "succeeded": b["succeeded"], "failed": b["failed"]}
            for b in throughput_buckets(since=since, until=now, bucket_seconds=60)
        ],
        "wait_seconds": latency["wait"],
        "run_seconds": latency["run"],
        "window_minutes": window_minutes,
    }


def dashboard_counts() -> tuple[dict[str, int], dict[str, dict[str, int]]]:
    """Counts by status and by queue and status: exact, or, where counting is slow, a snapshot.

    Counting reads every job (an index-only scan, 100 ms at a million jobs on 2 cores), and every
    open dashboard asks for it every few seconds. So, as Oban Web does above a number of jobs,
    counts over ``COUNTS_SNAPSHOT_JOBS`` jobs or more are not made again for every request: for
    ``COUNTS_FRESH_SECONDS`` the last counts are served as they are, then for up to
    ``COUNTS_STALE_SECONDS`` they are served while one thread of the process counts again in the
    background; older than that, the request counts. Fewer jobs are counted on every request.
    """
    return _COUNTS.get()[0]


def counts_with_age() -> tuple[tuple[dict[str, int], dict[str, dict[str, int]]], float]:
    """``dashboard_counts()`` and how many seconds old those counts are (0: counted for this call)."""
    return _COUNTS.get()


def count_by_queue_and_status() -> tuple[dict[str, int], dict[str, dict[str, int]]]:
    """One GROUP BY over all jobs.

    COUNT(*), not COUNT(id): PostgreSQL then answers from the (queue_name, status) index alone,
    three times faster at a million rows.
    """
    by_status = {s.value: 0 for s in JobStatus}
    by_queue: dict[str, dict[str, int]] = {}
    for row in Job.objects.order_by().values("queue_name", "status").annotate(n=Count("*")):
        by_status[row["status"]] = by_status.get(row["status"], 0) + row["n"]
        by_queue.setdefault(row["queue_name"], {})[row["status"]] = row["n"]
    return by_status, by_queue


COUNTS_SNAPSHOT_JOBS = 200_000
COUNTS_FRESH_SECONDS = 5.0
COUNTS_STALE_SECONDS = 60.0


class _CountsSnapshot:
    """The last counts of this process, kept while the table is large (see ``dashboard_counts``)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.value = None
        self.counted_at = 0.0  # time.monotonic() when the counting started
        self.refreshing = False

    def clear(self) -> None:
        with self.lock:
            self.value, self.counted_at = None, 0.0

    def get(self):
        """(counts, their age in seconds): the snapshot, or counted now (age 0)."""
        with self.lock:
            value, age = self.value, time.monotonic() - self.counted_at
            if value is not None and age < COUNTS_STALE_SECONDS:
                if age >= COUNTS_FRESH_SECONDS and not self.refreshing:
                    self.refreshing = True
                    threading.Thread(target=self._refresh_in_background, name="jobs-counts", daemon=True).start()
                return value, age
        return self._count(), 0.0

    def _count(self):
        started = time.monotonic()
        value = count_by_queue_and_status()
        with self.lock:
            large = sum(value[0].values()) >= COUNTS_SNAPSHOT_JOBS
            self.value, self.counted_at = (value, started) if large else (None, 0.0)
        return value

    def _refresh_in_background(self) -> None:
        from django.db import connections

        try:
            self._count()
        except Exception:  # the next request counts (or tries again)
            logger.exception("Counting jobs in the background failed")
        finally:
            with self.lock:
                self.refreshing = False
            connections.close_all()  # this thread's own connection


_COUNTS = _CountsSnapshot()


def throughput_buckets(*, since, until, bucket_seconds: int) -> list[dict]:
    """Succeeded and failed jobs per bucket between ``since`` and ``until``, zero-filled.

    Uses the (status, finished_at) index; ``bucket_seconds`` is 60 (TruncMinute) or 3600 (TruncHour).
    """
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
    from jobs.selectors.system import queue_overview, scheduler_status, worker_overview

    now = timezone.now()
    (by_status, by_queue), counts_age = counts_with_age()
    last_hour = throughput_buckets(since=now - timedelta(hours=1), until=now, bucket_seconds=60)
    last_day = throughput_buckets(since=now - timedelta(hours=24), until=now, bucket_seconds=3600)
    succeeded = sum(b["succeeded"] for b in last_hour)
    failed = sum(b["failed"] for b in last_hour)
    workers = worker_overview()
    return {
        "now": now,
        "by_status": by_status,
        "counts_age": round(counts_age, 1),
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
