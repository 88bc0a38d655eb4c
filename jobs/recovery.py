"""What the broker alone does not guarantee, in one pass: publish due jobs, release jobs whose worker
is gone, republish messages Redis lost.

It runs in every worker host's supervisor (off the heartbeat path) and as the scheduler's
``jobs.recover`` schedule. Any number of passes may run at once: each takes its rows with
``FOR UPDATE SKIP LOCKED`` and re-checks its condition in the UPDATE, so a job is published,
released or republished once. Every cutoff is computed from the database's clock.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.db import connection, transaction

from jobs import broker, clock
from jobs.models import Job, JobStatus, Worker, WorkerHost
from jobs.services import ReleaseReason, jobs_release, jobs_republish_lost, publish_due

logger = logging.getLogger(__name__)
S = JobStatus


def liveness_timeout() -> float:
    return settings.JOBS["LIVENESS_TIMEOUT"]


def _observer_heard_throughout(now, timeout: float) -> bool:
    """True when some live host has been heard without a gap for a whole timeout: only then is a
    silent host silent, and not a database outage that stopped every heartbeat alike."""
    fresh = now - timedelta(seconds=max(3 * settings.JOBS["HEARTBEAT_INTERVAL"], 1.0))
    return WorkerHost.objects.filter(
        stopped_at__isnull=True, heartbeat_at__gte=fresh, beating_since__lte=now - timedelta(seconds=timeout)
    ).exists()


_LOST_COPIES_SQL = """
SELECT j.worker_id, w.stopped_at IS NOT NULL, w.stop_reason, h.id
FROM {job} j
LEFT JOIN {worker} w ON w.id = j.worker_id
LEFT JOIN {host} h ON h.id = w.host_id
WHERE j.status = 'running' AND (
    w.stopped_at IS NOT NULL
    OR (w.id IS NULL AND j.started_at < %s)
    OR (h.id IS NOT NULL AND h.heartbeat_at < %s)
    OR (w.id IS NOT NULL AND h.id IS NULL AND w.heartbeat_at < %s)
)
"""


def release_lost_copies() -> int:
    """Release the running jobs of worker processes known dead, and of hosts gone silent for the
    liveness timeout (only while some other host proves the database was reachable meanwhile)."""
    now = clock.db_now()
    timeout = liveness_timeout()
    cutoff = now - timedelta(seconds=timeout)
    sql = _LOST_COPIES_SQL.format(job=Job._meta.db_table, worker=Worker._meta.db_table, host=WorkerHost._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(sql, [cutoff, cutoff, cutoff])
        rows = cursor.fetchall()
    if not rows:
        return 0
    dead: dict[str, str] = {}
    silent_workers: set[str] = set()
    silent_hosts: set[str] = set()
    for worker_id, stopped, stop_reason, host_id in rows:
        if stopped:
            dead[worker_id] = stop_reason if stop_reason in (ReleaseReason.STOPPED,) else ReleaseReason.CRASH
        else:
            silent_workers.add(worker_id)
            if host_id:
                silent_hosts.add(host_id)
    if silent_workers and not _observer_heard_throughout(now, timeout):
        logger.info("Not releasing jobs of %d silent worker(s): no host was heard throughout.", len(silent_workers))
        silent_workers, silent_hosts = set(), set()
    released = 0
    for worker_id, reason in dead.items():
        released += len(jobs_release(worker_ids=[worker_id], reason=reason))
    if silent_workers:
        with transaction.atomic():
            # A host declared lost rejoins as a new host (its supervisor sees this and restarts).
            WorkerHost.objects.filter(pk__in=silent_hosts, stopped_at__isnull=True).update(stopped_at=clock.Now())
            Worker.objects.filter(pk__in=silent_workers, stopped_at__isnull=True).update(
                stopped_at=clock.Now(), stop_reason=ReleaseReason.HOST_LOST
            )
            released += len(
                jobs_release(
                    worker_ids=sorted(silent_workers),
                    reason=ReleaseReason.HOST_LOST,
                    detail=f"no heartbeat for {timeout:g} s",
                )
            )
    return released


class LostMessageScan:
    """Finds queued jobs whose message Redis no longer holds, a batch at a time, oldest first,
    resuming after the last job it looked at so that a long backlog is covered in turn."""

    def __init__(self, *, batch: int = 1000):
        self.batch = batch
        self.after = None

    def run(self) -> int:
        age = settings.JOBS["LOST_MESSAGE_AGE"]
        waiting = Job.objects.filter(status=S.QUEUED, enqueued_at__lt=clock.Now() - timedelta(seconds=age))
        if self.after is not None:
            waiting = waiting.filter(enqueued_at__gt=self.after)
        rows = list(
            waiting.order_by("enqueued_at").values("id", "dispatch_token", "queue_name", "enqueued_at")[: self.batch]
        )
        self.after = rows[-1]["enqueued_at"] if len(rows) == self.batch else None
        if not rows:
            return 0
        present = broker.messages_present([(r["id"], r["dispatch_token"], r["queue_name"]) for r in rows])
        lost = [r for r, here in zip(rows, present, strict=True) if not here]
        if not lost:
            return 0
        republished = jobs_republish_lost(lost)
        if republished:
            logger.warning("Republished %d job(s) whose message Redis no longer held.", republished)
        return republished


def recover(scan: LostMessageScan | None = None) -> dict:
    """One full pass: what the scheduler's ``jobs.recover`` and every supervisor run."""
    return {
        "published": publish_due(),
        "released": release_lost_copies(),
        "republished": (scan or LostMessageScan()).run(),
    }
