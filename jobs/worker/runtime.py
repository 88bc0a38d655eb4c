"""One worker process's side of the engine: claim a message's job, run it, record its outcome.

The order is what makes the promises hold:
1. a job marked ``run_alone`` waits until it is the only job in its process (see RunAloneLock);
2. the claim (batched) counts the attempt and fences older copies; a stale or duplicate message
   claims nothing and is dropped;
3. the actor runs with a context the maintenance thread can interrupt while it is active;
4. success is committed (batched) *before* the broker's message is acknowledged: the worker thread
   waits for it. A database outage makes it wait, never lose the outcome.
"""

from __future__ import annotations

import logging
import os
import socket
import threading

from jobs import context, registry, services, states
from jobs.db import with_db_retries
from jobs.errors import JobFenced
from jobs.worker.batching import BatchWriter
from jobs.worker.maintenance import ProcessMaintenance

logger = logging.getLogger(__name__)


class RunAloneLock:
    """Jobs share their process, except one marked ``run_alone``: it waits until the others finish
    and keeps new ones out while it runs. New jobs wait behind a waiting lone job (no starvation)."""

    def __init__(self):
        self._cond = threading.Condition()
        self._shared = 0
        self._alone = False
        self._alone_waiting = 0

    def acquire(self, alone: bool) -> None:
        with self._cond:
            if alone:
                self._alone_waiting += 1
                self._cond.wait_for(lambda: not self._alone and self._shared == 0)
                self._alone_waiting -= 1
                self._alone = True
            else:
                self._cond.wait_for(lambda: not self._alone and self._alone_waiting == 0)
                self._shared += 1

    def release(self, alone: bool) -> None:
        with self._cond:
            if alone:
                self._alone = False
            else:
                self._shared -= 1
            self._cond.notify_all()


class WorkerStats:
    """Counters a worker process keeps in memory and flushes with its maintenance."""

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


def process_worker_id() -> tuple[str, bool]:
    """This process's worker id, and whether a supervisor assigned it (and owns its liveness)."""
    assigned = os.environ.get("JOBS_WORKER_ID")
    if assigned:
        return assigned, True
    return f"{socket.gethostname()}:{os.getpid()}", False


class ProcessRuntime:
    def __init__(self, *, queues, threads: int):
        self.worker_id, self.supervised = process_worker_id()
        self.stopping = threading.Event()
        self.alone_lock = RunAloneLock()
        self.stats = WorkerStats()
        self.claimer = BatchWriter(name="jobs-claimer", write=self._claim_batch, max_batch=100)
        self.finisher = BatchWriter(name="jobs-finisher", write=self._succeed_batch, max_batch=200)
        self.maintenance = ProcessMaintenance(runtime=self, queues=queues, threads=threads)

    def start(self) -> ProcessRuntime:
        self.claimer.start()
        self.finisher.start()
        self.maintenance.start()
        return self

    def stop(self) -> None:
        """After the worker threads drained: the last outcomes are written, then the threads end."""
        self.stopping.set()
        self.claimer.stop()
        self.finisher.stop()
        self.maintenance.stop()

    # --- batches (run in the writer threads) ---

    def _claim_batch(self, items):
        claims = states.claim_many(items, worker_id=self.worker_id)
        newest: dict[str, int] = {}
        for job_id, token in items:
            newest[job_id] = max(newest.get(job_id, token), token)
        given: set[str] = set()
        outcomes = []
        for job_id, token in items:
            # One claim per job: of two messages of one job in a batch, only the current one runs.
            if job_id in claims and token == newest[job_id] and job_id not in given:
                given.add(job_id)
                outcomes.append(claims[job_id])
            else:
                outcomes.append(None)
        return outcomes

    @staticmethod
    def _succeed_batch(items):
        moved = services.jobs_succeed(items)
        return [str(job_id) in moved for job_id, _, _ in items]

    # --- a message's life ---

    def begin(self, message) -> context.JobContext | None:
        """Claim the message's job; None when there is nothing to run (the message is dropped)."""
        job_id, token = str(message.options["job_id"]), int(message.options.get("job_token", 0))
        alone = bool(message.options.get("run_alone"))
        self.alone_lock.acquire(alone)
        try:
            claim = with_db_retries(lambda: self.claimer.submit((job_id, token)), forever=True, stopping=self.stopping)
        except BaseException:
            self.alone_lock.release(alone)
            raise
        if claim is None:
            self.alone_lock.release(alone)
            logger.info(
                "Dropping message %s: job %s is not claimable with token %s.", message.message_id, job_id, token
            )
            return None
        ctx = context.new_context(
            job_id=job_id,
            token=token,
            message_id=message.message_id,
            claim=claim,
            spec=registry.get_spec(message.actor_name),
            worker_id=self.worker_id,
        )
        ctx.run_alone = alone
        context.activate(ctx)
        return ctx

    def finish(self, message, *, result=None, exception=None) -> None:
        ctx = context.current_job()
        if ctx is None or ctx.message_id != message.message_id:
            return
        ctx.end_interrupts()
        try:
            if exception is None:
                self._record_success(ctx, result)
            else:
                self._record_failure(ctx, exception)
        finally:
            context.deactivate(ctx)
            self.alone_lock.release(ctx.run_alone)

    def _record_success(self, ctx, result) -> None:
        stored = services.storable_result(result)
        moved = with_db_retries(
            lambda: self.finisher.submit((ctx.job_id, ctx.token, stored)), forever=True, stopping=self.stopping
        )
        self.stats.record(True)
        if not moved:
            with_db_retries(
                lambda: services.job_record_late_effect(job_id=ctx.job_id, attempt=ctx.attempt, outcome="succeeded")
            )

    def _record_failure(self, ctx, exception) -> None:
        trace = services.format_traceback(exception)
        status = with_db_retries(
            lambda: services.job_fail_attempt(ctx, exception, traceback_text=trace),
            forever=True,
            stopping=self.stopping,
        )
        self.stats.record(False)
        if status is None:
            outcome = "stopped" if isinstance(exception, JobFenced) else "failed"
            with_db_retries(
                lambda: services.job_record_late_effect(job_id=ctx.job_id, attempt=ctx.attempt, outcome=outcome)
            )
