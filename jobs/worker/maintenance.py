"""A worker process's maintenance thread: it watches the jobs this process runs.

- Fencing: a copy whose job no longer names it (status or token changed) is stopped.
- Cancellation and soft time limits reach the running thread.
- Reconciliation: a job the database says runs here, which this process does not run (its success
  write was undone by a database crash), is released.
- Job locks (jobs.locks) held by this process's jobs are extended while they run.
- Statistics for the workers page; and, for a process started without a supervisor, its heartbeat.

Nothing here decides another process's liveness: that is the supervisor's heartbeat, written from
outside this process's GIL (see jobs.worker.supervisor).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from datetime import timedelta

import psutil
from django.db import Error
from django.db.models import F
from django.db.models.functions import Now

from jobs import context, locks, services
from jobs.db import drop_connection
from jobs.errors import JobCancelled, JobFenced, SoftTimeLimitExceeded
from jobs.models import Job, JobStatus, Worker

logger = logging.getLogger(__name__)

CHECK_INTERVAL = 0.5
STATS_INTERVAL = 2.0
# A job claimed for this process this long ago and not running here is an orphan.
ORPHAN_AFTER_SECONDS = 10


class ProcessMaintenance(threading.Thread):
    def __init__(self, *, runtime, queues, threads: int):
        super().__init__(name="jobs-maintenance", daemon=True)
        self.runtime = runtime
        self.queues = sorted(queues or [])
        self.threads = threads
        self.stopping = threading.Event()
        self._next_stats = 0.0
        self._process = psutil.Process()

    def run(self) -> None:
        try:
            Worker.objects.filter(pk=self.runtime.worker_id).update(ready_at=Now())
        except Error:
            drop_connection()
        while not self.stopping.is_set():
            try:
                self.check_copies()
                locks.extend_held()  # the job locks held here live as long as their jobs run
                if time.monotonic() >= self._next_stats:
                    self._next_stats = time.monotonic() + STATS_INTERVAL
                    self.report()
                    self.release_orphans()
            except Error as exc:
                logger.warning("Worker maintenance: database error, retrying: %s", exc)
                drop_connection()
            except Exception:
                logger.exception("Worker maintenance failed")
            self.stopping.wait(CHECK_INTERVAL)
        drop_connection()

    def check_copies(self) -> None:
        running = [ctx for ctx in context.running_jobs() if ctx.active]
        if running:
            rows = services.execution.copies_state(running)
            for ctx in running:
                status, token, cancel_requested = rows.get(ctx.job_id, (None, None, False))
                if status != JobStatus.RUNNING or token != ctx.token:
                    self._fence(ctx)
                elif cancel_requested:
                    self._cancel(ctx)
        for ctx in running:
            soft = ctx.spec.soft_time_limit if ctx.spec else None
            if soft and not ctx.soft_limit_fired and ctx.elapsed >= soft:
                ctx.soft_limit_fired = True
                ctx.interrupt(SoftTimeLimitExceeded)

    @staticmethod
    def _fence(ctx) -> None:
        if ctx.fenced or not ctx.active:
            return
        logger.warning("Job %s was taken from this copy (attempt %s): stopping it.", ctx.job_id, ctx.attempt)
        ctx.fence()
        ctx.interrupt(JobFenced)

    @staticmethod
    def _cancel(ctx) -> None:
        if ctx.cancel_event.is_set():
            return
        ctx.cancel_event.set()
        if ctx.spec is not None and ctx.spec.abortable:
            ctx.interrupt(JobCancelled)

    def report(self) -> None:
        succeeded, failed = self.runtime.stats.take()
        fields = {
            "running_jobs": len(context.running_jobs()),
            "rss_bytes": self._process.memory_info().rss,
            "jobs_succeeded": F("jobs_succeeded") + succeeded,
            "jobs_failed": F("jobs_failed") + failed,
        }
        if not self.runtime.supervised:
            fields.update(heartbeat_at=Now(), stopped_at=None)
        if not Worker.objects.filter(pk=self.runtime.worker_id).update(**fields):
            Worker.objects.update_or_create(
                pk=self.runtime.worker_id,
                defaults={
                    "hostname": socket.gethostname(),
                    "pid": os.getpid(),
                    "queues": self.queues,
                    "threads": self.threads,
                    "running_jobs": fields["running_jobs"],
                    "rss_bytes": fields["rss_bytes"],
                    "jobs_succeeded": succeeded,
                    "jobs_failed": failed,
                },
            )

    def release_orphans(self) -> None:
        mine = {ctx.job_id for ctx in context.running_jobs()} | set(self.runtime.pending_successes)
        orphans = [
            str(pk)
            for pk in Job.objects.filter(
                status=JobStatus.RUNNING,
                worker_id=self.runtime.worker_id,
                started_at__lt=Now() - timedelta(seconds=ORPHAN_AFTER_SECONDS),
            ).values_list("pk", flat=True)
            if str(pk) not in mine
        ]
        if orphans:
            services.jobs_release(
                worker_ids=[self.runtime.worker_id], job_ids=orphans, reason=services.ReleaseReason.ORPHANED
            )

    def stop(self) -> None:
        self.stopping.set()
        self.join(timeout=10)
        try:
            if not self.runtime.supervised:
                Worker.objects.filter(pk=self.runtime.worker_id).update(
                    stopped_at=Now(), running_jobs=0, stop_reason=services.ReleaseReason.STOPPED
                )
        except Error:
            pass
        finally:
            drop_connection()
