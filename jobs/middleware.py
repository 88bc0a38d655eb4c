"""Dramatiq middleware that keeps each job's row true: claim, heartbeat, finish, retry.

A job is claimed with a conditional UPDATE that also counts the attempt, and marked succeeded
by another; both are batched per process (the claimer and finisher threads), so under load a
process commits once for many jobs. Heartbeats are
batched per process by the maintenance thread, which also reaps dead workers' jobs and relays
unpublished ones.
"""

from __future__ import annotations

import logging

from django.db import DatabaseError
from dramatiq.middleware import Middleware, SkipMessage

from jobs import context, registry
from jobs.db import with_db_retries

# Loaded by django_dramatiq before the app registry is ready: model-touching modules are
# imported on first use.
logger = logging.getLogger(__name__)

# A database still down after the retries: the message goes back to the broker for later.
REQUEUE_DELAY_MS = 15_000


class JobTracking(Middleware):
    """Tracks messages that carry a ``job_id`` option; other messages pass through untouched."""

    actor_options = {"throws"}

    def __init__(self):
        self.worker_id = ""
        self.stats = None
        self.maintenance = None
        self.finisher = None
        self.claimer = None

    # --- worker lifecycle ---

    def after_worker_boot(self, broker, worker):
        from jobs import services
        from jobs.claimer import Claimer
        from jobs.finisher import SuccessFinisher
        from jobs.heartbeat import MaintenanceThread, WorkerStats

        self.worker_id = services.worker_identity()
        self.stats = WorkerStats()
        self.maintenance = MaintenanceThread(
            worker_id=self.worker_id,
            queues=worker.consumer_whitelist or broker.get_declared_queues(),
            threads=worker.worker_threads,
            stats=self.stats,
        )
        self.maintenance.start()
        self.finisher = SuccessFinisher()
        self.finisher.start()
        self.claimer = Claimer(worker_id=self.worker_id)
        self.claimer.start()

    def after_worker_shutdown(self, broker, worker):
        # After the worker threads drained: the last successes are written, heartbeats ran meanwhile.
        if self.claimer is not None:
            self.claimer.stop()
        if self.finisher is not None:
            self.finisher.stop()
        if self.maintenance is not None:
            self.maintenance.stop()

    # --- messages ---

    def before_process_message(self, broker, message):
        job_id = message.options.get("job_id")
        if not job_id:
            return
        from jobs import services, states

        if not self.worker_id:
            self.worker_id = services.worker_identity()
        token = message.options.get("job_token", 0)

        def do_claim():
            if self.claimer is not None:
                return self.claimer.claim(job_id, token=token, message_id=message.message_id)
            return states.claim(job_id, token=token, worker_id=self.worker_id, message_id=message.message_id)

        try:
            claim = with_db_retries(do_claim)
        except DatabaseError:
            logger.error("Database unavailable; job %s goes back to the broker for later.", job_id)
            broker.enqueue(message.copy(), delay=REQUEUE_DELAY_MS)
            raise SkipMessage("database unavailable") from None
        if claim is None:
            logger.info(
                "Dropping message %s: job %s is not claimable with token %s.", message.message_id, job_id, token
            )
            raise SkipMessage("not claimable")
        ctx = context.new_context(
            job_id=job_id,
            token=token,
            claim=claim,
            spec=registry.get_spec(message.actor_name),
            worker_id=self.worker_id,
        )
        context.activate(ctx)

    def after_process_message(self, broker, message, *, result=None, exception=None):
        job_id = message.options.get("job_id")
        if not job_id:
            return
        ctx = context.deactivate(job_id)
        if ctx is None:
            return
        from jobs import services

        if exception is None and self.finisher is not None:
            self.finisher.add(ctx.job_id, ctx.token, services.cap_result(result))
        elif exception is None:
            with_db_retries(lambda: services.job_succeed(ctx, result))
        else:
            trace = services.format_traceback(exception)
            with_db_retries(lambda: services.job_fail_attempt(ctx, exception, traceback_text=trace))
        if self.stats is not None:
            self.stats.record(exception is None)

    def after_skip_message(self, broker, message):
        job_id = message.options.get("job_id")
        if job_id:
            context.deactivate(job_id)
