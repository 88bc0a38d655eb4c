"""A worker process's maintenance thread: heartbeats, cancellation, soft time limits, recovery.

Heartbeats are batched per process (one UPDATE for all its running jobs), not sent per job.
"""

from __future__ import annotations

import logging
import os
import random
import socket
import threading
import time

from django.db import DatabaseError, close_old_connections, connection
from django.db.models import F
from django.utils import timezone
from dramatiq.threading import raise_thread_exception

from jobs import context, recovery
from jobs.errors import JobCancelled, SoftTimeLimitExceeded
from jobs.models import Job, JobStatus, Worker
from jobs.services import engine_setting

logger = logging.getLogger(__name__)


class WorkerStats:
    """Counters a worker process keeps in memory and flushes with its heartbeat."""

    def __init__(self):
        self.lock = threading.Lock()
        self.succeeded = 0
        self.failed = 0

    def record(self, ok: bool) -> None:
        with self.lock:
            if ok:
                self.succeeded += 1
            else:
                self.failed += 1

    def take(self) -> tuple[int, int]:
        with self.lock:
            counts = (self.succeeded, self.failed)
            self.succeeded = self.failed = 0
            return counts


class MaintenanceThread(threading.Thread):
    def __init__(self, *, worker_id: str, queues, threads: int, stats: WorkerStats):
        super().__init__(name="jobs-maintenance", daemon=True)
        self.worker_id = worker_id
        self.queues = sorted(queues or [])
        self.threads = threads
        self.stats = stats
        self.stopping = threading.Event()
        self.started_at = timezone.now()
        self._next_recovery = 0.0  # run at once: a starting worker relays pending jobs

    def run(self) -> None:
        interval = engine_setting("HEARTBEAT_INTERVAL")
        while not self.stopping.is_set():
            try:
                self.beat()
                if time.monotonic() >= self._next_recovery:
                    recovery.recover()
                    # Jitter so that many workers do not reap in lockstep.
                    self._next_recovery = time.monotonic() + engine_setting("MAINTENANCE_INTERVAL") * random.uniform(
                        0.8, 1.2
                    )
            except DatabaseError as exc:
                logger.warning("Worker maintenance failed, retrying: %s", exc)
                close_old_connections()
            except Exception:
                logger.exception("Worker maintenance failed")
            self.stopping.wait(interval)
        connection.close()

    def beat(self) -> None:
        now = timezone.now()
        running = context.running_jobs()
        ids = [ctx.job_id for ctx in running]
        cancelled: set[str] = set()
        if ids:
            Job.objects.filter(pk__in=ids, status=JobStatus.RUNNING).update(heartbeat_at=now)
            cancelled = {
                str(pk)
                for pk in Job.objects.filter(pk__in=ids, cancel_requested_at__isnull=False).values_list("pk", flat=True)
            }
        for ctx in running:
            self._enforce(ctx, cancelled)
        succeeded, failed = self.stats.take()
        updated = Worker.objects.filter(pk=self.worker_id).update(
            heartbeat_at=now,
            stopped_at=None,
            running_jobs=len(running),
            jobs_succeeded=F("jobs_succeeded") + succeeded,
            jobs_failed=F("jobs_failed") + failed,
        )
        if not updated:
            Worker.objects.update_or_create(
                pk=self.worker_id,
                defaults={
                    "hostname": socket.gethostname(),
                    "pid": os.getpid(),
                    "queues": self.queues,
                    "threads": self.threads,
                    "started_at": self.started_at,
                    "heartbeat_at": now,
                    "running_jobs": len(running),
                    "jobs_succeeded": succeeded,
                    "jobs_failed": failed,
                },
            )

    def _enforce(self, ctx, cancelled: set[str]) -> None:
        if ctx.job_id in cancelled and not ctx.cancel_event.is_set():
            ctx.cancel_event.set()
            if ctx.spec is not None and ctx.spec.abortable:
                raise_thread_exception(ctx.thread_id, JobCancelled)
        soft = ctx.spec.soft_time_limit if ctx.spec else None
        if soft and not ctx.soft_limit_fired and ctx.elapsed >= soft:
            ctx.soft_limit_fired = True
            raise_thread_exception(ctx.thread_id, SoftTimeLimitExceeded)

    def stop(self) -> None:
        self.stopping.set()
        self.join(timeout=10)
        try:
            Worker.objects.filter(pk=self.worker_id).update(stopped_at=timezone.now(), running_jobs=0)
        except DatabaseError:
            pass
        finally:
            connection.close()
