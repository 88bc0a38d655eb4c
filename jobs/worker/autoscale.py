"""Autoscaling of a worker host's processes: ``run_worker --autoscale MIN:MAX`` (as Celery's).

A thread of the supervisor measures, every ``AUTOSCALE_INTERVAL`` seconds, the jobs waiting to start
in the queues this host serves (pending or queued, from the database) and decides:

- grow by one process while more jobs wait than the current processes have threads, or the oldest
  has waited longer than ``AUTOSCALE_MAX_WAIT`` seconds; never above MAX, never while the host's
  available memory is below ``AUTOSCALE_MIN_FREE_MEMORY_MB`` (psutil);
- shrink once nothing has waited for ``AUTOSCALE_QUIET_PERIOD`` seconds, to what the jobs still
  running need (never below MIN); the least busy processes are retired by draining (the graceful
  SIGTERM path: fetched messages go back, running jobs finish), never killed.

The thread only asks (``Supervisor.request_resize``); the supervisor's main thread, which owns the
processes, applies it. Each change is logged and recorded in the audit trail (action
``workers.autoscale``), which the workers page lists.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from dataclasses import dataclass

import psutil
from django.conf import settings
from django.db import Error

from jobs.audit.services import audit_record
from jobs.db import drop_connection
from jobs.models import WorkerHost
from jobs.selectors.system import queue_backlog

logger = logging.getLogger(__name__)

AUDIT_ACTION = "workers.autoscale"


@dataclass(frozen=True)
class Bounds:
    minimum: int
    maximum: int


def parse_bounds(text: str) -> Bounds:
    """``"MIN:MAX"`` (``"1:4"``); ValueError unless 1 <= MIN <= MAX."""
    try:
        low, high = (int(part) for part in str(text).split(":"))
    except ValueError:
        raise ValueError(f"--autoscale takes MIN:MAX, e.g. 1:4, not {text!r}.") from None
    if not 1 <= low <= high:
        raise ValueError(f"--autoscale {text}: MIN must be at least 1 and at most MAX.")
    return Bounds(low, high)


@dataclass(frozen=True)
class Load:
    waiting: int  # jobs pending or queued in the host's queues
    oldest_wait: float | None  # seconds the oldest of them has waited
    running: int  # jobs running in this host's processes
    running_by_worker: dict[str, int]


def setting(name: str):
    return settings.JOBS[name]


class Autoscaler:
    """Decides the number of processes from the load; ``run`` is the supervisor's thread."""

    def __init__(self, *, bounds: Bounds, threads: int):
        self.bounds = bounds
        self.threads = max(threads, 1)
        self.quiet_since: float | None = None
        self._memory_warned = False

    def decide(self, *, current: int, load: Load, memory_short: bool, now: float) -> tuple[int, str]:
        """The target number of processes and why (an empty reason: no change)."""
        low, high = self.bounds.minimum, self.bounds.maximum
        if current < low:
            return low, f"below the minimum {low}"
        if load.waiting:
            self.quiet_since = None
            backlog = load.waiting > current * self.threads
            late = load.oldest_wait is not None and load.oldest_wait > setting("AUTOSCALE_MAX_WAIT")
            if (backlog or late) and current < high:
                if memory_short:
                    return current, ""
                age = f"{load.oldest_wait:.1f}" if load.oldest_wait is not None else "?"
                return current + 1, f"{load.waiting} job(s) waiting, the oldest for {age} s"
            return current, ""
        if self.quiet_since is None:
            self.quiet_since = now
        quiet = now - self.quiet_since
        if quiet >= setting("AUTOSCALE_QUIET_PERIOD") and current > low:
            needed = max(low, math.ceil(load.running / self.threads))
            if needed < current:
                return needed, f"no job waiting for {quiet:.0f} s; {load.running} running"
        return current, ""

    @staticmethod
    def memory_short() -> bool:
        return psutil.virtual_memory().available < setting("AUTOSCALE_MIN_FREE_MEMORY_MB") * 1024 * 1024

    def tick(self, supervisor) -> None:
        current = supervisor.processes
        load = queue_backlog(queues=supervisor.served_queues, host_id=supervisor.host_id)
        short = self.memory_short()
        target, reason = self.decide(current=current, load=load, memory_short=short, now=time.monotonic())
        if short and load.waiting and not self._memory_warned:
            logger.warning("Autoscale: memory is short; not growing past %d process(es).", current)
        self._memory_warned = short
        if target == current:
            return
        logger.info("Autoscale: %d -> %d worker process(es): %s.", current, target, reason)
        supervisor.request_resize(target, busy=load.running_by_worker)
        WorkerHost.objects.filter(pk=supervisor.host_id).update(processes=target)
        audit_record(
            user=None,
            action=AUDIT_ACTION,
            target_type="host",
            target_id=supervisor.host_id,
            count=target,
            detail={
                "from": current,
                "to": target,
                "reason": reason,
                "min": self.bounds.minimum,
                "max": self.bounds.maximum,
            },
        )

    def run(self, supervisor, stopping: threading.Event) -> None:
        while not stopping.is_set():
            try:
                self.tick(supervisor)
            except Error as exc:
                logger.warning("Autoscale: database error, retrying: %s", exc)
                drop_connection()
            except Exception:
                logger.exception("Autoscale failed")
            stopping.wait(setting("AUTOSCALE_INTERVAL"))
        drop_connection()
