"""Reads of the metrics rollups for the Metrics page and the API: a series per window, and
breakdowns by queue or actor.

A series reads one row per bucket of one (queue, actor) series through the unique index, whatever
the number of jobs, queues and actors. Windows of hours read hour rollups up to the hour
watermark and minute rollups after it, so their newest hour is as fresh as the minutes.
"""

from __future__ import annotations

import operator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import reduce

from django.db import connection, transaction
from django.db.models import Q, Sum
from django.utils import timezone

from jobs import registry
from jobs.metrics import histogram
from jobs.metrics.models import ALL, MetricRollup, Resolution
from jobs.metrics.services import HOUR, floor_to, watermark


@dataclass(frozen=True)
class Window:
    name: str
    span: timedelta
    resolution: int
    step: timedelta  # one point of the series: several rollups merged
    label_format: str
    label_every: int


WINDOWS = {
    window.name: window
    for window in (
        Window("1h", timedelta(hours=1), Resolution.MINUTE, timedelta(minutes=1), "%H:%M", 10),
        Window("24h", timedelta(hours=24), Resolution.HOUR, timedelta(hours=1), "%H:00", 4),
        Window("7d", timedelta(days=7), Resolution.HOUR, timedelta(hours=1), "%a %d", 24),
        Window("30d", timedelta(days=30), Resolution.HOUR, timedelta(hours=6), "%d %b", 20),
    )
}
DEFAULT_WINDOW = "24h"
# Breakdowns (a table row per queue or actor) read every series of a span: at most a day of it.
BREAKDOWN_SPAN = timedelta(hours=24)
QUANTILES = (0.5, 0.95, 0.99)


_UNKNOWN = object()


def _spans(resolution: int, start: datetime, end: datetime, last_hour=_UNKNOWN) -> list[Q]:
    """The rollups that cover [start, end) once: of a window of hours, hour rows up to the first
    hour not rolled up yet (after ``last_hour``, the hour watermark: read if not given) and minute
    rows from there on (one condition each)."""
    if resolution == Resolution.MINUTE:
        return [Q(resolution=Resolution.MINUTE, bucket__gte=start, bucket__lt=end)]
    if last_hour is _UNKNOWN:
        last_hour = watermark(Resolution.HOUR)
    cut = min(max(last_hour + HOUR, start), end) if last_hour else start
    return [
        Q(resolution=Resolution.HOUR, bucket__gte=start, bucket__lt=cut),
        Q(resolution=Resolution.MINUTE, bucket__gte=cut, bucket__lt=end),
    ]


@contextmanager
def _serial_plans():
    """Queries planned without parallel workers on PostgreSQL: minute rows all lie in the last day,
    so the planner overestimates any recent span of hour rows tenfold and starts workers that cost
    more than summing a few thousand index entries."""
    if connection.vendor != "postgresql":
        yield
        return
    with transaction.atomic(savepoint=False), connection.cursor() as cursor:
        cursor.execute("SET LOCAL max_parallel_workers_per_gather = 0")
        yield


def _summary(succeeded: int, failed: int, wait: list[int], run: list[int]) -> dict:
    """Counts and percentiles of one point or a whole window (``wait``/``run``: dense histograms)."""
    finished = succeeded + failed
    return {
        "succeeded": succeeded,
        "failed": failed,
        "failure_rate": round(100.0 * failed / finished, 2) if finished else None,
        "wait_seconds": dict(zip(("p50", "p95", "p99"), histogram.percentiles(wait, QUANTILES), strict=True)),
        "run_seconds": dict(zip(("p50", "p95", "p99"), histogram.percentiles(run, QUANTILES), strict=True)),
    }


