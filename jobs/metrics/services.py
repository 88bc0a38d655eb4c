"""The metrics writer: finished jobs of closed minutes into minute rollups, closed hours into hour
rollups, and expired rollups out. Run every minute by the ``jobs.metrics_rollup`` actor.

Idempotent: a bucket's rows are computed whole from their source and upserted, so a pass run twice
(or two passes at once) writes the same rows. Each resolution keeps its own watermark, its newest
("", "") row: a pass starts after it and never recomputes a bucket whose jobs may be pruned since.
A minute is closed LATENESS after its end, so that jobs finishing in it have committed.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta

from django.db import connection, transaction
from django.db.models import Max, Min
from django.utils import timezone

from jobs.metrics import histogram
from jobs.metrics.models import ALL, RETENTION, MetricRollup, Resolution
from jobs.models import Job, JobStatus

LATENESS = timedelta(seconds=30)
# On a first run (or after a long stop), at most this far back, and this much per pass.
BACKFILL = timedelta(hours=24)
MAX_MINUTES_PER_PASS = 360
MAX_HOURS_PER_PASS = 48
MINUTE = timedelta(minutes=1)
HOUR = timedelta(hours=1)
FINISHED = (JobStatus.SUCCEEDED, JobStatus.FAILED)


def floor_to(moment: datetime, step: timedelta) -> datetime:
    seconds = int(step.total_seconds())
    epoch = int(moment.timestamp())
    return datetime.fromtimestamp(epoch - epoch % seconds, tz=UTC)


def metrics_rollup(*, now: datetime | None = None) -> dict:
    """One pass: minute rollups, hour rollups, retention. Returns how many buckets and rows it wrote."""
    now = now or timezone.now()
    minutes = rollup_minutes(now=now)
    hours = rollup_hours()
    pruned = metrics_prune(now=now)
    return {"minutes": minutes, "hours": hours, "pruned": pruned}


def watermark(resolution: int):
    """The newest bucket rolled up at ``resolution`` (None before the first pass)."""
    return MetricRollup.objects.filter(resolution=resolution, queue_name=ALL, actor_name=ALL).aggregate(
        last=Max("bucket")
    )["last"]


def rollup_minutes(*, now: datetime) -> int:
    """Roll up every closed minute after the minute watermark (at most MAX_MINUTES_PER_PASS)."""
    end = floor_to(now - LATENESS, MINUTE)  # the first minute that is not closed
    last = watermark(Resolution.MINUTE)
    if last is not None:
        start = last + MINUTE
    else:
        start = floor_to(now - BACKFILL, MINUTE)
        first = (
            Job.objects.filter(status__in=FINISHED, finished_at__gte=start, finished_at__lt=end)
            .order_by()
            .aggregate(first=Min("finished_at"))["first"]
        )
        start = floor_to(first, MINUTE) if first else end - MINUTE
    end = min(end, start + MAX_MINUTES_PER_PASS * MINUTE)
    if start >= end:
        return 0
    groups = _finished_groups(start, end)
    buckets = []
    moment = start
    while moment < end:
        buckets.append(moment)
        moment += MINUTE
    _write(Resolution.MINUTE, buckets, groups, add_all_rows=True)
    return len(buckets)


def _finished_groups(start: datetime, end: datetime) -> dict:
    """{(minute, queue, actor): [succeeded, failed, wait histogram, run histogram]} of jobs that
    finished (succeeded or failed for good) in [start, end)."""
    groups: dict = defaultdict(lambda: [0, 0, histogram.dense(), histogram.dense()])
    for minute, queue, actor, status, wait_k, run_k, n in _finished_rows(start, end):
        group = groups[(minute, queue, actor)]
        group[0 if status == JobStatus.SUCCEEDED else 1] += n
        if wait_k is not None:
            group[2][wait_k] += n
        if run_k is not None:
            group[3][run_k] += n
    return groups


def _finished_rows(start: datetime, end: datetime):
    """(minute, queue, actor, status, wait bucket, run bucket, count) rows: grouped in SQL on
    PostgreSQL (through the finished_at index), computed here elsewhere."""
    if connection.vendor == "postgresql":
        sql = (
            "SELECT date_trunc('minute', finished_at), queue_name, actor_name, status,"
            f" {histogram.bucket_sql('started_at - enqueued_at')}, {histogram.bucket_sql('finished_at - started_at')},"
            f" COUNT(*) FROM {Job._meta.db_table}"
            " WHERE status IN (%s, %s) AND finished_at >= %s AND finished_at < %s"
            " GROUP BY 1, 2, 3, 4, 5, 6"
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, [*FINISHED, start, end])
            yield from cursor.fetchall()
        return
    rows = Job.objects.filter(status__in=FINISHED, finished_at__gte=start, finished_at__lt=end).values_list(
        "finished_at", "queue_name", "actor_name", "status", "enqueued_at", "started_at"
    )
    for finished_at, queue, actor, status, enqueued_at, started_at in rows.iterator():
        wait_k = run_k = None
        if started_at and enqueued_at:
            wait_k = histogram.bucket_of(max((started_at - enqueued_at).total_seconds(), 0.0))
        if started_at:
            run_k = histogram.bucket_of(max((finished_at - started_at).total_seconds(), 0.0))
        yield floor_to(finished_at, MINUTE), queue, actor, status, wait_k, run_k, 1


def _write(resolution: int, buckets: list[datetime], groups: dict, *, add_all_rows: bool) -> None:
    """Upsert the rows of ``groups`` (with their ALL rows when ``add_all_rows``: groups of
    (queue, actor) pairs), and a ("", "") row for every bucket of ``buckets`` (the watermark), in
    one transaction."""
    rows: dict = {}

    def add(key, values):
        row = rows.setdefault(key, [0, 0, histogram.dense(), histogram.dense()])
        row[0] += values[0]
        row[1] += values[1]
        for index, count in enumerate(values[2]):
            row[2][index] += count
        for index, count in enumerate(values[3]):
            row[3][index] += count

    for bucket in buckets:
        rows[(bucket, ALL, ALL)] = [0, 0, histogram.dense(), histogram.dense()]
    for (bucket, queue, actor), values in groups.items():
        if not add_all_rows:  # hour rollups sum minute rows of every kind, ALL rows included
            add((bucket, queue, actor), values)
            continue
        for key in ((bucket, queue, actor), (bucket, queue, ALL), (bucket, ALL, actor), (bucket, ALL, ALL)):
            add(key, values)
    objects = [
        MetricRollup(
            resolution=resolution,
            bucket=bucket,
            queue_name=queue,
            actor_name=actor,
            succeeded=values[0],
            failed=values[1],
            wait_histogram=histogram.sparse(values[2]),
            run_histogram=histogram.sparse(values[3]),
        )
        for (bucket, queue, actor), values in rows.items()
    ]
    with transaction.atomic():
        MetricRollup.objects.bulk_create(
            objects,
            batch_size=1000,
            update_conflicts=True,
            unique_fields=["resolution", "queue_name", "actor_name", "bucket"],
            update_fields=["succeeded", "failed", "wait_histogram", "run_histogram"],
        )


def rollup_hours() -> int:
    """Roll up every hour after the hour watermark whose minutes are all rolled up."""
    minutes_done = watermark(Resolution.MINUTE)
    if minutes_done is None:
        return 0
    end = floor_to(minutes_done + MINUTE, HOUR)  # the first hour not complete in minute rollups
    last = watermark(Resolution.HOUR)
    if last is not None:
        start = last + HOUR
    else:
        first = MetricRollup.objects.filter(resolution=Resolution.MINUTE).aggregate(first=Min("bucket"))["first"]
        start = floor_to(first, HOUR)
    end = min(end, start + MAX_HOURS_PER_PASS * HOUR)
    if start >= end:
        return 0
    groups: dict = {}
    minute_rows = MetricRollup.objects.filter(
        resolution=Resolution.MINUTE, bucket__gte=start, bucket__lt=end
    ).values_list("bucket", "queue_name", "actor_name", "succeeded", "failed", "wait_histogram", "run_histogram")
    for bucket, queue, actor, succeeded, failed, wait, run in minute_rows.iterator():
        key = (floor_to(bucket, HOUR), queue, actor)
        group = groups.setdefault(key, [0, 0, histogram.dense(), histogram.dense()])
        group[0] += succeeded
        group[1] += failed
        histogram.add(group[2], wait)
        histogram.add(group[3], run)
    hours = []
    moment = start
    while moment < end:
        hours.append(moment)
        moment += HOUR
    _write(Resolution.HOUR, hours, groups, add_all_rows=False)
    return len(hours)


def metrics_prune(*, now: datetime) -> int:
    """Delete rollups past their resolution's retention (a day of minutes, 90 days of hours)."""
    deleted = 0
    for resolution, keep in RETENTION.items():
        deleted += MetricRollup.objects.filter(resolution=resolution, bucket__lt=now - keep).delete()[0]
    return deleted
