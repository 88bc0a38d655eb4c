"""One worker process's side of the engine: claim a message's job, run it, record its outcome.

The order is what makes the promises hold:
1. a crash suspect starts only where no other suspect runs, else it waits in the database
   (see SuspectSlot);
2. the queue controls may hold the job back (``jobs.controls.gate.admit``: a pause, a limit),
   uncharged; else the claim (batched) counts the attempt and fences older copies; a stale or
   duplicate message claims nothing and is dropped;
3. the actor runs with a context the maintenance thread can interrupt while it is active;
4. success is committed (batched) *before* the broker's message is acknowledged: the worker thread
   hands the outcome to the finisher and moves on; Dramatiq's own ack of the message is turned
   into a no-op, and the finisher acknowledges the batch's messages once its commit is done. A
   database outage delays the ack, never loses the outcome; a process that dies first leaves its
   messages unacknowledged (its supervisor releases their jobs and gives the messages back).
   A failure is recorded before the thread returns.
"""

from __future__ import annotations

import logging
import os
import socket
import threading

from jobs import broker, context, registry, services, states
from jobs.controls import gate
from jobs.controls.services import job_hold
from jobs.db import with_db_retries
from jobs.errors import JobFenced
from jobs.observability.usage import attempt_usage
from jobs.worker.batching import BatchWriter
from jobs.worker.maintenance import ProcessMaintenance

logger = logging.getLogger(__name__)


class SuspectSlot:
    """At most one crash suspect is ``running`` in a process at a time, so that if the process dies,
    the suspect among its rows is the one to blame (see services.blame). A suspect that finds the slot
    taken does not wait for it in a worker thread: it goes back to the database for
    ``SUSPECT_HOLD_SECONDS`` (``ProcessRuntime.begin``), where any process may take it next. Waiting here
    would hoard it: a process that prefetched several suspects would run them one after another
    while the other processes, their slots free, had nothing to run.

    The slot is held from the claim until the row leaves ``running``: a suspect that returned keeps
    it until the finisher commits its success (``release_when_committed``). Released at the return,
    a second suspect could start beside the first one's uncommitted row, and the process's death
    then found two suspects and charged nobody (a poison job took 5 attempts of its 3 in CI)."""

    def __init__(self):
        self._lock = threading.Lock()
        self._committing: str | None = None  # the suspect whose success the finisher has not committed yet

    def acquire(self, suspect: bool) -> bool:
        """True when the job may start here now: always for an ordinary job."""
        return self._lock.acquire(blocking=False) if suspect else True

    def release(self, suspect: bool) -> None:
        if suspect:
            self._lock.release()

    def release_when_committed(self, job_id: str) -> None:
        self._committing = job_id

    def committed(self, job_ids) -> None:
        """The finisher committed (or found fenced) the successes of ``job_ids``."""
        if self._committing is not None and self._committing in job_ids:
            self._committing = None
            self._lock.release()