def metric_series(
    *, window: str = DEFAULT_WINDOW, queue: str = ALL, actor: str = ALL, now: datetime | None = None, last_hour=_UNKNOWN
):
    """Throughput, failures and wait/run percentiles of one queue, one actor, one pair or all
    (``""``), per step of ``window`` (newest last, zero-filled), with the window's totals."""
    spec = WINDOWS[window]
    now = now or timezone.now()
    end = floor_to(now, spec.step) + spec.step
    start = end - spec.span
    spans = _spans(spec.resolution, start, end, last_hour)
    rows = MetricRollup.objects.filter(reduce(operator.or_, spans), queue_name=queue, actor_name=actor)
    steps = int(spec.span / spec.step)
    # Dense counts, added into as rows come (a few rollups per point): one pass, no re-merging.
    points = [[0, 0, histogram.dense(), histogram.dense()] for _ in range(steps)]
    for bucket, succeeded, failed, wait, run in rows.values_list(
        "bucket", "succeeded", "failed", "wait_histogram", "run_histogram"
    ):
        point = points[int((bucket - start) / spec.step)]
        point[0] += succeeded
        point[1] += failed
        histogram.add(point[2], wait)
        histogram.add(point[3], run)
    all_wait = [sum(column) for column in zip(*(p[2] for p in points), strict=True)]
    all_run = [sum(column) for column in zip(*(p[3] for p in points), strict=True)]
    series = [
        {"start": start + index * spec.step, **_summary(succeeded, failed, wait, run)}
        for index, (succeeded, failed, wait, run) in enumerate(points)
    ]
    return {
        "window": spec.name,
        "queue": queue,
        "actor": actor,
        "step_seconds": int(spec.step.total_seconds()),
        "start": start,
        "end": end,
        "points": series,
        "totals": _summary(sum(p["succeeded"] for p in series), sum(p["failed"] for p in series), all_wait, all_run),
    }


def metric_breakdown(
    *, by: str, window: str = DEFAULT_WINDOW, limit: int = 100, now: datetime | None = None, last_hour=_UNKNOWN
):
    """Succeeded and failed per queue (``by="queue"``) or per actor over ``window`` (at most
    BREAKDOWN_SPAN of it), busiest first: SQL sums of the per-queue or per-actor ALL rows."""
    spec = WINDOWS[window]
    now = now or timezone.now()
    span = min(spec.span, BREAKDOWN_SPAN)
    resolution = Resolution.MINUTE if span <= timedelta(hours=1) else Resolution.HOUR
    step = timedelta(seconds=resolution)
    end = floor_to(now, step) + step
    start = end - span
    totals: dict[str, list[int]] = {}
    if by == "queue":
        series, field = Q(actor_name=ALL) & ~Q(queue_name=ALL), "queue_name"
    else:
        series, field = Q(queue_name=ALL) & ~Q(actor_name=ALL), "actor_name"
    # One sum per span, not one over their OR: that would scan the whole covering index.
    with _serial_plans():
        for cover in _spans(resolution, start, end, last_hour):
            rows = MetricRollup.objects.filter(cover, series).order_by().values(field)
            for row in rows.annotate(ok=Sum("succeeded"), dead=Sum("failed")):
                total = totals.setdefault(row[field], [0, 0])
                total[0] += row["ok"]
                total[1] += row["dead"]
    busiest = sorted(totals.items(), key=lambda item: (-(item[1][0] + item[1][1]), item[0]))[:limit]
    result = [
        {
            "name": name,
            "succeeded": ok,
            "failed": dead,
            "failure_rate": round(100.0 * dead / (ok + dead), 2) if ok + dead else None,
        }
        for name, (ok, dead) in busiest
    ]
    return {"by": by, "window": spec.name, "start": start, "end": end, "rows": result}


def metrics_page(*, window: str, queue: str, actor: str) -> dict:
    """Everything the Metrics page shows: the series, and the breakdowns by queue and by actor
    (the busiest 50), reading the hour watermark once, in one transaction."""
    now = timezone.now()
    with _serial_plans():
        last_hour = watermark(Resolution.HOUR)
        return {
            "series": metric_series(window=window, queue=queue, actor=actor, now=now, last_hour=last_hour),
            "queues": metric_breakdown(by="queue", window=window, now=now, last_hour=last_hour),
            "actors": metric_breakdown(by="actor", window=window, limit=50, now=now, last_hour=last_hour),
        }


def metric_names() -> dict:
    """The queues and actors the pickers offer: the registry's (every process knows every actor)."""
    return {"queues": list(registry.QUEUES), "actors": sorted(registry.actor_names())}
