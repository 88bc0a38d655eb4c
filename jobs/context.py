"""The running job as seen from inside an actor: progress, cancellation checks.

from jobs.context import current_job
job = current_job()
job.progress(42, "scanning")     # also raises JobCancelled if the job was cancelled
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from django.utils import timezone

from jobs.errors import JobCancelled
from jobs.registry import ActorSpec

# A progress write at most this often; a cancellation check reads the database at most this often.
PROGRESS_MIN_INTERVAL = 0.3
CANCEL_CHECK_INTERVAL = 0.5

_local = threading.local()
_running: dict[str, JobContext] = {}
_running_lock = threading.Lock()


@dataclass(eq=False)
class JobContext:
    job_id: str
    token: int
    attempt: int
    max_attempts: int
    retry_cycle_start: int
    spec: ActorSpec | None
    worker_id: str
    thread_id: int
    started_at: object
    started_monotonic: float = field(default_factory=time.monotonic)
    cancel_event: threading.Event = field(default_factory=threading.Event)
    soft_limit_fired: bool = False
    _last_progress_write: float = 0.0
    _last_cancel_check: float = 0.0

    def progress(self, percent: float, message: str = "") -> None:
        """Report progress (0-100) with a short message; raises JobCancelled if the job was cancelled."""
        from jobs import services

        self.raise_if_cancelled()
        now = time.monotonic()
        final = percent >= 100
        if not final and now - self._last_progress_write < PROGRESS_MIN_INTERVAL:
            return
        self._last_progress_write = now
        self._last_cancel_check = now
        if services.job_report_progress(self, percent=percent, message=message):
            self.cancel_event.set()
        self.raise_if_cancelled()

    def check_cancelled(self) -> None:
        """Raise JobCancelled if the job was cancelled (reads the database at most twice a second)."""
        from jobs import services

        self.raise_if_cancelled()
        now = time.monotonic()
        if now - self._last_cancel_check >= CANCEL_CHECK_INTERVAL:
            self._last_cancel_check = now
            if services.job_cancel_requested(self.job_id):
                self.cancel_event.set()
        self.raise_if_cancelled()

    @property
    def cancelled(self) -> bool:
        return self.cancel_event.is_set()

    def raise_if_cancelled(self) -> None:
        if self.cancel_event.is_set():
            raise JobCancelled(f"job {self.job_id} was cancelled")

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started_monotonic


def current_job() -> JobContext | None:
    """The job this thread is running, or None outside a tracked job."""
    return getattr(_local, "job", None)


def activate(ctx: JobContext) -> None:
    _local.job = ctx
    with _running_lock:
        _running[ctx.job_id] = ctx


def deactivate(job_id: str) -> JobContext | None:
    with _running_lock:
        ctx = _running.pop(job_id, None)
    if getattr(_local, "job", None) is ctx:
        _local.job = None
    return ctx


def running_jobs() -> list[JobContext]:
    with _running_lock:
        return list(_running.values())


def new_context(*, job_id, token, claim, spec, worker_id) -> JobContext:
    return JobContext(
        job_id=job_id,
        token=token,
        attempt=claim.attempts,
        max_attempts=claim.max_attempts,
        retry_cycle_start=claim.retry_cycle_start,
        spec=spec,
        worker_id=worker_id,
        thread_id=threading.get_ident(),
        started_at=timezone.now(),
    )