# How long a crash suspect that found its process's slot taken waits in the database before it is
# published again (at the head of its queue, being a released job).
SUSPECT_HOLD_SECONDS = 0.5


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
        self.suspect_slot = SuspectSlot()
        self.stats = WorkerStats()
        self.claimer = BatchWriter(
            name="jobs-claimer",
            write=self._claim_batch,
            max_batch=100,
            writers=int(os.environ.get("JOBS_CLAIM_WRITERS", 2)),
        )
        self.finisher = BatchWriter(name="jobs-finisher", write=self._succeed_and_ack, max_batch=200)
        # Jobs whose success is handed to the finisher and not committed yet (not orphans).
        self.pending_successes: set[str] = set()
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

    def _succeed_and_ack(self, items):
        """Commit a batch of successes, record what fenced copies did, then acknowledge the
        batch's messages (one Redis round trip). Retries the database until it answers."""
        rows = [(job_id, token, result, *usage) for job_id, token, result, _, _, _, usage in items]
        try:
            moved = with_db_retries(lambda: services.jobs_succeed(rows), forever=True)
        finally:  # even after an error that is not the database's: a slot held for good runs no suspect
            self.suspect_slot.committed({job_id for job_id, *_ in items})
        for job_id, _, _, attempt, *_ in items:
            if job_id not in moved:
                late = {"job_id": job_id, "attempt": attempt, "outcome": "succeeded"}
                with_db_retries(lambda late=late: services.job_record_late_effect(**late))
        try:
            broker.ack_messages([(queue, message_id) for _, _, _, _, queue, message_id, _ in items if message_id])
        except Exception as exc:  # Redis away: the jobs are recorded; a stale message claims nothing
            logger.warning("Acknowledging %d message(s) failed: %s", len(items), exc)
        self.pending_successes.difference_update(job_id for job_id, *_ in items)
        return [job_id in moved for job_id, *_ in items]

    # --- a message's life ---

    def begin(self, message) -> context.JobContext | None:
        """Claim the message's job; None when there is nothing to run (the message is dropped)."""
        job_id, token = str(message.options["job_id"]), int(message.options.get("job_token", 0))
        suspect = bool(message.options.get("crash_suspect"))
        if not self.suspect_slot.acquire(suspect):
            held = with_db_retries(
                lambda: job_hold(
                    job_id=job_id,
                    token=token,
                    delay=SUSPECT_HOLD_SECONDS,
                    reason="crash suspect; its worker process runs another",
                ),
                forever=True,
                stopping=self.stopping,
            )
            logger.info("Job %s (crash suspect) %s.", job_id, "held back" if held else "not claimable: dropped")
            return None
        try:
            claim = with_db_retries(lambda: self._claim(message, job_id, token), forever=True, stopping=self.stopping)
        except BaseException:
            self.suspect_slot.release(suspect)
            raise
        if claim is None:
            self.suspect_slot.release(suspect)
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
        ctx.crash_suspect = suspect
        context.activate(ctx)
        return ctx

    def _claim(self, message, job_id: str, token: int) -> states.Claim | None:
        """The controls decide when one applies (a paused queue or a full limit holds the job back,
        a concurrency limit claims under its lock); otherwise the claim joins the next batch."""
        admission = gate.admit(
            job_id=job_id,
            token=token,
            queue_name=message.queue_name,
            actor_name=message.actor_name,
            worker_id=self.worker_id,
        )
        if admission.decided:
            return admission.claim
        return self.claimer.submit((job_id, token))

    def finish(self, message, *, result=None, exception=None) -> None:
        ctx = context.current_job()
        if ctx is None or ctx.message_id != message.message_id:
            return
        ctx.end_interrupts()
        usage = attempt_usage(ctx.usage_started)
        slot_released_by_finisher = False
        try:
            if exception is None:
                slot_released_by_finisher = self._record_success(ctx, message, result, usage)
            else:
                self._record_failure(ctx, exception, usage)
        finally:
            context.deactivate(ctx)
            if not slot_released_by_finisher:
                self.suspect_slot.release(ctx.crash_suspect)

    def _record_success(self, ctx, message, result, usage) -> bool:
        """Hand the success to the finisher; True when the finisher will release the suspect slot."""
        stored = services.storable_result(result)
        message_id = message.options.get("redis_message_id")
        if message_id:
            # Dramatiq acknowledges right after this returns: its ack is skipped (and, with another
            # broker class, points at nothing); the finisher acks once the success is committed.
            message.options[broker.ACKED_AFTER_COMMIT] = True
            message.options["redis_message_id"] = f"{message_id}:acked-after-commit"
        self.pending_successes.add(ctx.job_id)
        item = (ctx.job_id, ctx.token, stored, ctx.attempt, message.queue_name, message_id, usage)
        if ctx.crash_suspect:
            self.suspect_slot.release_when_committed(ctx.job_id)
        self.finisher.submit_nowait(item)
        self.stats.record(True)
        return ctx.crash_suspect

    def _record_failure(self, ctx, exception, usage) -> None:
        trace = services.format_traceback(exception)
        status = with_db_retries(
            lambda: services.job_fail_attempt(ctx, exception, traceback_text=trace, usage=usage),
            forever=True,
            stopping=self.stopping,
        )
        self.stats.record(False)
        if status is None:
            outcome = "stopped" if isinstance(exception, JobFenced) else "failed"
            with_db_retries(
                lambda: services.job_record_late_effect(job_id=ctx.job_id, attempt=ctx.attempt, outcome=outcome)
            )
