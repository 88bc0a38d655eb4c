"""The running job as seen from inside an actor: progress, cancellation checks.

from jobs.context import current_job
job = current_job()
job.progress(42, "scanning")     # also raises JobCancelled if the job was cancelled
                                 # (and JobFenced if the job was taken from this copy)

A context belongs to one delivery of one message in one thread. The worker's maintenance thread
may interrupt it (cancel, soft time limit, fencing) only while it is still active, under its lock;
deactivating it clears any interruption not yet delivered, so an exception meant for one job can
never land in the next job of the same thread.
"""

from __future__ import annotations

import ctypes
import threading
import time
from dataclasses import dataclass, field

from django.utils import timezone

from jobs.errors import JobCancelled, JobFenced
from jobs.observability import usage
from jobs.registry import ActorSpec

# A progress write at most this often; a cancellation check reads the database at most this often.
PROGRESS_MIN_INTERVAL = 0.3
CANCEL_CHECK_INTERVAL = 0.5

_local = threading.local()
_running: dict[int, JobContext] = {}
_running_lock = threading.Lock()


@dataclass(eq=False)
class JobContext:
    job_id: str
    token: int
    message_id: str
    attempt: int
    max_attempts: int
    retry_cycle_start: int
    spec: ActorSpec | None
    worker_id: str
    thread_id: int
    started_at: object
    started_monotonic: float = field(default_factory=time.monotonic)
    # Made in the worker thread that runs the copy: where its CPU time is counted from.
    usage_started: tuple[float, int] = field(default_factory=usage.sample)
    cancel_event: threading.Event = field(default_factory=threading.Event)
    fenced: bool = False
    soft_limit_fired: bool = False
    crash_suspect: bool = False
    active: bool = True
    lock: threading.Lock = field(default_factory=threading.Lock)
    _last_progress_write: float = 0.0
    _last_cancel_check: float = 0.0

    def progress(self, percent: float, message: str = "") -> None:
        """Report progress (0-100) with a short message; raises JobCancelled if the job was
        cancelled, JobFenced if it was taken from this copy."""
        from jobs import services

        self.raise_if_stopped()
        now = time.monotonic()
        final = percent >= 100
        if not final and now - self._last_progress_write < PROGRESS_MIN_INTERVAL:
            return
        self._last_progress_write = now
        self._last_cancel_check = now
        cancelled, fenced = services.job_report_progress(self, percent=percent, message=message)
        if fenced:
            self.fence()
        elif cancelled:
            self.cancel_event.set()
        self.raise_if_stopped()

    def check_cancelled(self) -> None:
        """Raise JobCancelled if the job was cancelled (reads the database at most twice a second)."""
        from jobs import services

        self.raise_if_stopped()
        now = time.monotonic()
        if now - self._last_cancel_check >= CANCEL_CHECK_INTERVAL:
            self._last_cancel_check = now
            if services.job_cancel_requested(self.job_id):
                self.cancel_event.set()
        self.raise_if_stopped()

    def fence(self) -> None:
        self.fenced = True
        self.cancel_event.set()

    @property
    def cancelled(self) -> bool:
        return self.cancel_event.is_set()

    def raise_if_stopped(self) -> None:
        if self.fenced:
            raise JobFenced(f"job {self.job_id} was taken from this copy (attempt {self.attempt})")
        if self.cancel_event.is_set():
            raise JobCancelled(f"job {self.job_id} was cancelled")

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started_monotonic

    def end_interrupts(self) -> None:
        """From here on nothing interrupts this thread for this context, including an interruption
        raised a moment ago and not yet delivered. Called by the running thread when the actor returns."""
        with self.lock:
            self.active = False
            _clear_async_exc(self.thread_id)

    def interrupt(self, exc_type: type[BaseException]) -> bool:
        """Raise ``exc_type`` in the thread running this context, if it still runs it."""
        with self.lock:
            if not self.active:
                return False
            _set_async_exc(self.thread_id, exc_type)
            return True


def _set_async_exc(thread_id: int, exc_type) -> None:
    ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread_id), ctypes.py_object(exc_type))


def _clear_async_exc(thread_id: int) -> None:
    ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread_id), None)


def current_job() -> JobContext | None:
    """The job this thread is running, or None outside a tracked job."""
    return getattr(_local, "job", None)


def activate(ctx: JobContext) -> None:
    _local.job = ctx
    with _running_lock:
        _running[id(ctx)] = ctx


def deactivate(ctx: JobContext) -> None:
    """End this context (call from the thread that ran it)."""
    ctx.end_interrupts()
    with _running_lock:
        _running.pop(id(ctx), None)
    if getattr(_local, "job", None) is ctx:
        _local.job = None


def running_jobs() -> list[JobContext]:
    with _running_lock:
        return list(_running.values())


def new_context(*, job_id, token, message_id, claim, spec, worker_id) -> JobContext:
    return JobContext(
        job_id=job_id,
        token=token,
        message_id=message_id,
        attempt=claim.attempts,
        max_attempts=claim.max_attempts,
        retry_cycle_start=claim.retry_cycle_start,
        spec=spec,
        worker_id=worker_id,
        thread_id=threading.get_ident(),
        started_at=timezone.now(),
    )
